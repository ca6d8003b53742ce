"""Arrays a kernel reuses from one call to the next: no allocation on a training loop's hot path.

A training step calls the same kernels with the same shapes thousands of times. Allocating
every result afresh costs more than it seems: a result of half a megabyte or more is past
malloc's mmap threshold, and depending on what the process allocated before (a numpy
temporary, another library), malloc may hand the pages back to the system on `free` and
fault them in again on the next call, zeroed, 4 KiB at a time. Measured on the 784-256-256-10
step at batch 512: ~470 page faults per step and epochs 20-30% slower in that state.

So every kernel that returns arrays takes an optional `buffers`: a `Buffers` that the kernel
fills with its results and scratch arrays on the first call and writes into again on the
next calls with the same shapes and dtype (and that it replaces when they change).

The price is the usual one of `out=` arguments: the arrays returned are overwritten by the
next call given the same `Buffers`, so a caller keeps one `Buffers` per call site (densecore
keeps one per dense node of a training step) and copies what it wants to keep.

    >>> import numpy as np, kernels
    >>> k, bufs = kernels.get("cpu"), kernels.Buffers()
    >>> x, w = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    >>> y1 = k.dense_forward(x, w, buffers=bufs)
    >>> y2 = k.dense_forward(2 * x, w, buffers=bufs)
    >>> y1 is y2, float(y1[0, 0])
    (True, 6.0)
"""

import numpy as np


def _root(array):
    """The array that owns `array`'s memory (itself, or the end of its chain of bases)."""
    while getattr(array, "base", None) is not None and not isinstance(array.base, bytes):
        array = array.base
    return array


class Buffers:
    """Named arrays kept for the next call of a kernel with the same shapes."""

    __slots__ = ("_arrays", "_children")

    def __init__(self):
        self._arrays = {}
        self._children = {}

    def take(self, where, name, shape, dtype, inputs=(), new=np.empty):
        """The array kept under `name` if it has this shape and dtype, else a new one kept.

        Args:
            where: the calling kernel, for the error message.
            name: the array's role in the kernel ("y", "dw", ...).
            shape, dtype: what the kernel needs.
            inputs: the call's input arrays: none may share memory with the result (as
                when a result of the last call is passed back in), or the kernel would
                overwrite what it is still reading.
            new: the allocator (numpy's, or the GPU's for the cuda backend).

        Raises:
            ValueError: when an input is the kept array or a view of it.
        """
        array = self._arrays.get(name)
        if array is None or array.shape != shape or array.dtype != dtype:
            array = self._arrays[name] = new(shape, dtype)
            return array
        for value in inputs:
            if value is not None and _root(value) is array:
                raise ValueError(
                    f"{where}: an input of shape {value.shape} is the {name!r} result that this "
                    f"Buffers holds from an earlier call, which this call would overwrite; "
                    f"pass a copy, or give each call site its own Buffers."
                )
        return array

    def __deepcopy__(self, memo):
        return Buffers()  # scratch: a copied model (or layer) starts with none, on any device

    def sub(self, name) -> "Buffers":
        """The Buffers of a kernel called from inside this one (one per call, by name)."""
        child = self._children.get(name)
        if child is None:
            child = self._children[name] = Buffers()
        return child


def take(buffers, where, name, shape, dtype, inputs=(), new=np.empty):
    """`buffers.take(...)`, or a new array when buffers is None (the default: nothing kept).

    Raises:
        TypeError: when buffers is neither None nor a Buffers.
    """
    if buffers is None:
        return new(shape, dtype)
    if type(buffers) is not Buffers:
        raise TypeError(
            f"{where}: buffers must be a kernels.Buffers or None; received {type(buffers).__name__}."
        )
    return buffers.take(where, name, shape, dtype, inputs, new)


def sub(buffers, name):
    """The nested Buffers called `name`, or None when buffers is None."""
    return None if buffers is None else buffers.sub(name)
