"""Keras 3's own optimizer tests, ported: the inputs, arguments, expected numbers and
tolerances of keras/src/optimizers/*_test.py (keras-team/keras), each test named after the
one it comes from. Keras is not needed: its numbers are carried over as data.

Not ported (densecore has no such feature): EMA of the weights (test_ema*), loss scaling
(test_static_loss_scaling), gradient accumulation (test_gradient_accumulation*),
overwrite_with_gradient, and the TensorFlow-only tests.
"""

import json
import pickle
import warnings
import zipfile

import numpy as np
import pytest

import densecore as dc
from densecore.nn import constraints

opt = dc.optimizers


def variable(values, name=None, dtype=np.float32):
    """A weight, as Keras's backend.Variable (float32: Keras's floatx)."""
    weight = dc.Tensor(np.array(values, dtype), requires_grad=True)
    weight.name = name
    return weight


def assert_close(actual, desired, rtol=1e-6, atol=1e-6):
    """Keras's assertAllClose, with its default tolerances."""
    np.testing.assert_allclose(np.asarray(actual, np.float64), desired, rtol=rtol, atol=atol)


def serialization_roundtrip(instance):
    """Keras's run_class_serialization_test: get_config → JSON → from_config gives the same
    config and attributes; serialize → JSON → deserialize too."""
    config = instance.get_config()
    text = json.dumps(config, sort_keys=True)
    revived = type(instance).from_config(json.loads(text))
    assert json.dumps(revived.get_config(), sort_keys=True) == text
    assert set(dir(revived)) == set(dir(instance))
    again = opt.deserialize(json.loads(json.dumps(opt.serialize(instance))))
    assert type(again) is type(instance)
    assert json.dumps(again.get_config(), sort_keys=True) == text
    return revived


GRADS = np.arange(0.1, 1.1, 0.1).astype(np.float32)  # ops.arange(0.1, 1.1, 0.1)
FIRST_GRADS = np.full(10, 0.01, np.float32)  # ops.full((10,), 0.01)


def run_golden(optimizer, golden, dtype=np.float32):
    """Keras's test_correctness_with_golden loop: one step with FIRST_GRADS, then steps with
    GRADS, comparing x with golden's rows (rtol = atol = 5e-4)."""
    x = variable(np.ones(10), dtype=dtype)
    optimizer.apply_gradients(zip([FIRST_GRADS.astype(dtype)], [x]))
    for i in range(5):
        assert_close(x.data, golden[i], rtol=5e-4, atol=5e-4)
        optimizer.apply_gradients(zip([GRADS.astype(dtype)], [x]))


def run_weight_decay(make):
    """Keras's test_weight_decay (the same in sgd/adam/adamw/rmsprop/adamax/nadam/adagrad)."""
    grads, var1, var2, var3 = (
        np.zeros((), np.float32),
        variable(2.0),
        variable(2.0, name="exclude"),
        variable(2.0),
    )
    optimizer_1 = make(learning_rate=1.0, weight_decay=0.004)
    optimizer_1.apply_gradients(zip([grads], [var1]))
    optimizer_2 = make(learning_rate=1.0, weight_decay=0.004)
    optimizer_2.exclude_from_weight_decay(var_names=["exclude"])
    optimizer_2.apply_gradients(zip([grads, grads], [var1, var2]))
    optimizer_3 = make(learning_rate=1.0, weight_decay=0.004)
    optimizer_3.exclude_from_weight_decay(var_list=[var3])
    optimizer_3.apply_gradients(zip([grads, grads], [var1, var3]))
    np.testing.assert_almost_equal(var1.data, 1.9760959, decimal=6)
    np.testing.assert_almost_equal(var2.data, 2.0, decimal=6)
    np.testing.assert_almost_equal(var3.data, 2.0, decimal=6)


def run_single_step(optimizer, expected):
    """Keras's test_single_step: grads [1, 6, 7, 2] on [1, 2, 3, 4] (rtol = atol = 1e-4)."""
    grads = np.array([1.0, 6.0, 7.0, 2.0], np.float32)
    weights = variable([1.0, 2.0, 3.0, 4.0])
    optimizer.apply_gradients(zip([grads], [weights]))
    assert_close(weights.data, expected, rtol=1e-4, atol=1e-4)


CLASSES = [opt.SGD, opt.Adam, opt.AdamW, opt.RMSprop, opt.Adamax, opt.Nadam, opt.Adagrad]


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_clip_norm_and_clip_value_of_every_optimizer(cls):
    """<each>_test.py test_clip_norm and test_clip_value."""
    clipped = cls(clipnorm=1)._clip_gradients([np.array([100.0, 100.0])])
    assert_close(clipped[0], [2**0.5 / 2, 2**0.5 / 2])
    clipped = cls(clipvalue=1)._clip_gradients([np.array([100.0, 100.0])])
    assert_close(clipped[0], [1.0, 1.0])


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_weight_decay_of_every_optimizer(cls):
    """<each>_test.py test_weight_decay."""
    run_weight_decay(cls)


# ---- sgd_test.py ------------------------------------------------------------------------------
def test_sgd_config():
    """sgd_test.py test_config."""
    serialization_roundtrip(opt.SGD(learning_rate=0.5, momentum=0.06, nesterov=True, weight_decay=0.004))


def test_sgd_single_step():
    """sgd_test.py test_single_step: also the variables (iterations, learning rate)."""
    optimizer = opt.SGD(learning_rate=0.5)
    assert len(optimizer.variables) == 2
    grads = np.array([1.0, 6.0, 7.0, 2.0], np.float32)
    weights = variable([1.0, 2.0, 3.0, 4.0])
    optimizer.build([weights])
    optimizer.apply_gradients(zip([grads], [weights]))
    assert_close(weights.data, [0.5, -1.0, -0.5, 3.0], rtol=1e-4, atol=1e-4)
    assert len(optimizer.variables) == 2
    assert optimizer.variables[0] == 1
    assert optimizer.variables[1] == 0.5


def test_sgd_invalid_momentum():
    """sgd_test.py test_invalid_momentum."""
    for momentum in (-1.0, 2.0):
        with pytest.raises(ValueError, match=r"`momentum` must be a float between \[0, 1\]."):
            opt.SGD(momentum=momentum)


def test_sgd_correctness_with_golden():
    """sgd_test.py test_correctness_with_golden (Nesterov, with its default momentum 0)."""
    golden = np.array(
        [
            [0.9999] * 10,
            [0.9989, 0.9979, 0.9969, 0.9959, 0.9949, 0.9939, 0.9929, 0.9919, 0.9909, 0.9899],
            [0.9979, 0.9959, 0.9939, 0.9919, 0.9899, 0.9879, 0.9859, 0.9839, 0.9819, 0.9799],
            [0.9969, 0.9939, 0.9909, 0.9879, 0.9849, 0.9819, 0.9789, 0.9759, 0.9729, 0.9699],
            [0.9959, 0.9919, 0.9879, 0.9839, 0.9799, 0.9759, 0.9719, 0.9679, 0.9639, 0.9599],
        ]
    )
    run_golden(opt.SGD(nesterov=True), golden)


# ---- adam_test.py -----------------------------------------------------------------------------
def test_adam_config():
    """adam_test.py test_config."""
    serialization_roundtrip(opt.Adam(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5, amsgrad=True))


def test_adam_single_step():
    """adam_test.py test_single_step."""
    run_single_step(opt.Adam(learning_rate=0.5), [0.5, 1.5, 2.5, 3.5])


def test_adam_correctness_with_golden():
    """adam_test.py test_correctness_with_golden (AMSGrad)."""
    golden = np.tile([[0.999], [0.9982], [0.9974], [0.9965], [0.9955]], (1, 10))
    run_golden(opt.Adam(amsgrad=True), golden)


# ---- adamw_test.py ----------------------------------------------------------------------------
def test_adamw_config():
    """adamw_test.py test_config."""
    serialization_roundtrip(
        opt.AdamW(learning_rate=0.5, weight_decay=0.008, beta_1=0.5, beta_2=0.67, epsilon=1e-5, amsgrad=True)
    )


def test_adamw_single_step():
    """adamw_test.py test_single_step."""
    run_single_step(opt.AdamW(learning_rate=0.5), [0.4980, 1.4960, 2.494, 3.492])


def test_adamw_weight_decay_is_none():
    """adamw_test.py test_weight_decay_is_none."""
    with pytest.raises(
        ValueError, match="Argument `weight_decay` must be a float. Received: weight_decay=None"
    ):
        opt.AdamW(learning_rate=1.0, weight_decay=None)


def test_adamw_correctness_with_golden():
    """adamw_test.py test_correctness_with_golden."""
    golden = np.array(
        [
            [0.4998] * 10,
            [0.2486, 0.2475, 0.2463, 0.2451, 0.244, 0.2428, 0.2417, 0.2405, 0.2394, 0.2382],
            [0.1223, 0.1198, 0.1174, 0.1149, 0.1124, 0.11, 0.1075, 0.1051, 0.1027, 0.1003],
            [0.0586, 0.0549, 0.0512, 0.0475, 0.0439, 0.0402, 0.0366, 0.033, 0.0294, 0.0258],
            [0.0263, 0.0215, 0.0167, 0.012, 0.0073, 0.0026, -0.0021, -0.0067, -0.0113, -0.0159],
        ]
    )
    run_golden(opt.AdamW(learning_rate=1.0, weight_decay=0.5, epsilon=2), golden)


# ---- rmsprop_test.py --------------------------------------------------------------------------
def test_rmsprop_config():
    """rmsprop_test.py test_config."""
    serialization_roundtrip(
        opt.RMSprop(learning_rate=0.5, rho=0.8, momentum=0.05, epsilon=1e-6, centered=True)
    )


def test_rmsprop_single_step():
    """rmsprop_test.py test_single_step."""
    run_single_step(opt.RMSprop(learning_rate=0.5), [-0.5811, 0.4189, 1.4189, 2.4189])


def test_rmsprop_correctness_with_golden():
    """rmsprop_test.py test_correctness_with_golden (centered)."""
    golden = np.tile([[0.9967], [0.9933], [0.9908], [0.9885], [0.9864]], (1, 10))
    run_golden(opt.RMSprop(centered=True), golden)


# ---- adamax_test.py ---------------------------------------------------------------------------
def test_adamax_config():
    """adamax_test.py test_config."""
    serialization_roundtrip(opt.Adamax(learning_rate=0.5, beta_1=0.8, beta_2=0.95, epsilon=1e-5))


def test_adamax_single_step():
    """adamax_test.py test_single_step."""
    run_single_step(opt.Adamax(learning_rate=0.5), [0.5, 1.5, 2.5, 3.5])


def test_adamax_correctness_with_golden():
    """adamax_test.py test_correctness_with_golden."""
    golden = np.array(
        [
            [0.8] * 10,
            [0.6827, 0.6873, 0.6888, 0.6896, 0.6901, 0.6904, 0.6906, 0.6908, 0.6909, 0.691],
            [0.5333, 0.5407, 0.5431, 0.5444, 0.5451, 0.5456, 0.546, 0.5462, 0.5464, 0.5466],
            [0.368, 0.3773, 0.3804, 0.382, 0.3829, 0.3835, 0.384, 0.3843, 0.3846, 0.3848],
            [0.1933, 0.204, 0.2076, 0.2094, 0.2105, 0.2112, 0.2117, 0.2121, 0.2124, 0.2126],
        ]
    )
    run_golden(opt.Adamax(learning_rate=0.2, beta_1=0.85, beta_2=0.95, epsilon=1e-6), golden)


# ---- nadam_test.py ----------------------------------------------------------------------------
def test_nadam_config():
    """nadam_test.py test_config."""
    serialization_roundtrip(opt.Nadam(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5))


def test_nadam_build_with_empty_var_list():
    """nadam_test.py test_build_with_empty_var_list: building on nothing works (densecore
    keeps the momentum product as a Python float, from the step count)."""
    optimizer = opt.Nadam()
    optimizer.build([])
    assert len(optimizer.variables) == 2


def test_nadam_single_step():
    """nadam_test.py test_single_step."""
    run_single_step(opt.Nadam(learning_rate=0.5), [0.4686, 1.4686, 2.4686, 3.4686])


def test_nadam_correctness_with_golden():
    """nadam_test.py test_correctness_with_golden."""
    golden = np.array(
        [
            [0.4281] * 10,
            [-0.1738, -0.1731, -0.1726, -0.1723, -0.1721, -0.172, -0.1719, -0.1718, -0.1718, -0.1717],
            [-0.7115, -0.7103, -0.7096, -0.7092, -0.709, -0.7088, -0.7086, -0.7085, -0.7085, -0.7084],
            [-1.2335, -1.2322, -1.2313, -1.2309, -1.2306, -1.2304, -1.2302, -1.2301, -1.23, -1.2299],
            [-1.7492, -1.7478, -1.7469, -1.7464, -1.7461, -1.7459, -1.7457, -1.7456, -1.7455, -1.7454],
        ]
    )
    run_golden(opt.Nadam(learning_rate=0.5, beta_1=0.5, beta_2=0.67, epsilon=1e-5), golden)


def test_nadam_momentum_product_survives_setting_iterations():
    """(densecore) Nadam's running product Πₜ is recomputed when `iterations` is set (a
    loaded model), so a resumed run takes the steps an uninterrupted one would."""
    a, b = opt.Nadam(0.5), opt.Nadam(0.5)
    wa, wb = variable(np.ones(4)), variable(np.ones(4))
    for _ in range(3):
        a.apply_gradients([(GRADS[:4], wa)])
    b.apply_gradients([(GRADS[:4], wb)])
    b.iterations = 0
    b.load_state_arrays([wb], a.state_arrays([wa]))
    b.iterations = a.iterations
    wb.data[:] = wa.data
    a.apply_gradients([(GRADS[:4], wa)])
    b.apply_gradients([(GRADS[:4], wb)])
    np.testing.assert_array_equal(wa.data, wb.data)


# ---- adagrad_test.py --------------------------------------------------------------------------
def test_adagrad_config():
    """adagrad_test.py test_config."""
    serialization_roundtrip(opt.Adagrad(learning_rate=0.5, initial_accumulator_value=0.2, epsilon=1e-5))


def test_adagrad_single_step():
    """adagrad_test.py test_single_step."""
    run_single_step(opt.Adagrad(learning_rate=0.5), [0.5233, 1.5007, 2.5005, 3.5061])


def test_adagrad_correctness_with_golden():
    """adagrad_test.py test_correctness_with_golden."""
    golden = np.array(
        [
            [0.9963] * 10,
            [0.9604, 0.9278, 0.9003, 0.8784, 0.8615, 0.8487, 0.8388, 0.8313, 0.8255, 0.8209],
            [0.9251, 0.8629, 0.8137, 0.7768, 0.7497, 0.7298, 0.7151, 0.704, 0.6956, 0.6891],
            [0.8903, 0.8012, 0.7342, 0.6862, 0.6521, 0.6277, 0.6099, 0.5967, 0.5867, 0.579],
            [0.856, 0.7422, 0.6604, 0.6037, 0.5644, 0.5367, 0.5168, 0.5021, 0.491, 0.4825],
        ]
    )
    run_golden(opt.Adagrad(learning_rate=0.2, initial_accumulator_value=0.3, epsilon=1e-6), golden)


# ---- optimizer_test.py ------------------------------------------------------------------------
def test_iterations_counter():
    """optimizer_test.py test_iterations_counter."""
    v = variable([[1.0, 2.0], [3.0, 4.0]])
    grads = np.ones((2, 2), np.float32)
    optimizer = opt.Adam(learning_rate=1.0)
    assert optimizer.iterations == 0
    optimizer.apply_gradients([(grads, v)])
    assert optimizer.iterations == 1
    optimizer.apply_gradients([(grads, v)])
    assert optimizer.iterations == 2


def test_empty_gradients():
    """optimizer_test.py test_empty_gradients (and test_mixed_with_tf_variables' warning)."""
    v = variable([[3.0, 4.0], [5.0, 6.0]])
    optimizer = opt.SGD(learning_rate=1.0)
    with pytest.raises(ValueError, match="No gradients provided for any variable."):
        optimizer.apply_gradients([(None, v)])
    assert optimizer.iterations == 0  # refused before any work: no step counted
    v2 = variable([[3.0, 4.0], [5.0, 6.0]])
    grads2 = np.ones((2, 2), np.float32)
    optimizer = opt.SGD(learning_rate=1.0)
    with pytest.warns(UserWarning, match="Gradients do not exist for variables"):
        optimizer.apply_gradients([(None, v), (grads2, v2)])
    assert_close(v.data, [[3.0, 4.0], [5.0, 6.0]])
    assert_close(v2.data, [[2.0, 3.0], [4.0, 5.0]])


def test_clip_args():
    """optimizer_test.py test_clip_args."""
    assert opt.SGD(learning_rate=1.0, clipnorm=0.1).clipnorm == 0.1
    assert opt.SGD(learning_rate=1.0, clipvalue=0.1).clipvalue == 0.1
    assert opt.SGD(learning_rate=1.0, global_clipnorm=0.1).global_clipnorm == 0.1
    for two in ({"clipnorm": 0.1, "clipvalue": 0.1}, {"clipnorm": 0.1, "global_clipnorm": 0.1}):
        with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can"):
            opt.SGD(learning_rate=1.0, **two)


def test_clip_norm():
    """optimizer_test.py test_clip_norm."""
    clipped = opt.SGD(clipnorm=1)._clip_gradients([np.array([100.0, 100.0], np.float32)])
    assert_close(clipped[0], [2**0.5 / 2, 2**0.5 / 2])


def test_clip_value():
    """optimizer_test.py test_clip_value."""
    clipped = opt.SGD(clipvalue=1)._clip_gradients([np.array([100.0, 100.0], np.float32)])
    assert_close(clipped[0], [1.0, 1.0])


def test_global_clip_norm():
    """optimizer_test.py test_global_clip_norm."""
    grad = np.array([50.0, 100.0], dtype="float32")
    clipped = opt.SGD(global_clipnorm=1)._clip_gradients([grad])
    assert_close(clipped[0], grad / np.linalg.norm(grad))


def test_constraints_are_applied():
    """optimizer_test.py test_constraints_are_applied: a weight's `constraint` projects it
    right after the update."""
    v = variable(np.random.random((2, 2)) - 1.0)
    v.constraint = constraints.NonNeg()
    opt.SGD(learning_rate=0.0001).apply_gradients([(np.zeros((2, 2), np.float32), v)])
    assert np.min(v.data) == pytest.approx(0.0)


def test_get_method():
    """optimizer_test.py test_get_method."""
    assert isinstance(opt.get("sgd"), opt.SGD)
    assert isinstance(opt.get("adamw"), opt.AdamW)
    assert opt.get(None) is None
    with pytest.raises(ValueError):
        opt.get("typo")


def test_set_weights():
    """optimizer_test.py test_set_weights."""
    x = variable([[1.0, 2.0], [3.0, 4.0]])
    optimizer_1 = opt.Adam()
    grads = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    optimizer_1.apply_gradients(zip([grads], [x]))
    optimizer_2 = opt.Adam()
    with pytest.raises(ValueError, match="You are calling*"):
        optimizer_2.set_weights(optimizer_1.variables)
    optimizer_2.build([x])
    optimizer_2.set_weights(optimizer_1.variables)
    for a, b in zip(optimizer_1.variables, optimizer_2.variables):
        assert_close(a, b)


def test_callable_learning_rate():
    """optimizer_test.py test_callable_learning_rate."""
    v = variable([[1.0, 2.0], [3.0, 4.0]])
    optimizer = opt.SGD(learning_rate=lambda: 0.1)
    assert optimizer.iterations == 0
    optimizer.apply_gradients([(np.ones((2, 2), np.float32), v)])
    assert_close(v.data, [[0.9, 1.9], [2.9, 3.9]])
    assert optimizer.iterations == 1


def test_setting_lr_to_callable_untracks_lr_var():
    """optimizer_test.py test_setting_lr_to_callable_untracks_lr_var."""
    adam = opt.Adam(learning_rate=0.001)
    assert len(adam.variables) == 2
    adam.learning_rate = opt.schedules.PolynomialDecay(adam.learning_rate, 4)
    assert len(adam.variables) == 1


@pytest.mark.parametrize("name", ["adam", "sgd", "adamw", "adagrad", "rmsprop", "adamax", "nadam"])
def test_pickleable_optimizers(name):
    """optimizer_test.py test_pickleable_optimizers (the optimizers densecore has)."""
    optimizer = opt.get(name)
    reloaded = pickle.loads(pickle.dumps(optimizer))
    assert optimizer.get_config() == reloaded.get_config()


def test_optimizer_auto_naming():
    """optimizer_test.py test_optimizer_auto_naming (Keras's test case starts a session)."""
    dc.clear_session()
    adam_1, adam_2 = opt.Adam(), opt.Adam()
    sgd_1, sgd_2 = opt.SGD(), opt.SGD()
    adamw_1, adamw_2 = opt.AdamW(), opt.AdamW()
    assert (adam_1.name, adam_2.name) == ("adam", "adam_1")
    assert (sgd_1.name, sgd_2.name) == ("sgd", "sgd_1")
    assert (adamw_1.name, adamw_2.name) == ("adam_w", "adam_w_1")
    custom_adam = opt.Adam(name="my_adam")
    assert custom_adam.name == "my_adam"
    assert opt.deserialize(opt.serialize(adam_2)).name == "adam_1"
    assert opt.deserialize(opt.serialize(custom_adam)).name == "my_adam"


# ---- issue #18 and #19's edges: Keras's errors, and every setting checked ---------------------
@pytest.mark.parametrize(
    "make, argument",
    [
        (lambda: opt.Adam(beta_1=1.0), "beta_1"),
        (lambda: opt.Adam(beta_2=float("nan")), "beta_2"),
        (lambda: opt.Adam(epsilon=0), "epsilon"),
        (lambda: opt.AdamW(weight_decay=-0.1), "weight_decay"),
        (lambda: opt.AdamW(weight_decay=float("inf")), "weight_decay"),
        (lambda: opt.RMSprop(rho=1.5), "rho"),
        (lambda: opt.RMSprop(momentum=-0.5), "momentum"),
        (lambda: opt.RMSprop(centered="yes"), "centered"),
        (lambda: opt.SGD(clipnorm=float("nan")), "clipnorm"),
        (lambda: opt.SGD(clipvalue=-1.0), "clipvalue"),
        (lambda: opt.SGD(global_clipnorm=0), "global_clipnorm"),
        (lambda: opt.SGD(nesterov=1), "nesterov"),
        (lambda: opt.SGD(learning_rate=float("nan")), "learning_rate"),
        (lambda: opt.SGD(learning_rate="0.1"), "learning_rate"),
        (lambda: opt.SGD(learning_rate=True), "learning_rate"),
        (lambda: opt.Adamax(beta_2=1.5), "beta_2"),
        (lambda: opt.Nadam(beta_1=-0.1), "beta_1"),
        (lambda: opt.Adagrad(initial_accumulator_value=-1), "initial_accumulator_value"),
        (lambda: opt.Adam(amsgrad=None), "amsgrad"),
        (lambda: opt.Adam(weight_decay="0.1"), "weight_decay"),
        (lambda: opt.Adam(name=3), "name"),
    ],
)
def test_every_numeric_argument_is_checked_at_construction(make, argument):
    with pytest.raises(ValueError, match=f"`{argument}`.*Received: {argument}="):
        make()


def test_combined_clipping_and_unknown_arguments_are_refused_as_keras():
    with pytest.raises(ValueError, match="Only one of"):
        opt.Adam(clipnorm=1.0, clipvalue=1.0, global_clipnorm=1.0)
    with pytest.raises(ValueError, match="not recognized"):
        opt.Adam(beta1=0.9)
    with pytest.raises(ValueError, match="use_ema"):
        opt.Adam(use_ema=True)
    opt.Adam(use_ema=False, ema_momentum=0.99, gradient_accumulation_steps=None)  # Keras's defaults run
    with pytest.warns(UserWarning, match="`decay` is no longer supported"):
        opt.SGD(decay=0.1)


def test_from_config_runs_the_same_checks():
    with pytest.raises(ValueError, match="beta_1"):
        opt.Adam.from_config({**opt.Adam().get_config(), "beta_1": 1.0})
    with pytest.raises(ValueError, match="decay_steps"):
        opt.get(
            {
                "class_name": "SGD",
                "config": {
                    "learning_rate": {
                        "class_name": "ExponentialDecay",
                        "config": {
                            "initial_learning_rate": 0.1,
                            "decay_steps": float("nan"),
                            "decay_rate": 0.9,
                        },
                    }
                },
            }
        )


def test_a_step_with_no_gradient_raises_and_counts_nothing():
    w = variable(np.ones(3))
    optimizer = opt.SGD(0.1)
    with pytest.raises(ValueError, match="No gradients provided"):
        optimizer.apply([w])  # densecore's form: w.grad is None
    assert optimizer.iterations == 0 and np.array_equal(w.data, np.ones(3))
    frozen = dc.Tensor(np.ones(3, np.float32))  # nothing to train: no step, as Keras
    optimizer.apply([frozen])
    assert optimizer.iterations == 0


def test_bad_gradients_are_refused_before_any_work():
    a, b = variable(np.ones(3), "a"), variable(np.ones(2), "b")
    optimizer = opt.Adam()
    with pytest.raises(ValueError, match="gradient of variable 'b' has shape"):
        optimizer.apply_gradients([(np.ones(3, np.float32), a), (np.ones(3, np.float32), b)])
    with pytest.raises(TypeError, match="densecore Tensors"):
        optimizer.apply_gradients([(np.ones(3, np.float32), np.ones(3))])
    with pytest.raises(ValueError, match="pairs"):
        optimizer.apply_gradients([np.ones(3)])
    assert np.array_equal(a.data, np.ones(3)) and optimizer.iterations == 0


def test_get_takes_names_in_any_case_and_config_dicts_as_keras():
    assert isinstance(opt.get("RMSprop"), opt.RMSprop)
    keras_config = {  # as keras.optimizers.serialize(Adam(0.01)) writes it
        "module": "keras.optimizers",
        "class_name": "Adam",
        "config": {
            "name": "adam",
            "learning_rate": 0.01,
            "weight_decay": None,
            "clipnorm": None,
            "global_clipnorm": None,
            "clipvalue": None,
            "use_ema": False,
            "ema_momentum": 0.99,
            "ema_overwrite_frequency": None,
            "loss_scale_factor": None,
            "gradient_accumulation_steps": None,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-07,
            "amsgrad": False,
        },
        "registered_name": None,
    }
    adam = opt.get(keras_config)
    assert isinstance(adam, opt.Adam) and adam.learning_rate == 0.01 and adam.name == "adam"


def test_learning_rate_is_settable_to_a_float_or_a_schedule():
    optimizer = opt.SGD(0.1)
    optimizer.learning_rate = 0.05
    assert optimizer.current_learning_rate() == 0.05
    with pytest.raises(ValueError, match="learning_rate"):
        optimizer.learning_rate = -1.0
    optimizer.learning_rate = opt.schedules.ExponentialDecay(0.1, 1, 0.5)
    w = variable(np.zeros(1))
    optimizer.apply_gradients([(np.ones(1, np.float32), w)])
    assert optimizer.current_learning_rate() == pytest.approx(0.05)
    with pytest.raises(TypeError, match="not settable"):  # Keras: a schedule stays a schedule
        optimizer.learning_rate = 0.1


def test_variables_and_their_state_round_trip_through_state_arrays():
    """The slots Keras creates: SGD without momentum none, Adam two (three with amsgrad),
    RMSprop one (+ momentum, + centered average)."""
    w = variable(np.ones((2, 3)))
    for optimizer, n_slots in [
        (opt.SGD(), 0),
        (opt.SGD(momentum=0.9), 1),
        (opt.Adam(), 2),
        (opt.Adam(amsgrad=True), 3),
        (opt.RMSprop(), 1),
        (opt.RMSprop(momentum=0.5, centered=True), 3),
        (opt.Adagrad(), 1),
    ]:
        optimizer.apply_gradients([(np.ones((2, 3), np.float32), w)])
        assert len(optimizer.variables) == 2 + n_slots, type(optimizer).__name__
        assert all(v.shape == (2, 3) for v in optimizer.variables[2:])


def test_exclude_from_weight_decay_only_before_the_first_step():
    w = variable(np.ones(2), "dense/bias")
    optimizer = opt.AdamW(learning_rate=1.0)
    optimizer.exclude_from_weight_decay(var_names=["bias"])
    optimizer.apply_gradients([(np.zeros(2, np.float32), w)])
    np.testing.assert_array_equal(w.data, np.ones(2))  # a zero gradient and no decay
    with pytest.raises(ValueError, match="before the optimizer is built"):
        optimizer.exclude_from_weight_decay(var_names=["kernel"])


def test_weight_decay_trains_a_model_and_saves(tmp_path):
    """weight_decay on SGD, Adam and RMSprop through compile/fit, save and load."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = x.sum(axis=1, keepdims=True)
    for optimizer in (
        opt.SGD(0.01, momentum=0.9, weight_decay=0.01),
        opt.Adam(0.01, weight_decay=0.01, amsgrad=True),
        opt.RMSprop(0.01, weight_decay=0.01, centered=True, momentum=0.5),
        opt.Nadam(0.01),
        opt.Adamax(0.01),
        opt.Adagrad(0.1),
    ):
        dc.set_seed(0)
        model = dc.Sequential([dc.layers.Dense(3, activation="relu", input_shape=(4,)), dc.layers.Dense(1)])
        model.compile(optimizer, "mse")
        history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
        assert np.isfinite(history.history["loss"]).all()
        path = str(tmp_path / f"{model.optimizer.name}.dc")
        model.save(path)
        loaded = dc.load_model(path)
        assert loaded.optimizer.get_config() == model.optimizer.get_config()
        assert loaded.optimizer.iterations == model.optimizer.iterations


def test_a_file_with_a_setting_out_of_range_is_refused_at_load(tmp_path):
    """#19 item 3: values loaded from a file go through the constructor's checks."""
    model = dc.Sequential([dc.layers.Dense(1, input_shape=(2,))])
    model.compile(opt.Adam(), "mse")
    path = tmp_path / "m.dc"
    model.save(str(path))
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(entries["config.json"])
    config["compile"]["optimizer"]["config"]["beta_1"] = 1.0
    entries["config.json"] = json.dumps(config).encode()
    bad = tmp_path / "bad.dc"
    with zipfile.ZipFile(bad, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    with pytest.raises(ValueError, match="beta_1"):
        dc.load_model(str(bad))


def test_no_warning_in_a_normal_fit():
    model = dc.Sequential([dc.layers.Dense(2, input_shape=(3,))])
    model.compile(opt.Adam(), "mse")
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        model.fit(np.ones((4, 3), np.float32), np.ones((4, 2), np.float32), verbose=0)


@pytest.mark.parametrize(
    "make",
    [
        lambda: opt.AdamW(0.01, amsgrad=True),
        lambda: opt.RMSprop(0.01, centered=True, momentum=0.5, weight_decay=0.01),
        lambda: opt.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda: opt.Adamax(0.01),
        lambda: opt.Nadam(0.01),
        lambda: opt.Adagrad(0.1),
    ],
    ids=["adamw-amsgrad", "rmsprop-centered", "sgd-decay", "adamax", "nadam", "adagrad"],
)
def test_every_optimizer_trains_on_the_cuda_backend_as_on_the_cpu(make):
    """The weights and the state stay on the device during an epoch: each optimizer's steps
    run as cuda kernels there (on a GPU, or under NUMBA_ENABLE_CUDASIM=1)."""
    if "cuda" not in dc.kernels.available():
        pytest.skip("no cuda backend here (NUMBA_ENABLE_CUDASIM=1 runs numba's simulator)")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 5)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int64)

    def train(backend):
        dc.set_backend(backend)
        try:
            dc.set_seed(0)
            model = dc.Sequential(
                [dc.layers.Dense(4, activation="relu"), dc.layers.Dense(2, activation="softmax")]
            )
            model.compile(make(), "sparse_categorical_crossentropy")
            history = model.fit(x, y, epochs=2, batch_size=8, verbose=0).history
            return history["loss"], model.get_weights()
        finally:
            dc.set_backend("cpu")

    (gpu_loss, gpu_weights), (cpu_loss, cpu_weights) = train("cuda"), train("cpu")
    np.testing.assert_allclose(gpu_loss, cpu_loss, rtol=1e-4)
    for a, b in zip(gpu_weights, cpu_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
