"""The torch modules of every model family: encoder, decoder, reparameterisation, ELBO.

Nothing here knows about scikit-learn. The modules work on standardised float tensors;
the estimator owns the standardisation and its log-Jacobian. Each module is built from
its swappable parts (likelihood, prior, posterior) plus a config of plain values
(``CONFIG_KEYS``), which is what a saved model stores to rebuild it.
"""

# License: BSD 3 clause

import math
import threading

import torch
from torch import nn
from torch.distributions import Distribution, Independent, Normal, kl_divergence
from torch.nn import functional as F

from .posteriors import DiagonalPosterior


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


def run_layers(layers, x):
    """``layers(x)`` for an :func:`mlp`, calling its Linear and ReLU layers' functions.

    For small networks, where ``nn.Module.__call__`` costs more than the maths (a
    single row at inference, a small batch in training); layers of other types, or with
    hooks registered, are called as modules.

    Parameters
    ----------
    layers : torch.nn.Sequential
    x : torch.Tensor

    Returns
    -------
    out : torch.Tensor
    """
    if layers._forward_hooks or layers._forward_pre_hooks:
        return layers(x)
    for layer in layers:
        if layer._forward_hooks or layer._forward_pre_hooks:
            x = layer(x)
        elif type(layer) is nn.Linear:
            x = F.linear(x, layer.weight, layer.bias)
        elif type(layer) is nn.ReLU:
            x = torch.relu(x)
        else:
            x = layer(x)
    return x


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
        elif hasattr(layer, "init_from"):
            layer.init_from(generator)


def _with_condition(inputs, condition):
    """Append the condition columns (e.g. one-hot labels) to every row of ``inputs``."""
    if condition is None:
        return inputs
    return torch.cat([inputs, condition.expand(*inputs.shape[:-1], condition.shape[-1])], -1)


class VAEModule(nn.Module):
    """Encoder q(z|x), decoder p(x|z) and prior p(z) of a VAE, optionally conditional.

    Parameters
    ----------
    n_features : int
    n_components : int
        Latent size.
    hidden_layer_sizes : tuple of int
        Encoder widths; the decoder uses them in reverse. ``()`` gives a linear VAE.
    likelihood : skvae.likelihoods.Likelihood
    prior : skvae.priors.Prior
    posterior : skvae.posteriors.Posterior
    n_conditions : int, default=0
        Width of the condition ``c`` fed to both encoder and decoder (a CVAE); 0 for
        an unconditional VAE.
    impute_missing : bool, default=False
        Feed missing entries (NaN) to the encoder as 0, the standardised column mean;
        the likelihood then leaves them out of the reconstruction term.
    """

    #: The constructor arguments besides the parts: plain values a saved model stores.
    CONFIG_KEYS = ("n_features", "n_components", "hidden_layer_sizes", "n_conditions",
                   "impute_missing")

    def __init__(self, n_features, n_components, hidden_layer_sizes, likelihood, prior,
                 posterior, n_conditions=0, impute_missing=False):
        super().__init__()
        self.impute_missing = impute_missing
        encoder_sizes = [n_features + n_conditions, *hidden_layer_sizes]
        decoder_sizes = [n_components + n_conditions, *reversed(hidden_layer_sizes)]
        self.n_components = n_components
        self.n_conditions = n_conditions
        self.encoder = mlp(encoder_sizes)
        self.posterior = posterior.head(encoder_sizes[-1], n_components)
        self.decoder = mlp(decoder_sizes)
        self.likelihood = likelihood.head(decoder_sizes[-1], n_features)
        self.prior = prior.module(n_components, n_features)

    def encode(self, x, c=None):
        """Posterior q(z | x, c) with batch shape ``(n,)``."""
        return self.posterior(self._features(x, c))

    def _features(self, x, c):
        if self.impute_missing:
            x = torch.nan_to_num(x, nan=0.0)
        return run_layers(self.encoder, _with_condition(x, c))

    def encode_mean(self, x, c=None):
        """Posterior mean E[z | x, c], without building the distribution.

        The inference path of ``transform``: the encoder's layers are called through
        their functions (:func:`run_layers`), which halves the latency of a single row.
        """
        return self.posterior.location(self._features(x, c))

    def _encode_unconditional(self, x):
        # The VampPrior's pseudo-inputs carry no condition: encode them with c = 0.
        c = None if not self.n_conditions else x.new_zeros(x.shape[0], self.n_conditions)
        return self.encode(x, c)

    def prior_distribution(self):
        """p(z)."""
        return self.prior(self._encode_unconditional)

    def sampling_distribution(self):
        """The distribution ``sample`` draws z from: p(z), or what the prior samples
        from instead (the two-stage prior's second VAE)."""
        return self.prior.sampling_distribution(self._encode_unconditional)

    def decode(self, z, c=None):
        """Likelihood p(x | z, c) for latent rows ``z`` of shape ``(..., n_components)``."""
        return self.likelihood(run_layers(self.decoder, _with_condition(z, c)))

    def elbo(self, x, noise, beta=1.0, c=None):
        """Per-row ``E_q[log p(x|z)] - beta * KL(q(z|x) || p(z))``.

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
        noise : torch.Tensor of shape (n, n_components) or (n_draws, 1, n_components)
            Standard normal draws for the reparameterisation ``z = mu + L @ noise``;
            with a leading draws axis the expectation is the mean over draws.
        beta : float, default=1.0
        c : torch.Tensor of shape (n, n_conditions) or None

        Returns
        -------
        elbo : torch.Tensor of shape (n,)
        """
        log_lik, kl, _ = self.elbo_terms(x, noise, c)
        return log_lik - beta * kl

    def elbo_terms(self, x, noise, c=None):
        """``(E_q[log p(x|z)], KL(q || p), q)``, the terms per row; see :meth:`elbo`."""
        q = self.encode(x, c)
        z = self.posterior.reparameterise(q, noise)
        log_lik = self.decode(z, c).log_prob(x)
        if log_lik.dim() > 1:
            log_lik = log_lik.mean(dim=0)
        return log_lik, self.prior.kl(q, z, self._encode_unconditional), q

    def log_weights(self, x, noise, c=None):
        """Importance weights ``log p(x, z_k) - log q(z_k | x)``, shape ``(n_draws, n)``.

        Their log-mean-exp over draws is the IWAE bound on log p(x), which tightens
        towards log p(x) as the number of draws grows.
        """
        return self.importance_draws(x, noise, c)[0]

    def importance_draws(self, x, noise, c=None):
        """Log importance weights, latent draws and decoders of draws from q(z | x).

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
            Standardised rows; with a likelihood that leaves NaN entries out of
            ``log_prob``, NaN where missing (q then conditions on the observed entries).
        noise : torch.Tensor of shape (n_draws, n or 1, n_components)
            Standard normal draws for the reparameterisation.
        c : torch.Tensor of shape (n, n_conditions) or None, default=None

        Returns
        -------
        log_weights : torch.Tensor of shape (n_draws, n)
            ``log p(x | z_k) + log p(z_k) - log q(z_k | x)``.
        z : torch.Tensor of shape (n_draws, n, n_components)
        decoded : torch.distributions.Distribution
            p(x | z_k), batch shape ``(n_draws, n)``.
        q : torch.distributions.Distribution
            The posterior q(z | x) the draws come from.
        """
        q = self.encode(x, c)
        z = self.posterior.reparameterise(q, noise)
        decoded = self.decode(z, c)
        log_weights = decoded.log_prob(x) + self.prior_distribution().log_prob(z) - q.log_prob(z)
        return log_weights, z, decoded, q


class M2Module(nn.Module):
    """Kingma et al.'s M2 as a torch module: q(y|x), q(z|x,y), p(x|y,z), p(z), uniform p(y).

    Parameters
    ----------
    n_features, n_components, n_classes : int
    hidden_layer_sizes : tuple of int
        Widths of the classifier and the encoder; the decoder uses them in reverse.
    likelihood : skvae.likelihoods.Likelihood
    prior : skvae.priors.Prior
    posterior : skvae.posteriors.Posterior
    """

    #: The constructor arguments besides the parts: plain values a saved model stores.
    CONFIG_KEYS = ("n_features", "n_components", "n_classes", "hidden_layer_sizes")

    def __init__(self, n_features, n_components, n_classes, hidden_layer_sizes, likelihood,
                 prior, posterior):
        super().__init__()
        self.n_components = n_components
        self.n_classes = n_classes
        # The label is the condition of a conditional VAE: it feeds encoder and decoder.
        self.vae = VAEModule(n_features, n_components, hidden_layer_sizes, likelihood, prior,
                             posterior, n_conditions=n_classes)
        sizes = [n_features, *hidden_layer_sizes]
        self.classifier = nn.Sequential(mlp(sizes), nn.Linear(sizes[-1], n_classes))

    @property
    def prior(self):
        """The prior module of the VAE inside (e.g. to initialise it from data)."""
        return self.vae.prior

    def log_proba(self, x):
        """log q(y | x), shape ``(n, n_classes)``."""
        return F.log_softmax(self.classifier(x), dim=-1)

    def labeled_elbo(self, x, y, noise, beta=1.0):
        """``E_q[log p(x|y,z)] + log p(y) - beta * KL(q(z|x,y) || p(z))`` per row.

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
        y : torch.Tensor of shape (n,)
            Class indices.
        noise : torch.Tensor of shape (n, n_components) or (n_draws, 1, n_components)
        beta : float, default=1.0

        Returns
        -------
        elbo : torch.Tensor of shape (n,)
        """
        onehot = F.one_hot(y, self.n_classes).to(x.dtype)
        return self.vae.elbo(x, noise, beta, c=onehot) - math.log(self.n_classes)

    def unlabeled_elbo(self, x, noise, beta=1.0, n_labels=None):
        """A lower bound on log p(x) per row, from the labels q(y | x) ranks first.

        With every label (``n_labels`` None or ``n_classes``) it is Kingma et al.'s
        ``sum_y q(y|x) ELBO(x, y) + H(q(y|x))``. With ``n_labels = m`` it is the same
        sum over the m most probable labels with q renormalised on them: the ELBO of a
        variational posterior over y truncated to those labels, so still a lower bound
        on log p(x), at m / n_classes of the cost. The labels are enumerated at once by
        repeating the batch once per label.

        Parameters
        ----------
        x : torch.Tensor of shape (n, n_features)
        noise : torch.Tensor of shape (m * n, n_components) or (n_draws, 1, n_components)
            For the repeated batch, label-major (the rows of the first label first).
        beta : float, default=1.0
        n_labels : int or None, default=None
            Labels enumerated per row; None for all of them.

        Returns
        -------
        elbo : torch.Tensor of shape (n,)
        """
        n, k = x.shape[0], self.n_classes
        if n_labels is None or n_labels >= k:
            labels = torch.arange(k, device=x.device).repeat_interleave(n)
            elbo = self.labeled_elbo(x.repeat(k, 1), labels, noise, beta).reshape(k, n).T
            log_q = self.log_proba(x)
        else:
            log_q, top = self.log_proba(x).topk(n_labels, dim=-1)
            log_q = log_q - torch.logsumexp(log_q, dim=-1, keepdim=True)
            elbo = self.labeled_elbo(x.repeat(n_labels, 1), top.T.reshape(-1), noise,
                                     beta).reshape(n_labels, n).T
        return (log_q.exp() * (elbo - log_q)).sum(dim=-1)

    def latent_mean(self, x):
        """``sum_y q(y|x) E[z | x, y]``: the posterior mean of z under predicted labels."""
        n, k = x.shape[0], self.n_classes
        onehot = torch.eye(k, dtype=x.dtype, device=x.device).repeat_interleave(n, dim=0)
        means = self.vae.encode(x.repeat(k, 1), onehot).mean.reshape(k, n, -1)
        return torch.einsum("nk,knd->nd", self.log_proba(x).exp(), means)


class _ConditionalGaussian(nn.Module):
    """p(z_l | z_{l+1}): a diagonal Gaussian whose mean and scale an MLP computes."""

    def __init__(self, n_inputs, n_hidden, n_outputs):
        super().__init__()
        self.layers = mlp([n_inputs, *n_hidden])
        self.head = DiagonalPosterior().head(([n_inputs, *n_hidden])[-1], n_outputs)

    def forward(self, z):
        return self.head(run_layers(self.layers, z))


class _Ancestral(Distribution):
    """The hierarchy's marginal of z_1, drawn ancestrally: z_L ~ p(z_L), then each
    z_l ~ p(z_l | z_{l+1}). Only sampling is offered (its density is intractable)."""

    def __init__(self, module):
        super().__init__(event_shape=torch.Size([module.layer_sizes[0]]),
                         validate_args=False)
        self.module = module

    def sample_with(self, generator, sample_shape=torch.Size()):
        from ._sampling import draw  # _sampling imports nothing of ours; kept local

        z = draw(self.module.prior_distribution(), generator, sample_shape)
        for conditional in reversed(self.module.conditionals):
            z = draw(conditional(z), generator)
        return z


class HierarchicalVAEModule(nn.Module):
    """A VAE with several stochastic layers z_1 (next to x), ..., z_L (top).

    Generative path, top-down: p(z_L) (the prior part), p(z_l | z_{l+1}) diagonal
    Gaussians, p(x | z_1) (the likelihood part). Two inference paths:

    - bottom-up (``top_down=False``, as in Burda et al., 2016): q(z_1 | x)
      q(z_2 | z_1) ... q(z_L | z_{L-1}), each from the posterior part;
    - top-down (``top_down=True``, the ladder VAE of Sonderby et al., 2016): a
      deterministic bottom-up pass d_1(x), ..., d_L(x) gives a Gaussian estimate of
      each layer; q(z_L | x) is the top one, and q(z_l | z_{l+1}, x) combines the
      estimate of layer l with the generative p(z_l | z_{l+1}) by precision weighting,
      so inference and generation share the top-down path. Each layer's KL is then
      between two Gaussians, in closed form. It needs the diagonal posterior.

    Between two stochastic layers both paths use MLPs of ``link_sizes`` widths.

    Parameters
    ----------
    n_features : int
    layer_sizes : tuple of int
        Width of each stochastic layer, z_1 (bottom) first.
    hidden_layer_sizes : tuple of int
        Widths between x and z_1 (encoder; the decoder uses them in reverse).
    link_sizes : tuple of int
        Widths of the hidden layers between z_l and z_{l+1}, both ways.
    likelihood, prior, posterior
        The parts; the prior is that of the top layer.
    top_down : bool, default=False
        The ladder (top-down) inference path instead of the bottom-up one.
    """

    #: The constructor arguments besides the parts: plain values a saved model stores.
    CONFIG_KEYS = ("n_features", "layer_sizes", "hidden_layer_sizes", "link_sizes",
                   "top_down")

    def __init__(self, n_features, layer_sizes, hidden_layer_sizes, link_sizes, likelihood,
                 prior, posterior, top_down=False):
        super().__init__()
        self.layer_sizes = tuple(layer_sizes)
        self.top_down = bool(top_down)
        self.n_conditions = 0
        # The width of the noise every draw needs: one standard normal per latent unit.
        self.n_components = sum(self.layer_sizes)
        encoder_sizes = [n_features, *hidden_layer_sizes]
        self.encoder = mlp(encoder_sizes)
        self.posterior = posterior.head(encoder_sizes[-1], self.layer_sizes[0])
        # Bottom-up, the links read the draws of the layer below; top-down, the
        # deterministic features of the layer below.
        if self.top_down:
            link_out = ([*link_sizes] or [encoder_sizes[-1]])[-1]
            inputs = [encoder_sizes[-1], *[link_out] * (len(self.layer_sizes) - 2)]
            inputs = inputs[: len(self.layer_sizes) - 1]
        else:
            inputs = list(self.layer_sizes[:-1])
        self.up = nn.ModuleList(mlp([width, *link_sizes]) for width in inputs)
        self.up_heads = nn.ModuleList(posterior.head(([*link_sizes] or [width])[-1], upper)
                                      for width, upper in zip(inputs, self.layer_sizes[1:]))
        pairs = list(zip(self.layer_sizes[:-1], self.layer_sizes[1:]))
        self.conditionals = nn.ModuleList(_ConditionalGaussian(upper, link_sizes, lower)
                                          for lower, upper in pairs)
        self.prior = prior.module(self.layer_sizes[-1], n_features)
        decoder_sizes = [self.layer_sizes[0], *reversed(hidden_layer_sizes)]
        self.decoder = mlp(decoder_sizes)
        self.likelihood = likelihood.head(decoder_sizes[-1], n_features)

    def _split(self, noise):
        return noise.split(self.layer_sizes, dim=-1)

    def encode(self, x, c=None):
        """q(z_1 | x), batch shape ``(n,)`` (bottom-up inference only)."""
        return self.posterior(run_layers(self.encoder, x))

    def encode_mean(self, x, c=None):
        """E[z_1 | x], the bottom layer's posterior mean (exact; bottom-up inference)."""
        return self.posterior.location(run_layers(self.encoder, x))

    def upward(self, x, noise):
        """The inference pass: ``(qs, zs)``, each layer's q and its reparameterised draw.

        ``noise`` has shape ``(n, n_components)`` or ``(n_draws, 1, n_components)``, one
        slice per layer; both lists are in layer order, z_1 first.
        """
        if self.top_down:
            return self._top_down(x, self._split(noise))
        noise = self._split(noise)
        q = self.encode(x)
        qs, zs = [q], [self.posterior.reparameterise(q, noise[0])]
        for layers, head, eps in zip(self.up, self.up_heads, noise[1:]):
            q = head(run_layers(layers, zs[-1]))
            qs.append(q)
            zs.append(head.reparameterise(q, eps))
        return qs, zs

    def _top_down(self, x, noise):
        features = [run_layers(self.encoder, x)]
        for layers in self.up:
            features.append(run_layers(layers, features[-1]))
        heads = [self.posterior, *self.up_heads]
        q = heads[-1](features[-1])
        qs, zs = [q], [heads[-1].reparameterise(q, noise[-1])]
        for layer in reversed(range(len(self.layer_sizes) - 1)):
            estimate = heads[layer](features[layer])
            q = _precision_weighted(estimate, self.conditionals[layer](zs[0]))
            qs.insert(0, q)
            zs.insert(0, heads[layer].reparameterise(q, noise[layer]))
        return qs, zs

    def prior_distribution(self):
        """p(z_L), the top layer's prior."""
        return self.prior(_no_encoder)

    def sampling_distribution(self):
        """The generative model's z_1, drawn ancestrally from the top."""
        return _Ancestral(self)

    def decode(self, z, c=None):
        """p(x | z_1)."""
        return self.likelihood(run_layers(self.decoder, z))

    def decode_from(self, z, layer):
        """The mean of p(x | ...) from ``z`` of stochastic layer ``layer`` (0: z_1), each
        lower layer set to the mean of p(z_l | z_{l+1})."""
        for conditional in reversed(self.conditionals[:layer]):
            z = conditional(z).mean
        return self.decode(z).mean

    def elbo_layers(self, x, noise):
        """``(E_q[log p(x|z_1)], [KL of each layer], qs)``, per row.

        The KL of layer l < L is ``E_q[log q(z_l|...) - log p(z_l|z_{l+1})]`` (see
        :meth:`_layer_kl`); the top layer's is the prior's KL (closed form for
        N(0, I)). Their sum and the reconstruction term make the ELBO of the whole
        hierarchy.
        """
        qs, zs = self.upward(x, noise)
        log_lik = _over_draws(self.decode(zs[0]).log_prob(x))
        kls = [_over_draws(self._layer_kl(q, z, conditional(z_above)))
               for q, z, z_above, conditional in zip(qs, zs, zs[1:], self.conditionals)]
        kls.append(_over_draws(self.prior.kl(qs[-1], zs[-1], _no_encoder)))
        return log_lik, kls, qs

    def _layer_kl(self, q, z, p):
        """KL(q || p) of one layer below the top at its draw ``z``.

        Top-down, q and p are Gaussians given the same z_{l+1}: in closed form.
        Bottom-up, q is given z_{l-1} and p given z_{l+1}: the entropy of q is exact and
        the cross term comes from the draw.
        """
        if self.top_down:
            return kl_divergence(q, p)
        return -q.entropy() - p.log_prob(z)

    def elbo(self, x, noise, beta=1.0, c=None):
        """Per-row ``E_q[log p(x|z_1)] - beta * sum_l KL_l``; see :meth:`elbo_layers`."""
        log_lik, kls, _ = self.elbo_layers(x, noise)
        return log_lik - beta * sum(kls)

    def log_weights(self, x, noise, c=None):
        """Importance weights ``log p(x, z_1..z_L) - log q(z_1..z_L | x)``, ``(n_draws, n)``."""
        qs, zs = self.upward(x, noise)
        log_w = self.decode(zs[0]).log_prob(x) + self.prior_distribution().log_prob(zs[-1])
        for z, z_above, conditional in zip(zs, zs[1:], self.conditionals):
            log_w = log_w + conditional(z_above).log_prob(z)
        for q, z in zip(qs, zs):
            log_w = log_w - q.log_prob(z)
        return log_w


def _precision_weighted(estimate, prior):
    """The Gaussian proportional to the product of two diagonal Gaussians (their
    precisions add): the ladder VAE's merge of a bottom-up estimate with p(z_l|z_{l+1})."""
    a, b = estimate.base_dist, prior.base_dist
    precision_a, precision_b = a.scale.pow(-2), b.scale.pow(-2)
    variance = 1.0 / (precision_a + precision_b)
    loc = variance * (a.loc * precision_a + b.loc * precision_b)
    return Independent(Normal(loc, variance.sqrt(), validate_args=False), 1,
                       validate_args=False)


def _over_draws(values):
    """Mean over the leading draws axis of ``(n_draws, n)`` values; ``(n,)`` as it is."""
    return values.mean(dim=0) if values.dim() > 1 else values


def _no_encoder(x):
    raise ValueError("a prior defined through the encoder (the VampPrior) has no meaning "
                     "for the top layer of a hierarchical VAE.")


#: Held while layers are built: fits in other threads then cannot restore torch's
#: global RNG to a state saved before this fit's draws (or the other way round).
_GLOBAL_RNG_LOCK = threading.Lock()

#: The module classes a saved model may name, by name.
MODULES = {cls.__name__: cls for cls in (VAEModule, M2Module, HierarchicalVAEModule)}


def register_module(cls):
    """Add a module class to :data:`MODULES`, so a saved model may name it.

    Parameters
    ----------
    cls : type
        A ``torch.nn.Module`` subclass with ``CONFIG_KEYS``.

    Returns
    -------
    cls : type
        Unchanged.
    """
    if MODULES.get(cls.__name__, cls) is not cls:
        raise ValueError(f"another module class is registered as {cls.__name__!r}.")
    MODULES[cls.__name__] = cls
    return cls


def build_module(cls, config, likelihood, prior, posterior, seed):
    """A freshly initialised ``cls`` module from its config and parts.

    Layers draw their first weights from torch's global RNG: the RNG is forked so the
    caller's state is untouched, then every weight is redrawn from ``seed``.

    Parameters
    ----------
    cls : type
        A class of :data:`MODULES`.
    config : dict
        Its ``CONFIG_KEYS`` arguments.
    likelihood, prior, posterior
        The fitted parts.
    seed : int

    Returns
    -------
    module : torch.nn.Module
    """
    with _GLOBAL_RNG_LOCK, torch.random.fork_rng(devices=[]):
        module = cls(**config, likelihood=likelihood, prior=prior, posterior=posterior)
    init_weights(module, torch.Generator().manual_seed(seed))
    return module
