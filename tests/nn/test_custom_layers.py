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
