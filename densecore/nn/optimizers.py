"""Optimizers with Keras 3's names, arguments, defaults and update formulas.

Each update is one fused kernel pass per parameter (kernels/updates.py states the math and
runs the same per-element step on every backend); the optimizer keeps the state arrays, the
step count and the settings. One step, as Keras takes it:

    1. gradients that are None are left out (with a warning; none at all is an error);
    2. clipping, at most one of: `clipnorm` rescales each gradient so that its L2 norm is at
       most c (g · c / max(‖g‖, c)); `global_clipnorm` does that for all gradients together;
       `clipvalue` clips each element to [−c, c];
    3. weight decay, when `weight_decay` λ is set: w ← w − λ η w, except for the weights
       excluded by `exclude_from_weight_decay` (AdamW is Adam with λ = 0.004 by default);
    4. the optimizer's update of each weight (fused with 3 in one kernel pass);
    5. each weight's `constraint`, if it has one (constraints.py), projects it;
    6. `iterations` grows by one.

Every argument is checked when the optimizer is made (and when it is loaded: from_config
runs the constructor), so that no setting can turn the weights into NaN.

    >>> import numpy as np
    >>> import densecore as dc
    >>> w = dc.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    >>> opt = dc.optimizers.SGD(learning_rate=0.5)
    >>> opt.apply_gradients([(np.array([1.0, 1.0], np.float32), w)])
    1
    >>> w.data
    array([0.5, 1.5], dtype=float32)
"""

import functools
import math
import numbers
import re
import warnings

import numpy as np

from ..engine import backend, device
from ..engine.tensor import Tensor
from . import arguments, schedules
from .constraints import constrain
from .layers import _unique_name
from .schedules import (  # noqa: F401  (dc.optimizers.ExponentialDecay, ..., as in densecore 0.1)
    CosineDecay,
    CosineDecayRestarts,
    ExponentialDecay,
    InverseTimeDecay,
    LearningRateSchedule,
    PiecewiseConstantDecay,
    PolynomialDecay,
)

_number = functools.partial(arguments.number, as_float=True)  # (an optimizer's settings are floats)

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adamax",
    "Nadam",
    "Adagrad",
    "get",
    "serialize",
    "deserialize",
]

# Keras arguments that densecore takes only at their defaults (it has no EMA of the weights,
# loss scaling or gradient accumulation): Keras code that passes the defaults still runs.
_KERAS_DEFAULTS_ONLY = {
    "use_ema": False,
    "ema_momentum": 0.99,
    "ema_overwrite_frequency": None,
    "loss_scale_factor": None,
    "gradient_accumulation_steps": None,
}


def _snake(name: str) -> str:
    """Keras's to_snake_case: "AdamW" -> "adam_w", "RMSprop" -> "rm_sprop"."""
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def _flag(where, name, value):
    if not isinstance(value, bool):
        raise ValueError(f"{where}: argument `{name}` must be True or False. Received: {name}={value!r}")
    return value


def _beta(where, name, value):
    return _number(where, name, value, lambda v: 0 <= v < 1, "a number in [0, 1)")


def _epsilon(where, value):
    return _number(where, "epsilon", value, lambda v: v > 0, "a finite number > 0")


class Optimizer:
    """Base class of the optimizers.

    A subclass names its per-weight state arrays in `_slots` and implements `_update`
    (one kernel call per weight) and, when its update needs numbers computed once per step,
    `_step_scalars`.

    Args:
        learning_rate: a float ≥ 0, a LearningRateSchedule (called with `iterations`), or a
            callable with no arguments returning the rate.
        weight_decay: None, or λ ≥ 0: w ← w − λ η w before each update (decoupled).
        clipnorm, clipvalue, global_clipnorm: None, or a finite c > 0; at most one of them
            (see the module's doc).
        name: default: the class name in snake_case, made unique ("adam", "adam_1", ...).

    Attributes:
        iterations: the number of steps taken.
        variables: the state as numpy arrays (Keras's order: see `variables`).

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> w = dc.Tensor(np.ones(3, np.float32), requires_grad=True)
        >>> w.grad = np.full(3, 2.0, np.float32)
        >>> opt = dc.optimizers.SGD(0.1)
        >>> opt.apply([w])  # densecore's form: every weight with its .grad, then cleared
        >>> w.data, w.grad, opt.iterations
        (array([0.8, 0.8, 0.8], dtype=float32), None, 1)
    """

    _slots = ()  # names of the per-weight state arrays
    _slot_initial = {}  # the starting value of a slot, when it is not 0

    def __init__(
        self,
        learning_rate,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        **kwargs,
    ):
        where = type(self).__name__
        if kwargs.pop("decay", None) is not None:
            warnings.warn("Argument `decay` is no longer supported and will be ignored.", stacklevel=3)
        for key, default in _KERAS_DEFAULTS_ONLY.items():
            value = kwargs.pop(key, default)
            if value != default:
                raise ValueError(
                    f"{where}: densecore supports argument `{key}` only at Keras's default, {default!r}. "
                    f"Received: {key}={value!r}"
                )
        if kwargs:
            raise ValueError(f"{where}: argument(s) not recognized: {kwargs}")
        if weight_decay is not None:
            weight_decay = _number(
                where, "weight_decay", weight_decay, lambda v: v >= 0, "None or a finite number ≥ 0"
            )
        clips = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        for key, value in clips.items():
            if value is not None:
                clips[key] = _number(where, key, value, lambda v: v > 0, "None or a finite number > 0")
        if sum(value is not None for value in clips.values()) > 1:
            raise ValueError(
                f"{where}: Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set. "
                f"Received: clipnorm={clipnorm}, clipvalue={clipvalue}, global_clipnorm={global_clipnorm}"
            )
        if name is not None and not (isinstance(name, str) and name):
            raise ValueError(f"{where}: argument `name` must be a non-empty string. Received: name={name!r}")
        self._learning_rate = None
        self.learning_rate = learning_rate  # checked by the setter
        self.weight_decay = weight_decay
        self.clipnorm, self.clipvalue, self.global_clipnorm = clips.values()
        self.name = name or _unique_name(_snake(where))
        self.iterations = 0
        self.built = False
        self._state = {}  # id(weight) -> {slot: flat state array}
        self._weights = {}  # id(weight) -> weight, in the order first seen (`variables`'s)
        self._clip_out = {}  # id(weight) -> the flat array its clipped gradient is written to
        self._exclude_ids, self._exclude_pattern = set(), None

    # ---- the learning rate -----------------------------------------------------------------
    @property
    def learning_rate(self):
        """The learning rate as set: a float, a LearningRateSchedule or a callable.

        `current_learning_rate()` gives its value for the coming step. (Keras's property
        returns that value; densecore's returns what was set, which callbacks rely on.)
        Setting a float on an optimizer whose rate is a schedule raises TypeError, as Keras.
        """
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        where = type(self).__name__
        if isinstance(value, LearningRateSchedule) or (
            callable(value) and not isinstance(value, numbers.Number)
        ):
            self._learning_rate = value
            return
        if isinstance(self._learning_rate, LearningRateSchedule):
            raise TypeError(
                f"{where}: this optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. If "
                "you need the learning rate to be settable, you should instantiate the optimizer "
                f"with a float `learning_rate` argument. Received: learning_rate={value!r}"
            )
        self._learning_rate = _number(
            where,
            "learning_rate",
            value,
            lambda v: v >= 0,
            "a finite float ≥ 0, a LearningRateSchedule or a callable returning the rate",
        )

    def current_learning_rate(self) -> float:
        """The learning rate for the coming step (a schedule's value at `iterations`).

        Raises:
            ValueError: when a schedule or callable gives a rate that is not a finite
                number ≥ 0 (no weight is touched then).
        """
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            value = float(lr(self.iterations))
        elif callable(lr):
            value = float(lr())
        else:
            return lr
        if not (math.isfinite(value) and value >= 0):
            raise ValueError(
                f"{type(self).__name__}: the learning rate {lr!r:.80} gave {value!r} at step "
                f"{self.iterations}; a rate must be a finite number ≥ 0."
            )
        return value

    # ---- state -----------------------------------------------------------------------------
    def _slots_for(self, weight) -> dict:
        """The state arrays of `weight` ({slot: flat array}), made at its first step."""
        state = self._state.get(id(weight))
        if state is None:
            size, dtype = weight.size, weight.dtype
            state = {s: np.full(size, self._slot_initial.get(s, 0.0), dtype) for s in self._slots}
            self._state[id(weight)] = state
            self._weights[id(weight)] = weight
            self.built = True
        return state

    def build(self, var_list) -> None:
        """Make the state of the weights in var_list (Tensors) now, rather than at their first
        step, in this order (the order of `variables`)."""
        for weight in var_list:
            if not isinstance(weight, Tensor):
                where = f"{type(self).__name__}.build"
                raise TypeError(f"{where}: expected densecore Tensors; received {type(weight).__name__}.")
            self._slots_for(weight)
        self.built = True

    def _variable_slots(self) -> tuple:
        """The slots Keras would create (an option left off creates none in Keras)."""
        return self._slots

    @property
    def variables(self) -> list:
        """The optimizer's state as numpy arrays, in Keras's order: the iteration count, the
        learning rate (unless a schedule or callable sets it), then each weight's state
        arrays (views: writing to them changes the state), weight by weight in the order
        the optimizer first saw them."""
        out = [np.array(self.iterations, np.int64)]
        if not callable(self._learning_rate):
            out.append(np.array(self._learning_rate, np.float32))
        for key, weight in self._weights.items():
            state = self._state[key]
            out += [device.to_host(state[s]).reshape(weight.shape) for s in self._variable_slots()]
        return out

    def set_weights(self, weights) -> None:
        """Set the state from a list like `variables` (from an optimizer built on weights of
        the same shapes, in the same order)."""
        where = f"{type(self).__name__}.set_weights"
        if not self.built:
            raise ValueError(
                f"{where}: You are calling `set_weights()` on an optimizer that has not yet been built. "
                "Please call `optimizer.build(trainable_variables)` to create the optimizer weights "
                "before calling `set_weights()`."
            )
        own, weights = self.variables, [np.asarray(w) for w in weights]
        if [w.shape for w in weights] != [v.shape for v in own]:
            raise ValueError(
                f"{where}: expected {len(own)} arrays of shapes {[v.shape for v in own]}; received "
                f"{len(weights)} of shapes {[w.shape for w in weights]}."
            )
        self.iterations = int(weights[0])
        first_state = 1 if callable(self._learning_rate) else 2
        if first_state == 2:
            self.learning_rate = float(weights[1])
        for view, value in zip(own[first_state:], weights[first_state:]):
            np.copyto(view, value, casting="unsafe")

    def state_arrays(self, params) -> list:
        """The state of `params` as a flat list of arrays (for saving), in a fixed order."""
        return [self._slots_for(p)[s] for p in params for s in self._slots]

    def load_state_arrays(self, params, arrays) -> None:
        """Restore the state saved by `state_arrays` for the same parameters."""
        arrays = list(arrays)
        expected = [(p.size,) for p in params for _ in self._slots]
        if [a.shape for a in arrays] != expected:
            raise ValueError(
                f"{type(self).__name__}: saved optimizer state does not match the model's parameters."
            )
        it = iter(arrays)
        for p in params:
            self._state[id(p)] = {s: np.array(next(it), dtype=p.dtype) for s in self._slots}
            self._weights[id(p)] = p
        self.built = self.built or bool(params)

    # ---- weight decay ----------------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None) -> None:
        """Exclude weights from weight decay: those in var_list (Tensors), and those whose
        name contains one of the strings in var_names (e.g. ["bias"]; regular expressions,
        as in Keras). Call it before the first step; each call replaces the previous
        exclusions.

        Example:
            >>> import densecore as dc
            >>> opt = dc.optimizers.AdamW()
            >>> opt.exclude_from_weight_decay(var_names=["bias"])
        """
        where = f"{type(self).__name__}.exclude_from_weight_decay"
        if self.built:
            raise ValueError(f"{where}: can only be configured before the optimizer is built.")
        var_list, var_names = list(var_list or []), list(var_names or [])
        if not all(isinstance(v, Tensor) for v in var_list):
            raise TypeError(f"{where}: var_list must hold densecore Tensors; received {var_list!r:.80}.")
        if not all(isinstance(n, str) and n for n in var_names):
            raise TypeError(f"{where}: var_names must hold non-empty strings; received {var_names!r:.80}.")
        self._exclude_ids = {id(v) for v in var_list}
        self._exclude_pattern = re.compile("|".join(sorted(set(var_names)))) if var_names else None

    def _decay_of(self, weight, lr) -> float:
        """λη for this weight, or 0 when it has no weight decay."""
        if self.weight_decay is None or id(weight) in self._exclude_ids:
            return 0.0
        if self._exclude_pattern is not None and self._exclude_pattern.search(weight.name or ""):
            return 0.0
        return self.weight_decay * lr

    # ---- a step ----------------------------------------------------------------------------
    def apply(self, grads, trainable_variables=None) -> None:
        """One step. Two forms:

        - `apply(weights)`, densecore's: each weight (a Tensor) with its gradient in `.grad`;
          weights that do not require a gradient are skipped, and the gradients are cleared.
        - `apply(grads, trainable_variables)`, Keras's: gradient arrays, one per Tensor; with
          trainable_variables omitted, the weights the optimizer was built on, in order.

        Raises:
            ValueError: when no weight has a gradient, for a gradient of the wrong shape, or
                a weight that cannot be updated; nothing is changed then.
            TypeError: for a weight that is not a densecore Tensor, or a gradient that is not
                an array of numbers.
        """
        grads = list(grads)
        where = f"{type(self).__name__}.apply"
        if not grads:  # nothing to apply: no step, as in Keras
            return
        if trainable_variables is None and all(isinstance(g, Tensor) for g in grads):
            weights = [w for w in grads if w.requires_grad]
            self._step([(w.grad, w) for w in weights], where)
            for w in weights:
                w.grad = None
            return
        if trainable_variables is None:
            if not self.built:
                raise ValueError(
                    f"{where}: when passing `grads` without `variables`, the optimizer must already be "
                    "built on a list of variables. Call `optimizer.build(trainable_variables)` first."
                )
            trainable_variables = list(self._weights.values())
        trainable_variables = list(trainable_variables)
        if len(grads) != len(trainable_variables):
            raise ValueError(
                f"{where}: expected one gradient per variable; received {len(grads)} gradients for "
                f"{len(trainable_variables)} variables."
            )
        self._step(list(zip(grads, trainable_variables)), where)

    def apply_gradients(self, grads_and_vars) -> int:
        """One step from (gradient, weight) pairs, as Keras: returns `iterations`.

        Example:
            >>> import numpy as np
            >>> import densecore as dc
            >>> w = dc.Tensor(np.zeros(2, np.float32))
            >>> dc.optimizers.Adam(0.1).apply_gradients(zip([np.ones(2, np.float32)], [w]))
            1
            >>> w.data.round(4)
            array([-0.1, -0.1], dtype=float32)
        """
        pairs = list(grads_and_vars)
        if not all(isinstance(pair, (tuple, list)) and len(pair) == 2 for pair in pairs):
            raise ValueError(
                f"{type(self).__name__}.apply_gradients: expected (gradient, variable) pairs; "
                f"received {pairs!r:.80}."
            )
        self.apply([g for g, _ in pairs], [w for _, w in pairs])
        return self.iterations

    def _checked(self, pairs, where):
        """The pairs with a gradient, each gradient an array of its weight's shape and dtype,
        after checking everything (before any work); warns about weights without one."""
        checked, missing = [], []
        for g, w in pairs:
            if not isinstance(w, Tensor):
                raise TypeError(f"{where}: variables must be densecore Tensors; received {type(w).__name__}.")
            if g is None:
                missing.append(w.name or f"Tensor of shape {w.shape}")
                continue
            data = w.data
            if type(g) is not np.ndarray or type(data) is not np.ndarray:
                g = self._unusual(where, g, w)  # array-likes, device arrays
            elif g.dtype != data.dtype:
                g = g.astype(data.dtype)
            if g.shape != data.shape:
                raise ValueError(
                    f"{where}: the gradient of variable {w.name!r} has shape {tuple(g.shape)}; "
                    f"expected the variable's {tuple(data.shape)}."
                )
            if type(data) is np.ndarray and not (data.dtype.kind == "f" and data.flags.writeable):
                raise ValueError(
                    f"{where}: variable {w.name!r} must hold a writeable float array; received "
                    f"dtype {data.dtype}{'' if data.flags.writeable else ', read only'}."
                )
            checked.append((g, w))
        if not checked:
            raise ValueError(f"{where}: No gradients provided for any variable.")
        if missing:
            warnings.warn(
                f"Gradients do not exist for variables {missing} when minimizing the loss. If using "
                "`model.compile()`, did you forget to provide a `loss` argument?",
                UserWarning,
                stacklevel=4,
            )
        return checked

    def _unusual(self, where, g, w):
        """A gradient that is not a numpy array, or a weight on the GPU: as an array (numpy,
        or the device's when both live there), or an error for what has no device form."""
        if device.is_device(g) or device.is_device(w.data):
            on_device = g if device.is_device(g) else w.data
            if self.clipnorm or self.clipvalue or self.global_clipnorm:
                device.require_host(on_device, "gradient clipping")
            if getattr(w, "constraint", None) is not None:
                device.require_host(on_device, "a weight constraint")
            return g
        try:
            return np.asarray(g, dtype=w.dtype)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{where}: the gradient of {w.name!r} is not an array of numbers: {exc}"
            ) from None

    def _step(self, pairs, where) -> None:
        """Clip, decay, update, constrain, count (the module's doc): the one place a step runs."""
        if not pairs:  # nothing to train (every weight frozen): no step, as in Keras
            return
        pairs = self._checked(pairs, where)
        lr = self.current_learning_rate()
        grads = [g for g, _ in pairs]
        if self.clipnorm or self.clipvalue or self.global_clipnorm:  # host arrays (_unusual checked)
            grads = self._clip_gradients(grads, [self._clip_buffer(w, g) for g, w in pairs])
        scalars = self._step_scalars(lr)
        kernels = backend.kernels()
        for g, (_, w) in zip(grads, pairs):
            if type(w.data) is np.ndarray and not w.data.flags.c_contiguous:
                w.data = np.ascontiguousarray(w.data)
            g = np.ascontiguousarray(g) if type(g) is np.ndarray else g
            decay = self._decay_of(w, lr)
            self._update(kernels, w.data.reshape(-1), g.reshape(-1), self._slots_for(w), lr, decay, scalars)
            constrain(w)  # right after the update, as Keras (a weight's step uses only its own state)
        self.iterations += 1

    def _clip_buffer(self, weight, g):
        """A kept array shaped like g for the clipped gradient (none is made per step)."""
        out = self._clip_out.get(id(weight))
        if out is None or out.shape != g.shape or out.dtype != g.dtype:
            out = self._clip_out[id(weight)] = np.empty(g.shape, g.dtype)
        return out

    def _clip_gradients(self, grads, out=None) -> list:
        """The gradients clipped as Keras clips them (the module's doc), written into `out`
        (arrays shaped like grads) or new arrays; unchanged when no clipping is set."""
        if self.clipnorm is None and self.clipvalue is None and self.global_clipnorm is None:
            return grads
        grads = [np.asarray(g) for g in grads]
        out = [np.empty_like(g) for g in grads] if out is None else out
        if self.clipnorm is not None:
            for g, o in zip(grads, out):
                norm = math.sqrt(float(np.vdot(g, g)))
                np.multiply(g, self.clipnorm / max(norm, self.clipnorm), out=o)
        elif self.global_clipnorm is not None:
            norm = math.sqrt(sum(float(np.vdot(g, g)) for g in grads))
            c = self.global_clipnorm
            scale = (1.0 if norm <= c else c / norm) if math.isfinite(norm) else math.nan
            for g, o in zip(grads, out):
                np.multiply(g, scale, out=o)
        else:
            for g, o in zip(grads, out):
                np.clip(g, -self.clipvalue, self.clipvalue, out=o)
        return out

    def _step_scalars(self, lr):
        """Numbers the update needs, computed once per step (default: none)."""
        return None

    def _update(self, kernels, w, g, state, lr, decay, scalars):
        """Update the flat weight w in place from its flat gradient g and its state."""
        raise NotImplementedError

    # ---- saving ----------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments, for saving: a schedule as {'class_name', 'config'}, a
        callable learning rate as its current value; weight_decay only when it is set."""
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = schedules.serialize(lr)
        elif callable(lr):
            lr = self.current_learning_rate()
        config = {"name": self.name, "learning_rate": lr}
        if self.weight_decay is not None:
            config["weight_decay"] = self.weight_decay
        config.update(clipnorm=self.clipnorm, global_clipnorm=self.global_clipnorm, clipvalue=self.clipvalue)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new optimizer from `get_config()`'s output (or Keras's), checked as the
        constructor checks; `custom_objects` maps schedule class names to classes."""
        config = dict(config)
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"], custom_objects)
        return cls(**config)


class SGD(Optimizer):
    """Gradient descent, optionally with (Nesterov) momentum, as keras.optimizers.SGD.

    With momentum μ = 0: w ← w − η g. Otherwise v ← μ v − η g, then w ← w + v, or with
    nesterov=True w ← w + μ v − η g.

    Args:
        learning_rate: default 0.01.
        momentum: μ in [0, 1]; default 0.0.
        nesterov: default False.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as Optimizer.

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> w = dc.Tensor(np.array([1.0, 2.0, 3.0, 4.0], np.float32))
        >>> g = np.array([1.0, 6.0, 7.0, 2.0], np.float32)
        >>> dc.optimizers.SGD(0.5).apply_gradients([(g, w)])
        1
        >>> w.data
        array([ 0.5, -1. , -0.5,  3. ], dtype=float32)
    """

    _slots = ("momentum",)

    def __init__(
        self,
        learning_rate=0.01,
        momentum=0.0,
        nesterov=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        where = type(self).__name__
        self.momentum = _number(where, "momentum", momentum, lambda v: 0 <= v <= 1, "a float between [0, 1]")
        self.nesterov = _flag(where, "nesterov", nesterov)

    def _variable_slots(self):
        return self._slots if self.momentum != 0 else ()

    def _update(self, kernels, w, g, state, lr, decay, scalars):
        kernels.sgd_update(w, g, state["momentum"], lr, self.momentum, self.nesterov, decay)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba), as keras.optimizers.Adam.

    m ← m + (g − m)(1 − β₁);  v ← v + (g² − v)(1 − β₂);  w ← w − α m / (√v + ε), with
    α = η √(1 − β₂ᵗ) / (1 − β₁ᵗ) at step t; with amsgrad, v̂ ← max(v̂, v) replaces v.

    Args:
        learning_rate: default 0.001.
        beta_1: β₁ in [0, 1); default 0.9.
        beta_2: β₂ in [0, 1); default 0.999.
        epsilon: ε > 0; default 1e-7.
        amsgrad: the AMSGrad variant (Reddi et al.); default False.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as Optimizer.

    Example:
        >>> import densecore as dc
        >>> dc.optimizers.Adam().epsilon
        1e-07
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        where = type(self).__name__
        self.beta_1, self.beta_2 = _beta(where, "beta_1", beta_1), _beta(where, "beta_2", beta_2)
        self.epsilon = _epsilon(where, epsilon)
        self.amsgrad = _flag(where, "amsgrad", amsgrad)
        self._slots = ("m", "v", "v_hat") if amsgrad else ("m", "v")

    def _step_scalars(self, lr):
        t = self.iterations + 1
        return lr * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)  # α

    def _update(self, kernels, w, g, state, lr, decay, alpha):
        kernels.adam_update(
            w,
            g,
            state["m"],
            state["v"],
            alpha,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            decay,
            state.get("v_hat"),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "amsgrad": self.amsgrad,
        }


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as keras.optimizers.AdamW:
    w ← w − λ η w before each Adam step.

    Args:
        learning_rate: default 0.001.
        weight_decay: λ, a finite number ≥ 0 (not None); default 0.004.
        beta_1, beta_2, epsilon, amsgrad: as Adam.
        clipnorm, clipvalue, global_clipnorm, name: as Optimizer.

    Example:
        >>> import densecore as dc
        >>> dc.optimizers.AdamW().weight_decay
        0.004
    """

    def __init__(
        self,
        learning_rate=0.001,
        weight_decay=0.004,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        amsgrad=False,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        **kwargs,
    ):
        if weight_decay is None:
            raise ValueError("AdamW: Argument `weight_decay` must be a float. Received: weight_decay=None")
        super().__init__(
            learning_rate,
            beta_1,
            beta_2,
            epsilon,
            amsgrad,
            weight_decay,
            clipnorm,
            clipvalue,
            global_clipnorm,
            name,
            **kwargs,
        )


class RMSprop(Optimizer):
    """RMSprop, as keras.optimizers.RMSprop.

    v ← ρ v + (1 − ρ) g²;  Δ = η g / √(v + ε);  w ← w − Δ, or with momentum μ > 0
    M ← μ M + Δ, w ← w − M. Centered: a ← ρ a + (1 − ρ) g and Δ = η g / √(v − a² + ε)
    (the gradient's variance in place of its second moment).

    Args:
        learning_rate: default 0.001.
        rho: ρ in [0, 1); default 0.9.
        momentum: μ in [0, 1]; default 0.0.
        epsilon: ε > 0 (inside the square root, as in Keras 3); default 1e-7.
        centered: default False.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as Optimizer.

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> w = dc.Tensor(np.array([1.0, 2.0, 3.0, 4.0], np.float32))
        >>> g = np.array([1.0, 6.0, 7.0, 2.0], np.float32)
        >>> dc.optimizers.RMSprop(0.5).apply_gradients([(g, w)])
        1
        >>> w.data.round(4)
        array([-0.5811,  0.4189,  1.4189,  2.4189], dtype=float32)
    """

    def __init__(
        self,
        learning_rate=0.001,
        rho=0.9,
        momentum=0.0,
        epsilon=1e-7,
        centered=False,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        where = type(self).__name__
        self.rho = _beta(where, "rho", rho)
        self.momentum = _number(where, "momentum", momentum, lambda v: 0 <= v <= 1, "a number in [0, 1]")
        self.epsilon = _epsilon(where, epsilon)
        self.centered = _flag(where, "centered", centered)
        self._slots = ("velocity", "momentum", "average_gradient") if centered else ("velocity", "momentum")

    def _variable_slots(self):
        return tuple(s for s in self._slots if s != "momentum" or self.momentum > 0)

    def _update(self, kernels, w, g, state, lr, decay, scalars):
        kernels.rmsprop_update(
            w,
            g,
            state["velocity"],
            state["momentum"],
            lr,
            self.rho,
            self.momentum,
            self.epsilon,
            decay,
            state.get("average_gradient"),
        )

    def get_config(self):
        return {
            **super().get_config(),
            "rho": self.rho,
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "centered": self.centered,
        }


class Adamax(Optimizer):
    """Adamax, Adam's infinity-norm variant, as keras.optimizers.Adamax.

    m ← m + (g − m)(1 − β₁);  u ← max(β₂ u, |g|);  w ← w − η m / ((1 − β₁ᵗ)(u + ε)).

    Args:
        learning_rate: default 0.001.
        beta_1: β₁ in [0, 1); default 0.9.
        beta_2: β₂ in [0, 1]; default 0.999.
        epsilon: ε > 0; default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as Optimizer.

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> w = dc.Tensor(np.array([1.0, 2.0], np.float32))
        >>> dc.optimizers.Adamax(0.5).apply_gradients([(np.array([1.0, 6.0], np.float32), w)])
        1
        >>> w.data.round(4)
        array([0.5, 1.5], dtype=float32)
    """

    _slots = ("m", "u")

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        where = type(self).__name__
        self.beta_1 = _beta(where, "beta_1", beta_1)
        self.beta_2 = _number(where, "beta_2", beta_2, lambda v: 0 <= v <= 1, "a number in [0, 1]")
        self.epsilon = _epsilon(where, epsilon)

    def _step_scalars(self, lr):
        return lr / (1 - self.beta_1 ** (self.iterations + 1))  # η / (1 − β₁ᵗ)

    def _update(self, kernels, w, g, state, lr, decay, alpha):
        kernels.adamax_update(
            w, g, state["m"], state["u"], alpha, self.beta_1, self.beta_2, self.epsilon, decay
        )

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Nadam, Adam with Nesterov momentum (Dozat), as keras.optimizers.Nadam.

    With the momentum schedule μₜ = β₁ (1 − ½ · 0.96ᵗ) and its running product Πₜ = μ₁ ⋯ μₜ:
    m ← m + (g − m)(1 − β₁);  v ← v + (g² − v)(1 − β₂);
    m̂ = μₜ₊₁ m / (1 − Πₜ₊₁) + (1 − μₜ) g / (1 − Πₜ);  v̂ = v / (1 − β₂ᵗ);
    w ← w − η m̂ / (√v̂ + ε).

    Args:
        learning_rate: default 0.001.
        beta_1: β₁ in [0, 1); default 0.9.
        beta_2: β₂ in [0, 1); default 0.999.
        epsilon: ε > 0; default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as Optimizer.

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> w = dc.Tensor(np.array([1.0, 2.0], np.float32))
        >>> dc.optimizers.Nadam(0.5).apply_gradients([(np.array([1.0, 6.0], np.float32), w)])
        1
        >>> w.data.round(4)
        array([0.4686, 1.4686], dtype=float32)
    """

    _slots = ("m", "v")

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        where = type(self).__name__
        self.beta_1, self.beta_2 = _beta(where, "beta_1", beta_1), _beta(where, "beta_2", beta_2)
        self.epsilon = _epsilon(where, epsilon)
        self._u_product = (0, 1.0)  # (t, Πₜ): the product up to step t, kept from step to step

    def _mu(self, t):
        return self.beta_1 * (1.0 - 0.5 * 0.96**t)

    def _product(self, t):
        """Πₜ, from the one kept for step t − 1 (or recomputed, after `iterations` was set)."""
        kept_t, product = self._u_product
        if kept_t != t - 1:
            kept_t, product = 0, 1.0
            for i in range(1, t):
                product *= self._mu(i)
        product *= self._mu(t)
        self._u_product = (t, product)
        return product

    def _step_scalars(self, lr):
        t = self.iterations + 1
        product = self._product(t)
        m_factor = self._mu(t + 1) / (1 - product * self._mu(t + 1))
        g_factor = (1 - self._mu(t)) / (1 - product)
        return m_factor, g_factor, 1 / (1 - self.beta_2**t)

    def _update(self, kernels, w, g, state, lr, decay, factors):
        kernels.nadam_update(
            w, g, state["m"], state["v"], lr, self.beta_1, self.beta_2, self.epsilon, *factors, decay
        )

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adagrad(Optimizer):
    """Adagrad, as keras.optimizers.Adagrad: A ← A + g²;  w ← w − η g / √(A + ε), the
    accumulator A starting at initial_accumulator_value.

    Args:
        learning_rate: default 0.001.
        initial_accumulator_value: A's starting value, a finite number ≥ 0; default 0.1.
        epsilon: ε > 0; default 1e-7.
        weight_decay, clipnorm, clipvalue, global_clipnorm, name: as Optimizer.

    Example:
        >>> import numpy as np
        >>> import densecore as dc
        >>> w = dc.Tensor(np.array([1.0, 2.0], np.float32))
        >>> dc.optimizers.Adagrad(0.5).apply_gradients([(np.array([1.0, 6.0], np.float32), w)])
        1
        >>> w.data.round(4)
        array([0.5233, 1.5007], dtype=float32)
    """

    _slots = ("accumulator",)

    def __init__(
        self,
        learning_rate=0.001,
        initial_accumulator_value=0.1,
        epsilon=1e-7,
        weight_decay=None,
        clipnorm=None,
        clipvalue=None,
        global_clipnorm=None,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate, weight_decay, clipnorm, clipvalue, global_clipnorm, name, **kwargs)
        where = type(self).__name__
        self.initial_accumulator_value = _number(
            where,
            "initial_accumulator_value",
            initial_accumulator_value,
            lambda v: v >= 0,
            "a finite number ≥ 0",
        )
        self.epsilon = _epsilon(where, epsilon)
        self._slot_initial = {"accumulator": self.initial_accumulator_value}

    def _update(self, kernels, w, g, state, lr, decay, scalars):
        kernels.adagrad_update(w, g, state["accumulator"], lr, self.epsilon, decay)

    def get_config(self):
        return {
            **super().get_config(),
            "initial_accumulator_value": self.initial_accumulator_value,
            "epsilon": self.epsilon,
        }


ALL = {cls.__name__.lower(): cls for cls in (SGD, Adam, AdamW, RMSprop, Adamax, Nadam, Adagrad)}


def serialize(optimizer) -> dict:
    """{'class_name', 'config'} for saving an optimizer.

    Example:
        >>> import densecore as dc
        >>> dc.optimizers.serialize(dc.optimizers.SGD(0.1, name="sgd"))["config"]["learning_rate"]
        0.1
    """
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"optimizers.serialize: expected an Optimizer; received {optimizer!r:.80}.")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config, custom_objects=None) -> Optimizer:
    """An optimizer from `serialize`'s output or Keras's (class names in any case, as
    Keras reads them; 'module' and 'registered_name' are ignored)."""
    if not isinstance(config, dict) or not isinstance(config.get("config", {}), dict):
        raise ValueError(
            "optimizers.deserialize: expected {'class_name': ..., 'config': {...}}; "
            f"received {config!r:.80}."
        )
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or (ALL.get(name.lower()) if isinstance(name, str) else None)
    if cls is None:
        raise ValueError(
            f"optimizers.deserialize: unknown optimizer {name!r}; expected one of {sorted(ALL)}."
        )
    return cls.from_config(dict(config.get("config", {})), custom_objects)


def get(identifier):
    """An optimizer from a name ("sgd", "adam", "AdamW", ...: any case), a config dict
    ({'class_name', 'config'}), or an Optimizer (returned as it is); None gives None, as in
    Keras.

    Example:
        >>> import densecore as dc
        >>> type(dc.optimizers.get({"class_name": "Adam", "config": {"learning_rate": 0.01}})).__name__
        'Adam'
        >>> dc.optimizers.get(None) is None
        True
    """
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier.lower() in ALL:
        return ALL[identifier.lower()]()
    raise ValueError(
        f"Could not interpret optimizer identifier: {identifier!r:.80}; expected one of {sorted(ALL)}, "
        f"a config dict or an Optimizer instance."
    )
