"""Posteriors q(z | x): the encoder's output distribution.

A posterior is a configuration object whose :meth:`Posterior.head` builds a module that
maps the last encoder layer to a Gaussian over z, plus the reparameterisation
``z = mean + L @ noise`` for standard-normal ``noise``, so every estimate of the ELBO can
use fixed, shared noise (deterministic scores) or fresh noise (training).

Adding a posterior means one subclass here, decorated with :func:`register_posterior`.
"""

# License: BSD 3 clause

import torch
from torch import nn
from torch.distributions import Independent, MultivariateNormal, Normal
from torch.nn import functional as F

from ._registry import Part, Registry

#: Smallest posterior standard deviation (diagonal of the Cholesky factor).
MIN_POSTERIOR_SCALE = 1e-6


def register_posterior(cls):
    """Class decorator that adds a :class:`Posterior` subclass to :data:`POSTERIORS`.

    Parameters
    ----------
    cls : type

    Returns
    -------
    cls : type

    Examples
    --------
    >>> sorted(POSTERIORS)
    ['diagonal', 'full']
    """
    return POSTERIORS.register(cls)


def get_posterior(spec):
    """Return a :class:`Posterior` instance for a registry name or an instance.

    Parameters
    ----------
    spec : str or Posterior

    Returns
    -------
    posterior : Posterior

    Examples
    --------
    >>> get_posterior("full")
    FullPosterior()
    """
    return POSTERIORS.instance(spec)


class Posterior(Part):
    """Base class of the posteriors; subclasses set ``name`` and override :meth:`Posterior.head`."""

    name = None

    def head(self, n_inputs, n_components):
        """Build the module mapping encoder features to q(z | x).

        Parameters
        ----------
        n_inputs : int
        n_components : int

        Returns
        -------
        head : PosteriorHead
        """
        raise NotImplementedError


#: Registry of posterior classes by name, filled by :func:`register_posterior`.
POSTERIORS = Registry("posterior", Posterior)



class PosteriorHead(nn.Module):
    """Base of the posterior heads: ``forward(h)`` gives q, :meth:`reparameterise` draws z.

    See :meth:`PosteriorHead.reparameterise`.
    """

    def location(self, h):
        """The posterior mean alone, without building the distribution (fast path)."""
        return self(h).mean

    def reparameterise(self, q, noise):
        """Draws ``z = mean + L @ noise`` of q from standard-normal ``noise``.

        Parameters
        ----------
        q : torch.distributions.Distribution
            Batch shape ``(n,)``.
        noise : torch.Tensor of shape (..., n or 1, n_components)

        Returns
        -------
        z : torch.Tensor of shape (..., n, n_components)
        """
        raise NotImplementedError


class _DiagonalHead(PosteriorHead):
    def __init__(self, n_inputs, n_components):
        super().__init__()
        self.linear = nn.Linear(n_inputs, 2 * n_components)

    def forward(self, h):
        loc, raw_scale = self.linear(h).chunk(2, dim=-1)
        scale = F.softplus(raw_scale) + MIN_POSTERIOR_SCALE
        return Independent(Normal(loc, scale, validate_args=False), 1)

    def reparameterise(self, q, noise):
        return q.base_dist.loc + q.base_dist.scale * noise

    def location(self, h):
        # The layer's function, not its module call: this is the single-row fast path.
        half = self.linear.out_features // 2
        return F.linear(h, self.linear.weight, self.linear.bias)[..., :half]


@register_posterior
class DiagonalPosterior(Posterior):
    """Gaussian with a diagonal covariance: the usual VAE encoder.

    Examples
    --------
    >>> import torch
    >>> head = DiagonalPosterior().head(5, 2)
    >>> head(torch.zeros(3, 5)).event_shape
    torch.Size([2])
    """

    name = "diagonal"

    def head(self, n_inputs, n_components):
        return _DiagonalHead(n_inputs, n_components)


class _OffDiagonal(nn.Module):
    """Affine map to the strictly lower entries of the Cholesky factor.

    Not an ``nn.Linear``, so that ``init_weights`` calls :meth:`init_from` instead of
    redrawing it: a fit starts from zero off-diagonal entries, i.e. from the diagonal
    posterior, and learns correlations only where they raise the ELBO. (Random
    correlations at the start inflate the posterior variance in random directions
    and, with several latent dimensions, left fits in worse optima than the diagonal
    posterior's.)
    """

    def __init__(self, n_inputs, n_outputs):
        super().__init__()
        layer = nn.Linear(n_inputs, n_outputs)  # torch's default draws until init_from
        self.weight = nn.Parameter(layer.weight.detach().clone())
        self.bias = nn.Parameter(layer.bias.detach().clone())

    def forward(self, h):
        return F.linear(h, self.weight, self.bias)

    def init_from(self, generator):
        """Start from a diagonal posterior (``generator`` is not needed)."""
        with torch.no_grad():
            self.weight.zero_()
            self.bias.zero_()


class _FullHead(PosteriorHead):
    def __init__(self, n_inputs, n_components):
        super().__init__()
        self.n_components = n_components
        self.n_tril = n_components * (n_components - 1) // 2
        self.linear = nn.Linear(n_inputs, 2 * n_components)
        self.off_diagonal = _OffDiagonal(n_inputs, self.n_tril)
        self.register_buffer("rows", torch.tril_indices(n_components, n_components, -1)[0])
        self.register_buffer("cols", torch.tril_indices(n_components, n_components, -1)[1])

    def forward(self, h):
        loc, raw_diag = self.linear(h).chunk(2, dim=-1)
        # L = diag(s) (I + N), N strictly lower triangular: the positive diagonal s
        # makes L a valid Cholesky factor for any encoder output, and the off-diagonal
        # entries s_i * N_ij scale with their row, so N is dimensionless (the
        # correlations depend on N alone, whatever the posterior's scale). With raw
        # off-diagonal entries, posteriors much narrower than 1 needed entries tuned
        # to their tiny scale, and fits often ended below the diagonal posterior.
        scale = F.softplus(raw_diag) + MIN_POSTERIOR_SCALE
        tril = torch.diag_embed(scale)
        tril[..., self.rows, self.cols] = scale[..., self.rows] * self.off_diagonal(h)
        return MultivariateNormal(loc, scale_tril=tril, validate_args=False)

    def reparameterise(self, q, noise):
        return q.loc + (q.scale_tril @ noise.unsqueeze(-1)).squeeze(-1)

    def location(self, h):
        return self.linear(h)[..., : self.n_components]


@register_posterior
class FullPosterior(Posterior):
    """Gaussian with a full covariance through a Cholesky factor ``L``: ``z = mu + L eps``.

    It can follow correlations between latent dimensions given x, which a diagonal
    posterior cannot; its KL to a normal prior is still in closed form.

    Examples
    --------
    >>> import torch
    >>> q = FullPosterior().head(5, 3)(torch.zeros(2, 5))
    >>> tuple(q.scale_tril.shape)
    (2, 3, 3)
    """

    name = "full"

    def head(self, n_inputs, n_components):
        return _FullHead(n_inputs, n_components)
