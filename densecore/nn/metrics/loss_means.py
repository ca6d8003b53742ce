"""The regression, probabilistic and hinge metrics: the means of the losses' per-sample values
(MeanSquaredError, ..., KLDivergence, Poisson, the hinges, the cross-entropies), and
RootMeanSquaredError and CosineSimilarity, which compute their own.
"""

import math

import numpy as np

from ...engine import functional as F
from .. import losses as losses_module
from .base import Mean, Metric, _FunctionMetric, _host, _optional_int, _same_shapes


class MeanSquaredError(_FunctionMetric):
    """The mean of (t − p)² over every output seen.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.MeanSquaredError()([[0, 1], [0, 0]], [[1, 1], [0, 0]])
        0.25
    """

    _direction = "down"

    function = staticmethod(losses_module.mean_squared_error)
    default_name = "mean_squared_error"


class MeanAbsoluteError(_FunctionMetric):
    """The mean of |t − p| over every output seen.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.MeanAbsoluteError()([[0, 1], [0, 0]], [[1, 1], [0, 0]])
        0.25
    """

    _direction = "down"

    function = staticmethod(losses_module.mean_absolute_error)
    default_name = "mean_absolute_error"


class MeanAbsolutePercentageError(_FunctionMetric):
    """The mean of 100 |t − p| / max(|t|, 1e-7) (see losses.MeanAbsolutePercentageError).

    Example:
        >>> import densecore as dc
        >>> round(dc.metrics.MeanAbsolutePercentageError()([[1.0, 2.0]], [[1.5, 2.0]]), 4)
        25.0
    """

    _direction = "down"

    function = staticmethod(losses_module.mean_absolute_percentage_error)
    default_name = "mean_absolute_percentage_error"


class MeanSquaredLogarithmicError(_FunctionMetric):
    """The mean of (log(1 + p) − log(1 + t))² (see losses.MeanSquaredLogarithmicError).

    Example:
        >>> import densecore as dc
        >>> round(dc.metrics.MeanSquaredLogarithmicError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]), 4)
        0.1201
    """

    _direction = "down"

    function = staticmethod(losses_module.mean_squared_logarithmic_error)
    default_name = "mean_squared_logarithmic_error"


class LogCoshError(_FunctionMetric):
    """The mean of log cosh(p − t) (see losses.LogCosh).

    Example:
        >>> import densecore as dc
        >>> round(dc.metrics.LogCoshError()([[0, 1], [0, 0]], [[1, 1], [0, 0]]), 4)
        0.1084
    """

    _direction = "down"

    function = staticmethod(losses_module.log_cosh)
    default_name = "logcosh"


class RootMeanSquaredError(Mean):
    """√(mean of (t − p)² over every output seen): the squared errors are averaged over
    the whole epoch first, then the root is taken.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.RootMeanSquaredError()([[0, 1], [0, 0]], [[1, 1], [0, 0]])
        0.5
    """

    _direction = "down"

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_true, y_pred = _same_shapes(self.name, y_true, y_pred)
        self._add((y_pred.astype(np.float64) - y_true) ** 2, sample_weight)

    def result(self):
        return math.sqrt(super().result())


def _cosine(y_true, y_pred, axis=-1):
    return -_host(losses_module.cosine_similarity(y_true, y_pred, axis))


class CosineSimilarity(_FunctionMetric):
    """The mean cosine similarity Σ t̂ p̂ (x̂ = x / ‖x‖ along `axis`): 1 for the same
    direction, −1 for opposite ones.

    Args:
        name, dtype: as Metric's.
        axis: the features' axis (default -1).

    Example:
        >>> import densecore as dc
        >>> round(dc.metrics.CosineSimilarity()([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]]), 4)
        0.5
    """

    _direction = "up"

    function = staticmethod(_cosine)
    default_name = "cosine_similarity"

    def __init__(self, name=None, dtype=None, axis=-1):
        self.axis = losses_module._axis(type(self).__name__, axis)
        super().__init__(name=name, dtype=dtype)

    def arguments(self):
        return {"axis": self.axis}


class KLDivergence(_FunctionMetric):
    """The mean Kullback-Leibler divergence Σ t log(t / p) (see losses.KLDivergence).

    Example:
        >>> import densecore as dc
        >>> round(dc.metrics.KLDivergence()([[0.5, 0.5]], [[0.25, 0.75]]), 4)
        0.1438
    """

    _direction = "down"

    function = staticmethod(losses_module.kl_divergence)
    default_name = "kl_divergence"


class Poisson(_FunctionMetric):
    """The mean Poisson loss p − t log(p) (see losses.Poisson).

    Example:
        >>> import densecore as dc
        >>> round(dc.metrics.Poisson()([[1.0, 2.0]], [[1.0, 2.0]]), 4)
        0.8069
    """

    _direction = "down"

    function = staticmethod(losses_module.poisson)
    default_name = "poisson"


class Hinge(_FunctionMetric):
    """The mean hinge loss max(1 − t p, 0) (see losses.Hinge).

    Example:
        >>> import densecore as dc
        >>> round(dc.metrics.Hinge()([[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]]), 4)
        1.3
    """

    _direction = "down"

    function = staticmethod(losses_module.hinge)
    default_name = "hinge"


class SquaredHinge(_FunctionMetric):
    """The mean squared hinge loss (see losses.SquaredHinge).

    Example:
        >>> import densecore as dc
        >>> round(dc.metrics.SquaredHinge()([[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]]), 4)
        1.86
    """

    _direction = "down"

    function = staticmethod(losses_module.squared_hinge)
    default_name = "squared_hinge"


class CategoricalHinge(_FunctionMetric):
    """The mean categorical hinge loss (see losses.CategoricalHinge).

    Example:
        >>> import densecore as dc
        >>> round(dc.metrics.CategoricalHinge()([[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]]), 4)
        1.4
    """

    _direction = "down"

    function = staticmethod(losses_module.categorical_hinge)
    default_name = "categorical_hinge"


class BinaryCrossentropy(_FunctionMetric):
    """The mean binary cross-entropy (see losses.BinaryCrossentropy).

    Args:
        name, dtype: as Metric's.
        from_logits: whether y_pred holds logits.  label_smoothing: s in [0, 1].

    Example:
        >>> import densecore as dc
        >>> round(dc.metrics.BinaryCrossentropy()([[0, 1], [0, 0]], [[0.6, 0.4], [0.4, 0.6]]), 4)
        0.8149
    """

    _direction = "down"

    function = staticmethod(losses_module.binary_crossentropy)
    default_name = "binary_crossentropy"

    def __init__(self, name=None, dtype=None, from_logits=False, label_smoothing=0):
        owner = type(self).__name__
        self.from_logits = losses_module._flag(owner, "from_logits", from_logits)
        self.label_smoothing = losses_module._smoothing(owner, label_smoothing)
        super().__init__(name=name, dtype=dtype)

    def arguments(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing}


class CategoricalCrossentropy(BinaryCrossentropy):
    """The mean categorical cross-entropy (see losses.CategoricalCrossentropy).

    Args:
        name, dtype: as Metric's.
        from_logits: whether y_pred holds logits.  label_smoothing: s in [0, 1].
        axis: the classes' axis (default -1).

    Example:
        >>> import densecore as dc
        >>> y_true, y_pred = [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
        >>> round(dc.metrics.CategoricalCrossentropy()(y_true, y_pred), 3)
        1.177
    """

    function = staticmethod(losses_module.categorical_crossentropy)
    default_name = "categorical_crossentropy"

    def __init__(self, name=None, dtype=None, from_logits=False, label_smoothing=0, axis=-1):
        self.axis = losses_module._axis(type(self).__name__, axis)
        super().__init__(name=name, dtype=dtype, from_logits=from_logits, label_smoothing=label_smoothing)

    def arguments(self):
        return {**super().arguments(), "axis": self.axis}


class SparseCategoricalCrossentropy(_FunctionMetric):
    """The mean sparse categorical cross-entropy (see losses.SparseCategoricalCrossentropy).
    With ignore_class, the ignored samples count 0 in the mean, and are left out of it only
    when sample weights are given (Keras's rule).

    Args:
        name, dtype: as Metric's.
        from_logits: whether y_pred holds logits.  ignore_class: a label to ignore.
        axis: the classes' axis (default -1).

    Example:
        >>> import densecore as dc
        >>> round(dc.metrics.SparseCategoricalCrossentropy()([1, 2], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]), 3)
        1.177
    """

    _direction = "down"

    function = staticmethod(losses_module.sparse_categorical_crossentropy)
    default_name = "sparse_categorical_crossentropy"

    def __init__(self, name=None, dtype=None, from_logits=False, ignore_class=None, axis=-1):
        owner = type(self).__name__
        self.from_logits = losses_module._flag(owner, "from_logits", from_logits)
        self.ignore_class = _optional_int(owner, "ignore_class", ignore_class)
        self.axis = losses_module._axis(owner, axis)
        super().__init__(name=name, dtype=dtype)

    def arguments(self):
        return {"from_logits": self.from_logits, "ignore_class": self.ignore_class, "axis": self.axis}

    def update_state(self, y_true, y_pred, sample_weight=None):
        if sample_weight is not None and self.ignore_class is not None:
            kept = np.asarray(y_true) != self.ignore_class
            if kept.ndim == np.ndim(_host(y_pred)) and kept.shape[self.axis] == 1:
                kept = np.squeeze(kept, self.axis)
            kept, w = F._same_rank(kept.astype(np.float64), np.asarray(sample_weight, np.float64))
            sample_weight = kept * w
        Metric.update_state(self, y_true, y_pred, sample_weight)
