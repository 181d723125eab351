"""What unlabeled rows cost VAEClassifier: fit time against a VAETransformer fit.

For each ``enumerate_labels`` option, a ``VAEClassifier`` and a ``VAETransformer`` of
the same network, latent size, batch size and number of epochs are fitted on the same
rows, alternately in one process; a round fits each once, and the table gives the
median over rounds of the paired ratio (classifier time / transformer time). An epoch is
a pass over the unlabeled rows for the classifier (each step also draws labeled rows)
and over all rows for the transformer. Times on a shared machine are noisy: the paired
ratios are what to read, and the spread across rounds is printed beside them.

Run with ``python -m benchmarks.semi_supervised_cost [--data digits|mnist] [--rounds 3]``.
"""

# License: BSD 3 clause

import argparse
import platform
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning

from skvae import VAEClassifier, VAETransformer

from .semi_supervised import DATASETS, split


def _fit_seconds(estimator, X, y):
    start = time.perf_counter()
    estimator.fit(X, y)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=sorted(DATASETS), default="digits")
    parser.add_argument("--labels", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--options", default="all,1,2,3",
                        help="enumerate_labels values, comma-separated")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore", ConvergenceWarning)

    X, y_semi, _, _ = split(args.data, 0, args.labels)
    common = dict(n_components=16, hidden_layer_sizes=(128, 128), batch_size=128,
                  max_iter=args.epochs, tol=0.0, n_iter_no_change=10_000, device="cpu",
                  random_state=0)
    options = [o if o == "all" else int(o) for o in args.options.split(",")]
    ratios = {option: [] for option in options}
    # An untimed first fit of each, so that one-off start-up costs stay out of the ratios.
    _fit_seconds(VAETransformer(**{**common, "max_iter": 1}), X, None)
    _fit_seconds(VAEClassifier(**{**common, "max_iter": 1}), X, y_semi)
    for _ in range(args.rounds):
        for option in options:
            vae = _fit_seconds(VAETransformer(**common), X, None)
            m2 = _fit_seconds(VAEClassifier(**common, enumerate_labels=option), X, y_semi)
            ratios[option].append(m2 / vae)
            print(f"enumerate_labels={option}: {m2:.2f} s, VAETransformer {vae:.2f} s",
                  flush=True)

    print(f"\n{args.data}: {X.shape[0]} rows x {X.shape[1]}, {args.labels} labels, "
          f"{args.epochs} epochs, batch 128, hidden (128, 128), 16 latents; "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} thread(s), {args.rounds} rounds")
    print(f"{'enumerate_labels':<17} {'median ratio':>13} {'min':>6} {'max':>6}")
    for option, values in ratios.items():
        print(f"{str(option):<17} {np.median(values):>13.2f} {min(values):>6.2f} "
              f"{max(values):>6.2f}")


if __name__ == "__main__":
    main()
