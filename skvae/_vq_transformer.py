"""VQVAETransformer: a vector-quantised autoencoder with a learned prior over its codes."""

# License: BSD 3 clause

from numbers import Real

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._estimator import _Estimator
from ._noise import draw_seed
from ._persistence import register_estimator
from ._sampling import draw
from ._sklearn_compat import Count, Interval, RegistryOptions, StrOptions, _fit_context
from ._validation import (
    check_n_samples,
    check_result,
    check_sample_memory,
    validated,
    validated_latent,
)
from ._vq_module import VQVAEModule
from ._vq_objective import VQObjective
from .likelihoods import LIKELIHOODS, Likelihood

#: Elements of sampled rows drawn at once.
_SAMPLE_ELEMENTS = 2**23


@register_estimator
class VQVAETransformer(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _Estimator):
    """Vector-quantised VAE (VQ-VAE): X -> nearest codes of a learned codebook.

    An MLP encoder maps each row to ``n_positions`` vectors of size ``embedding_dim``;
    each is replaced by the nearest of ``n_codes`` code vectors; an MLP decoder gives
    the likelihood p(x | codes). Training uses the straight-through gradient, a
    commitment loss of weight ``beta``, moving-average codebook updates (``decay``) and
    restarts codes that no row chose during an epoch at random encoder outputs. A
    prior over the codes, autoregressive over the positions (a masked MLP, MADE), is
    trained jointly on the (detached) codes, so :meth:`sample` draws codes, then rows.

    ``transform`` returns the code vectors, flattened (deterministic);
    :meth:`transform_codes` the code indices. With ``n_top_positions`` > 0 a second,
    coarser level of codes (VQ-VAE-2) comes first in both. ``score_samples`` is
    ``log p(x | e(c(x))) + log p(c(x))``, the log joint probability of the row and the
    codes the encoder picks, in nats for X in its own units: a lower bound on log p(x)
    of the generative model ``p(x) = sum_c p(c) p(x | e(c))``, one of the terms of
    that sum. It is not an ELBO (the posterior is a point mass), and it is comparable
    with ``PCA.score`` and :meth:`VAETransformer.score` as a bound on the same thing.

    Parameters
    ----------
    n_positions : int, default=8
        Code vectors per row; a row is stored in ``n_positions * log2(n_codes)`` bits
        (``(n_top_positions + n_positions) * log2(n_codes)`` with a top level).
    n_codes : int, default=32
        Size of the codebook.
    embedding_dim : int, default=8
        Size of each code vector.
    hidden_layer_sizes : tuple of int, default=(128, 128)
        Widths of the encoder's hidden layers; the decoder mirrors them.
    prior_layer_sizes : tuple of int, default=(256,)
        Hidden widths of the prior's masked MLP; ``()`` for logits linear in the codes
        of the earlier positions.
    n_top_positions : int, default=0
        Code vectors of a second, top level (VQ-VAE-2, usually fewer than
        ``n_positions``): quantised in a codebook of their own from the encoder's
        features, they condition the bottom level's encoder, the decoder, and the
        prior of the bottom codes (the prior runs over the top positions first). 0 for
        a single level.
    likelihood : str or Likelihood, default="gaussian"
        Noise model p(x | codes), as in :class:`VAETransformer`.
    beta : float, default=0.25
        Weight of the commitment loss (van den Oord et al. use 0.25).
    decay : float, default=0.99
        Decay of the codebook's moving averages, in [0, 1).
    batch_size : int or "auto", default="auto"
        As in :class:`VAETransformer`.
    learning_rate : {"adaptive", "constant"}, default="adaptive"
        As in :class:`VAETransformer`.
    learning_rate_init : float, default=1e-3
    max_iter : int, default=1000
    tol : float, default=1e-4
    n_iter_no_change : int, default=40
    early_stopping : bool or "auto", default="auto"
        As in :class:`VAETransformer`, on the held-out ``score``.
    validation_fraction : float, default=0.1
    device : str or torch.device, default="auto"
    random_state : int, RandomState instance or None, default=None
    verbose : int, default=0
    warm_start : bool, default=False

    Attributes
    ----------
    module_ : skvae._vq_module.VQVAEModule
        The trained torch module.
    likelihood_ : Likelihood
    codebook_ : ndarray of shape (n_codes, embedding_dim)
        The code vectors of the bottom level.
    perplexity_curve_ : list of float
        Codebook perplexity of each epoch (bottom level): ``exp`` of the entropy of the
        codes' use, from 1 (one code used) to ``n_codes`` (all used equally).
    dead_codes_curve_ : list of int
        Codes that no training row chose during each epoch (restarted after it), over
        all levels.
    perplexity_ : float
        Codebook perplexity of the final model on the training rows (bottom level).
    top_perplexity_ : float or None
        The same for the top level; None with one level.
    n_dead_codes_ : int
        Codes (of any level) the final model gives no training row.
    n_iter_, loss_curve_, best_loss_, validation_scores_, best_validation_score_, converged_
        As in :class:`VAETransformer`; the loss is the negative score plus ``beta``
        times the commitment term.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)

    See Also
    --------
    VAETransformer : Continuous latent space, Gaussian posterior.

    References
    ----------
    .. [1] van den Oord, A., O. Vinyals and K. Kavukcuoglu, "Neural Discrete
       Representation Learning", NeurIPS 2017.
    .. [2] Germain, M., K. Gregor, I. Murray and H. Larochelle, "MADE: Masked
       Autoencoder for Distribution Estimation", ICML 2015.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VQVAETransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> vq = VQVAETransformer(n_positions=4, n_codes=16, max_iter=3, random_state=0)
    >>> vq.fit_transform(X / 16).shape
    (1797, 32)
    >>> vq.transform_codes(X[:2] / 16).shape
    (2, 4)
    >>> vq.sample(3, random_state=0).shape
    (3, 64)
    """

    _parameter_constraints = {
        **{k: v for k, v in _Estimator._parameter_constraints.items()
           if k not in ("n_components", "prior", "posterior")},
        "n_positions": [Count(1)],
        "n_codes": [Count(1)],
        "embedding_dim": [Count(1)],
        "prior_layer_sizes": ["array-like"],
        "n_top_positions": [Count(0)],
        "likelihood": [RegistryOptions(LIKELIHOODS), Likelihood],
        "decay": [Interval(Real, 0, 1, closed="left")],
        "learning_rate": [StrOptions({"adaptive", "constant"})],
    }

    _module_class = VQVAEModule

    _fitted_attributes = _Estimator._fitted_attributes | {
        "perplexity_curve_", "dead_codes_curve_", "perplexity_", "top_perplexity_",
        "n_dead_codes_"}

    def __init__(self, n_positions=8, *, n_codes=32, embedding_dim=8,
                 hidden_layer_sizes=(128, 128), prior_layer_sizes=(256,), n_top_positions=0,
                 likelihood="gaussian", beta=0.25, decay=0.99, batch_size="auto",
                 learning_rate="adaptive", learning_rate_init=1e-3, max_iter=1000, tol=1e-4,
                 n_iter_no_change=40, early_stopping="auto", validation_fraction=0.1,
                 device="auto", random_state=None, verbose=0, warm_start=False):
        self.n_positions = n_positions
        self.n_codes = n_codes
        self.embedding_dim = embedding_dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.prior_layer_sizes = prior_layer_sizes
        self.n_top_positions = n_top_positions
        self.likelihood = likelihood
        self.beta = beta
        self.decay = decay
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.max_iter = max_iter
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the VQ-VAE and its code prior to X for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the loss and in the codebook's moving averages.

        Returns
        -------
        self : object
        """
        return self._fit_from(X, y, incremental=False, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Train for one epoch over X, starting from the current weights and codebook.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._fit_from(X, y, incremental=True, sample_weight=sample_weight)

    def _validate_fit_input(self, X, y, *, reset, ensure_min_samples, **_):
        return validated(self, X, reset=reset, ensure_min_samples=ensure_min_samples), None

    def _resolve_prior(self):
        return None  # the code prior is part of the module, not a swappable part

    def _resolve_posterior(self):
        return None

    def _module_config_for(self, X, likelihood):
        return {"n_features": X.shape[1], "n_positions": int(self.n_positions),
                "embedding_dim": int(self.embedding_dim), "n_codes": int(self.n_codes),
                "hidden_layer_sizes": self._hidden_layer_sizes(),
                "prior_layer_sizes": _sizes(self.prior_layer_sizes, "prior_layer_sizes"),
                "n_top_positions": int(self.n_top_positions)}

    def _objective(self, module, X, targets, weights=None):
        train_rows, val_rows = self._split(X, targets, weights)
        continued = self.n_iter_ > 0  # a warm start or partial_fit continues the curves
        return VQObjective(
            module, self._place(train_rows), self._place(val_rows), self._new_generator(),
            self._standardizer, beta=self.beta, decay=self.decay,
            perplexity_curve=self.perplexity_curve_ if continued else [],
            dead_codes_curve=self.dead_codes_curve_ if continued else [])

    # ---------------------------------------------------------------- inference
    @property
    def codebook_(self):
        """The code vectors, ndarray of shape (n_codes, embedding_dim)."""
        check_is_fitted(self, "module_")
        return self.module_.codebook.embeddings.detach().cpu().numpy().astype(np.float64)

    def transform(self, X):
        """The code vectors of X's nearest codes, flattened position after position.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, (n_top_positions + n_positions) * embedding_dim)
            In the dtype of X (float32 stays float32, anything else becomes float64).
        """
        X = self._validate_X(X)
        Z = self._map_rows(X, lambda m, x, c: m.quantise(x), self.module_.n_components,
                           X.dtype)
        return check_result(Z, type(self).__name__, "transform", X)

    def transform_codes(self, X):
        """Index of the nearest code at every position (top level first).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        codes : ndarray of shape (n_samples, n_top_positions + n_positions), int
        """
        X = self._validate_X(X)
        module = self.module_
        codes = self._map_rows(X, lambda m, x, c: m.codes(x),
                               module.n_top_positions + module.n_positions, np.float64)
        return codes.astype(np.intp)

    def embed_codes(self, codes):
        """The flattened code vectors of code indices, the inverse of :meth:`transform_codes`
        up to quantisation: ``inverse_transform(embed_codes(c))`` decodes codes ``c``.

        Parameters
        ----------
        codes : array-like of shape (n_samples, n_top_positions + n_positions), int

        Returns
        -------
        Z : ndarray of shape (n_samples, (n_top_positions + n_positions) * embedding_dim)
        """
        check_is_fitted(self, "module_")
        module = self.module_
        codes = _checked_codes(codes, module.n_top_positions + module.n_positions,
                               module.codebook.n_codes)
        with torch.no_grad():
            Z = module.embed(torch.as_tensor(codes, dtype=torch.long, device=self._device))
        return Z.cpu().numpy().astype(np.float64)

    def inverse_transform(self, X):
        """Decode flattened code vectors to the mean of p(x | z), in the units of X.

        Parameters
        ----------
        X : array-like of shape (n_samples, (n_top_positions + n_positions) * embedding_dim)
            E.g. the output of :meth:`transform` or :meth:`embed_codes`; decoded as
            given, without snapping to the nearest codes.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
        """
        check_is_fitted(self)
        Z = validated_latent(self, X)
        mean = self._map_rows(Z, lambda m, z, c: m.decode(z).mean, self._n_columns, Z.dtype,
                              latent=True)
        X_original = self._standardizer.inverse(mean).astype(Z.dtype, copy=False)
        return check_result(X_original, type(self).__name__, "inverse_transform", Z)

    def score_samples(self, X):
        """``log p(x | e(c(x))) + log p(c(x))`` per row, in nats, for X in its own units.

        The log joint probability of a row and the codes the encoder picks for it: a
        lower bound on the log-likelihood of the generative model (prior over codes,
        then decoder). Deterministic and computed in float64, so a row's value does not
        depend on the batch it comes in.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64
        """
        X = self._validate_X(X)
        log_jacobian_rows = self._standardizer.log_jacobian_rows
        scores = self._map_rows(X, lambda m, x, c: m.log_joint(x) + log_jacobian_rows(x), 1,
                                np.float64)[:, 0]
        return check_result(scores, type(self).__name__, "score_samples", X, X.dtype)

    def sample_codes(self, n_samples=1, random_state=None):
        """Code rows drawn from the learned prior.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            As in :meth:`sample`.

        Returns
        -------
        codes : ndarray of shape (n_samples, n_top_positions + n_positions), int
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples)
        generator = self._sample_generator(random_state)
        return self.module_.code_prior.sample(n_samples, generator).cpu().numpy().astype(np.intp)

    def sample(self, n_samples=1, random_state=None):
        """Draw rows from the generative model: codes from the prior, then x ~ p(x | codes).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            None draws fresh samples on each call; an int makes them reproducible. The
            draws come from a ``torch.Generator`` of this call only.

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples)
        check_sample_memory(type(self).__name__, n_samples, self._n_columns)
        module, generator = self.module_, self._sample_generator(random_state)
        rows = max(1, _SAMPLE_ELEMENTS // self._n_columns)
        drawn = np.empty((n_samples, self._n_columns))
        with torch.no_grad():
            for start in range(0, n_samples, rows):
                codes = module.code_prior.sample(min(rows, n_samples - start), generator)
                z = module.embed(codes)
                drawn[start:start + len(z)] = draw(module.decode(z), generator).cpu().numpy()
        return self._standardizer.inverse(drawn)

    def _sample_generator(self, random_state):
        seed = draw_seed(check_random_state(random_state))
        return torch.Generator(device=self._device).manual_seed(seed)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags


def _sizes(sizes, name):
    """A tuple of positive ints from ``sizes`` (an int or a sequence), or a ValueError."""
    sizes = [sizes] if isinstance(sizes, (int, np.integer)) else list(sizes)
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, (bool, np.bool_))
               and s >= 1 for s in sizes):
        raise ValueError(f"{name} must hold positive integers, got {sizes!r}.")
    return tuple(int(s) for s in sizes)


def _checked_codes(codes, n_positions, n_codes):
    """``codes`` as an int matrix of valid indices, or a ValueError saying what is wrong."""
    codes = np.asarray(codes)
    if codes.ndim != 2 or codes.shape[1] != n_positions:
        raise ValueError(f"codes must have shape (n_samples, {n_positions}), got "
                         f"{codes.shape}.")
    if not (np.issubdtype(codes.dtype, np.integer)
            or (np.issubdtype(codes.dtype, np.floating) and np.all(np.mod(codes, 1) == 0))):
        raise ValueError(f"codes must be integers, got dtype {codes.dtype}.")
    if codes.size and (codes.min() < 0 or codes.max() >= n_codes):
        raise ValueError(f"codes must lie in [0, {n_codes - 1}], got values from "
                         f"{codes.min()} to {codes.max()}.")
    return codes.astype(np.intp)
