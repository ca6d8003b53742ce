"""Layers: `build(input_shape)` creates the weights once the input width is known,
`call(inputs)` is the math (Keras's split).

    Dense(units)       y = act(x W + b)             W (in, units), b (units,)
    Dropout(rate)      y = x ⊙ m / (1 − rate)      m ~ Bernoulli(1 − rate), training only
    Activation(name)   y = act(x)
"""

import contextlib
import inspect
import itertools
import threading
import warnings
from collections import defaultdict

import numpy as np

from ..engine import backend, device
from ..engine import functional as F
from ..engine import random as dc_random
from ..engine.tensor import Tensor, as_tensor, no_grad
from ..kernels import activations
from ..kernels import flops as kernel_flops
from . import constraints, graph, initializers, registry, regularizers

_names = defaultdict(itertools.count)


class _Phase(threading.local):
    """The learning phase of the model call in progress, per thread: a predict in one thread
    while another trains sees training=False (no dropout)."""

    training = False


_phase = _Phase()


class _CallContext(threading.local):
    """The layer whose call started the forward pass in progress, per thread: the losses that
    layers add with add_loss are cleared when an outermost call begins (Keras's rule), so
    `model.losses` holds those of the last forward pass."""

    entry = None


_calls = _CallContext()


@contextlib.contextmanager
def _forward_pass(layer):
    """Around a layer's call: the outermost call clears every layer's added losses first."""
    if _calls.entry is not None:
        yield
        return
    _calls.entry = layer
    layer._clear_losses()
    try:
        yield
    finally:
        _calls.entry = None


class _Activation:
    """The `activation` attribute of a layer: stored by its canonical name (None is
    "linear"), checked when set, so `layer.activation = "relu"` on a built layer takes
    effect at its next call, as in Keras.

    A callable is taken too, as Keras does: densecore's own functions on Tensors
    (`dc.engine.functional.relu`, ...) become their names, so they keep the fused kernels;
    another (a function of yours on Tensors) is kept and applied as nodes after the product.
    It is saved by name (`activation_name`) and a name that is not densecore's is found at
    load among the registered functions and custom_objects (registry.lookup)."""

    def __set_name__(self, owner, name):
        self.slot = "_" + name

    def __get__(self, layer, owner=None):
        return self if layer is None else layer.__dict__.get(self.slot, "linear")

    def __set__(self, layer, value):
        where = f"{type(layer).__name__} '{layer.name}'"
        if callable(value):
            own = next((name for name, fn in F.ACTIVATIONS.items() if fn is value), None)
            layer.__dict__[self.slot] = own or value
            return
        if isinstance(value, str) and value not in ACTIVATIONS:
            found = registry.lookup(value)
            if callable(found) and not isinstance(found, type):
                layer.__dict__[self.slot] = found
                return
            short = value.rpartition(">")[2]
            raise ValueError(
                f"{where}: unknown activation {value!r}; expected one of {list(ACTIVATIONS)}, None, a "
                f"function on Tensors, or the name of one of yours (register it with "
                f"@densecore.saving.register_serializable() or pass custom_objects={{{short!r}: {short}}})"
            )
        layer.__dict__[self.slot] = check_activation(value, where)


def activation_name(activation) -> str:
    """How a layer's activation is saved: its name; a function of yours by the name it is
    registered under, else its own `__name__` (a lambda cannot be found again: refused)."""
    if isinstance(activation, str):
        return activation
    name = getattr(activation, "_registered_name", None) or getattr(activation, "__name__", None)
    if not isinstance(name, str) or name == "<lambda>":
        raise ValueError(
            f"the activation {activation!r:.60} has no name to be saved under; use a named function "
            f"(def), registered with @densecore.saving.register_serializable() or given at load "
            f"in custom_objects."
        )
    return name


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


def serialize(layer) -> dict:
    """A layer as Keras's `keras.layers.serialize` writes it: {"module", "class_name",
    "config", "registered_name"}; `deserialize` makes it again.

    Example:
        >>> import densecore as dc
        >>> config = dc.layers.serialize(dc.layers.Dense(3, name="d"))
        >>> config["class_name"], dc.layers.deserialize(config).units
        ('Dense', 3)
    """
    cls = type(layer)
    builtin = ALL.get(cls.__name__) is cls
    return {
        "module": "densecore.layers" if builtin else None,
        "class_name": cls.__name__,
        "config": {  # layers held in the config are serialized too (Keras's recursion)
            key: serialize(value) if isinstance(value, Layer) else value
            for key, value in layer.get_config().items()
        },
        "registered_name": cls.__name__ if builtin else registry.get_registered_name(cls),
    }


def deserialize(config, custom_objects=None):
    """The layer `serialize` described (a class of yours: registered, or in custom_objects);
    a layer given as it is comes back unchanged."""
    if isinstance(config, Layer):
        return config
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError(
            f"layers.deserialize: expected {{'class_name': ..., 'config': {{...}}}}; received {config!r:.80}"
        )
    names = (config.get("registered_name"), config.get("class_name"))
    with registry.custom_object_scope(custom_objects):
        cls = next(
            (c for n in names if n for c in (ALL.get(n), registry.lookup(n), MODELS.get(n)) if c), None
        )
    if cls is None:
        raise ValueError(
            f"layers.deserialize: unknown layer class {config.get('class_name')!r}; register it with "
            f"@densecore.saving.register_serializable() or pass custom_objects."
        )
    return cls.from_config(config["config"])


def register(cls):
    """Class decorator: make a layer class known to load_model by its class name."""
    ALL[cls.__name__] = cls
    return cls


ALL = {}  # class name -> layer class, filled by @register
MODELS = {}  # class name -> Model subclass (each registers itself), so load_model can rebuild it


class learning_phase(contextlib.ContextDecorator):
    """Within this block layers called without `training=` behave as in training or not.
    (A class, like `no_grad`: predict enters one on every call.)"""

    __slots__ = ("_training", "_saved")

    def __init__(self, training: bool):
        self._training = bool(training)

    def __enter__(self):
        self._saved = _phase.training
        _phase.training = self._training
        return self

    def __exit__(self, *exc):
        _phase.training = self._saved
        return False


def _checked_shape(where, shape) -> tuple:
    """A weight's shape as a tuple of non-negative ints, or a ValueError saying what was given."""
    dims = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    if not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0 for d in dims):
        raise ValueError(
            f"{where}: shape must be a tuple of non-negative integers. Received: shape={shape!r}"
        )
    return tuple(int(d) for d in dims)


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


def _is_array(value) -> bool:
    return isinstance(value, (Tensor, np.ndarray)) or device.is_device(value)


def _nested(value) -> bool:
    """Whether `value` is a structure of inputs (a tuple/list holding a Tensor or array,
    possibly within further tuples/lists) rather than one array written as nested lists."""
    return isinstance(value, (list, tuple)) and any(_is_array(v) or _nested(v) for v in value)


def _tensors_in(value):
    """The same structure, each array a Tensor (other leaves, such as None, as they are)."""
    if isinstance(value, (list, tuple)) and _nested(value):
        return type(value)(_tensors_in(v) for v in value)
    return as_tensor(value) if _is_array(value) or isinstance(value, (list, tuple)) else value


def _shapes_of(value):
    """The structure of shapes (batch first, as None) of a structure of Tensors."""
    if isinstance(value, (list, tuple)):
        return type(value)(_shapes_of(v) for v in value)
    return (None, *value.shape[1:]) if isinstance(value, Tensor) else None


def _argument_names(args, kwargs) -> str:
    return ", ".join([f"#{i + 1} ({type(a).__name__})" for i, a in enumerate(args)] + sorted(kwargs))


class Layer:
    """Base class of every layer and of Model.

    Args:
        name: the layer's name (default: from the class, made unique: dense, dense_1, ...).
        trainable: whether the optimizer updates its weights.
        input_shape: (features,) to build the layer before it sees data, as in Keras.
        input_dim: the same as input_shape=(input_dim,).
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        parameters = inspect.signature(cls.call).parameters.values()
        kinds = [p.kind for p in parameters][1:]  # after self
        if not kinds or kinds[0] not in (
            inspect.Parameter.POSITIONAL_ONLY,
            inspect.Parameter.POSITIONAL_OR_KEYWORD,
            inspect.Parameter.VAR_POSITIONAL,
        ):
            raise TypeError(
                f"{cls.__name__}.call must take the inputs as its first argument after self, "
                f"e.g. def call(self, inputs); received call{inspect.signature(cls.call)}."
            )
        names = {p.name for p in parameters}
        cls._call_takes_training = "training" in names or inspect.Parameter.VAR_KEYWORD in kinds

    def __init__(
        self,
        name=None,
        trainable=True,
        input_shape=None,
        input_dim=None,
        dtype=None,
        activity_regularizer=None,
    ):
        object.__setattr__(self, "_layers", [])
        self.name = name or _unique_name(_snake(type(self).__name__))
        self._weights = []
        self._regularized = []
        self._losses = []
        self.activity_regularizer = regularizers.get(activity_regularizer)
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
    def add_weight(
        self,
        *args,
        shape=None,
        initializer=None,
        dtype=None,
        trainable=True,
        regularizer=None,
        constraint=None,
        name=None,
    ):
        """Create, record and return a weight Tensor, as Keras 3's `add_weight`.

        Args:
            shape: the weight's shape (default () : a scalar); also the first positional
                argument, then initializer and dtype, as in Keras.
            initializer: a name ("glorot_uniform", "zeros", ...) or an Initializer; default
                "glorot_uniform" (Keras's for float weights).
            dtype: "float32" (default) or "float64".
            trainable: whether the optimizer updates it (default True).
            regularizer: a name or a Regularizer whose penalty joins the loss.
            constraint: a callable applied to the weight after each optimizer update.
            name: the weight's name (default "weight_<n>").

        Example:
            >>> import densecore as dc
            >>> class Scale(dc.layers.Layer):
            ...     def build(self, input_shape):
            ...         self.w = self.add_weight(shape=(input_shape[-1],), initializer="ones")
            ...     def call(self, inputs):
            ...         return inputs * self.w
            >>> Scale()(dc.Tensor([[1.0, 2.0]])).numpy().tolist()
            [[1.0, 2.0]]
        """
        where = f"{type(self).__name__} '{self.name}'.add_weight"
        if args and isinstance(args[0], str):  # densecore 0.1's add_weight(name, shape, ...)
            warnings.warn(
                f"{where}: add_weight(name, shape, ...) is deprecated; use Keras's "
                f"add_weight(shape=..., initializer=..., name='{args[0]}').",
                DeprecationWarning,
                stacklevel=2,
            )
            legacy = dict(zip(("name", "shape", "initializer", "regularizer", "trainable"), args))
            name, shape = legacy["name"], legacy.get("shape", shape)
            initializer = legacy.get("initializer", initializer or "zeros")
            regularizer = legacy.get("regularizer", regularizer)
            trainable = legacy.get("trainable", trainable)
        elif args:
            if len(args) > 3:
                raise TypeError(f"{where}: at most 3 positional arguments (shape, initializer, dtype).")
            given = dict(zip(("shape", "initializer", "dtype"), args))
            for key in given:
                if {"shape": shape, "initializer": initializer, "dtype": dtype}[key] is not None:
                    raise ValueError(f"{where}: {key} given both positionally and as a keyword.")
            shape = given.get("shape", shape)
            initializer = given.get("initializer", initializer)
            dtype = given.get("dtype", dtype)
        shape = _checked_shape(where, () if shape is None else shape)
        dtype = np.dtype("float32" if dtype is None else dtype)
        if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"{where}: dtype must be float32 or float64. Received: dtype={dtype}")
        if constraint is not None and not callable(constraint):
            raise TypeError(f"{where}: constraint must be callable. Received: constraint={constraint!r}")
        data = initializers.get("glorot_uniform" if initializer is None else initializer)(shape, dtype)
        weight = Tensor(np.asarray(data, dtype).reshape(shape), requires_grad=trainable and self._trainable)
        weight.name = f"{self.name}/{name or f'weight_{len(self._weights)}'}"
        weight._trainable = trainable
        weight.constraint = constraint
        self._weights.append(weight)
        regularizer = regularizers.get(regularizer)
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

    # ---- losses ------------------------------------------------------------------------
    def add_loss(self, loss) -> None:
        """Add a scalar loss from inside `call` (e.g. an activity penalty): fit adds it to the
        training loss of this forward pass, and `losses` lists it, as in Keras.

        Example:
            >>> import densecore as dc
            >>> class Penalised(dc.layers.Layer):
            ...     def call(self, inputs):
            ...         self.add_loss((inputs * inputs).sum() * 0.01)
            ...         return inputs
            >>> layer = Penalised()
            >>> _ = layer(dc.Tensor([[3.0, 4.0]]))
            >>> [round(float(loss.item()), 2) for loss in layer.losses]
            [0.25]
        """
        loss = as_tensor(loss)
        if loss.size != 1:
            raise ValueError(
                f"add_loss on '{self.name}': the loss must be a scalar. "
                f"Received: a tensor of shape {loss.shape}"
            )
        self._losses.append(loss)

    def _clear_losses(self) -> None:
        self._losses.clear()
        for layer in self._layers:
            layer._clear_losses()

    @property
    def losses(self) -> list:
        """The scalar losses of this layer and its sublayers, as Keras's: those added by
        `add_loss` during the last forward pass, then the regularizers' penalties of the
        trainable weights, for their current values."""
        added = self._losses + [loss for layer in self.iter_layers() for loss in layer._losses]
        return added + self._weight_penalties()

    def _weight_penalties(self) -> list:
        own = [reg(w) for w, reg in self._regularized if w.requires_grad]
        return own + [p for layer in self._layers for p in layer._weight_penalties()]

    def regularization_losses(self) -> list:
        """The same as `losses` (the name densecore 0.1 had)."""
        return self.losses

    # ---- calling -----------------------------------------------------------------------
    def build(self, input_shape) -> None:
        """Create the weights for inputs of `input_shape` (batch first). This default, for a
        layer whose weights live in its sublayers, calls the layer once on a row of zeros so
        that they build (Keras builds such a layer by a symbolic call): a model loaded from a
        file is then built before its weights are put in place."""
        self.input_shape = tuple(input_shape)
        self.built = True
        dims = self.input_shape[1:]
        if self._layers and type(self).call is not Layer.call and all(isinstance(d, int) for d in dims):
            if not all(layer.built for layer in self.iter_layers()):
                with no_grad(), learning_phase(False):
                    self(Tensor(np.zeros((1, *dims), np.float32)))

    def call(self, inputs, training=None):
        """The layer's math on a Tensor; subclasses implement it."""
        raise NotImplementedError

    _takes_list = False  # merge layers take a list of inputs (densecore.nn.merging)

    def __call__(self, inputs, *args, training=None, **kwargs):
        """Build the layer on its first call, then run `call`, as Keras's Layer.__call__.

        `inputs` is a Tensor (or array-like), or a nested tuple/list of them (as the VAE's
        `Sampling()((z_mean, z_log_var))`): `call` receives the same structure with each
        array as a Tensor, and `build` the structure of their shapes. Further positional and
        keyword arguments go to `call` as given (Keras's `layer(x, mask, training=...)`);
        `training` goes only to a `call` that takes it, and also sets the learning phase of
        the sublayers. On symbolic tensors (the functional API) a node is recorded instead;
        there the inputs are the only arguments.
        """
        if graph.is_symbolic(inputs):  # the functional API: record a node, compute nothing
            if kwargs or not all(isinstance(a, graph.SymbolicTensor) for a in args):
                raise TypeError(
                    f"{type(self).__name__} '{self.name}': called on symbolic tensors (the functional "
                    f"API) with further arguments {_argument_names(args, kwargs)}; in a functional "
                    f"model a layer takes symbolic tensors only, as positional arguments (call the "
                    f"layer on Tensors, e.g. in a subclassed Model's call, to pass anything else)."
                )
            return graph.symbolic_call(self, inputs, args)
        if self._takes_list and isinstance(inputs, (list, tuple)):
            x = [as_tensor(v) for v in inputs]
            shape = [(None, *v.shape[1:]) for v in x]
        elif _nested(inputs):
            x = _tensors_in(inputs)
            shape = _shapes_of(x)
        else:
            x = as_tensor(inputs)
            shape = (None, *x.shape[1:])
        if not self.built:
            self.build(shape)
            self.built = True
        phase = contextlib.nullcontext() if training is None else learning_phase(training)
        with _forward_pass(self), phase:  # an explicit training= reaches the sublayers too
            if self._call_takes_training:
                out = self.call(x, *args, training=_phase.training, **kwargs)
            else:  # a call(self, inputs), as Keras's guides write them
                out = self.call(x, *args, **kwargs)
            if self.activity_regularizer is not None:  # per sample, as Keras 3
                rows = out.shape[0] if out.ndim else 1
                self.add_loss(self.activity_regularizer(out) * (1.0 / max(rows, 1)))
        if _taps.record and self in _taps.record:
            _taps.record[self](self, x, out)
        return out

    @property
    def output(self):
        """The symbolic output of this layer's first call on symbolic tensors (Keras's
        `layer.output`): where transfer learning puts a new head.

        Example:
            >>> import densecore as dc
            >>> inputs = dc.Input(shape=(4,))
            >>> hidden = dc.layers.Dense(8)
            >>> hidden(inputs).shape == hidden.output.shape == (None, 8)
            True
        """
        return self._first_node("output").output

    @property
    def input(self):
        """The symbolic input(s) of this layer's first call on symbolic tensors."""
        node = self._first_node("input")
        return node.call_args(node.inputs) if node.inputs else node.output

    def _first_node(self, what):
        nodes = vars(self).get("_inbound_nodes")
        if not nodes:
            raise AttributeError(
                f"Layer '{self.name}' has never been called on symbolic tensors and thus has no "
                f"defined {what}; build a functional model (dc.Input, then call the layers)."
            )
        return nodes[0]

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

    def symbolic_output_shape(self, node) -> tuple:
        """The shape of what this layer makes at `node` (a call on symbolic tensors, see
        densecore.nn.graph). A layer whose class defines compute_output_shape (every
        densecore layer does, or keeps the shape) answers with it. A user's layer that does
        not is traced as Keras traces it (compute_output_spec): its call runs once on zeros
        of batch 1, with no gradient, in inference mode, its weights put back afterwards and
        its add_loss losses dropped; the output's shape, batch axis None, is the answer."""
        shapes = node.shape_args()
        own = type(self).compute_output_shape is not Layer.compute_output_shape
        if own or type(self).__module__.startswith("densecore."):
            return self.compute_output_shape(*graph.shapes_for(self.compute_output_shape, shapes))
        where = f"{type(self).__name__} '{self.name}'"
        for t in node.inputs:
            if not all(isinstance(d, int) for d in t.shape[1:]):
                raise ValueError(
                    f"{where}: cannot trace its output shape for inputs of shape {t.shape} (an axis "
                    f"besides the batch is unknown); define compute_output_shape."
                )
        zeros = [Tensor(np.zeros((1, *t.shape[1:]), np.float32)) for t in node.inputs]
        saved = [(w, w.data.copy()) for w in self.weights]
        try:
            with no_grad(), learning_phase(False):
                out = node.call(zeros)  # (a list for a list call: Node.call_args)
        finally:
            for w, data in saved:
                w.data[...] = data
            for layer in (self, *self.iter_layers()):
                layer._losses.clear()
        if not isinstance(out, Tensor):
            raise TypeError(
                f"{where}: its call returned {type(out).__name__}; a layer in a functional model "
                f"returns one tensor."
            )
        return (None, *out.shape[1:])

    def flops_per_sample(self) -> int:
        """Forward FLOPs for one sample (0 for layers without arithmetic worth counting)."""
        return 0

    def get_config(self) -> dict:
        """The constructor arguments as plain JSON values, for saving."""
        config = {"name": self.name, "trainable": self.trainable}
        if self._declared_input is not None:
            config["input_shape"] = list(self._declared_input[1:])
        if self.activity_regularizer is not None:
            config["activity_regularizer"] = regularizers.serialize(self.activity_regularizer)
        return config

    @classmethod
    def from_config(cls, config: dict):
        """A new layer from `get_config()`'s output."""
        config = dict(config)
        if isinstance(config.get("activity_regularizer"), dict):
            config["activity_regularizer"] = regularizers.deserialize(config["activity_regularizer"])
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

    activation = _Activation()

    def __init__(
        self,
        units,
        activation=None,
        use_bias=True,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if isinstance(units, bool) or not isinstance(units, (int, np.integer)) or units < 1:
            raise ValueError(f"Dense: units must be a positive integer. Received: units={units!r}")
        self.units = int(units)
        self.activation = activation
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        self._kernel = self._bias = None

    def build(self, input_shape):
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"Dense '{self.name}': expects inputs of shape (batch, ..., features); "
                f"received {tuple(input_shape)}."
            )
        super().build(input_shape)
        n_in = int(input_shape[-1])
        self._kernel = self.add_weight(
            shape=(n_in, self.units),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            name="kernel",
        )
        self._add_bias()

    def _add_bias(self):
        if self.use_bias:
            self._bias = self.add_weight(
                shape=(self.units,),
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                name="bias",
            )

    kernel = property(lambda self: self._kernel, doc="The kernel W (in, units), a Tensor.")
    bias = property(lambda self: self._bias, doc="The bias b (units,), a Tensor, or None.")

    @kernel.setter
    def kernel(self, value):
        """Assigning an array of the same shape replaces W (as the article's code does)."""
        self.set_weights([value] + ([self._bias.data] if self.use_bias else []))

    def call(self, inputs, training=None):
        """y = act(x W + b); on inputs of more than two axes, applied to the last one (as
        Keras): the leading axes are flattened into rows for the product, then restored."""
        n_in = self._kernel.shape[0]
        if inputs.ndim < 2 or inputs.shape[-1] != n_in:
            raise ValueError(
                f"Input of layer '{self.name}' is incompatible: expected shape (batch, {n_in}) "
                f"or (batch, ..., {n_in}); received {inputs.shape}."
            )
        if inputs.ndim > 2:
            rows = inputs.reshape(-1, n_in)
            y = F.activated(F.dense, self.activation, rows, self._kernel, self._bias)
            return y.reshape(*inputs.shape[:-1], self.units)
        return F.activated(F.dense, self.activation, inputs, self._kernel, self._bias)

    def _infer(self, x: np.ndarray) -> np.ndarray:
        """call() on a numpy array, for predict: the same kernel, no Tensors, no graph."""
        w = self._kernel.data
        b = None if self._bias is None else self._bias.data
        rows = x.reshape(-1, x.shape[-1]).astype(w.dtype, copy=False)
        y = F.activated_array(backend.kernels().dense_forward, self.activation, rows, w, b)
        return y if x.ndim == 2 else y.reshape(*x.shape[:-1], self.units)

    def compute_output_shape(self, input_shape):
        return (*tuple(input_shape)[:-1], self.units)

    def flops_per_sample(self) -> int:
        return kernel_flops.dense_flops(1, self._kernel.shape[0], self.units) if self.built else 0

    def gpu_problem(self, loss: bool):
        if type(self) not in (Dense, LowRankDense):  # a subclass may compute something else
            return super().gpu_problem(loss)
        if loss and (self._regularized or self.activity_regularizer is not None):
            return f"the regularizers of '{self.name}'"  # the penalties have no device form
        if loss and (self.kernel_constraint is not None or self.bias_constraint is not None):
            return f"the constraints of '{self.name}'"
        if self.input_shape is not None and len(self.input_shape) > 2:
            return f"Dense '{self.name}' on inputs of more than two axes"
        if callable(self.activation):
            return (
                f"the activation {activation_name(self.activation)!r} of '{self.name}' (a function of yours)"
            )
        return None

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": activation_name(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": regularizers.serialize(self.bias_regularizer),
            **{
                key: constraints.serialize(value)
                for key, value in (
                    ("kernel_constraint", self.kernel_constraint),
                    ("bias_constraint", self.bias_constraint),
                )
                if value is not None  # (absent when unset: files of densecore 0.1 have none)
            },
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("kernel_initializer", "bias_initializer"):
            config[key] = initializers.deserialize(config[key])
        for key in ("kernel_regularizer", "bias_regularizer", "activity_regularizer"):
            if key in config:
                config[key] = regularizers.deserialize(config[key])
        for key in ("kernel_constraint", "bias_constraint"):
            if key in config:
                config[key] = constraints.deserialize(config[key])
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
        if self.kernel_constraint is not None:  # a constraint on W = U V has no per-factor form
            raise ValueError(
                f"LowRankDense '{self.name}': kernel_constraint is not supported (W = U V is a product). "
                f"Received: kernel_constraint={self.kernel_constraint!r}"
            )
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
        self._u = self.add_weight(
            shape=(n_in, self.rank), initializer=init, regularizer=self.kernel_regularizer, name="u"
        )
        self._v = self.add_weight(
            shape=(self.rank, self.units), initializer=init, regularizer=self.kernel_regularizer, name="v"
        )
        self._kernel = self._u  # for the input-width check in call
        self._add_bias()

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

    activation = _Activation()

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activation

    def call(self, inputs, training=None):
        if callable(self.activation):
            return as_tensor(self.activation(inputs))
        return F.ACTIVATIONS[self.activation](inputs)

    def _infer(self, x):
        if callable(self.activation):
            return F.apply_array(self.activation, x)
        return F.ARRAY_ACTIVATIONS[self.activation](x)

    def get_config(self):
        return {**super().get_config(), "activation": activation_name(self.activation)}


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
        beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint: None
            (default), names or objects, as Dense's.

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
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
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
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.beta_constraint = constraints.get(beta_constraint)
        self.gamma_constraint = constraints.get(gamma_constraint)
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape):
        super().build(input_shape)
        features, init = (int(input_shape[-1]),), self._initializers
        if self.scale:
            self.gamma = self.add_weight(
                shape=features,
                initializer=init["gamma"],
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                name="gamma",
            )
        if self.center:
            self.beta = self.add_weight(
                shape=features,
                initializer=init["beta"],
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                name="beta",
            )
        for name in ("moving_mean", "moving_variance"):  # statistics, not trained
            setattr(
                self,
                name,
                self.add_weight(shape=features, initializer=init[name], trainable=False, name=name),
            )

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
        extras = {  # (absent when unset: files of densecore 0.1 have none)
            key: serialize(value)
            for key, value, serialize in (
                ("beta_regularizer", self.beta_regularizer, regularizers.serialize),
                ("gamma_regularizer", self.gamma_regularizer, regularizers.serialize),
                ("beta_constraint", self.beta_constraint, constraints.serialize),
                ("gamma_constraint", self.gamma_constraint, constraints.serialize),
            )
            if value is not None
        }
        return {
            **super().get_config(),
            "momentum": self.momentum,
            "epsilon": self.epsilon,
            "center": self.center,
            "scale": self.scale,
            **extras,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("beta_regularizer", "gamma_regularizer"):
            if isinstance(config.get(key), dict):
                config[key] = regularizers.deserialize(config[key])
        for key in ("beta_constraint", "gamma_constraint"):
            if isinstance(config.get(key), dict):
                config[key] = constraints.deserialize(config[key])
        return super().from_config(config)


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


def Input(shape=None, batch_size=None, dtype=None, name=None):
    """Keras's `Input(shape=...)`: a symbolic tensor of shape (None, *shape) to call layers
    on (the functional API, densecore.nn.graph), or the first entry of a Sequential model.

    Args:
        shape: the shape of one sample, e.g. (30,).
        batch_size: accepted for Keras compatibility; must be None (the batch size is free).
        dtype: "float32" (default) or "float64".
        name: the name of its InputLayer.

    Example:
        >>> import densecore as dc
        >>> inputs = dc.Input(shape=(30,))
        >>> inputs.shape
        (None, 30)
        >>> outputs = dc.layers.Dense(1, activation="sigmoid")(inputs)
        >>> dc.Model(inputs, outputs).count_params()
        31
    """
    if shape is None:
        raise ValueError("Input: give shape=(features,).")
    if batch_size is not None:
        raise ValueError(f"Input: densecore's batch size is free; pass batch_size=None, not {batch_size!r}.")
    dtype = str(np.dtype(dtype or "float32"))
    if dtype not in ("float32", "float64"):
        raise ValueError(f"Input: dtype must be float32 or float64; received {dtype}.")
    layer = InputLayer(shape=shape, name=name)
    layer.build(layer._declared_input)
    return graph.Node(layer, [], "one", layer._declared_input, dtype).output


def __getattr__(name):
    """The layers registered in other modules of densecore.nn (merge layers: Add, Concatenate,
    ...) are reachable as densecore.layers.<Name>, as in Keras."""
    cls = ALL.get(name)
    if cls is not None and cls.__module__ == "densecore.nn.merging":
        return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
