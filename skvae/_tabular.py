"""Column typing and encoding for mixed tables (pandas DataFrames).

:class:`TableSchema` learns, per column, a kind, a likelihood and a transform from the
data, turns a DataFrame into a float matrix (one-hot groups for categories, NaN for
missing values, ``log x`` for log-modelled columns, ticks for datetimes) and turns
generated matrices back into a DataFrame with the same columns, dtypes and category sets.

How ``likelihood="auto"`` models a column (see :data:`AUTO_LIKELIHOODS`):

- bool -> "bool" (bernoulli); category, object and string -> "category" (categorical,
  one-hot; at most :data:`MAX_CATEGORIES` levels).
- datetime64 (naive or tz-aware) and timedelta64 -> "datetime" / "timedelta": the
  integer ticks in the column's own unit, modelled as a continuous (gaussian) value.
- Integers that look like counts (non-negative, smallest value within one standard
  deviation of zero, mean at most :data:`COUNT_MEAN_LIMIT`, variance at least half the
  mean) -> "count": poisson when the
  variance is close to the mean (:data:`POISSON_DISPERSION`), else negative_binomial.
  Other integers (years, unix times, ...) -> "integer": a gaussian on the values,
  rounded back. The estimator standardises gaussian columns, which removes large
  offsets.
- Floats -> "float" (gaussian).
- Strictly positive float, integer (not count) or timedelta columns that are clearly
  right-skewed (skewness above :data:`LOG_SKEWNESS`, and that of ``log x`` closer to
  zero) get the transform "log": the likelihood models ``log x``, decoding takes
  ``exp``, so the column comes back positive.

Decoded numeric, datetime and timedelta values are clipped to the column's training
[min, max], so bounded columns (positive amounts, percentages, dates) stay in range; a
continuous model of a column with hard edges (a uniform one, say) puts the mass it
spills past an edge on that edge.

Densities stay in the units of the columns as given: :meth:`TableSchema.log_jacobian`
is the term a log transform adds, and a datetime or timedelta column's density is per
tick of its unit (per microsecond for ``datetime64[us]``).
"""

# License: BSD 3 clause

import re
import warnings
from dataclasses import dataclass, field

import numpy as np

#: Column kind -> likelihood chosen by ``likelihood="auto"`` (counts close to a Poisson
#: get "poisson" instead; see :func:`_count_likelihood`).
AUTO_LIKELIHOODS = {
    "float": "gaussian",
    "integer": "gaussian",
    "count": "negative_binomial",
    "bool": "bernoulli",
    "category": "categorical",
    "datetime": "gaussian",
    "timedelta": "gaussian",
}

#: Most levels a categorical column may have. Its one-hot encoding takes
#: ``n_rows * n_levels`` floats (20,000 rows of a unique identifier would take 3 GiB),
#: and a model can only repeat levels it has seen: a column with more levels is refused
#: (drop identifiers; group or bin the rest). A column with more levels than half its
#: observed values (and over 20) is accepted with a warning: it looks like an identifier.
MAX_CATEGORIES = 1000

#: Skewness above which a strictly positive column is a candidate for the log transform.
LOG_SKEWNESS = 1.0

#: Largest mean of a column that "auto" models with a count likelihood. A Poisson of
#: mean 100 is within 0.007 of a rounded normal in Kolmogorov distance, and the
#: negative binomial's head, started far from large means, trained poorly: a 1650-16200
#: column of the Housing table began at a loss of 2.6 million nats per row.
COUNT_MEAN_LIMIT = 100

#: Range of the variance-to-mean ratio for which counts get "poisson": below it they
#: are modelled as continuous integers, above it with "negative_binomial".
POISSON_DISPERSION = (0.5, 1.5)

#: Kinds whose values are integers (rounded on decoding).
_INTEGER_KINDS = ("integer", "count", "datetime", "timedelta")

#: Kinds stored as integer ticks of a numpy datetime64 / timedelta64 dtype.
_TIME_CODES = {"datetime": "M", "timedelta": "m"}

#: Transforms a column's values may go through before the likelihood.
TRANSFORMS = (None, "log")

#: Integers beyond this magnitude are not all exact in float64, the encoded matrix's dtype.
_EXACT_INTEGERS = 2**53


@dataclass
class ColumnSpec:
    """How one column is encoded: kind, dtype, categories, likelihood, transform, range.

    ``low`` and ``high`` are the training minimum and maximum in the column's units
    (ints for integer kinds, ticks of the dtype's unit for datetimes and timedeltas), or
    None for schemas saved before they existed and for bool and category columns.
    """

    name: object
    kind: str
    dtype: object
    likelihood: object
    categories: list = field(default_factory=list)
    missing_rate: float = 0.0
    transform: object = None
    low: object = None
    high: object = None

    @property
    def width(self):
        """Number of matrix columns this column becomes."""
        return len(self.categories) if self.kind == "category" else 1


def _check_not_complex(series):
    if getattr(series.dtype, "kind", "") == "c":
        raise ValueError(f"Column {series.name!r} holds complex numbers, which no "
                         "likelihood models; pass its real part or its magnitude.")


def _kind(series):
    """The column's kind from its dtype; integer columns are refined by :func:`_model`."""
    import pandas as pd

    _check_not_complex(series)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    if pd.api.types.is_timedelta64_dtype(dtype):
        return "timedelta"
    if isinstance(dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(dtype):
        return "category"
    return "integer" if pd.api.types.is_integer_dtype(dtype) else "float"


def _skewness(values):
    centred = values - values.mean()
    variance = np.mean(centred**2)
    return float(np.mean(centred**3) / variance**1.5) if variance > 0 else 0.0


def _wants_log(values):
    """True for strictly positive, clearly right-skewed values that ``log`` makes more normal."""
    if values.min() <= 0:
        return False
    skewness = _skewness(values)
    return skewness > LOG_SKEWNESS and abs(_skewness(np.log(values))) < skewness


def _count_likelihood(values):
    """"poisson" or "negative_binomial" for values that look like counts, else None.

    Counts are non-negative integers whose minimum is within one standard deviation of
    zero and whose mean is at most :data:`COUNT_MEAN_LIMIT`: years or unix times sit
    many standard deviations away, and large counts (areas in square feet, say) are as
    well described by a continuous model, which trains far more easily. Clearly underdispersed counts (variance under
    ``POISSON_DISPERSION[0]`` times the mean) are narrower than any count likelihood;
    counts whose variance is within ``POISSON_DISPERSION`` times their mean get the
    Poisson, whose variance is its mean (the negative binomial would start, and for a
    long time stay, far more dispersed); more dispersed ones the negative binomial.
    """
    low, mean, variance = values.min(), values.mean(), values.var()
    if (low < 0 or low > np.sqrt(variance) or mean > COUNT_MEAN_LIMIT
            or variance < POISSON_DISPERSION[0] * mean):
        return None
    return "poisson" if variance <= POISSON_DISPERSION[1] * mean else "negative_binomial"


def _model(kind, values):
    """``(kind, likelihood, transform)`` that ``likelihood="auto"`` picks for a column."""
    counts = _count_likelihood(values) if kind == "integer" else None
    if counts is not None:
        return "count", counts, None
    if kind in ("integer", "float", "timedelta") and _wants_log(values):
        return kind, AUTO_LIKELIHOODS[kind], "log"
    return kind, AUTO_LIKELIHOODS[kind], None


def _categories(series):
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.categories.tolist()
    return sorted(pd.Series(series.dropna().unique()).tolist(), key=str)


def _check_levels(name, n_levels, n_observed):
    """Refuse a categorical column wider than :data:`MAX_CATEGORIES`; warn on identifiers."""
    if n_levels > MAX_CATEGORIES:
        raise ValueError(
            f"Column {name!r} has {n_levels} levels, more than the limit of {MAX_CATEGORIES} "
            "for a categorical column (skvae._tabular.MAX_CATEGORIES): its one-hot encoding "
            f"would take {n_levels} floats per row. Drop it if it identifies rows, or group "
            "or bin its values."
        )
    if n_levels > max(20, n_observed / 2):
        warnings.warn(
            f"Column {name!r} has {n_levels} levels for {n_observed} observed values: it "
            "looks like an identifier, which the model can only repeat. Drop it, or group "
            "its values.", UserWarning, stacklevel=4)


def _first_not_a_number(series):
    """``(row, value)`` of the first entry of ``series`` that is not a number, or None."""
    for row, value in enumerate(series.astype(object)):
        if value is None or value != value:  # a missing value is allowed
            continue
        try:
            float(value)
        except (TypeError, ValueError):
            return row, value
    return None


def _time_dtype(spec):
    """The numpy datetime64 / timedelta64 dtype whose ticks encode the column."""
    unit = getattr(spec.dtype, "unit", None) or np.datetime_data(spec.dtype)[0]
    return np.dtype(f"{_TIME_CODES[spec.kind]}8[{unit}]")


def _int_ticks(spec, series):
    """``(ticks, missing)``: int64 ticks of a datetime / timedelta column in its fit unit.

    Numbers are refused rather than read as ticks (a unit would have to be guessed);
    strings are parsed by pandas.
    """
    import pandas as pd

    refusal = ValueError(f"Column {spec.name!r} must hold {spec.kind}s ({spec.dtype}) as in "
                         f"fit; it has dtype {series.dtype}.")
    if pd.api.types.is_numeric_dtype(series.dtype):
        raise refusal
    try:
        series = series.astype(spec.dtype)
    except (TypeError, ValueError):
        raise refusal from None
    if getattr(spec.dtype, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    ticks = series.to_numpy(dtype=_time_dtype(spec)).view(np.int64)
    return ticks, series.isna().to_numpy()


def _time_ticks(spec, series):
    """The ticks of :func:`_int_ticks` as float64, NaN where missing."""
    ticks, missing = _int_ticks(spec, series)
    ticks = ticks.astype(np.float64)
    ticks[missing] = np.nan
    return ticks


def _from_ticks(spec, ticks):
    """A datetime / timedelta Series of the column's dtype from integer ticks."""
    import pandas as pd

    # Clipped again as integers: the float bounds can be off by the float64 spacing.
    ticks = np.clip(np.round(ticks).astype(np.int64), spec.low, spec.high)
    values = pd.Series(ticks.view(_time_dtype(spec)))
    if getattr(spec.dtype, "tz", None) is not None:
        values = values.dt.tz_localize("UTC").dt.tz_convert(spec.dtype.tz)
    return values.astype(spec.dtype)


def _check_bounds(low, high):
    """Refuse a saved range that is not two numbers in order, or absent."""
    if low is None and high is None:
        return
    numbers = all(type(bound) in (int, float) and np.isfinite(bound) for bound in (low, high))
    if not numbers or low > high:
        raise ValueError(f"bad column range [{low!r}, {high!r}]")


class TableSchema:
    """Learned description of a DataFrame's columns.

    Parameters
    ----------
    likelihoods : dict or None, default=None
        ``{column: likelihood}`` overrides for some columns; the others follow the rules
        of the module docstring (:data:`AUTO_LIKELIHOODS`). An overridden column is
        modelled on its values as they are (no transform).

    Attributes
    ----------
    columns : list of ColumnSpec
        One per column of the fitted DataFrame, in order.
    likelihoods_ : dict
        ``{column: (kind, likelihood, transform)}``: what was chosen for each column.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [0.5, 1.5, 2.0], "c": pd.Categorical(["a", "b", "a"])})
    >>> schema = TableSchema().fit(df)
    >>> [(s.name, s.kind, s.likelihood, s.width) for s in schema.columns]
    [('x', 'float', 'gaussian', 1), ('c', 'category', 'categorical', 2)]
    >>> schema.encode(df).shape
    (3, 3)
    >>> years = pd.DataFrame({"year": [1999, 2004, 2011, 2020]})
    >>> TableSchema().fit(years).likelihoods_
    {'year': ('integer', 'gaussian', None)}
    """

    def __init__(self, likelihoods=None):
        self.likelihoods = dict(likelihoods or {})

    def fit(self, df):
        """Learn the columns of ``df``; returns self."""
        if df.shape[1] == 0:
            raise ValueError("X has no columns: a table to model needs at least one.")
        if df.shape[0] == 0:
            raise ValueError(f"Found array with 0 sample(s) (shape={df.shape}): X has no rows.")
        unknown = set(self.likelihoods) - set(df.columns)
        if unknown:
            raise ValueError("likelihood names columns that X does not have: "
                             f"{sorted(unknown, key=str)}.")
        self.columns = []
        for name in df.columns:
            series = df[name]
            if series.isna().all():
                raise ValueError(f"Column {name!r} has no observed values.")
            self.columns.append(self._fit_column(name, series))
        return self

    def _fit_column(self, name, series):
        """The ColumnSpec of one column with observed values."""
        override = self.likelihoods.get(name)
        spec = ColumnSpec(name=name, kind=_kind(series), dtype=series.dtype,
                          likelihood=override, missing_rate=float(series.isna().mean()))
        if spec.kind == "category":
            if override not in (None, "categorical"):
                self._refuse_numeric_override(spec, series)
            spec.categories = _categories(series)
            _check_levels(name, len(spec.categories), int(series.notna().sum()))
        elif spec.kind != "bool":
            values = self._encode_column(spec, series)
            observed = values[~np.isnan(values)]
            if override is None:
                spec.kind, spec.likelihood, spec.transform = _model(spec.kind, observed)
            self._set_range(spec, series, observed)
        spec.likelihood = spec.likelihood or AUTO_LIKELIHOODS[spec.kind]
        return spec

    @staticmethod
    def _refuse_numeric_override(spec, series):
        where = _first_not_a_number(series)
        found = (f"row {where[0]} holds {where[1]!r}, which is not a number"
                 if where else f"it has dtype {series.dtype}")
        raise ValueError(
            f"Column {spec.name!r}: likelihood={spec.likelihood!r} models numbers, and {found}. "
            "Convert the column (e.g. astype(bool) or astype(float)) or leave it to "
            "'categorical'."
        )

    @staticmethod
    def _set_range(spec, series, observed):
        """Store the training [min, max] (exact integers for integer kinds); warn on precision.

        ``observed`` holds the encoded values (ticks for times, before any transform);
        integer bounds are read from ``series`` itself, as float64 rounds large ones.
        """
        if spec.kind in _TIME_CODES:
            ticks, missing = _int_ticks(spec, series)
            low, high = int(ticks[~missing].min()), int(ticks[~missing].max())
        elif spec.kind in _INTEGER_KINDS:
            low, high = int(series.min()), int(series.max())
        else:
            low, high = float(observed.min()), float(observed.max())
        spec.low, spec.high = low, high
        if spec.kind in ("integer", "count") and max(-low, high) > _EXACT_INTEGERS:
            warnings.warn(
                f"Column {spec.name!r} holds integers beyond 2**53 in magnitude, which "
                "float64 cannot all represent: they are modelled and generated only to "
                "about 16 significant digits.", UserWarning, stacklevel=4)

    @property
    def likelihoods_(self):
        """``{column: (kind, likelihood, transform)}`` for each fitted column."""
        return {spec.name: (spec.kind, spec.likelihood, spec.transform)
                for spec in self.columns}

    def to_config(self):
        """A JSON-compatible description, for saving without pickle."""
        return {
            "likelihoods": [[k, v] for k, v in self.likelihoods.items()],
            "columns": [
                {"name": spec.name, "kind": spec.kind, "dtype": str(spec.dtype),
                 "ordered": bool(getattr(spec.dtype, "ordered", False)),
                 "likelihood": spec.likelihood, "categories": list(spec.categories),
                 "missing_rate": spec.missing_rate, "transform": spec.transform,
                 "low": spec.low, "high": spec.high}
                for spec in self.columns
            ],
        }

    @classmethod
    def from_config(cls, config):
        """The schema described by :meth:`to_config`.

        Configs written before transforms and ranges existed give columns without them.
        """
        import pandas as pd

        schema = cls(dict(config["likelihoods"]))
        schema.columns = []
        for column in config["columns"]:
            if column["kind"] not in AUTO_LIKELIHOODS:
                raise ValueError(f"unknown column kind {column['kind']!r}")
            if column.get("transform") not in TRANSFORMS:
                raise ValueError(f"unknown column transform {column['transform']!r}")
            _check_bounds(column.get("low"), column.get("high"))
            if column["dtype"] == "category":
                dtype = pd.CategoricalDtype(column["categories"], ordered=column["ordered"])
            else:
                dtype = pd.api.types.pandas_dtype(column["dtype"])
            schema.columns.append(ColumnSpec(
                name=column["name"], kind=column["kind"], dtype=dtype,
                likelihood=column["likelihood"], categories=list(column["categories"]),
                missing_rate=float(column["missing_rate"]), transform=column.get("transform"),
                low=column.get("low"), high=column.get("high"),
            ))
        return schema

    @property
    def blocks(self):
        """``(likelihood, width)`` per column, for :class:`~skvae.likelihoods.MixedLikelihood`."""
        return [(spec.likelihood, spec.width) for spec in self.columns]

    def encode(self, df):
        """The float matrix of ``df``: one-hot groups for categories, NaN where missing."""
        missing = [spec.name for spec in self.columns if spec.name not in df.columns]
        if missing:
            raise ValueError(f"X lacks the columns seen in fit: {missing}.")
        blocks = [self._encode_column(spec, df[spec.name]) for spec in self.columns]
        return np.column_stack(blocks).astype(np.float64)

    def log_jacobian(self, frame):
        """log |d encode / dx| per row of ``frame``, for densities in the user's units.

        A log-modelled column contributes ``-log x`` for each observed entry; the other
        columns contribute nothing.

        Parameters
        ----------
        frame : pandas.DataFrame
            A table with the fitted columns.

        Returns
        -------
        log_jacobian : ndarray of shape (n_rows,)
        """
        total = np.zeros(len(frame))
        for spec in self.columns:
            if spec.transform == "log":
                total -= np.nan_to_num(self._encode_column(spec, frame[spec.name]))
        return total

    def encoded_log_jacobian(self, M):
        """:meth:`log_jacobian` of the rows whose encoding (by :meth:`encode`) is ``M``."""
        starts = np.cumsum([0] + [spec.width for spec in self.columns])
        logged = [start for start, spec in zip(starts, self.columns) if spec.transform == "log"]
        return -np.nansum(M[:, logged], axis=1)

    def check_support(self, M):
        """Check each column of an encoded matrix against its likelihood; returns M.

        The error names the DataFrame column (missing entries are left out).
        """
        from .likelihoods import CategoricalLikelihood, get_likelihood

        start = 0
        for spec in self.columns:
            block = M[:, start : start + spec.width]
            start += spec.width
            rows = ~np.isnan(block).any(axis=1)
            if not rows.any():
                continue
            likelihood = (CategoricalLikelihood() if spec.likelihood == "categorical"
                          else get_likelihood(spec.likelihood))
            try:
                likelihood.check_support(block[rows])
            except ValueError as exc:
                message = str(exc)
                found = re.search(r"column (\d+) holds (.+) \(row (\d+)\)\.$", message)
                if found and spec.width == 1:  # "column 0" of the block is this column
                    row = int(np.flatnonzero(rows)[int(found.group(3))])
                    message = f"{message[:found.start()]}row {row} holds {found.group(2)}."
                raise ValueError(f"Column {spec.name!r}: {message}") from None
        return M

    def _encode_column(self, spec, series):
        _check_not_complex(series)
        if spec.kind == "category":
            return self._onehot(spec, series)
        values = (_time_ticks(spec, series) if spec.kind in _TIME_CODES
                  else self._finite_numbers(spec, series))
        return self._log(spec, values) if spec.transform == "log" else values

    @classmethod
    def _finite_numbers(cls, spec, series):
        values = cls._numbers(spec, series)
        infinite = np.isinf(values)
        if np.any(infinite):
            row = int(np.argmax(infinite))
            raise ValueError(
                f"Column {spec.name!r} holds {values[row]} at row {row}. Missing values "
                "(NaN, None) are modelled; infinite ones are not: replace them."
            )
        return values

    @staticmethod
    def _numbers(spec, series):
        """The column as float64 (NaN where missing); the error names the first non-number."""
        try:
            return series.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):
            where = _first_not_a_number(series)
            found = (f": row {where[0]} holds {where[1]!r}, which is not a number"
                     if where else f"; it has dtype {series.dtype}")
            raise ValueError(f"Column {spec.name!r} must be numeric as in fit ({spec.dtype})"
                             f"{found}.") from None

    @staticmethod
    def _log(spec, values):
        bad = values <= 0
        if np.any(bad):
            row = int(np.argmax(bad))
            raise ValueError(
                f"Column {spec.name!r} holds {values[row]} at row {row}; it was positive in "
                "fit and is modelled on the log scale, which needs positive values. Refit "
                f"with likelihood={{{spec.name!r}: 'gaussian'}} to model it as it is."
            )
        return np.log(values)

    @staticmethod
    def _onehot(spec, series):
        values = series.astype(object).to_numpy()
        known = {category: i for i, category in enumerate(spec.categories)}
        unseen = {v for v in values if v is not None and v == v and v not in known}
        if unseen:
            raise ValueError(f"Column {spec.name!r} has categories not seen in fit: "
                             f"{sorted(map(str, unseen))[:5]}.")
        onehot = np.zeros((len(values), spec.width))
        for row, value in enumerate(values):
            if value is None or value != value:
                onehot[row] = np.nan
            else:
                onehot[row, known[value]] = 1.0
        return onehot

    def decode(self, M, rng=None):
        """A DataFrame from a generated matrix, with the dtypes and categories of fit.

        Log-modelled columns are exponentiated, integer-valued ones rounded, and numeric,
        datetime and timedelta values clipped to the column's training [min, max].

        Parameters
        ----------
        M : ndarray of shape (n_rows, n_encoded_columns)
        rng : numpy.random.RandomState or None
            When given, each column gets missing values at its training rate.

        Returns
        -------
        df : pandas.DataFrame
        """
        import pandas as pd

        data, start = {}, 0
        for spec in self.columns:
            block = M[:, start : start + spec.width]
            start += spec.width
            values = self._decode_column(spec, block)
            if rng is not None and spec.missing_rate > 0:
                values = values.mask(rng.uniform(size=len(values)) < spec.missing_rate)
            data[spec.name] = values
        return pd.DataFrame(data)

    def _decode_column(self, spec, block):
        import pandas as pd

        if spec.kind == "category":
            labels = np.asarray(spec.categories, dtype=object)[block.argmax(axis=1)]
            if isinstance(spec.dtype, pd.CategoricalDtype):
                return pd.Series(pd.Categorical(labels, dtype=spec.dtype))
            return pd.Series(labels).astype(spec.dtype)
        values = block[:, 0]
        if spec.kind == "bool":
            return pd.Series(values > 0.5).astype(spec.dtype)
        if spec.transform == "log":
            with np.errstate(over="ignore"):  # inf is clipped to the training maximum
                values = np.exp(values)
        if spec.low is not None:
            values = np.clip(values, spec.low, spec.high)
        if spec.kind in _TIME_CODES:
            return _from_ticks(spec, values)
        if spec.kind in _INTEGER_KINDS:
            values = np.round(values)
        return pd.Series(values).astype(spec.dtype)
