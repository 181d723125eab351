"""Where a model computes: resolving the ``device`` parameter, its memory (freeing it,
recognising when it ran out, what the host has left)."""

# License: BSD 3 clause

import os

import torch

#: The device types a model computes on. Others that torch knows ("meta" holds shapes
#: without data; "xla", "lazy" and the like trace instead of computing) would give
#: garbage or fail deep inside torch.
DEVICE_TYPES = ("cpu", "cuda", "mps")

_ACCEPTED = ('"auto", "cpu", "cuda", "cuda:N", "mps", or a torch.device of type '
             '"cpu", "cuda" or "mps"')


def resolve_device(device):
    """Turn the ``device`` parameter into a :class:`torch.device`.

    Parameters
    ----------
    device : str or torch.device
        ``"auto"`` picks CUDA, then MPS, then the CPU; otherwise a device of a type in
        :data:`DEVICE_TYPES` that this machine has.

    Returns
    -------
    device : torch.device

    Raises
    ------
    ValueError
        For anything else, listing the accepted devices.

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
    device = check_device_type(device, "device")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device={str(device)!r} was asked for but CUDA is not available.")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device={str(device)!r} was asked for but this machine has "
                             f"{torch.cuda.device_count()} CUDA device(s).")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError("device='mps' was asked for but MPS is not available.")
    return device


def check_device_type(device, name):
    """``device`` as a :class:`torch.device` of a type in :data:`DEVICE_TYPES`.

    Checks the spelling only, not whether this machine has the device.

    Parameters
    ----------
    device : str or torch.device
    name : str
        What ``device`` is, for the message.

    Returns
    -------
    device : torch.device

    Examples
    --------
    >>> check_device_type("cuda:1", "device")
    device(type='cuda', index=1)
    """
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ValueError(f"{name}={device!r} is not a torch device ({exc}); skvae "
                         f"accepts {_ACCEPTED}.") from None
    if parsed.type not in DEVICE_TYPES:
        raise ValueError(f"{name}={str(parsed)!r} is not a device skvae can compute on; it "
                         f"accepts {_ACCEPTED}.")
    return parsed


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
