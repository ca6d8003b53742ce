"""compile / fit / evaluate / predict: the training loop, shared by Model and Sequential.

One training step, the hot path:

    y_pred = model(x_batch)                 forward: one fused kernel per Dense, writing
                                            into the arrays of the step before
    loss   = loss_fn(y_batch, y_pred) (+ regularisation penalties)
    loss.backward()                         backward: one kernel call per Dense
    optimizer.apply(trainable weights)      one fused update kernel per weight

Metrics are counted from y_pred's numpy data, outside the graph.
"""

import contextlib
import copy
import math
import signal
import sys
import threading
import warnings

import numpy as np

from ..engine import device, step_buffers
from ..engine.tensor import Tensor, no_grad
from ..kernels import Buffers
from . import callbacks as callbacks_module
from . import inputs
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .layers import learning_phase
from .progress import Progbar, format_logs


@contextlib.contextmanager
def _deferred_interrupts():
    """Within fit, Ctrl-C only asks to stop: the step in progress finishes (no parameter is
    left half-updated) and KeyboardInterrupt is raised before the next one starts."""
    requested = []
    if threading.current_thread() is not threading.main_thread():
        yield requested
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: requested.append(signum))
    try:
        yield requested
    finally:
        signal.signal(signal.SIGINT, previous)


def _flat(logs: dict):
    """Keras's return form of logs: the loss alone, or [loss, *metrics]."""
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _as_list(metrics) -> list:
    if isinstance(metrics, (str, metrics_module.Metric)):
        return [metrics]
    return list(metrics or [])


def _check_log_names(metrics) -> None:
    """Each epoch's logs hold the loss and every metric under its own name, and their "val_"
    forms: refuse (ValueError) a metric named "loss", two metrics of one name, and a name
    that is the "val_" form of another; load_model compiles, so files are refused too."""
    names = ["loss"]
    for metric in metrics:
        name = metric.name
        if not isinstance(name, str) or not name:
            raise ValueError(
                f"compile: metric {type(metric).__name__} must have a non-empty name; received {name!r}."
            )
        if name in names:
            taken = "the loss" if name == "loss" else "another metric"
            raise ValueError(
                f"compile: metric {type(metric).__name__}(name={name!r}) would be logged under the "
                f"name of {taken}, hiding it; give it another name."
            )
        names.append(name)
    for name in names:
        if f"val_{name}" in names:
            raise ValueError(
                f"compile: metric 'val_{name}' has the name fit gives to the validation {name!r}; "
                f"give it another name."
            )


def _saved(metric) -> dict:
    """A compiled metric as model.save writes it: its class and settings."""
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


class Trainer:
    """The training half of Model (see training.py's docstring for the step)."""

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None, **kwargs):
        """Set the optimizer, loss and metrics for fit and evaluate.

        Args:
            optimizer: a name ("sgd", "adam", "adamw", "rmsprop") or an Optimizer; default
                "rmsprop", as Keras.
            loss: a name ("binary_crossentropy", "sparse_categorical_crossentropy", "mse",
                ...), a Loss, or a callable `(y_true, y_pred) -> scalar Tensor`.
            metrics: a list of names ("accuracy", "mae", ...) or Metric objects.
            weighted_metrics: the same, counted with fit's or evaluate's sample weights
                (class_weight or sample_weight); a name that is also in `metrics` is
                logged as "weighted_<name>", as Keras.

        Example:
            >>> import densecore as dc
            >>> model = dc.Sequential([dc.layers.Dense(1, activation="sigmoid")])
            >>> model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        """
        unsupported = set(kwargs) - {"run_eagerly", "jit_compile", "steps_per_execution"}
        if unsupported:
            raise TypeError(f"compile: unexpected arguments {sorted(unsupported)}.")
        if loss is None:
            raise ValueError("compile: a loss is required, e.g. loss='mse'.")
        optimizer = optimizers_module.get(optimizer)
        loss = losses_module.get(loss)  # a name, a Loss, a densecore loss function or any callable
        unweighted = [metrics_module.get(m, loss) for m in _as_list(metrics)]
        weighted = [copy.copy(metrics_module.get(m, loss)) for m in _as_list(weighted_metrics)]
        taken = {m.name for m in unweighted}
        for metric in weighted:  # a copy: its own name and counts, even if also in metrics
            if "sample_weight" not in inputs.parameters(metric.update_state):
                raise TypeError(
                    f"compile: weighted metric '{metric.name}' has an update_state without "
                    f"sample_weight; give it update_state(y_true, y_pred, sample_weight=None)."
                )
            metric.reset_state()
            if metric.name in taken:
                metric.name = f"weighted_{metric.name}"
            taken.add(metric.name)
        _check_log_names(unweighted + weighted)
        self.optimizer, self.loss = optimizer, loss
        self.compiled_metrics = unweighted + weighted
        self._weighted_metrics = weighted
        self._compile_config = {
            "metrics": [_saved(m) for m in unweighted],
            "weighted_metrics": [_saved(m) for m in weighted],
        }
        self.compiled = True

    def _update_metrics(self, y, y_pred, sample_weight):
        """Count one batch in every compiled metric; weighted_metrics see the weights."""
        weighted = self._weighted_metrics
        for metric in self.compiled_metrics[: len(self.compiled_metrics) - len(weighted)]:
            metric.update_state(y, y_pred)
        for metric in weighted:  # (compile checked that they take weights)
            metric.update_state(y, y_pred, sample_weight=sample_weight)

    def _require_trainable(self, where):
        frozen = [layer.name for layer in self.iter_layers() if getattr(layer, "inference_only", False)]
        if frozen:
            raise TypeError(
                f"{where}: model '{self.name}' holds integer layers {frozen}, which are "
                f"for inference only; train the float model, or a quantize_aware() "
                f"copy, and quantize it again."
            )

    def _require_compiled(self, where):
        if not getattr(self, "compiled", False):
            raise RuntimeError(
                f"{where}: the model must be compiled first: call model.compile(optimizer=..., loss=...)."
            )

    # ---- data checks -------------------------------------------------------------------
    def _prepare(self, where, x, y=None):
        """Validate x (and y) and return them as the arrays the steps use."""
        x = inputs.checked_array(where, x, dtype=np.float32)
        self._ensure_built(where, x)
        device.check_model(self, where, loss=where != "predict")
        if y is None:
            return x, None
        # targets may hold NaN or inf, as in Keras: the loss becomes NaN or inf and fit stops
        labels = isinstance(self.loss, losses_module.SparseCategoricalCrossentropy)
        y = inputs.checked_array(where, y, "y", dtype=None if labels else np.float32, finite=False)
        if len(y) != len(x):
            raise ValueError(
                f"{where}: x and y must have the same number of samples; received "
                f"x {x.shape} and y {y.shape}."
            )
        # the loss's and metrics' own checks on the whole y, once (quietly: y may hold inf)
        with no_grad(), np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            units = self.output_shape[-1]
            fake = np.full((len(y), units), 0.5, np.float32)
            try:
                self.loss(y, Tensor(fake))
            except (ValueError, TypeError) as exc:
                raise type(exc)(
                    f"{where}: y does not fit the model's output (batch, {units}): {exc}"
                ) from None
            rows = np.arange(units + 1) % len(y)  # not `units` rows: (u, u) & (u,) would broadcast
            for metric in self.compiled_metrics:
                probe = copy.copy(metric)
                try:
                    probe.update_state(y[rows], fake[rows])
                except (ValueError, TypeError, IndexError) as exc:
                    raise ValueError(
                        f"{where}: metric '{metric.name}' does not fit y {y.shape} and "
                        f"outputs (batch, {units}): {exc}"
                    ) from None
        return x, y

    def _weights_for(self, where, y, sample_weight=None, class_weight=None):
        return inputs.sample_weights(where, y, self.loss, sample_weight, class_weight)

    def _ensure_built(self, where, x):
        if not self.built:
            self.build((None, *x.shape[1:]))
        expected = self.input_shape[1:]
        if tuple(x.shape[1:]) != tuple(expected):
            raise ValueError(
                f"{where}: the model was built for inputs of shape (batch, "
                f"{', '.join(map(str, expected))}); received x of shape {x.shape}."
            )

    # ---- steps -------------------------------------------------------------------------
    def _total_loss(self, y_true, y_pred, sample_weight=None):
        if sample_weight is None:
            loss = self.loss(y_true, y_pred)
        else:
            loss = self.loss(y_true, y_pred, sample_weight=sample_weight)
        for penalty in self.regularization_losses():
            loss = loss + penalty
        return loss

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch, as Keras's: the loss (before the step), or
        `[loss, *metrics]` on this batch alone when metrics were compiled, or a dict with
        return_dict=True. Weights as in fit."""
        where = "train_on_batch"
        self._require_compiled(where)
        self._require_trainable(where)
        x, y = self._prepare(where, x, y)
        w = self._weights_for(where, y, sample_weight, class_weight)
        self._reset_metrics()
        with device.resident(self.weights, self.optimizer):
            logs = self._logs(self._train_step(x, y, self.trainable_weights, w))
        self._reset_metrics()
        return logs if return_dict else _flat(logs)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """The loss (and metrics) on one batch, without training; returns as train_on_batch."""
        where = "test_on_batch"
        self._require_compiled(where)
        x, y = self._prepare(where, x, y)
        logs = self._evaluate_arrays(x, y, max(len(x), 1), self._weights_for(where, y, sample_weight))
        return logs if return_dict else _flat(logs)

    def _reset_metrics(self):
        for metric in self.compiled_metrics:
            metric.reset_state()

    def _inputs(self, x) -> Tensor:
        """A batch as the model's input: on the cuda backend, copied to the device once (in
        the weights' dtype, which the kernels need there)."""
        if not device.on_gpu():
            return Tensor(x)
        dtype = self.weights[0].dtype if self.weights else x.dtype
        return Tensor(device.to_device(x.astype(dtype, copy=False)))

    def _step_buffers_for(self, x) -> step_buffers.StepBuffers:
        """The arrays kept for steps on batches shaped like x (step_buffers.py): those of the
        last two shapes, which is a fit's full batches and its last, shorter one."""
        kept = self.__dict__.setdefault("_step_buffers", {})
        key = (x.shape, x.dtype)
        if key not in kept:
            if len(kept) >= 2:
                kept.pop(next(iter(kept)))
            kept[key] = step_buffers.StepBuffers()
        return kept[key]

    def _train_step(self, x, y, params, sample_weight=None):
        with step_buffers.reusing(self._step_buffers_for(x)), learning_phase(True):
            y_pred = self(self._inputs(x))
            loss = self._total_loss(y, y_pred, sample_weight)  # its kernel's arrays kept too
        value = float(loss.data)
        if math.isfinite(value):  # else no update: the last good weights stay
            loss.backward()
            self.optimizer.apply(params)
        self._update_metrics(y, y_pred.data, sample_weight)
        return value

    # ---- fit ---------------------------------------------------------------------------
    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose=1,
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Train for `epochs` passes over (x, y), as keras.Model.fit.

        Args:
            x: inputs (samples, features).  y: targets.
            batch_size: samples per step (default 32).
            epochs: the index of the last epoch (training starts at initial_epoch).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch.
            callbacks: a list of Callback.
            validation_split: the last fraction of x and y, taken before shuffling, held out.
            validation_data: (x_val, y_val) or (x_val, y_val, sample_weight_val), evaluated
                after each epoch.
            shuffle: reshuffle the samples each epoch (with densecore's seeded stream).
            class_weight: {class: weight}: each sample's loss counts its class's weight
                (1 for classes not named), to make up for classes seen less often.
            sample_weight: one weight per sample (N,). Either weighting gives, as Keras's
                default reduction, the batch loss Σ_n w_n loss_n / batch size; of the
                metrics, only compile's `weighted_metrics` see the weights. Validation
                data is weighted by its own weights (validation_split's share of
                sample_weight, or validation_data's third element), never by class_weight.
            initial_epoch: the epoch to start from (to resume training).
            validation_batch_size: samples per validation step (default: batch_size).
            validation_freq: validate every this many epochs (an int), or after the epochs
                in a list (counted from 1); the "val_" lists then hold those epochs only.

        Returns:
            A History; `history.history` maps "loss", each metric and their "val_" forms
            to per-epoch lists. The epoch loss is the mean of the batch losses weighted by
            batch size. A NaN or infinite loss is logged as such (nan or inf, as Keras) and
            stops training with a warning naming the epoch and step, keeping the weights of
            the last good step (Keras goes on, unless TerminateOnNaN stops it).

        Callbacks run as in Keras: `on_train_end` when training ends normally (the epochs
        ran out, or a callback stopped it), not when an exception ends it; `on_test_*`
        around each validation; a callback that sets `model.stop_training` in a batch hook
        ends the epoch after that step (the validation due still runs).
        """
        where = "fit"
        self._require_compiled(where)
        self._require_trainable(where)
        batch_size = inputs.batch_size(where, batch_size)
        if not 0 <= validation_split < 1:
            raise ValueError(f"fit: validation_split must be in [0, 1); received {validation_split!r}.")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative integer; received {epochs!r}.")
        validation_batch_size = inputs.batch_size(
            where, batch_size if validation_batch_size is None else validation_batch_size
        )
        validates = inputs.validation_epochs(where, validation_freq)
        train, validation = self._fit_data(
            where, x, y, sample_weight, class_weight, validation_split, validation_data
        )
        buffers = self.__dict__.setdefault("_fit_buffers", Buffers())
        batches = inputs.ArrayBatches(*train, batch_size=batch_size, shuffle=shuffle, buffers=buffers)
        history = callbacks_module.History()
        params = {"epochs": epochs, "steps": batches.steps, "verbose": verbose}
        cbs = callbacks_module.CallbackList(callbacks, self, params, history)
        cbs.call("_fit_will_log", self._log_names(validates=validation is not None))
        self.stop_training = False
        logs = {}
        with _deferred_interrupts() as interrupt:
            cbs.call("on_train_begin", {})
            for epoch in range(initial_epoch, epochs):
                cbs.call("on_epoch_begin", epoch, {})
                bar = self._epoch_bar(epoch, epochs, batches.steps, verbose)
                with device.resident(self.weights, self.optimizer):  # one copy each way per epoch
                    logs = self._train_epoch(epoch, batches, cbs, bar, interrupt)
                    if validation is not None and validates(epoch + 1):
                        logs.update(self._validation_logs(validation, validation_batch_size, cbs))
                if bar is not None:
                    bar.update(batches.steps, logs, final=True)
                cbs.call("on_epoch_end", epoch, logs)
                if self.stop_training:
                    break
            cbs.call("on_train_end", logs)
        return history

    def _fit_data(self, where, x, y, sample_weight, class_weight, validation_split, validation_data):
        """fit's arrays, checked: ((x, y, w) to train on, (x, y, w) to validate on or None).
        validation_split holds out the last fraction before any shuffling; sample weights
        split with the data, class weights weight training only (Keras)."""
        x, y = self._prepare(where, x, y)
        w = self._weights_for(where, y, sample_weight, class_weight)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val[, sample_weight_val]).")
            where_val = "fit (validation_data)"
            x_val, y_val = self._prepare(where_val, *validation_data[:2])
            w_val = None
            if len(validation_data) == 3:
                w_val = self._weights_for(where_val, y_val, validation_data[2])
            return (x, y, w), (x_val, y_val, w_val)
        if not validation_split:
            return (x, y, w), None
        split = int(math.floor(len(x) * (1.0 - validation_split)))
        if split == 0 or split == len(x):
            raise ValueError(
                f"fit: validation_split={validation_split} leaves no samples for "
                f"{'training' if split == 0 else 'validation'} out of {len(x)}."
            )
        w_val = None if w is None or class_weight is not None else w[split:]
        w = None if w is None else w[:split]
        return (x[:split], y[:split], w), (x[split:], y[split:], w_val)

    @staticmethod
    def _epoch_bar(epoch, epochs, steps, verbose):
        """The epoch's header line and its progress bar (None when silent)."""
        if not verbose:
            return None
        print(f"Epoch {epoch + 1}/{epochs}", file=sys.stdout)
        return Progbar(steps, verbose)

    def _train_epoch(self, epoch, batches, cbs, bar, interrupt) -> dict:
        """One pass of training steps over the batches; the epoch's logs. A non-finite loss
        is counted (the epoch's loss becomes nan or inf, as Keras logs it) and stops
        training (no update from that step) with a warning naming where."""
        tracker = self.__dict__.setdefault("_loss_tracker", metrics_module.Mean("loss"))
        tracker.reset_state()
        self._reset_metrics()
        trainable = self.trainable_weights
        listening = bar is not None or cbs.wants_batches("train")
        for step, (xb, yb, wb) in enumerate(batches.epoch()):
            if interrupt:
                raise KeyboardInterrupt(
                    f"fit interrupted before epoch {epoch + 1}, step {step + 1}; the weights "
                    f"are those of the last step"
                )
            cbs.batch_begin("train", step)
            value = self._train_step(xb, yb, trainable, wb)
            tracker.update_state(value, len(xb))
            if listening:
                logs = self._logs(tracker.result())
                cbs.batch_end("train", step, logs)
                if bar is not None:
                    bar.update(step + 1, logs)
            if not math.isfinite(value):
                warnings.warn(
                    f"fit: the loss became {value} at epoch {epoch + 1}, step {step + 1}; "
                    f"training stopped with the weights of the last good step.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                self.stop_training = True
            if self.stop_training:
                break
        return self._logs(tracker.result())

    def _log_names(self, validates) -> list:
        """The names in each epoch's logs: the loss, the metrics and, when fit validates,
        their "val_" forms (callbacks may add their own, e.g. "learning_rate")."""
        names = ["loss", *(metric.name for metric in self.compiled_metrics)]
        return names + [f"val_{name}" for name in names] if validates else names

    def _validation_logs(self, validation, batch_size, cbs) -> dict:
        """The validation data's loss and metrics, named "val_<name>" (the callbacks' test
        hooks run around it, as in Keras)."""
        x_val, y_val, w_val = validation
        logs = self._evaluate_arrays(x_val, y_val, batch_size, w_val, cbs)
        return {f"val_{k}": v for k, v in logs.items()}

    def _logs(self, loss: float) -> dict:
        logs = {"loss": loss}
        for metric in self.compiled_metrics:
            logs[metric.name] = metric.result()
        return logs

    # ---- evaluate and predict ----------------------------------------------------------
    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose=0,
        sample_weight=None,
        return_dict=False,
        callbacks=None,
    ):
        """The loss (and metrics) on (x, y), without training.

        Args:
            x: inputs (samples, features).  y: targets.
            batch_size: samples per step (default 32).
            verbose: 1 prints the logs.
            sample_weight: one weight per sample (N,): the loss weighted as in fit.
            return_dict: return {name: value} rather than a float or a list.
            callbacks: a list of Callback: their on_test_begin, on_test_batch_begin,
                on_test_batch_end (with the loss and metrics so far) and on_test_end run,
                as in Keras; one may stop the evaluation with `model.stop_evaluating = True`.

        Returns:
            The loss as a float; `[loss, *metrics]` when metrics were compiled; or a dict
            with return_dict=True.
        """
        self._require_compiled("evaluate")
        batch_size = inputs.batch_size("evaluate", batch_size)
        x, y = self._prepare("evaluate", x, y)
        w = self._weights_for("evaluate", y, sample_weight)
        cbs = self._callbacks(callbacks, len(x), batch_size, verbose)
        logs = self._evaluate_arrays(x, y, batch_size, w, cbs)
        if verbose:
            print(format_logs(logs))
        return logs if return_dict else _flat(logs)

    def _callbacks(self, callbacks, samples, batch_size, verbose):
        """evaluate's and predict's CallbackList (a shared empty one when none are given)."""
        if not callbacks:
            return callbacks_module.NO_CALLBACKS
        params = {"epochs": 1, "steps": -(-samples // batch_size), "verbose": verbose}
        return callbacks_module.CallbackList(callbacks, self, params)

    def _evaluate_arrays(self, x, y, batch_size, w=None, cbs=callbacks_module.NO_CALLBACKS) -> dict:
        tracker = metrics_module.Mean("loss")
        self._reset_metrics()
        self.stop_evaluating = False
        listening = cbs.wants_batches("test")
        cbs.call("on_test_begin", {})
        with no_grad(), learning_phase(False), device.resident(self.weights):
            for step, start in enumerate(range(0, len(x), batch_size)):
                cbs.batch_begin("test", step)
                batch = slice(start, start + batch_size)
                xb, yb, wb = x[batch], y[batch], None if w is None else w[batch]
                y_pred = self(self._inputs(xb))
                tracker.update_state(float(self._total_loss(yb, y_pred, wb).data), len(xb))
                self._update_metrics(yb, y_pred.data, wb)
                if listening:
                    cbs.batch_end("test", step, self._logs(tracker.result()))
                if self.stop_evaluating:
                    break
        logs = self._logs(tracker.result())
        self._reset_metrics()  # leave the training metrics' state to fit
        cbs.call("on_test_end", logs)
        return logs

    def predict(self, x, batch_size=None, verbose=0, callbacks=None):
        """The model's outputs for x, as a new numpy array, computed in batches with no graph.

        Args:
            x: inputs (samples, features).
            batch_size: samples per step (default 32).
            verbose: accepted for Keras compatibility; predict prints nothing.
            callbacks: a list of Callback: their on_predict_begin, on_predict_batch_begin,
                on_predict_batch_end (with {"outputs": the batch's outputs}) and
                on_predict_end run, as in Keras; one may stop the prediction with
                `model.stop_predicting = True` (the outputs so far are returned).

        Returns:
            An array of one row per sample predicted; never x itself nor a view of it
            (a model of Dropout or Flatten alone changes nothing at inference).
        """
        batch_size = inputs.batch_size("predict", batch_size)
        x, _ = self._prepare("predict", x)
        cbs = self._callbacks(callbacks, len(x), batch_size, verbose)
        listening = cbs.wants_batches("predict")
        self.stop_predicting = False
        outputs = []
        cbs.call("on_predict_begin", {})
        with no_grad(), learning_phase(False), device.resident(self.weights):
            for step, start in enumerate(range(0, len(x), batch_size)):
                cbs.batch_begin("predict", step)
                outputs.append(self._predict_batch(x[start : start + batch_size]))
                if listening:
                    cbs.batch_end("predict", step, {"outputs": outputs[-1]})
                if self.stop_predicting:
                    break
        cbs.call("on_predict_end", {})
        if len(outputs) > 1:
            return np.concatenate(outputs, axis=0)
        return outputs[0].copy() if np.may_share_memory(outputs[0], x) else outputs[0]

    def _predict_batch(self, x) -> np.ndarray:
        """The model's outputs for one batch, as numpy (Sequential has a leaner path)."""
        return device.to_host(self(self._inputs(x)).data)

    def predict_on_batch(self, x):
        """predict for one batch."""
        return self.predict(x, batch_size=max(len(np.asarray(x)), 1))
