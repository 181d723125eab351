"""Priors p(z) over the latent space.

A prior is a small configuration object whose :meth:`Prior.module` builds a
``torch.nn.Module`` (a :class:`PriorModule`) holding any learnable parameters. The
module's ``forward(encode)`` returns a :class:`torch.distributions.Distribution` with
event shape ``(n_components,)``; ``encode`` is the VAE's encoder (x -> q(z|x)), which
priors defined through the encoder (the VampPrior) use and the others ignore.
:meth:`PriorModule.kl` gives KL(q || p) per row: in closed form when torch's KL
registry knows the pair, by Monte Carlo over the given draws otherwise.

Adding a prior means one subclass here, decorated with :func:`register_prior`.
"""

# License: BSD 3 clause

from numbers import Integral

import torch
from torch import nn
from torch.distributions import (
    Categorical,
    Distribution,
    Independent,
    MixtureSameFamily,
    MultivariateNormal,
    Normal,
    kl_divergence,
)
from torch.nn import functional as F

from ._registry import Part, Registry
from ._sampling import draw


def register_prior(cls):
    """Class decorator that adds a :class:`Prior` subclass to :data:`PRIORS`.

    Parameters
    ----------
    cls : type
        A subclass of :class:`Prior` with a unique ``name``.

    Returns
    -------
    cls : type

    Examples
    --------
    >>> sorted(PRIORS)
    ['mog', 'normal', 'two_stage', 'vamp']
    """
    return PRIORS.register(cls)


def get_prior(spec):
    """Return a :class:`Prior` instance for a registry name or an instance.

    Parameters
    ----------
    spec : str or Prior

    Returns
    -------
    prior : Prior

    Examples
    --------
    >>> get_prior("normal")
    NormalPrior()
    """
    return PRIORS.instance(spec)


def _as_multivariate(p):
    """A diagonal Gaussian as a MultivariateNormal, so KL to a full posterior is closed."""
    if isinstance(p, Independent) and isinstance(p.base_dist, Normal):
        scale = p.base_dist.scale.expand_as(p.base_dist.loc)
        return MultivariateNormal(p.base_dist.loc, scale_tril=torch.diag_embed(scale),
                                  validate_args=False)
    return None


def _mean_over_draws(values):
    """Mean over the leading draws axis of ``(n_draws, n)`` values; ``(n,)`` as it is."""
    return values.mean(dim=0) if values.dim() > 1 else values


class PriorModule(nn.Module):
    """Base of the prior modules: ``forward(encode)`` gives p(z), ``kl`` KL(q || p).

    See :meth:`PriorModule.kl`.
    """

    def kl(self, posterior, z, encode=None):
        """KL(q || p) per row.

        Parameters
        ----------
        posterior : torch.distributions.Distribution
            q(z | x), batch shape ``(n,)``.
        z : torch.Tensor of shape (n, n_components) or (n_draws, n, n_components)
            Draws from q, used when no closed form exists.
        encode : callable or None
            The encoder, for priors defined through it.

        Returns
        -------
        kl : torch.Tensor of shape (n,)
        """
        prior = self(encode)
        try:
            return kl_divergence(posterior, prior)
        except NotImplementedError:
            full = _as_multivariate(prior) if isinstance(posterior, MultivariateNormal) else None
            if full is not None:
                return kl_divergence(posterior, full)
        # KL = -H(q) - E_q[log p(z)]: the entropy of a Gaussian q is exact, so only the
        # cross term is estimated. log q(z) at a draw varies by about sqrt(k / 2) nats
        # around -H(q) whatever q is (k latent dimensions), while log p(z) varies
        # little over a posterior much narrower than the prior, the usual case.
        log_p = prior.log_prob(z)
        try:
            return -posterior.entropy() - _mean_over_draws(log_p)
        except NotImplementedError:
            return _mean_over_draws(posterior.log_prob(z) - log_p)

    def init_from(self, generator):
        """Draw the initial values of random parameters from ``generator`` (CPU)."""

    def sampling_distribution(self, encode=None):
        """The distribution ``sample`` draws z from: p(z) itself, unless the prior
        samples otherwise (the two-stage prior's second VAE)."""
        return self(encode)


class _StandardNormalModule(PriorModule):
    def __init__(self, n_components):
        super().__init__()
        # Buffers follow the module across devices and dtypes; they are not trained.
        self.register_buffer("loc", torch.zeros(n_components))
        self.register_buffer("scale", torch.ones(n_components))

    def forward(self, encode=None):
        return Independent(Normal(self.loc, self.scale, validate_args=False), 1)

    def kl(self, posterior, z, encode=None):
        """KL(q || N(0, I)) per row; for a diagonal Gaussian q in closed form, directly.

        ``0.5 * sum(mu^2 + s^2 - 1) - sum(log s)``: the formula torch's KL registry
        evaluates, without building the prior or broadcasting its unit scale, which
        takes a fifth of the autograd nodes of a small network's training step.
        """
        if type(posterior) is Independent and type(posterior.base_dist) is Normal:
            loc, scale = posterior.base_dist.loc, posterior.base_dist.scale
            return 0.5 * (loc.square() + scale.square() - 1.0).sum(-1) - scale.log().sum(-1)
        return super().kl(posterior, z, encode)


class Prior(Part):
    """Base class of the priors; subclasses set ``name`` and override :meth:`Prior.module`."""

    name = None

    def module(self, n_components, n_features):
        """Build the prior's module.

        Parameters
        ----------
        n_components : int
            Latent size.
        n_features : int
            Input size (for priors with pseudo-inputs).

        Returns
        -------
        module : PriorModule
        """
        raise NotImplementedError


#: Registry of prior classes by name, filled by :func:`register_prior`.
PRIORS = Registry("prior", Prior)



@register_prior
class NormalPrior(Prior):
    """The standard normal prior N(0, I); its KL to a Gaussian posterior is closed-form.

    Examples
    --------
    >>> NormalPrior().module(3, 10)().event_shape
    torch.Size([3])
    """

    name = "normal"

    def module(self, n_components, n_features):
        return _StandardNormalModule(n_components)


def _check_n(value, name):
    if not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


class _MixtureModule(PriorModule):
    """Learnable mixture of diagonal Gaussians with learnable weights."""

    def __init__(self, n_components, n_clusters):
        super().__init__()
        self.locs = nn.Parameter(torch.zeros(n_clusters, n_components))
        self.raw_scales = nn.Parameter(torch.zeros(n_clusters, n_components))
        self.logits = nn.Parameter(torch.zeros(n_clusters))

    def init_from(self, generator):
        # Spread the means so the clusters start apart; equal weights, unit-ish scales.
        with torch.no_grad():
            self.locs.normal_(generator=generator)

    def components(self):
        scales = F.softplus(self.raw_scales) + 1e-3
        return Independent(Normal(self.locs, scales, validate_args=False), 1)

    def forward(self, encode=None):
        return MixtureSameFamily(Categorical(logits=self.logits, validate_args=False),
                                 self.components(), validate_args=False)

    def cluster_log_proba(self, z):
        """log p(k | z) for each cluster k, shape ``(n, n_clusters)``."""
        joint = self.components().log_prob(z.unsqueeze(-2)) + F.log_softmax(self.logits, -1)
        return joint - torch.logsumexp(joint, dim=-1, keepdim=True)


@register_prior
class MixtureOfGaussiansPrior(Prior):
    """A learnable mixture of ``n_clusters`` diagonal Gaussians (deep clustering).

    With it, :class:`~skvae.VAETransformer` gains ``predict``: the most probable
    cluster of each row's posterior mean. Its KL to the posterior has no closed form and
    is estimated by Monte Carlo.

    Parameters
    ----------
    n_clusters : int, default=10

    Examples
    --------
    >>> MixtureOfGaussiansPrior(n_clusters=3).module(2, 5)().mixture_distribution.logits.shape
    torch.Size([3])
    """

    name = "mog"

    def __init__(self, n_clusters=10):
        self.n_clusters = n_clusters

    def module(self, n_components, n_features):
        return _MixtureModule(n_components, _check_n(self.n_clusters, "n_clusters"))


class _VampModule(PriorModule):
    """Mixture of the posteriors of learnable pseudo-inputs, equal weights."""

    def __init__(self, n_features, n_pseudo_inputs):
        super().__init__()
        self.pseudo_inputs = nn.Parameter(torch.zeros(n_pseudo_inputs, n_features))

    def init_from(self, generator):
        # Pseudo-inputs live in the standardised data space: start them at N(0, 1) noise.
        with torch.no_grad():
            self.pseudo_inputs.normal_(generator=generator)

    def init_from_data(self, n_rows, rows, generator):
        """Start the pseudo-inputs at training rows drawn without replacement.

        Their posteriors then start where the data's are, and the pseudo-inputs look
        like data from the first epoch (random starts are noise images). On binarised
        digits the held-out log-likelihood was the same as with random N(0, 1) starts
        within the noise between folds.

        Parameters
        ----------
        n_rows : int
            Training rows available.
        rows : callable
            ``rows(index) -> tensor`` of the standardised training rows ``index``.
        generator : torch.Generator
        """
        k = self.pseudo_inputs.shape[0]
        index = torch.randperm(n_rows, generator=generator)[:k]
        if k > n_rows:  # fewer rows than pseudo-inputs: repeat some
            index = torch.cat([index, torch.randint(n_rows, (k - n_rows,), generator=generator)])
        with torch.no_grad():
            self.pseudo_inputs.copy_(rows(index.numpy()))

    def forward(self, encode=None):
        if encode is None:
            raise ValueError("The VampPrior needs the encoder.")
        components = encode(self.pseudo_inputs)
        logits = torch.zeros(self.pseudo_inputs.shape[0], device=self.pseudo_inputs.device,
                             dtype=self.pseudo_inputs.dtype)
        return MixtureSameFamily(Categorical(logits=logits, validate_args=False), components,
                                 validate_args=False)


@register_prior
class VampPrior(Prior):
    """The VampPrior (Tomczak and Welling, 2018): p(z) = mean_k q(z | u_k).

    The pseudo-inputs ``u_k`` are learned with the rest of the model, starting from
    training rows drawn at random. The KL is estimated by Monte Carlo.

    Parameters
    ----------
    n_pseudo_inputs : int, default=50

    Examples
    --------
    >>> VampPrior(n_pseudo_inputs=5)
    VampPrior(n_pseudo_inputs=5)
    """

    name = "vamp"

    def __init__(self, n_pseudo_inputs=50):
        self.n_pseudo_inputs = n_pseudo_inputs

    def module(self, n_components, n_features):
        return _VampModule(n_features, _check_n(self.n_pseudo_inputs, "n_pseudo_inputs"))


class _SecondStage(Distribution):
    """z drawn through the second VAE: u ~ N(0, I), then z ~ p(z | u), in code units.

    Only sampling is offered: the density of z under the second VAE is intractable.
    """

    def __init__(self, prior):
        super().__init__(event_shape=prior.loc.shape, validate_args=False)
        self.prior = prior

    def sample_with(self, generator, sample_shape=torch.Size()):
        prior = self.prior
        stage2 = prior.stage2
        u = torch.randn((*sample_shape, stage2.n_components), generator=generator,
                        device=prior.loc.device, dtype=prior.loc.dtype)
        return prior.code_loc + prior.code_scale * draw(stage2.decode(u), generator)


class _TwoStageModule(_StandardNormalModule):
    """N(0, I) for the first stage, plus a second VAE over its latent codes to sample from.

    ``forward`` and ``kl`` are those of N(0, I): the first stage is a plain VAE, trained
    and scored as one. Once :meth:`fit_to_codes` has fitted the second VAE,
    :meth:`sampling_distribution` draws through it.
    """

    def __init__(self, n_components, n_latent, hidden_layer_sizes, max_iter):
        super().__init__(n_components)
        from ._module import VAEModule  # _module builds priors' modules; imported late
        from .likelihoods import GaussianLikelihood
        from .posteriors import DiagonalPosterior

        self.max_iter = max_iter
        self.hidden_layer_sizes = hidden_layer_sizes
        self.stage2 = VAEModule(n_components, n_latent, hidden_layer_sizes,
                                GaussianLikelihood(), NormalPrior(), DiagonalPosterior())
        # The second VAE standardises the codes; these undo it.
        self.register_buffer("code_loc", torch.zeros(n_components))
        self.register_buffer("code_scale", torch.ones(n_components))
        self.register_buffer("fitted", torch.tensor(False))

    def sampling_distribution(self, encode=None):
        if not bool(self.fitted):
            return self(encode)
        return _SecondStage(self)

    def fit_to_codes(self, codes, seed, device):
        """Fit the second VAE to ``codes`` (draws of q(z|x) for the training rows).

        It is a :class:`~skvae.VAETransformer` with a Gaussian likelihood (variance
        learned) and the estimator core's defaults (early stopping, adaptive learning
        rate), whose weights and standardisation this module then keeps.

        Parameters
        ----------
        codes : ndarray of shape (n_samples, n_components)
        seed : int
            Its random_state.
        device : torch.device
        """
        from ._transformer import VAETransformer  # the estimators import this module

        stage2 = self.stage2
        vae = VAETransformer(stage2.n_components,
                             hidden_layer_sizes=self.hidden_layer_sizes,
                             likelihood="gaussian", max_iter=self.max_iter, device=device,
                             random_state=int(seed % 2**31))
        vae.fit(codes)
        with torch.no_grad():
            stage2.load_state_dict(vae.module_.state_dict())
            standardizer = vae._standardizer
            self.code_loc.copy_(torch.as_tensor(standardizer.loc))
            self.code_scale.copy_(torch.as_tensor(standardizer.scale))
            self.fitted.fill_(True)


@register_prior
class TwoStagePrior(Prior):
    """The two-stage VAE (Dai and Wipf, 2019): a second VAE over the latent codes.

    The VAE itself (the first stage) is trained with the N(0, I) prior, as usual; at
    the end of every ``fit`` and ``partial_fit`` a second VAE is fitted to one draw of
    q(z | x) per training row, and ``sample`` draws z from it (u ~ N(0, I), then
    z ~ p(z | u)) instead of from N(0, I). The codes of a VAE do not fill N(0, I)
    (the aggregate posterior has holes and a lower-dimensional shape); the second VAE
    learns where they are, so the decoded samples look more like the data. As the
    paper requires, both stages learn their Gaussian decoder's variance (skvae's
    "gaussian" likelihood learns one per feature), which lets the first stage's
    latent codes concentrate on the dimensions it uses.

    ``score``, ``score_samples`` and ``log_likelihood`` are those of the first stage
    with the N(0, I) prior, the model the fit trains: the density of the two-stage
    model is not tractable, and they do not bound it.

    Parameters
    ----------
    n_components : int or None, default=None
        Latent size of the second VAE; None takes the first stage's.
    hidden_layer_sizes : tuple of int, default=(256, 256)
        Widths of the second VAE's encoder (its decoder mirrors them).
    max_iter : int, default=1000
        Most epochs of the second VAE's fit (it stops early on held-out codes).

    References
    ----------
    .. [1] Dai, B. and D. Wipf, "Diagnosing and Enhancing VAE Models", ICLR 2019.

    Examples
    --------
    >>> TwoStagePrior(hidden_layer_sizes=(64,)).module(3, 10).stage2.n_components
    3
    """

    name = "two_stage"

    def __init__(self, n_components=None, hidden_layer_sizes=(256, 256), max_iter=1000):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_iter = max_iter

    def module(self, n_components, n_features):
        n_latent = (n_components if self.n_components is None
                    else _check_n(self.n_components, "n_components"))
        sizes = self.hidden_layer_sizes
        if not (isinstance(sizes, (tuple, list))
                and all(isinstance(s, Integral) and not isinstance(s, bool) and s >= 1
                        for s in sizes)):
            raise ValueError("hidden_layer_sizes of the two-stage prior must be a tuple of "
                             f"positive integers, got {sizes!r}.")
        return _TwoStageModule(n_components, n_latent, tuple(int(s) for s in sizes),
                               _check_n(self.max_iter, "max_iter"))
