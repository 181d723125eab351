"""``_BaseVAE``: what every VAE estimator answers once fitted.

``transform``, ``inverse_transform``, ``score_samples``, ``score``, ``log_likelihood``
and ``sample``, on the fit skeleton of :class:`skvae._estimator._Estimator`; the
subclasses (VAETransformer, VAEGenerator) add mixins and defaults. The maths lives in
``_module.py``, the objective in ``_objectives.py``, the parts in ``likelihoods.py``,
``priors.py`` and ``posteriors.py``.
"""

# License: BSD 3 clause

from numbers import Real

import numpy as np
import torch
from sklearn.base import ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._device import resolve_device
from ._estimator import _Estimator
from ._module import VAEModule
from ._noise import draw_seed, score_draws, score_noise
from ._objectives import ELBOObjective, elbo
from ._sampling import draw
from ._sklearn_compat import Count, Interval, RegistryOptions, StrOptions, _fit_context
from ._validation import (
    check_n_samples,
    check_result,
    check_sample_memory,
    validated,
    validated_latent,
)
from .exceptions import InconsistentVersionWarning
from .networks import NETWORKS, MLPNetwork, Network, get_network

__all__ = ["InconsistentVersionWarning", "_BaseVAE", "resolve_device"]

#: Importance samples of :meth:`_BaseVAE.log_likelihood` evaluated together.
_IWAE_BLOCK = 128

#: Elements of sampled rows drawn at once.
_SAMPLE_ELEMENTS = 2**23

#: Bytes per element of a block of sampled rows for its temporaries (latents, decoder
#: layers, distribution parameters and draws), a generous count for the memory check.
_SAMPLE_BLOCK_BYTES_PER_ELEMENT = 64


def constraints_without_network(constraints):
    """``constraints`` less ``network``, for a family that takes no network."""
    return {key: value for key, value in constraints.items() if key != "network"}


class _BaseVAE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, _Estimator):
    """Shared machinery of the VAE estimators; not meant to be used directly."""

    _parameter_constraints = {
        **_Estimator._parameter_constraints,
        "kl_warmup": [Count(0)],
        "free_bits": [Interval(Real, 0, None, closed="left")],
        "learning_rate": [StrOptions({"adaptive", "constant"})],
        "network": [RegistryOptions(NETWORKS), Network],
    }

    _module_class = VAEModule

    _fitted_attributes = _Estimator._fitted_attributes | {"n_active_components_", "network_"}

    def __init__(
        self,
        n_components=2,
        *,
        hidden_layer_sizes=(128, 128),
        likelihood="gaussian",
        prior="normal",
        posterior="diagonal",
        beta=1.0,
        kl_warmup=0,
        free_bits=0.0,
        batch_size="auto",
        learning_rate="adaptive",
        learning_rate_init=1e-3,
        max_iter=1000,
        tol=1e-4,
        n_iter_no_change=40,
        early_stopping="auto",
        validation_fraction=0.1,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
        network="mlp",
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.likelihood = likelihood
        self.prior = prior
        self.posterior = posterior
        self.beta = beta
        self.kl_warmup = kl_warmup
        self.free_bits = free_bits
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
        if self._has_network():  # a family that builds a module of its own takes none
            self.network = network

    # ------------------------------------------------------------------ fitting
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the VAE to X for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows in the training loss, a weighted mean of the rows'
            negative ELBO (and in the validation score of early stopping). A row of
            weight 0 is left out as if it had not been passed; integer weights act like
            repeated rows, up to the randomness of the minibatches. The standardisation
            of the columns is fitted on the rows of positive weight, unweighted.

        Returns
        -------
        self : object
            The fitted estimator.

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C. After the first epoch the estimator first keeps the best weights
            seen so far and is fitted with them; the interrupt then reaches the caller,
            so a script or a search (GridSearchCV, cross_val_score) stops too.
        """
        return self._fit_from(X, y, incremental=False, sample_weight=sample_weight)

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None, sample_weight=None):
        """Train for one epoch over X, starting from the current weights.

        The first call fixes the standardisation of the columns from its X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the rows, as in ``fit``.

        Returns
        -------
        self : object

        Raises
        ------
        KeyboardInterrupt
            On Ctrl-C, which interrupts the call's one epoch: the model is left as it
            was before the call.
        """
        return self._fit_from(X, y, incremental=True, sample_weight=sample_weight)

    def _validate_fit_input(self, X, y, *, reset, ensure_min_samples, **_):
        """Training matrix and condition matrix (None: unconditional); y is ignored here."""
        X = validated(self, X, reset=reset, ensure_min_samples=ensure_min_samples)
        return X, None

    def _n_conditions(self):
        """Width of the condition fed to encoder and decoder (0: unconditional)."""
        return 0

    def _module_config_for(self, X, likelihood):
        return {"n_features": X.shape[1], "n_components": int(self.n_components),
                "hidden_layer_sizes": self._hidden_layer_sizes(),
                "n_conditions": self._n_conditions(),
                "impute_missing": bool(getattr(likelihood, "handles_missing", False)),
                **self._network().module_config(X.shape[1])}

    def _network(self):
        """The network asked for; the MLP for a family that takes no network."""
        return get_network(self.network) if self._has_network() else MLPNetwork()

    @classmethod
    def _has_network(cls):
        """Whether this family takes ``network``; one with a module of its own (the
        hierarchy, the imputer) does not, and builds ``_module_class``."""
        return "network" in cls._get_param_names()

    def _fresh_state(self, X):
        if not self._has_network():
            return super()._fresh_state(X)
        # The network first: the module class and its config depend on it.
        self.network_ = self._network().resolved(X.shape[1])
        return {**super()._fresh_state(X), "network_": self.network_}

    def _module_type(self, config):
        """The module the fitted network builds (a model saved before networks: MLP)."""
        if not self._has_network():
            return self._module_class
        return self.__dict__.get("network_", MLPNetwork()).module_class()

    def _objective(self, module, X, C, weights=None):
        """The (conditional) VAE's ELBO objective over the training rows of X."""
        C = None if C is None else C.astype(np.float32)
        train_rows, val_rows = self._split(X, C, weights)
        return ELBOObjective(module, self._place(train_rows), self._place(val_rows),
                             self._new_generator(), self._standardizer, beta=self.beta,
                             kl_warmup=self.kl_warmup, free_bits=self.free_bits,
                             start_epoch=self.n_iter_)

    # ---------------------------------------------------------------- inference
    def transform(self, X):
        """Encode X as the mean of the posterior q(z | x).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        Z : ndarray of shape (n_samples, n_components)
            In the dtype of X (float32 stays float32, anything else becomes float64).
        """
        X = self._validate_X(X)
        state = self._fitted()
        Z = self._map_rows(X, lambda m, x, c: m.encode_mean(x, c),
                           state["module_"].n_components, X.dtype, state=state)
        return check_result(Z, type(self).__name__, "transform", X)

    def inverse_transform(self, X):
        """Decode latent rows to the mean of p(x | z), in the units of the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_components)
            Latent coordinates, e.g. the output of :meth:`transform`.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
        """
        check_is_fitted(self)
        Z = validated_latent(self, X, self._latent_width())
        mean = self._decode_mean(Z, None, Z.dtype)
        X_original = self._standardizer.inverse(mean).astype(Z.dtype, copy=False)
        return check_result(X_original, type(self).__name__, "inverse_transform", Z)

    def _latent_width(self):
        """Columns of the latent rows ``inverse_transform`` takes."""
        return self.module_.n_components

    def _decode_mean(self, Z, C, dtype):
        """Decoder means of latent rows Z (conditions C or None), standardised units."""
        return self._map_rows(Z, lambda m, z, c: m.decode(z, c).mean, self._n_columns,
                              dtype, C=C, latent=True)

    def score_samples(self, X):
        """ELBO of each row: a lower bound on log p(x), in nats, for X in its own units.

        The expectation over q(z | x) uses fixed draws (``score_draws``: 16 for up
        to 7 latent dimensions, more above; scrambled Sobol points and their negatives,
        moment-matched to N(0, I), see ``score_noise``), the KL term is in closed
        form where it has one, and everything is computed in float64: a row's score does
        not depend on the batch or order it comes in.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        scores : ndarray of shape (n_samples,), float64
        """
        X = self._validate_X(X)
        return check_result(self._score_rows(X), type(self).__name__, "score_samples", X,
                            X.dtype)

    def _score_rows(self, X, C=None):
        state = self._fitted()
        n_draws = score_draws(state["module_"].n_components)
        log_jacobian_rows = state["_standardizer"].log_jacobian_rows

        def score(m, x, c):
            return elbo(m, x, n_draws, c) + log_jacobian_rows(x)

        return self._map_rows(X, score, 1, np.float64, n_draws, C, state=state)[:, 0]

    def log_likelihood(self, X, n_samples=1000):
        """Importance-sampled (IWAE) estimate of log p(x) per row, in nats.

        ``log mean_k p(x, z_k) / q(z_k | x)`` over ``n_samples`` draws from the
        posterior: a lower bound on log p(x) that is at least the ELBO in expectation
        and tightens as ``n_samples`` grows. Rows and draws are evaluated together in
        blocks (not row by row); the draws are fixed (as in ``score_noise``), so a
        row's value does not depend on the batch it comes in. Computed in float64.

        Parameters
        ----------
        X : array-like of shape (n_samples_X, n_features)
        n_samples : int, default=1000
            Importance samples per row.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples_X,)
        """
        n_samples = check_n_samples(n_samples)
        check_is_fitted(self)
        if self._module_config.get("n_conditions"):
            raise ValueError(
                f"log_likelihood is not available for a {type(self).__name__} fitted with "
                "y (it takes no labels); use score_samples(X, y), the ELBO given the labels."
            )
        X = self._validate_X(X)
        # The same kind of shared, moment-matched quasi-random draws as score_samples:
        # each draw is still marginally N(0, I), so the bound holds in expectation, and
        # their error does not shift every row the same way.
        noise = score_noise(2 * ((n_samples + 1) // 2), self.module_.n_components)[:n_samples]

        def iwae(module, x, c):
            blocks = [module.log_weights(x, noise[k : k + _IWAE_BLOCK].to(x.device), c)
                      for k in range(0, n_samples, _IWAE_BLOCK)]
            log_mean = torch.logsumexp(torch.cat(blocks), dim=0) - np.log(n_samples)
            return log_mean + self._standardizer.log_jacobian_rows(x)

        cost = min(n_samples, _IWAE_BLOCK)
        return check_result(self._map_rows(X, iwae, 1, np.float64, cost)[:, 0],
                            type(self).__name__, "log_likelihood", X, X.dtype)

    def sample(self, n_samples=1, random_state=None):
        """Draw rows from the generative model: z ~ p(z), then x ~ p(x | z).

        Parameters
        ----------
        n_samples : int, default=1
            A request whose rows would not fit in the available memory raises a
            ValueError: draw such numbers in smaller batches.
        random_state : int, RandomState instance or None, default=None
            None draws fresh samples on each call (from numpy's global RNG, as
            :meth:`sklearn.neighbors.KernelDensity.sample`); an int makes them
            reproducible, from any thread. The draws come from a ``torch.Generator``
            of this call only: torch's global RNG is neither read nor changed.

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples)
        return self._sample_rows(n_samples, draw_seed(check_random_state(random_state)))

    def _sample_rows(self, n_samples, seed, C=None):
        """Rows from the generative model in the training units, as a float64 matrix.

        Every draw comes from a generator seeded with ``seed``
        (:func:`skvae._sampling.draw`), block after block of rows.
        """
        state = self._fitted()
        n_columns, device = state["_n_columns"], state["_device"]
        check_sample_memory(type(self).__name__, n_samples, n_columns,
                            _SAMPLE_ELEMENTS * _SAMPLE_BLOCK_BYTES_PER_ELEMENT)
        module = self._module_in(torch.float32, state)
        generator = torch.Generator(device=device).manual_seed(seed)
        rows = max(1, _SAMPLE_ELEMENTS // n_columns)
        drawn = np.empty((n_samples, n_columns))
        with torch.no_grad():
            for start in range(0, n_samples, rows):
                stop = min(n_samples, start + rows)
                z = draw(module.sampling_distribution(), generator, (stop - start,))
                c = None if C is None else torch.as_tensor(C[start:stop], dtype=z.dtype,
                                                           device=z.device)
                drawn[start:stop] = draw(module.decode(z, c), generator).cpu().numpy()
        drawn = state["_standardizer"].inverse(drawn)
        if not np.isfinite(drawn).all():  # the training scale made them overflow
            raise ValueError(
                f"{type(self).__name__}.sample drew values that overflow float64: the "
                f"training data's columns reach a scale of "
                f"{np.max(state['_standardizer'].scale):g}. Rescale the training data."
            )
        return drawn

    # -------------------------------------------------------------------- state
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
