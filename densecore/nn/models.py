"""Model (subclass it and write `call`) and Sequential (a stack of layers).

class SimpleNet(dc.Model):
    def __init__(self):
        super().__init__()
        self.dense1 = dc.layers.Dense(10, activation="relu")   # tracked, in order
        self.dense2 = dc.layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        return self.dense2(self.dense1(inputs))
"""

import inspect

import numpy as np

from ..engine import device
from ..engine.tensor import Tensor, as_tensor, no_grad
from . import saving
from .layers import (
    MODELS,
    Activation,
    BatchNormalization,
    Dense,
    Dropout,
    Flatten,
    Input,
    InputLayer,
    Layer,
    LowRankDense,
    _phase,
    learning_phase,
    tapping,
)
from .training import Trainer

# the layers whose _infer is exact: predict's fast path runs them on plain arrays
_ARRAY_LAYERS = (Dense, LowRankDense, Dropout, InputLayer, Activation, Flatten, BatchNormalization)


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
        super().__init_subclass__(**kwargs)
        MODELS[cls.__name__] = cls
        cls._call_takes_training = "training" in inspect.signature(cls.call).parameters

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            raise TypeError(
                "Model(inputs, outputs) (Keras's functional API) is not supported; "
                "subclass densecore.Model or use densecore.Sequential."
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
        x = as_tensor(inputs)
        if training is None:
            return self._forward(x)
        with learning_phase(training):
            return self._forward(x)

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
        rows, shape = [], self.input_shape
        for layer in self.layers:
            shape = layer.compute_output_shape(shape)
            rows.append(
                (
                    f"{layer.name} ({type(layer).__name__})",
                    str(shape),
                    f"{layer.count_params():,}",
                    _bytes(_layer_bytes(layer)),
                    f"{layer.flops_per_sample():,}",
                )
            )
        head = ("Layer (type)", "Output Shape", "Param #", "Bytes", "FLOPs/sample")
        widths = [max(len(r[i]) for r in rows + [head]) + 2 for i in range(5)]

        def line(cells):
            return "".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

        rule = "─" * sum(widths)
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

    def get_config(self) -> dict:
        """The constructor arguments of a subclassed model (override to save extra ones)."""
        return {"name": self.name}

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
        """predict's step: when every layer is one of the built-in kinds (exactly), their
        `_infer` runs the same kernels on numpy arrays, skipping the Tensors and the layer
        machinery (0.05 ms a call, a third of a small MLP's predict); else the usual call."""
        if (
            device.on_gpu()
            or not all(
                type(layer) in _ARRAY_LAYERS and "call" not in vars(layer)  # (no call() patched in)
                for layer in self._layers
            )
            or tapping()
        ):
            return super()._predict_batch(x)
        for layer in self._layers:
            x = layer._infer(x)
        return x

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


Model._call_takes_training = True
Sequential._call_takes_training = True
__all__ = ["Model", "Sequential", "Input"]
