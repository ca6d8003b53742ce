"""Weight constraints, with Keras 3's names, arguments, defaults and formulas
(keras.constraints): a projection applied to a weight right after each optimizer update.

With ‖w‖ the L2 norm along `axis` (for a Dense kernel (inputs, units) and axis=0: the
norm of each unit's incoming weights) and ε = 1e-7 (Keras's backend epsilon):

    MaxNorm(c)                w · clip(‖w‖, 0, c) / (ε + ‖w‖)
    MinMaxNorm(lo, hi, rate)  w · (rate · clip(‖w‖, lo, hi) + (1 − rate) ‖w‖) / (ε + ‖w‖)
    UnitNorm                  w / (ε + ‖w‖)
    NonNeg                    max(w, 0)

A constraint is a callable: `constraint(w)` takes an array (or a Tensor) and returns the
projected array. A weight Tensor carries its constraint as its `constraint` attribute;
`Optimizer.apply` calls `constrain(weight)` for each weight it has just updated, as Keras
does after each step.

    >>> import numpy as np
    >>> MaxNorm(2.0)(np.array([[3.0], [4.0]])).round(6)
    array([[1.2],
           [1.6]])
"""

import inspect
import numbers

import numpy as np

from . import arguments
from .arguments import number as _number

__all__ = [
    "Constraint",
    "MaxNorm",
    "MinMaxNorm",
    "NonNeg",
    "UnitNorm",
    "constrain",
    "get",
    "serialize",
    "deserialize",
]

EPSILON = 1e-7  # keras.backend.epsilon()


def _axis(where, axis):
    """An integer axis or a list of them (Keras's, for kernels of more than two axes)."""
    axes = axis if isinstance(axis, (list, tuple)) else [axis]
    if not axes or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes):
        raise ValueError(
            f"{where}: argument `axis` must be an integer or a list of integers. Received: axis={axis!r}"
        )
    return [int(a) for a in axis] if isinstance(axis, (list, tuple)) else int(axis)


def _array(where, w):
    """w (an array, array-like or Tensor) as a float numpy array."""
    w = np.asarray(getattr(w, "data", w))
    if w.dtype.kind != "f":
        try:
            w = w.astype(np.float64)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"{where}: expected an array of numbers; received dtype {w.dtype}.") from exc
    return w


def _norms(where, w, axis):
    axes = tuple(axis) if isinstance(axis, list) else axis
    try:
        return np.sqrt(np.sum(np.square(w), axis=axes, keepdims=True))
    except ValueError as exc:  # numpy's AxisError
        raise ValueError(f"{where}: axis {axis!r} does not exist for a weight of shape {w.shape}.") from exc


class Constraint:
    """Base class: `constraint(w)` returns w projected (the base class returns it unchanged).

    A subclass implements `__call__(self, w)`, and `get_config()` when it takes arguments.

    Example:
        >>> import numpy as np
        >>> class Clip(Constraint):
        ...     def __call__(self, w):
        ...         return np.clip(w, -1.0, 1.0)
        >>> Clip()(np.array([-3.0, 0.5]))
        array([-1. ,  0.5])
    """

    def __call__(self, w):
        return w

    def get_config(self) -> dict:
        """The constructor arguments, for saving."""
        return {}

    @classmethod
    def from_config(cls, config):
        """A new constraint from `get_config()`'s output (checked as the constructor checks)."""
        return cls(**config)


class MaxNorm(Constraint):
    """Rescale each unit's incoming weights whose L2 norm exceeds max_value down to it.

    Args:
        max_value: the largest norm, a finite number ≥ 0; default 2.
        axis: the axis (or list of axes) the norm runs along; default 0, each column of a
            Dense kernel (inputs, units).

    Example:
        >>> import numpy as np
        >>> MaxNorm(1.0)(np.array([[0.6, 3.0], [0.8, 4.0]])).round(6)
        array([[0.6, 0.6],
               [0.8, 0.8]])
    """

    def __init__(self, max_value=2, axis=0):
        where = type(self).__name__
        self.max_value = _number(where, "max_value", max_value, lambda v: v >= 0, "a finite number ≥ 0")
        self.axis = _axis(where, axis)

    def __call__(self, w):
        w = _array(type(self).__name__, w)
        norms = _norms(type(self).__name__, w, self.axis)
        return w * (np.clip(norms, 0, self.max_value) / (EPSILON + norms))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class NonNeg(Constraint):
    """Constrain the weights to be non-negative: max(w, 0).

    Example:
        >>> import numpy as np
        >>> NonNeg()(np.array([-1.0, 2.0]))
        array([0., 2.])
    """

    def __call__(self, w):
        return np.maximum(_array(type(self).__name__, w), 0)


class UnitNorm(Constraint):
    """Rescale each unit's incoming weights to an L2 norm of 1.

    Args:
        axis: the axis (or list of axes) the norm runs along; default 0.

    Example:
        >>> import numpy as np
        >>> UnitNorm()(np.array([[3.0], [4.0]])).round(6)
        array([[0.6],
               [0.8]])
    """

    def __init__(self, axis=0):
        self.axis = _axis(type(self).__name__, axis)

    def __call__(self, w):
        w = _array(type(self).__name__, w)
        return w / (EPSILON + _norms(type(self).__name__, w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


class MinMaxNorm(Constraint):
    """Move each unit's incoming-weight norm into [min_value, max_value], at `rate`.

    Args:
        min_value: the smallest norm, a finite number ≥ 0; default 0.0.
        max_value: the largest norm, a finite number ≥ min_value; default 1.0.
        rate: in [0, 1]; 1 (default) enforces the bounds at once, a smaller rate moves the
            norm part of the way towards them at each step:
            (1 − rate) · norm + rate · clip(norm, min_value, max_value).
        axis: the axis (or list of axes) the norm runs along; default 0.

    Example:
        >>> import numpy as np
        >>> MinMaxNorm(min_value=2.0, max_value=3.0)(np.array([[0.6], [0.8]])).round(6)
        array([[1.2],
               [1.6]])
    """

    def __init__(self, min_value=0.0, max_value=1.0, rate=1.0, axis=0):
        where = type(self).__name__
        self.min_value = _number(where, "min_value", min_value, lambda v: v >= 0, "a finite number ≥ 0")
        self.max_value = _number(
            where,
            "max_value",
            max_value,
            lambda v: v >= self.min_value,
            f"a finite number ≥ min_value ({min_value})",
        )
        self.rate = _number(where, "rate", rate, lambda v: 0 <= v <= 1, "a number in [0, 1]")
        self.axis = _axis(where, axis)

    def __call__(self, w):
        w = _array(type(self).__name__, w)
        norms = _norms(type(self).__name__, w, self.axis)
        desired = self.rate * np.clip(norms, self.min_value, self.max_value) + (1 - self.rate) * norms
        return w * (desired / (EPSILON + norms))

    def get_config(self):
        return {
            "min_value": self.min_value,
            "max_value": self.max_value,
            "rate": self.rate,
            "axis": self.axis,
        }


def constrain(weight) -> None:
    """Project `weight` (a Tensor) in place onto its `constraint` attribute, if it has one.

    `Optimizer.apply` calls this for every weight right after updating it. The constraint
    must return an array of the weight's shape; anything else raises ValueError and leaves
    the weight as it was.

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> w = dc.Tensor(np.array([-1.0, 2.0], np.float32))
        >>> w.constraint = NonNeg()
        >>> constrain(w)
        >>> w.data
        array([0., 2.], dtype=float32)
    """
    constraint = getattr(weight, "constraint", None)
    if constraint is None:
        return
    projected = constraint(weight.data)
    projected = np.asarray(getattr(projected, "data", projected))  # an array, or a Tensor
    if projected.shape != weight.data.shape:
        raise ValueError(
            f"constrain: the constraint {constraint!r:.80} of weight {weight.name!r} returned shape "
            f"{projected.shape}; expected the weight's {weight.data.shape}."
        )
    np.copyto(weight.data, projected, casting="unsafe")


# Keras's names: each class by its name and in snake_case.
ALL = {
    **{cls.__name__: cls for cls in (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm)},
    "constraint": Constraint,
    "max_norm": MaxNorm,
    "min_max_norm": MinMaxNorm,
    "non_neg": NonNeg,
    "unit_norm": UnitNorm,
}


def serialize(constraint):
    """{'class_name', 'config'} for saving a constraint, or None.

    Example:
        >>> serialize(MaxNorm(3.0))
        {'class_name': 'MaxNorm', 'config': {'max_value': 3.0, 'axis': 0}}
    """
    if constraint is None:
        return None
    if not isinstance(constraint, Constraint):
        raise TypeError(f"constraints.serialize: expected a Constraint or None; received {constraint!r:.80}.")
    return {"class_name": type(constraint).__name__, "config": constraint.get_config()}


def get(identifier):
    """A constraint from None (returned as None), a name ("max_norm", "MaxNorm", ...), a
    config dict, a Constraint class or instance, or any callable `w -> projected w`.

    Example:
        >>> get("non_neg"), get(None)
        (<...NonNeg object at ...>, None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    obj = ALL.get(identifier) if isinstance(identifier, str) else identifier
    if inspect.isclass(obj) and issubclass(obj, Constraint):
        return obj()
    if callable(obj) and not inspect.isclass(obj):
        return obj
    raise ValueError(
        f"Could not interpret constraint identifier: {identifier!r:.80}; expected None, one of "
        f"{sorted(ALL)}, a config dict or a Constraint."
    )


def deserialize(config, custom_objects=None):
    """A constraint from `serialize`'s output (or Keras's), a name, or None."""
    return arguments.deserialize("constraint", config, ALL.get, get, ALL, custom_objects)
