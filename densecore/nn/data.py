"""Data that does not fit in memory: fit, evaluate and predict read batches from a Python
generator (or any iterator) or from a `PyDataset`, as Keras 3's data adapters
(keras/src/trainers/data_adapters, keras/src/trainers/epoch_iterator.py).

An adapter has the interface of `inputs.ArrayBatches`: `steps` (the steps of an epoch, or
None when only the data knows) and `epoch(start, restart)`, an iterator of that epoch's
batches, each checked by the caller's `check(where, batch)`. Epochs follow Keras's
EpochIterator: with `steps_per_epoch`, the data is read on from where the last epoch left
it; an iterator that runs dry before `steps_per_epoch` ends the epoch with Keras's warning
(and fit stops: a Python generator cannot start again); without it, an epoch is a full
pass over a PyDataset, or what is left of the iterator.
"""

import collections
import concurrent.futures
import itertools
import types
import warnings

import numpy as np

from ..engine import random as dc_random
from . import inputs

RAN_DRY = (
    "Your input ran out of data; interrupting training. Make sure that your dataset or generator "
    "can generate at least `steps_per_epoch * epochs` batches. You may need to use the `.repeat()` "
    "function when building your dataset."
)


class PyDataset:
    """Base class for a dataset read batch by batch, as `keras.utils.PyDataset`.

    A subclass implements `__len__` (the number of batches; without it the dataset is
    infinite and fit needs `steps_per_epoch`) and `__getitem__(index)`, which returns a
    whole batch: `(x, y)`, `(x, y, sample_weight)`, or `x` alone (or `(x,)`) for predict.
    `on_epoch_begin` and `on_epoch_end` are called around each epoch (e.g. to reshuffle
    files). fit visits the batches in a new seeded order each epoch when `shuffle=True`
    (densecore's stream, as the arrays'), else in index order.

    Args:
        workers: with more than 1, batches are loaded ahead of the step on this many
            background threads (at most `max_queue_size` ahead), so loading overlaps the
            training; with 1 (the default) each is loaded when it is needed, as Keras.
        use_multiprocessing: False only: densecore loads on threads, not processes
            (numpy and file reads release the GIL); True raises ValueError.
        max_queue_size: the most batches loaded ahead (with workers > 1). Defaults to 10.

    Example:
        >>> import math
        >>> import numpy as np
        >>> import densecore as dc
        >>> class Batches(dc.utils.PyDataset):
        ...     def __init__(self, x, y, batch_size, **kwargs):
        ...         super().__init__(**kwargs)
        ...         self.x, self.y, self.batch_size = x, y, batch_size
        ...     def __len__(self):
        ...         return math.ceil(len(self.x) / self.batch_size)
        ...     def __getitem__(self, index):
        ...         rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        ...         return self.x[rows], self.y[rows]
        >>> data = Batches(np.ones((10, 2)), np.ones(10), batch_size=4, workers=2)
        >>> len(data), data[2][0].shape
        (3, (2, 2))
        >>> model = dc.Sequential([dc.layers.Dense(1, input_shape=(2,))])
        >>> model.compile("sgd", "mse")
        >>> len(model.fit(data, epochs=2, verbose=0).history["loss"])
        2
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size
        _check_loading(type(self).__name__, workers, use_multiprocessing, max_queue_size)

    def _warn_if_super_not_called(self):
        missing = [
            name for name in ("_workers", "_use_multiprocessing", "_max_queue_size") if name not in vars(self)
        ]
        if missing:
            self._workers, self._use_multiprocessing, self._max_queue_size = 1, False, 10
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its constructor. "
                "`**kwargs` can include `workers`, `use_multiprocessing`, `max_queue_size`. Do not "
                "pass these arguments to `fit()`, as they will be ignored.",
                stacklevel=3,
            )

    @property
    def workers(self):
        """The loading threads (1: none ahead of the step)."""
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        """Always False in densecore (see the class docstring)."""
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        """The most batches loaded ahead."""
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        """The batch at position `index`."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index).")

    @property
    def num_batches(self):
        """The number of batches (`len(self)`), or None for an infinite dataset."""
        return len(self) if hasattr(self, "__len__") else None

    def __iter__(self):
        indices = range(self.num_batches) if self.num_batches is not None else itertools.count()
        for index in indices:
            yield self[index]

    def on_epoch_begin(self):
        """Called at the beginning of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


def _check_loading(owner, workers, use_multiprocessing, max_queue_size):
    for name, value in (("workers", workers), ("max_queue_size", max_queue_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{owner}: {name} must be a non-negative integer; received {value!r}.")
    if use_multiprocessing:
        raise ValueError(
            f"{owner}: use_multiprocessing=True is not supported: densecore loads batches on "
            f"threads (workers=n), which overlap file reads and numpy work with the step; pass "
            f"use_multiprocessing=False."
        )


def is_streamed(x) -> bool:
    """Whether x is data read batch by batch (a PyDataset, a generator or an iterator)
    rather than arrays."""
    return isinstance(x, (PyDataset, types.GeneratorType)) or (
        hasattr(x, "__next__") and hasattr(x, "__iter__") and not isinstance(x, np.ndarray)
    )


def steps(where, name, value):
    """steps_per_epoch, steps or validation_steps checked: None or a positive integer."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"{where}: {name} must be a positive integer or None; received {value!r}.")
    return int(value)


def structure(where, batch, index, source, targets=True) -> tuple:
    """A batch as the tuple (x, y, sample_weight) (predict: (x,)); ValueError naming the
    batch when it is not (x,), (x, y) or (x, y, sample_weight), as Keras's."""
    if isinstance(batch, list):
        batch = tuple(batch)
    elif not isinstance(batch, tuple):
        batch = (batch,) if isinstance(batch, np.ndarray) or not targets else batch
    if not isinstance(batch, tuple) or len(batch) not in (1, 2, 3):
        raise ValueError(
            f"{where}: batch {index} from the {source} must be a tuple (x,), (x, y) or "
            f"(x, y, sample_weight); received {type(batch).__name__} {str(batch)[:80]}."
        )
    if targets and len(batch) == 1:
        raise ValueError(
            f"{where}: batch {index} from the {source} holds inputs only; training and "
            f"evaluating need targets: yield (x, y) or (x, y, sample_weight)."
        )
    if targets:
        return batch if len(batch) == 3 else (*batch, None)
    return batch[:1]


def _noted(exc, where, index, source):
    exc.add_note(f"{where}: raised by the {source} while reading batch {index}")
    return exc


class GeneratorBatches:
    """The batches of a Python generator or iterator, read once (Keras's
    GeneratorDataAdapter): the first batch is read at once, to check it and build the model
    before any work; epochs then take the batches as they come.

    Args:
        where: the caller, for the messages ("fit", "evaluate", ...).
        iterator: the generator or iterator.
        steps_per_epoch: the batches of an epoch, or None: until it runs dry.
        check: `check(where, batch)` -> the batch as the arrays the steps take.
        targets: whether batches carry targets (False for predict).
    """

    source = "generator"
    pass_offset = 0

    def __init__(self, where, iterator, steps_per_epoch, check, targets=True):
        self.where, self.check, self.targets = where, check, targets
        self._iterator = iter(iterator)
        self.steps_per_epoch = self.steps = steps_per_epoch
        self.ran_dry = False
        self._read = 0  # batches read so far, over all epochs
        first = self._next()
        if first is None:
            raise ValueError(
                f"{where}: When passing a Python generator to a densecore model, the generator "
                f"must yield at least one batch. Received an empty generator."
            )
        self._first = [first]
        self.first = first

    def _next(self):
        index = self._read
        try:
            batch = next(self._iterator)
        except StopIteration:
            return None
        except Exception as exc:
            raise _noted(exc, self.where, index, self.source) from None
        self._read += 1
        batch = structure(self.where, batch, index, self.source, self.targets)
        return self.check(f"{self.where}, batch {index}", batch)

    def epoch(self, start=0, restart=None):
        """The next batches: steps_per_epoch − start of them, or all that are left. A
        generator cannot be rewound: `restart` is ignored (a resumed fit reads on from
        the generator it is given)."""
        return self._steps(start)

    def _steps(self, start):
        limit = self.steps_per_epoch
        step = start
        while limit is None or step < limit:
            batch = self._first.pop() if self._first else self._next()
            if batch is None:
                self.ran_dry = True
                return
            step += 1
            yield batch

    def position(self, step=None):
        """Where a resumed fit would start reading: nothing to restore for a generator."""
        return None

    def close(self):
        """Nothing to release."""


class PyDatasetBatches:
    """The batches of a PyDataset (Keras's PyDatasetAdapter), in a seeded order each pass
    when shuffling, loaded ahead on `dataset.workers` threads when more than one.

    Args:
        where, check, targets: as GeneratorBatches.
        dataset: the PyDataset.
        steps_per_epoch: the batches of an epoch (default: len(dataset)); an epoch may end
            a pass part-way, and the next reads on, as Keras.
        shuffle: visit the batches in a new order each pass.
        class_weight: {class: weight}, applied to each batch's y (as inputs.class_weights).
    """

    source = "PyDataset"

    def __init__(self, where, dataset, steps_per_epoch, shuffle, check, class_weight=None, targets=True):
        self.where, self.dataset, self.check, self.targets = where, dataset, check, targets
        self.class_weight = class_weight
        _check_loading(
            type(dataset).__name__, dataset.workers, dataset.use_multiprocessing, dataset.max_queue_size
        )
        self.n = dataset.num_batches
        if self.n is not None:
            if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 0:
                raise ValueError(
                    f"{where}: len({type(dataset).__name__}) must be an integer ≥ 0; received {self.n!r}."
                )
            if self.n == 0:
                raise ValueError(f"{where}: the PyDataset {type(dataset).__name__} has length 0.")
        elif steps_per_epoch is None:
            raise ValueError(
                f"{where}: the PyDataset {type(dataset).__name__} has no __len__ (it is infinite): "
                f"pass {'steps_per_epoch' if where == 'fit' else 'steps'}."
            )
        if self.n is None and shuffle:
            warnings.warn(
                "`shuffle=True` was passed, but will be ignored since the data `x` was provided as "
                "an infinite PyDataset. The PyDataset is expected to already be shuffled.",
                stacklevel=4,
            )
        self.shuffle = shuffle and self.n is not None
        self.steps_per_epoch = steps_per_epoch
        self.steps = steps_per_epoch or self.n
        workers, ahead = dataset.workers, dataset.max_queue_size
        self._pool = concurrent.futures.ThreadPoolExecutor(workers) if workers > 1 else None
        self._ahead = max(ahead, 1)
        self._order, self._position, self.pass_offset, self.pass_state = None, 0, 0, None
        self.ran_dry = False
        self.first = self._load(0)

    def _load(self, index):
        try:
            batch = self.dataset[index]
        except Exception as exc:
            raise _noted(exc, self.where, index, self.source) from None
        batch = structure(self.where, batch, index, self.source, self.targets)
        if self.class_weight is not None:
            if batch[2] is not None:
                raise ValueError(
                    f"{self.where}: You cannot specify `class_weight` and `sample_weight` at the same "
                    f"time (batch {index} of the PyDataset holds sample weights)."
                )
            batch = (batch[0], batch[1], inputs.class_weights(self.where, batch[1], self.class_weight))
        return self.check(f"{self.where}, batch {index}", batch)

    def epoch(self, start=0, restart=None):
        """The batches of one epoch, from step `start`: the pass goes on from where the last
        epoch left it, or a new one starts (its order drawn now, from densecore's stream);
        `restart`: start a new pass at this position (to resume training)."""
        if restart is not None or self._order is None:
            self.pass_state = dc_random.get_state() if self.shuffle else None
            if self.n is None:
                self._order = itertools.count()
            else:
                self._order = dc_random.generator().permutation(self.n) if self.shuffle else np.arange(self.n)
            self._position = restart or 0
        self.pass_offset = self._position - start
        self.dataset.on_epoch_begin()
        return self._steps(start)

    def _index(self, position):
        return position if self.n is None else int(self._order[position])

    def _steps(self, start):
        limit = self.steps
        end = limit - start if self.n is None else min(limit - start, self.n - self._position)
        pending = collections.deque()
        try:
            for k in range(end):
                if self._pool is None:
                    batch = self._load(self._index(self._position))
                else:
                    while len(pending) < min(self._ahead, end - k):
                        index = self._index(self._position + len(pending))
                        pending.append(self._pool.submit(self._load, index))
                    batch = pending.popleft().result()
                self._position += 1
                yield batch
            if self.steps_per_epoch is not None and end < limit - start:
                warnings.warn(RAN_DRY, stacklevel=2)
        finally:
            for future in pending:
                future.cancel()
            concurrent.futures.wait(pending)  # none loads while on_epoch_end runs
            if self.n is not None and self._position >= self.n:
                self._order = None
            self.dataset.on_epoch_end()

    def position(self, step=None):
        """Where a resumed fit starts reading: the pass's random state and the batch after
        `step` steps of this epoch (at the epoch's end, step=None: None when the next epoch
        starts a new pass)."""
        if step is None:
            if self._order is None:
                return None
            return {"rng": self.pass_state, "at": self._position}
        return {"rng": self.pass_state, "at": self.pass_offset + step}

    def close(self):
        """Stop the loading threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
