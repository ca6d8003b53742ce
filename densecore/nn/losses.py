"""Losses as Keras 3 has them: the Loss classes, the per-sample functions, `get`.

Two ways to use a loss, as in Keras:

- a Loss object, `loss = MeanSquaredError(); loss(y_true, y_pred, sample_weight=None)`,
  returns one number (a scalar Tensor) by its `reduction`: "sum_over_batch_size" (the
  default, and "mean") divides the sum of the weighted per-sample losses by their number,
  "sum" sums them, "mean_with_sample_weight" divides by the sum of the weights, and "none"
  (or None) returns the weighted per-sample losses themselves;
- a function, `mean_squared_error(y_true, y_pred)`, returns the per-sample losses (y_pred's
  shape less its last axis) as a Tensor, unreduced.

Both have gradients, so either can end a model's graph. The math of each loss, forward and
backward, is in engine/functional.py, in the function of the same name; fit's default case
(a 2-D batch of logits, or of outputs for the squared error) runs the fused kernels of
kernels/losses.py. When the model's last layer applies sigmoid or softmax, the
cross-entropies are computed from its logits.

Example:
    >>> import densecore as dc
    >>> y_true, y_pred = [[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]]
    >>> round(dc.losses.MeanSquaredError()(y_true, y_pred).item(), 4)
    0.31
    >>> dc.losses.mean_squared_error(y_true, y_pred).numpy().round(4)
    array([0.36, 0.26])
"""

import inspect
import re

import numpy as np

from ..engine import functional as F
from ..engine.tensor import Tensor, as_tensor
from . import registry


def _snake(name: str) -> str:
    """The snake_case of a class name, as Keras's to_snake_case: "MeanSquaredError" gives
    "mean_squared_error", "AUC" gives "auc"."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", re.sub(r"\W+", "", name))
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _checked_dtype(owner, dtype):
    """dtype as a numpy float dtype's name, or None; ValueError naming `owner` otherwise."""
    if dtype is None:
        return None
    try:
        checked = np.dtype(dtype)
    except TypeError:
        checked = None
    if checked is None or checked.kind != "f":
        raise ValueError(
            f"{owner}: dtype must be None or a float dtype numpy has ('float16', 'float32', "
            f"'float64'); received dtype={dtype!r}."
        )
    return checked.name


class Loss:
    """The base class of losses, as keras.losses.Loss.

    Subclass it and write `call(y_true, y_pred)` returning the per-sample losses as a Tensor
    (Tensor operations give it a gradient); `__call__` then weights and reduces them.

    Args:
        name: the loss's name (default: the class's name in snake_case).
        reduction: "sum_over_batch_size" (default), "sum", "mean",
            "mean_with_sample_weight", or "none"/None (see the module's docstring).
        dtype: None (compute in y_pred's dtype) or a float dtype to compute in.

    Example:
        >>> import densecore as dc
        >>> class Cubed(dc.losses.Loss):
        ...     def call(self, y_true, y_pred):
        ...         error = y_pred - y_true
        ...         return (error * error * error).mean(axis=-1)
        >>> Cubed()([[0.0], [0.0]], [[1.0], [2.0]]).item()
        4.5
    """

    kind = "regression"  # which accuracy "accuracy" means with this loss

    def __init__(self, name=None, reduction="sum_over_batch_size", dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.reduction = F.standardize_reduction(reduction, type(self).__name__)
        self._dtype = _checked_dtype(type(self).__name__, dtype)

    @property
    def dtype(self):
        """The dtype the loss computes in (None: y_pred's); set at construction only."""
        return self._dtype

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The reduced loss of a batch (see the class docstring), a Tensor. call() receives
        y_pred and y_true as Tensors, y_true in y_pred's dtype."""
        y_pred = self._cast(y_pred)
        values = self.call(as_tensor(y_true, dtype=y_pred.dtype), y_pred)
        return F.reduce_weighted_values(values, sample_weight, self.reduction, where=self.name)

    def call(self, y_true, y_pred):
        """The per-sample losses, a Tensor: what a subclass defines."""
        raise NotImplementedError(f"{type(self).__name__} must define call(y_true, y_pred).")

    def _cast(self, y_pred) -> Tensor:
        y_pred = as_tensor(y_pred)
        return y_pred if self._dtype is None else F.cast(y_pred, self._dtype)

    def get_config(self) -> dict:
        """The constructor arguments (dtype only when set), for saving and from_config."""
        config = {"name": self.name, "reduction": self.reduction}
        if self._dtype is not None:
            config["dtype"] = self._dtype
        return config

    @classmethod
    def from_config(cls, config: dict):
        """A loss like the one whose get_config() this is. Files written before the
        regression losses followed Keras's arguments stored `from_logits: false` for them:
        that entry is dropped where the class takes no from_logits."""
        config = dict(config)
        if "from_logits" in config and "from_logits" not in inspect.signature(cls).parameters:
            if config.pop("from_logits"):
                raise ValueError(f"{cls.__name__}.from_config: {cls.__name__} takes no from_logits.")
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class LossFunctionWrapper(Loss):
    """A Loss from a function `fn(y_true, y_pred, **kwargs)` that returns per-sample losses
    as a Tensor (keras.losses.LossFunctionWrapper).

    Args:
        fn: the function (its name, for one of this module's functions).
        reduction, name, dtype: as Loss's.
        **kwargs: passed on to fn.

    Example:
        >>> import densecore as dc
        >>> loss = dc.losses.LossFunctionWrapper(dc.losses.huber, delta=0.5, reduction="sum")
        >>> round(loss([[0.0, 1.0]], [[0.6, 0.4]]).item(), 4)
        0.175
    """

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, dtype=None, **kwargs):
        if isinstance(fn, str):  # a saved one: densecore's, else registered or in custom_objects
            found = FUNCTIONS.get(fn) or registry.lookup(fn)
            if found is None:
                short = fn.rpartition(">")[2]
                hint = (
                    "a lambda is saved without its code: compile with a named function instead"
                    if fn.endswith("<lambda>")
                    else f"if it is yours, register it with @densecore.saving.register_serializable() "
                    f"or pass custom_objects={{{short!r}: {short}}}"
                )
                raise ValueError(
                    f"LossFunctionWrapper: unknown loss function {fn!r}; {hint} (densecore's own: "
                    f"{', '.join(sorted(FUNCTIONS))})"
                )
            fn = found
        if not callable(fn):
            raise TypeError(
                f"LossFunctionWrapper: fn must be a function or the name of one of "
                f"{sorted(FUNCTIONS)}; received {fn!r:.80}."
            )
        own = getattr(fn, "__name__", None) or _snake(type(fn).__name__)
        super().__init__(name=name or own, reduction=reduction, dtype=dtype)
        self.fn = fn
        self._fn_kwargs = kwargs

    def call(self, y_true, y_pred):
        y_true = y_true if isinstance(y_true, Tensor) else np.asarray(y_true)
        y_true, y_pred = F._same_rank(y_true, as_tensor(y_pred))  # (N,) against (N, 1), as Keras
        return self.fn(y_true, y_pred, **self._fn_kwargs)

    def get_config(self) -> dict:
        """The settings, `fn` by name: one of this module's, else the name it is registered
        under (register_serializable) or its own `__name__`, which load_model finds through
        custom_objects."""
        fn = self.fn
        if FUNCTIONS.get(getattr(fn, "__name__", None)) is fn:
            saved = fn.__name__
        else:
            saved = (
                getattr(fn, "_registered_name", None) or getattr(fn, "__name__", None) or type(fn).__name__
            )
        return {**super().get_config(), "fn": saved, **self._fn_kwargs}


class _FunctionalLoss(Loss):
    """A built-in loss: `function` (engine/functional.py) computes it, reduction included,
    taking the fused path where it can; `arguments()` are the loss's own settings (passed to
    the function and added to get_config)."""

    function = None  # a staticmethod in each subclass

    def arguments(self) -> dict:
        return {}

    def __call__(self, y_true, y_pred, sample_weight=None):
        return self.function(
            y_true,
            self._cast(y_pred),
            sample_weight=sample_weight,
            reduction=self.reduction,
            **self.arguments(),
        )

    def call(self, y_true, y_pred):
        return self.function(y_true, y_pred, reduction="none", **self.arguments())

    def get_config(self) -> dict:
        return {**super().get_config(), **self.arguments()}


def _flag(owner, name, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: {name} must be True or False; received {name}={value!r}.")
    return bool(value)


def _axis(owner, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ValueError(f"{owner}: `axis` must be of type `int`. Received: axis={value!r}.")
    return int(value)


def _smoothing(owner, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 <= value <= 1:
        raise ValueError(f"{owner}: label_smoothing must be a number in [0, 1]; received {value!r}.")
    return float(value)


class _SmoothedCrossentropy(_FunctionalLoss):
    """The settings binary and categorical cross-entropy share."""

    def __init__(self, from_logits, label_smoothing, axis, reduction, name, dtype):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = _flag(type(self).__name__, "from_logits", from_logits)
        self.label_smoothing = _smoothing(type(self).__name__, label_smoothing)
        self.axis = _axis(type(self).__name__, axis)

    def arguments(self):
        return {"from_logits": self.from_logits, "label_smoothing": self.label_smoothing, "axis": self.axis}


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Binary cross-entropy: per sample, the mean over the outputs of
    −[t log p + (1 − t) log(1 − p)], each output its own yes/no question.

    Args:
        from_logits: whether y_pred holds logits (default False: probabilities, clipped to
            [1e-7, 1 − 1e-7] as Keras does).
        label_smoothing: s in [0, 1]: targets t become t (1 − s) + s / 2.
        axis: the outputs' axis (default -1).
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> y_true, logits = [[0, 1], [0, 0]], [[-18.6, 0.51], [2.94, -12.8]]
        >>> round(dc.losses.BinaryCrossentropy(from_logits=True)(y_true, logits).item(), 3)
        0.865
    """

    kind = "binary"
    function = staticmethod(F.binary_crossentropy)

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="binary_crossentropy",
        dtype=None,
    ):
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Categorical cross-entropy with one-hot (or soft) targets: per sample, −Σ_c t_c log p_c.
    Probabilities are renormalised to sum to 1 over the classes and clipped, as Keras does.

    Args:
        from_logits: whether y_pred holds logits (default False).
        label_smoothing: s in [0, 1]: targets t become t (1 − s) + s / C, C classes.
        axis: the classes' axis (default -1).
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> y_true, y_pred = [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
        >>> round(dc.losses.CategoricalCrossentropy()(y_true, y_pred).item(), 4)
        1.1769
    """

    kind = "categorical"
    function = staticmethod(F.categorical_crossentropy)

    def __init__(
        self,
        from_logits=False,
        label_smoothing=0.0,
        axis=-1,
        reduction="sum_over_batch_size",
        name="categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(from_logits, label_smoothing, axis, reduction, name, dtype)


class SparseCategoricalCrossentropy(_FunctionalLoss):
    """Categorical cross-entropy with integer labels: per sample, −log p[label].
    Probabilities are renormalised to sum to 1 and clipped, as Keras does.

    Args:
        from_logits: whether y_pred holds logits (default False).
        ignore_class: a label whose samples count for nothing: loss 0, left out of the
            batch mean (default None: every class counts).
        axis: the classes' axis (default -1).
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> y_pred = [[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]]
        >>> round(dc.losses.SparseCategoricalCrossentropy()([0, 1, 2], y_pred).item(), 4)
        0.324
    """

    kind = "sparse"
    function = staticmethod(F.sparse_categorical_crossentropy)

    def __init__(
        self,
        from_logits=False,
        ignore_class=None,
        reduction="sum_over_batch_size",
        axis=-1,
        name="sparse_categorical_crossentropy",
        dtype=None,
    ):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        owner = type(self).__name__
        self.from_logits = _flag(owner, "from_logits", from_logits)
        if ignore_class is not None and (isinstance(ignore_class, bool) or not isinstance(ignore_class, int)):
            raise TypeError(f"{owner}: ignore_class must be None or an integer; received {ignore_class!r}.")
        self.ignore_class = ignore_class
        self.axis = _axis(owner, axis)

    def arguments(self):
        return {"from_logits": self.from_logits, "ignore_class": self.ignore_class, "axis": self.axis}


class _PlainLoss(_FunctionalLoss):
    """A built-in loss whose only settings are Loss's: reduction, name (default_name unless
    given) and dtype."""

    default_name = None

    def __init__(self, reduction="sum_over_batch_size", name=None, dtype=None):
        super().__init__(name=name or self.default_name, reduction=reduction, dtype=dtype)


class MeanSquaredError(_PlainLoss):
    """Mean squared error: per sample, the mean over the last axis of (t − p)².

    Args:
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> round(dc.losses.MeanSquaredError()([1.0, 0.0, 1.0], [0.9, 0.1, 0.8]).item(), 4)
        0.02
    """

    function = staticmethod(F.mean_squared_error)
    default_name = "mean_squared_error"


class MeanAbsoluteError(_PlainLoss):
    """Mean absolute error: per sample, the mean over the last axis of |t − p|.

    Args:
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> round(dc.losses.MeanAbsoluteError()([1.0, 0.3, 1.0], [1.9, 0.3, 1.8]).item(), 4)
        0.5667
    """

    function = staticmethod(F.mean_absolute_error)
    default_name = "mean_absolute_error"


class MeanAbsolutePercentageError(_PlainLoss):
    """Mean absolute percentage error: per sample, the mean over the last axis of
    100 |t − p| / max(|t|, 1e-7).

    Args:
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> loss = dc.losses.MeanAbsolutePercentageError()
        >>> round(loss([100.0, 200.0, 300.0], [90.0, 210.0, 310.0]).item(), 4)
        6.1111
    """

    function = staticmethod(F.mean_absolute_percentage_error)
    default_name = "mean_absolute_percentage_error"


class MeanSquaredLogarithmicError(_PlainLoss):
    """Mean squared logarithmic error: per sample, the mean over the last axis of
    (log(1 + p) − log(1 + t))², p and t first raised to at least 1e-7. For targets spanning
    orders of magnitude: it weighs ratios, not differences.

    Args:
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> round(dc.losses.MeanSquaredLogarithmicError()([[0.0, 1.0]], [[1.0, 1.0]]).item(), 4)
        0.2402
    """

    function = staticmethod(F.mean_squared_logarithmic_error)
    default_name = "mean_squared_logarithmic_error"


class LogCosh(_PlainLoss):
    """Log-cosh: per sample, the mean over the last axis of log cosh(p − t): about e² / 2
    for small errors e and |e| − log 2 for large ones (MSE near the target, MAE far away).

    Args:
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> round(dc.losses.LogCosh()([[0.0, 1.0]], [[1.0, 1.0]]).item(), 4)
        0.2169
    """

    function = staticmethod(F.log_cosh)
    default_name = "log_cosh"


class KLDivergence(_PlainLoss):
    """Kullback-Leibler divergence of the distribution p from t: per sample, the sum over the
    last axis of t log(t / p), both clipped to [1e-7, 1].

    Args:
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> round(dc.losses.KLDivergence()([[0.5, 0.5]], [[0.25, 0.75]]).item(), 4)
        0.1438
    """

    kind = "categorical"  # distributions over classes
    function = staticmethod(F.kl_divergence)
    default_name = "kl_divergence"


class Poisson(_PlainLoss):
    """Poisson loss, for counts t predicted as rates p: per sample, the mean over the last axis
    of p − t log(p + 1e-7).

    Args:
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> round(dc.losses.Poisson()([[1.0, 2.0]], [[1.0, 2.0]]).item(), 4)
        0.8069
    """

    function = staticmethod(F.poisson)
    default_name = "poisson"


class Hinge(_PlainLoss):
    """Hinge loss: per sample, the mean over the last axis of max(1 − t p, 0), targets t in
    {−1, +1} (0/1 labels are converted).

    Args:
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> round(dc.losses.Hinge()([[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]]).item(), 4)
        1.3
    """

    function = staticmethod(F.hinge)
    default_name = "hinge"


class SquaredHinge(_PlainLoss):
    """Squared hinge loss: per sample, the mean over the last axis of max(1 − t p, 0)², targets
    t in {−1, +1} (0/1 labels are converted).

    Args:
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> loss = dc.losses.SquaredHinge()
        >>> round(loss([[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]]).item(), 4)
        1.86
    """

    function = staticmethod(F.squared_hinge)
    default_name = "squared_hinge"


class CategoricalHinge(_PlainLoss):
    """Categorical hinge loss, one-hot targets: per sample, max(neg − pos + 1, 0) with
    pos = Σ t p the target's score and neg = max (1 − t) p the best other score.

    Args:
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> loss = dc.losses.CategoricalHinge()
        >>> round(loss([[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]]).item(), 4)
        1.4
    """

    kind = "categorical"  # one-hot targets: "accuracy" is categorical accuracy
    function = staticmethod(F.categorical_hinge)
    default_name = "categorical_hinge"


class Huber(_FunctionalLoss):
    """Huber loss: per sample, the mean over the last axis of ½ e² where |e| ≤ delta and
    delta |e| − ½ delta² elsewhere (e = p − t): squared near the target, linear far from it,
    so outliers weigh less than in MSE.

    Args:
        delta: where the loss turns from quadratic to linear (default 1.0).
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> round(dc.losses.Huber()([[0.0, 1.0], [0.0, 0.0]], [[0.6, 0.4], [0.4, 0.6]]).item(), 3)
        0.155
    """

    function = staticmethod(F.huber)

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if isinstance(delta, bool) or not isinstance(delta, (int, float, np.number)) or not delta >= 0:
            raise ValueError(f"Huber: delta must be a number ≥ 0; received delta={delta!r}.")
        self.delta = float(delta)

    def arguments(self):
        return {"delta": self.delta}


class CosineSimilarity(_FunctionalLoss):
    """Negative cosine similarity: per sample, −Σ t̂ p̂ along `axis` with x̂ = x / ‖x‖; −1 for
    the same direction, 0 for orthogonal ones (or a zero vector), 1 for opposite ones.

    Args:
        axis: the features' axis (default -1).
        reduction, name, dtype: as Loss's.

    Example:
        >>> import densecore as dc
        >>> round(dc.losses.CosineSimilarity()([[0.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [1.0, 1.0]]).item(), 4)
        -0.5
    """

    function = staticmethod(F.cosine_similarity)

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.axis = _axis(type(self).__name__, axis)

    def arguments(self):
        return {"axis": self.axis}


# ---- the functions: per-sample losses (Tensors with gradients), as keras.losses's ----------
def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary cross-entropy (see BinaryCrossentropy), y_pred's shape less `axis`."""
    return F.binary_crossentropy(
        y_true, y_pred, from_logits, label_smoothing=label_smoothing, axis=axis, reduction="none"
    )


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample categorical cross-entropy (see CategoricalCrossentropy).

    Example:
        >>> import densecore as dc
        >>> y_true, y_pred = [[0, 1, 0], [0, 0, 1]], [[0.05, 0.95, 0], [0.1, 0.8, 0.1]]
        >>> dc.losses.categorical_crossentropy(y_true, y_pred).numpy().round(4)
        array([0.0513, 2.3026])
    """
    return F.categorical_crossentropy(
        y_true, y_pred, from_logits, label_smoothing=label_smoothing, axis=axis, reduction="none"
    )


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, ignore_class=None, axis=-1):
    """Per-sample sparse categorical cross-entropy (see SparseCategoricalCrossentropy)."""
    return F.sparse_categorical_crossentropy(
        y_true, y_pred, from_logits, ignore_class=ignore_class, axis=axis, reduction="none"
    )


def mean_squared_error(y_true, y_pred):
    """Per-sample mean squared error: mean((t − p)²) over the last axis."""
    return F.mean_squared_error(y_true, y_pred, reduction="none")


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean absolute error: mean(|t − p|) over the last axis."""
    return F.mean_absolute_error(y_true, y_pred, reduction="none")


def mean_absolute_percentage_error(y_true, y_pred):
    """Per-sample mean absolute percentage error (see MeanAbsolutePercentageError)."""
    return F.mean_absolute_percentage_error(y_true, y_pred, reduction="none")


def mean_squared_logarithmic_error(y_true, y_pred):
    """Per-sample mean squared logarithmic error (see MeanSquaredLogarithmicError)."""
    return F.mean_squared_logarithmic_error(y_true, y_pred, reduction="none")


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss (see Huber)."""
    return F.huber(y_true, y_pred, delta, reduction="none")


def log_cosh(y_true, y_pred):
    """Per-sample log-cosh loss (see LogCosh)."""
    return F.log_cosh(y_true, y_pred, reduction="none")


def kl_divergence(y_true, y_pred):
    """Per-sample Kullback-Leibler divergence (see KLDivergence)."""
    return F.kl_divergence(y_true, y_pred, reduction="none")


def poisson(y_true, y_pred):
    """Per-sample Poisson loss (see Poisson)."""
    return F.poisson(y_true, y_pred, reduction="none")


def hinge(y_true, y_pred):
    """Per-sample hinge loss (see Hinge)."""
    return F.hinge(y_true, y_pred, reduction="none")


def squared_hinge(y_true, y_pred):
    """Per-sample squared hinge loss (see SquaredHinge)."""
    return F.squared_hinge(y_true, y_pred, reduction="none")


def categorical_hinge(y_true, y_pred):
    """Per-sample categorical hinge loss (see CategoricalHinge)."""
    return F.categorical_hinge(y_true, y_pred, reduction="none")


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample negative cosine similarity (see CosineSimilarity)."""
    return F.cosine_similarity(y_true, y_pred, axis, reduction="none")


mse = mean_squared_error
mae = mean_absolute_error

# Each function and the class that reduces it.
FUNCTIONS = {
    fn.__name__: fn
    for fn in (
        binary_crossentropy,
        categorical_crossentropy,
        sparse_categorical_crossentropy,
        mean_squared_error,
        mean_absolute_error,
        mean_absolute_percentage_error,
        mean_squared_logarithmic_error,
        huber,
        log_cosh,
        kl_divergence,
        poisson,
        hinge,
        squared_hinge,
        categorical_hinge,
        cosine_similarity,
    )
}
_CLASS_OF = {
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError,
    huber: Huber,
    log_cosh: LogCosh,
    kl_divergence: KLDivergence,
    poisson: Poisson,
    hinge: Hinge,
    squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge,
    cosine_similarity: CosineSimilarity,
}

# The names get() knows (lower case), as Keras's: the functions' names and the aliases.
ALL = {
    **{name: _CLASS_OF[fn] for name, fn in FUNCTIONS.items()},
    "bce": BinaryCrossentropy,
    "cce": CategoricalCrossentropy,
    "mse": MeanSquaredError,
    "mae": MeanAbsoluteError,
    "mape": MeanAbsolutePercentageError,
    "msle": MeanSquaredLogarithmicError,
    "kld": KLDivergence,
    "kullback_leibler_divergence": KLDivergence,
    "logcosh": LogCosh,
    "huber_loss": Huber,
}
# The classes by name: what model.save writes, and what get() takes in a config dict.
CLASSES = {cls.__name__: cls for cls in _CLASS_OF.values()}
# What a saved model's compile.loss may name: those, and the wrapper of a function of yours
# (its `fn` saved by name, found at load among densecore's, registered or custom_objects).
SAVED = {**CLASSES, "LossFunctionWrapper": LossFunctionWrapper}


def serialize(loss) -> dict:
    """{"class_name", "config"} of a Loss: what get() and deserialize() take back."""
    if not isinstance(loss, Loss):
        raise TypeError(f"losses.serialize: expected a Loss; received {loss!r:.80}.")
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config, custom_objects=None) -> Loss:
    """The Loss that serialize() described; classes of your own are found in custom_objects."""
    return get(config, custom_objects)


def get(identifier, custom_objects=None):
    """A loss from what a Keras user may pass: a name ("mse", "binary_crossentropy",
    "Huber", ...), a config dict {"class_name": ..., "config": {...}}, a Loss class or
    instance, or a function: one of this module's gives its Loss class; another,
    `fn(y_true, y_pred)` returning one loss per sample (or one number), is wrapped in
    `LossFunctionWrapper(fn)` (reduction "sum_over_batch_size", sample weights applied), as
    Keras's compile wraps it. A callable taking `sample_weight` itself is returned as it is
    (it weights and reduces on its own). None gives None.

    Example:
        >>> import densecore as dc
        >>> dc.losses.get({"class_name": "Huber", "config": {"delta": 2.0}}).delta
        2.0
    """
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        name, config = identifier.get("class_name"), identifier.get("config", {})
        cls = (custom_objects or {}).get(name) or SAVED.get(name) or registry.lookup(name)
        if cls is None or not isinstance(config, dict):
            raise ValueError(
                f"losses.get: could not interpret loss config {identifier!r:.120}; expected "
                f'{{"class_name": one of {sorted(CLASSES)}, "config": {{...}}}}.'
            )
        return cls.from_config(config)
    if isinstance(identifier, str):
        cls = CLASSES.get(identifier) or ALL.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"losses.get: unknown loss {identifier!r}; expected one of {sorted(ALL)}, a class "
                f"name of {sorted(CLASSES)}, a config dict or a Loss."
            )
        return cls()
    if inspect.isclass(identifier) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier):
        cls = _CLASS_OF.get(identifier)
        if cls is not None:
            return cls()
        try:
            weighs = "sample_weight" in inspect.signature(identifier).parameters
        except (TypeError, ValueError):  # no signature to read (a builtin): wrap it
            weighs = False
        return identifier if weighs else LossFunctionWrapper(identifier)
    raise ValueError(f"losses.get: could not interpret loss identifier {identifier!r:.80}.")
