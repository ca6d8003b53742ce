"""The confusion-matrix metrics: `confusion_counts` (each prediction above each threshold
counted w times as a true/false positive/negative) and the metrics kept on those counts:
TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision, Recall and AUC.
"""

import numpy as np

from ...engine import functional as F
from .base import EPSILON, NEG_INF, Metric, _divide_no_nan, _host, _optional_int, _result


def _thresholds(owner, thresholds, default):
    """The thresholds as a list, checked in [0, 1] (Keras's parse_init_thresholds);
    ValueError naming `owner` otherwise."""
    if thresholds is None:
        return [default] if np.ndim(default) == 0 else list(default)
    listed = list(np.ravel(thresholds)) if not isinstance(thresholds, (list, tuple)) else list(thresholds)
    bad = [
        t for t in listed if t is None or isinstance(t, bool) or not isinstance(t, (int, float, np.number))
    ]
    bad += [t for t in listed if t not in bad and not 0 <= t <= 1]
    if bad:
        raise ValueError(f"{owner}: Threshold values must be in [0, 1]. Received: {bad}")
    return [float(t) if isinstance(t, np.number) else t for t in listed]


def _evenly_spaced(thresholds) -> bool:
    """Whether the thresholds are 0, 1/(n−1), ..., 1 (n ≥ 3): Keras then clips predictions
    to [0, 1] (its bucketed counting), which this follows."""
    n = len(thresholds)
    return n >= 3 and np.allclose(thresholds, np.arange(n) / (n - 1), atol=EPSILON)


def _top_k_only(y_pred, k):
    """y_pred with all but the k largest of each row (the last axis) set to NEG_INF; of equal
    values, the first ones are kept."""
    order = np.argsort(-y_pred, axis=-1, kind="stable")[..., :k]
    keep = np.zeros(y_pred.shape, bool)
    np.put_along_axis(keep, order, True, axis=-1)
    return np.where(keep, y_pred, NEG_INF)


def _weight_above(predictions, thresholds, *weights):
    """For each threshold, the summed weight of the predictions strictly above it: one array
    (T,) for each array of weights given (one weight per prediction).

    A few thresholds compare directly. Many (AUC's 200) take O(M log T), not O(M T): sorted,
    the thresholds below a prediction p are the first below(p) (a binary search); each
    prediction's weight goes into bucket below(p), and threshold j collects the buckets past j
    (a reversed cumulative sum). NaN is above no threshold.
    """
    thresholds = np.asarray(thresholds, np.float64)
    if len(thresholds) <= 8:
        above = (predictions[None, :] > thresholds[:, None]).astype(np.float64)
        return [above @ w for w in weights]
    order = np.argsort(thresholds, kind="stable")
    below = np.searchsorted(thresholds[order], predictions, side="left")
    below[np.isnan(predictions)] = 0
    sums = []
    for w in weights:
        buckets = np.bincount(below, weights=w, minlength=len(thresholds) + 1)
        above = np.empty(len(thresholds))
        above[order] = np.cumsum(buckets[::-1])[::-1][1:]
        sums.append(above)
    return sums


def confusion_counts(
    y_true,
    y_pred,
    thresholds,
    sample_weight=None,
    top_k=None,
    class_id=None,
    multi_label=False,
    label_weights=None,
    clip=False,
    where="metric",
):
    """The weighted confusion matrix at each threshold, as Keras's
    update_confusion_matrix_variables: a prediction counts as positive when it is strictly
    above the threshold, a target when it is not 0.

    Returns:
        {"tp", "fp", "tn", "fn"}: arrays of one count per threshold (T,), or (T, labels) with
        multi_label=True (each label's column counted on its own).
    """
    y_pred = _host(y_pred).astype(np.float64)
    y_true = np.asarray(_host(y_true))
    y_pred, y_true = F._same_rank(y_pred, y_true)
    if y_true.shape != y_pred.shape:
        raise ValueError(
            f"{where}: y_true {y_true.shape} and y_pred {y_pred.shape} must have the same shape."
        )
    w = None
    if sample_weight is not None:
        w = np.asarray(sample_weight, np.float64)[..., None]
        if w.ndim == y_true.ndim + 1 and w.shape[-1] == 1:
            w = w[..., 0]
    if top_k is not None:
        y_pred = _top_k_only(y_pred, top_k)
    if class_id is not None:
        if y_pred.ndim == 1:
            raise ValueError(
                f"{where}: When class_id is provided, y_pred must be a 2D array with shape (num_samples, "
                f"num_classes), found shape: {y_pred.shape}"
            )
        if not -y_pred.shape[-1] <= class_id < y_pred.shape[-1]:
            raise ValueError(f"{where}: class_id={class_id} is not a class of y_pred {y_pred.shape}.")
        y_true, y_pred = y_true[..., class_id, None], y_pred[..., class_id, None]
    if clip:
        y_pred = np.clip(y_pred, 0.0, 1.0)
    try:
        w = np.ones(y_pred.shape) if w is None else np.broadcast_to(w, y_pred.shape)
    except ValueError:
        raise ValueError(
            f"{where}: sample_weight of shape {np.shape(sample_weight)} does not broadcast to "
            f"y_pred {y_pred.shape}."
        ) from None
    if label_weights is not None and not multi_label:
        w = w * np.broadcast_to(label_weights, y_pred.shape)
    positive = y_true != 0
    if multi_label:  # one confusion matrix per label: the last axis kept
        columns = [
            confusion_counts(positive[..., j], y_pred[..., j], thresholds, w[..., j], where=where)
            for j in range(y_pred.shape[-1])
        ]
        return {key: np.stack([c[key] for c in columns], axis=-1) for key in columns[0]}
    positive, y_pred, w = positive.ravel(), y_pred.ravel(), w.ravel()
    w_positive, w_negative = w * positive, w * ~positive
    tp, fp = _weight_above(y_pred, thresholds, w_positive, w_negative)
    return {"tp": tp, "fp": fp, "tn": w_negative.sum() - fp, "fn": w_positive.sum() - tp}


class _ConfusionMatrixConditionCount(Metric):
    """One count of the confusion matrix at each of `thresholds` (default 0.5)."""

    condition = None  # "tp", "fp", "tn" or "fn"
    variable_names = ("accumulator",)

    def __init__(self, thresholds=None, name=None, dtype=None):
        self.init_thresholds = thresholds
        self.thresholds = _thresholds(type(self).__name__, thresholds, 0.5)
        self._clip = _evenly_spaced(self.thresholds)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.accumulator = np.zeros(len(self.thresholds))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = confusion_counts(
            y_true, y_pred, self.thresholds, sample_weight, clip=self._clip, where=self.name
        )
        self.accumulator = self.accumulator + counts[self.condition]  # a new array: copies share none

    def result(self):
        return _result(self.accumulator[0] if len(self.thresholds) == 1 else self.accumulator)

    def get_config(self):
        return {**super().get_config(), "thresholds": _json(self.init_thresholds)}


def _json(value):
    """A setting as JSON holds it: arrays and tuples as lists, numpy numbers as Python's."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_json(v) for v in value]
    return value.item() if isinstance(value, np.generic) else value


class TruePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of true positives: targets not 0 predicted above the threshold.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.TruePositives()([0, 1, 1, 1], [1, 0, 1, 1])
        2.0
    """

    condition = "tp"


class FalsePositives(_ConfusionMatrixConditionCount):
    """The (weighted) number of false positives: targets 0 predicted above the threshold.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.FalsePositives()([0, 1, 0, 0], [0, 0, 1, 1])
        2.0
    """

    condition = "fp"


class TrueNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of true negatives: targets 0 predicted at or below the threshold.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.TrueNegatives()([0, 1, 0, 0], [1, 1, 0, 0])
        2.0
    """

    condition = "tn"


class FalseNegatives(_ConfusionMatrixConditionCount):
    """The (weighted) number of false negatives: targets not 0 predicted at or below the
    threshold.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.FalseNegatives()([0, 1, 1, 1], [0, 1, 0, 0])
        2.0
    """

    condition = "fn"


class Precision(Metric):
    """Precision: true positives / predicted positives, tp / (tp + fp), at each threshold.

    Args:
        thresholds: a number or a list in [0, 1]: a prediction above it counts as positive
            (default 0.5; use 0 with a loss from logits). Several thresholds give an array.
        top_k: only the k highest predictions of each sample count as positive.
        class_id: count only this class (the last axis of y_pred).
        name, dtype: as Metric's.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.Precision()([0, 1, 1, 1], [1, 0, 1, 1])
        0.6666666666666666
    """

    _direction = "up"

    counted = {"true_positives": "tp", "false_positives": "fp"}  # the state: the counts kept
    variable_names = tuple(counted)

    def __init__(self, thresholds=None, top_k=None, class_id=None, name=None, dtype=None):
        owner = type(self).__name__
        self.init_thresholds = thresholds
        self.top_k = _optional_int(owner, "top_k", top_k)
        self.class_id = _optional_int(owner, "class_id", class_id)
        self.thresholds = _thresholds(owner, thresholds, 0.5 if top_k is None else NEG_INF)
        self._clip = _evenly_spaced(self.thresholds)
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        for name in self.counted:
            setattr(self, name, np.zeros(len(self.thresholds)))

    def update_state(self, y_true, y_pred, sample_weight=None):
        counts = confusion_counts(
            y_true,
            y_pred,
            self.thresholds,
            sample_weight,
            self.top_k,
            self.class_id,
            clip=self._clip,
            where=self.name,
        )
        for name, key in self.counted.items():
            setattr(self, name, getattr(self, name) + counts[key])

    def result(self):
        """tp / (tp + the other count), 0 where nothing was counted."""
        tp, other = (getattr(self, name) for name in self.counted)
        ratio = _divide_no_nan(tp, tp + other)
        return _result(ratio[0] if len(self.thresholds) == 1 else ratio)

    def get_config(self):
        config = {"thresholds": _json(self.init_thresholds), "top_k": self.top_k, "class_id": self.class_id}
        return {**super().get_config(), **config}


class Recall(Precision):
    """Recall: true positives / actual positives, tp / (tp + fn), at each threshold.

    Args: as Precision's.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.Recall()([0, 1, 1, 1], [1, 0, 1, 1])
        0.6666666666666666
    """

    counted = {"true_positives": "tp", "false_negatives": "fn"}
    variable_names = tuple(counted)


_CURVES = ("ROC", "PR", "PRGAIN")
_SUMMATIONS = ("interpolation", "majoring", "minoring")


class AUC(Metric):
    """The area under the ROC (default) or precision-recall curve, by a Riemann sum over
    `num_thresholds` thresholds, as Keras's AUC.

    Each threshold τ gives a point of the curve from the counts above it: ROC plots recall
    tp / (tp + fn) against the false positive rate fp / (fp + tn), PR plots precision against
    recall. The area sums, between neighbouring thresholds, the width in x times a height:
    the mean of the two ends ("interpolation", the default; for PR it interpolates the counts,
    not precision, as Davis & Goadrich 2006), their minimum ("minoring") or maximum
    ("majoring").

    Args:
        num_thresholds: how many thresholds (> 1, default 200): 0 − ε, then evenly spaced in
            (0, 1), then 1 + ε.
        curve: "ROC", "PR" or "PRGAIN".
        summation_method: "interpolation", "minoring" or "majoring".
        name, dtype: as Metric's.
        thresholds: thresholds in [0, 1] to use instead (−ε and 1 + ε are added).
        multi_label: one curve per label (the last axis), their AUCs averaged; else every
            prediction counts as one point of a single curve.
        num_labels: the number of labels when multi_label (else found at the first update).
        label_weights: weights of the labels: of their AUCs in the average (multi_label), or
            of their predictions.
        from_logits: whether y_pred holds logits (a sigmoid is applied first).

    Example:
        >>> import densecore as dc
        >>> dc.metrics.AUC(num_thresholds=3)([0, 0, 1, 1], [0, 0.5, 0.3, 0.9])
        0.75
    """

    _direction = "up"

    variable_names = ("true_positives", "false_positives", "true_negatives", "false_negatives")

    def __init__(
        self,
        num_thresholds=200,
        curve="ROC",
        summation_method="interpolation",
        name=None,
        dtype=None,
        thresholds=None,
        multi_label=False,
        num_labels=None,
        label_weights=None,
        from_logits=False,
    ):
        curve_name = curve.upper() if isinstance(curve, str) else curve
        if curve_name not in _CURVES:
            raise ValueError(f'AUC: Invalid AUC curve value: "{curve}". Expected values are {list(_CURVES)}')
        method = summation_method.lower() if isinstance(summation_method, str) else summation_method
        if method not in _SUMMATIONS:
            raise ValueError(
                f'AUC: Invalid AUC summation method value: "{summation_method}". Expected values '
                f"are {list(_SUMMATIONS)}"
            )
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_thresholds("AUC", thresholds, None))
            self.num_thresholds = len(inner) + 2
            self._clip = _evenly_spaced([0.0, *inner, 1.0])
        else:
            if (
                isinstance(num_thresholds, bool)
                or not isinstance(num_thresholds, (int, np.integer))
                or num_thresholds <= 1
            ):
                raise ValueError(
                    "AUC: Argument `num_thresholds` must be an integer > 1. Received: "
                    f"num_thresholds={num_thresholds!r}"
                )
            self.num_thresholds = int(num_thresholds)
            inner = [(i + 1) / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._clip = True
        self._thresholds = np.array([0.0 - EPSILON, *inner, 1.0 + EPSILON])
        self.curve, self.summation_method = curve_name, method
        self.multi_label = bool(multi_label)
        if num_labels is not None and not self.multi_label:
            raise ValueError("AUC: `num_labels` is needed only when `multi_label` is True.")
        self.num_labels = num_labels
        self.label_weights = None if label_weights is None else np.asarray(label_weights, np.float64)
        self._from_logits = bool(from_logits)
        self._labels = num_labels  # the columns counted (multi_label); None until known
        super().__init__(name=name, dtype=dtype)

    @property
    def thresholds(self) -> list:
        """The thresholds the curve is evaluated at, −ε and 1 + ε included."""
        return list(self._thresholds)

    def reset_state(self):
        shape = (self.num_thresholds,) if not self.multi_label else (self.num_thresholds, self._labels or 0)
        for name in type(self).variable_names:
            setattr(self, name, np.zeros(shape))

    def update_state(self, y_true, y_pred, sample_weight=None):
        y_pred = _host(y_pred).astype(np.float64)
        if self.multi_label and not self._labels:
            if y_pred.ndim != 2:
                raise ValueError(
                    f"{self.name}: `y_pred` must have rank 2 when `multi_label=True`. Found rank "
                    f"{y_pred.ndim}. Full shape received for `y_pred`: {y_pred.shape}"
                )
            self._labels = y_pred.shape[1]
            self.reset_state()
        if self._from_logits:
            y_pred = 1.0 / (1.0 + np.exp(-y_pred))
        counts = confusion_counts(
            y_true,
            y_pred,
            self._thresholds,
            sample_weight,
            multi_label=self.multi_label,
            label_weights=None if self.multi_label else self.label_weights,
            clip=self._clip,
            where=self.name,
        )
        self.true_positives = self.true_positives + counts["tp"]  # new arrays: copies share none
        self.false_positives = self.false_positives + counts["fp"]
        self.true_negatives = self.true_negatives + counts["tn"]
        self.false_negatives = self.false_negatives + counts["fn"]

    def _average(self, by_label):
        """The labels' AUCs averaged (multi_label, weighted by label_weights), or the sum."""
        if not self.multi_label:
            return _result(np.sum(by_label))
        by_label = np.sum(by_label, axis=0)
        if self.label_weights is None:
            return _result(np.mean(by_label) if by_label.size else 0.0)
        return _result(_divide_no_nan(np.sum(by_label * self.label_weights), np.sum(self.label_weights)))

    def interpolate_pr_auc(self):
        """The PR curve's area with the counts interpolated linearly between thresholds
        (Keras's closed form of Davis & Goadrich 2006): on each interval, precision is
        (tp_A + slope (P − P_A)) / P with P = tp + fp, and its integral over recall is
        slope (Δtp + intercept log(P_B / P_A)) / (tp + fn)."""
        tp, fp, fn = self.true_positives, self.false_positives, self.false_negatives
        dtp = tp[:-1] - tp[1:]
        p = tp + fp
        dp = p[:-1] - p[1:]
        slope = _divide_no_nan(dtp, np.maximum(dp, 0))
        intercept = tp[1:] - slope * p[1:]
        both = (p[:-1] > 0) & (p[1:] > 0)
        ratio = np.where(both, _divide_no_nan(p[:-1], np.maximum(p[1:], 0)), 1.0)
        with np.errstate(divide="ignore"):
            log_ratio = np.where(ratio > 0, np.log(np.where(ratio > 0, ratio, 1.0)), 0.0)
        increments = _divide_no_nan(slope * (dtp + intercept * log_ratio), np.maximum(tp[1:] + fn[1:], 0))
        return self._average(increments)

    def result(self):
        if self.multi_label and not self._labels:
            return 0.0
        if self.curve == "PR" and self.summation_method == "interpolation":
            return self.interpolate_pr_auc()
        tp, fp, tn, fn = self.true_positives, self.false_positives, self.true_negatives, self.false_negatives
        recall = _divide_no_nan(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _divide_no_nan(fp, fp + tn), recall
        elif self.curve == "PR":
            x, y = recall, _divide_no_nan(tp, tp + fp)
        else:  # PRGAIN: recall and precision gains, (P / N) scaled
            scale = _divide_no_nan(tp + fn, tn + fp)
            recall_gain = np.where(tp == 0, 0.0, 1.0 - scale * _divide_no_nan(fn, tp))
            precision_gain = np.where(tp == 0, 1.0, 1.0 - scale * _divide_no_nan(fp, tp))
            x, y = np.maximum(recall_gain, 0.0), precision_gain
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._average((x[:-1] - x[1:]) * heights)

    def get_config(self):
        config = {
            "num_thresholds": self.num_thresholds,
            "curve": self.curve,
            "summation_method": self.summation_method,
            "multi_label": self.multi_label,
            "num_labels": self.num_labels,
            "label_weights": _json(self.label_weights),
            "from_logits": self._from_logits,
        }
        if self._init_from_thresholds:  # without the −ε and 1 + ε added, as given
            config["thresholds"] = [float(t) for t in self._thresholds[1:-1]]
        return {**super().get_config(), **config}
