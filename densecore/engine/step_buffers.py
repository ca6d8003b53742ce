"""The arrays a training step's kernels write into, kept for the next step.

`fit` runs the same graph on batches of the same shape thousands of times. Inside a
training step (`with reusing(step_buffers):`), each dense node asks `for_node()` for a
kernels.Buffers and hands it to its forward and backward kernels: the n-th node of a step
gets the n-th Buffers, so step after step each node writes its output and its gradients
into the same arrays and the step allocates nothing big (kernels/buffers.py says why that
matters: up to 30% of a step in page faults, measured).

This is safe because nothing a step makes outlives it: by its end the loss is a float, the
optimizer has consumed the gradients and the graph is freed. (A custom `call` that stores
a dense layer's output on the model for later would see it overwritten by the next step:
keep a copy instead.) Outside a training step, `for_node()` is None and every kernel
allocates its results, as a function should.
"""

import contextlib
import threading

from ..kernels import Buffers

_local = threading.local()  # per thread: a predict in another thread never gets a step's arrays


class StepBuffers:
    """One Buffers per dense node of a training step, handed out in the order of the nodes."""

    __slots__ = ("_sets", "_used")

    def __init__(self):
        self._sets = []
        self._used = 0

    def __deepcopy__(self, memo):
        return StepBuffers()  # a cloned model keeps none of the original's scratch arrays

    def next(self) -> Buffers:
        if self._used == len(self._sets):
            self._sets.append(Buffers())
        buffers = self._sets[self._used]
        self._used += 1
        return buffers


@contextlib.contextmanager
def reusing(step_buffers: StepBuffers):
    """Within this block (one training step), dense nodes write into `step_buffers`."""
    saved = getattr(_local, "active", None)
    step_buffers._used = 0
    _local.active = step_buffers
    try:
        yield
    finally:
        _local.active = saved


def for_node():
    """The next node's Buffers inside a training step; None outside one."""
    active = getattr(_local, "active", None)
    return None if active is None else active.next()
