"""Where a model computes: resolving the ``device`` parameter, and freeing its memory."""

# License: BSD 3 clause

import torch


def resolve_device(device):
    """Turn the ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA, then MPS, then the CPU.

    Returns
    -------
    device : torch.device

    Examples
    --------
    >>> resolve_device("cpu")
    device(type='cpu')
    """
    if isinstance(device, str) and device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"device={device!r} is not a torch device: {exc}") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={str(device)!r} was asked for but CUDA is not available.")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device='mps' was asked for but MPS is not available.")
    return device


def loadable_device(device):
    """The device a model was fitted on when this machine has it, else the CPU.

    Examples
    --------
    >>> loadable_device("cpu")
    device(type='cpu')
    """
    try:
        return resolve_device(device)
    except ValueError:
        return torch.device("cpu")


def release_memory(device):
    """Return the memory cached by the allocator of a CUDA ``device`` after an OOM."""
    if device.type == "cuda":
        torch.cuda.empty_cache()
