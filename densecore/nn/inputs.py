"""What fit, evaluate and predict accept, checked before any work: the arrays, the batch
size, sample and class weights, validation_freq; and how fit takes its batches."""

import inspect
import math

import numpy as np

from ..engine import random as dc_random
from ..engine.tensor import Tensor
from ..kernels import data as data_kernels
from . import losses as losses_module


def checked_array(where, x, name="x", dtype=None, finite=True) -> np.ndarray:
    """x (or y, or weights: `name`) as a numpy array of numbers, checked.

    Args:
        where: the caller's name, for the messages ("fit", "predict", ...).
        x: the array (or anything numpy reads as one, or a Tensor).
        name: what x is, for the messages.
        dtype: the dtype the steps use: x is cast to it (without a copy when it has it)
            before the NaN/inf check, so that values beyond its range (1e39 in float32)
            are caught too.
        finite: refuse NaN and inf (x and weights); targets may hold them, as in Keras,
            whose fit trains on them (the loss becomes NaN or inf and fit stops).

    Raises:
        TypeError: for non-numbers.
        ValueError: for a 1-D x, an empty array, NaN or inf (when `finite`), or values
            beyond `dtype`'s range.
    """
    if x is None:
        raise ValueError(f"{where}: {name} is required.")
    if isinstance(x, Tensor):
        x = x.data
    try:
        array = np.asarray(x)
    except (ValueError, TypeError) as exc:
        raise TypeError(f"{where}: {name} must be an array of numbers; {exc}") from None
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{where}: {name} must hold numbers; received dtype {array.dtype}.")
    if array.ndim == 1 and name == "x":
        raise ValueError(
            f"{where}: x must be (samples, features); received shape {array.shape}. "
            f"Use x.reshape(-1, 1) for a single feature."
        )
    if array.shape[0:1] == (0,):
        raise ValueError(f"{where}: {name} is empty (shape {array.shape}).")
    cast = array
    if dtype is not None and array.dtype != dtype:
        with np.errstate(over="ignore"):  # values beyond dtype's range become inf: caught below
            cast = array.astype(dtype, copy=False)
    if finite and cast.dtype.kind == "f" and data_kernels.count_nonfinite(cast):
        bad = tuple(int(i) for i in np.argwhere(~np.isfinite(cast))[0])
        if np.isfinite(array[bad]):
            raise ValueError(
                f"{where}: {name} holds {float(array[bad])!r} at index {bad}, beyond the range of "
                f"{np.dtype(dtype).name} (±{np.finfo(dtype).max:.4g})."
            )
        raise ValueError(f"{where}: {name} contains NaN or inf (first at index {bad}).")
    return cast


def batch_size(where, batch_size):
    """batch_size checked: a positive integer, 32 for None (as Keras)."""
    if batch_size is None:
        return 32
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"{where}: batch_size must be a positive integer; received {batch_size!r}.")
    return int(batch_size)


def class_weights(where, y, class_weight) -> np.ndarray:
    """Keras's class_weight as one weight per sample: class_weight[label], 1 for a class it
    does not name. The label is y itself for integer labels (N,) or (N, 1) and for binary
    targets (rounded), and the argmax of one-hot or soft targets (N, C)."""
    if not isinstance(class_weight, dict):
        raise TypeError(
            f"{where}: class_weight must be a dict {{class: weight}}; received {class_weight!r:.60}."
        )
    for key, value in class_weight.items():
        if isinstance(key, bool) or not isinstance(key, (int, np.integer)):
            raise TypeError(f"{where}: class_weight keys must be integer classes; received {key!r}.")
        number = isinstance(value, (int, float, np.number)) and not isinstance(value, bool)
        if not number or not math.isfinite(value):
            raise ValueError(f"{where}: class_weight[{key}] must be a finite number; received {value!r}.")
    y = np.asarray(y)
    if y.ndim > 1 and y.shape[-1] != 1:
        labels = np.argmax(y.reshape(len(y), -1), axis=-1)
    else:
        labels = np.round(y.reshape(len(y))).astype(np.int64)
    weights = np.ones(len(labels), np.float64)
    for label, weight in class_weight.items():  # one sweep per named class, not a loop per sample
        weights[labels == label] = weight
    return weights


def sample_weights(where, y, loss, sample_weight=None, class_weight=None):
    """One float64 weight per sample of y, from sample_weight or class_weight, checked;
    None when neither is given (the unweighted loss, bit for bit). `loss` is the compiled
    loss, which must take weights."""
    if sample_weight is None and class_weight is None:
        return None
    if sample_weight is not None and class_weight is not None:
        raise ValueError(f"{where}: give sample_weight or class_weight, not both (as Keras).")
    takes_weights = isinstance(loss, losses_module.Loss) or "sample_weight" in parameters(loss)
    if loss is not None and not takes_weights:
        raise TypeError(
            f"{where}: the compiled loss {loss!r:.60} takes no sample_weight; compile a "
            f"densecore loss (e.g. loss='mse') or a callable (y_true, y_pred, sample_weight)."
        )
    if class_weight is not None:
        return class_weights(where, y, class_weight)
    w = checked_array(where, sample_weight, "sample_weight")
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    if w.shape != (len(y),):
        raise ValueError(
            f"{where}: sample_weight must hold one weight per sample, shape ({len(y)},); received {w.shape}."
        )
    return w.astype(np.float64)


def validation_epochs(where, freq):
    """fit's validation_freq as a test of the epoch number (from 1): every freq-th, or those
    listed."""
    if isinstance(freq, (int, np.integer)) and not isinstance(freq, bool) and freq > 0:
        return lambda epoch: epoch % freq == 0
    if isinstance(freq, (list, tuple, set)) and all(
        isinstance(e, (int, np.integer)) and not isinstance(e, bool) for e in freq
    ):
        listed = set(int(e) for e in freq)
        return lambda epoch: epoch in listed
    raise ValueError(
        f"{where}: validation_freq must be a positive integer or a list of epochs (from 1); "
        f"received {freq!r}."
    )


def batch_taker(x, batch_size, buffers):
    """index -> x[index] for fit's steps. A slice (no shuffle) is a view; a shuffled index
    is gathered in parallel into one buffer reused by every step (`kernels.data`), as
    nothing keeps a step's batch after the step, and kept in `buffers` for the next fit.
    numpy's indexing for other layouts."""
    flat = x.reshape(len(x), -1) if x.flags.c_contiguous else None
    shape = (min(batch_size, len(x)), 0 if flat is None else flat.shape[1])
    buffer = None if flat is None else buffers.take("fit", "batch", shape, x.dtype, (x,))

    def take(index):
        if isinstance(index, slice) or buffer is None:
            return x[index]
        return data_kernels.take_rows(flat, index, buffer).reshape((len(index), *x.shape[1:]))

    return take


class Arrays:
    """The arrays of a model with several inputs (or outputs), one per input, in the model's
    order, sliced together: `len` is the samples, `arrays[index]` (a slice or the indices of a
    step) the same rows of each. fit's and evaluate's batches carry it where one array goes.
    """

    def __init__(self, arrays):
        self.arrays = list(arrays)

    def __len__(self):
        return len(self.arrays[0])

    def __getitem__(self, index):
        return Arrays([a[index] for a in self.arrays])

    shape = property(lambda self: tuple(a.shape for a in self.arrays))
    dtype = property(lambda self: self.arrays[0].dtype)

    def __repr__(self):
        return f"Arrays({[a.shape for a in self.arrays]})"


class ArrayBatches:
    """fit's training data in batches: `epoch()` yields (x, y, sample_weight) per step, in a
    new seeded order each epoch when shuffling (the order is drawn when the epoch starts).

    Args:
        x, y: the checked arrays.  w: one weight per sample, or None.
        batch_size: samples per step; the last step takes the rest.
        shuffle: reshuffle each epoch with densecore's seeded stream.
        buffers: where the shuffled batch's gather buffer is kept between fits.
    """

    ran_dry = False  # (arrays never run dry: data.GeneratorBatches's flag)
    steps_per_epoch = None

    def __init__(self, x, y, w, batch_size, shuffle, buffers):
        self.x, self.y, self.w = x, y, w
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.steps = -(-len(self.x) // batch_size)
        # (several inputs: numpy's indexing of each array)
        self._take = x.__getitem__ if isinstance(x, Arrays) else batch_taker(self.x, batch_size, buffers)
        self.pass_state = None

    def epoch(self, start=0, restart=None):
        """The steps of one epoch from step `start`, as an iterator of (x, y, sample_weight
        or None); the order is drawn now. (`restart`, the step a resumed fit starts at, is
        `start` for arrays.)"""
        if self.shuffle:
            self.pass_state = dc_random.get_state()  # for BackupAndRestore: once per epoch
        order = dc_random.generator().permutation(len(self.x)) if self.shuffle else None
        return self._steps(order, start)

    def position(self, step=None):
        """Where a resumed fit starts: the epoch's random state and its step (None at the
        epoch's end: the next epoch draws a new order)."""
        return None if step is None else {"rng": self.pass_state, "at": step}

    def close(self):
        """Nothing to release."""

    def _steps(self, order, start):
        for step in range(start, self.steps):
            batch = slice(step * self.batch_size, (step + 1) * self.batch_size)
            index = batch if order is None else order[batch]
            y = None if self.y is None else self.y[index]  # (None: a model of add_loss losses alone)
            yield self._take(index), y, None if self.w is None else self.w[index]


def parameters(fn) -> tuple:
    """The names of fn's parameters (none when they cannot be read)."""
    try:
        return tuple(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return ()
