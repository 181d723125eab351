"""The codebook of a VQ-VAE: nearest-code quantisation, EMA updates, dead-code restarts.

The code vectors are buffers, not parameters: they move by exponential moving averages
of the encoder outputs assigned to them (van den Oord et al. 2017, appendix A.1), which
trains faster and more stably than a codebook loss, and Adam never touches them.
"""

# License: BSD 3 clause

import torch
from torch import nn

#: Laplace smoothing of the EMA code counts, so a code that nothing chose keeps a
#: finite, non-zero count (the update divides by it).
COUNT_SMOOTHING = 1e-5


def perplexity(counts):
    """``exp(entropy)`` of the code frequencies ``counts``: codes in effective use.

    Parameters
    ----------
    counts : torch.Tensor of shape (n_codes,)
        How often each code was chosen (weights allowed).

    Returns
    -------
    perplexity : float
        Between 1 (one code does everything) and ``n_codes`` (all used equally).

    Examples
    --------
    >>> perplexity(torch.tensor([5.0, 5.0, 0.0, 0.0]))
    2.0
    """
    p = counts / counts.sum()
    entropy = -(p * torch.log(torch.where(p > 0, p, 1.0))).sum()
    return round(float(torch.exp(entropy)), 12)


class Codebook(nn.Module):
    """``n_codes`` code vectors of size ``embedding_dim``, updated by moving averages.

    Parameters
    ----------
    n_codes : int
    embedding_dim : int

    Attributes
    ----------
    embeddings : torch.Tensor of shape (n_codes, embedding_dim)
        The code vectors, ``embedding_sum / cluster_size``.
    cluster_size : torch.Tensor of shape (n_codes,)
        Moving average of how many encoder outputs chose each code per step.
    embedding_sum : torch.Tensor of shape (n_codes, embedding_dim)
        Moving average of the sum of those encoder outputs.
    """

    def __init__(self, n_codes, embedding_dim):
        super().__init__()
        self.n_codes, self.embedding_dim = n_codes, embedding_dim
        self.register_buffer("embeddings", torch.zeros(n_codes, embedding_dim))
        self.register_buffer("cluster_size", torch.ones(n_codes))
        self.register_buffer("embedding_sum", torch.zeros(n_codes, embedding_dim))

    def init_from(self, generator):
        """Codes drawn uniformly in ±1 / n_codes (the usual start), counts of 1.

        Called by :func:`skvae._module.init_weights` with the fit's own generator.
        """
        bound = 1.0 / self.n_codes
        with torch.no_grad():
            self.embeddings.uniform_(-bound, bound, generator=generator)
            self.cluster_size.fill_(1.0)
            self.embedding_sum.copy_(self.embeddings)

    def nearest(self, z):
        """Index of the nearest code (squared Euclidean distance) of each vector of ``z``.

        Parameters
        ----------
        z : torch.Tensor of shape (..., embedding_dim)

        Returns
        -------
        codes : torch.Tensor of shape (...), int64
        """
        e = self.embeddings.to(z.dtype)
        # |z|^2 is the same for every code of a row: leave it out of the argmin.
        distances = (e * e).sum(-1) - 2.0 * z @ e.T
        return distances.argmin(-1)

    def embed(self, codes):
        """The code vectors of ``codes`` (int tensor), shape ``codes.shape + (embedding_dim,)``."""
        return self.embeddings[codes]

    @torch.no_grad()
    def ema_update(self, z, codes, decay, weights=None):
        """Move every code towards the mean of the vectors that chose it.

        Parameters
        ----------
        z : torch.Tensor of shape (n, embedding_dim)
            Encoder outputs (detached).
        codes : torch.Tensor of shape (n,)
            Their nearest codes.
        decay : float
            Weight of the old averages, in [0, 1).
        weights : torch.Tensor of shape (n,) or None
            Weights of the vectors (those of their rows in a weighted fit).
        """
        w = torch.ones_like(codes, dtype=z.dtype) if weights is None else weights.to(z.dtype)
        counts = torch.zeros(self.n_codes, dtype=z.dtype, device=z.device).index_add_(0, codes, w)
        sums = torch.zeros_like(self.embedding_sum, dtype=z.dtype).index_add_(
            0, codes, z * w[:, None])
        self.cluster_size.mul_(decay).add_(counts.to(self.cluster_size.dtype),
                                           alpha=1 - decay)
        self.embedding_sum.mul_(decay).add_(sums.to(self.embedding_sum.dtype), alpha=1 - decay)
        total = self.cluster_size.sum()
        smoothed = ((self.cluster_size + COUNT_SMOOTHING)
                    / (total + self.n_codes * COUNT_SMOOTHING) * total)
        self.embeddings.copy_(self.embedding_sum / smoothed[:, None])

    @torch.no_grad()
    def restart(self, dead, candidates, generator):
        """Re-initialise the codes ``dead`` (indices) to randomly drawn ``candidates``.

        Parameters
        ----------
        dead : torch.Tensor of shape (n_dead,), int64
        candidates : torch.Tensor of shape (n, embedding_dim)
            Recent encoder outputs, drawn with replacement.
        generator : torch.Generator
            On the candidates' device.
        """
        pick = torch.randint(candidates.shape[0], (dead.shape[0],), generator=generator,
                             device=candidates.device)
        fresh = candidates[pick].to(self.embeddings.dtype)
        self.embeddings[dead] = fresh
        self.embedding_sum[dead] = fresh
        self.cluster_size[dead] = 1.0
