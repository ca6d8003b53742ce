"""Layers as Keras 3 has them, with the inputs, weights and expected values of Keras's own
tests (keras-team/keras, keras/src/layers/core/dense_test.py and keras/src/layers/layer_test.py)
and the patterns of Keras's guide "Making new layers and models via subclassing"."""

import numpy as np
import pytest

import densecore as dc
from densecore.nn.layers import Layer

KERNEL = np.array([[1.0, -2.0], [3.0, -4.0]], np.float32)
X = np.array([[-1.0, 2.0]], np.float32)


def dense(**kwargs):
    layer = dc.layers.Dense(units=2, **kwargs)
    layer.build((1, 2))
    return layer


def test_dense_correctness():
    """dense_test.py::DenseTest::test_dense_correctness"""
    layer = dense(activation="relu")
    layer.set_weights([KERNEL, np.array([5.0, -6.0])])
    np.testing.assert_allclose(layer(X).numpy(), [[10.0, 0.0]])
    layer = dense(use_bias=False)
    layer.set_weights([KERNEL])
    assert layer.bias is None
    np.testing.assert_allclose(layer(X).numpy(), [[5.0, -6.0]])


def test_dense_activation_none_and_set_after_build():
    """dense_test.py::DenseTest::test_dense_no_activation, test_dense_without_activation_set,
    test_dense_with_activation (setting layer.activation on a built Dense raised KeyError)."""
    layer = dense(use_bias=False, activation=None)
    layer.set_weights([KERNEL])
    np.testing.assert_allclose(layer(X).numpy(), [[5.0, -6.0]])
    layer = dense(use_bias=False)
    layer.set_weights([KERNEL])
    layer.activation = None
    np.testing.assert_allclose(layer(X).numpy(), [[5.0, -6.0]])
    layer = dense(use_bias=False, activation="relu")
    layer.set_weights([KERNEL])
    np.testing.assert_allclose(layer(X).numpy(), [[5.0, 0.0]])
    layer.activation = "linear"
    np.testing.assert_allclose(layer(X).numpy(), [[5.0, -6.0]])
    with pytest.raises(ValueError, match="unknown activation 'swishy'"):
        layer.activation = "swishy"


def test_dense_constraints():
    """dense_test.py::DenseTest::test_dense_constraints: the weights carry their constraint,
    which the optimizer applies after each update (here NonNeg against a pull below zero)."""
    layer = dc.layers.Dense(units=2, kernel_constraint="non_neg")
    layer.build((None, 2))
    assert isinstance(layer.kernel.constraint, dc.constraints.NonNeg)
    layer = dc.layers.Dense(units=2, bias_constraint="non_neg")
    layer.build((None, 2))
    assert isinstance(layer.bias.constraint, dc.constraints.NonNeg)
    layer = dc.layers.Dense(2, use_bias=False, kernel_constraint="non_neg")
    model = dc.Sequential([dc.layers.InputLayer(shape=(3,)), layer])
    model.compile(dc.optimizers.SGD(1.0), "mse")
    x = np.ones((4, 3), np.float32)
    model.fit(x, -10 * np.ones((4, 2), np.float32), epochs=2, verbose=0)  # pulls every weight below 0
    np.testing.assert_array_equal(model.layers[0].kernel.numpy(), 0.0)
    with pytest.raises(ValueError, match="kernel_constraint is not supported"):
        dc.layers.LowRankDense(2, rank=1, kernel_constraint="non_neg")


@pytest.mark.parametrize("units", [0, -1, 2.5, "3"])
def test_dense_invalid_units_raises(units):
    """dense_test.py::DenseTest::test_dense_invalid_units_raises"""
    with pytest.raises(ValueError, match="positive integer"):
        dc.layers.Dense(units)


def test_dense_on_three_axes_applies_to_the_last_with_two_regularizer_losses():
    """dense_test.py::DenseTest::test_dense_basics, 3-D case: input (2, 3, 4), units 5,
    kernel and bias l2 regularizers -> output (2, 3, 5), 2 losses; checked against numpy."""
    layer = dc.layers.Dense(5, activation="sigmoid", kernel_regularizer="l2", bias_regularizer="l2")
    x = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    y = layer(x).numpy()
    assert y.shape == (2, 3, 5) and len(layer.losses) == 2
    w, b = layer.get_weights()
    np.testing.assert_allclose(y, 1 / (1 + np.exp(-(x.astype(np.float64) @ w + b))), rtol=1e-5)
    model = dc.Sequential([dc.Input((3, 4)), layer])
    np.testing.assert_allclose(model.predict(x), y, rtol=1e-6)


class Identity(Layer):  # layer_test.py's ActivityRegularizer / SimpleLayer: call(self, x) only
    def call(self, x):
        return x


def test_activity_regularization():
    """layer_test.py::LayerTest::test_activity_regularization: l1 on ones((1,)) is 0.01, and
    the losses are reset upon call."""
    layer = Identity(activity_regularizer="l1")
    for _ in range(2):
        layer(np.ones((1,), np.float32))
        assert len(layer.losses) == 1
        np.testing.assert_allclose(layer.losses[0].item(), 0.01, rtol=1e-6)


@pytest.mark.parametrize("batch_size, expected", [(0, 0.0), (1, 0.2), (5, 0.2), (10, 0.2)])
def test_activity_regularization_batch_normalization(batch_size, expected):
    """layer_test.py::LayerTest::test_activity_regularization_batch_normalization: l2 of
    ones((batch, 5)) * 2, divided by the batch size."""
    layer = Identity(activity_regularizer="l2")
    layer(np.ones((batch_size, 5), np.float32) * 2.0)
    assert len(layer.losses) == 1
    np.testing.assert_allclose(layer.losses[0].item(), expected, rtol=1e-6)


class LossLayer(Layer):
    def call(self, x):
        self.add_loss(x.sum())
        return x


def test_add_loss():
    """layer_test.py::LayerTest::test_add_loss: in a layer, in a model, in a nested model."""
    layer = LossLayer()
    layer(np.ones((1,), np.float32))
    assert [loss.item() for loss in layer.losses] == [1.0]
    layer(np.ones((1,), np.float32))
    assert [loss.item() for loss in layer.losses] == [1.0]
    model = dc.Sequential([LossLayer()])
    model(np.ones((1, 1), np.float32))
    assert [loss.item() for loss in model.losses] == [1.0]
    model = dc.Sequential([model])
    model(np.ones((1, 1), np.float32))
    assert [loss.item() for loss in model.losses] == [1.0]


def test_training_arg_value_resolution():
    """layer_test.py::LayerTest::test_training_arg_value_resolution: an outer training=True
    reaches an inner Dropout that was called without it."""

    class TrainingLayer(Layer):
        def __init__(self):
            super().__init__()
            self.dp = dc.layers.Dropout(0.9)

        def call(self, x, training=False):
            return self.dp(x)

    layer = TrainingLayer()
    x = np.ones((4, 4), np.float32)
    assert layer(x).numpy().min() == 1
    assert layer(x, training=True).numpy().min() == 0


def test_serialize_activity_regularizer():
    """layer_test.py::LayerTest::test_serialize_activity_regularizer"""
    config = dc.layers.Dense(2, activity_regularizer="l2").get_config()
    assert "activity_regularizer" in config
    assert type(dc.layers.Dense.from_config(config).activity_regularizer).__name__ == "L2"
    assert "activity_regularizer" not in dc.layers.Dense(2).get_config()


def test_activity_loss_joins_the_training_loss():
    """fit's loss is the compiled loss plus the layers' added losses, as Keras: the first
    step's loss (before any update) equals mse + the activity penalty, computed by hand."""
    dc.set_seed(0)
    x = np.random.default_rng(1).standard_normal((8, 3)).astype(np.float32)
    y = np.zeros((8, 2), np.float32)
    model = dc.Sequential([dc.Input((3,)), dc.layers.Dense(2, activity_regularizer=dc.regularizers.L2(0.5))])
    model.compile(dc.optimizers.SGD(0.0), "mse")
    out = model.predict(x)
    expected = np.mean(out.astype(np.float64) ** 2) + 0.5 * np.sum(out.astype(np.float64) ** 2) / 8
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], expected, rtol=1e-5)


# ---- the guide "Making new layers and models via subclassing" -----------------------------
class Linear(Layer):
    """The guide's Linear, with add_weight(shape=..., initializer=..., trainable=...) and no name."""

    def __init__(self, units=32, input_dim=32):
        super().__init__()
        self.w = self.add_weight(shape=(input_dim, units), initializer="random_normal", trainable=True)
        self.b = self.add_weight(shape=(units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return inputs @ self.w + self.b


def test_the_guides_linear_layer():
    x = np.ones((2, 2), np.float32)
    linear = Linear(4, 2)
    y = linear(x)
    assert y.shape == (2, 4)
    np.testing.assert_allclose(y.numpy(), x @ linear.w.numpy() + linear.b.numpy(), rtol=1e-6)
    assert [w.shape for w in linear.weights] == [(2, 4), (4,)]
    assert [w.name for w in linear.weights] == [f"{linear.name}/weight_0", f"{linear.name}/weight_1"]


def test_add_weight_defaults_and_bad_arguments():
    layer = Identity()
    w = layer.add_weight(shape=(50, 40))  # Keras 3: glorot_uniform for float weights
    limit = np.sqrt(6 / (50 + 40))
    assert w.dtype == np.float32 and np.abs(w.numpy()).max() <= limit and w.numpy().std() > limit / 3
    assert layer.add_weight().shape == ()  # default shape: a scalar
    assert layer.add_weight((3,), "ones").numpy().tolist() == [1.0, 1.0, 1.0]  # positional, as Keras
    with pytest.warns(DeprecationWarning, match="add_weight\\(name, shape"):
        old = layer.add_weight("old", (2,), "zeros")
    assert old.name.endswith("/old") and old.numpy().tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="shape must be a tuple of non-negative integers"):
        layer.add_weight(shape=(2, -1))
    with pytest.raises(ValueError, match="given both positionally and as a keyword"):
        layer.add_weight((2,), shape=(3,))
    with pytest.raises(ValueError, match="initializer"):
        layer.add_weight(shape=(2,), initializer="no_such_init")
    with pytest.raises(ValueError, match="dtype must be float32 or float64"):
        layer.add_weight(shape=(2,), dtype="int8")


def test_a_call_that_cannot_take_the_inputs_is_refused_when_the_class_is_defined():
    with pytest.raises(TypeError, match="Bad.call must take the inputs"):

        class Bad(Layer):
            def call(self, *, inputs):
                return inputs
