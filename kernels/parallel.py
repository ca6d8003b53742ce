"""When numba's parallel kernels run, and their serial twins for when they do not.

A kernel's loops run on one thread, through its serial twin, in two cases:
- too little work: a parallel launch costs more than a small sweep (each caller states its
  threshold), and a small model then never compiles the parallel form on its first run;
- a fork: a process forked after its parent ran parallel kernels on the GNU OpenMP threading
  layer (numba's default where tbb is not installed) cannot start OpenMP threads, and numba
  ends it ("fork() called from a process already using GNU OpenMP"). The children of such a
  fork (multiprocessing's default start method on Linux) run every kernel on one thread
  each, as PyTorch's do. To keep children parallel, start them with "spawn" or "forkserver",
  or install tbb (`pip install tbb`), whose threading layer numba then prefers.

A twin is the same Python function compiled without `parallel` (prange runs as range), so it
gives the same bits. It is compiled under its own name ("<kernel>_serial"): numba's cache
keys entries by the function's name and line, so a twin of the same name would share the
original's cache entry and load the parallel code, or lend it the serial one.
"""

import functools
import os
import types

import numba
from numba import njit

_state = {"forked_after_omp": False}


def usable() -> bool:
    """Whether parallel kernels may run in this process (False in a child forked after its
    parent used the OpenMP threading layer)."""
    return not _state["forked_after_omp"]


@functools.cache
def serial(kernel):
    """`kernel` (a parallel numba dispatcher) compiled without threads, under its own name."""
    fn = kernel.py_func
    twin = types.FunctionType(
        fn.__code__, fn.__globals__, fn.__name__ + "_serial", fn.__defaults__, fn.__closure__
    )
    twin.__qualname__ = fn.__qualname__ + "_serial"
    twin.__module__ = fn.__module__
    twin.__doc__ = fn.__doc__
    options = {k: v for k, v in kernel.targetoptions.items() if k not in ("parallel", "nopython")}
    return njit(cache=True, **options)(twin)  # (the dispatcher's targetoptions do not hold `cache`)


def choose(kernel, big: bool = True):
    """`kernel` when the work is `big` and threads may run here, else its serial twin."""
    return kernel if big and not _state["forked_after_omp"] else serial(kernel)


def _after_fork_in_child():
    try:
        layer = numba.threading_layer()
    except ValueError:  # no parallel kernel ran before the fork: this process starts its own layer
        return
    if layer == "omp":
        _state["forked_after_omp"] = True


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
