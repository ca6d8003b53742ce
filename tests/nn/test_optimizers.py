"""Optimizers follow Keras 3's update formulas and defaults exactly."""

import numpy as np
import pytest

import densecore as dc


def run(optimizer, steps=3, seed=0):
    rng = np.random.default_rng(seed)
    w = dc.Tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(steps)]
    for g in grads:
        w.grad = g.copy()
        optimizer.apply([w])
    return w.data, grads


def keras_adam(w, grads, lr=0.001, b1=0.9, b2=0.999, eps=1e-7, wd=0.0):
    m, v = np.zeros_like(w), np.zeros_like(w)
    for t, g in enumerate(grads, 1):
        w = w - w * wd * lr
        m = m + (g - m) * (1 - b1)
        v = v + (g * g - v) * (1 - b2)
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        w = w - alpha * m / (np.sqrt(v) + eps)
    return w


def keras_sgd(w, grads, lr=0.01, momentum=0.0, nesterov=False):
    m = np.zeros_like(w)
    for g in grads:
        if momentum:
            m = momentum * m - lr * g
            w = w + (momentum * m - lr * g if nesterov else m)
        else:
            w = w - lr * g
    return w


def keras_rmsprop(w, grads, lr=0.001, rho=0.9, momentum=0.0, eps=1e-7):
    v, mom = np.zeros_like(w), np.zeros_like(w)
    for g in grads:
        v = rho * v + (1 - rho) * g * g
        inc = lr * g / np.sqrt(v + eps)
        if momentum:
            mom = momentum * mom + inc
            w = w - mom
        else:
            w = w - inc
    return w


def start(seed=0):
    return np.random.default_rng(seed).standard_normal((3, 4)).astype(np.float64)


@pytest.mark.parametrize(
    "optimizer, expected",
    [
        (lambda: dc.optimizers.Adam(), lambda w, g: keras_adam(w, g)),
        (
            lambda: dc.optimizers.Adam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-5),
            lambda w, g: keras_adam(w, g, 0.01, 0.8, 0.99, 1e-5),
        ),
        (lambda: dc.optimizers.AdamW(), lambda w, g: keras_adam(w, g, wd=0.004)),
        (lambda: dc.optimizers.SGD(), lambda w, g: keras_sgd(w, g)),
        (lambda: dc.optimizers.SGD(0.1, momentum=0.9), lambda w, g: keras_sgd(w, g, 0.1, 0.9)),
        (
            lambda: dc.optimizers.SGD(0.1, momentum=0.9, nesterov=True),
            lambda w, g: keras_sgd(w, g, 0.1, 0.9, True),
        ),
        (lambda: dc.optimizers.RMSprop(), lambda w, g: keras_rmsprop(w, g)),
        (lambda: dc.optimizers.RMSprop(momentum=0.5), lambda w, g: keras_rmsprop(w, g, momentum=0.5)),
    ],
)
def test_update_matches_keras_formula(optimizer, expected):
    got, grads = run(optimizer())
    want = expected(start(), [g.astype(np.float64) for g in grads])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def test_keras_defaults():
    adam = dc.optimizers.get("adam")
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert dc.optimizers.get("sgd").learning_rate == 0.01
    assert dc.optimizers.get("adamw").weight_decay == 0.004
    rms = dc.optimizers.get("rmsprop")
    assert (rms.learning_rate, rms.rho, rms.epsilon) == (0.001, 0.9, 1e-7)


def test_gradients_are_cleared_and_frozen_weights_untouched():
    w = dc.Tensor(np.ones(3, np.float32), requires_grad=True)
    frozen = dc.Tensor(np.ones(3, np.float32))
    w.grad = np.ones(3, np.float32)
    dc.optimizers.SGD(0.5).apply([w, frozen])
    assert w.grad is None and np.allclose(w.data, 0.5) and np.allclose(frozen.data, 1)


def test_clipping():
    w = dc.Tensor(np.zeros(2, np.float32), requires_grad=True)
    w.grad = np.array([3.0, 4.0], np.float32)
    dc.optimizers.SGD(1.0, clipnorm=1.0).apply([w])
    np.testing.assert_allclose(w.data, [-0.6, -0.8], rtol=1e-6)
    w.grad = np.array([3.0, -4.0], np.float32)
    dc.optimizers.SGD(1.0, clipvalue=0.5).apply([w])
    np.testing.assert_allclose(w.data, [-1.1, -0.3], rtol=1e-6)


def test_schedules():
    s = dc.optimizers.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)
    assert np.isclose(s(10), 0.05) and np.isclose(s(5), 0.1 * 0.5**0.5)
    c = dc.optimizers.CosineDecay(1.0, decay_steps=100, alpha=0.1)
    assert np.isclose(c(0), 1.0) and np.isclose(c(100), 0.1) and np.isclose(c(50), 0.55)
    opt = dc.optimizers.SGD(s)
    w = dc.Tensor(np.zeros(1, np.float32), requires_grad=True)
    for _ in range(10):
        w.grad = np.ones(1, np.float32)
        opt.apply([w])
    assert np.isclose(opt.current_learning_rate(), 0.05)


@pytest.mark.parametrize(
    "make, words",
    [
        (lambda: dc.optimizers.get("adagradx"), ["adagradx", "adam"]),
        (lambda: dc.optimizers.Adam(learning_rate=-1), ["learning_rate"]),
        (lambda: dc.optimizers.SGD(momentum=2), ["momentum"]),
        (lambda: dc.optimizers.SGD(clipnorm=0), ["clipnorm"]),
    ],
)
def test_bad_optimizer_arguments(make, words):
    with pytest.raises(ValueError) as info:
        make()
    for word in words:
        assert word in str(info.value)
