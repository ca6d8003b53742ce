"""Model.train_step / test_step / predict_step overrides, compute_loss, metrics, compile
without a loss or an optimizer (issue #26; Keras 3's trainer is the oracle)."""

import numpy as np
import pytest

import densecore as dc


def _data(n=64, features=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, features)).astype(np.float32)
    y = (x @ np.arange(1, features + 1, dtype=np.float32)[:, None] / features).astype(np.float32)
    return x, y


def _dense_model(seed=1):
    dc.set_seed(seed)
    return dc.Sequential([dc.Input((4,)), dc.layers.Dense(3, activation="relu"), dc.layers.Dense(1)])


# ---- compile(optimizer=None) ---------------------------------------------------------------
def test_fit_without_optimizer_is_a_value_error_naming_the_model():
    model = _dense_model()
    model.compile(optimizer=None, loss="mse")
    x, y = _data()
    before = [w.copy() for w in model.get_weights()]
    with pytest.raises(ValueError, match="model 'sequential.*' has no optimizer"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="train_on_batch: model .* has no optimizer"):
        model.train_on_batch(x, y)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    assert np.isfinite(model.evaluate(x, y))  # evaluating needs none


# ---- compile() without a loss: the model's own losses alone ----------------------------------
class _Activity(dc.layers.Layer):
    """add_loss(mean(inputs²)) in call, as the guides' activity regularization."""

    def call(self, inputs):
        self.add_loss((inputs * inputs).mean())
        return inputs


def test_compile_without_loss_minimises_the_added_losses_against_numpy():
    dc.set_seed(3)
    model = dc.Sequential([dc.Input((3,)), dc.layers.Dense(4), _Activity()])
    model.compile(optimizer=dc.optimizers.SGD(0.1))
    x = np.random.default_rng(0).random((8, 3)).astype(np.float32)
    kernel, bias = (w.astype(np.float64) for w in model.get_weights())
    out = x @ kernel + bias
    expected_loss = np.mean(out**2)
    g = 2 * out / out.size
    loss = model.train_on_batch(x, None)
    np.testing.assert_allclose(loss, expected_loss, rtol=1e-6)
    new_kernel, new_bias = model.get_weights()
    np.testing.assert_allclose(new_kernel, kernel - 0.1 * x.T @ g, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(new_bias, bias - 0.1 * g.sum(0), rtol=1e-5, atol=1e-7)
    history = model.fit(x, epochs=3, verbose=0)  # no y: nothing compares it
    assert history.history["loss"][-1] < history.history["loss"][0] < loss


def test_compile_without_loss_and_no_added_loss_says_so():
    model = _dense_model()
    model.compile(optimizer="sgd")
    x, y = _data()
    with pytest.raises(ValueError, match="No loss to compute for model 'sequential.*'"):
        model.fit(x, y, verbose=0)


def test_y_is_required_when_a_loss_is_compiled():
    model = _dense_model()
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="fit: y is required"):
        model.fit(_data()[0], verbose=0)
