"""The F-scores, counted per class: FBetaScore and F1Score (FBetaScore with β = 1)."""

import numpy as np

from .base import EPSILON, Metric, _host, _result


class FBetaScore(Metric):
    """The F-beta score per class: (1 + β²) p r / (β² p + r), p and r each class's precision
    and recall; β > 1 weighs recall more, β < 1 precision.

    Args:
        average: None (one score per class, an array), "micro" (one score from the counts of
            every class together), "macro" (the mean of the classes' scores) or "weighted"
            (their mean weighted by each class's number of true samples).
        beta: β, a positive float (default 1.0).
        threshold: a prediction above it counts as positive; None (default): each sample's
            highest prediction.
        name, dtype: as Metric's.

    Example:
        >>> import densecore as dc
        >>> m = dc.metrics.FBetaScore(beta=2.0, threshold=0.5, average="micro")
        >>> round(m([[1, 1, 1], [1, 0, 0]], [[0.7, 0.7, 0.2], [0.9, 0.6, 0.1]]), 4)
        0.75
    """

    _direction = "up"

    variable_names = ("true_positives", "false_positives", "false_negatives", "intermediate_weights")

    def __init__(self, average=None, beta=1.0, threshold=None, name="fbeta_score", dtype=None):
        owner = type(self).__name__
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError(
                f"{owner}: Invalid `average` argument value. Expected one of: {{None, 'micro', "
                f"'macro', 'weighted'}}. Received: average={average}"
            )
        if not isinstance(beta, float):
            raise ValueError(
                f"{owner}: Invalid `beta` argument value. It should be a Python float. "
                f"Received: beta={beta} of type '{type(beta)}'"
            )
        if beta <= 0.0:
            raise ValueError(
                f"{owner}: Invalid `beta` argument value. It should be > 0. Received: beta={beta}"
            )
        if threshold is not None:
            if not isinstance(threshold, float):
                raise ValueError(
                    f"{owner}: Invalid `threshold` argument value. It should be a Python float. "
                    f"Received: threshold={threshold} of type '{type(threshold)}'"
                )
            if threshold > 1.0 or threshold <= 0.0:
                raise ValueError(
                    f"{owner}: Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
                    f"Received: threshold={threshold}"
                )
        self.average, self.beta, self.threshold = average, beta, threshold
        self.axis = None if average == "micro" else 0
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        for name in type(self).variable_names:  # shaped at the first update: one per class, or one
            setattr(self, name, 0.0)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true = np.asarray(_host(y_true), np.float64)
        y_pred = _host(y_pred).astype(np.float64)
        if y_pred.ndim != 2 or y_true.ndim != 2:
            raise ValueError(
                f"{type(self).__name__} expects 2D inputs with shape (batch_size, output_dim). Received "
                f"input shapes: y_pred.shape={y_pred.shape} and y_true.shape={y_true.shape}."
            )
        if self.threshold is None:  # each sample's highest prediction (not an all-zero row)
            predicted = (y_pred >= y_pred.max(axis=-1, keepdims=True)) & (np.abs(y_pred) > 1e-9)
        else:
            predicted = y_pred > self.threshold
        predicted = predicted.astype(np.float64)
        w = 1.0
        if sample_weight is not None:
            w = np.asarray(sample_weight, np.float64)
            w = w.reshape(w.shape + (1,) * (y_true.ndim - w.ndim))

        def weighted_sum(values):
            return np.sum(values * w, axis=self.axis)

        self.true_positives = self.true_positives + weighted_sum(predicted * y_true)
        self.false_positives = self.false_positives + weighted_sum(predicted * (1 - y_true))
        self.false_negatives = self.false_negatives + weighted_sum((1 - predicted) * y_true)
        self.intermediate_weights = self.intermediate_weights + weighted_sum(y_true)

    def result(self):
        tp, fp, fn = (
            np.asarray(v, np.float64)
            for v in (self.true_positives, self.false_positives, self.false_negatives)
        )
        precision = tp / (tp + fp + EPSILON)
        recall = tp / (tp + fn + EPSILON)
        b2 = self.beta**2
        score = (1 + b2) * precision * recall / (b2 * precision + recall + EPSILON)
        if self.average == "weighted":
            weights = np.asarray(self.intermediate_weights, np.float64)
            score = np.sum(score * weights / (np.sum(weights) + EPSILON))
        elif self.average is not None:
            score = np.mean(score)
        return _result(score)

    def get_config(self):
        return {
            **super().get_config(),
            "average": self.average,
            "beta": self.beta,
            "threshold": self.threshold,
        }


class F1Score(FBetaScore):
    """The F1 score: 2 p r / (p + r), the harmonic mean of precision and recall (FBetaScore
    with β = 1).

    Args:
        average, threshold, name, dtype: as FBetaScore's.

    Example:
        >>> import densecore as dc
        >>> y_true = [[1, 1, 1], [1, 0, 0], [1, 1, 0]]
        >>> y_pred = [[0.2, 0.6, 0.7], [0.2, 0.6, 0.6], [0.6, 0.8, 0.0]]
        >>> dc.metrics.F1Score(threshold=0.5)(y_true, y_pred).round(4)
        array([0.5   , 0.8   , 0.6667])
    """

    def __init__(self, average=None, threshold=None, name="f1_score", dtype=None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self):
        config = super().get_config()
        del config["beta"]
        return config
