"""Where arrays live: on the host (numpy) or, with the "cuda" backend, on the GPU.

With `set_backend("cuda")`, fit, evaluate and predict keep the model on the device: at the
start of each epoch (or call) the weights and the optimizer's state are copied to the GPU
once (`resident`), every batch is copied there once, and the whole step — layers, loss,
gradients, optimizer update, metric counts — runs in CUDA kernels on device arrays. Only
the numbers a progress bar shows (the loss, the metric counts) come back during an epoch;
the weights and the state come back at its end, so callbacks, get_weights and save always
see numpy arrays.

Everything else in the engine works on numpy arrays; an operation that has no device form
says so (`require_host`) instead of failing somewhere inside numpy.
"""

import contextlib

import numpy as np

from ..kernels import activations
from ..kernels.checks import is_device  # noqa: F401  (device.is_device: one definition)
from . import backend


def on_gpu() -> bool:
    """Whether the selected backend keeps arrays on the GPU."""
    return backend.get_backend() == "cuda"


def to_host(array):
    """A numpy array of `array`'s values (copied back if it lives on the device)."""
    return array.copy_to_host() if is_device(array) else array


def to_device(array):
    """`array` on the device (copied there once if it is a numpy array)."""
    if is_device(array):
        return array
    return backend.kernels().upload(array, "a batch")


_last_targets = {}  # the targets last copied up, by content: {key: device array}


def targets_to_device(targets: np.ndarray):
    """A batch's targets on the device, copied once however many users ask for them.

    The loss and an accuracy metric each want the batch's labels in the same form; the second
    request finds the first copy (targets are small, so comparing their bytes costs little,
    and kernels only read them)."""
    targets = np.ascontiguousarray(targets)
    key = (targets.dtype.str, targets.shape, targets.tobytes())
    if key not in _last_targets:
        _last_targets.clear()
        _last_targets[key] = to_device(targets)
    return _last_targets[key]


def require_host(array, op: str):
    """Raise a clear error when an op without a device form meets a device array."""
    if is_device(array):
        raise NotImplementedError(
            f"{op} has no GPU form yet: on the cuda backend, training stays on the device for "
            f"Dense and LowRankDense layers, the losses from logits and MSE, the accuracy "
            f"metrics and the optimizers; use densecore.set_backend('cpu') for this model."
        )


@contextlib.contextmanager
def resident(weights, optimizer=None):
    """Keep `weights` (and the optimizer's state for them) on the device within the block.

    Does nothing unless the backend is "cuda". On leaving, however it is left, the values
    are copied back into numpy arrays.
    """
    if not on_gpu() or any(is_device(w.data) for w in weights):  # off, or already resident
        yield
        return
    states = [] if optimizer is None else [optimizer._slots_for(w) for w in weights if w.requires_grad]
    for w in weights:
        w.data = to_device(w.data)
    for state in states:
        for slot, array in state.items():
            state[slot] = to_device(array)
    try:
        yield
    finally:
        for w in weights:
            w.data = to_host(w.data)
        for state in states:
            for slot, array in state.items():
                state[slot] = to_host(array)


def check_model(model, where: str, loss: bool = True) -> None:
    """Before any work on the GPU: raise, naming them, for layers that have no device form
    (each layer says, in `gpu_problem`; `loss`: the step computes the loss, with the
    regularizers' penalties, which have no device form)."""
    if not on_gpu():
        return
    problems = [p for p in (layer.gpu_problem(loss) for layer in model.iter_layers()) if p]
    if problems:
        raise NotImplementedError(
            f"{where}: on the cuda backend, {', '.join(problems)} "
            f"{'has' if len(problems) == 1 else 'have'} no GPU form yet (the GPU runs Dense and "
            f"LowRankDense layers with {list(activations.NAMES)}, Dropout and Flatten); use "
            f"densecore.set_backend('cpu')."
        )
