"""Functional models with several inputs and outputs in fit and evaluate (issue #24), as
Keras 3: x and y as lists or dicts, compile's loss / loss_weights / metrics per output, the
logs "loss", "<output>_loss" and "<output>_<metric>"."""

import numpy as np
import pytest

import densecore as dc

N = 12


def _data(seed=0):
    rng = np.random.default_rng(seed)
    xa = rng.normal(size=(N, 3)).astype(np.float32)
    xb = rng.normal(size=(N, 2)).astype(np.float32)
    y1 = rng.normal(size=(N, 1)).astype(np.float32)
    y2 = rng.normal(size=(N, 1)).astype(np.float32)
    return xa, xb, y1, y2


def _model(seed=1):
    """o1 = Dense(1)(concat(a, b)); o2 = Dense(1)(b): two inputs, two outputs, linear."""
    dc.set_seed(seed)
    a = dc.Input(shape=(3,), name="a")
    b = dc.Input(shape=(2,), name="b")
    o1 = dc.layers.Dense(1, name="o1")(dc.layers.Concatenate()([a, b]))
    o2 = dc.layers.Dense(1, name="o2")(b)
    return dc.Model([a, b], [o1, o2])


def _mse(y, p):
    return float(np.mean((p.astype(np.float64) - y) ** 2))


def test_the_loss_is_the_weighted_sum_of_the_outputs_losses_and_one_sgd_step_matches_numpy():
    xa, xb, y1, y2 = _data()
    model = _model()
    model.compile(optimizer=dc.optimizers.SGD(0.1), loss=["mse", "mse"], loss_weights=[2.0, 0.5])
    (w1, b1), (w2, b2) = (model.get_layer(n).get_weights() for n in ("o1", "o2"))
    x = np.concatenate([xa, xb], axis=1).astype(np.float64)
    p1, p2 = x @ w1 + b1, xb.astype(np.float64) @ w2 + b2
    logs = model.evaluate([xa, xb], [y1, y2], batch_size=N, return_dict=True)
    assert list(logs) == ["loss", "o1_loss", "o2_loss"]
    np.testing.assert_allclose(logs["o1_loss"], _mse(y1, p1), rtol=1e-5)
    np.testing.assert_allclose(logs["o2_loss"], _mse(y2, p2), rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], 2.0 * _mse(y1, p1) + 0.5 * _mse(y2, p2), rtol=1e-5)

    history = model.fit([xa, xb], [y1, y2], batch_size=N, epochs=1, shuffle=False, verbose=0)
    np.testing.assert_allclose(history.history["loss"][0], logs["loss"], rtol=1e-5)
    g1 = 2.0 * 2.0 / N * (p1 - y1)  # d(2 * mse)/dp1
    g2 = 0.5 * 2.0 / N * (p2 - y2)
    expected = {
        "o1": [w1 - 0.1 * x.T @ g1, b1 - 0.1 * g1.sum(0)],
        "o2": [w2 - 0.1 * xb.T.astype(np.float64) @ g2, b2 - 0.1 * g2.sum(0)],
    }
    for name, arrays in expected.items():
        for got, want in zip(model.get_layer(name).get_weights(), arrays):
            np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("form", ["list", "dict", "one None"])
def test_one_sample_weight_per_output_weighs_each_outputs_loss(form):
    """Keras 3's sample_weight in the structure of y: output i's loss is sum(w_i * l_i) / N
    (sum over batch size), numpy in float64 from the formula; None leaves an output unweighted
    (tests/nn/test_against_keras.py runs the same against Keras itself)."""
    xa, xb, y1, y2 = _data()
    w1, w2 = np.linspace(0.2, 2.0, N), np.linspace(1.5, 0.1, N)
    model = _model()
    model.compile(optimizer="sgd", loss=["mse", "mse"], loss_weights=[2.0, 0.5])
    (k1, b1), (k2, b2) = (model.get_layer(n).get_weights() for n in ("o1", "o2"))
    p1 = np.concatenate([xa, xb], axis=1).astype(np.float64) @ k1 + b1
    p2 = xb.astype(np.float64) @ k2 + b2
    if form == "one None":
        w2 = np.ones(N)
    weights = {"list": [w1, w2], "dict": {"o1": w1, "o2": w2}, "one None": [w1, None]}[form]
    logs = model.evaluate([xa, xb], [y1, y2], sample_weight=weights, batch_size=N, return_dict=True)
    l1, l2 = np.sum(w1 * ((p1 - y1) ** 2)[:, 0]) / N, np.sum(w2 * ((p2 - y2) ** 2)[:, 0]) / N
    np.testing.assert_allclose([logs["o1_loss"], logs["o2_loss"]], [l1, l2], rtol=1e-5)
    np.testing.assert_allclose(logs["loss"], 2.0 * l1 + 0.5 * l2, rtol=1e-5)
    with pytest.raises(ValueError, match=r"output 'o2'.*one weight per sample"):
        model.evaluate([xa, xb], [y1, y2], sample_weight=[w1, w2[:-1]])
    with pytest.raises(ValueError, match="has 2 outputs"):
        model.fit([xa, xb], [y1, y2], sample_weight=[w1, w2, w2], verbose=0)


def test_predict_of_several_inputs_and_outputs_from_a_generator_with_callbacks():
    """predict on a generator of [a, b] batches (steps= as well) and with callbacks gives the
    arrays' outputs: the same rows, the same bits."""
    xa, xb, _, _ = _data()
    model = _model()
    whole = model.predict([xa, xb], batch_size=5)

    def batches():
        for start in range(0, N, 5):
            yield ([xa[start : start + 5], xb[start : start + 5]],)

    for got, want in zip(model.predict(batches()), whole):
        np.testing.assert_array_equal(got, want)
    assert [p.shape for p in model.predict(batches(), steps=2)] == [(10, 1), (10, 1)]
    seen = []

    class Outputs(dc.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            seen.append([o.shape for o in logs["outputs"]])

    model.predict({"a": xa, "b": xb}, batch_size=5, callbacks=[Outputs()])
    assert seen == [[(5, 1), (5, 1)], [(5, 1), (5, 1)], [(2, 1), (2, 1)]]
    with pytest.raises(ValueError, match="at least one batch"):
        model.predict(iter([]))


class _Twin(dc.Model):
    """The same network written as a subclassed model: x is [a | b] side by side and y
    [y1 | y2]; its train_step computes 2 * mse(o1) + 0.5 * mse(o2) by hand."""

    def __init__(self):
        super().__init__()
        self.cat = dc.layers.Concatenate()
        self.o1 = dc.layers.Dense(1)
        self.o2 = dc.layers.Dense(1)
        self.mse = dc.losses.MeanSquaredError()

    def call(self, inputs):
        return inputs

    def train_step(self, data):
        x, y = data[:2]
        a, b = dc.Tensor(np.ascontiguousarray(x[:, :3])), dc.Tensor(np.ascontiguousarray(x[:, 3:]))
        with dc.layers.learning_phase(True):
            p1, p2 = self.o1(self.cat([a, b])), self.o2(b)
        loss = self.mse(y[:, :1], p1) * 2.0 + self.mse(y[:, 1:], p2) * 0.5
        loss.backward()
        self.optimizer.apply(self.trainable_weights)
        return {"loss": float(loss.data)}


def test_a_two_input_two_output_model_trains_bitwise_as_the_subclassed_form():
    xa, xb, y1, y2 = _data()
    model = _model()
    twin = _Twin()
    twin.o1.build((None, 5))
    twin.o2.build((None, 2))
    twin.input_shape, twin.built = (None, 5), True
    twin.o1.set_weights(model.get_layer("o1").get_weights())
    twin.o2.set_weights(model.get_layer("o2").get_weights())
    twin.compile(optimizer=dc.optimizers.SGD(0.05, momentum=0.9))  # its train_step has the loss
    model.compile(
        optimizer=dc.optimizers.SGD(0.05, momentum=0.9),
        loss={"o1": dc.losses.MeanSquaredError(), "o2": dc.losses.MeanSquaredError()},
        loss_weights={"o1": 2.0, "o2": 0.5},
    )
    model.fit({"a": xa, "b": xb}, {"o1": y1, "o2": y2}, batch_size=5, epochs=3, shuffle=False, verbose=0)
    twin.fit(np.hstack([xa, xb]), np.hstack([y1, y2]), batch_size=5, epochs=3, shuffle=False, verbose=0)
    for name in ("o1", "o2"):
        for got, want in zip(model.get_layer(name).get_weights(), getattr(twin, name).get_weights()):
            np.testing.assert_array_equal(got, want)


def test_list_and_dict_forms_train_alike_and_metrics_are_named_per_output():
    xa, xb, y1, y2 = _data()
    runs = []
    for form in ("list", "dict"):
        model = _model()
        if form == "list":
            model.compile("sgd", loss="mse", metrics=["mae"])
            history = model.fit([xa, xb], [y1, y2], batch_size=4, epochs=2, verbose=0, validation_split=0.25)
        else:
            model.compile("sgd", loss={"o1": "mse", "o2": "mse"}, metrics={"o1": ["mae"], "o2": "mae"})
            history = model.fit(
                {"a": xa, "b": xb},
                {"o1": y1, "o2": y2},
                batch_size=4,
                epochs=2,
                verbose=0,
                validation_split=0.25,
            )
        runs.append((history.history, model.get_weights()))
    (h_list, w_list), (h_dict, w_dict) = runs
    names = ["loss", "o1_loss", "o2_loss", "o1_mae", "o2_mae"]
    assert list(h_list) == names + [f"val_{n}" for n in names]
    assert h_list == h_dict
    for a, b in zip(w_list, w_dict):
        np.testing.assert_array_equal(a, b)


def test_metrics_as_a_list_of_lists_and_the_flat_evaluate_order():
    xa, xb, y1, y2 = _data()
    model = _model()
    model.compile("sgd", loss=["mse", None], metrics=[None, ["mae", "mse"]])
    logs = model.evaluate([xa, xb], [y1, y2], return_dict=True)
    assert list(logs) == ["loss", "o2_mae", "o2_mse"]  # one loss: no "<output>_loss" (Keras)
    flat = model.evaluate([xa, xb], [y1, y2])
    assert flat == list(logs.values())
    p1, p2 = model.predict([xa, xb])
    np.testing.assert_allclose(logs["loss"], _mse(y1, p1), rtol=1e-5)
    np.testing.assert_allclose(logs["o2_mse"], _mse(y2, p2), rtol=1e-5)


def test_a_generator_of_lists_trains_as_the_arrays():
    xa, xb, y1, y2 = _data()

    def batches():
        for s in range(0, N, 4):
            yield [xa[s : s + 4], xb[s : s + 4]], {"o1": y1[s : s + 4], "o2": y2[s : s + 4]}

    weights = []
    for streamed in (False, True):
        model = _model()
        model.compile("sgd", loss="mse")
        if streamed:
            model.fit(batches(), epochs=1, verbose=0)
        else:
            model.fit([xa, xb], [y1, y2], batch_size=4, epochs=1, shuffle=False, verbose=0)
        weights.append(model.get_weights())
    for a, b in zip(*weights):
        np.testing.assert_array_equal(a, b)


def test_two_inputs_one_output_trains_with_a_plain_y():
    xa, xb, y1, _ = _data()
    dc.set_seed(3)
    a, b = dc.Input(shape=(3,), name="a"), dc.Input(shape=(2,), name="b")
    model = dc.Model([a, b], dc.layers.Dense(1, name="out")(dc.layers.Concatenate()([a, b])))
    model.compile("sgd", loss="mse", metrics=["mae"])
    history = model.fit([xa, xb], y1, epochs=2, verbose=0, sample_weight=np.ones(N))
    assert list(history.history) == ["loss", "mae"]
    assert model.evaluate({"a": xa, "b": xb}, y1, return_dict=True).keys() == {"loss", "mae"}


@pytest.mark.parametrize(
    "x, y, message",
    [
        ("list", {"o1": "y1"}, "lacks ['o2']"),
        ("list", ["y1"], "has 2 outputs"),
        ("short", ["y1", "y2"], "same number of samples"),
        ("list", ["y1", "y2short"], "same number of samples"),
        ({"a": "xa"}, ["y1", "y2"], "lacks ['b']"),
        ("wide", ["y1", "y2"], "input 'b'"),
    ],
)
def test_bad_input_is_a_clear_value_error_before_any_work(x, y, message):
    xa, xb, y1, y2 = _data()
    arrays = {"xa": xa, "xb": xb, "y1": y1, "y2": y2, "y2short": y2[:-1]}
    xs = {
        "list": [xa, xb],
        "short": [xa, xb[:-1]],
        "wide": [xa, np.ones((N, 4), np.float32)],
    }
    x = xs[x] if isinstance(x, str) else {k: arrays[v] for k, v in x.items()}
    y = {k: arrays[v] for k, v in y.items()} if isinstance(y, dict) else [arrays[v] for v in y]
    model = _model()
    model.compile("sgd", loss="mse")
    before = model.get_weights()
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        model.evaluate(x, y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_compile_refuses_losses_that_do_not_fit_the_outputs():
    model = _model()
    with pytest.raises(ValueError, match="not outputs of the model"):
        model.compile("sgd", loss={"o1": "mse", "o3": "mse"})
    with pytest.raises(ValueError, match="one per output"):
        model.compile("sgd", loss=["mse", "mse", "mse"])
    with pytest.raises(ValueError, match="must be a number"):
        model.compile("sgd", loss="mse", loss_weights=["a", 1.0])
    model.compile("sgd", loss="mse")
    xa, xb, y1, y2 = _data()
    with pytest.raises(ValueError, match="class_weight"):
        model.fit([xa, xb], [y1, y2], class_weight={0: 1.0}, verbose=0)


def test_a_model_with_a_loss_per_output_saves_its_compile_settings_and_trains_on_alike(tmp_path):
    """The file holds a loss, a loss weight and metrics per output and the optimizer's state:
    the loaded model logs the same evaluation and its next epoch gives the same bits as the
    original's."""
    a, b = dc.Input((3,)), dc.Input((2,))
    joined = dc.layers.Concatenate()([a, b])
    model = dc.Model([a, b], [dc.layers.Dense(1, name="y")(joined), dc.layers.Dense(2, name="z")(joined)])
    model.compile(
        "adam",
        ["mse", "mae"],
        loss_weights=[2.0, None],
        metrics=[["mae"], []],
        weighted_metrics=[[], ["mse"]],
    )
    rng = np.random.default_rng(0)
    x = [rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32)]
    y = [rng.normal(size=(8, 1)), rng.normal(size=(8, 2))]
    weights = [None, np.linspace(0.5, 1, 8)]
    model.fit(x, y, sample_weight=weights, verbose=0)
    model.save(tmp_path / "two.dc")
    loaded = dc.load_model(tmp_path / "two.dc")
    assert loaded.optimizer.iterations == model.optimizer.iterations
    evaluated = [m.evaluate(x, y, sample_weight=weights, return_dict=True) for m in (model, loaded)]
    assert evaluated[0] == evaluated[1] and list(evaluated[0]) == [
        "loss",
        "y_loss",
        "z_loss",
        "y_mae",
        "z_mse",
    ]
    for m in (model, loaded):
        dc.set_seed(3)
        m.fit(x, y, sample_weight=weights, epochs=1, verbose=0)
    for ours, theirs in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(ours, theirs)
    only_added = dc.Model(a, dc.layers.Dense(1)(a))
    only_added.compile("sgd")  # no loss: the model's own (add_loss) alone
    only_added.save(tmp_path / "none.dc")
    assert dc.load_model(tmp_path / "none.dc").loss is None
