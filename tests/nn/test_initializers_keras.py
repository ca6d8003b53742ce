"""Keras 3's initializer tests, ported: the inputs, arguments, expected statistics and
tolerances of keras/src/initializers/{random,constant}_initializers_test.py (keras-team/keras),
each test named after the one it comes from. Keras's draws are its own backends', so what is
checked is what Keras checks: the statistics, orthogonality, and exact values for constants.

Not ported: SeedGenerator seeds (densecore's unseeded initializers draw from the stream
`dc.set_seed` seeds instead), input_axes/output_axes, STFT, MultiHeadAttention, and
initializer_test.py (JAX layouts).
"""

import json

import numpy as np
import pytest

import densecore as dc

init = dc.initializers


def assert_close(actual, desired, atol=1e-6, rtol=1e-6):
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol)


def serialization_roundtrip(instance):
    """Keras's run_class_serialization_test: get_config → JSON → from_config, and serialize →
    JSON → deserialize, give the same config and attributes."""
    config = instance.get_config()
    text = json.dumps(config, sort_keys=True)
    revived = type(instance).from_config(json.loads(text))
    assert json.dumps(revived.get_config(), sort_keys=True) == text
    assert set(dir(revived)) == set(dir(instance))
    again = init.deserialize(json.loads(json.dumps(init.serialize(instance))))
    assert type(again) is type(instance)
    assert json.dumps(again.get_config(), sort_keys=True) == text
    return revived


# ---- random_initializers_test.py --------------------------------------------------------------
def test_random_normal():
    """RandomInitializersTest.test_random_normal (its parts without SeedGenerator)."""
    dc.set_seed(1337)
    shape, mean, stddev, seed = (25, 20), 0.0, 1.0, 1234
    initializer = init.RandomNormal(mean=mean, stddev=stddev, seed=seed)
    values = initializer(shape=shape)
    assert (initializer.mean, initializer.stddev, initializer.seed) == (mean, stddev, seed)
    assert values.shape == shape
    assert_close(np.std(values), stddev, atol=1e-1)
    serialization_roundtrip(initializer)
    # a fixed seed yields the same results each call
    initializer = init.RandomNormal(mean=mean, stddev=stddev, seed=1337)
    assert_close(initializer(shape=shape), initializer(shape=shape))
    # an unseeded initializer gets different results after cloning
    initializer = init.RandomNormal(mean=mean, stddev=stddev, seed=None)
    values = initializer(shape=shape)
    new_values = init.RandomNormal.from_config(initializer.get_config())(shape=shape)
    assert not np.allclose(values, new_values)
    # a seeded one gets the same results after cloning
    initializer = init.RandomNormal(mean=mean, stddev=stddev, seed=1337)
    values = initializer(shape=shape)
    assert_close(values, init.RandomNormal.from_config(initializer.get_config())(shape=shape))


def test_random_uniform():
    """RandomInitializersTest.test_random_uniform."""
    shape, minval, maxval, seed = (5, 5), -1.0, 1.0, 1234
    initializer = init.RandomUniform(minval=minval, maxval=maxval, seed=seed)
    values = initializer(shape=shape)
    assert (initializer.minval, initializer.maxval, initializer.seed) == (minval, maxval, seed)
    assert values.shape == shape
    assert np.min(values) >= minval and np.max(values) < maxval
    serialization_roundtrip(initializer)


def test_variance_scaling():
    """RandomInitializersTest.test_variance_scaling."""
    dc.set_seed(1337)
    shape, scale, seed = (25, 20), 2.0, 1234
    for mode, n in (("fan_in", 25), ("fan_out", 20)):
        initializer = init.VarianceScaling(scale=scale, seed=seed, mode=mode)
        values = initializer(shape=shape)
        assert (initializer.scale, initializer.seed) == (scale, seed)
        assert values.shape == shape
        assert_close(np.std(values), np.sqrt(scale / n), atol=1e-1)
        serialization_roundtrip(initializer)


def test_variance_scaling_with_axes_part_without_axes():
    """RandomInitializersTest.test_variance_scaling_with_axes, its second part: a 3-D weight's
    fans include the receptive field (32, 4, 16): fan_in = 4 · 32."""
    dc.set_seed(1337)
    values = init.VarianceScaling(scale=2.0, seed=1234, mode="fan_in")(shape=(32, 4, 16))
    assert_close(np.std(values), np.sqrt(2.0 / 128), atol=1e-1)


def test_orthogonal():
    """RandomInitializersTest.test_orthogonal."""
    shape, gain, seed = (5, 5), 2.0, 1234
    initializer = init.Orthogonal(gain=gain, seed=seed)
    values = initializer(shape=shape)
    assert (initializer.seed, initializer.gain) == (seed, gain)
    assert values.shape == shape
    for column in values.T:  # columns of norm gain
        assert np.linalg.norm(column) == pytest.approx(gain * 1.0, abs=5e-7)
    for i in range(values.shape[-1]):  # orthogonal to one another
        for j in range(i + 1, values.shape[-1]):
            assert np.dot(values[..., i], values[..., j]) == pytest.approx(0.0, abs=5e-7)
    serialization_roundtrip(initializer)
    assert isinstance(init.get("OrthogonalInitializer"), init.Orthogonal)


def test_get_method():
    """RandomInitializersTest.test_get_method."""
    assert isinstance(init.get("glorot_normal"), init.GlorotNormal)
    assert init.get(None) is None
    with pytest.raises(ValueError):
        init.get("typo")


def test_get_method_with_tensor():
    """RandomInitializersTest.test_get_method_with_tensor (numpy arrays)."""
    shape = (5, 5)
    tensor = np.random.uniform(size=shape).astype("float32")
    values = init.get(tensor)(shape=shape)
    assert_close(values, tensor)
    with pytest.raises(ValueError, match=r"Expected `shape` to be"):
        init.get(tensor)(shape=(10, 10))


def test_variance_scaling_invalid_scale():
    """RandomInitializersTest.test_variance_scaling_invalid_scale."""
    with pytest.raises(ValueError, match="Argument `scale` must be positive float."):
        init.VarianceScaling(scale=-1.0, seed=1234, mode="fan_in")


def test_variance_scaling_invalid_mode():
    """RandomInitializersTest.test_variance_scaling_invalid_mode."""
    with pytest.raises(ValueError, match="Invalid `mode` argument:"):
        init.VarianceScaling(scale=2.0, seed=1234, mode="invalid_mode")


def test_variance_scaling_invalid_distribution():
    """RandomInitializersTest.test_variance_scaling_invalid_distribution."""
    with pytest.raises(ValueError, match="Invalid `distribution` argument:"):
        init.VarianceScaling(scale=2.0, seed=1234, mode="fan_in", distribution="invalid_dist")


# ---- constant_initializers_test.py ------------------------------------------------------------
def test_zeros_initializer():
    """ConstantInitializersTest.test_zeros_initializer."""
    initializer = init.Zeros()
    values = initializer(shape=(3, 3))
    assert values.shape == (3, 3)
    assert_close(values, np.zeros((3, 3)))
    serialization_roundtrip(initializer)


def test_ones_initializer():
    """ConstantInitializersTest.test_ones_initializer."""
    initializer = init.Ones()
    values = initializer(shape=(3, 3))
    assert values.shape == (3, 3)
    assert_close(values, np.ones((3, 3)))
    serialization_roundtrip(initializer)


def test_constant_initializer():
    """ConstantInitializersTest.test_constant_initializer."""
    initializer = init.Constant(value=6.0)
    values = initializer(shape=(3, 3))
    assert values.shape == (3, 3)
    assert_close(values, np.full((3, 3), 6.0))
    serialization_roundtrip(initializer)


def test_constant_initializer_array_value():
    """ConstantInitializersTest.test_constant_initializer_array_value (float32 values:
    densecore's default dtype, as Keras's floatx)."""
    constant_value = np.random.random((3, 3))
    initializer = init.Constant(value=constant_value)
    values = initializer(shape=(3, 3))
    assert values.shape == (3, 3)
    assert_close(values, np.full((3, 3), constant_value), atol=1e-6, rtol=1e-6)
    serialization_roundtrip(initializer)


def test_identity_initializer():
    """ConstantInitializersTest.test_identity_initializer."""
    initializer = init.Identity(gain=2)
    values = initializer(shape=(3, 3))
    assert values.shape == (3, 3)
    assert_close(values, np.eye(3, 3) * 2)
    serialization_roundtrip(initializer)
    assert isinstance(init.get("IdentityInitializer"), init.Identity)


# ---- densecore: Keras's names, seeds through dc.set_seed, checks, saving ----------------------
@pytest.mark.parametrize(
    "name, cls",
    [
        ("random_normal", init.RandomNormal),
        ("RandomNormal", init.RandomNormal),
        ("normal", init.RandomNormal),
        ("random_uniform", init.RandomUniform),
        ("uniform", init.RandomUniform),
        ("truncated_normal", init.TruncatedNormal),
        ("variance_scaling", init.VarianceScaling),
        ("orthogonal", init.Orthogonal),
        ("constant", init.Constant),
        ("identity", init.Identity),
        ("zero", init.Zeros),
        ("one", init.Ones),
        ("lecun_uniform", init.LecunUniform),
        ("GlorotUniform", init.GlorotUniform),
        ("Glorot_Uniform", init.GlorotUniform),  # densecore 0.1 took any case
    ],
)
def test_keras_names_and_aliases(name, cls):
    assert type(init.get(name)) is cls


@pytest.mark.parametrize(
    "make",
    [
        lambda: init.RandomNormal(stddev=1.0),
        lambda: init.TruncatedNormal(stddev=1.0),
        lambda: init.RandomUniform(),
        lambda: init.VarianceScaling(distribution="untruncated_normal"),
        lambda: init.Orthogonal(),
        lambda: init.GlorotUniform(),
        lambda: init.HeNormal(),
        lambda: init.LecunUniform(),
    ],
)
def test_unseeded_initializers_follow_set_seed(make):
    dc.set_seed(7)
    first = make()((6, 4))
    dc.set_seed(7)
    again = make()((6, 4))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, make()((6, 4)))  # the stream moves on


def test_truncated_normal_statistics():
    """TruncatedNormal(mean, stddev) keeps its values within two standard deviations."""
    values = init.TruncatedNormal(mean=1.0, stddev=0.5, seed=0)((200, 50))
    assert values.min() >= 0.0 and values.max() <= 2.0
    assert abs(values.mean() - 1.0) < 0.01


def test_orthogonal_rows_when_fewer_rows_and_more_than_two_axes():
    wide = init.Orthogonal(seed=1)((3, 7))
    assert_close(wide @ wide.T, np.eye(3), atol=1e-6)
    deep = init.Orthogonal(seed=1)((2, 3, 4)).reshape(6, 4)
    assert_close(deep.T @ deep, np.eye(4), atol=1e-6)


@pytest.mark.parametrize(
    "make, error, words",
    [
        (lambda: init.RandomNormal(stddev=-1.0), ValueError, "stddev"),
        (lambda: init.RandomNormal(mean=float("nan")), ValueError, "mean"),
        (lambda: init.RandomUniform(minval=1.0, maxval=0.0), ValueError, "maxval"),
        (lambda: init.TruncatedNormal(stddev=float("inf")), ValueError, "stddev"),
        (lambda: init.VarianceScaling(scale=float("nan")), ValueError, "scale"),
        (lambda: init.Orthogonal(gain=float("nan")), ValueError, "gain"),
        (lambda: init.Identity(gain="2"), ValueError, "gain"),
        (lambda: init.Constant(value=float("inf")), ValueError, "value"),
        (lambda: init.Constant(value="a"), ValueError, "value"),
        (lambda: init.GlorotUniform(seed=-1), ValueError, "seed"),
        (lambda: init.RandomNormal(seed=1.5), ValueError, "seed"),
        (lambda: init.Orthogonal()((4,)), ValueError, "at least two-dimensional"),
        (lambda: init.Identity()((2, 2, 2)), ValueError, "2D matrices"),
        (lambda: init.Zeros()((2, -1)), ValueError, "shape"),
        (lambda: init.get(3), ValueError, "Could not interpret initializer identifier"),
        (lambda: init.deserialize({"class_name": "nope", "config": {}}), ValueError, "nope"),
    ],
)
def test_bad_arguments_are_refused_with_keras_errors(make, error, words):
    with pytest.raises(error, match=words):
        make()


def test_get_takes_config_dicts_and_classes():
    normal = init.get({"class_name": "RandomNormal", "config": {"mean": 1.0, "stddev": 0.0, "seed": None}})
    assert_close(normal((2,)), [1.0, 1.0])
    assert type(init.get(init.HeUniform)) is init.HeUniform
    with pytest.raises(ValueError, match="stddev"):
        init.get({"class_name": "random_normal", "config": {"stddev": -2.0}})


def _fit_save_load(tmp_path, first, second):
    model = dc.Sequential(
        [
            dc.layers.Dense(4, kernel_initializer=first, bias_initializer=init.Constant(0.1)),
            dc.layers.Dense(1, kernel_initializer=second, bias_initializer="zeros"),
        ]
    )
    model.build((None, 4))
    model.compile("sgd", "mse")
    model.fit(np.ones((8, 4), np.float32), np.ones((8, 1), np.float32), epochs=1, verbose=0)
    path = str(tmp_path / "m.dc")
    model.save(path)
    loaded = dc.load_model(path)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    return loaded


def test_new_initializers_build_train_and_save_a_model(tmp_path):
    loaded = _fit_save_load(tmp_path, init.Orthogonal(seed=1), init.RandomUniform(-0.1, 0.1))
    assert loaded.layers[0].kernel_initializer.get_config() == {"seed": 1, "gain": 1.0}


def test_variance_scaling_saves(tmp_path):
    _fit_save_load(tmp_path, init.VarianceScaling(2.0, "fan_avg", "uniform"), "zeros")
