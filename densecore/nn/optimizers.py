"""Optimizers with Keras 3's names, defaults and update formulas.

Each update is one fused kernel pass per parameter (kernels/updates.py states the math);
the optimizer itself only keeps the state arrays and the step count.

Gradient clipping, as in Keras: `clipvalue` clips each element to [−c, c]; `clipnorm`
rescales each parameter's gradient so its L2 norm is at most c; `global_clipnorm` does
that for all gradients together.
"""

import numpy as np

from ..engine import backend, device
from . import schedules
from .schedules import CosineDecay, ExponentialDecay, LearningRateSchedule  # noqa: F401


class Optimizer:
    """Base class.

    Args:
        learning_rate: a float or a LearningRateSchedule.
        clipnorm, clipvalue, global_clipnorm: optional gradient clipping (see module doc).
        name: the optimizer's name.
    """

    _slots = ()  # names of the per-parameter state arrays

    def __init__(self, learning_rate=0.001, clipnorm=None, clipvalue=None, global_clipnorm=None, name=None):
        if not isinstance(learning_rate, LearningRateSchedule):
            if (
                not isinstance(learning_rate, (int, float))
                or not np.isfinite(learning_rate)
                or learning_rate < 0
            ):
                raise ValueError(
                    f"{type(self).__name__}: learning_rate must be a finite number ≥ 0 "
                    f"or a schedule; received {learning_rate!r}."
                )
        for key, value in (
            ("clipnorm", clipnorm),
            ("clipvalue", clipvalue),
            ("global_clipnorm", global_clipnorm),
        ):
            if value is not None and (not isinstance(value, (int, float)) or value <= 0):
                raise ValueError(
                    f"{type(self).__name__}: {key} must be a positive number; received {value!r}."
                )
        self.learning_rate = learning_rate
        self.clipnorm, self.clipvalue, self.global_clipnorm = clipnorm, clipvalue, global_clipnorm
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._state = {}  # id(parameter) -> {slot: array}

    def current_learning_rate(self) -> float:
        """The learning rate for the coming step."""
        lr = self.learning_rate
        return float(lr(self.iterations) if isinstance(lr, LearningRateSchedule) else lr)

    def _slots_for(self, param) -> dict:
        state = self._state.get(id(param))
        if state is None:
            state = {s: np.zeros(param.size, param.dtype) for s in self._slots}
            self._state[id(param)] = state
        return state

    def _clipped(self, grads):
        if self.clipvalue is not None:
            grads = [np.clip(g, -self.clipvalue, self.clipvalue) for g in grads]
        if self.clipnorm is not None:
            grads = [g * min(1.0, self.clipnorm / max(float(np.sqrt((g * g).sum())), 1e-30)) for g in grads]
        if self.global_clipnorm is not None:
            norm = float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads)))
            if norm > self.global_clipnorm:
                grads = [g * (self.global_clipnorm / norm) for g in grads]
        return grads

    def apply(self, params) -> None:
        """Update every parameter that has a gradient, then clear the gradients."""
        params = [p for p in params if p.grad is not None]
        on_gpu = any(device.is_device(p.grad) for p in params)
        if on_gpu and (self.clipvalue, self.clipnorm, self.global_clipnorm) != (None, None, None):
            device.require_host(params[0].grad, "gradient clipping")
        grads = [p.grad for p in params] if on_gpu else self._clipped([p.grad for p in params])
        lr = self.current_learning_rate()
        kernels = backend.kernels()
        for p, g in zip(params, grads):
            if device.is_device(g):  # weights, gradient and state all on the GPU
                self._update(kernels, p.data.reshape(-1), g.reshape(-1), self._slots_for(p), lr)
                p.grad = None
                continue
            g = np.ascontiguousarray(g, dtype=p.dtype).reshape(-1)
            if not p.data.flags.c_contiguous:
                p.data = np.ascontiguousarray(p.data)
            self._update(kernels, p.data.reshape(-1), g, self._slots_for(p), lr)
            p.grad = None
        self.iterations += 1

    def _update(self, kernels, w, g, state, lr):
        raise NotImplementedError

    # ---- saving ------------------------------------------------------------------------
    def get_config(self) -> dict:
        """The constructor arguments (a schedule as {'class_name', 'config'}), for saving."""
        lr = self.learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = {"class_name": type(lr).__name__, "config": lr.get_config()}
        return {
            "name": self.name,
            "learning_rate": lr,
            "clipnorm": self.clipnorm,
            "clipvalue": self.clipvalue,
            "global_clipnorm": self.global_clipnorm,
        }

    @classmethod
    def from_config(cls, config):
        """A new optimizer from `get_config()`'s output."""
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict):
            config["learning_rate"] = schedules.ALL[lr["class_name"]](**lr["config"])
        return cls(**config)

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


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    Args:
        learning_rate: default 0.01 (Keras's).
        momentum: default 0.0.
        nesterov: default False.
    """

    _slots = ("momentum",)

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not 0 <= momentum <= 1:
            raise ValueError(f"SGD: momentum must be in [0, 1]; received {momentum!r}.")
        self.momentum, self.nesterov = float(momentum), bool(nesterov)

    def _update(self, kernels, w, g, state, lr):
        kernels.sgd_update(w, g, state["momentum"], lr, self.momentum, self.nesterov)

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba), with Keras's defaults.

    Args:
        learning_rate: default 0.001.
        beta_1: default 0.9.  beta_2: default 0.999.  epsilon: default 1e-7.

    Example:
        >>> import densecore as dc
        >>> dc.optimizers.Adam().epsilon
        1e-07
    """

    _slots = ("m", "v")

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)
        self.weight_decay = 0.0

    def _update(self, kernels, w, g, state, lr):
        t = self.iterations + 1
        alpha = lr * np.sqrt(1 - self.beta_2**t) / (1 - self.beta_1**t)
        kernels.adam_update(
            w,
            g,
            state["m"],
            state["v"],
            alpha,
            self.beta_1,
            self.beta_2,
            self.epsilon,
            self.weight_decay * lr,
        )

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class AdamW(Adam):
    """Adam with decoupled weight decay: w ← w − λ η w before each Adam step.

    Args:
        weight_decay: λ, default 0.004 (Keras's).
    """

    def __init__(self, learning_rate=0.001, weight_decay=0.004, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        if not weight_decay >= 0:
            raise ValueError(f"AdamW: weight_decay must be ≥ 0; received {weight_decay!r}.")
        self.weight_decay = float(weight_decay)

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.weight_decay}


class RMSprop(Optimizer):
    """RMSprop with Keras's defaults.

    Args:
        learning_rate: default 0.001.  rho: default 0.9.  momentum: default 0.0.
        epsilon: default 1e-7 (inside the square root, as in Keras 3).
    """

    _slots = ("velocity", "momentum")

    def __init__(self, learning_rate=0.001, rho=0.9, momentum=0.0, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate=learning_rate, **kwargs)
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)

    def _update(self, kernels, w, g, state, lr):
        kernels.rmsprop_update(
            w, g, state["velocity"], state["momentum"], lr, self.rho, self.momentum, self.epsilon
        )

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum, "epsilon": self.epsilon}


ALL = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSprop}


def get(identifier) -> Optimizer:
    """An optimizer from a name ("sgd", "adam", "adamw", "rmsprop") or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ALL:
        return ALL[identifier.lower()]()
    raise ValueError(
        f"Unknown optimizer {identifier!r}; expected one of {sorted(ALL)} or an Optimizer instance."
    )
