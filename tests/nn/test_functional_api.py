"""The functional API (issue #24): dc.Input, symbolic layer calls, dc.Model(inputs, outputs)."""

import json

import numpy as np
import pytest

import densecore as dc
from densecore.nn.graph import Graph, SymbolicTensor

Dense = dc.layers.Dense


def data(n=64, features=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, features)).astype(np.float32)
    return x, (x.sum(axis=1, keepdims=True) > 0).astype(np.float32)


def test_issue_script_trains_and_input_stays_a_sequential_entry():
    inputs = dc.Input(shape=(6,))
    assert isinstance(inputs, SymbolicTensor) and inputs.shape == (None, 6)
    x = Dense(16, activation="relu")(inputs)
    model = dc.Model(inputs=inputs, outputs=Dense(1, activation="sigmoid")(x))
    assert type(model).__name__ == "Functional" and isinstance(model, dc.Model)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    x_train, y_train = data()
    history = model.fit(x_train, y_train, epochs=3, batch_size=16, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert set(model.evaluate(x_train, y_train, verbose=0, return_dict=True)) == {"loss", "accuracy"}
    assert model.predict(x_train).shape == (64, 1)
    seq = dc.Sequential([dc.Input((6,)), Dense(2)])  # an Input still starts a Sequential
    assert seq.count_params() == 14 and seq.predict(x_train).shape == (64, 2)


class ResidualNet(dc.Model):
    def __init__(self):
        super().__init__()
        self.inner = Dense(6, activation="tanh")
        self.head = Dense(1)

    def call(self, inputs):
        return self.head(inputs + self.inner(inputs))


@pytest.mark.parametrize("use_operator", [False, True])
def test_residual_mlp_matches_the_subclassed_model(use_operator):
    dc.set_seed(3)
    inputs = dc.Input(shape=(6,))
    inner = Dense(6, activation="tanh")(inputs)
    merged = inputs + inner if use_operator else dc.layers.Add()([inputs, inner])
    functional = dc.Model(inputs, Dense(1)(merged))
    subclassed = ResidualNet()
    subclassed.build((None, 6))
    subclassed.set_weights(functional.get_weights())
    x, y = data()
    for model in (functional, subclassed):
        model.compile(optimizer="sgd", loss="mse")
    outs, grads = [], []
    for model in (functional, subclassed):
        xt = dc.Tensor(x, requires_grad=True)
        out = model(xt)
        ((out - y) * (out - y)).mean().backward()
        outs.append(out.numpy())
        grads.append([xt.grad] + [w.grad for w in model.weights])
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    for model in (functional, subclassed):
        for w in model.weights:
            w.zero_grad()
        model.fit(x, y, epochs=2, batch_size=16, shuffle=False, verbose=0)
    for a, b in zip(functional.get_weights(), subclassed.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_shared_layer_two_branches_one_set_of_weights():
    a, b = dc.Input(shape=(3,), name="a"), dc.Input(shape=(3,), name="b")
    shared = Dense(2, name="shared")
    model = dc.Model([a, b], dc.layers.Subtract()([shared(a), shared(b)]))
    assert [layer.name for layer in model.layers].count("shared") == 1 and model.count_params() == 8
    x = np.ones((4, 3), np.float32)
    np.testing.assert_allclose(model.predict([x, x]), np.zeros((4, 2)), atol=1e-6)
    lines = []
    model.summary(print_fn=lines.append)
    assert (
        "Connected to" in lines[0]
        and "a[0][0], b[0][0]" in lines[0]
        and "shared[0][0], shared[1][0]" in lines[0]
    )


def test_several_inputs_and_outputs_predict_as_list_and_dict():
    a, b = dc.Input(shape=(3,), name="a"), dc.Input(shape=(2,), name="b")
    joined = dc.layers.Concatenate()([a, b])
    model = dc.Model({"a": a, "b": b}, {"y": Dense(1)(joined), "z": Dense(4)(joined)})
    xa, xb = np.ones((5, 3), np.float32), np.ones((5, 2), np.float32)
    out = model.predict({"a": xa, "b": xb}, batch_size=2)
    assert set(out) == {"y", "z"} and out["y"].shape == (5, 1) and out["z"].shape == (5, 4)
    listed = dc.Model([a, b], [model.output["y"], model.output["z"]]).predict([xa, xb])
    np.testing.assert_allclose(listed[1], out["z"], rtol=1e-6)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match="has 2 outputs"):  # one target for two outputs
        model.fit([xa, xb], np.ones((5, 1)))
    with pytest.raises(ValueError, match="expects shape"):
        model.predict({"a": xa, "b": xa})


def test_configs_json_and_clone_for_functional_sequential_and_subclassed():
    inputs = dc.Input(shape=(4,))
    hidden = Dense(5, activation="relu")(inputs)
    model = dc.Model(inputs, Dense(2)(dc.layers.Concatenate()([hidden, inputs])), name="net")
    config = model.get_config()
    assert config["input_layers"][0] == config["layers"][0]["name"]
    assert config["layers"][-1]["inbound_nodes"][0]["args"][0][0] == config["layers"][-2]["name"]
    json.dumps(config)
    x = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    for make in (
        lambda: dc.Model.from_config(config),
        lambda: dc.models.model_from_json(model.to_json()),
        lambda: dc.models.clone_model(model),
    ):
        again = make()
        assert type(again).__name__ == "Functional" and again.get_config()["layers"][-1]["inbound_nodes"]
        assert [w.shape for w in again.get_weights()] == [w.shape for w in model.get_weights()]
        again.set_weights(model.get_weights())
        np.testing.assert_allclose(again.predict(x), model.predict(x), rtol=1e-6)
    fresh = dc.models.clone_model(model)
    assert not np.array_equal(fresh.get_weights()[0], model.get_weights()[0])  # fresh, as Keras
    seq = dc.Sequential([dc.Input((4,)), Dense(3), Dense(1)])
    assert dc.models.clone_model(seq).count_params() == seq.count_params()
    assert dc.models.model_from_json(seq.to_json()).output_shape == (None, 1)
    sub = ResidualNet()
    sub.build((None, 6))
    twin = dc.models.clone_model(sub)
    assert type(twin) is ResidualNet and twin.count_params() == sub.count_params()


def test_transfer_learning_the_articles_way():
    base = dc.Sequential([dc.Input((6,)), Dense(8, activation="relu"), Dense(4, activation="relu"), Dense(1)])
    base.compile(optimizer="adam", loss="mse")
    x, y = data()
    base.fit(x, y, epochs=1, verbose=0)
    features = base.layers[-2].output
    assert features is base.get_layer(base.layers[-2].name).output and features.shape == (None, 4)
    base.trainable = False
    head = Dense(1, activation="sigmoid", name="new_head")(features)
    model = dc.Model(inputs=base.input, outputs=head)
    before = base.get_weights()
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(x, y, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(before, base.get_weights()))
    assert len(model.trainable_weights) == 2
    functional_base = dc.Model(base.input, base.output)
    np.testing.assert_allclose(functional_base.predict(x), base.predict(x), rtol=1e-6)


def test_bad_graphs_are_refused_naming_the_layer():
    a, b = dc.Input(shape=(3,), name="a"), dc.Input(shape=(3,), name="b")
    out = Dense(1)(a)
    with pytest.raises(ValueError, match="'b' is not connected to the outputs"):
        dc.Model([a, b], out)
    with pytest.raises(ValueError, match="Input 'a', which is not in the model's inputs"):
        dc.Model(b, dc.layers.Add()([a, b]))
    with pytest.raises(ValueError, match="inputs must come from dc.Input"):
        dc.Model(out, Dense(1)(out))
    with pytest.raises(ValueError, match="Add 'bad_merge': Inputs have incompatible shapes"):
        dc.layers.Add(name="bad_merge")([a, Dense(2)(a)])
    dense = Dense(2, name="narrow")
    dense(a)
    with pytest.raises(ValueError, match="Dense 'narrow' was built for inputs of shape"):
        dense(dc.Input(shape=(5,)))
    graph = Graph([a], [out])
    node = out.node
    node.inputs.append(out)  # a cycle, made by hand
    with pytest.raises(ValueError, match="cycle"):
        Graph([a], [out])
    node.inputs.pop()
    assert graph.layers[1] is out.node.layer


def test_model_call_clears_added_losses_once_per_outermost_call():
    class Penalised(dc.layers.Layer):
        def call(self, inputs):
            self.add_loss((inputs * inputs).sum())
            return inputs

    inputs = dc.Input(shape=(2,))
    model = dc.Model(inputs, Dense(1)(Penalised()(inputs)))
    for _ in range(3):
        model(np.ones((1, 2), np.float32))
    assert len(model.losses) == 1


def test_compress_and_quantize_functional_models():
    dc.set_seed(0)
    inputs = dc.Input(shape=(6,))
    h1 = Dense(16, activation="relu", name="h1")(inputs)
    h2 = Dense(16, activation="relu", name="h2")(h1)
    out = Dense(1, name="out")(dc.layers.Add()([h1, h2]))
    model = dc.Model(inputs, out)
    x, _ = data()
    small = dc.compress.low_rank(model, rank=2, layers=["h1", "h2"], verbose=0)
    assert small.predict(x).shape == (64, 1) and any(
        type(la).__name__ == "LowRankDense" for la in small.layers
    )
    assert model.get_layer("h1").__class__ is Dense  # the original is untouched
    with pytest.raises(ValueError, match="'h1' feeds no single Dense"):
        dc.compress.prune_units(model, keep=8, layers=["h1"], verbose=0)
    chain_in = dc.Input(shape=(6,))
    chain = dc.Model(chain_in, Dense(1)(dc.layers.Dropout(0.1)(Dense(16, name="p")(chain_in))))
    pruned = dc.compress.prune_units(chain, keep=4, layers=["p"], verbose=0)
    assert pruned.get_layer("p").units == 4 and pruned.predict(x).shape == (64, 1)
    assert pruned.layers[-1].kernel.shape == (4, 1)
    quantized = dc.quantize(model)
    np.testing.assert_allclose(quantized.predict(x), model.predict(x), atol=0.1)


def test_functional_models_save_and_load_with_identical_predictions(tmp_path):
    """The graph travels in the file's config (Keras's form), for one input and for several;
    the optimizer's state too."""
    dc.set_seed(0)
    inputs = dc.Input(shape=(3,))
    hidden = dc.layers.Dense(4, activation="relu")(inputs)
    outputs = dc.layers.Dense(1)(dc.layers.Add()([hidden, dc.layers.Dense(4)(inputs)]))
    model = dc.Model(inputs, outputs)
    model.compile("adam", "mse")
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    model.fit(x, x[:, :1], verbose=0)
    model.save(tmp_path / "f.dc")
    loaded = dc.load_model(tmp_path / "f.dc")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.iterations == model.optimizer.iterations
    a, b = dc.Input((3,)), dc.Input((2,))
    two = dc.Model([a, b], dc.layers.Dense(1)(dc.layers.Concatenate()([a, b])))
    two.save(tmp_path / "two.dc")
    pair = [x, x[:, :2]]
    np.testing.assert_array_equal(dc.load_model(tmp_path / "two.dc").predict(pair), two.predict(pair))


class _Gate(dc.layers.Layer):
    """A user's layer called on two tensors, `gate(x, g)`: x * sigmoid(g W) with its own
    weight, and no compute_output_shape (its output's width is traced, as Keras traces it)."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, x_shape, g_shape):
        self.w = self.add_weight(shape=(g_shape[-1], self.units), initializer="ones", name="w")

    def call(self, x, g):
        return x[:, : self.units] * dc.functional.sigmoid(g @ self.w)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def test_a_layer_called_on_two_tensors_records_both_and_saves(tmp_path, capsys):
    """`layer(a, b)` in a functional graph (Keras's custom layers of several inputs): build gets
    both shapes, the output shape is traced (5 → 2 columns), predict matches the formula in
    numpy float64, and the graph (the call's form included) survives save/load and clone."""
    a, g = dc.Input((5,), name="a"), dc.Input((3,), name="g")
    gate = _Gate(2, name="gate")
    out = gate(a, g)
    assert out.shape == (None, 2) and gate.w.shape == (3, 2)
    dc.Model([a, g], out).summary()
    assert "a[0][0], g[0][0]" in next(line for line in capsys.readouterr().out.splitlines() if "gate" in line)
    model = dc.Model([a, g], dc.layers.Dense(1, name="head")(out))
    rng = np.random.default_rng(0)
    xa, xg = rng.standard_normal((6, 5)).astype(np.float32), rng.standard_normal((6, 3)).astype(np.float32)
    gate.set_weights([rng.standard_normal((3, 2)).astype(np.float32)])
    (w,), (k, b) = gate.get_weights(), model.get_layer("head").get_weights()
    expected = (xa[:, :2] / (1 + np.exp(-(xg.astype(np.float64) @ w)))) @ k + b
    np.testing.assert_allclose(model.predict([xa, xg]), expected, rtol=1e-5)
    assert gate.w.data.tolist() == w.tolist()  # the trace left the weights as they were
    assert model.get_config()["layers"][2]["inbound_nodes"][0]["form"] == "args"
    model.save(tmp_path / "gate.dc")
    loaded = dc.load_model(tmp_path / "gate.dc", custom_objects={"_Gate": _Gate})
    np.testing.assert_array_equal(loaded.predict([xa, xg]), model.predict([xa, xg]))
    assert dc.models.clone_model(model).predict([xa, xg]).shape == (6, 1)
    with pytest.raises(TypeError, match=r"_Gate 'gate2'.*symbolic tensors only"):
        _Gate(2, name="gate2")(a, xg)


def test_a_user_layer_that_returns_no_tensor_is_refused_naming_it():
    class Pair(dc.layers.Layer):
        def call(self, x):
            return x, x

    with pytest.raises(TypeError, match="Pair 'pair'.*returns one tensor"):
        Pair(name="pair")(dc.Input((3,)))
