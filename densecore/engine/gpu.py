"""Whether a GPU can run densecore here, and which."""


def gpu_available() -> bool:
    """True when numba-cuda is installed and a CUDA driver and device are usable.

    Never raises. numba's CUDA simulator (NUMBA_ENABLE_CUDASIM=1) is not a GPU: False there,
    although the "cuda" backend runs on it for testing.

    Example:
        >>> import densecore as dc
        >>> isinstance(dc.gpu_available(), bool)
        True
    """
    try:
        from numba import config, cuda

        return not config.ENABLE_CUDASIM and bool(cuda.is_available())
    except Exception:
        return False


def device_info() -> dict:
    """Name, compute capability and memory of the GPU (or of the simulator).

    Raises:
        ValueError: when no CUDA device is usable, with the reason.
    """
    from .. import kernels

    return kernels.get("cuda").device_info()
