"""densecore: a from-scratch NumPy/Numba neural-network engine built around the dense layer.

    >>> import densecore as dc
    >>> model = dc.Sequential([dc.layers.Dense(10, activation="relu"),
    ...                        dc.layers.Dense(1, activation="sigmoid")])
"""

from . import functional
from .backend import get_backend, set_backend
from .gradcheck import GradcheckError, gradcheck
from .random import set_seed
from .tensor import Tensor, no_grad

__version__ = "0.1.0"
