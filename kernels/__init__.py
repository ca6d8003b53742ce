"""Numba kernels for the dense layer: numpy arrays in, numpy arrays out.

Each backend is a module with the same public functions (`dense_forward`,
`dense_backward`, ...). This module is the one dispatch point that finds them by name:

    >>> from densecore import kernels
    >>> k = kernels.get("cpu")
    >>> "reference" in kernels.available()
    True

This package never imports the rest of densecore: the engine sits on top of it, not the other
way. It lives at the top of the repository (kernels/) and installs as `densecore.kernels`.
"""

import importlib
import warnings

from .buffers import Buffers  # noqa: F401  (kernels.Buffers: results kept between calls)

if __name__ == "kernels":  # `import kernels` from a checkout's top folder, the 0.1 way
    warnings.warn(
        "`import kernels` is deprecated and not installed by the wheel: use `from densecore import kernels`.",
        DeprecationWarning,
        stacklevel=2,
    )

_BACKENDS = ("reference", "cpu", "cuda")

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
    "adamax_update",
    "nadam_update",
    "adagrad_update",
    "cross_entropy",
    "squared_error",
    "dropout",
)

# What a backend that keeps arrays on a device (cuda) provides besides FUNCTIONS, so that a
# whole training step stays there: copying a batch up, gradient accumulation, the output
# activations the loss reads, and the metric counts. (tests/cuda checks cuda against both.)
DEVICE_FUNCTIONS = ("upload", "add", "softmax", "sigmoid", "count_correct")


def get(name: str):
    """Return the backend module called `name` ("reference", "cpu" or "cuda").

    Raises:
        ValueError: for an unknown name, or a backend that cannot run here (with the reason).
    """
    if name not in _BACKENDS:
        raise ValueError(f"kernels.get: unknown backend {name!r}; expected one of {sorted(_BACKENDS)}.")
    try:
        module = importlib.import_module(f".{name}", __name__)
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
