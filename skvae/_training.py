"""The training loop, in plain torch: no scikit-learn, no DataLoader.

The data sits on the device as one tensor; each epoch draws a permutation from the
estimator's own ``torch.Generator`` and slices minibatches from it. The epoch's loss is
summed on the device and read back once per epoch, so there is no host sync per batch.
Data that does not fit in the device's memory stays in host memory (:class:`HostData`)
and travels to the device in large chunks, each holding whole minibatches of the same
permutation, so the fit is the one it would have been on the device.
"""

# License: BSD 3 clause

import logging
import math
import warnings
from dataclasses import dataclass, field

import torch

logger = logging.getLogger("skvae")


@dataclass
class TrainingResult:
    """What one call of :func:`train` reports back to the estimator."""

    losses: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    converged: bool = False
    interrupted: bool = False


class NonFiniteLossError(ValueError):
    """The training loss became NaN or infinite."""


#: Elements of host data sent to the device at once when the data does not fit there
#: (64 MiB of float32): large enough that the copies are bandwidth-bound.
STREAM_CHUNK_ELEMENTS = 2**24


class HostData:
    """Training rows kept in host memory, delivered to ``device`` in large chunks.

    Used when the data does not fit in the device's memory. On CUDA each chunk is
    gathered into pinned memory and copied asynchronously, so the next chunk is
    gathered while the device trains on this one.

    Parameters
    ----------
    data : torch.Tensor of shape (n, n_columns)
        On the CPU.
    device : torch.device
        Where the model trains.
    """

    def __init__(self, data, device):
        self.data = data
        self.device = device

    @property
    def shape(self):
        return self.data.shape

    def chunks(self, order, rows):
        """Device tensors of ``rows`` rows at a time, in the order of ``order``."""
        pin = self.device.type == "cuda"
        for start in range(0, self.data.shape[0], rows):
            block = self.data.index_select(0, order[start : start + rows])
            if pin:
                block = block.pin_memory()
            yield block.to(self.device, non_blocking=pin)


def _transfer(data, device):
    return data.to(device)


def to_device(data, device):
    """``data`` on ``device``, or a :class:`HostData` when the device has no room for it.

    Parameters
    ----------
    data : torch.Tensor
        On the CPU.
    device : torch.device

    Returns
    -------
    data : torch.Tensor or HostData
    """
    try:
        return _transfer(data, device)
    except torch.OutOfMemoryError:
        release_memory(device)
        warnings.warn(
            f"The training data ({data.nbytes / 2**20:.0f} MiB as float32) does not fit in "
            f"the memory of {device}; it stays in host memory and is streamed to the device "
            "in chunks, which is slower.",
            UserWarning,
            stacklevel=2,
        )
        return HostData(data, device)


#: Devices with a fused (one kernel for all parameters) Adam in torch.
_FUSED_ADAM_DEVICES = ("cpu", "cuda")


def adam(parameters, lr):
    """Adam over ``parameters``, fused into one kernel where torch has one.

    torch's default Adam on the CPU updates each parameter tensor with some ten
    separate element-wise operations; the fused kernel does the same update in one
    pass. The updates agree up to rounding.

    Parameters
    ----------
    parameters : iterable of torch.nn.Parameter
        All on one device, floating point.
    lr : float

    Returns
    -------
    optimizer : torch.optim.Adam

    Examples
    --------
    >>> adam(torch.nn.Linear(2, 1).parameters(), 1e-3).defaults["fused"]
    True
    """
    parameters = list(parameters)
    fused = bool(parameters) and all(p.device.type in _FUSED_ADAM_DEVICES
                                     for p in parameters)
    return torch.optim.Adam(parameters, lr=lr, fused=fused or None)


def release_memory(device):
    """Return the memory cached by the allocator of a CUDA ``device`` after an OOM."""
    if device.type == "cuda":
        torch.cuda.empty_cache()


def minibatches(X, order, batch_size):
    """The minibatches of ``X`` (a device tensor or :class:`HostData`) in ``order``."""
    if not isinstance(X, HostData):
        for start in range(0, X.shape[0], batch_size):
            yield X[order[start : start + batch_size]]
        return
    # Whole minibatches per chunk, so the batches are exactly those of the device path.
    rows = batch_size * max(1, STREAM_CHUNK_ELEMENTS // (batch_size * max(1, X.shape[1])))
    for chunk in X.chunks(order.cpu(), rows):
        yield from chunk.split(batch_size)


def device_chunks(X):
    """``X`` as device tensors: itself when it is one, else chunks of :class:`HostData`."""
    if not isinstance(X, HostData):
        yield X
        return
    rows = max(1, STREAM_CHUNK_ELEMENTS // max(1, X.shape[1]))
    yield from X.chunks(torch.arange(X.shape[0]), rows)


def snapshot(module):
    """A detached copy of ``module``'s weights, on the module's device."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def run_epoch(X, batch_size, step, generator):
    """One pass over ``X`` in random minibatches; returns the mean loss per row.

    Parameters
    ----------
    X : torch.Tensor of shape (n, n_features) or HostData
        The training data, on the device or streamed to it.
    batch_size : int
    step : callable
        ``step(batch) -> loss`` does one optimiser step and returns the detached mean
        loss of the batch.
    generator : torch.Generator
        On the training device.

    Returns
    -------
    loss : float
    """
    n = X.shape[0]
    order = torch.randperm(n, generator=generator, device=generator.device)
    total = torch.zeros((), device=generator.device)
    for batch in minibatches(X, order, batch_size):
        total += step(batch) * batch.shape[0]
    return (total / n).item()


class _Monitor:
    """MLP-style convergence bookkeeping: tol, n_iter_no_change, best weights."""

    def __init__(self, tol, n_iter_no_change, early_stopping):
        self.tol = tol
        self.n_iter_no_change = n_iter_no_change
        self.early_stopping = early_stopping
        self.best = -math.inf
        self.best_state = None
        self.no_improvement = 0

    def update(self, module, loss, validation_score):
        """Record an epoch; return True when training should stop."""
        # Higher is better for both: the validation ELBO, or the negated loss.
        value = validation_score if self.early_stopping else -loss
        if value < self.best + self.tol:
            self.no_improvement += 1
        else:
            self.no_improvement = 0
        if value > self.best:
            self.best = value
            self.best_state = snapshot(module)
        return self.no_improvement > self.n_iter_no_change


def train(
    module,
    X,
    step,
    *,
    batch_size,
    max_iter,
    tol,
    n_iter_no_change,
    early_stopping,
    generator,
    validate=None,
    loss_offset=0.0,
    verbose=0,
    description="fit",
    stop_on_convergence=True,
    on_epoch=None,
    warmup_epochs=0,
):
    """Run up to ``max_iter`` epochs of ``step`` over ``X``.

    Parameters
    ----------
    module : torch.nn.Module
        Trained in place; with ``early_stopping`` (or after a Ctrl-C) its best weights
        are restored before returning.
    X : torch.Tensor of shape (n, n_features) or HostData
    step : callable
        See :func:`run_epoch`.
    batch_size, max_iter, tol, n_iter_no_change, early_stopping
        As in :class:`sklearn.neural_network.MLPRegressor`.
    generator : torch.Generator
    validate : callable or None
        ``validate() -> float``, the held-out score (higher is better), called once per
        epoch when ``early_stopping``.
    loss_offset : float
        Added to each epoch's loss before it is recorded (the log-Jacobian of the
        standardisation, so losses are in the user's units).
    verbose : int
        Show a progress bar (tqdm) and log each epoch when positive.
    description : str
        Label of the progress bar.
    stop_on_convergence : bool
        False for a single ``partial_fit`` epoch.
    on_epoch : callable or None
        ``on_epoch(epoch)`` is called before each epoch (e.g. to ramp up the KL weight).
    warmup_epochs : int
        Epochs at the start that neither count towards convergence nor can be the best
        epoch (their objective is not the final one).

    Returns
    -------
    result : TrainingResult

    Raises
    ------
    NonFiniteLossError
        When an epoch's loss is NaN or infinite.
    """
    from tqdm.auto import tqdm

    result = TrainingResult()
    monitor = _Monitor(tol, n_iter_no_change, early_stopping)
    bar = tqdm(total=max_iter, desc=description, disable=not verbose, leave=False)
    module.train()
    try:
        for epoch in range(max_iter):
            if on_epoch is not None:
                on_epoch(epoch)
            loss = run_epoch(X, batch_size, step, generator) + loss_offset
            if not math.isfinite(loss):
                raise NonFiniteLossError(f"the training loss became {loss} at epoch {epoch + 1}")
            result.losses.append(loss)
            score = validate() if early_stopping else None
            if score is not None:
                result.validation_scores.append(score)
            _report(bar, epoch, loss, score, verbose)
            if epoch < warmup_epochs:
                continue
            if monitor.update(module, loss, score) and stop_on_convergence:
                result.converged = True
                break
    except KeyboardInterrupt:
        result.interrupted = True
        warnings.warn(
            f"Training interrupted by the user after {len(result.losses)} epochs; "
            "keeping the best weights seen so far.",
            UserWarning,
            stacklevel=3,
        )
    finally:
        bar.close()
        module.eval()
    if (early_stopping or result.interrupted) and monitor.best_state is not None:
        module.load_state_dict(monitor.best_state)
    return result


def _report(bar, epoch, loss, score, verbose):
    postfix = {"loss": f"{loss:.4g}"}
    if score is not None:
        postfix["val_score"] = f"{score:.4g}"
    bar.set_postfix(postfix, refresh=False)
    bar.update(1)
    if verbose:
        logger.info("epoch %d, loss = %.6g%s", epoch + 1, loss,
                    "" if score is None else f", validation score = {score:.6g}")
