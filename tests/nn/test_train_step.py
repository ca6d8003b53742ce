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


# ---- train_step / test_step / predict_step / compute_loss ----------------------------------
class _ExampleModel(dc.Model):
    """Keras trainer_test's ExampleModel: Dense(units, use_bias=False, kernel ones)."""

    def __init__(self, units=3):
        super().__init__()
        self.dense = dc.layers.Dense(units, use_bias=False, kernel_initializer="ones")

    def call(self, x):
        return self.dense(x)


class _CustomTrainTestStepModel(_ExampleModel):
    """Keras trainer_test's CustomTrainTestStepModel."""

    def train_step(self, data):
        logs = super().train_step(data)
        logs["my_custom_metric"] = 10.0
        return logs

    def test_step(self, data):
        logs = super().test_step(data)
        logs["my_custom_metric"] = 5.0
        return logs


def _compiled(model):
    model.compile(
        optimizer=dc.optimizers.SGD(),
        loss=dc.losses.MeanSquaredError(),
        metrics=[dc.metrics.MeanSquaredError()],
    )
    return model


def test_fit_with_custom_train_step_keras():
    model = _compiled(_CustomTrainTestStepModel(units=3))
    history = model.fit(np.ones((100, 4)), np.zeros((100, 3)), batch_size=16, verbose=0).history
    assert "loss" in history and "mean_squared_error" in history
    np.testing.assert_allclose(history["my_custom_metric"], 10.0)


@pytest.mark.parametrize("return_dict", [False, True])
def test_evaluate_with_custom_test_step_keras(return_dict):
    model = _compiled(_CustomTrainTestStepModel(units=3))
    output = model.evaluate(np.ones((100, 4)), np.zeros((100, 3)), batch_size=16, return_dict=return_dict)
    assert len(output) == 3
    np.testing.assert_allclose(output["my_custom_metric"] if return_dict else output[-1], 5.0)
    np.testing.assert_allclose(output["loss"] if return_dict else output[0], 16.0)  # evaluate_flow's


def test_evaluate_with_custom_compute_loss_keras():
    class MyModel(dc.Model):
        def __init__(self):
            super().__init__()
            self.custom_metric = dc.metrics.Mean(name="custom")
            self.dense = dc.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

        def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
            assert not training
            loss = super().compute_loss(x, y, y_pred, sample_weight, training)
            self.custom_metric.update_state(float(loss.item()) * 4)
            return loss

    model = MyModel()
    model.compile(optimizer="sgd", loss="mse")
    logs = model.evaluate(np.ones((32, 4)), np.ones((32, 2)) * 2, return_dict=True)
    np.testing.assert_allclose(model.custom_metric.result(), logs["loss"] * 4, rtol=1e-6)


def test_metrics_property_lists_the_loss_tracker_then_the_compiled_metrics():
    model = _ExampleModel()
    assert model.metrics == []
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    assert [m.name for m in model.metrics] == ["loss", "mae"] == model.metrics_names
    assert model.compiled_loss is not None
    x, y = np.ones((4, 4), np.float32), np.zeros((4, 3), np.float32)
    np.testing.assert_allclose(model.compiled_loss(y, model(x)).item(), 16.0)


def _functional(cls=None, seed=5):
    dc.set_seed(seed)
    inputs = dc.Input(shape=(4,))
    hidden = dc.layers.Dense(6, activation="relu")(inputs)
    outputs = dc.layers.Dense(1)(dc.layers.Dropout(0.25)(hidden))
    return (cls or dc.Model)(inputs, outputs)


class _SameAsFit(dc.Model):
    """A train_step doing what fit's built-in step does, with the engine's autograd."""

    def train_step(self, data):
        x, y, sample_weight = data if len(data) == 3 else (*data, None)
        y_pred = self(x, training=True)
        loss = self.compute_loss(x, y, y_pred, sample_weight)
        for w in self.trainable_weights:
            w.zero_grad()
        loss.backward()
        self.optimizer.apply([w.grad for w in self.trainable_weights], self.trainable_weights)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss, sample_weight=len(x))
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


@pytest.mark.parametrize("weighted", [False, True])
def test_custom_train_step_doing_the_same_equals_the_built_in_fit_bitwise(weighted):
    x, y = _data(n=50)
    sw = np.linspace(0.5, 1.5, len(x)) if weighted else None
    runs = []
    for cls in (None, _SameAsFit):
        model = _functional(cls)
        model.compile(optimizer="adam", loss="mse", metrics=["mae"])
        dc.set_seed(11)
        history = model.fit(x, y, batch_size=16, epochs=3, sample_weight=sw, verbose=0)
        runs.append((model.get_weights(), history.history))
    assert type(_functional(_SameAsFit)).__name__ == "_SameAsFit"
    (w0, h0), (w1, h1) = runs
    assert all(np.array_equal(a, b) for a, b in zip(w0, w1))
    assert h0.keys() == h1.keys() == {"loss", "mae"}
    np.testing.assert_allclose(h0["mae"], h1["mae"], rtol=1e-12)
    np.testing.assert_allclose(h0["loss"], h1["loss"], rtol=1e-6)


def test_subclass_called_with_inputs_and_outputs_is_functional_of_that_class():
    model = _functional(_SameAsFit)
    assert isinstance(model, _SameAsFit) and isinstance(model, dc.models.Functional)
    assert type(model).__name__ == "_SameAsFit"
    assert type(_SameAsFit()) is _SameAsFit  # the class itself is left as it is
    clone = dc.models.clone_model(model)
    assert isinstance(clone, _SameAsFit) and clone.count_params() == model.count_params()
    with pytest.raises(TypeError, match="Model.__init__ takes inputs and outputs"):
        _SameAsFit(3, 4)


def test_predict_step_override():
    class Doubled(dc.Model):
        def predict_step(self, data):
            (x,) = data
            return self(x, training=False).numpy() * 2

    model = _functional(Doubled)
    plain = dc.Model(model.inputs, model.outputs)
    x = _data()[0]
    np.testing.assert_array_equal(model.predict(x, batch_size=7), plain.predict(x, batch_size=7) * 2)


def test_train_step_must_return_a_dict():
    class Bad(_ExampleModel):
        def train_step(self, data):
            return 1.0

    model = _compiled(Bad())
    with pytest.raises(TypeError, match="train_step must return a dict"):
        model.fit(np.ones((4, 4)), np.zeros((4, 3)), verbose=0)


def test_train_on_batch_uses_the_train_step_override():
    model = _compiled(_CustomTrainTestStepModel())
    logs = model.train_on_batch(np.ones((16, 4)), np.zeros((16, 3)), return_dict=True)
    np.testing.assert_allclose(logs["loss"], 16.0)
    assert logs["my_custom_metric"] == 10.0
