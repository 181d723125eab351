"""Split a fit's time into a fixed cost per fit and a cost per epoch.

Times ``VAETransformer.fit`` (a float64 numpy array in, as a user passes it) and the
hand-written on-device loop (a float32 device tensor made beforehand) at a short and a
long epoch count, rounds interleaved; the marginal cost of the extra epochs gives the
per-epoch ratio, and what is left at zero epochs is the fixed cost of a fit (input
validation and conversion, the copy to the device, set-up). A short benchmark fit is
mostly fixed cost on a GPU; this tells the two apart.

    python -m benchmarks.fixed_cost [--device cuda] [--batch-size 4096]
"""

# License: BSD 3 clause

import argparse
import statistics
import time

import torch

from . import baselines
from ._harness import fit_vae
from .config import HIDDEN_LAYER_SIZES, LEARNING_RATE, N_COMPONENTS
from .data import binary_digits


def _timed(fn, device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    start = time.perf_counter()
    fn()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter() - start


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--rows", type=int, default=65_536)
    parser.add_argument("--batch-size", type=int, default=4_096)
    parser.add_argument("--epochs", default="2,12", help="short and long epoch counts")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    device = torch.device(args.device)
    short, long = map(int, args.epochs.split(","))
    X = binary_digits(args.rows)
    X_device = torch.as_tensor(X, dtype=torch.float32, device=device)
    model = dict(hidden_layer_sizes=HIDDEN_LAYER_SIZES, n_components=N_COMPONENTS)

    def sides(epochs):
        return {
            "skvae": lambda: fit_vae(X, likelihood="bernoulli", batch_size=args.batch_size,
                                     max_iter=epochs, learning_rate_init=LEARNING_RATE,
                                     device=device, **model),
            "loop": lambda: baselines.fit_on_device(
                X_device, batch_size=args.batch_size, epochs=epochs, lr=LEARNING_RATE,
                **model),
        }

    times = {(name, e): [] for name in ("skvae", "loop") for e in (short, long)}
    for round_ in range(args.rounds + 1):
        for e in (short, long):
            for name, fn in sides(e).items():
                seconds = _timed(fn, device)
                if round_:  # the first round warms up kernels and the allocator
                    times[name, e].append(seconds)
    print(f"device {device}; {args.rows} rows, batch {args.batch_size}; medians of "
          f"{args.rounds} interleaved rounds")
    print("| side | fit, {0} epochs, s | fit, {1} epochs, s | per epoch, s | fixed, s |"
          .format(short, long))
    print("| --- | --- | --- | --- | --- |")
    per_epoch = {}
    for name in ("skvae", "loop"):
        t_short = statistics.median(times[name, short])
        t_long = statistics.median(times[name, long])
        per_epoch[name] = (t_long - t_short) / (long - short)
        print(f"| {name} | {t_short:.3f} | {t_long:.3f} | {per_epoch[name]:.4f} "
              f"| {t_short - short * per_epoch[name]:.3f} |")
    print(f"per-epoch time skvae / loop: {per_epoch['skvae'] / per_epoch['loop']:.2f}")


if __name__ == "__main__":
    main()
