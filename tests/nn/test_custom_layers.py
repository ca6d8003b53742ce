"""Custom metrics, losses, layers and weights written as Keras's guides and tests write them
(issue #26); the numbers are Keras's where its tests give them."""

import copy

import numpy as np
import pytest

import densecore as dc
from densecore.nn import metrics


# ---- keras/src/metrics/metric_test.py ------------------------------------------------------
class ExampleMetric(metrics.Metric):
    """metric_test.py's ExampleMetric as Keras writes it: state from add_variable in __init__,
    a reset_state that assigns to it."""

    def __init__(self, name="mean_square_error", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.sum = self.add_variable(name="sum", shape=(), initializer="zeros")
        self.total = self.add_variable(name="total", shape=(), initializer="zeros", dtype="int32")

    def update_state(self, y_true, y_pred):
        total = np.sum((np.asarray(y_true) - np.asarray(y_pred)) ** 2)
        self.sum.assign(self.sum + total)
        self.total.assign(self.total + np.shape(y_true)[0])

    def result(self):
        return self.sum / (self.total + 1e-7)

    def reset_state(self):
        self.sum.assign(0)
        self.total.assign(0)


def test_metric_with_add_variable_state_end_to_end():
    # keras/src/metrics/metric_test.py::MetricTest::test_end_to_end_flow
    metric = ExampleMetric(name="mse")
    assert metric.name == "mse" and len(metric.variables) == 2
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.random((20, 3)), rng.random((20, 3))
    for b in range(0, 20 // 8 + 1):
        metric.update_state(y_true[b * 8 : (b + 1) * 8], y_pred[b * 8 : (b + 1) * 8])
    np.testing.assert_allclose(np.asarray(metric.total), 20)
    np.testing.assert_allclose(metric.result(), np.sum((y_true - y_pred) ** 2) / 20, rtol=1e-6)
    metric.reset_state()
    assert metric.result() == 0.0


def test_metric_variables_are_in_variable_names_and_keep_their_identity():
    # fit sums each metric's `variable_names` across ranks and sets the sums back with
    # setattr: an add_variable Variable is named there and takes the value in place
    metric = ExampleMetric()
    assert set(metric.variable_names) == {"sum", "total"}
    variable = metric.sum
    metric.sum = np.float64(3.5)  # what fit does with setattr
    assert metric.sum is variable and float(metric.sum) == 3.5
    assert dc.metrics.Mean().variable_names == ("total", "count")
    assert dc.metrics.AUC().variable_names == type(dc.metrics.AUC()).variable_names


def test_a_copied_metric_counts_on_its_own():
    # compile's weighted_metrics are copies: their Variables must not be shared
    metric = ExampleMetric()
    twin = copy.copy(metric)
    twin.update_state([[1.0]], [[0.0]])
    assert float(metric.total) == 0 and float(twin.total) == 1


def test_a_metric_state_made_in_reset_state_still_works():
    # densecore's own pattern: plain attributes named in variable_names, made by reset_state
    class SumAndCount(metrics.Metric):
        variable_names = ("sum", "n")

        def reset_state(self):
            self.sum, self.n = 0.0, 0

        def update_state(self, y_true, y_pred):
            self.sum += float(np.sum(y_pred))
            self.n += len(y_pred)

        def result(self):
            return self.sum / self.n if self.n else 0.0

    metric = SumAndCount()
    assert metric.variable_names == ("sum", "n") and len(metric.variables) == 2
    assert metric([0, 0], [1.0, 3.0]) == 2.0


def test_custom_metric_trains_with_fit():
    class CountPositives(metrics.Metric):
        def __init__(self, name="positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.positives = self.add_variable(shape=(), name="positives", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            self.positives.assign_add(np.sum(np.asarray(y_pred) > -np.inf))

        def result(self):
            return self.positives

        def reset_state(self):
            self.positives.assign(0.0)

    model = dc.Sequential([dc.layers.Dense(1, input_shape=(3,))])
    model.compile(optimizer="sgd", loss="mse", metrics=[CountPositives()])
    x = np.ones((10, 3), np.float32)
    history = model.fit(x, np.zeros((10, 1), np.float32), batch_size=5, epochs=2, verbose=0)
    assert history.history["positives"] == [10.0, 10.0]


def test_add_variable_bad_initializer_is_named():
    class Bad(metrics.Metric):
        def __init__(self):
            super().__init__()
            self.v = self.add_variable(shape=(), initializer="glorot_uniform", name="v")

    with pytest.raises(ValueError, match="Bad.add_variable: initializer"):
        Bad()


# ---- plain loss functions (keras/src/losses/losses_test.py's MeanSquaredError numbers) -----
Y_TRUE = np.array([[1, 9, 2], [-5, -2, 6]], np.float32)
Y_PRED = np.array([[4, 8, 12], [8, 1, 3]], np.float32)


def per_sample_mse(y_true, y_pred):
    return ((y_true - y_pred) ** 2).mean(axis=-1)


def scalar_mse(y_true, y_pred):
    return ((y_true - y_pred) ** 2).mean()


def test_get_wraps_a_function_of_yours_in_loss_function_wrapper():
    loss = dc.losses.get(per_sample_mse)
    assert isinstance(loss, dc.losses.LossFunctionWrapper) and loss.reduction == "sum_over_batch_size"
    assert loss.name == "per_sample_mse"
    assert loss(Y_TRUE, Y_PRED).item() == pytest.approx(49.5)
    assert loss(Y_TRUE, Y_PRED, sample_weight=2.3).item() == pytest.approx(113.85, rel=1e-6)
    assert loss(Y_TRUE, Y_PRED, sample_weight=np.array([[1.2], [3.4]])).item() == pytest.approx(767.8 / 6)
    assert loss(Y_TRUE, Y_PRED, sample_weight=0).item() == 0.0
    assert dc.losses.get(scalar_mse)(Y_TRUE, Y_PRED).item() == pytest.approx(49.5)
    # densecore's own functions still give their classes
    assert isinstance(dc.losses.get(dc.losses.mean_squared_error), dc.losses.MeanSquaredError)


def test_a_function_taking_sample_weight_is_used_as_it_is():
    def weighted(y_true, y_pred, sample_weight=None):
        return scalar_mse(y_true, y_pred)

    assert dc.losses.get(weighted) is weighted


@pytest.mark.parametrize("fn", [per_sample_mse, scalar_mse])
def test_a_plain_loss_function_trains_saves_and_loads(tmp_path, fn):
    rng = np.random.default_rng(0)
    x = rng.random((64, 4)).astype(np.float32)
    y = x[:, :2] * 2.0
    dc.set_seed(0)
    model = dc.Sequential([dc.layers.Dense(2, input_shape=(4,))])
    model.compile(optimizer=dc.optimizers.Adam(0.05), loss=fn)
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0).history["loss"]
    assert history[-1] < history[0]
    model.save(tmp_path / "m.dc")
    with pytest.raises(ValueError, match=f"unknown loss function '{fn.__name__}'.*custom_objects"):
        dc.load_model(tmp_path / "m.dc")
    loaded = dc.load_model(tmp_path / "m.dc", custom_objects={fn.__name__: fn})
    assert loaded.loss.fn is fn
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))
    assert dc.load_model(tmp_path / "m.dc", compile=False).count_params() == model.count_params()


def test_a_registered_loss_function_loads_without_custom_objects(tmp_path):
    @dc.saving.register_serializable(package="test_custom_layers")
    def registered_mse(y_true, y_pred):
        return ((y_true - y_pred) ** 2).mean(axis=-1)

    model = dc.Sequential([dc.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss=registered_mse)
    assert model.loss.get_config()["fn"] == "test_custom_layers>registered_mse"
    model.save(tmp_path / "m.dc")
    assert dc.load_model(tmp_path / "m.dc").loss.fn is registered_mse


def test_a_lambda_loss_saves_and_its_load_says_why_it_cannot_compile(tmp_path):
    model = dc.Sequential([dc.layers.Dense(1, input_shape=(2,))])
    model.compile(optimizer="sgd", loss=lambda y_true, y_pred: ((y_true - y_pred) ** 2).mean(axis=-1))
    model.save(tmp_path / "m.dc")
    with pytest.raises(ValueError, match="a lambda is saved without its code"):
        dc.load_model(tmp_path / "m.dc")
    assert dc.load_model(tmp_path / "m.dc", compile=False).count_params() == 3


# ---- Tensor.assign / assign_add / assign_sub (keras/src/backend/common/variables_test.py) ----
def test_tensor_assign_methods_change_the_values_in_place():
    v = dc.Tensor(np.array([1.0, 2.0, 3.0], np.float32))
    data = v.data
    assert v.assign(np.array([4.0, 5.0, 6.0])) is v
    np.testing.assert_array_equal(v.numpy(), [4.0, 5.0, 6.0])
    v.assign_add(np.array([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(v.numpy(), [5.0, 6.0, 7.0])
    v.assign_sub(dc.Tensor([1.0, 1.0, 1.0]))
    np.testing.assert_array_equal(v.numpy(), [4.0, 5.0, 6.0])
    assert v.data is data and v.dtype == np.float32  # the same array, its dtype kept
    v.assign_add(1.0)  # broadcast, as ops.add
    np.testing.assert_array_equal(v.numpy(), [5.0, 6.0, 7.0])
    with pytest.raises(ValueError, match=r"shape of the target \(\(3,\)\) and of the value \(\(2,\)\)"):
        v.assign([1.0, 2.0])


def test_a_layer_non_trainable_weight_counts_with_assign_add():
    class ComputeSum(dc.layers.Layer):
        def __init__(self, input_dim):
            super().__init__()
            self.total = self.add_weight(initializer="zeros", shape=(input_dim,), trainable=False)

        def call(self, inputs):
            self.total.assign_add(inputs.sum(axis=0))
            return self.total

    layer = ComputeSum(2)
    x = dc.Tensor(np.ones((2, 2)))
    np.testing.assert_array_equal(layer(x).numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(layer(x).numpy(), [4.0, 4.0])
    assert layer.trainable_weights == [] and len(layer.non_trainable_weights) == 1


# ---- Keras's lowercase regularizer names (keras/api/regularizers/__init__.py) ---------------
def test_lowercase_regularizers_are_keras_classes():
    assert dc.regularizers.l1 is dc.regularizers.L1 and dc.regularizers.l2 is dc.regularizers.L2
    assert dc.regularizers.l1_l2 is dc.regularizers.L1L2
    # keras/src/regularizers/regularizers_test.py::test_l1_l2_get_config numbers
    reg = dc.regularizers.l1_l2(l1=0.1, l2=0.2)
    assert reg.get_config() == {"l1": 0.1, "l2": 0.2}
    x = dc.Tensor(np.ones((2, 2), np.float32))
    assert dc.regularizers.l2(1e-3)(x).item() == pytest.approx(4e-3)
    assert dc.regularizers.l1()(x).item() == pytest.approx(0.04)


# ---- Layer.__call__: nested inputs, extra arguments (keras/src/layers/layer_test.py) --------
class AddPair(dc.layers.Layer):
    def build(self, input_shape):
        self.seen_shape = input_shape

    def call(self, inputs):
        a, (b, c) = inputs
        return a + b * c


def test_a_nested_tuple_of_tensors_reaches_call_and_build_as_it_was_given():
    layer = AddPair()
    out = layer((np.ones((2, 3), np.float32), (dc.Tensor(np.full((2, 3), 2.0)), np.full((2, 3), 3.0))))
    np.testing.assert_array_equal(out.numpy(), np.full((2, 3), 7.0))
    assert layer.seen_shape == ((None, 3), ((None, 3), (None, 3)))
    # one array written as nested lists stays one Tensor
    assert dc.layers.Dense(1, kernel_initializer="ones")([[1.0, 2.0]]).numpy().tolist() == [[3.0]]


def test_extra_positional_and_keyword_arguments_go_to_call():
    # layer_test.py::test_training_arg_value_resolution's pattern: layer(x, mask, training=...)
    class Masked(dc.layers.Layer):
        def call(self, inputs, mask=None, scale=1.0, training=None):
            out = inputs * scale
            if mask is not None:
                out = out * dc.Tensor(np.asarray(mask, np.float32))
            return out * (2.0 if training else 1.0)

    layer = Masked()
    x = np.ones((1, 3), np.float32)
    np.testing.assert_array_equal(layer(x, [[1, 0, 1]], scale=3.0).numpy(), [[3.0, 0.0, 3.0]])
    np.testing.assert_array_equal(layer(x, [[1, 0, 1]], training=True).numpy(), [[2.0, 0.0, 2.0]])
    np.testing.assert_array_equal(layer(x, mask=None, training=False).numpy(), [[1.0, 1.0, 1.0]])

    class NoTraining(dc.layers.Layer):
        def call(self, inputs, scale):
            return inputs * scale

    np.testing.assert_array_equal(NoTraining()(x, 4.0, training=True).numpy(), [[4.0, 4.0, 4.0]])


def test_symbolic_call_with_extra_arguments_is_refused_clearly():
    inputs = dc.Input(shape=(3,))
    with pytest.raises(TypeError, match=r"Dense 'd'.*symbolic tensors.*further arguments scale"):
        dc.layers.Dense(2, name="d")(inputs, scale=2.0)
    # the plain symbolic call still records a node
    assert dc.layers.Dense(2)(inputs).shape == (None, 2)


# ---- ModelCheckpoint(save_freq=int) (keras/src/callbacks/model_checkpoint_test.py) ---------
def _checkpoint_model():
    dc.set_seed(0)
    model = dc.Sequential([dc.Input((4,)), dc.layers.Dense(5, activation="relu"), dc.layers.Dense(2)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    return model, rng.random((30, 4)).astype(np.float32), rng.random((30, 2)).astype(np.float32)


@pytest.mark.parametrize("weights_only", [False, True])
def test_model_checkpoint_integer_save_freq_counts_batches_across_epochs(tmp_path, weights_only):
    # Case 8a/8b: 30 samples, batch_size 6: 5 batches an epoch, save_freq=15 saves every 3 epochs
    model, x, y = _checkpoint_model()
    filepath = str(tmp_path / "checkpoint.epoch{epoch:02d}.dc")
    cb = dc.callbacks.ModelCheckpoint(filepath, save_freq=15, save_weights_only=weights_only)
    model.fit(x, y, batch_size=6, validation_data=(x, y), callbacks=[cb], epochs=10, verbose=0)
    saved = [epoch for epoch in range(1, 11) if (tmp_path / f"checkpoint.epoch{epoch:02d}.dc").exists()]
    assert saved == [3, 6, 9]


def test_model_checkpoint_save_freq_names_the_batch(tmp_path):
    # Case 10a: batch_size 15, save_freq=1: epoch{e}batch{b} for b in 1, 2
    model, x, y = _checkpoint_model()
    filepath = str(tmp_path / "checkpoint.epoch{epoch:02d}batch{batch:02d}.dc")
    cb = dc.callbacks.ModelCheckpoint(filepath, save_freq=1)
    model.fit(x, y, batch_size=15, callbacks=[cb], epochs=5, verbose=0)
    for epoch in range(1, 6):
        for batch in (1, 2):
            assert (tmp_path / f"checkpoint.epoch{epoch:02d}batch{batch:02d}.dc").exists()
    loaded = dc.load_model(tmp_path / "checkpoint.epoch05batch02.dc")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_model_checkpoint_save_freq_is_checked():
    # Case 9
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        dc.callbacks.ModelCheckpoint("m.dc", save_freq="invalid_save_freq")
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        dc.callbacks.ModelCheckpoint("m.dc", save_freq=0)
    assert dc.callbacks.ModelCheckpoint("m.dc", save_freq="epoch").save_freq == "epoch"
    assert dc.callbacks.ModelCheckpoint("m.dc", save_freq=3).save_freq == 3
