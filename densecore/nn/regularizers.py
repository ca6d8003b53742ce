"""Weight penalties added to the training loss, with Keras 3's names, arguments and
formulas (keras.regularizers):

    L1(l1)        l1 · Σ|w|
    L2(l2)        l2 · Σ w²      (note: Keras has no factor ½)
    L1L2(l1, l2)  both

`l1`, `l2` and `l1_l2` are the same classes under Keras's lowercase names.
Called on a weight Tensor, a regularizer returns the penalty as a scalar Tensor of the
graph (so that the loss's gradient includes it); a factor of 0 gives a constant 0.0. Each
factor must be a finite number ≥ 0 (None means the default, as in Keras).

    >>> import numpy as np
    >>> import densecore as dc
    >>> L2(2.0)(dc.Tensor(np.ones((5, 5), np.float32))).item()
    50.0
"""

import math
import numbers

import numpy as np

from ..engine.tensor import Tensor
from . import arguments

__all__ = ["Regularizer", "L1", "L2", "L1L2", "l1", "l2", "l1_l2", "get", "serialize", "deserialize"]


def validate_float_arg(value, name, where="Regularizer"):
    """`value` as a float, if it is a finite number ≥ 0 (Keras's check); else ValueError.

    Example:
        >>> validate_float_arg(1, "l1")
        1.0
    """
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(
            f"{where}: invalid value for argument {name}: expected a non-negative float. "
            f"Received: {name}={value!r}"
        )
    return float(value)


class Regularizer:
    """Base class: `regularizer(w)` returns a scalar penalty for the weight w.

    A subclass implements `__call__(self, w)` (a Tensor in, a scalar Tensor out, built from
    Tensor operations so that it has a gradient) and `get_config()`.

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> class Sum(Regularizer):
        ...     def __call__(self, w):
        ...         return w.sum() * 0.5
        ...     def get_config(self):
        ...         return {}
        >>> Sum()(dc.Tensor(np.ones(4, np.float32))).item()
        2.0
    """

    def __call__(self, w):
        return _zero(w)

    def get_config(self) -> dict:
        """The constructor arguments, for saving."""
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")

    @classmethod
    def from_config(cls, config):
        """A new regularizer from `get_config()`'s output (checked as the constructor checks)."""
        return cls(**config)


def _tensor(w) -> Tensor:
    """A weight as a Tensor (an array becomes a constant one: the penalty has no gradient)."""
    return w if isinstance(w, Tensor) else Tensor(w)


def _zero(w) -> Tensor:
    """The penalty 0.0, a constant scalar Tensor in w's float dtype."""
    dtype = getattr(w, "dtype", np.float32)
    return Tensor(np.zeros((), dtype if np.dtype(dtype).kind == "f" else np.float32))


def _abs(w):
    """|w| as a graph node: d|w| = sign(w) dw."""
    return w._child(np.abs(w.data), (w,), lambda g: w._accumulate(g * np.sign(w.data)))


def _penalty(w, l1, l2):
    w = _tensor(w)
    penalty = None
    if l1:
        penalty = _abs(w).sum() * l1
    if l2:
        term = (w * w).sum() * l2
        penalty = term if penalty is None else penalty + term
    return _zero(w) if penalty is None else penalty


class L1L2(Regularizer):
    """l1 · Σ|w| + l2 · Σ w², as keras.regularizers.L1L2.

    Args:
        l1: a finite number ≥ 0; default 0.0 (None: 0.0).
        l2: a finite number ≥ 0; default 0.0 (None: 0.0).

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> L1L2(l1=0.1, l2=0.2)(dc.Tensor(np.ones((2, 2), np.float32))).item()
        1.2000000476837158
    """

    def __init__(self, l1=0.0, l2=0.0):
        where = type(self).__name__
        self.l1 = validate_float_arg(0.0 if l1 is None else l1, "l1", where)
        self.l2 = validate_float_arg(0.0 if l2 is None else l2, "l2", where)

    def __call__(self, w):
        return _penalty(w, self.l1, self.l2)

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """l1 · Σ|w|, as keras.regularizers.L1.

    Args:
        l1: a finite number ≥ 0; default 0.01 (None: 0.01).

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> L1(0.0)(dc.Tensor(np.ones(3, np.float32))).item()
        0.0
    """

    def __init__(self, l1=0.01):
        self.l1 = validate_float_arg(0.01 if l1 is None else l1, "l1", type(self).__name__)

    def __call__(self, w):
        return _penalty(w, self.l1, 0.0)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """l2 · Σ w², as keras.regularizers.L2.

    Args:
        l2: a finite number ≥ 0; default 0.01 (None: 0.01).
    """

    def __init__(self, l2=0.01):
        self.l2 = validate_float_arg(0.01 if l2 is None else l2, "l2", type(self).__name__)

    def __call__(self, w):
        return _penalty(w, 0.0, self.l2)

    def get_config(self):
        return {"l2": self.l2}


# Keras's lowercase exports: the classes themselves (keras.regularizers.l1 is L1, and so on).
l1 = L1
l2 = L2
l1_l2 = L1L2

# Keras's names: each class by its name and in snake_case ("l1l2" too, as Keras's get takes it).
ALL = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2, "L1": L1, "L2": L2, "L1L2": L1L2}


def get(identifier):
    """A regularizer from None (returned as None), a name ("l1", "l2", "l1_l2", "L1L2", ...;
    the class with its default factors), a config dict, or a Regularizer (as it is) or any
    callable `w -> penalty`.

    Example:
        >>> get("l2").l2, get(None)
        (0.01, None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = ALL.get(identifier) or ALL.get(identifier.lower())
        if cls is not None:
            return cls()
    elif isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    elif callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret regularizer identifier: {identifier!r:.80}; expected None, one of "
        f"{sorted(ALL)}, a config dict or a Regularizer."
    )


def serialize(reg):
    """{'class_name', 'config'} for saving a regularizer, or None.

    Example:
        >>> serialize(L1L2(l1=0.1))
        {'class_name': 'L1L2', 'config': {'l1': 0.1, 'l2': 0.0}}
    """
    if reg is None:
        return None
    return {"class_name": type(reg).__name__, "config": reg.get_config()}


def deserialize(spec, custom_objects=None):
    """A regularizer from `serialize`'s output (or Keras's: 'module' and 'registered_name'
    are ignored), a name, or None; `custom_objects` maps other class names to classes."""
    return arguments.deserialize("regularizer", spec, ALL.get, get, ALL, custom_objects)
