"""Every backend's dense forward and backward equal numpy's math over random shapes."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from densecore import kernels

BACKENDS = ["reference", "cpu"]
ACTIVATIONS = [None, "linear", "relu", "sigmoid", "tanh"]
TOL = {np.float32: 2e-5, np.float64: 1e-12}


def numpy_forward(x, w, b, activation):
    z = x.astype(np.float64) @ w.astype(np.float64) + (0 if b is None else b)
    return {
        None: z,
        "linear": z,
        "relu": np.maximum(z, 0),
        "sigmoid": 1 / (1 + np.exp(-z)),
        "tanh": np.tanh(z),
    }[activation]


def numpy_backward(x, w, y, dy, activation):
    y, dy = y.astype(np.float64), dy.astype(np.float64)
    slope = {
        None: 1.0,
        "linear": 1.0,
        "relu": (y > 0).astype(np.float64),
        "sigmoid": y * (1 - y),
        "tanh": 1 - y * y,
    }[activation]
    dz = dy * slope
    return dz @ w.T.astype(np.float64), x.T.astype(np.float64) @ dz, dz.sum(axis=0)


def close(actual, expected, dtype):
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(actual, expected, rtol=TOL[dtype], atol=TOL[dtype] * scale * 10)


def layout(array, how):
    """The same values as a C-contiguous, Fortran-ordered or strided array."""
    if how == "fortran":
        return np.asfortranarray(array)
    if how == "strided":
        big = np.zeros((array.shape[0], array.shape[1] * 2), array.dtype)
        big[:, ::2] = array
        return big[:, ::2]
    return array


sizes = st.sampled_from([1, 2, 3, 5, 7, 8, 13, 24, 31, 33, 47, 67])
case = st.fixed_dictionaries(
    {
        "n": sizes,
        "k": sizes,
        "m": sizes,
        "dtype": st.sampled_from([np.float32, np.float64]),
        "activation": st.sampled_from(ACTIVATIONS),
        "bias": st.booleans(),
        "layout": st.sampled_from(["c", "fortran", "strided"]),
        "seed": st.integers(0, 2**16),
    }
)


def make(c):
    rng = np.random.default_rng(c["seed"])
    dt = c["dtype"]
    x = layout(rng.standard_normal((c["n"], c["k"])).astype(dt), c["layout"])
    w = layout(rng.standard_normal((c["k"], c["m"])).astype(dt), c["layout"])
    b = rng.standard_normal(c["m"]).astype(dt) if c["bias"] else None
    return x, w, b


@pytest.mark.parametrize("backend", BACKENDS)
@given(c=case)
def test_forward_matches_numpy(backend, c):
    x, w, b = make(c)
    y = kernels.get(backend).dense_forward(x, w, b, c["activation"])
    assert y.dtype == c["dtype"] and y.shape == (c["n"], c["m"])
    close(y, numpy_forward(x, w, b, c["activation"]), c["dtype"])


@pytest.mark.parametrize("backend", BACKENDS)
@given(c=case)
def test_backward_matches_numpy(backend, c):
    x, w, b = make(c)
    k = kernels.get(backend)
    y = k.dense_forward(x, w, b, c["activation"])
    dy = layout(np.random.default_rng(1).standard_normal(y.shape).astype(c["dtype"]), c["layout"])
    dx, dw, db = k.dense_backward(x, w, y, dy, c["activation"])
    ex, ew, eb = numpy_backward(x, w, y, dy, c["activation"])
    for got, want in ((dx, ex), (dw, ew), (db, eb)):
        assert got.dtype == c["dtype"]
        close(got, want, c["dtype"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_backward_skips_what_is_not_needed(backend, rng):
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 2))
    k = kernels.get(backend)
    y = k.dense_forward(x, w)
    dx, dw, db = k.dense_backward(x, w, y, np.ones_like(y), need_dx=False, need_dw=False)
    assert dx is None and dw is None and db.shape == (2,)


@pytest.mark.parametrize(
    "shape",
    [
        (1, 300, 500),
        (1, 37, 7),
        (1, 520, 130),
        (130, 520, 250),
        (37, 45, 64),
        (1, 1, 1),
        (3, 0, 4),
        (0, 3, 4),
    ],
)
def test_cpu_equals_reference_on_large_and_degenerate_shapes(shape, rng):
    n, k, m = shape
    x = rng.standard_normal((n, k)).astype(np.float32)
    w = rng.standard_normal((k, m)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32)
    ref, cpu = kernels.get("reference"), kernels.get("cpu")
    close(cpu.dense_forward(x, w, b, "tanh"), ref.dense_forward(x, w, b, "tanh"), np.float32)
    y = ref.dense_forward(x, w, b, "relu")
    dy = rng.standard_normal(y.shape).astype(np.float32)
    for got, want in zip(cpu.dense_backward(x, w, y, dy, "relu"), ref.dense_backward(x, w, y, dy, "relu")):
        close(got, want, np.float32)


def test_cpu_packs_a_large_b_per_tile_and_a_small_one_once(rng):
    """Several row tiles share one packed copy of op(B) only while it is small (SHARED_MAX):
    both ways, and transposed, give numpy's product."""
    from densecore.kernels import gemm

    cpu = kernels.get("cpu")
    for k, m in ((300, 200), (1100, 1000)):  # op(B) below and above SHARED_MAX elements
        assert (k * m <= gemm.SHARED_MAX) == (k == 300)
        x = rng.standard_normal((2 * gemm.TILE_ROWS + 3, k)).astype(np.float32)
        w = rng.standard_normal((k, m)).astype(np.float32)
        y = cpu.dense_forward(x, w)
        close(y, x.astype(np.float64) @ w, np.float32)
        dx, dw, _ = cpu.dense_backward(x, w, y, y)
        close(dx, y.astype(np.float64) @ w.T, np.float32)
        close(dw, x.T.astype(np.float64) @ y, np.float32)


def test_cpu_is_bitwise_deterministic_across_thread_counts(rng):
    import numba

    x = rng.standard_normal((70, 300)).astype(np.float32)
    w = rng.standard_normal((300, 90)).astype(np.float32)
    cpu = kernels.get("cpu")
    saved = numba.get_num_threads()
    try:
        results = []
        for threads in sorted({1, saved}):
            numba.set_num_threads(threads)
            y = cpu.dense_forward(x, w, None, "relu")
            results.append((y, *cpu.dense_backward(x, w, y, np.ones_like(y), "relu")))
    finally:
        numba.set_num_threads(saved)
    for a, b in zip(results[0], results[-1]):
        assert np.array_equal(a, b)


def test_nan_and_inf_propagate(rng):
    x = rng.standard_normal((3, 4))
    x[0, 0], x[1, 1] = np.nan, np.inf
    w = rng.standard_normal((4, 2))
    for backend in BACKENDS:
        y = kernels.get(backend).dense_forward(x, w, None, "relu")
        assert np.isnan(y[0]).all() and np.isfinite(y[2]).all()


def test_available_lists_reference_and_cpu():
    assert {"reference", "cpu"} <= set(kernels.available())


def test_backends_provide_the_shared_function_set():
    for name in BACKENDS:
        module = kernels.get(name)
        assert all(callable(getattr(module, f, None)) for f in kernels.FUNCTIONS), name


@given(
    n=sizes,
    k=sizes,
    m=sizes,
    trans=st.sampled_from([(False, False), (True, False), (False, True)]),
    activation=st.sampled_from(["linear", "relu", "sigmoid", "tanh"]),
    dtype=st.sampled_from([np.float32, np.float64]),
    bias=st.booleans(),
)
def test_small_products_and_the_tiled_gemm_agree_bit_for_bit(n, k, m, trans, activation, dtype, bias):
    """cpu runs products of at most gemm.SMALL multiply-adds (K ≤ KC) through gemm.small, which
    compiles in a fraction of gemm.gemm's time; for such shapes both sum each element from zero
    in ascending k with the same fused multiply-adds, so their results are identical, and the
    tiled GEMM still meets numpy in float64 at these odd sizes."""
    import numba

    from densecore.kernels import activations, gemm

    rng = np.random.default_rng(n * 10007 + k * 101 + m)
    trans_a, trans_b = trans
    a = rng.standard_normal((k, n) if trans_a else (n, k)).astype(dtype)
    b = rng.standard_normal((m, k) if trans_b else (k, m)).astype(dtype)
    bias_v = rng.standard_normal(m).astype(dtype) if bias else np.zeros(0, dtype)
    if not bias and activation != "linear":
        bias_v = np.zeros(m, dtype)
    act = activations.code(activation, "test")
    tiled, simple = np.empty((n, m), dtype), np.empty((n, m), dtype)
    plan = gemm.plan(n, m, k, numba.get_num_threads())
    packed = np.empty(plan[4], dtype)
    with gemm.slp_vectorizer():
        gemm.gemm(tiled, a, b, trans_a, trans_b, bias_v, act, *plan[:4], packed)
        gemm.small(simple, a, b, trans_a, trans_b, bias_v, act)
    assert np.array_equal(tiled, simple, equal_nan=True)
    opa = a.T if trans_a else a
    opb = b.T if trans_b else b
    expected = numpy_forward(opa, opb, bias_v if bias_v.size else None, activation)
    close(tiled, expected, dtype)
