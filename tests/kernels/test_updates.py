"""The optimizer update kernels: numpy's formulas, one result for any chunking, clear errors."""

import numpy as np
import pytest

from densecore.kernels import updates

SIZES = [1, 7, updates.CHUNK, updates.CHUNK + 1, 3 * updates.CHUNK + 5]  # serial and parallel


def arrays(n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    w, g = rng.standard_normal((2, n)).astype(dtype)
    m = (0.1 * rng.standard_normal(n)).astype(dtype)
    v = (0.1 * rng.random(n)).astype(dtype)
    return w, g, m, v


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_adam_matches_numpy(n, dtype):
    w, g, m, v = arrays(n, dtype)
    m2 = m + (g - m) * (1 - 0.9)
    v2 = v + (g * g - v) * (1 - 0.999)
    want = w - 0.01 * m2 / (np.sqrt(v2) + 1e-7)
    updates.adam_update(w, g, m, v, 0.01, 0.9, 0.999, 1e-7, 0.0)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(w, want, rtol=tol, atol=tol)
    np.testing.assert_allclose(v, v2, rtol=tol, atol=tol)


@pytest.mark.parametrize("loop", [updates._sgd, updates._adam, updates._rmsprop])
def test_serial_twin_gives_the_parallel_loops_bits(loop):
    w, g, m, v = arrays(2 * updates.CHUNK + 3, np.float32, seed=1)
    a = {updates._sgd: [w, g, m], updates._adam: [w, g, m, v], updates._rmsprop: [w, g, v, m]}[loop]
    b = [x.copy() for x in a]
    scalars = np.array([0.01, 0.9, 0.1, 0.5, 1e-7, updates.V_MAX], np.float32)
    extra = (True,) if loop is updates._sgd else ()
    loop(*a, scalars, *extra)
    updates._SERIAL[loop](*b, scalars, *extra)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_any_shape_is_updated_as_its_flat_view():
    w, g, m, v = (x.reshape(5, 3) for x in arrays(15, np.float32))
    flat = [x.reshape(-1).copy() for x in (w, g, m, v)]
    updates.adam_update(w, g, m, v, 0.01, 0.9, 0.999, 1e-7, 0.0)
    updates.adam_update(*flat, 0.01, 0.9, 0.999, 1e-7, 0.0)
    assert np.array_equal(w.reshape(-1), flat[0])


@pytest.mark.parametrize(
    "change, error",
    [
        (lambda a: (a[0], a[1][:3], a[2], a[3]), ValueError),  # a shorter gradient
        (lambda a: (a[0].reshape(2, 4), *a[1:]), ValueError),  # shapes differ
        (lambda a: (a[0], a[1].astype(np.float64), a[2], a[3]), TypeError),
        (lambda a: (list(a[0]), *a[1:]), TypeError),
        (lambda a: (a[0].astype(np.int32), a[1].astype(np.int32), a[2], a[3]), TypeError),
        (lambda a: (np.repeat(a[0], 2)[::2], *a[1:]), ValueError),  # not contiguous
    ],
)
def test_bad_arrays_are_refused_before_any_update(change, error):
    a = arrays(8, np.float32)
    bad = change(a)
    with pytest.raises(error, match="adam_update: w, its gradient and its state must be"):
        updates.adam_update(*bad, 0.01, 0.9, 0.999, 1e-7, 0.0)


def test_read_only_weights_are_refused():
    w, g, m, _ = arrays(8, np.float32)
    w.flags.writeable = False
    with pytest.raises(ValueError, match="sgd_update: .* w writeable"):
        updates.sgd_update(w, g, m, 0.1, 0.9, False)
