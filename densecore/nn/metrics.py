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
import math
import operator

import numpy as np

from ..engine import backend, device
from ..engine import functional as F
from ..engine.tensor import Tensor
from . import losses as losses_module
from . import registry
from .losses import _snake

EPSILON = 1e-7  # Keras's backend.epsilon()
NEG_INF = -1e10  # what top_k filtering gives the predictions it drops (Keras's value)


def _host(x) -> np.ndarray:
    """A numpy array of x: a Tensor's values, a device array copied back, or np.asarray(x)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "numpy"):
        return x.numpy()
    return np.asarray(device.to_host(x))


def _divide_no_nan(a, b):
    """a / b, 0 where b is 0 (Keras's ops.divide_no_nan)."""
    a, b = np.broadcast_arrays(np.asarray(a, np.float64), np.asarray(b, np.float64))
    return np.divide(a, b, out=np.zeros(a.shape), where=b != 0)


def _result(values):
    """A result as Keras gives it: one number as a Python float, several as an array."""
    values = np.asarray(values, np.float64)
    return float(values) if values.ndim == 0 else values


class Variable:
    """A metric's state made by `Metric.add_variable`: a float64 numpy array with the assign
    methods of keras.Variable (what Keras's guides call on a metric's state)."""

    def __init__(self, value, name: str):
        self.value = np.array(value, np.float64)
        self.initial = self.value.copy()
        self.name = name

    def assign(self, value):
        """Set the state to `value` (broadcast to its shape), in place."""
        self.value[...] = np.asarray(value, np.float64)

    def assign_add(self, value):
        """Add `value` to the state, in place."""
        self.value[...] += np.asarray(value, np.float64)

    def assign_sub(self, value):
        """Subtract `value` from the state, in place."""
        self.value[...] -= np.asarray(value, np.float64)

    def numpy(self) -> np.ndarray:
        """A copy of the state."""
        return self.value.copy()

    @property
    def shape(self) -> tuple:
        return self.value.shape

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.value, dtype)

    def __float__(self):
        return float(self.value)

    def __repr__(self):
        return f"<Variable {self.name} {self.value!r}>"

    def __int__(self):
        return int(self.value)


def _arithmetic(op):
    """Variable's arithmetic: on its value, giving a numpy array (`self.sum + x`, as Keras)."""

    def method(self, *other):
        return op(self.value, *(o.value if isinstance(o, Variable) else o for o in other))

    return method


for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow", "lt", "le", "gt", "ge", "neg", "abs"):
    _op = getattr(operator, _name)
    setattr(Variable, f"__{_name}__", _arithmetic(_op))
    if _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow"):
        setattr(Variable, f"__r{_name}__", _arithmetic(lambda a, b, op=_op: op(b, a)))
del _name, _op


def _as_result(value):
    """A metric's result as densecore returns it: a Python float, or a numpy array."""
    value = np.asarray(value.value if isinstance(value, Variable) else value)
    return float(value) if value.ndim == 0 else value.astype(np.float64)


class _VariableNames:
    """`Metric.variable_names` on an instance: those of the class's names it has, then the
    attributes that hold a Variable made by `add_variable` (what fit sums across ranks and
    backs up)."""

    def __init__(self, names=()):
        self.names = tuple(names)

    def __get__(self, metric, owner=None):
        if metric is None:
            return self.names
        state = vars(metric)
        made = [k for k, v in state.items() if isinstance(v, Variable) and k not in self.names]
        return tuple(name for name in self.names if name in state) + tuple(made)


class _MetricType(type):
    """Metrics' metaclass: `reset_state()` runs once the whole constructor has run, the
    subclass's own `__init__` included (whose `add_variable` state a subclass's
    `reset_state` may use, as Keras's guides write it; densecore's metrics create their
    state there)."""

    def __call__(cls, *args, **kwargs):
        metric = super().__call__(*args, **kwargs)
        metric.reset_state()
        return metric


class Metric(metaclass=_MetricType):
    """The base class of metrics, as keras.metrics.Metric.

    A subclass either defines `values(y_true, y_pred)`, the per-sample values whose
    (weighted) mean the metric is, or its own `update_state`, `result` and `reset_state`.
    State is made in `__init__` with `add_variable` (as in Keras), or as plain attributes
    named in `variable_names` that `reset_state` sets (it runs after the constructor).
    `variables` lists the state; `variable_names` names it (those attributes, then the
    attributes holding an `add_variable` Variable).

    Args:
        name: the metric's name (default: `default_name`, else the class name in snake_case).
        dtype: kept for Keras compatibility (and in the config): densecore counts in float64
            and returns Python floats.

    Example:
        >>> import densecore as dc, numpy as np
        >>> class Hits(dc.metrics.Metric):
        ...     def values(self, y_true, y_pred):
        ...         return (np.argmax(y_pred, axis=-1) == y_true).astype(float)
        >>> Hits()([0, 1], [[0.9, 0.1], [0.8, 0.2]])
        0.5
    """

    device_kind = None  # "sparse", "categorical" or "binary": counted by a GPU kernel there
    variable_names = _VariableNames(("total", "count"))
    _direction = None  # "up"/"down": better when higher/lower (Keras's attribute; callbacks read it)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        names = vars(cls).get("variable_names")
        if names is not None and not isinstance(names, _VariableNames):
            cls.variable_names = _VariableNames(names)
        if "result" in vars(cls):  # a subclass's result may return its Variable, as in Keras
            own = cls.result

            def result(self):
                return _as_result(own(self))

            result.__doc__, result.__wrapped__ = own.__doc__, own
            cls.result = result

    def __init__(self, name=None, dtype=None):
        self._variables = []
        self.name = name or getattr(type(self), "default_name", None) or _snake(type(self).__name__)
        if dtype is not None:
            try:
                dtype = np.dtype(dtype).name
            except TypeError:
                raise ValueError(
                    f"{type(self).__name__}: dtype must be None or a numpy dtype name; received {dtype!r}."
                ) from None
        self._dtype = dtype or "float32"

    def __setattr__(self, key, value):
        # an add_variable Variable keeps its identity: a value set in its place (fit's sum
        # across ranks, a backup's restore) goes into it
        old = self.__dict__.get(key)
        if isinstance(old, Variable) and not isinstance(value, Variable):
            old.assign(value)
        else:
            object.__setattr__(self, key, value)

    @property
    def dtype(self) -> str:
        """The dtype named at construction ("float32" by default); read-only, as in Keras."""
        return self._dtype

    def add_variable(self, shape=(), initializer="zeros", dtype=None, aggregation="sum", name=None):
        """A new piece of state, as Keras's Metric.add_variable: a Variable (float64) that
        `reset_state` sets back to its initial value and `variables` lists.

        Args:
            shape: its shape (default a scalar).  initializer: "zeros" (default), "ones" or a
            number.  dtype, aggregation: accepted for Keras compatibility.  name: its name.

        Example:
            >>> import densecore as dc, numpy as np
            >>> class Positives(dc.metrics.Metric):
            ...     def __init__(self, name="positives", **kwargs):
            ...         super().__init__(name=name, **kwargs)
            ...         self.hits = self.add_variable(shape=(), initializer="zeros", name="hits")
            ...     def update_state(self, y_true, y_pred, sample_weight=None):
            ...         self.hits.assign_add(np.sum(np.asarray(y_pred) > 0.5))
            ...     def result(self):
            ...         return self.hits
            >>> Positives()([1, 0], [0.9, 0.7])
            2.0
        """
        init = {"zeros": 0.0, "ones": 1.0}.get(initializer, initializer)
        if not isinstance(init, (int, float, np.number)) or isinstance(init, bool):
            raise ValueError(
                f"{type(self).__name__}.add_variable: initializer must be 'zeros', 'ones' or a number. "
                f"Received: initializer={initializer!r}"
            )
        variable = Variable(np.full(tuple(shape), float(init)), name or f"variable_{len(self._variables)}")
        self._variables.append(variable)
        return variable

    add_weight = add_variable  # Keras's older name

    def __copy__(self):
        # a copy (compile's weighted metrics) counts on its own: its Variables are its own
        twin = object.__new__(type(self))
        fresh = {id(v): Variable(v.value, v.name) for v in self.__dict__.get("_variables", ())}
        for v in self.__dict__.get("_variables", ()):
            fresh[id(v)].initial = v.initial.copy()
        for key, value in self.__dict__.items():
            if key == "_variables":
                value = [fresh[id(v)] for v in value]
            elif isinstance(value, Variable):
                value = fresh.get(id(value), value)
            object.__setattr__(twin, key, value)
        return twin

    @property
    def variables(self) -> list:
        """The state, as arrays (Keras's metric variables)."""
        named = [getattr(self, name) for name in self.variable_names if hasattr(self, name)]
        own = [np.asarray(value) for value in named if not isinstance(value, Variable)]
        return own + [v.value for v in self._variables]

    def reset_state(self):
        """Start a new count (fit calls it at each epoch)."""
        self.total, self.count = 0.0, 0.0
        for variable in getattr(self, "_variables", ()):
            variable.assign(variable.initial)

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add one batch: targets, predictions (y_pred may live on the GPU) and optionally
        sample weights (a number, one per sample, or weights that broadcast)."""
        if (
            sample_weight is None
            and device.is_device(y_pred)
            and self.device_kind
            and getattr(self, "threshold", 0.5) == 0.5
            and (self.device_kind != "binary" or _zeros_and_ones(y_true))
        ):
            self._update_on_device(np.asarray(y_true), y_pred)
            return
        self._add(self.values(np.asarray(y_true), _host(y_pred)), sample_weight)

    def values(self, y_true, y_pred):
        """The per-sample values whose mean the metric is: what a subclass defines."""
        raise NotImplementedError(f"{type(self).__name__} must define values() or update_state().")

    def _add(self, values, sample_weight=None):
        """Keras's Mean.update_state: Σ w v into total, Σ w into count (see the module)."""
        if isinstance(values, Tensor):  # a Tensor (a loss) counts as its values
            values = values.data
        if np.ndim(values) == 0 and np.ndim(sample_weight) == 0:  # one number (fit's loss)
            w = 1.0 if sample_weight is None else float(sample_weight)
            self.total += float(values) * w
            self.count += w
            return
        if sample_weight is None and np.ndim(values) >= 1:  # each sample's mean, without weights
            values = np.asarray(values)
            per_sample = max(values.size // max(len(values), 1), 1)
            self.total += float(np.sum(values, dtype=np.float64)) / per_sample
            self.count += len(values)
            return
        values, w = _samplewise(self.name, values, sample_weight)
        self.total += float(np.sum(values))
        if w is not None:
            self.count += float(np.sum(w))
        else:
            self.count += values.shape[0] if values.ndim else 1

    def _update_on_device(self, y_true, y_pred):
        """The accuracies count right answers on the GPU; one number comes back per batch."""
        if self.device_kind == "sparse":
            t = y_true.reshape(-1, 1).astype(np.int64)
        else:
            t = y_true[..., None] if y_true.ndim == y_pred.ndim - 1 else y_true
            t = t.astype(y_pred.dtype)
        hits = backend.kernels().count_correct(self.device_kind, y_pred, device.targets_to_device(t))
        per_row = y_pred.shape[1] if self.device_kind == "binary" else 1  # binary: a mean per row
        self.total += float(device.to_host(hits)[0]) / per_row
        self.count += y_pred.shape[0]

    def result(self):
        """The metric over everything counted since the last reset (0 before any count)."""
        return self.total / self.count if self.count else 0.0

    def __call__(self, *args, **kwargs):
        """update_state(*args, **kwargs), then the result."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict:
        """The constructor arguments, for saving and from_config."""
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        """A metric like the one whose get_config() this is (its counts start at zero)."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


def _zeros_and_ones(y_true) -> bool:
    """Whether every target is 0 or 1 (then the GPU's count equals Keras's comparison)."""
    t = np.asarray(y_true)
    return bool(np.all((t == 0) | (t == 1)))


def _samplewise(where, values, sample_weight):
    """Keras's reduce_to_samplewise_values: (one value per sample, one weight per sample or
    None). Weighted values with more axes than their weights are first averaged over them."""
    values = np.asarray(values, np.float64)
    if sample_weight is None:
        if values.ndim > 1:
            values = values.mean(axis=tuple(range(1, values.ndim)))
        return values, None
    w = np.asarray(sample_weight)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{where}: sample_weight must hold numbers; received dtype {w.dtype}.")
    w = w.astype(np.float64)
    values, w = F._same_rank(values, w)
    if values.ndim > w.ndim:
        values = values.mean(axis=tuple(range(w.ndim, values.ndim)))
    try:
        w = np.broadcast_to(w, values.shape)
    except ValueError:
        raise ValueError(
            f"{where}: sample_weight of shape {w.shape} does not broadcast to the values' shape "
            f"{values.shape} (one weight per sample, or weights shaped like y_true)."
        ) from None
    values = values * w
    if w.ndim > 1:
        w = w.mean(axis=tuple(range(1, w.ndim)))
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, w


class Mean(Metric):
    """The (weighted) mean of the values given: fit's loss, or any number per batch.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.Mean()([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
        2.0
    """

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, values, sample_weight=None):
        """Add values (a number or an array; with more than one axis, each sample's values
        are averaged first), each counted its weight (default 1)."""
        self._add(values if np.ndim(values) == 0 else np.asarray(values), sample_weight)


class Sum(Metric):
    """The (weighted) sum of the values given.

    Example:
        >>> import densecore as dc
        >>> dc.metrics.Sum()([1, 3, 5, 7], sample_weight=[1, 1, 0, 0])
        4.0
    """

    variable_names = ("total",)

    def __init__(self, name="sum", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.total = 0.0

    def update_state(self, values, sample_weight=None):
        """Add Σ w v (each sample's values summed first, as Keras's)."""
        values = np.asarray(values, np.float64)
        if sample_weight is not None:
            w = np.asarray(sample_weight, np.float64)
            values, w = F._same_rank(values, w)
            values = values * np.broadcast_to(w, np.broadcast_shapes(values.shape, w.shape))
        self.total += float(values.sum())

    def result(self):
        return self.total


class MeanMetricWrapper(Mean):
    """The mean of the per-sample values of a function `fn(y_true, y_pred, **kwargs)`.

    Args:
        fn: the function (or the name of one of densecore's metric or loss functions).
        name: default fn's name.  dtype: as Metric's.
        **kwargs: passed on to fn.

    Example:
        >>> import densecore as dc, numpy as np
        >>> def squared(y_true, y_pred):
        ...     return (np.asarray(y_true) - np.asarray(y_pred)) ** 2
        >>> dc.metrics.MeanMetricWrapper(squared)([[0.0, 1.0]], [[1.0, 1.0]])
        0.5
    """

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        if isinstance(fn, str):
            fn = FUNCTIONS.get(fn, fn)
        if not callable(fn):
            raise TypeError(
                f"MeanMetricWrapper: fn must be a function or the name of one of {sorted(FUNCTIONS)}; "
                f"received {fn!r:.80}."
            )
        name = name or getattr(fn, "name", None) or getattr(fn, "__name__", None)  # a Loss: its name
        super().__init__(name=name, dtype=dtype)
        self._fn, self._fn_kwargs = fn, kwargs
        if fn in losses_module.FUNCTIONS.values() or isinstance(fn, losses_module.Loss):
            self._direction = "down"  # a loss, as Keras marks it

    def update_state(self, y_true, y_pred, sample_weight=None):
        Metric.update_state(self, y_true, y_pred, sample_weight)

    def values(self, y_true, y_pred):
        return _host(self._fn(y_true, y_pred, **self._fn_kwargs))

    def get_config(self):
        fn = getattr(self._fn, "__name__", repr(self._fn))
        return {**super().get_config(), "fn": fn, **self._fn_kwargs}


class _FunctionMetric(MeanMetricWrapper):
    """A built-in mean metric: `function` gives the per-sample values, `arguments()` the
    metric's own settings (set before __init__, passed to the function, and the config)."""

    function = None  # a staticmethod in each subclass
    default_name = None

    def __init__(self, name=None, dtype=None):
        super().__init__(self.function, name=name or self.default_name, dtype=dtype, **self.arguments())

    def arguments(self) -> dict:
        return {}

    def values(self, y_true, y_pred):
        return _host(self.function(y_true, y_pred, **self.arguments()))

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype, **self.arguments()}


# ---- the accuracies -------------------------------------------------------------------------
def _operands(y_true, y_pred):
    """(y_true, y_pred) as numpy arrays, y_true in y_pred's float dtype."""
    y_pred = _host(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(np.float32)
    return np.asarray(_host(y_true)).astype(y_pred.dtype, copy=False), y_pred


def _same_shapes(where, y_true, y_pred):
    """(y_true, y_pred) brought to the same rank (F._same_rank); ValueError naming `where`
    when their shapes then do not broadcast."""
    y_true, y_pred = F._same_rank(*_operands(y_true, y_pred))
    if y_true.shape == y_pred.shape:
        return y_true, y_pred
    try:
        np.broadcast_shapes(y_true.shape, y_pred.shape)
    except ValueError:
        raise ValueError(
            f"{where}: y_true {y_true.shape} and y_pred {y_pred.shape} must have the same shape."
        ) from None
    return y_true, y_pred


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


# ---- the regression, probabilistic and hinge metrics: the losses' per-sample values --------
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


# ---- the confusion-matrix metrics -----------------------------------------------------------
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


def _optional_int(owner, name, value):
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        raise TypeError(f"{owner}: {name} must be None or an integer; received {name}={value!r}.")
    if name == "top_k" and value is not None and value < 1:
        raise ValueError(f"{owner}: top_k must be a positive integer; received top_k={value!r}.")
    return None if value is None else int(value)


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


# ---- F-scores -------------------------------------------------------------------------------
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
FUNCTIONS = {fn.__name__: fn for fn in (*_CLASS_OF, huber)}

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
