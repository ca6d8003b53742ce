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
