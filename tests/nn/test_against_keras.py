"""densecore against Keras 3 itself, run side by side on the same weights and data, where Keras's
own tests give no number (issue #18). Runs when keras is importable (its torch backend); skipped
otherwise: densecore never depends on Keras."""

import os

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
keras = pytest.importorskip("keras")
pytest.importorskip("torch")
import densecore as dc  # noqa: E402

OPTIMIZERS = [
    ("SGD", dict(learning_rate=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    (
        "Adam",
        dict(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6, amsgrad=True, weight_decay=0.004),
    ),
    ("AdamW", dict(learning_rate=0.01, weight_decay=0.1)),
    ("RMSprop", dict(learning_rate=0.01, rho=0.8, momentum=0.5, centered=True)),
    ("Adamax", dict(learning_rate=0.02, beta_1=0.85)),
    ("Nadam", dict(learning_rate=0.02, beta_2=0.95)),
    ("Adagrad", dict(learning_rate=0.1, initial_accumulator_value=0.2)),
]


@pytest.mark.parametrize("name, settings", OPTIMIZERS, ids=[name for name, _ in OPTIMIZERS])
def test_optimizers_with_non_default_settings_take_keras_steps(name, settings):
    """Five steps on the same weights and gradients: the same weights, to float32 rounding."""
    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((3, 4)).astype(np.float32)
    grads = [rng.standard_normal((3, 4)).astype(np.float32) for _ in range(5)]
    theirs, ours = keras.Variable(w0.copy()), dc.Tensor(w0.copy(), requires_grad=True)
    k_opt, d_opt = getattr(keras.optimizers, name)(**settings), getattr(dc.optimizers, name)(**settings)
    for g in grads:
        k_opt.apply_gradients([(keras.ops.convert_to_tensor(g), theirs)])
        d_opt.apply_gradients([(g, ours)])
    np.testing.assert_allclose(ours.data, keras.ops.convert_to_numpy(theirs), rtol=1e-5, atol=1e-6)


def _twins(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((32, 5)).astype(np.float32)
    y = (x @ rng.standard_normal((5, 1))).astype(np.float32)
    weights = [rng.standard_normal((5, 3)).astype(np.float32) * 0.5, np.zeros(3, np.float32)]
    weights += [rng.standard_normal((3, 1)).astype(np.float32) * 0.5, np.zeros(1, np.float32)]
    k_model = keras.Sequential(
        [keras.Input((5,)), keras.layers.Dense(3, activation="tanh"), keras.layers.Dense(1)]
    )
    d_model = dc.Sequential([dc.Input((5,)), dc.layers.Dense(3, activation="tanh"), dc.layers.Dense(1)])
    k_model.set_weights(weights)
    d_model.set_weights(weights)
    return x, y, k_model, d_model


def test_fit_with_early_stopping_and_reduce_lr_follows_keras():
    """The same 2-layer model, weights and data, SGD, batch 8 without shuffling: per-epoch losses,
    the learning rates ReduceLROnPlateau sets, and the epoch where EarlyStopping stops."""
    x, y, k_model, d_model = _twins()
    histories = []
    for lib, model in ((keras, k_model), (dc, d_model)):
        model.compile(lib.optimizers.SGD(0.05), "mse")
        callbacks = [
            lib.callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=0, min_delta=0.2),
            lib.callbacks.EarlyStopping(monitor="loss", patience=2, min_delta=0.2),
        ]
        history = model.fit(x, y, batch_size=8, epochs=12, shuffle=False, verbose=0, callbacks=callbacks)
        histories.append(history.history)
    theirs, ours = histories
    assert len(ours["loss"]) == len(theirs["loss"])  # stopped at the same epoch
    np.testing.assert_allclose(ours["loss"], theirs["loss"], rtol=1e-5)
    np.testing.assert_allclose(ours["learning_rate"], theirs["learning_rate"], rtol=1e-6)


def _two_output_twins(lib, weights, named):
    """The same functional model of two inputs and two outputs (a 3-class head, a regression
    head) in Keras or densecore, with `weights`; its outputs and compile settings given as
    dicts when `named`, else as lists."""
    a, b = lib.Input((4,), name="a"), lib.Input((2,), name="b")
    h = lib.layers.Dense(5, activation="tanh", name="h")(a)
    h = lib.layers.Concatenate(name="cat")([h, b])
    classes = lib.layers.Dense(3, activation="softmax", name="classes")(h)
    value = lib.layers.Dense(1, name="value")(h)
    settings = dict(
        loss=["sparse_categorical_crossentropy", "mse"],
        loss_weights=[0.5, 2.0],
        weighted_metrics=[["accuracy"], ["mae"]],
    )
    if named:
        settings = {key: dict(zip(["classes", "value"], value)) for key, value in settings.items()}
    model = lib.Model([a, b], {"classes": classes, "value": value} if named else [classes, value])
    model.set_weights(weights)
    model.compile(optimizer=lib.optimizers.SGD(0.1), **settings)
    return model


@pytest.mark.parametrize("weighting", ["per_output", "dict", "shared"])
def test_functional_two_outputs_with_sample_weights_follow_keras(weighting):
    """fit and evaluate of a two-input, two-output model with a loss per output, loss_weights
    and sample weights (one array per output, as a list or a dict, or one shared): Keras's
    logs per epoch (total and per-output losses, weighted metrics) and final weights."""
    rng = np.random.default_rng(3)
    xa, xb = rng.standard_normal((24, 4)).astype(np.float32), rng.standard_normal((24, 2)).astype(np.float32)
    y1 = rng.integers(0, 3, 24).astype(np.int64)
    y2 = rng.standard_normal((24, 1)).astype(np.float32)
    w1, w2 = rng.uniform(0.1, 2, 24).astype(np.float32), rng.uniform(0.1, 2, 24).astype(np.float32)
    weights = [
        rng.standard_normal(shape).astype(np.float32) * 0.5
        for shape in [(4, 5), (5,), (7, 3), (3,), (7, 1), (1,)]
    ]
    sample_weight = {"per_output": [w1, w2], "dict": {"classes": w1, "value": w2}, "shared": w1}[weighting]
    y = {"classes": y1, "value": y2} if weighting == "dict" else [y1, y2]  # (Keras: the structure of y)
    logs = {}
    for name, lib in (("keras", keras), ("densecore", dc)):
        model = _two_output_twins(lib, weights, named=weighting == "dict")
        history = model.fit(
            [xa, xb], y, sample_weight=sample_weight, batch_size=8, epochs=2, shuffle=False, verbose=0
        )
        evaluated = model.evaluate([xa, xb], y, sample_weight=sample_weight, verbose=0, return_dict=True)
        logs[name] = (history.history, evaluated, model.get_weights())
    (k_history, k_eval, k_weights), (d_history, d_eval, d_weights) = logs["keras"], logs["densecore"]
    assert sorted(d_history) == sorted(k_history) and sorted(d_eval) == sorted(k_eval)
    for key in k_history:
        np.testing.assert_allclose(d_history[key], k_history[key], rtol=2e-5, atol=1e-6, err_msg=key)
        np.testing.assert_allclose(d_eval[key], k_eval[key], rtol=2e-5, atol=1e-6, err_msg=key)
    for ours, theirs in zip(d_weights, k_weights):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
