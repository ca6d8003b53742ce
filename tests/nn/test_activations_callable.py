"""Callable activations on Dense and Activation, as Keras allows (`activation=my_fn`): applied
as nodes after the product, saved by name and found at load (registered or custom_objects);
densecore's own activation functions keep the fused kernels."""

import numpy as np
import pytest

import densecore as dc
from densecore.engine import functional as F


def swish(x):
    return x * x.sigmoid()


X = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)


def test_a_function_of_yours_is_applied_after_the_product():
    layer = dc.layers.Dense(3, activation=swish, kernel_initializer="ones", bias_initializer="ones")
    z = X @ np.ones((4, 3), np.float32) + 1.0
    expected = z / (1.0 + np.exp(-z))
    np.testing.assert_allclose(layer(X).numpy(), expected, rtol=1e-6)
    assert layer.activation is swish
    # predict's graph-free path gives the same values
    model = dc.Sequential([dc.Input((4,)), layer])
    np.testing.assert_allclose(model.predict(X, verbose=0), expected, rtol=1e-6)


def test_its_gradient_flows_through_its_nodes():
    rng = np.random.default_rng(1)
    x = dc.Tensor(X.astype(np.float64))
    w = dc.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = dc.Tensor(rng.standard_normal(3), requires_grad=True)
    assert dc.gradcheck(lambda w, b: F.activated(F.dense, swish, x, w, b), [w, b])


def test_densecore_functions_become_their_names_and_keep_the_fused_kernels():
    for name in ("relu", "sigmoid", "tanh", "softmax", "linear"):
        assert dc.layers.Dense(2, activation=F.ACTIVATIONS[name]).activation == name
    assert dc.layers.Activation(F.relu).activation == "relu"


def test_a_model_with_a_callable_activation_trains_saves_and_loads(tmp_path):
    y = (X.sum(axis=1, keepdims=True) > 0).astype(np.float32)
    dc.set_seed(0)
    model = dc.Sequential(
        [dc.Input((4,)), dc.layers.Dense(8, activation=swish), dc.layers.Dense(1, activation="sigmoid")]
    )
    model.compile(optimizer=dc.optimizers.Adam(0.05), loss="binary_crossentropy")
    history = model.fit(X, y, epochs=5, verbose=0).history["loss"]
    assert history[-1] < history[0]
    assert model.layers[0].get_config()["activation"] == "swish"
    model.save(tmp_path / "m.dc")
    with pytest.raises(ValueError, match=r"unknown activation 'swish'.*custom_objects=\{'swish': swish\}"):
        dc.load_model(tmp_path / "m.dc")
    loaded = dc.load_model(tmp_path / "m.dc", custom_objects={"swish": swish})
    assert loaded.layers[0].activation is swish
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_a_registered_activation_loads_without_custom_objects(tmp_path):
    @dc.saving.register_serializable(package="test_activations")
    def doubled(x):
        return x * 2.0

    model = dc.Sequential(
        [dc.Input((4,)), dc.layers.Dense(2, activation=doubled), dc.layers.Activation(doubled)]
    )
    assert model.layers[0].get_config()["activation"] == "test_activations>doubled"
    model.save(tmp_path / "m.dc")
    loaded = dc.load_model(tmp_path / "m.dc")
    assert loaded.layers[0].activation is doubled and loaded.layers[1].activation is doubled
    np.testing.assert_array_equal(loaded.predict(X, verbose=0), model.predict(X, verbose=0))


def test_a_lambda_activation_runs_but_saving_it_is_refused_clearly(tmp_path):
    model = dc.Sequential([dc.Input((4,)), dc.layers.Dense(2, activation=lambda x: x * 3.0)])
    assert model.predict(X, verbose=0).shape == (16, 2)
    with pytest.raises(ValueError, match="no name to be saved under"):
        model.save(tmp_path / "m.dc")


def test_unknown_activation_names_are_still_refused():
    with pytest.raises(ValueError, match="unknown activation 'relux'"):
        dc.layers.Dense(2, activation="relux")
