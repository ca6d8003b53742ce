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

from ..engine import device, distribution, step_buffers
from ..engine import random as dc_random
from ..engine.tensor import Tensor, no_grad
from ..kernels import Buffers
from . import callbacks as callbacks_module
from . import data, inputs, saving
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from .layers import Dropout, learning_phase
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


class _OpenProgbar(Progbar):
    """The progress bar of an epoch whose length only the data knows (a generator without
    steps_per_epoch): the steps so far are the target."""

    def update(self, step, logs, final=False):
        self.target = max(step, 1)
        super().update(step, logs, final)


def _unsupported(name, what, kind):
    """Keras's refusal of an argument that streamed data carries itself."""
    return ValueError(
        f"When providing `x` as a {kind}, `{name}` should not be passed. Instead, {what} should "
        f"be included as part of the {kind}."
    )


def _flat(logs: dict):
    """Keras's return form of logs: the loss alone, or [loss, *metrics]."""
    values = list(logs.values())
    return values[0] if len(values) == 1 else values


def _joined(batches, x) -> np.ndarray:
    """predict's outputs of the batches as one array: a copy, never a view of x (a model of
    Dropout or Flatten alone returns its input unchanged)."""
    if len(batches) > 1:
        return np.concatenate(batches, axis=0)
    if not batches:
        raise ValueError("predict: the data gave no batch to predict (an empty generator or PyDataset).")
    one = batches[0]
    given = x.arrays if isinstance(x, inputs.Arrays) else [x] if x is not None else []
    return one.copy() if any(np.may_share_memory(one, a) for a in given) else one


def _joined_outputs(outputs, x):
    """predict's batches of outputs joined: one array, or a list of one per output when the
    model has several (each batch then a list)."""
    if outputs and isinstance(outputs[0], list):
        return [_joined([batch[i] for batch in outputs], x) for i in range(len(outputs[0]))]
    return _joined(outputs, x)


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


class _LossTracker(metrics_module.Mean):
    """fit's "loss" metric (the first of `model.metrics`): a Mean that also takes the loss
    Tensor a train_step override computes (`metric.update_state(loss)`, as Keras's guide)."""

    def update_state(self, values, sample_weight=None):
        if isinstance(values, Tensor):
            values = device.to_host(values.data)
        super().update_state(values, sample_weight)


def _unpack(data):
    """(x, y, sample_weight) of a step's `data`: (x,), (x, y) or (x, y, sample_weight), as
    keras.utils.unpack_x_y_sample_weight; a bare x is (x, None, None)."""
    if isinstance(data, tuple) and 1 <= len(data) <= 3:
        return (*data, *(None,) * (3 - len(data)))
    if isinstance(data, tuple):
        raise ValueError(
            f"Data is expected to be in format `x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`; "
            f"received a tuple of {len(data)} elements."
        )
    return data, None, None


def _step_data(x, y, sample_weight):
    """The `data` fit and evaluate hand to train_step / test_step: (x, y), or (x, y,
    sample_weight) when the batch is weighted (sample_weight or class_weight), as Keras."""
    return (x, y) if sample_weight is None else (x, y, sample_weight)


def _number(value):
    """A log value as a Python float (a Tensor's or array's one number), else as it is."""
    if isinstance(value, Tensor):
        value = device.to_host(value.data)
    if np.ndim(value) == 0:
        try:
            return float(value)
        except (TypeError, ValueError):
            return value
    return value


def _step_logs(logs, where):
    """The dict a train_step / test_step override returned, its values as numbers."""
    if not isinstance(logs, dict):
        raise TypeError(
            f"{where} must return a dict of logs ({{name: value}}, e.g. "
            f"{{m.name: m.result() for m in self.metrics}}); received {type(logs).__name__}."
        )
    return {name: _number(value) for name, value in logs.items()}


def _saved(metric) -> dict:
    """A compiled metric as model.save writes it: its class and settings."""
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def checked_targets(where, y, x, loss, metrics, units, name="y"):
    """y (the targets of one output of `units` units) checked: an array of one row per
    sample of x that the loss and metrics take (they are tried once on the whole y)."""
    # targets may hold NaN or inf, as in Keras: the loss becomes NaN or inf and fit stops
    labels = isinstance(loss, losses_module.SparseCategoricalCrossentropy)
    y = inputs.checked_array(where, y, name, dtype=None if labels else np.float32, finite=False)
    if len(y) != len(x):
        raise ValueError(
            f"{where}: x and {name} must have the same number of samples; received "
            f"x {x.shape} and {name} {y.shape}."
        )
    # the loss's and metrics' own checks on the whole y, once (quietly: y may hold inf)
    with no_grad(), np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        fake = np.full((len(y), units), 0.5, np.float32)
        try:
            if loss is not None:
                loss(y, Tensor(fake))
        except (ValueError, TypeError) as exc:
            raise type(exc)(
                f"{where}: {name} does not fit the model's output (batch, {units}): {exc}"
            ) from None
        rows = np.arange(units + 1) % len(y)  # not `units` rows: (u, u) & (u,) would broadcast
        for metric in metrics:
            probe = copy.copy(metric)
            try:
                probe.update_state(y[rows], fake[rows])
            except (ValueError, TypeError, IndexError) as exc:
                raise ValueError(
                    f"{where}: metric '{metric.name}' does not fit {name} {y.shape} and "
                    f"outputs (batch, {units}): {exc}"
                ) from None
    return y


# ---- several outputs (Keras 3's CompileLoss and CompileMetrics) ------------------------------
def _part(values, i, names):
    """Output i's part of targets or outputs: Arrays, a list in output order, or a dict keyed
    by output name."""
    if isinstance(values, inputs.Arrays):
        return values.arrays[i]
    if isinstance(values, dict):
        return values[names[i]] if names[i] in values else list(values.values())[i]
    return values[i]


def _weight_of(sample_weight, i):
    """Output i's sample weights: its own (an Arrays of one per output) or the shared ones."""
    return sample_weight.arrays[i] if isinstance(sample_weight, inputs.Arrays) else sample_weight


class OutputLosses:
    """The compiled loss of a model with several outputs, as Keras 3's CompileLoss: the sum
    over the outputs that have a loss of `weight_i * loss_i(y_i, y_pred_i, sample_weight_i)`
    (no product where no weight was given; sample_weight_i output i's own weights when fit
    was given one per output, else the shared ones). Each output's unweighted loss is counted in its
    "<output>_loss" Mean (`trackers`, when more than one output has a loss), by batch size."""

    def __init__(self, names, losses, weights, trackers):
        self.names, self.losses, self.weights, self.trackers = names, losses, weights, trackers

    def __call__(self, y_true, y_pred, sample_weight=None):
        total = None
        for i, loss in enumerate(self.losses):
            if loss is None:
                continue
            yt, yp, w = (
                _part(y_true, i, self.names),
                _part(y_pred, i, self.names),
                _weight_of(sample_weight, i),
            )
            value = loss(yt, yp) if w is None else loss(yt, yp, sample_weight=w)
            if self.trackers[i] is not None:
                self.trackers[i].metric.update_state(float(device.to_host(value.data)), len(yt))
            if self.weights[i] is not None:
                value = value * self.weights[i]
            total = value if total is None else total + value
        return total

    def __repr__(self):
        return f"OutputLosses({dict(zip(self.names, self.losses))})"


class OutputMetric:
    """A compiled metric of one output of several, logged as "<output>_<metric>" (Keras 3):
    it counts output `index`'s targets and outputs. A per-output loss Mean (`fed=False`) is
    counted by OutputLosses, not here."""

    def __init__(self, metric, index, name, names, fed=True):
        self.__dict__.update(metric=metric, index=index, name=name, names=names, fed=fed)

    variable_names = property(lambda self: self.metric.variable_names)

    @property
    def _direction(self):
        return "down" if not self.fed else callbacks_module._metric_direction(self.metric)

    def __getattr__(self, key):  # the wrapped metric's state (BackupAndRestore reads it)
        metric = self.__dict__.get("metric")
        if metric is not None and key in metric.variable_names:
            return getattr(metric, key)
        raise AttributeError(key)

    def __setattr__(self, key, value):
        if key in self.metric.variable_names:
            setattr(self.metric, key, value)
        else:
            self.__dict__[key] = value

    def update_state(self, y_true, y_pred, sample_weight=None):
        if not self.fed:
            return
        yt, yp = _part(y_true, self.index, self.names), _part(y_pred, self.index, self.names)
        if sample_weight is None:
            self.metric.update_state(yt, yp)
        else:
            self.metric.update_state(yt, yp, sample_weight=_weight_of(sample_weight, self.index))

    def result(self):
        return self.metric.result()

    def reset_state(self):
        self.metric.reset_state()

    def __repr__(self):
        return f"<OutputMetric {self.name}>"


def _per_output(names, value, what, shared):
    """value as one entry per output: a dict keyed by output name (missing: None), a list of
    one per output, or (`shared(value)`) the same for every output."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(
                f"compile: {what} names {unknown}, which are not outputs of the model; its outputs "
                f"are {names}."
            )
        return [value.get(name) for name in names]
    if isinstance(value, (list, tuple)) and not shared(value):
        if len(value) != len(names):
            raise ValueError(
                f"compile: {what} holds {len(value)} entries for the model's {len(names)} outputs "
                f"{names}; give one per output, in order, or a dict keyed by output name."
            )
        return list(value)
    return [value] * len(names)


def compile_outputs(names, loss, loss_weights, metrics, weighted_metrics):
    """compile's arguments for a model whose outputs are `names`, as Keras 3's: loss (one for
    every output, a list or a dict), loss_weights (a list or dict of numbers), metrics and
    weighted_metrics (a list applied to every output, a list of lists, or a dict). Returns
    (the OutputLosses or None, the unweighted OutputMetrics (per-output loss Means first),
    the weighted ones, a config of it all)."""
    given = _per_output(names, loss, "loss", lambda v: False)
    losses = [None if v is None else losses_module.get(v) for v in given]
    weights = _per_output(names, loss_weights, "loss_weights", lambda v: False)
    for name, weight in zip(names, weights):
        number = isinstance(weight, (int, float, np.number)) and not isinstance(weight, bool)
        if weight is not None and not number:
            raise ValueError(
                f"compile: loss_weights of output '{name}' must be a number; received {weight!r}."
            )
    weights = [None if w is None else float(w) for w in weights]
    several = sum(v is not None for v in losses) > 1
    trackers = [
        OutputMetric(metrics_module.Mean(f"{n}_loss"), i, f"{n}_loss", names, fed=False)
        if several and losses[i] is not None
        else None
        for i, n in enumerate(names)
    ]

    def lists(value):
        return all(isinstance(v, (list, tuple)) or v is None for v in value)

    unweighted, weighted = [t for t in trackers if t is not None], []
    for kind, given in (("metrics", metrics), ("weighted_metrics", weighted_metrics)):
        entries = _per_output(names, given, kind, lambda v: not lists(v))
        for i, (name, entry) in enumerate(zip(names, entries)):
            taken = {m.name for m in unweighted if m.index == i and m.fed}
            for identifier in _as_list(entry):
                metric = copy.deepcopy(metrics_module.get(identifier, losses[i]))
                if kind == "weighted_metrics":
                    if "sample_weight" not in inputs.parameters(metric.update_state):
                        raise TypeError(
                            f"compile: weighted metric '{metric.name}' has an update_state without "
                            f"sample_weight; give it update_state(y_true, y_pred, sample_weight=None)."
                        )
                    metric.reset_state()
                short = f"weighted_{metric.name}" if metric.name in taken else metric.name
                (weighted if kind == "weighted_metrics" else unweighted).append(
                    OutputMetric(metric, i, f"{name}_{short}", names)
                )
    _check_log_names(unweighted + weighted)
    config = {  # what model.save writes of it (densecore.nn.saving)
        "outputs": list(names),
        # (a callable loss without settings: None, and model.save says the file leaves it out)
        "losses": [losses_module.serialize(v) if isinstance(v, losses_module.Loss) else None for v in losses],
        "loss_weights": weights,
        "metrics": [
            [_saved(m.metric) for m in unweighted if m.fed and m.index == i] for i in range(len(names))
        ],
        "weighted_metrics": [[_saved(m.metric) for m in weighted if m.index == i] for i in range(len(names))],
    }
    if all(v is None for v in losses):
        return None, unweighted, weighted, config
    return OutputLosses(names, losses, weights, trackers), unweighted, weighted, config


class Trainer:
    """The training half of Model (see training.py's docstring for the step)."""

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None, **kwargs):
        """Set the optimizer, loss and metrics for fit and evaluate.

        Args:
            optimizer: a name ("sgd", "adam", "adamw", "rmsprop") or an Optimizer; default
                "rmsprop", as Keras. None (a model only evaluated) makes fit and
                train_on_batch raise a ValueError naming the model.
            loss: a name ("binary_crossentropy", "sparse_categorical_crossentropy", "mse",
                ...), a Loss, or a callable `(y_true, y_pred) -> scalar Tensor`; or None
                (Keras's default): fit then minimises the losses the model adds itself
                (`add_loss`, regularizers) alone, and raises a ValueError at the first
                step if there are none ("No loss to compute"), unless a train_step
                override computes its own.
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
        optimizer = optimizers_module.get(optimizer)
        # a name, a Loss, a densecore loss function or any callable; None: the model's own
        # losses (add_loss, regularizers) alone, or a train_step override that needs none
        loss = None if loss is None else losses_module.get(loss)
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

    def _require_optimizer(self, where):
        """Training needs an optimizer: a ValueError naming the model, before any work, when
        it was compiled with optimizer=None (Keras's compile takes None; its fit then fails)."""
        if getattr(self, "optimizer", None) is None:
            raise ValueError(
                f"{where}: model '{self.name}' has no optimizer to train with (it was compiled with "
                f"optimizer=None); compile it with one, e.g. model.compile(optimizer='adam', ...)."
            )

    # ---- data checks -------------------------------------------------------------------
    def _prepare(self, where, x, y=None):
        """Validate x (and y) and return them as the arrays the steps use."""
        x = inputs.checked_array(where, x, dtype=np.float32)
        self._ensure_built(where, x)
        device.check_model(self, where, loss=where != "predict")
        if y is None:
            if not where.startswith("predict") and (self.loss is not None or self.compiled_metrics):
                raise ValueError(
                    f"{where}: y is required: model '{self.name}' was compiled with a loss or "
                    f"metrics, which compare y with the outputs (without y, compile no loss and "
                    f"let the model's add_loss losses be minimised)."
                )
            return x, None
        y = checked_targets(where, y, x, self.loss, self.compiled_metrics, self.output_shape[-1])
        return x, y

    def _weights_for(self, where, y, sample_weight=None, class_weight=None):
        if y is None and (sample_weight is not None or class_weight is not None):
            raise ValueError(f"{where}: sample_weight and class_weight weight the targets: give y too.")
        return inputs.sample_weights(where, y, self.loss, sample_weight, class_weight)

    def _compiled_loss(self, y_true, y_pred, sample_weight=None):
        """The compiled loss of the batch (a scalar Tensor), or None when compile had none."""
        if self.loss is None:
            return None
        if sample_weight is None:
            return self.loss(y_true, y_pred)
        return self.loss(y_true, y_pred, sample_weight=sample_weight)

    def _ensure_built(self, where, x):
        if not self.built:
            self.build((None, *x.shape[1:]))
        expected = self.input_shape[1:]
        if tuple(x.shape[1:]) != tuple(expected):
            raise ValueError(
                f"{where}: the model was built for inputs of shape (batch, "
                f"{', '.join(map(str, expected))}); received x of shape {x.shape}."
            )

    def _streamed(self, where, x, y, sample_weight, class_weight, steps, shuffle=False, targets=True):
        """The adapter (data.py) of a generator, iterator or PyDataset x; its first batch is
        read now, checked and builds the model, before any work."""
        kind = "PyDataset" if isinstance(x, data.PyDataset) else "generator"
        if y is not None:
            raise _unsupported("y", "the targets", kind)
        if sample_weight is not None:
            raise _unsupported("sample_weight", "the sample weights", kind)
        if class_weight is not None and kind == "generator":
            raise ValueError(
                f"Argument `class_weight` is not supported for Python generator inputs. "
                f"Received: class_weight={class_weight}"
            )
        check = self._batch_check(targets)
        if kind == "PyDataset":
            return data.PyDatasetBatches(where, x, steps, shuffle, check, class_weight, targets)
        return data.GeneratorBatches(where, x, steps, check, targets)

    def _batch_check(self, targets):
        """check(where, batch) for streamed batches: the first is checked as arrays are
        (_prepare: the loss and metrics against y too); the others' arrays, shapes and
        dtypes as that first one's. `where` names the batch."""
        first = []

        def check(where, batch):
            if not targets:
                x = inputs.checked_array(where, batch[0], dtype=np.float32)
                if first:
                    self._ensure_built(where, x)
                else:
                    x, _ = self._prepare(where, x)
                    first.append(True)
                return (x,)
            if not first:
                x, y = self._prepare(where, batch[0], batch[1])
                first.append(y.shape[1:])
            else:
                x = inputs.checked_array(where, batch[0], dtype=np.float32)
                self._ensure_built(where, x)
                labels = isinstance(self.loss, losses_module.SparseCategoricalCrossentropy)
                y = inputs.checked_array(
                    where, batch[1], "y", dtype=None if labels else np.float32, finite=False
                )
                if len(y) != len(x) or y.shape[1:] != first[0]:
                    raise ValueError(
                        f"{where}: y must be one target per sample of x, shaped as the first batch's "
                        f"(batch, {', '.join(map(str, first[0]))}); received x {x.shape} and y {y.shape}."
                    )
            return x, y, self._weights_for(where, y, batch[2])

        return check

    # ---- the overridable steps (Keras 3's Trainer) ---------------------------------------
    @property
    def metrics(self) -> list:
        """The metrics fit and evaluate log, as Keras's: the loss tracker ("loss", a Mean of
        the batch losses), then the compiled metrics; empty before compile. fit and
        evaluate reset them (`reset_state`) at the start of each epoch and evaluation.
        A subclass may return its own list (Keras's "customizing fit" guide does)."""
        if not getattr(self, "compiled", False):
            return []
        return [self._tracker(), *self.compiled_metrics]

    @property
    def metrics_names(self) -> list:
        """The names of `metrics`."""
        return [m.name for m in self.metrics]

    def reset_metrics(self) -> None:
        """Reset every metric of `metrics` (as Keras's)."""
        for metric in self.metrics:
            metric.reset_state()

    def _tracker(self):
        return self.__dict__.setdefault("_loss_tracker", _LossTracker("loss"))

    @property
    def compiled_loss(self):
        """The compiled loss as a callable `(y, y_pred, sample_weight=None) -> scalar Tensor`
        (None when compile had no loss), as Keras's `compiled_loss`."""
        return None if getattr(self, "loss", None) is None else self._compiled_loss

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The total loss of a batch, as a scalar Tensor to call `backward()` on: the
        compiled loss of (y, y_pred) weighted by `sample_weight` (when compile had a loss),
        plus the model's `losses` (those `add_loss` added during the last forward pass, and
        the weights' regularizer penalties). As Keras's, `x` and `training` are not used
        by this default; override it to compute another loss.

        Raises:
            ValueError: when there is no loss at all (none compiled, none added).
        """
        del x, training
        return self._total_loss(y, y_pred, sample_weight)

    def _overrides(self, name) -> bool:
        """Whether the model's class overrides the step `name` (train_step, ...)."""
        return getattr(type(self), name) is not getattr(Trainer, name)

    def train_step(self, data) -> dict:
        """One training step of fit (and train_on_batch); override it to change what fit
        does, as Keras's `Model.train_step`.

        Args:
            data: the batch: `(x, y)`, or `(x, y, sample_weight)` when fit weights the
                samples (sample_weight or class_weight). x and y are numpy arrays (y may be
                None for a model trained on its add_loss losses alone).

        Returns:
            A dict of logs, `{name: value}`, shown in the progress bar and handed to the
            callbacks; the last step's dict is the epoch's logs. The metrics are counted
            over the epoch, so return their running values:
            `{m.name: m.result() for m in self.metrics}`.

        An override computes the forward pass and the loss as a densecore Tensor, and
        updates the weights with the engine's autograd and the optimizer::

            def train_step(self, data):
                x, y = data[:2]
                y_pred = self(x, training=True)
                loss = self.compute_loss(x, y, y_pred)   # compiled loss + self.losses
                for w in self.trainable_weights:
                    w.zero_grad()
                loss.backward()
                self.optimizer.apply([w.grad for w in self.trainable_weights],
                                     self.trainable_weights)
                for metric in self.metrics:
                    if metric.name == "loss":
                        metric.update_state(loss)
                    else:
                        metric.update_state(y, y_pred)
                return {m.name: m.result() for m in self.metrics}

        (`self.optimizer.apply(self.trainable_weights)`, densecore's form, reads each
        weight's `.grad` and clears it.) This default is fit's built-in step: the loss's
        batch mean counted in the "loss" tracker by batch size; it skips the update when
        the loss is not finite (fit then stops with a warning).
        """
        x, y, sample_weight = _unpack(data)
        x = np.asarray(x, np.float32) if not isinstance(x, (np.ndarray, Tensor)) else x
        value = self._train_step(x, y, self.trainable_weights, sample_weight)
        self._tracker().update_state(value, len(x))
        return self._logs(self._tracker().result())

    def test_step(self, data) -> dict:
        """One step of evaluate (and of fit's validation); override it as Keras's
        `Model.test_step`.

        Args:
            data: the batch, `(x, y)` or `(x, y, sample_weight)`, as train_step's. It runs
                without a graph (no_grad) and in inference mode.

        Returns:
            A dict of logs, `{m.name: m.result() for m in self.metrics}`; the last step's
            dict is what evaluate returns. The default counts the loss
            (`self.compute_loss`) in the "loss" tracker by batch size, and updates the
            compiled metrics.
        """
        x, y, sample_weight = _unpack(data)
        with no_grad(), learning_phase(False):
            y_pred = self(self._inputs(np.asarray(x, np.float32)) if not isinstance(x, Tensor) else x)
            loss = self.compute_loss(x, y, y_pred, sample_weight, training=False)
        self._tracker().update_state(float(device.to_host(loss.data)), len(x))
        self._update_metrics(y, y_pred.data, sample_weight)
        return self._logs(self._tracker().result())

    def predict_step(self, data):
        """One step of predict; override it as Keras's `Model.predict_step`.

        Args:
            data: the batch, `(x,)` (unpack it: `x = data[0]`). It runs without a graph
                (no_grad) and in inference mode.

        Returns:
            The batch's outputs: a Tensor or numpy array with one row per sample; predict
            concatenates them. The default is `self(x, training=False)`.
        """
        x, _, _ = _unpack(data)
        return self(x, training=False)

    # ---- steps -------------------------------------------------------------------------
    def _total_loss(self, y_true, y_pred, sample_weight=None, share=None):
        """The batch's loss, the losses added in `call` (activity penalties, add_loss) and the
        weights' penalties. `share` = (n_r / N, 1 / R) on rank r of a distributed fit: the
        first two, means over this rank's n_r samples, count n_r/N of the global batch of
        N; the penalties, the same on every rank, 1/R (distribution.py says why)."""
        loss = self._compiled_loss(y_true, y_pred, sample_weight)  # None without one
        if share is None:
            for penalty in self.regularization_losses():
                loss = penalty if loss is None else loss + penalty
            return self._some_loss(loss)
        data_share, penalty_share = share
        # (Layer.losses's two parts: those added during this forward pass, the penalties)
        for added in self._losses + [added for layer in self.iter_layers() for added in layer._losses]:
            loss = added if loss is None else loss + added
        if loss is not None:
            loss = loss * data_share
        for penalty in self._weight_penalties():
            loss = penalty * penalty_share if loss is None else loss + penalty * penalty_share
        return self._some_loss(loss)

    def _some_loss(self, loss):
        """Keras's refusal when there is nothing to minimise: no compiled loss, no added one."""
        if loss is None:
            raise ValueError(
                f"No loss to compute for model '{self.name}': it was compiled without a loss and "
                f"adds none itself (add_loss, regularizers). Provide a `loss` argument in `compile()`."
            )
        return loss

    def train_on_batch(self, x, y, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch, as Keras's: the loss (before the step), or
        `[loss, *metrics]` on this batch alone when metrics were compiled, or a dict with
        return_dict=True. Weights as in fit."""
        where = "train_on_batch"
        self._require_compiled(where)
        self._require_optimizer(where)
        self._require_trainable(where)
        x, y = self._prepare(where, x, y)
        w = self._weights_for(where, y, sample_weight, class_weight)
        self._reset_metrics()
        with device.resident(self.weights, self.optimizer):
            if self._overrides("train_step"):
                self.reset_metrics()
                logs = _step_logs(self.train_step(_step_data(x, y, w)), "train_step")
                self.reset_metrics()
                return logs if return_dict else _flat(logs)
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
        if self.__dict__.get("_parallel") is not None:  # within a distributed fit
            return self._parallel_step(x, y, params, sample_weight)
        with step_buffers.reusing(self._step_buffers_for(x)), learning_phase(True):
            y_pred = self(self._inputs(x))
            if self._overrides("compute_loss"):
                loss = self.compute_loss(x, y, y_pred, sample_weight)
            else:
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
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
    ):
        """Train for `epochs` passes over (x, y), as keras.Model.fit.

        Args:
            x: inputs (samples, features); or data read batch by batch (data.py): a Python
                generator or iterator of `(x, y)` or `(x, y, sample_weight)` batches, or a
                `dc.utils.PyDataset`. Each batch is checked as arrays are, its errors
                naming the batch. y, sample_weight and validation_split then do not apply
                (ValueError); shuffle reorders a PyDataset's batches, not a generator's.
            y: targets.
            batch_size: samples per step (default 32); streamed data brings its own batches.
            epochs: the index of the last epoch (training starts at initial_epoch).
            verbose: 0 silent, 1 progress bar, 2 one line per epoch.
            callbacks: a list of Callback.
            validation_split: the last fraction of x and y, taken before shuffling, held out.
            validation_data: (x_val, y_val) or (x_val, y_val, sample_weight_val), or a
                generator or PyDataset of such batches, evaluated after each epoch.
            shuffle: reshuffle the samples each epoch (with densecore's seeded stream).
            class_weight: {class: weight}: each sample's loss counts its class's weight
                (1 for classes not named), to make up for classes seen less often.
            sample_weight: one weight per sample (N,); for a model of several outputs, one
                such array shared by all, or one per output in the structure of y (a list,
                or a dict keyed by output name; None leaves an output unweighted). Either
                weighting gives, as Keras's
                default reduction, the batch loss Σ_n w_n loss_n / batch size; of the
                metrics, only compile's `weighted_metrics` see the weights. Validation
                data is weighted by its own weights (validation_split's share of
                sample_weight, or validation_data's third element), never by class_weight.
            initial_epoch: the epoch to start from (to resume training).
            steps_per_epoch: for streamed data, the batches of an epoch; each epoch reads on
                from where the last left off (Keras's rule). None: a PyDataset's len, or a
                generator read until it runs dry (then fit stops after that epoch). A
                generator that runs dry before steps_per_epoch ends the epoch and the
                training with Keras's warning. Arrays: None only.
            validation_steps: the batches of each validation when validation_data is
                streamed (None: all of a PyDataset; a generator until it runs dry, which
                can happen once only).
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
        self._require_optimizer(where)
        self._require_trainable(where)
        batch_size = inputs.batch_size(where, batch_size)
        if not 0 <= validation_split < 1:
            raise ValueError(f"fit: validation_split must be in [0, 1); received {validation_split!r}.")
        if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative integer; received {epochs!r}.")
        steps_per_epoch = data.steps(where, "steps_per_epoch", steps_per_epoch)
        validation_steps = data.steps(where, "validation_steps", validation_steps)
        validation_batch_size = inputs.batch_size(
            where, batch_size if validation_batch_size is None else validation_batch_size
        )
        validates = inputs.validation_epochs(where, validation_freq)
        if data.is_streamed(x):
            if validation_split:
                raise ValueError(
                    "fit: `validation_split` is only supported for NumPy arrays, not for streamed x."
                )
            batches = self._streamed(where, x, y, sample_weight, class_weight, steps_per_epoch, shuffle)
            validation = self._fit_validation(validation_data, validation_steps)
        else:
            if steps_per_epoch is not None:
                raise ValueError(
                    f"fit: steps_per_epoch={steps_per_epoch} applies to a generator or PyDataset; "
                    f"with arrays an epoch is one pass of ceil(samples / batch_size) steps."
                )
            streamed = data.is_streamed(validation_data)
            train, validation = self._fit_data(
                where,
                x,
                y,
                sample_weight,
                class_weight,
                validation_split,
                None if streamed else validation_data,
            )
            if streamed:
                validation = self._fit_validation(validation_data, validation_steps)
            buffers = self.__dict__.setdefault("_fit_buffers", Buffers())
            batches = inputs.ArrayBatches(*train, batch_size=batch_size, shuffle=shuffle, buffers=buffers)
        try:
            return self._fit_epochs(
                batches,
                validation,
                validates,
                validation_batch_size,
                epochs,
                initial_epoch,
                verbose,
                callbacks,
            )
        finally:
            batches.close()
            if validation is not None and hasattr(validation, "close"):
                validation.close()
            self.__dict__.pop("_fit_batches", None)
            self.__dict__.pop("_resume", None)

    def _fit_validation(self, validation_data, validation_steps):
        """A streamed validation_data's adapter (None when there is none)."""
        if validation_data is None:
            return None
        if not data.is_streamed(validation_data):
            raise ValueError(
                "fit: with streamed x, validation_data must be a generator or PyDataset too (or "
                "arrays passed with arrays x)."
            )
        return self._streamed("fit (validation_data)", validation_data, None, None, None, validation_steps)

    def _fit_epochs(
        self, batches, validation, validates, validation_batch_size, epochs, initial_epoch, verbose, callbacks
    ):
        """fit's epochs over an adapter (inputs.ArrayBatches or data.py's); resumes where a
        BackupAndRestore callback's backup says, when one is restored at on_train_begin."""
        history = callbacks_module.History()
        params = {"epochs": epochs, "steps": batches.steps, "verbose": verbose}
        cbs = callbacks_module.CallbackList(callbacks, self, params, history)
        cbs.call("_fit_will_log", self._log_names(validates=validation is not None))
        self.stop_training = False
        self._fit_batches = batches  # where BackupAndRestore reads the position in the data
        logs = {}
        parallel = self._distributed_fit(batches, validation, epochs, initial_epoch)
        with parallel, _deferred_interrupts() as interrupt:
            cbs.call("on_train_begin", {})
            resume = self.__dict__.pop("_resume", None)
            if resume is not None:
                initial_epoch = resume["epoch"]
            for epoch in range(initial_epoch, epochs):
                cbs.call("on_epoch_begin", epoch, {})
                steps = batches.steps
                bar = self._epoch_bar(epoch, epochs, steps, verbose)
                iterator = self._epoch_batches(batches, resume)
                with device.resident(self.weights, self.optimizer):  # one copy each way per epoch
                    with contextlib.closing(iterator):
                        logs, ran = self._train_epoch(epoch, iterator, cbs, bar, interrupt, resume)
                    resume = None
                    if batches.ran_dry and ran == 0:
                        warnings.warn(data.RAN_DRY, stacklevel=3)
                        break  # nothing was read: no epoch to log
                    if validation is not None and validates(epoch + 1):
                        logs.update(self._validation_logs(validation, validation_batch_size, cbs))
                if bar is not None:
                    bar.update(steps or ran, logs, final=True)
                cbs.call("on_epoch_end", epoch, logs)
                if batches.ran_dry and (batches.steps_per_epoch is not None or epoch + 1 < epochs):
                    warnings.warn(data.RAN_DRY, stacklevel=3)
                    self.stop_training = True
                if self.stop_training:
                    break
            cbs.call("on_train_end", logs)
        return history

    @staticmethod
    def _epoch_batches(batches, resume):
        """The epoch's iterator: from the start, or from where a restored backup says (the
        epoch's order drawn from the random state it was drawn from, then the stream put
        where it was at the backup)."""
        if resume is None:
            return batches.epoch()
        position = resume["data"]
        if position is None:
            dc_random.set_state(resume["rng"])
            return batches.epoch(resume["step"])
        if position["rng"] is not None:
            dc_random.set_state(position["rng"])
        iterator = batches.epoch(resume["step"], position["at"])
        dc_random.set_state(resume["rng"])
        return iterator

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
        if not verbose or not distribution.is_chief():  # (a distributed fit's bar: rank 0's)
            return None
        print(f"Epoch {epoch + 1}/{epochs}", file=sys.stdout)
        return Progbar(steps, verbose) if steps else _OpenProgbar(1, verbose)

    def _train_epoch(self, epoch, iterator, cbs, bar, interrupt, resume=None):
        """One pass of training steps over the epoch's batches: (the epoch's logs, the
        steps run). A non-finite loss is counted (the epoch's loss becomes nan or inf, as
        Keras logs it) and stops training (no update from that step) with a warning naming
        where. `resume`: a restored backup's step and the epoch's loss and metrics so far."""
        tracker = self._tracker()
        tracker.reset_state()
        self._reset_metrics()
        start = 0
        if resume is not None:
            start = resume["step"]
            self._restore_progress(resume.get("progress"))
        if self._overrides("train_step"):
            return self._train_epoch_overridden(epoch, iterator, cbs, bar, interrupt, start)
        trainable = self.trainable_weights
        listening = bar is not None or cbs.wants_batches("train")
        step = start - 1
        for step, (xb, yb, wb) in enumerate(iterator, start):
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
        return self._logs(tracker.result()), step + 1 - start

    def _train_epoch_overridden(self, epoch, iterator, cbs, bar, interrupt, start):
        """_train_epoch with the model's own train_step: its logs are the batch's and the
        last are the epoch's (Keras); `self.metrics` reset first."""
        self.reset_metrics()
        logs, step = {}, start - 1
        for step, (xb, yb, wb) in enumerate(iterator, start):
            if interrupt:
                raise KeyboardInterrupt(
                    f"fit interrupted before epoch {epoch + 1}, step {step + 1}; the weights "
                    f"are those of the last step"
                )
            cbs.batch_begin("train", step)
            logs = _step_logs(self.train_step(_step_data(xb, yb, wb)), f"{type(self).__name__}.train_step")
            cbs.batch_end("train", step, logs)
            if bar is not None:
                bar.update(step + 1, logs)
            if self.stop_training:
                break
        return dict(logs), step + 1 - start

    # ---- what BackupAndRestore saves and restores (callbacks.py) ---------------------------
    def _training_state(self, step=None) -> dict:
        """fit's state beside the weights, as JSON data: the random streams (densecore's and
        any layer's own), the position in the data, the learning rate and, within an epoch
        (`step` steps done), the epoch's loss and metrics so far."""
        layer_rngs = [
            [i, layer._rng.bit_generator.state]
            for i, layer in enumerate(self.iter_layers())
            if isinstance(getattr(layer, "_rng", None), np.random.Generator)
        ]
        batches = self.__dict__.get("_fit_batches")
        lr = self.optimizer.learning_rate
        state = {
            "rng": dc_random.get_state(),
            "layer_rngs": layer_rngs,
            "data": None if batches is None else batches.position(step),
            "learning_rate": float(lr) if isinstance(lr, (int, float)) else None,
            "progress": None,
        }
        if step is not None:
            tracker = self.__dict__.get("_loss_tracker")
            state["progress"] = {
                "loss": None if tracker is None else [tracker.total, tracker.count],
                "metrics": [
                    {name: np.asarray(getattr(m, name)).tolist() for name in m.variable_names}
                    for m in self.compiled_metrics
                ],
            }
        return state

    def _restore_training_state(self, state) -> None:
        """Put back what _training_state saved (the data position and the epoch's progress
        are fit's to use, from `self._resume`)."""
        layers = list(self.iter_layers())
        for i, rng_state in state["layer_rngs"]:
            layers[i]._rng.bit_generator.state = rng_state
        if state["learning_rate"] is not None and not callable(self.optimizer.learning_rate):
            self.optimizer.learning_rate = state["learning_rate"]
        self._resume = state

    def _restore_progress(self, progress) -> None:
        """The epoch's loss and metrics so far, from a backup taken within the epoch."""
        if not progress:
            return
        if progress["loss"] is not None:
            self._loss_tracker.total, self._loss_tracker.count = progress["loss"]
        for metric, values in zip(self.compiled_metrics, progress["metrics"]):
            for name, value in values.items():
                old = getattr(metric, name)
                setattr(
                    metric,
                    name,
                    value
                    if np.ndim(old) == 0 and not isinstance(old, np.ndarray)
                    else np.asarray(value, np.asarray(old).dtype),
                )

    def _write_backup(self, filepath, state) -> None:
        """BackupAndRestore's file: weights, optimizer state and `state`, atomically."""
        saving.save_backup(self, filepath, state)

    def _read_backup(self, filepath) -> dict:
        """Restore the weights and optimizer state of a backup; its `state`."""
        return saving.load_backup(self, filepath)

    def _log_names(self, validates) -> list:
        """The names in each epoch's logs: the loss, the metrics and, when fit validates,
        their "val_" forms (callbacks may add their own, e.g. "learning_rate")."""
        if self._overrides("train_step") or self._overrides("test_step"):
            names = [metric.name for metric in self.metrics]
        else:
            names = ["loss", *(metric.name for metric in self.compiled_metrics)]
        return names + [f"val_{name}" for name in names] if validates else names

    def _validation_logs(self, validation, batch_size, cbs) -> dict:
        """The validation data's loss and metrics, named "val_<name>" (the callbacks' test
        hooks run around it, as in Keras)."""
        if isinstance(validation, tuple):
            x_val, y_val, w_val = validation
            logs = self._evaluate_arrays(x_val, y_val, batch_size, w_val, cbs)
        else:
            with contextlib.closing(validation.epoch()) as iterator:
                logs, ran = self._evaluate_batches(iterator, cbs)
            if ran == 0:
                raise ValueError(
                    "fit: validation_data, a generator, has run dry: it was read to its end by an "
                    "earlier validation. Pass validation_steps, and a generator that yields "
                    "validation_steps batches for each validation (e.g. an endless one)."
                )
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
        steps=None,
    ):
        """The loss (and metrics) on (x, y), without training.

        Args:
            x: inputs (samples, features), or a generator or PyDataset of `(x, y)` or
                `(x, y, sample_weight)` batches (as fit's).
            y: targets.
            batch_size: samples per step (default 32).
            verbose: 1 prints the logs.
            sample_weight: one weight per sample (N,), or one per output: as in fit.
            return_dict: return {name: value} rather than a float or a list.
            callbacks: a list of Callback: their on_test_begin, on_test_batch_begin,
                on_test_batch_end (with the loss and metrics so far) and on_test_end run,
                as in Keras; one may stop the evaluation with `model.stop_evaluating = True`.
            steps: for a generator or PyDataset, the batches to evaluate (None: all of a
                PyDataset, a generator until it runs dry).

        Returns:
            The loss as a float; `[loss, *metrics]` when metrics were compiled; or a dict
            with return_dict=True.
        """
        self._require_compiled("evaluate")
        batch_size = inputs.batch_size("evaluate", batch_size)
        steps = data.steps("evaluate", "steps", steps)
        if data.is_streamed(x):
            batches = self._streamed("evaluate", x, y, sample_weight, None, steps)
            cbs = self._callbacks(callbacks, batches.steps, 1, verbose)
            try:
                with contextlib.closing(batches.epoch()) as iterator:
                    logs, _ = self._evaluate_batches(iterator, cbs)
            finally:
                batches.close()
        else:
            x, y = self._prepare("evaluate", x, y)
            w = self._weights_for("evaluate", y, sample_weight)
            cbs = self._callbacks(callbacks, len(x), batch_size, verbose)
            logs = self._evaluate_arrays(x, y, batch_size, w, cbs)
        if verbose and distribution.is_chief():
            print(format_logs(logs))
        return logs if return_dict else _flat(logs)

    def _callbacks(self, callbacks, samples, batch_size, verbose):
        """evaluate's and predict's CallbackList (a shared empty one when none are given)."""
        if not callbacks:
            return callbacks_module.NO_CALLBACKS
        steps = None if samples is None else -(-samples // batch_size)
        params = {"epochs": 1, "steps": steps, "verbose": verbose}
        return callbacks_module.CallbackList(callbacks, self, params)

    def _evaluate_arrays(self, x, y, batch_size, w=None, cbs=callbacks_module.NO_CALLBACKS) -> dict:
        if distribution.active():  # each rank its share, the sums added over the ranks
            self._refuse_overridden_steps("evaluate")
            return self._evaluate_shard(x, y, batch_size, w, cbs)
        batches = (
            (
                x[start : start + batch_size],
                None if y is None else y[start : start + batch_size],
                None if w is None else w[start : start + batch_size],
            )
            for start in range(0, len(x), batch_size)
        )
        return self._evaluate_batches(batches, cbs)[0]

    def _evaluate_batches(self, batches, cbs=callbacks_module.NO_CALLBACKS):
        """(The loss and metrics over the (x, y, sample_weight) batches, the batches read)."""
        if self._overrides("test_step"):
            return self._evaluate_overridden(batches, cbs)
        tracker = metrics_module.Mean("loss")
        self._reset_metrics()
        self.stop_evaluating = False
        listening = cbs.wants_batches("test")
        cbs.call("on_test_begin", {})
        step = -1
        with no_grad(), learning_phase(False), device.resident(self.weights):
            for step, (xb, yb, wb) in enumerate(batches):
                cbs.batch_begin("test", step)
                y_pred = self(self._inputs(xb))
                if self._overrides("compute_loss"):
                    loss = self.compute_loss(xb, yb, y_pred, wb, training=False)
                else:
                    loss = self._total_loss(yb, y_pred, wb)
                tracker.update_state(float(loss.data), len(xb))
                self._update_metrics(yb, y_pred.data, wb)
                if listening:
                    cbs.batch_end("test", step, self._logs(tracker.result()))
                if self.stop_evaluating:
                    break
        logs = self._logs(tracker.result())
        self._reset_metrics()  # leave the training metrics' state to fit
        cbs.call("on_test_end", logs)
        return logs, step + 1

    def _evaluate_overridden(self, batches, cbs):
        """_evaluate_batches with the model's own test_step: the last step's logs."""
        self.reset_metrics()
        self.stop_evaluating = False
        cbs.call("on_test_begin", {})
        logs, step = {}, -1
        with no_grad(), learning_phase(False), device.resident(self.weights):
            for step, (xb, yb, wb) in enumerate(batches):
                cbs.batch_begin("test", step)
                logs = _step_logs(self.test_step(_step_data(xb, yb, wb)), f"{type(self).__name__}.test_step")
                cbs.batch_end("test", step, logs)
                if self.stop_evaluating:
                    break
        logs = dict(logs)
        self.reset_metrics()
        cbs.call("on_test_end", logs)
        return logs, step + 1

    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """The model's outputs for x, as a new numpy array, computed in batches with no graph.

        Args:
            x: inputs (samples, features), or a generator or PyDataset of batches `x` or
                `(x,)` (or `(x, y, ...)`: y is ignored, as Keras).
            batch_size: samples per step (default 32).
            verbose: accepted for Keras compatibility; predict prints nothing.
            steps: for a generator or PyDataset, the batches to predict (None: all of a
                PyDataset, a generator until it runs dry).
            callbacks: a list of Callback: their on_predict_begin, on_predict_batch_begin,
                on_predict_batch_end (with {"outputs": the batch's outputs}) and
                on_predict_end run, as in Keras; one may stop the prediction with
                `model.stop_predicting = True` (the outputs so far are returned).

        Returns:
            An array of one row per sample predicted; never x itself nor a view of it
            (a model of Dropout or Flatten alone changes nothing at inference).
        """
        batch_size = inputs.batch_size("predict", batch_size)
        steps = data.steps("predict", "steps", steps)
        if data.is_streamed(x):
            batches = self._streamed("predict", x, None, None, None, steps, targets=False)
            try:
                with contextlib.closing(batches.epoch()) as iterator:
                    cbs = self._callbacks(callbacks, batches.steps, 1, verbose)
                    return self._predict_batches((xb for (xb,) in iterator), cbs, None)
            finally:
                batches.close()
        x, _ = self._prepare("predict", x)
        if distribution.active():  # each rank its share, gathered in order on every rank
            return self._predict_shard(x, batch_size, verbose, callbacks)
        if not callbacks and len(x) <= batch_size and not self._overrides("predict_step"):
            # one batch, nobody listening (a sample served, predict_on_batch): the step alone
            self.stop_predicting = False
            with no_grad(), learning_phase(False), self._resident():
                return _joined_outputs([self._predict_batch(x)], x)
        cbs = self._callbacks(callbacks, len(x), batch_size, verbose)
        return self._predict_batches(
            (x[start : start + batch_size] for start in range(0, len(x), batch_size)), cbs, x
        )

    def _resident(self):
        """The weights kept on the device for a block of inference steps (with the cuda
        backend; nothing to do, and no weight list made, otherwise)."""
        return device.resident(self.weights) if device.on_gpu() else contextlib.nullcontext()

    def _predict_batches(self, batches, cbs, x):
        """The outputs for the input batches, concatenated (a copy, never a view of x)."""
        listening = cbs.wants_batches("predict")
        plain = not self._overrides("predict_step")
        self.stop_predicting = False
        outputs = []
        cbs.call("on_predict_begin", {})
        with no_grad(), learning_phase(False), self._resident():
            for step, xb in enumerate(batches):
                cbs.batch_begin("predict", step)
                outputs.append(self._predict_batch(xb) if plain else self._predict_overridden(xb))
                if listening:
                    cbs.batch_end("predict", step, {"outputs": outputs[-1]})
                if self.stop_predicting:
                    break
        cbs.call("on_predict_end", {})
        return _joined_outputs(outputs, x)

    def _predict_batch(self, x) -> np.ndarray:
        """The model's outputs for one batch, as numpy (Sequential has a leaner path)."""
        return device.to_host(self(self._inputs(x)).data)

    def _predict_overridden(self, x) -> np.ndarray:
        """The outputs of the model's own predict_step for one batch, as numpy (a list of
        arrays when it returns several)."""
        out = self.predict_step((x,))
        if isinstance(out, dict):
            out = list(out.values())
        if isinstance(out, (list, tuple)):
            return [np.asarray(device.to_host(o.data if isinstance(o, Tensor) else o)) for o in out]
        return np.asarray(device.to_host(out.data if isinstance(out, Tensor) else out))

    def predict_on_batch(self, x):
        """predict for one batch."""
        return self.predict(x, batch_size=max(len(np.asarray(x)), 1))

    # ---- data parallelism over MPI (engine/distribution.py) -----------------------------
    @contextlib.contextmanager
    def _distributed_fit(self, batches, validation, epochs, initial_epoch):
        """Around fit's epochs when more than one rank trains (a no-op otherwise).

        At the start, on every rank: the same ValueError unless every rank has the same model
        (a hash of its architecture, loss, optimizer and metrics), data (sample counts) and
        arguments, or when a global batch holds fewer samples than there are ranks; then
        rank 0's weights, optimizer state and random streams are copied to every rank, so
        every rank starts identical and draws the same shuffles. Dropout's masks are offset
        by rank (each rank drops other units of other samples). During the epochs a rank
        that leaves by an exception aborts the job (distribution.guard). At the end, the
        non-trainable weights (BatchNormalization's moving statistics, which each rank
        updates from its own share of each batch) are averaged over the ranks."""
        if not distribution.active():
            yield
            return
        self._start_distributed_fit(batches, validation, epochs, initial_epoch)
        swapped = []
        if distribution.rank():
            for layer in self.iter_layers():
                if isinstance(layer, Dropout):
                    swapped.append((layer, layer._rng))
                    layer._rng = _RankStream(layer._rng, distribution.rank())
        self._parallel = {"layout": None}
        try:
            with distribution.guard("fit"):
                yield
                self._average_non_trainable()
        finally:
            for layer, rng in swapped:
                layer._rng = rng
            self.__dict__.pop("_parallel", None)

    def _start_distributed_fit(self, batches, validation, epochs, initial_epoch):
        """fit's checks across ranks and rank 0's state copied to all (see _distributed_fit)."""
        self._refuse_overridden_steps("fit")
        ranks = distribution.size()
        samples = len(batches.x) if hasattr(batches, "x") else None
        batch = getattr(batches, "batch_size", None)
        distribution.agree(
            "fit",
            {
                "build the same model (architecture, loss, optimizer, metrics)": self._parallel_signature(),
                "hold the same number of training samples": samples,
                "use the same batch_size (the global batch)": batch,
                "take the same number of steps per epoch": batches.steps,
                "train the same epochs (initial_epoch, epochs)": (int(initial_epoch), int(epochs)),
                "hold the same number of validation samples": (
                    len(validation[0]) if isinstance(validation, tuple) else type(validation).__name__
                ),
            },
        )
        smallest = min(batch, samples) if batch is not None and samples is not None else None
        if smallest is not None and smallest < ranks:
            raise ValueError(
                f"fit: batch_size is the global batch, split over the {ranks} ranks; a batch of "
                f"{smallest} samples leaves some ranks without any. Use batch_size >= {ranks} "
                f"(and at least {ranks} samples)."
            )
        for w in self.weights:
            if not w.data.flags.c_contiguous or not w.data.flags.writeable:
                w.data = np.array(w.data, order="C")
        distribution.broadcast_arrays([w.data for w in self.weights])
        trainable = self.trainable_weights
        self.optimizer.build(trainable)
        distribution.broadcast_arrays([a for w in trainable for a in self.optimizer._slots_for(w).values()])
        self.optimizer.iterations = distribution.broadcast(self.optimizer.iterations)
        distribution.broadcast_random_state()
        for layer in self.iter_layers():
            if isinstance(getattr(layer, "_rng", None), np.random.Generator):
                distribution.broadcast_random_state(layer._rng)

    def _refuse_overridden_steps(self, where):
        """A distributed fit or evaluate splits each batch and sums gradients and counts over
        the ranks inside the built-in steps; an override would train each rank alone."""
        overridden = [n for n in ("train_step", "test_step") if self._overrides(n)]
        if overridden:
            raise NotImplementedError(
                f"{where}: model '{self.name}' overrides {overridden}; a distributed (MPI) fit or "
                f"evaluate runs the built-in steps only (each batch split over the ranks)."
            )

    def _parallel_signature(self) -> str:
        """A hash of what must be the same on every rank: the layers' classes and settings,
        the weights' shapes and dtypes, the loss, the optimizer and the metrics (names left
        out: they count instances, which may differ from process to process)."""

        def config(obj):
            try:
                return _nameless(obj.get_config())
            except Exception:  # a custom object without a usable config: its class counts
                return None

        return distribution.signature(
            [
                type(self).__name__,
                [[type(layer).__name__, config(layer)] for layer in self.iter_layers()],
                [[list(w.shape), str(w.dtype), bool(w.requires_grad)] for w in self.weights],
                [type(self.loss).__name__, getattr(self.loss, "__name__", None), config(self.loss)],
                [type(self.optimizer).__name__, config(self.optimizer)],
                _nameless(self._compile_config),
            ]
        )

    def _parallel_step(self, x, y, params, sample_weight):
        """One step of a distributed fit on the global batch (x, y, sample_weight).

        This rank takes its share, n_r of the N samples (distribution.share), and
        back-propagates its loss scaled as distribution.py's docstring derives: the data
        loss and the losses added in `call` (means over the batch) times n_r/N, the weights'
        penalties times 1/R. Then ONE allreduce sums, over the ranks, a flat buffer holding
        every gradient, the scaled loss and the metrics' counts of this step, so that every
        rank gets the full batch's gradient, loss and counts, and applies the same update to
        the same weights (or none, when the summed loss is not finite: the same decision
        everywhere). A rank whose share of a short last batch is empty runs the batch's first
        sample with weight 0, so every rank makes the same random draws and collectives."""
        total, ranks = len(x), distribution.size()
        part = distribution.share(total)
        n = part.stop - part.start
        if n == 0:
            part = slice(0, 1)
        xb, yb = x[part], None if y is None else y[part]
        wb = None if sample_weight is None else sample_weight[part]
        # the metrics count this step from zero (the per-output loss Means already in the
        # loss), then the counts of every rank are added to what they held before
        metrics = self.compiled_metrics
        before = [[np.array(getattr(m, name), np.float64) for name in m.variable_names] for m in metrics]
        for metric in metrics:
            metric.reset_state()
        with step_buffers.reusing(self._step_buffers_for(xb)), learning_phase(True):
            y_pred = self(self._inputs(xb))
            loss = self._total_loss(yb, y_pred, wb, share=(n / total, 1.0 / ranks))
        value = float(loss.data)
        if math.isfinite(value):
            loss.backward()
        if n:
            self._update_metrics(yb, y_pred.data, wb)
        else:  # (the stand-in sample counts nowhere)
            for metric in metrics:
                metric.reset_state()
        buffer, layout = self._reduce_buffer(params, metrics, before)
        for p, view in zip(params, buffer.views):
            if p.grad is None:
                view.fill(0)
            else:
                view[...] = device.to_host(p.grad)
            p.grad = None
        buffer.extra[0] = value
        for m, name, shape, start, size in layout:
            buffer.extra[start : start + size] = np.broadcast_to(getattr(m, name), shape).reshape(-1)
        buffer.allreduce()
        value = float(buffer.extra[0])
        olds = iter(old for state in before for old in state)
        for m, name, shape, start, size in layout:
            summed = next(olds) + buffer.extra[start : start + size].reshape(shape)
            setattr(m, name, float(summed) if summed.ndim == 0 else summed)
        if math.isfinite(value):  # else no update, on every rank: the last good weights stay
            on_gpu = device.on_gpu()
            for p, view in zip(params, buffer.views):
                p.grad = device.to_device(view) if on_gpu else view
            self.optimizer.apply(params)
        return value

    def _reduce_buffer(self, params, metrics, before):
        """The step's ReduceBuffer (made at a fit's first step, kept between fits) and the
        metrics' place in it: [(metric, variable, shape, offset in extra, size)]."""
        parallel = self._parallel
        if parallel["layout"] is None:
            layout, offset = [], 1  # extra[0]: the loss
            for m, state in zip(metrics, before):
                for name, old in zip(m.variable_names, state):
                    shape = np.broadcast_shapes(np.shape(old), np.shape(getattr(m, name)))
                    size = int(np.prod(shape))
                    layout.append((m, name, shape, offset, size))
                    offset += size
            parallel["layout"] = layout
            dtype = np.result_type(*(p.dtype for p in params)) if params else np.float32
            shapes = [tuple(p.shape) for p in params]
            kept = self.__dict__.get("_reduce_buffers")
            key = (tuple(shapes), offset, np.dtype(dtype).str)
            if kept is None or kept.key != key:
                kept = self.__dict__["_reduce_buffers"] = distribution.ReduceBuffer(shapes, offset, dtype)
            parallel["buffer"] = kept
        return parallel["buffer"], parallel["layout"]

    def _average_non_trainable(self):
        """At a distributed fit's end: each non-trainable float weight averaged over the ranks
        (BatchNormalization's moving statistics), so every rank ends with the same model."""
        kept = [w for w in self.non_trainable_weights if np.asarray(w.data).dtype.kind == "f"]
        if not kept:
            return
        sums = distribution.allreduce_sum([w.data for w in kept])
        for w, total in zip(kept, sums):
            w.data = (total / distribution.size()).astype(w.data.dtype)

    def _evaluate_shard(self, x, y, batch_size, w, cbs) -> dict:
        """evaluate across ranks: each rank evaluates its contiguous share of the samples (in
        batches of batch_size / R); the loss's (total, count) and the metrics' counts are then
        summed over the ranks (one allgather), so every rank returns the whole data's logs.
        Batch callbacks see this rank's figures; on_test_end the global ones."""
        ranks = distribution.size()
        part = distribution.share(len(x))
        x, y, w = x[part], None if y is None else y[part], None if w is None else w[part]
        batch_size = max(1, -(-batch_size // ranks))
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
        metrics = self.compiled_metrics
        state = [tracker.total, tracker.count] + [getattr(m, n) for m in metrics for n in m.variable_names]
        sums = iter(distribution.allreduce_sum(state))
        tracker.total, tracker.count = float(next(sums)), float(next(sums))
        for m in metrics:
            for name in m.variable_names:
                summed = next(sums)
                setattr(m, name, float(summed) if summed.ndim == 0 else summed)
        logs = self._logs(tracker.result())
        self._reset_metrics()
        cbs.call("on_test_end", logs)
        return logs

    def _predict_shard(self, x, batch_size, verbose, callbacks):
        """predict across ranks: each rank predicts its contiguous share of x (in batches of
        batch_size / R), and every rank returns all the outputs, in order (one allgather)."""
        part = distribution.share(len(x))
        outputs = None
        if part.stop > part.start:
            with distribution.local():
                local_batch = max(1, -(-batch_size // distribution.size()))
                mine = x[part].arrays if isinstance(x, inputs.Arrays) else x[part]  # (several inputs)
                outputs = Trainer.predict(self, mine, local_batch, verbose, callbacks=callbacks)
        gathered = [out for out in distribution.allgather(outputs) if out is not None]
        if isinstance(gathered[0], list):  # several outputs: each gathered in order
            return [np.concatenate([g[i] for g in gathered], axis=0) for i in range(len(gathered[0]))]
        return np.concatenate(gathered, axis=0)


def _nameless(config):
    """A config with every "name" entry left out, recursively."""
    if isinstance(config, dict):
        return {k: _nameless(v) for k, v in config.items() if k != "name"}
    if isinstance(config, (list, tuple)):
        return [_nameless(v) for v in config]
    return config


class _RankStream:
    """What a Dropout layer draws its mask keys from on rank r > 0 of a distributed fit: the
    layer's usual stream (its own generator, or densecore's), each key XORed with a constant
    of the rank. Every rank still draws once per call from the same stream (which stays the
    same on every rank, so the shuffles do too), but rank r's masks are its own."""

    def __init__(self, own, rank):
        self.own = own
        self.offset = (rank * 0x9E3779B97F4A7C15) & (2**63 - 1)

    def integers(self, low, high):
        from ..engine import random as dc_random

        key = int((self.own or dc_random.generator()).integers(low, high))
        return low + ((key - low) ^ self.offset) % (high - low)
