"""densecore: a from-scratch NumPy/Numba neural-network engine built around the dense layer,
with a Keras-like API.

    >>> import densecore as dc
    >>> model = dc.Sequential([dc.layers.Dense(10, activation="relu"),
    ...                        dc.layers.Dense(1, activation="sigmoid")])
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])

The packages, from the bottom up, each importing only those below it:

    densecore.kernels   the math shared by every backend: reference, cpu (numba), cuda
    densecore.engine    Tensor and the graph ops (forward and backward), backend selection
    densecore.nn        layers, models, training, losses, metrics, optimizers, saving
    densecore.compress  low rank, pruning, distillation, quantization
"""

import sys as _sys

from . import _moved, compress, datasets, kernels, utils  # noqa: F401  (dc.kernels)
from .compress import quantization
from .compress.quantization import quantize, quantize_aware
from .engine import distribution, functional
from .engine.backend import get_backend, set_backend
from .engine.gpu import device_info, gpu_available
from .engine.gradcheck import GradcheckError, gradcheck
from .engine.random import set_seed
from .engine.tensor import Tensor, no_grad
from .nn import (
    callbacks,
    constraints,
    initializers,
    layers,
    losses,
    metrics,
    models,
    optimizers,
    regularizers,
    saving,
)
from .nn.layers import Input, clear_session
from .nn.models import Model, Sequential
from .nn.saving import load_model

if not any(isinstance(finder, _moved.Aliases) for finder in _sys.meta_path):
    _sys.meta_path.append(_moved.Aliases())

__version__ = "0.1.0"

__all__ = [
    "quantization",
    "Model",
    "Sequential",
    "Input",
    "models",
    "Tensor",
    "layers",
    "losses",
    "metrics",
    "optimizers",
    "callbacks",
    "initializers",
    "regularizers",
    "constraints",
    "saving",
    "functional",
    "distribution",
    "datasets",
    "utils",
    "load_model",
    "set_seed",
    "clear_session",
    "set_backend",
    "get_backend",
    "gradcheck",
    "GradcheckError",
    "no_grad",
    "compress",
    "quantize",
    "quantize_aware",
    "gpu_available",
    "device_info",
]
