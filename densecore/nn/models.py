"""Model (subclass it and write `call`) and Sequential (a stack of layers).

class SimpleNet(dc.Model):
    def __init__(self):
        super().__init__()
        self.dense1 = dc.layers.Dense(10, activation="relu")   # tracked, in order
        self.dense2 = dc.layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        return self.dense2(self.dense1(inputs))
"""

import contextlib
import inspect
import json

import numpy as np

from ..engine import device
from ..engine.tensor import Tensor, as_tensor, no_grad
from . import graph, merging, registry, saving, training  # noqa: F401  (merging: registers the merge layers)
from . import inputs as inputs_module
from .layers import (
    ALL,
    MODELS,
    Input,
    InputLayer,
    Layer,
    _forward_pass,
    _phase,
    learning_phase,
    tapping,
)
from .training import Trainer


def _infers_arrays(layer) -> bool:
    """Whether predict's fast path may run `layer` as `layer._infer(array)`: its own class
    (not only a parent) defines `_infer`, so a subclass that overrides `call` alone keeps the
    usual path, and no `call` was patched onto the instance."""
    return "_infer" in vars(type(layer)) and "call" not in vars(layer)


def checked_input_shape(where: str, input_shape) -> tuple:
    """(None, d1, ...): what a model is built for, each d a positive integer (ValueError
    naming `where` otherwise). (None, features) for most models; more axes before a Flatten."""
    shape = tuple(input_shape) if isinstance(input_shape, (tuple, list)) else None
    dims = shape[1:] if shape else ()
    if not dims or not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in dims
    ):
        raise ValueError(
            f"{where}: expected (None, features) or (None, d1, d2, ...); received {input_shape}."
        )
    return (None, *(int(d) for d in dims))


class Model(Trainer, Layer):
    """A network: layers assigned as attributes are tracked; `call(inputs)` is the forward.

    Subclass it, create layers in `__init__`, and compute the output in `call`. The model
    builds on its first call (or on `build((None, features))`).

    Example:
        >>> import numpy as np, densecore as dc
        >>> class Net(dc.Model):
        ...     def __init__(self):
        ...         super().__init__()
        ...         self.hidden = dc.layers.Dense(8, activation="relu")
        ...         self.out = dc.layers.Dense(1)
        ...     def call(self, inputs):
        ...         return self.out(self.hidden(inputs))
        >>> Net().predict(np.ones((2, 3))).shape
        (2, 1)
    """

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)  # Layer's: _call_takes_training from call()
        if "_functional_of" not in cls.__dict__:  # (not the functional form of a subclass)
            MODELS[cls.__name__] = cls

    def __new__(cls, *args, **kwargs):
        """`Model(inputs, outputs)` is Keras's functional API: it makes a Functional model.
        A subclass called so (`CustomModel(inputs, outputs)`, Keras's pattern for overriding
        train_step on a functional model) makes a functional model of that subclass: an
        instance of CustomModel (its name, its overrides) and of Functional (the graph)."""
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return super().__new__(Functional)
        if not issubclass(cls, (Functional, Sequential)) and _functional_arguments(args, kwargs):
            return super().__new__(_functional_class(cls))
        return super().__new__(cls)

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(
                f"{type(self).__name__}: Model.__init__ takes inputs and outputs (symbolic tensors "
                f"of densecore.Input) or none; received {len(args)} positional arguments."
            )
        super().__init__(**kwargs)
        self.compiled = False
        self.stop_training = False
        self.optimizer = None

    def __setattr__(self, key, value):
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, Layer) for v in value):
            for layer in value:  # a list of layers is tracked too, as in Keras
                if layer not in self._layers:
                    self._layers.append(layer)
        super().__setattr__(key, value)

    @property
    def layers(self) -> list:
        """The tracked layers, in the order they were assigned or added."""
        return [layer for layer in self._layers if not isinstance(layer, InputLayer)]

    def get_layer(self, name=None, index=None):
        """A layer by its name or its index in `layers`, as keras.Model.get_layer.

        Raises:
            ValueError: for neither or both, an index out of range, or no layer of that name
                (the message lists the names there are).
        """
        layers = self.layers
        if (name is None) == (index is None):
            raise ValueError(f"get_layer: give a name or an index, not {'both' if name else 'neither'}.")
        if index is not None:
            if (
                isinstance(index, bool)
                or not isinstance(index, (int, np.integer))
                or not -len(layers) <= index < len(layers)
            ):
                raise ValueError(f"get_layer: index {index!r} is out of range for {len(layers)} layers.")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"get_layer: no layer named {name!r}; the layers are {[layer.name for layer in layers]}."
        )

    def __call__(self, inputs, training=None):
        if graph.is_symbolic(inputs):  # a model is a layer of a functional model too
            return graph.symbolic_call(self, inputs)
        x = self._as_inputs(inputs)
        phase = contextlib.nullcontext() if training is None else learning_phase(training)
        with _forward_pass(self), phase:  # clears the layers' add_loss losses, as Layer's
            return self._forward(x)

    def _as_inputs(self, inputs):
        return as_tensor(inputs)

    def compute_output_shape(self, input_shape):
        """The output shape for inputs of `input_shape`, from the built model."""
        if not self.built:
            self.build(input_shape)
        return self.output_shape

    def _forward(self, x):
        if not self.built:
            self.input_shape = (None, *x.shape[1:])
            self.built = True
        if type(self)._call_takes_training:
            return self.call(x, training=_phase.training)
        return self.call(x)

    def call(self, inputs, training=None):
        """The forward pass; subclasses implement it."""
        raise NotImplementedError("Subclasses of densecore.Model implement call(inputs).")

    def build(self, input_shape):
        """Create every weight for inputs of `input_shape` = (None, features)."""
        input_shape = checked_input_shape(f"{self.name}.build", input_shape)
        with no_grad(), learning_phase(False):
            self(Tensor(np.zeros((1, *input_shape[1:]), np.float32)))

    @property
    def output_shape(self):
        """The output shape (None, ...) of the built model."""
        if not self.built:
            raise ValueError(f"Model '{self.name}' is not built yet: call it on data or build() it.")
        with no_grad(), learning_phase(False):
            out = self(Tensor(np.zeros((1, *self.input_shape[1:]), np.float32)))
        return (None, *out.shape[1:])

    # ---- description -------------------------------------------------------------------
    def summary(self, print_fn=print) -> None:
        """Print each layer's output shape, parameters and FLOPs per sample, and totals."""
        if not self.built:
            raise ValueError(
                f"summary: model '{self.name}' is not built; call it on data, "
                f"fit it, or build((None, features)) first."
            )
        rows = [
            (
                f"{layer.name} ({type(layer).__name__})",
                str(shape),
                f"{layer.count_params():,}",
                _bytes(_layer_bytes(layer)),
                f"{layer.flops_per_sample():,}",
                *connected,
            )
            for layer, shape, *connected in self._summary_rows()
        ]
        head = ("Layer (type)", "Output Shape", "Param #", "Bytes", "FLOPs/sample", "Connected to")
        head = head[: max(len(r) for r in rows)] if rows else head[:5]
        widths = [max(len(r[i]) for r in rows + [head]) + 2 for i in range(len(head))]

        def line(cells):
            return "".join(
                c.ljust(w) if i < 2 else c.rjust(w) if i < 5 else "  " + c.ljust(w)
                for i, (c, w) in enumerate(zip(cells, widths))
            )

        rule = "─" * (sum(widths) + 2 * (len(widths) > 5))
        trainable = sum(w.size for w in self.trainable_weights)
        total = self.count_params()
        flops = sum(layer.flops_per_sample() for layer in self.layers)
        out = [
            f'Model: "{self.name}"',
            rule,
            line(head),
            rule,
            *map(line, rows),
            rule,
            f"Total params: {total:,} ({_bytes(sum(_layer_bytes(la) for la in self.layers))} "
            f"stored; {_bytes(total * 4)} as float32)",
            f"Trainable params: {trainable:,}",
            f"Non-trainable params: {total - trainable:,}",
            f"FLOPs per sample (forward): {flops:,}",
        ]
        print_fn("\n".join(out))

    def _summary_rows(self):
        """(layer, output shape) per row of summary(): the layers in a chain."""
        shape = self.input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
            yield layer, shape

    def get_config(self) -> dict:
        """The constructor arguments of a subclassed model (override to save extra ones)."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new model from `get_config()`'s output: a functional model's graph (a config
        with "input_layers"), a Sequential's layers, or a subclass's constructor arguments.

        Example:
            >>> import densecore as dc
            >>> inputs = dc.Input(shape=(3,))
            >>> model = dc.Model(inputs, dc.layers.Dense(2)(inputs))
            >>> dc.Model.from_config(model.get_config()).count_params()
            8
        """
        if cls is Model and isinstance(config, dict) and "input_layers" in config:
            return Functional.from_config(config, custom_objects)
        if isinstance(config, dict) and "input_layers" in config and not issubclass(cls, Sequential):
            return Functional.from_config.__func__(cls, config, custom_objects)  # a subclass's graph
        config = dict(config)
        parameters = inspect.signature(cls.__init__).parameters
        if "name" not in parameters and not any(p.kind == p.VAR_KEYWORD for p in parameters.values()):
            config.pop("name", None)  # a subclass whose constructor takes no name (as saving does)
        return cls(**config)

    def to_json(self, **kwargs) -> str:
        """The model's class and configuration as JSON (no weights), as Keras's to_json;
        `model_from_json` makes a new model of it.

        Example:
            >>> import densecore as dc
            >>> model = dc.Sequential([dc.Input((3,)), dc.layers.Dense(2)])
            >>> dc.models.model_from_json(model.to_json()).count_params()
            8
        """
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)

    def convert(self):
        """The integer model of a quantization-aware model (see densecore.quantize_aware):
        its quantization-aware layers know how (`convert_model`)."""
        for layer in self.iter_layers():
            if hasattr(layer, "convert_model"):
                return layer.convert_model(self)
        raise ValueError(
            f"convert: model '{self.name}' has no quantization-aware layers; "
            f"use densecore.quantize() for post-training quantization."
        )

    def gpu_problem(self, loss: bool):
        return None  # its layers answer for themselves

    # ---- saving (implemented in saving.py) ----------------------------------------------
    def save(self, filepath) -> None:
        """Save architecture, weights and optimizer state to one file, atomically."""
        saving.save_model(self, filepath)

    def save_weights(self, filepath) -> None:
        """Save the weights alone, atomically."""
        saving.save_weights(self, filepath)

    def load_weights(self, filepath) -> None:
        """Load weights saved by save_weights (or save) into this model, built first for the
        file's input shape if it is not built; a damaged file is a ValueError naming it."""
        saving.load_weights(self, filepath)


def _layer_bytes(layer) -> int:
    return int(sum(w.data.nbytes for w in layer.weights))


def _bytes(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.2f} {unit}" if unit != "B" else f"{n} B"
        n /= 1024


class Sequential(Model):
    """A plain stack of layers, each feeding the next.

    Args:
        layers: a list of layers (an `Input(shape=...)` or a first layer with input_shape=
            builds the model at once).
        name: the model's name.

    Example:
        >>> import densecore as dc
        >>> model = dc.Sequential([dc.layers.Dense(10, activation="relu", input_shape=(30,)),
        ...                        dc.layers.Dense(1, activation="sigmoid")])
        >>> model.count_params()
        321
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        """Append a layer; build it at once if the model's input width is known.

        Only the new layer is built: the output shape of the layers before it is kept from
        the previous add (`_chain`), so adding n layers costs O(n), not O(n²) (16,000 layers
        took 43 s when every add walked the whole stack again)."""
        if isinstance(layer, graph.SymbolicTensor) and isinstance(layer.node.layer, InputLayer):
            layer = layer.node.layer  # dc.Input(...) as a Sequential's first entry
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Layer; received {type(layer).__name__}.")
        chain = self._current_chain()
        # every layer of a built chain is built, so an unbuilt layer cannot be one of them:
        # the O(n) search is needed only for a layer built before (reused from elsewhere)
        if (chain is None or layer.built) and layer in self._layers:
            raise ValueError(f"Sequential.add: layer '{layer.name}' is already in this model.")
        declared = layer._declared_input
        if self._layers and declared is not None and isinstance(layer, InputLayer):
            raise ValueError("Sequential.add: an Input can only be the first layer.")
        self._layers.append(layer)
        if len(self._layers) == 1 and declared is not None:
            self.input_shape = declared
        elif len(self._layers) == 1 and layer.built and layer.input_shape is not None:
            self.input_shape = layer.input_shape  # a layer reused from another model
        if self.input_shape is None:
            return
        if chain is None or chain[2] != self.input_shape:
            self._build_layers()
            return
        if not layer.built:
            layer.build(chain[3])
            layer.built = True
        self._chain = (len(self._layers), layer, self.input_shape, layer.compute_output_shape(chain[3]))

    def _current_chain(self):
        """(layers, last layer, input shape, output shape) as the last build left them, or None
        when the layers changed since (pop, surgery) or nothing was built."""
        chain = vars(self).get("_chain")
        if (
            chain is None
            or not self.built
            or chain[0] != len(self._layers)
            or (self._layers and self._layers[-1] is not chain[1])
            or chain[2] != self.input_shape
        ):
            return None
        return chain

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self.layers:
            raise ValueError("Sequential.pop: the model has no layers.")
        return self._layers.pop()

    def _build_layers(self):
        shape = self.input_shape
        for layer in self._layers:
            if not layer.built:
                layer.build(shape)
                layer.built = True
            shape = layer.compute_output_shape(shape)
        self.built = True
        # kept for the next add (a tuple, so neither layer tracking nor surgery sees a layer)
        self._chain = (len(self._layers), self._layers[-1] if self._layers else None, self.input_shape, shape)

    def build(self, input_shape=None):
        """Build every layer for inputs of `input_shape` = (None, features)."""
        input_shape = self.input_shape if input_shape is None else input_shape
        self.input_shape = checked_input_shape(f"{self.name}.build", input_shape)
        self._build_layers()

    def _forward(self, x):
        if not self.built or not all(layer.built for layer in self._layers):
            self.build((None, *x.shape[1:]))
        return self.call(x)

    def call(self, inputs, training=None):
        for layer in self._layers:
            inputs = layer(inputs)
        return inputs

    def _predict_batch(self, x):
        """predict's step: when every layer's class defines `_infer` (the built-in kinds,
        QuantizedDense), those run the same kernels on numpy arrays, skipping the Tensors and
        the layer machinery (0.05 ms a call, a third of a small MLP's predict); else the usual
        call."""
        if device.on_gpu() or not all(_infers_arrays(layer) for layer in self._layers) or tapping():
            return super()._predict_batch(x)
        for step in self._infer_steps():
            x = step(x)
        return x

    def _infer_steps(self):
        """predict's fast path as steps: each layer's `_infer`, except that consecutive layers
        whose class offers `_infer_together` (QuantizedDense: one compiled call for the run)
        are one step. Made again when the layers change (a tuple: layer tracking ignores it)."""
        layers = tuple(self._layers)
        made = getattr(self, "_infer_made", None)
        if made is not None and made[0] == layers:
            return made[1]
        steps, i = [], 0
        while i < len(layers):
            together = getattr(type(layers[i]), "_infer_together", None)
            j = i + 1
            while together is not None and j < len(layers) and type(layers[j]) is type(layers[i]):
                j += 1
            steps.append(together(layers[i:j]) if j - i > 1 else layers[i]._infer)
            i = j
        self._infer_made = (layers, tuple(steps))
        return self._infer_made[1]

    @property
    def output_shape(self):
        """The output shape (None, ...) from each layer's compute_output_shape."""
        shape = self.input_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    def get_config(self):
        config = {
            "name": self.name,
            "layers": [
                {"class_name": type(layer).__name__, "config": layer.get_config()} for layer in self._layers
            ],
        }
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new Sequential of the layers in `get_config()`'s output (fresh weights)."""
        model = cls(name=config.get("name"))
        for spec in config["layers"]:
            model.add(_layer_class(spec["class_name"], custom_objects).from_config(spec["config"]))
        return model

    # ---- the symbolic trace: layer.output and model.input for transfer learning ----------
    @property
    def layers(self) -> list:
        """The layers, in order; on a built model each has a symbolic `output` (Keras builds
        a Sequential of known input shape as a functional model), so that
        `base.layers[-2].output` can take a new head."""
        self._trace()
        return super().layers

    @property
    def input(self):
        """The symbolic input of the built model (see `layers`)."""
        return (self._trace() or (None, None))[0]

    @property
    def output(self):
        """The symbolic output of the built model (see `layers`)."""
        return (self._trace() or (None, None))[1]

    def _trace(self):
        """Call the layers on a symbolic Input once per change of the stack: records a node
        per layer. Returns (input, output) or None when the model is not built."""
        key = (len(self._layers), id(self._layers[-1]) if self._layers else None, self.input_shape)
        trace = vars(self).get("_traced")
        if trace is not None and trace[0] == key:
            return trace[1]
        if not self.built or self.input_shape is None:
            return None
        for node in trace[2] if trace else ():  # forget the nodes of an older stack
            nodes = vars(node.layer).get("_inbound_nodes", [])
            if node in nodes:
                nodes.remove(node)
        layers, made = list(self._layers), []
        first = layers[0] if layers and isinstance(layers[0], InputLayer) else None
        if first is not None and vars(first).get("_inbound_nodes"):
            x = first._inbound_nodes[0].output
        else:
            x = Input(shape=self.input_shape[1:])
            made.append(x.node)
        start = x
        try:
            for layer in layers[1:] if first is not None else layers:
                x = layer(x)
                made.append(x.node)
        except (ValueError, TypeError, NotImplementedError):  # a layer with no symbolic form
            for node in made:
                vars(node.layer).get("_inbound_nodes", []).remove(node)
            return None
        object.__setattr__(self, "_traced", (key, (start, x), made))
        return start, x


class Functional(Model):
    """A model over a directed acyclic graph of layers: Keras's functional API, made by
    `densecore.Model(inputs, outputs)` (densecore.nn.graph records the graph).

    Args:
        inputs: a symbolic tensor from `densecore.Input`, or a list or dict of them.
        outputs: a symbolic tensor computed from the inputs, or a list or dict of them.
        name: the model's name.

    The model's `layers` are those of the graph, each once (Input layers first, as Keras),
    in the order the forward pass first calls them; a layer called twice (shared by two
    branches) is one layer with one set of weights.

    Example:
        >>> import numpy as np, densecore as dc
        >>> inputs = dc.Input(shape=(4,))
        >>> hidden = dc.layers.Dense(4, activation="relu")(inputs)
        >>> outputs = dc.layers.Dense(1)(hidden + inputs)  # a residual connection (Add)
        >>> model = dc.Model(inputs, outputs)
        >>> [layer.name for layer in model.layers][-2:] == [outputs.node.parents[0].layer.name,
        ...                                                  outputs.node.layer.name]
        True
        >>> model.predict(np.ones((2, 4))).shape
        (2, 1)
    """

    def __init__(self, inputs, outputs, name=None, trainable=True):
        super().__init__(name=name, trainable=trainable)
        where = f"Model '{self.name}'"
        flat_inputs, flat_outputs = _flat(inputs, "inputs", where), _flat(outputs, "outputs", where)
        object.__setattr__(self, "_structure", (_shape_of(inputs), _shape_of(outputs)))
        self._graph = graph.Graph(flat_inputs, flat_outputs, where)
        for layer in self._graph.layers:
            self._layers.append(layer)
        shapes = [t.shape for t in flat_inputs]
        self.input_shape = shapes[0] if len(shapes) == 1 else shapes
        self.built = True

    # ---- the graph's ends ----------------------------------------------------------------
    @property
    def layers(self) -> list:
        """The graph's layers, each once, Input layers included (as Keras's)."""
        return list(self._layers)

    inputs = property(lambda self: list(self._graph.inputs), doc="The input symbolic tensors.")
    outputs = property(lambda self: list(self._graph.outputs), doc="The output symbolic tensors.")
    input = property(lambda self: self._packed(self._graph.inputs, 0), doc="The inputs, as given.")
    output = property(lambda self: self._packed(self._graph.outputs, 1), doc="The outputs, as given.")

    def _packed(self, values, which):
        """values (one per input or output, in order) in the structure the model was given."""
        kind = self._structure[which]
        if kind is None:
            return values[0]
        if isinstance(kind, list):
            return dict(zip(kind, values))
        return list(values)

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._graph.outputs]
        return self._packed(shapes, 1)

    def build(self, input_shape=None):
        """A functional model is built when it is made; `input_shape` must match its inputs."""
        if input_shape is None:
            return
        given = [tuple(s) for s in input_shape] if _is_shape_list(input_shape) else [tuple(input_shape)]
        expected = [t.shape for t in self._graph.inputs]
        if [s[1:] for s in given] != [s[1:] for s in expected]:
            raise ValueError(
                f"Model '{self.name}' takes inputs of shape {self.input_shape}; received {input_shape}."
            )

    # ---- the forward pass ------------------------------------------------------------------
    def _as_inputs(self, inputs):
        """The inputs as a list of Tensors in the order of the model's Input tensors (a dict is
        read by the names the model was given), each checked against its Input's shape."""
        kind = self._structure[0]
        expected = self._graph.inputs
        if isinstance(kind, list) and isinstance(inputs, dict):
            missing = [k for k in kind if k not in inputs]
            if missing:
                raise ValueError(f"Model '{self.name}': the inputs lack {missing}; it takes {kind}.")
            values = [inputs[k] for k in kind]
        elif len(expected) == 1 and not (isinstance(inputs, (list, tuple)) and len(inputs) == 1):
            values = [inputs]
        else:
            values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if len(values) != len(expected):
            raise ValueError(f"Model '{self.name}' takes {len(expected)} inputs; received {len(values)}.")
        tensors = [as_tensor(v) for v in values]
        for t, x in zip(expected, tensors):
            if tuple(x.shape[1:]) != t.shape[1:]:
                raise ValueError(
                    f"Model '{self.name}': input '{t.node.layer.name}' expects shape {t.shape}; "
                    f"received {x.shape}."
                )
        return tensors

    def _forward(self, x):
        values = self._graph.run(x)
        kind = self._structure[1]
        if isinstance(kind, list) and len(values) > 1:
            return _NamedOutputs(zip(kind, values))
        return _Outputs(values) if len(values) > 1 else self._packed(values, 1)

    def call(self, inputs, training=None):
        return self._forward(self._as_inputs(inputs))

    def _summary_rows(self):
        """(layer, output shape, connected to) per layer: Keras's "Connected to" names each
        input of each of the layer's nodes as layer[node index][tensor index]."""
        index = {}  # node -> its index among its layer's nodes in this graph
        for node in self._graph.nodes:
            index[node] = sum(1 for other in index if other.layer is node.layer)
        for layer in self._layers:
            nodes = [node for node in self._graph.nodes if node.layer is layer]
            shape = nodes[0].output.shape
            connected = ", ".join(
                f"{t.node.layer.name}[{index[t.node]}][0]" for node in nodes for t in node.inputs
            )
            yield layer, shape, connected or "-"

    # ---- several inputs or outputs -----------------------------------------------------------
    def predict(self, x, batch_size=None, verbose=0, steps=None, callbacks=None):
        """As Model.predict, with several inputs (x a list or dict of arrays, or a generator or
        PyDataset whose batches are) or outputs (a list of arrays returned, or a dict when the
        model was given its outputs as one)."""
        if not self._several_io():
            if isinstance(x, (list, tuple)) and len(x) == 1 and not isinstance(x[0], (int, float)):
                x = x[0]
            elif isinstance(x, dict) and len(x) == 1:
                x = next(iter(x.values()))
        out = super().predict(x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks)
        return self._packed(out, 1) if len(self._graph.outputs) > 1 else out

    def _predict_batch(self, x):
        if len(self._graph.outputs) == 1:
            return super()._predict_batch(x)
        return [device.to_host(value) for value in self(self._inputs(x)).data]

    # ---- fit and evaluate with several inputs or outputs (Keras 3's rules) -------------------
    @property
    def input_names(self) -> list:
        """The inputs' names: the keys the model was given them by, else the Inputs' names."""
        kind = self._structure[0]
        return list(kind) if isinstance(kind, list) else [t.node.layer.name for t in self._graph.inputs]

    @property
    def output_names(self) -> list:
        """The outputs' names, as Keras's: the keys the model was given them by, else the
        names of the layers that compute them (what compile's dicts and the logs use)."""
        kind = self._structure[1]
        if isinstance(kind, list):
            return list(kind)
        names = []
        for t in self._graph.outputs:
            name = t.node.layer.name
            names.append(name if name not in names else f"{name}_{len(names)}")
        return names

    def compile(
        self, optimizer="rmsprop", loss=None, metrics=None, weighted_metrics=None, loss_weights=None, **kwargs
    ):
        """As Model.compile; with several outputs, as Keras 3: `loss` one loss for every output,
        a list (in the order of the outputs) or a dict keyed by output name; `loss_weights` a
        list or dict of numbers (the total loss is the sum of weight x loss over the outputs,
        plus the model's own losses); `metrics` and `weighted_metrics` a list applied to every
        output, a list of lists (one per output) or a dict. The logs hold "loss", then
        "<output>_loss" per output (when more than one has a loss), then "<output>_<metric>"."""
        names = self.output_names
        if len(names) == 1:
            if loss_weights is not None:
                raise NotImplementedError(
                    f"compile: loss_weights weigh the losses of several outputs; model '{self.name}' "
                    f"has one (scale its loss instead)."
                )
            loss, metrics, weighted_metrics = (
                _one_output(names, loss, "loss"),
                _one_output(names, metrics, "metrics", lists=True),
                _one_output(names, weighted_metrics, "weighted_metrics", lists=True),
            )
            return super().compile(optimizer, loss, metrics, weighted_metrics, **kwargs)
        super().compile(optimizer, None, None, None, **kwargs)
        loss, unweighted, weighted, config = training.compile_outputs(
            names, loss, loss_weights, metrics, weighted_metrics
        )
        self.loss = loss
        self.compiled_metrics = unweighted + weighted
        self._weighted_metrics = weighted
        self._compile_config = config

    def _several_io(self) -> bool:
        return len(self._graph.inputs) > 1 or len(self._graph.outputs) > 1

    def _inputs(self, x):
        if isinstance(x, inputs_module.Arrays):
            return [Trainer._inputs(self, a) for a in x.arrays]
        return super()._inputs(x)

    def _named(self, where, value, what, names):
        """value (x or y) as a list of one entry per name: a list or tuple in that order, a
        dict keyed by those names, or (one name) the value itself."""
        kind = "inputs" if what == "x" else "outputs"
        if isinstance(value, dict):
            missing = [n for n in names if n not in value]
            unknown = [k for k in value if k not in names]
            if missing or unknown:
                raise ValueError(
                    f"{where}: model '{self.name}' has the {kind} {names}; {what} "
                    + (f"lacks {missing}" if missing else f"names {unknown}, which are not among them")
                    + "."
                )
            return [value[n] for n in names]
        if len(names) == 1:
            return [value[0] if isinstance(value, (list, tuple)) and len(value) == 1 else value]
        if not isinstance(value, (list, tuple)) or len(value) != len(names):
            received = f"{len(value)} entries" if isinstance(value, (list, tuple)) else type(value).__name__
            raise ValueError(
                f"{where}: model '{self.name}' has {len(names)} {kind} {names}: give {what} as a list "
                f"of {len(names)} arrays in that order, or a dict keyed by those names; received {received}."
            )
        return list(value)

    def _prepare(self, where, x, y=None):
        """As Model._prepare; with several inputs, x becomes an inputs.Arrays (each array
        checked against its Input, all of one length), and with several outputs so does y
        (each target checked against its output's loss and metrics)."""
        if not self._several_io():
            return super()._prepare(where, x, y)
        names = self.input_names
        arrays = [
            inputs_module.checked_array(where, v, f"x['{n}']", dtype=np.float32)
            for n, v in zip(names, self._named(where, x, "x", names))
        ]
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(
                f"{where}: the inputs of model '{self.name}' must have the same number of samples; "
                f"received {dict(zip(names, (a.shape for a in arrays)))}."
            )
        for n, t, a in zip(names, self._graph.inputs, arrays):
            if a.ndim != len(t.shape) or a.shape[1:] != t.shape[1:]:
                raise ValueError(
                    f"{where}: input '{n}' of model '{self.name}' expects shape {t.shape}; "
                    f"received {a.shape}."
                )
        x = inputs_module.Arrays(arrays) if len(arrays) > 1 else arrays[0]
        device.check_model(self, where, loss=not where.startswith("predict"))
        if y is None:
            if not where.startswith("predict") and (self.loss is not None or self.compiled_metrics):
                raise ValueError(
                    f"{where}: y is required: model '{self.name}' was compiled with a loss or metrics, "
                    f"which compare y with the outputs."
                )
            return x, None
        outputs, names = self._graph.outputs, self.output_names
        values = self._named(where, y, "y", names)
        if len(outputs) == 1:
            units = outputs[0].shape[-1]
            return x, training.checked_targets(where, values[0], x, self.loss, self.compiled_metrics, units)
        losses = self.loss.losses if self.loss is not None else [None] * len(names)
        targets = []
        for i, (n, t, v) in enumerate(zip(names, outputs, values)):
            metrics = [m.metric for m in self.compiled_metrics if m.fed and m.index == i]
            y_n = training.checked_targets(where, v, x, losses[i], metrics, t.shape[-1], f"y['{n}']")
            targets.append(y_n)
        return x, inputs_module.Arrays(targets)

    def _weights_for(self, where, y, sample_weight=None, class_weight=None):
        if not isinstance(y, inputs_module.Arrays):
            return super()._weights_for(where, y, sample_weight, class_weight)
        if class_weight is not None:
            raise ValueError(
                f"{where}: class_weight is not supported for model '{self.name}', which has several "
                f"outputs (as Keras); weight the samples with sample_weight."
            )
        names = self.output_names
        losses = self.loss.losses if self.loss is not None else [None] * len(names)
        if isinstance(sample_weight, dict) or (
            isinstance(sample_weight, (list, tuple))
            and sample_weight
            and all(w is None or np.ndim(w) > 0 for w in sample_weight)
        ):  # one per output (Keras 3: the structure of y), None for an output left unweighted
            given = self._named(where, sample_weight, "sample_weight", names)
            return inputs_module.Arrays(
                [
                    np.ones(len(y), np.float64)
                    if w is None
                    else inputs_module.sample_weights(f"{where} (output '{n}')", y, loss, w)
                    for n, loss, w in zip(names, losses, given)
                ]
            )
        if sample_weight is not None:
            for n, loss in zip(names, losses):
                if loss is not None:
                    inputs_module.sample_weights(f"{where} (output '{n}')", y, loss, sample_weight)
        return inputs_module.sample_weights(where, y, self.loss, sample_weight)

    def _batch_check(self, targets):
        """Streamed batches of a model with several inputs or outputs: each checked as
        arrays are (x and y lists or dicts, as fit's)."""
        if not self._several_io():
            return super()._batch_check(targets)

        def check(where, batch):
            if not targets:
                return (self._prepare(where, batch[0])[0],)
            x, y = self._prepare(where, batch[0], batch[1])
            return x, y, self._weights_for(where, y, batch[2])

        return check

    # ---- configuration -----------------------------------------------------------------------
    def get_config(self) -> dict:
        """The graph, as Keras's: each layer's class and config with its inbound nodes (for
        each call, the tensors it read as [layer name, node index, tensor index]), and the
        model's input and output tensors the same way."""
        index = {}
        for node in self._graph.nodes:
            index[node] = sum(1 for other in index if other.layer is node.layer)

        def ref(t):
            return [t.node.layer.name, index[t.node], 0]

        layers = []
        for layer in self._layers:
            nodes = [node for node in self._graph.nodes if node.layer is layer and node.inputs]
            layers.append(
                {
                    "class_name": type(layer).__name__,
                    "name": layer.name,
                    "config": layer.get_config(),
                    "inbound_nodes": [
                        {"args": [ref(t) for t in node.inputs], "form": node.form} for node in nodes
                    ],
                }
            )
        return {
            "name": self.name,
            "trainable": self.trainable,
            "layers": layers,
            "input_layers": self._packed([ref(t) for t in self._graph.inputs], 0),
            "output_layers": self._packed([ref(t) for t in self._graph.outputs], 1),
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """A new functional model (fresh weights) from `get_config()`'s output: each layer is
        made from its class and config, then called on the tensors its nodes name, in an
        order where every tensor exists before it is read."""
        where = f"Model.from_config ({config.get('name')!r})"
        made, tensors = {}, {}  # layer name -> layer; (layer name, node index) -> tensor
        pending = []
        for spec in config["layers"]:
            name = spec.get("name") or spec["config"].get("name")
            layer = _layer_class(spec["class_name"], custom_objects).from_config(spec["config"])
            made[name] = layer
            if isinstance(layer, InputLayer):
                layer.build(layer._declared_input)
                tensors[(name, 0)] = graph.Node(layer, [], "one", layer._declared_input).output
            pending.extend((name, i, node) for i, node in enumerate(spec["inbound_nodes"]))
        while pending:
            ready = [p for p in pending if all((r[0], r[1]) in tensors for r in p[2]["args"])]
            if not ready:
                raise ValueError(
                    f"{where}: the nodes of {sorted({p[0] for p in pending})} read tensors that no "
                    f"layer makes (or form a cycle)."
                )
            for name, i, node in ready:
                args = [tensors[(r[0], r[1])] for r in node["args"]]
                form = node.get("form", "list" if node.get("list") else "one")  # ("list": older files)
                if form not in graph.Node.FORMS:
                    raise ValueError(f"{where}: layer {name!r} has a node of unknown form {form!r}.")
                tensors[(name, i)] = (
                    made[name](*args) if form == "args" else made[name](args if form == "list" else args[0])
                )
                pending.remove((name, i, node))

        def unpack(refs):
            if isinstance(refs, dict):
                return {k: tensors[(r[0], r[1])] for k, r in refs.items()}
            if refs and isinstance(refs[0], list):
                return [tensors[(r[0], r[1])] for r in refs]
            return tensors[(refs[0], refs[1])]

        for key in ("input_layers", "output_layers"):
            refs = config[key]
            flat = refs.values() if isinstance(refs, dict) else refs if isinstance(refs[0], list) else [refs]
            for r in flat:
                if (r[0], r[1]) not in tensors:
                    raise ValueError(f"{where}: {key} names {r!r}, which no layer makes.")
        return cls(
            unpack(config["input_layers"]),
            unpack(config["output_layers"]),
            name=config.get("name"),
            trainable=config.get("trainable", True),
        )


def _functional_arguments(args, kwargs) -> bool:
    """Whether a constructor's arguments are Keras's functional ones: (inputs, outputs) as
    symbolic tensors (or lists or dicts of them), positional or by keyword."""
    inputs = args[0] if args else kwargs.get("inputs")
    if isinstance(inputs, dict):
        inputs = list(inputs.values())
    has_outputs = len(args) >= 2 or "outputs" in kwargs
    return has_outputs and graph.is_symbolic(inputs)


_FUNCTIONAL_CLASSES = {}  # a Model subclass -> its functional form


def _functional_class(cls):
    """The class of `cls(inputs, outputs)`: cls and Functional (in that order, so cls's
    overrides of train_step, test_step, compute_loss, metrics... come first, and Functional's
    graph runs the forward pass), named as cls. Keras rewrites the subclass's bases instead;
    densecore leaves the user's class as it is (`cls()` still makes a subclassed model)."""
    made = _FUNCTIONAL_CLASSES.get(cls)
    if made is None:
        namespace = {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "_functional_of": cls}
        made = _FUNCTIONAL_CLASSES[cls] = type(cls.__name__, (cls, Functional), namespace)
    return made


class _Outputs(list):
    """The outputs of a model with several, as a list of Tensors; `.data` their arrays."""

    data = property(lambda self: [t.data for t in self])


class _NamedOutputs(dict):
    """The outputs of a model given them as a dict, keyed so; `.data` their arrays, in order."""

    data = property(lambda self: [t.data for t in self.values()])


def _one_output(names, value, what, lists=False):
    """compile's loss or metrics for a model of one output, given as Keras allows for several:
    a dict keyed by its name, or a list of one (for metrics: one list)."""
    if isinstance(value, dict):
        unknown = [k for k in value if k not in names]
        if unknown:
            raise ValueError(f"compile: {what} names {unknown}; the model's output is {names}.")
        return value.get(names[0])
    one = isinstance(value, (list, tuple)) and len(value) == 1
    if one and (not lists or isinstance(value[0], (list, tuple))):
        return value[0]
    return value


def _flat(value, what, where) -> list:
    if isinstance(value, dict):
        return list(value.values())
    if isinstance(value, (list, tuple)):
        if not value:
            raise ValueError(f"{where}: {what} is empty.")
        return list(value)
    return [value]


def _shape_of(value):
    """None for a single tensor, the keys for a dict, 1 for a list (how results are packed)."""
    if isinstance(value, dict):
        return list(value)
    if isinstance(value, (list, tuple)) and len(value) > 1:
        return len(value)
    return None


def _is_shape_list(shape) -> bool:
    return isinstance(shape, (list, tuple)) and bool(shape) and isinstance(shape[0], (list, tuple))


def _layer_class(class_name, custom_objects=None):
    """The layer or model class of that name: custom_objects, registered layers, models."""
    cls = (
        (custom_objects or {}).get(class_name)
        or ALL.get(class_name)
        or registry.lookup(class_name)
        or MODELS.get(class_name)
    )
    if cls is None:
        raise ValueError(
            f"Unknown layer class {class_name!r}: register it with @densecore.layers.register "
            f"or pass custom_objects={{'{class_name}': cls}}."
        )
    return cls


def model_from_json(json_string, custom_objects=None):
    """A new model (fresh weights) from `model.to_json()`, as keras.models.model_from_json.

    Example:
        >>> import densecore as dc
        >>> inputs = dc.Input(shape=(3,))
        >>> model = dc.Model(inputs, dc.layers.Dense(2)(inputs))
        >>> type(dc.models.model_from_json(model.to_json())).__name__
        'Functional'
    """
    spec = json.loads(json_string)
    if not isinstance(spec, dict) or "class_name" not in spec or "config" not in spec:
        raise ValueError("model_from_json: expected the JSON of model.to_json() ({'class_name', 'config'}).")
    cls = (
        (custom_objects or {}).get(spec["class_name"])
        or registry.lookup(spec["class_name"])
        or MODELS.get(spec["class_name"])
    )
    if cls is None:
        raise ValueError(
            f"model_from_json: model class {spec['class_name']!r} is not defined here; define it "
            f"(or pass custom_objects={{'{spec['class_name']}': cls}})."
        )
    if issubclass(cls, (Sequential, Functional)):
        return cls.from_config(spec["config"], custom_objects)
    return cls.from_config(spec["config"])


def clone_model(model, custom_objects=None):
    """A new model of the same architecture with fresh weights, as keras.models.clone_model:
    a Sequential or functional model from its config, each layer made by its own class (yours
    need no registering); a subclassed model from its `get_config()`, built for the same inputs.

    Example:
        >>> import numpy as np, densecore as dc
        >>> model = dc.Sequential([dc.Input((3,)), dc.layers.Dense(2)])
        >>> twin = dc.models.clone_model(model)
        >>> twin.count_params(), np.array_equal(twin.get_weights()[0], model.get_weights()[0])
        (8, False)
    """
    if not isinstance(model, Model):
        raise TypeError(f"clone_model: expected a densecore Model; received {type(model).__name__}.")
    # every layer's own class, as Keras clones each layer with layer.__class__.from_config:
    # a model holding a layer of yours clones without registering it
    own = {type(layer).__name__: type(layer) for layer in (model, *model.iter_layers())}
    new = model_from_json(model.to_json(), {**own, **(custom_objects or {})})
    if model.built and not new.built:
        new.build(model.input_shape)
    return new


__all__ = ["Model", "Sequential", "Functional", "Input", "model_from_json", "clone_model"]
