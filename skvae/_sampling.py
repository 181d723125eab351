"""Draws from torch distributions with an explicit ``torch.Generator``.

``torch.distributions`` samples from torch's process-wide generator only: sampling with
it would change the caller's RNG and give another result whenever another thread draws
at the same time. :func:`draw` samples the distribution types skvae's likelihoods and
priors build from generator-taking primitives (``torch.rand``, ``torch.randn``,
``torch.poisson`` and :func:`standard_gamma` built on them), so ``sample`` depends on the
estimator's own generator alone.

A distribution of another type is drawn with its own ``sample_with(generator,
sample_shape)`` method when it has one, else by its inverse distribution function
(``icdf``) at generator uniforms; a distribution with neither raises a TypeError.
"""

# License: BSD 3 clause

import torch
from torch.distributions import (
    Bernoulli,
    Beta,
    Categorical,
    ContinuousBernoulli,
    Gamma,
    Independent,
    LowRankMultivariateNormal,
    MixtureSameFamily,
    MultivariateNormal,
    NegativeBinomial,
    Normal,
    OneHotCategorical,
    Poisson,
    StudentT,
)
from torch.nn import functional as F


def draw(distribution, generator, sample_shape=()):
    """A sample of ``distribution`` whose randomness comes from ``generator`` only.

    Parameters
    ----------
    distribution : torch.distributions.Distribution
    generator : torch.Generator
        On the device of the distribution's parameters.
    sample_shape : tuple of int, default=()

    Returns
    -------
    sample : torch.Tensor of shape ``sample_shape + batch_shape + event_shape``

    Examples
    --------
    >>> from torch.distributions import Normal
    >>> a = draw(Normal(0.0, 1.0), torch.Generator().manual_seed(0), (3,))
    >>> b = draw(Normal(0.0, 1.0), torch.Generator().manual_seed(0), (3,))
    >>> bool(torch.equal(a, b)), a.shape
    (True, torch.Size([3]))
    """
    sample_shape = torch.Size(sample_shape)
    own = getattr(distribution, "sample_with", None)
    if own is not None:
        return own(generator, sample_shape)
    for cls in type(distribution).__mro__:
        if cls in _SAMPLERS:
            return _SAMPLERS[cls](distribution, generator, sample_shape)
    return _by_inverse_cdf(distribution, generator, sample_shape)


def standard_gamma(concentration, generator):
    """Gamma(concentration, 1) draws, one per entry, by Marsaglia and Tsang's method.

    Every entry draws a normal and a uniform per round and keeps the first accepted
    value; a round accepts with probability above 0.95, so a few rounds finish any
    size. Concentrations below 1 are drawn at ``concentration + 1`` and multiplied by
    ``U ** (1 / concentration)``. Draws are at least the dtype's smallest normal number,
    as torch's own sampler makes them (so ratios of them stay defined).

    Parameters
    ----------
    concentration : torch.Tensor
        Positive values.
    generator : torch.Generator

    Returns
    -------
    sample : torch.Tensor of the shape of ``concentration``

    References
    ----------
    .. [1] Marsaglia, G. and W. W. Tsang, "A simple method for generating gamma
       variables", ACM Transactions on Mathematical Software 26(3), 2000.
    """
    alpha = concentration.reshape(-1)
    boosted = alpha < 1
    d = torch.where(boosted, alpha + 1, alpha) - 1.0 / 3.0
    c = torch.rsqrt(9.0 * d)
    out = torch.empty_like(alpha)
    pending = torch.arange(alpha.numel(), device=alpha.device)
    while pending.numel():
        x = _randn(generator, pending.shape, alpha)
        u = _rand(generator, pending.shape, alpha)
        d_p, v = d[pending], (1 + c[pending] * x) ** 3
        # The log of a negative v is NaN, which the comparison rejects as v > 0 does.
        accepted = (v > 0) & (u.log() < 0.5 * x * x + d_p - d_p * v + d_p * v.log())
        out[pending[accepted]] = (d_p * v)[accepted]
        pending = pending[~accepted]
    u = _rand(generator, alpha.shape, alpha)
    out = torch.where(boosted, out * u.pow(1.0 / alpha), out)
    return out.clamp(min=torch.finfo(out.dtype).tiny).reshape(concentration.shape)


def _rand(generator, shape, like):
    return torch.rand(shape, generator=generator, dtype=like.dtype, device=like.device)


def _randn(generator, shape, like):
    return torch.randn(shape, generator=generator, dtype=like.dtype, device=like.device)


def _shape(distribution, sample_shape):
    return sample_shape + distribution.batch_shape + distribution.event_shape


def _normal(d, generator, sample_shape):
    return d.loc + d.scale * _randn(generator, _shape(d, sample_shape), d.loc)


def _multivariate_normal(d, generator, sample_shape):
    noise = _randn(generator, _shape(d, sample_shape), d.loc)
    return d.loc + (d.scale_tril @ noise.unsqueeze(-1)).squeeze(-1)


def _low_rank_normal(d, generator, sample_shape):
    # x = loc + W e + sqrt(D) f, with e of the factor's rank and f of the event's size.
    shape = _shape(d, sample_shape)
    rank_noise = _randn(generator, (*shape[:-1], d.cov_factor.shape[-1]), d.loc)
    noise = _randn(generator, shape, d.loc)
    return (d.loc + (d.cov_factor @ rank_noise.unsqueeze(-1)).squeeze(-1)
            + d.cov_diag.sqrt() * noise)


def _bernoulli(d, generator, sample_shape):
    probs = d.probs
    return (_rand(generator, _shape(d, sample_shape), probs) < probs).to(probs.dtype)


def _continuous_bernoulli(d, generator, sample_shape):
    return d.icdf(_rand(generator, _shape(d, sample_shape), d.probs))


def _poisson(d, generator, sample_shape):
    return torch.poisson(d.rate.expand(_shape(d, sample_shape)), generator=generator)


def _gamma(d, generator, sample_shape):
    shape = _shape(d, sample_shape)
    return standard_gamma(d.concentration.expand(shape), generator) / d.rate


def _negative_binomial(d, generator, sample_shape):
    # A Poisson whose rate is Gamma(total_count, exp(logits)) distributed, as in torch.
    shape = _shape(d, sample_shape)
    rate = standard_gamma(d.total_count.expand(shape), generator) * d.logits.exp()
    return torch.poisson(rate, generator=generator)


def _beta(d, generator, sample_shape):
    shape = _shape(d, sample_shape)
    a = standard_gamma(d.concentration1.expand(shape), generator)
    b = standard_gamma(d.concentration0.expand(shape), generator)
    return a / (a + b)


def _student_t(d, generator, sample_shape):
    shape = _shape(d, sample_shape)
    chi2 = 2 * standard_gamma((0.5 * d.df).expand(shape), generator)
    return d.loc + d.scale * _randn(generator, shape, d.loc) * torch.rsqrt(chi2 / d.df)


def _category(probs, generator, sample_shape):
    """Category indices by inverting the cumulative probabilities at generator uniforms."""
    cdf = probs.cumsum(-1)
    u = _rand(generator, sample_shape + probs.shape[:-1] + (1,), probs) * cdf[..., -1:]
    return (cdf < u).sum(-1).clamp(max=probs.shape[-1] - 1)


def _categorical(d, generator, sample_shape):
    return _category(d.probs, generator, sample_shape)


def _one_hot_categorical(d, generator, sample_shape):
    probs = d.probs
    return F.one_hot(_category(probs, generator, sample_shape), probs.shape[-1]).to(probs.dtype)


def _independent(d, generator, sample_shape):
    return draw(d.base_dist, generator, sample_shape)


def _mixture(d, generator, sample_shape):
    # As torch does: a draw of every component, then the one the mixture picks.
    picks = draw(d.mixture_distribution, generator, sample_shape)
    components = draw(d.component_distribution, generator, sample_shape)
    event = d.event_shape
    index = picks.reshape(picks.shape + (1,) * (1 + len(event))).expand(
        picks.shape + (1,) + event)
    return components.gather(len(picks.shape), index).squeeze(len(picks.shape))


def _by_inverse_cdf(d, generator, sample_shape):
    u = torch.rand(_shape(d, sample_shape), generator=generator, device=generator.device)
    try:
        return d.icdf(u)
    except NotImplementedError:
        raise TypeError(
            f"skvae cannot draw from a {type(d).__name__} with the estimator's own "
            "generator: give the distribution a method sample_with(generator, "
            "sample_shape) that draws with the generator, or an icdf."
        ) from None


_SAMPLERS = {
    Normal: _normal,
    MultivariateNormal: _multivariate_normal,
    LowRankMultivariateNormal: _low_rank_normal,
    Bernoulli: _bernoulli,
    ContinuousBernoulli: _continuous_bernoulli,
    Poisson: _poisson,
    Gamma: _gamma,
    NegativeBinomial: _negative_binomial,
    Beta: _beta,
    StudentT: _student_t,
    Categorical: _categorical,
    OneHotCategorical: _one_hot_categorical,
    Independent: _independent,
    MixtureSameFamily: _mixture,
}
