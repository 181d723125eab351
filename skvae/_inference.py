"""Inference in blocks of rows: bounded memory, retried smaller when the device is full.

Also the float64 twin of a fitted module: float64 inputs are encoded and scored in
float64, so a row's result does not depend on the batch it comes in.
"""

# License: BSD 3 clause

import copy
import logging

import torch

from ._device import is_out_of_memory, release_memory

#: Rows x columns (x draws) handled at once at inference, to bound memory.
CHUNK_ELEMENTS = 2**23

logger = logging.getLogger("skvae")


def block_rows(width, cost=1):
    """Rows per block for rows ``width`` elements wide, each costing ``cost`` passes.

    Examples
    --------
    >>> block_rows(128), block_rows(128, cost=16)
    (65536, 4096)
    """
    return max(1, CHUNK_ELEMENTS // (width * cost))


def in_blocks(block, out, rows, device, owner):
    """Fill ``out`` with ``block(start, stop)`` for consecutive blocks of ``rows`` rows.

    When the device (or, on the CPU, the host) runs out of memory, the failed block is
    retried with half as many rows (results do not depend on the block size), down to
    single rows.

    Parameters
    ----------
    block : callable
        ``block(start, stop) -> ndarray`` of the rows ``start:stop`` of ``out``.
    out : ndarray
    rows : int
    device : torch.device
        Where ``block`` computes (its memory is released before a retry).
    owner : str
        The estimator's name, for the error message.

    Returns
    -------
    out : ndarray
    """
    start = 0
    with torch.inference_mode():
        while start < out.shape[0]:
            stop = min(out.shape[0], start + rows)
            try:
                out[start:stop] = block(start, stop)
            except (RuntimeError, MemoryError) as exc:
                if not is_out_of_memory(exc):
                    raise
                rows = _fewer_rows(rows, device, owner, exc)
                continue
            start = stop
    return out


def _fewer_rows(rows, device, owner, exc):
    release_memory(device)
    if rows == 1:
        if not isinstance(exc, torch.OutOfMemoryError):  # host memory
            raise MemoryError(
                f"{owner} ran out of host memory even for a single row: free memory "
                "(other programs, large arrays) and try again."
            ) from None
        raise torch.OutOfMemoryError(
            f"{owner} ran out of memory on {device} even for a single row: free memory "
            "on the device, or refit with device='cpu'."
        ) from None
    logger.info("out of memory on %s with %d rows at a time; retrying with %d",
                device, rows, rows // 2)
    return rows // 2


def float64_twin(module, device):
    """A float64 copy of ``module`` for inference, or None where the device has no float64.

    Made once per fit, not per call.
    """
    if device.type == "mps":
        return None
    return copy.deepcopy(module).to(torch.float64).eval()
