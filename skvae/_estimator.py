"""The shared base of every skvae estimator: the fit skeleton and the fitted state.

:class:`_Estimator` owns what every model family does the same way: parameter checks,
fitting on a copy published at the end, sample weights, device and dtype, the optimiser
and its state, the call of the training loop, recording its results, divergence and
out-of-memory advice, warm start and ``partial_fit``, inference in blocks, pickling. A
family provides

- ``_module_class`` and ``_module_config_for(X, likelihood)``: which torch module, built
  from what (plain values; a saved model stores them); ``_module_type(config)`` when
  the class depends on the config;
- ``_validate_fit_input(X, y, ...)``: the training matrix and its targets;
- ``_objective(module, X, targets, weights=None)``: what to train
  (:mod:`skvae._objectives`), with the rows' weights of a weighted fit;
- optionally ``_divergence_advice()``, ``_resolve_likelihood(X)``, ``_after_fit()``.

See the developer page "Adding a model family" for a worked example.
"""

# License: BSD 3 clause

import copy
import numbers
import warnings
from numbers import Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._device import is_out_of_memory, loadable_device, release_memory, resolve_device
from ._inference import block_rows, float64_twin, in_blocks
from ._module import build_module
from ._noise import draw_seed
from ._sklearn_compat import Count, Interval, RegistryOptions, StrOptions
from ._standardize import Standardizer
from ._training import (
    STALE_OPTIMIZER_STATE, TrainConfig, adam, fits_groups, n_rows, to_device, train,
)
from ._validation import check_weights, fit_weights, validated
from ._version import __version__
from .exceptions import InconsistentVersionWarning, NonFiniteLossError
from .likelihoods import LIKELIHOODS, Likelihood, get_likelihood
from .posteriors import POSTERIORS, Posterior, get_posterior
from .priors import PRIORS, Prior, get_prior


#: Validation rows ``early_stopping="auto"`` needs before it holds any out: on fewer, a
#: validation score is too noisy to stop on, and the rows are worth more in training.
AUTO_VALIDATION_ROWS = 10


#: Plateaus ``learning_rate="adaptive"`` answers by restoring the best weights and
#: dividing the learning rate by 1 / :data:`LR_FACTOR`; the next plateau stops training.
LR_REDUCTIONS = 2

#: Factor of the learning rate at each reduction.
LR_FACTOR = 0.2

#: Nats per sample by which the best epoch's loss must exceed the untrained model's
#: (and by more than that loss's magnitude) for a fit to warn that it diverged.
DIVERGENCE_NATS = 10.0


class _Estimator(BaseEstimator):
    """Fit skeleton and fitted state shared by the skvae estimators; not used directly."""

    _parameter_constraints = {
        "n_components": [Count(1)],
        "hidden_layer_sizes": ["array-like"],
        "likelihood": [RegistryOptions(LIKELIHOODS), Likelihood],
        "prior": [RegistryOptions(PRIORS), Prior],
        "posterior": [RegistryOptions(POSTERIORS), Posterior],
        "beta": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Count(1)],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Count(1)],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Count(1)],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

    #: The torch module class of the family (a class of skvae._module.MODULES).
    _module_class = None

    #: Every attribute a fit may leave on the instance besides the parameters: what
    #: :func:`skvae.save` writes and :func:`skvae.load` accepts. A family that keeps more
    #: adds its names (tests/test_persistence_safe.py fits every class to check).
    _fitted_attributes = frozenset({
        "module_", "_module_config", "_module64", "_device", "_validating",
        "likelihood_", "prior_", "posterior_", "_standardizer", "_n_columns", "_rng",
        "_optimizer_state", "_n_features_out", "loss_curve_", "n_iter_", "converged_",
        "validation_scores_", "best_validation_score_", "best_loss_",
        "n_features_in_", "feature_names_in_",  # set by validate_data
        "_sklearn_output_config",  # set by set_output
    })

    #: The schedule of estimators that do not take ``learning_rate`` as a parameter.
    learning_rate = "constant"

    # ------------------------------------------------------------------ fitting
    def _fit_from(self, X, y, *, incremental, sample_weight=None, **kwargs):
        """The body of ``fit`` (``incremental=False``) and ``partial_fit``.

        The fit works on a copy of the estimator's attributes and publishes it in one
        step at the end (:meth:`_publish`): a failed call leaves a previously fitted
        model exactly as it was, and a thread reading the model meanwhile sees the old
        model or the new one, never a half-trained one. A Ctrl-C after the first epoch
        publishes the best weights so far as a fitted model, then raises
        KeyboardInterrupt, so that the caller (a script, a GridSearchCV) stops too.
        ``sample_weight`` is resolved by :func:`skvae._validation.fit_weights`.
        """
        if incremental and self.early_stopping is True:
            raise ValueError("partial_fit does not support early_stopping=True.")
        fitted = hasattr(self, "module_")
        warm = fitted if incremental else (self.warm_start and fitted)
        X, y, weights = fit_weights(X, y, sample_weight)
        work = self._working_copy()
        X, targets = work._validate_fit_input(
            X, y, reset=not warm, ensure_min_samples=1 if incremental else 2,
            warm=warm, incremental=incremental, **kwargs)
        result = work._fit(X, targets, weights, warm=warm, incremental=incremental)
        self._publish(work)
        if result.interrupted:
            raise KeyboardInterrupt(
                f"{type(self).__name__} training interrupted after "
                f"{len(result.losses)} epochs; the estimator keeps the best weights seen "
                "so far and is fitted."
            )
        return self

    def _working_copy(self):
        """A new estimator sharing this one's attribute objects, to fit on.

        Fitting replaces attributes and never changes their objects in place (module,
        RNG and optimiser state are copied first), so this estimator stays as it was.
        """
        work = object.__new__(type(self))
        work.__dict__.update(self.__dict__)
        return work

    def _publish(self, work):
        """Make the fitted state of ``work`` this estimator's, in one assignment.

        Readers take ``self.__dict__`` once (:meth:`_fitted`) and so see one model.
        Parameters set while the fit ran are kept; they take effect at the next fit.
        """
        state = work.__dict__
        state.update({name: self.__dict__[name] for name in self._get_param_names()
                      if name in self.__dict__})
        self.__dict__ = state

    def _fitted(self):
        """The fitted attributes as one consistent snapshot (a refit may publish meanwhile)."""
        return self.__dict__

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if type(sizes) is tuple and all(type(s) is int and s >= 1 for s in sizes):
            return sizes  # the common case, cheap
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        # bool is an Integral, but True is a slip, not a width of 1.
        if not all(isinstance(s, numbers.Integral) and not isinstance(s, (bool, np.bool_))
                   and s >= 1 for s in sizes):
            raise ValueError(
                "hidden_layer_sizes must hold positive integers (a bool is not a size), "
                f"got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _resolve_likelihood(self, X):
        return get_likelihood(self.likelihood)

    def _resolve_prior(self):
        """The fitted prior part; None for a family without one (e.g. VQ-VAE)."""
        return get_prior(self.prior)

    def _resolve_posterior(self):
        """The fitted posterior part; None for a family without one (e.g. VQ-VAE)."""
        return get_posterior(self.posterior)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            # About ten steps per epoch on small data (a VAE needs thousands of Adam
            # steps; MLPRegressor's min(200, n) gives too few), 200 rows on large data.
            return min(n_samples, max(32, min(200, n_samples // 10)))
        return min(self.batch_size, n_samples)

    def _fresh_state(self, X):
        """The fitted state a first fit starts from: parts, module, standardisation, RNG."""
        likelihood = self._resolve_likelihood(X)
        likelihood.check_support(X)
        prior = self._resolve_prior()
        posterior = self._resolve_posterior()
        rng = np.random.RandomState(check_random_state(self.random_state).randint(2**31 - 1))
        seed = draw_seed(rng)
        config = self._module_config_for(X, likelihood)
        module = build_module(self._module_type(config), config, likelihood, prior,
                              posterior, seed)
        standardizer = Standardizer.fit(X, likelihood)
        # e.g. the VampPrior's pseudo-inputs; a family may have no prior part at all
        if hasattr(getattr(module, "prior", None), "init_from_data"):
            module.prior.init_from_data(X.shape[0], lambda index: standardizer.rows(X, index),
                                        torch.Generator().manual_seed(seed))
        return dict(likelihood_=likelihood, prior_=prior, posterior_=posterior, _rng=rng,
                    module_=module, _module_config=config, _n_columns=X.shape[1],
                    _standardizer=standardizer, loss_curve_=[], n_iter_=0,
                    validation_scores_=[], _optimizer_state=None)

    def _warm_state(self, X):
        """The fitted state a warm start continues from: copies, never the objects in use."""
        self.likelihood_.check_support(X)
        self._check_same_architecture(X)
        return dict(_rng=copy.deepcopy(self._rng), module_=copy.deepcopy(self.module_),
                    loss_curve_=list(self.loss_curve_),
                    validation_scores_=list(self.validation_scores_ or []),
                    _optimizer_state=copy.deepcopy(self._optimizer_state))

    def _check_same_latent(self):
        """A ValueError when ``n_components`` differs from the fitted module's."""
        # A family without an n_components parameter (VQ-VAE) sizes its latent otherwise.
        n_components = self.get_params(deep=False).get("n_components")
        if n_components is not None and self.module_.n_components != n_components:
            raise ValueError(
                f"warm start needs n_components={self.module_.n_components} as in the "
                f"previous fit, got {n_components}."
            )

    def _check_same_architecture(self, X):
        """A ValueError when the parameters ask for another module than the fitted one."""
        self._check_same_latent()
        config = self._module_config_for(X, self.likelihood_)
        changed = [f"{key}: {self._module_config.get(key)!r} -> {config.get(key)!r}"
                   for key in {**self._module_config, **config}
                   if config.get(key) != self._module_config.get(key)]
        for name in ("prior", "posterior"):
            if getattr(self, f"{name}_") is None:  # a family without this part
                continue
            if _part_changed(getattr(self, name), getattr(self, f"{name}_")):
                changed.append(f"{name}: {getattr(self, f'{name}_')!r} -> "
                               f"{getattr(self, name)!r}")
        if changed:
            raise ValueError(
                "warm start continues the previous fit, whose architecture differs from "
                f"the parameters now ({'; '.join(changed)}): set them back, or set "
                "warm_start=False to fit a new model."
            )

    def _module_type(self, config):
        """The module class built from ``config``: the family's, unless a family builds
        several (e.g. by network)."""
        return self._module_class

    def _uses_validation(self, n_samples, incremental):
        """Whether this call holds out validation rows and stops on their score.

        ``early_stopping="auto"`` does so in ``fit`` when the validation set holds at
        least :data:`AUTO_VALIDATION_ROWS` rows, never in ``partial_fit``.
        """
        if self.early_stopping != "auto":
            return bool(self.early_stopping)
        n_val = int(np.ceil(self.validation_fraction * n_samples))
        return not incremental and n_val >= AUTO_VALIDATION_ROWS and n_val < n_samples

    def _fit(self, X, targets, weights, *, warm, incremental):
        """Train, record the fitted attributes and return the TrainingResult.

        ``weights`` (None, or one per row of X with mean 1) weight the rows' losses.
        """
        device = resolve_device(self.device)
        state = self._warm_state(X) if warm else self._fresh_state(X)
        self.__dict__.update(state)
        self._device = device
        self._validating = self._uses_validation(X.shape[0], incremental)
        module = self.module_.to(device)
        optimizer = adam(module, self.learning_rate_init)
        if incremental and self._optimizer_state is not None:
            if fits_groups(self._optimizer_state, module):
                optimizer.load_state_dict(self._optimizer_state)
            else:
                warnings.warn(STALE_OPTIMIZER_STATE, InconsistentVersionWarning)
        try:
            objective = (self._objective(module, X, targets) if weights is None
                         else self._objective(module, X, targets, weights=weights))
            result = train(module, objective, optimizer, objective.generator,
                           self._train_config(objective, incremental))
            # e.g. the two-stage prior; a family without a prior module (VQ-VAE) skips it
            if hasattr(getattr(module, "prior", None), "fit_to_codes"):
                self._fit_prior_to_codes(module, X, weights, device)
        except NonFiniteLossError as exc:
            raise NonFiniteLossError(
                f"{type(self).__name__}: {exc}. {self._divergence_advice()}"
            ) from None
        except (RuntimeError, MemoryError) as exc:  # torch.OutOfMemoryError included
            if not is_out_of_memory(exc):
                raise
            raise self._out_of_memory(device, exc) from exc
        check_weights(module, type(self).__name__)
        self._record(result, optimizer, incremental, objective)
        return result

    def _fit_prior_to_codes(self, module, X, weights, device):
        """Fit a prior fitted after the VAE (the two-stage prior) to the codes of X.

        The codes are one draw of q(z | x) per training row (rows of positive weight),
        from a generator seeded by the estimator's RNG.
        """
        if getattr(module, "n_conditions", 1) or not hasattr(module, "encode"):
            raise ValueError(
                f"{type(self).__name__}: the prior {self.prior_!r} is fitted to the codes "
                "of an unconditional VAE; this model is conditional or has no single "
                "latent layer."
            )
        rows = X if weights is None else X[np.asarray(weights) > 0]
        generator = self._new_generator()
        codes = np.empty((rows.shape[0], module.n_components), dtype=np.float32)
        step = 4096
        with torch.no_grad():
            for start in range(0, rows.shape[0], step):
                x = self._standardizer.to_tensor(rows[start : start + step], torch.float32,
                                                 device)
                q = module.encode(x)
                noise = torch.randn(x.shape[0], module.n_components, generator=generator,
                                    device=device)
                codes[start : start + step] = (
                    module.posterior.reparameterise(q, noise).cpu().numpy())
        module.prior.fit_to_codes(codes, draw_seed(self._rng), device)

    def _out_of_memory(self, device, exc):
        """The error for training that ran out of memory (``exc``), with advice.

        Retrying with smaller batches would silently change the fit: it says what to
        change instead (the previous model is kept, as after any failed fit). Device
        memory gives a ``torch.OutOfMemoryError``, host memory a MemoryError.
        """
        release_memory(device)
        sizes = (f"batch_size={self.batch_size!r} and hidden_layer_sizes="
                 f"{self._hidden_layer_sizes()}")
        if not isinstance(exc, torch.OutOfMemoryError):
            return MemoryError(
                f"{type(self).__name__}.fit ran out of host memory while training with "
                f"{sizes}: pass a smaller batch_size or hidden_layer_sizes, free memory "
                "(other programs, large arrays), or train on fewer rows at a time with "
                "partial_fit. A previously fitted model is unchanged."
            )
        return torch.OutOfMemoryError(
            f"{type(self).__name__}.fit ran out of memory on {device} while training "
            f"with {sizes}: pass a smaller batch_size or hidden_layer_sizes, free memory "
            "on the device, or use device='cpu'. A previously fitted model is unchanged."
        )

    def _new_generator(self):
        """The training generator, seeded from the estimator's RNG, on its device.

        Drawn after the validation split, so the draws come in the same order in
        every family.
        """
        return torch.Generator(device=self._device).manual_seed(draw_seed(self._rng))

    def _divergence_advice(self):
        return (f"Likely causes: a learning_rate_init too high for this data (got "
                f"{self.learning_rate_init}), features on very large or very different "
                "scales (standardise X or use likelihood='gaussian', which standardises "
                "internally), or values the likelihood cannot model.")

    def _train_config(self, objective, incremental):
        return TrainConfig(
            batch_size=self._batch_size(n_rows(objective.data)),
            max_iter=1 if incremental else self.max_iter,
            tol=self.tol, n_iter_no_change=self.n_iter_no_change,
            early_stopping=self._validating,
            loss_offset=-self._standardizer.log_jacobian(), verbose=self.verbose,
            description=type(self).__name__, stop_on_convergence=not incremental,
            warmup_epochs=objective.warmup_epochs,
            lr_reductions=LR_REDUCTIONS if self.learning_rate == "adaptive" else 0,
            lr_factor=LR_FACTOR,
        )

    def _split(self, X, targets, weights=None):
        """Training and (with early stopping) validation rows: standardised CPU tensors.

        Returns ``(x, t), (x_val, t_val)`` (the second None without early stopping),
        where ``t`` holds the rows of ``targets`` as a tensor (None when there are none).
        With ``weights``, each tuple gets a third entry, the rows' weights. Training rows
        keep their order; validation rows are drawn by the estimator's RNG.
        """
        t = None if targets is None else torch.as_tensor(targets)
        w = None if weights is None else torch.as_tensor(weights, dtype=torch.float32)
        if not self._validating:
            x = self._standardizer.to_tensor(X, torch.float32, "cpu", training=True)
            return _rows(x, t, w), None
        n_val = int(np.ceil(self.validation_fraction * X.shape[0]))
        if n_val < 2 or n_val >= X.shape[0]:
            raise ValueError(
                f"The validation set of {n_val} rows is too small or too large for "
                f"{X.shape[0]} samples; change validation_fraction or the data size."
            )
        order = torch.from_numpy(self._rng.permutation(X.shape[0]))
        train_rows, val_rows = self._order_split(order[n_val:], order[:n_val], targets)
        # Validation rows then training rows, gathered into one tensor whose two parts
        # are views: no second copy of the data.
        rows = torch.cat([val_rows, train_rows])
        data = self._standardizer.to_tensor(X, torch.float32, "cpu", training=True,
                                            rows=rows.numpy())
        t = None if t is None else t[rows]
        w = None if w is None else w[rows]
        return (_rows(data[n_val:], _tail(t, n_val), _tail(w, n_val)),
                _rows(data[:n_val], _head(t, n_val), _head(w, n_val)))

    def _order_split(self, train_rows, val_rows, targets):
        """The training and validation row indices, in the order the family wants."""
        return train_rows, val_rows

    def _place(self, rows):
        """Rows ``(x, t)`` on the training device (or streamed from host memory)."""
        return None if rows is None else to_device(rows, self._device)

    def _record(self, result, optimizer, incremental, objective):
        """Fitted attributes every skvae estimator keeps from a call of ``train``."""
        self.loss_curve_ = self.loss_curve_ + result.losses
        self.n_iter_ += len(result.losses)
        self._optimizer_state = optimizer.state_dict()
        self._n_features_out = self.module_.n_components
        self.converged_ = result.converged
        self._module64 = float64_twin(self.module_, self._device)
        if self._validating:
            self.validation_scores_ = self.validation_scores_ + result.validation_scores
            self.best_validation_score_ = max(self.validation_scores_)
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_) if self.loss_curve_ else None
        for name, value in objective.statistics().items():
            setattr(self, name, value)
        if _diverged(result):
            warnings.warn(
                f"{type(self).__name__}: training diverged: the training loss started at "
                f"{result.initial_loss:.4g} nats per sample (the untrained model) and "
                f"was at best {min(result.losses):.4g}. {self._divergence_advice()}",
                ConvergenceWarning,
            )
        elif not (incremental or result.converged or result.interrupted):
            warnings.warn(self._convergence_advice(), ConvergenceWarning)

    #: Whether the ConvergenceWarning may suggest early stopping (a family where it
    #: measured worse than a longer fit says so by setting this to False).
    _early_stopping_helps = True

    def _stopping_hints(self):
        """The ways besides a larger ``max_iter`` to make the fit stop by itself."""
        hints = []
        if getattr(self, "learning_rate", None) == "constant":
            hints.append("set learning_rate='adaptive' (each plateau lowers the rate until "
                         "the loss settles)")
        if self._early_stopping_helps:
            hints.append("set early_stopping='auto' to stop when held-out rows stop "
                         "improving (keeping the best epoch's weights)")
        return "".join(f", or {hint}" for hint in hints)

    def _convergence_advice(self):
        """The ConvergenceWarning's message: what stopped, and what to change."""
        if self._validating:
            advice = (f"The validation score was still improving by more than tol="
                      f"{self.tol:g} within n_iter_no_change={self.n_iter_no_change} "
                      "epochs: raise max_iter.")
        elif self.early_stopping == "auto":
            advice = (f"The training loss was still falling by more than tol={self.tol:g} "
                      f"within n_iter_no_change={self.n_iter_no_change} epochs: raise "
                      "max_iter (with so few rows, early_stopping='auto' held none out).")
        else:
            advice = (f"The training loss was still falling by more than tol={self.tol:g} "
                      f"within n_iter_no_change={self.n_iter_no_change} epochs: raise "
                      f"max_iter{self._stopping_hints()}.")
        return (f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached and "
                f"the optimization hasn't converged yet. {advice}")

    # ---------------------------------------------------------------- inference
    def score(self, X, y=None):
        """Mean of :meth:`score_samples`, in nats per sample.

        For the VAEs the mean ELBO, comparable with ``PCA.score``; each estimator's
        ``score_samples`` says what its value bounds.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        score : float
        """
        return float(np.mean(self.score_samples(X)))

    def _validate_X(self, X):
        if "module_" not in self.__dict__:  # check_is_fitted costs ~30 us per call
            check_is_fitted(self)
        if not self._is_plain_valid_array(X):
            X = validated(self, X, reset=False)
        self.likelihood_.check_support(X)
        return X

    def _is_plain_valid_array(self, X):
        """True for a finite float ndarray of the fitted width and no fitted column names.

        Such input passes ``validate_data`` unchanged, so it skips it: validation costs
        more than encoding a single row (the single-row latency path).
        """
        return (
            type(X) is np.ndarray
            and X.dtype in (np.float64, np.float32)
            and X.ndim == 2
            and X.shape[0] > 0
            and X.shape[1] == self.n_features_in_
            and not hasattr(self, "feature_names_in_")
            and _all_finite(X)
        )

    def _module_in(self, dtype, state=None):
        """The fitted module for inference in ``dtype``: ``module_`` or its float64 twin."""
        state = self._fitted() if state is None else state
        if dtype == torch.float64 and state["_module64"] is not None:
            return state["_module64"]
        return state["module_"]

    def _map_rows(self, X, fn, n_out, dtype, cost=1, C=None, latent=False, state=None):
        """Apply ``fn(module, x, c) -> tensor`` to row blocks of X; an ndarray of ``dtype``.

        ``x`` is the block standardised (or, with ``latent``, the latent rows as they
        are), ``c`` the matching block of the condition matrix ``C`` or None. The module
        computes in float64 for float64 ``dtype`` (through the float64 twin), so a
        row's result does not depend on the block it comes in; blocks hold ``cost``
        passes of the widest layer and are retried smaller when memory runs out.
        Everything comes from one snapshot of the fitted state (``state``, by default
        taken now), so a refit published meanwhile does not mix two models.
        """
        state = self._fitted() if state is None else state
        module = self._module_in(torch.float64 if dtype == np.float64 else torch.float32,
                                 state)
        # module_ trains in float32; only its twin is float64 (none on MPS).
        torch_dtype = torch.float64 if module is state["_module64"] else torch.float32
        device, standardizer = state["_device"], state["_standardizer"]
        # A convolutional module's feature maps are wider than any of these.
        width = max([X.shape[1], state["_n_columns"], module.n_components,
                     *state["_module_config"]["hidden_layer_sizes"],
                     getattr(module, "widest_activation", 0)])

        def block(start, stop):
            if latent:
                x = torch.as_tensor(X[start:stop], dtype=torch_dtype, device=device)
            else:
                x = standardizer.to_tensor(X[start:stop], torch_dtype, device)
            c = None if C is None else torch.as_tensor(C[start:stop], dtype=torch_dtype,
                                                       device=device)
            return fn(module, x, c).reshape(x.shape[0], n_out).cpu().numpy()

        out = np.empty((X.shape[0], n_out), dtype=dtype)
        return in_blocks(block, out, block_rows(width, cost), device, type(self).__name__)

    # -------------------------------------------------------------------- state
    def __getstate__(self):
        """The pickled state: tensors on the CPU (a GPU model loads anywhere), a version."""
        # object.__getstate__ returns the live __dict__ itself: copy before editing.
        state = dict(super().__getstate__())
        if "module_" in state:
            state["_module64"] = None  # rebuilt on load from module_
            state["module_"] = copy.deepcopy(self.module_).cpu()
            state["_optimizer_state"] = _to_cpu(state["_optimizer_state"])
        state["_skvae_version"] = __version__
        return state

    def __setstate__(self, state):
        version = state.pop("_skvae_version", None)
        if version != __version__:
            warnings.warn(
                f"This {type(self).__name__} was pickled with skvae {version} and is "
                f"loaded with skvae {__version__}; it may not work as before.",
                InconsistentVersionWarning,
            )
        super().__setstate__(state)
        if "module_" in state:
            # On a device this machine has; the float64 twin is rebuilt, not stored.
            self._device = loadable_device(self._device)
            self.module_.to(self._device)
            self._module64 = float64_twin(self.module_, self._device)


def _rows(x, t, w):
    """The rows ``(x, t)``, with their weights as a third entry when there are any.

    The weights are scaled to mean 1 over these rows, so that a loss of mean weighted
    rows is their weighted mean.
    """
    return (x, t) if w is None else (x, t, w / w.mean())


def _head(t, n):
    return None if t is None else t[:n]


def _tail(t, n):
    return None if t is None else t[n:]


def _diverged(result):
    """True when training made the loss far worse than the untrained model's.

    Diverged means even the best epoch's loss exceeds the loss of the first minibatch
    before any step by more than :data:`DIVERGENCE_NATS` nats per sample and by more
    than that loss's own magnitude; a fit that learns anything ends below it.
    """
    if result.initial_loss is None or not result.losses:
        return False
    growth = min(result.losses) - result.initial_loss
    return growth > max(DIVERGENCE_NATS, abs(result.initial_loss))


def _part_changed(param, fitted):
    """True when a part parameter (name or instance) no longer gives the fitted part."""
    if isinstance(param, str):
        return getattr(fitted, "name", param) != param
    return param != fitted


def _all_finite(X):
    """True when every entry of the float array X is finite.

    A finite sum proves it without an array of flags (NaN and inf propagate through
    the sum); only when the sum is not finite, which also happens for huge finite
    values, are the entries checked one by one. scikit-learn's check does the same.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # inf - inf, or a huge sum
        total = np.add.reduce(X, axis=None)
    return bool(np.isfinite(total)) or bool(np.isfinite(X).all())


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
