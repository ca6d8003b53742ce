"""densecore: a from-scratch NumPy/Numba neural-network engine built around the dense layer,
with a Keras-like API.

    >>> import densecore as dc
    >>> model = dc.Sequential([dc.layers.Dense(10, activation="relu"),
    ...                        dc.layers.Dense(1, activation="sigmoid")])
    >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
"""

from . import (
    callbacks,
    compress,
    datasets,
    functional,
    initializers,
    layers,
    losses,
    metrics,
    optimizers,
    quantization,
    regularizers,
    utils,
)
from .backend import get_backend, set_backend
from .gpu import device_info, gpu_available
from .gradcheck import GradcheckError, gradcheck
from .layers import Input, clear_session
from .models import Model, Sequential
from .quantization import quantize, quantize_aware
from .random import set_seed
from .saving import load_model
from .tensor import Tensor, no_grad

__version__ = "0.1.0"

__all__ = [
    "quantization",
    "Model",
    "Sequential",
    "Input",
    "Tensor",
    "layers",
    "losses",
    "metrics",
    "optimizers",
    "callbacks",
    "initializers",
    "regularizers",
    "functional",
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
