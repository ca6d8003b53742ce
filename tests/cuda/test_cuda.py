"""The cuda backend equals the cpu backend (and numpy), and training on it matches cpu."""

import numpy as np
import pytest

import densecore as dc
from densecore import kernels

cuda_k, cpu_k = kernels.get("cuda"), kernels.get("cpu")
# The simulator runs device functions as Python on numpy scalars, which warn when the dropout
# hash's 32-bit arithmetic wraps, as it is meant to (on a GPU, and in the cpu kernel, it wraps).
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in scalar:RuntimeWarning")
SHAPES = [(1, 1, 1), (5, 7, 3), (17, 33, 20), (32, 16, 31)]


def close(a, b, dtype):
    tol = 2e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol * max(1.0, float(np.abs(b).max(initial=0))))


def test_cuda_provides_every_shared_function_and_the_device_contract():
    """kernels/__init__.py declares what every backend provides (FUNCTIONS) and what a device
    backend adds (DEVICE_FUNCTIONS); cuda provides both."""
    for name in kernels.FUNCTIONS + kernels.DEVICE_FUNCTIONS:
        assert callable(getattr(cuda_k, name, None)), name


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dense_forward_and_backward_equal_cpu(shape, dtype):
    n, k, m = shape
    rng = np.random.default_rng(sum(shape))
    x = rng.standard_normal((n, k)).astype(dtype)
    w = rng.standard_normal((k, m)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    activation = ["relu", "tanh", "sigmoid", None][sum(shape) % 4]
    y = cuda_k.dense_forward(x, w, b, activation)
    assert y.dtype == dtype
    close(y, cpu_k.dense_forward(x, w, b, activation), dtype)
    dy = rng.standard_normal(y.shape).astype(dtype)
    for got, want in zip(
        cuda_k.dense_backward(x, w, y, dy, activation), cpu_k.dense_backward(x, w, y, dy, activation)
    ):
        close(got, want, dtype)


def test_device_arrays_in_device_arrays_out():
    from numba import cuda

    x = np.ones((3, 4), np.float32)
    w = np.ones((4, 2), np.float32)
    y = cuda_k.dense_forward(cuda.to_device(x), cuda.to_device(w))
    assert not isinstance(y, np.ndarray)
    np.testing.assert_array_equal(y.copy_to_host(), np.full((3, 2), 4.0))


def test_buffers_keep_device_arrays_and_give_the_same_results():
    from numba import cuda

    rng = np.random.default_rng(3)
    x, w = (cuda.to_device(rng.standard_normal(s).astype(np.float32)) for s in ((6, 5), (5, 4)))
    bufs = kernels.Buffers()
    y = cuda_k.dense_forward(x, w, None, "relu", buffers=bufs)
    dy = cuda.to_device(np.ones((6, 4), np.float32))
    grads = cuda_k.dense_backward(x, w, y, dy, "relu", buffers=bufs)
    assert cuda_k.dense_forward(x, w, None, "relu", buffers=bufs) is y  # kept on the device
    assert cuda_k.dense_backward(x, w, y, dy, "relu", buffers=bufs)[1] is grads[1]
    want = cpu_k.dense_backward(
        x.copy_to_host(), w.copy_to_host(), y.copy_to_host(), dy.copy_to_host(), "relu"
    )
    for got, expected in zip(grads, want):
        close(got.copy_to_host(), expected, np.float32)


def test_lowrank_equals_cpu():
    rng = np.random.default_rng(0)
    x, u, v = (rng.standard_normal(s).astype(np.float32) for s in ((9, 12), (12, 3), (3, 10)))
    b = rng.standard_normal(10).astype(np.float32)
    y = cuda_k.lowrank_forward(x, u, v, b, "relu")
    close(y, cpu_k.lowrank_forward(x, u, v, b, "relu"), np.float32)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    for got, want in zip(
        cuda_k.lowrank_backward(x, u, v, y, dy, "relu"), cpu_k.lowrank_backward(x, u, v, y, dy, "relu")
    ):
        close(got, want, np.float32)


@pytest.mark.parametrize(
    "name, args",
    [
        ("sgd_update", (0.1, 0.9, True)),
        ("adam_update", (0.01, 0.9, 0.999, 1e-7, 0.001)),
        ("rmsprop_update", (0.01, 0.9, 0.5, 1e-7)),
    ],
)
def test_optimizer_updates_equal_cpu(name, args):
    rng = np.random.default_rng(1)
    n_state = {"sgd_update": 1, "adam_update": 2, "rmsprop_update": 2}[name]
    # second-moment states (Adam's v, RMSprop's velocity) are non-negative by construction
    arrays = [
        np.abs(rng.standard_normal(37)).astype(np.float32)
        if i == 2 + n_state - 1 or (name == "rmsprop_update" and i == 2)
        else rng.standard_normal(37).astype(np.float32)
        for i in range(2 + n_state)
    ]
    copies = [a.copy() for a in arrays]
    getattr(cuda_k, name)(*arrays, *args)
    getattr(cpu_k, name)(*copies, *args)
    for a, b in zip(arrays, copies):
        close(a, b, np.float32)


@pytest.mark.parametrize("kind", ["sparse", "categorical", "binary", "squared"])
def test_losses_equal_cpu_and_check_host_operands_alike(kind):
    rng = np.random.default_rng(2)
    z = (3 * rng.standard_normal((9, 4))).astype(np.float32)
    t = rng.integers(0, 4, (9, 1)) if kind == "sparse" else rng.random((9, 4)).astype(np.float32)
    w = rng.random(9)
    for weights in (None, w):
        results = []
        for module in (cuda_k, cpu_k):
            if kind == "squared":
                total, grad = module.squared_error(z, t, 0.5, weights)
            else:
                total, grad = module.cross_entropy(kind, z, t, 0.5, weights)
            assert isinstance(total, np.ndarray) and isinstance(grad, np.ndarray)  # numpy in, numpy out
            results.append((total, grad))
        close(results[0][0], results[1][0], np.float32)
        close(results[0][1], results[1][1], np.float32)
    if kind == "sparse":
        with pytest.raises(ValueError, match=r"^cuda\.cross_entropy: labels must lie in \[0, 4\)"):
            cuda_k.cross_entropy(kind, z, t + 1, 0.5)


def test_quantize_and_dequantize_equal_cpu_exactly():
    rng = np.random.default_rng(2)
    x = (rng.standard_normal((9, 13)) * 3).astype(np.float32)
    x[0, 0], x[1, 1], x[2, 2] = np.nan, 1e30, -1e30
    x[3, :4] = [0.5, 1.5, -0.5, -2.5]  # ties: round half to even
    scale = np.abs(rng.standard_normal(13)).astype(np.float32) + 0.05
    zero = rng.integers(-20, 20, 13)
    for args in ((0.07, 0), (0.05, 11), (scale, zero), (0.3, -3, 4)):
        q = cuda_k.quantize(x, *args)
        np.testing.assert_array_equal(q, cpu_k.quantize(x, *args))
        np.testing.assert_array_equal(cuda_k.dequantize(q, *args[:2]), cpu_k.dequantize(q, *args[:2]))


def test_int8_matmul_and_qdense_equal_cpu():
    rng = np.random.default_rng(3)
    a = rng.integers(-128, 128, (7, 29)).astype(np.int8)
    b = rng.integers(-128, 128, (29, 11)).astype(np.int8)
    np.testing.assert_array_equal(cuda_k.int8_matmul(a, b), cpu_k.int8_matmul(a, b))
    from densecore.kernels import quant

    x = rng.standard_normal((6, 29)).astype(np.float32)
    w = rng.standard_normal((29, 11)).astype(np.float32)
    w[:, 3], w[:, 4] = 0.0, 1e-6  # units whose bias stays in float (quant.fold's residual)
    sx, zx = quant.affine_params(x.min(), x.max(), 8)
    sw = quant.symmetric_scale(w, 8, axis=0)
    wq_t, sums = quant.pack_weights(cpu_k.quantize(w, sw, 0))
    xq = cpu_k.quantize(x, sx, zx)
    bias = rng.standard_normal(11).astype(np.float32)
    for activation in (None, "relu", "tanh"):
        args = (xq, sx, zx, wq_t, sw, sums, bias, activation)
        close(cuda_k.qdense_forward(*args), cpu_k.qdense_forward(*args), np.float32)
    np.testing.assert_array_equal(
        cuda_k.qdense_forward(*args, out_scale=0.01, out_zero=-5),
        cpu_k.qdense_forward(*args, out_scale=0.01, out_zero=-5),
    )
    from numba import cuda

    on_device = cuda_k.int8_matmul(cuda.to_device(a), cuda.to_device(b))
    np.testing.assert_array_equal(on_device.copy_to_host(), a.astype(np.int32) @ b)


def test_same_errors_as_cpu_before_any_launch():
    with pytest.raises(ValueError, match=r"cuda.int8_matmul: a \(2, 3\) and b \(4, 2\) do not chain"):
        cuda_k.int8_matmul(np.ones((2, 3), np.int8), np.ones((4, 2), np.int8))
    with pytest.raises(TypeError, match="cuda.quantize: x must be a float32 or float64"):
        cuda_k.quantize(np.ones((2, 3), np.int32), 0.1)
    with pytest.raises(ValueError, match=r"cuda.dense_forward: x has 5 features"):
        cuda_k.dense_forward(np.ones((2, 5), np.float32), np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="unknown activation"):
        cuda_k.dense_forward(np.ones((2, 3), np.float32), np.ones((3, 2), np.float32), None, "gelu")


def test_out_of_device_memory_is_a_memory_error_naming_the_array(monkeypatch):
    from numba import cuda
    from numba.cuda.cudadrv.driver import CudaAPIError

    def full(*args, **kwargs):
        raise CudaAPIError(2, "CUDA_ERROR_OUT_OF_MEMORY")

    monkeypatch.setattr(cuda, "device_array", full)
    with pytest.raises(MemoryError, match=r"out of GPU memory allocating y \(2, 4\) float32"):
        cuda_k.dense_forward(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))
    monkeypatch.setattr(cuda, "to_device", full)
    with pytest.raises(MemoryError, match=r"allocating x \(2, 3\) float32"):
        cuda_k.dense_forward(np.ones((2, 3), np.float32), np.ones((3, 4), np.float32))


@pytest.mark.parametrize("weights", [{}, {"class_weight": {0: 0.25, 1: 2.0}}], ids=["", "class_weight"])
def test_two_epochs_on_cuda_match_cpu(weights):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def train(backend):
        dc.set_backend(backend)
        try:
            dc.set_seed(0)
            model = dc.Sequential(
                [dc.layers.Dense(5, activation="relu"), dc.layers.Dense(2, activation="softmax")]
            )
            model.compile("adam", "sparse_categorical_crossentropy", weighted_metrics=["accuracy"])
            return model.fit(x, y, epochs=2, batch_size=12, verbose=0, **weights).history
        finally:
            dc.set_backend("cpu")

    on_gpu, on_cpu = train("cuda"), train("cpu")
    assert list(on_gpu) == ["loss", "accuracy"]
    for key, values in on_cpu.items():
        np.testing.assert_allclose(on_gpu[key], values, rtol=1e-4)


# What a real numba.cuda DeviceNDArray offers: the simulator's stand-in also behaves like a
# numpy array (arithmetic, every numpy method), which would hide host code reaching the GPU.
DEVICE_ARRAY_API = {
    "shape", "strides", "dtype", "size", "ndim", "nbytes", "alloc_size", "gpu_data", "stream",
    "copy_to_host", "copy_to_device", "reshape", "ravel", "view", "split", "squeeze", "bind",
    "is_c_contiguous", "is_f_contiguous", "T", "transpose", "getitem", "setitem",
}  # fmt: skip


@pytest.fixture
def strict_device_arrays(monkeypatch):
    """Make the simulator's device arrays as strict as real ones and record every copy back
    to the host (its number of elements)."""
    from numba import config, cuda

    if not config.ENABLE_CUDASIM:
        pytest.skip("the real device arrays are strict already")
    fake = type(cuda.to_device(np.zeros(1)))
    copies = []
    original_copy = fake.copy_to_host

    def copy_to_host(self, *args, **kwargs):
        copies.append(self._ary.size)
        return original_copy(self, *args, **kwargs)

    def strict_getattr(self, name):
        if name not in DEVICE_ARRAY_API:
            raise AttributeError(f"a device array has no {name!r}")
        return getattr(self._ary, name)

    def implicit_copy(self, *args, **kwargs):
        copies.append(self._ary.size)
        return self._ary.__array__(*args, **kwargs)

    def no_arithmetic(self, other):
        raise TypeError("device arrays have no arithmetic on the host")

    monkeypatch.setattr(fake, "copy_to_host", copy_to_host)
    monkeypatch.setattr(fake, "__getattr__", strict_getattr)
    monkeypatch.setattr(fake, "__array__", implicit_copy, raising=False)
    for op in ("__add__", "__sub__", "__mul__", "__truediv__", "__pow__", "__lt__", "__gt__"):
        monkeypatch.setattr(fake, op, no_arithmetic)
    return copies


@pytest.mark.parametrize(
    "loss, metric, units, labels, optimizer",
    [
        ("sparse_categorical_crossentropy", "accuracy", 3, "sparse", "adam"),
        ("categorical_crossentropy", "accuracy", 3, "onehot", "sgd"),
        ("binary_crossentropy", "accuracy", 1, "binary", "rmsprop"),
        ("mse", None, 2, "real", "adam"),
    ],
)
def test_a_training_step_stays_on_the_device(
    strict_device_arrays, monkeypatch, loss, metric, units, labels, optimizer
):
    from densecore.engine import device

    rng = np.random.default_rng(0)
    x = rng.standard_normal((8, 5)).astype(np.float32)
    y = {
        "sparse": rng.integers(0, units, 8),
        "onehot": np.eye(units, dtype=np.float32)[rng.integers(0, units, 8)],
        "binary": rng.integers(0, 2, (8, 1)).astype(np.float32),
        "real": rng.standard_normal((8, units)).astype(np.float32),
    }[labels]
    last = {"sparse": "softmax", "onehot": "softmax", "binary": "sigmoid", "real": None}[labels]
    results = {}
    for backend in ("cpu", "cuda"):
        dc.set_backend(backend)
        try:
            dc.set_seed(0)
            model = dc.Sequential(
                [
                    dc.layers.Dense(4, activation="tanh"),
                    dc.layers.Dropout(0.25),  # its mask is drawn on the device too
                    dc.layers.Dense(units, activation=last),
                ]
            )
            model.compile(optimizer, loss, metrics=[metric] if metric else None)
            per_step, uploads = [], []
            step, upload = model._train_step, device.to_device

            inside = []

            def watched(*args, step=step, per_step=per_step, inside=inside):
                start = len(strict_device_arrays)
                uploads.append(0)
                inside.append(True)
                value = step(*args)
                inside.pop()
                per_step.append(strict_device_arrays[start:])
                return value

            def counted(array, upload=upload, uploads=uploads, inside=inside):
                if inside:
                    uploads[-1] += not device.is_device(array)
                return upload(array)

            monkeypatch.setattr(device, "to_device", counted)

            model._train_step = watched
            logs = model.fit(x, y, epochs=2, batch_size=8, verbose=0, shuffle=False).history
            evaluated = model.evaluate(x, y, batch_size=8, return_dict=True)
            results[backend] = (logs, [*model.get_weights(), model.predict(x, batch_size=8)], evaluated)
            if backend == "cuda":  # back to the host per step: the loss and the metric count
                assert per_step == [[1] * (1 + bool(metric))] * 2
                # up per step: the inputs, and the targets once (none when they are the last step's)
                assert uploads[0] == 2 and set(uploads) <= {1, 2}
        finally:
            dc.set_backend("cpu")
    for key in results["cpu"][0]:
        np.testing.assert_allclose(results["cuda"][0][key], results["cpu"][0][key], rtol=1e-4)
    for a, b in zip(results["cuda"][1], results["cpu"][1]):  # weights, then predictions
        assert isinstance(a, np.ndarray)
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    for key, value in results["cpu"][2].items():
        np.testing.assert_allclose(results["cuda"][2][key], value, rtol=1e-4)


def test_gpu_available_is_false_on_the_simulator_and_device_info_says_so():
    from numba import config

    if config.ENABLE_CUDASIM:
        assert dc.gpu_available() is False
        assert "simulator" in dc.device_info()["name"]
    else:
        assert dc.gpu_available() is True
        assert dc.device_info()["memory_bytes"] > 0


def test_the_prepared_gpu_check_runs(capsys):
    from benchmarks import gpu

    assert gpu.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "quantize exact, int8_matmul exact" in out and "training step" in out


def test_layers_without_a_gpu_form_are_named_before_any_work():
    dc.set_backend("cuda")
    try:
        model = dc.Sequential(
            [
                dc.layers.Dense(4, kernel_regularizer="l2", input_shape=(3,)),
                dc.layers.Activation("relu"),
                dc.layers.Dropout(0.5),
                dc.layers.BatchNormalization(),
                dc.layers.Dense(2),
            ]
        )
        model.compile("sgd", "mse")
        weights = model.get_weights()
        missing = r"regularizers of .*, Activation '.*', BatchNormalization '.*' have no GPU"
        with pytest.raises(NotImplementedError, match="fit: on the cuda backend, the " + missing):
            model.fit(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32), verbose=0)
        for a, b in zip(model.get_weights(), weights):
            np.testing.assert_array_equal(a, b)
        with pytest.raises(NotImplementedError, match="predict: on the cuda backend, Activation"):
            model.predict(np.ones((4, 3), np.float32))
        with pytest.raises(NotImplementedError, match="evaluate: on the cuda backend, the regularizers"):
            model.evaluate(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32))
    finally:
        dc.set_backend("cpu")


def test_checkpoints_saved_during_training_on_the_device_load_on_the_host(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    dc.set_backend("cuda")
    try:
        dc.set_seed(0)
        model = dc.Sequential(
            [dc.layers.Dense(4, activation="relu"), dc.layers.Dense(3, activation="softmax")]
        )
        model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
        path = str(tmp_path / "model-{epoch}.dc")
        model.fit(
            x, y, epochs=2, batch_size=8, verbose=0, callbacks=[dc.callbacks.ModelCheckpoint(path, "loss")]
        )
        assert all(isinstance(w.data, np.ndarray) for w in model.weights)  # back on the host
    finally:
        dc.set_backend("cpu")
    restored = dc.load_model(str(tmp_path / "model-2.dc"))
    np.testing.assert_array_equal(restored.predict(x), model.predict(x))
    restored.fit(x, y, epochs=1, batch_size=8, verbose=0)  # the optimizer state came back too


def test_updates_refuse_mismatched_arrays_and_take_any_one_shape():
    w, g, m, v = (np.ones((3, 4), np.float32) for _ in range(4))
    with pytest.raises(ValueError, match="cuda.adam_update: .* one shape"):
        cuda_k.adam_update(w, g[:2], m, v, 0.1, 0.9, 0.999, 1e-7, 0.0)
    with pytest.raises(TypeError, match="cuda.sgd_update: .* one float dtype"):
        cuda_k.sgd_update(w, g.astype(np.float64), m, 0.1, 0.0, False)
    expected = w.copy()
    cpu_k.adam_update(expected, g, m.copy(), v.copy(), 0.1, 0.9, 0.999, 1e-7, 0.0)
    cuda_k.adam_update(w, g, m, v, 0.1, 0.9, 0.999, 1e-7, 0.0)  # 2-D, updated in place
    close(w, expected, np.float32)


def test_flatten_runs_on_the_device_as_on_the_cpu():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 2, 3)).astype(np.float32)
    y = (x[:, 0, 0] > 0).astype(np.int64)
    results = {}
    for backend in ("cpu", "cuda"):
        dc.set_backend(backend)
        try:
            dc.set_seed(0)
            model = dc.Sequential([dc.layers.Flatten(), dc.layers.Dense(2, activation="softmax")])
            model.compile("sgd", "sparse_categorical_crossentropy")
            history = model.fit(x, y, epochs=2, batch_size=8, verbose=0).history
            results[backend] = (history["loss"], model.predict(x))
        finally:
            dc.set_backend("cpu")
    np.testing.assert_allclose(results["cuda"][0], results["cpu"][0], rtol=1e-4)
    np.testing.assert_allclose(results["cuda"][1], results["cpu"][1], rtol=1e-4, atol=1e-6)


def test_dropout_gives_the_cpus_mask():  # (training with it: the strict device-step test)
    from densecore.kernels import dropout as masks

    x = np.random.default_rng(3).standard_normal((37, 29)).astype(np.float32)
    np.testing.assert_array_equal(
        cuda_k.dropout(x, 0.3, 2**40 + 1), masks.reference_dropout(x, 0.3, 2**40 + 1)
    )
    y = cuda_k.dropout(cuda_k.upload(x), 0.3, 9)
    assert not isinstance(y, np.ndarray)  # device in, device out
    np.testing.assert_array_equal(y.copy_to_host(), cpu_k.dropout(x, 0.3, 9))


def test_one_dimensional_targets_train_on_the_device_as_on_the_cpu():
    """Issue #19, item 18: fit with targets of shape (N,), which the cpu accepts, raised
    IndexError on the cuda backend (a device array's shape refused index -1)."""
    x = np.random.default_rng(0).standard_normal((16, 3)).astype(np.float32)
    histories = []
    for backend in ("cpu", "cuda"):
        dc.set_backend(backend)
        try:
            dc.set_seed(0)
            model = dc.Sequential([dc.Input((3,)), dc.layers.Dense(4, activation="tanh"), dc.layers.Dense(1)])
            model.compile("sgd", "mse")
            histories.append(model.fit(x, x[:, 0], epochs=2, batch_size=8, verbose=0).history["loss"])
        finally:
            dc.set_backend("cpu")
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-5)
