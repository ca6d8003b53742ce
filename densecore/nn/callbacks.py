"""Callbacks: code that runs at points of `fit`, with Keras's hooks and names.

A callback sees the model as `self.model` and can stop training by setting
`self.model.stop_training = True`.
"""

import csv
import math
import os
import warnings

import numpy as np

from .schedules import LearningRateSchedule


class Callback:
    """Base class; override any hook. `logs` holds the latest loss and metrics."""

    def __init__(self):
        self.model = None
        self.params = {}

    def set_model(self, model):
        """Called by fit with the model being trained."""
        self.model = model

    def set_params(self, params):
        """Called by fit with {'epochs', 'steps', 'verbose'}."""
        self.params = params

    def on_train_begin(self, logs=None):
        """Called once before the first epoch."""

    def on_train_end(self, logs=None):
        """Called once after the last epoch (also after early stopping)."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called at the start of each epoch."""

    def on_epoch_end(self, epoch, logs=None):
        """Called after each epoch with its logs (loss, metrics, val_*)."""

    def on_train_batch_begin(self, batch, logs=None):
        """Called before each training step."""

    def on_train_batch_end(self, batch, logs=None):
        """Called after each training step with the running logs."""

    def on_test_begin(self, logs=None):
        """Called before an evaluation (Keras compatibility)."""

    def on_test_end(self, logs=None):
        """Called after an evaluation (Keras compatibility)."""

    def on_predict_begin(self, logs=None):
        """Called before a prediction (Keras compatibility)."""

    def on_predict_end(self, logs=None):
        """Called after a prediction (Keras compatibility)."""

    # Keras's older aliases
    def on_batch_begin(self, batch, logs=None):
        """Keras's older name for on_train_batch_begin."""

    def on_batch_end(self, batch, logs=None):
        """Keras's older name for on_train_batch_end."""


class CallbackList:
    """Calls a hook on every callback in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        self._batch_hooks = [cb for cb in self.callbacks if _overrides_batch_hooks(cb)]

    def call(self, hook, *args):
        """Call `hook(*args)` on every callback."""
        for cb in self.callbacks:
            getattr(cb, hook)(*args)

    def batch_end(self, batch, logs):
        for cb in self._batch_hooks:  # most callbacks ignore batches: skip them on the hot path
            cb.on_train_batch_end(batch, logs)
            cb.on_batch_end(batch, logs)

    def batch_begin(self, batch):
        for cb in self._batch_hooks:
            cb.on_train_batch_begin(batch, None)
            cb.on_batch_begin(batch, None)


def _overrides_batch_hooks(cb) -> bool:
    names = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
    return any(getattr(type(cb), n) is not getattr(Callback, n) or n in vars(cb) for n in names)


class History(Callback):
    """Records each epoch's logs; `fit` returns it. `history.history["loss"]` is a list."""

    def __init__(self):
        super().__init__()
        self.history, self.epoch = {}, []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _better(monitor: str, mode: str):
    if mode == "auto":
        mode = "max" if ("acc" in monitor or "precision" in monitor or "recall" in monitor) else "min"
    if mode not in ("min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max'; received {mode!r}.")
    return (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b), mode


class EarlyStopping(Callback):
    """Stop when `monitor` has not improved by more than `min_delta` for `patience` epochs.

    Args:
        monitor: default "val_loss".  min_delta: default 0.  patience: default 0.
        mode: "auto", "min" or "max".  restore_best_weights: default False.
        baseline: a value the monitor must beat.  start_from_epoch: epochs to wait first.
    """

    def __init__(
        self,
        monitor="val_loss",
        min_delta=0.0,
        patience=0,
        verbose=0,
        mode="auto",
        baseline=None,
        restore_best_weights=False,
        start_from_epoch=0,
    ):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, patience, verbose
        self.min_delta = abs(min_delta)
        self._improves, self.mode = _better(monitor, mode)
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch

    def on_train_begin(self, logs=None):
        self.wait, self.stopped_epoch, self.best_epoch = 0, 0, 0
        self.best = (
            self.baseline if self.baseline is not None else (math.inf if self.mode == "min" else -math.inf)
        )
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(
                f"EarlyStopping: metric '{self.monitor}' is not in logs "
                f"({sorted(logs or {})}); not stopping.",
                stacklevel=2,
            )
            return
        if epoch < self.start_from_epoch:
            return
        delta = -self.min_delta if self.mode == "min" else self.min_delta
        if self._improves(current - delta, self.best) or (
            self.best_weights is None and self.baseline is None
        ):
            self.best, self.best_epoch, self.wait = current, epoch, 0
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            return
        self.wait += 1
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.restore_best_weights and self.best_weights is not None:
            self.model.set_weights(self.best_weights)
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


class ModelCheckpoint(Callback):
    """Save the model (or its weights) after each epoch, atomically.

    Args:
        filepath: may contain `{epoch}` and log keys, e.g. "model-{epoch:02d}-{val_loss:.2f}.dc".
        monitor: default "val_loss".  save_best_only: default False.
        save_weights_only: default False.  mode: "auto", "min" or "max".
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
    ):
        super().__init__()
        self.filepath, self.monitor, self.verbose = str(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self._improves, self.mode = _better(monitor, mode)
        self.best = math.inf if self.mode == "min" else -math.inf

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(
                    f"ModelCheckpoint: metric '{self.monitor}' is not in logs; saving anyway.", stacklevel=2
                )
            elif not self._improves(current, self.best):
                return
            else:
                self.best = current
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)
        if self.verbose:
            print(f"Epoch {epoch + 1}: saved to {path}")


class LearningRateScheduler(Callback):
    """Set the learning rate at each epoch's start to `schedule(epoch, lr)`."""

    def __init__(self, schedule, verbose=0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        lr = float(self.schedule(epoch, optimizer.current_learning_rate()))
        if not np.isfinite(lr) or lr < 0:
            raise ValueError(f"LearningRateScheduler: the schedule returned {lr!r} at epoch {epoch}.")
        optimizer.learning_rate = lr
        if self.verbose:
            print(f"Epoch {epoch + 1}: learning rate {lr:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = self.model.optimizer.current_learning_rate()


class TerminateOnNaN(Callback):
    """Stop training when the loss becomes NaN or infinite (fit does this by default)."""

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            self.model.stop_training = True


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by `factor` when `monitor` has not improved by more than
    `min_delta` for `patience` epochs, then wait `cooldown` epochs; never below `min_lr`.
    Keras's defaults and rules (factor 0.1, patience 10, min_delta 1e-4)."""

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
        super().__init__()
        if not 0 <= factor < 1:
            raise ValueError(f"ReduceLROnPlateau: factor must be in [0, 1); received {factor!r}.")
        self.monitor, self.factor, self.patience, self.verbose = monitor, factor, patience, verbose
        self.min_delta, self.cooldown, self.min_lr = abs(min_delta), cooldown, min_lr
        self._improves, self.mode = _better(monitor, mode)

    def on_train_begin(self, logs=None):
        self.best, self.wait, self.cooldown_counter = None, 0, 0

    def on_epoch_end(self, epoch, logs=None):
        logs = logs if logs is not None else {}
        optimizer = self.model.optimizer
        logs["learning_rate"] = optimizer.current_learning_rate()
        current = logs.get(self.monitor)
        if current is None:
            warnings.warn(
                f"ReduceLROnPlateau: metric '{self.monitor}' is not in logs ({sorted(logs)}); not reducing.",
                stacklevel=2,
            )
            return
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        shifted = current + self.min_delta if self.mode == "min" else current - self.min_delta
        if self.best is None or self._improves(shifted, self.best):
            self.best, self.wait = current, 0
            return
        if self.cooldown_counter > 0:
            return
        self.wait += 1
        if self.wait < self.patience:
            return
        old = optimizer.current_learning_rate()
        if old > np.float32(self.min_lr):
            if isinstance(optimizer.learning_rate, LearningRateSchedule):
                raise TypeError(
                    "ReduceLROnPlateau: the optimizer's learning rate is a schedule; give it a "
                    "number to reduce."
                )
            optimizer.learning_rate = new = max(old * self.factor, self.min_lr)
            self.cooldown_counter, self.wait = self.cooldown, 0
            if self.verbose:
                print(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")


class CSVLogger(Callback):
    """Write each epoch's logs as a row of a CSV file: `epoch` (from 0) and the log keys of
    the first epoch, in sorted order ("NA" where an epoch lacks one, e.g. with
    validation_freq). append=True continues an existing file (to resume training). Each
    row is flushed as it is written, so an interrupted fit keeps every finished epoch."""

    def __init__(self, filename, separator=",", append=False):
        super().__init__()
        self.filename, self.separator, self.append = os.fspath(filename), separator, append
        self.keys, self._file, self._writer = None, None, None

    def on_train_begin(self, logs=None):
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self.keys, self._writer, self._header = None, None, not exists

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self._writer is None:
            self.keys = sorted(logs)
            self._writer = csv.DictWriter(self._file, ["epoch", *self.keys], delimiter=self.separator)
            if self._header:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        if self._file is not None:
            self._file.close()
            self._file = self._writer = None


class LambdaCallback(Callback):
    """A callback from functions, as Keras's: on_epoch_begin/on_epoch_end(epoch, logs),
    on_train_begin/on_train_end(logs), on_train_batch_begin/on_train_batch_end(batch,
    logs) (also as on_batch_begin/on_batch_end). Hooks not given do nothing."""

    HOOKS = (
        "on_epoch_begin",
        "on_epoch_end",
        "on_train_begin",
        "on_train_end",
        "on_train_batch_begin",
        "on_train_batch_end",
        "on_batch_begin",
        "on_batch_end",
    )

    def __init__(self, **hooks):
        super().__init__()
        unknown = set(hooks) - set(self.HOOKS)
        if unknown:
            raise TypeError(
                f"LambdaCallback: unknown hooks {sorted(unknown)}; expected some of {list(self.HOOKS)}."
            )
        for name, fn in hooks.items():
            if fn is not None:
                setattr(self, name, fn)
