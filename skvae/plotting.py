"""Plots of fitted VAEs, shaped like scikit-learn's Display classes.

Each display is built by its ``from_estimator`` classmethod, which computes what to
draw from a fitted :class:`~skvae.VAETransformer` or :class:`~skvae.VAEGenerator` and
calls :meth:`plot`; ``plot(ax=None, ...)`` draws on ``ax`` (a new figure when None),
stores the artists, ``ax_`` and ``figure_`` on the display, and returns it.

- :class:`LatentSpaceDisplay`: the posterior means of X on two latent dimensions.
- :class:`ReconstructionDisplay`: inputs above their reconstructions.
- :class:`SampleGridDisplay`: a grid of generated rows.
- :class:`LatentTraversalDisplay`: decoded rows along each latent dimension.
- :class:`LossCurveDisplay`: the training (and validation) loss per epoch.

``from_estimator`` takes a fitted :class:`~skvae.VAETransformer`,
:class:`~skvae.VAEGenerator` or :class:`~skvae.VAEClassifier`, or a fitted
:class:`~sklearn.pipeline.Pipeline` that contains one: the last skvae step that can make
the plot is drawn, X goes through the steps before it, and generated rows come back
through their ``inverse_transform`` when every one of them has it (else the rows are
drawn as the skvae step sees them). :class:`~skvae.VAEClassifier` has latents and a loss
curve, but no public decoder: the displays of decoded rows refuse it with a TypeError.

Rows are drawn in one of three layouts:

- **images**, when they have an image shape (given, or square by default for arrays);
- **one small panel per column**, for tables (DataFrames, or rows with column names)
  and other rows of at most :data:`MAX_COLUMN_PANELS` features: each panel has its own
  scale, so a column of large values does not flatten the others; numeric columns are
  drawn as points, lines or histograms, categorical and bool columns on a categorical
  axis or as bar charts;
- **small line plots**, for wider rows, with each feature standardised (mean 0, standard
  deviation 1 over the rows drawn) so that features in different units compare.

matplotlib is imported only when something is drawn; install it with
``pip install skvae[plots]``.
"""

# License: BSD 3 clause

import math
import numbers
import warnings

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from ._estimator import _Estimator
from .priors import NormalPrior

__all__ = [
    "LatentSpaceDisplay",
    "LatentTraversalDisplay",
    "LossCurveDisplay",
    "ReconstructionDisplay",
    "SampleGridDisplay",
]

#: Up to this many distinct numeric labels, ``y`` gets a legend; beyond, a colorbar.
_MAX_LEGEND_CLASSES = 20

#: Rows of up to this many columns that are not images get one panel per column; wider
#: ones are drawn as standardised line plots (a panel per feature would be unreadable).
MAX_COLUMN_PANELS = 24


# ------------------------------------------------------------------------- helpers
def _check_matplotlib(caller):
    """Import matplotlib or raise an ImportError that names the ``plots`` extra."""
    try:
        import matplotlib  # noqa: F401
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib, which is not installed. Install it with "
            "`pip install skvae[plots]` (or `pip install matplotlib`)."
        ) from exc


def _new_or_given_ax(ax, figsize):
    """``ax`` itself, or the Axes of a new constrained-layout figure of ``figsize``."""
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def _check_dims(dims, n_components):
    """``dims`` as a tuple of distinct ints in ``range(n_components)``."""
    if isinstance(dims, numbers.Integral):
        dims = (dims,)
    try:
        dims = tuple(dims)
    except TypeError:
        raise ValueError(f"dims must be an int or a sequence of ints, got {dims!r}.") from None
    if not dims or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in dims
    ):
        raise ValueError(f"dims must be an int or a non-empty sequence of ints, got {dims!r}.")
    dims = tuple(int(d) for d in dims)
    outside = [d for d in dims if not 0 <= d < n_components]
    if outside:
        raise ValueError(
            f"dims={dims} is out of range: the estimator has n_components={n_components}, "
            f"so latent dimensions run from 0 to {n_components - 1} (got {outside})."
        )
    if len(set(dims)) != len(dims):
        raise ValueError(f"dims={dims} repeats a dimension; each must appear once.")
    return dims


def _check_image_shape(image_shape, n_features):
    """The (height, width) to draw rows as images, or None to draw them as lines.

    None asks for a square shape, which exists when ``n_features`` is a perfect square.
    """
    if image_shape is None:
        side = math.isqrt(n_features)
        return (side, side) if side * side == n_features else None
    try:
        shape = tuple(image_shape)
    except TypeError:
        shape = ()
    if len(shape) != 2 or not all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in shape
    ):
        raise ValueError(
            f"image_shape must be a pair of positive ints (height, width), got {image_shape!r}."
        )
    shape = (int(shape[0]), int(shape[1]))
    if shape[0] * shape[1] != n_features:
        raise ValueError(
            f"image_shape={shape} holds {shape[0] * shape[1]} pixels, but the rows have "
            f"{n_features} features (n_features_in_): their product must be equal."
        )
    return shape


def _warn_unless_standard_normal(estimator, what):
    prior = getattr(estimator, "prior_", None)
    if prior is not None and not isinstance(prior, NormalPrior):
        warnings.warn(
            f"{what} draws latent points from N(0, I), but the estimator's prior is "
            f"{prior!r}; the images may not show what the model generates.",
            UserWarning,
            stacklevel=3,
        )


def _grid_figsize(n_rows, n_cols, image_mode):
    inch = 1.0 if image_mode else 1.6
    return (min(1.5 + inch * n_cols, 14.0), min(1.0 + 1.0 * n_rows, 14.0))


def _draw_grid(ax, cells, image_shape, *, cmap="gray_r", title=None, row_labels=None,
               col_labels=None, xlabel=None, ylabel=None):
    """Draw feature rows as small multiples in a grid on one Axes.

    Parameters
    ----------
    ax : matplotlib Axes
    cells : list of lists of 1-D arrays
        ``cells[r][c]`` is drawn in row r, column c; rows may be shorter than the
        longest one, leaving empty cells at their end.
    image_shape : tuple of int or None
        Draw each row as an image of this (height, width), or as a line when None.
        Every cell shares one colour (or vertical) scale, so cells compare directly;
        lines are drawn standardised (see :func:`_standardise_cells`).
    cmap, title, row_labels, col_labels, xlabel, ylabel
        Presentation; with no labels the axis is switched off.

    Returns
    -------
    artists : ndarray of shape (n_rows, n_cols), dtype=object
        The AxesImage (image mode) or Line2D (line mode) of each cell, None where empty.
    """
    from matplotlib.patches import Rectangle

    n_rows, n_cols = len(cells), max(len(row) for row in cells)
    if image_shape is None:
        cells = _standardise_cells(cells)
    values = np.concatenate([np.ravel(cell) for row in cells for cell in row]).astype(float)
    finite = values[np.isfinite(values)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmax <= vmin:
        vmin, vmax = vmin - 0.5, vmax + 0.5
    if image_shape is not None:
        cell_h, cell_w = image_shape
        gap = 0.15 * max(cell_h, cell_w)
    else:
        cell_h, cell_w, gap = 1.0, 1.6, 0.25

    artists = np.full((n_rows, n_cols), None, dtype=object)
    for r, row in enumerate(cells):
        for c, cell in enumerate(row):
            x0, y0 = c * (cell_w + gap), r * (cell_h + gap)
            cell = np.asarray(cell, dtype=float).ravel()
            if image_shape is not None:
                artists[r, c] = ax.imshow(
                    cell.reshape(image_shape), cmap=cmap, vmin=vmin, vmax=vmax,
                    extent=(x0, x0 + cell_w, y0 + cell_h, y0), origin="upper",
                    interpolation="nearest",
                )
            else:
                ax.add_patch(Rectangle((x0, y0), cell_w, cell_h, fill=False,
                                       edgecolor="0.8", linewidth=0.8))
                x = x0 + np.linspace(0.05, 0.95, cell.size) * cell_w
                y = y0 + cell_h * (0.05 + 0.9 * (vmax - cell) / (vmax - vmin))
                (artists[r, c],) = ax.plot(x, y, color="C0", linewidth=1.0,
                                           marker="o" if cell.size == 1 else None)

    ax.set_xlim(-gap / 2, n_cols * (cell_w + gap) - gap / 2)
    ax.set_ylim(n_rows * (cell_h + gap) - gap / 2, -gap / 2)  # row 0 at the top
    ax.set_aspect("equal" if image_shape is not None else "auto")
    if title is not None:
        ax.set_title(title)
    if not (row_labels or col_labels or xlabel or ylabel):
        ax.set_axis_off()
        return artists
    # Labels only: no frame, no tick marks.
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.tick_params(length=0)
    col_labels, row_labels = list(col_labels or []), list(row_labels or [])
    ax.set_xticks(np.arange(len(col_labels)) * (cell_w + gap) + cell_w / 2, labels=col_labels)
    ax.set_yticks(np.arange(len(row_labels)) * (cell_h + gap) + cell_h / 2, labels=row_labels)
    ax.set_xlabel(xlabel or "")
    ax.set_ylabel(ylabel or "")
    return artists


def _standardise_cells(cells):
    """The cells with each feature centred and scaled over all of them.

    Line plots share one vertical scale; in raw units a feature of large values would
    flatten the others. A feature that is constant over the cells is only centred.
    """
    rows = np.array([np.asarray(cell, dtype=float).ravel() for row in cells for cell in row])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN features stay NaN
        loc, scale = np.nanmean(rows, axis=0), np.nanstd(rows, axis=0)
    scale = np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)
    return [[(np.asarray(cell, dtype=float).ravel() - loc) / scale for cell in row]
            for row in cells]


class _GridDisplay:
    """Shared ``plot`` of the displays that draw rows: images, panels or lines.

    Subclasses give the rows as cells (:meth:`_grid`, for :func:`_draw_grid`) and draw
    one column of a table on one panel (:meth:`_draw_column`).
    """

    #: Whether the panels hold several series that a legend tells apart.
    _legend = False

    def _grid(self):
        """The cells and labels to draw, as keyword arguments of :func:`_draw_grid`."""
        raise NotImplementedError

    def _n_features(self):
        raise NotImplementedError

    def _rows(self):
        """The rows drawn (a DataFrame or 2-D array): their type chooses the layout."""
        raise NotImplementedError

    def _columns(self):
        """``[(name, data)]`` per column, ``data`` being what :meth:`_draw_column` takes."""
        return _table_columns(self._rows(), self.feature_names)

    def _draw_column(self, panel, data):
        """Draw one column on ``panel``; returns the list of its artists."""
        raise NotImplementedError

    def _title(self):
        raise NotImplementedError

    def _layout(self):
        """``(image_shape, layout)``: layout "image", "columns" or "lines"."""
        n_features = self._n_features()
        if self.image_shape is not None or not self._is_table():
            image_shape = _check_image_shape(self.image_shape, n_features)
            if image_shape is not None:
                return image_shape, "image"
        return None, "columns" if n_features <= MAX_COLUMN_PANELS else "lines"

    def _is_table(self):
        return _is_dataframe(self._rows()) or self.feature_names is not None

    def _plot_columns(self, ax):
        """Draw one panel per column in ``ax``; returns ``(axes, artists, legend)``."""
        columns = self._columns()
        ax = _new_or_given_ax(ax, _panels_figsize(len(columns)))
        axes = _panel_axes(ax, len(columns))
        artists = {}
        for panel, (name, data) in zip(axes.flat, columns):
            artists[name] = self._draw_column(panel, data)
            panel.set_title(name, fontsize="small")
        legend = None
        if self._legend:
            legend = axes.flat[0].legend(loc="best", fontsize="x-small", framealpha=0.8)
        ax.set_title(self._title())
        return ax, axes, artists, legend

    def plot(self, ax=None, *, cmap="gray_r"):
        """Draw the grid.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure sized to the grid.
        cmap : str or matplotlib Colormap, default="gray_r"
            Colormap of the images (unused when rows are drawn as lines).

        Returns
        -------
        display : object
            The display itself, with ``artists_``, ``axes_``, ``legend_``, ``ax_`` and
            ``figure_`` set.
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        image_shape, layout = self._layout()
        self.axes_ = self.legend_ = None
        if layout == "columns":
            ax, self.axes_, self.artists_, self.legend_ = self._plot_columns(ax)
        else:
            spec = self._grid()
            if layout == "lines":
                spec["title"] += " (each feature standardised)"
            n_rows, n_cols = len(spec["cells"]), max(len(row) for row in spec["cells"])
            ax = _new_or_given_ax(ax, _grid_figsize(n_rows, n_cols, image_shape is not None))
            self.artists_ = _draw_grid(ax, image_shape=image_shape, cmap=cmap, **spec)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


def _estimator_name(estimator):
    return type(estimator).__name__


# ---------------------------------------------------------- estimators and pipelines
#: What each method of a skvae step gives a display, for the error when it lacks one.
_NEEDS = {"inverse_transform": "decodes latent points into rows (inverse_transform)",
          "sample": "generates rows (sample)", "transform": "encodes rows (transform)"}


def _skvae_step(estimator, method, caller):
    """``(before, step)``: the skvae estimator to draw and the fitted steps before it.

    ``estimator`` is a skvae estimator (``before`` is None) or a Pipeline, where the last
    skvae step that has ``method`` is drawn and ``before`` is the Pipeline of the steps
    before it (None when there are none). ``method=None`` asks for no method.
    """
    from sklearn.pipeline import Pipeline

    if isinstance(estimator, Pipeline):
        steps = [(i, step) for i, (_, step) in enumerate(estimator.steps)
                 if isinstance(step, _Estimator)]
        if not steps:
            names = [type(step).__name__ for _, step in estimator.steps]
            raise TypeError(f"{caller} needs a skvae estimator; the Pipeline's steps are "
                            f"{names}.")
        usable = [(i, step) for i, step in steps if method is None or hasattr(step, method)]
        if not usable:
            raise TypeError(_lacks(steps[-1][1], method, caller))
        index, step = usable[-1]
        check_is_fitted(step)
        return (estimator[:index] if index else None), step
    if not isinstance(estimator, _Estimator):
        raise TypeError(f"{caller} needs a fitted skvae estimator (VAETransformer, "
                        "VAEGenerator, VAEClassifier) or a Pipeline holding one, got "
                        f"{type(estimator).__name__}.")
    if method is not None and not hasattr(estimator, method):
        raise TypeError(_lacks(estimator, method, caller))
    check_is_fitted(estimator)
    return None, estimator


def _lacks(step, method, caller):
    return (f"{caller} draws what a model {_NEEDS[method]}, which {type(step).__name__} "
            "does not offer. LatentSpaceDisplay and LossCurveDisplay work with every skvae "
            "estimator; for decoded rows, use a VAETransformer or VAEGenerator.")


def _into_step(before, X):
    """X as the skvae step sees it: through the steps before it."""
    return X if before is None else before.transform(X)


def _out_of_step(before, rows):
    """``(rows, mapped)``: generated rows in the units of the Pipeline's input when every
    step before the skvae step inverts (``mapped`` True), else as they are."""
    if before is None or not hasattr(before, "inverse_transform"):
        return rows, False
    return before.inverse_transform(rows), True


def _input_names(before, step, mapped):
    """Column names of the rows drawn, or None for an unnamed array.

    The Pipeline's input names when the rows were mapped back through ``before``, else
    the names the skvae step was fitted on (``before``'s output names when it has them).
    """
    source = before if (before is not None and mapped) else step
    names = getattr(source, "feature_names_in_", None)
    if names is None and before is not None and not mapped:
        try:
            names = before.get_feature_names_out()
        except (AttributeError, ValueError, TypeError):
            names = None
    return None if names is None else [str(name) for name in names]


# ------------------------------------------------------------------------ tables
def _is_dataframe(X):
    return hasattr(X, "columns") and hasattr(X, "dtypes") and hasattr(X, "iloc")


def _is_missing(value):
    try:
        return value is None or bool(value != value)
    except TypeError:  # pandas.NA refuses to be a bool: it is the missing value
        return True


def _missing(values):
    """Boolean mask of the missing entries of a 1-D column."""
    if values.dtype.kind == "f":
        return np.isnan(values)
    if values.dtype.kind == "M":
        return np.isnat(values)
    if values.dtype.kind != "O":
        return np.zeros(len(values), dtype=bool)
    return np.fromiter((_is_missing(v) for v in values), dtype=bool, count=len(values))


def _series_values(series):
    """A DataFrame column as a 1-D ndarray: float for numbers (NaN where missing),
    naive datetime64 for datetimes, seconds for timedeltas, objects for categories."""
    import pandas as pd

    dtype = series.dtype
    if isinstance(dtype, pd.DatetimeTZDtype):
        return series.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return series.to_numpy(dtype="datetime64[ns]")
    if pd.api.types.is_timedelta64_dtype(dtype):
        return series.dt.total_seconds().to_numpy(dtype=float)
    if pd.api.types.is_bool_dtype(dtype) or not pd.api.types.is_numeric_dtype(dtype):
        return series.astype(object).to_numpy()
    return series.to_numpy(dtype=float, na_value=np.nan)


def _table_columns(data, feature_names=None):
    """``[(name, values)]`` for each column of a DataFrame or 2-D array."""
    if _is_dataframe(data):
        return [(str(name), _series_values(data.iloc[:, j]))
                for j, name in enumerate(data.columns)]
    array = np.asarray(data)
    names = feature_names if feature_names is not None else [
        f"x{j}" for j in range(array.shape[1])]
    if array.dtype.kind not in "biufM":
        return [(str(name), array[:, j].astype(object)) for j, name in enumerate(names)]
    return [(str(name), array[:, j].astype(float) if array.dtype.kind != "M" else array[:, j])
            for j, name in enumerate(names)]


def _is_category(values):
    return values.dtype.kind in "OUSb"


def _levels(*columns):
    """The distinct observed values of categorical columns, in a stable order."""
    seen = {v for values in columns for v, gone in zip(values, _missing(values)) if not gone}
    return sorted(seen, key=str)


def _positions(values, levels):
    """Each value's index in ``levels`` (NaN where missing), for a categorical axis."""
    index = {level: i for i, level in enumerate(levels)}
    return np.array([np.nan if gone else index[v] for v, gone in zip(values, _missing(values))])


def _categorical_axis(panel, levels, axis="y"):
    ticks = np.arange(len(levels))
    labels = [str(level) for level in levels]
    if axis == "y":
        panel.set_yticks(ticks, labels=labels)
        panel.set_ylim(-0.5, len(levels) - 0.5)
    else:
        panel.set_xticks(ticks, labels=labels, rotation=45 if len(levels) > 3 else 0,
                         ha="right" if len(levels) > 3 else "center")


def _date_axis(panel, axis="y"):
    """Few, concise date ticks on one axis of a small panel."""
    from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

    locator = AutoDateLocator(maxticks=4)
    target = panel.yaxis if axis == "y" else panel.xaxis
    target.set_major_locator(locator)
    target.set_major_formatter(ConciseDateFormatter(locator))


def _panel_axes(ax, n_panels):
    """``ax`` split into a near-square grid of inset Axes, one per panel, row by row.

    ``ax`` itself keeps only its title: the panels are its children, so a display drawn
    on an Axes of the user's figure stays inside it.

    Returns
    -------
    axes : ndarray of shape (n_rows, n_cols), dtype=object
        The panels, None in the empty cells of the last row.
    """
    n_cols = math.ceil(math.sqrt(n_panels))
    n_rows = math.ceil(n_panels / n_cols)
    ax.set_axis_off()
    width, height = 1.0 / n_cols, 1.0 / n_rows
    axes = np.full((n_rows, n_cols), None, dtype=object)
    for k in range(n_panels):
        r, c = divmod(k, n_cols)
        # Room on the left for tick labels, below for rotated category names, above
        # for the column's name.
        panel = ax.inset_axes([(c + 0.2) * width, 1 - (r + 0.8) * height,
                               0.75 * width, 0.58 * height])
        panel.tick_params(labelsize="x-small")
        axes[r, c] = panel
    return axes


def _panels_figsize(n_panels):
    n_cols = math.ceil(math.sqrt(n_panels))
    n_rows = math.ceil(n_panels / n_cols)
    return (min(1.0 + 2.6 * n_cols, 14.0), min(1.0 + 2.3 * n_rows, 14.0))


# ------------------------------------------------------------------------ displays
class LatentSpaceDisplay:
    """Scatter plot of latent codes (posterior means) on one or two dimensions.

    Use :meth:`from_estimator` to make one from a fitted VAE.

    Parameters
    ----------
    latent : ndarray of shape (n_samples, 2) or (n_samples, 1)
        The codes on the plotted dimensions; one column gives a 1-D strip plot (the
        codes along x, a fixed random jitter along y).
    y : array-like of shape (n_samples,), default=None
        Colours the points: one colour and a legend entry per class for labels (up to
        20 distinct numbers, or any strings), a colormap and a colorbar for numbers.
    dims : tuple of int, default=(0, 1)
        Which latent dimensions the columns of ``latent`` are, for the axis labels.
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    scatters_ : list of matplotlib PathCollection
        One per class when ``y`` holds labels, else a single one.
    legend_ : matplotlib Legend or None
    colorbar_ : matplotlib Colorbar or None
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    See Also
    --------
    skvae.VAETransformer.transform : The posterior means plotted here.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> from skvae.plotting import LatentSpaceDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> X, y = X[:200] / 16, y[:200]
    >>> vae = VAETransformer(hidden_layer_sizes=(16,), max_iter=2, device="cpu",
    ...                      random_state=0).fit(X)
    >>> disp = LatentSpaceDisplay.from_estimator(vae, X, y)
    >>> type(disp.ax_).__name__, len(disp.scatters_)
    ('Axes', 10)
    >>> sum(len(s.get_offsets()) for s in disp.scatters_) == len(X)
    True
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """

    def __init__(self, latent, *, y=None, dims=(0, 1), estimator_name=None):
        self.latent = latent
        self.y = y
        self.dims = dims
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, dims=(0, 1), ax=None, **scatter_kwargs):
        """Plot the posterior means of X, ``estimator.transform(X)``, on two dimensions.

        Parameters
        ----------
        estimator : fitted VAETransformer, VAEGenerator or VAEClassifier, or a Pipeline
            In a Pipeline, X goes through the steps before the last skvae step, whose
            latents are drawn.
        X : array-like or DataFrame of shape (n_samples, n_features)
        y : array-like of shape (n_samples,), default=None
            Labels or values that colour the points.
        dims : int or pair of int, default=(0, 1)
            The latent dimensions on x and y; a single int gives a 1-D strip plot.
            With ``n_components == 1`` the default becomes ``(0,)``.
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        **scatter_kwargs
            Passed to :meth:`matplotlib.axes.Axes.scatter`.

        Returns
        -------
        display : LatentSpaceDisplay
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        before, step = _skvae_step(estimator, "transform", cls.__name__)
        n_components = step.n_components
        if n_components == 1 and isinstance(dims, tuple) and dims == (0, 1):
            dims = (0,)
        dims = _check_dims(dims, n_components)
        if len(dims) > 2:
            raise ValueError(f"dims must name one or two latent dimensions, got {dims}.")
        Z = np.asarray(step.transform(_into_step(before, X)))
        display = cls(Z[:, list(dims)], y=y, dims=dims, estimator_name=_estimator_name(step))
        return display.plot(ax=ax, **scatter_kwargs)

    def plot(self, ax=None, **scatter_kwargs):
        """Draw the scatter plot.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.
        **scatter_kwargs
            Passed to :meth:`matplotlib.axes.Axes.scatter`; ``c`` and ``color`` clash
            with ``y``.

        Returns
        -------
        display : LatentSpaceDisplay
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        latent = np.asarray(self.latent, dtype=float)
        if latent.ndim != 2 or latent.shape[1] not in (1, 2):
            raise ValueError(
                f"latent must have shape (n_samples, 1) or (n_samples, 2), got {latent.shape}."
            )
        dims = tuple(int(d) for d in np.atleast_1d(self.dims))
        if len(dims) != latent.shape[1]:
            raise ValueError(f"dims={dims} does not match the {latent.shape[1]} latent columns.")
        y = None if self.y is None else column_or_1d(self.y, warn=True)
        if y is not None and len(y) != len(latent):
            raise ValueError(f"y has {len(y)} entries but X has {len(latent)} rows.")
        if y is not None and ({"c", "color"} & set(scatter_kwargs)):
            raise ValueError("Pass either y or a colour (c=, color=) to colour the points.")

        if latent.shape[1] == 1:
            # A strip plot; the jitter is fixed so redrawing gives the same figure.
            xs = latent[:, 0]
            ys = np.random.RandomState(0).uniform(-0.4, 0.4, size=len(latent))
        else:
            xs, ys = latent[:, 0], latent[:, 1]
        ax = _new_or_given_ax(ax, (6.4, 4.8) if latent.shape[1] == 2 else (6.4, 3.2))
        kwargs = {"s": 12, "alpha": 0.8, **scatter_kwargs}
        self.legend_ = self.colorbar_ = None
        if y is None:
            self.scatters_ = [ax.scatter(xs, ys, **kwargs)]
        elif _is_categorical(y):
            classes = np.unique(y)
            self.scatters_ = [ax.scatter(xs[y == k], ys[y == k], label=str(k), **kwargs)
                              for k in classes]
            self.legend_ = ax.legend(title="y", loc="best", fontsize="small",
                                     markerscale=1.5, framealpha=0.8,
                                     ncols=2 if len(classes) > 6 else 1)
        else:
            self.scatters_ = [ax.scatter(xs, ys, c=y.astype(float), **kwargs)]
            self.colorbar_ = ax.figure.colorbar(self.scatters_[0], ax=ax, label="y")

        ax.set_xlabel(f"latent dimension {dims[0]}")
        if latent.shape[1] == 2:
            ax.set_ylabel(f"latent dimension {dims[1]}")
        else:
            ax.set_yticks([])
            ax.set_ylim(-0.6, 0.6)
        name = f"{self.estimator_name}: " if self.estimator_name else ""
        ax.set_title(f"{name}posterior means")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


def _is_categorical(y):
    """Whether ``y`` holds class labels (legend) rather than values (colorbar)."""
    if y.dtype.kind not in "biuf":
        return True
    if type_of_target(y) not in ("binary", "multiclass"):
        return False
    return np.unique(y).size <= _MAX_LEGEND_CLASSES


class ReconstructionDisplay(_GridDisplay):
    """Inputs above their reconstructions, or inputs and reconstructions per column.

    Use :meth:`from_estimator` to make one from a fitted VAE (or a Pipeline holding one).

    Parameters
    ----------
    X : ndarray or DataFrame of shape (n_images, n_features)
        The inputs.
    X_reconstructed : ndarray or DataFrame of shape (n_images, n_features)
        Their reconstructions.
    image_shape : tuple of int, default=None
        (height, width) of a row as an image; None uses a square shape when the rows
        are an array of a perfect-square width, and the layouts of the module docstring
        otherwise.
    feature_names : list of str, default=None
        Column names, which make array rows a table (one panel per column).
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    artists_ : ndarray of shape (2, n_images), dtype=object, or dict
        The AxesImage of each cell, or its Line2D when rows are drawn as lines; in the
        per-column layout, ``{column: [inputs, reconstructions]}`` (two
        PathCollections, rows along x).
    axes_ : ndarray of matplotlib Axes or None
        The panels of the per-column layout (None in other layouts).
    legend_ : matplotlib Legend or None
        Inside the first panel, in the per-column layout.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> from skvae.plotting import ReconstructionDisplay
    >>> X = load_digits().data[:200] / 16
    >>> vae = VAETransformer(hidden_layer_sizes=(16,), max_iter=2, device="cpu",
    ...                      random_state=0).fit(X)
    >>> disp = ReconstructionDisplay.from_estimator(vae, X, n_images=5)
    >>> disp.artists_.shape, disp.artists_[1, 0].get_array().shape
    ((2, 5), (8, 8))
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """

    _legend = True

    def __init__(self, X, X_reconstructed, *, image_shape=None, feature_names=None,
                 estimator_name=None):
        self.X = X
        self.X_reconstructed = X_reconstructed
        self.image_shape = image_shape
        self.feature_names = feature_names
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, X, *, n_images=8, image_shape=None, ax=None):
        """Plot the first rows of X and ``inverse_transform(transform(X))``.

        Parameters
        ----------
        estimator : fitted VAETransformer or VAEGenerator, or a Pipeline holding one
            In a Pipeline, X goes through the steps before the skvae step, and the
            reconstructions come back through them when they all invert (else inputs
            and reconstructions are drawn as the skvae step sees them).
        X : array-like or DataFrame of shape (n_samples, n_features)
        n_images : int, default=8
            How many of the first rows to show (all of them when X has fewer).
        image_shape : tuple of int, default=None
            (height, width) of a row as an image; None tries a square shape for arrays
            and falls back to one panel per column (or line plots for wide rows).
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        Returns
        -------
        display : ReconstructionDisplay
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        before, step = _skvae_step(estimator, "inverse_transform", f"{cls.__name__}")
        n_images = _check_int(n_images, "n_images", 1)
        X_head = X[:n_images]  # rows of ndarrays, lists, pandas and polars frames
        X_step = _into_step(before, X_head)
        X_rec, mapped = _out_of_step(before, step.inverse_transform(step.transform(X_step)))
        X_shown = X_head if mapped or before is None else X_step
        if not _is_dataframe(X_shown):
            X_shown = check_array(X_shown, dtype=np.float64, input_name="X")
        names = None if _is_dataframe(X_shown) else _input_names(before, step, mapped)
        display = cls(X_shown, X_rec, image_shape=image_shape, feature_names=names,
                      estimator_name=_estimator_name(step))
        return display.plot(ax=ax)

    def _n_features(self):
        return np.shape(self.X)[1]

    def _rows(self):
        return self.X

    def _title(self):
        name = f"{self.estimator_name}: " if self.estimator_name else ""
        return f"{name}inputs and reconstructions"

    def _grid(self):
        return dict(cells=[list(np.asarray(self.X)), list(np.asarray(self.X_reconstructed))],
                    row_labels=["input", "reconstruction"], title=self._title())

    def _columns(self):
        inputs = _table_columns(self.X, self.feature_names)
        outputs = _table_columns(self.X_reconstructed, self.feature_names)
        return [(name, (x, x_rec)) for (name, x), (_, x_rec) in zip(inputs, outputs)]

    def _draw_column(self, panel, data):
        """Inputs as dots and reconstructions as crosses, one row per x position."""
        inputs, reconstructed = data
        rows = np.arange(1, len(inputs) + 1)
        if _is_category(inputs) or _is_category(reconstructed):
            levels = _levels(inputs, reconstructed)
            inputs, reconstructed = _positions(inputs, levels), _positions(reconstructed, levels)
            _categorical_axis(panel, levels)
        elif inputs.dtype.kind == "M":
            _date_axis(panel)
        artists = [panel.scatter(rows, inputs, s=25, color="C0", label="input"),
                   panel.scatter(rows, reconstructed, s=30, marker="x", color="C3",
                                 label="reconstruction")]
        panel.set_xticks(rows)
        panel.set_xlabel("row", fontsize="x-small")
        return artists


class SampleGridDisplay(_GridDisplay):
    """Generated rows: a grid of images or lines, or for a table their columns' spread.

    Use :meth:`from_estimator` to make one from a fitted VAE (or a Pipeline holding one).

    Parameters
    ----------
    samples : ndarray or DataFrame of shape (n_samples, n_features)
        The rows, laid out row by row in a near-square grid; in the per-column layout,
        a histogram per numeric column and a bar chart per categorical or bool column.
    image_shape : tuple of int, default=None
        (height, width) of a row as an image; None uses a square shape when the rows
        are an array of a perfect-square width, and the layouts of the module docstring
        otherwise.
    mean : bool, default=True
        Whether the rows are decoder means (for the title).
    feature_names : list of str, default=None
        Column names, which make array rows a table (one panel per column).
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    artists_ : ndarray of shape (n_rows, n_cols), dtype=object, or dict
        The AxesImage of each cell (Line2D when rows are drawn as lines), None in the
        empty cells of the last row; in the per-column layout, ``{column: [bars]}``
        (the BarContainer of its histogram or bar chart).
    axes_ : ndarray of matplotlib Axes or None
        The panels of the per-column layout (None in other layouts).
    legend_ : None
        The panels hold one series each.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> from skvae.plotting import SampleGridDisplay
    >>> X = load_digits().data[:200] / 16
    >>> vae = VAETransformer(hidden_layer_sizes=(16,), max_iter=2, device="cpu",
    ...                      random_state=0).fit(X)
    >>> disp = SampleGridDisplay.from_estimator(vae, n_samples=9, random_state=0)
    >>> disp.artists_.shape, len(disp.ax_.images)
    ((3, 3), 9)
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """

    def __init__(self, samples, *, image_shape=None, mean=True, feature_names=None,
                 estimator_name=None):
        self.samples = samples
        self.image_shape = image_shape
        self.mean = mean
        self.feature_names = feature_names
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, n_samples=16, image_shape=None, random_state=None,
                       mean=True, ax=None):
        """Plot rows generated by the estimator.

        Parameters
        ----------
        estimator : fitted VAETransformer or VAEGenerator, or a Pipeline holding one
            In a Pipeline, the rows come back through the steps before the skvae step
            when they all invert (else they are drawn as the skvae step makes them).
        n_samples : int, default=16
        image_shape : tuple of int, default=None
            (height, width) of a row as an image; None tries a square shape for arrays
            and falls back to one panel per column (or line plots for wide rows).
        random_state : int, RandomState instance or None, default=None
            Seeds the draws.
        mean : bool, default=True
            True shows the decoder means ``inverse_transform(z)`` at points z drawn
            from N(0, I) with ``check_random_state(random_state).standard_normal``
            (draws from the prior when it is the standard normal; a warning says so
            otherwise); False shows ``estimator.sample(n_samples, random_state)``,
            which adds the likelihood's noise (a conditional VAEGenerator draws the
            labels from their training frequencies).
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        Returns
        -------
        display : SampleGridDisplay
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        before, step = _skvae_step(estimator, "inverse_transform" if mean else "sample",
                                   cls.__name__)
        n_samples = _check_int(n_samples, "n_samples", 1)
        if mean:
            _warn_unless_standard_normal(step, f"{cls.__name__} with mean=True")
            rng = check_random_state(random_state)
            Z = rng.standard_normal((n_samples, step.n_components))
            samples = step.inverse_transform(Z)
        else:
            samples = step.sample(n_samples, random_state=random_state)
            if isinstance(samples, tuple):  # a conditional generator's (X, y)
                samples = samples[0]
        samples, mapped = _out_of_step(before, samples)
        if not _is_dataframe(samples):
            samples = np.asarray(samples)
        names = None if _is_dataframe(samples) else _input_names(before, step, mapped)
        display = cls(samples, image_shape=image_shape, mean=bool(mean), feature_names=names,
                      estimator_name=_estimator_name(step))
        return display.plot(ax=ax)

    def _n_features(self):
        return np.shape(self.samples)[1]

    def _rows(self):
        return self.samples

    def _title(self):
        what = "decoder means at z ~ N(0, I)" if self.mean else "samples x ~ p(x | z)"
        name = f"{self.estimator_name}: " if self.estimator_name else ""
        return f"{name}{what}"

    def _grid(self):
        samples = np.asarray(self.samples)
        n_cols = math.ceil(math.sqrt(len(samples)))
        cells = [list(samples[i : i + n_cols]) for i in range(0, len(samples), n_cols)]
        return dict(cells=cells, title=self._title())

    def _draw_column(self, panel, values):
        """A bar chart of a categorical column's counts, else a histogram."""
        values = values[~_missing(values)]
        panel.set_ylabel("rows", fontsize="x-small")
        if _is_category(values):
            levels = _levels(values)
            counts = np.bincount(_positions(values, levels).astype(int),
                                 minlength=len(levels))
            bars = panel.bar(np.arange(len(levels)), counts, color="C0")
            _categorical_axis(panel, levels, axis="x")
            return [bars]
        if values.dtype.kind == "M":  # matplotlib bins dates as day numbers
            from matplotlib.dates import date2num

            panel.xaxis_date()
            _date_axis(panel, axis="x")
            values = date2num(values)
        _, _, bars = panel.hist(values, bins=min(20, max(1, len(values) // 2)), color="C0")
        return [bars]


class LatentTraversalDisplay(_GridDisplay):
    """Decoded rows along each latent dimension, the others held at 0.

    Use :meth:`from_estimator` to make one from a fitted VAE.

    In the per-column layout (tables), each column gets a panel with the value along
    the dimension on x, the decoded value on y and one line per dimension.

    Parameters
    ----------
    images : ndarray of shape (n_dims, n_steps, n_features), or DataFrame
        ``images[i, j]`` decodes the point with ``values[j]`` on dimension ``dims[i]``
        and 0 elsewhere; a DataFrame holds the same rows, ``n_dims * n_steps`` of them,
        dimension by dimension.
    values : ndarray of shape (n_steps,)
        The values taken along each dimension.
    dims : tuple of int
        The traversed dimensions, one per row.
    image_shape : tuple of int, default=None
        (height, width) of a row as an image; None uses a square shape when the rows
        are an array of a perfect-square width, and the layouts of the module docstring
        otherwise.
    feature_names : list of str, default=None
        Column names, which make array rows a table (one panel per column).
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    artists_ : ndarray of shape (n_dims, n_steps), dtype=object, or dict
        The AxesImage of each cell, or its Line2D when rows are drawn as lines; in the
        per-column layout, ``{column: [Line2D per dimension]}``.
    axes_ : ndarray of matplotlib Axes or None
        The panels of the per-column layout (None in other layouts).
    legend_ : matplotlib Legend or None
        Inside the first panel, in the per-column layout.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> from skvae.plotting import LatentTraversalDisplay
    >>> X = load_digits().data[:200] / 16
    >>> vae = VAETransformer(hidden_layer_sizes=(16,), max_iter=2, device="cpu",
    ...                      random_state=0).fit(X)
    >>> disp = LatentTraversalDisplay.from_estimator(vae, n_steps=5)
    >>> disp.artists_.shape, [t.get_text() for t in disp.ax_.get_yticklabels()]
    ((2, 5), ['z0', 'z1'])
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """

    _legend = True

    def __init__(self, images, values, dims, *, image_shape=None, feature_names=None,
                 estimator_name=None):
        self.images = images
        self.values = values
        self.dims = dims
        self.image_shape = image_shape
        self.feature_names = feature_names
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, *, dims=None, n_steps=7, span=3.0, image_shape=None,
                       ax=None):
        """Plot ``inverse_transform`` along each latent dimension.

        Parameters
        ----------
        estimator : fitted VAETransformer or VAEGenerator, or a Pipeline holding one
            In a Pipeline, the rows come back through the steps before the skvae step
            when they all invert (else they are drawn as the skvae step makes them).
        dims : int or sequence of int, default=None
            Dimensions to traverse, one grid row each; None takes all of them.
        n_steps : int, default=7
            Points per dimension, evenly spaced from ``-span`` to ``span``.
        span : float, default=3.0
            How far to go each way, in standard deviations of the N(0, I) prior.
        image_shape : tuple of int, default=None
            (height, width) of a row as an image; None tries a square shape for arrays
            and falls back to one panel per column (or line plots for wide rows).
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        Returns
        -------
        display : LatentTraversalDisplay
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        before, step = _skvae_step(estimator, "inverse_transform", cls.__name__)
        n_components = step.n_components
        dims = _check_dims(range(n_components) if dims is None else dims, n_components)
        n_steps = _check_int(n_steps, "n_steps", 2)
        if isinstance(span, bool) or not isinstance(span, numbers.Real) or not (
            0 < span < np.inf
        ):
            raise ValueError(f"span must be a positive finite number, got {span!r}.")
        _warn_unless_standard_normal(step, cls.__name__)
        values = np.linspace(-span, span, n_steps)
        Z = np.zeros((len(dims), n_steps, n_components))
        for i, d in enumerate(dims):
            Z[i, :, d] = values
        decoded, mapped = _out_of_step(before,
                                       step.inverse_transform(Z.reshape(-1, n_components)))
        names = None
        if not _is_dataframe(decoded):
            decoded = np.asarray(decoded).reshape(len(dims), n_steps, -1)
            names = _input_names(before, step, mapped)
        display = cls(decoded, values, dims, image_shape=image_shape, feature_names=names,
                      estimator_name=_estimator_name(step))
        return display.plot(ax=ax)

    def _n_features(self):
        return np.shape(self.images)[-1]

    def _rows(self):
        if _is_dataframe(self.images):
            return self.images
        return np.asarray(self.images).reshape(-1, self._n_features())

    def _title(self):
        name = f"{self.estimator_name}: " if self.estimator_name else ""
        return f"{name}latent traversals"

    def _grid(self):
        cells = np.asarray(self._rows()).reshape(len(self.dims), len(self.values), -1)
        return dict(cells=[list(row) for row in cells],
                    row_labels=[f"z{d}" for d in self.dims],
                    col_labels=[f"{v:.3g}" for v in self.values],
                    xlabel="value along the dimension (the others at 0)",
                    ylabel="latent dimension",
                    title=self._title())

    def _draw_column(self, panel, decoded):
        """One line per traversed dimension: the decoded value against the step."""
        if _is_category(decoded):
            levels = _levels(decoded)
            decoded = _positions(decoded, levels)
            _categorical_axis(panel, levels)
        elif decoded.dtype.kind == "M":
            _date_axis(panel)
        decoded = decoded.reshape(len(self.dims), len(self.values))
        panel.set_xlabel("value along z", fontsize="x-small")
        return [panel.plot(self.values, line, marker="o", markersize=3, label=f"z{d}")[0]
                for d, line in zip(self.dims, decoded)]


class LossCurveDisplay:
    """The training loss per epoch, with the validation loss under early stopping.

    Both are in nats per sample, in the units of X: the training loss is the mean
    negative ELBO over the epoch's minibatches (its KL term weighted by ``beta``), the
    validation loss is the negated validation ELBO (``-validation_scores_``), measured
    after the epoch.

    Use :meth:`from_estimator` to make one from a fitted VAE.

    Parameters
    ----------
    loss_curve : array-like of shape (n_epochs,)
    validation_scores : array-like of shape (n_epochs,), default=None
        Validation ELBO per epoch; drawn negated, as a loss.
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    line_ : matplotlib Line2D
        The training loss.
    validation_line_ : matplotlib Line2D or None
        The validation loss, when there are validation scores.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skvae import VAETransformer
    >>> from skvae.plotting import LossCurveDisplay
    >>> X = load_digits().data[:200] / 16
    >>> vae = VAETransformer(hidden_layer_sizes=(16,), max_iter=3, device="cpu",
    ...                      random_state=0).fit(X)
    >>> disp = LossCurveDisplay.from_estimator(vae)
    >>> disp.line_.get_xydata().shape, disp.validation_line_ is None  # rows held out
    ((3, 2), False)
    >>> disp.ax_.get_ylabel()
    'loss (nats per sample)'
    >>> import matplotlib.pyplot as plt
    >>> plt.close("all")
    """

    def __init__(self, loss_curve, *, validation_scores=None, estimator_name=None):
        self.loss_curve = loss_curve
        self.validation_scores = validation_scores
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, ax=None):
        """Plot ``estimator.loss_curve_`` and, when set, ``-estimator.validation_scores_``.

        Parameters
        ----------
        estimator : fitted VAETransformer, VAEGenerator or VAEClassifier, or a Pipeline
            In a Pipeline, the last skvae step's curves are drawn.
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        Returns
        -------
        display : LossCurveDisplay
        """
        _check_matplotlib(f"{cls.__name__}.from_estimator")
        _, step = _skvae_step(estimator, None, cls.__name__)
        check_is_fitted(step, "loss_curve_")
        display = cls(list(step.loss_curve_),
                      validation_scores=getattr(step, "validation_scores_", None),
                      estimator_name=_estimator_name(step))
        return display.plot(ax=ax)

    def plot(self, ax=None):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; None makes a new figure.

        Returns
        -------
        display : LossCurveDisplay
        """
        _check_matplotlib(f"{type(self).__name__}.plot")
        from matplotlib.ticker import MaxNLocator

        loss = np.asarray(self.loss_curve, dtype=float).ravel()
        if loss.size == 0:
            raise ValueError("loss_curve is empty: there is nothing to plot.")
        ax = _new_or_given_ax(ax, (6.4, 4.0))
        marker = "o" if loss.size < 30 else None
        (self.line_,) = ax.plot(np.arange(1, loss.size + 1), loss, marker=marker,
                                markersize=3, label="training loss")
        self.validation_line_ = None
        if self.validation_scores is not None and len(self.validation_scores):
            val = -np.asarray(self.validation_scores, dtype=float).ravel()
            (self.validation_line_,) = ax.plot(
                np.arange(1, val.size + 1), val, marker=marker, markersize=3,
                label="validation loss (-ELBO)",
            )
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (nats per sample)")
        ax.legend()
        name = f"{self.estimator_name}: " if self.estimator_name else ""
        ax.set_title(f"{name}training curve")
        self.ax_ = ax
        self.figure_ = ax.figure
        return self
