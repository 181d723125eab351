"""HierarchicalVAETransformer: a VAE with several stochastic layers, as a transformer."""

# License: BSD 3 clause

import numbers

import numpy as np
import torch

from ._base import _BaseVAE, constraints_without_network
from ._module import HierarchicalVAEModule
from ._noise import score_draws, score_noise
from ._objectives import HierarchicalELBOObjective
from ._sklearn_compat import Count, StrOptions
from ._validation import check_result, validated
from .posteriors import DiagonalPosterior, get_posterior
from .priors import TwoStagePrior, VampPrior, get_prior


def _positive_ints(value, name):
    """``value`` (an int or a sequence of them) as a tuple of positive ints, or a ValueError."""
    values = [value] if isinstance(value, numbers.Integral) else value
    try:
        values = list(values)
    except TypeError:
        values = None
    if not values or not all(isinstance(v, numbers.Integral)
                             and not isinstance(v, (bool, np.bool_)) and v >= 1
                             for v in values):
        raise ValueError(f"{name} must be a positive integer or a non-empty sequence of "
                         f"them (a bool is not a size), got {value!r}.")
    return tuple(int(v) for v in values)


class HierarchicalVAETransformer(_BaseVAE):
    """A VAE with several stochastic layers (a hierarchical VAE) as a transformer.

    The generative model is top-down, p(z_L) p(z_{L-1} | z_L) ... p(z_1 | z_2)
    p(x | z_1), each conditional a diagonal Gaussian computed by an MLP; inference is
    bottom-up, q(z_1 | x) q(z_2 | z_1) ... q(z_L | z_{L-1}), as in the two-layer models
    of Burda et al. (2016), or top-down as in the ladder VAE (``inference``).
    ``score_samples`` is the ELBO of the whole hierarchy and ``log_likelihood`` the
    importance-sampled estimate of log p(x) with the exact joint density of all
    layers, so both compare with a one-layer :class:`VAETransformer`'s. One layer (an int ``n_components``) is the usual VAE.

    Parameters
    ----------
    n_components : int or tuple of int, default=(16, 8)
        Width of each stochastic layer, z_1 (next to x) first. ``n_components`` is a
        tuple here because each layer has its own size; the estimators with one latent
        layer keep the int of the public contract.
    transform_layer : int, default=0
        The layer ``transform`` returns (0: z_1) and ``inverse_transform`` takes.
    inference : {"bottom_up", "top_down"}, default="bottom_up"
        The inference path. "bottom_up": q(z_1 | x) q(z_2 | z_1) ..., as in Burda et
        al. (2016). "top_down": the ladder VAE of Sonderby et al. (2016), where a
        deterministic bottom-up pass gives an estimate of every layer and q(z_l |
        z_{l+1}, x) merges it with the generative p(z_l | z_{l+1}) by precision
        weighting; each layer's KL is then in closed form. It needs
        ``posterior="diagonal"``.
    link_layer_sizes : tuple of int, default=(64, 64)
        Widths of the hidden layers of the MLPs between two stochastic layers, in both
        the inference and the generative path.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Widths between x and z_1 (the encoder; the decoder mirrors them).
    likelihood : str or Likelihood, default="gaussian"
        Noise model p(x | z_1), as in :class:`VAETransformer`.
    prior : str or Prior, default="normal"
        Prior of the top layer, p(z_L): "normal", "mog" or an instance. The VampPrior
        (defined through the encoder of x) and the two-stage prior (fitted to one
        layer's codes) do not apply to a hierarchy.
    posterior : str or Posterior, default="diagonal"
        Family of each q(z_l | z_{l-1}).
    beta : float, default=1.0
        Weight of every layer's KL term in training; scores report the true ELBO.
    kl_warmup : int, default=0
        Epochs over which the KL weight of every layer ramps up linearly to ``beta``.
    free_bits : float, default=0.0
        Nats per latent unit below which a layer's KL is not pushed down, floored for
        each layer separately.
    batch_size, learning_rate, learning_rate_init, max_iter, tol, n_iter_no_change, \
early_stopping, validation_fraction, device, random_state, verbose, warm_start
        As in :class:`VAETransformer`.

    Attributes
    ----------
    n_active_components_ : tuple of int
        Active units of each layer, z_1 first: units whose posterior mean (given the
        layer below's draw, for the upper layers) varies across the last epoch's rows by
        more than 0.01 (Burda et al., 2016).
    module_ : torch.nn.Module
        The fitted networks.
    loss_curve_, n_iter_, validation_scores_, best_validation_score_, best_loss_, \
converged_, n_features_in_, feature_names_in_
        As in :class:`VAETransformer`.

    See Also
    --------
    VAETransformer : One stochastic layer.

    References
    ----------
    .. [1] Burda, Y., R. Grosse and R. Salakhutdinov, "Importance Weighted
       Autoencoders", ICLR 2016.
    .. [2] Sonderby, C. K. et al., "Ladder Variational Autoencoders", NeurIPS 2016.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import HierarchicalVAETransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = HierarchicalVAETransformer((8, 4), likelihood="bernoulli", max_iter=3,
    ...                                  random_state=0).fit(X > 7)
    >>> vae.transform(X[:5] > 7).shape
    (5, 8)
    >>> len(vae.n_active_components_)
    2
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    """

    _parameter_constraints = {
        # the hierarchy builds its own module: no network parameter
        **constraints_without_network(_BaseVAE._parameter_constraints),
        "n_components": ["array-like", Count(1)],
        "transform_layer": [Count(0)],
        "inference": [StrOptions({"bottom_up", "top_down"})],
        "link_layer_sizes": ["array-like"],
    }

    _module_class = HierarchicalVAEModule

    _fitted_attributes = _BaseVAE._fitted_attributes | {"_transform_layer"}

    def __init__(self, n_components=(16, 8), *, transform_layer=0, inference="bottom_up",
                 link_layer_sizes=(64, 64), hidden_layer_sizes=(128, 128),
                 likelihood="gaussian", prior="normal", posterior="diagonal", beta=1.0,
                 kl_warmup=0, free_bits=0.0, batch_size="auto", learning_rate="adaptive",
                 learning_rate_init=1e-3, max_iter=1000, tol=1e-4, n_iter_no_change=40,
                 early_stopping="auto", validation_fraction=0.1, device="auto",
                 random_state=None, verbose=0, warm_start=False):
        super().__init__(
            n_components, hidden_layer_sizes=hidden_layer_sizes, likelihood=likelihood,
            prior=prior, posterior=posterior, beta=beta, kl_warmup=kl_warmup,
            free_bits=free_bits, batch_size=batch_size, learning_rate=learning_rate,
            learning_rate_init=learning_rate_init, max_iter=max_iter, tol=tol,
            n_iter_no_change=n_iter_no_change, early_stopping=early_stopping,
            validation_fraction=validation_fraction, device=device,
            random_state=random_state, verbose=verbose, warm_start=warm_start)
        self.transform_layer = transform_layer
        self.inference = inference
        self.link_layer_sizes = link_layer_sizes

    # ------------------------------------------------------------------ fitting
    def _layer_sizes(self):
        return _positive_ints(self.n_components, "n_components")

    def _validate_fit_input(self, X, y, *, reset, ensure_min_samples, **_):
        """The training matrix, after the checks of the hierarchy's own parameters."""
        sizes = self._layer_sizes()
        if self.link_layer_sizes is not None and len(self.link_layer_sizes):
            _positive_ints(self.link_layer_sizes, "link_layer_sizes")
        if self.transform_layer >= len(sizes):
            raise ValueError(f"transform_layer={self.transform_layer} names no layer of "
                             f"n_components={sizes} (layers 0 to {len(sizes) - 1}).")
        if isinstance(get_prior(self.prior), (VampPrior, TwoStagePrior)):
            raise ValueError(f"prior={self.prior!r} does not apply to the top layer of a "
                             "hierarchical VAE; use 'normal' or 'mog'.")
        if self.inference == "top_down" and not isinstance(get_posterior(self.posterior),
                                                           DiagonalPosterior):
            raise ValueError("inference='top_down' merges diagonal Gaussians: it needs "
                             f"posterior='diagonal', got {self.posterior!r}.")
        X = validated(self, X, reset=reset, ensure_min_samples=ensure_min_samples)
        return X, None

    def _module_config_for(self, X, likelihood):
        links = self.link_layer_sizes
        links = () if links is None or not len(links) else _positive_ints(
            links, "link_layer_sizes")
        return {"n_features": X.shape[1], "layer_sizes": self._layer_sizes(),
                "hidden_layer_sizes": self._hidden_layer_sizes(), "link_sizes": links,
                "top_down": self.inference == "top_down"}

    def _check_same_latent(self):
        if self.module_.layer_sizes != self._layer_sizes():
            raise ValueError(
                f"warm start needs n_components={self.module_.layer_sizes} as in the "
                f"previous fit, got {self.n_components}."
            )

    def _objective(self, module, X, C, weights=None):
        train_rows, val_rows = self._split(X, None, weights)
        return HierarchicalELBOObjective(
            module, self._place(train_rows), self._place(val_rows), self._new_generator(),
            self._standardizer, beta=self.beta, kl_warmup=self.kl_warmup,
            free_bits=self.free_bits, start_epoch=self.n_iter_)

    def _record(self, result, optimizer, incremental, objective):
        super()._record(result, optimizer, incremental, objective)
        self._transform_layer = int(self.transform_layer)
        self._n_features_out = self.module_.layer_sizes[self._transform_layer]

    # ---------------------------------------------------------------- inference
    def transform(self, X):
        """Encode X as the posterior mean of layer ``transform_layer``.

        The layer that inference reaches first (z_1 bottom-up, z_L top-down) has a
        Gaussian posterior: its mean is exact. Another layer's posterior is a mixture
        over the layers inferred before it (bottom-up, q(z_l | x) =
        E_{q(z_{l-1} | x)}[q(z_l | z_{l-1})]), not a Gaussian; its mean is estimated
        with the fixed draws of ``score_samples``, so it is deterministic and the same
        whatever batch a row comes in.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components[transform_layer])
        """
        X = self._validate_X(X)
        state = self._fitted()
        layer = state["_transform_layer"]
        module = state["module_"]
        n_out = module.layer_sizes[layer]
        if layer == 0 and not module.top_down:
            Z = self._map_rows(X, lambda m, x, c: m.encode_mean(x), n_out, X.dtype,
                               state=state)
        else:
            n_draws = score_draws(module.n_components)

            def mean(m, x, c):
                noise = score_noise(n_draws, m.n_components, x.dtype, x.device)
                with torch.inference_mode():
                    means = m.upward(x, noise)[0][layer].mean
                # A layer inferred before any draw has no draws axis: its mean is exact.
                return means.mean(dim=0) if means.dim() == 3 else means

            Z = self._map_rows(X, mean, n_out, X.dtype, n_draws, state=state)
        return check_result(Z, type(self).__name__, "transform", X)

    def _latent_width(self):
        return self.module_.layer_sizes[self._transform_layer]

    def _decode_mean(self, Z, C, dtype):
        """Decoder means from rows of layer ``transform_layer``, through the means of
        the conditionals p(z_l | z_{l+1}) below it."""
        layer = self._transform_layer
        return self._map_rows(Z, lambda m, z, c: m.decode_from(z, layer), self._n_columns,
                              dtype, latent=True)
