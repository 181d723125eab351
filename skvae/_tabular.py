"""Column typing and encoding for mixed tables (pandas DataFrames).

:class:`TableSchema` learns, per column, a kind and a likelihood from the data, turns a
DataFrame into a float matrix (one-hot groups for categories, NaN for missing values)
and turns generated matrices back into a DataFrame with the same columns, dtypes and
category sets.
"""

# License: BSD 3 clause

import re
from dataclasses import dataclass, field

import numpy as np

#: Column kind -> likelihood chosen by ``likelihood="auto"``.
AUTO_LIKELIHOODS = {
    "float": "gaussian",
    "integer": "gaussian",
    "count": "negative_binomial",
    "bool": "bernoulli",
    "category": "categorical",
}


@dataclass
class ColumnSpec:
    """How one column is encoded: its kind, dtype, categories and likelihood."""

    name: object
    kind: str
    dtype: object
    likelihood: object
    categories: list = field(default_factory=list)
    missing_rate: float = 0.0

    @property
    def width(self):
        """Number of matrix columns this column becomes."""
        return len(self.categories) if self.kind == "category" else 1


def _check_not_complex(series):
    if getattr(series.dtype, "kind", "") == "c":
        raise ValueError(f"Column {series.name!r} holds complex numbers, which no "
                         "likelihood models; pass its real part or its magnitude.")


def _kind(series):
    import pandas as pd

    _check_not_complex(series)
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if isinstance(dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(dtype):
        return "category"
    if pd.api.types.is_integer_dtype(dtype):
        return "count" if series.min() >= 0 else "integer"
    return "float"


def _categories(series):
    import pandas as pd

    if isinstance(series.dtype, pd.CategoricalDtype):
        return series.cat.categories.tolist()
    return sorted(pd.Series(series.dropna().unique()).tolist(), key=str)


class TableSchema:
    """Learned description of a DataFrame's columns.

    Parameters
    ----------
    likelihoods : dict or None, default=None
        ``{column: likelihood}`` overrides for some columns; the others follow
        :data:`AUTO_LIKELIHOODS`.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [0.5, 1.5, 2.0], "c": pd.Categorical(["a", "b", "a"])})
    >>> schema = TableSchema().fit(df)
    >>> [(s.name, s.kind, s.likelihood, s.width) for s in schema.columns]
    [('x', 'float', 'gaussian', 1), ('c', 'category', 'categorical', 2)]
    >>> schema.encode(df).shape
    (3, 3)
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
            kind = _kind(series)
            spec = ColumnSpec(
                name=name, kind=kind, dtype=series.dtype,
                likelihood=self.likelihoods.get(name, AUTO_LIKELIHOODS[kind]),
                categories=_categories(series) if kind == "category" else [],
                missing_rate=float(series.isna().mean()),
            )
            self.columns.append(spec)
        return self

    def to_config(self):
        """A JSON-compatible description, for saving without pickle."""
        return {
            "likelihoods": [[k, v] for k, v in self.likelihoods.items()],
            "columns": [
                {"name": spec.name, "kind": spec.kind, "dtype": str(spec.dtype),
                 "ordered": bool(getattr(spec.dtype, "ordered", False)),
                 "likelihood": spec.likelihood, "categories": list(spec.categories),
                 "missing_rate": spec.missing_rate}
                for spec in self.columns
            ],
        }

    @classmethod
    def from_config(cls, config):
        """The schema described by :meth:`to_config`."""
        import pandas as pd

        schema = cls(dict(config["likelihoods"]))
        schema.columns = []
        for column in config["columns"]:
            if column["kind"] not in AUTO_LIKELIHOODS:
                raise ValueError(f"unknown column kind {column['kind']!r}")
            if column["dtype"] == "category":
                dtype = pd.CategoricalDtype(column["categories"], ordered=column["ordered"])
            else:
                dtype = pd.api.types.pandas_dtype(column["dtype"])
            schema.columns.append(ColumnSpec(
                name=column["name"], kind=column["kind"], dtype=dtype,
                likelihood=column["likelihood"], categories=list(column["categories"]),
                missing_rate=float(column["missing_rate"]),
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
        if spec.kind != "category":
            try:
                values = series.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
            except (TypeError, ValueError):
                raise ValueError(f"Column {spec.name!r} must be numeric as in fit.") from None
            infinite = np.isinf(values)
            if np.any(infinite):
                row = int(np.argmax(infinite))
                raise ValueError(
                    f"Column {spec.name!r} holds {values[row]} at row {row}. Missing values "
                    "(NaN, None) are modelled; infinite ones are not: replace them."
                )
            return values
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
        if spec.kind in ("count", "integer"):
            return pd.Series(np.round(values)).astype(spec.dtype)
        return pd.Series(values).astype(spec.dtype)
