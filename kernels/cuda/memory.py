"""Device memory for the cuda backend: copies, allocations named in out-of-memory errors,
arrays kept between calls, and the check that sorts numpy operands from device ones."""

import functools

import numpy as np
from numba import cuda

from ..buffers import take
from ..checks import is_device


def unavailable_reason():
    """None when a CUDA device (or numba's simulator) can run these kernels, else why not."""
    try:
        if cuda.is_available():
            return None
        return "numba.cuda found no usable GPU and driver (cuda.is_available() is False)"
    except Exception as exc:  # a broken driver install raises here
        return f"numba.cuda could not be initialised: {exc}"


def device_info() -> dict:
    """Name, compute capability and memory of the current device."""
    from numba import config

    if config.ENABLE_CUDASIM:
        return {"name": "numba CUDA simulator", "compute_capability": None, "memory_bytes": None}
    device = cuda.get_current_device()
    free, total = cuda.current_context().get_memory_info()
    return {
        "name": device.name.decode() if isinstance(device.name, bytes) else device.name,
        "compute_capability": device.compute_capability,
        "memory_bytes": total,
        "memory_free_bytes": free,
    }


def operands(where, arrays: dict, validate):
    """Validate (numpy) or shape-check (device) the inputs; return device arrays and whether
    the caller gave numpy arrays (then results go back to the host)."""
    on_host = not any(is_device(a) for a in arrays.values() if a is not None)
    if on_host:
        values = validate(*arrays.values())
        return [None if v is None else upload(v, n) for v, n in zip(values, arrays)], True
    for name, a in arrays.items():
        if a is not None and not is_device(a):
            raise TypeError(f"{where}: mix of device and host arrays; {name} is on the host.")
        if a is not None and np.dtype(a.dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"{where}: {name} must be float32 or float64; received {a.dtype}.")
    return list(arrays.values()), False


def _out_of_memory(exc, name, shape, dtype):
    """A MemoryError naming the array, for the driver's out-of-memory error; None otherwise."""
    if getattr(exc, "code", None) != 2 and "OUT_OF_MEMORY" not in str(exc):  # CUDA_ERROR_OUT_OF_MEMORY
        return None
    shape = tuple(int(d) for d in np.atleast_1d(shape))
    size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    return MemoryError(
        f"cuda: out of GPU memory allocating {name} {shape} {np.dtype(dtype)} "
        f"({size / 2**20:,.1f} MiB); use smaller batches or layers, or the cpu backend."
    )


def alloc(shape, dtype, name):
    """cuda.device_array, with out-of-memory reported as a MemoryError naming the array."""
    try:
        return cuda.device_array(shape, dtype)
    except Exception as exc:
        raise (_out_of_memory(exc, name, shape, dtype) or exc) from exc


def keep(buffers, where, name, shape, dtype, inputs=()):
    """A device array for `name`, kept in `buffers` for the next call (kernels/buffers.py)
    or new: a cudaMalloc per array and step is what it saves."""
    return take(buffers, where, name, shape, dtype, inputs, lambda shape, dtype: alloc(shape, dtype, name))


def upload(array, name):
    """cuda.to_device, with out-of-memory reported as a MemoryError naming the array."""
    try:
        return cuda.to_device(array)
    except Exception as exc:
        raise (_out_of_memory(exc, name, array.shape, array.dtype) or exc) from exc


@functools.lru_cache(maxsize=64)
def zeros(n, dtype):
    """A device vector of zeros, made once per (length, dtype): kernels only read it, so a
    training step does not copy a fresh one to the device for every product."""
    return upload(np.zeros(n, dtype), "zeros")
