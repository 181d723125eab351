"""One training objective per model family: the loss of a minibatch, a validation score,
per-epoch hooks and the statistics the estimator keeps.

:func:`skvae._training.train` runs any :class:`Objective`; the estimator builds its
family's objective around the module, the training rows and its own generator.
"""

# License: BSD 3 clause

import numpy as np
import torch
from torch.nn import functional as F

from ._discriminator import frozen
from ._inference import block_rows
from ._noise import VALIDATION_DRAWS, score_noise
from ._sampling import draw
from ._training import device_chunks, n_rows

#: Inference blocks per validation block (see :func:`validation_blocks`).
VALIDATION_BLOCK_SHARE = 8

#: Variance of a latent's posterior mean across rows above which it counts as active.
ACTIVE_UNIT_THRESHOLD = 0.01


class Objective:
    """What a model family trains. Subclasses set ``data`` and implement :meth:`loss`.

    Attributes
    ----------
    data : tuple of torch.Tensor or skvae._training.HostData
        The training rows ``(x, c)``: data and condition (None when there is none).
    generator : torch.Generator
        On the training device: draws the minibatch order and the objective's noise.
    warmup_epochs : int
        Epochs at the start whose objective is not the final one (e.g. a KL warm-up):
        they neither count towards convergence nor can be the best epoch.
    """

    data = None
    generator = None
    warmup_epochs = 0

    def on_epoch(self, epoch):
        """Called before each epoch (``epoch`` counts from 0 within this call of train)."""

    def loss(self, batch):
        """Mean training loss of a minibatch ``(x, c)``, a scalar tensor to minimise."""
        raise NotImplementedError

    def validation_score(self):
        """Held-out score (higher is better) in the units of X, for early stopping."""
        raise NotImplementedError

    def statistics(self):
        """Fitted attributes to set after training, as ``{name: value}``."""
        return {}


def validation_blocks(data, module, cost):
    """The held-out rows ``data`` as device blocks ``(x, c)`` small enough for inference.

    Blocks bound the memory of the activations (``cost`` passes of the widest layer
    per row): a validation set of 100000 rows scored at once would hold hundreds of MB
    of them. They hold 1 / :data:`VALIDATION_BLOCK_SHARE` of the rows of
    ``transform``'s blocks, because validation runs while the training data is held.
    """
    width = max([layer.out_features for layer in module.modules()
                 if isinstance(layer, torch.nn.Linear)]
                + [getattr(module, "widest_activation", 0)])
    rows = block_rows(width, cost * VALIDATION_BLOCK_SHARE)
    for chunk in device_chunks(data):
        for start in range(0, chunk[0].shape[0], rows):
            yield tuple(None if t is None else t[start : start + rows] for t in chunk)


def validation_mean(objective, cost, score_rows):
    """Mean of ``score_rows(x, c)`` over the held-out rows of ``objective``, weighted
    by their weights if they have any, in nats per row in the units of X.

    ``score_rows`` gives each row's score in standardised units; the log-Jacobian of
    the standardisation is added here. ``cost`` sizes the blocks (see
    :func:`validation_blocks`).
    """
    scores, weights = [], []
    for chunk in validation_blocks(objective.validation, objective.module, cost):
        x, c, w = rows_of(chunk)
        with torch.no_grad():
            scores.append(score_rows(x, c) + objective.standardizer.log_jacobian_rows(x))
        weights.append(w)
    scores = torch.cat(scores)
    if weights[0] is None:
        return float(scores.mean())
    weights = torch.cat(weights)
    return float((scores * weights).sum() / weights.sum())


def rows_of(batch):
    """``(x, c, w)`` of a batch ``(x, c)`` or ``(x, c, w)``; ``w`` is None when unweighted.

    Weighted fits (``sample_weight``) carry each row's weight, of mean 1 over the
    training rows, as a third tensor.
    """
    return (*batch, None) if len(batch) == 2 else tuple(batch)


def weighted_mean(values, w):
    """``values.mean()``, each row weighted by ``w`` (None: unweighted).

    With weights of mean 1 over the training rows, its expectation over minibatches is
    the weighted mean over all of them.
    """
    return values.mean() if w is None else (values * w).mean()


def _total(values, w):
    return values.sum() if w is None else (values * w).sum()


def _pick(w, index):
    return None if w is None else w[index]


def elbo(module, x, n_draws, c=None):
    """Per-row ELBO of standardised rows, with the fixed draws of ``score_noise``."""
    dtype = next(module.parameters()).dtype
    noise = score_noise(n_draws, module.n_components, dtype, x.device)
    with torch.inference_mode():
        return module.elbo(x, noise, c=c)


class ELBOObjective(Objective):
    """The (conditional) VAE's negative beta-ELBO, with KL warm-up and free bits.

    Parameters
    ----------
    module : skvae._module.VAEModule
    data : tuple or HostData
        Training rows ``(x, c)``.
    validation : tuple or HostData or None
        Held-out rows ``(x, c)`` for early stopping.
    generator : torch.Generator
        Draws the reparameterisation noise.
    standardizer : skvae._standardize.Standardizer
        For validation scores in the units of X.
    beta : float
    kl_warmup : int
        Epochs of the linear ramp of the KL weight up to ``beta``.
    free_bits : float
        Nats per latent dimension below which the total KL is not pushed down.
    start_epoch : int
        Epochs run by earlier calls (the ramp continues across ``partial_fit``).
    """

    def __init__(self, module, data, validation, generator, standardizer, *, beta,
                 kl_warmup, free_bits, start_epoch):
        self.module, self.data, self.validation = module, data, validation
        self.generator, self.standardizer = generator, standardizer
        self.beta, self.kl_warmup, self.free_bits = float(beta), kl_warmup, free_bits
        self.start_epoch = start_epoch
        self.warmup_epochs = max(0, kl_warmup - start_epoch)
        self.kl_weight = self._kl_weight(start_epoch)
        self._activity = [0.0, 0.0, 0]

    def _kl_weight(self, epoch):
        """beta, ramped up linearly over the first ``kl_warmup`` epochs (KL warm-up)."""
        if self.kl_warmup and epoch < self.kl_warmup:
            return self.beta * (epoch + 1) / (self.kl_warmup + 1)
        return self.beta

    def on_epoch(self, epoch):
        self.kl_weight = self._kl_weight(self.start_epoch + epoch)
        self._activity = [0.0, 0.0, 0]  # keep the statistics of the last epoch only

    def loss(self, batch):
        """``kl_weight * KL - log-likelihood``, batch means.

        Also adds the batch's posterior means to the activity statistics (sum, sum of
        squares, count), from which the active latent units are counted.
        """
        x, c, w = rows_of(batch)
        module = self.module
        noise = torch.randn(x.shape[0], module.n_components, generator=self.generator,
                            device=x.device)
        log_lik, kl, q = module.elbo_terms(x, noise, c)
        self._track_activity(q)
        kl = weighted_mean(kl, w)
        if self.free_bits:
            # Free bits on the total KL: below the floor, the KL is not pushed down,
            # which keeps the encoder from collapsing onto the prior early on.
            kl = torch.clamp(kl, min=self.free_bits * module.n_components)
        return self.kl_weight * kl - weighted_mean(log_lik, w)

    def _track_activity(self, q):
        """Add the batch's posterior means to the statistics of active latent units."""
        mean = q.mean.detach()
        activity = self._activity
        activity[0] += mean.sum(dim=0)
        activity[1] += (mean * mean).sum(dim=0)
        activity[2] += mean.shape[0]

    def validation_score(self):
        """Mean ELBO of the held-out rows (weighted by their weights, if any)."""
        return validation_mean(self, VALIDATION_DRAWS,
                               lambda x, c: elbo(self.module, x, VALIDATION_DRAWS, c))

    def statistics(self):
        """``n_active_components_``: latents whose posterior mean varies across rows.

        Counted as in Burda et al. (2016), from the posterior means seen during the
        last epoch, so fit pays no extra pass over the data.
        """
        total, squares, count = self._activity
        if not count:
            return {"n_active_components_": 0}
        mean = total / count
        variance = (squares / count - mean * mean).cpu().numpy()
        return {"n_active_components_": int(np.sum(variance > ACTIVE_UNIT_THRESHOLD))}


class HierarchicalELBOObjective(ELBOObjective):
    """The hierarchical VAE's negative beta-ELBO, with KL warm-up and free bits per layer.

    As :class:`ELBOObjective` (same parameters), for a
    :class:`skvae._module.HierarchicalVAEModule`: the KL weight ramps up for every
    layer's KL term alike, and ``free_bits`` floors each layer's KL separately (at
    ``free_bits`` times the layer's width), so no layer's units collapse early because
    another layer's KL is large. Activity is counted per layer.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._activity = self._no_activity()

    def _no_activity(self):
        return [[0.0, 0.0, 0] for _ in self.module.layer_sizes]

    def on_epoch(self, epoch):
        super().on_epoch(epoch)
        self._activity = self._no_activity()  # the statistics of the last epoch only

    def loss(self, batch):
        """``kl_weight * sum_l KL_l - log-likelihood``, batch means."""
        x, c, w = rows_of(batch)
        module = self.module
        noise = torch.randn(x.shape[0], module.n_components, generator=self.generator,
                            device=x.device)
        log_lik, kls, qs = module.elbo_layers(x, noise)
        total = 0.0
        for kl, q, size, activity in zip(kls, qs, module.layer_sizes, self._activity):
            mean = q.mean.detach()
            activity[0] += mean.sum(dim=0)
            activity[1] += (mean * mean).sum(dim=0)
            activity[2] += mean.shape[0]
            kl = weighted_mean(kl, w)
            if self.free_bits:
                kl = torch.clamp(kl, min=self.free_bits * size)
            total = total + kl
        return self.kl_weight * total - weighted_mean(log_lik, w)

    def statistics(self):
        """``n_active_components_``: a tuple, the active units of each layer, z_1 first.

        A unit is active when the mean of its q (given the layer below's draw, for the
        upper layers) varies across the last epoch's rows by more than
        :data:`ACTIVE_UNIT_THRESHOLD`; an upper unit that ignores its input has a
        constant mean, so collapsed units are not counted.
        """
        counts = []
        for total, squares, count in self._activity:
            if not count:
                counts.append(0)
                continue
            mean = total / count
            variance = (squares / count - mean * mean).cpu().numpy()
            counts.append(int(np.sum(variance > ACTIVE_UNIT_THRESHOLD)))
        return {"n_active_components_": tuple(counts)}


def m2_losses(module, x_l, y_l, x_u, noise_l, noise_u, beta, alpha, n_labels=None,
              w_l=None, w_u=None):
    """Summed losses of labeled rows (-ELBO + alpha * cross-entropy) and unlabeled rows.

    Unlabeled rows enumerate their ``n_labels`` most probable labels (None: all of them);
    see :meth:`skvae._module.M2Module.unlabeled_elbo`. ``w_l`` and ``w_u`` weight the
    rows of each kind (None: unweighted).
    """
    labeled = unlabeled = x_l.new_zeros(())
    # torch.distributions cannot score empty batches, and a batch may lack either kind.
    if x_l.shape[0]:
        log_proba = module.log_proba(x_l)
        cross_entropy = (F.nll_loss(log_proba, y_l, reduction="sum") if w_l is None
                         else _total(F.nll_loss(log_proba, y_l, reduction="none"), w_l))
        labeled = alpha * cross_entropy - _total(module.labeled_elbo(x_l, y_l, noise_l, beta),
                                                 w_l)
    if x_u.shape[0]:
        unlabeled = -_total(module.unlabeled_elbo(x_u, noise_u, beta, n_labels), w_u)
    return labeled, unlabeled


class M2Objective(Objective):
    """Kingma et al.'s M2: labeled rows' -ELBO and weighted cross-entropy, unlabeled rows'
    -ELBO summed over labels (all of them, or the most probable few).

    Epochs go over the unlabeled rows, each minibatch with as many labeled rows drawn
    (with replacement) alongside; with no unlabeled rows, over the labeled rows.

    Parameters
    ----------
    module : skvae._module.M2Module
    unlabeled : tuple or HostData
        ``(x_u, None)``, the unlabeled training rows.
    labeled : tuple of torch.Tensor or HostData
        ``(x_l, y_l)``: labeled training rows and their class indices, on the device
        when there are unlabeled rows (they are drawn at random beside each minibatch).
    validation : tuple or HostData or None
        Held-out rows ``(x, codes)``, codes -1 for unlabeled rows.
    generator : torch.Generator
    standardizer : skvae._standardize.Standardizer
    beta, alpha : float
    batch_size : int
        Minibatch size of the stream (labeled rows drawn per step: at most this).
    n_labels : int or None, default=None
        Labels each unlabeled training row enumerates, the most probable under q(y | x);
        None for all. The validation score always enumerates all of them, so it stays
        the same bound whatever the training shortcut.
    """

    def __init__(self, module, unlabeled, labeled, validation, generator, standardizer, *,
                 beta, alpha, batch_size, n_labels=None):
        self.module, self.validation = module, validation
        self.generator, self.standardizer = generator, standardizer
        self.beta, self.alpha = beta, alpha
        k = module.n_classes
        self.n_labels = None if n_labels is None or n_labels >= k else int(n_labels)
        self.n_l, self.n_u = n_rows(labeled), n_rows(unlabeled)
        # With no unlabeled rows, the epochs go over the labeled rows themselves.
        self.data = unlabeled if self.n_u else labeled
        if self.n_u:
            self.x_l, self.y_l, self.w_l = rows_of(labeled)
        self.labeled_batch = min(batch_size, self.n_l)

    def _noise(self, n_rows, device):
        return torch.randn(n_rows, self.module.n_components, generator=self.generator,
                           device=device)

    def loss(self, batch):
        x, y, w = rows_of(batch)
        if self.n_u:
            pick = torch.randint(max(1, self.n_l), (self.labeled_batch,),
                                 generator=self.generator, device=x.device)
            x_l, y_l, x_u = self.x_l[pick], self.y_l[pick], x
            w_l, w_u = _pick(self.w_l, pick), w
        else:
            x_l, y_l, x_u = x, y, x[:0]
            w_l, w_u = w, None
        m = self.n_labels or self.module.n_classes
        loss_l, loss_u = m2_losses(self.module, x_l, y_l, x_u,
                                   self._noise(x_l.shape[0], x.device),
                                   self._noise(m * x_u.shape[0], x.device),
                                   self.beta, self.alpha, self.n_labels, w_l, w_u)
        # Scaled so that its expectation is the objective per training row.
        return (loss_l * (self.n_l / max(1, x_l.shape[0]))
                + loss_u * (self.n_u / max(1, x_u.shape[0]))) / (self.n_l + self.n_u)

    def validation_score(self):
        """Negated objective per held-out row (weighted by their weights, if any), with
        fixed noise, in the units of X."""
        total, n = 0.0, 0
        cost = VALIDATION_DRAWS * self.module.n_classes
        for chunk in validation_blocks(self.validation, self.module, cost):
            x, codes, w = rows_of(chunk)
            labeled, unlabeled = codes >= 0, codes < 0
            noise = score_noise(VALIDATION_DRAWS, self.module.n_components, torch.float32,
                                x.device)
            with torch.no_grad():
                loss_l, loss_u = m2_losses(self.module, x[labeled], codes[labeled],
                                           x[unlabeled], noise, noise, 1.0, self.alpha,
                                           w_l=_pick(w, labeled), w_u=_pick(w, unlabeled))
            total = total + (loss_l + loss_u)
            n += x.shape[0] if w is None else float(w.sum())
        return -float(total) / n + self.standardizer.log_jacobian()


class VAEGANObjective(ELBOObjective):
    """Larsen et al.'s VAE-GAN on the VAE's ELBO objective, with two optimisers.

    Each minibatch first takes one step of the discriminator's own Adam optimiser
    (owned here) on the GAN loss: real rows against reconstructions and samples from
    the prior. Then it returns the loss of encoder and decoder, which the training
    loop's optimiser minimises:

    ``kl_weight * KL - pixel_weight * log p(x | z) + feature_weight * feature term
    + adversarial_weight * (generator loss of reconstructions and samples)``,

    the feature term being ``0.5 * ||D_l(x) - D_l(x_tilde)||^2``, the Gaussian
    negative log-likelihood in the discriminator's last hidden layer ``D_l`` (the
    learned similarity). The discriminator's parameters take no gradient from this
    loss (they are frozen while it is built), so the loop's optimiser leaves them alone
    although they belong to the module. Reconstructions and samples are the decoder
    means, in standardised units.

    Parameters
    ----------
    *args, **kwargs
        As :class:`ELBOObjective`.
    pixel_weight, feature_weight, adversarial_weight : float
    learning_rate : float
        Of the discriminator's optimiser.
    """

    def __init__(self, *args, pixel_weight, feature_weight, adversarial_weight,
                 learning_rate, **kwargs):
        super().__init__(*args, **kwargs)
        self.pixel_weight, self.feature_weight = pixel_weight, feature_weight
        self.adversarial_weight = adversarial_weight
        # beta1 = 0.5, the usual choice for GAN discriminators (Radford et al., 2016).
        self.optimizer = torch.optim.Adam(
            [p for critic in self._critics() for p in critic.parameters()],
            lr=learning_rate, betas=(0.5, 0.999))

    def _critics(self):
        """The networks this objective's own optimiser trains, and the loop's never does."""
        return [self.module.discriminator]

    def _prior_samples(self, n, c):
        z = draw(self.module.prior_distribution(), self.generator, (n,)).detach()
        return self.module.decode(z, c).mean

    def _critic_loss(self, x, reconstructed, sampled, c):
        """Per-row GAN loss of the discriminator: real rows against generated ones."""
        discriminator = self.module.discriminator
        _, real = discriminator(x, c)
        _, fake_r = discriminator(reconstructed, c)
        _, fake_s = discriminator(sampled, c)
        return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real),
                                                   reduction="none")
                + _fake_loss(fake_r) + _fake_loss(fake_s))

    def _discriminator_step(self, x, reconstructed, sampled, c, w):
        loss = weighted_mean(self._critic_loss(x, reconstructed.detach(), sampled.detach(),
                                               c), w)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)

    def _generator_loss(self, x, reconstructed, sampled, c):
        """Per-row feature and adversarial terms of encoder and decoder (critics frozen)."""
        discriminator = self.module.discriminator
        real_features, _ = discriminator(x, c)
        features, fake_r = discriminator(reconstructed, c)
        _, fake_s = discriminator(sampled, c)
        feature_term = 0.5 * (features - real_features.detach()).square().sum(-1)
        adversarial = (F.binary_cross_entropy_with_logits(fake_r, torch.ones_like(fake_r),
                                                          reduction="none")
                       + F.binary_cross_entropy_with_logits(fake_s, torch.ones_like(fake_s),
                                                            reduction="none"))
        return self.feature_weight * feature_term + self.adversarial_weight * adversarial

    def loss(self, batch):
        x, c, w = rows_of(batch)
        module = self.module
        noise = torch.randn(x.shape[0], module.n_components, generator=self.generator,
                            device=x.device)
        q = module.encode(x, c)
        z = module.posterior.reparameterise(q, noise)
        self._track_activity(q)
        decoded = module.decode(z, c)
        reconstructed = decoded.mean
        sampled = self._prior_samples(x.shape[0], c)
        self._discriminator_step(x, reconstructed, sampled, c, w)
        with frozen(*self._critics()):
            generator_loss = self._generator_loss(x, reconstructed, sampled, c)
        kl = weighted_mean(module.prior.kl(q, z, module._encode_unconditional), w)
        if self.free_bits:
            kl = torch.clamp(kl, min=self.free_bits * module.n_components)
        return (self.kl_weight * kl
                + weighted_mean(generator_loss - self.pixel_weight * decoded.log_prob(x), w))


class CVAEGANObjective(VAEGANObjective):
    """Bao et al.'s conditional VAE-GAN: the VAE-GAN's objective with a class term.

    The condition ``c`` is the one-hot label. The module's
    :class:`~skvae._discriminator.AuxiliaryClassifier`, trained by the objective's own
    optimiser beside the discriminator, learns the label of real rows
    (cross-entropy); encoder and decoder add ``classifier_weight`` times its
    cross-entropy, at their conditioning labels, of their reconstructions and of
    their samples from the prior, so that generated rows carry their label.

    Parameters
    ----------
    *args, **kwargs
        As :class:`VAEGANObjective`.
    classifier_weight : float
    """

    def __init__(self, *args, classifier_weight, **kwargs):
        super().__init__(*args, **kwargs)
        self.classifier_weight = classifier_weight

    def _critics(self):
        return [*super()._critics(), self.module.classifier]

    def _critic_loss(self, x, reconstructed, sampled, c):
        """The discriminator's GAN loss plus the classifier's cross-entropy on real rows."""
        _, logits = self.module.classifier(x)
        return (super()._critic_loss(x, reconstructed, sampled, c)
                + F.cross_entropy(logits, c, reduction="none"))

    def _generator_loss(self, x, reconstructed, sampled, c):
        """The VAE-GAN's terms plus the class term of reconstructions and samples."""
        _, logits_r = self.module.classifier(reconstructed)
        _, logits_s = self.module.classifier(sampled)
        class_term = (F.cross_entropy(logits_r, c, reduction="none")
                      + F.cross_entropy(logits_s, c, reduction="none"))
        return (super()._generator_loss(x, reconstructed, sampled, c)
                + self.classifier_weight * class_term)


def _fake_loss(logits):
    return F.binary_cross_entropy_with_logits(logits, torch.zeros_like(logits),
                                              reduction="none")


class ImportanceWeightedObjective(ELBOObjective):
    """The negative importance-weighted bound (IWAE; MIWAE on data with missing entries).

    ``log mean_k p(x, z_k) / q(z_k | x)`` over ``n_importance`` draws per row, a bound
    on log p(x) at least as tight as the ELBO (equal to it for one draw), as in Burda
    et al. (2016). With a likelihood that leaves missing entries (NaN) out of
    ``log p(x | z)`` it is the MIWAE bound on the observed entries (Mattei and
    Frellsen, 2019). Everything else (validation score, warm-up) is the VAE's; ``beta``
    and ``free_bits`` do not apply to this bound.

    Parameters
    ----------
    *args, **kwargs
        As :class:`ELBOObjective`.
    n_importance : int
        Draws per row.
    """

    def __init__(self, *args, n_importance, **kwargs):
        super().__init__(*args, **kwargs)
        self.n_importance = n_importance

    def loss(self, batch):
        """Minus the batch mean of the bound (weighted by the rows' weights, if any).

        With one draw it is the ELBO objective's loss, ``beta`` and free bits included.
        """
        if self.n_importance == 1:
            return super().loss(batch)
        x, c, w = rows_of(batch)
        noise = torch.randn(self.n_importance, x.shape[0], self.module.n_components,
                            generator=self.generator, device=x.device)
        log_weights, _, _, q = self.module.importance_draws(x, noise, c)
        self._track_activity(q)
        bound = torch.logsumexp(log_weights, dim=0) - np.log(self.n_importance)
        return -weighted_mean(bound, w)


#: Importance draws behind the held-out score of :class:`HeldOutEntriesObjective`.
HELD_OUT_DRAWS = 16


class HeldOutEntriesObjective(ImportanceWeightedObjective):
    """The importance-weighted objective, validated on held-out entries of the rows.

    For data with missing entries (imputation), every row trains; a share of the
    observed entries is hidden from training instead, and the validation score is
    their conditional log-density given the rest of their row,
    ``log p(x_hidden | x_train)``, estimated by self-normalised importance sampling
    with :data:`HELD_OUT_DRAWS` fixed draws, in nats per row in the units of X.

    Parameters
    ----------
    *args, **kwargs
        As :class:`ImportanceWeightedObjective`; the validation data is
        ``(x_train, x_hidden)``: the training rows (hidden entries NaN) and the hidden
        entries alone (NaN elsewhere), standardised.
    """

    def validation_score(self):
        """Mean over the rows of log p(x_hidden | x_train), nats (0 for no hidden entry)."""
        module, total, n = self.module, 0.0, 0
        dtype = next(module.parameters()).dtype
        for chunk in validation_blocks(self.validation, module, HELD_OUT_DRAWS):
            x, hidden = chunk[0], chunk[1]
            noise = score_noise(HELD_OUT_DRAWS, module.n_components, dtype, x.device)
            with torch.inference_mode():
                log_weights, _, decoded, _ = module.importance_draws(x, noise)
                joint = torch.logsumexp(log_weights + decoded.log_prob(hidden), dim=0)
                score = (joint - torch.logsumexp(log_weights, dim=0)
                         + self.standardizer.log_jacobian_rows(hidden))
            total += float(score.sum())
            n += x.shape[0]
        return total / n
