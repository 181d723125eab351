"""Timing, interleaving and result rows shared by every benchmark area.

There is one way to time a call (:func:`timed`) and one way to compare callables
(:func:`interleave`), so every number in the report is measured the same way.
"""

# License: BSD 3 clause

import math
import operator
import statistics
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_limits

from skvae import VAETransformer


@contextmanager
def limit_threads(threads):
    """Cap torch's intra-op threads and the BLAS/OpenMP pools for a block.

    On a machine whose cores other work also uses, threads that wait on each other
    at every barrier lose their turn and a 2-thread fit can run ten times slower than
    a 1-thread one; a cap makes the timings measure the code, not the contention.

    Parameters
    ----------
    threads : int or None
        None leaves every pool as it is.
    """
    if threads is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


def synchronize(device):
    """Wait for the work queued on ``device`` (a no-op on the CPU).

    Parameters
    ----------
    device : torch.device
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device):
    """Run ``fn()`` once and return its wall time and result.

    The device is synchronised before and after, so queued GPU work is neither
    charged to the call nor left out of it.

    Parameters
    ----------
    fn : callable
        Takes no arguments.
    device : torch.device

    Returns
    -------
    seconds : float
    result : object
        What ``fn`` returned.
    """
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - start, result


@dataclass
class Timing:
    """The timed calls of one side of a comparison.

    Attributes
    ----------
    seconds : list of float
        One entry per timed call, in order.
    result : object
        What the last call returned (a fitted model, say).
    """

    seconds: list
    result: object = None

    @property
    def median(self):
        """Median seconds per call."""
        return statistics.median(self.seconds)


def interleave(sides, *, repeats, device, warmup=1):
    """Time several callables in turns, the order reversed every other round: A B C, C B A, ...

    Taking turns spreads slow drifts of the machine (other processes, clock
    boosts, a warming cache) evenly over the sides, which back-to-back blocks
    of repeats would charge to whichever side ran during the disturbance; reversing
    the order keeps any side from always running first (or always right after the
    same other side). Call ``i`` of every side belongs to round ``i``, so the sides'
    timings can be compared round by round (:func:`compare`).

    Parameters
    ----------
    sides : dict of str to callable
        Each callable takes no arguments.
    repeats : int
        Timed rounds.
    device : torch.device
        Synchronised around each call.
    warmup : int, default=1
        Untimed rounds first, so one-off costs (lazy kernel selection, allocator
        growth, imports) are charged to no side.

    Returns
    -------
    timings : dict of str to Timing
    """
    for _ in range(warmup):
        for fn in sides.values():
            fn()
    timings = {name: Timing([]) for name in sides}
    order = list(sides.items())
    for round_ in range(repeats):
        for name, fn in order if round_ % 2 == 0 else order[::-1]:
            seconds, timings[name].result = timed(fn, device)
            timings[name].seconds.append(seconds)
    return timings


def fit_vae(X, **params):
    """Fit a :class:`skvae.VAETransformer` for a fixed budget.

    The benchmarks fix ``max_iter``, set ``tol=0`` and train on every row with a
    constant learning rate (``early_stopping=False``, ``learning_rate="constant"``), so
    every fit runs the same number of epochs over the same rows; the ConvergenceWarning
    this provokes is expected and silenced.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
    **params
        Estimator parameters; ``tol=0`` and ``random_state=0`` unless given.

    Returns
    -------
    vae : VAETransformer
    """
    params = {"tol": 0.0, "random_state": 0, "early_stopping": False,
              "learning_rate": "constant", **params}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return VAETransformer(**params).fit(X)


_OPERATORS = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


@dataclass(frozen=True)
class Target:
    """A pass mark from the issue: ``Target(">=", 0.95)`` or ``Target("in", 0.9, 1.1)``.

    Parameters
    ----------
    op : {">=", ">", "<=", "<", "in"}
        ``"in"`` is the closed interval ``[low, high]``.
    low : float
    high : float or None, default=None
        Upper end, for ``"in"`` only.
    """

    op: str
    low: float
    high: float = None

    def check(self, value):
        """Whether ``value`` meets the target."""
        if self.op == "in":
            return self.low <= value <= self.high
        return _OPERATORS[self.op](value, self.low)

    def __str__(self):
        if self.op == "in":
            return f"{self.low:g} .. {self.high:g}"
        return f"{self.op} {self.low:g}"


def row(name, unit, skvae, *, other=None, other_label=None, ratio=None, difference=None,
        target=None, status=None, samples=None, details=None):
    """One line of the report, as a JSON-ready dict.

    Parameters
    ----------
    name : str
        What is compared.
    unit : str
        Unit of ``skvae`` and ``other``.
    skvae : float or None
        skvae's median (None when the row could not run).
    other : float or None, default=None
        The other side's median.
    other_label : str or None, default=None
        What the other side is.
    ratio : float or None, default=None
        ``skvae / other``; the target, if any, applies to it (or to ``skvae`` when
        there is no other side).
    difference : float or None, default=None
        ``skvae - other``, for log-likelihoods where a ratio means nothing.
    target : Target or None, default=None
    status : str or None, default=None
        Overrides the PASS / FAIL / info verdict (e.g. "not installed").
    samples : dict of str to list of float, optional
        The raw per-call measurements.
    details : dict, optional
        Anything else worth keeping in the JSON (sizes, settings).

    Returns
    -------
    row : dict
    """
    checked = ratio if other is not None else skvae
    if status is None:
        if target is None:
            status = "info"
        else:
            status = "PASS" if target.check(checked) else "FAIL"
    return {
        "name": name, "unit": unit, "skvae": skvae, "other": other,
        "other_label": other_label, "ratio": ratio, "difference": difference,
        "target": None if target is None else str(target), "status": status,
        "samples": samples or {}, "details": details or {},
    }


def compare(name, unit, skvae, other, *, other_label, target=None, details=None):
    """A row comparing two sets of measurements: medians and the paired ratio.

    The ratio is the median over rounds of ``skvae[i] / other[i]``: both sides of a
    round ran within seconds of each other, so a slow spell of the machine that
    lasts a round scales both and cancels in their ratio, where it would shift one
    side's median more than the other's. The smallest and largest round ratios go
    into ``details["ratio_range"]`` to show how much the rounds disagree.

    Parameters
    ----------
    name, unit : str
    skvae, other : list of float
        Per-round measurements of each side, in ``unit``, as :func:`interleave`
        takes them (the same number of rounds on each side).
    other_label : str
    target : Target or None, default=None
        Applies to the ratio.
    details : dict, optional

    Returns
    -------
    row : dict

    Examples
    --------
    >>> r = compare("fit", "samples/s", [10, 20, 9], [10, 40, 10], other_label="loop")
    >>> r["skvae"], r["other"], r["ratio"], r["details"]["ratio_range"]
    (10, 10, 0.9, [0.5, 1.0])
    """
    if len(skvae) != len(other) or not skvae:
        raise ValueError(f"{name}: the sides have {len(skvae)} and {len(other)} rounds; "
                         "a paired ratio needs the same positive number.")
    ratios = [a / b for a, b in zip(skvae, other)]
    details = {**(details or {}), "ratio_range": [min(ratios), max(ratios)]}
    return row(name, unit, statistics.median(skvae), other=statistics.median(other),
               other_label=other_label, ratio=statistics.median(ratios), target=target,
               samples={"skvae": list(skvae), "other": list(other)}, details=details)


def rates(count, seconds):
    """``count / s`` for each entry of ``seconds`` (items per second)."""
    return [count / s for s in seconds]


def loglog_slope(x, y):
    """Least-squares slope of ``log y`` against ``log x``.

    Parameters
    ----------
    x, y : sequence of float
        Positive, at least two distinct ``x``.

    Returns
    -------
    slope : float

    Examples
    --------
    >>> round(loglog_slope([1, 10, 100], [2, 20, 200]), 6)
    1.0
    """
    lx = [math.log(v) for v in x]
    ly = [math.log(v) for v in y]
    mx, my = statistics.fmean(lx), statistics.fmean(ly)
    sxy = sum((a - mx) * (b - my) for a, b in zip(lx, ly))
    sxx = sum((a - mx) ** 2 for a in lx)
    return sxy / sxx
