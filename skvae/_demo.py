"""The first thing a new user runs: PCA and a VAE side by side on the bundled digits."""

# License: BSD 3 clause

import time

import numpy as np
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._transformer import VAETransformer


def dequantised_digits(random_state=0):
    """``load_digits`` with uniform noise added to the 0..16 levels, scaled to (0, 1).

    Integer pixels have no density; spreading each level over its unit interval makes
    held-out log-likelihoods (nats) meaningful and comparable between models.

    Parameters
    ----------
    random_state : int, default=0

    Returns
    -------
    X : ndarray of shape (1797, 64)
    y : ndarray of shape (1797,)

    Examples
    --------
    >>> X, y = dequantised_digits()
    >>> X.shape, bool((X > 0).all() and (X < 1).all())
    ((1797, 64), True)
    """
    X, y = load_digits(return_X_y=True)
    rng = np.random.RandomState(random_state)
    return (X + rng.uniform(size=X.shape)) / 17.0, y


def _latent_accuracy(model, X_train, y_train, X_test, y_test):
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(model.transform(X_train), y_train)
    return clf.score(model.transform(X_test), y_test)


def compare(n_components=8, max_iter=None, random_state=0, device="auto"):
    """Fit PCA and VAETransformer on digits; held-out score and latent accuracy of each.

    Parameters
    ----------
    n_components : int, default=8
    max_iter : int or None, default=None
        None keeps VAETransformer's default (training stops when held-out rows stop
        improving).
    random_state : int, default=0
    device : str, default="auto"

    Returns
    -------
    rows : dict
        ``{"PCA": {...}, "VAETransformer": {...}}`` with the keys ``score``,
        ``accuracy`` and ``seconds``; also the fitted ``vae`` and the test split.
    """
    X, y = dequantised_digits(random_state)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=random_state
    )
    models = {
        "PCA": PCA(n_components=n_components, random_state=random_state),
        "VAETransformer": VAETransformer(
            n_components=n_components, random_state=random_state, device=device,
            **({} if max_iter is None else {"max_iter": max_iter}),
        ),
    }
    rows = {}
    for name, model in models.items():
        start = time.perf_counter()
        model.fit(X_train)
        rows[name] = {
            "score": model.score(X_test),
            "accuracy": _latent_accuracy(model, X_train, y_train, X_test, y_test),
            "seconds": time.perf_counter() - start,
        }
    return rows, models["VAETransformer"], X_test


def save_figure(vae, X_test, path, random_state=0):
    """Write a PNG: test digits over their reconstructions, and new samples.

    Drawn with :class:`~skvae.plotting.ReconstructionDisplay` and
    :class:`~skvae.plotting.SampleGridDisplay`.

    Parameters
    ----------
    vae : VAETransformer
        Fitted on 8x8 images.
    X_test : ndarray of shape (n_samples, 64)
    path : str or path-like
    random_state : int, default=0
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plotting import ReconstructionDisplay, SampleGridDisplay

    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.5), height_ratios=[2, 2])
    ReconstructionDisplay.from_estimator(vae, X_test, n_images=10, image_shape=(8, 8), ax=top)
    SampleGridDisplay.from_estimator(vae, n_samples=20, image_shape=(8, 8),
                                     random_state=random_state, ax=bottom)
    fig.suptitle(f"VAETransformer(n_components={vae.n_components}) on load_digits")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)


def main(n_components=8, max_iter=None, output="skvae-demo.png", device="auto"):
    """Print the comparison table and write the figure; returns the rows."""
    print(f"Fitting PCA and VAETransformer with n_components={n_components} on "
          "load_digits (1797 images of 8x8, dequantised to (0, 1), 75/25 split)...")
    rows, vae, X_test = compare(n_components, max_iter, device=device)
    print()
    print(f"{'model':<16}{'held-out score':>16}{'latent accuracy':>18}{'fit seconds':>14}")
    for name, row in rows.items():
        print(f"{name:<16}{row['score']:>16.2f}{row['accuracy']:>18.3f}{row['seconds']:>14.1f}")
    print()
    print("held-out score: mean log-likelihood per image in nats (the VAE's is the ELBO, "
          "a lower bound); higher is better.")
    print("latent accuracy: LogisticRegression trained on the latents, on the test images.")
    try:
        save_figure(vae, X_test, output)
    except ImportError:
        print("matplotlib is not installed: no figure (pip install 'skvae[plots]').")
    else:
        import os

        print(f"Figure of test digits, reconstructions and samples: {os.path.abspath(output)}")
    return rows
