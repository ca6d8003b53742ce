"""Losses against Keras 3 as the oracle: the inputs, arguments and expected numbers of Keras's
own tests (keras-team/keras, keras/src/losses/losses_test.py and loss_test.py), carried over
as data, each test naming the Keras test it comes from, with Keras's tolerances
(assertAlmostEqual: 3 decimals unless given; assertAllClose: atol = rtol = 1e-6 unless given).

Left out: the dtype tests in bfloat16 (numpy has no bfloat16; float16 is tested instead), Keras
masks (densecore has no masking layers), and the losses densecore does not have (the focal
cross-entropies, CTC, Dice, Tversky, Circle, CategoricalGeneralizedCrossEntropy).

The last part checks what Keras's tests cannot: every differentiable loss passes gradcheck,
the fused kernels agree with the per-sample graph, and every loss trains through fit.
"""

import pickle
import warnings

import numpy as np
import pytest

import densecore as dc
from densecore import functional as F
from densecore import losses


def value(x):
    return x.numpy() if isinstance(x, dc.Tensor) else np.asarray(x)


def almost_equal(actual, desired, decimal=3):
    """Keras's assertAlmostEqual."""
    np.testing.assert_almost_equal(value(actual), desired, decimal=decimal)


def all_close(actual, desired, atol=1e-6, rtol=1e-6):
    """Keras's assertAllClose."""
    np.testing.assert_allclose(value(actual), desired, atol=atol, rtol=rtol)


def round_trip(loss):
    """Keras's run_class_serialization_test, for what densecore saves: get_config through
    from_config (and through JSON, as model.save writes it) gives the same config."""
    import json

    config = loss.get_config()
    again = type(loss).from_config(json.loads(json.dumps(config)))
    assert again.get_config() == config
    assert losses.get({"class_name": type(loss).__name__, "config": config}).get_config() == config
    return again


# The regression tests' shared data (MeanSquaredErrorTest and the classes after it).
Y_TRUE = np.array([[1, 9, 2], [-5, -2, 6]])
Y_PRED = np.array([[4, 8, 12], [8, 1, 3]], dtype="float32")
TIMESTEP_TRUE = np.asarray([1, 9, 2, -5, -2, 6]).reshape(2, 3, 1)
TIMESTEP_PRED = np.asarray([4, 8, 12, 8, 1, 3]).reshape(2, 3, 1)
TIMESTEP_WEIGHT = np.array([3, 6, 5, 0, 4, 2]).reshape((2, 3))
SAMPLE_WEIGHT = np.array([[1.2], [3.4]])


# ---- keras/src/losses/loss_test.py ----------------------------------------------------------
class ExampleLoss(losses.Loss):
    def call(self, y_true, y_pred):
        return (y_true - y_pred) ** 2


def test_squeeze_or_expand():
    # keras/src/losses/loss_test.py::LossTest::test_squeeze_or_expand
    for a, b, want in [((3,), (3, 1), (3, 1)), ((3, 2), (3, 2, 1), (3, 2))]:
        x1, x2 = F._same_rank(np.ones(a), np.ones(b))
        assert x1.shape == want and x2.shape == want
        x2, x1 = F._same_rank(np.ones(b), np.ones(a))
        assert x1.shape == want and x2.shape == want


def test_reduction():
    # keras/src/losses/loss_test.py::LossTest::test_reduction
    y_true = np.array([1.0, 0.0, 1.0, 0.0])
    y_pred = np.array([0.1, 0.2, 0.3, 0.4], dtype="float32")
    squares = (y_true - y_pred) ** 2
    loss = ExampleLoss(reduction=None)(y_true, y_pred)
    assert loss.dtype == np.float32
    all_close(loss, squares)
    all_close(ExampleLoss(reduction="sum")(y_true, y_pred), np.sum(squares))
    all_close(ExampleLoss(reduction="sum_over_batch_size")(y_true, y_pred), np.sum(squares) / 4)
    with pytest.raises(ValueError, match="Invalid value for argument"):
        ExampleLoss(reduction="abc")


def test_sample_weight():
    # keras/src/losses/loss_test.py::LossTest::test_sample_weight
    sample_weight = np.array([0.4, 0.3, 0.2, 0.1])
    y_true = np.array([1.0, 0.0, 1.0, 0.0])
    y_pred = np.array([0.1, 0.2, 0.3, 0.4], dtype="float32")
    loss = ExampleLoss()(y_true, y_pred, sample_weight=sample_weight)
    assert loss.dtype == np.float32
    all_close(loss, np.sum(sample_weight * (y_true - y_pred) ** 2) / 4)
    all_close(ExampleLoss()(y_true, y_pred, sample_weight=np.zeros(4)), 0)  # no NaN


def test_mixed_dtypes():
    # keras/src/losses/loss_test.py::LossTest::test_mixed_dtypes
    sample_weight = np.array([0.4, 0.3, 0.2, 0.1], dtype="float64")
    y_true = np.array([1.0, 0.0, 1.0, 0.0], dtype="int32")
    y_pred = np.array([0.1, 0.2, 0.3, 0.4], dtype="float32")
    loss = ExampleLoss()(y_true, y_pred, sample_weight=sample_weight)
    assert loss.dtype == np.float32
    all_close(loss, np.sum(sample_weight * (y_true - y_pred) ** 2) / 4)


def test_pickle():
    # keras/src/losses/loss_test.py::LossTest::test_pickle. Keras's get("mse") is the function;
    # densecore's get gives the Loss that compile needs (the function's class), which pickles.
    loss = pickle.loads(pickle.dumps(losses.get("mse")))
    assert isinstance(loss, losses.MeanSquaredError)


def test_get_method():
    # keras/src/losses/loss_test.py::LossTest::test_get_method (get("mse"): see test_pickle)
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)
    assert losses.get(losses.mean_squared_error).get_config() == losses.MeanSquaredError().get_config()
    assert losses.get(None) is None
    with pytest.raises(ValueError):
        losses.get("typo")


def test_dtype_arg():
    # keras/src/losses/loss_test.py::LossTest::test_dtype_arg (float16; no DTypePolicy)
    y_true = np.array([1.0, 0.0, 1.0, 0.0], dtype="float32")
    y_pred = np.array([0.1, 0.2, 0.3, 0.4], dtype="float32")
    loss_fn = ExampleLoss(dtype="float16")
    assert loss_fn(y_true, y_pred).dtype == np.float16
    with pytest.raises(AttributeError):
        loss_fn.dtype = "float64"


# ---- keras/src/losses/losses_test.py: the regression losses ---------------------------------
def test_mean_squared_error_config():
    # keras/src/losses/losses_test.py::MeanSquaredErrorTest::test_config
    round_trip(losses.MeanSquaredError(name="mymse"))


def test_mean_squared_error_base_function_reduction():
    # keras/src/losses/losses_test.py::MeanSquaredErrorTest::test_base_function_reduction
    loss = losses.mean_squared_error(np.array([4, 8, 12]), np.array([[3], [0], [1]]))
    assert loss.shape == (3,)


# (class, test name) -> (arguments of the call, expected, decimal): the tests that differ only
# in their data.
REGRESSION = {
    # keras/src/losses/losses_test.py::MeanSquaredErrorTest::*
    ("MeanSquaredError", "all_correct_unweighted"): (({}, "same"), 0.0, 3),
    ("MeanSquaredError", "unweighted"): (({}, None), 49.5, 3),
    ("MeanSquaredError", "scalar_weighted"): (({}, 2.3), 113.85, 3),
    ("MeanSquaredError", "sample_weighted"): (({}, SAMPLE_WEIGHT), 767.8 / 6, 3),
    ("MeanSquaredError", "timestep_weighted"): (({}, "timestep"), 97.833336, 3),
    ("MeanSquaredError", "zero_weighted"): (({}, 0), 0.0, 3),
    ("MeanSquaredError", "no_reduction"): (({"reduction": None}, 2.3), [84.3333, 143.3666], 3),
    ("MeanSquaredError", "sum_reduction"): (({"reduction": "sum"}, 2.3), 227.69998, 3),
    ("MeanSquaredError", "mean_with_sample_weight_reduction"): (
        ({"reduction": "mean_with_sample_weight"}, SAMPLE_WEIGHT),
        (110 / 3 * 1.2 + 187 / 3 * 3.4) / (1.2 + 3.4),
        3,
    ),
    # keras/src/losses/losses_test.py::MeanAbsoluteErrorTest::*
    ("MeanAbsoluteError", "all_correct_unweighted"): (({}, "same"), 0.0, 3),
    ("MeanAbsoluteError", "unweighted"): (({}, None), 5.5, 3),
    ("MeanAbsoluteError", "scalar_weighted"): (({}, 2.3), 12.65, 3),
    ("MeanAbsoluteError", "sample_weighted"): (({}, SAMPLE_WEIGHT), 81.4 / 6, 3),
    ("MeanAbsoluteError", "timestep_weighted"): (({}, "timestep"), 13.833333, 3),
    ("MeanAbsoluteError", "zero_weighted"): (({}, 0), 0.0, 3),
    ("MeanAbsoluteError", "no_reduction"): (({"reduction": None}, 2.3), [10.7333, 14.5666], 3),
    ("MeanAbsoluteError", "sum_reduction"): (({"reduction": "sum"}, 2.3), 25.29999, 3),
    ("MeanAbsoluteError", "mean_with_sample_weight_reduction"): (
        ({"reduction": "mean_with_sample_weight"}, SAMPLE_WEIGHT),
        (14 / 3 * 1.2 + 19 / 3 * 3.4) / (1.2 + 3.4),
        3,
    ),
    # keras/src/losses/losses_test.py::MeanAbsolutePercentageErrorTest::*
    ("MeanAbsolutePercentageError", "all_correct_unweighted"): (({}, "same"), 0.0, 3),
    ("MeanAbsolutePercentageError", "unweighted"): (({}, None), 211.8518, 3),
    ("MeanAbsolutePercentageError", "scalar_weighted"): (({}, 2.3), 487.259, 3),
    ("MeanAbsolutePercentageError", "sample_weighted"): (({}, SAMPLE_WEIGHT), 422.8888, 3),
    ("MeanAbsolutePercentageError", "timestep_weighted"): (({}, "timestep"), 694.4444, 3),
    ("MeanAbsolutePercentageError", "zero_weighted"): (({}, 0), 0.0, 3),
    ("MeanAbsolutePercentageError", "no_reduction"): (({"reduction": None}, 2.3), [621.8518, 352.6666], 3),
    ("MeanAbsolutePercentageError", "mean_with_sample_weight_reduction"): (
        ({"reduction": "mean_with_sample_weight"}, SAMPLE_WEIGHT),
        183.865,
        3,
    ),
    # keras/src/losses/losses_test.py::MeanSquaredLogarithmicErrorTest::*
    ("MeanSquaredLogarithmicError", "unweighted"): (({}, None), 1.4370, 3),
    ("MeanSquaredLogarithmicError", "scalar_weighted"): (({}, 2.3), 3.3051, 3),
    ("MeanSquaredLogarithmicError", "sample_weighted"): (({}, SAMPLE_WEIGHT), 3.7856, 3),
    ("MeanSquaredLogarithmicError", "timestep_weighted"): (({}, "timestep"), 2.647374, 3),
    ("MeanSquaredLogarithmicError", "zero_weighted"): (({}, 0), 0.0, 3),
    ("MeanSquaredLogarithmicError", "mean_with_sample_weight_reduction"): (
        ({"reduction": "mean_with_sample_weight"}, SAMPLE_WEIGHT),
        1.646,
        3,
    ),
}


@pytest.mark.parametrize("case", sorted(REGRESSION), ids=lambda case: f"{case[0]}::test_{case[1]}")
def test_regression_losses(case):
    (arguments, weight), expected, decimal = REGRESSION[case]
    loss = getattr(losses, case[0])(**arguments)
    if isinstance(weight, str) and weight == "same":
        result = loss(Y_PRED.astype(int), Y_PRED.astype(int))
    elif isinstance(weight, str) and weight == "timestep":
        result = loss(TIMESTEP_TRUE, TIMESTEP_PRED, sample_weight=TIMESTEP_WEIGHT)
    else:
        result = loss(Y_TRUE, Y_PRED, sample_weight=weight)
    almost_equal(result, expected, decimal)


@pytest.mark.parametrize(
    "cls", ["MeanAbsoluteError", "MeanAbsolutePercentageError", "MeanSquaredLogarithmicError"]
)
def test_regression_config(cls):
    # keras/src/losses/losses_test.py::{MeanAbsoluteError,MeanAbsolutePercentageError,
    # MeanSquaredLogarithmicError}Test::test_config
    loss = getattr(losses, cls)(name="myname")
    assert round_trip(loss).name == "myname"


# ---- hinge losses ---------------------------------------------------------------------------
HINGE_TRUE = np.array([[0.0, 1.0], [0.0, 0.0]])
HINGE_PRED = np.array([[0.6, 0.4], [0.4, 0.6]])
HINGE = {  # class -> (sum_over_batch_size, sum, none) unweighted, then weighted by [1, 0]
    "Hinge": ((1.3, 2.6, [1.1, 1.5]), (0.55, 1.1, [1.1, 0.0])),
    "SquaredHinge": ((1.86, 3.72, [1.46, 2.26]), (0.73, 1.46, [1.46, 0.0])),
    "CategoricalHinge": ((1.4, 2.8, [1.2, 1.6]), (0.6, 1.2, [1.2, 0.0])),
}


@pytest.mark.parametrize("cls", HINGE)
def test_hinge_unweighted(cls):
    # keras/src/losses/losses_test.py::{Hinge,SquaredHinge,CategoricalHinge}Test::test_unweighted
    batch_mean, total, each = HINGE[cls][0]
    loss = getattr(losses, cls)
    almost_equal(loss(reduction="sum_over_batch_size")(HINGE_TRUE, HINGE_PRED), batch_mean)
    almost_equal(loss(reduction="sum")(HINGE_TRUE, HINGE_PRED), total)
    all_close(loss(reduction=None)(HINGE_TRUE, HINGE_PRED), each)
    with pytest.raises(ValueError, match="Invalid value for argument"):
        loss(reduction="abc")


@pytest.mark.parametrize("cls", HINGE)
def test_hinge_weighted(cls):
    # keras/src/losses/losses_test.py::{Hinge,SquaredHinge,CategoricalHinge}Test::test_weighted
    batch_mean, total, each = HINGE[cls][1]
    loss = getattr(losses, cls)
    for reduction, expected in (("sum_over_batch_size", batch_mean), ("sum", total), (None, each)):
        almost_equal(loss(reduction=reduction)(HINGE_TRUE, HINGE_PRED, sample_weight=[1, 0]), expected)


@pytest.mark.parametrize("cls", HINGE)
def test_hinge_zero_weighted(cls):
    # keras/src/losses/losses_test.py::{Hinge,SquaredHinge,CategoricalHinge}Test::test_zero_weighted
    assert getattr(losses, cls)()(HINGE_TRUE, HINGE_PRED, sample_weight=0.0).item() == 0.0


# ---- CosineSimilarity, Huber, LogCosh, KLDivergence, Poisson --------------------------------
def l2_norm(x, axis):
    square_sum = np.sum(np.square(x), axis=axis, keepdims=True)
    return x / np.sqrt(np.maximum(square_sum, 1e-12))


COS_TRUE = np.asarray([[1, 9, 2], [-5, -2, 6]], dtype=np.float32)
COS_PRED = np.asarray([[4, 8, 12], [8, 1, 3]], dtype=np.float32)
COS_EXPECTED = np.sum(l2_norm(COS_TRUE, 1) * l2_norm(COS_PRED, 1), axis=1)


def test_cosine_similarity_config():
    # keras/src/losses/losses_test.py::CosineSimilarityTest::test_config
    loss = losses.CosineSimilarity(axis=2, reduction="sum", name="cosine_loss")
    assert loss.name == "cosine_loss" and loss.reduction == "sum"
    assert loss.get_config() == {"name": "cosine_loss", "reduction": "sum", "axis": 2}
    round_trip(loss)


@pytest.mark.parametrize(
    "test, weight",
    [("unweighted", None), ("scalar_weighted", 2.3), ("sample_weighted", np.asarray([1.2, 3.4]))],
)
def test_cosine_similarity(test, weight):
    # keras/src/losses/losses_test.py::CosineSimilarityTest::test_{unweighted,scalar_weighted,
    # sample_weighted}
    loss = losses.CosineSimilarity()(COS_TRUE, COS_PRED, sample_weight=weight)
    almost_equal(loss, -np.mean(COS_EXPECTED * (1 if weight is None else weight)))


def test_cosine_similarity_timestep_weighted():
    # keras/src/losses/losses_test.py::CosineSimilarityTest::test_timestep_weighted
    y_true, y_pred = COS_TRUE.reshape((2, 3, 1)), COS_PRED.reshape((2, 3, 1))
    expected = np.sum(l2_norm(y_true, 2) * l2_norm(y_pred, 2), axis=(2,))
    loss = losses.CosineSimilarity()(y_true, y_pred, sample_weight=TIMESTEP_WEIGHT)
    almost_equal(loss, -np.mean(expected * TIMESTEP_WEIGHT))


def test_cosine_similarity_zero_weighted_and_axis():
    # keras/src/losses/losses_test.py::CosineSimilarityTest::test_zero_weighted and ::test_axis
    almost_equal(losses.CosineSimilarity()(COS_TRUE, COS_PRED, sample_weight=0), 0.0)
    almost_equal(losses.CosineSimilarity(axis=1)(COS_TRUE, COS_PRED), -np.mean(COS_EXPECTED))


def huber_numpy(y_true, y_pred, delta=1.0):
    error = np.abs(y_pred - y_true)
    quadratic = np.minimum(error, delta)
    return 0.5 * quadratic * quadratic + delta * (error - quadratic)


HUBER_PRED = np.array([[0.9, 0.2, 0.2], [0.8, 0.4, 0.6]])
HUBER_TRUE = np.array([[1.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


def test_huber_config():
    # keras/src/losses/losses_test.py::HuberLossTest::test_config
    loss = losses.Huber(delta=2.0, reduction="sum", name="huber")
    assert loss.name == "huber" and loss.reduction == "sum"
    assert loss.get_config() == {"name": "huber", "reduction": "sum", "delta": 2.0}
    round_trip(loss)


def test_huber():
    # keras/src/losses/losses_test.py::HuberLossTest::test_{all_correct,unweighted,scalar_weighted,
    # sample_weighted,timestep_weighted,zero_weighted,non_default_delta}
    expected = huber_numpy(HUBER_TRUE, HUBER_PRED)
    almost_equal(losses.Huber()(HUBER_TRUE, HUBER_TRUE), 0.0)
    almost_equal(losses.Huber()(HUBER_TRUE, HUBER_PRED), np.sum(expected) / 6)
    loss, again = (losses.Huber()(HUBER_TRUE, HUBER_PRED, sample_weight=2.3) for _ in range(2))
    almost_equal(loss, 2.3 * np.sum(expected) / 6)
    almost_equal(loss, again.item())
    weighted = losses.Huber()(HUBER_TRUE, HUBER_PRED, sample_weight=SAMPLE_WEIGHT)
    almost_equal(weighted, np.sum(expected * np.asarray([1.2, 1.2, 1.2, 3.4, 3.4, 3.4]).reshape((2, 3))) / 6)
    y_pred, y_true = HUBER_PRED.reshape((2, 3, 1)), HUBER_TRUE.reshape((2, 3, 1))
    timestep_weight = np.array([3, 6, 5, 0, 4, 2]).reshape((2, 3, 1))
    timestep = losses.Huber()(y_true, y_pred, sample_weight=timestep_weight)
    almost_equal(timestep, np.sum(huber_numpy(y_true, y_pred) * timestep_weight) / 6)
    almost_equal(losses.Huber()(HUBER_TRUE, HUBER_PRED, sample_weight=0), 0.0)
    delta = losses.Huber(delta=0.8)(HUBER_TRUE, HUBER_PRED, sample_weight=2.3)
    almost_equal(delta, 2.3 * np.sum(huber_numpy(HUBER_TRUE, HUBER_PRED, 0.8)) / 6)


def test_log_cosh():
    # keras/src/losses/losses_test.py::LogCoshTest::test_{config,unweighted,scalar_weighted,
    # sample_weighted,timestep_weighted,zero_weighted}
    loss = losses.LogCosh(reduction="sum", name="logcosh_loss")
    assert loss.get_config() == {"name": "logcosh_loss", "reduction": "sum"}
    y_true, y_pred = Y_TRUE.astype(np.float32), Y_PRED
    error = y_pred - y_true
    expected = np.log((np.exp(error) + np.exp(-error)) / 2)
    almost_equal(losses.LogCosh()(y_true, y_pred), np.sum(expected) / 6)
    almost_equal(losses.LogCosh()(y_true, y_pred, sample_weight=2.3), 2.3 * np.sum(expected) / 6)
    weighted = losses.LogCosh()(y_true, y_pred, sample_weight=np.asarray([1.2, 3.4]))
    almost_equal(weighted, np.sum(expected * np.asarray([1.2, 1.2, 1.2, 3.4, 3.4, 3.4]).reshape((2, 3))) / 6)
    error = TIMESTEP_PRED - TIMESTEP_TRUE
    timestep_expected = np.log((np.exp(error) + np.exp(-error)) / 2)
    weight = TIMESTEP_WEIGHT.reshape((2, 3, 1))
    timestep = losses.LogCosh()(TIMESTEP_TRUE, TIMESTEP_PRED, sample_weight=weight)
    almost_equal(timestep, np.sum(timestep_expected * weight) / 6)
    almost_equal(losses.LogCosh()(y_true, y_pred, sample_weight=0), 0.0)


KLD_PRED = np.asarray([0.4, 0.9, 0.12, 0.36, 0.3, 0.4], dtype=np.float32).reshape((2, 3))
KLD_TRUE = np.asarray([0.5, 0.8, 0.12, 0.7, 0.43, 0.8], dtype=np.float32).reshape((2, 3))


def test_kl_divergence():
    # keras/src/losses/losses_test.py::KLDivergenceTest::test_{config,unweighted,scalar_weighted,
    # sample_weighted,timestep_weighted,zero_weighted}
    loss = losses.KLDivergence(reduction="sum", name="kld")
    assert loss.name == "kld" and loss.reduction == "sum"
    expected = KLD_TRUE * np.log(KLD_TRUE / KLD_PRED)
    almost_equal(losses.KLDivergence()(KLD_TRUE, KLD_PRED), np.sum(expected) / 2)
    almost_equal(losses.KLDivergence()(KLD_TRUE, KLD_PRED, sample_weight=2.3), 2.3 * np.sum(expected) / 2)
    weight = np.asarray([1.2, 3.4], dtype=np.float32).reshape((2, 1))
    weighted = losses.KLDivergence()(KLD_TRUE, KLD_PRED, sample_weight=weight)
    almost_equal(weighted, np.sum(expected * np.repeat(weight, 3, axis=1)) / 2)
    y_true, y_pred = KLD_TRUE.reshape(2, 3, 1), KLD_PRED.reshape(2, 3, 1)
    timestep_expected = np.sum(y_true * np.log(y_true / y_pred), axis=-1)
    timestep = losses.KLDivergence()(y_true, y_pred, sample_weight=TIMESTEP_WEIGHT)
    almost_equal(timestep, np.sum(timestep_expected * TIMESTEP_WEIGHT) / (2 * 3))
    almost_equal(losses.KLDivergence()(KLD_TRUE, KLD_PRED, sample_weight=0), 0.0)


POISSON_PRED = np.asarray([1, 9, 2, 5, 2, 6], dtype=np.float32).reshape((2, 3))
POISSON_TRUE = np.asarray([4, 8, 12, 8, 1, 3], dtype=np.float32).reshape((2, 3))


def test_poisson():
    # keras/src/losses/losses_test.py::PoissonTest::test_{config,unweighted,scalar_weighted,
    # sample_weighted,timestep_weighted,zero_weighted}
    loss = losses.Poisson(reduction="sum", name="poisson")
    assert loss.name == "poisson" and loss.reduction == "sum"
    expected = POISSON_PRED - POISSON_TRUE * np.log(POISSON_PRED)
    almost_equal(losses.Poisson()(POISSON_TRUE, POISSON_PRED), np.sum(expected) / 6)
    almost_equal(losses.Poisson()(POISSON_TRUE, POISSON_PRED, sample_weight=2.3), 2.3 * np.sum(expected) / 6)
    weight = np.asarray([1.2, 3.4]).reshape((2, 1))
    weighted = losses.Poisson()(POISSON_TRUE, POISSON_PRED, sample_weight=weight)
    almost_equal(weighted, np.sum(expected * np.repeat(weight, 3, axis=1)) / 6)
    y_true, y_pred = POISSON_TRUE.reshape(2, 3, 1), POISSON_PRED.reshape(2, 3, 1)
    weight = TIMESTEP_WEIGHT.reshape(2, 3, 1)
    timestep = losses.Poisson()(y_true, y_pred, sample_weight=TIMESTEP_WEIGHT)
    almost_equal(timestep, np.sum((y_pred - y_true * np.log(y_pred)) * weight) / 6)
    almost_equal(losses.Poisson()(POISSON_TRUE, POISSON_PRED, sample_weight=0), 0.0)


# ---- the cross-entropies --------------------------------------------------------------------
EYE = np.array([[1, 0, 0], [0, 1, 0], [0, 0, 1]])
BCE_PRED = np.array([[0.9, 0.1, 0.2], [0.3, 0.8, 0.1], [0.1, 0.2, 0.7]], dtype="float32")
BCE_TRUE_2 = np.array([1, 0, 1, 0]).reshape([2, 2])
BCE_PRED_2 = np.array([1, 1, 1, 0], dtype="float32").reshape([2, 2])
BCE_TRUE_LOGITS = np.array([[1, 0, 1], [0, 1, 1]])
BCE_LOGITS = np.array([[10.0, -10.0, 10.0], [10.0, 10.0, -10.0]])


def test_binary_crossentropy_config():
    # keras/src/losses/losses_test.py::BinaryCrossentropyTest::test_config
    round_trip(losses.BinaryCrossentropy(name="bce", axis=-1))


def test_binary_crossentropy_all_correct_unweighted():
    # keras/src/losses/losses_test.py::BinaryCrossentropyTest::test_all_correct_unweighted
    y_true = EYE.astype("float32")
    almost_equal(losses.BinaryCrossentropy()(y_true, y_true), 0.0)
    logits = np.where(EYE == 1, 10.0, -10.0)
    almost_equal(losses.BinaryCrossentropy(from_logits=True)(y_true, logits), 0.0)


def test_binary_crossentropy_unweighted():
    # keras/src/losses/losses_test.py::BinaryCrossentropyTest::test_unweighted
    all_close(losses.BinaryCrossentropy()(EYE.astype("float32"), BCE_PRED), 0.20046903)
    almost_equal(losses.BinaryCrossentropy()(BCE_TRUE_2, BCE_PRED_2), 3.98559)
    almost_equal(losses.BinaryCrossentropy(from_logits=True)(BCE_TRUE_LOGITS, BCE_LOGITS), 3.3333)


def test_binary_crossentropy_weighted():
    # keras/src/losses/losses_test.py::BinaryCrossentropyTest::test_scalar_weighted and
    # ::test_sample_weighted
    bce, logits = losses.BinaryCrossentropy(), losses.BinaryCrossentropy(from_logits=True)
    almost_equal(bce(BCE_TRUE_2, BCE_PRED_2, sample_weight=2.3), 9.1668)
    almost_equal(logits(BCE_TRUE_LOGITS, BCE_LOGITS, sample_weight=2.3), 7.666)
    almost_equal(bce(BCE_TRUE_2, BCE_PRED_2, sample_weight=np.array([1.2, 3.4]).reshape((2, 1))), 4.7827)
    almost_equal(logits(BCE_TRUE_LOGITS, BCE_LOGITS, sample_weight=np.array([4, 3])), 10.0)


def test_binary_crossentropy_no_reduction():
    # keras/src/losses/losses_test.py::BinaryCrossentropyTest::test_no_reduction
    loss = losses.BinaryCrossentropy(from_logits=True, reduction=None)(BCE_TRUE_LOGITS, BCE_LOGITS)
    all_close(loss, [0.0, 6.666], atol=1e-3)


def test_binary_crossentropy_label_smoothing():
    # keras/src/losses/losses_test.py::BinaryCrossentropyTest::test_label_smoothing
    loss = losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1)
    almost_equal(loss(np.array([[1, 0, 1]]), np.array([[10.0, -10.0, -10.0]])), (10.0 + 5.0 * 0.1) / 3.0)


@pytest.mark.parametrize("cls", ["BinaryCrossentropy", "CategoricalCrossentropy"])
def test_crossentropy_shape_mismatch(cls):
    # keras/src/losses/losses_test.py::{BinaryCrossentropy,CategoricalCrossentropy}Test::
    # test_shape_mismatch
    y_pred = np.array([[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]])
    with pytest.raises(ValueError, match="must have the same shape"):
        getattr(losses, cls)()(np.array([[0], [1], [2]]), y_pred)


CCE_PRED = np.array([[0.9, 0.05, 0.05], [0.5, 0.89, 0.6], [0.05, 0.01, 0.94]], dtype="float32")
CCE_LOGITS = np.array([[8.0, 1.0, 1.0], [0.0, 9.0, 1.0], [2.0, 3.0, 5.0]])
CCE_WEIGHT = np.array([[1.2], [3.4], [5.6]]).reshape((3, 1))


def test_categorical_crossentropy_config():
    # keras/src/losses/losses_test.py::CategoricalCrossentropyTest::test_config
    round_trip(losses.CategoricalCrossentropy(name="cce", axis=-1))


def test_categorical_crossentropy_all_correct_unweighted():
    # keras/src/losses/losses_test.py::CategoricalCrossentropyTest::test_all_correct_unweighted
    y_true = EYE.astype("int64")
    almost_equal(losses.CategoricalCrossentropy()(y_true, EYE.astype("float32")), 0.0)
    almost_equal(losses.CategoricalCrossentropy(from_logits=True)(y_true, 10.0 * EYE), 0.0)


# (unweighted, scalar 2.3, CCE_WEIGHT) from probabilities, then from logits: the numbers of
# CategoricalCrossentropyTest and SparseCategoricalCrossentropyTest, which share their data.
CROSSENTROPY = ((0.3239, 0.7449, 1.0696), (0.0573, 0.1317, 0.31829))


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize(
    "weight", [None, 2.3, "array"], ids=["unweighted", "scalar_weighted", "sample_weighted"]
)
def test_categorical_crossentropy(weight, from_logits):
    # keras/src/losses/losses_test.py::CategoricalCrossentropyTest::test_{unweighted,
    # scalar_weighted,sample_weighted}
    expected = CROSSENTROPY[from_logits][[None, 2.3, "array"].index(weight)]
    sample_weight = CCE_WEIGHT if isinstance(weight, str) else weight
    y_pred = CCE_LOGITS if from_logits else CCE_PRED
    almost_equal(
        losses.CategoricalCrossentropy(from_logits=from_logits)(EYE, y_pred, sample_weight), expected
    )


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize(
    "weight", [None, 2.3, "array"], ids=["unweighted", "scalar_weighted", "sample_weighted"]
)
def test_sparse_categorical_crossentropy(weight, from_logits):
    # keras/src/losses/losses_test.py::SparseCategoricalCrossentropyTest::test_{unweighted,
    # scalar_weighted,sample_weighted}: 0.3239 from probabilities is the renormalisation bug's
    # regression test (before, densecore gave 0.0946)
    expected = CROSSENTROPY[from_logits][[None, 2.3, "array"].index(weight)]
    sample_weight = CCE_WEIGHT if isinstance(weight, str) else weight
    y_true = np.array([0, 1, 2]) if weight is None else np.array([[0], [1], [2]])
    y_pred = CCE_LOGITS if from_logits else CCE_PRED
    loss = losses.SparseCategoricalCrossentropy(from_logits=from_logits)
    almost_equal(loss(y_true, y_pred, sample_weight), expected, 3)
    # the function too, as Keras's (and the graph's)
    per_sample = losses.sparse_categorical_crossentropy(y_true, y_pred, from_logits=from_logits)
    weights = 1.0 if sample_weight is None else np.reshape(sample_weight, -1)
    almost_equal(np.mean(per_sample.numpy() * weights), expected, 3)
    almost_equal(F.sparse_categorical_crossentropy(y_true, y_pred, from_logits, sample_weight), expected, 3)


def test_categorical_crossentropy_warning_for_invalid_shape():
    # keras/src/losses/losses_test.py::CategoricalCrossentropyTest::test_warning_for_invalid_shape
    match = r"expected y_pred.shape to be \(batch_size, num_classes\)"
    with pytest.warns(SyntaxWarning, match=match):
        losses.categorical_crossentropy(np.array([[1], [1]], "float32"), np.array([[0.5], [0.5]], "float32"))
    with pytest.warns(SyntaxWarning, match=match):
        losses.categorical_crossentropy(np.ones((2, 1, 4), "float32"), np.ones((2, 1, 4), "float32"), axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SyntaxWarning)
        losses.categorical_crossentropy(np.ones((2, 4, 1), "float32"), np.ones((2, 4, 1), "float32"), axis=1)


@pytest.mark.parametrize("cls", ["CategoricalCrossentropy", "SparseCategoricalCrossentropy"])
def test_crossentropy_no_reduction(cls):
    # keras/src/losses/losses_test.py::{CategoricalCrossentropy,SparseCategoricalCrossentropy}Test::
    # test_no_reduction
    y_true = EYE if cls.startswith("Categorical") else np.array([[0], [1], [2]])
    loss = getattr(losses, cls)(from_logits=True, reduction=None)(y_true, CCE_LOGITS)
    all_close(loss, (0.001822, 0.000459, 0.169846))


def test_categorical_crossentropy_label_smoothing():
    # keras/src/losses/losses_test.py::CategoricalCrossentropyTest::test_label_smoothing and
    # ::test_label_smoothing_ndarray
    loss = losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)
    almost_equal(loss(np.asarray([[1, 0, 0]]), np.asarray([[100.0, -100.0, -100.0]])), 400.0 * 0.1 / 3.0)


def test_categorical_crossentropy_label_smoothing_with_axis():
    # keras/src/losses/losses_test.py::CategoricalCrossentropyTest::test_label_smoothing_with_axis
    y_true = np.array([[[1, 0], [0, 1], [0, 0]], [[0, 1], [1, 0], [0, 0]]], dtype="float32")
    y_pred = np.array(
        [[[0.8, 0.1], [0.1, 0.8], [0.1, 0.1]], [[0.1, 0.8], [0.8, 0.1], [0.1, 0.1]]], dtype="float32"
    )
    loss = losses.CategoricalCrossentropy(label_smoothing=0.1, axis=1)(y_true, y_pred)
    smoothed = y_true * 0.9 + 0.1 / 3
    almost_equal(loss, np.mean(-np.sum(smoothed * np.log(y_pred), axis=1)), decimal=5)


def test_sparse_categorical_crossentropy_config():
    # keras/src/losses/losses_test.py::SparseCategoricalCrossentropyTest::test_config
    round_trip(losses.SparseCategoricalCrossentropy(name="scce"))
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=3, axis=0, name="scce")
    config = loss.get_config()
    assert config["from_logits"] is True and config["ignore_class"] == 3 and config["axis"] == 0
    round_trip(loss)


def test_sparse_categorical_crossentropy_all_correct_unweighted():
    # keras/src/losses/losses_test.py::SparseCategoricalCrossentropyTest::
    # test_all_correct_unweighted
    y_true = np.array([[0], [1], [2]], dtype="int64")
    almost_equal(losses.SparseCategoricalCrossentropy()(y_true, EYE.astype("float32")), 0.0)
    almost_equal(losses.SparseCategoricalCrossentropy(from_logits=True)(y_true, 10.0 * EYE), 0.0)


def test_sparse_categorical_crossentropy_ignore_class():
    # keras/src/losses/losses_test.py::SparseCategoricalCrossentropyTest::test_ignore_class
    logits = np.array([[[0.854, 0.698, 0.598], [0.088, 0.86, 0.018]]])
    loss = losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=-1, reduction=None)
    all_close(loss(np.array([[-1, 2]]), logits), [[0.0, 1.480129]])
    all_close(loss(np.array([[[-1], [2]]]), logits), [[0.0, 1.480129]])


SEGMENT_TRUE = np.array([[0, 1, 1, 0], [1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 1]])
SEGMENT_PRED = np.eye(2)[SEGMENT_TRUE]  # every pixel right
SEGMENT_PRED_OFF = SEGMENT_PRED.copy()  # two pixels less sure
SEGMENT_PRED_OFF[0, 3], SEGMENT_PRED_OFF[3, 3] = [0.2, 0.8], [0.6, 0.4]
MULTI_TRUE = np.array([[0, 1, 2, 0], [1, 0, 1, 0], [0, 0, 1, 1], [1, 1, 0, 1]])
MULTI_PRED = np.eye(3)[MULTI_TRUE]
MULTI_PRED_OFF = MULTI_PRED.copy()
MULTI_PRED_OFF[0, 3], MULTI_PRED_OFF[1, 0], MULTI_PRED_OFF[3, 2] = [0.2, 0, 0.8], [0.7, 0.3, 0], [0.5, 0.5, 0]


def test_sparse_categorical_crossentropy_binary_segmentation():
    # keras/src/losses/losses_test.py::SparseCategoricalCrossentropyTest::test_binary_segmentation
    all_close(losses.SparseCategoricalCrossentropy()(SEGMENT_TRUE, SEGMENT_PRED), 0.0)
    expected = -(np.log(0.2) + np.log(0.4)) / 16.0  # 16 pixels
    all_close(losses.SparseCategoricalCrossentropy()(SEGMENT_TRUE, SEGMENT_PRED_OFF), expected)


def test_sparse_categorical_crossentropy_binary_segmentation_different_axis():
    # keras/src/losses/losses_test.py::SparseCategoricalCrossentropyTest::
    # test_binary_segmentation_different_axis (its torch branch: a channels-first axis)
    moved = np.moveaxis(SEGMENT_PRED, source=2, destination=0)
    all_close(losses.SparseCategoricalCrossentropy(axis=0)(SEGMENT_TRUE, moved), 0.0)
    expected = -(np.log(0.2) + np.log(0.4)) / 16.0
    moved = np.moveaxis(SEGMENT_PRED_OFF, source=2, destination=0)
    all_close(losses.SparseCategoricalCrossentropy(axis=0)(SEGMENT_TRUE, moved), expected)
    three = losses.SparseCategoricalCrossentropy(axis=1)(np.array([SEGMENT_TRUE] * 3), np.array([moved] * 3))
    all_close(three, expected)


def test_sparse_categorical_crossentropy_squeezes_singleton_class_dim_on_user_axis():
    # keras/src/losses/losses_test.py::SparseCategoricalCrossentropyTest::
    # test_squeezes_singleton_class_dim_on_user_axis
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 2, size=(2, 1, 4, 4)).astype("float32")
    y_pred = rng.random((2, 2, 4, 4)).astype("float32")
    assert losses.sparse_categorical_crossentropy(y_true, y_pred, axis=1).shape == (2, 4, 4)


def test_sparse_categorical_crossentropy_multi_class_segmentation():
    # keras/src/losses/losses_test.py::SparseCategoricalCrossentropyTest::
    # test_multi_class_segmentation and ::test_multi_class_segmentation_different_axis (torch)
    all_close(losses.SparseCategoricalCrossentropy()(MULTI_TRUE, MULTI_PRED), 0.0)
    expected = -(np.log(0.2) + np.log(0.3) + np.log(0.5)) / 16.0
    all_close(losses.SparseCategoricalCrossentropy()(MULTI_TRUE, MULTI_PRED_OFF), expected)
    moved = np.moveaxis(MULTI_PRED, source=2, destination=0)
    all_close(losses.SparseCategoricalCrossentropy(axis=0)(MULTI_TRUE, moved), 0.0)
    moved = np.moveaxis(MULTI_PRED_OFF, source=2, destination=0)
    all_close(losses.SparseCategoricalCrossentropy(axis=0)(MULTI_TRUE, moved), expected)
    three = losses.SparseCategoricalCrossentropy(axis=1)(np.array([MULTI_TRUE] * 3), np.array([moved] * 3))
    all_close(three, expected)


# ---- beyond Keras's tests: gradients, the fused path, training -------------------------------
RNG = np.random.default_rng(7)
T_REAL = RNG.uniform(0.1, 2.0, (5, 4))
T_PROB = RNG.dirichlet(np.ones(4), 5)
T_BINARY = (RNG.random((5, 4)) > 0.5).astype(float)
T_LABELS = RNG.integers(0, 4, 5)

GRADCHECKED = {  # name -> (the loss of y_pred, y_pred's range)
    "mean_squared_error": (lambda p: losses.MeanSquaredError()(T_REAL, p), (-1, 3)),
    "mean_absolute_error": (lambda p: losses.MeanAbsoluteError()(T_REAL, p), (-1, 3)),
    "mean_absolute_percentage_error": (lambda p: losses.MeanAbsolutePercentageError()(T_REAL, p), (-1, 3)),
    "mean_squared_logarithmic_error": (lambda p: losses.MeanSquaredLogarithmicError()(T_REAL, p), (0.1, 3)),
    "huber": (lambda p: losses.Huber(delta=0.7)(T_REAL, p), (-1, 3)),
    "log_cosh": (lambda p: losses.LogCosh()(T_REAL, p), (-3, 3)),
    "kl_divergence": (lambda p: losses.KLDivergence()(T_PROB, p), (0.05, 0.95)),
    "poisson": (lambda p: losses.Poisson()(T_REAL, p), (0.1, 3)),
    "hinge": (lambda p: losses.Hinge()(T_BINARY, p), (-2, 2)),
    "squared_hinge": (lambda p: losses.SquaredHinge()(T_BINARY, p), (-2, 2)),
    "categorical_hinge": (lambda p: losses.CategoricalHinge()(np.eye(4)[T_LABELS], p), (-2, 2)),
    "cosine_similarity": (lambda p: losses.CosineSimilarity()(T_REAL, p), (-2, 2)),
    "cosine_similarity_axis_0": (
        lambda p: losses.CosineSimilarity(axis=0, reduction="sum")(T_REAL, p),
        (-2, 2),
    ),
    "bce_smoothed_sum": (
        lambda p: losses.BinaryCrossentropy(label_smoothing=0.2, reduction="sum")(T_BINARY, p),
        (0.05, 0.95),
    ),
    "bce_logits_smoothed": (
        lambda p: losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.3)(T_BINARY, p),
        (-3, 3),
    ),
    "cce_logits_smoothed_weighted": (
        lambda p: losses.CategoricalCrossentropy(from_logits=True, label_smoothing=0.1)(
            np.eye(4)[T_LABELS], p, sample_weight=np.arange(5.0)
        ),
        (-3, 3),
    ),
    "cce_probabilities_axis_0": (
        lambda p: losses.CategoricalCrossentropy(axis=0, reduction="mean_with_sample_weight")(
            T_PROB, p, sample_weight=[0.5, 1, 2, 1]
        ),
        (0.05, 0.95),
    ),
    "scce_probabilities_renormalised": (
        lambda p: losses.SparseCategoricalCrossentropy()(T_LABELS, p, sample_weight=2.0),
        (0.05, 0.95),
    ),
    "scce_logits_ignore_class": (
        lambda p: losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=1)(T_LABELS, p),
        (-3, 3),
    ),
    "per_sample_function": (lambda p: losses.huber(T_REAL, p).sum(), (-1, 3)),
}


@pytest.mark.parametrize("name", GRADCHECKED)
def test_every_loss_passes_gradcheck(name):
    fn, (low, high) = GRADCHECKED[name]
    p = dc.Tensor(np.random.default_rng(1).uniform(low, high, (5, 4)), requires_grad=True)
    if name.startswith("kl"):
        p = dc.Tensor(p.data / p.data.sum(axis=1, keepdims=True), requires_grad=True)
    assert dc.gradcheck(fn, [p])


FUSED = {  # the fused kernels and the per-sample graph give the same loss and gradient
    "binary": (lambda: T_BINARY, lambda **k: losses.BinaryCrossentropy(from_logits=True, **k)),
    "categorical": (
        lambda: np.eye(4)[T_LABELS],
        lambda **k: losses.CategoricalCrossentropy(from_logits=True, **k),
    ),
    "sparse": (lambda: T_LABELS, lambda **k: losses.SparseCategoricalCrossentropy(from_logits=True, **k)),
    "squared": (lambda: T_REAL, lambda **k: losses.MeanSquaredError(**k)),
}


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
@pytest.mark.parametrize("kind", FUSED)
def test_fused_kernels_equal_the_per_sample_graph(kind, reduction):
    target, make = FUSED[kind]
    z = np.random.default_rng(2).standard_normal((5, 4))
    weights = np.array([1.0, 0.5, 2.0, 0.0, 3.0])
    fused = dc.Tensor(z, requires_grad=True)
    value = make(reduction=reduction)(target(), fused, sample_weight=weights)
    value.backward()
    graph = dc.Tensor(z, requires_grad=True)
    per_sample = make(reduction="none")(target(), graph)
    by_graph = F.reduce_weighted_values(per_sample, weights, reduction)
    by_graph.backward()
    np.testing.assert_allclose(value.item(), by_graph.item(), rtol=1e-12)
    np.testing.assert_allclose(fused.grad, graph.grad, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize(
    "loss, units, activation, target",
    [
        (losses.Huber(delta=0.5), 2, None, "real"),
        (losses.MeanSquaredLogarithmicError(), 2, "relu", "real"),
        (losses.MeanAbsolutePercentageError(), 2, None, "real"),
        (losses.LogCosh(), 2, None, "real"),
        (losses.Poisson(), 2, "relu", "real"),
        (losses.KLDivergence(), 3, "softmax", "onehot"),
        (losses.Hinge(), 1, "tanh", "binary"),
        (losses.SquaredHinge(), 1, "tanh", "binary"),
        (losses.CategoricalHinge(), 3, None, "onehot"),
        (losses.CosineSimilarity(), 2, None, "real"),
        (losses.BinaryCrossentropy(label_smoothing=0.1), 1, "sigmoid", "binary"),
        (losses.CategoricalCrossentropy(label_smoothing=0.1), 3, "softmax", "onehot"),
        (losses.SparseCategoricalCrossentropy(ignore_class=2), 3, "softmax", "labels"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, losses.Loss) else None,
)
def test_every_loss_trains_through_fit(loss, units, activation, target):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4)).astype(np.float32)
    labels = (x[:, 0] > 0).astype(np.int64) + (x[:, 1] > 1)
    y = {
        "real": np.abs(x[:, :2]) + 0.5,
        "binary": labels[:, None] % 2,
        "onehot": np.eye(3)[labels],
        "labels": labels,
    }[target]
    dc.set_seed(0)
    model = dc.Sequential(
        [dc.layers.Dense(8, activation="tanh"), dc.layers.Dense(units, activation=activation)]
    )
    model.compile(dc.optimizers.Adam(0.01), loss=loss)
    history = model.fit(x, y, epochs=8, batch_size=16, verbose=0).history["loss"]
    assert np.all(np.isfinite(history)) and history[-1] < history[0]


def test_per_sample_functions_return_keras_shapes():
    y_true, y_pred = np.ones((4, 3)), np.full((4, 3), 0.5)
    for name, fn in losses.FUNCTIONS.items():
        labels = name.startswith("sparse")
        out = fn(np.zeros(4, int) if labels else y_true, y_pred)
        assert isinstance(out, dc.Tensor) and out.shape == (4,), name


def test_bad_arguments_raise_keras_error_types_before_any_work():
    with pytest.raises(
        ValueError,
        match="MeanSquaredError: Invalid value for argument `reduction`.*Received: reduction='avg'",
    ):
        losses.MeanSquaredError(reduction="avg")
    with pytest.raises(ValueError, match=r"BinaryCrossentropy: label_smoothing .*1.5"):
        losses.BinaryCrossentropy(label_smoothing=1.5)
    with pytest.raises(ValueError, match=r"CategoricalCrossentropy: `axis` must be of type `int`"):
        losses.CategoricalCrossentropy(axis=True)
    with pytest.raises(ValueError, match=r"Huber: delta .*delta=-1"):
        losses.Huber(delta=-1)
    with pytest.raises(ValueError, match=r"MeanSquaredError: dtype .*'bfloat16'"):
        losses.MeanSquaredError(dtype="bfloat16")
    with pytest.raises(TypeError, match=r"SparseCategoricalCrossentropy: ignore_class .*'void'"):
        losses.SparseCategoricalCrossentropy(ignore_class="void")
    with pytest.raises(ValueError, match=r"losses.get: unknown loss 'msee'"):
        losses.get("msee")
    with pytest.raises(ValueError, match=r"mean_squared_error: sample weights must have shape \(2,\)"):
        losses.MeanSquaredError()(Y_TRUE, Y_PRED, sample_weight=[1.0, 2.0, 3.0])


def test_config_dicts_and_old_files():
    assert isinstance(losses.get({"class_name": "Poisson", "config": {"reduction": "sum"}}), losses.Poisson)
    assert losses.deserialize(losses.serialize(losses.Huber(delta=3.0))).delta == 3.0
    # files written before the regression losses took Keras's arguments stored from_logits=False
    old = losses.MeanSquaredError.from_config({"from_logits": False, "name": "mean_squared_error"})
    assert old.get_config() == losses.MeanSquaredError().get_config()
    assert isinstance(losses.get("Huber"), losses.Huber) and isinstance(
        losses.get(losses.LogCosh), losses.LogCosh
    )


def test_loss_function_wrapper_round_trips_by_name():
    wrapper = losses.LossFunctionWrapper(losses.huber, delta=0.5, reduction="sum", name="h")
    again = losses.LossFunctionWrapper.from_config(wrapper.get_config())
    t, p = [[0.0, 1.0]], [[0.6, 0.4]]
    assert again(t, p).item() == wrapper(t, p).item() == pytest.approx(0.175)


@pytest.mark.parametrize("cls", sorted(losses.CLASSES))
def test_every_loss_saves_and_loads_with_its_settings(cls, tmp_path):
    settings = {
        "BinaryCrossentropy": {"label_smoothing": 0.2, "reduction": "sum"},
        "CategoricalCrossentropy": {"label_smoothing": 0.1, "axis": -1},
        "SparseCategoricalCrossentropy": {"ignore_class": 2},
        "Huber": {"delta": 0.5},
        "CosineSimilarity": {"name": "cos"},
    }.get(cls, {"reduction": "mean", "dtype": "float64"})
    loss = losses.CLASSES[cls](**settings)
    model = dc.Sequential([dc.Input((4,)), dc.layers.Dense(3, activation="softmax")])
    model.compile("adam", loss)
    model.save(tmp_path / "m.dc")
    loaded = dc.load_model(tmp_path / "m.dc").loss
    assert type(loaded) is type(loss) and loaded.get_config() == loss.get_config()


def test_every_name_compiles():
    for name in sorted(losses.ALL):
        model = dc.Sequential([dc.layers.Dense(2)])
        model.compile("sgd", name)
        assert isinstance(model.loss, losses.ALL[name])
