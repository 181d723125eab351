"""A standard Laplace prior: heavier tails than N(0, I)."""


import torch
from torch.distributions import Independent, Laplace

from skvae import VAETransformer
from skvae.datasets import make_manifold
from skvae.priors import Prior, PriorModule, register_prior


class LaplacePriorModule(PriorModule):
    """p(z) = prod_j Laplace(z_j; 0, 1); nothing to learn."""

    def __init__(self, n_components):
        super().__init__()
        # Buffers, not Parameters: they move with the module (device, dtype) but are
        # not trained.
        self.register_buffer("loc", torch.zeros(n_components))
        self.register_buffer("scale", torch.ones(n_components))

    def forward(self, encode=None):
        # ``encode`` is the VAE's encoder, for priors built from it (the VampPrior);
        # this one ignores it.
        return Independent(Laplace(self.loc, self.scale, validate_args=False), 1)


@register_prior
class LaplacePrior(Prior):
    """Standard Laplace prior. KL(q || p) has no closed form in torch's registry, so
    PriorModule.kl estimates it by Monte Carlo from the same draws of z as the
    reconstruction term (fixed draws in ``score``, fresh ones in training)."""

    name = "laplace"

    def module(self, n_components, n_features):
        return LaplacePriorModule(n_components)


X, _ = make_manifold(400, n_latent=2, n_features=8, random_state=0)
X_train, X_test = X[:300], X[300:]
for prior in ["normal", LaplacePrior()]:
    vae = VAETransformer(n_components=2, hidden_layer_sizes=(32,), n_iter_no_change=10,
                         prior=prior, device="cpu", random_state=0).fit(X_train)
    print(f"{vae.prior_!r:<16} held-out ELBO {vae.score(X_test):6.2f} nats per row, "
          f"samples {vae.sample(3, random_state=0).shape}")
