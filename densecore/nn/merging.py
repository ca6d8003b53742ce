"""Merge layers: one output from a list of inputs, for the functional API (Keras's
keras.layers.merging).

    Add()([a, b, ...])          a + b + ...
    Subtract()([a, b])          a − b
    Multiply()([a, b, ...])     a ⊙ b ⊙ ...
    Average()([a, b, ...])      (a + b + ...) / n
    Maximum()([a, b, ...])      elementwise max; the gradient goes to the input that won
                                (the first of equal ones, as TensorFlow's)
    Minimum()([a, b, ...])      elementwise min, likewise
    Concatenate(axis=-1)        the inputs side by side; the backward splits the gradient

The elementwise ones need inputs of one shape; Concatenate, of one shape except along
`axis`. Either is checked when the layer is called (on symbolic tensors too, before any
work), with an error naming the layer. No weights.

There is no Lambda layer: a saved model holds configurations, never code, so every layer
in a file is one of these named classes (write a Layer subclass for anything else).

Example:
    >>> import numpy as np, densecore as dc
    >>> a, b = dc.Input(shape=(2,)), dc.Input(shape=(2,))
    >>> model = dc.Model([a, b], dc.layers.Concatenate()([a, dc.layers.Add()([a, b])]))
    >>> model.predict([np.array([[1.0, 2.0]]), np.array([[10.0, 20.0]])]).tolist()
    [[1.0, 2.0, 11.0, 22.0]]
"""

import numpy as np

from ..engine.tensor import Tensor
from . import graph
from .layers import Layer, register


class Merge(Layer):
    """Base of the merge layers: called on a list of inputs, merged by `_merge`."""

    _takes_list = True
    _exactly = None  # how many inputs the layer takes (Subtract: 2); None: at least 1

    def _check_shapes(self, shapes) -> None:
        where = f"{type(self).__name__} '{self.name}'"
        if not isinstance(shapes, (list, tuple)) or not shapes or not isinstance(shapes[0], (list, tuple)):
            raise ValueError(
                f"{where}: a merge layer should be called on a list of inputs. Received: input_shape={shapes}"
            )
        if self._exactly is not None and len(shapes) != self._exactly:
            raise ValueError(
                f"{where}: a `{type(self).__name__}` layer should be called on exactly "
                f"{self._exactly} inputs. Received {len(shapes)} inputs."
            )
        for shape in shapes[1:]:
            if tuple(shape[1:]) != tuple(shapes[0][1:]):
                raise ValueError(
                    f"{where}: Inputs have incompatible shapes. Received shapes "
                    f"{tuple(shapes[0])} and {tuple(shape)}"
                )

    def build(self, input_shape):
        self._check_shapes(input_shape)
        self.input_shape = tuple(tuple(s) for s in input_shape)
        self.built = True

    def compute_output_shape(self, input_shape):
        self._check_shapes(input_shape)
        return tuple(input_shape[0])

    def call(self, inputs):
        if not isinstance(inputs, (list, tuple)):
            raise ValueError(
                f"{type(self).__name__} '{self.name}': a merge layer should be called on a list "
                f"of inputs. Received: inputs of type {type(inputs).__name__}"
            )
        self._check_shapes([(None, *x.shape[1:]) for x in inputs])
        return self._merge(list(inputs))

    def _merge(self, inputs):
        raise NotImplementedError

    def gpu_problem(self, loss: bool):
        return f"{type(self).__name__} '{self.name}'"  # the merge ops run on numpy arrays only


@register
class Add(Merge):
    """The sum of its inputs, elementwise.

    Example:
        >>> import numpy as np, densecore as dc
        >>> dc.layers.Add()([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])]).numpy().tolist()
        [[4.0, 6.0]]
    """

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out + x
        return out


@register
class Subtract(Merge):
    """The difference of its two inputs, `inputs[0] - inputs[1]`.

    Example:
        >>> import numpy as np, densecore as dc
        >>> dc.layers.Subtract()([np.array([[1.0, 2.0]]), np.array([[3.0, 5.0]])]).numpy().tolist()
        [[-2.0, -3.0]]
    """

    _exactly = 2

    def _merge(self, inputs):
        return inputs[0] - inputs[1]


@register
class Multiply(Merge):
    """The product of its inputs, elementwise.

    Example:
        >>> import numpy as np, densecore as dc
        >>> dc.layers.Multiply()([np.array([[1.0, 2.0]]), np.array([[3.0, 4.0]])]).numpy().tolist()
        [[3.0, 8.0]]
    """

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = out * x
        return out


@register
class Average(Merge):
    """The mean of its inputs, elementwise.

    Example:
        >>> import numpy as np, densecore as dc
        >>> dc.layers.Average()([np.array([[1.0, 2.0]]), np.array([[3.0, 5.0]])]).numpy().tolist()
        [[2.0, 3.5]]
    """

    def _merge(self, inputs):
        return Add._merge(self, inputs) * (1.0 / len(inputs))


def _pick(a: Tensor, b: Tensor, first_wins) -> Tensor:
    """max or min of two tensors as one node: `first_wins(a, b)` is the mask where a's value
    is taken; the gradient flows to the input whose value was taken."""
    mask = first_wins(a.data, b.data)

    def backward(g):
        a._accumulate(g * mask)
        b._accumulate(g * ~mask)

    return a._child(np.where(mask, a.data, b.data), (a, b), backward)


@register
class Maximum(Merge):
    """The elementwise maximum of its inputs.

    Example:
        >>> import numpy as np, densecore as dc
        >>> dc.layers.Maximum()([np.array([[1.0, 5.0]]), np.array([[3.0, 4.0]])]).numpy().tolist()
        [[3.0, 5.0]]
    """

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = _pick(out, x, np.greater_equal)
        return out


@register
class Minimum(Merge):
    """The elementwise minimum of its inputs.

    Example:
        >>> import numpy as np, densecore as dc
        >>> dc.layers.Minimum()([np.array([[1.0, 5.0]]), np.array([[3.0, 4.0]])]).numpy().tolist()
        [[1.0, 4.0]]
    """

    def _merge(self, inputs):
        out = inputs[0]
        for x in inputs[1:]:
            out = _pick(out, x, np.less_equal)
        return out


def concatenate(tensors, axis: int) -> Tensor:
    """The tensors joined along `axis`, as one node whose backward hands each input its slice
    of the gradient (np.split at the running offsets)."""
    offsets = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(g):
        for t, part in zip(tensors, np.split(g, offsets, axis=axis)):
            t._accumulate(part)

    data = np.concatenate([t.data for t in tensors], axis=axis)
    return tensors[0]._child(data, tuple(tensors), backward)


@register
class Concatenate(Merge):
    """Its inputs joined along `axis` (default -1, the features); the other axes must match.

    Args:
        axis: the axis to join along, counted with the batch axis (not 0, the batch).

    Example:
        >>> import numpy as np, densecore as dc
        >>> layer = dc.layers.Concatenate()
        >>> layer([np.array([[1.0]]), np.array([[2.0, 3.0]])]).numpy().tolist()
        [[1.0, 2.0, 3.0]]
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
            raise ValueError(f"Concatenate: axis must be an integer. Received: axis={axis!r}")
        self.axis = int(axis)

    def _axis(self, rank):
        axis = self.axis % rank if -rank <= self.axis < rank else None
        if not axis:
            raise ValueError(
                f"Concatenate '{self.name}': axis={self.axis} is not a non-batch axis of inputs "
                f"of rank {rank}."
            )
        return axis

    def _check_shapes(self, shapes) -> None:
        where = f"Concatenate '{self.name}'"
        if not isinstance(shapes, (list, tuple)) or not shapes or not isinstance(shapes[0], (list, tuple)):
            raise ValueError(
                f"{where}: a `Concatenate` layer should be called on a list of at least 1 input. "
                f"Received: input_shape={shapes}"
            )
        axis = self._axis(len(shapes[0]))
        for shape in shapes:
            if len(shape) != len(shapes[0]) or any(
                a != b for i, (a, b) in enumerate(zip(shape, shapes[0])) if i not in (0, axis)
            ):
                raise ValueError(
                    f"{where}: A `Concatenate` layer requires inputs with matching shapes except for "
                    f"the concatenation axis. Received: input_shape={[tuple(s) for s in shapes]}"
                )

    def compute_output_shape(self, input_shape):
        self._check_shapes(input_shape)
        axis = self._axis(len(input_shape[0]))
        shape = list(input_shape[0])
        shape[axis] = sum(s[axis] for s in input_shape)
        return tuple(shape)

    def _merge(self, inputs):
        return concatenate(inputs, self._axis(inputs[0].ndim))

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


graph.OPERATORS.update(add=Add, sub=Subtract, mul=Multiply)

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "concatenate"]
