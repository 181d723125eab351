"""The VAE as a plain ``torch.nn.Module``: encoder, decoder, reparameterisation, ELBO.

Nothing here knows about scikit-learn. The module works on standardised float tensors;
the estimator owns the standardisation and its log-Jacobian.
"""

# License: BSD 3 clause

import math

import torch
from torch import nn
from torch.distributions import Independent, Normal
from torch.nn import functional as F

#: Smallest posterior standard deviation, so log q(z|x) stays finite.
MIN_POSTERIOR_SCALE = 1e-6


def mlp(sizes):
    """Linear layers between consecutive ``sizes``, each followed by a ReLU.

    Parameters
    ----------
    sizes : sequence of int
        Input width then the width of every layer; a single entry gives the identity.

    Returns
    -------
    module : torch.nn.Sequential

    Examples
    --------
    >>> mlp([4, 8, 3])
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): ReLU()
      (2): Linear(in_features=8, out_features=3, bias=True)
      (3): ReLU()
    )
    """
    layers = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        layers += [nn.Linear(n_in, n_out), nn.ReLU()]
    return nn.Sequential(*layers)


def init_weights(module, generator):
    """Re-initialise every Linear layer from ``generator`` (PyTorch's default scheme).

    Layers are built with torch's global RNG; drawing the values again from our own
    generator makes the fit depend on ``random_state`` only and leaves the caller's
    global RNG as it was (the layers are built under ``torch.random.fork_rng``).

    Parameters
    ----------
    module : torch.nn.Module
    generator : torch.Generator
        A CPU generator; the module must be on the CPU.
    """
    for layer in module.modules():
        if isinstance(layer, nn.Linear):
            bound = 1.0 / math.sqrt(layer.in_features) if layer.in_features else 0.0
            with torch.no_grad():
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)


class VAEModule(nn.Module):
    """Encoder q(z|x), decoder p(x|z) and prior p(z) of a VAE.

    Parameters
    ----------
    n_features : int
    n_components : int
        Latent size.
    hidden_layer_sizes : tuple of int
        Encoder widths; the decoder uses them in reverse. ``()`` gives a linear VAE.
    likelihood : skvae.likelihoods.Likelihood
    prior : skvae.priors.Prior
    """

    def __init__(self, n_features, n_components, hidden_layer_sizes, likelihood, prior):
        super().__init__()
        encoder_sizes = [n_features, *hidden_layer_sizes]
        decoder_sizes = [n_components, *reversed(hidden_layer_sizes)]
        self.n_components = n_components
        self.encoder = mlp(encoder_sizes)
        self.posterior = nn.Linear(encoder_sizes[-1], 2 * n_components)
        self.decoder = mlp(decoder_sizes)
        self.likelihood = likelihood.head(decoder_sizes[-1], n_features)
        self.prior = prior.module(n_components)

    def encode(self, x):
        """Posterior q(z | x): a diagonal Gaussian with batch shape ``(n,)``."""
        loc, raw_scale = self.posterior(self.encoder(x)).chunk(2, dim=-1)
        scale = F.softplus(raw_scale) + MIN_POSTERIOR_SCALE
        return Independent(Normal(loc, scale, validate_args=False), 1)

    def decode(self, z):
        """Likelihood p(x | z) for latent rows ``z`` of shape ``(..., n_components)``."""
        return self.likelihood(self.decoder(z))

    def elbo(self, x, noise, beta=1.0):
        """Per-row ``E_q[log p(x|z)] - beta * KL(q(z|x) || p(z))``.

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
        noise : torch.Tensor of shape (n, n_components) or (n_draws, 1, n_components)
            Standard normal draws for the reparameterisation ``z = mu + sigma * noise``;
            with a leading draws axis the expectation is the mean over draws.
        beta : float, default=1.0

        Returns
        -------
        elbo : torch.Tensor of shape (n,)
        """
        posterior = self.encode(x)
        z = posterior.base_dist.loc + posterior.base_dist.scale * noise
        log_lik = self.decode(z).log_prob(x)
        if log_lik.dim() > 1:
            log_lik = log_lik.mean(dim=0)
        return log_lik - beta * self.prior.kl(posterior, z)
