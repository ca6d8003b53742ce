"""Layers: `build(input_shape)` creates the weights once the input width is known,
`call(inputs)` is the math (Keras's split).

    Dense(units)       y = act(x W + b)             W (in, units), b (units,)
    Dropout(rate)      y = x ⊙ m / (1 − rate)      m ~ Bernoulli(1 − rate), training only
    Activation(name)   y = act(x)
"""

import contextlib
import itertools
import threading
from collections import defaultdict

import numpy as np

from ..engine import backend, device
from ..engine import functional as F
from ..engine import random as dc_random
from ..engine.tensor import Tensor, as_tensor
from ..kernels import activations
from ..kernels import flops as kernel_flops
from . import initializers, regularizers

_names = defaultdict(itertools.count)


class _Phase(threading.local):
    """The learning phase of the model call in progress, per thread: a predict in one thread
    while another trains sees training=False (no dropout)."""

    training = False


_phase = _Phase()

ACTIVATIONS = activations.NAMES


class _Taps(threading.local):
    """The layers whose calls are being watched (see `tap`), per thread."""

    def __init__(self):
        self.record = {}  # {layer: record(layer, inputs, outputs)}


_taps = _Taps()


@contextlib.contextmanager
def tap(layers, record):
    """Within this block, every call of one of `layers` also hands (layer, inputs, outputs) to
    `record`: how the compression tools see the activations that reach a layer, without
    patching the layer. predict takes its graph path while a tap is on.

    Example:
        >>> import numpy as np, densecore as dc
        >>> model = dc.Sequential([dc.layers.Dense(3), dc.layers.Dense(1)])
        >>> seen = []
        >>> with tap([model.layers[1]], lambda layer, x, y: seen.append(x.shape)):
        ...     _ = model.predict(np.ones((4, 2)))
        >>> seen
        [(4, 3)]
    """
    layers = list(layers)
    for layer in layers:
        _taps.record[layer] = record
    try:
        yield
    finally:
        for layer in layers:
            _taps.record.pop(layer, None)


def tapping() -> bool:
    """Whether a `tap` is on in this thread."""
    return bool(_taps.record)


def register(cls):
    """Class decorator: make a layer class known to load_model by its class name."""
    ALL[cls.__name__] = cls
    return cls


ALL = {}  # class name -> layer class, filled by @register
MODELS = {}  # class name -> Model subclass (each registers itself), so load_model can rebuild it


@contextlib.contextmanager
def learning_phase(training: bool):
    """Within this block layers called without `training=` behave as in training or not."""
    saved = _phase.training
    _phase.training = bool(training)
    try:
        yield
    finally:
        _phase.training = saved


def _unique_name(base: str) -> str:
    n = next(_names[base])
    return base if n == 0 else f"{base}_{n}"


def clear_session() -> None:
    """Start naming layers and models afresh, as keras.backend.clear_session() does: the
    next Dense is "dense" again. Models already built keep their names."""
    _names.clear()


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


check_activation = activations.check


class Layer:
    """Base class of every layer and of Model.

    Args:
        name: the layer's name (default: from the class, made unique: dense, dense_1, ...).
        trainable: whether the optimizer updates its weights.
        input_shape: (features,) to build the layer before it sees data, as in Keras.
        input_dim: the same as input_shape=(input_dim,).
    """

    def __init__(self, name=None, trainable=True, input_shape=None, input_dim=None, dtype=None):
        object.__setattr__(self, "_layers", [])
        self.name = name or _unique_name(_snake(type(self).__name__))
        self._weights = []
        self._regularized = []
        self._trainable = bool(trainable)
        self.built = False
        self.input_shape = None
        if input_dim is not None:
            input_shape = (input_dim,)
        self._declared_input = None if input_shape is None else (None, *tuple(input_shape))

    def __setattr__(self, key, value):
        if isinstance(value, Layer) and value not in self._layers:
            self._layers.append(value)  # attributes that are layers are tracked, in order
        object.__setattr__(self, key, value)

    # ---- weights -----------------------------------------------------------------------
    def add_weight(self, name, shape, initializer="zeros", regularizer=None, trainable=True):
        """Create, record and return a weight Tensor."""
        data = initializers.get(initializer)(shape, np.float32)
        weight = Tensor(data, requires_grad=trainable and self._trainable)
        weight.name = f"{self.name}/{name}"
        weight._trainable = trainable
        self._weights.append(weight)
        if regularizer is not None:
            self._regularized.append((weight, regularizer))
        return weight

    @property
    def weights(self) -> list:
        """All weight Tensors, this layer's first, then its sublayers' in order."""
        return self._weights + [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self) -> list:
        """The weights the optimizer updates (requires_grad), in `weights` order."""
        return [w for w in self.weights if w.requires_grad]

    @property
    def non_trainable_weights(self) -> list:
        """The frozen weights, in `weights` order."""
        return [w for w in self.weights if not w.requires_grad]

    @property
    def trainable(self) -> bool:
        """False freezes the layer (and its sublayers): no gradient, no update."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool):
        """Whether the layer's weights are trained."""
        self._trainable = bool(value)
        for w in self._weights:
            w.requires_grad = self._trainable and w._trainable
        for layer in self._layers:
            layer.trainable = value

    def get_weights(self) -> list:
        """Copies of the weights as numpy arrays, in Keras's order (kernel, then bias); from
        the GPU too, where fit keeps them during an epoch on the cuda backend."""
        return [np.array(device.to_host(w.data)) for w in self.weights]

    def set_weights(self, weights) -> None:
        """Replace the weights from a list of arrays of the same shapes, in get_weights order."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(
                f"set_weights on '{self.name}': expected {len(own)} arrays "
                f"({[tuple(w.shape) for w in own]}); received {len(weights)}."
            )
        arrays = []
        for w, new in zip(own, weights):
            new = np.asarray(new)
            if new.shape != w.shape:
                raise ValueError(
                    f"set_weights on '{self.name}': weight {w.name} has shape "
                    f"{w.shape}; received an array of shape {new.shape}."
                )
            if new.dtype.kind not in "biuf" or not np.all(np.isfinite(new)):
                raise ValueError(f"set_weights on '{self.name}': weight {w.name} must be finite numbers.")
            arrays.append(new)
        for w, new in zip(own, arrays):  # all checked before anything changes
            w.data = np.array(new, dtype=w.dtype, order="C")  # a copy, C-ordered for the kernels

    def count_params(self) -> int:
        """The number of parameters of this layer and its sublayers."""
        return int(sum(w.size for w in self._weights) + sum(la.count_params() for la in self._layers))

    def regularization_losses(self) -> list:
        """The penalty Tensors of this layer and its sublayers, for the current weights."""
        own = [reg(w) for w, reg in self._regularized]
        return own + [p for layer in self._layers for p in layer.regularization_losses()]

    # ---- calling -----------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of `input_shape` (batch first)."""
        self.input_shape = tuple(input_shape)
        self.built = True

    def call(self, inputs, training=None):
        """The layer's math on a Tensor; subclasses implement it."""
        raise NotImplementedError

    def __call__(self, inputs, training=None):
        x = as_tensor(inputs)
        if not self.built:
            self.build((None, *x.shape[1:]))
            self.built = True
        out = self.call(x, training=_phase.training if training is None else training)
        if _taps.record and self in _taps.record:
            _taps.record[self](self, x, out)
        return out

    def iter_layers(self):
        """Every sublayer, depth first, in the order they were tracked (Keras's
        `_flatten_layers(include_self=False)`)."""
        for layer in self._layers:
            yield layer
            yield from layer.iter_layers()

    def gpu_problem(self, loss: bool):
        """What keeps this layer off the cuda backend, in words, or None when it has a device
        form (`loss`: the step computes the loss). Layers without arithmetic of their own
        (InputLayer, Flatten, Dropout, models) override it with None."""
        return f"{type(self).__name__} '{self.name}'"

    def compute_output_shape(self, input_shape):
        """The output shape for `input_shape` (batch first); the identity by default."""
        return tuple(input_shape)

    def flops_per_sample(self) -> int:
        """Forward FLOPs for one sample (0 for layers without arithmetic worth counting)."""
        return 0

    def get_config(self) -> dict:
        """The constructor arguments as plain JSON values, for saving."""
        config = {"name": self.name, "trainable": self.trainable}
        if self._declared_input is not None:
            config["input_shape"] = list(self._declared_input[1:])
        return config

    @classmethod
    def from_config(cls, config: dict):
        """A new layer from `get_config()`'s output."""
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


@register
class Dense(Layer):
    """A fully connected layer: y = act(x W + b).

    Args:
        units: the number of outputs, a positive integer.
        activation: "linear" (default, also None), "relu", "sigmoid", "tanh" or "softmax".
            relu, tanh and linear are fused into the matmul kernel; sigmoid and softmax
            follow it as a node that keeps the logits, so a cross-entropy loss is computed
            from them stably (as Keras does).
        use_bias: whether to add b (default True).
        kernel_initializer: default "glorot_uniform".
        bias_initializer: default "zeros".
        kernel_regularizer, bias_regularizer: None (default), a name or a Regularizer.
        **kwargs: name, trainable, input_shape, input_dim.

    Example:
        >>> import numpy as np, densecore as dc
        >>> layer = dc.layers.Dense(4, activation="relu")
        >>> layer(np.ones((2, 3), np.float32)).shape
        (2, 4)
        >>> [w.shape for w in layer.get_weights()]
        [(3, 4), (4,)]
    """

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense: units must be a positive integer. Received: units={units!r}")
        self.units = int(units)
        self.activation = check_activation(activation, f"Dense '{self.name}'")
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self._kernel = self._bias = None

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"Dense '{self.name}': expects inputs of shape (batch, features); "
                f"received {tuple(input_shape)}."
            )
        super().build(input_shape)
        n_in = int(input_shape[-1])
        self._kernel = self.add_weight(
            "kernel", (n_in, self.units), self.kernel_initializer, self.kernel_regularizer
        )
        if self.use_bias:
            self._bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer)

    kernel = property(lambda self: self._kernel, doc="The kernel W (in, units), a Tensor.")
    bias = property(lambda self: self._bias, doc="The bias b (units,), a Tensor, or None.")

    @kernel.setter
    def kernel(self, value):
        """Assigning an array of the same shape replaces W (as the article's code does)."""
        self.set_weights([value] + ([self._bias.data] if self.use_bias else []))

    def call(self, inputs, training=None):
        if inputs.ndim != 2 or inputs.shape[1] != self._kernel.shape[0]:
            raise ValueError(
                f"Input of layer '{self.name}' is incompatible: expected shape (batch, "
                f"{self._kernel.shape[0]}); received {inputs.shape}."
            )
        return F.activated(F.dense, self.activation, inputs, self._kernel, self._bias)

    def _infer(self, x: np.ndarray) -> np.ndarray:
        """call() on a numpy array, for predict: the same kernel, no Tensors, no graph."""
        w = self._kernel.data
        b = None if self._bias is None else self._bias.data
        return F.activated_array(
            backend.kernels().dense_forward, self.activation, x.astype(w.dtype, copy=False), w, b
        )

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def flops_per_sample(self) -> int:
        return kernel_flops.dense_flops(1, self._kernel.shape[0], self.units) if self.built else 0

    def gpu_problem(self, loss: bool):
        if type(self) not in (Dense, LowRankDense):  # a subclass may compute something else
            return super().gpu_problem(loss)
        if loss and self._regularized:  # the penalties have no device form
            return f"the regularizers of '{self.name}'"
        return None

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": self.activation,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("kernel_initializer", "bias_initializer"):
            config[key] = initializers.deserialize(config[key])
        for key in ("kernel_regularizer", "bias_regularizer"):
            config[key] = regularizers.deserialize(config[key])
        return cls(**config)


@register
class LowRankDense(Dense):
    """A dense layer whose kernel is the product of two thin matrices: y = act(x U V + b).

    With U (in, rank) and V (rank, units), parameters and FLOPs per sample fall from
    in·units to rank·(in + units): fewer whenever rank < in·units / (in + units).

    Args:
        units: the number of outputs.
        rank: the inner dimension R, a positive integer.
        activation, use_bias, bias_initializer, kernel_regularizer, bias_regularizer, **kwargs:
            as Dense (the regularizer applies to U and V).
        kernel_initializer: "glorot_uniform" (default) initialises U and V so that the
            product keeps glorot's variance: Var(W) = R·Var(U)·Var(V) = 2 / (in + units),
            so each factor gets variance (2 / ((in + units)·R))^½, uniform.

    Example:
        >>> import numpy as np, densecore as dc
        >>> layer = dc.layers.LowRankDense(64, rank=8)
        >>> layer(np.ones((2, 100), np.float32)).shape
        (2, 64)
        >>> [w.shape for w in layer.get_weights()]
        [(100, 8), (8, 64), (64,)]
    """

    def __init__(self, units, rank, activation=None, **kwargs):
        super().__init__(units, activation=activation, **kwargs)
        if isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1:
            raise ValueError(f"LowRankDense: rank must be a positive integer. Received: rank={rank!r}")
        self.rank = int(rank)

    def build(self, input_shape):
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(
                f"LowRankDense '{self.name}': expects inputs of shape (batch, "
                f"features); received {tuple(input_shape)}."
            )
        Layer.build(self, input_shape)
        n_in = int(input_shape[-1])
        init = self.kernel_initializer
        if isinstance(init, initializers.GlorotUniform):
            init = _FactorUniform(n_in + self.units, self.rank, init.seed)
        self._u = self.add_weight("u", (n_in, self.rank), init, self.kernel_regularizer)
        self._v = self.add_weight("v", (self.rank, self.units), init, self.kernel_regularizer)
        self._kernel = self._u  # for the input-width check in call
        if self.use_bias:
            self._bias = self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer)

    u = property(lambda self: self._u, doc="The left factor U (in, rank), a Tensor.")
    v = property(lambda self: self._v, doc="The right factor V (rank, units), a Tensor.")
    kernel = property(
        lambda self: None if self._u is None else Tensor(self._u.data @ self._v.data),
        doc="The product U V (in, units), a new constant Tensor.",
    )

    _u = _v = None

    def call(self, inputs, training=None):
        if inputs.ndim != 2 or inputs.shape[1] != self._u.shape[0]:
            raise ValueError(
                f"Input of layer '{self.name}' is incompatible: expected shape (batch, "
                f"{self._u.shape[0]}); received {inputs.shape}."
            )
        return F.activated(F.lowrank_dense, self.activation, inputs, self._u, self._v, self._bias)

    def _infer(self, x: np.ndarray) -> np.ndarray:
        u, v = self._u.data, self._v.data
        b = None if self._bias is None else self._bias.data
        return F.activated_array(
            backend.kernels().lowrank_forward, self.activation, x.astype(u.dtype, copy=False), u, v, b
        )

    def flops_per_sample(self) -> int:
        if not self.built:
            return 0
        n_in = self._u.shape[0]
        return (
            kernel_flops.dense_flops(1, n_in, self.rank)
            - self.rank
            + kernel_flops.dense_flops(1, self.rank, self.units)
        )

    def get_config(self):
        return {**super().get_config(), "rank": self.rank}


class _FactorUniform(initializers.Initializer):
    """U(−l, l) with variance (2 / (fans · rank))^½ for each factor of a glorot product."""

    def __init__(self, fans, rank, seed=None):
        super().__init__(seed)
        self.fans, self.rank = fans, rank

    def sample(self, shape):
        std = (2.0 / (self.fans * self.rank)) ** 0.25
        return self._rng().uniform(-np.sqrt(3) * std, np.sqrt(3) * std, shape)


@register
class Dropout(Layer):
    """Zero a fraction `rate` of the inputs during training, scaling the rest by 1/(1 − rate)
    so the expected sum is unchanged; the identity at inference. The mask comes from a
    counter-based hash keyed by one draw of the seeded stream per call (kernels/dropout.py):
    the same for any thread count, and recomputed for the backward rather than stored.

    Args:
        rate: the fraction to drop, in [0, 1).
        seed: an integer for a mask stream of its own (default: densecore's seeded stream).
    """

    def __init__(self, rate, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ValueError(f"Dropout: rate must be a number in [0, 1); received rate={rate!r}.")
        self.rate = float(rate)
        self.seed = seed
        self._rng = None if seed is None else np.random.default_rng(seed)

    def call(self, inputs, training=None):
        if not training or self.rate == 0:
            return inputs
        rng = self._rng or dc_random.generator()  # one 64-bit draw per call keys the mask
        return F.dropout(inputs, self.rate, int(rng.integers(0, 2**63)))

    def _infer(self, x):
        return x  # the identity at inference

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}

    def gpu_problem(self, loss: bool):
        return None


@register
class Activation(Layer):
    """Apply an activation: "linear", "relu", "sigmoid", "tanh" or "softmax"."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = check_activation(activation, f"Activation '{self.name}'")

    def call(self, inputs, training=None):
        return F.ACTIVATIONS[self.activation](inputs)

    def _infer(self, x):
        return F.ARRAY_ACTIVATIONS[self.activation](x)

    def get_config(self):
        return {**super().get_config(), "activation": self.activation}


@register
class InputLayer(Layer):
    """Declares the input width of a Sequential model: `InputLayer(shape=(30,))`."""

    def __init__(self, shape=None, input_shape=None, **kwargs):
        shape = shape if shape is not None else input_shape
        if shape is None:
            raise ValueError("InputLayer: give shape=(features,).")
        super().__init__(input_shape=tuple(shape), **kwargs)

    def call(self, inputs, training=None):
        return inputs

    def _infer(self, x):
        return x

    def get_config(self):
        config = super().get_config()
        config["shape"] = config.pop("input_shape")
        return config

    def gpu_problem(self, loss: bool):
        return None


@register
class BatchNormalization(Layer):
    """Normalise each feature (the last axis) over the batch, then scale and shift, as Keras's.

    Training (fit):   y = γ (x − μ_B) / √(σ²_B + ε) + β, with μ_B and σ²_B the batch's mean
                      and (biased) variance per feature; the moving averages follow them,
                      m ← momentum · m + (1 − momentum) · μ_B, and likewise for the variance.
    Inference:        the same with the moving averages in place of μ_B and σ²_B; also in
                      fit when the layer is frozen (trainable=False), as in Keras 3.
    The math of the backward: functional.batch_norm.

    Args:
        axis: -1 (features last) only.  momentum: default 0.99.  epsilon: default 1e-3.
        center, scale: learn β, γ (default True).
        beta_initializer, gamma_initializer, moving_mean_initializer,
        moving_variance_initializer: default "zeros", "ones", "zeros", "ones".

    Weights, in Keras's order: gamma, beta (trainable), moving_mean, moving_variance (not).
    The cuda backend has no form of it yet.
    """

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer="zeros",
        gamma_initializer="ones",
        moving_mean_initializer="zeros",
        moving_variance_initializer="ones",
        **kwargs,
    ):
        super().__init__(**kwargs)
        where = f"BatchNormalization '{self.name}'"
        if axis != -1:
            raise ValueError(f"{where}: only axis=-1 (features last); received {axis!r}.")
        if not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
            raise ValueError(f"{where}: momentum must be in [0, 1]; received {momentum!r}.")
        if not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise ValueError(f"{where}: epsilon must be > 0; received {epsilon!r}.")
        self.axis, self.momentum, self.epsilon = -1, float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self._initializers = {
            "beta": initializers.get(beta_initializer),
            "gamma": initializers.get(gamma_initializer),
            "moving_mean": initializers.get(moving_mean_initializer),
            "moving_variance": initializers.get(moving_variance_initializer),
        }
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        super().build(input_shape)
        features, init = (int(input_shape[-1]),), self._initializers
        if self.scale:
            self.gamma = self.add_weight("gamma", features, init["gamma"])
        if self.center:
            self.beta = self.add_weight("beta", features, init["beta"])
        for name in ("moving_mean", "moving_variance"):  # statistics, not trained
            setattr(self, name, self.add_weight(name, features, init[name], trainable=False))

    def call(self, inputs, training=None):
        features = self.moving_mean.shape[0]
        if inputs.shape[-1] != features:
            raise ValueError(
                f"Input of layer '{self.name}' is incompatible: expected (batch, ..., {features}); "
                f"received {inputs.shape}."
            )
        if not (training and self.trainable):
            return F.batch_norm(
                inputs, self.gamma, self.beta, self.moving_mean.data, self.moving_variance.data, self.epsilon
            )
        rows = inputs.data.reshape(-1, features)
        mean, variance = rows.mean(axis=0), rows.var(axis=0)
        for moving, batch in ((self.moving_mean, mean), (self.moving_variance, variance)):
            moving.data *= self.momentum
            moving.data += (1.0 - self.momentum) * batch
        return F.batch_norm(inputs, self.gamma, self.beta, mean, variance, self.epsilon, batch_stats=True)

    def _infer(self, x):
        gamma, beta = (None if t is None else t.data for t in (self.gamma, self.beta))
        stats = self.moving_mean.data, self.moving_variance.data
        return F.batch_norm_values(x, gamma, beta, *stats, self.epsilon)[0]

    def flops_per_sample(self) -> int:
        return 2 * int(self.moving_mean.shape[0]) if self.built else 0  # one multiply-add per feature

    def get_config(self):
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
        }


@register
class Flatten(Layer):
    """Flatten each sample to one axis: (batch, d1, d2, ...) → (batch, d1·d2·…), as Keras's
    (e.g. 8×8 images into the 64 features a Dense layer takes). No weights, no arithmetic."""

    def call(self, inputs, training=None):
        return inputs.reshape(inputs.shape[0], -1)

    def _infer(self, x):
        return x.reshape(len(x), -1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], int(np.prod(input_shape[1:], dtype=np.int64)))

    def gpu_problem(self, loss: bool):
        return None


def Input(shape, name=None):
    """Keras's `Input(shape=...)` for the first entry of a Sequential model."""
    return InputLayer(shape=shape, name=name)
