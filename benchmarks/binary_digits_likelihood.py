"""Held-out log-likelihood of a Bernoulli VAE (z=8) on binarised digits, per prior.

For each split seed s and each of 4 folds of ``KFold(4, shuffle=True, random_state=s)``,
one VAE per prior is fitted on the training rows and scored on the held-out rows: the
ELBO (``score``) and the importance-sampled ``log_likelihood`` with 1000 samples, in
nats per image. The priors see the same folds, so their differences are paired; the
table gives each prior's mean and its mean difference to the normal prior with the
standard error over the folds. Reference (../shared/ANCHORS.md section 5): a
30-component Bernoulli mixture gets -18.22 on this data.

Run: ``python -m benchmarks.binary_digits_likelihood [--splits 0 1 2]
[--priors normal vamp mog] [--threads 1]``.
"""

# License: BSD 3 clause

import argparse
import platform
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold

from skvae import VAETransformer


def fit_and_score(prior, X_train, X_test):
    """(held-out ELBO, held-out IWAE(1000), epochs) of one VAE."""
    vae = VAETransformer(8, likelihood="bernoulli", prior=prior, max_iter=800,
                         kl_warmup=50, early_stopping=True, n_iter_no_change=40,
                         random_state=0, device="cpu")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        vae.fit(X_train)
    return vae.score(X_test), float(vae.log_likelihood(X_test, 1000).mean()), vae.n_iter_


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, nargs="+", default=[0])
    parser.add_argument("--priors", nargs="+", default=["normal", "vamp", "mog"])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    X, _ = load_digits(return_X_y=True)
    X = (X >= 8).astype(float)
    results = {prior: [] for prior in args.priors}
    for split in args.splits:
        for fold, (train, test) in enumerate(KFold(4, shuffle=True, random_state=split).split(X)):
            for prior in args.priors:
                start = time.perf_counter()
                elbo, ll, epochs = fit_and_score(prior, X[train], X[test])
                results[prior].append((elbo, ll))
                print(f"split {split} fold {fold} {prior}: ELBO {elbo:.2f}, IWAE(1000) "
                      f"{ll:.2f} nats/image, {epochs} epochs, "
                      f"{time.perf_counter() - start:.0f} s", flush=True)
    report(results, args)
    return results


def report(results, args):
    """Print the per-prior means and the paired differences to the first prior."""
    base = args.priors[0]
    print(f"\nload_digits binarised (>= 8), z=8, hidden (128, 128); splits {args.splits} x 4 "
          f"folds; {platform.processor() or platform.machine()}, torch {torch.__version__}, "
          f"{args.threads} thread(s)")
    print(f"{'prior':<8} {'ELBO':>8} {'IWAE':>8} {'IWAE - ' + base:>14} {'s.e.':>6} "
          f"{'folds better':>13} {'worst fold':>11}")
    reference = np.array(results[base])[:, 1]
    for prior, rows in results.items():
        elbo, ll = np.array(rows).T
        diff = ll - reference
        se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else float("nan")
        print(f"{prior:<8} {elbo.mean():>8.2f} {ll.mean():>8.2f} {diff.mean():>+14.3f} "
              f"{se:>6.3f} {int((diff > 0).sum()):>6d} of {len(diff):<3d} {ll.min():>11.2f}")


if __name__ == "__main__":
    main()
