"""The VQ-VAE as a torch module: encoder, codebook, decoder, learned prior over codes.

Nothing here knows about scikit-learn; see :mod:`skvae._vq_transformer` for the
estimator and :mod:`skvae._vq_objective` for what is trained.
"""

# License: BSD 3 clause

import torch
from torch import nn

from ._code_prior import AutoregressiveCodePrior
from ._codebook import Codebook
from ._module import MODULES, mlp, run_layers


def straight_through(z, e):
    """``e`` forward, the identity backward: the gradient of ``e`` goes to ``z``."""
    return z + (e - z).detach()


class VQVAEModule(nn.Module):
    """Vector-quantised autoencoder with an autoregressive prior over its codes.

    The encoder maps a row to ``n_positions`` vectors of size ``embedding_dim``; each is
    replaced by its nearest code of the codebook; the decoder maps the concatenated
    code vectors to the likelihood p(x | codes). With ``n_top_positions`` > 0 there is a
    second, top level (VQ-VAE-2): the encoder's features first give
    ``n_top_positions`` vectors quantised in a codebook of their own, and the bottom
    level's vectors are computed from the features and the top level's code vectors;
    the decoder reads both levels. The prior is a MADE over all positions, the top ones
    first, so it is ``p(top codes) p(bottom codes | top codes)``.

    Parameters
    ----------
    n_features : int
    n_positions : int
        Code vectors per row (of the bottom level).
    embedding_dim : int
        Size of each code vector.
    n_codes : int
        Size of each codebook.
    hidden_layer_sizes : tuple of int
        Encoder widths; the decoder uses them in reverse.
    prior_layer_sizes : tuple of int
        Hidden widths of the prior's masked MLP.
    n_top_positions : int
        Code vectors of the top level; 0 for a single level.
    likelihood : skvae.likelihoods.Likelihood
    prior, posterior : None
        Accepted for the shared module builder; a VQ-VAE has neither part.
    """

    #: The constructor arguments besides the parts: plain values a saved model stores.
    CONFIG_KEYS = ("n_features", "n_positions", "embedding_dim", "n_codes",
                   "hidden_layer_sizes", "prior_layer_sizes", "n_top_positions")

    def __init__(self, n_features, n_positions, embedding_dim, n_codes, hidden_layer_sizes,
                 prior_layer_sizes, n_top_positions, likelihood, prior=None, posterior=None):
        super().__init__()
        self.n_positions, self.embedding_dim = n_positions, embedding_dim
        self.n_top_positions = n_top_positions
        #: Width of the flattened code vectors of both levels (transform's output).
        self.n_components = (n_top_positions + n_positions) * embedding_dim
        encoder_sizes = [n_features, *hidden_layer_sizes]
        decoder_sizes = [self.n_components, *reversed(hidden_layer_sizes)]
        self.encoder = mlp(encoder_sizes)
        if n_top_positions:
            self.to_top = nn.Linear(encoder_sizes[-1], n_top_positions * embedding_dim)
            self.top_codebook = Codebook(n_codes, embedding_dim)
        self.to_vectors = nn.Linear(encoder_sizes[-1] + n_top_positions * embedding_dim,
                                    n_positions * embedding_dim)
        self.codebook = Codebook(n_codes, embedding_dim)
        self.decoder = mlp(decoder_sizes)
        self.likelihood = likelihood.head(decoder_sizes[-1], n_features)
        self.code_prior = AutoregressiveCodePrior(n_top_positions + n_positions, n_codes,
                                                  prior_layer_sizes)

    def codebooks(self):
        """The codebooks, top level first."""
        return [self.top_codebook, self.codebook] if self.n_top_positions else [self.codebook]

    def levels(self, x):
        """``(codebook, z, codes, e)`` per level, top first.

        ``z`` are the encoder outputs ``(n, positions, embedding_dim)``, ``codes`` their
        nearest codes and ``e`` the code vectors (copies: codebook updates leave them
        as they are). The bottom level reads the top level's code vectors through the
        straight-through estimator, so the top encoder learns from both.
        """
        h = run_layers(self.encoder, x)
        levels, inputs = [], h
        if self.n_top_positions:
            z = self.to_top(h).reshape(-1, self.n_top_positions, self.embedding_dim)
            levels.append(self._quantised(self.top_codebook, z))
            inputs = torch.cat([h, straight_through(z, levels[0][3]).flatten(1)], -1)
        z = self.to_vectors(inputs).reshape(-1, self.n_positions, self.embedding_dim)
        levels.append(self._quantised(self.codebook, z))
        return levels

    @staticmethod
    def _quantised(codebook, z):
        codes = codebook.nearest(z.detach())
        return codebook, z, codes, codebook.embed(codes).to(z.dtype)

    def codes(self, x):
        """Nearest code index per position, top level first, ``(n, n_top + n_positions)``."""
        return torch.cat([codes for _, _, codes, _ in self.levels(x)], 1)

    def quantise(self, x):
        """Flattened code vectors of the rows, shape ``(n, n_components)``."""
        return torch.cat([e.flatten(1) for _, _, _, e in self.levels(x)], 1)

    def embed(self, codes):
        """Flattened code vectors of code rows ``(n, n_top + n_positions)``."""
        sizes = [self.n_top_positions, self.n_positions][2 - len(self.codebooks()):]
        parts = torch.split(codes, sizes, dim=1)
        return torch.cat([book.embed(c).flatten(1)
                          for book, c in zip(self.codebooks(), parts)], 1)

    def decode(self, z):
        """Likelihood p(x | z) for flattened code vectors ``z`` of shape ``(..., n_components)``."""
        return self.likelihood(run_layers(self.decoder, z))

    def log_joint(self, x):
        """``log p(x | e(c)) + log p(c)`` per row, for the codes ``c`` the encoder picks.

        The generative model is ``p(x) = sum_c p(c) p(x | e(c))``; one term of that sum
        is at most the whole, so this is a lower bound on log p(x) (exact when the
        other codes explain x not at all).
        """
        levels = self.levels(x)
        z = torch.cat([e.flatten(1) for _, _, _, e in levels], 1)
        codes = torch.cat([c for _, _, c, _ in levels], 1)
        return self.decode(z).log_prob(x) + self.code_prior.log_prob(codes)


MODULES[VQVAEModule.__name__] = VQVAEModule
