"""Metrics against Keras 3 as the oracle: the inputs, arguments and expected numbers of Keras's
own tests (keras-team/keras, keras/src/metrics/*_test.py), carried over as data, each test
naming the Keras test it comes from, with Keras's tolerances (assertAlmostEqual: 3 decimals
unless given; assertAllClose: atol = rtol = 1e-6 unless given).

Left out: R2Score, the IoU metrics, SensitivityAtSpecificity, SpecificityAtSensitivity,
PrecisionAtRecall, RecallAtPrecision and the correlation metrics (densecore does not have
them); Keras's symbolic-shape, stateless and variable-tracking tests (densecore's state is
numpy arrays); dtypes as DTypePolicy objects.
"""

import json
import pickle

import numpy as np
import pytest

import densecore as dc
from densecore import metrics


def almost_equal(actual, desired, decimal=3):
    """Keras's assertAlmostEqual."""
    np.testing.assert_almost_equal(actual, desired, decimal=decimal)


def all_close(actual, desired, atol=1e-6, rtol=1e-6):
    """Keras's assertAllClose."""
    np.testing.assert_allclose(actual, desired, atol=atol, rtol=rtol)


def round_trip(metric):
    """Keras's run_class_serialization_test and its from_config checks, for what densecore
    saves: get_config, through JSON (as model.save writes it), gives the same config back."""
    config = metric.get_config()
    again = type(metric).from_config(json.loads(json.dumps(config)))
    assert again.get_config() == config
    assert metrics.get({"class_name": type(metric).__name__, "config": config}).get_config() == config
    return again


# ---- keras/src/metrics/accuracy_metrics_test.py ---------------------------------------------
ACCURACY_CONFIGS = [
    # keras/src/metrics/accuracy_metrics_test.py::{Accuracy,BinaryAccuracy,CategoricalAccuracy,
    # SparseCategoricalAccuracy,TopKCategoricalAccuracy,SparseTopKCategoricalAccuracy}Test::
    # test_config (and SparseTopKCategoricalAccuracyTest::test_config_from_sorted_ids)
    (metrics.Accuracy, {"name": "accuracy", "dtype": "float32"}),
    (metrics.BinaryAccuracy, {"name": "binary_accuracy", "dtype": "float32"}),
    (metrics.CategoricalAccuracy, {"name": "categorical_accuracy", "dtype": "float32"}),
    (metrics.SparseCategoricalAccuracy, {"name": "sparse_categorical_accuracy", "dtype": "float32"}),
    (metrics.TopKCategoricalAccuracy, {"k": 1, "name": "top_k_categorical_accuracy", "dtype": "float32"}),
    (
        metrics.SparseTopKCategoricalAccuracy,
        {"k": 1, "name": "sparse_top_k_categorical_accuracy", "dtype": "float32"},
    ),
    (
        metrics.SparseTopKCategoricalAccuracy,
        {"k": 1, "name": "sparse_top_k_categorical_accuracy", "dtype": "float32", "from_sorted_ids": True},
    ),
]


@pytest.mark.parametrize("cls, arguments", ACCURACY_CONFIGS, ids=lambda v: getattr(v, "__name__", ""))
def test_accuracy_config(cls, arguments):
    metric = cls(**arguments)
    assert metric.name == arguments["name"] and len(metric.variables) == 2 and metric.dtype == "float32"
    config = metric.get_config()
    assert config["name"] == arguments["name"] and config["dtype"] == "float32"
    again = round_trip(metric)
    assert again.name == arguments["name"] and len(again.variables) == 2 and again.dtype == "float32"
    for key in ("k", "from_sorted_ids"):
        if key in arguments:
            assert getattr(again, key) == arguments[key]


# (metric, keras test) -> (y_true, y_pred, sample_weight, expected); Keras's atol is 1e-3.
ACCURACY = {
    ("Accuracy", "test_unweighted"): ([[1], [2], [3], [4]], [[0], [2], [3], [4]], None, 0.75),
    ("Accuracy", "test_weighted"): ([[1], [2], [3], [4]], [[0], [2], [3], [4]], [1, 1, 0, 0], 0.5),
    ("Accuracy", "test_weighted_rank_1"): ([1, 2, 3, 4], [0, 2, 3, 4], [1, 1, 0, 0], 0.5),
    ("Accuracy", "test_weighted_nd_weights"): ([[1, 2], [3, 4]], [[0, 2], [3, 4]], [[1, 0], [0, 1]], 0.5),
    ("Accuracy", "test_weighted_nd_broadcast_weights"): ([[1, 2], [3, 4]], [[0, 2], [3, 4]], [[1, 0]], 0.5),
    ("BinaryAccuracy", "test_unweighted"): ([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], None, 0.75),
    ("BinaryAccuracy", "test_unweighted (broadcasting)"): (
        [1, 1, 0, 0],
        [[0.98], [1], [0], [0.6]],
        None,
        0.75,
    ),
    ("BinaryAccuracy", "test_weighted"): ([[1], [1], [0], [0]], [[0.98], [1], [0], [0.6]], [1, 0, 0, 1], 0.5),
    # the bug of issue #18: a 1-D y_pred with sample weights raised
    ("BinaryAccuracy", "test_weighted_rank_1"): ([1, 1, 0, 0], [0.98, 1, 0, 0.6], [1, 0, 0, 1], 0.5),
    ("BinaryAccuracy", "test_weighted_nd_weights"): (
        [[1, 1], [0, 0]],
        [[0.98, 1], [0, 0.6]],
        [[1, 0], [0, 1]],
        0.5,
    ),
    ("BinaryAccuracy", "test_weighted_nd_broadcast_weights"): (
        [[1, 1], [0, 0]],
        [[0.98, 1], [0, 0.6]],
        [[1, 0]],
        1.0,
    ),
    ("CategoricalAccuracy", "test_unweighted"): (
        [[0, 0, 1], [0, 1, 0]],
        [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
        None,
        0.5,
    ),
    ("CategoricalAccuracy", "test_weighted"): (
        [[0, 0, 1], [0, 1, 0]],
        [[0.1, 0.9, 0.8], [0.05, 0.95, 0]],
        [0.7, 0.3],
        0.3,
    ),
    ("SparseCategoricalAccuracy", "test_unweighted"): (
        [[2], [1]],
        [[0.1, 0.6, 0.3], [0.05, 0.95, 0]],
        None,
        0.5,
    ),
    ("SparseCategoricalAccuracy", "test_weighted"): (
        [[2], [1]],
        [[0.1, 0.6, 0.3], [0.05, 0.95, 0]],
        [0.7, 0.3],
        0.3,
    ),
    ("SparseCategoricalAccuracy", "test_squeeze_y_true"): (
        [[0], [1], [2]],
        [[0.9, 0.05, 0.05], [0.05, 0.9, 0.05], [0.05, 0.05, 0.9]],
        None,
        1.0,
    ),
    ("SparseCategoricalAccuracy", "test_cast_y_pred_dtype"): (
        np.array([0, 1], dtype=np.int64),
        np.array([[0.9, 0.1], [0.1, 0.9]], dtype=np.float32),
        None,
        1.0,
    ),
    ("SparseCategoricalAccuracy", "test_reshape_matches"): (
        np.array([[0], [0]], dtype=np.int64),
        np.array([[[0.9, 0.1, 0.0], [0.8, 0.15, 0.05]]], dtype=np.float32),
        None,
        np.array([1.0, 1.0]),
    ),
    ("SparseCategoricalAccuracy", "test_squeeze_y_true_shape"): ([[0], [1], [2]], np.eye(3), None, 1.0),
    ("SparseCategoricalAccuracy", "test_cast_y_pred_to_match_y_true_dtype"): (
        np.array([0, 1, 2], dtype=np.int32),
        np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.1, 0.0, 0.9]], dtype=np.float64),
        None,
        1.0,
    ),
    ("SparseCategoricalAccuracy", "test_reshape_matches_to_original_y_true_shape"): (
        [[0], [1]],
        [[0.9, 0.1], [0.1, 0.9]],
        None,
        1.0,
    ),
    ("SparseCategoricalAccuracy", "test_matching_shapes_without_squeeze"): (
        np.array([2, 1, 0], dtype=np.int32),
        np.array([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 0.0, 0.0]], dtype=np.float32),
        None,
        1.0,
    ),
}


@pytest.mark.parametrize("case", ACCURACY, ids=lambda case: f"{case[0]}::{case[1]}")
def test_accuracies(case):
    # keras/src/metrics/accuracy_metrics_test.py::<case>
    y_true, y_pred, sample_weight, expected = ACCURACY[case]
    metric = getattr(metrics, case[0])(name="accuracy", dtype="float32")
    metric.update_state(np.asarray(y_true), np.asarray(y_pred), sample_weight=sample_weight)
    all_close(metric.result(), expected, atol=1e-3)


def test_binary_accuracy_threshold():
    # keras/src/metrics/accuracy_metrics_test.py::BinaryAccuracyTest::test_threshold
    y_true, y_pred = np.array([[1], [1], [0], [0]]), np.array([[0.98], [0.5], [0.1], [0.2]])
    low = metrics.BinaryAccuracy(name="binary_accuracy", dtype="float32", threshold=0.3)
    high = metrics.BinaryAccuracy(name="binary_accuracy", dtype="float32", threshold=0.9)
    all_close(low(y_true, y_pred), 1.0)
    all_close(high(y_true, y_pred), 0.75)


TOP_K_PRED = np.array([[0.1, 0.9, 0.8], [0.05, 0.95, 0]], dtype="float32")


@pytest.mark.parametrize("weight, expected", [(None, 0.5), ([0.7, 0.3], 0.3)], ids=["unweighted", "weighted"])
def test_top_k_categorical_accuracy(weight, expected):
    # keras/src/metrics/accuracy_metrics_test.py::TopKCategoricalAccuracyTest::test_{unweighted,
    # weighted} and SparseTopKCategoricalAccuracyTest::test_{unweighted,weighted,
    # from_sorted_ids_unweighted,from_sorted_ids_weighted}
    top_k = metrics.TopKCategoricalAccuracy(k=1, name="top_k_categorical_accuracy", dtype="float32")
    all_close(top_k(np.array([[0, 0, 1], [0, 1, 0]]), TOP_K_PRED, sample_weight=weight), expected, atol=1e-3)
    sparse = metrics.SparseTopKCategoricalAccuracy(k=1, name="sparse_top_k_categorical_accuracy")
    all_close(sparse(np.array([2, 1]), TOP_K_PRED, sample_weight=weight), expected, atol=1e-3)
    ids = metrics.SparseTopKCategoricalAccuracy(k=1, from_sorted_ids=True)
    all_close(
        ids(np.array([2, 1]), np.array([[1, 0, 3], [1, 2, 3]]), sample_weight=weight), expected, atol=1e-3
    )


# ---- keras/src/metrics/confusion_metrics_test.py --------------------------------------------
COUNT_TRUE = np.array(((0, 1, 0, 1, 0), (0, 0, 1, 1, 1), (1, 1, 1, 1, 0), (0, 0, 0, 0, 1)))
COUNT_PRED = np.array(((0, 0, 1, 1, 0), (1, 1, 1, 1, 1), (0, 1, 0, 1, 0), (1, 1, 1, 1, 1)))
THRESHOLD_PRED = np.array(
    ((0.9, 0.2, 0.8, 0.1), (0.2, 0.9, 0.7, 0.6), (0.1, 0.2, 0.4, 0.3), (0, 1, 0.7, 0.3))
)
THRESHOLD_TRUE = np.array(((0, 1, 1, 0), (1, 0, 0, 0), (0, 0, 0, 0), (1, 1, 1, 1)))
COUNTS = {  # class -> unweighted, weighted by (1, 1.5, 2, 2.5), at [0.15, 0.5, 0.85], weighted so
    "FalsePositives": (
        7.0,
        14.0,
        [7.0, 4.0, 2.0],
        (
            ((1.0, 2.0, 3.0, 5.0), (7.0, 11.0, 13.0, 17.0), (19.0, 23.0, 29.0, 31.0), (5.0, 15.0, 10.0, 0)),
            [125.0, 42.0, 12.0],
        ),
    ),
    "FalseNegatives": (3.0, 5.0, [1.0, 4.0, 6.0], (((3.0,), (5.0,), (7.0,), (4.0,)), [4.0, 16.0, 23.0])),
    "TrueNegatives": (3.0, 4.0, [2.0, 5.0, 7.0], (((0.0, 2.0, 3.0, 5.0),), [5.0, 15.0, 23.0])),
    "TruePositives": (7.0, 12.0, [6.0, 3.0, 1.0], (37.0, [222.0, 111.0, 37.0])),
}


@pytest.mark.parametrize("cls", COUNTS)
def test_confusion_matrix_counts(cls):
    # keras/src/metrics/confusion_metrics_test.py::{FalsePositives,FalseNegatives,TrueNegatives,
    # TruePositive}Test::test_{config,unweighted,weighted,unweighted_with_thresholds,
    # weighted_with_thresholds,threshold_limit}
    unweighted, weighted, at_thresholds, (weights, weighted_at_thresholds) = COUNTS[cls]
    metric_class = getattr(metrics, cls)
    configured = metric_class(name="my_fp", thresholds=[0.4, 0.9])
    assert (
        configured.name == "my_fp" and len(configured.variables) == 1 and configured.thresholds == [0.4, 0.9]
    )
    again = round_trip(configured)
    assert again.name == "my_fp" and again.thresholds == [0.4, 0.9]
    metric = metric_class()
    metric.update_state(COUNT_TRUE, COUNT_PRED)
    all_close(metric.result(), unweighted)
    all_close(metric_class()(COUNT_TRUE, COUNT_PRED, sample_weight=np.array((1.0, 1.5, 2.0, 2.5))), weighted)
    metric = metric_class(thresholds=[0.15, 0.5, 0.85])
    metric.update_state(THRESHOLD_TRUE, THRESHOLD_PRED)
    all_close(metric.result(), at_thresholds)
    metric = metric_class(thresholds=[0.15, 0.5, 0.85])
    all_close(metric(THRESHOLD_TRUE, THRESHOLD_PRED, sample_weight=weights), weighted_at_thresholds)
    with pytest.raises(ValueError, match=r"Threshold values must be in \[0, 1\]. Received: \[-1, 2\]"):
        metric_class(thresholds=[-1, 0.5, 2])
    with pytest.raises(ValueError, match=r"Threshold values must be in \[0, 1\]. Received: \[None\]"):
        metric_class(thresholds=[None])


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
def test_precision_recall_config(cls):
    # keras/src/metrics/confusion_metrics_test.py::{Precision,Recall}Test::test_config
    metric = getattr(metrics, cls)(name="my_precision", thresholds=[0.4, 0.9], top_k=15, class_id=12)
    assert metric.name == "my_precision" and len(metric.variables) == 2
    other = "false_positives" if cls == "Precision" else "false_negatives"
    assert metric.variable_names == ("true_positives", other)
    assert metric.thresholds == [0.4, 0.9] and metric.top_k == 15 and metric.class_id == 12
    again = round_trip(metric)
    assert again.name == "my_precision" and len(again.variables) == 2
    assert again.thresholds == [0.4, 0.9] and again.top_k == 15 and again.class_id == 12


def test_precision():
    # keras/src/metrics/confusion_metrics_test.py::PrecisionTest::test_{unweighted,
    # unweighted_all_incorrect,weighted,div_by_zero,unweighted_with_threshold,
    # weighted_with_threshold,multiple_updates}
    almost_equal(metrics.Precision()(np.array([0, 1, 1, 0]), np.array([1, 0, 1, 0])), 0.5)
    inputs = np.random.default_rng(0).integers(0, 2, size=(100, 1))
    almost_equal(metrics.Precision(thresholds=[0.5])(1 - inputs, inputs), 0)
    result = metrics.Precision()(
        np.array([[0, 1, 1, 0], [1, 0, 0, 1]]),
        np.array([[1, 0, 1, 0], [1, 0, 1, 0]]),
        sample_weight=np.array([[1, 2, 3, 4], [4, 3, 2, 1]]),
    )
    almost_equal(result, (3.0 + 4.0) / ((1.0 + 3.0) + (4.0 + 2.0)))
    assert metrics.Precision()(np.zeros(4), np.zeros(4)) == 0
    almost_equal(
        metrics.Precision(thresholds=[0.5, 0.7])([0, 1, 1, 0], np.array([1, 0, 0.6, 0])), [0.5, 0.0], 0
    )
    y_true, y_pred = np.array([[0, 1], [1, 0]]), np.array([[1, 0], [0.6, 0]], dtype="float32")
    weights = np.array([[4, 0], [3, 1]], dtype="float32")
    almost_equal(
        metrics.Precision(thresholds=[0.5, 1.0])(y_true, y_pred, sample_weight=weights), [3.0 / 7.0, 0]
    )
    twice = metrics.Precision(thresholds=[0.5, 1.0])
    for _ in range(2):
        twice.update_state(y_true, y_pred, sample_weight=weights)
    almost_equal(twice.result(), [6.0 / 14.0, 0])


def test_recall():
    # keras/src/metrics/confusion_metrics_test.py::RecallTest::test_{unweighted,
    # unweighted_all_incorrect,weighted,div_by_zero,unweighted_with_threshold,
    # weighted_with_threshold,multiple_updates}
    almost_equal(metrics.Recall()(np.array([0, 1, 1, 0]), np.array([1, 0, 1, 0])), 0.5)
    inputs = np.random.default_rng(0).integers(0, 2, size=(100, 1))
    almost_equal(metrics.Recall(thresholds=[0.5])(1 - inputs, inputs), 0)
    result = metrics.Recall()(
        np.array([[0, 1, 1, 0], [1, 0, 0, 1]]),
        np.array([[1, 0, 1, 0], [0, 1, 0, 1]]),
        sample_weight=np.array([[1, 2, 3, 4], [4, 3, 2, 1]]),
    )
    almost_equal(result, (3.0 + 1.0) / ((2.0 + 3.0) + (4.0 + 1.0)))
    assert metrics.Recall()(np.zeros(4), np.zeros(4)) == 0
    all_close(metrics.Recall(thresholds=[0.5, 0.7])([0, 1, 1, 0], np.array([1, 0, 0.6, 0])), [0.5, 0.0], 0)
    y_true, y_pred = np.array([[0, 1], [1, 0]]), np.array([[1, 0], [0.6, 0]], dtype="float32")
    weights = np.array([[1, 4], [3, 2]], dtype="float32")
    all_close(
        metrics.Recall(thresholds=[0.5, 1.0])(y_true, y_pred, sample_weight=weights), [3.0 / 7.0, 0], 1e-3
    )
    twice = metrics.Recall(thresholds=[0.5, 1.0])
    for _ in range(2):
        twice.update_state(y_true, y_pred, sample_weight=weights)
    all_close(twice.result(), [6.0 / 14.0, 0], 1e-3)


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
def test_precision_recall_top_k(cls):
    # keras/src/metrics/confusion_metrics_test.py::{Precision,Recall}Test::test_unweighted_top_k,
    # ::test_weighted_top_k and ::test_unweighted_top_k_and_threshold
    metric = getattr(metrics, cls)
    unweighted = metric(top_k=3)(np.array([0, 1, 1, 0, 0]), np.array([0.2, 0.1, 0.5, 0, 0.2]))
    almost_equal(unweighted, 1.0 / 3 if cls == "Precision" else 0.5)
    weighted = metric(top_k=3)
    weighted(
        np.array([[0, 1, 1, 0, 1]]),
        np.array([[0.2, 0.1, 0.4, 0, 0.2]]),
        sample_weight=np.array([[1, 4, 2, 3, 5]]),
    )
    result = weighted(
        np.array([1, 0, 1, 1, 1]), np.array([0.2, 0.6, 0.4, 0.2, 0.2]), sample_weight=np.array(3)
    )
    tp = (2 + 5) + (3 + 3)
    almost_equal(
        result,
        tp / ((1 + 2 + 5) + (3 + 3 + 3)) if cls == "Precision" else tp / ((4 + 2 + 5) + (3 + 3 + 3 + 3)),
    )
    both = metric(thresholds=0.7, top_k=2)
    y_true = np.array([0, 1, 1, 0, 1]) if cls == "Precision" else np.array([1, 1, 1, 0, 1])
    almost_equal(both(y_true, np.array([0.2, 0.8, 0.6, 0, 0.2])), 1 if cls == "Precision" else 0.25)
    almost_equal(both.true_positives, 1)
    almost_equal(getattr(both, both.variable_names[1]), 0 if cls == "Precision" else 3)


@pytest.mark.parametrize("cls", ["Precision", "Recall"])
def test_precision_recall_class_id(cls):
    # keras/src/metrics/confusion_metrics_test.py::{Precision,Recall}Test::
    # test_unweighted_class_id_should_throw_error_1d and ::test_unweighted_class_id_multiclass
    with pytest.raises(ValueError, match=r"When class_id is provided, y_pred must be a 2D array with shape"):
        getattr(metrics, cls)(class_id=2)(np.array([0, 1, 1, 0, 0]), np.array([0.2, 0.1, 0.6, 0, 0.2]))
    y_pred = np.array([[0.1, 0.2, 0.7], [0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    y_true = np.eye(3)[[2, 0, 1, 0, 2]]
    metric = getattr(metrics, cls)(class_id=1)
    almost_equal(metric(y_true, y_pred), 1.0)
    almost_equal(metric.true_positives, 1.0)
    almost_equal(getattr(metric, metric.variable_names[1]), 0.0)


AUC_PRED = np.array([0, 0.5, 0.3, 0.9], dtype="float32")
AUC_PRED_MULTI = np.array([[0.0, 0.4], [0.5, 0.7], [0.3, 0.2], [0.9, 0.3]], dtype="float32")
AUC_TRUE = np.array([0, 0, 1, 1])
AUC_TRUE_MULTI = np.array([[0, 0], [1, 1], [1, 1], [1, 0]])
AUC_WEIGHT = [1, 2, 3, 4]


def logits_of(p):
    return -np.log(1.0 / (p + 1e-12) - 1.0)


def test_auc_config():
    # keras/src/metrics/confusion_metrics_test.py::AUCTest::test_config
    auc = metrics.AUC(
        num_thresholds=100,
        curve="PR",
        summation_method="majoring",
        name="auc_1",
        dtype="float64",
        multi_label=True,
        num_labels=2,
        from_logits=True,
    )
    auc.update_state(AUC_TRUE_MULTI, AUC_PRED_MULTI)
    assert auc.name == "auc_1" and auc.dtype == "float64" and len(auc.variables) == 4
    assert auc.num_thresholds == 100 and auc.curve == "PR" and auc.summation_method == "majoring"
    assert auc.multi_label and auc.num_labels == 2 and auc._from_logits
    old_config = auc.get_config()
    assert "thresholds" not in old_config and old_config == json.loads(json.dumps(old_config))
    again = metrics.AUC.from_config(auc.get_config())
    again.update_state(AUC_TRUE_MULTI, AUC_PRED_MULTI)
    assert again.name == "auc_1" and len(again.variables) == 4 and again.num_thresholds == 100
    assert again.curve == "PR" and again.summation_method == "majoring" and again.multi_label
    assert again.num_labels == 2 and again._from_logits and again.get_config() == old_config
    all_close(auc.thresholds, again.thresholds)


def test_auc_config_manual_thresholds():
    # keras/src/metrics/confusion_metrics_test.py::AUCTest::test_config_manual_thresholds
    auc = metrics.AUC(
        num_thresholds=None, curve="PR", summation_method="majoring", name="auc_1", thresholds=[0.3, 0.5]
    )
    auc.update_state(AUC_TRUE, AUC_PRED)
    assert auc.name == "auc_1" and len(auc.variables) == 4 and auc.num_thresholds == 4
    all_close(auc.thresholds, [0.0, 0.3, 0.5, 1.0], atol=1e-6)
    old_config = auc.get_config()
    assert old_config == json.loads(json.dumps(old_config))
    again = metrics.AUC.from_config(auc.get_config())
    again.update_state(AUC_TRUE, AUC_PRED)
    assert again.num_thresholds == 4 and again.curve == "PR" and again.get_config() == old_config
    all_close(auc.thresholds, again.thresholds)


# keras test -> (AUC arguments, y_pred, sample_weight, expected, atol): AUCTest's cases on the
# data of its setUp (y_true [0, 0, 1, 1]); the comments in Keras's tests derive each number.
AUC = {
    "test_unweighted": ({"num_thresholds": 3}, AUC_PRED, None, 0.75, 1e-3),
    "test_unweighted_from_logits": (
        {"num_thresholds": 3, "from_logits": True},
        logits_of(AUC_PRED),
        None,
        0.75,
        1e-3,
    ),
    "test_manual_thresholds": ({"num_thresholds": 2, "thresholds": [0.5]}, AUC_PRED, None, 0.75, 1e-3),
    "test_weighted_roc_interpolation": ({"num_thresholds": 3}, AUC_PRED, AUC_WEIGHT, 0.7855, 1e-3),
    "test_weighted_roc_majoring": (
        {"num_thresholds": 3, "summation_method": "majoring"},
        AUC_PRED,
        AUC_WEIGHT,
        1.0,
        1e-3,
    ),
    "test_weighted_roc_minoring": (
        {"num_thresholds": 3, "summation_method": "minoring"},
        AUC_PRED,
        AUC_WEIGHT,
        0.571,
        1e-3,
    ),
    "test_weighted_pr_majoring": (
        {"num_thresholds": 3, "curve": "PR", "summation_method": "majoring"},
        AUC_PRED,
        AUC_WEIGHT,
        1 * 0.429 + 1 * 0.571,
        1e-3,
    ),
    "test_weighted_pr_minoring": (
        {"num_thresholds": 3, "curve": "PR", "summation_method": "minoring"},
        AUC_PRED,
        AUC_WEIGHT,
        0.7 * 0.429 + 0 * 0.571,
        1e-3,
    ),
    "test_weighted_pr_interpolation": (
        {"num_thresholds": 3, "curve": "PR"},
        AUC_PRED,
        AUC_WEIGHT,
        2.416 / 7 + 4 / 7,
        1e-3,
    ),
    "test_weighted_pr_interpolation_negative_weights": (
        {"num_thresholds": 3, "curve": "PR"},
        AUC_PRED,
        [-1, -2, -3, -4],
        0.0,
        1e-3,
    ),
    "test_weighted_prgain_majoring": (
        {"num_thresholds": 3, "curve": "PRGAIN", "summation_method": "majoring"},
        AUC_PRED,
        AUC_WEIGHT,
        1.0,
        1e-3,
    ),
    "test_weighted_prgain_minoring": (
        {"num_thresholds": 3, "curve": "PRGAIN", "summation_method": "minoring"},
        AUC_PRED,
        AUC_WEIGHT,
        0.0,
        1e-3,
    ),
    "test_weighted_prgain_interpolation": (
        {"num_thresholds": 3, "curve": "PRGAIN"},
        AUC_PRED,
        AUC_WEIGHT,
        0.5,
        1e-3,
    ),
}


@pytest.mark.parametrize("test", AUC)
def test_auc(test):
    # keras/src/metrics/confusion_metrics_test.py::AUCTest::<test>
    arguments, y_pred, sample_weight, expected, atol = AUC[test]
    auc = metrics.AUC(**arguments)
    if "thresholds" in arguments:
        assert auc.num_thresholds == 3
        all_close(auc.thresholds, [0.0, 0.5, 1.0], atol=1e-6)
    all_close(auc(AUC_TRUE, y_pred, sample_weight=sample_weight), expected, atol=atol)


def test_auc_all_correct_prgain_and_extra_dims():
    # keras/src/metrics/confusion_metrics_test.py::AUCTest::test_unweighted_all_correct,
    # ::test_prgain_interpolation and ::test_extra_dims
    assert metrics.AUC()(AUC_TRUE, AUC_TRUE) == 1
    y_true = np.array([0, 0, 0, 1, 0, 1, 0, 1, 1, 1])
    y_pred = np.array([0.1, 0.2, 0.3, 0.3, 0.4, 0.4, 0.6, 0.6, 0.8, 0.9])
    expected = 0.666666 * 0.333333 + 0.333333 * 0.833333
    all_close(metrics.AUC(num_thresholds=3, curve="PRGAIN")(y_true, y_pred), expected, atol=1e-3)
    z = -np.array(
        [[[-10.0, 10.0, -10.0], [10.0, -10.0, 10.0]], [[-12.0, 12.0, -12.0], [12.0, -12.0, 12.0]]],
        dtype=np.float32,
    )
    probabilities = 1 / (1 + np.exp(-z))  # scipy.special.expit
    labels = np.array([[[1, 0, 0], [1, 0, 0]], [[0, 1, 1], [0, 1, 1]]], dtype=np.int64)
    assert metrics.AUC()(labels, probabilities) == 0.5


def test_auc_invalid_arguments():
    # keras/src/metrics/confusion_metrics_test.py::AUCTest::test_invalid_num_thresholds,
    # ::test_invalid_curve and ::test_invalid_summation_method
    for bad in (-1, 1):
        with pytest.raises(ValueError, match="Argument `num_thresholds` must be an integer > 1"):
            metrics.AUC(num_thresholds=bad)
    with pytest.raises(ValueError, match='Invalid AUC curve value: "Invalid".'):
        metrics.AUC(curve="Invalid")
    with pytest.raises(ValueError, match='Invalid AUC summation method value: "Invalid".'):
        metrics.AUC(summation_method="Invalid")


MULTI_PRED = np.array([[0, 0.5, 0.3, 0.9], [0.1, 0.2, 0.3, 0.4]], dtype="float32").T
MULTI_GOOD = np.array([[0, 0, 1, 1], [0, 0, 1, 1]]).T
MULTI_BAD = np.array([[0, 0, 1, 1], [1, 1, 0, 0]]).T
# keras test -> (AUC arguments, y_true, y_pred, sample_weight, expected, atol): MultiAUCTest's
MULTI_AUC = {
    "test_unweighted_all_correct": ({"multi_label": True}, MULTI_GOOD, MULTI_GOOD, None, 1.0, 0),
    "test_unweighted_all_correct_flat": ({"multi_label": False}, MULTI_GOOD, MULTI_GOOD, None, 1.0, 0),
    "test_unweighted": (
        {"num_thresholds": 5, "multi_label": True},
        MULTI_GOOD,
        MULTI_PRED,
        None,
        0.9375,
        1e-3,
    ),
    "test_unweighted_from_logits": (
        {"num_thresholds": 5, "multi_label": True, "from_logits": True},
        MULTI_GOOD,
        logits_of(MULTI_PRED),
        None,
        0.9375,
        1e-3,
    ),
    "test_sample_weight_flat": (
        {"num_thresholds": 5},
        MULTI_GOOD,
        MULTI_PRED,
        [1, 2, 3, 4],
        1.0 - (0.3333 * (1.0 - 0.2857) / 2.0),
        1e-3,
    ),
    "test_full_sample_weight_flat": (
        {"num_thresholds": 5},
        MULTI_GOOD,
        MULTI_PRED,
        np.arange(4 * 2).reshape(4, 2),
        1.0 - (0.3333 * (1.0 - 0.2727) / 2.0),
        1e-3,
    ),
    "test_label_weights": (
        {"num_thresholds": 5, "multi_label": True, "label_weights": [0.75, 0.25]},
        MULTI_GOOD,
        MULTI_PRED,
        None,
        (0.875 * 0.75 + 1.0 * 0.25) / (0.75 + 0.25),
        1e-3,
    ),
    "test_label_weights_flat": (
        {"num_thresholds": 5, "label_weights": [0.75, 0.25]},
        MULTI_GOOD,
        MULTI_PRED,
        None,
        1.0 - ((1.0 - 0.375) * 0.375 / 2.0),
        1e-2,
    ),
    "test_unweighted_flat": ({"num_thresholds": 5}, MULTI_GOOD, MULTI_PRED, None, 1.0 - (3.0 / 32.0), 1e-3),
    "test_unweighted_flat_from_logits": (
        {"num_thresholds": 5, "from_logits": True},
        MULTI_GOOD,
        logits_of(MULTI_PRED),
        None,
        1.0 - (3.0 / 32.0),
        1e-3,
    ),
    "test_manual_thresholds": (
        {"num_thresholds": 2, "thresholds": [0.5], "multi_label": True},
        MULTI_GOOD,
        MULTI_PRED,
        None,
        (0.75 + 0.5) / 2.0,
        1e-3,
    ),
    "test_weighted_roc_interpolation": (
        {"num_thresholds": 5, "multi_label": True},
        MULTI_GOOD,
        MULTI_PRED,
        [1, 2, 3, 4],
        1.0 - 0.5 * 0.43 * 0.67,
        1e-1,
    ),
    "test_pr_interpolation": (
        {"num_thresholds": 5, "curve": "PR", "multi_label": True},
        MULTI_GOOD,
        MULTI_PRED,
        [1, 2, 3, 4],
        (0.939 + 1.0) / 2.0,
        1e-1,
    ),
}


@pytest.mark.parametrize("test", MULTI_AUC)
def test_multi_auc(test):
    # keras/src/metrics/confusion_metrics_test.py::MultiAUCTest::<test>
    arguments, y_true, y_pred, sample_weight, expected, atol = MULTI_AUC[test]
    all_close(metrics.AUC(**arguments)(y_true, y_pred, sample_weight=sample_weight), expected, atol=atol)


def test_multi_auc_pr_interpolation_unweighted():
    # keras/src/metrics/confusion_metrics_test.py::MultiAUCTest::test_pr_interpolation_unweighted:
    # one metric, two calls, so the second result counts both batches
    auc = metrics.AUC(num_thresholds=5, curve="PR", multi_label=True)
    all_close(auc(MULTI_GOOD, MULTI_PRED), (0.91667 + 1.0) / 2.0, atol=1e-1)
    all_close(auc(MULTI_BAD, MULTI_PRED), (0.91667 + 0.5) / 2.0, atol=1e-1)


def test_multi_auc_model_compiles_and_reset_state():
    # keras/src/metrics/confusion_metrics_test.py::MultiAUCTest::test_keras_model_compiles (here
    # it also trains and evaluates) and ::test_reset_state
    model = dc.Sequential([dc.Input((10,)), dc.layers.Dense(3, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=[metrics.AUC(multi_label=True)])
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((32, 10)), (rng.random((32, 3)) > 0.5).astype(float)
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0).history
    assert 0 <= history["auc"][-1] <= 1
    auc = metrics.AUC(num_thresholds=5, multi_label=True)
    auc(MULTI_GOOD, MULTI_PRED)
    auc.reset_state()
    all_close(auc.true_positives, np.zeros((5, 2)))


# ---- keras/src/metrics/f_score_metrics_test.py ----------------------------------------------
def fbeta(y_true, y_pred, sample_weight, average, beta, threshold, expected):
    """FBetaScoreTest._run_test."""
    metric = metrics.FBetaScore(average, beta, threshold, dtype="float32")
    metric.update_state(y_true, y_pred, sample_weight)
    all_close(metric.result(), expected, atol=1e-6)


def test_fbeta_config():
    # keras/src/metrics/f_score_metrics_test.py::FBetaScoreTest::test_config
    metric = metrics.FBetaScore(beta=0.5, threshold=0.3, average=None, dtype="float32")
    again = round_trip(metric)
    assert (again.beta, again.average, again.threshold, again.dtype) == (0.5, None, 0.3, "float32")


AVERAGES_BETAS = [(average, beta) for average in ("micro", "macro", "weighted") for beta in (0.5, 1.0, 2.0)]


@pytest.mark.parametrize("average, beta", AVERAGES_BETAS)
def test_fbeta_perfect_and_worst_score(average, beta):
    # keras/src/metrics/f_score_metrics_test.py::FBetaScoreTest::test_fbeta_perfect_score and
    # ::test_fbeta_worst_score
    y_pred = [[0.7, 0.7, 0.7], [1, 0, 0], [0.9, 0.8, 0]]
    fbeta([[1, 1, 1], [1, 0, 0], [1, 1, 0]], y_pred, None, average, beta, 0.66, 1.0)
    fbeta([[0, 0, 0], [0, 1, 0], [0, 0, 1]], y_pred, None, average, beta, 0.66, 0.0)


@pytest.mark.parametrize(
    "average, beta, expected",
    [
        (None, 0.5, [0.71428573, 0.5, 0.833334]),
        (None, 1.0, [0.8, 0.5, 0.6666667]),
        (None, 2.0, [0.9090904, 0.5, 0.555556]),
        ("micro", 0.5, 0.6666667),
        ("micro", 1.0, 0.6666667),
        ("micro", 2.0, 0.6666667),
        ("macro", 0.5, 0.6825397),
        ("macro", 1.0, 0.6555555),
        ("macro", 2.0, 0.6548822),
        ("weighted", 0.5, 0.6825397),
        ("weighted", 1.0, 0.6555555),
        ("weighted", 2.0, 0.6548822),
    ],
)
def test_fbeta_random_score(average, beta, expected):
    # keras/src/metrics/f_score_metrics_test.py::FBetaScoreTest::test_fbeta_random_score
    y_pred = [[0.7, 0.7, 0.7], [1, 0, 0], [0.9, 0.8, 0]]
    fbeta([[0, 0, 1], [1, 1, 0], [1, 1, 1]], y_pred, None, average, beta, 0.66, expected)


F_TRUE = [[1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0], [1, 0, 0], [0, 0, 1]]
F_PRED = [[0.9, 0.1, 0], [0.2, 0.6, 0.2], [0, 0, 1], [0.4, 0.3, 0.3], [0, 0.9, 0.1], [0, 0, 1]]


@pytest.mark.parametrize(
    "average, beta, expected",
    [
        (None, 0.5, [0.9090904, 0.555556, 1.0]),
        (None, 1.0, [0.8, 0.6666667, 1.0]),
        (None, 2.0, [0.71428573, 0.833334, 1.0]),
        ("micro", 0.5, 0.833334),
        ("micro", 1.0, 0.833334),
        ("micro", 2.0, 0.833334),
        ("macro", 0.5, 0.821549),
        ("macro", 1.0, 0.822222),
        ("macro", 2.0, 0.849206),
        ("weighted", 0.5, 0.880471),
        ("weighted", 1.0, 0.844445),
        ("weighted", 2.0, 0.829365),
    ],
)
def test_fbeta_random_score_none(average, beta, expected):
    # keras/src/metrics/f_score_metrics_test.py::FBetaScoreTest::test_fbeta_random_score_none
    fbeta(F_TRUE, F_PRED, None, average, beta, None, expected)


ALL_ONES, SOME_ZERO, SOME_HALF = [1.0] * 6, [1.0, 0.0, 1.0, 1.0, 0.0, 1.0], [0.5, 1.0, 1.0, 1.0, 0.5, 1.0]


@pytest.mark.parametrize(
    "average, beta, sample_weight, expected",
    [
        (None, 0.5, ALL_ONES, [0.909091, 0.555556, 1.0]),
        (None, 0.5, SOME_ZERO, [1.0, 0.0, 1.0]),
        (None, 0.5, SOME_HALF, [0.9375, 0.714286, 1.0]),
        (None, 1.0, ALL_ONES, [0.8, 0.666667, 1.0]),
        (None, 1.0, SOME_ZERO, [1.0, 0.0, 1.0]),
        (None, 1.0, SOME_HALF, [0.857143, 0.8, 1.0]),
        (None, 2.0, ALL_ONES, [0.714286, 0.833333, 1.0]),
        (None, 2.0, SOME_ZERO, [1.0, 0.0, 1.0]),
        (None, 2.0, SOME_HALF, [0.789474, 0.909091, 1.0]),
        ("micro", 0.5, ALL_ONES, 0.833333),
        ("micro", 0.5, SOME_ZERO, 1.0),
        ("micro", 0.5, SOME_HALF, 0.9),
        ("micro", 1.0, ALL_ONES, 0.833333),
        ("micro", 1.0, SOME_ZERO, 1.0),
        ("micro", 1.0, SOME_HALF, 0.9),
        ("micro", 2.0, ALL_ONES, 0.833333),
        ("micro", 2.0, SOME_ZERO, 1.0),
        ("micro", 2.0, SOME_HALF, 0.9),
        ("macro", 0.5, ALL_ONES, 0.821549),
        ("macro", 0.5, SOME_ZERO, 0.666667),
        ("macro", 0.5, SOME_HALF, 0.883929),
        ("macro", 1.0, ALL_ONES, 0.822222),
        ("macro", 1.0, SOME_ZERO, 0.666667),
        ("macro", 1.0, SOME_HALF, 0.885714),
        ("macro", 2.0, ALL_ONES, 0.849206),
        ("macro", 2.0, SOME_ZERO, 0.666667),
        ("macro", 2.0, SOME_HALF, 0.899522),
        ("weighted", 0.5, ALL_ONES, 0.880471),
        ("weighted", 0.5, SOME_ZERO, 1.0),
        ("weighted", 0.5, SOME_HALF, 0.917857),
        ("weighted", 1.0, ALL_ONES, 0.844444),
        ("weighted", 1.0, SOME_ZERO, 1.0),
        ("weighted", 1.0, SOME_HALF, 0.902857),
        ("weighted", 2.0, ALL_ONES, 0.829365),
        ("weighted", 2.0, SOME_ZERO, 1.0),
        ("weighted", 2.0, SOME_HALF, 0.897608),
    ],
)
def test_fbeta_weighted_random_score_none(average, beta, sample_weight, expected):
    # keras/src/metrics/f_score_metrics_test.py::FBetaScoreTest::test_fbeta_weighted_random_score_none
    fbeta(F_TRUE, F_PRED, sample_weight, average, beta, None, expected)


@pytest.mark.parametrize(
    "arguments, message",
    [
        # keras/src/metrics/f_score_metrics_test.py::FBetaScoreTest::test_invalid_average_raises_value_error
        (
            {"average": "invalid_average", "beta": 1.0},
            r"Invalid `average` argument value. Expected one of: \{None, 'micro', 'macro', 'weighted'\}. "
            "Received: average=invalid_average",
        ),
        # ::test_beta_{integer,string,none}_type_raises_value_error
        ({"average": "macro", "beta": 1}, "Invalid `beta` argument value. It should be a Python float."),
        ({"average": "macro", "beta": "1.0"}, "Invalid `beta` argument value. It should be a Python float."),
        ({"average": "macro", "beta": None}, "Invalid `beta` argument value. It should be a Python float."),
        # ::test_beta_{zero,negative_one,negative_half}_raises_value_error
        (
            {"average": "macro", "beta": 0.0},
            "Invalid `beta` argument value. It should be > 0. Received: beta=0.0",
        ),
        (
            {"average": "macro", "beta": -1.0},
            "Invalid `beta` argument value. It should be > 0. Received: beta=-1.0",
        ),
        (
            {"average": "macro", "beta": -0.5},
            "Invalid `beta` argument value. It should be > 0. Received: beta=-0.5",
        ),
        # ::test_threshold_{not_float,string,above_one,zero,negative}_raises_value_error
        (
            {"average": "macro", "beta": 1.0, "threshold": 1},
            "Invalid `threshold` argument value. It should be a Python float. Received: threshold=1 of type "
            "'<class 'int'>'",
        ),
        (
            {"average": "macro", "beta": 1.0, "threshold": "0.5"},
            "Invalid `threshold` argument value. It should be a Python float. Received: threshold=0.5 "
            "of type '<class 'str'>'",
        ),
        (
            {"average": "macro", "beta": 1.0, "threshold": 1.1},
            r"Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
            r"Received: threshold=1.1",
        ),
        (
            {"average": "macro", "beta": 1.0, "threshold": 0.0},
            r"Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
            r"Received: threshold=0.0",
        ),
        (
            {"average": "macro", "beta": 1.0, "threshold": -0.5},
            r"Invalid `threshold` argument value. It should verify 0 < threshold <= 1. "
            r"Received: threshold=-0.5",
        ),
    ],
)
def test_fbeta_bad_arguments(arguments, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        metrics.FBetaScore(**arguments, dtype="float32")


def test_fbeta_weights_and_shapes():
    # keras/src/metrics/f_score_metrics_test.py::FBetaScoreTest::test_fbeta_scalar_weight,
    # ::test_fbeta_2d_weight and ::test_non_2d_input_shapes_raises_value_error (through
    # update_state: densecore has no separate build step)
    y_true = np.array([[1, 1], [1, 0]], np.int32)
    y_pred = np.array([[0.2, 0.6], [0.2, 0.6]], np.float32)
    metric = metrics.FBetaScore(threshold=0.5)
    metric.update_state(y_true, y_pred, sample_weight=0.5)
    all_close(metric.result(), [0.0, 0.6666665], atol=1e-5)
    metric = metrics.FBetaScore(threshold=0.5)
    metric.update_state(y_true, y_pred, sample_weight=np.array([[0.5, 0.2], [0.3, 0.8]], np.float32))
    all_close(metric.result(), [0.0, 0.333333], atol=1e-5)
    message = (
        r"FBetaScore expects 2D inputs with shape \(batch_size, output_dim\)\. Received input shapes: "
        r"y_pred\.shape=\(2, 3, 4\) and y_true\.shape=\(2, 3, 4\)\."
    )
    with pytest.raises(ValueError, match=message):
        metrics.FBetaScore(beta=1.0, dtype="float32").update_state(np.ones((2, 3, 4)), np.ones((2, 3, 4)))


def test_f1_score():
    # keras/src/metrics/f_score_metrics_test.py::F1ScoreTest::test_config and ::test_correctness
    config = metrics.F1Score(dtype="float32").get_config()
    assert "beta" not in config
    again = metrics.F1Score.from_config(config)
    assert again.average is None and again.dtype == "float32"
    f1, fb = metrics.F1Score(), metrics.FBetaScore(beta=1.0)
    fb.update_state(np.array(F_TRUE), np.array(F_PRED))
    f1.update_state(np.array(F_TRUE), np.array(F_PRED))
    all_close(fb.result(), f1.result(), atol=1e-6)


# ---- keras/src/metrics/regression_metrics_test.py -------------------------------------------
REG_TRUE = np.array([[0, 1, 0, 1, 0], [0, 0, 1, 1, 1], [1, 1, 1, 1, 0], [0, 0, 0, 0, 1]])
REG_PRED = np.array([[0, 0, 1, 1, 0], [1, 1, 1, 1, 1], [0, 1, 0, 1, 0], [1, 1, 1, 1, 1]])
REG_WEIGHT = np.array([1.0, 1.5, 2.0, 2.5])
REGRESSION = {  # class -> unweighted, weighted by REG_WEIGHT, the test's atol
    "MeanSquaredError": (0.5, 0.54285, 1e-5),
    "MeanAbsoluteError": (0.5, 0.54285, 1e-5),
    "MeanAbsolutePercentageError": (35e7, 40e7, 1e-5),
    "MeanSquaredLogarithmicError": (0.24022, 0.26082, 1e-5),
}


@pytest.mark.parametrize("cls", REGRESSION)
def test_regression_metrics(cls):
    # keras/src/metrics/regression_metrics_test.py::{MeanSquaredError,MeanAbsoluteError,
    # MeanAbsolutePercentageError,MeanSquaredLogarithmicError}Test::test_{config,unweighted,weighted}
    unweighted, weighted, atol = REGRESSION[cls]
    metric_class = getattr(metrics, cls)
    configured = metric_class(name="my_mae", dtype="int32")
    assert configured.name == "my_mae" and configured.dtype == "int32"
    again = round_trip(configured)
    assert again.name == "my_mae" and again.dtype == "int32"
    y_pred = REG_PRED.astype("float32") if cls == "MeanAbsolutePercentageError" else REG_PRED
    metric = metric_class()
    metric.update_state(REG_TRUE, y_pred)
    all_close(metric.result(), unweighted, atol=atol)
    all_close(metric_class()(REG_TRUE, y_pred, sample_weight=REG_WEIGHT), weighted, atol=atol)


def test_root_mean_squared_error():
    # keras/src/metrics/regression_metrics_test.py::RootMeanSquaredErrorTest::test_{config,
    # unweighted,weighted}
    again = round_trip(metrics.RootMeanSquaredError(name="rmse", dtype="int32"))
    assert again.name == "rmse" and again.dtype == "int32"
    metric = metrics.RootMeanSquaredError()
    metric.update_state(np.array([2, 4, 6]), np.array([1, 3, 2]))
    all_close(np.sqrt(6), metric.result(), atol=1e-3)
    result = metrics.RootMeanSquaredError()([2, 4, 6, 8], [1, 3, 2, 3], sample_weight=np.array([0, 1, 0, 1]))
    all_close(np.sqrt(13), result, atol=1e-3)


def l2_norm(x, axis):
    return x / np.sqrt(np.maximum(np.sum(np.square(x), axis=axis, keepdims=True), 1e-12))


COS_TRUE = np.asarray([[1, 9, 2], [-5, -2, 6]], dtype=np.float32)
COS_PRED = np.asarray([[4, 8, 12], [8, 1, 3]], dtype=np.float32)
COS_EXPECTED = np.sum(l2_norm(COS_TRUE, 1) * l2_norm(COS_PRED, 1), axis=1)


def test_cosine_similarity():
    # keras/src/metrics/regression_metrics_test.py::CosineSimilarityTest::test_{config,unweighted,
    # weighted,axis}
    configured = metrics.CosineSimilarity(axis=2, name="my_cos", dtype="int32")
    assert configured.name == "my_cos" and configured.dtype == "int32"
    again = round_trip(configured)
    assert again.name == "my_cos" and again.dtype == "int32" and again.axis == 2
    almost_equal(metrics.CosineSimilarity()(COS_TRUE, COS_PRED), np.mean(COS_EXPECTED), 3)
    weight = np.asarray([1.2, 3.4])
    weighted = metrics.CosineSimilarity()(COS_TRUE, COS_PRED, sample_weight=weight)
    almost_equal(weighted, np.sum(COS_EXPECTED * weight) / np.sum(weight), 3)
    almost_equal(metrics.CosineSimilarity(axis=1)(COS_TRUE, COS_PRED), np.mean(COS_EXPECTED), 3)


def test_log_cosh_error():
    # keras/src/metrics/regression_metrics_test.py::LogCoshErrorTest::test_{config,unweighted,weighted}
    configured = metrics.LogCoshError(name="logcosh", dtype="int32")
    assert configured.name == "logcosh" and configured.dtype == "int32"
    y_true, y_pred = COS_TRUE, COS_PRED
    error = y_pred - y_true
    expected = np.log((np.exp(error) + np.exp(-error)) / 2)
    metric = metrics.LogCoshError()
    metric.update_state(y_true, y_pred)
    all_close(metric.result(), np.sum(expected) / 6, atol=1e-3)
    result = metrics.LogCoshError(dtype="float32")(y_true, y_pred, sample_weight=np.array([[1.2], [3.4]]))
    weight = np.asarray([1.2, 1.2, 1.2, 3.4, 3.4, 3.4]).reshape((2, 3))
    all_close(result, np.sum(expected * weight) / np.sum(weight), atol=1e-3)


# ---- keras/src/metrics/probabilistic_metrics_test.py ----------------------------------------
def test_kl_divergence_and_poisson():
    # keras/src/metrics/probabilistic_metrics_test.py::{KLDivergence,Poisson}Test::test_{config,
    # unweighted,weighted}
    configured = metrics.KLDivergence(name="kld", dtype="int32")
    again = round_trip(configured)
    assert again.name == "kld" and again.dtype == "int32"
    round_trip(metrics.Poisson(name="poisson"))
    weight = np.asarray([1.2, 3.4], dtype=np.float32).reshape((2, 1))
    full_weight = np.asarray([1.2, 1.2, 1.2, 3.4, 3.4, 3.4], dtype=np.float32).reshape((2, 3))
    y_pred = np.asarray([0.4, 0.9, 0.12, 0.36, 0.3, 0.4], dtype=np.float32).reshape((2, 3))
    y_true = np.asarray([0.5, 0.8, 0.12, 0.7, 0.43, 0.8], dtype=np.float32).reshape((2, 3))
    expected = y_true * np.log(y_true / y_pred)
    metric = metrics.KLDivergence()
    metric.update_state(y_true, y_pred)
    all_close(metric.result(), np.sum(expected) / 2, atol=1e-3)
    weighted = metrics.KLDivergence()(y_true, y_pred, sample_weight=weight)
    all_close(weighted, np.sum(expected * full_weight) / (1.2 + 3.4), atol=1e-3)
    y_pred = np.asarray([1, 9, 2, 5, 2, 6], dtype=np.float32).reshape((2, 3))
    y_true = np.asarray([4, 8, 12, 8, 1, 3], dtype=np.float32).reshape((2, 3))
    expected = y_pred - y_true * np.log(y_pred)
    metric = metrics.Poisson()
    metric.update_state(y_true, y_pred)
    all_close(metric.result(), np.sum(expected) / 6, atol=1e-3)
    weighted = metrics.Poisson()(y_true, y_pred, sample_weight=weight)
    all_close(weighted, np.sum(expected * full_weight) / np.sum(full_weight), atol=1e-3)


BCE_TRUE, BCE_PRED = (
    np.array([1, 0, 1, 0]).reshape([2, 2]),
    np.array([1, 1, 1, 0], dtype=np.float32).reshape([2, 2]),
)
BCE_TRUE_LOGITS = np.array([[1, 0, 1], [0, 1, 1]])
BCE_LOGITS = np.array([[10.0, -10.0, 10.0], [10.0, 10.0, -10.0]])
CCE_TRUE, CCE_PRED = np.array([[0, 1, 0], [0, 0, 1]]), np.array([[0.05, 0.95, 0], [0.1, 0.8, 0.1]])
CCE_LOGITS = np.array([[1, 9, 0], [1, 8, 1]], dtype=np.float32)
# keras test -> (metric, its arguments, y_true, y_pred, sample_weight, expected); atol 1e-3
PROBABILISTIC = {
    "BinaryCrossentropyTest::test_unweighted": ("BinaryCrossentropy", {}, BCE_TRUE, BCE_PRED, None, 3.9855),
    "BinaryCrossentropyTest::test_unweighted_with_logits": (
        "BinaryCrossentropy",
        {"from_logits": True},
        BCE_TRUE_LOGITS,
        BCE_LOGITS,
        None,
        3.333,
    ),
    "BinaryCrossentropyTest::test_weighted": (
        "BinaryCrossentropy",
        {},
        BCE_TRUE,
        BCE_PRED,
        np.array([1.5, 2.0]),
        3.4162,
    ),
    "BinaryCrossentropyTest::test_weighted_from_logits": (
        "BinaryCrossentropy",
        {"from_logits": True},
        BCE_TRUE_LOGITS,
        BCE_LOGITS,
        np.array([2.0, 2.5]),
        3.7037,
    ),
    "BinaryCrossentropyTest::test_label_smoothing": (
        "BinaryCrossentropy",
        {"from_logits": True, "label_smoothing": 0.1},
        np.array(((1, 0, 1))),
        np.array(((10.0, -10.0, -10.0))),
        None,
        (10.0 + 5.0 * 0.1) / 3.0,
    ),
    "CategoricalCrossentropyTest::test_unweighted": (
        "CategoricalCrossentropy",
        {},
        CCE_TRUE,
        CCE_PRED,
        None,
        1.176,
    ),
    "CategoricalCrossentropyTest::test_unweighted_from_logits": (
        "CategoricalCrossentropy",
        {"from_logits": True},
        CCE_TRUE,
        CCE_LOGITS,
        None,
        3.5011,
    ),
    "CategoricalCrossentropyTest::test_weighted": (
        "CategoricalCrossentropy",
        {},
        CCE_TRUE,
        CCE_PRED,
        np.array([1.5, 2.0]),
        1.338,
    ),
    "CategoricalCrossentropyTest::test_weighted_from_logits": (
        "CategoricalCrossentropy",
        {"from_logits": True},
        CCE_TRUE,
        CCE_LOGITS,
        np.array([1.5, 2.0]),
        4.0012,
    ),
    "CategoricalCrossentropyTest::test_label_smoothing": (
        "CategoricalCrossentropy",
        {"from_logits": True, "label_smoothing": 0.1},
        CCE_TRUE,
        CCE_LOGITS,
        None,
        3.667,
    ),
    "SparseCategoricalCrossentropyTest::test_unweighted": (
        "SparseCategoricalCrossentropy",
        {},
        np.array([1, 2]),
        CCE_PRED,
        None,
        1.176,
    ),
    "SparseCategoricalCrossentropyTest::test_unweighted_from_logits": (
        "SparseCategoricalCrossentropy",
        {"from_logits": True},
        np.array([1, 2]),
        CCE_LOGITS,
        None,
        3.5011,
    ),
    "SparseCategoricalCrossentropyTest::test_weighted": (
        "SparseCategoricalCrossentropy",
        {},
        np.array([1, 2]),
        CCE_PRED,
        np.array([1.5, 2.0]),
        1.338,
    ),
    "SparseCategoricalCrossentropyTest::test_weighted_from_logits": (
        "SparseCategoricalCrossentropy",
        {"from_logits": True},
        np.array([1, 2]),
        CCE_LOGITS,
        np.array([1.5, 2.0]),
        4.0012,
    ),
    "SparseCategoricalCrossentropyTest::test_ignore_class": (
        "SparseCategoricalCrossentropy",
        {"ignore_class": 0},
        np.array([0, 1, 2]),
        np.array([[0.8, 0.1, 0.1], [0.05, 0.95, 0], [0.1, 0.8, 0.1]]),
        None,
        0.78462,
    ),
    "SparseCategoricalCrossentropyTest::test_ignore_class_weighted": (
        "SparseCategoricalCrossentropy",
        {"ignore_class": 0},
        np.array([0, 1, 2]),
        np.array([[0.8, 0.1, 0.1], [0.05, 0.95, 0], [0.1, 0.8, 0.1]]),
        np.array([0.5, 1.5, 2.0]),
        1.33774646,
    ),
    "SparseCategoricalCrossentropyTest::test_ignore_class_from_logits": (
        "SparseCategoricalCrossentropy",
        {"from_logits": True, "ignore_class": 0},
        np.array([0, 1, 2]),
        np.array([[10, 1, 1], [1, 9, 0], [1, 8, 1]], dtype=np.float32),
        None,
        2.33409,
    ),
}


@pytest.mark.parametrize("test", PROBABILISTIC)
def test_probabilistic_metrics(test):
    # keras/src/metrics/probabilistic_metrics_test.py::<test>
    cls, arguments, y_true, y_pred, sample_weight, expected = PROBABILISTIC[test]
    all_close(
        getattr(metrics, cls)(**arguments)(y_true, y_pred, sample_weight=sample_weight), expected, atol=1e-3
    )


@pytest.mark.parametrize(
    "metric",
    [
        metrics.BinaryCrossentropy(name="bce", dtype="int32", label_smoothing=0.2),
        metrics.CategoricalCrossentropy(name="cce", dtype="int32", label_smoothing=0.2),
        metrics.SparseCategoricalCrossentropy(name="scce", dtype="int32"),
    ],
    ids=lambda m: type(m).__name__,
)
def test_probabilistic_config(metric):
    # keras/src/metrics/probabilistic_metrics_test.py::{BinaryCrossentropy,CategoricalCrossentropy,
    # SparseCategoricalCrossentropy}Test::test_config
    again = round_trip(metric)
    assert again.name == metric.name and again.dtype == "int32"


# ---- keras/src/metrics/hinge_metrics_test.py ------------------------------------------------
HINGE_PRED = np.array([[-0.3, 0.2, -0.1, 1.6], [-0.25, -1.0, 0.5, 0.6]])


@pytest.mark.parametrize(
    "cls, y_true, weighted_true, unweighted, weighted, atol",
    [
        ("Hinge", [[0, 1, 0, 1], [0, 0, 1, 1]], [[-1, 1, -1, 1], [-1, -1, 1, 1]], 0.506, 0.493, 1e-3),
        ("SquaredHinge", [[0, 1, 0, 1], [0, 0, 1, 1]], [[-1, 1, -1, 1], [-1, -1, 1, 1]], 0.364, 0.347, 1e-3),
        ("CategoricalHinge", None, None, 0.5, 0.5, 1e-5),
    ],
)
def test_hinge_metrics(cls, y_true, weighted_true, unweighted, weighted, atol):
    # keras/src/metrics/hinge_metrics_test.py::{Hinge,SquaredHinge,CategoricalHinge}Test::test_{config,
    # unweighted,weighted}
    metric_class = getattr(metrics, cls)
    configured = metric_class(name="cat_hinge", dtype="int32")
    again = round_trip(configured)
    assert again.name == "cat_hinge" and len(again.variables) == 2 and again.dtype == "int32"
    if cls == "CategoricalHinge":
        y_true = weighted_true = REG_TRUE.astype("float32")
        y_pred, weight = REG_PRED.astype("float32"), REG_WEIGHT
    else:
        y_pred, weight = HINGE_PRED, np.array([1.5, 2.0])
    metric = metric_class()
    metric.update_state(np.array(y_true, dtype="float32"), y_pred)
    all_close(metric.result(), unweighted, atol=atol)
    all_close(
        metric_class()(np.array(weighted_true, dtype="float32"), y_pred, sample_weight=weight),
        weighted,
        atol=atol,
    )


# ---- keras/src/metrics/reduction_metrics_test.py --------------------------------------------
@pytest.mark.parametrize(
    "test, values, sample_weight, total, mean",
    [
        ("test_unweighted", [1, 3, 5, 7], None, 16.0, 4.0),
        ("test_weighted", [1, 3, 5, 7], [1, 1, 0, 0], 4.0, 2.0),
        ("test_weighted_nd", [[1, 3], [5, 7]], [[1, 1], [1, 0]], 9.0, 3.0),
        ("test_weighted_nd_broadcast", [[1, 3], [5, 7]], [[1, 0]], 6.0, 3.0),
    ],
)
def test_sum_and_mean(test, values, sample_weight, total, mean):
    # keras/src/metrics/reduction_metrics_test.py::{SumTest,MeanTest}::<test>
    sum_metric, mean_metric = (
        metrics.Sum(name="sum", dtype="float32"),
        metrics.Mean(name="mean", dtype="float32"),
    )
    sum_metric.update_state(values, sample_weight=sample_weight)
    mean_metric.update_state(values, sample_weight=sample_weight)
    all_close(sum_metric.result(), total, atol=1e-3)
    all_close(mean_metric.result(), mean, atol=1e-3)


def test_mean_weighted_negative_weights_and_configs():
    # keras/src/metrics/reduction_metrics_test.py::MeanTest::test_weighted_negative_weights and
    # {SumTest,MeanTest}::test_config
    mean = metrics.Mean(name="mean", dtype="float32")
    mean.update_state([1, 3, 5, 7], sample_weight=[-1, -1, 0, 0])
    all_close(mean.result(), 2.0, atol=1e-3)
    for metric, variables in ((metrics.Sum(name="sum", dtype="float32"), 1), (mean, 2)):
        again = round_trip(metric)
        assert again.name == metric.name and len(again.variables) == variables and again.dtype == "float32"


def mse(y_true, y_pred):
    return (np.asarray(y_true) - np.asarray(y_pred)) ** 2


@pytest.mark.parametrize(
    "test, sample_weight, expected",
    [
        ("test_unweighted", None, 0.5),
        ("test_weighted", REG_WEIGHT, 0.54285),
        ("test_weighted_broadcast", np.array([[1.0, 0.0, 0.5, 0.0, 1.0]]), 0.45),
    ],
)
def test_mean_metric_wrapper(test, sample_weight, expected):
    # keras/src/metrics/reduction_metrics_test.py::MetricWrapperTest::<test>
    metric = metrics.MeanMetricWrapper(fn=mse, name="mse", dtype="float32")
    metric.update_state(REG_TRUE, REG_PRED, sample_weight=sample_weight)
    all_close(metric.result(), expected, atol=1e-5)


def test_mean_metric_wrapper_config_and_boolean_inputs():
    # keras/src/metrics/reduction_metrics_test.py::MetricWrapperTest::test_config (the function
    # found in custom_objects, as densecore's load_model does) and
    # ::test_binary_accuracy_with_boolean_inputs
    wrapper = metrics.MeanMetricWrapper(fn=mse, name="mse", dtype="float32")
    assert wrapper.name == "mse" and len(wrapper.variables) == 2 and wrapper.dtype == "float32"
    spec = {"class_name": "MeanMetricWrapper", "config": json.loads(json.dumps(wrapper.get_config()))}
    again = metrics.from_config(spec, custom_objects={"mse": mse})
    assert again.name == "mse" and len(again.variables) == 2 and "fn" in again.get_config()
    assert again(REG_TRUE, REG_PRED) == 0.5
    x = np.random.default_rng(0).random((32, 1))
    assert metrics.BinaryAccuracy()(x > 0.5, x > 0.5) == 1.0


# ---- keras/src/metrics/metric_test.py -------------------------------------------------------
class ExampleMetric(metrics.Metric):
    """metric_test.py's ExampleMetric, in densecore's terms: a sum and a count."""

    variable_names = ("sum", "total")

    def __init__(self, name="mean_square_error", dtype=None):
        super().__init__(name=name, dtype=dtype)

    def reset_state(self):
        self.sum, self.total = 0.0, 0

    def update_state(self, y_true, y_pred):
        self.sum += float(np.sum((np.asarray(y_true) - np.asarray(y_pred)) ** 2))
        self.total += len(y_true)

    def result(self):
        return self.sum / (self.total + 1e-7)


def test_metric_base_class():
    # keras/src/metrics/metric_test.py::MetricTest::test_end_to_end_flow (its variables),
    # ::test_serialization, ::test_pickle, ::test_get_method and ::test_dtype_arg
    metric = ExampleMetric(name="mse")
    assert metric.name == "mse" and len(metric.variables) == 2
    spec = {"class_name": "ExampleMetric", "config": metric.get_config()}
    assert (
        metrics.from_config(spec, custom_objects={"ExampleMetric": ExampleMetric}).get_config()
        == metric.get_config()
    )
    assert isinstance(pickle.loads(pickle.dumps(metrics.get("mse"))), metrics.MeanSquaredError)
    assert isinstance(metrics.get("mse"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("mean_squared_error"), metrics.MeanSquaredError)
    assert isinstance(metrics.get("categorical_accuracy"), metrics.CategoricalAccuracy)
    assert metrics.get(None) is None
    with pytest.raises(ValueError):
        metrics.get("typo")
    metric = ExampleMetric(name="mse", dtype="float16")
    assert metric.name == "mse" and len(metric.variables) == 2
    rng = np.random.default_rng(0)
    y_true, y_pred = rng.random((10, 3)), rng.random((10, 3))
    metric.update_state(y_true, y_pred)
    all_close(metric.result(), np.sum((y_true - y_pred) ** 2) / 10, atol=1e-3)
    with pytest.raises(AttributeError):
        metric.dtype = "float64"


# ---- beyond Keras's tests: compile, fit, save, bad input ------------------------------------
def test_new_metrics_train_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((48, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 0)
    model = dc.Sequential([dc.layers.Dense(3, activation="softmax")])
    compiled = [
        "auc",
        "top_k_categorical_accuracy",
        dc.metrics.F1Score(average="macro"),
        dc.metrics.Precision(thresholds=[0.3, 0.6], class_id=1, name="p1"),
        dc.metrics.Recall(top_k=2),
        dc.metrics.RootMeanSquaredError(),
        dc.metrics.AUC(curve="PR", multi_label=True, name="pr_auc"),
        dc.metrics.KLDivergence(),
        dc.metrics.CategoricalCrossentropy(label_smoothing=0.1),
        dc.metrics.MeanMetricWrapper(dc.metrics.categorical_hinge, name="hinge_mean"),
    ]
    model.compile("adam", "categorical_crossentropy", metrics=compiled, weighted_metrics=["accuracy", "auc"])
    y = np.eye(3)[labels]
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, sample_weight=np.linspace(0.5, 1.5, 48))
    assert {"auc", "f1_score", "p1", "recall", "pr_auc", "weighted_auc"} <= set(history.history)
    model.save(tmp_path / "m.dc")
    loaded = dc.load_model(tmp_path / "m.dc")
    described = [(type(m).__name__, m.get_config()) for m in loaded.compiled_metrics]
    assert described == [(type(m).__name__, m.get_config()) for m in model.compiled_metrics]
    before = model.evaluate(x, y, return_dict=True)
    after = loaded.evaluate(x, y, return_dict=True)
    for key, value in before.items():
        np.testing.assert_allclose(after[key], value, rtol=1e-6)


def test_metrics_are_callable_and_reset():
    metric = metrics.SparseTopKCategoricalAccuracy(k=2)
    assert metric([0, 1], [[0.1, 0.5, 0.4], [0.1, 0.5, 0.4]]) == 0.5
    assert metric([2], [[0.1, 0.5, 0.4]]) == pytest.approx(2 / 3)
    metric.reset_state()
    assert metric.result() == 0.0 and metric.count == 0


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: metrics.TopKCategoricalAccuracy(k=0), ValueError, ["TopKCategoricalAccuracy", "k=0"]),
        (lambda: metrics.Precision(top_k=1.5), TypeError, ["Precision", "top_k=1.5"]),
        (lambda: metrics.BinaryAccuracy(threshold="high"), TypeError, ["BinaryAccuracy", "'high'"]),
        (lambda: metrics.AUC(num_labels=3), ValueError, ["num_labels", "multi_label"]),
        (lambda: metrics.Mean(dtype="no_such_type"), ValueError, ["Mean", "'no_such_type'"]),
        (lambda: metrics.get("no_such_metric"), ValueError, ["no_such_metric", "auc"]),
        (lambda: metrics.get(42), ValueError, ["metric identifier", "42"]),
        (
            lambda: metrics.SparseTopKCategoricalAccuracy()([7], [[0.1, 0.9]]),
            ValueError,
            ["sparse_top_k_categorical_accuracy", "[0, 2)"],
        ),
        (
            lambda: metrics.Precision(class_id=5)(np.eye(3), np.eye(3)),
            ValueError,
            ["precision", "class_id=5"],
        ),
        (
            lambda: metrics.MeanSquaredError()([[1.0, 2.0]], [[1.0, 2.0]], sample_weight=[1.0, 2.0, 3.0]),
            ValueError,
            ["mean_squared_error", "(3,)", "(1,)"],
        ),
    ],
)
def test_bad_input_names_the_metric_and_what_it_got(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value)


def test_a_copied_metric_counts_on_its_own():
    # fit probes a copy.copy of each compiled metric on the data first: the copy's counts must
    # not reach the original's arrays
    import copy

    for metric in (
        metrics.AUC(),
        metrics.Precision(),
        metrics.TruePositives(),
        metrics.F1Score(),
        metrics.Mean(),
    ):
        probe = copy.copy(metric)
        if isinstance(metric, metrics.Mean):
            probe.update_state([1.0, 2.0])
        else:
            probe.update_state(np.eye(2), np.eye(2))
        assert all(not np.any(v) for v in metric.variables), type(metric).__name__


def test_shape_errors_name_the_metric():
    with pytest.raises(ValueError, match=r"binary_accuracy: y_true \(3, 1\) and y_pred \(4, 1\)"):
        metrics.BinaryAccuracy()(np.zeros(3), np.zeros((4, 1)))
