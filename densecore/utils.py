"""Keras's helpers (`keras.utils`): one-hot labels, row normalisation, the seed, and
PyDataset (data read batch by batch: densecore/nn/data.py).

>>> import densecore as dc
>>> dc.utils.to_categorical([0, 2, 1]).tolist()
[[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
"""

import numpy as np

from .engine.random import set_seed as set_random_seed  # noqa: F401  (keras.utils.set_random_seed)
from .nn.data import PyDataset  # noqa: F401  (keras.utils.PyDataset)

Sequence = PyDataset  # Keras 3's other name for it

__all__ = ["to_categorical", "normalize", "set_random_seed", "PyDataset", "Sequence"]


def to_categorical(x, num_classes=None) -> np.ndarray:
    """One-hot rows from integer class labels, as keras.utils.to_categorical.

    Labels of shape (..., 1) are taken as (...); the result has shape (..., num_classes)
    and dtype float32 (what the models train in). num_classes defaults to max(x) + 1.

    Raises:
        ValueError: for labels that are not integers, negative, or not below num_classes.
    """
    labels = np.asarray(x)
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError("to_categorical: x must hold integer class labels; received non-integer values.")
    elif labels.dtype.kind not in "biu":
        raise ValueError(f"to_categorical: x must hold integer class labels; received dtype {labels.dtype}.")
    labels = labels.astype(np.int64)
    shape = labels.shape[:-1] if labels.ndim > 1 and labels.shape[-1] == 1 else labels.shape
    labels = labels.reshape(-1)
    if num_classes is None:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 0:
        raise ValueError(
            f"to_categorical: num_classes must be a non-negative integer; received {num_classes!r}."
        )
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(
            f"to_categorical: labels must lie in [0, {num_classes}); received values from "
            f"{labels.min()} to {labels.max()}."
        )
    onehot = np.zeros((labels.size, num_classes), np.float32)
    onehot[np.arange(labels.size), labels] = 1.0
    return onehot.reshape((*shape, num_classes))


def normalize(x, axis=-1, order=2) -> np.ndarray:
    """x divided by its `order`-norm along `axis` (an all-zero slice stays zero), as
    keras.utils.normalize."""
    x = np.asarray(x)
    norm = np.atleast_1d(np.linalg.norm(x, order, axis))
    norm[norm == 0] = 1
    return x / np.expand_dims(norm, axis)
