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
from ._objectives import Objective, rows_of, validation_blocks, weighted_mean


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
            dead = self._close_epoch()
            if dead.numel():
                self.module.codebook.restart(dead, self._candidates, self.generator)
        self._usage = None

    def _close_epoch(self):
        """Append the epoch's perplexity and dead-code count; return the dead codes."""
        usage = self._usage
        dead = torch.nonzero(usage == 0)[:, 0]
        self.perplexity_curve.append(perplexity(usage))
        self.dead_codes_curve.append(int(dead.numel()))
        return dead

    def loss(self, batch):
        """Mean loss of a minibatch; updates the codebook and the epoch's code counts."""
        x, _, w = rows_of(batch)
        module = self.module
        z = module.encode(x)
        codes = module.codebook.nearest(z.detach())
        e = module.codebook.embed(codes)  # a copy: the update below leaves it as it is
        flat_z, flat_codes = z.detach().reshape(-1, z.shape[-1]), codes.reshape(-1)
        flat_w = None if w is None else w.repeat_interleave(module.n_positions)
        module.codebook.ema_update(flat_z, flat_codes, self.decay, flat_w)
        self._count(flat_codes, flat_w)
        self._candidates = flat_z
        commitment = (z - e).square().sum(dim=(1, 2))
        straight_through = z + (e - z).detach()
        log_lik = module.decode(straight_through.flatten(1)).log_prob(x)
        log_prior = module.code_prior.log_prob(codes)
        return weighted_mean(self.beta * commitment - log_lik - log_prior, w)

    def _count(self, codes, w):
        ones = torch.ones_like(codes, dtype=torch.float32) if w is None else w
        counts = torch.zeros(self.module.codebook.n_codes, device=codes.device)
        counts.index_add_(0, codes, ones)
        self._usage = counts if self._usage is None else self._usage + counts

    def validation_score(self):
        """Mean ``log p(x | e(c)) + log p(c)`` of the held-out rows, in the units of X."""
        scores, weights = [], []
        for chunk in validation_blocks(self.validation, self.module, 1):
            x, _, w = rows_of(chunk)
            with torch.no_grad():
                scores.append(self.module.log_joint(x) + self.standardizer.log_jacobian_rows(x))
            weights.append(w)
        scores = torch.cat(scores)
        if weights[0] is None:
            return float(scores.mean())
        weights = torch.cat(weights)
        return float((scores * weights).sum() / weights.sum())

    def statistics(self):
        """Per-epoch codebook use, and that of the final model on the training rows.

        The final model may be an earlier epoch's (early stopping restores the best
        weights), so ``perplexity_`` and ``n_dead_codes_`` come from one more pass over
        the training rows with it.
        """
        if self._usage is not None:
            self._close_epoch()
            self._usage = None
        counts = torch.zeros(self.module.codebook.n_codes)
        with torch.no_grad():
            for chunk in validation_blocks(self.data, self.module, 1):
                codes = self.module.codes(chunk[0]).reshape(-1).cpu()
                counts += torch.bincount(codes, minlength=counts.shape[0])
        return {"perplexity_curve_": self.perplexity_curve,
                "dead_codes_curve_": self.dead_codes_curve,
                "perplexity_": perplexity(counts),
                "n_dead_codes_": int((counts == 0).sum())}
