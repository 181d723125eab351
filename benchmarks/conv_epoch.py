"""Seconds per epoch of skvae's conv VAE against pythae's VAE on the same network (CPU).

pythae trains the very layers of a skvae model (:func:`benchmarks.pythae_baseline.fit_pythae_on`:
the same convolutions, hidden layer, posterior map and per-pixel logits, copied), so the
two sides differ only in what each library does around the network: skvae's fit path
(input validation, standardisation, its minibatch loop, fused Adam) against pythae's
``BaseTrainer`` (a DataLoader, its sanity-check pass, a copy of the best model after
every improving epoch and the final model saved to disk). The MLP VAE of the same
widths is measured the same way for reference.

Both sides fit the same rows for the same epochs with Adam at the same learning rate
and batch size; they take turns (:func:`benchmarks._harness.interleave`) and the ratio
is the median over rounds of skvae / pythae seconds per epoch (lower is faster).

Run (idle machine)::

    python -m benchmarks.conv_epoch --threads 2
"""

# License: BSD 3 clause

import argparse
from importlib.metadata import version
import platform
import statistics
import tempfile
import warnings

import torch

from skvae.networks import ConvNetwork

from ._harness import fit_vae, interleave, limit_threads
from .data import binary_digits
from .pythae_baseline import fit_pythae_on, unavailable

#: The network of the image-families benchmark: 28 -> 14 -> 7 pixels, 16 and 32 channels.
CONV = ConvNetwork(image_shape=(1, 28, 28), channels=(16, 32))

#: Shared settings of both sides.
SETTINGS = dict(n_components=16, hidden_layer_sizes=(128,), batch_size=64)
LEARNING_RATE = 1e-3


def sides(X, X_host, network, epochs, output_dir):
    """``{"skvae": fit, "pythae": fit}`` on the same network and rows."""
    params = dict(SETTINGS, likelihood="bernoulli", learning_rate_init=LEARNING_RATE,
                  network=network, device="cpu")
    # pythae trains a copy of these layers; their starting values do not affect time
    template = fit_vae(X[:256], max_iter=1, **params).module_
    return {
        "skvae": lambda: fit_vae(X, max_iter=epochs, **params),
        "pythae": lambda: fit_pythae_on(
            X_host, template, batch_size=SETTINGS["batch_size"], epochs=epochs,
            lr=LEARNING_RATE, device=torch.device("cpu"), output_dir=output_dir),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    missing = unavailable()
    if missing:
        raise SystemExit(f"pythae is {missing}; pip install pythae to run this comparison")
    X = binary_digits(args.rows)
    X_host = torch.as_tensor(X, dtype=torch.float32)
    print(f"{platform.processor() or platform.machine()}; torch {torch.__version__}, "
          f"pythae {version('pythae')}, threads {args.threads}; {args.rows} binary 28x28 "
          f"digit rows, {args.epochs} epochs per fit, batch {SETTINGS['batch_size']}, "
          f"{args.repeats} rounds after a warm-up")
    print("| network | skvae s / epoch | pythae s / epoch | skvae / pythae (rounds) |")
    print("|---|---|---|---|")
    with limit_threads(args.threads), tempfile.TemporaryDirectory() as output_dir, \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pythae's own deprecation chatter
        for name, network in [("conv (16, 32) + 128", CONV), ("MLP 128", "mlp")]:
            timings = interleave(sides(X, X_host, network, args.epochs, output_dir),
                                 repeats=args.repeats, device=torch.device("cpu"))
            ours, theirs = timings["skvae"].seconds, timings["pythae"].seconds
            ratios = [a / b for a, b in zip(ours, theirs)]
            print(f"| {name} | {statistics.median(ours) / args.epochs:.3f} | "
                  f"{statistics.median(theirs) / args.epochs:.3f} | "
                  f"{statistics.median(ratios):.2f}x ({min(ratios):.2f}-{max(ratios):.2f}) |",
                  flush=True)


if __name__ == "__main__":
    main()
