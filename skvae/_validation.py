"""Input checks with errors that say what is wrong and where (row, column, value).

``validate_data`` with clearer messages, finiteness of inputs and results, labels,
trained weights and standardisers; shared by every estimator.
"""

# License: BSD 3 clause

import numbers
import warnings

import numpy as np
import torch
from sklearn.utils import _safe_indexing
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_array

from ._device import available_host_memory
from ._sklearn_compat import _check_sample_weight, validate_data
from .exceptions import NonFiniteLossError

#: Fragments of the errors numpy, pandas and scikit-learn raise for values that are not
#: numbers ("Cannot cast": pandas converting a categorical column of strings).
_NOT_NUMERIC = ("could not convert", "argument must be", "is not compatible with arrays of",
                "Unable to convert", "Cannot cast")


def _column_label(column, names=None):
    if names is not None and column < len(names):
        return f"column {column} ({names[column]!r})"
    return f"column {column}"


def _first_not_a_number(X):
    """(row, column, value) of the first entry of X that is not a number, or None."""
    try:
        array = np.asarray(X, dtype=object)
    except Exception:  # noqa: BLE001 - only used to improve a message
        return None
    if array.ndim != 2:
        return None
    for column in range(array.shape[1]):
        try:
            array[:, column].astype(np.float64)
            continue
        except (TypeError, ValueError):
            pass
        for row, value in enumerate(array[:, column]):
            try:
                float(value)
            except (TypeError, ValueError):
                return row, column, value
    return None


def _first_temporal_column(X):
    """(position, name, dtype) of the first datetime or timedelta column of a DataFrame.

    numpy refuses to promote such a column to float with a message that names neither
    the column nor its dtype; None when X has no such column or is no DataFrame.
    """
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or isinstance(dtypes, np.dtype):
        return None
    for position, (name, dtype) in enumerate(dtypes.items()):
        if getattr(dtype, "kind", "") in ("M", "m"):
            return position, name, dtype
    return None


def _is_complex(X):
    dtypes = getattr(X, "dtypes", None)
    if dtypes is not None and not isinstance(dtypes, np.dtype):  # a DataFrame
        return any(getattr(dtype, "kind", "") == "c" for dtype in dtypes)
    try:
        return np.iscomplexobj(X)
    except Exception:  # noqa: BLE001
        return False


def _explain_conversion_error(exc, X, input_name, owner):
    """Re-raise a validation error about complex or non-numeric X with its location."""
    message = str(exc)
    if message.startswith("Expected 2D array, got 1D array instead"):
        shape = getattr(X, "shape", None) or (len(X),)
        raise ValueError(
            f"Expected 2D array, got 1D array instead: {input_name} has shape {shape}. "
            f"Reshape your data with {input_name}.reshape(-1, 1) if it is a single "
            f"feature or {input_name}.reshape(1, -1) if it is a single sample."
        ) from None
    if message.startswith("Complex data not supported") and _is_complex(X):
        raise ValueError(
            f"Complex data not supported: {input_name} holds complex numbers; {owner} "
            f"needs real ones (pass {input_name}.real or np.abs({input_name}))."
        ) from None
    temporal = _first_temporal_column(X)
    if temporal is not None:
        position, name, dtype = temporal
        raise ValueError(
            f"{input_name} column {position} ({name!r}) holds {dtype} values, which are not "
            f"numbers. {owner} models numeric data: convert the column to numbers first "
            "(e.g. seconds since a start date), or use VAEGenerator on a DataFrame, which "
            "models dates and durations."
        ) from None
    if any(text in message for text in _NOT_NUMERIC):
        where = _first_not_a_number(X)
        if where is not None:
            row, column, value = where
            names = list(X.columns) if hasattr(X, "columns") else None
            first = " ".join(message.split())
            raise type(exc)(
                f"{first}: {input_name} row {row}, {_column_label(column, names)} holds "
                f"{value!r}, which is not a number. {owner} models numeric data: encode "
                "categorical columns first (e.g. OneHotEncoder), or use VAEGenerator on "
                "a DataFrame, which models them."
            ) from None


def check_finite(X, input_name, owner, names=None, data=True):
    """Raise a ValueError naming the first NaN or infinite entry of a float matrix.

    ``data`` is False for latent rows, where NaN is not a missing value of the data.
    """
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(X.sum()):  # the common case: one pass, no temporary
            return
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    row, column = (int(i) for i in np.argwhere(bad)[0])
    where = f"first at row {row}, {_column_label(column, names)}"
    if np.isnan(X[row, column]) and data:
        if owner == "VAEGenerator":
            hint = ("VAEGenerator models missing values only when X is a pandas "
                    "DataFrame: pass pd.DataFrame(X), or drop or impute those rows.")
        else:
            hint = (f"{owner} does not model missing values: drop those rows or impute "
                    "them (e.g. sklearn.impute.SimpleImputer); VAEGenerator models "
                    "missing values when X is a pandas DataFrame.")
        raise ValueError(f"Input {input_name} contains NaN ({where}). {hint}")
    kind = "NaN" if np.isnan(X[row, column]) else "infinity"
    raise ValueError(f"Input {input_name} contains {kind} ({where}: {X[row, column]}). "
                     f"{owner} needs finite values.")


def validated(estimator, X, y="no_validation", *, reset, input_name="X", **kwargs):
    """``validate_data`` to float64/float32 with errors that say what and where."""
    owner = type(estimator).__name__
    try:
        out = validate_data(estimator, X, y, reset=reset, dtype=[np.float64, np.float32],
                            ensure_all_finite=False, **kwargs)
    except (TypeError, ValueError) as exc:
        _explain_conversion_error(exc, X, input_name, owner)
        raise
    array = out if isinstance(y, str) and y == "no_validation" else out[0]
    check_finite(array, input_name, owner, getattr(estimator, "feature_names_in_", None))
    return out


def validated_latent(estimator, X, n_components=None):
    """Latent rows given to ``inverse_transform``, as a finite float matrix.

    They must have ``n_components`` columns (None: the fitted module's latent size).
    """
    owner = type(estimator).__name__
    try:
        Z = check_array(X, dtype=[np.float64, np.float32], input_name="X",
                        ensure_all_finite=False)
    except (TypeError, ValueError) as exc:
        _explain_conversion_error(exc, X, "X", owner)
        raise
    check_finite(Z, "X", f"{owner}.inverse_transform", data=False)
    if not Z.flags.writeable:
        # The rows become tensors sharing their memory, and torch warns about
        # read-only arrays (pandas hands them out under copy-on-write).
        Z = Z.copy()
    if n_components is None:  # fitted, whatever set_params did since
        n_components = estimator.module_.n_components
    if Z.shape[1] != n_components:
        raise ValueError(
            f"X has {Z.shape[1]} features, but inverse_transform is expecting "
            f"{n_components} latent components as input."
        )
    return Z


def check_n_samples(n_samples, name="n_samples"):
    """A positive int (a bool is not one), or a ValueError."""
    if isinstance(n_samples, (bool, np.bool_)) or not isinstance(n_samples, numbers.Integral) \
            or n_samples < 1:
        raise ValueError(f"{name} must be a positive integer, got {n_samples!r}.")
    return int(n_samples)


def fit_weights(X, y, sample_weight):
    """The rows and weights a weighted fit trains on.

    ``sample_weight`` is checked as scikit-learn's estimators check it (one finite,
    non-negative weight per row, not all zero). Rows of weight 0 are dropped, so they
    are absent from the fit exactly as if they had not been passed (standardisation,
    validation split and minibatches included). The other weights are divided by their
    mean, so the training loss is the weighted mean over rows; when they are all equal
    the fit is the unweighted one.

    Parameters
    ----------
    X : array-like or DataFrame of shape (n_samples, n_features)
    y : array-like of shape (n_samples,) or None
    sample_weight : array-like of shape (n_samples,) or None

    Returns
    -------
    X, y : the rows of positive weight
    weights : ndarray of shape (n_kept,), or None for an unweighted fit
    """
    if sample_weight is None:
        return X, y, None
    weights = _check_sample_weight(sample_weight, X, dtype=np.float64,
                                   ensure_non_negative=True)
    kept = np.flatnonzero(weights > 0)
    if kept.shape[0] < weights.shape[0]:
        X = _safe_indexing(X, kept)
        y = None if y is None else _safe_indexing(y, kept)
        weights = weights[kept]
    if np.all(weights == weights[0]):
        return X, y, None
    return X, y, weights / weights.mean()


#: Full float64 copies of the sampled rows that ``sample`` holds at once (the draws,
#: their inverse standardisation, and a decoded table or a caller's conversion).
SAMPLE_COPIES = 3


def check_sample_memory(owner, n_samples, n_columns, extra_bytes=0):
    """A ValueError when ``n_samples`` sampled rows would not fit in the available memory.

    Drawing them anyway would allocate until the allocator fails, which on some systems
    takes the machine down with it. Nothing is checked where the available memory is
    unknown.

    Parameters
    ----------
    owner : str
        The estimator's name, for the message.
    n_samples, n_columns : int
        Rows asked for, and their width as drawn (encoded columns).
    extra_bytes : int, default=0
        Temporaries of the blocks the rows are drawn in.
    """
    needed = n_samples * n_columns * 8 * SAMPLE_COPIES + extra_bytes
    available = available_host_memory()
    if available is None or needed <= available:
        return
    raise ValueError(
        f"{owner}.sample(n_samples={n_samples}) needs about {needed / 2**30:.3g} GiB of "
        f"memory ({n_columns} values per row), but only {available / 2**30:.3g} GiB are "
        "available: draw the rows in smaller batches (several calls of sample, each "
        "with its own random_state, writing each batch out before the next)."
    )


def check_result(values, owner, method, X=None, dtype=None):
    """Raise a ValueError when a method's result holds NaN or infinity; else return it.

    Finite input can still overflow inside the network when it lies far outside the
    training data; that is reported with the row rather than returned as NaN.
    """
    values = np.asarray(values)
    if values.size == 0 or np.isfinite(values).all():
        return values
    row = int(np.argwhere(~np.isfinite(values.reshape(values.shape[0], -1)))[0][0])
    detail = ""
    if X is not None and X.shape[0] > row:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows of tables
            largest = np.nanmax(np.abs(X[row])) if X.shape[1] else np.nan
        detail = f" (its largest magnitude is {largest:g})"
    precision = np.dtype(dtype if dtype is not None else values.dtype).name
    hint = " Passing float64 input computes in float64." if precision == "float32" else ""
    raise ValueError(
        f"{owner}.{method} gives a non-finite result for row {row}{detail}: the row lies "
        f"too far outside the training data to compute with in {precision}.{hint} Check or "
        "rescale that row."
    )


def check_labels(y, owner, continuous=True):
    """Raise a ValueError for labels that cannot be classes: NaN, None, a mix of strings
    and numbers, and (``continuous``) float values that are not whole numbers."""
    if y.dtype.kind == "c":
        raise ValueError("y holds complex numbers; labels must be integers or strings.")
    if y.dtype.kind == "f":
        bad = ~np.isfinite(y)
        if np.any(bad):
            row = int(np.argmax(bad))
            raise ValueError(f"y holds {y[row]} at row {row}; labels must be finite.")
    if y.dtype.kind == "O":
        kinds = {}
        for row, value in enumerate(y):
            if value is None or type(value).__name__ == "NAType" or (
                    isinstance(value, float) and value != value):
                raise ValueError(f"y holds {value!r} at row {row}; every row needs a label.")
            kinds.setdefault(isinstance(value, str), row)
        if len(kinds) > 1:
            text, other = y[kinds[True]], y[kinds[False]]
            other = other.item() if isinstance(other, np.generic) else other
            raise ValueError(f"y mixes strings (row {kinds[True]}: {text!r}) and other "
                             f"values (row {kinds[False]}: {other!r}); labels must be all "
                             "strings or all numbers.")
    if continuous and y.dtype.kind in "fO" and type_of_target(y) == "continuous":
        row = int(np.argmax(y != np.round(y.astype(np.float64))))
        raise ValueError(f"y holds continuous values (row {row}: {y[row]}); {owner} "
                         "needs class labels. Bin them first, e.g. with np.digitize or "
                         "pandas.cut.")


def check_weights(module, owner):
    """A NonFiniteLossError when training left a NaN or infinite weight in ``module``."""
    tensors = [t for t in module.state_dict().values() if t.is_floating_point()]
    if tensors and not bool(torch.stack([torch.isfinite(t).all() for t in tensors]).all()):
        raise NonFiniteLossError(
            f"{owner}: training made some weights NaN or infinite, so the model is not "
            "usable. Likely causes: a learning_rate_init too high for this data, or "
            "features on very large or very different scales."
        )


def check_standardizer(loc, scale, likelihood):
    """The likelihood's ``(loc, scale)``, checked to be finite with positive scales."""
    bad = ~(np.isfinite(loc) & np.isfinite(scale) & (scale > 0))
    if np.any(bad):
        column = int(np.argmax(bad))
        raise ValueError(
            f"likelihood={likelihood!r} cannot standardise column {column}: it gives "
            f"loc={loc[column]:g}, scale={scale[column]:g} (a scale must be finite and "
            "positive). Check that column's values."
        )
    return loc, scale
