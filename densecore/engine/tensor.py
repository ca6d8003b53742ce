"""Tensor: a numpy array that remembers how it was made, for reverse-mode autodiff.

Each operation below computes its result and, right beside it, a `backward(g)` that
receives g = dL/d(result) and adds each input's share, dL/d(input), to that input's
`.grad` by the chain rule. `Tensor.backward()` visits the graph in reverse topological
order, so a tensor used several times receives every part before passing it on.

Broadcasting: when numpy stretched an input of shape (3,) to (N, 3), each copy received
part of the gradient, so the input's gradient is the sum over the stretched axes
(`_unbroadcast`).
"""

import contextlib
import threading

import numpy as np

from . import backend, device, step_buffers


class _GradMode(threading.local):
    """Whether operations record a graph, per thread (`no_grad` in one thread leaves the
    others recording)."""

    enabled = True


_grad_mode = _GradMode()


class no_grad(contextlib.ContextDecorator):
    """Within this block, operations record no graph (inference, optimizer updates).

    A class rather than a generator (`contextlib.contextmanager`): entering and leaving
    costs 0.2 µs instead of 0.8, which predict pays on every call. Also a decorator.

    Example:
        >>> import densecore as dc
        >>> w = dc.Tensor([1.0, 2.0], requires_grad=True)
        >>> with dc.no_grad():
        ...     y = w * 2
        >>> y.requires_grad
        False
    """

    __slots__ = ("_saved",)

    def __enter__(self):
        self._saved = _grad_mode.enabled
        _grad_mode.enabled = False
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self._saved
        return False


def _as_array(data, dtype=None) -> np.ndarray:
    array = np.asarray(data, dtype=dtype)
    if dtype is None and array.dtype.kind not in "f":
        if array.dtype.kind not in "biu":
            raise TypeError(f"Tensor: data must be numeric; received dtype {array.dtype}.")
        array = array.astype(np.float32)  # Keras's default float type
    return array


def _values(value) -> np.ndarray:
    """The values of a Tensor (on the host) or of an array-like."""
    return np.asarray(device.to_host(value.data if isinstance(value, Tensor) else value))


def _unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum grad over the axes numpy broadcast to reach grad.shape from shape."""
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad


class Tensor:
    """An n-dimensional array with an optional gradient.

    Args:
        data: array-like; integers and booleans become float32, floats keep their dtype.
        requires_grad: whether `backward()` should compute this tensor's gradient.

    Example:
        >>> import densecore as dc
        >>> x = dc.Tensor([[1.0, 2.0]], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        array([[2., 4.]])
    """

    __array_priority__ = 1000  # numpy defers `ndarray op Tensor` to Tensor's operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        if isinstance(data, Tensor):
            data = data.data
        self.data = data if device.is_device(data) else _as_array(data, dtype)
        self.grad = None
        self.requires_grad = bool(requires_grad)
        self._parents = ()
        self._backward = None
        self.name = None

    # ---- basics -------------------------------------------------------------------------
    # A plain tuple: a device array's shape may refuse negative indices (numba's simulator).
    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def __repr__(self):
        flag = ", requires_grad=True" if self.requires_grad else ""
        return f"Tensor({self.data!r}{flag})"

    def __len__(self):
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The data as a numpy array (not a copy, unless it lives on the GPU)."""
        return device.to_host(self.data)

    def item(self) -> float:
        """The value of a one-element tensor as a Python float."""
        return self.numpy().item()

    # ---- Keras's variable methods ---------------------------------------------------------
    def assign(self, value) -> "Tensor":
        """Set the values in place, as keras.Variable.assign (a layer's non-trainable state,
        `self.total.assign(...)`): `value` (array-like or Tensor) must have this tensor's
        shape and is cast to its dtype. The assignment is not an op of the graph (no
        gradient flows through it), and the Tensor object stays the same: layers, optimizers
        and saved models that hold it see the new values. Returns the tensor.

        Example:
            >>> import densecore as dc
            >>> total = dc.Tensor([0.0, 0.0])
            >>> total.assign([1.0, 2.0]).assign_add([1.0, 1.0]).assign_sub([0.5, 0.5]).numpy()
            array([1.5, 2.5])
        """
        new = device.to_host(value.data if isinstance(value, Tensor) else value)
        new = np.asarray(new)
        if new.shape != self.shape:
            raise ValueError(
                f"Tensor.assign: the shape of the target ({self.shape}) and of the value ({new.shape}) "
                f"must match."
            )
        if device.is_device(self.data):  # on the GPU (a resident weight): a new device copy
            self.data = device.to_device(np.ascontiguousarray(new, self.dtype))
        else:
            self.data[...] = new.astype(self.dtype, copy=False)
        return self

    def assign_add(self, value) -> "Tensor":
        """Add `value` in place (keras.Variable.assign_add); see `assign`."""
        return self.assign(self.numpy() + _values(value))

    def assign_sub(self, value) -> "Tensor":
        """Subtract `value` in place (keras.Variable.assign_sub); see `assign`."""
        return self.assign(self.numpy() - _values(value))

    def zero_grad(self) -> None:
        """Forget the accumulated gradient."""
        self.grad = None

    def _accumulate(self, grad: np.ndarray) -> None:
        if self.requires_grad and device.is_device(grad):  # on the GPU: summed there
            self.grad = grad if self.grad is None else backend.kernels().add(self.grad, grad)
        elif self.requires_grad:
            grad = grad.astype(self.dtype, copy=False)
            self.grad = grad if self.grad is None else self.grad + grad

    def _child(self, data, parents, backward) -> "Tensor":
        """The result of an op: records parents and backward only when a gradient is needed."""
        out = Tensor(data)
        if _grad_mode.enabled and any(p.requires_grad for p in parents):
            out.requires_grad = True
            out._parents = parents
            out._backward = backward
        return out

    def backward(self, grad=None) -> None:
        """Compute dL/d(leaf) for every tensor this one was computed from.

        Args:
            grad: dL/d(self); defaults to 1, which requires self to hold one element.

        Gradients add up in `.grad` until zeroed; the graph is freed afterwards.
        """
        if grad is None:
            if self.size != 1:
                raise ValueError(
                    f"Tensor.backward: a gradient must be given for a non-scalar tensor of "
                    f"shape {self.shape}."
                )
            grad = np.ones(self.shape, self.dtype)
        order, seen = [], set()

        def visit(node):  # iterative depth-first search: deep graphs do not hit recursion limits
            stack = [(node, False)]
            while stack:
                current, expanded = stack.pop()
                if expanded:
                    order.append(current)
                elif id(current) not in seen:
                    seen.add(id(current))
                    stack.append((current, True))
                    stack.extend((p, False) for p in current._parents if p.requires_grad)

        visit(self)
        self._accumulate(np.asarray(grad, self.dtype))
        for node in reversed(order):
            if node._backward is not None and node.grad is not None:
                node._backward(node.grad)
        for node in order:  # free the graph: no activations survive the step
            if node._backward is not None:
                node._backward, node._parents, node.grad = None, (), None

    # ---- arithmetic ---------------------------------------------------------------------
    def _other(self, other) -> "Tensor":
        return other if isinstance(other, Tensor) else Tensor(np.asarray(other, self.dtype))

    def __add__(self, other):
        other = self._other(other)

        def backward(g):
            self._accumulate(_unbroadcast(g, self.shape))
            other._accumulate(_unbroadcast(g, other.shape))

        return self._child(self.data + other.data, (self, other), backward)

    def __mul__(self, other):
        other = self._other(other)

        def backward(g):
            self._accumulate(_unbroadcast(g * other.data, self.shape))
            other._accumulate(_unbroadcast(g * self.data, other.shape))

        return self._child(self.data * other.data, (self, other), backward)

    def __truediv__(self, other):
        other = self._other(other)

        def backward(g):  # d(a/b) = da/b - a db/b²
            self._accumulate(_unbroadcast(g / other.data, self.shape))
            other._accumulate(_unbroadcast(-g * self.data / other.data**2, other.shape))

        return self._child(self.data / other.data, (self, other), backward)

    def __neg__(self):
        return self._child(-self.data, (self,), lambda g: self._accumulate(-g))

    def __sub__(self, other):
        return self + (-self._other(other))

    def __pow__(self, exponent):
        if not isinstance(exponent, (int, float)):
            raise TypeError(
                f"Tensor.__pow__: the exponent must be a Python number; received {type(exponent).__name__}."
            )

        def backward(g):  # d(x^p) = p x^(p-1) dx
            self._accumulate(g * exponent * self.data ** (exponent - 1))

        return self._child(self.data**exponent, (self,), backward)

    __radd__ = __add__
    __rmul__ = __mul__

    def __rsub__(self, other):
        return self._other(other) - self

    def __rtruediv__(self, other):
        return self._other(other) / self

    def __matmul__(self, other):
        other = self._other(other)
        if self.ndim == 2 and other.ndim == 2:
            return dense(self, other)  # a 2-D product is a dense layer without bias

        def backward(g):  # C = A B: dA = dC Bᵀ, dB = Aᵀ dC (batched over leading axes)
            self._accumulate(_unbroadcast(g @ np.swapaxes(other.data, -1, -2), self.shape))
            other._accumulate(_unbroadcast(np.swapaxes(self.data, -1, -2) @ g, other.shape))

        return self._child(self.data @ other.data, (self, other), backward)

    def __rmatmul__(self, other):
        return self._other(other) @ self

    # ---- reductions and shape -----------------------------------------------------------
    def sum(self, axis=None, keepdims=False):
        """Sum over `axis` (all axes when None); each input element gets g unchanged."""

        def backward(g):
            if not keepdims and axis is not None:
                g = np.expand_dims(g, axis)
            self._accumulate(np.broadcast_to(g, self.shape))

        return self._child(self.data.sum(axis=axis, keepdims=keepdims), (self,), backward)

    def mean(self, axis=None, keepdims=False):
        """Mean over `axis`: the sum divided by the number of elements summed."""
        count = self.size if axis is None else np.prod([self.shape[a] for a in np.atleast_1d(axis)])
        return self.sum(axis=axis, keepdims=keepdims) * (1.0 / max(int(count), 1))

    def reshape(self, *shape):
        """The same elements in a new shape; the gradient is reshaped back."""
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        return self._child(
            self.data.reshape(shape), (self,), lambda g: self._accumulate(g.reshape(self.shape))
        )

    @property
    def T(self):
        """The transpose; the gradient is transposed back."""
        return self._child(self.data.T, (self,), lambda g: self._accumulate(g.T))

    def __getitem__(self, index):
        def backward(g):
            full = np.zeros(self.shape, self.dtype)
            np.add.at(full, index, g)
            self._accumulate(full)

        return self._child(self.data[index], (self,), backward)

    # ---- elementwise functions ----------------------------------------------------------
    def exp(self):
        """e^x; d(e^x) = e^x dx."""
        y = np.exp(self.data)
        return self._child(y, (self,), lambda g: self._accumulate(g * y))

    def log(self):
        """Natural log; d(log x) = dx / x."""
        return self._child(np.log(self.data), (self,), lambda g: self._accumulate(g / self.data))

    def relu(self):
        """max(x, 0); the gradient passes where x > 0."""
        return self._child(_relu(self.data), (self,), lambda g: self._accumulate(g * (self.data > 0)))

    def sigmoid(self):
        """1 / (1 + e^-x), computed without overflow; d = y (1 - y) dx."""
        y = _sigmoid(self.data)
        return self._child(y, (self,), lambda g: self._accumulate(g * y * (1 - y)))

    def tanh(self):
        """tanh x; d = (1 - y²) dx."""
        y = np.tanh(self.data)
        return self._child(y, (self,), lambda g: self._accumulate(g * (1 - y * y)))


def _relu(z: np.ndarray) -> np.ndarray:
    """max(z, 0) with NaN kept, as the kernels' fused relu and numpy's maximum keep it (NaN <= 0
    is false, so NaN falls through to z)."""
    return np.where(z <= 0, 0, z).astype(z.dtype, copy=False)


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """Logistic function that never overflows: e^-|z| is at most 1."""
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1 / (1 + e), e / (1 + e)).astype(z.dtype, copy=False)


def as_tensor(value, dtype=None) -> Tensor:
    """`value` itself if it is a Tensor, else a new constant Tensor of it."""
    return value if isinstance(value, Tensor) else Tensor(value, dtype=dtype)


__all__ = ["Tensor", "no_grad", "as_tensor", "backend"]


# ---- the dense layer: the one product node, on the selected kernel backend -------------
def dense(x, w, b=None, activation=None) -> Tensor:
    """y = act(x @ w + b) as one graph node, on the selected kernel backend.

    Args:
        x: inputs (N, K); cast to w's dtype if it differs.
        w: kernel (K, M).
        b: bias (M,) or None.
        activation: None/"linear", "relu", "sigmoid" or "tanh".

    Returns:
        A Tensor (N, M). Its backward runs the kernel's dense_backward, skipping dX when x
        needs no gradient and dW when w is frozen. Inside a training step both kernels
        write into arrays kept from the step before (see step_buffers.py).

    Example:
        >>> import numpy as np, densecore as dc
        >>> w = dc.Tensor(np.ones((3, 2), np.float32), requires_grad=True)
        >>> dc.functional.dense(np.ones((4, 3), np.float32), w, activation="relu").shape
        (4, 2)
    """
    x, w = as_tensor(x), as_tensor(w)
    b = None if b is None else as_tensor(b)
    kernels = backend.kernels()
    xd = x.data if x.dtype == w.dtype else x.data.astype(w.dtype)
    buffers = step_buffers.for_node()
    y = kernels.dense_forward(xd, w.data, None if b is None else b.data, activation, buffers=buffers)

    def backward(g):
        dx, dw, db = kernels.dense_backward(
            xd, w.data, y, g, activation, need_dx=x.requires_grad, need_dw=w.requires_grad, buffers=buffers
        )
        if dx is not None:
            x._accumulate(dx)
        if dw is not None:
            w._accumulate(dw)
        if b is not None:
            b._accumulate(db)

    parents = (x, w) if b is None else (x, w, b)
    return x._child(y, parents, backward)
