"""cpu.lowrank_forward (kernels/lowrank.py's one-pass forward) against numpy float64 (the oracle:
act((X U) V + b) by numpy's matmul in float64), over the sizes where its row blocks and panels
have edges: 1s, odd sizes, row counts across a block (12 rows for float32 with AVX-512, 6 for
float64), ranks across U's narrow (16-column) and wide (t·V tile wide) panels and their mix,
U as its own panel (rank 16, or the wide width), M across V's panels, long K, non-contiguous
operands, float32 and float64."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from densecore import kernels
from densecore.kernels import lowrank

from .test_dense import close, layout

(XU32, _), (TV_ROWS32, TV32) = lowrank.tiles(4)
(XU64, _), (_, TV64) = lowrank.tiles(8)
BLOCK = XU32  # rows per task for float32 (XU64 for float64: a divisor of it)
case = st.fixed_dictionaries(
    {
        "n": st.sampled_from([1, 2, 7, XU64 - 1, XU64 + 1, BLOCK - 1, BLOCK, BLOCK + 3, 2 * BLOCK + 5, 70]),
        "k": st.sampled_from([1, 3, 17, 300]),
        "r": st.sampled_from([1, 2, 5, 16, 17, 33, TV64, TV64 + 5, TV32, TV32 + 16, 2 * TV32 + 3]),
        "m": st.sampled_from([1, 10, TV64, TV32 - 1, TV32, TV32 + 7, 2 * TV32 + 11]),
        "dtype": st.sampled_from([np.float32, np.float64]),
        "activation": st.sampled_from([None, "relu", "sigmoid", "tanh"]),
        "bias": st.booleans(),
        "layout": st.sampled_from(["c", "fortran", "strided"]),
        "seed": st.integers(0, 2**16),
    }
)


def act(z, name):
    return {None: z, "relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z)}[name]


@settings(max_examples=120, deadline=None)
@given(c=case)
def test_forward_matches_numpy_float64(c):
    rng = np.random.default_rng(c["seed"])
    dt = c["dtype"]
    x = layout(rng.standard_normal((c["n"], c["k"])).astype(dt), c["layout"])
    u = layout(rng.standard_normal((c["k"], c["r"])).astype(dt), c["layout"])
    v = layout(rng.standard_normal((c["r"], c["m"])).astype(dt), c["layout"])
    b = rng.standard_normal(c["m"]).astype(dt) if c["bias"] else None
    x64, u64, v64 = (a.astype(np.float64) for a in (x, u, v))
    want = act(x64 @ u64 @ v64 + (0 if b is None else b), c["activation"])
    got = kernels.get("cpu").lowrank_forward(x, u, v, b, c["activation"])  # the layer's path
    assert got.dtype == dt
    close(got, want, dt)


@pytest.mark.parametrize(
    "n, k, r, m, dtype",
    [
        (70, 40, 16, 50, np.float32),  # U its own narrow panel, a partial last block and panel
        (75, 33, TV32 + 16, 2 * TV32 + 11, np.float32),  # U's wide and narrow panels together
        (50, 21, TV64, 70, np.float64),  # float64's tiles, U its own wide panel
    ],
)
def test_relu_keeps_nan_and_every_thread_count_gives_the_same_bits(n, k, r, m, dtype):
    import numba

    from densecore.kernels import parallel

    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k)).astype(dtype)
    x[3, 5] = np.nan
    u, v = rng.standard_normal((k, r)).astype(dtype), rng.standard_normal((r, m)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    cpu = kernels.get("cpu")
    y = cpu.lowrank_forward(x, u, v, b, "relu")
    assert np.all(np.isnan(y[3])) and not np.any(np.isnan(np.delete(y, 3, axis=0)))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = cpu.lowrank_forward(x, u, v, b, "relu")
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, y)
    serial = np.empty_like(y)  # the serial twin (a forked child's path) gives the same bits
    parallel.serial(lowrank.kernel(x.itemsize))(serial, x, u, v, b, 1)
    np.testing.assert_array_equal(serial, y)


@pytest.mark.parametrize("shape", [(0, 5, 3, 4), (4, 0, 3, 4), (4, 5, 3, 0)])
def test_empty_operands(shape):
    n, k, r, m = shape
    y = kernels.get("cpu").lowrank_forward(
        np.ones((n, k), np.float32), np.ones((k, r), np.float32), np.ones((r, m), np.float32)
    )
    np.testing.assert_array_equal(y, np.zeros((n, m), np.float32))
