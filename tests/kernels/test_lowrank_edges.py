"""cpu.lowrank_forward (kernels/gemm.py's one-pass `lowrank`) against numpy float64 (the oracle:
act((X U) V + b) by numpy's matmul in float64), over the sizes where its row blocks and panels
have edges: 1s, odd sizes, row counts across a block of MR, ranks across the narrow (≤ 16) and
the wide (NR) panel of U, K beyond one KC block, non-contiguous operands, float32 and float64."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from densecore import kernels
from densecore.kernels import gemm

from .test_dense import close, layout

case = st.fixed_dictionaries(
    {
        "n": st.sampled_from([1, 2, 7, gemm.MR - 1, gemm.MR, gemm.MR + 3, 70]),
        "k": st.sampled_from([1, 3, 17, gemm.KC + 5]),
        "r": st.sampled_from([1, 2, 5, 16, 17, 33, 64]),
        "m": st.sampled_from([1, 10, gemm.NR, gemm.NR + 7, 75]),
        "dtype": st.sampled_from([np.float32, np.float64]),
        "activation": st.sampled_from([None, "relu", "sigmoid", "tanh"]),
        "bias": st.booleans(),
        "layout": st.sampled_from(["c", "fortran", "strided"]),
        "seed": st.integers(0, 2**16),
    }
)


def act(z, name):
    return {None: z, "relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z)}[name]


@settings(max_examples=60, deadline=None)
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


def test_relu_keeps_nan_and_every_thread_count_gives_the_same_bits():
    import numba

    rng = np.random.default_rng(0)
    x = rng.standard_normal((70, 40)).astype(np.float32)
    x[3, 5] = np.nan
    u, v = rng.standard_normal((40, 16)).astype(np.float32), rng.standard_normal((16, 50)).astype(np.float32)
    cpu = kernels.get("cpu")
    y = cpu.lowrank_forward(x, u, v, None, "relu")
    assert np.all(np.isnan(y[3])) and not np.any(np.isnan(np.delete(y, 3, axis=0)))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = cpu.lowrank_forward(x, u, v, None, "relu")
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, y)


@pytest.mark.parametrize("shape", [(0, 5, 3, 4), (4, 0, 3, 4), (4, 5, 3, 0)])
def test_empty_operands(shape):
    n, k, r, m = shape
    y = kernels.get("cpu").lowrank_forward(
        np.ones((n, k), np.float32), np.ones((k, r), np.float32), np.ones((r, m), np.float32)
    )
    np.testing.assert_array_equal(y, np.zeros((n, m), np.float32))
