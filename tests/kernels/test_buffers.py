"""kernels.Buffers: results written into arrays kept between calls, bitwise the same as new ones."""

import numpy as np
import pytest
from hypothesis import given

from densecore import kernels
from densecore.kernels import Buffers

from .test_dense import case, make

BACKENDS = ["reference", "cpu"]
# One Buffers for every example: shapes and dtypes change from one to the next, so the
# kept arrays are replaced as often as they are reused.
KEPT = {backend: Buffers() for backend in BACKENDS}


def same(a, b):
    return (a is None and b is None) or (a.dtype == b.dtype and np.array_equal(a, b))


@pytest.mark.parametrize("backend", BACKENDS)
@given(c=case)
def test_dense_with_buffers_equals_without_bitwise(backend, c):
    x, w, b = make(c)
    k, bufs = kernels.get(backend), KEPT[backend]
    want_y = k.dense_forward(x, w, b, c["activation"])
    dy = np.random.default_rng(c["seed"]).standard_normal(want_y.shape).astype(c["dtype"])
    want = k.dense_backward(x, w, want_y, dy, c["activation"])
    for _ in range(2):  # the second call writes into what the first one kept
        y = k.dense_forward(x, w, b, c["activation"], buffers=bufs)
        grads = k.dense_backward(x, w, y, dy, c["activation"], buffers=bufs)
        assert same(y, want_y) and all(same(g, e) for g, e in zip(grads, want))
    assert k.dense_forward(x, w, b, c["activation"], buffers=bufs) is y  # kept, not new


def test_a_large_product_packs_per_tile_into_the_kept_scratch(rng):
    """Past SHARED_MAX, each tile packs its own panels: into one kept scratch array."""
    k, bufs = kernels.get("cpu"), Buffers()
    x = rng.standard_normal((130, 1100)).astype(np.float32)
    w = rng.standard_normal((1100, 1000)).astype(np.float32)
    want = k.dense_forward(x, w, None, "relu")
    assert same(k.dense_forward(x, w, None, "relu", buffers=bufs), want)
    assert same(k.dense_forward(x, w, None, "relu", buffers=bufs), want)


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
