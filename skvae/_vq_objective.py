"""What a VQ-VAE trains: reconstruction, commitment, the code prior; codebook upkeep.

The loss of a row is ``-log p(x | e(c)) + beta * |z - sg(e(c))|^2 - log p(c)``: the
decoder's negative log-likelihood through the straight-through estimator (the gradient
of the code vectors is passed to the encoder outputs unchanged), the commitment term
that keeps the encoder outputs near their codes, and the negative log-probability of
the (detached) codes under the learned prior, which is trained jointly and pushes no
gradient into the encoder. The codebook itself moves by moving averages
(:class:`skvae._codebook.Codebook`), and codes no row chose during an epoch restart
at random encoder outputs of that epoch's last minibatch.
"""

# License: BSD 3 clause

import torch

from ._codebook import perplexity
from ._objectives import Objective, rows_of, validation_blocks, validation_mean, weighted_mean
from ._vq_module import straight_through


class VQObjective(Objective):
    """The VQ-VAE's loss with EMA codebook updates and dead-code restarts.

    Parameters
    ----------
    module : skvae._vq_module.VQVAEModule
    data : tuple or HostData
        Training rows ``(x, None)`` (``(x, None, w)`` in a weighted fit).
    validation : tuple or HostData or None
        Held-out rows for early stopping.
    generator : torch.Generator
        Draws the restarted codes' encoder outputs.
    standardizer : skvae._standardize.Standardizer
        For validation scores in the units of X.
    beta : float
        Weight of the commitment term.
    decay : float
        Decay of the codebook's moving averages.
    perplexity_curve, dead_codes_curve : list
        The statistics of earlier calls, continued (``partial_fit``).
    """

    def __init__(self, module, data, validation, generator, standardizer, *, beta, decay,
                 perplexity_curve, dead_codes_curve):
        self.module, self.data, self.validation = module, data, validation
        self.generator, self.standardizer = generator, standardizer
        self.beta, self.decay = float(beta), float(decay)
        self.perplexity_curve = list(perplexity_curve)
        self.dead_codes_curve = list(dead_codes_curve)
        self._usage = None
        self._candidates = None

    def on_epoch(self, epoch):
        """Record the last epoch's codebook use and restart its dead codes."""
        if self._usage is not None:
            for book, dead, candidates in zip(self.module.codebooks(), self._close_epoch(),
                                              self._candidates):
                if dead.numel():
                    book.restart(dead, candidates, self.generator)
        self._usage = None

    def _close_epoch(self):
        """Append the epoch's statistics; return the dead codes of each level.

        The perplexity is that of the bottom (finest) level; the dead codes are counted
        over every level.
        """
        dead = [torch.nonzero(usage == 0)[:, 0] for usage in self._usage]
        self.perplexity_curve.append(perplexity(self._usage[-1]))
        self.dead_codes_curve.append(sum(int(d.numel()) for d in dead))
        return dead

    def loss(self, batch):
        """Mean loss of a minibatch; updates the codebooks and the epoch's code counts."""
        x, _, w = rows_of(batch)
        module = self.module
        levels = module.levels(x)
        commitment, usage, self._candidates = 0.0, [], []
        for book, z, codes, e in levels:
            flat_z, flat_codes = z.detach().reshape(-1, z.shape[-1]), codes.reshape(-1)
            flat_w = None if w is None else w.repeat_interleave(codes.shape[1])
            book.ema_update(flat_z, flat_codes, self.decay, flat_w)
            usage.append(_counts(flat_codes, flat_w, book.n_codes))
            self._candidates.append(flat_z)
            commitment = commitment + (z - e).square().sum(dim=(1, 2))
        self._usage = usage if self._usage is None else [
            a + b for a, b in zip(self._usage, usage)]
        z_q = torch.cat([straight_through(z, e).flatten(1) for _, z, _, e in levels], 1)
        log_lik = module.decode(z_q).log_prob(x)
        log_prior = module.code_prior.log_prob(torch.cat([c for _, _, c, _ in levels], 1))
        return weighted_mean(self.beta * commitment - log_lik - log_prior, w)

    def validation_score(self):
        """Mean ``log p(x | e(c)) + log p(c)`` of the held-out rows, in the units of X."""
        return validation_mean(self, 1, lambda x, c: self.module.log_joint(x))

    def statistics(self):
        """Per-epoch codebook use, and that of the final model on the training rows.

        The final model may be an earlier epoch's (early stopping restores the best
        weights), so ``perplexity_``, ``top_perplexity_`` and ``n_dead_codes_`` come from
        one more pass over the training rows with it.
        """
        if self._usage is not None:
            self._close_epoch()
            self._usage = None
        books = self.module.codebooks()
        counts = [torch.zeros(book.n_codes) for book in books]
        with torch.no_grad():
            for chunk in validation_blocks(self.data, self.module, 1):
                for count, (book, _, codes, _) in zip(counts, self.module.levels(chunk[0])):
                    count += torch.bincount(codes.reshape(-1).cpu(), minlength=book.n_codes)
        return {"perplexity_curve_": self.perplexity_curve,
                "dead_codes_curve_": self.dead_codes_curve,
                "perplexity_": perplexity(counts[-1]),
                "top_perplexity_": perplexity(counts[0]) if len(counts) > 1 else None,
                "n_dead_codes_": int(sum((count == 0).sum() for count in counts))}


def _counts(codes, w, n_codes):
    """How often each code was chosen (weighted by ``w``, when given)."""
    ones = torch.ones_like(codes, dtype=torch.float32) if w is None else w
    return torch.zeros(n_codes, device=codes.device).index_add_(0, codes, ones)
