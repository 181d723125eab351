"""``_BaseVAE``: parameters, validation, fit orchestration, scoring, sampling, state.

The subclasses (VAETransformer, VAEGenerator) add mixins and defaults; the maths lives
in ``_module.py``, the loop in ``_training.py``, the parts in ``likelihoods.py`` and
``priors.py``.
"""

# License: BSD 3 clause

import copy
import logging
import numbers
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._module import VAEModule, init_weights
from ._sklearn_compat import Interval, RegistryOptions, StrOptions, _fit_context
from ._training import (
    NonFiniteLossError,
    adam,
    device_chunks,
    release_memory,
    to_device,
    train,
)
from ._validation import (
    check_n_samples,
    check_result,
    check_standardizer,
    check_weights,
    validated,
    validated_latent,
)
from ._version import __version__
from .likelihoods import LIKELIHOODS, Likelihood, get_likelihood
from .posteriors import POSTERIORS, Posterior, get_posterior
from .priors import PRIORS, Prior, get_prior

#: Draws of the reparameterisation noise behind each ``score_samples`` value: 8
#: scrambled-Sobol points and their negatives (antithetic pairs).
SCORE_DRAWS = 16

#: Draws behind the per-epoch validation score of early stopping (one antithetic pair).
VALIDATION_DRAWS = 2

#: Importance samples of :meth:`_BaseVAE.log_likelihood` evaluated together.
_IWAE_BLOCK = 128

#: Variance of a latent's posterior mean across rows above which it counts as active.
ACTIVE_UNIT_THRESHOLD = 0.01


#: Elements standardised at once on the host (a few MB of temporaries).
_BLOCK_ELEMENTS = 2**19

#: Inputs up to this many elements are standardised in one step (no block loop).
_SMALL_ELEMENTS = 4096

#: Rows x columns (x draws) handled at once at inference, to bound memory.
_CHUNK_ELEMENTS = 2**23

_INT64_MAX = np.iinfo(np.int64).max

logger = logging.getLogger("skvae")


class InconsistentVersionWarning(UserWarning):
    """A pickled model was made by another skvae version than the one loading it."""


def resolve_device(device):
    """Turn the ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA, then MPS, then the CPU.

    Returns
    -------
    device : torch.device

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was asked for but CUDA is not available.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device='mps' was asked for but MPS is not available.")
    return device


def score_draws(n_components):
    """Number of fixed draws behind each ``score_samples`` value.

    :data:`SCORE_DRAWS` at least, and at least twice the next power of two above
    ``n_components``, so the draws can match the first two moments of N(0, I) exactly.
    """
    half = 1 << int(np.ceil(np.log2(n_components + 1)))
    return max(SCORE_DRAWS, 2 * half)


def score_noise(n_draws, n_components, dtype=torch.float64, device="cpu"):
    """Fixed standard-normal draws for deterministic ELBO estimates.

    Half are scrambled-Sobol points mapped through the normal quantile function, half
    their negatives (so the draws' mean is exactly 0); when there are more points than
    dimensions they are also whitened so their second moment is exactly the identity.
    The same draws serve every row, so a row's score does not depend on the batch or
    order it comes in. Matching the moments matters because the draws are shared: an
    error in them would shift every row's estimate the same way instead of averaging
    out; with matched moments the estimate is exact whenever log p(x|z) is quadratic
    in z (a linear-Gaussian decoder) and close for smooth decoders.

    Parameters
    ----------
    n_draws : int
        An even number.
    n_components : int
    dtype : torch.dtype, default=torch.float64
    device : str or torch.device, default="cpu"

    Returns
    -------
    noise : torch.Tensor of shape (n_draws, 1, n_components)

    Examples
    --------
    >>> noise = score_noise(16, 3)[:, 0]
    >>> bool((noise[:8] == -noise[8:]).all())
    True
    >>> bool(torch.allclose(noise.T @ noise / 16, torch.eye(3, dtype=noise.dtype)))
    True
    """
    engine = torch.quasirandom.SobolEngine(n_components, scramble=True, seed=0)
    u = engine.draw(n_draws // 2, dtype=torch.float64).clamp(1e-12, 1 - 1e-12)
    half = torch.special.ndtri(u)
    if half.shape[0] > n_components:
        second_moment = half.T @ half / half.shape[0]
        half = half @ torch.linalg.inv(torch.linalg.cholesky(second_moment)).T
    return torch.cat([half, -half]).unsqueeze(1).to(device=device, dtype=dtype)


@contextmanager
def seeded_torch(seed, device):
    """Seed torch's global RNG for a block and restore the caller's state after it.

    ``torch.distributions`` samples from the global RNG only; this makes such sampling
    depend on ``seed`` alone without leaving a trace on the caller's RNG.
    """
    cuda = device.type == "cuda"
    index = device.index if device.index is not None else None
    devices = [torch.cuda.current_device() if index is None else index] if cuda else []
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        if cuda:
            with torch.cuda.device(devices[0]):
                torch.cuda.manual_seed(seed)
        yield


def _draw_seed(rng):
    return int(rng.randint(_INT64_MAX, dtype=np.int64))


def _as_tensor(X, loc, scale, dtype, device, training=False):
    """``(X - loc) / scale`` as a tensor of ``dtype`` on ``device``.

    Rows are converted in blocks (standardised in the input's precision before the cast,
    which keeps precision for columns with large offsets; the identity map is a plain
    cast), so the extra memory is the one output copy plus a block of a few MB, and each
    block is checked for overflow while it is in cache. Values that overflow ``dtype``
    raise a ValueError naming the column; ``training`` says the tensor is the training
    data, for the advice in that message.
    """
    identity, loc_x, inv_scale_x = _constants(loc, scale, X.dtype)[:3]
    if identity and _zero_copy(X, dtype, device):
        return torch.from_numpy(X)
    if X.size <= _SMALL_ELEMENTS and not identity and X.dtype == _NUMPY_DTYPES.get(dtype):
        # A few rows (the single-row latency path): the arithmetic of _convert_into,
        # without its output buffer and loop.
        with np.errstate(over="ignore"):
            block = X - loc_x
            block *= inv_scale_x
        if not np.isinf(block).any():
            return torch.from_numpy(block).to(device)
    out = torch.empty(X.shape, dtype=dtype)
    if not _convert_into(out, X, loc, scale, identity, safe=False):
        return out.to(device)
    if not identity:
        # X - loc overflowed X's precision (values near its largest): scale first.
        _convert_into(out, X, loc, scale, identity, safe=True)
    _check_range(out, X, identity, training)
    return out.to(device)


def _all_finite(X):
    """True when every entry of the float array X is finite.

    A finite sum proves it without an array of flags (NaN and inf propagate through
    the sum); only when the sum is not finite, which also happens for huge finite
    values, are the entries checked one by one. scikit-learn's check does the same.
    """
    with np.errstate(over="ignore", invalid="ignore"):  # inf - inf, or a huge sum
        total = np.add.reduce(X, axis=None)
    return bool(np.isfinite(total)) or bool(np.isfinite(X).all())


#: Standardisation constants per (loc, scale, dtype); see :func:`_constants`.
_CONSTANTS = {}

_NUMPY_DTYPES = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}


def _constants(loc, scale, dtype):
    """``(identity, loc, 1/scale)`` in ``dtype`` and ``(1/scale, loc/scale)`` in float64.

    Computed once per fitted model and input dtype: at a single row, recomputing them
    costs more than the standardisation itself. Entries keep ``loc`` and ``scale``
    alive, so their ids are not reused while the entry exists.
    """
    key = (id(loc), id(scale), dtype)
    entry = _CONSTANTS.get(key)
    if entry is None or entry[0] is not loc or entry[1] is not scale:
        inv_scale64 = 1.0 / scale
        identity = not (np.any(loc) or np.any(scale != 1))
        entry = (loc, scale, identity, loc.astype(dtype), inv_scale64.astype(dtype),
                 inv_scale64, loc * inv_scale64)
        if len(_CONSTANTS) >= 64:  # old models' entries
            _CONSTANTS.clear()
        _CONSTANTS[key] = entry
    return entry[2:]


def _zero_copy(X, dtype, device):
    """True when X can be used as it is: its memory, already in ``dtype``, on the CPU.

    Nothing in skvae writes into the tensors it computes from, so sharing the user's
    memory is safe; read-only arrays are copied (torch would warn about them).
    """
    return (
        (device == "cpu" or torch.device(device).type == "cpu")
        and X.dtype == _NUMPY_DTYPES.get(dtype)
        and X.flags.c_contiguous
        and X.flags.writeable
    )


def _convert_into(out, X, loc, scale, identity, safe):
    """Write ``(X - loc) / scale`` into ``out`` in row blocks; True if any entry is inf.

    ``safe`` computes ``X / scale - loc / scale`` in float64 instead, which overflows
    only where the standardised values themselves do (at some cost in precision for
    large offsets), for X - loc beyond the largest float.
    """
    _, loc, inv_scale, inv_scale64, shift64 = _constants(loc, scale, X.dtype)
    target = out.numpy()
    # A copy into an equal or wider float cannot overflow; the rest is checked per block.
    check = not (identity and X.dtype.itemsize <= target.dtype.itemsize)
    rows = max(1, _BLOCK_ELEMENTS // max(1, X.shape[1]))
    overflow = False
    for start in range(0, X.shape[0], rows):
        stop = start + rows
        with np.errstate(over="ignore"):  # redone with safe=True, or reported
            if identity:
                target[start:stop] = X[start:stop]  # numpy casts into the buffer
            elif safe:
                target[start:stop] = X[start:stop] * inv_scale64 - shift64
            else:
                block = X[start:stop] - loc
                block *= inv_scale
                target[start:stop] = block
        if check and not overflow:
            # numpy's isinf is vectorised; torch's is tens of times slower on the CPU.
            overflow = bool(np.isinf(target[start:stop]).any())
    return overflow


def _check_range(out, X, identity, training):
    """Raise a ValueError when X overflowed the tensor's dtype (after standardisation)."""
    if not bool(torch.isinf(out).any()):
        return
    column = int(torch.isinf(out).any(0).nonzero()[0, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN column of a table
        largest = np.nanmax(np.abs(X[:, column]))
    name = str(out.dtype).removeprefix("torch.")
    if training and identity:
        advice = ("The likelihood models X as it is (no standardisation) and skvae trains "
                  "in float32: rescale X, or use likelihood='gaussian', which standardises "
                  "each column.")
    elif training:
        advice = ("The standardisation was fixed by the first fit or partial_fit call; "
                  "these values lie far outside that data.")
    else:
        advice = "The row lies far outside the training data."
        if out.dtype == torch.float32:
            advice += " Passing float64 X computes in float64."
    raise ValueError(
        f"X column {column} holds values up to {largest:g} in magnitude, which overflow "
        f"{name} (at most {torch.finfo(out.dtype).max:g})"
        f"{'' if identity else ' after standardisation'}. {advice}"
    )


class _BaseVAE(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Shared machinery of the VAE estimators; not meant to be used directly."""

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "hidden_layer_sizes": ["array-like"],
        "likelihood": [RegistryOptions(LIKELIHOODS), Likelihood],
        "prior": [RegistryOptions(PRIORS), Prior],
        "posterior": [RegistryOptions(POSTERIORS), Posterior],
        "beta": [Interval(Real, 0, None, closed="left")],
        "kl_warmup": [Interval(Integral, 0, None, closed="left")],
        "free_bits": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "device": [str, torch.device],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
    }

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
        learning_rate_init=1e-3,
        max_iter=200,
        tol=1e-4,
        n_iter_no_change=10,
        early_stopping=False,
        validation_fraction=0.1,
        device="auto",
        random_state=None,
        verbose=0,
        warm_start=False,
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
    def fit(self, X, y=None):
        """Fit the VAE to X for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training data.
        y : None
            Ignored.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        warm = self.warm_start and hasattr(self, "module_")
        with self._restored_on_error():
            X, C = self._validate_fit_input(X, y, reset=not warm, ensure_min_samples=2)
            self._fit(X, C, warm=warm, incremental=False)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train for one epoch over X, starting from the current weights.

        The first call fixes the standardisation of the columns from its X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        if self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True.")
        warm = hasattr(self, "module_")
        with self._restored_on_error():
            X, C = self._validate_fit_input(X, y, reset=not warm, ensure_min_samples=1)
            self._fit(X, C, warm=warm, incremental=True)
        return self

    def _validate_fit_input(self, X, y, *, reset, ensure_min_samples):
        """Training matrix and condition matrix (None: unconditional); y is ignored here."""
        X = validated(self, X, reset=reset, ensure_min_samples=ensure_min_samples)
        return X, None

    @contextmanager
    def _restored_on_error(self):
        # A failed fit must leave a previously fitted model exactly as it was. Fitting
        # never mutates an attribute's object in place (module, RNG and optimiser
        # state are copied first), so restoring the attribute dict is enough.
        saved = dict(self.__dict__)
        try:
            yield
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(saved)
            raise

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        if type(sizes) is tuple and all(type(s) is int and s >= 1 for s in sizes):
            return sizes  # the common case, cheap: this runs on every transform call
        sizes = [sizes] if isinstance(sizes, numbers.Integral) else list(sizes)
        if not all(isinstance(s, numbers.Integral) and s >= 1 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must hold positive integers, got {self.hidden_layer_sizes!r}."
            )
        return tuple(int(s) for s in sizes)

    def _resolve_likelihood(self, X):
        return get_likelihood(self.likelihood)

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            # About ten steps per epoch on small data (a VAE needs thousands of Adam
            # steps; MLPRegressor's min(200, n) gives too few), 200 rows on large data.
            return min(n_samples, max(32, min(200, n_samples // 10)))
        return min(self.batch_size, n_samples)

    def _build_module(self, n_features, likelihood, prior, posterior, seed):
        # Layers draw their first weights from torch's global RNG: fork it so the
        # caller's state is untouched, then redraw every weight from our seed.
        with torch.random.fork_rng(devices=[]):
            module = VAEModule(n_features, self.n_components, self._hidden_layer_sizes(),
                               likelihood, prior, posterior, self._n_conditions(),
                               impute_missing=getattr(likelihood, "handles_missing", False))
        init_weights(module, torch.Generator().manual_seed(seed))
        return module

    def _n_conditions(self):
        """Width of the condition fed to encoder and decoder (0: unconditional)."""
        return 0

    def _fresh_state(self, X):
        likelihood = self._resolve_likelihood(X)
        likelihood.check_support(X)
        prior = get_prior(self.prior)
        posterior = get_posterior(self.posterior)
        rng = np.random.RandomState(check_random_state(self.random_state).randint(2**31 - 1))
        seed = _draw_seed(rng)
        module = self._build_module(X.shape[1], likelihood, prior, posterior, seed)
        loc, scale = check_standardizer(*likelihood.standardizer(X), likelihood)
        if hasattr(module.prior, "init_from_data"):  # e.g. the VampPrior's pseudo-inputs

            def rows(index):  # standardised training rows, missing entries at the mean
                return torch.as_tensor(np.nan_to_num((X[index] - loc) / scale),
                                       dtype=torch.float32)

            module.prior.init_from_data(X.shape[0], rows, torch.Generator().manual_seed(seed))
        return dict(likelihood_=likelihood, prior_=prior, posterior_=posterior, _rng=rng,
                    module_=module, _n_columns=X.shape[1],
                    _x_loc=loc, _x_scale=scale, loss_curve_=[], n_iter_=0,
                    validation_scores_=[], _optimizer_state=None)

    def _warm_state(self, X):
        self.likelihood_.check_support(X)
        if self.module_.n_components != self.n_components:
            raise ValueError(
                f"warm start needs n_components={self.module_.n_components} as in the "
                f"previous fit, got {self.n_components}."
            )
        return dict(likelihood_=self.likelihood_, prior_=self.prior_,
                    posterior_=self.posterior_, _rng=copy.deepcopy(self._rng),
                    module_=copy.deepcopy(self.module_),
                    _x_loc=self._x_loc, _x_scale=self._x_scale,
                    loss_curve_=list(self.loss_curve_), n_iter_=self.n_iter_,
                    validation_scores_=list(self.validation_scores_ or []),
                    _optimizer_state=copy.deepcopy(self._optimizer_state))

    def _split(self, X, C, rng):
        """Training and (with early stopping) validation rows as device tensors.

        Conditions, when there are any, ride along as extra columns on the right.
        """
        device = self._device
        # Built and split in host memory, then moved: data too large for the device
        # stays on the host and is streamed (to_device).
        data = _as_tensor(X, self._x_loc, self._x_scale, torch.float32, "cpu", training=True)
        if C is not None:
            data = torch.cat([data, torch.as_tensor(C, dtype=torch.float32)], 1)
        if not self.early_stopping:
            return to_device(data, device), None
        n_val = int(np.ceil(self.validation_fraction * X.shape[0]))
        if n_val < 2 or n_val >= X.shape[0]:
            raise ValueError(
                f"The validation set of {n_val} rows is too small or too large for "
                f"{X.shape[0]} samples; change validation_fraction or the data size."
            )
        order = torch.from_numpy(rng.permutation(X.shape[0]))
        return to_device(data[order[n_val:]], device), to_device(data[order[:n_val]], device)

    def _fit(self, X, C, *, warm, incremental):
        device = resolve_device(self.device)
        state = self._warm_state(X) if warm else self._fresh_state(X)
        self.__dict__.update(state)
        self._device = device
        module = self.module_.to(device)
        optimizer = adam(module.parameters(), self.learning_rate_init)
        if incremental and self._optimizer_state is not None:
            optimizer.load_state_dict(self._optimizer_state)
        try:
            X_train, X_val = self._split(X, C, self._rng)
            generator = torch.Generator(device=device).manual_seed(_draw_seed(self._rng))
            result = self._train(module, optimizer, X_train, X_val, generator, incremental)
        except torch.OutOfMemoryError as exc:
            # Retrying with smaller batches would silently change the fit: say what to
            # change instead (the previous model is restored by _restored_on_error).
            release_memory(device)
            raise torch.OutOfMemoryError(
                f"{type(self).__name__}.fit ran out of memory on {device} while training "
                f"with batch_size={self.batch_size!r} and hidden_layer_sizes="
                f"{self._hidden_layer_sizes()}: pass a smaller batch_size or "
                "hidden_layer_sizes, free memory on the device, or use device='cpu'. "
                "A previously fitted model is unchanged."
            ) from exc
        check_weights(module, type(self).__name__)
        self._record(result, optimizer, incremental, X)

    def _kl_weight(self, epoch):
        """beta, ramped up linearly over the first ``kl_warmup`` epochs (KL warm-up)."""
        if self.kl_warmup and epoch < self.kl_warmup:
            return float(self.beta) * (epoch + 1) / (self.kl_warmup + 1)
        return float(self.beta)

    def _objective(self, module, batch, noise, kl_weight, activity):
        """Mean training loss of a batch: -(log-likelihood - kl_weight * KL).

        Also adds the batch's posterior means to ``activity`` (sum, sum of squares,
        count), from which the active latent units are counted after training.
        """
        x, c = self._split_condition(batch)
        log_lik, kl, q = module.elbo_terms(x, noise, c)
        mean = q.mean.detach()
        activity[0] += mean.sum(dim=0)
        activity[1] += (mean * mean).sum(dim=0)
        activity[2] += mean.shape[0]
        kl = kl.mean()
        if self.free_bits:
            # Free bits on the total KL: below the floor, the KL is not pushed down,
            # which keeps the encoder from collapsing onto the prior early on.
            kl = torch.clamp(kl, min=self.free_bits * self.n_components)
        return kl_weight * kl - log_lik.mean()

    def _train(self, module, optimizer, X_train, X_val, generator, incremental):
        start_epoch = self.n_iter_
        schedule = {"kl_weight": self._kl_weight(start_epoch)}
        activity = self._activity = [0.0, 0.0, 0]

        def on_epoch(epoch):
            schedule["kl_weight"] = self._kl_weight(start_epoch + epoch)
            activity[:] = [0.0, 0.0, 0]  # keep the statistics of the last epoch only

        def step(batch):
            noise = torch.randn(batch.shape[0], self.n_components, generator=generator,
                                device=batch.device)
            loss = self._objective(module, batch, noise, schedule["kl_weight"], activity)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            return loss.detach()

        def validate():
            scores = []
            for chunk in device_chunks(X_val):
                x, c = self._split_condition(chunk)
                scores.append(self._elbo(module, x, VALIDATION_DRAWS, c)
                              + self._log_jacobian_rows(x))
            return float(torch.cat(scores).mean())

        try:
            return train(
                module, X_train, step,
                batch_size=self._batch_size(X_train.shape[0]),
                max_iter=1 if incremental else self.max_iter,
                tol=self.tol, n_iter_no_change=self.n_iter_no_change,
                early_stopping=self.early_stopping, generator=generator,
                validate=validate, loss_offset=-self._log_jacobian(), verbose=self.verbose,
                on_epoch=on_epoch, warmup_epochs=max(0, self.kl_warmup - start_epoch),
                description=type(self).__name__, stop_on_convergence=not incremental,
            )
        except NonFiniteLossError as exc:
            raise NonFiniteLossError(
                f"{type(self).__name__}: {exc}. Likely causes: a learning_rate_init too high "
                f"for this data (got {self.learning_rate_init}), features on very large or "
                "very different scales (standardise X or use likelihood='gaussian', which "
                "standardises internally), or values the likelihood cannot model."
            ) from None

    def _record(self, result, optimizer, incremental, X):
        self._record_training(result, optimizer, incremental)
        self.n_active_components_ = self._count_active(X)

    def _record_training(self, result, optimizer, incremental):
        """Fitted attributes every skvae estimator keeps from a call of ``train``."""
        self.loss_curve_ = self.loss_curve_ + result.losses
        self.n_iter_ += len(result.losses)
        self._optimizer_state = optimizer.state_dict()
        self._n_features_out = self.n_components
        self.converged_ = result.converged
        self._module64 = self._make_float64_twin()
        if self.early_stopping:
            self.validation_scores_ = self.validation_scores_ + result.validation_scores
            self.best_validation_score_ = max(self.validation_scores_)
            self.best_loss_ = None
        else:
            self.validation_scores_ = None
            self.best_validation_score_ = None
            self.best_loss_ = min(self.loss_curve_) if self.loss_curve_ else None
        if not (incremental or result.converged or result.interrupted):
            warnings.warn(
                f"Stochastic optimizer: maximum iterations ({self.max_iter}) reached and "
                "the optimization hasn't converged yet.",
                ConvergenceWarning,
            )

    # ---------------------------------------------------------------- inference
    def _split_condition(self, data):
        """Data columns and condition columns (None when unconditional) of a tensor."""
        n = self._n_columns
        return data[:, :n], (data[:, n:] if data.shape[1] > n else None)

    def _log_jacobian(self):
        """log |d standardise / dx|, added to densities of standardised data."""
        return -float(np.log(self._x_scale).sum())

    def _log_jacobian_rows(self, x):
        """The log-Jacobian per row, counting only observed (non-NaN) entries."""
        log_scale = torch.as_tensor(np.log(self._x_scale), dtype=x.dtype, device=x.device)
        return -torch.where(torch.isnan(x), 0.0, log_scale).sum(-1)

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

    def _module_in(self, dtype):
        """The fitted module for inference in ``dtype``: ``module_`` or its float64 twin."""
        if dtype == torch.float64 and self._module64 is not None:
            return self._module64
        return self.module_

    def _make_float64_twin(self):
        # float64 inputs are encoded and scored in float64, so results do not depend
        # on the batch a row comes in; the twin is made once per fit, not per call.
        if self._device.type == "mps":  # MPS has no float64
            return None
        return copy.deepcopy(self.module_).to(torch.float64).eval()

    def _map_rows(self, X, fn, n_out, dtype, cost=1, C=None):
        """Apply ``fn(module, x_std, c) -> tensor`` to standardised row blocks of X.

        ``c`` is the matching block of the condition matrix ``C``, or None.
        """
        torch_dtype = torch.float64 if dtype == np.float64 else torch.float32
        module = self._module_in(torch_dtype)
        width = max([X.shape[1], self.n_components, *self._hidden_layer_sizes()])
        rows = max(1, _CHUNK_ELEMENTS // (width * cost))

        def block(start, stop):
            x = _as_tensor(X[start:stop], self._x_loc, self._x_scale, torch_dtype,
                           self._device)
            c = None if C is None else torch.as_tensor(
                C[start:stop], dtype=torch_dtype, device=self._device)
            return fn(module, x, c).reshape(x.shape[0], n_out).cpu().numpy()

        return self._in_blocks(block, np.empty((X.shape[0], n_out), dtype=dtype), rows)

    def _in_blocks(self, block, out, rows):
        """Fill ``out`` with ``block(start, stop)`` for consecutive blocks of ``rows`` rows.

        When the device runs out of memory, the failed block is retried with half as
        many rows (results do not depend on the block size), down to single rows.
        """
        start = 0
        with torch.inference_mode():
            while start < out.shape[0]:
                stop = min(out.shape[0], start + rows)
                try:
                    out[start:stop] = block(start, stop)
                except torch.OutOfMemoryError:
                    rows = self._fewer_rows(rows)
                    continue
                start = stop
        return out

    def _fewer_rows(self, rows):
        release_memory(self._device)
        if rows == 1:
            raise torch.OutOfMemoryError(
                f"{type(self).__name__} ran out of memory on {self._device} even for a "
                "single row: free memory on the device, or refit with device='cpu'."
            ) from None
        logger.info("out of memory on %s with %d rows at a time; retrying with %d",
                    self._device, rows, rows // 2)
        return rows // 2

    def _elbo(self, module, x, n_draws, c=None):
        """Per-row ELBO of standardised rows, with the fixed draws of ``score_noise``."""
        dtype = next(module.parameters()).dtype
        noise = score_noise(n_draws, self.n_components, dtype, x.device)
        with torch.inference_mode():
            return module.elbo(x, noise, c=c)

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
        Z = self._map_rows(X, lambda m, x, c: m.encode_mean(x, c), self.n_components, X.dtype)
        return check_result(Z, type(self).__name__, "transform", X)

    def _count_active(self, X):
        """Latent units whose posterior mean varies across rows (Burda et al., 2016).

        The variance comes from the posterior means seen during the last epoch, so fit
        pays no extra pass over the data.
        """
        total, squares, count = self.__dict__.pop("_activity")
        if not count:
            return 0
        mean = total / count
        variance = (squares / count - mean * mean).cpu().numpy()
        return int(np.sum(variance > ACTIVE_UNIT_THRESHOLD))

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
        Z = validated_latent(self, X)
        torch_dtype = torch.float64 if Z.dtype == np.float64 else torch.float32
        module = self._module_in(torch_dtype)

        def block(start, stop):
            z = torch.as_tensor(Z[start:stop], dtype=torch_dtype, device=self._device)
            return module.decode(z).mean.cpu().numpy()

        width = max([self._n_columns, *self._hidden_layer_sizes()])
        mean = self._in_blocks(block, np.empty((Z.shape[0], self._n_columns), Z.dtype),
                               max(1, _CHUNK_ELEMENTS // width))
        with np.errstate(over="ignore"):  # reported by check_result
            X_original = (mean * self._x_scale + self._x_loc).astype(Z.dtype, copy=False)
        return check_result(X_original, type(self).__name__, "inverse_transform", Z)

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
        n_draws = score_draws(self.n_components)

        def elbo(m, x, c):
            return self._elbo(m, x, n_draws, c) + self._log_jacobian_rows(x)

        return self._map_rows(X, elbo, 1, np.float64, n_draws, C)[:, 0]

    def score(self, X, y=None):
        """Mean ELBO per sample, in nats; comparable with ``PCA.score``.

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
        if self._n_conditions():
            raise ValueError(
                f"log_likelihood is not available for a {type(self).__name__} fitted with "
                "y (it takes no labels); use score_samples(X, y), the ELBO given the labels."
            )
        X = self._validate_X(X)
        # The same kind of shared, moment-matched quasi-random draws as score_samples:
        # each draw is still marginally N(0, I), so the bound holds in expectation, and
        # their error does not shift every row the same way.
        noise = score_noise(2 * ((n_samples + 1) // 2), self.n_components)[:n_samples]

        def iwae(module, x, c):
            blocks = [module.log_weights(x, noise[k : k + _IWAE_BLOCK].to(x.device), c)
                      for k in range(0, n_samples, _IWAE_BLOCK)]
            log_mean = torch.logsumexp(torch.cat(blocks), dim=0) - np.log(n_samples)
            return log_mean + self._log_jacobian_rows(x)

        cost = min(n_samples, _IWAE_BLOCK)
        return check_result(self._map_rows(X, iwae, 1, np.float64, cost)[:, 0],
                            type(self).__name__, "log_likelihood", X, X.dtype)

    def sample(self, n_samples=1, random_state=None):
        """Draw rows from the generative model: z ~ p(z), then x ~ p(x | z).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None
            None draws fresh samples on each call (from numpy's global RNG, as
            :meth:`sklearn.neighbors.KernelDensity.sample`); an int makes them
            reproducible. torch's global RNG is left as it was.

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
        """
        check_is_fitted(self)
        n_samples = check_n_samples(n_samples)
        return self._sample_rows(n_samples, _draw_seed(check_random_state(random_state)))

    def _sample_rows(self, n_samples, seed, C=None):
        """Rows from the generative model in the training units, as a float64 matrix."""
        module = self._module_in(torch.float32)
        rows = max(1, _CHUNK_ELEMENTS // self._n_columns)
        blocks = []
        with seeded_torch(seed, self._device), torch.no_grad():
            for start in range(0, n_samples, rows):
                z = module.prior_distribution().sample((min(rows, n_samples - start),))
                c = None if C is None else torch.as_tensor(
                    C[start : start + len(z)], dtype=z.dtype, device=z.device)
                blocks.append(module.decode(z, c).sample().cpu().numpy().astype(np.float64))
        with np.errstate(over="ignore"):
            drawn = np.concatenate(blocks) * self._x_scale + self._x_loc
        if not np.isfinite(drawn).all():  # the training scale made them overflow
            raise ValueError(
                f"{type(self).__name__}.sample drew values that overflow float64: the "
                f"training data's columns reach a scale of {np.max(self._x_scale):g}. "
                "Rescale the training data."
            )
        return drawn

    # -------------------------------------------------------------------- state
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if tags.transformer_tags is not None:
            tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def __getstate__(self):
        return _portable_state(self, super().__getstate__())

    def __setstate__(self, state):
        _check_pickled_version(self, state)
        super().__setstate__(state)
        _place_loaded_module(self, state)


def _portable_state(estimator, state):
    """The pickled state: tensors on the CPU (a GPU model loads anywhere), a version stamp."""
    # object.__getstate__ returns the live __dict__ itself: copy before editing.
    state = dict(state)
    if "module_" in state:
        state["_module64"] = None  # rebuilt on load from module_
        state["module_"] = copy.deepcopy(estimator.module_).cpu()
        state["_optimizer_state"] = _to_cpu(state["_optimizer_state"])
    state["_skvae_version"] = __version__
    return state


def _check_pickled_version(estimator, state):
    """Pop the version stamp from ``state``; warn when another version wrote it."""
    version = state.pop("_skvae_version", None)
    if version != __version__:
        warnings.warn(
            f"This {type(estimator).__name__} was pickled with skvae {version} and is "
            f"loaded with skvae {__version__}; it may not work as before.",
            InconsistentVersionWarning,
        )


def _place_loaded_module(estimator, state):
    """Move a loaded model to a device this machine has and rebuild its float64 twin."""
    if "module_" in state:
        estimator._device = _loadable_device(estimator._device)
        estimator.module_.to(estimator._device)
        estimator._module64 = estimator._make_float64_twin()


def _loadable_device(device):
    """The device a model was fitted on when this machine has it, else the CPU."""
    try:
        return resolve_device(device)
    except ValueError:
        return torch.device("cpu")


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj
