"""The accuracies: the functions (per-sample 1.0 or 0.0: accuracy, binary, categorical,
sparse categorical, top-k and sparse top-k) and the mean metrics over them (Accuracy,
BinaryAccuracy, ...). On the cuda backend the binary, categorical and sparse ones count on
the GPU.
"""

import numpy as np

from .base import _FunctionMetric, _host, _operands, _same_shapes


def accuracy(y_true, y_pred):
    """1.0 where y_pred equals y_true exactly, else 0.0 (shapes brought to the same rank)."""
    y_true, y_pred = _same_shapes("accuracy", y_true, y_pred)
    return (y_true == y_pred).astype(np.float32)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1.0 where (y_pred > threshold) equals y_true, else 0.0, per output."""
    y_true, y_pred = _same_shapes("binary_accuracy", y_true, y_pred)
    return (y_true == (y_pred > threshold)).astype(np.float32)


def categorical_accuracy(y_true, y_pred):
    """1.0 where argmax y_pred equals argmax y_true (one-hot targets), per sample."""
    y_true, y_pred = _operands(y_true, y_pred)
    labels = np.argmax(y_true, axis=-1)
    original = labels.shape
    if labels.ndim == y_pred.ndim:  # targets with an extra axis of 1
        labels = labels[..., 0]
    matches = (labels == np.argmax(y_pred, axis=-1)).astype(np.float32)
    return matches.reshape(original) if labels.shape != original else matches


def sparse_categorical_accuracy(y_true, y_pred):
    """1.0 where argmax y_pred equals the integer label, per sample."""
    y_true, y_pred = _operands(y_true, y_pred)
    original = y_true.shape
    if y_true.ndim == y_pred.ndim and y_true.shape[-1] == 1:  # labels of shape (N, 1)
        y_true = y_true[..., 0]
    matches = (y_true == np.argmax(y_pred, axis=-1)).astype(np.float32)
    if y_true.shape != original:
        matches = matches.reshape(original)
    return matches[..., 0] if matches.ndim > 1 and matches.shape[-1] == 1 else matches


def _in_top_k(labels, scores, k):
    """Whether each label's score is among the k largest of its row (ties count in): the
    label's score is at least the k-th largest."""
    if k >= scores.shape[-1]:
        return np.ones(labels.shape, bool)
    kth = -np.partition(-scores, k - 1, axis=-1)[..., k - 1]
    return np.take_along_axis(scores, labels[..., None], axis=-1)[..., 0] >= kth


def _labels_for(where, labels, classes):
    """Integer labels checked in [0, classes): ValueError naming `where` otherwise."""
    labels = np.asarray(labels)
    if labels.size and (np.any(labels != np.round(labels)) or labels.min() < 0 or labels.max() >= classes):
        raise ValueError(
            f"{where}: labels must be integers in [0, {classes}); received {labels.min()}..{labels.max()}."
        )
    return labels.astype(np.int64)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1.0 where the one-hot target's class is among the k highest predictions."""
    y_true, y_pred = _operands(y_true, y_pred)
    labels = np.argmax(y_true, axis=-1)
    original = labels.shape
    matches = _in_top_k(labels.reshape(-1), y_pred.reshape(-1, y_pred.shape[-1]), k)
    return matches.astype(np.float32).reshape(original)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5, from_sorted_ids=False):
    """1.0 where the integer label is among the k highest predictions; with
    from_sorted_ids=True, y_pred holds class ids sorted by score and the first k count."""
    y_pred = _host(y_pred)
    y_true = np.asarray(_host(y_true))
    original = y_true.shape
    labels = y_true.reshape(-1)
    rows = y_pred.reshape(-1, y_pred.shape[-1])
    if from_sorted_ids:
        matches = np.any(labels[:, None] == rows[:, :k], axis=1)
    else:
        labels = _labels_for("sparse_top_k_categorical_accuracy", labels, rows.shape[-1])
        matches = _in_top_k(labels, rows, k)
    return matches.astype(np.float32).reshape(original)


class Accuracy(_FunctionMetric):
    """How often y_pred equals y_true exactly.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.Accuracy()([[1], [2], [3], [4]], [[0], [2], [3], [4]])
        0.75
    """

    _direction = "up"

    function = staticmethod(accuracy)
    default_name = "accuracy"


class BinaryAccuracy(_FunctionMetric):
    """How often the outputs fall on the target's side of `threshold` (y_pred > threshold
    predicts 1), averaged over the outputs of each sample.

    Args:
        name, dtype: as Metric's.
        threshold: the decision threshold (default 0.5).

    Example:
        >>> import densecore as dc
        >>> dc.metrics.BinaryAccuracy()([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]])
        0.75
    """

    _direction = "up"

    function = staticmethod(binary_accuracy)
    default_name = "binary_accuracy"
    device_kind = "binary"

    def __init__(self, name=None, dtype=None, threshold=0.5):
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float, np.number)):
            raise TypeError(f"BinaryAccuracy: threshold must be a number; received {threshold!r}.")
        self.threshold = threshold
        super().__init__(name=name, dtype=dtype)

    def arguments(self):
        return {"threshold": self.threshold}


class CategoricalAccuracy(_FunctionMetric):
    """How often the largest output is the one-hot target's class.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.CategoricalAccuracy()([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        0.5
    """

    _direction = "up"

    function = staticmethod(categorical_accuracy)
    default_name = "categorical_accuracy"
    device_kind = "categorical"


class SparseCategoricalAccuracy(_FunctionMetric):
    """How often the largest output is the integer label.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.SparseCategoricalAccuracy()([[2], [1]], [[0.1, 0.6, 0.3], [0.05, 0.95, 0]])
        0.5
    """

    _direction = "up"

    function = staticmethod(sparse_categorical_accuracy)
    default_name = "sparse_categorical_accuracy"
    device_kind = "sparse"


def _k(owner, k) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"{owner}: k must be a positive integer; received k={k!r}.")
    return int(k)


class TopKCategoricalAccuracy(_FunctionMetric):
    """How often the one-hot target's class is among the `k` highest outputs.

    Args:
        k: how many of the highest outputs count (default 5).
        name, dtype: as Metric's.

    Example:
        >>> import densecore as dc
        >>> m = dc.metrics.TopKCategoricalAccuracy(k=1)
        >>> m([[0, 0, 1], [0, 1, 0]], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        0.5
    """

    _direction = "up"

    function = staticmethod(top_k_categorical_accuracy)
    default_name = "top_k_categorical_accuracy"

    def __init__(self, k=5, name=None, dtype=None):
        self.k = _k(type(self).__name__, k)
        super().__init__(name=name, dtype=dtype)

    def arguments(self):
        return {"k": self.k}


class SparseTopKCategoricalAccuracy(_FunctionMetric):
    """How often the integer label is among the `k` highest outputs.

    Args:
        k: how many of the highest outputs count (default 5).
        name, dtype: as Metric's.
        from_sorted_ids: whether y_pred holds class ids sorted by score, highest first,
            instead of one score per class (default False).

    Example:
        >>> import densecore as dc
        >>> dc.metrics.SparseTopKCategoricalAccuracy(k=1)([2, 1], [[0.1, 0.9, 0.8], [0.05, 0.95, 0]])
        0.5
    """

    _direction = "up"

    function = staticmethod(sparse_top_k_categorical_accuracy)
    default_name = "sparse_top_k_categorical_accuracy"

    def __init__(self, k=5, name=None, dtype=None, from_sorted_ids=False):
        self.k = _k(type(self).__name__, k)
        self.from_sorted_ids = bool(from_sorted_ids)
        super().__init__(name=name, dtype=dtype)

    def arguments(self):
        return {"k": self.k, "from_sorted_ids": self.from_sorted_ids}
