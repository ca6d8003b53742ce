"""Post-training quantization, quantization-aware training and conversion."""

import numpy as np
import pytest
from densecore.layers import Dense
from densecore.quantization import QATDense, QuantizedDense

import densecore as dc


@pytest.fixture(scope="module")
def digits():
    (x, y), (xt, yt) = dc.datasets.load_digits()
    x, xt = dc.datasets.standardize(x, xt)
    dc.set_seed(0)
    model = dc.Sequential([Dense(64, activation="relu"), Dense(10, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=8, verbose=0)
    return model, (x, y), (xt, yt)


def acc(model, x, y):
    return model.evaluate(x, y, return_dict=True)["accuracy"]


@pytest.mark.parametrize("static", [True, False])
def test_int8_keeps_accuracy_and_is_four_times_smaller(digits, static):
    model, (x, y), (xt, yt) = digits
    q = dc.quantize(model, calibration_data=x if static else None)
    assert all(isinstance(layer, QuantizedDense) for layer in q.layers)
    assert abs(acc(q, xt, yt) - acc(model, xt, yt)) <= 0.02
    kernel_bytes = [layer.wq_t.data.nbytes for layer in q.layers]
    assert kernel_bytes == [layer.kernel.data.nbytes // 4 for layer in model.layers]


def test_quantized_predictions_are_close_to_float(digits):
    model, (x, _), (xt, _) = digits
    q = dc.quantize(model, calibration_data=x)
    assert np.abs(q.predict(xt) - model.predict(xt)).max() < 0.1
    assert (q.predict(xt).argmax(1) == model.predict(xt).argmax(1)).mean() > 0.97


def test_qat_conversion_matches_the_qat_model(digits):
    model, (x, y), (xt, yt) = digits
    for bits in (8, 4):
        qat = dc.quantize_aware(model, num_bits=bits)
        assert all(isinstance(layer, QATDense) for layer in qat.layers)
        qat.fit(x, y, epochs=1, verbose=0)
        integer = qat.convert()
        np.testing.assert_allclose(integer.predict(xt), qat.predict(xt), atol=1e-4)


def test_fake_quantize_straight_through_gradient():
    x = dc.Tensor(np.array([-3.0, -0.4, 0.2, 0.9, 5.0]), requires_grad=True)
    y = dc.functional.fake_quantize(x, 0.5, 0, -2, 2)
    np.testing.assert_allclose(y.data, [-1.0, -0.5, 0.0, 1.0, 1.0])
    y.sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 1, 1, 1, 0])


def test_quantized_model_saves_loads_and_refuses_fit(digits, tmp_path):
    model, (x, y), (xt, _) = digits
    q = dc.quantize(model, calibration_data=x[:100])
    q.save(tmp_path / "q.dc")
    loaded = dc.load_model(tmp_path / "q.dc")
    np.testing.assert_array_equal(loaded.predict(xt), q.predict(xt))
    assert loaded.layers[0].wq_t.dtype == np.int8
    with pytest.raises(TypeError, match="inference only"):
        q.fit(x, y)
    lines = []
    q.summary(print_fn=lines.append)
    assert "Bytes" in lines[0] and "stored" in lines[0]


def test_original_is_untouched_and_bad_arguments(digits):
    model, (x, _), _ = digits
    before = model.get_weights()
    for kwargs, error, words in [
        (dict(num_bits=9), ValueError, ["num_bits", "9"]),
        (dict(num_bits=1), ValueError, ["num_bits"]),
        (dict(calibration_data=np.ones((5, 3))), ValueError, ["(samples, 64)"]),
        (dict(calibration_data=np.full((5, 64), np.nan)), ValueError, ["NaN"]),
        (dict(calibration_data=x, percentile=20), ValueError, ["percentile"]),
    ]:
        with pytest.raises(error) as info:
            dc.quantize(model, **kwargs)
        for word in words:
            assert word in str(info.value)
    with pytest.raises(ValueError, match="not built"):
        dc.quantize(dc.Sequential([Dense(2)]))
    with pytest.raises(ValueError, match="no quantization-aware layers"):
        model.convert()
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_quantized_units_with_zero_or_tiny_weights_keep_their_bias():
    """Issue #19, item 5, as reported: w[:, 1] = 0, w[:, 2] = 1e-6, b = [.1, .5, .5] gave
    ≈ [−3e−5, −0.24] for the last two outputs of dc.quantize(m).predict instead of 0.5."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    model = dc.Sequential([dc.layers.Dense(3, input_shape=(4,))])
    w = rng.standard_normal((4, 3)).astype(np.float32)
    w[:, 1], w[:, 2] = 0.0, 1e-6
    model.layers[0].set_weights([w, np.array([0.1, 0.5, 0.5], np.float32)])
    for calibration in (None, x):
        out = dc.quantize(model, calibration_data=calibration).predict(x)
        np.testing.assert_allclose(out[:, 1:], model.predict(x)[:, 1:], atol=1e-5)


@pytest.mark.parametrize("static", [True, False])
@pytest.mark.parametrize(
    "activation, path",
    [
        ("relu", None),
        ("tanh", None),
        ("linear", None),
        ("sigmoid", None),
        ("softmax", None),
        ("relu", "portable"),
    ],
)
def test_infer_gives_call_bits_and_predict_takes_it(static, activation, path, monkeypatch):
    """QuantizedDense._infer (predict's array path: quantize, product and epilogue in one
    compiled call, static constants cached) gives call's float32 bits, for batch 1, odd and
    empty batches, float64 and non-contiguous inputs; predict runs it. (path: DENSECORE_INT8,
    the portable loops forced, or the host's fastest.)"""
    if path:
        monkeypatch.setenv("DENSECORE_INT8", path)
    from densecore.nn import models

    rng = np.random.default_rng(3)
    model = dc.Sequential([Dense(37, activation="relu", input_shape=(29,)), Dense(11, activation=activation)])
    x = (3 * rng.standard_normal((70, 29))).astype(np.float32)
    q = dc.quantize(model, calibration_data=x if static else None)
    assert all(models._infers_arrays(layer) for layer in q.layers)
    wide = np.asfortranarray(np.repeat(x, 2, axis=1).astype(np.float64))
    big = np.tile(x, (9, 1))  # 630 × 29 values: dynamic ranges by numpy's reductions
    for batch in (x[:1], x[:7], x[:0], x[::3], wide[:9, ::2], x * 5, big):
        h = batch
        for layer in q.layers:
            got, want = layer._infer(h), layer.call(dc.Tensor(np.asarray(h))).data
            assert got.dtype == want.dtype == np.float32 and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
            h = got
    calls = []
    q.layers[0].call = lambda inputs, training=None: (
        calls.append(1) or QuantizedDense.call(q.layers[0], inputs)
    )
    slow = q.predict(x, batch_size=16)
    del q.layers[0].call
    assert calls  # (a patched call: the usual path)
    np.testing.assert_array_equal(q.predict(x, batch_size=16), slow)


def test_infer_plan_follows_replaced_weights_and_refuses_what_call_refuses():
    rng = np.random.default_rng(4)
    model = dc.Sequential([Dense(5, input_shape=(3,))])
    x = rng.standard_normal((8, 3)).astype(np.float32)
    q = dc.quantize(model, calibration_data=x)
    layer = q.layers[0]
    before = layer._infer(x)
    weights = layer.get_weights()
    weights[3] = weights[3] + 1.0  # the bias
    layer.set_weights(weights)
    after = layer._infer(x)
    np.testing.assert_array_equal(after, layer.call(dc.Tensor(x)).data)
    np.testing.assert_allclose(after, before + 1.0, atol=1e-4)  # (to within β's rounding)
    with pytest.raises(ValueError, match="incompatible"):
        layer._infer(np.ones((2, 4), np.float32))
    for dynamic in (dc.quantize(model),):
        with pytest.raises(ValueError):
            dynamic.layers[0]._infer(np.array([[np.nan, 1, 2]], np.float32))


@pytest.mark.parametrize("path", [None, "portable"])
def test_predict_runs_stretches_of_static_integer_layers_as_one_call(path, monkeypatch):
    """Sequential's predict runs consecutive static QuantizedDense layers with fused
    activations (kernels/activations.py's FUSED: relu, tanh, linear) as one compiled chain
    (kernels/int8_simd.py), the last one's activation after it. The oracle: each layer's
    call() on Tensors (cpu.qdense_forward, equal to kernels/reference.py bit for bit in
    tests/kernels/test_int8_simd.py), layer by layer;
    the chain must give the same float32 bits, whatever breaks it into stretches (a sigmoid
    inside, a dynamic layer), and follow a replaced weight."""
    if path:
        monkeypatch.setenv("DENSECORE_INT8", path)
    from densecore.compress.quantization import _IntegerChain, _Stretch

    rng = np.random.default_rng(11)
    acts = ["relu", "tanh", "sigmoid", "linear", "relu", "softmax"]
    widths = [23, 70, 33, 9, 41, 65, 5]
    layers = [Dense(widths[1], activation=acts[0], input_shape=(widths[0],))]
    layers += [Dense(w, activation=a) for w, a in zip(widths[2:], acts[1:])]
    model = dc.Sequential(layers)
    x = (2 * rng.standard_normal((130, widths[0]))).astype(np.float32)
    q = dc.quantize(model, calibration_data=x)
    mixed = dc.quantize(model)  # dynamic: no stretch
    dynamic_layer = mixed.layers[3]
    q_mixed = dc.Sequential([*q.layers[:3], dynamic_layer, *q.layers[4:]])  # (a dynamic one inside)

    def layer_by_layer(m, batch):
        h = batch
        for layer in m.layers:
            h = layer.call(dc.Tensor(np.asarray(h, np.float32))).data
        return h

    for m, stretches in ((q, 2), (q_mixed, 2), (mixed, 0)):
        for batch in (x[:1], x[:7], x, x[::3]):
            got = m.predict(batch, batch_size=len(batch), verbose=0)
            np.testing.assert_array_equal(got, layer_by_layer(m, batch))
        np.testing.assert_array_equal(m._predict_batch(x[:0]), layer_by_layer(m, x[:0]))
        (step,) = m._infer_steps()
        assert isinstance(step, _IntegerChain)
        assert sum(isinstance(s, _Stretch) for s in step._made[1]) == stretches
    # layers 0-2 (relu, tanh, sigmoid) and 3-5 (linear, relu, softmax); with the dynamic
    # layer 3: 0-2 and 4-5
    weights = q.layers[1].get_weights()
    weights[3] = weights[3] + 0.5  # layer 1's bias
    q.layers[1].set_weights(weights)
    np.testing.assert_array_equal(q.predict(x, verbose=0), layer_by_layer(q, x))


@pytest.mark.parametrize("static", [True, False])
@pytest.mark.parametrize("num_bits, reduce_range", [(7, False), (4, False), (8, True)])
def test_a_narrow_model_predicts_the_portable_bits_on_every_path(static, num_bits, reduce_range, monkeypatch):
    """num_bits ≤ 7 quantizes the inputs to [-64, 63]: where the host's path has a vpmaddubsw
    twin (kernels/int8_simd.py: avx2), predict (the static chain, or a dynamic
    layer's launch) and call run it. The oracle: the same model with the portable loops
    forced (exact against kernels/reference.py), bit for bit."""
    from densecore.kernels import int8_simd

    rng = np.random.default_rng(12)
    model = dc.Sequential(
        [Dense(70, activation="relu", input_shape=(29,)), Dense(33, activation="relu"), Dense(5)]
    )
    x = (3 * rng.standard_normal((90, 29))).astype(np.float32)
    q = dc.quantize(model, num_bits=num_bits, calibration_data=x if static else None, reduce_range=reduce_range)
    assert all(layer.q_min >= -64 and layer.q_max <= 63 for layer in q.layers)
    monkeypatch.setenv("DENSECORE_INT8", "portable")
    want = q.predict(x, batch_size=90), q(dc.Tensor(x[:7])).data
    for path in int8_simd.host_paths():
        monkeypatch.setenv("DENSECORE_INT8", path)
        np.testing.assert_array_equal(q.predict(x, batch_size=90), want[0])
        np.testing.assert_array_equal(q(dc.Tensor(x[:7])).data, want[1])


def test_reduce_range_gives_7_bit_inputs_and_8_bit_weights_as_the_textbook(tmp_path):
    """reduce_range=True (PyTorch's name): the inputs' affine range halves to 7 bits, q in
    [-64, 63], the weights keep 8 (symmetric per channel, [-127, 127]). The oracle: the
    textbook affine quantization in float64 numpy, s = (max - min) / (2^7 - 1), z = -64 -
    round(min / s), y = s (q_x - z) · s_w q_w + b. It saves and loads with its input bits."""
    rng = np.random.default_rng(21)
    model = dc.Sequential([Dense(9, input_shape=(13,))])
    x = rng.uniform(-2.0, 3.0, (64, 13)).astype(np.float32)
    q = dc.quantize(model, calibration_data=x, reduce_range=True)
    layer = q.layers[0]
    assert (layer.num_bits, layer.input_bits, layer.q_min, layer.q_max) == (8, 7, -64, 63)
    w = model.layers[0].kernel.data.astype(np.float64)
    s_w = np.abs(w).max(axis=0) / 127
    w_q = np.clip(np.rint(w / s_w), -127, 127)
    assert np.abs(layer.wq_t.data).max() == 127  # (8-bit weights)
    lo, hi = min(float(x.min()), 0.0), max(float(x.max()), 0.0)
    s_x = (hi - lo) / 127
    z = -64 - np.rint(lo / s_x)
    x_q = np.clip(np.rint(x / s_x) + z, -64, 63)
    assert x_q.min() == -64 and x_q.max() == 63
    want = (s_x * (x_q - z)) @ (w_q * s_w) + model.layers[0].bias.data
    np.testing.assert_allclose(q.predict(x), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    path = tmp_path / "reduced.dc"
    q.save(path)
    loaded = dc.load_model(path)
    assert loaded.layers[0].input_bits == 7
    np.testing.assert_array_equal(loaded.predict(x), q.predict(x))
    config = layer.get_config()
    del config["input_bits"]  # (a file saved before input_bits: the inputs get num_bits)
    assert QuantizedDense.from_config(config).input_bits == 8
    with pytest.raises(TypeError, match="reduce_range"):
        dc.quantize(model, reduce_range="yes")
    with pytest.raises(ValueError, match="reduce_range"):
        dc.quantize(model, num_bits=2, reduce_range=True)
