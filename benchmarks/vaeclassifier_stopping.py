"""VAEClassifier's stopping rule: accuracy, epochs, ConvergenceWarning and fit time.

The protocol of :mod:`benchmarks.semi_supervised` (load_digits / 16, 75/25 stratified
split, the same number of labels per class, accuracy on the 450 held-out rows), with
``--labels all`` for the fully labeled case. Each candidate is a set of stopping
parameters (``max_iter``, ``learning_rate``, ``tol``, ``n_iter_no_change``,
``early_stopping``) on top of the model settings ``--base``: ``m2`` is the
VAEClassifier of the semi-supervised tables (16 latents, ``alpha=1000``), ``default``
the constructor's defaults.

Every candidate is fitted with ``fit`` on every draw; the script prints, per label count,
the mean (std) test accuracy, its difference from the first candidate in points, the
epochs run, how many fits raised a ConvergenceWarning and the mean fit time. Results:
``benchmarks/RESULTS.md``.

Run with ``python -m benchmarks.vaeclassifier_stopping [--labels 50,100,all]
[--seeds 100-104] [--base m2] [--candidates old,adaptive5]``.
"""

# License: BSD 3 clause

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from skvae import VAEClassifier

from .semi_supervised import DATASETS, M2_PARAMS, _seeds, split

#: The parameters a stopping rule sets.
STOPPING = {"max_iter", "learning_rate", "tol", "n_iter_no_change", "early_stopping"}

#: Model settings the stopping rules are measured on: everything but the stopping rule.
BASES = {
    "m2": {key: value for key, value in M2_PARAMS.items() if key not in STOPPING},
    "default": {},
}

#: Stopping rules, by the name ``--candidates`` takes; the first one listed is the
#: reference the differences are taken from.
CANDIDATES = {
    "old": dict(max_iter=200, learning_rate="constant", tol=1e-4, n_iter_no_change=10,
                early_stopping=False),
    "adaptive10": dict(max_iter=1000, learning_rate="adaptive", tol=1e-4,
                       n_iter_no_change=10, early_stopping=False),
    "adaptive5": dict(max_iter=1000, learning_rate="adaptive", tol=1e-4,
                      n_iter_no_change=5, early_stopping=False),
    "adaptive10_tol1e-2": dict(max_iter=1000, learning_rate="adaptive", tol=1e-2,
                               n_iter_no_change=10, early_stopping=False),
}


def draw(seed, labels):
    """Training rows with ``labels`` labels ("all": every row labeled), test rows."""
    if labels != "all":
        return split("digits", seed, int(labels))
    X, y = DATASETS["digits"]()
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, stratify=y,
                                                        random_state=seed)
    return X_train, y_train, X_test, y_test


def fit_once(params, X, y, X_test, y_test):
    """Test accuracy, epochs, whether it warned, seconds."""
    clf = VAEClassifier(**params)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        clf.fit(X, y)
        elapsed = time.perf_counter() - start
    warned = any(issubclass(w.category, ConvergenceWarning) for w in caught)
    accuracy = float(np.mean(clf.predict(X_test) == y_test))
    return accuracy, clf.n_iter_, warned, elapsed


def compare(args, base):
    """Fit every candidate on every draw; print one markdown table per label count."""
    names = args.candidates.split(",")
    results = {}
    for labels in args.labels.split(","):
        for seed in _seeds(args.seeds):
            data = draw(seed, labels)
            for name in names:
                params = {**base, **CANDIDATES[name], "device": "cpu", "random_state": seed}
                run = fit_once(params, *data)
                results.setdefault(labels, {}).setdefault(name, []).append(run)
                print(f"{labels} labels, seed {seed}, {name}: accuracy {run[0]:.4f}, "
                      f"{run[1]} epochs, warned {run[2]}, {run[3]:.1f} s", flush=True)
    for labels, by_name in results.items():
        print(f"\n{labels} labels, seeds {args.seeds}, base {args.base}\n")
        print("| rule | accuracy | std | - first (points) | epochs | warned | fit s |")
        print("|---|---|---|---|---|---|---|")
        reference = np.array([r[0] for r in by_name[names[0]]])
        for name, runs in by_name.items():
            accuracy, epochs, warned, seconds = (np.array(c) for c in zip(*runs))
            print(f"| {name} | {accuracy.mean():.4f} | {accuracy.std():.3f} | "
                  f"{100 * (accuracy - reference).mean():+.2f} | {epochs.mean():.0f} "
                  f"({epochs.min()}-{epochs.max()}) | {int(warned.sum())}/{len(runs)} | "
                  f"{seconds.mean():.1f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", default="50,100",
                        help='label counts, comma-separated (multiples of 10, or "all")')
    parser.add_argument("--seeds", default="100-104", help='e.g. "100-104" or "0,1"')
    parser.add_argument("--base", choices=sorted(BASES), default="m2")
    parser.add_argument("--candidates", default="old,adaptive5",
                        help=f"comma-separated, from {', '.join(CANDIDATES)}")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    compare(args, BASES[args.base])


if __name__ == "__main__":
    main()
