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
from torch.distributions import (
    Bernoulli,
    Beta,
    ContinuousBernoulli,
    Distribution,
    Independent,
    LowRankMultivariateNormal,
    NegativeBinomial,
    Normal,
    OneHotCategorical,
    Poisson,
    StudentT,
)
from torch.nn import functional as F

from ._registry import Part, Registry
from ._sampling import draw

#: Floor of the Gaussian noise scale, in units of each column's standard deviation.
#: It keeps the density finite on (nearly) constant columns; a column whose training
#: values are all equal is measured with the median scale of the other columns, so its
#: floor is relative to the data's overall scale rather than to zero.
GAUSSIAN_MIN_SCALE = 1e-3

#: Bounds of the log-mean of the count likelihoods ("poisson", "negative_binomial").
#: They keep ``exp`` finite in float32 and the rate away from 0, whose log is -inf.
LOG_MEAN_BOUNDS = (-20.0, 20.0)

#: Largest absolute logit of "continuous_bernoulli". torch's normaliser loses precision
#: in float32 (the training dtype) as sigmoid(logit) nears 1: at 10 the density still
#: integrates to 1 within 1e-4, at 15 only within 1e-2. It bounds the density's ratio
#: between the two ends of [0, 1] by exp(10).
CONTINUOUS_BERNOULLI_MAX_LOGIT = 10.0

#: Largest absolute logit of the mean of "beta"; it keeps both concentrations positive
#: (sigmoid(-logit) underflows to 0 in float32 past about 100) and the mean within
#: about 2e-9 of 0 and 1.
BETA_MAX_LOGIT = 20.0

#: Floor of the inverse dispersion of "negative_binomial"; it keeps lgamma finite.
NB_MIN_INVERSE_DISPERSION = 1e-3

#: Floor of the precision (a + b) of "beta"; it keeps both concentrations positive.
BETA_MIN_PRECISION = 1e-3

#: Floor of the degrees of freedom of "student_t". The decoder mean (what
#: ``inverse_transform`` returns) needs df > 1; a floor of 2 keeps that true with room
#: to spare even where softplus underflows, and still allows tails as heavy as t(2).
STUDENT_T_MIN_DF = 2.0

#: Learning-rate factor of the noise scales and degrees of freedom of "student_t".
#: Heavy tails let a column's scale shrink to the width of its bulk, often orders of
#: magnitude below the unit scale it starts at (pixels mostly at 0), and Adam moves a
#: parameter by about one learning rate per step: at the model's rate, that walk set
#: the length of the fit. With 10x (measured on dequantised load_digits and 784-pixel
#: digits, benchmarks/RESULTS.md) default fits stopped after 441-476 epochs instead of
#: 522-662 on the digits, at the same held-out score, and after 410-588 on the 784-pixel
#: digits, which ran past 1000 before.
STUDENT_T_LR_MULTIPLIER = 10.0


def _inverse_softplus(y):
    """The x with softplus(x) == y, for starting values of softplus-parametrised floats."""
    return math.log(math.expm1(y))


def _check_values(name, X, bad, requirement):
    """Raise a ValueError naming the first column where ``bad`` holds, and its value."""
    if np.any(bad):
        column = int(np.argmax(bad.any(axis=0)))
        row = int(np.argmax(bad[:, column]))
        raise ValueError(
            f"likelihood={name!r} needs {requirement}; column {column} holds "
            f"{X[row, column]:g} (row {row})."
        )


def _check_interval(name, X, low, high, closed):
    """Values in [low, high] (``closed``) or (low, high); the common case costs no copy."""
    lo, hi = X.min(), X.max()
    inside = (lo >= low and hi <= high) if closed else (lo > low and hi < high)
    if not inside:
        bad = ((X < low) | (X > high)) if closed else ((X <= low) | (X >= high))
        span = f"[{low:g}, {high:g}]" if closed else f"strictly inside ({low:g}, {high:g})"
        _check_values(name, X, bad, f"values {span}")


#: Largest count the count likelihoods take: float32, the precision skvae trains in,
#: holds every integer up to 2**24 exactly and no longer all of them above.
MAX_COUNT = 2**24


def _check_counts(name, X):
    if X.min() < 0 or not np.array_equal(X, np.floor(X)):
        _check_values(name, X, (X < 0) | (X != np.floor(X)), "non-negative integers")
    if X.max() > MAX_COUNT:
        _check_values(name, X, X > MAX_COUNT,
                      f"counts up to 2**24 = {MAX_COUNT}, the integers float32 (the "
                      "precision skvae trains in) holds exactly; for larger values use "
                      "likelihood='gaussian', on log1p(X) if they are skewed")


def _column_moments(X):
    """Column means and standard deviations in float64, in row blocks.

    ``X.std`` would hold a full float64 copy of ``X - mean``; blocks keep the extra
    memory to a few megabytes whatever the size of X. Values so large that the sum or
    the squares overflow float64 (beyond about 1e154) are divided by their column's
    largest magnitude first, so the moments of any finite X are finite.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        loc, scale = _scaled_column_moments(X, None)
    if np.isfinite(loc).all() and np.isfinite(scale).all():
        return loc, scale
    magnitude = np.abs(X).max(axis=0).astype(np.float64)
    unit = np.where(magnitude > 0, magnitude, 1.0)
    return _scaled_column_moments(X, unit)


def _scaled_column_moments(X, unit):
    """Column moments of ``X / unit``, times ``unit``; ``unit=None`` divides by nothing."""
    rows = max(1, 2**20 // max(1, X.shape[1]))
    if unit is None:
        loc = X.mean(axis=0, dtype=np.float64)
    else:
        loc = sum((X[start : start + rows] / unit).sum(axis=0)
                  for start in range(0, X.shape[0], rows)) / X.shape[0]
    squares = np.zeros(X.shape[1])
    for start in range(0, X.shape[0], rows):
        block = X[start : start + rows] if unit is None else X[start : start + rows] / unit
        centred = block - loc
        squares += np.einsum("ij,ij->j", centred, centred)
    scale = np.sqrt(squares / X.shape[0])
    return (loc, scale) if unit is None else (loc * unit, scale * unit)


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
    >>> {"gaussian", "bernoulli"} <= set(LIKELIHOODS)
    True
    """
    return LIKELIHOODS.register(cls)


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
    return LIKELIHOODS.instance(spec)


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


class Likelihood(Part):
    """Base class of the likelihoods; subclasses set ``name`` and override :meth:`Likelihood.head`.

    Subclasses hold configuration only (no tensors), so they pickle, clone and compare
    cheaply; the learnable parts live in the module returned by :meth:`Likelihood.head`.
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
            ``sample`` draws from it with the estimator's own generator: torch's
            distribution types (and ``Independent`` wrappings of them) are drawn by
            ``skvae._sampling.draw``; a distribution of another type needs a method
            ``sample_with(generator, sample_shape)`` or an ``icdf``.
        """
        raise NotImplementedError


#: Registry of likelihood classes by name, filled by :func:`register_likelihood`.
LIKELIHOODS = Registry("likelihood", Likelihood)



class _GaussianRows(Independent):
    """Independent Gaussian features of a row with one scale per feature.

    ``Normal`` broadcasts the scale to every entry, and its ``log_prob`` takes the log
    and adds the normalising constant entry by entry before ``Independent`` sums them;
    here they are summed once per call from the per-feature scale, which saves
    full-size passes forward and backward in every training step.

    Parameters
    ----------
    loc : torch.Tensor of shape (..., n_features)
    scale : torch.Tensor of shape (n_features,)
    """

    def __init__(self, loc, scale):
        super().__init__(Normal(loc, scale, validate_args=False), 1, validate_args=False)
        self.feature_scale = scale

    def log_prob(self, value):
        standardised = (value - self.base_dist.loc) / self.feature_scale
        constant = (self.feature_scale.log().sum()
                    + 0.5 * math.log(2 * math.pi) * value.shape[-1])
        return -0.5 * standardised.square().sum(-1) - constant


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
        return _GaussianRows(self.loc(h), self.scale())


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
        loc, scale = _column_moments(X)
        # A column constant in training has no scale of its own: borrow the data's.
        tiny = scale <= 1e-12 * np.maximum(1.0, np.abs(loc))
        fallback = np.median(scale[~tiny]) if np.any(~tiny) else 1.0
        scale[tiny] = fallback
        return loc, scale

    def head(self, n_inputs, n_features):
        return _GaussianHead(n_inputs, n_features, GAUSSIAN_MIN_SCALE)


class _BernoulliRows(Independent):
    """Independent Bernoulli features of a row, scored through one cross-entropy call.

    ``Bernoulli.log_prob`` negates the cross-entropy of every entry before
    ``Independent`` sums them; negating the row sums instead saves a pass over the
    whole (rows x features) block in the forward and in the backward pass, a few
    percent of a training step on wide data.
    """

    def log_prob(self, value):
        logits, value = torch.broadcast_tensors(self.base_dist.logits, value)
        return -F.binary_cross_entropy_with_logits(logits, value, reduction="none").sum(-1)


class _BernoulliHead(nn.Module):
    """Logits per row and feature."""

    def __init__(self, n_inputs, n_features):
        super().__init__()
        self.logits = nn.Linear(n_inputs, n_features)

    def forward(self, h) -> Distribution:
        # validate_args=False: values in (0, 1) are scored by the cross-entropy formula.
        return _BernoulliRows(Bernoulli(logits=self.logits(h), validate_args=False), 1,
                              validate_args=False)


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
        _check_interval(self.name, X, 0.0, 1.0, closed=True)

    def head(self, n_inputs, n_features):
        return _BernoulliHead(n_inputs, n_features)


class _PoissonHead(nn.Module):
    """Log-rate per row and feature."""

    def __init__(self, n_inputs, n_features):
        super().__init__()
        self.log_rate = nn.Linear(n_inputs, n_features)

    def forward(self, h) -> Distribution:
        rate = self.log_rate(h).clamp(*LOG_MEAN_BOUNDS).exp()
        return Independent(Poisson(rate, validate_args=False), 1)


@register_likelihood
class PoissonLikelihood(Likelihood):
    """Poisson counts with a log-rate per row and feature from the decoder.

    X must hold non-negative integers; it is modelled as it is (no standardisation), so
    ``score_samples`` is a log-probability mass and ``sample`` draws counts. The
    log-rate is clipped to :data:`LOG_MEAN_BOUNDS`.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> X = np.random.RandomState(0).poisson(3.0, size=(50, 4)).astype(float)
    >>> vae = VAETransformer(likelihood="poisson", max_iter=2, random_state=0).fit(X)
    >>> vae.transform(X).shape, vae.sample(3, random_state=0).shape
    ((50, 2), (3, 4))
    """

    name = "poisson"

    def check_support(self, X):
        _check_counts(self.name, X)

    def head(self, n_inputs, n_features):
        return _PoissonHead(n_inputs, n_features)


class _NegativeBinomialHead(nn.Module):
    """Log-mean per row and feature, inverse dispersion per feature."""

    def __init__(self, n_inputs, n_features, min_inverse_dispersion):
        super().__init__()
        self.log_mean = nn.Linear(n_inputs, n_features)
        self.min_inverse_dispersion = min_inverse_dispersion
        # Inverse dispersion 1 at the start: a geometric law, variance mean + mean**2.
        start = _inverse_softplus(1.0 - min_inverse_dispersion)
        self.raw_inverse_dispersion = nn.Parameter(torch.full((n_features,), start))

    def inverse_dispersion(self):
        """Per-feature ``r`` of NB2: variance = mean + mean**2 / r."""
        return F.softplus(self.raw_inverse_dispersion) + self.min_inverse_dispersion

    def forward(self, h) -> Distribution:
        log_mean = self.log_mean(h).clamp(*LOG_MEAN_BOUNDS)
        r = self.inverse_dispersion()
        # torch's NegativeBinomial has mean r * exp(logits); logits in log space keep
        # small means and large r from cancelling.
        logits = log_mean - r.log()
        return Independent(NegativeBinomial(r, logits=logits, validate_args=False), 1)


@register_likelihood
class NegativeBinomialLikelihood(Likelihood):
    """Overdispersed counts: negative binomial (NB2) with a learned dispersion per feature.

    The decoder gives the mean ``mu`` of each entry; each feature has an inverse
    dispersion ``r`` (floored at :data:`NB_MIN_INVERSE_DISPERSION`), so the variance is
    ``mu + mu**2 / r`` and ``r -> inf`` recovers the Poisson. X must hold non-negative
    integers and is modelled as it is; ``score_samples`` is a log-probability mass.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> X = np.random.RandomState(0).negative_binomial(2, 0.3, size=(50, 4)).astype(float)
    >>> vae = VAETransformer(likelihood="negative_binomial", max_iter=2, random_state=0)
    >>> vae.fit(X).score_samples(X).shape
    (50,)
    """

    name = "negative_binomial"

    def check_support(self, X):
        _check_counts(self.name, X)

    def head(self, n_inputs, n_features):
        return _NegativeBinomialHead(n_inputs, n_features, NB_MIN_INVERSE_DISPERSION)


class _ContinuousBernoulliHead(nn.Module):
    """Logits per row and feature."""

    def __init__(self, n_inputs, n_features):
        super().__init__()
        self.logits = nn.Linear(n_inputs, n_features)

    def forward(self, h) -> Distribution:
        logits = self.logits(h).clamp(-CONTINUOUS_BERNOULLI_MAX_LOGIT,
                                      CONTINUOUS_BERNOULLI_MAX_LOGIT)
        return Independent(ContinuousBernoulli(logits=logits, validate_args=False), 1)


@register_likelihood
class ContinuousBernoulliLikelihood(Likelihood):
    """Continuous Bernoulli: the normalised version of "bernoulli" for values in [0, 1].

    The density is proportional to ``p**x * (1 - p)**(1 - x)`` on [0, 1] (Loaiza-Ganem
    and Cunningham, 2019), so unlike "bernoulli" on grey levels ``score_samples`` is a
    true log-density. Logits are clipped to +-:data:`CONTINUOUS_BERNOULLI_MAX_LOGIT`.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> X = np.random.RandomState(0).rand(50, 4)
    >>> vae = VAETransformer(likelihood="continuous_bernoulli", max_iter=2, random_state=0)
    >>> vae.fit(X).inverse_transform(vae.transform(X)).shape
    (50, 4)
    """

    name = "continuous_bernoulli"

    def check_support(self, X):
        _check_interval(self.name, X, 0.0, 1.0, closed=True)

    def head(self, n_inputs, n_features):
        return _ContinuousBernoulliHead(n_inputs, n_features)


class _BetaHead(nn.Module):
    """Mean (as a logit) per row and feature, precision per feature (beta regression)."""

    def __init__(self, n_inputs, n_features, min_precision):
        super().__init__()
        self.logits = nn.Linear(n_inputs, n_features)
        self.min_precision = min_precision
        # Precision 2 at the start: with mean 1/2 that is the uniform law Beta(1, 1).
        start = _inverse_softplus(2.0 - min_precision)
        self.raw_precision = nn.Parameter(torch.full((n_features,), start))

    def precision(self):
        """Per-feature ``a + b``: variance = mean * (1 - mean) / (1 + precision)."""
        return F.softplus(self.raw_precision) + self.min_precision

    def forward(self, h) -> Distribution:
        logits = self.logits(h).clamp(-BETA_MAX_LOGIT, BETA_MAX_LOGIT)
        precision = self.precision()
        # sigmoid(-logits) rather than 1 - sigmoid(logits): no cancellation near 1.
        a = torch.sigmoid(logits) * precision
        b = torch.sigmoid(-logits) * precision
        return Independent(Beta(a, b, validate_args=False), 1)


@register_likelihood
class BetaLikelihood(Likelihood):
    """Beta noise for proportions strictly inside (0, 1).

    Parametrised as in beta regression: the decoder gives the mean ``m`` of each entry
    (logits clipped to +-:data:`BETA_MAX_LOGIT`) and each feature has a precision
    ``phi`` (floored at :data:`BETA_MIN_PRECISION`), so ``a = m * phi`` and
    ``b = (1 - m) * phi``. Values of exactly 0 or 1 have zero density and are rejected:
    squeeze them inside first, or use "continuous_bernoulli".

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> X = np.random.RandomState(0).beta(2.0, 5.0, size=(50, 4))
    >>> vae = VAETransformer(likelihood="beta", max_iter=2, random_state=0).fit(X)
    >>> vae.sample(3, random_state=0).shape
    (3, 4)
    """

    name = "beta"

    def check_support(self, X):
        _check_interval(self.name, X, 0.0, 1.0, closed=False)
        # Inside (0, 1) in float64 but 0 or 1 in float32, where training computes
        # log(x) and log(1 - x): the loss would become infinite.
        rounded = X.astype(np.float32)
        if rounded.min() <= 0 or rounded.max() >= 1:
            _check_values(self.name, X, (rounded <= 0) | (rounded >= 1),
                          "values that stay inside (0, 1) in float32, the precision "
                          "skvae trains in; clip X to [1e-6, 1 - 1e-6] first")

    def head(self, n_inputs, n_features):
        return _BetaHead(n_inputs, n_features, BETA_MIN_PRECISION)


class _StudentTRows(Independent):
    """Independent Student's t features of a row with one scale and df per feature.

    ``StudentT`` broadcasts the degrees of freedom and the scale to every entry and
    computes its normaliser (two ``lgamma`` and two logs) entry by entry; here the
    normaliser is computed once per feature, as :class:`_GaussianRows` does for the
    Gaussian, which cut the likelihood's share of a 784-column training step by about
    4x.

    Parameters
    ----------
    df, loc, scale : torch.Tensor of shapes (n_features,), (..., n_features), (n_features,)
    """

    def __init__(self, df, loc, scale):
        super().__init__(StudentT(df, loc, scale, validate_args=False), 1,
                         validate_args=False)
        self.feature_df, self.feature_scale = df, scale

    def log_prob(self, value):
        df = self.feature_df
        standardised = (value - self.base_dist.loc) / self.feature_scale
        constant = (self.feature_scale.log() + 0.5 * df.log() + 0.5 * math.log(math.pi)
                    + torch.lgamma(0.5 * df) - torch.lgamma(0.5 * (df + 1.0))).sum()
        return -0.5 * ((df + 1.0) * torch.log1p(standardised.square() / df)).sum(-1) - constant


class _StudentTHead(_GaussianHead):
    """The Gaussian head's mean and scale, plus degrees of freedom per feature."""

    lr_multipliers = {"raw_scale": STUDENT_T_LR_MULTIPLIER, "raw_df": STUDENT_T_LR_MULTIPLIER}

    def __init__(self, n_inputs, n_features, min_scale, min_df):
        super().__init__(n_inputs, n_features, min_scale)
        self.min_df = min_df
        # df 5 at the start: clearly heavier tails than the Gaussian, finite variance.
        start = _inverse_softplus(5.0 - min_df)
        self.raw_df = nn.Parameter(torch.full((n_features,), start))

    def df(self):
        """Per-feature degrees of freedom."""
        return F.softplus(self.raw_df) + self.min_df

    def forward(self, h) -> Distribution:
        return _StudentTRows(self.df(), self.loc(h), self.scale())


@register_likelihood
class StudentTLikelihood(GaussianLikelihood):
    """Student's t noise: a heavy-tailed, outlier-robust alternative to "gaussian".

    Columns are standardised as for "gaussian" (and the log-Jacobian added back). The
    decoder gives the location; each feature has a learned scale, floored at
    :data:`GAUSSIAN_MIN_SCALE` as for "gaussian", and learned degrees of freedom, floored
    at :data:`STUDENT_T_MIN_DF` so the decoder mean exists. Scales and degrees of
    freedom train at :data:`STUDENT_T_LR_MULTIPLIER` times the learning rate: their
    optimum often lies far from where they start.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> X = np.random.RandomState(0).standard_t(2.0, size=(50, 4))
    >>> vae = VAETransformer(likelihood="student_t", max_iter=2, random_state=0).fit(X)
    >>> vae.score_samples(X).shape, vae.inverse_transform(vae.transform(X)).shape
    ((50,), (50, 4))
    """

    name = "student_t"

    def head(self, n_inputs, n_features):
        return _StudentTHead(n_inputs, n_features, GAUSSIAN_MIN_SCALE, STUDENT_T_MIN_DF)


class _LowRankGaussianHead(_GaussianHead):
    """The Gaussian head's mean and per-feature scale, plus a covariance factor per row."""

    def __init__(self, n_inputs, n_features, min_scale, rank):
        super().__init__(n_inputs, n_features, min_scale)
        self.n_features, self.rank = n_features, rank
        self.factor = nn.Linear(n_inputs, n_features * rank)

    def forward(self, h) -> Distribution:
        factor = self.factor(h).unflatten(-1, (self.n_features, self.rank))
        diagonal = self.scale().square().expand(factor.shape[:-1])
        return LowRankMultivariateNormal(self.loc(h), factor, diagonal, validate_args=False)


@register_likelihood
class LowRankGaussianLikelihood(GaussianLikelihood):
    """Gaussian noise whose covariance is low rank plus diagonal, given per row.

    Structured residuals (Dorta et al., 2018): for each z the decoder gives the mean
    ``mu(z)`` and a factor ``W(z)`` of shape ``(n_features, rank)``, and each feature
    has a learned noise scale ``s`` (floored at :data:`GAUSSIAN_MIN_SCALE` as for
    "gaussian"), so ``x | z ~ N(mu(z), W(z) W(z)^T + diag(s^2))``
    (torch's ``LowRankMultivariateNormal``). Residuals are correlated across
    features, as neighbouring pixels of an image are, and samples carry that
    correlation. Scores are exact densities; a row costs ``O(n_features * rank^2)``.
    Columns are standardised as for "gaussian".

    Parameters
    ----------
    rank : int, default=5
        Columns of the covariance factor.

    References
    ----------
    .. [1] Dorta, G., S. Vicente, L. Agapito, N. D. F. Campbell and I. Simpson,
       "Structured Uncertainty Prediction Networks", CVPR 2018.

    Examples
    --------
    >>> import numpy as np
    >>> from skvae import VAETransformer
    >>> X = np.random.RandomState(0).normal(size=(50, 6))
    >>> vae = VAETransformer(likelihood=LowRankGaussianLikelihood(rank=2), max_iter=2,
    ...                      random_state=0).fit(X)
    >>> vae.sample(3, random_state=0).shape
    (3, 6)
    """

    name = "gaussian_lowrank"

    def __init__(self, rank=5):
        self.rank = rank

    def head(self, n_inputs, n_features):
        if isinstance(self.rank, bool) or not isinstance(self.rank, int) or self.rank < 1:
            raise ValueError(f"LowRankGaussianLikelihood needs a positive int rank, got "
                             f"{self.rank!r}.")
        return _LowRankGaussianHead(n_inputs, n_features, GAUSSIAN_MIN_SCALE, self.rank)


class _CategoricalHead(nn.Module):
    """Logits over the columns of one one-hot group."""

    def __init__(self, n_inputs, n_features):
        super().__init__()
        self.logits = nn.Linear(n_inputs, n_features)

    def forward(self, h) -> Distribution:
        return OneHotCategorical(logits=self.logits(h), validate_args=False)


@register_likelihood
class CategoricalLikelihood(Likelihood):
    """Softmax over a group of one-hot columns: one categorical value per row.

    ``likelihood="categorical"`` models rows that are one-hot vectors (e.g. the output
    of :class:`~sklearn.preprocessing.OneHotEncoder` for a single variable, or a
    choice among the columns); the decoder gives the probabilities of the columns,
    which ``inverse_transform`` returns. Inside a :class:`MixedLikelihood`,
    VAEGenerator uses one per category, string or object column.

    Examples
    --------
    >>> import numpy as np
    >>> CategoricalLikelihood().check_support(np.eye(3))
    """

    name = "categorical"

    def check_support(self, X):
        _check_interval(self.name, X, 0.0, 1.0, closed=True)
        sums = X.sum(axis=1)
        if not np.allclose(sums, 1.0):
            row = int(np.argmax(~np.isclose(sums, 1.0)))
            raise ValueError(f"likelihood='categorical' needs one-hot rows; row {row} sums to "
                             f"{sums[row]:g}.")

    def head(self, n_inputs, n_features):
        return _CategoricalHead(n_inputs, n_features)


class _MaskedBlocks(Distribution):
    """Independent blocks of columns, each with its own distribution; NaN is missing.

    ``log_prob`` sums the blocks' log-densities over the observed entries only (a block
    whose event is a whole group, like a one-hot category, counts when all of it is
    observed), so missing values are marginalised out rather than imputed.
    """

    arg_constraints = {}

    def __init__(self, parts, slices):
        self.parts, self.slices = parts, slices
        batch_shape = parts[0].batch_shape
        super().__init__(batch_shape, torch.Size([slices[-1].stop]), validate_args=False)

    @property
    def mean(self):
        return torch.cat([part.mean for part in self.parts], dim=-1)

    def sample_with(self, generator, sample_shape=torch.Size()):
        """A draw of every block from ``generator`` (see ``skvae._sampling.draw``)."""
        return torch.cat([draw(part, generator, sample_shape) for part in self.parts], dim=-1)

    def log_prob(self, value):
        total = 0.0
        for part, columns in zip(self.parts, self.slices):
            x = value[..., columns]
            x = x.expand(*part.batch_shape, x.shape[-1])  # rows may repeat over draws
            observed = ~torch.isnan(x)
            # Missing entries get a harmless in-support stand-in, then count for nothing.
            filled = torch.where(observed, x, part.mean.detach().expand_as(x))
            if isinstance(part, Independent):
                log_p = part.base_dist.log_prob(filled)
                total = total + torch.where(observed, log_p, 0.0).sum(-1)
            else:
                total = total + torch.where(observed.all(-1), part.log_prob(filled), 0.0)
        return total


class _MixedHead(nn.Module):
    def __init__(self, heads, slices):
        super().__init__()
        self.heads = nn.ModuleList(heads)
        self.slices = slices

    def forward(self, h) -> Distribution:
        return _MaskedBlocks([head(h) for head in self.heads], self.slices)


class MixedLikelihood(Likelihood):
    """A likelihood per block of columns, for tables of mixed types; NaN marks missing.

    Parameters
    ----------
    blocks : sequence of (str or Likelihood, int)
        Each block's likelihood and its number of columns, left to right.

    Examples
    --------
    >>> import numpy as np
    >>> mixed = MixedLikelihood([("gaussian", 1), ("categorical", 3)])
    >>> mixed.check_support(np.array([[0.5, 0, 1, 0], [np.nan, 1, 0, 0]]))
    >>> mixed.n_columns
    4
    """

    name = "mixed"
    handles_missing = True

    def __init__(self, blocks=()):
        self.blocks = tuple(blocks)

    def _parts(self):
        if not self.blocks:
            raise ValueError("MixedLikelihood needs blocks: a (likelihood, n_columns) list.")
        start, parts = 0, []
        for spec, width in self.blocks:
            likelihood = CategoricalLikelihood() if spec == "categorical" else get_likelihood(spec)
            parts.append((likelihood, slice(start, start + int(width))))
            start += int(width)
        return parts

    @property
    def n_columns(self):
        """Total number of columns the blocks cover."""
        return self._parts()[-1][1].stop

    def check_support(self, X):
        if X.shape[1] != self.n_columns:
            raise ValueError(f"MixedLikelihood covers {self.n_columns} columns; X has "
                             f"{X.shape[1]}.")
        for likelihood, columns in self._parts():
            block = X[:, columns]
            rows = ~np.isnan(block).any(axis=1)
            if rows.any():
                try:
                    likelihood.check_support(block[rows])
                except ValueError as exc:
                    where = f"columns {columns.start}..{columns.stop - 1}"
                    raise ValueError(f"{where}: {exc}") from None

    def standardizer(self, X):
        locs, scales = [], []
        for likelihood, columns in self._parts():
            block = X[:, columns]
            # Missing entries stand at their column's mean: it leaves the mean alone.
            filled = np.where(np.isnan(block), np.nanmean(block, axis=0), block)
            loc, scale = likelihood.standardizer(np.nan_to_num(filled))
            locs.append(loc)
            scales.append(scale)
        return np.concatenate(locs), np.concatenate(scales)

    def head(self, n_inputs, n_features):
        parts = self._parts()
        heads = [likelihood.head(n_inputs, columns.stop - columns.start)
                 for likelihood, columns in parts]
        return _MixedHead(heads, [columns for _, columns in parts])


#: Likelihoods built by VAEGenerator for tables (not chosen by name, but saved by it).
TABLE_LIKELIHOODS = {"categorical": CategoricalLikelihood, "mixed": MixedLikelihood}
