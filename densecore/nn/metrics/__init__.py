"""Metrics as Keras 3 has them: stateful counts over an epoch, on numpy.

A metric accumulates batches with `update_state(y_true, y_pred, sample_weight=None)` and
reports `result()`; `reset_state()` starts again (fit does at each epoch), and calling the
metric, `m(y_true, y_pred)`, updates it and returns the result. Everything is counted in
float64 from numpy arrays, outside the graph (on the cuda backend the accuracies count on
the GPU, the others copy y_pred back).

The mean metrics (the accuracies, the errors, the cross-entropies...) are Keras's `Mean` of
per-sample values: each batch adds Σ_n w_n v_n to a total and Σ_n w_n to a count (w_n = 1
without sample weights; a value with more axes than its weight is first averaged over the
extra axes), and the result is total / count: the mean over every sample seen, not a mean of
batch means. The confusion-matrix metrics (TruePositives..., Precision, Recall, AUC) count
each prediction above each threshold, w times; F1Score and FBetaScore count per class.

"accuracy"/"acc" means, as in Keras, the accuracy that fits the loss: binary (threshold
0.5), categorical (argmax of one-hot targets) or sparse categorical (argmax against labels).

The package, read top to bottom; each file imports only files listed above it (base <-
accuracies, loss_means, confusion <- fscore <- __init__):

    base.py        the shared helpers, Variable (a metric's state), Metric (and its
                   metaclass), Mean, Sum, MeanMetricWrapper and _FunctionMetric
    accuracies.py  the accuracy functions and their metrics (Accuracy, BinaryAccuracy, ...)
    loss_means.py  the regression, probabilistic and hinge metrics: the losses' per-sample
                   values (MeanSquaredError, ..., the cross-entropies), RootMeanSquaredError,
                   CosineSimilarity
    confusion.py   confusion_counts and the confusion-matrix metrics (TruePositives, ...,
                   Precision, Recall, AUC)
    fscore.py      FBetaScore, F1Score
    __init__.py    (this file) the names: FUNCTIONS, CLASSES, ALL, get and from_config

Example:
    >>> import densecore as dc
    >>> m = dc.metrics.BinaryAccuracy()
    >>> m([1, 1, 0, 0], [0.98, 1.0, 0.0, 0.6])
    0.75
    >>> m.reset_state()
    >>> m([1, 1, 0, 0], [0.98, 1.0, 0.0, 0.6], sample_weight=[1, 0, 0, 1])
    0.5
"""

import inspect

from .. import losses as losses_module
from .. import registry
from ..losses import _snake
from .accuracies import (  # noqa: F401  (dc.metrics's names)
    Accuracy,
    BinaryAccuracy,
    CategoricalAccuracy,
    SparseCategoricalAccuracy,
    SparseTopKCategoricalAccuracy,
    TopKCategoricalAccuracy,
    accuracy,
    binary_accuracy,
    categorical_accuracy,
    sparse_categorical_accuracy,
    sparse_top_k_categorical_accuracy,
    top_k_categorical_accuracy,
)
from .base import (  # noqa: F401  (dc.metrics's names)
    EPSILON,
    FUNCTIONS,
    NEG_INF,
    Mean,
    MeanMetricWrapper,
    Metric,
    Sum,
    Variable,
)
from .confusion import (  # noqa: F401  (dc.metrics's names)
    AUC,
    FalseNegatives,
    FalsePositives,
    Precision,
    Recall,
    TrueNegatives,
    TruePositives,
    confusion_counts,
)
from .fscore import F1Score, FBetaScore
from .loss_means import (  # noqa: F401  (dc.metrics's names)
    BinaryCrossentropy,
    CategoricalCrossentropy,
    CategoricalHinge,
    CosineSimilarity,
    Hinge,
    KLDivergence,
    LogCoshError,
    MeanAbsoluteError,
    MeanAbsolutePercentageError,
    MeanSquaredError,
    MeanSquaredLogarithmicError,
    Poisson,
    RootMeanSquaredError,
    SparseCategoricalCrossentropy,
    SquaredHinge,
)

# ---- names, get, from_config ----------------------------------------------------------------
# Keras's metric functions (keras.metrics.mean_squared_error etc.): the losses' per-sample
# functions and the accuracies above.
mean_squared_error = losses_module.mean_squared_error
mean_absolute_error = losses_module.mean_absolute_error
mean_absolute_percentage_error = losses_module.mean_absolute_percentage_error
mean_squared_logarithmic_error = losses_module.mean_squared_logarithmic_error
log_cosh = losses_module.log_cosh
kl_divergence = losses_module.kl_divergence
poisson = losses_module.poisson
hinge = losses_module.hinge
squared_hinge = losses_module.squared_hinge
categorical_hinge = losses_module.categorical_hinge
binary_crossentropy = losses_module.binary_crossentropy
categorical_crossentropy = losses_module.categorical_crossentropy
sparse_categorical_crossentropy = losses_module.sparse_categorical_crossentropy
huber = losses_module.huber

_CLASS_OF = {  # a function and the metric class that averages it
    accuracy: Accuracy,
    binary_accuracy: BinaryAccuracy,
    categorical_accuracy: CategoricalAccuracy,
    sparse_categorical_accuracy: SparseCategoricalAccuracy,
    top_k_categorical_accuracy: TopKCategoricalAccuracy,
    sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    log_cosh: LogCoshError,
    kl_divergence: KLDivergence,
    poisson: Poisson,
    hinge: Hinge,
    squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge,
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
}
FUNCTIONS.update({fn.__name__: fn for fn in (*_CLASS_OF, huber)})  # base's dict: MeanMetricWrapper's

_BUILT_IN = (
    Mean,
    Sum,
    MeanMetricWrapper,
    *dict.fromkeys(_CLASS_OF.values()),
    RootMeanSquaredError,
    CosineSimilarity,
    TruePositives,
    FalsePositives,
    TrueNegatives,
    FalseNegatives,
    Precision,
    Recall,
    AUC,
    FBetaScore,
    F1Score,
)
# The classes by name: what model.save writes, and what get() takes in a config dict.
CLASSES = {cls.__name__: cls for cls in _BUILT_IN}
# The names get() knows (lower case): Keras's snake_case class names, functions and aliases.
ALL = {
    **{_snake(name): cls for name, cls in CLASSES.items() if cls is not MeanMetricWrapper},
    **{name: _CLASS_OF[fn] for name, fn in FUNCTIONS.items() if fn in _CLASS_OF},
    "mse": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "rmse": RootMeanSquaredError,
    "bce": BinaryCrossentropy,
    "kld": KLDivergence,
    "logcosh": LogCoshError,
    "log_cosh_error": LogCoshError,
    "auc": AUC,
    "f1_score": F1Score,
    "fbeta_score": FBetaScore,
}
del ALL["accuracy"]  # "accuracy" follows the loss (see get)
_ACCURACY_FOR = {
    "binary": BinaryAccuracy,
    "categorical": CategoricalAccuracy,
    "sparse": SparseCategoricalAccuracy,
}


def get(identifier, loss=None):
    """A metric from what a Keras user may pass: a name ("mse", "auc", "Precision", ...;
    "accuracy"/"acc" follows the loss, as in Keras), a config dict {"class_name": ...,
    "config": {...}}, a Metric class or instance, or a function (one of densecore's gives
    its metric class; another is averaged by a MeanMetricWrapper). None gives None.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.get({"class_name": "AUC", "config": {"curve": "PR"}}).curve
        'PR'
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, dict):
        return from_config(identifier, loss)
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in ("accuracy", "acc"):
            cls = _ACCURACY_FOR.get(getattr(loss, "kind", None), BinaryAccuracy)
            return cls(name=identifier)
        cls = CLASSES.get(identifier) or ALL.get(key)
        if cls is not None and cls is not MeanMetricWrapper:
            return cls(name=identifier) if identifier not in CLASSES else cls()
        raise ValueError(
            f"Unknown metric {identifier!r}; expected one of {sorted([*ALL, 'accuracy', 'acc'])}, a "
            f"class name, a config dict or a Metric instance."
        )
    if inspect.isclass(identifier) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        cls = _CLASS_OF.get(identifier)
        return MeanMetricWrapper(identifier) if cls is None else cls()
    raise ValueError(f"Could not interpret metric identifier: {identifier!r:.80}")


def from_config(spec, loss=None, custom_objects=None) -> Metric:
    """A Metric from what `model.save` wrote: {"class_name", "config"} (a name, in files
    written before metrics kept their settings). Classes (and MeanMetricWrapper functions) of
    your own are found in custom_objects; ValueError for a class found nowhere."""
    if isinstance(spec, str):
        return get(spec, loss)
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise ValueError(f"not a saved metric: {spec!r:.80}")
    name = spec.get("class_name")
    custom = custom_objects or {}
    cls = custom.get(name) or CLASSES.get(name) or registry.lookup(name)
    if cls is None:
        raise ValueError(
            f"metric class {name!r} is not built in; pass it in custom_objects={{{name!r}: cls}}"
        )
    config = dict(spec["config"])
    if isinstance(config.get("fn"), str) and config["fn"] in custom:  # a function of your own
        config["fn"] = custom[config["fn"]]
    return cls.from_config(config)
