"""Model and Sequential: building, tracking, weights, summary, freezing."""

import numpy as np
import pytest
from densecore.layers import Dense

import densecore as dc


class SimpleNet(dc.Model):
    def __init__(self):
        super().__init__()
        self.dense1 = Dense(10, activation="relu")
        self.dense2 = Dense(1, activation="sigmoid")

    def call(self, inputs):
        return self.dense2(self.dense1(inputs))


def test_subclassed_model_tracks_layers_in_order_and_builds_lazily():
    model = SimpleNet()
    assert model.layers == [model.dense1, model.dense2] and not model.built
    out = model(np.ones((4, 30), np.float32))
    assert out.shape == (4, 1) and model.built and model.count_params() == 30 * 10 + 10 + 11


def test_sequential_builds_from_input_shape_add_and_pop():
    model = dc.Sequential([Dense(8, input_shape=(5,)), Dense(3)])
    assert model.built and model.output_shape == (None, 3)
    model.add(Dense(2, activation="softmax"))
    assert model.output_shape == (None, 2)
    removed = model.pop()
    assert removed.units == 2 and len(model.layers) == 2
    assert dc.Sequential([dc.Input(shape=(7,)), Dense(2)]).count_params() == 16
    assert dc.Sequential([Dense(2, input_dim=7)]).count_params() == 16


def test_build_with_batch_shape():
    model = SimpleNet()
    model.build((None, 30))
    assert [w.shape for w in model.get_weights()] == [(30, 10), (10,), (10, 1), (1,)]


def test_get_and_set_weights_keras_layout():
    model = dc.Sequential([Dense(3, input_shape=(2,)), Dense(1, use_bias=False)])
    weights = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(3), np.full((3, 1), 2.0)]
    model.set_weights(weights)
    for got, want in zip(model.get_weights(), weights):
        np.testing.assert_array_equal(got, want)
    x = np.array([[1.0, 1.0]], np.float32)
    np.testing.assert_allclose(model.predict(x), (x @ weights[0] + 1) @ weights[2])


@pytest.mark.parametrize(
    "weights, words",
    [
        ([np.ones((2, 3))], ["expected 3 arrays", "received 1"]),
        ([np.ones((3, 2)), np.ones(3), np.ones((3, 1))], ["(2, 3)", "(3, 2)"]),
        ([np.ones((2, 3)), np.full(3, np.nan), np.ones((3, 1))], ["finite"]),
    ],
)
def test_set_weights_rejects_and_leaves_weights_alone(weights, words):
    model = dc.Sequential([Dense(3, input_shape=(2,)), Dense(1, use_bias=False)])
    before = model.get_weights()
    with pytest.raises(ValueError) as info:
        model.set_weights(weights)
    for word in words:
        assert word in str(info.value)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_summary_lists_shapes_params_and_flops():
    lines = []
    model = dc.Sequential([Dense(10, activation="relu", input_shape=(30,)), Dense(1)])
    model.layers[0].trainable = False
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "(None, 10)" in text and "310" in text and "610" in text
    assert "Trainable params: 11" in text and "Non-trainable params: 310" in text


def test_frozen_layer_gets_no_update():
    dc.set_seed(0)
    model = dc.Sequential([Dense(4, activation="relu", input_shape=(3,)), Dense(1)])
    model.layers[0].trainable = False
    frozen = model.layers[0].get_weights()
    head = model.layers[1].get_weights()
    model.compile("sgd", "mse")
    model.fit(np.random.rand(16, 3), np.random.rand(16, 1), epochs=2, verbose=0)
    for a, b in zip(frozen, model.layers[0].get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(head[0], model.layers[1].get_weights()[0])


def test_model_trainable_false_freezes_everything():
    model = SimpleNet()
    model.build((None, 4))
    model.trainable = False
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == 4


def test_dense_kernel_assignment_like_the_article():
    layer = Dense(2)
    layer.build((None, 3))
    layer.kernel = np.ones((3, 2))
    np.testing.assert_array_equal(layer.kernel.data, np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match=r"\(3, 2\)"):
        layer.kernel = np.ones((2, 2))


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: Dense(0), ValueError, ["units", "0"]),
        (lambda: Dense(-3), ValueError, ["Received: units=-3"]),
        (lambda: Dense(2.5), ValueError, ["units=2.5"]),
        (lambda: Dense(2, activation="swish"), ValueError, ["swish", "relu"]),
        (lambda: Dense(2, kernel_initializer="magic"), ValueError, ["magic", "glorot_uniform"]),
        (lambda: Dense(2, kernel_regularizer="l3"), ValueError, ["l3", "l2"]),
        (lambda: dc.layers.Dropout(1.0), ValueError, ["rate"]),
        (lambda: dc.Sequential([3]), TypeError, ["Layer", "int"]),
        (lambda: dc.Model(1, 2), TypeError, ["functional API"]),
    ],
)
def test_bad_layer_arguments(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_input_width_mismatch_names_the_layer():
    model = dc.Sequential([Dense(2, input_shape=(3,), name="first")])
    with pytest.raises(ValueError, match=r"first.*\(batch, 3\).*\(4, 5\)"):
        model(np.ones((4, 5), np.float32))


def test_dropout_only_in_training_and_keeps_expectation():
    dc.set_seed(0)
    layer = dc.layers.Dropout(0.5)
    x = np.ones((200, 50), np.float32)
    assert np.array_equal(layer(x).data, x)
    y = layer(x, training=True).data
    assert set(np.unique(y)) == {0.0, 2.0} and abs(y.mean() - 1) < 0.05


def test_initializers_follow_keras_formulas():
    w = dc.initializers.GlorotUniform(seed=1)((300, 200))
    limit = np.sqrt(6 / 500)
    assert w.max() <= limit and w.min() >= -limit and abs(w.std() - limit / np.sqrt(3)) < 0.01 * limit
    h = dc.initializers.HeNormal(seed=1)((400, 300))
    assert abs(h.std() - np.sqrt(2 / 400)) < 0.05 * np.sqrt(2 / 400)
    assert np.array_equal(dc.initializers.get("ones")((2,)), np.ones(2))
    assert np.array_equal(
        dc.initializers.GlorotUniform(seed=3)((4, 4)), dc.initializers.GlorotUniform(seed=3)((4, 4))
    )


def test_regularizers_add_keras_penalties():
    dc.set_seed(0)
    layer = Dense(2, kernel_regularizer=dc.regularizers.L1L2(l1=0.1, l2=0.2))
    layer.build((None, 3))
    w = layer.kernel.data
    (penalty,) = layer.regularization_losses()
    assert np.isclose(penalty.item(), 0.1 * np.abs(w).sum() + 0.2 * (w**2).sum(), rtol=1e-5)


def test_sequential_predict_runs_the_kernels_directly_and_gives_call_s_values(monkeypatch):
    import densecore as dc

    dc.set_seed(0)
    model = dc.Sequential(
        [
            dc.layers.Input((6,)),
            dc.layers.Dense(5, activation="relu"),
            dc.layers.Dropout(0.5),
            dc.layers.LowRankDense(4, rank=2, activation="sigmoid"),
            dc.layers.Activation("tanh"),
            dc.layers.Dense(3, activation="softmax"),
        ]
    )
    x = np.random.default_rng(0).standard_normal((40, 6)).astype(np.float32)
    with dc.no_grad():
        want = model(dc.Tensor(x)).data
    np.testing.assert_array_equal(model.predict(x, batch_size=16), want)

    def no_graph(*args, **kwargs):
        raise AssertionError("predict built Tensors")

    monkeypatch.setattr(dc.layers.Layer, "__call__", no_graph)
    np.testing.assert_array_equal(model.predict(x, batch_size=64), want)


def test_set_weights_stores_c_contiguous_arrays():
    """The kernels take their fast path (no copy of W per call) only for C-ordered weights."""
    import densecore as dc

    layer = dc.layers.Dense(3, input_shape=(4,))
    dc.Sequential([layer])
    kernel = np.asfortranarray(np.arange(12, dtype=np.float64).reshape(4, 3))
    layer.set_weights([kernel, np.zeros(3)])
    assert layer.kernel.data.flags.c_contiguous and layer.kernel.dtype == np.float32
    np.testing.assert_array_equal(layer.kernel.data, kernel)
    bias = np.zeros(3, np.float32)
    layer.set_weights([np.ascontiguousarray(kernel, np.float32), bias])
    bias += 1  # the layer holds copies: training it, or changing the arrays, never touches the other
    np.testing.assert_array_equal(layer.bias.data, np.zeros(3))


def test_clear_session_starts_names_afresh_as_keras_does():
    dc.layers.Dense(2)  # whatever came before, the counter now stands past "dense"
    kept = dc.layers.Dense(2)
    dc.clear_session()
    assert dc.layers.Dense(2).name == "dense" and dc.layers.Dense(2).name == "dense_1"
    assert kept.name not in ("dense",)  # layers made before keep their names


def test_get_layer_by_name_or_index_as_keras():
    hidden = dc.layers.Dense(4, activation="relu", name="hidden")
    model = dc.Sequential([dc.Input((3,)), hidden, dc.layers.Dense(1)])
    assert model.get_layer("hidden") is hidden and model.get_layer(index=0) is hidden
    assert model.get_layer(index=-1) is model.layers[-1]
    for kwargs, words in [
        ({"name": "nope"}, "'hidden'"),
        ({"index": 2}, "out of range"),
        ({}, "neither"),
        ({"name": "hidden", "index": 0}, "both"),
    ]:
        with pytest.raises(ValueError, match=words):
            model.get_layer(**kwargs)


def test_flatten_takes_images_into_dense_layers(tmp_path):
    (x, y), (x_test, y_test) = dc.datasets.load_digits()
    images = x.reshape(-1, 8, 8)
    dc.set_seed(0)
    model = dc.Sequential(
        [dc.Input((8, 8)), dc.layers.Flatten(), Dense(16, activation="relu"), Dense(10, activation="softmax")]
    )
    assert model.output_shape == (None, 10) and model.layers[0].compute_output_shape((None, 8, 8)) == (
        None,
        64,
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(images[:300], y[:300], epochs=2, batch_size=32, verbose=0)
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, 64)" in lines[0]
    flat = dc.Sequential([Dense(16, activation="relu"), Dense(10, activation="softmax")])
    flat.build((None, 64))
    flat.set_weights(model.get_weights())  # the same weights on flattened inputs: the same outputs
    np.testing.assert_array_equal(model.predict(images[:50]), flat.predict(x[:50]))
    path = tmp_path / "images.dc"
    model.save(path)
    loaded = dc.load_model(path)
    assert loaded.input_shape == (None, 8, 8)
    np.testing.assert_array_equal(loaded.predict(images[:50]), model.predict(images[:50]))
    with pytest.raises(ValueError, match=r"\(batch, 8, 8\).*\(5, 64\)"):
        model.predict(x[:5])


def test_flatten_builds_lazily_and_passes_gradients():
    class Net(dc.Model):
        def __init__(self):
            super().__init__()
            self.flatten = dc.layers.Flatten()
            self.out = Dense(2)

        def call(self, inputs):
            return self.out(self.flatten(inputs))

    net = Net()
    x = np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32)
    assert net.predict(x).shape == (6, 2) and net.input_shape == (None, 2, 3)
    images = dc.Tensor(x.astype(np.float64), requires_grad=True)
    layer = dc.layers.Flatten()
    assert dc.gradcheck(lambda t: layer(t) * 2.0, [images])
    with pytest.raises(ValueError, match="expected"):
        dc.Sequential([Dense(2)]).build((None, 0))
