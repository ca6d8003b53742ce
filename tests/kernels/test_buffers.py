"""kernels.Buffers: results written into arrays kept between calls, bitwise the same as new ones."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import kernels
from kernels import Buffers

from .test_dense import ACTIVATIONS, layout

BACKENDS = ["reference", "cpu"]
sizes = st.sampled_from([1, 2, 5, 8, 13, 31, 47, 130])
case = st.fixed_dictionaries(
    {
        "n": sizes,
        "k": sizes,
        "m": sizes,
        "dtype": st.sampled_from([np.float32, np.float64]),
        "activation": st.sampled_from(ACTIVATIONS),
        "layout": st.sampled_from(["c", "fortran", "strided"]),
        "seed": st.integers(0, 2**16),
    }
)
# One Buffers for every example: shapes and dtypes change from one to the next, so the
# kept arrays are replaced as often as they are reused.
KEPT = {backend: Buffers() for backend in BACKENDS}


def same(a, b):
    return (a is None and b is None) or (a.dtype == b.dtype and np.array_equal(a, b))


@pytest.mark.parametrize("backend", BACKENDS)
@given(c=case)
def test_dense_with_buffers_equals_without_bitwise(backend, c):
    rng = np.random.default_rng(c["seed"])
    dt = c["dtype"]
    x = layout(rng.standard_normal((c["n"], c["k"])).astype(dt), c["layout"])
    w = layout(rng.standard_normal((c["k"], c["m"])).astype(dt), c["layout"])
    b = rng.standard_normal(c["m"]).astype(dt)
    k, bufs = kernels.get(backend), KEPT[backend]
    want_y = k.dense_forward(x, w, b, c["activation"])
    dy = rng.standard_normal(want_y.shape).astype(dt)
    want = k.dense_backward(x, w, want_y, dy, c["activation"])
    for _ in range(2):  # the second call writes into what the first one kept
        y = k.dense_forward(x, w, b, c["activation"], buffers=bufs)
        grads = k.dense_backward(x, w, y, dy, c["activation"], buffers=bufs)
        assert same(y, want_y) and all(same(g, e) for g, e in zip(grads, want))
    assert k.dense_forward(x, w, b, c["activation"], buffers=bufs) is y  # kept, not new


@pytest.mark.parametrize("backend", BACKENDS)
def test_lowrank_with_buffers_equals_without_bitwise(backend, rng):
    k, bufs = kernels.get(backend), Buffers()
    x, u = rng.standard_normal((37, 20)), rng.standard_normal((20, 5))
    v, b = rng.standard_normal((5, 11)), rng.standard_normal(11)
    want_y = k.lowrank_forward(x, u, v, b, "tanh")
    dy = rng.standard_normal(want_y.shape)
    want = k.lowrank_backward(x, u, v, want_y, dy, "tanh")
    for _ in range(2):
        y = k.lowrank_forward(x, u, v, b, "tanh", buffers=bufs)
        grads = k.lowrank_backward(x, u, v, y, dy, "tanh", buffers=bufs)
        assert same(y, want_y) and all(same(g, e) for g, e in zip(grads, want))


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_kept_result_passed_back_in_is_refused(backend, rng):
    """Writing into an array the call is reading would give a wrong answer: refused."""
    k, bufs = kernels.get(backend), Buffers()
    x, w = rng.standard_normal((4, 3)), rng.standard_normal((3, 3))
    y = k.dense_forward(x, w, buffers=bufs)
    with pytest.raises(ValueError, match=r"dense_forward: an input of shape \(4, 3\) is the 'y' result"):
        k.dense_forward(y, w, buffers=bufs)
    with pytest.raises(ValueError, match="'y' result"):
        k.dense_forward(y[:, :3], w, buffers=bufs)  # a view of it too
    kept = y.copy()
    np.testing.assert_allclose(k.dense_forward(kept, w, buffers=bufs), kept @ w)  # a copy is fine
    dx, dw, db = k.dense_backward(x, w, y, np.ones_like(y), buffers=bufs)
    with pytest.raises(ValueError, match="'dx' result"):
        k.dense_backward(dx, w, y, np.ones_like(y), buffers=bufs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_buffers_must_be_a_buffers(backend):
    x = np.ones((2, 2))
    with pytest.raises(
        TypeError, match="dense_forward: buffers must be a kernels.Buffers or None; received dict"
    ):
        kernels.get(backend).dense_forward(x, x, buffers={})
