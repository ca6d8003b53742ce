"""Keras 3's regularizer and constraint tests, ported: the inputs, arguments, expected numbers
and tolerances of keras/src/regularizers/regularizers_test.py and
keras/src/constraints/constraints_test.py (keras-team/keras), each test named after the one
it comes from.

Not ported: OrthogonalRegularizer (densecore does not have it).
"""

import json

import numpy as np
import pytest

import densecore as dc
from densecore.nn import constraints
from densecore.nn.regularizers import validate_float_arg

regularizers = dc.regularizers


def assert_close(actual, desired, atol=1e-6, rtol=1e-6):
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol)


def value_of(penalty) -> float:
    """A penalty's value (a scalar Tensor), as Keras's assertAllClose reads a tensor."""
    return penalty.item()


def weight(value):
    """A weight, as Keras's backend.Variable."""
    return dc.Tensor(value, requires_grad=True)


def serialization_roundtrip(instance, module):
    config = instance.get_config()
    text = json.dumps(config, sort_keys=True)
    revived = type(instance).from_config(json.loads(text))
    assert json.dumps(revived.get_config(), sort_keys=True) == text
    assert set(dir(revived)) == set(dir(instance))
    again = module.deserialize(json.loads(json.dumps(module.serialize(instance))))
    assert json.dumps(again.get_config(), sort_keys=True) == text


# ---- regularizers_test.py: RegularizersTest ---------------------------------------------------
def test_config():
    """RegularizersTest.test_config (L1, L2, L1L2)."""
    for reg in (regularizers.L1(0.1), regularizers.L2(0.1), regularizers.L1L2(l1=0.1, l2=0.2)):
        serialization_roundtrip(reg, regularizers)


def test_l1():
    """RegularizersTest.test_l1."""
    value = np.random.random((4, 4)).astype(np.float32)
    assert_close(value_of(regularizers.L1(0.1)(weight(value))), 0.1 * np.sum(np.abs(value)))


def test_l2():
    """RegularizersTest.test_l2."""
    value = np.random.random((4, 4)).astype(np.float32)
    assert_close(value_of(regularizers.L2(0.1)(weight(value))), 0.1 * np.sum(np.square(value)))


def test_l1_l2():
    """RegularizersTest.test_l1_l2."""
    value = np.random.random((4, 4)).astype(np.float32)
    y = regularizers.L1L2(l1=0.1, l2=0.2)(weight(value))
    assert_close(value_of(y), 0.1 * np.sum(np.abs(value)) + 0.2 * np.sum(np.square(value)))


def test_get_method():
    """RegularizersTest.test_get_method (without orthogonal_regularizer)."""
    assert isinstance(regularizers.get("l1l2"), regularizers.L1L2)
    assert isinstance(regularizers.get("l1"), regularizers.L1)
    assert isinstance(regularizers.get("l2"), regularizers.L2)
    assert regularizers.get(None) is None
    with pytest.raises(ValueError):
        regularizers.get("typo")


def test_l1l2_get_config():
    """RegularizersTest.test_l1l2_get_config."""
    reg = regularizers.L1L2(l1=0.01, l2=0.02)
    config = reg.get_config()
    assert_close(config["l1"], 0.01)
    assert_close(config["l2"], 0.02)
    reg_from_config = regularizers.L1L2.from_config(config)
    assert reg_from_config.get_config() == config
    assert_close(reg_from_config.l1, 0.01)
    assert_close(reg_from_config.l2, 0.02)


@pytest.mark.parametrize(
    "test, make, value, expected",
    [
        ("test_l1_with_zero_weights", lambda: regularizers.L1(0.1), np.zeros((4, 4)), 0.0),
        ("test_l1_zero_coefficient", lambda: regularizers.L1(0.0), np.random.random((4, 4)), 0.0),
        ("test_l2_with_zero_weights", lambda: regularizers.L2(0.1), np.zeros((4, 4)), 0.0),
        ("test_l2_zero_coefficient", lambda: regularizers.L2(0.0), np.random.random((4, 4)), 0.0),
        (
            "test_l1l2_zero_coefficients",
            lambda: regularizers.L1L2(l1=0.0, l2=0.0),
            np.random.random((4, 4)),
            0.0,
        ),
        ("test_l1l2_with_zero_weights", lambda: regularizers.L1L2(l1=0.1, l2=0.2), np.zeros((4, 4)), 0.0),
    ],
)
def test_zero_penalties(test, make, value, expected):
    """RegularizersTest.<test>: the penalty is 0.0 (a scalar Tensor, never None: issue #18)."""
    penalty = make()(weight(value.astype(np.float32)))
    assert isinstance(penalty, dc.Tensor) and penalty.shape == ()
    assert_close(value_of(penalty), expected)


def test_l1_with_negative_weights():
    """RegularizersTest.test_l1_with_negative_weights."""
    y_pos = regularizers.L1(0.1)(weight(np.ones((4, 4), np.float32)))
    y_neg = regularizers.L1(0.1)(weight(-np.ones((4, 4), np.float32)))
    assert_close(value_of(y_pos), value_of(y_neg))


def test_l2_is_larger_than_l1_for_large_weights():
    """RegularizersTest.test_l2_is_larger_than_l1_for_large_weights."""
    x = weight(np.ones((4, 4), np.float32) * 10.0)
    assert value_of(regularizers.L2(1.0)(x)) > value_of(regularizers.L1(1.0)(x))


def test_l2_is_smaller_than_l1_for_small_weights():
    """RegularizersTest.test_l2_is_smaller_than_l1_for_small_weights."""
    x = weight(np.ones((4, 4), np.float32) * 0.1)
    assert value_of(regularizers.L2(1.0)(x)) < value_of(regularizers.L1(1.0)(x))


def test_l1l2_only_l1():
    """RegularizersTest.test_l1l2_only_l1."""
    x = weight(np.random.random((4, 4)).astype(np.float32))
    assert_close(value_of(regularizers.L1L2(l1=0.1, l2=0.0)(x)), value_of(regularizers.L1(0.1)(x)))


def test_l1l2_only_l2():
    """RegularizersTest.test_l1l2_only_l2."""
    x = weight(np.random.random((4, 4)).astype(np.float32))
    assert_close(value_of(regularizers.L1L2(l1=0.0, l2=0.1)(x)), value_of(regularizers.L2(0.1)(x)))


# ---- regularizers_test.py: ValidateFloatArgTest -----------------------------------------------
def test_validate_float_with_valid_args():
    """ValidateFloatArgTest.test_validate_float_with_valid_args."""
    assert validate_float_arg(1, "test") == 1.0
    assert validate_float_arg(1.0, "test") == 1.0


@pytest.mark.parametrize(
    "test, value",
    [
        ("test_validate_float_with_invalid_types", "not_a_number"),
        ("test_validate_float_with_nan", float("nan")),
        ("test_validate_float_with_inf", float("inf")),
        ("test_validate_float_with_inf", -float("inf")),
        ("test_validate_float_with_negative_number", -1),
        ("test_validate_float_with_negative_float", -0.001),
        ("test_validate_float_with_none", None),
        ("test_validate_float_with_list", [0.1]),
    ],
)
def test_validate_float_refuses(test, value):
    """ValidateFloatArgTest.<test>."""
    with pytest.raises(ValueError, match="expected a non-negative float"):
        validate_float_arg(value, "test")


def test_validate_float_with_zero():
    """ValidateFloatArgTest.test_validate_float_with_zero."""
    assert validate_float_arg(0, "test") == 0.0
    assert validate_float_arg(0.0, "test") == 0.0


def test_validate_float_with_very_small_positive():
    """ValidateFloatArgTest.test_validate_float_with_very_small_positive."""
    assert validate_float_arg(1e-10, "test") == pytest.approx(1e-10)


def test_validate_float_returns_float_type():
    """ValidateFloatArgTest.test_validate_float_returns_float_type."""
    assert isinstance(validate_float_arg(1, "test"), float)
    assert isinstance(validate_float_arg(1.0, "test"), float)


def test_validate_float_with_large_positive():
    """ValidateFloatArgTest.test_validate_float_with_large_positive."""
    assert validate_float_arg(1e6, "test") == pytest.approx(1e6)


# ---- regularizers in densecore: Keras's errors and defaults, training with a zero factor ------
@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: regularizers.L1(-0.1), "l1"),
        (lambda: regularizers.L2(float("nan")), "l2"),
        (lambda: regularizers.L1L2(l1=float("inf")), "l1"),
        (lambda: regularizers.L1L2(l2="0.1"), "l2"),
        (lambda: regularizers.L1L2.from_config({"l1": -1.0, "l2": 0.0}), "l1"),
    ],
)
def test_factors_are_checked_and_name_the_argument(make, argument):
    with pytest.raises(ValueError, match=f"Received: {argument}="):
        make()


def test_none_means_the_default_as_keras():
    assert regularizers.L1(None).l1 == 0.01 and regularizers.L2(None).l2 == 0.01
    assert regularizers.L1L2(None, None).get_config() == {"l1": 0.0, "l2": 0.0}
    assert isinstance(regularizers.get({"class_name": "L2", "config": {"l2": 0.5}}), regularizers.L2)


def test_a_zero_factor_regularizer_trains_and_penalties_have_gradients():
    dc.set_seed(0)
    model = dc.Sequential(
        [
            dc.layers.Dense(3, kernel_regularizer=regularizers.L1(0.0), input_shape=(2,)),
            dc.layers.Dense(1, kernel_regularizer=regularizers.L1L2(0.0, 0.0)),
        ]
    )
    model.compile("sgd", "mse")
    history = model.fit(np.ones((4, 2), np.float32), np.ones((4, 1), np.float32), epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    w = weight(np.array([1.0, -2.0], np.float32))
    regularizers.L1L2(l1=0.5, l2=0.25)(w).backward()
    assert_close(w.grad, [0.5 * 1 + 0.25 * 2 * 1.0, 0.5 * -1 + 0.25 * 2 * -2.0])


# ---- constraints_test.py: ConstraintsTest -----------------------------------------------------
def get_example_array():
    np.random.seed(3537)
    example_array = np.random.random((100, 100)) * 100.0 - 50.0
    example_array[0, 0] = 0.0
    return example_array


def test_max_norm():
    """ConstraintsTest.test_max_norm."""
    x = np.array([[0, 0, 0], [1.0, 0, 0], [3, 0, 0], [3, 3, 3]]).T
    target = np.array(
        [[0, 0, 0], [1.0, 0, 0], [2.0, 0, 0], [2.0 / np.sqrt(3), 2.0 / np.sqrt(3), 2.0 / np.sqrt(3)]]
    ).T
    assert_close(constraints.MaxNorm(2.0)(x), target)


def test_non_neg():
    """ConstraintsTest.test_non_neg."""
    assert (np.min(constraints.NonNeg()(get_example_array()), axis=1) >= 0.0).all()


def test_unit_norm():
    """ConstraintsTest.test_unit_norm."""
    output = constraints.UnitNorm()(get_example_array())
    assert_close(np.sqrt(np.sum(np.square(output), axis=0)), 1.0)


def test_min_max_norm():
    """ConstraintsTest.test_min_max_norm."""
    output = constraints.MinMaxNorm(min_value=0.2, max_value=0.5)(get_example_array())
    l2 = np.sqrt(np.sum(np.square(output), axis=0))
    assert np.all(l2 >= 0.2) and np.all(l2 <= 0.5 + 1e-6)


def test_constraints_get_method():
    """ConstraintsTest.test_get_method."""
    assert isinstance(constraints.get("unit_norm"), constraints.UnitNorm)
    assert constraints.get(None) is None
    with pytest.raises(ValueError):
        constraints.get("typo")


def test_default_constraint_call():
    """ConstraintsTest.test_default_constraint_call."""
    x = np.array([1.0, 2.0, 3.0])
    assert_close(constraints.Constraint()(x), x)


def test_constraint_get_config():
    """ConstraintsTest.test_constraint_get_config."""
    assert constraints.Constraint().get_config() == {}


def test_constraint_from_config():
    """ConstraintsTest.test_constraint_from_config."""
    assert isinstance(
        constraints.Constraint.from_config(constraints.Constraint().get_config()), constraints.Constraint
    )


@pytest.mark.parametrize(
    "test, constraint, expected_config",
    [
        (
            "test_max_norm_get_config",
            constraints.MaxNorm(max_value=3.0, axis=1),
            {"max_value": 3.0, "axis": 1},
        ),
        ("test_unit_norm_get_config", constraints.UnitNorm(axis=1), {"axis": 1}),
        (
            "test_min_max_norm_get_config",
            constraints.MinMaxNorm(min_value=0.5, max_value=2.0, rate=0.7, axis=1),
            {"min_value": 0.5, "max_value": 2.0, "rate": 0.7, "axis": 1},
        ),
    ],
)
def test_constraint_configs(test, constraint, expected_config):
    """ConstraintsTest.<test>: the config, and the same projection after from_config."""
    assert constraint.get_config() == expected_config
    restored = type(constraint).from_config(constraint.get_config())
    assert vars(restored) == vars(constraint)
    x = get_example_array()
    assert_close(constraint(x), restored(x))
    serialization_roundtrip(constraint, constraints)


def test_non_neg_get_config():
    """ConstraintsTest.test_non_neg_get_config."""
    assert constraints.NonNeg().get_config() == {}


def test_non_neg_from_config():
    """ConstraintsTest.test_non_neg_from_config."""
    assert isinstance(constraints.NonNeg.from_config(constraints.NonNeg().get_config()), constraints.NonNeg)


def test_non_neg_serialization_roundtrip():
    """ConstraintsTest.test_non_neg_serialization_roundtrip."""
    original = constraints.NonNeg()
    restored = constraints.NonNeg.from_config(original.get_config())
    x = get_example_array()
    assert_close(original(x), restored(x))


def test_non_neg_zeroes_negatives():
    """ConstraintsTest.test_non_neg_zeroes_negatives."""
    assert_close(constraints.NonNeg()(np.full((5, 5), -3.0)), np.zeros((5, 5)))


def test_non_neg_preserves_positives():
    """ConstraintsTest.test_non_neg_preserves_positives."""
    x = np.full((5, 5), 3.0)
    assert_close(constraints.NonNeg()(x), x)


def test_non_neg_all_zeros_input():
    """ConstraintsTest.test_non_neg_all_zeros_input."""
    assert_close(constraints.NonNeg()(np.zeros((5, 5))), np.zeros((5, 5)))


# ---- constraints in densecore: checks, and the optimizer applying them after each step --------
@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: constraints.MaxNorm(max_value=-1), "max_value"),
        (lambda: constraints.MaxNorm(max_value=float("nan")), "max_value"),
        (lambda: constraints.MinMaxNorm(min_value=2.0, max_value=1.0), "max_value"),
        (lambda: constraints.MinMaxNorm(rate=1.5), "rate"),
        (lambda: constraints.UnitNorm(axis=0.5), "axis"),
        (lambda: constraints.MaxNorm.from_config({"max_value": "2", "axis": 0}), "max_value"),
    ],
)
def test_constraint_arguments_are_checked(make, argument):
    with pytest.raises(ValueError, match=f"Received: {argument}="):
        make()


def test_a_weights_constraint_holds_after_every_step_of_fit():
    """Keras applies a variable's constraint right after the optimizer updates it; add_weight's
    `constraint` puts it on the weight, and Optimizer.apply applies it."""

    class Scale(dc.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(
                shape=(input_shape[-1],), initializer="ones", constraint=constraints.NonNeg()
            )

        def call(self, inputs):
            return inputs * self.w

    model = dc.Sequential([Scale()])
    model.compile(dc.optimizers.SGD(1.0), "mse")
    model.fit(np.ones((8, 3), np.float32), -np.ones((8, 3), np.float32), epochs=3, verbose=0)
    assert (model.layers[0].w.data >= 0).all() and (model.layers[0].w.data == 0).any()


def test_constrain_refuses_a_projection_of_another_shape():
    w = dc.Tensor(np.ones(3, np.float32))
    w.constraint = lambda data: data[:2]
    with pytest.raises(ValueError, match="returned shape"):
        constraints.constrain(w)
    np.testing.assert_array_equal(w.data, np.ones(3))
