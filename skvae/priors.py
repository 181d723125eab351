"""Priors p(z) over the latent space.

A prior is a small configuration object whose :meth:`Prior.module` builds a
``torch.nn.Module`` (a :class:`PriorModule`) holding any learnable parameters. The
module's ``forward()`` returns a :class:`torch.distributions.Distribution` with event
shape ``(n_components,)``, and :meth:`PriorModule.kl` gives KL(q || p) per row: in
closed form when torch's KL registry knows the pair, by Monte Carlo otherwise.

Adding a prior means one subclass here, decorated with :func:`register_prior`.
"""

# License: BSD 3 clause

import torch
from torch import nn
from torch.distributions import Independent, Normal, kl_divergence

#: Registry of prior classes by name, filled by :func:`register_prior`.
PRIORS = {}


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
    >>> from skvae.priors import PRIORS
    >>> "normal" in PRIORS
    True
    """
    if not (isinstance(cls, type) and issubclass(cls, Prior)):
        raise TypeError(f"{cls!r} is not a subclass of Prior.")
    if cls.name in PRIORS:
        raise ValueError(f"A prior named {cls.name!r} is already registered.")
    PRIORS[cls.name] = cls
    return cls


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
    if isinstance(spec, Prior):
        return spec
    if isinstance(spec, str) and spec in PRIORS:
        return PRIORS[spec]()
    raise ValueError(
        f"Unknown prior {spec!r}; choose one of {sorted(PRIORS)} or pass a Prior instance."
    )


class PriorModule(nn.Module):
    """Base of the prior modules: ``forward()`` returns p(z), :meth:`kl` KL(q || p)."""

    def kl(self, posterior, z):
        """KL(q || p) per row.

        Parameters
        ----------
        posterior : torch.distributions.Distribution
            q(z | x), batch shape ``(n,)``.
        z : torch.Tensor of shape (..., n, n_components)
            Draws from q, used when no closed form is registered.

        Returns
        -------
        kl : torch.Tensor of shape (n,)
        """
        prior = self()
        try:
            return kl_divergence(posterior, prior)
        except NotImplementedError:
            kl = posterior.log_prob(z) - prior.log_prob(z)
            return kl.mean(dim=0) if kl.dim() > 1 else kl


class _StandardNormalModule(PriorModule):
    def __init__(self, n_components):
        super().__init__()
        # Buffers follow the module across devices and dtypes; they are not trained.
        self.register_buffer("loc", torch.zeros(n_components))
        self.register_buffer("scale", torch.ones(n_components))

    def forward(self):
        return Independent(Normal(self.loc, self.scale, validate_args=False), 1)


class Prior:
    """Base class of the priors; subclasses set ``name`` and override :meth:`module`."""

    name = None

    def module(self, n_components):
        """Build the prior's module.

        Parameters
        ----------
        n_components : int

        Returns
        -------
        module : PriorModule
        """
        raise NotImplementedError

    def __repr__(self):
        return f"{type(self).__name__}()"

    def __eq__(self, other):
        return type(self) is type(other) and vars(self) == vars(other)

    def __hash__(self):
        return hash(type(self))


@register_prior
class NormalPrior(Prior):
    """The standard normal prior N(0, I); its KL to a Gaussian posterior is closed-form.

    Examples
    --------
    >>> NormalPrior().module(3)().sample().shape
    torch.Size([3])
    """

    name = "normal"

    def module(self, n_components):
        return _StandardNormalModule(n_components)
