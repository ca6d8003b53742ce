"""Metrics: running counts over an epoch, as Keras's stateful metrics.

Each metric accumulates `update_state(y_true, y_pred)` over batches (numpy arrays, no
graph; on the cuda backend the accuracies count on the GPU, the others copy y_pred back)
and reports `result()`; `reset_state()` starts a new epoch. Accuracies are the
fraction of samples right over all samples seen, not a mean of batch means.

"accuracy"/"acc" means, as in Keras, the accuracy that fits the loss: binary (threshold
0.5), categorical (argmax of one-hot targets) or sparse categorical (argmax vs label).

With sample weights w (compile's `weighted_metrics`), a metric is the weighted mean
Σ_n w_n v_n / Σ_n w_n of its per-sample values v_n, as Keras's; precision and recall count
each sample's true and predicted positives w_n times.
"""

import numpy as np

from ..engine import backend, device


class Metric:
    """Base class: a sum and a count."""

    device_kind = None  # "sparse", "categorical" or "binary": counted by a GPU kernel there

    def __init__(self, name=None):
        self.name = name or self.default_name
        self.reset_state()

    def reset_state(self):
        """Start a new count (fit calls it at each epoch)."""
        self.total, self.count = 0.0, 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add one batch: y_true and y_pred as numpy arrays (y_pred may live on the GPU), and
        optionally one weight per sample (N,)."""
        unweighted = sample_weight is None
        if (
            unweighted
            and device.is_device(y_pred)
            and self.device_kind
            and getattr(self, "threshold", 0.5) == 0.5
        ):
            self._update_on_device(np.asarray(y_true), y_pred)
            return
        values = self.values(np.asarray(y_true), device.to_host(y_pred))  # others: on the host
        if unweighted:
            self.total += float(np.sum(values))
            self.count += values.size
            return
        w = np.asarray(sample_weight, np.float64).reshape(-1)
        per_sample = values.reshape(len(w), -1).mean(axis=1)
        self.total += float(np.dot(w, per_sample))
        self.count += float(w.sum())

    def get_config(self) -> dict:
        """The constructor arguments, for saving."""
        return {"name": self.name}

    def _update_on_device(self, y_true, y_pred):
        """The accuracies count right answers on the GPU; one number comes back per batch."""
        if self.device_kind == "sparse":
            t = y_true.reshape(-1, 1).astype(np.int64)
        else:
            t = _align(y_true, y_pred).astype(y_pred.dtype)
        hits = backend.kernels().count_correct(self.device_kind, y_pred, device.targets_to_device(t))
        per_row = y_pred.shape[1] if self.device_kind == "binary" else 1  # binary: a mean per row
        self.total += float(device.to_host(hits)[0]) / per_row
        self.count += y_pred.shape[0]

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
    device_kind = "binary"

    def __init__(self, name=None, threshold=0.5):
        self.threshold = threshold
        super().__init__(name)

    def get_config(self) -> dict:
        return {**super().get_config(), "threshold": self.threshold}

    def values(self, y_true, y_pred):
        y_true = _align(y_true, y_pred)
        return ((y_pred > self.threshold) == (y_true > 0.5)).mean(axis=-1)


class CategoricalAccuracy(Metric):
    """Fraction of samples whose largest output is the one-hot target's class."""

    default_name = "categorical_accuracy"
    device_kind = "categorical"

    def values(self, y_true, y_pred):
        return (y_pred.argmax(axis=-1) == y_true.argmax(axis=-1)).astype(np.float64)


class SparseCategoricalAccuracy(Metric):
    """Fraction of samples whose largest output is the integer label."""

    default_name = "sparse_categorical_accuracy"
    device_kind = "sparse"

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
        self.true_positives, self.denominator = 0.0, 0.0

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = device.to_host(y_pred) > 0.5
        y_true = _align(np.asarray(y_true), y_pred) > 0.5
        w = 1.0
        if sample_weight is not None:  # each sample's positives count w_n times
            w = np.asarray(sample_weight, np.float64).reshape((-1,) + (1,) * (y_pred.ndim - 1))
        self.true_positives += float(((y_pred & y_true) * w).sum())
        self.denominator += float((self._denominator(y_true, y_pred) * w).sum())

    @staticmethod
    def _denominator(y_true, y_pred):
        """What the true positives are divided by: the predicted positives."""
        return y_pred

    def result(self):
        return self.true_positives / self.denominator if self.denominator else 0.0


class Recall(Precision):
    """True positives / actual positives, at threshold 0.5 (binary outputs)."""

    default_name = "recall"

    @staticmethod
    def _denominator(y_true, y_pred):
        """The actual positives."""
        return y_true


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
CLASSES = {cls.__name__: cls for cls in set(ALL.values())}
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


def from_config(spec, loss=None, custom_objects=None) -> Metric:
    """A Metric from what `model.save` wrote: {"class_name", "config"} (a name, in files
    written before metrics kept their settings). Classes of your own are found in
    custom_objects; ValueError for a class found nowhere."""
    if isinstance(spec, str):
        return get(spec, loss)
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise ValueError(f"not a saved metric: {spec!r:.80}")
    name = spec.get("class_name")
    cls = (custom_objects or {}).get(name) or CLASSES.get(name)
    if cls is None:
        raise ValueError(
            f"metric class {name!r} is not built in; pass it in custom_objects={{{name!r}: cls}}"
        )
    return cls(**spec["config"])
