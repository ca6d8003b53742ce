"""The ground every metric stands on: the helpers the other files share, `Variable` (a
metric's state), `Metric` (the base class, and its metaclass), `Mean` and `Sum`, and
`MeanMetricWrapper`, the mean of a function's per-sample values, with `_FunctionMetric`, the
built-in mean metrics' base.

A mean metric adds Σ_n w_n v_n to `total` and Σ_n w_n to `count` each batch (`Metric._add`)
and reports total / count.
"""

import operator

import numpy as np

from ...engine import backend, device
from ...engine import functional as F
from ...engine.tensor import Tensor
from .. import losses as losses_module
from ..losses import _snake

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


def _optional_int(owner, name, value):
    """None, or `value` as an int (top_k at least 1); TypeError/ValueError naming `owner`."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer))):
        raise TypeError(f"{owner}: {name} must be None or an integer; received {name}={value!r}.")
    if name == "top_k" and value is not None and value < 1:
        raise ValueError(f"{owner}: top_k must be a positive integer; received top_k={value!r}.")
    return None if value is None else int(value)


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


# The functions MeanMetricWrapper knows by name (densecore's metric and loss functions): empty
# here, filled in by the package's __init__ once the accuracies are defined (the same dict as
# densecore.nn.metrics.FUNCTIONS).
FUNCTIONS = {}


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
