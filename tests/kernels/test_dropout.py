"""The dropout kernel (kernels/dropout.py): its numpy twin's bits, one mask for any thread
count, the keep rate, the backward as the same kernel, clear errors."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import densecore as dc
from densecore import functional as F
from densecore import kernels
from densecore.kernels import dropout as D


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(1, 40), min_size=1, max_size=3).map(tuple),
    rate=st.sampled_from([0.0, 0.1, 0.5, 0.9]),
    seed=st.integers(0, 2**64 - 1),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_the_kernel_equals_its_numpy_twin(shape, rate, seed, dtype):
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype)
    out = D.dropout(x, rate, seed, np.empty_like(x))
    np.testing.assert_array_equal(out, D.reference_dropout(x, rate, seed))


@pytest.mark.parametrize("name", ["reference", "cpu"])
def test_every_host_backend_gives_the_twins_mask(name):
    backend = kernels.get(name)
    x = np.random.default_rng(2).standard_normal((40, 300)).astype(np.float32)[:, ::3]  # strided
    kept = kernels.Buffers()
    np.testing.assert_array_equal(backend.dropout(x, 0.25, 5, buffers=kept), D.reference_dropout(x, 0.25, 5))
    with pytest.raises(ValueError, match=rf"^{name}\.dropout: rate"):
        backend.dropout(x, -0.1, 5)


def test_one_mask_for_any_thread_count_and_the_keep_rate():
    x = np.ones((300, 700), np.float32)  # several chunks
    masks = []
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        with_threads = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            masks.append(D.dropout(x, 0.3, 99, np.empty_like(x)))
        finally:
            numba.set_num_threads(with_threads)
    np.testing.assert_array_equal(masks[0], masks[1])
    kept = masks[0] != 0
    assert abs(kept.mean() - 0.7) < 0.005 and np.allclose(masks[0][kept], 1 / 0.7)
    other = D.dropout(x, 0.3, 100, np.empty_like(x)) != 0
    assert abs((kept == other).mean() - (0.7**2 + 0.3**2)) < 0.005  # another seed: an independent mask


def test_the_node_is_linear_in_x_with_the_same_mask_forward_and_back():
    x = dc.Tensor(np.random.default_rng(1).standard_normal((6, 5)), requires_grad=True)
    assert dc.gradcheck(lambda t: F.dropout(t, 0.4, 7) * 3.0, [x])
    y = F.dropout(x, 0.4, 7)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad != 0, y.data != 0)


@pytest.mark.parametrize(
    "args, words",
    [
        ((np.zeros((2, 3), np.float32), 0.5, 1, np.zeros((3, 2), np.float32)), "one shape"),
        ((np.zeros((2, 3), np.float32), 0.5, 1, np.zeros((2, 3))), "dtype"),
        ((np.zeros((4, 3), np.float32)[::2], 0.5, 1, np.zeros((2, 3), np.float32)), "C-contiguous"),
        ((np.zeros(3, np.int32), 0.5, 1, np.zeros(3, np.int32)), "float"),
        ((np.zeros(3), 1.0, 1, np.zeros(3)), "rate"),
    ],
)
def test_bad_operands_are_named(args, words):
    with pytest.raises(ValueError, match=rf"^dropout: .*{words}"):
        D.dropout(*args)
