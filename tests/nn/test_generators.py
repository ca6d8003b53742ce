"""fit, evaluate and predict on data read batch by batch: Python generators and iterators,
dc.utils.PyDataset (densecore/nn/data.py). Ported from Keras 3's
keras/src/trainers/data_adapters/generator_data_adapter_test.py,
py_dataset_adapter_test.py and trainer_test.py, as named in each test."""

import math
import threading
import time
import warnings

import numpy as np
import pytest

import densecore as dc


class ExamplePyDataset(dc.utils.PyDataset):
    """Keras's ExamplePyDataset (py_dataset_adapter_test.py)."""

    def __init__(self, x, y, sample_weight=None, batch_size=32, delay=0, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.batch_size, self.delay = batch_size, delay
        self.read = []

    def __len__(self):
        return math.ceil(len(self.x) / self.batch_size)

    def __getitem__(self, idx):
        time.sleep(self.delay)
        self.read.append(idx)
        rows = slice(idx * self.batch_size, (idx + 1) * self.batch_size)
        if self.sample_weight is not None:
            return self.x[rows], self.y[rows], self.sample_weight[rows]
        return self.x[rows], self.y[rows]


def batches(x, y, batch_size, w=None):
    for start in range(0, len(x), batch_size):
        rows = slice(start, start + batch_size)
        yield (x[rows], y[rows]) if w is None else (x[rows], y[rows], w[rows])


def model(seed=0, dropout=False, units=2):
    dc.set_seed(seed)
    layers = [dc.layers.Dense(8, activation="relu", input_shape=(4,))]
    layers += [dc.layers.Dropout(0.3)] if dropout else []
    net = dc.Sequential([*layers, dc.layers.Dense(units)])
    net.compile("adam", "mse", metrics=["mae"])
    return net


def data(n=34):
    rng = np.random.default_rng(1)
    return rng.random((n, 4)).astype(np.float32), rng.random((n, 2)).astype(np.float32)


def same(a, b):
    return all(np.array_equal(u, v) for u, v in zip(a.get_weights(), b.get_weights()))


def test_generator_fit_matches_arrays_bitwise():
    """generator_data_adapter_test.test_basic_flow: batches of 16, 16 and 2 in order, with and
    without sample weights; fit on them is fit on the arrays with shuffle=False."""
    x, y = data()
    w = np.linspace(0.5, 1.5, len(x))
    for weights in (None, w):
        a, b = model(), model()
        ha = a.fit(x, y, batch_size=16, sample_weight=weights, shuffle=False, verbose=0)
        hb = b.fit(batches(x, y, 16, weights), verbose=0)
        assert same(a, b) and ha.history == hb.history
        assert b.evaluate(batches(x, y, 16)) == a.evaluate(x, y, batch_size=16)
        np.testing.assert_array_equal(b.predict(((xb,) for xb, _ in batches(x, y, 16))), a.predict(x))


def test_predict_generator_of_x_alone():
    """trainer_test.test_predict_generator: batches `(x,)` (and bare arrays) in order."""
    x, _ = data(10)
    net = model()
    expected = net.predict(x)
    np.testing.assert_array_equal(net.predict((x[i : i + 2] for i in range(0, 10, 2))), expected)
    np.testing.assert_array_equal(net.predict(((x[i : i + 2],) for i in range(0, 10, 2)), steps=5), expected)


def test_empty_generator_raises_clear_error():
    """generator_data_adapter_test.test_empty_generator_raises_clear_error."""
    with pytest.raises(ValueError, match="the generator must yield at least one batch"):
        model().fit((b for b in ()), verbose=0)


def test_validation_data_infinite_generator():
    """trainer_test.test_validation_data_infinite_generator: 3 train and 4 validation steps."""
    counts = {"train": 0, "test": 0}

    class Recorder(dc.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            counts["train"] += 1

        def on_test_batch_end(self, batch, logs=None):
            counts["test"] += 1

    def infinite():
        while True:
            yield np.ones((2, 4)), np.ones((2, 2))

    model().fit(
        infinite(),
        validation_data=infinite(),
        steps_per_epoch=3,
        validation_steps=4,
        callbacks=[Recorder()],
        verbose=0,
    )
    assert counts == {"train": 3, "test": 4}


def test_generator_reads_on_across_epochs_and_ran_dry_warns():
    """epoch_iterator's rule: with steps_per_epoch the next epoch reads on; a generator that
    runs dry ends the epoch and training with Keras's warning (not a crash)."""
    x, y = data(40)
    net = model()
    with pytest.warns(UserWarning, match="Your input ran out of data; interrupting training"):
        history = net.fit(batches(x, y, 8), steps_per_epoch=3, epochs=4, verbose=0)
    assert len(history.history["loss"]) == 2  # 3 + 2 batches: the second epoch ran dry
    assert net.optimizer.iterations == 5


def test_generator_without_steps_runs_until_exhausted():
    """Keras runs a generator without steps_per_epoch until it is exhausted (the first
    epoch's length); it cannot start again, so fit stops there with the warning."""
    x, y = data(40)
    net = model()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(net.fit(batches(x, y, 8), verbose=0).history["loss"]) == 1
    with pytest.warns(UserWarning, match="ran out of data"):
        history = net.fit(batches(x, y, 8), epochs=3, verbose=0)
    assert len(history.history["loss"]) == 1 and net.optimizer.iterations == 10


def test_pydataset_basic_flow_shuffle_and_workers():
    """py_dataset_adapter_test.test_basic_flow: in order without shuffle, every batch once
    in another order with it; loading on threads changes nothing (bitwise)."""
    x = np.random.default_rng(0).random((64, 4)).astype(np.float32)
    y = np.array([[i, i] for i in range(64)], np.float32)
    for shuffle in (False, True):
        dataset = ExamplePyDataset(x, y, batch_size=16)
        one = model()  # (each model seeds the stream: the shuffles follow)
        one.fit(dataset, shuffle=shuffle, epochs=2, verbose=0)
        for epoch in (dataset.read[1:5], dataset.read[5:]):  # (index 0 is read first, to check it)
            assert sorted(epoch) == [0, 1, 2, 3]
            assert (epoch == [0, 1, 2, 3]) == (not shuffle)
        threaded = model()
        threaded.fit(
            ExamplePyDataset(x, y, batch_size=16, workers=3, max_queue_size=2),
            shuffle=shuffle,
            epochs=2,
            verbose=0,
        )
        assert same(one, threaded)


def test_pydataset_class_weight():
    """py_dataset_adapter_test.test_class_weight: each sample weighted by its class."""
    x = np.random.default_rng(0).random((4, 4))
    y = np.array([0, 1, 2, 1])
    class_w = {0: 2, 1: 1, 2: 3}
    a, b = model(units=3), model(units=3)
    for net in (a, b):
        net.compile("sgd", "sparse_categorical_crossentropy")
    a.fit(x, y, batch_size=2, class_weight=class_w, shuffle=False, verbose=0)
    b.fit(ExamplePyDataset(x, y, batch_size=2), class_weight=class_w, shuffle=False, verbose=0)
    assert same(a, b)


def test_pydataset_speedup():
    """py_dataset_adapter_test.test_speedup: loading on 4 threads beats loading in turn."""
    x, y = data(40)

    def timed(**kwargs):
        net = model()
        t0 = time.perf_counter()
        net.fit(ExamplePyDataset(x, y, batch_size=4, delay=0.02, **kwargs), shuffle=False, verbose=0)
        return time.perf_counter() - t0

    assert timed(workers=4, max_queue_size=8) < timed()


def test_exception_reported_with_batch_index():
    """py_dataset_adapter_test.test_exception_reported: the user's exception comes out as
    itself, its note naming the batch."""

    class ExceptionPyDataset(dc.utils.PyDataset):
        def __len__(self):
            return 4

        def __getitem__(self, index):
            if index < 2:
                return np.ones((8, 4), np.float32), np.ones((8, 2), np.float32)
            raise ValueError("Expected exception")

    for workers in (1, 2):
        with pytest.raises(ValueError, match="Expected exception") as info:
            model().fit(ExceptionPyDataset(workers=workers), shuffle=False, verbose=0)
        assert any("batch 2" in note for note in info.value.__notes__)

    def failing():
        yield np.ones((8, 4)), np.ones((8, 2))
        raise KeyError("disk gone")

    with pytest.raises(KeyError, match="disk gone") as info:
        model().fit(failing(), verbose=0)
    assert any("batch 1" in note for note in info.value.__notes__)


def test_memory_mapped_pydataset_matches_in_memory_fit(tmp_path):
    """Data that does not fit in memory: batches memory-mapped from .npy files on disk reach
    bitwise the weights of the in-memory fit (shuffle=False)."""
    x, y = data(50)
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "y.npy", y)

    class OnDisk(dc.utils.PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.x = np.load(tmp_path / "x.npy", mmap_mode="r")
            self.y = np.load(tmp_path / "y.npy", mmap_mode="r")

        def __len__(self):
            return math.ceil(len(self.x) / 8)

        def __getitem__(self, i):
            return self.x[i * 8 : (i + 1) * 8], self.y[i * 8 : (i + 1) * 8]

    a = model(dropout=True)  # (each model seeds the stream: its dropout masks follow)
    a.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    b = model(dropout=True)
    b.fit(OnDisk(workers=2), epochs=3, shuffle=False, verbose=0)
    assert same(a, b)


@pytest.mark.parametrize(
    "batch, match",
    [
        ([np.ones((2, 4))], "holds inputs only"),
        ((np.ones((2, 4)), np.ones((2, 2)), np.ones(2), np.ones(2)), "must be a tuple"),
        ((np.ones((2, 5)), np.ones((2, 2))), r"batch 1: .*built for inputs of shape \(batch, 4\)"),
        ((np.ones((2, 4)), np.ones((3, 2))), r"batch 1: y must be one target per sample"),
        ((np.ones((2, 4)), np.ones((2, 3))), r"batch 1: y must be one target per sample"),
        ((np.full((2, 4), np.nan), np.ones((2, 2))), "batch 1: x contains NaN"),
        ((np.ones((2, 4)), np.ones((2, 2)), np.ones(3)), "batch 1: sample_weight must hold one weight"),
    ],
)
def test_bad_batch_names_the_batch(batch, match):
    def gen():
        yield np.ones((2, 4)), np.ones((2, 2))
        yield batch

    with pytest.raises((ValueError, TypeError), match=match):
        model().fit(gen(), verbose=0)


def test_bad_arguments():
    x, y = data(8)
    net = model()
    for name in ("steps_per_epoch", "validation_steps"):
        for value in (0, -1, 1.5, True):
            with pytest.raises(ValueError, match=name):
                net.fit(batches(x, y, 4), verbose=0, **{name: value})
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        net.evaluate(batches(x, y, 4), steps=0)
    with pytest.raises(ValueError, match="`y` should not be passed"):
        net.fit(batches(x, y, 4), y, verbose=0)
    with pytest.raises(ValueError, match="`sample_weight` should not be passed"):
        net.fit(ExamplePyDataset(x, y), sample_weight=np.ones(8), verbose=0)
    with pytest.raises(ValueError, match="class_weight"):
        net.fit(batches(x, y, 4), class_weight={0: 1}, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        net.fit(batches(x, y, 4), validation_split=0.5, verbose=0)
    with pytest.raises(ValueError, match="steps_per_epoch=2 applies to a generator"):
        net.fit(x, y, steps_per_epoch=2, verbose=0)
    with pytest.raises(ValueError, match="use_multiprocessing=True is not supported"):
        ExamplePyDataset(x, y, use_multiprocessing=True)
    with pytest.raises(ValueError, match="has length 0"):
        net.fit(ExamplePyDataset(x[:0], y[:0]), verbose=0)


def test_prefetch_threads_end_with_fit():
    x, y = data(40)
    before = threading.active_count()
    model().fit(ExamplePyDataset(x, y, batch_size=4, workers=3), epochs=2, verbose=0)
    assert threading.active_count() == before
