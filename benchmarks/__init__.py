"""Benchmarks of skvae against hand-written PyTorch, pythae and scikit-learn.

Run the whole suite with ``python -m benchmarks`` (``--quick`` for a pass of under two
minutes on a small CPU, ``--device cuda`` for a GPU); it writes a JSON of every
measurement and the Markdown table ``benchmarks/RESULTS.md``. One module per area:

- :mod:`benchmarks.throughput`: ``fit`` samples/s against :mod:`benchmarks.baselines`
  (a hand-written loop, fed on the device or by a DataLoader) and pythae;
- :mod:`benchmarks.inference`: ``transform`` rows/s and single-row latency;
- :mod:`benchmarks.memory`: peak resident memory of ``fit``;
- :mod:`benchmarks.scaling`: ``fit`` time against the number of rows and the width;
- :mod:`benchmarks.quality`: held-out scores and fit times next to sklearn's models.
"""

# License: BSD 3 clause
