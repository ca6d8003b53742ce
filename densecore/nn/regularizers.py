"""Weight penalties added to the training loss, with Keras's names and formulas.

L1(l1)        l1 · Σ|w|
L2(l2)        l2 · Σ w²      (note: Keras has no factor ½)
L1L2(l1, l2)  both
"""

import numpy as np


class Regularizer:
    """Base class: `regularizer(weight_tensor)` returns a scalar Tensor penalty."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        for name, value in (("l1", l1), ("l2", l2)):
            if not isinstance(value, (int, float)) or not np.isfinite(value) or value < 0:
                raise ValueError(
                    f"{type(self).__name__}: {name} must be a finite number ≥ 0; received {value!r}."
                )
        self.l1, self.l2 = float(l1), float(l2)

    def __call__(self, w):
        penalty = None
        if self.l1:
            penalty = _abs(w).sum() * self.l1
        if self.l2:
            term = (w * w).sum() * self.l2
            penalty = term if penalty is None else penalty + term
        return penalty

    def get_config(self) -> dict:
        """The constructor arguments, for saving."""
        return {"l1": self.l1, "l2": self.l2}


def _abs(w):
    """|w| as a graph node: d|w| = sign(w) dw."""
    return w._child(np.abs(w.data), (w,), lambda g: w._accumulate(g * np.sign(w.data)))


class L1(Regularizer):
    """l1 · Σ|w| (default l1 = 0.01, as in Keras)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """l2 · Σ w² (default l2 = 0.01, as in Keras)."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


class L1L2(Regularizer):
    """l1 · Σ|w| + l2 · Σ w² (defaults 0, as in Keras)."""


ALL = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier):
    """None, a Regularizer, or a name ("l1", "l2", "l1_l2") with Keras's default factors."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ALL:
        return ALL[identifier.lower()]()
    raise ValueError(
        f"Unknown regularizer {identifier!r}; expected one of {sorted(ALL)}, a Regularizer instance or None."
    )


def serialize(reg):
    """{'class_name', 'config'} for saving a regularizer, or None."""
    if reg is None:
        return None
    return {"class_name": type(reg).__name__, "config": reg.get_config()}


def deserialize(spec):
    """A regularizer from `serialize`'s output, or None."""
    if spec is None:
        return None
    return {"L1": L1, "L2": L2, "L1L2": L1L2}[spec["class_name"]](**spec["config"])
