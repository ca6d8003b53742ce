"""Low-rank kernels equal the dense formulas with W = U V, on every backend."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from densecore import kernels

from .test_dense import TOL, close, layout

BACKENDS = ["reference", "cpu"]
sizes = st.sampled_from([1, 2, 3, 7, 13, 24, 31, 47])
case = st.fixed_dictionaries(
    {
        "n": sizes,
        "k": sizes,
        "r": st.sampled_from([1, 2, 5, 16]),
        "m": sizes,
        "dtype": st.sampled_from([np.float32, np.float64]),
        "activation": st.sampled_from([None, "relu", "sigmoid", "tanh"]),
        "bias": st.booleans(),
        "layout": st.sampled_from(["c", "fortran", "strided"]),
        "seed": st.integers(0, 2**16),
    }
)


def make(c):
    rng = np.random.default_rng(c["seed"])
    dt = c["dtype"]
    x = layout(rng.standard_normal((c["n"], c["k"])).astype(dt), c["layout"])
    u = layout(rng.standard_normal((c["k"], c["r"])).astype(dt), c["layout"])
    v = rng.standard_normal((c["r"], c["m"])).astype(dt)
    b = rng.standard_normal(c["m"]).astype(dt) if c["bias"] else None
    return x, u, v, b


def act(z, name):
    return {None: z, "relu": np.maximum(z, 0), "sigmoid": 1 / (1 + np.exp(-z)), "tanh": np.tanh(z)}[name]


def slope(y, name):
    return {None: np.ones_like(y), "relu": (y > 0) * 1.0, "sigmoid": y * (1 - y), "tanh": 1 - y * y}[name]


@pytest.mark.parametrize("backend", BACKENDS)
@given(c=case)
def test_lowrank_forward_and_backward_match_numpy(backend, c):
    x, u, v, b = make(c)
    k = kernels.get(backend)
    x64, u64, v64 = (a.astype(np.float64) for a in (x, u, v))
    want = act(x64 @ u64 @ v64 + (0 if b is None else b), c["activation"])
    y = k.lowrank_forward(x, u, v, b, c["activation"])
    assert y.dtype == c["dtype"]
    close(y, want, c["dtype"])
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(c["dtype"])
    dz = dy * slope(y.astype(np.float64), c["activation"])
    t = x64 @ u64
    dt = dz @ v64.T
    for got, expected in zip(
        k.lowrank_backward(x, u, v, y, dy, c["activation"]), (dt @ u64.T, x64.T @ dt, t.T @ dz, dz.sum(0))
    ):
        close(got, expected, c["dtype"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_lowrank_rejects_mismatched_factors(backend):
    x, u = np.ones((2, 3), np.float32), np.ones((3, 4), np.float32)
    with pytest.raises(ValueError, match=r"lowrank_forward: u has rank 4 but v has 5 rows"):
        kernels.get(backend).lowrank_forward(x, u, np.ones((5, 2), np.float32))


def test_tolerances_are_shared():
    assert TOL[np.float32] > TOL[np.float64]
