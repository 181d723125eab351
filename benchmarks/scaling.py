"""Area 4: how ``fit`` time grows with the number of rows N and the width D."""

# License: BSD 3 clause

from ._harness import Target, fit_vae, interleave, loglog_slope, row
from .data import gaussian_rows

TITLE = "Scaling (fit time at a fixed number of epochs)"

#: Estimator settings of every fit: the defaults, two epochs, no early stop, and the
#: network pinned at the width these areas were first measured with.
FIT_PARAMS = {"max_iter": 2, "hidden_layer_sizes": (128, 128)}

#: Width of the rows in the scaling-in-N fits.
N_FEATURES = 100


def _fit_times(datasets, settings, device):
    """Median fit time of each data set; all sizes take turns within each round."""
    sides = {key: (lambda X=X: fit_vae(X, device=device, **FIT_PARAMS))
             for key, X in datasets.items()}
    # No warm-up round: the earlier areas have warmed torch up, and the median over
    # the rounds discards a slow first call, so a round of the largest fits is saved.
    timings = interleave(sides, repeats=settings.repeats, device=device, warmup=0)
    return {key: t.median for key, t in timings.items()}


def _slope_row(name, sizes, seconds, target):
    """A report row holding the log-log slope, with the sizes and times behind it."""
    return row(name, "slope", loglog_slope(sizes, seconds), target=target,
               details={"sizes": list(sizes), "median_seconds": list(seconds)})


def _times_note(symbol, times):
    """One line listing the median fit time at each size."""
    return f"{symbol} = " + ", ".join(f"{k}: {s:.3g} s" for k, s in times.items())


def run(settings, device):
    """Fit at each N (width 100) and at each width D (fixed N); fit log-log slopes.

    Parameters
    ----------
    settings : benchmarks.config.Settings
    device : torch.device

    Returns
    -------
    area : dict
        ``title``, ``description``, ``rows`` and ``notes``.
    """
    # Views of one matrix: the largest set is made once and the others are its rows.
    X = gaussian_rows(max(settings.scaling_rows), N_FEATURES)
    by_rows = _fit_times({n: X[:n] for n in settings.scaling_rows}, settings, device)
    del X
    n = settings.scaling_width_rows
    by_width = _fit_times({d: gaussian_rows(n, d) for d in settings.scaling_widths},
                          settings, device)
    return {
        "title": TITLE,
        "description": (
            f"{device.type}; VAETransformer(max_iter=2, tol=0, early_stopping=False, "
            "learning_rate='constant'), otherwise default parameters "
            "(Gaussian likelihood, hidden (128, 128), batch 'auto'), on standard-normal "
            f"float64 data: N rows of width {N_FEATURES}, and width D at N = {n}. The slope "
            "is the least-squares fit of log(time) against log(size)."
        ),
        "rows": [
            _slope_row("fit time vs N, log-log slope", list(by_rows), list(by_rows.values()),
                       Target("in", 0.9, 1.1)),
            _slope_row("fit time vs D, log-log slope", list(by_width), list(by_width.values()),
                       None),
        ],
        "notes": [_times_note("N", by_rows), _times_note("D", by_width)],
    }
