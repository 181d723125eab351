"""The VQ-VAE as a torch module: encoder, codebook, decoder, learned prior over codes.

Nothing here knows about scikit-learn; see :mod:`skvae._vq_transformer` for the
estimator and :mod:`skvae._vq_objective` for what is trained.
"""

# License: BSD 3 clause

from torch import nn

from ._code_prior import AutoregressiveCodePrior
from ._codebook import Codebook
from ._module import MODULES, mlp, run_layers


class VQVAEModule(nn.Module):
    """Vector-quantised autoencoder with an autoregressive prior over its codes.

    The encoder maps a row to ``n_positions`` vectors of size ``embedding_dim``; each is
    replaced by its nearest code of the codebook; the decoder maps the concatenated
    code vectors to the likelihood p(x | codes). The prior p(codes) is a MADE over the
    positions.

    Parameters
    ----------
    n_features : int
    n_positions : int
        Code vectors per row.
    embedding_dim : int
        Size of each code vector.
    n_codes : int
        Codebook size.
    hidden_layer_sizes : tuple of int
        Encoder widths; the decoder uses them in reverse.
    prior_layer_sizes : tuple of int
        Hidden widths of the prior's masked MLP.
    likelihood : skvae.likelihoods.Likelihood
    prior, posterior : None
        Accepted for the shared module builder; a VQ-VAE has neither part.
    """

    #: The constructor arguments besides the parts: plain values a saved model stores.
    CONFIG_KEYS = ("n_features", "n_positions", "embedding_dim", "n_codes",
                   "hidden_layer_sizes", "prior_layer_sizes")

    def __init__(self, n_features, n_positions, embedding_dim, n_codes, hidden_layer_sizes,
                 prior_layer_sizes, likelihood, prior=None, posterior=None):
        super().__init__()
        self.n_positions, self.embedding_dim = n_positions, embedding_dim
        #: Width of the flattened code vectors (transform's output).
        self.n_components = n_positions * embedding_dim
        encoder_sizes = [n_features, *hidden_layer_sizes]
        decoder_sizes = [self.n_components, *reversed(hidden_layer_sizes)]
        self.encoder = mlp(encoder_sizes)
        self.to_vectors = nn.Linear(encoder_sizes[-1], self.n_components)
        self.codebook = Codebook(n_codes, embedding_dim)
        self.decoder = mlp(decoder_sizes)
        self.likelihood = likelihood.head(decoder_sizes[-1], n_features)
        self.code_prior = AutoregressiveCodePrior(n_positions, n_codes, prior_layer_sizes)

    def encode(self, x):
        """Continuous encoder outputs, shape ``(n, n_positions, embedding_dim)``."""
        h = self.to_vectors(run_layers(self.encoder, x))
        return h.reshape(-1, self.n_positions, self.embedding_dim)

    def codes(self, x):
        """Nearest code index per position, shape ``(n, n_positions)``."""
        return self.codebook.nearest(self.encode(x))

    def quantise(self, x):
        """Flattened code vectors of the rows, shape ``(n, n_components)``."""
        return self.codebook.embed(self.codes(x)).flatten(1).to(x.dtype)

    def decode(self, z):
        """Likelihood p(x | z) for flattened code vectors ``z`` of shape ``(..., n_components)``."""
        return self.likelihood(run_layers(self.decoder, z))

    def log_joint(self, x):
        """``log p(x | e(c)) + log p(c)`` per row, for the codes ``c`` the encoder picks.

        The generative model is ``p(x) = sum_c p(c) p(x | e(c))``; one term of that sum
        is at most the whole, so this is a lower bound on log p(x) (exact when the
        other codes explain x not at all).
        """
        codes = self.codes(x)
        z = self.codebook.embed(codes).flatten(1).to(x.dtype)
        return self.decode(z).log_prob(x) + self.code_prior.log_prob(codes)


MODULES[VQVAEModule.__name__] = VQVAEModule
