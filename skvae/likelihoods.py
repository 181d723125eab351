"""Likelihoods p(x | z): how a decoder output becomes a distribution over X.

A likelihood is a small configuration object. At fit time it

1. checks that the data lies in its support (:meth:`Likelihood.check_support`),
2. chooses an affine standardisation of the columns (:meth:`Likelihood.standardizer`);
   the estimator adds the log-Jacobian of that map back into every score, so scores
   are densities of X in the units the user passed,
3. builds a ``torch.nn.Module`` "head" (:meth:`Likelihood.head`) that maps the last
   decoder layer to a :class:`torch.distributions.Distribution` whose event is one row.

Adding a likelihood means writing one subclass here and decorating it with
:func:`register_likelihood`; the estimators' parameter validation, the tests and the
docs read the registry :data:`LIKELIHOODS`.
"""

# License: BSD 3 clause

import math

import numpy as np
import torch
from torch import nn
from torch.distributions import Bernoulli, Distribution, Independent, Normal
from torch.nn import functional as F

#: Registry of likelihood classes by name, filled by :func:`register_likelihood`.
LIKELIHOODS = {}

#: Floor of the Gaussian noise scale, in units of each column's standard deviation.
#: It keeps the density finite on (nearly) constant columns; a column whose training
#: values are all equal is measured with the median scale of the other columns, so its
#: floor is relative to the data's overall scale rather than to zero.
GAUSSIAN_MIN_SCALE = 1e-3


def register_likelihood(cls):
    """Class decorator that adds a :class:`Likelihood` subclass to :data:`LIKELIHOODS`.

    Parameters
    ----------
    cls : type
        A subclass of :class:`Likelihood` with a unique ``name``.

    Returns
    -------
    cls : type
        The class, unchanged.

    Examples
    --------
    >>> from skvae.likelihoods import LIKELIHOODS
    >>> sorted(LIKELIHOODS)[:2]
    ['bernoulli', 'gaussian']
    """
    if not (isinstance(cls, type) and issubclass(cls, Likelihood)):
        raise TypeError(f"{cls!r} is not a subclass of Likelihood.")
    if cls.name in LIKELIHOODS:
        raise ValueError(f"A likelihood named {cls.name!r} is already registered.")
    LIKELIHOODS[cls.name] = cls
    return cls


def get_likelihood(spec):
    """Return a :class:`Likelihood` instance for a registry name or an instance.

    Parameters
    ----------
    spec : str or Likelihood
        A name from :data:`LIKELIHOODS` or an instance.

    Returns
    -------
    likelihood : Likelihood

    Examples
    --------
    >>> get_likelihood("bernoulli")
    BernoulliLikelihood()
    """
    if isinstance(spec, Likelihood):
        return spec
    if isinstance(spec, str) and spec in LIKELIHOODS:
        return LIKELIHOODS[spec]()
    raise ValueError(
        f"Unknown likelihood {spec!r}; choose one of {sorted(LIKELIHOODS)} or pass a "
        "Likelihood instance."
    )


def infer_likelihood(X):
    """Pick a likelihood from the values of a numeric matrix.

    Binary data (every value 0 or 1) gets ``"bernoulli"``; anything else ``"gaussian"``.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)

    Returns
    -------
    likelihood : Likelihood

    Examples
    --------
    >>> import numpy as np
    >>> infer_likelihood(np.array([[0.0, 1.0], [1.0, 1.0]]))
    BernoulliLikelihood()
    >>> infer_likelihood(np.array([[0.5, 1.0], [1.0, 1.0]]))
    GaussianLikelihood()
    """
    binary = np.all((X == 0) | (X == 1))
    return get_likelihood("bernoulli" if binary else "gaussian")


class Likelihood:
    """Base class of the likelihoods; subclasses set ``name`` and override :meth:`head`.

    Subclasses hold configuration only (no tensors), so they pickle, clone and compare
    cheaply; the learnable parts live in the module returned by :meth:`head`.
    """

    name = None

    def check_support(self, X):
        """Raise a ValueError if ``X`` holds values this likelihood cannot model.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)
        """

    def standardizer(self, X):
        """Return ``(loc, scale)`` so that ``(X - loc) / scale`` is what the model sees.

        The default is the identity map.

        Parameters
        ----------
        X : ndarray of shape (n_samples, n_features)

        Returns
        -------
        loc, scale : ndarray of shape (n_features,), float64
        """
        n_features = X.shape[1]
        return np.zeros(n_features), np.ones(n_features)

    def head(self, n_inputs, n_features):
        """Build the module mapping decoder features to a distribution over one row.

        Parameters
        ----------
        n_inputs : int
            Width of the last decoder layer.
        n_features : int
            Number of columns of X.

        Returns
        -------
        head : torch.nn.Module
            Its ``forward(h)`` returns a Distribution with event shape ``(n_features,)``.
        """
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash(type(self))


class _GaussianHead(nn.Module):
    """Decoder mean per row, noise scale per feature (as in factor analysis)."""

    def __init__(self, n_inputs, n_features, min_scale):
        super().__init__()
        self.loc = nn.Linear(n_inputs, n_features)
        self.min_scale = min_scale
        # softplus(raw) + min_scale == 1 at the start: unit noise on standardised data.
        start = math.log(math.expm1(1.0 - min_scale))
        self.raw_scale = nn.Parameter(torch.full((n_features,), start))

    def scale(self):
        """Per-feature noise standard deviation, in standardised units."""
        return F.softplus(self.raw_scale) + self.min_scale

    def forward(self, h) -> Distribution:
        return Independent(Normal(self.loc(h), self.scale(), validate_args=False), 1)


@register_likelihood
class GaussianLikelihood(Likelihood):
    """Gaussian noise with a learned variance per feature.

    Columns are standardised internally (mean 0, standard deviation 1) and the
    log-Jacobian is added back, so ``score_samples`` is a density of X in its own units.
    The noise scale has a floor of :data:`GAUSSIAN_MIN_SCALE` column standard deviations.

    Examples
    --------
    >>> from skvae import VAETransformer
    >>> from skvae.likelihoods import GaussianLikelihood
    >>> VAETransformer(likelihood=GaussianLikelihood()).likelihood
    GaussianLikelihood()
    """

    name = "gaussian"

    def standardizer(self, X):
        loc = X.mean(axis=0, dtype=np.float64)
        scale = X.std(axis=0, dtype=np.float64)
        # A column constant in training has no scale of its own: borrow the data's.
        tiny = scale <= 1e-12 * np.maximum(1.0, np.abs(loc))
        fallback = np.median(scale[~tiny]) if np.any(~tiny) else 1.0
        scale[tiny] = fallback
        return loc, scale

    def head(self, n_inputs, n_features):
        return _GaussianHead(n_inputs, n_features, GAUSSIAN_MIN_SCALE)


class _BernoulliHead(nn.Module):
    """Logits per row and feature."""

    def __init__(self, n_inputs, n_features):
        super().__init__()
        self.logits = nn.Linear(n_inputs, n_features)

    def forward(self, h) -> Distribution:
        # validate_args=False: values in (0, 1) are scored by the cross-entropy formula.
        return Independent(Bernoulli(logits=self.logits(h), validate_args=False), 1)


@register_likelihood
class BernoulliLikelihood(Likelihood):
    """Bernoulli noise from logits, for binary data or values in [0, 1].

    For binary X, ``score_samples`` is a log-probability mass. Values strictly between
    0 and 1 are scored with the same cross-entropy formula, which is then not a
    normalised density (it is the usual "Bernoulli on grey levels" practice).

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> X = (np.random.RandomState(0).rand(50, 6) > 0.5).astype(float)
    >>> VAETransformer(likelihood="bernoulli", max_iter=2, random_state=0).fit(X).transform(X).shape
    (50, 2)
    """

    name = "bernoulli"

    def check_support(self, X):
        outside = (X < 0) | (X > 1)
        if np.any(outside):
            column = int(np.argmax(outside.any(axis=0)))
            raise ValueError(
                "likelihood='bernoulli' needs values in [0, 1]; column "
                f"{column} holds values outside it (min {X[:, column].min():g}, "
                f"max {X[:, column].max():g})."
            )

    def head(self, n_inputs, n_features):
        return _BernoulliHead(n_inputs, n_features)
