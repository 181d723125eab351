"""Data sets of the benchmarks, all generated from fixed seeds without downloads."""

# License: BSD 3 clause

import numpy as np
from scipy.ndimage import zoom
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

#: What :func:`binary_digits` returns, in words, for the report.
BINARY_DIGITS = (
    "binary 28x28 digits: sklearn load_digits upsampled 8x8 -> 28x28 (bilinear), "
    "each row a digit drawn at random and binarised pixel-wise with p = intensity"
)

#: What :func:`dequantised_digits` returns, in words, for the report.
DEQUANTISED_DIGITS = (
    "sklearn load_digits dequantised, (X + U(0, 1)) / 17, split 75/25 (stratified)"
)


def binary_digits(n_samples, seed=0):
    """MNIST-shaped binary rows with real structure, made from ``load_digits``.

    Stochastic binarisation gives every row fresh pixels, so a large set is not
    1797 images repeated, yet it keeps the digits' low-dimensional structure.

    Parameters
    ----------
    n_samples : int
    seed : int, default=0

    Returns
    -------
    X : ndarray of shape (n_samples, 784), float64 of 0s and 1s
    """
    images = load_digits().images / 16.0
    intensity = np.clip(zoom(images, (1, 3.5, 3.5), order=1), 0.0, 1.0).reshape(len(images), -1)
    rng = np.random.default_rng(seed)
    X = np.empty((n_samples, intensity.shape[1]))
    # Row blocks bound the uniform draws' memory to a block, whatever n_samples is.
    block = 16_384
    for start in range(0, n_samples, block):
        rows = intensity[rng.integers(0, len(intensity), min(block, n_samples - start))]
        X[start : start + len(rows)] = rng.random(rows.shape) < rows
    return X


def dequantised_digits(seed=0):
    """``load_digits`` made continuous, for comparing densities, and split 75/25.

    Adding uniform noise to the integer grey levels (0..16) and dividing by 17 gives
    data in (0, 1) with a proper density, so held-out log-likelihoods of continuous
    models (PCA, FactorAnalysis, GaussianMixture, a Gaussian VAE) are comparable.

    Parameters
    ----------
    seed : int, default=0

    Returns
    -------
    X_train, X_test : ndarray of shape (n, 64)
    y_train, y_test : ndarray of shape (n,)
    """
    X, y = load_digits(return_X_y=True)
    X = (X + np.random.default_rng(seed).uniform(0.0, 1.0, X.shape)) / 17.0
    return train_test_split(X, y, test_size=0.25, random_state=seed, stratify=y)


def gaussian_rows(n_samples, n_features, seed=0):
    """Standard-normal float64 rows, for the memory and scaling areas.

    Their cost does not depend on the values, only on the shape.

    Parameters
    ----------
    n_samples, n_features : int
    seed : int, default=0

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), float64
    """
    return np.random.default_rng(seed).standard_normal((n_samples, n_features))
