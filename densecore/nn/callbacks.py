"""Callbacks: code that runs at points of `fit`, `evaluate` and `predict`, with Keras 3's
hooks, names, arguments and rules (keras/src/callbacks).

A callback sees the model as `self.model` and can stop training by setting
`self.model.stop_training = True` (`stop_evaluating`, `stop_predicting` for the others).

Where densecore differs from Keras, on purpose:
- no callback counts a NaN or infinite value as an improvement (a diverging run never
  becomes the "best" model, nor resets a patience);
- `mode` other than "auto", "min" or "max" is refused (Keras warns and uses "auto");
- CSVLogger holds its file open only while it writes a row, so no exception that ends
  `fit` can leave it open;
- in a distributed fit (dc.distribution), ModelCheckpoint and CSVLogger write on rank 0
  only (every rank sees the same, reduced, logs and takes the same decisions).
"""

import contextlib
import csv
import inspect
import math
import os
import string
import warnings

import numpy as np

from ..engine import device, distribution
from .schedules import LearningRateSchedule


class Callback:
    """Base class of callbacks: override the hooks you need.

    `logs` is a dict: empty at the `*_begin` hooks; the loss and metrics so far at
    `on_train_batch_end` and `on_test_batch_end`; the epoch's loss, metrics and their
    "val_" forms at `on_epoch_end` (and `on_train_end`); `{"outputs": batch_outputs}` at
    `on_predict_batch_end`.

    Attributes:
        model: the model being trained, evaluated or run (set by fit, evaluate, predict).
        params: {"epochs", "steps", "verbose"} of that call.

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> class CountEpochs(dc.callbacks.Callback):
        ...     def on_train_begin(self, logs=None):
        ...         self.seen = 0
        ...     def on_epoch_end(self, epoch, logs=None):
        ...         self.seen += 1
        >>> model = dc.Sequential([dc.layers.Dense(1, input_shape=(2,))])
        >>> model.compile("sgd", "mse")
        >>> counter = CountEpochs()
        >>> _ = model.fit(np.ones((4, 2)), np.ones(4), epochs=3, verbose=0, callbacks=[counter])
        >>> counter.seen
        3
    """

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        """Called by fit, evaluate and predict with the model they run."""
        self.model = model

    def set_params(self, params):
        """Called by fit, evaluate and predict with {"epochs", "steps", "verbose"}."""
        self.params = params

    def on_train_begin(self, logs=None):
        """Called once before the first epoch."""

    def on_train_end(self, logs=None):
        """Called once when training ends normally (the epochs ran out or a callback
        stopped it), with the last epoch's logs. Not called when an exception ends fit."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of each epoch (counted from 0)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called after each epoch with its logs (loss, metrics, their "val_" forms)."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before each training step; calls `on_batch_begin`, as Keras."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        """Called after each training step with the epoch's loss and metrics so far; calls
        `on_batch_end`, as Keras."""
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch, logs=None):
        """Keras's older name for on_train_batch_begin."""

    def on_batch_end(self, batch, logs=None):
        """Keras's older name for on_train_batch_end."""

    def on_test_begin(self, logs=None):
        """Called before an evaluation, and before each validation in fit."""

    def on_test_end(self, logs=None):
        """Called after an evaluation or validation, with its loss and metrics."""

    def on_test_batch_begin(self, batch, logs=None):
        """Called before each batch of an evaluation or validation."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after each batch of an evaluation or validation, with the loss and
        metrics so far."""

    def on_predict_begin(self, logs=None):
        """Called before a prediction."""

    def on_predict_end(self, logs=None):
        """Called after a prediction."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before each batch of a prediction."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after each batch of a prediction with {"outputs": the batch's outputs}."""

    # the attributes BackupAndRestore saves and restores (JSON numbers or None)
    _backup_fields = ()

    def _backup_state(self) -> dict:
        """densecore's own hook: the state a resumed fit must find again (see
        BackupAndRestore); `_backup_fields` names it."""
        return {name: getattr(self, name) for name in self._backup_fields}

    def _restore_backup_state(self, state) -> None:
        """Put back what _backup_state returned."""
        for name in self._backup_fields:
            if name in state:
                setattr(self, name, state[name])

    def _set_callbacks(self, callbacks):
        """densecore's own hook: called with all the callbacks of the call (BackupAndRestore
        saves the others' state)."""

    def _fit_will_log(self, names):
        """densecore's own hook, not Keras's: called by fit before `on_train_begin` with
        the names each epoch's logs will hold (the loss, the metrics and, when fit
        validates, their "val_" forms), so that a callback can refuse, before any work, a
        setting that fit cannot meet."""


# the hooks of each kind of batch; a callback that overrides none of them is never called
# per batch, so that a step pays nothing for the callbacks that ignore batches
_BATCH_HOOKS = {
    "train": ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end"),
    "test": ("on_test_batch_begin", "on_test_batch_end"),
    "predict": ("on_predict_batch_begin", "on_predict_batch_end"),
}


def _overrides(callback, hooks) -> bool:
    """Whether the callback has batch hooks of its own (it may also say, per instance, that
    it ignores them: `_batch_hooks_idle`, e.g. a ModelCheckpoint that saves per epoch)."""
    if getattr(callback, "_batch_hooks_idle", False):
        return False
    return any(
        getattr(type(callback), hook) is not getattr(Callback, hook) or hook in vars(callback)
        for hook in hooks
    )


class CallbackList:
    """The callbacks of one fit, evaluate or predict call: `call` runs a hook on each, in
    order; the batch hooks run only on the callbacks that override them.

    Args:
        callbacks: a list of Callback (or one Callback, or None).
        model: the model they see.
        params: {"epochs", "steps", "verbose"}.
        history: fit's History, called after the others.
    """

    def __init__(self, callbacks, model, params, history=None):
        if isinstance(callbacks, Callback):
            callbacks = [callbacks]
        self.callbacks = list(callbacks or []) + ([] if history is None else [history])
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(
                    f"callbacks must be densecore.callbacks.Callback objects; received {cb!r:.80}."
                )
            cb.set_model(model)
            cb.set_params(params)
            cb._set_callbacks(self.callbacks)
        self._begin, self._end = {}, {}
        for kind, hooks in _BATCH_HOOKS.items():
            listening = [cb for cb in self.callbacks if _overrides(cb, hooks)]
            self._begin[kind] = [getattr(cb, f"on_{kind}_batch_begin") for cb in listening]
            self._end[kind] = [getattr(cb, f"on_{kind}_batch_end") for cb in listening]

    def call(self, hook, *args):
        """Call `hook(*args)` on every callback."""
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def wants_batches(self, kind) -> bool:
        """Whether a callback listens to the batches of `kind` ("train", "test", "predict"):
        only then are a batch's logs worth computing."""
        return bool(self._end[kind])

    def batch_begin(self, kind, batch):
        """The batch-begin hook of `kind` on the callbacks that listen."""
        for hook in self._begin[kind]:
            hook(batch, {})

    def batch_end(self, kind, batch, logs):
        """The batch-end hook of `kind` on the callbacks that listen."""
        for hook in self._end[kind]:
            hook(batch, logs)


NO_CALLBACKS = CallbackList([], None, {})  # what evaluate and predict use when given none


class History(Callback):
    """Records each epoch's logs; `fit` returns it.

    Attributes:
        history: {name: [one value per epoch]}; a "val_" list holds the validated epochs.
        epoch: the epochs run (counted from 0).
        params: {"epochs", "steps", "verbose"} of the fit.
    """

    def __init__(self):
        super().__init__()
        self.history, self.epoch = {}, []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


# ---- watching one logged value -----------------------------------------------------------
def _count(owner, name, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{owner}: {name} must be a non-negative integer; received {value!r}.")
    return int(value)


def _finite(owner, name, value, optional=False):
    if value is None and optional:
        return None
    number = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not number or not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number; received {value!r}.")
    return float(value)


def _metric_direction(metric):
    """Which way a metric improves, "up" or "down": its own `_direction` (Keras's attribute)
    first, else the direction Keras gives its class or the nearest base class of that name
    (so a subclass of Precision goes up); None when unknown."""
    direction = getattr(metric, "_direction", None)
    if direction in ("up", "down"):
        return direction
    for cls in type(metric).__mro__:
        if cls.__name__ in _KERAS_DIRECTIONS:
            return _KERAS_DIRECTIONS[cls.__name__]
    return None


# the `_direction` Keras 3 sets on its metrics (keras/src/metrics/*.py); the metrics that
# wrap a loss function (crossentropies, KLDivergence, Poisson, ...) go down
_KERAS_DIRECTIONS = {
    **dict.fromkeys(
        (
            "Accuracy BinaryAccuracy CategoricalAccuracy SparseCategoricalAccuracy "
            "TopKCategoricalAccuracy SparseTopKCategoricalAccuracy Precision Recall AUC "
            "SensitivitySpecificityBase FBetaScore CosineSimilarity R2Score PearsonCorrelation "
            "ConcordanceCorrelation"
        ).split(),
        "up",
    ),
    **dict.fromkeys(
        (
            "MeanSquaredError MeanAbsoluteError MeanAbsolutePercentageError "
            "MeanSquaredLogarithmicError RootMeanSquaredError LogCoshError Hinge SquaredHinge "
            "CategoricalHinge BinaryCrossentropy CategoricalCrossentropy "
            "SparseCategoricalCrossentropy KLDivergence Poisson"
        ).split(),
        "down",
    ),
}


class MonitorCallback(Callback):
    """The base of the callbacks that watch one logged value (EarlyStopping,
    ModelCheckpoint, ReduceLROnPlateau), as Keras's MonitorCallback.

    Args:
        monitor: the name of the value in the logs, e.g. "val_loss" or "accuracy".
        mode: "min" (lower is better), "max", or "auto": "min" for a loss, else the
            direction of the compiled metric of that name (without "val_"), found at the
            end of the first epoch; ValueError there when there is none.
        baseline: the value to beat first (None: the first value seen).
        min_delta: how much a value must beat the best by to count as an improvement.
    """

    def __init__(self, monitor="val_loss", mode="auto", baseline=None, min_delta=0):
        super().__init__()
        owner = type(self).__name__
        if not isinstance(monitor, str):
            raise TypeError(f"{owner}: monitor must be the name of a logged value; received {monitor!r}.")
        if mode not in ("auto", "min", "max"):
            raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max'; received {mode!r}.")
        self.monitor, self.mode = monitor, mode
        self.best = _finite(owner, "baseline", baseline, optional=True)
        self.min_delta = abs(_finite(owner, "min_delta", min_delta))
        self.monitor_op = None

    def _set_monitor_op(self):
        """Choose np.less or np.greater from `mode` (see the class docstring)."""
        direction = {"min": "down", "max": "up"}.get(self.mode)
        if direction is None:
            name = self.monitor.removeprefix("val_")
            compiled = getattr(self.model, "compiled_metrics", None) or []
            if name == "loss":
                direction = "down"
            for metric in compiled:
                if metric.name == name:
                    direction = _metric_direction(metric)
            if direction is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor!r}, but "
                    f"densecore cannot tell whether it should be maximized or minimized: it is "
                    f"neither the loss nor a compiled metric of known direction (metrics: "
                    f"{[m.name for m in compiled]}). Pass mode='max' to keep the highest value, "
                    f"or mode='min' to keep the lowest."
                )
        self.monitor_op = np.greater if direction == "up" else np.less

    def _scalar(self, value):
        """A logged value as a float: a number, or an array of one (a metric such as
        F1Score logs one value per class); None for an array of several."""
        values = np.asarray(value, dtype=np.float64).reshape(-1)
        return float(values[0]) if values.size == 1 else None

    def _one_value(self, value):
        """_scalar, or ValueError naming the monitor when it holds several values."""
        number = self._scalar(value)
        if number is None:
            raise ValueError(
                f"{type(self).__name__}: monitor={self.monitor!r} holds {np.size(value)} values "
                f"({value!r:.80}); monitor a single value."
            )
        return number

    def _is_improvement(self, value, reference) -> bool:
        """Whether `value` beats `reference` by more than min_delta: always when there is no
        reference yet, never when `value` is NaN or infinite."""
        if not math.isfinite(value):
            return False
        if reference is None:
            return True
        shift = self.min_delta if self.monitor_op is np.greater else -self.min_delta
        return bool(self.monitor_op(value - shift, reference))


class EarlyStopping(MonitorCallback):
    """Stop training when a monitored value has stopped improving, with Keras 3's rules.

    Each epoch that does not improve on the best value so far adds one to a wait; an
    improvement resets it, when it also beats `baseline`. Training stops once the wait
    reaches `patience` (at the earliest after the second epoch). A NaN or infinite value
    never counts as an improvement.

    Args:
        monitor: the logged value to watch. Defaults to "val_loss".
        min_delta: the least change that counts as an improvement. Defaults to 0.
        patience: epochs without improvement before stopping. Defaults to 0.
        verbose: 1 prints when the callback stops training or restores weights.
        mode: "auto", "min" or "max" (see MonitorCallback). Defaults to "auto".
        baseline: a value to beat: the wait only resets on epochs better than both it and
            the best so far. Defaults to None.
        restore_best_weights: at the end of training (whether this callback stopped it,
            another did, or the epochs ran out) restore the weights of the best epoch,
            baseline or not. Defaults to False.
        start_from_epoch: epochs of warm-up not watched. Defaults to 0.

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> stopper = dc.callbacks.EarlyStopping(monitor="loss", patience=1)
        >>> stopper.set_model(dc.Sequential())
        >>> stopper.on_train_begin()
        >>> for epoch, loss in enumerate([10.0, 9.0, 8.0, 9.0, 8.9, 8.8]):
        ...     stopper.on_epoch_end(epoch, {"loss": loss})
        ...     if stopper.model.stop_training:
        ...         break
        >>> stopper.stopped_epoch
        3
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        self._backup_fields = ("wait", "stopped_epoch", "best_epoch", "best")
        self.patience = _count("EarlyStopping", "patience", patience)
        self.start_from_epoch = _count("EarlyStopping", "start_from_epoch", start_from_epoch)
        self.baseline = _finite("EarlyStopping", "baseline", baseline, optional=True)
        self.verbose, self.restore_best_weights = verbose, restore_best_weights
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        # all state is per fit, so that an instance can serve several fits
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best, self.best_weights = None, None

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        current = self._monitor_value(logs)
        if current is None or epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights, self.best_epoch = self.model.get_weights(), epoch  # the best so far
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)

    def _monitor_value(self, logs):
        value = (logs or {}).get(self.monitor)
        if value is None:
            warnings.warn(
                f"Early stopping conditioned on metric `{self.monitor}` which is not available. "
                f"Available metrics are: {','.join(logs or {})}",
                stacklevel=3,
            )
            return None
        return self._one_value(value)


def _placeholders(owner, filepath) -> list:
    """The names a filepath's {placeholders} refer to; ValueError for a malformed one."""
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(filepath) if field is not None]
    except ValueError as exc:
        raise ValueError(f"{owner}: filepath {filepath!r} is not a valid format string: {exc}.") from None
    names = [field.split(".")[0].split("[")[0] for field in fields]
    if "" in names or any(name.isdigit() for name in names):
        raise ValueError(
            f"{owner}: filepath {filepath!r} has a positional placeholder; name what it holds, "
            f"e.g. {{epoch:02d}} or {{val_loss:.2f}}."
        )
    return names


class ModelCheckpoint(MonitorCallback):
    """Save the model (or its weights) at the end of each epoch, atomically.

    Args:
        filepath: where to save; may name the epoch (from 1) and any logged value, e.g.
            "model-{epoch:02d}-{val_loss:.2f}.dc". fit refuses at its start a "val_"
            placeholder when it has no validation data. Missing folders are created.
        monitor: the logged value that decides the best model. Defaults to "val_loss".
        verbose: 1 prints each decision.
        save_best_only: save only when `monitor` improves on the best so far (never for a
            NaN or infinite value); when it is not logged, save with a warning.
        save_weights_only: save with `model.save_weights` rather than `model.save`.
        mode: "auto", "min" or "max" (see MonitorCallback).
        save_freq: "epoch" (default: at the end of each epoch) or an integer N ≥ 1: after
            every N batches, counted across epochs, as Keras 3 (the filepath may then name
            `{batch}`, from 1; `monitor` is read from the batch's logs). On the cuda backend
            the weights and the optimizer's state are copied to the host for the save.
        initial_value_threshold: with save_best_only, the value the first save must beat.
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        initial_value_threshold=None,
    ):
        super().__init__(monitor, mode, baseline=initial_value_threshold)
        if save_freq != "epoch" and (
            not isinstance(save_freq, (int, np.integer)) or isinstance(save_freq, bool) or save_freq < 1
        ):
            raise ValueError(
                f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' or integer "
                f"values (at least 1)"
            )
        self.save_freq = save_freq if save_freq == "epoch" else int(save_freq)
        self._batch_hooks_idle = self.save_freq == "epoch"  # the step loop then skips its logs
        self._batches_seen_since_last_saving, self._last_batch_seen, self._current_epoch = 0, -1, 0
        self._backup_fields = ("best",)
        self.filepath = os.fspath(filepath)
        self._placeholders = _placeholders("ModelCheckpoint", self.filepath)
        self.verbose = verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save(self._current_epoch, batch, logs or {})

    def _should_save_on_batch(self, batch) -> bool:
        """Keras's count: every save_freq batches seen, across epochs (batch restarts at 0)."""
        if self.save_freq == "epoch":
            return False
        added = batch + 1 if batch <= self._last_batch_seen else batch - self._last_batch_seen
        self._batches_seen_since_last_saving += added
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _fit_will_log(self, names):
        for name in self._placeholders:
            if name.startswith("val_") and name not in names:
                validates = any(logged.startswith("val_") for logged in names)
                why = (
                    ""
                    if validates
                    else " (it has no validation data: pass validation_data or validation_split)"
                )
                raise ValueError(
                    f"ModelCheckpoint: filepath {self.filepath!r} names {{{name}}}, which fit will not "
                    f"log{why}; its epochs log {list(names)}. Use one of those, or take the "
                    f"placeholder out of the filepath."
                )

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs or {})

    def _save(self, epoch, batch, logs):
        path = self._path(epoch, logs, batch)
        if self.save_best_only and not self._should_save(epoch, logs, path):
            return
        if not distribution.is_chief():  # (every rank decided alike: it saw the same logs)
            return
        if self.verbose > 0 and not self.save_best_only:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        with _on_host(self.model):  # within an epoch on cuda, the weights live on the device
            if self.save_weights_only:
                self.model.save_weights(path)
            else:
                self.model.save(path)

    def _path(self, epoch, logs, batch=None) -> str:
        named = {**logs, "epoch": epoch + 1}
        if batch is not None and "batch" not in logs:
            named["batch"] = batch + 1
        try:
            return self.filepath.format(**named)
        except KeyError as exc:
            raise KeyError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: the '
                f"placeholder {exc} is not in this epoch's logs ({sorted(logs)})"
            ) from None

    def _should_save(self, epoch, logs, path) -> bool:
        """save_best_only's decision, as Keras's (with its messages)."""
        if self.monitor_op is None:
            self._set_monitor_op()
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=3)
            return True
        current = self._scalar(current)
        if current is None:
            warnings.warn(
                f"Can save best model only when `monitor` is a scalar value. Received: "
                f"{logs[self.monitor]}. Falling back to `save_best_only=False`.",
                stacklevel=3,
            )
            return True
        best = "None" if self.best is None else f"{self.best:.5f}"
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                    f"{current:.5f}, saving model to {path}"
                )
            self.best = current
            return True
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {best}")
        return False


@contextlib.contextmanager
def _on_host(model):
    """Within the block, the model's weights and its optimizer's state that live on the
    device (cuda, during an epoch) are host copies; the device arrays are put back after."""
    swapped = []
    for w in model.weights:
        if device.is_device(w.data):
            swapped.append((w.__dict__, "data", w.data))
            w.data = device.to_host(w.data)
    optimizer = getattr(model, "optimizer", None)
    for state in getattr(optimizer, "_state", {}).values():
        for slot, array in list(state.items()):
            if device.is_device(array):
                swapped.append((state, slot, array))
                state[slot] = device.to_host(array)
    try:
        yield
    finally:
        for where, key, array in swapped:
            where[key] = array


def _set_learning_rate(owner, optimizer, value):
    """optimizer.learning_rate = value; TypeError, as Keras, when it is a schedule."""
    if isinstance(optimizer.learning_rate, LearningRateSchedule):
        raise TypeError(
            f"{owner}: This optimizer was created with a `LearningRateSchedule` "
            f"({type(optimizer.learning_rate).__name__}) as its learning_rate, hence its learning "
            f"rate is not settable. To use {owner}, create the optimizer with a float learning_rate."
        )
    optimizer.learning_rate = value


def _takes_learning_rate(schedule) -> bool:
    """Whether schedule takes (epoch, lr), as Keras's do, rather than (epoch) alone."""
    try:
        inspect.signature(schedule).bind(0, 0.0)
    except TypeError:
        return False
    except ValueError:  # no signature to read (some builtins): Keras's form
        return True
    return True


class LearningRateScheduler(Callback):
    """Set the learning rate at the start of each epoch from a schedule, and log it.

    Args:
        schedule: a function of the epoch (from 0) and the current learning rate that
            returns the new rate as a float; a function of the epoch alone also works,
            as in Keras. The optimizer's learning rate must be a float (not a schedule:
            TypeError at the first epoch).
        verbose: 1 prints each rate set.

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> model = dc.Sequential([dc.layers.Dense(1, input_shape=(2,))])
        >>> model.compile(dc.optimizers.SGD(0.1), "mse")
        >>> halve = dc.callbacks.LearningRateScheduler(lambda epoch, lr: lr / 2)
        >>> history = model.fit(np.ones((4, 2)), np.ones(4), epochs=3, verbose=0, callbacks=[halve])
        >>> history.history["learning_rate"]
        [0.05, 0.025, 0.0125]
    """

    def __init__(self, schedule, verbose=0):
        super().__init__()
        if not callable(schedule):
            raise TypeError(
                f"LearningRateScheduler: schedule must be a function (epoch, lr) -> lr; "
                f"received {schedule!r:.80}."
            )
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if _takes_learning_rate(self.schedule):
            lr = self.schedule(epoch, optimizer.current_learning_rate())
        else:
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, np.floating)):
            raise ValueError(
                f"LearningRateScheduler: the output of the schedule should be a float; received "
                f"{lr!r} ({type(lr).__name__}) at epoch {epoch}."
            )
        if not math.isfinite(lr) or lr < 0:
            raise ValueError(
                f"LearningRateScheduler: the schedule returned {lr!r} at epoch {epoch}; a learning "
                f"rate must be finite and ≥ 0."
            )
        _set_learning_rate("LearningRateScheduler", optimizer, float(lr))
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(lr)}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.current_learning_rate()


class TerminateOnNaN(Callback):
    """Stop training when the loss becomes NaN or infinite.

    fit already stops on such a loss by itself (keeping the weights of the last good
    step, with a warning); this callback adds Keras's message, or an error.

    Args:
        raise_error: False: stop gracefully (`model.stop_training = True`; on_train_end
            runs). True: raise RuntimeError at once (no on_train_end).
    """

    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error

    def on_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(loss):
            return
        if self.raise_error:
            raise RuntimeError(
                f"NaN or Inf loss encountered at batch {batch}. Loss value: {loss}. "
                f"Terminating training immediately."
            )
        print(f"Batch {batch}: Invalid loss, terminating training")
        self.model.stop_training = True


class ReduceLROnPlateau(MonitorCallback):
    """Reduce the learning rate when a monitored value has stopped improving, as Keras 3's.

    After `patience` epochs without an improvement of more than `min_delta`, the rate is
    multiplied by `factor` (never below `min_lr`), then the callback waits `cooldown`
    epochs before counting again. A NaN or infinite value never counts as an improvement.
    Each epoch's logs get "learning_rate" (the rate before any change at that epoch).

    Args:
        monitor: the logged value to watch. Defaults to "val_loss".
        factor: the rate's multiplier, in [0, 1). Defaults to 0.1.
        patience: epochs without improvement before a reduction. Defaults to 10.
        verbose: 1 prints each reduction.
        mode: "auto", "min" or "max" (see MonitorCallback). Defaults to "auto".
        min_delta: the least change that counts as an improvement. Defaults to 1e-4.
        cooldown: epochs to wait after a reduction. Defaults to 0.
        min_lr: the lowest rate. Defaults to 0.
    """

    def __init__(
        self,
        monitor="val_loss",
        factor=0.1,
        patience=10,
        verbose=0,
        mode="auto",
        min_delta=1e-4,
        cooldown=0,
        min_lr=0.0,
    ):
        super().__init__(monitor, mode, min_delta=min_delta)
        self._backup_fields = ("best", "wait", "cooldown_counter")
        factor = _finite("ReduceLROnPlateau", "factor", factor)
        if not 0 <= factor < 1:
            raise ValueError(
                f"ReduceLROnPlateau does not support a factor outside [0, 1); received factor={factor}."
            )
        self.min_lr = _finite("ReduceLROnPlateau", "min_lr", min_lr)
        if self.min_lr < 0:
            raise ValueError(f"ReduceLROnPlateau: min_lr must be ≥ 0; received {min_lr!r}.")
        self.factor, self.verbose = factor, verbose
        self.patience = _count("ReduceLROnPlateau", "patience", patience)
        self.cooldown = _count("ReduceLROnPlateau", "cooldown", cooldown)
        self.on_train_begin()

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def in_cooldown(self) -> bool:
        """Whether the callback is waiting after a reduction."""
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = logs if logs is not None else {}
        logs["learning_rate"] = self.model.optimizer.current_learning_rate()
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"Learning rate reduction is conditioned on metric `{self.monitor}` which is not "
                f"available. Available metrics are: {','.join(logs)}.",
                stacklevel=2,
            )
            return
        current = self._one_value(current)
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best, self.wait = current, 0
        elif not self.in_cooldown():
            self.wait += 1
            if self.wait >= self.patience and self._reduce(epoch):
                self.cooldown_counter, self.wait = self.cooldown, 0

    def _reduce(self, epoch) -> bool:
        optimizer = self.model.optimizer
        old = optimizer.current_learning_rate()
        if not old > np.float32(self.min_lr):
            return False
        new = max(old * self.factor, self.min_lr)
        _set_learning_rate("ReduceLROnPlateau", optimizer, new)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
        return True


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file, as Keras's.

    The columns are `epoch` (from 0) and the keys of the first epoch's logs, sorted, then
    their "val_" forms if that epoch had none (so a fit validating every few epochs, or
    not at all, still has them); "NA" fills an epoch's missing values, and NaN or inf are
    written as nan or inf. The file is opened for each row and closed after it, so every
    finished epoch is on disk and nothing is left open, however fit ends.

    Args:
        filename: the CSV file.
        separator: the column separator. Defaults to ",".
        append: continue an existing file (to resume training), without a second header.
            Defaults to False: the file is replaced when training begins.
    """

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self.keys, self.append_header = None, True

    def on_train_begin(self, logs=None):
        self.keys = None
        if not distribution.is_chief():  # a distributed fit's log is rank 0's
            return
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as existing:
                self.append_header = not existing.readline()
        else:
            self.append_header = True
            with open(self.filename, "w"):
                pass  # a new, empty file, as Keras's

    def on_epoch_end(self, epoch, logs=None):
        if not distribution.is_chief():
            return
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if not any(key.startswith("val_") for key in self.keys):
                self.keys += [f"val_{key}" for key in self.keys]
        with open(self.filename, "a", newline="") as file:
            writer = csv.DictWriter(file, ["epoch", *self.keys], delimiter=self.sep)
            if self.append_header:
                writer.writeheader()
                self.append_header = False
            writer.writerow({"epoch": epoch, **{key: _csv_value(logs.get(key, "NA")) for key in self.keys}})


def _csv_value(value):
    """A log value as Keras's CSVLogger writes it: a list as "[a, b]"."""
    if isinstance(value, str) or np.ndim(value) == 0:
        return value
    return f"[{', '.join(map(str, np.ravel(value)))}]"


class LambdaCallback(Callback):
    """A callback made of functions, as Keras's.

    Args:
        on_epoch_begin, on_epoch_end: functions (epoch, logs).
        on_train_begin, on_train_end: functions (logs).
        on_train_batch_begin, on_train_batch_end: functions (batch, logs).
        **kwargs: any other hook of Callback, by its name (on_test_begin, on_predict_end,
            on_test_batch_end, on_batch_end, ...), with that hook's arguments; other names
            are set as attributes, as Keras does. A name that starts with "on_" but is no
            hook (a misspelling, which would never be called) raises TypeError.

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> seen = []
        >>> log = dc.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append(epoch))
        >>> model = dc.Sequential([dc.layers.Dense(1, input_shape=(2,))])
        >>> model.compile("sgd", "mse")
        >>> _ = model.fit(np.ones((4, 2)), np.ones(4), epochs=2, verbose=0, callbacks=[log])
        >>> seen
        [0, 1]
    """

    HOOKS = tuple(name for name in vars(Callback) if name.startswith("on_"))

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_train_begin=None,
        on_train_end=None,
        on_train_batch_begin=None,
        on_train_batch_end=None,
        **kwargs,
    ):
        super().__init__()
        misspelt = sorted(name for name in kwargs if name.startswith("on_") and name not in self.HOOKS)
        if misspelt:
            raise TypeError(f"LambdaCallback: unknown hooks {misspelt}; the hooks are {list(self.HOOKS)}.")
        named = {
            "on_epoch_begin": on_epoch_begin,
            "on_epoch_end": on_epoch_end,
            "on_train_begin": on_train_begin,
            "on_train_end": on_train_end,
            "on_train_batch_begin": on_train_batch_begin,
            "on_train_batch_end": on_train_batch_end,
        }
        for name, value in {**kwargs, **named}.items():
            if value is not None:
                setattr(self, name, value)


class BackupAndRestore(Callback):
    """Back up the training state, and resume from it when fit is run again, as Keras 3's.

    Every `save_freq` (the end of each epoch, or every n training steps) the callback
    writes one file, `backup_dir/backup.dc`, atomically (a temporary beside it, fsynced,
    then renamed over it, as `model.save`): a crash at any moment leaves the last complete
    backup. It holds the weights; the optimizer's iterations and state arrays; the epoch
    and step; densecore's random stream (which draws the shuffle order and the dropout
    masks), layers' own streams and the position in the data; the learning rate; the
    epoch's loss and metrics so far; and the other callbacks' state (EarlyStopping's and
    ReduceLROnPlateau's best value and wait, ModelCheckpoint's best value).

    A fit started again with this callback, on the same model, data and arguments, restores
    all of it before its first step and goes on from the backup's epoch and step: with
    `dc.set_seed`, a run killed and resumed ends with bitwise the same weights as one never
    interrupted. (Keras 3 restarts the interrupted epoch from its first step; densecore
    resumes at the step. A generator cannot be rewound: a resumed fit reads on from the
    generator it is given.) When fit ends normally the backup is deleted, unless
    `delete_checkpoint=False`.

    Args:
        backup_dir: the folder of the backup (created when needed); use it for one training
            run only. A backup there of another model (other weight shapes, another
            optimizer) is refused with ValueError naming the file, before any step.
        save_freq: "epoch", or a positive integer: back up every this many steps.
        delete_checkpoint: remove the backup when training ends normally. Defaults to True.

    Example:
        >>> import tempfile
        >>> import numpy as np
        >>> import densecore as dc
        >>> class Interrupt(dc.callbacks.Callback):
        ...     def on_epoch_begin(self, epoch, logs=None):
        ...         if epoch == 4:
        ...             raise RuntimeError("Interrupting!")
        >>> backup = dc.callbacks.BackupAndRestore(tempfile.mkdtemp())
        >>> model = dc.Sequential([dc.layers.Dense(10, input_shape=(20,))])
        >>> model.compile(dc.optimizers.SGD(), loss="mse")
        >>> x, y = np.arange(100.0).reshape(5, 20) / 100, np.zeros((5, 10))
        >>> try:
        ...     model.fit(x, y, epochs=10, batch_size=1, callbacks=[backup, Interrupt()], verbose=0)
        ... except RuntimeError:
        ...     pass
        >>> history = model.fit(x, y, epochs=10, batch_size=1, callbacks=[backup], verbose=0)
        >>> len(history.history["loss"])  # epochs 4 to 9: the first 4 were backed up
        6
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True):
        super().__init__()
        if backup_dir is None or not os.fspath(backup_dir):
            raise ValueError("Empty `backup_dir` argument passed")
        number = isinstance(save_freq, (int, np.integer)) and not isinstance(save_freq, bool)
        if save_freq != "epoch" and not (number and save_freq > 0):
            raise ValueError(
                f"Invalid value for argument `save_freq`. Received: save_freq={save_freq!r}. "
                f"Expected either 'epoch' or a positive integer value."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq if save_freq == "epoch" else int(save_freq)
        self._batch_hooks_idle = self.save_freq == "epoch"  # the step loop then skips its logs
        self.delete_checkpoint = delete_checkpoint
        self._path = os.path.join(self.backup_dir, "backup.dc")
        self._callbacks = []
        self._current_epoch, self._last_batch_seen = 0, 0
        self._batches_seen_since_last_saving = 0
        self._pending, self._epoch_done = None, False

    def _set_callbacks(self, callbacks):
        self._callbacks = [cb for cb in callbacks if cb is not self]

    def on_train_begin(self, logs=None):
        self._batches_seen_since_last_saving, self._epoch_done, self._pending = 0, False, None
        if not os.path.exists(self._path):
            return
        state = self.model._read_backup(self._path)  # ValueError for another model's backup
        self._current_epoch, self._last_batch_seen = state["epoch"], state["step"]
        self.model._restore_training_state(state)
        self._pending = state["callbacks"]  # once every on_train_begin has run (they reset)

    def on_epoch_begin(self, epoch, logs=None):
        if self._pending is not None:
            self._restore_callbacks(self._pending)
            self._pending = None
        if self._epoch_done:  # every callback has finished the last epoch: back it up now
            self._save(step=None)

    def on_train_batch_end(self, batch, logs=None):
        self._last_batch_seen = batch + 1
        if self.save_freq == "epoch":
            return
        self._batches_seen_since_last_saving += 1
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            self._save(step=batch + 1)

    def on_epoch_end(self, epoch, logs=None):
        self._current_epoch, self._last_batch_seen = epoch + 1, 0
        # saved at the next on_epoch_begin (or on_train_end), after the callbacks listed
        # after this one have counted this epoch too
        self._epoch_done = self.save_freq == "epoch"

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            if not distribution.is_chief():  # rank 0 owns the file in a distributed fit
                return
            if os.path.exists(self._path):
                os.remove(self._path)
            try:
                os.rmdir(self.backup_dir)  # only when nothing else is in it
            except OSError:
                pass
        elif self._epoch_done:
            self._save(step=None)
        self._epoch_done = False

    def _save(self, step):
        """Write the backup: after `step` steps of the current epoch, or (None) at its end."""
        self._epoch_done = False
        if not distribution.is_chief():  # every rank holds the same state: rank 0 writes it
            return
        os.makedirs(self.backup_dir, exist_ok=True)
        state = self.model._training_state(step)
        state["epoch"], state["step"] = self._current_epoch, step or 0
        state["callbacks"] = [[type(cb).__name__, cb._backup_state()] for cb in self._callbacks]
        self.model._write_backup(self._path, state)

    def _restore_callbacks(self, saved):
        """Each saved state to the callback of its class in the same rank among those of
        that class (the callbacks may be passed in another order)."""
        by_class = {}
        for name, state in saved:
            by_class.setdefault(name, []).append(state)
        for cb in self._callbacks:
            states = by_class.get(type(cb).__name__)
            if states:
                cb._restore_backup_state(states.pop(0))
