"""Where a model computes: resolving the ``device`` parameter, its memory (freeing it,
recognising when it ran out, what the host has left)."""

# License: BSD 3 clause

import os

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


#: Fragments of the messages of torch's CPU allocator when it cannot allocate.
_CPU_OUT_OF_MEMORY = ("alloc_cpu", "DefaultCPUAllocator")


def is_out_of_memory(exc):
    """True when ``exc`` says a device or the host ran out of memory.

    torch raises ``torch.OutOfMemoryError`` for CUDA and MPS, but a plain RuntimeError
    from its CPU allocator; numpy raises MemoryError.

    Examples
    --------
    >>> is_out_of_memory(RuntimeError("[enforce fail at alloc_cpu.cpp:117] data."))
    True
    >>> is_out_of_memory(RuntimeError("shape mismatch"))
    False
    """
    if isinstance(exc, (torch.OutOfMemoryError, MemoryError)):
        return True
    return isinstance(exc, RuntimeError) and any(text in str(exc)
                                                 for text in _CPU_OUT_OF_MEMORY)


def available_host_memory():
    """Bytes of host memory available to a new allocation, or None where unknown.

    Read from ``MemAvailable`` of /proc/meminfo (Linux), else from the available
    physical pages of ``os.sysconf``.
    """
    try:
        with open("/proc/meminfo") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, OSError, ValueError):
        return None
