"""The affine standardisation of the columns that a likelihood chooses, fitted once.

The torch module works on ``(X - loc) / scale``; the estimator owns this map, its
inverse (decoded means and samples back in the user's units) and its log-Jacobian
(added to densities, so scores are in the units of X).
"""

# License: BSD 3 clause

import warnings

import numpy as np
import torch

from ._validation import check_standardizer

#: Elements standardised at once on the host (a few MB of temporaries).
_BLOCK_ELEMENTS = 2**19

#: Inputs up to this many elements are standardised in one step (no block loop).
_SMALL_ELEMENTS = 4096

_NUMPY_DTYPES = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}


class Standardizer:
    """``x -> (x - loc) / scale`` per column, with its inverse and log-Jacobian.

    Parameters
    ----------
    loc, scale : ndarray of shape (n_columns,), float64
        Finite, with positive scales.

    Examples
    --------
    >>> import numpy as np
    >>> s = Standardizer(np.array([1.0, 0.0]), np.array([2.0, 1.0]))
    >>> s.to_tensor(np.array([[3.0, 5.0]]), torch.float64, "cpu")
    tensor([[1., 5.]], dtype=torch.float64)
    >>> s.inverse(np.array([[1.0, 5.0]]))
    array([[3., 5.]])
    >>> round(s.log_jacobian(), 4)
    -0.6931
    """

    def __init__(self, loc, scale):
        self.loc = loc
        self.scale = scale
        self._constants = {}

    @classmethod
    def fit(cls, X, likelihood):
        """The standardisation ``likelihood`` chooses for X, checked to be usable."""
        return cls(*check_standardizer(*likelihood.standardizer(X), likelihood))

    def __getstate__(self):
        return {"loc": self.loc, "scale": self.scale}  # the cached constants are rebuilt

    def __setstate__(self, state):
        self.__init__(state["loc"], state["scale"])

    def __repr__(self):
        return f"Standardizer(n_columns={self.loc.shape[0]})"

    @property
    def identity(self):
        """True when the map changes nothing (likelihoods that model X as it is)."""
        return self._constants_for(self.loc.dtype)[0]

    def _constants_for(self, dtype):
        """``(identity, loc, 1/scale)`` in ``dtype`` and ``(1/scale, loc/scale)`` in float64.

        Computed once per input dtype: at a single row, recomputing them costs more
        than the standardisation itself.
        """
        entry = self._constants.get(dtype)
        if entry is None:
            inv_scale64 = 1.0 / self.scale
            identity = not (np.any(self.loc) or np.any(self.scale != 1))
            entry = (identity, self.loc.astype(dtype), inv_scale64.astype(dtype),
                     inv_scale64, self.loc * inv_scale64)
            self._constants[dtype] = entry
        return entry

    # ------------------------------------------------------------------ forward
    def to_tensor(self, X, dtype, device, training=False, rows=None):
        """``(X - loc) / scale`` as a tensor of ``dtype`` on ``device``.

        Rows are converted in blocks (standardised in the input's precision before the
        cast, which keeps precision for columns with large offsets; the identity map is
        a plain cast), so the extra memory is the one output copy plus a block of a few
        MB, and each block is checked for overflow while it is in cache. Values that
        overflow ``dtype`` raise a ValueError naming the column; ``training`` says the
        tensor is the training data, for the advice in that message. ``rows`` (an
        integer array) takes those rows of X in that order, gathered block by block,
        so a shuffled or split copy costs no more memory than a plain one.
        """
        identity, loc_x, inv_scale_x = self._constants_for(X.dtype)[:3]
        if rows is not None and X.size <= _SMALL_ELEMENTS:
            X, rows = X[rows], None
        if rows is None and identity and _zero_copy(X, dtype, device):
            return torch.from_numpy(X)
        if (rows is None and X.size <= _SMALL_ELEMENTS and not identity
                and X.dtype == _NUMPY_DTYPES.get(dtype)):
            # A few rows (the single-row latency path): the arithmetic of _convert_into,
            # without its output buffer and loop.
            with np.errstate(over="ignore"):
                block = X - loc_x
                block *= inv_scale_x
            if not np.isinf(block).any():
                return torch.from_numpy(block).to(device)
        n_rows = X.shape[0] if rows is None else len(rows)
        out = torch.empty((n_rows, X.shape[1]), dtype=dtype)
        if not self._convert_into(out, X, safe=False, rows=rows):
            return out.to(device)
        if not identity:
            # X - loc overflowed X's precision (values near its largest): scale first.
            self._convert_into(out, X, safe=True, rows=rows)
        _check_range(out, X, identity, training)
        return out.to(device)

    def _convert_into(self, out, X, safe, rows=None):
        """Write ``(X - loc) / scale`` into ``out`` in row blocks; True if any entry is inf.

        ``safe`` computes ``X / scale - loc / scale`` in float64 instead, which
        overflows only where the standardised values themselves do (at some cost in
        precision for large offsets), for X - loc beyond the largest float. ``rows``
        gathers those rows of X instead of taking X in order.
        """
        identity, loc, inv_scale, inv_scale64, shift64 = self._constants_for(X.dtype)
        target = out.numpy()
        # A copy into an equal or wider float cannot overflow; the rest is checked per block.
        check = not (identity and X.dtype.itemsize <= target.dtype.itemsize)
        step = max(1, _BLOCK_ELEMENTS // max(1, X.shape[1]))
        overflow = False
        for start in range(0, target.shape[0], step):
            stop = start + step
            source = X[start:stop] if rows is None else X[rows[start:stop]]
            with np.errstate(over="ignore"):  # redone with safe=True, or reported
                if identity:
                    target[start:stop] = source  # numpy casts into the buffer
                elif safe:
                    target[start:stop] = source * inv_scale64 - shift64
                else:
                    block = source - loc
                    block *= inv_scale
                    target[start:stop] = block
            if check and not overflow:
                # numpy's isinf is vectorised; torch's is tens of times slower on the CPU.
                overflow = bool(np.isinf(target[start:stop]).any())
        return overflow

    def rows(self, X, index):
        """Standardised rows ``X[index]`` as float32, missing entries at the column mean."""
        return torch.as_tensor(np.nan_to_num((X[index] - self.loc) / self.scale),
                               dtype=torch.float32)

    # ------------------------------------------------------------------ inverse
    def inverse(self, M):
        """``M * scale + loc``: standardised rows back in the units of X, as float64.

        Overflow gives infinities (no warning): the callers report them with advice.
        """
        with np.errstate(over="ignore"):
            return M * self.scale + self.loc

    def log_jacobian(self):
        """log |d standardise / dx| of a whole row, added to densities of standardised data."""
        return -float(np.log(self.scale).sum())

    def log_jacobian_rows(self, x):
        """The log-Jacobian per row of the tensor ``x``, counting only observed entries."""
        log_scale = torch.as_tensor(np.log(self.scale), dtype=x.dtype, device=x.device)
        return -torch.where(torch.isnan(x), 0.0, log_scale).sum(-1)


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
