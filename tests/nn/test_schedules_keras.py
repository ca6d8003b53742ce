"""Keras 3's learning-rate schedule tests, ported: the inputs, arguments, expected numbers and
tolerances of keras/src/optimizers/schedules/learning_rate_schedule_test.py (keras-team/keras),
each test named after the one it comes from (Class.test_name). Keras's assertAllClose(x, y,
1e-6) is atol = 1e-6 (and its default rtol, 1e-6)."""

import json
import math

import numpy as np
import pytest

import densecore as dc

schedules = dc.optimizers.schedules


def assert_close(actual, desired, atol=1e-6, rtol=1e-6):
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol)


def serialization_roundtrip(instance):
    """Keras's run_class_serialization_test for a schedule."""
    config = instance.get_config()
    text = json.dumps(config, sort_keys=True)
    revived = type(instance).from_config(json.loads(text))
    assert json.dumps(revived.get_config(), sort_keys=True) == text
    assert set(dir(revived)) == set(dir(instance))
    again = schedules.deserialize(json.loads(json.dumps(schedules.serialize(instance))))
    assert json.dumps(again.get_config(), sort_keys=True) == text


# ---- TestFitLRSchedulesFlow ---------------------------------------------------------------------
def test_fit_lr_correctness():
    """TestFitLRSchedulesFlow.test_fit_lr_correctness: Adam on an exponential schedule through
    fit; the step count is the optimizer's first variable, and the losses are Keras's."""
    model = dc.Sequential([dc.layers.Dense(2, kernel_initializer="ones", bias_initializer="ones")])
    optimizer = dc.optimizers.Adam(
        learning_rate=schedules.ExponentialDecay(initial_learning_rate=0.05, decay_steps=1, decay_rate=0.9)
    )
    assert len(optimizer.variables) == 1
    assert optimizer.variables[0] == 0
    model.compile(optimizer=optimizer, loss="mse")
    x = np.arange(32).reshape((16, 2))
    y = np.arange(32).reshape((16, 2))
    history = model.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    assert optimizer.variables[0] == 4 * 3
    assert_close(
        history.history["loss"], [230.79457092285156, 128.30319213867188, 79.33648681640625], rtol=5e-5
    )


# ---- ExponentialDecayTest -----------------------------------------------------------------------
def test_exponential_decay_config():
    """ExponentialDecayTest.test_config."""
    serialization_roundtrip(
        schedules.ExponentialDecay(
            initial_learning_rate=0.05, decay_steps=10, decay_rate=0.96, staircase=True, name="my_ed"
        )
    )


def test_exponential_decay_continuous():
    """ExponentialDecayTest.test_continuous."""
    assert_close(schedules.ExponentialDecay(0.05, 10, 0.96)(5), 0.05 * 0.96 ** (5.0 / 10.0), 1e-6)


def test_exponential_decay_staircase():
    """ExponentialDecayTest.test_staircase (a float step, as Keras's Variable(1.0))."""
    decayed_lr = schedules.ExponentialDecay(0.1, 3, 0.96, staircase=True)
    assert_close(decayed_lr(1.0), 0.1, 1e-6)
    assert_close(decayed_lr(2), 0.1, 1e-6)
    assert_close(decayed_lr(100), 0.1 * 0.96 ** (100 // 3), 1e-6)


def test_exponential_decay_variables():
    """ExponentialDecayTest.test_variables (numpy scalar steps)."""
    decayed_lr = schedules.ExponentialDecay(0.1, 3, 0.96, staircase=True)
    assert_close(decayed_lr(np.int64(1)), 0.1, 1e-6)
    assert_close(decayed_lr(np.float32(2)), 0.1, 1e-6)
    assert_close(decayed_lr(np.int64(100)), 0.1 * 0.96 ** (100 // 3), 1e-6)


# ---- PiecewiseConstantDecayTest -----------------------------------------------------------------
def test_piecewise_constant_decay_config():
    """PiecewiseConstantDecayTest.test_config."""
    serialization_roundtrip(
        schedules.PiecewiseConstantDecay(boundaries=[10, 20], values=[1, 2, 3], name="my_pcd")
    )


def test_piecewise_values():
    """PiecewiseConstantDecayTest.test_piecewise_values."""
    decayed_lr = schedules.PiecewiseConstantDecay([100, 110, 120], [1.0, 0.1, 0.01, 0.001])
    for step, expected in [(-999.0, 1.0), (100, 1.0), (105, 0.1), (110, 0.1), (120, 0.01), (999, 0.001)]:
        assert_close(decayed_lr(step), expected, 1e-6)


def test_piecewise_boundary_values():
    """PiecewiseConstantDecayTest.test_boundary_values."""
    decayed_lr = schedules.PiecewiseConstantDecay([1, 2, 3], [0.4, 0.5, 0.6, 0.7])
    for step, expected in [(0, 0.4), (1, 0.4), (2, 0.5), (3, 0.6), (4, 0.7)]:
        assert_close(decayed_lr(np.int64(step)), expected, 1e-6)


# ---- LinearDecayTest (PolynomialDecay, power 1) -------------------------------------------------
def test_linear_decay_config():
    """LinearDecayTest.test_config."""
    serialization_roundtrip(
        schedules.PolynomialDecay(
            initial_learning_rate=0.1,
            decay_steps=100,
            end_learning_rate=0.005,
            power=1.0,
            cycle=False,
            name="my_ld",
        )
    )


@pytest.mark.parametrize(
    "test, step, end_lr, cycle, expected",
    [
        ("test_halfway", 5, 0.0, False, 0.05 * 0.5),
        ("test_end", 10, 0.001, False, 0.001),
        ("test_halfway_with_end", 5, 0.001, False, (0.05 + 0.001) * 0.5),
        ("test_beyond_end", 15, 0.001, False, 0.001),
        ("test_beyond_end_with_cycle", 15, 0.001, True, (0.05 - 0.001) * 0.25 + 0.001),
    ],
)
def test_linear_decay(test, step, end_lr, cycle, expected):
    """LinearDecayTest.<test>: lr 0.05 over 10 steps."""
    assert_close(schedules.PolynomialDecay(0.05, 10, end_lr, cycle=cycle)(step), expected, 1e-6)


# ---- SqrtDecayTest (PolynomialDecay, power 0.5) -------------------------------------------------
@pytest.mark.parametrize(
    "test, step, end_lr, cycle, expected",
    [
        ("test_halfway", 5, 0.0, False, 0.05 * 0.5**0.5),
        ("test_end", 10, 0.001, False, 0.001),
        ("test_halfway_with_end", 5, 0.001, False, (0.05 - 0.001) * 0.5**0.5 + 0.001),
        ("test_beyond_end", 15, 0.001, False, 0.001),
        ("test_beyond_end_with_cycle", 15, 0.001, True, (0.05 - 0.001) * 0.25**0.5 + 0.001),
    ],
)
def test_sqrt_decay(test, step, end_lr, cycle, expected):
    """SqrtDecayTest.<test>: lr 0.05 over 10 steps, power 0.5."""
    assert_close(schedules.PolynomialDecay(0.05, 10, end_lr, power=0.5, cycle=cycle)(step), expected, 1e-6)


def test_sqrt_decay_begin_with_cycle():
    """SqrtDecayTest.test_begin_with_cycle."""
    assert_close(schedules.PolynomialDecay(0.001, 10, cycle=True)(0), 0.001, 1e-6)


# ---- InverseTimeDecayTest -----------------------------------------------------------------------
def test_inverse_time_decay_config():
    """InverseTimeDecayTest.test_config."""
    serialization_roundtrip(
        schedules.InverseTimeDecay(
            initial_learning_rate=0.05, decay_steps=10, decay_rate=0.96, staircase=True, name="my_itd"
        )
    )


def test_inverse_time_decay():
    """InverseTimeDecayTest.test_decay."""
    decayed_lr = schedules.InverseTimeDecay(0.1, 10, 0.96)
    for i in range(10 + 1):
        assert_close(decayed_lr(float(i)), 0.1 / (1 + i / 10 * 0.96), 1e-6)


def test_inverse_time_decay_staircase():
    """InverseTimeDecayTest.test_staircase."""
    decayed_lr = schedules.InverseTimeDecay(0.1, 10, 0.96, staircase=True)
    for i in range(10 + 1):
        assert_close(decayed_lr(float(i)), 0.1 / (1 + 0.96 * (i // 10)), 1e-6)


# ---- CosineDecayTest ----------------------------------------------------------------------------
def np_cosine_decay(step, decay_steps, alpha=0.0):
    step = min(step, decay_steps)
    decay = 0.5 * (1.0 + math.cos(math.pi * step / decay_steps))
    return (1.0 - alpha) * decay + alpha


def linear_warmup(step, warmup_steps, initial_lr, target_lr):
    return step / warmup_steps * (target_lr - initial_lr)


def test_cosine_decay_config():
    """CosineDecayTest.test_config."""
    serialization_roundtrip(
        schedules.CosineDecay(
            initial_learning_rate=0.05,
            decay_steps=10,
            alpha=0.1,
            warmup_target=0.2,
            warmup_steps=2,
            name="my_cd",
        )
    )


@pytest.mark.parametrize("initial_lr", [1.0, np.float64(1.0)], ids=["test_decay", "test_float64"])
def test_cosine_decay(initial_lr):
    """CosineDecayTest.test_decay and test_float64."""
    for step in range(0, 1500, 250):
        assert_close(schedules.CosineDecay(initial_lr, 1000)(step), np_cosine_decay(step, 1000), 1e-6)


def test_cosine_decay_warmup():
    """CosineDecayTest.test_warmup."""
    for step in range(0, 1500, 250):
        lr = schedules.CosineDecay(0.0, 10, warmup_target=10.0, warmup_steps=1500)
        assert_close(lr(step), linear_warmup(step, 1500, 0.0, 10.0))


def test_cosine_decay_alpha():
    """CosineDecayTest.test_alpha."""
    for step in range(0, 1500, 250):
        assert_close(schedules.CosineDecay(1.0, 1000, 0.1)(step), np_cosine_decay(step, 1000, 0.1), 1e-6)


def test_cosine_decay_warmup_decay():
    """CosineDecayTest.test_warmup_decay."""
    for step in range(0, 3000, 250):
        lr = schedules.CosineDecay(0.0, 1000, warmup_target=10.0, warmup_steps=2000)
        if step < 2000 + 1:
            expected = linear_warmup(step, 2000, 0.0, 10.0)
        else:
            expected = 10.0 * np_cosine_decay(step - 2000, 1000)
        assert_close(lr(step), expected)


# ---- CosineDecayRestartsTest --------------------------------------------------------------------
def np_cosine_decay_restarts(step, decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0):
    fac = 1.0
    while step >= decay_steps:
        step -= decay_steps
        decay_steps *= t_mul
        fac *= m_mul
    decay = fac * 0.5 * (1.0 + math.cos(math.pi * step / decay_steps))
    return (1.0 - alpha) * decay + alpha


def test_cosine_decay_restarts_config():
    """CosineDecayRestartsTest.test_config."""
    serialization_roundtrip(
        schedules.CosineDecayRestarts(
            initial_learning_rate=0.05, first_decay_steps=10, alpha=0.1, t_mul=3.0, m_mul=4.0, name="my_cdr"
        )
    )


@pytest.mark.parametrize(
    "test, initial_lr, options",
    [
        ("test_decay", 1.0, {}),
        ("test_float64", np.float64(1.0), {}),
        ("test_alpha", 1.0, {"alpha": 0.1}),
        ("test_mmul", 1.0, {"m_mul": 0.9}),
        ("test_tmul", 1.0, {"t_mul": 1.0}),
    ],
)
def test_cosine_decay_restarts(test, initial_lr, options):
    """CosineDecayRestartsTest.<test>."""
    for step in range(0, 1500, 250):
        decayed_lr = schedules.CosineDecayRestarts(initial_lr, 1000, **options)
        assert_close(decayed_lr(step), np_cosine_decay_restarts(step, 1000, **options), 1e-6)


# ---- issue #19 item 3: every argument checked, from a file too ----------------------------------
@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: schedules.ExponentialDecay(0.1, decay_steps=float("nan"), decay_rate=0.9), "decay_steps"),
        (lambda: schedules.ExponentialDecay(0.1, decay_steps=0, decay_rate=0.9), "decay_steps"),
        (lambda: schedules.ExponentialDecay(0.1, 10, decay_rate=-0.5), "decay_rate"),
        (lambda: schedules.ExponentialDecay(float("inf"), 10, 0.9), "initial_learning_rate"),
        (lambda: schedules.ExponentialDecay(0.1, 10, 0.9, staircase="yes"), "staircase"),
        (lambda: schedules.CosineDecay(0.1, 100, alpha=float("nan")), "alpha"),
        (lambda: schedules.CosineDecay(0.1, 100, alpha=1.5), "alpha"),
        (lambda: schedules.CosineDecay(0.1, 100, warmup_target=-1.0), "warmup_target"),
        (lambda: schedules.CosineDecay(0.1, 100, warmup_steps=-1), "warmup_steps"),
        (lambda: schedules.PolynomialDecay(0.1, 100, power=-1.0), "power"),
        (lambda: schedules.PolynomialDecay(0.1, 100, end_learning_rate=float("nan")), "end_learning_rate"),
        (lambda: schedules.InverseTimeDecay(0.1, -1, 0.5), "decay_steps"),
        (lambda: schedules.CosineDecayRestarts(0.1, 0), "first_decay_steps"),
        (lambda: schedules.CosineDecayRestarts(0.1, 10, t_mul=0.5), "t_mul"),
        (lambda: schedules.CosineDecayRestarts(0.1, 10, m_mul=float("nan")), "m_mul"),
        (lambda: schedules.PiecewiseConstantDecay([1, 2], [0.1, float("nan"), 0.01]), "values"),
        (lambda: schedules.PiecewiseConstantDecay([2, 1], [0.1, 0.05, 0.01]), "boundaries"),
    ],
)
def test_every_argument_is_checked_at_construction(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`"):
        make()


def test_piecewise_lengths_as_keras():
    with pytest.raises(
        ValueError, match="The length of boundaries should be 1 less than the length of values"
    ):
        schedules.PiecewiseConstantDecay([1, 2], [0.1, 0.2])


def test_from_config_checks_and_every_schedule_drives_an_optimizer():
    with pytest.raises(ValueError, match="alpha"):
        schedules.CosineDecay.from_config(
            {"initial_learning_rate": 0.1, "decay_steps": 10, "alpha": float("nan")}
        )
    for schedule in (
        schedules.ExponentialDecay(0.1, 2, 0.5),
        schedules.PiecewiseConstantDecay([1], [0.1, 0.01]),
        schedules.PolynomialDecay(0.1, 2),
        schedules.InverseTimeDecay(0.1, 1, 1.0),
        schedules.CosineDecay(0.0, 2, warmup_target=0.1, warmup_steps=2),
        schedules.CosineDecayRestarts(0.1, 2),
    ):
        optimizer = dc.optimizers.SGD(schedule)
        w = dc.Tensor(np.zeros(1, np.float32))
        rates = []
        for _ in range(5):
            rates.append(optimizer.current_learning_rate())
            optimizer.apply_gradients([(np.ones(1, np.float32), w)])
        assert_close(-w.data, [sum(rates)], rtol=1e-5)
        assert all(math.isfinite(r) and r >= 0 for r in rates)
        config = dc.optimizers.serialize(optimizer)
        assert (
            dc.optimizers.deserialize(json.loads(json.dumps(config))).get_config() == optimizer.get_config()
        )


def test_keras_namespace():
    """keras.optimizers.schedules.X, and densecore 0.1's dc.optimizers.X, both work."""
    assert dc.optimizers.schedules.CosineDecayRestarts is dc.optimizers.CosineDecayRestarts
    assert issubclass(dc.optimizers.schedules.PolynomialDecay, dc.optimizers.schedules.LearningRateSchedule)
