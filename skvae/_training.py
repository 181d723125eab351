"""The training loop, in plain torch: no scikit-learn, no DataLoader.

The data sits on the device as tensors; each epoch draws a permutation from the
estimator's own ``torch.Generator`` and slices minibatches ``(x, c)`` from it: the data
rows and their condition (labels, or None). The epoch's loss is summed on the device
and read back once per epoch, so there is no host sync per batch. Data that does not
fit in the device's memory stays in host memory (:class:`HostData`) and travels to the
device in large chunks, each holding whole minibatches of the same permutation, so the
fit is the one it would have been on the device.

What is trained is an objective (:class:`skvae._objectives.Objective`): the loss of a
minibatch, a validation score and per-epoch hooks; how it is trained is one frozen
:class:`TrainConfig`.
"""

# License: BSD 3 clause

import logging
import math
import warnings
from dataclasses import dataclass, field

import torch

from ._device import release_memory
from .exceptions import NonFiniteLossError

__all__ = ["HostData", "NonFiniteLossError", "TrainConfig", "TrainingResult", "adam",
           "device_chunks", "minibatches", "to_device", "train"]

logger = logging.getLogger("skvae")


@dataclass(frozen=True)
class TrainConfig:
    """How :func:`train` runs: the estimator's training parameters, resolved.

    Parameters
    ----------
    batch_size : int
    max_iter : int
    tol : float
    n_iter_no_change : int
    early_stopping : bool
        As in :class:`sklearn.neural_network.MLPRegressor`.
    loss_offset : float, default=0.0
        Added to each epoch's loss before it is recorded (the log-Jacobian of the
        standardisation, so losses are in the user's units).
    verbose : int, default=0
        Show a progress bar (tqdm) and log each epoch when positive.
    description : str, default="fit"
        Label of the progress bar.
    stop_on_convergence : bool, default=True
        False for a single ``partial_fit`` epoch.
    warmup_epochs : int, default=0
        Epochs at the start that neither count towards convergence nor can be the best
        epoch (their objective is not the final one).
    lr_reductions : int, default=0
        Times a plateau restores the best weights and multiplies the learning rate by
        ``lr_factor`` before the next one stops training.
    lr_factor : float, default=0.2
    """

    batch_size: int
    max_iter: int
    tol: float
    n_iter_no_change: int
    early_stopping: bool
    loss_offset: float = 0.0
    verbose: int = 0
    description: str = "fit"
    stop_on_convergence: bool = True
    warmup_epochs: int = 0
    lr_reductions: int = 0
    lr_factor: float = 0.2


@dataclass
class TrainingResult:
    """What one call of :func:`train` reports back to the estimator.

    ``interrupted`` is True when a KeyboardInterrupt (Ctrl-C) ended training after at
    least one epoch; ``initial_loss`` is the loss of the first minibatch before the
    first step (with ``loss_offset``), the untrained model's, to detect divergence.
    """

    losses: list = field(default_factory=list)
    validation_scores: list = field(default_factory=list)
    converged: bool = False
    interrupted: bool = False
    initial_loss: float | None = None


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
    tensors : tuple of (torch.Tensor or None)
        Row-aligned tensors on the CPU (the data and its condition); None entries
        stay None.
    device : torch.device
        Where the model trains.
    """

    def __init__(self, tensors, device):
        self.tensors = tensors
        self.device = device

    @property
    def shape(self):
        return self.tensors[0].shape

    @property
    def width(self):
        """Elements per row, over all the tensors."""
        return sum(t[0].numel() if t.dim() > 1 else 1 for t in self.tensors if t is not None
                   and t.shape[0])

    def chunks(self, order, rows):
        """Tuples of device tensors of ``rows`` rows at a time, in the order of ``order``."""
        pin = self.device.type == "cuda"
        for start in range(0, self.shape[0], rows):
            index = order[start : start + rows]
            yield tuple(None if t is None else self._move(t.index_select(0, index), pin)
                        for t in self.tensors)

    def _move(self, block, pin):
        if pin:
            block = block.pin_memory()
        return block.to(self.device, non_blocking=pin)


def _transfer(data, device):
    return data.to(device)


def to_device(tensors, device):
    """Row-aligned CPU ``tensors`` on ``device``, or a :class:`HostData` when it has no room.

    Parameters
    ----------
    tensors : tuple of (torch.Tensor or None)
    device : torch.device

    Returns
    -------
    data : tuple of (torch.Tensor or None), or HostData
    """
    try:
        return tuple(None if t is None else _transfer(t, device) for t in tensors)
    except torch.OutOfMemoryError:
        release_memory(device)
        size = sum(t.nbytes for t in tensors if t is not None)
        warnings.warn(
            f"The training data ({size / 2**20:.0f} MiB) does not fit in the memory of "
            f"{device}; it stays in host memory and is streamed to the device in chunks, "
            "which is slower.",
            UserWarning,
            stacklevel=2,
        )
        return HostData(tensors, device)


def n_rows(data):
    """Rows of ``data``, a tuple of tensors or a :class:`HostData`."""
    return data.shape[0] if isinstance(data, HostData) else data[0].shape[0]


#: Devices with a fused (one kernel for all parameters) Adam in torch.
_FUSED_ADAM_DEVICES = ("cpu", "cuda")


def parameter_groups(module):
    """``module``'s parameters grouped by learning-rate multiplier, as Adam gets them.

    A submodule may declare ``lr_multipliers``, a mapping from the names of its own
    parameters to a factor of the learning rate (e.g. a likelihood's noise scales,
    whose optimum can lie orders of magnitude from where they start). Every other
    parameter has factor 1. Groups come in the order their first parameter appears in
    ``module.parameters()``, parameters within a group in that order too, so the
    optimiser's state indexes them the same way at every call.

    Parameters
    ----------
    module : torch.nn.Module

    Returns
    -------
    groups : list of (float, list of torch.nn.Parameter)

    Examples
    --------
    >>> class Scaled(torch.nn.Linear):
    ...     lr_multipliers = {"bias": 10.0}
    >>> [(factor, len(p)) for factor, p in parameter_groups(Scaled(2, 1))]
    [(1.0, 1), (10.0, 1)]
    """
    factors = {}
    for submodule in module.modules():
        for name, factor in getattr(submodule, "lr_multipliers", {}).items():
            factors[id(getattr(submodule, name))] = float(factor)
    groups = {}
    for parameter in module.parameters():
        groups.setdefault(factors.get(id(parameter), 1.0), []).append(parameter)
    return list(groups.items())


#: The warning when a stored optimiser state was made by an earlier skvae for another
#: grouping of the parameters (see :func:`fits_groups`).
STALE_OPTIMIZER_STATE = ("The stored optimiser state was made for another grouping of "
                         "the model's parameters (by an earlier skvae version); Adam's "
                         "moments restart from zero, the weights are kept.")


def fits_groups(state, module):
    """Whether the Adam state dict ``state`` was made for ``module``'s parameter groups.

    It was when it has as many groups as :func:`parameter_groups` makes, with as many
    parameters in each. A state saved before a part declared ``lr_multipliers`` has
    one group fewer and is not loadable into today's optimiser.

    Examples
    --------
    >>> linear = torch.nn.Linear(2, 1)
    >>> fits_groups(adam(linear, 1e-3).state_dict(), linear)
    True
    >>> fits_groups({"state": {}, "param_groups": [{"params": [0]}]}, linear)
    False
    """
    try:
        sizes = [len(group["params"]) for group in state["param_groups"]]
    except (KeyError, TypeError):
        return False
    return sizes == [len(group) for _, group in parameter_groups(module)]


def adam(module, lr):
    """Adam over ``module``'s parameters, fused into one kernel where torch has one.

    torch's default Adam on the CPU updates each parameter tensor with some ten
    separate element-wise operations; the fused kernel does the same update in one
    pass. The updates agree up to rounding. Parameters with a learning-rate multiplier
    (see :func:`parameter_groups`) get a parameter group of their own.

    Parameters
    ----------
    module : torch.nn.Module
        Its parameters all on one device, floating point.
    lr : float

    Returns
    -------
    optimizer : torch.optim.Adam

    Examples
    --------
    >>> adam(torch.nn.Linear(2, 1), 1e-3).defaults["fused"]
    True
    """
    groups = parameter_groups(module)
    fused = bool(groups) and all(p.device.type in _FUSED_ADAM_DEVICES
                                 for _, parameters in groups for p in parameters)
    return torch.optim.Adam([{"params": parameters, "lr": lr * factor}
                             for factor, parameters in groups],
                            lr=lr, fused=fused or None)


def minibatches(data, order, batch_size):
    """The minibatches of ``data`` (tensors or :class:`HostData`) in ``order``, as tuples."""
    if not isinstance(data, HostData):
        for start in range(0, order.shape[0], batch_size):
            index = order[start : start + batch_size]
            yield tuple(None if t is None else t[index] for t in data)
        return
    # Whole minibatches per chunk, so the batches are exactly those of the device path.
    rows = batch_size * max(1, STREAM_CHUNK_ELEMENTS // (batch_size * max(1, data.width)))
    for chunk in data.chunks(order.cpu(), rows):
        pieces = [None if t is None else t.split(batch_size) for t in chunk]
        for i in range(math.ceil(chunk[0].shape[0] / batch_size)):
            yield tuple(None if p is None else p[i] for p in pieces)


def device_chunks(data):
    """``data`` as tuples of device tensors: itself, or the chunks of a :class:`HostData`."""
    if not isinstance(data, HostData):
        yield data
        return
    rows = max(1, STREAM_CHUNK_ELEMENTS // max(1, data.width))
    yield from data.chunks(torch.arange(data.shape[0]), rows)


def snapshot(module):
    """A detached copy of ``module``'s weights, on the module's device."""
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def run_epoch(data, batch_size, step, generator):
    """One pass over ``data`` in random minibatches; returns the mean loss per row.

    Parameters
    ----------
    data : tuple of torch.Tensor or HostData
        The training rows ``(x, c)``, on the device or streamed to it.
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
    n = n_rows(data)
    order = torch.randperm(n, generator=generator, device=generator.device)
    total = torch.zeros((), device=generator.device)
    for batch in minibatches(data, order, batch_size):
        total += step(batch) * batch[0].shape[0]
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


def train(module, objective, optimizer, generator, config):
    """Run up to ``config.max_iter`` epochs of ``objective`` over its training rows.

    Parameters
    ----------
    module : torch.nn.Module
        Trained in place; with early stopping (or after a Ctrl-C) its best weights are
        restored before returning. A Ctrl-C (KeyboardInterrupt) after the first epoch
        ends training like convergence does, with ``result.interrupted`` set, and the
        caller decides whether to raise it again; one during the first epoch propagates.
    objective : skvae._objectives.Objective
        Its ``data`` (the training rows), ``loss(batch)``, ``validation_score()`` and
        ``on_epoch(epoch)``.
    optimizer : torch.optim.Optimizer
        Over the module's parameters.
    generator : torch.Generator
        On the training device; draws the minibatch order.
    config : TrainConfig

    Returns
    -------
    result : TrainingResult

    Raises
    ------
    NonFiniteLossError
        When an epoch's loss is NaN or infinite.
    """
    from tqdm.auto import tqdm

    def step(batch):
        loss = objective.loss(batch)
        if result.initial_loss is None:
            result.initial_loss = loss.item() + config.loss_offset
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        return loss.detach()

    result = TrainingResult()
    reductions = 0
    monitor = _Monitor(config.tol, config.n_iter_no_change, config.early_stopping)
    bar = tqdm(total=config.max_iter, desc=config.description, disable=not config.verbose,
               leave=False)
    module.train()
    try:
        for epoch in range(config.max_iter):
            objective.on_epoch(epoch)
            loss = run_epoch(objective.data, config.batch_size, step, generator)
            loss += config.loss_offset
            if not math.isfinite(loss):
                raise NonFiniteLossError(f"the training loss became {loss} at epoch {epoch + 1}")
            result.losses.append(loss)
            score = objective.validation_score() if config.early_stopping else None
            if score is not None:
                result.validation_scores.append(score)
            _report(bar, epoch, loss, score, config.verbose)
            if epoch < config.warmup_epochs:
                continue
            if monitor.update(module, loss, score) and config.stop_on_convergence:
                if reductions < config.lr_reductions:
                    reductions += 1
                    _reduce_learning_rate(module, optimizer, monitor, config.lr_factor)
                    continue
                result.converged = True
                break
    except KeyboardInterrupt:
        if not result.losses:  # no epoch completed: nothing worth keeping
            raise
        result.interrupted = True
    finally:
        bar.close()
        module.eval()
    if (config.early_stopping or result.interrupted) and monitor.best_state is not None:
        module.load_state_dict(monitor.best_state)
    return result


def _reduce_learning_rate(module, optimizer, monitor, factor):
    """On a plateau: back to the best weights, with a smaller step size."""
    if monitor.best_state is not None:
        module.load_state_dict(monitor.best_state)
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * factor
    monitor.no_improvement = 0
    logger.info("plateau: best weights restored, learning rate now %.3g",
                optimizer.param_groups[0]["lr"])


def _report(bar, epoch, loss, score, verbose):
    postfix = {"loss": f"{loss:.4g}"}
    if score is not None:
        postfix["val_score"] = f"{score:.4g}"
    bar.set_postfix(postfix, refresh=False)
    bar.update(1)
    if verbose:
        logger.info("epoch %d, loss = %.6g%s", epoch + 1, loss,
                    "" if score is None else f", validation score = {score:.6g}")
