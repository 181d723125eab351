"""Synthetic data with known latent structure, for tests, examples and benchmarks."""

# License: BSD 3 clause

import numpy as np
from sklearn.utils import check_random_state


def make_manifold(n_samples=500, *, n_latent=2, n_features=10, noise=0.05, random_state=None):
    """Rows on a smooth nonlinear ``n_latent``-dimensional manifold in ``n_features`` dims.

    Latents ``z ~ N(0, I)`` are mapped through a fixed random two-layer tanh network and
    a random rotation, then Gaussian noise of standard deviation ``noise`` is added. A
    linear model of ``n_latent`` components cannot follow the curvature; a VAE can.

    Parameters
    ----------
    n_samples : int, default=500
    n_latent : int, default=2
        True latent dimension.
    n_features : int, default=10
    noise : float, default=0.05
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    Z : ndarray of shape (n_samples, n_latent)
        The latent coordinates of each row.

    Examples
    --------
    >>> X, Z = make_manifold(100, random_state=0)
    >>> X.shape, Z.shape
    ((100, 10), (100, 2))
    """
    rng = check_random_state(random_state)
    Z = rng.normal(size=(n_samples, n_latent))
    width = 4 * n_features
    W1 = rng.normal(scale=1.5, size=(n_latent, width))
    b1 = rng.uniform(-1, 1, size=width)
    W2 = rng.normal(scale=1.0 / np.sqrt(width), size=(width, n_features))
    X = np.tanh(Z @ W1 + b1) @ W2
    X /= X.std(axis=0)
    return X + noise * rng.normal(size=X.shape), Z
