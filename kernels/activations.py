"""Activation functions: the one place that names them and knows their derivatives.

Every backend (reference, cpu, cuda) and the engine use this table, so a name means the
same function everywhere.

For y = act(z) the backward pass needs act'(z). All four activations here let us write it
from the saved *output* y, so the forward never has to keep z:

    linear   y = z                  act'(z) = 1
    relu     y = max(z, 0)          act'(z) = 1 if y > 0 else 0
    sigmoid  y = 1 / (1 + e^-z)     act'(z) = y (1 - y)
    tanh     y = tanh(z)            act'(z) = 1 - y^2

NaN propagates through every activation (relu(NaN) is NaN, as in numpy and PyTorch).
"""

import math

from numba import njit

LINEAR, RELU, SIGMOID, TANH = 0, 1, 2, 3

CODES = {"linear": LINEAR, "relu": RELU, "sigmoid": SIGMOID, "tanh": TANH}


def code(activation, where: str) -> int:
    """Return the integer code the kernels use for an activation name.

    Args:
        activation: one of "linear", "relu", "sigmoid", "tanh", or None (linear).
        where: the calling function's name, for the error message.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
    """
    if activation is None:
        return LINEAR
    if isinstance(activation, str) and activation in CODES:
        return CODES[activation]
    raise ValueError(f"{where}: unknown activation {activation!r}; expected one of {sorted(CODES)} or None.")


@njit(inline="always", cache=True)
def apply(z, act):
    """y = act(z) for one scalar."""
    if act == RELU:
        return 0.0 if z <= 0.0 else z  # written so that NaN falls through to z
    if act == SIGMOID:
        if z >= 0.0:
            return 1.0 / (1.0 + math.exp(-z))
        e = math.exp(z)  # never overflows for z < 0
        return e / (1.0 + e)
    if act == TANH:
        return math.tanh(z)
    return z


@njit(inline="always", cache=True)
def derivative_from_output(y, act):
    """act'(z) written in terms of y = act(z), for one scalar."""
    if act == RELU:
        return 1.0 if y > 0.0 else 0.0
    if act == SIGMOID:
        return y * (1.0 - y)
    if act == TANH:
        return 1.0 - y * y
    return 1.0
