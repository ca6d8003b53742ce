"""Metrics: running counts over an epoch, as Keras's stateful metrics.

Each metric accumulates `update_state(y_true, y_pred)` over batches (numpy arrays, no
graph) and reports `result()`; `reset_state()` starts a new epoch. Accuracies are the
fraction of samples right over all samples seen, not a mean of batch means.

"accuracy"/"acc" means, as in Keras, the accuracy that fits the loss: binary (threshold
0.5), categorical (argmax of one-hot targets) or sparse categorical (argmax vs label).
"""

import numpy as np


class Metric:
    """Base class: a sum and a count."""

    def __init__(self, name=None):
        self.name = name or self.default_name
        self.reset_state()

    def reset_state(self):
        """Start a new count (fit calls it at each epoch)."""
        self.total, self.count = 0.0, 0.0

    def update_state(self, y_true, y_pred):
        """Add one batch: y_true and y_pred as numpy arrays."""
        values = self.values(np.asarray(y_true), np.asarray(y_pred))
        self.total += float(np.sum(values))
        self.count += values.size

    def result(self) -> float:
        """The metric over everything counted since the last reset."""
        return self.total / self.count if self.count else 0.0


def _align(y_true, y_pred):
    if y_true.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y_true = y_true[..., None]
    return y_true


class BinaryAccuracy(Metric):
    """Fraction of outputs on the right side of `threshold` (default 0.5)."""

    default_name = "binary_accuracy"

    def __init__(self, name=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def values(self, y_true, y_pred):
        y_true = _align(y_true, y_pred)
        return ((y_pred > self.threshold) == (y_true > 0.5)).mean(axis=-1)


class CategoricalAccuracy(Metric):
    """Fraction of samples whose largest output is the one-hot target's class."""

    default_name = "categorical_accuracy"

    def values(self, y_true, y_pred):
        return (y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).astype(np.float64)


class SparseCategoricalAccuracy(Metric):
    """Fraction of samples whose largest output is the integer label."""

    default_name = "sparse_categorical_accuracy"

    def values(self, y_true, y_pred):
        labels = y_true.reshape(-1).astype(np.int64)
        return (y_pred.argmax(axis=-1) == labels).astype(np.float64)


class MeanSquaredError(Metric):
    """Mean of (t − p)² over all outputs seen."""

    default_name = "mean_squared_error"

    def values(self, y_true, y_pred):
        return ((y_pred - _align(y_true, y_pred)) ** 2).mean(axis=-1)


class MeanAbsoluteError(Metric):
    """Mean of |t − p| over all outputs seen."""

    default_name = "mean_absolute_error"

    def values(self, y_true, y_pred):
        return np.abs(y_pred - _align(y_true, y_pred)).mean(axis=-1)


class Precision(Metric):
    """True positives / predicted positives, at threshold 0.5 (binary outputs)."""

    default_name = "precision"

    def reset_state(self):
        self.true_positives, self.predicted = 0.0, 0.0

    def update_state(self, y_true, y_pred):
        y_pred = np.asarray(y_pred) > 0.5
        y_true = _align(np.asarray(y_true), y_pred) > 0.5
        self.true_positives += float((y_pred & y_true).sum())
        self.predicted += float(y_pred.sum())

    def result(self):
        return self.true_positives / self.predicted if self.predicted else 0.0


class Recall(Precision):
    """True positives / actual positives, at threshold 0.5 (binary outputs)."""

    default_name = "recall"

    def update_state(self, y_true, y_pred):
        y_pred = np.asarray(y_pred) > 0.5
        y_true = _align(np.asarray(y_true), y_pred) > 0.5
        self.true_positives += float((y_pred & y_true).sum())
        self.predicted += float(y_true.sum())


class Mean(Metric):
    """A weighted mean of values (fit's loss: batch losses weighted by batch size)."""

    default_name = "mean"

    def update_state(self, value, sample_weight=1.0):
        self.total += float(value) * sample_weight
        self.count += sample_weight


ALL = {
    "binary_accuracy": BinaryAccuracy,
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mean_absolute_error": MeanAbsoluteError,
    "precision": Precision,
    "recall": Recall,
}
_ACCURACY_FOR = {
    "binary": BinaryAccuracy,
    "categorical": CategoricalAccuracy,
    "sparse": SparseCategoricalAccuracy,
}


def get(identifier, loss=None) -> Metric:
    """A Metric from a name or instance; "accuracy"/"acc" follows the loss, as in Keras."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            cls = _ACCURACY_FOR.get(getattr(loss, "kind", None), BinaryAccuracy)
            return cls(name=identifier)
        if key in ALL:
            return ALL[key](name=identifier)
    raise ValueError(
        f"Unknown metric {identifier!r}; expected one of "
        f"{sorted(ALL) + ['accuracy', 'acc']} or a Metric instance."
    )
