"""BatchNormalization: the gradient of both modes, Keras's moving statistics, freezing,
saving, predict's fast path."""

import numpy as np
import pytest

import densecore as dc
from densecore import functional as F


def tensor(shape, seed, requires_grad=True):
    return dc.Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=requires_grad)


@pytest.mark.parametrize("batch_stats", [True, False])
@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3)])
def test_batch_norm_gradcheck(batch_stats, shape):
    x, gamma, beta = tensor(shape, 0), tensor((3,), 1), tensor((3,), 2)
    fixed_mean, fixed_var = np.array([0.1, -0.2, 0.3]), np.array([0.5, 2.0, 1.5])

    def fn(x, gamma, beta):
        rows = x.data.reshape(-1, 3)
        mean, var = (rows.mean(axis=0), rows.var(axis=0)) if batch_stats else (fixed_mean, fixed_var)
        return F.batch_norm(x, gamma, beta, mean, var, 1e-3, batch_stats=batch_stats) * tensor(
            shape, 3, False
        )

    assert dc.gradcheck(fn, [x, gamma, beta])


def test_training_normalises_by_the_batch_and_moves_the_averages_as_keras():
    layer = dc.layers.BatchNormalization(momentum=0.9)
    x = np.random.default_rng(0).normal(3.0, 2.0, (64, 4)).astype(np.float32)
    layer.build((None, 4))
    with dc.layers.learning_phase(True):
        y = layer(x).data
    np.testing.assert_allclose(y.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(y.std(axis=0), np.sqrt(x.var(axis=0) / (x.var(axis=0) + 1e-3)), rtol=1e-4)
    gamma, beta, mean, var = layer.get_weights()
    np.testing.assert_allclose(mean, 0.1 * x.mean(axis=0), rtol=1e-5)  # 0.9·0 + 0.1·μ
    np.testing.assert_allclose(var, 0.9 + 0.1 * x.var(axis=0), rtol=1e-5)  # biased variance
    inferred = layer(x, training=False).data  # inference: the moving averages
    np.testing.assert_allclose(inferred, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-5)
    np.testing.assert_allclose(layer._infer(x), inferred, rtol=1e-6)
    assert [w.requires_grad for w in layer.weights] == [True, True, False, False]


def test_a_frozen_layer_runs_in_inference_mode_in_fit_and_keeps_its_statistics(tmp_path):
    (x, y), _ = dc.datasets.load_digits()
    dc.set_seed(0)
    model = dc.Sequential(
        [
            dc.layers.Dense(16, activation="relu"),
            dc.layers.BatchNormalization(),
            dc.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:256], y[:256], epochs=2, verbose=0)
    norm = model.layers[1]
    norm.trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    before = norm.get_weights()
    model.fit(x[:256], y[:256], epochs=1, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, norm.get_weights()))
    path = tmp_path / "bn.dc"
    model.save(path)
    loaded = dc.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x[:64]), model.predict(x[:64]))
    slow = model(x[:64], training=False).data  # the graph path equals predict's array path
    np.testing.assert_allclose(model.predict(x[:64]), slow, rtol=1e-5, atol=1e-7)


def test_bad_settings_are_named():
    for kwargs, words in [
        ({"axis": 1}, "axis=-1"),
        ({"momentum": 2}, "momentum"),
        ({"epsilon": 0}, "epsilon"),
    ]:
        with pytest.raises(ValueError, match=words):
            dc.layers.BatchNormalization(**kwargs)
    layer = dc.layers.BatchNormalization()
    layer.build((None, 3))
    with pytest.raises(ValueError, match=r"\(batch, \.\.\., 3\).*\(2, 4\)"):
        layer(np.zeros((2, 4), np.float32))


def test_batch_normalization_with_regularizers_and_constraints(tmp_path):
    """keras/src/layers/normalization/batch_normalization_test.py::test_bn_basics: with
    beta_regularizer and gamma_regularizer "l2", the layer adds 2 losses; the penalties are
    Keras's L2 default 0.01 · Σ w² (gamma starts at ones: 0.01 · features), and the layer
    saves and loads with them."""
    layer = dc.layers.BatchNormalization(
        beta_regularizer="l2", gamma_regularizer="l2", gamma_constraint="non_neg"
    )
    x = np.random.default_rng(0).standard_normal((8, 4)).astype(np.float32)
    layer(x)
    assert len(layer.losses) == 2
    np.testing.assert_allclose(sorted(float(loss.item()) for loss in layer.losses), [0.0, 0.04], atol=1e-7)
    assert isinstance(layer.gamma.constraint, dc.constraints.NonNeg)
    model = dc.Sequential([dc.layers.InputLayer(shape=(4,)), layer, dc.layers.Dense(1)])
    model.compile("sgd", "mse")
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    model.save(tmp_path / "bn.dc")
    loaded = dc.load_model(tmp_path / "bn.dc")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert type(loaded.layers[0].gamma_regularizer).__name__ == "L2"
