"""Hardening: every public entry point, fed junk, gives a result or a clean ValueError /
TypeError — never a numba typing error, a crash, or a wrong answer — and changes nothing
when it refuses. Regression cases found by these tests are listed at the bottom."""

import os
import signal
import threading

import numpy as np
import pytest
from densecore.layers import Dense
from hypothesis import given, settings
from hypothesis import strategies as st

import densecore as dc
from densecore import kernels


def junk_arrays():
    """Arrays and things that are not arrays, of every awkward kind."""
    shapes = st.sampled_from([(0,), (3,), (0, 3), (3, 0), (2, 3), (3, 2), (1, 1), (2, 3, 4), ()])
    dtypes = st.sampled_from(
        [
            np.float32,
            np.float64,
            np.float16,
            np.int32,
            np.int8,
            np.bool_,
            np.uint8,
            object,
            "U3",
            np.complex64,
        ]
    )

    def build(shape, dtype, fill):
        a = np.full(shape, fill, dtype=np.float64)
        return a.astype(dtype) if dtype not in (object, "U3") else a.astype(dtype)

    arrays = st.builds(build, shapes, dtypes, st.sampled_from([0.0, 1.0, np.nan, np.inf, -1e30]))
    others = st.sampled_from([None, "abc", 3, 2.5, [[1.0, 2.0]], [["a"]], {"x": 1}, b"x"])
    return st.one_of(arrays, others, arrays.map(lambda a: a.T if a.ndim == 2 else a))


def clean(fn, *args, **kwargs):
    """Run fn; any exception must be a ValueError or TypeError with a message."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, TypeError) as exc:
        assert str(exc), f"{type(exc).__name__} without a message"
        assert "numba" not in type(exc).__module__, f"a numba error leaked: {exc}"
        return exc


@pytest.mark.parametrize("backend", ["reference", "cpu"])
@settings(max_examples=200)
@given(x=junk_arrays(), w=junk_arrays(), b=junk_arrays())
def test_kernels_refuse_junk_cleanly(backend, x, w, b):
    k = kernels.get(backend)
    out = clean(k.dense_forward, x, w, b, "relu")
    if isinstance(out, np.ndarray):  # accepted: then it must be the right answer, in its dtype
        with np.errstate(over="ignore", invalid="ignore"):  # (−1e30)² overflows float32 to inf
            bias = 0.0 if b is None else np.asarray(b, out.dtype)
            want = np.maximum(np.asarray(x, out.dtype) @ np.asarray(w, out.dtype) + bias, 0)
        np.testing.assert_allclose(out, want, rtol=1e-4, atol=1e-4)
    clean(k.dense_backward, x, w, x, w, "tanh")
    clean(k.lowrank_forward, x, w, w, b)
    clean(k.int8_matmul, x, w)
    clean(k.quantize, x, 0.1, 0)


@settings(max_examples=200)
@given(data=junk_arrays())
def test_tensor_and_functional_refuse_junk_cleanly(data):
    t = clean(dc.Tensor, data)
    if isinstance(t, dc.Tensor):
        clean(lambda: (t * 2 + 1).sum())
        clean(dc.functional.softmax, t)
    clean(dc.functional.binary_crossentropy, data, np.zeros((2, 3)))
    clean(dc.functional.sparse_categorical_crossentropy, data, np.zeros((2, 3)), from_logits=True)
    clean(dc.functional.mean_squared_error, data, np.zeros((2, 3)))


def small_model():
    model = dc.Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


@settings(max_examples=200)
@given(x=junk_arrays(), y=junk_arrays(), batch=st.sampled_from([None, 0, -1, 1, 2.5, "8", True]))
def test_fit_evaluate_predict_refuse_junk_and_change_nothing(x, y, batch):
    model = small_model()
    before = model.get_weights()
    result = clean(model.fit, x, y, batch_size=batch, epochs=1, verbose=0)
    if isinstance(result, Exception):
        for a, b in zip(before, model.get_weights()):
            np.testing.assert_array_equal(a, b)
        assert model.optimizer.iterations == 0
    clean(model.evaluate, x, y, batch_size=batch)
    clean(model.predict, x, batch_size=batch)


@given(value=st.sampled_from([None, 0, -1, 1.5, "10", True, 10**12, np.int64(3)]))
def test_layer_and_compression_arguments_refuse_junk(value):
    clean(Dense, value)
    clean(dc.layers.Dropout, value)
    clean(dc.layers.LowRankDense, 4, value)
    model = small_model()
    before = model.get_weights()
    for call in (
        lambda: dc.compress.low_rank(model, rank=value, verbose=0),
        lambda: dc.compress.low_rank(model, energy=value, verbose=0),
        lambda: dc.compress.prune_units(model, keep=value, verbose=0),
        lambda: dc.compress.prune_units(model, amount=value, verbose=0),
        lambda: dc.quantize(model, num_bits=value),
        lambda: dc.quantize_aware(model, num_bits=value),
        lambda: dc.set_seed(value),
        lambda: dc.optimizers.Adam(learning_rate=value),
    ):
        clean(call)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


# ---- numerical extremes --------------------------------------------------------------------
@pytest.mark.parametrize("scale", [1e4, 1e30])
def test_activations_and_losses_stay_finite_at_extremes(scale):
    z = dc.Tensor(np.array([[scale, -scale, 0.0], [0.0, 0.0, 0.0]], np.float32), requires_grad=True)
    for fn in (dc.functional.sigmoid, dc.functional.tanh, dc.functional.softmax, dc.functional.relu):
        z.grad = None
        out = fn(z)
        out.sum().backward()
        assert np.all(np.isfinite(out.data)) and np.all(np.isfinite(z.grad))
    for loss in (
        lambda: dc.functional.binary_crossentropy([[1, 0, 1], [0, 0, 0]], z, from_logits=True),
        lambda: dc.functional.sparse_categorical_crossentropy([1, 0], z, from_logits=True),
        lambda: dc.functional.categorical_crossentropy(np.eye(3)[[1, 0]], z, from_logits=True),
    ):
        z.grad = None
        value = loss()
        value.backward()
        assert np.isfinite(value.item()) and np.all(np.isfinite(z.grad))


def test_single_sample_single_class_and_all_equal_inputs_train():
    model = dc.Sequential([Dense(3, activation="relu"), Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(np.ones((1, 4)), np.zeros(1, np.int64), epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))
    history = model.fit(np.full((6, 4), 7.0), np.zeros(6, np.int64), epochs=2, verbose=0)
    assert all(np.isfinite(history.history["loss"]))


@pytest.mark.parametrize("gradient", [0.0, 1e30])
def test_adam_with_zero_and_huge_gradients_keeps_weights_finite(gradient):
    w = dc.Tensor(np.ones(4, np.float32), requires_grad=True)
    opt = dc.optimizers.Adam()
    for _ in range(3):
        w.grad = np.full(4, gradient, np.float32)
        opt.apply([w])
    assert np.all(np.isfinite(w.data))
    if gradient == 0.0:
        np.testing.assert_array_equal(w.data, 1.0)


# ---- interrupts and memory -------------------------------------------------------------------
def test_ctrl_c_during_fit_leaves_the_weights_of_the_last_completed_step():
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread only")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((512, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = dc.Sequential([Dense(16, activation="relu"), Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    snapshots = []

    class InterruptMidway(dc.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            snapshots.append(self.model.get_weights())
            if batch == 3:
                os.kill(os.getpid(), signal.SIGINT)  # arrives during the next step

    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=[InterruptMidway()])
    final = model.get_weights()  # the signal came after step 4: no further step ran
    assert len(snapshots) == 4 and model.optimizer.iterations == 4
    assert all(np.array_equal(a, b) for a, b in zip(final, snapshots[-1]))
    model.fit(x[:32], y[:32], epochs=1, verbose=0)  # still usable


def test_memory_is_flat_over_many_epochs():
    def rss():
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 10)).astype(np.float32)
    y = rng.integers(0, 3, 64)
    model = dc.Sequential([Dense(32, activation="relu"), Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, epochs=20, verbose=0)
    start = rss()
    model.fit(x, y, epochs=200, verbose=0)
    assert rss() - start < 8 * 2**20  # no graph or buffer kept alive across steps


# ---- regression cases found by the tests above ------------------------------------------------
REGRESSIONS = [
    (
        "a zip header naming an unknown compression method raised NotImplementedError",
        lambda: _load_bytes_with_compression_method(99),
    ),
    (
        "a damaged deflate stream in a saved file raised zlib.error from load_model",
        lambda: _load_bytes_with_a_flipped_byte(78),
    ),
    # (what, call) — each once crashed or leaked a raw error; now a clean ValueError/TypeError
    (
        "sparse CE from probabilities negated a boolean mask",
        lambda: dc.functional.sparse_categorical_crossentropy(
            [0], dc.Tensor(np.array([[0.5, 0.5]]), requires_grad=True)
        ),
    ),
    (
        "a metric that does not fit the output failed mid-epoch",
        lambda: (
            lambda m: (
                m.compile("adam", "sparse_categorical_crossentropy", metrics=[dc.metrics.Precision()]),
                m.fit(np.ones((4, 3)), np.zeros(4, np.int64), verbose=0),
            )
        )(dc.Sequential([Dense(3, activation="softmax")])),
    ),
]


def _load_bytes_with_a_flipped_byte(position):
    import tempfile

    directory = tempfile.mkdtemp()
    path = os.path.join(directory, "m.dc")
    small_model().save(path)
    data = bytearray(open(path, "rb").read())
    data[position] ^= 0xFF
    open(path, "wb").write(bytes(data))
    return dc.load_model(path)


def _load_bytes_with_compression_method(method):
    import tempfile

    path = os.path.join(tempfile.mkdtemp(), "m.dc")
    small_model().save(path)
    data = bytearray(open(path, "rb").read())
    data[8:10] = method.to_bytes(2, "little")  # the first local header's compression method
    open(path, "wb").write(bytes(data))
    return dc.load_model(path)


@pytest.mark.parametrize("what, call", REGRESSIONS, ids=[r[0] for r in REGRESSIONS])
def test_regressions(what, call):
    clean(call)


def test_a_checkpoint_written_before_ctrl_c_loads(tmp_path):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals are delivered to the main thread only")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)
    model = dc.Sequential([Dense(8, activation="relu"), Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")

    class InterruptInSecondEpoch(dc.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if self.params and batch == 1 and (tmp_path / "ckpt.dc").exists():
                os.kill(os.getpid(), signal.SIGINT)

    checkpoint = dc.callbacks.ModelCheckpoint(tmp_path / "ckpt.dc", monitor="loss")
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=16, epochs=3, verbose=0, callbacks=[checkpoint, InterruptInSecondEpoch()])
    restored = dc.load_model(tmp_path / "ckpt.dc")
    assert restored.predict(x[:2]).shape == (2, 2)


@settings(max_examples=100)
@given(payload=st.binary(max_size=2000), keep=st.integers(0, 4000), flip=st.integers(0, 4000))
def test_load_model_refuses_damaged_files_cleanly(tmp_path_factory, payload, keep, flip):
    directory = tmp_path_factory.mktemp("damaged")
    good = directory / "good.dc"
    small_model().save(good)
    data = bytearray(good.read_bytes())
    for candidate in (payload, bytes(data[:keep]), bytes(data[:flip]) + payload + bytes(data[flip + 1 :])):
        path = directory / "bad.dc"
        path.write_bytes(candidate)
        try:
            model = dc.load_model(path)
        except ValueError as exc:
            assert "load" in str(exc)
        else:  # the damage missed everything that matters: the model must then be intact
            assert model.predict(np.ones((1, 3), np.float32)).shape == (1, 2)
