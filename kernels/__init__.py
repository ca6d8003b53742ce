"""Numba kernels for the dense layer: numpy arrays in, numpy arrays out.

Each backend is a module with the same public functions (`dense_forward`,
`dense_backward`, ...). This module is the one dispatch point that finds them by name:

    >>> import kernels
    >>> k = kernels.get("cpu")
    >>> "reference" in kernels.available()
    True

This package never imports densecore: the engine sits on top of it, not the other way.
"""

import importlib

from .buffers import Buffers  # noqa: F401  (kernels.Buffers: results kept between calls)

_BACKENDS = {"reference": "kernels.reference", "cpu": "kernels.cpu", "cuda": "kernels.cuda"}

# The functions every backend provides.
FUNCTIONS = (
    "dense_forward",
    "dense_backward",
    "lowrank_forward",
    "lowrank_backward",
    "quantize",
    "dequantize",
    "int8_matmul",
    "qdense_forward",
    "sgd_update",
    "adam_update",
    "rmsprop_update",
    "cross_entropy",
    "squared_error",
    "dropout",
)


def get(name: str):
    """Return the backend module called `name` ("reference", "cpu" or "cuda").

    Raises:
        ValueError: for an unknown name, or a backend that cannot run here (with the reason).
    """
    if name not in _BACKENDS:
        raise ValueError(f"kernels.get: unknown backend {name!r}; expected one of {sorted(_BACKENDS)}.")
    try:
        module = importlib.import_module(_BACKENDS[name])
    except ImportError as exc:
        raise ValueError(f"kernels.get: backend {name!r} is not available here: {exc}") from exc
    reason = getattr(module, "unavailable_reason", lambda: None)()
    if reason:
        raise ValueError(f"kernels.get: backend {name!r} is not available here: {reason}")
    return module


def available() -> list:
    """Names of the backends usable on this machine."""
    names = []
    for name in _BACKENDS:
        try:
            get(name)
        except ValueError:
            continue
        names.append(name)
    return names
