"""Classes of the user's own in saved models, as Keras's guide "Save, serialize, and export
models" writes them: registered with register_serializable, or given in custom_objects; a
model holding them survives save and load with identical predictions (issue #26)."""

import numpy as np
import pytest

import densecore as dc
from densecore.nn import registry


class MLPBlock(dc.layers.Layer):
    """The issue's example: a custom layer holding sublayers, with its own get_config."""

    def __init__(self, units=8, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.hidden = dc.layers.Dense(units, activation="relu")
        self.out = dc.layers.Dense(units)

    def call(self, inputs):
        return self.out(self.hidden(inputs))

    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class ScaledMSE(dc.losses.Loss):
    """A loss written the Keras way: call(y_true, y_pred) returning per-sample values."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, y_true, y_pred):
        return ((y_pred - y_true) ** 2).mean(axis=-1) * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class LargeErrors(dc.metrics.Metric):
    """A metric written the Keras way: state from add_variable, update_state, result."""

    def __init__(self, limit=0.5, name="large_errors", **kwargs):
        super().__init__(name=name, **kwargs)
        self.limit = limit
        self.count_large = self.add_variable(shape=(), initializer="zeros", name="count_large")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.count_large.assign_add(np.sum(np.abs(np.asarray(y_pred) - np.asarray(y_true)) > self.limit))

    def result(self):
        return self.count_large

    def get_config(self):
        return {**super().get_config(), "limit": self.limit}


def _model():
    dc.set_seed(0)
    model = dc.Sequential([dc.layers.InputLayer(shape=(4,)), MLPBlock(6), dc.layers.Dense(1)])
    model.compile("adam", ScaledMSE(3.0), metrics=[LargeErrors(0.25)])
    x = np.random.default_rng(0).standard_normal((32, 4)).astype(np.float32)
    model.fit(x, x[:, :1], epochs=1, verbose=0)
    return model, x


def test_a_model_with_a_custom_layer_and_loss_loads_with_custom_objects(tmp_path):
    model, x = _model()
    model.save(tmp_path / "m.dc")
    with pytest.raises(ValueError, match="ScaledMSE.*custom_objects={.ScaledMSE.: ScaledMSE}"):
        dc.load_model(tmp_path / "m.dc")  # the class is named, with the way to provide it
    custom = {"MLPBlock": MLPBlock, "ScaledMSE": ScaledMSE, "LargeErrors": LargeErrors}
    loaded = dc.load_model(tmp_path / "m.dc", custom_objects=custom)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.compiled_metrics[0].limit == 0.25
    assert loaded.evaluate(x, x[:, :1], return_dict=True) == model.evaluate(x, x[:, :1], return_dict=True)
    assert isinstance(loaded.loss, ScaledMSE) and loaded.loss.factor == 3.0
    assert loaded.layers[0].units == 6 and loaded.optimizer.iterations == model.optimizer.iterations


def test_registered_classes_load_without_custom_objects(tmp_path):
    @dc.saving.register_serializable(package="tests")
    class Doubler(dc.layers.Layer):
        def call(self, inputs):
            return inputs * 2.0

    assert dc.saving.get_registered_name(Doubler) == "tests>Doubler"
    model = dc.Sequential([dc.layers.InputLayer(shape=(3,)), dc.layers.Dense(2), Doubler()])
    x = np.ones((2, 3), np.float32)
    model.save(tmp_path / "r.dc")
    np.testing.assert_array_equal(dc.load_model(tmp_path / "r.dc").predict(x), model.predict(x))
    dc.saving.register_serializable(package="tests", name="Doubler")(MLPBlock)  # replaces it, as Keras
    assert registry.lookup("tests>Doubler") is MLPBlock


def test_custom_object_scope_and_bad_custom_objects():
    with dc.saving.custom_object_scope({"MLPBlock": MLPBlock}):
        assert registry.lookup("MLPBlock") is MLPBlock
        assert registry.lookup("pkg>MLPBlock") is MLPBlock
    assert registry.lookup("MLPBlock") is None
    for bad in (["MLPBlock"], "MLPBlock"):
        with pytest.raises(TypeError, match="dict"):
            dc.load_model("nowhere.dc", custom_objects=bad)
