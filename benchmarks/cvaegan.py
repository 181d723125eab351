"""Class-conditional samples: CVAEGAN against a conditional VAEGenerator, on digits.

For each model and seed: fit on the training digits with their labels, then draw 45
images of each digit (450 in all) and judge them with a classifier trained once on the
real training images (:class:`benchmarks.sample_quality.FeatureSpace`): the share it
assigns to the label they were drawn for (label accuracy; chance is 0.1), for the
decoder means of prior draws (``inverse_transform(z, y)``, the images the
discriminator saw) and for full draws of the likelihood (``sample(n, y=...)``, pixel
noise included); the Frechet distance between the means' features and the held-out
images'; and the held-out ELBO given the labels (``score(X, y)``).

Both models share the network, latent size, widths, batch size, learning rate and the
number of epochs (no early stopping); the CVAEGAN rows differ only in
``classifier_weight`` (0: a conditional VAE-GAN without the class term). One torch
thread.

Run::

    python -m benchmarks.cvaegan --epochs 60 --seeds 0 1 2 --classifier-weights 0 1 3 10 30
    python -m benchmarks.cvaegan --data digits28 --network conv --epochs 10 --seeds 0 1 2
"""

# License: BSD 3 clause

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from skvae import CVAEGAN, VAEGenerator
from skvae.networks import ConvNetwork

from .sample_quality import DIGIT_IMAGES, FeatureSpace, digit_images

#: Settings shared by every model: latent size, widths, schedule, no early stopping.
COMMON = dict(n_components=8, hidden_layer_sizes=(128,), likelihood="gaussian",
              batch_size=64, learning_rate="constant", learning_rate_init=1e-3,
              early_stopping=False, device="cpu")

#: Images drawn per class.
PER_CLASS = 45


def digits_8x8(seed=0, test_size=0.25):
    """``load_digits / 16`` (8x8 grey levels in [0, 1]), split 75/25 (stratified)."""
    X, y = load_digits(return_X_y=True)
    return train_test_split(X / 16.0, y, test_size=test_size, random_state=seed,
                            stratify=y)


def network_for(name, side):
    """The network of every model: "mlp", or strided convolutions down to a quarter."""
    if name == "mlp":
        return "mlp"
    return ConvNetwork(image_shape=(1, side, side), channels=(16, 32))


def models(epochs, network, weights):
    """``{row name: estimator factory taking a seed}``."""
    fixed = dict(COMMON, max_iter=epochs, n_iter_no_change=epochs, network=network)
    rows = {"conditional VAEGenerator": lambda s: VAEGenerator(**fixed, random_state=s)}
    for weight in weights:
        rows[f"CVAEGAN, classifier_weight={weight:g}"] = (
            lambda s, w=weight: CVAEGAN(**fixed, classifier_weight=w, random_state=s))
    return rows


def measure(model, X_train, y_train, X_test, y_test, space, seed):
    """One fit's row: label accuracy of means and draws, Frechet distance, ELBO, time."""
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fixed epochs: "not converged" is expected
        model.fit(X_train, y_train)
    fit_time = time.perf_counter() - start
    labels = np.repeat(model.classes_, PER_CLASS)
    z = np.random.RandomState(seed).standard_normal((len(labels), model.n_components))
    means = model.inverse_transform(z, y=labels)
    draws, _ = model.sample(len(labels), y=labels, random_state=seed)
    judge = space.classifier_
    return {
        "acc_means": float(np.mean(judge.predict(means) == labels)),
        "acc_draws": float(np.mean(judge.predict(draws) == labels)),
        "frechet": space.frechet_distance(X_test, means),
        "elbo": model.score(X_test, y_test),
        "fit_s": fit_time,
    }


#: Decimals of each measurement in the table (the Frechet distances of 8x8 digits are
#: below 2).
DIGITS = {"acc_means": 3, "acc_draws": 3, "frechet": 2, "elbo": 1, "fit_s": 1}
KEYS = list(DIGITS)


def _format(rows):
    names = list(dict.fromkeys(name for name, _ in rows))
    lines = ["| model | label accuracy (means) | label accuracy (draws) | Frechet (means) | "
             "held-out ELBO given y | fit s |",
             "|---|---|---|---|---|---|"]
    for name in names:
        values = {k: [r[k] for n, r in rows if n == name] for k in KEYS}
        cells = [f"{np.mean(v):.{DIGITS[k]}f} ± {np.std(v):.{DIGITS[k]}f}"
                 for k, v in values.items()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", choices=["digits8", "digits28"], default="digits8")
    parser.add_argument("--network", choices=["mlp", "conv"], default="mlp")
    parser.add_argument("--epochs", type=int, default=60)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--classifier-weights", type=float, nargs="+",
                        default=[0.0, 1.0, 3.0, 10.0])
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    load, side = (digits_8x8, 8) if args.data == "digits8" else (digit_images, 28)
    X_train, X_test, y_train, y_test = load(seed=0)
    space = FeatureSpace().fit(X_train, y_train)
    held_out = space.classifier_.score(X_test, y_test)
    what = "8x8 digits: load_digits / 16, split 75/25 (stratified)" if side == 8 \
        else DIGIT_IMAGES
    print(f"data: {what}; {len(X_train)} training rows, {len(X_test)} held out; judge "
          f"accuracy on held-out real images {held_out:.3f}; network {args.network}; "
          f"{args.epochs} epochs; seeds {args.seeds}")
    rows = []
    makers = models(args.epochs, network_for(args.network, side), args.classifier_weights)
    for seed in args.seeds:
        for name, make in makers.items():
            row = measure(make(seed), X_train, y_train, X_test, y_test, space, seed)
            rows.append((name, row))
            print(name, seed, {k: round(v, 3) for k, v in row.items()}, flush=True)
    print()
    print(_format(rows))


if __name__ == "__main__":
    main()
