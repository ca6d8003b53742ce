"""kernels.data: the NaN/inf count and the row gather equal numpy's isfinite and x[index]."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from densecore.kernels import data as data_kernels


@settings(max_examples=30, deadline=None)
@given(
    rows=st.integers(1, 40),
    width=st.sampled_from([1, 3, 17, 64]),
    dtype=st.sampled_from([np.float32, np.float64]),
    seed=st.integers(0, 2**16),
    data=st.data(),
)
def test_take_rows_equals_numpy_indexing(rows, width, dtype, seed, data):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, width)).astype(dtype)
    x[0, 0] = np.nan  # copied like any value
    n = data.draw(st.integers(1, rows))
    index = rng.permutation(rows)[:n]
    buffer = np.full((rows + 2, width), -7.0, dtype)
    got = data_kernels.take_rows(x, index, buffer)
    np.testing.assert_array_equal(got, x[index])
    assert got.base is buffer or got.base is buffer.base  # a view of the buffer, not a copy
    np.testing.assert_array_equal(buffer[n:], -7.0)  # rows past the batch untouched


def test_take_rows_refuses_mismatched_buffers_before_copying():
    x = np.zeros((5, 3), np.float32)
    with pytest.raises(ValueError, match=r"take_rows.*x \(5, 3\).*out \(2, 3\)"):
        data_kernels.take_rows(x, np.arange(4), np.empty((2, 3), np.float32))
    with pytest.raises(ValueError, match="take_rows"):
        data_kernels.take_rows(x, np.arange(2), np.empty((2, 3), np.float64))
    with pytest.raises(ValueError, match="take_rows"):
        data_kernels.take_rows(x, np.arange(2), np.empty((4, 6), np.float32)[:, ::2])


@settings(max_examples=30, deadline=None)
@given(
    shape=st.sampled_from([(0,), (1,), (7,), (3, 5), (70001,), (2, 3, 4)]),
    dtype=st.sampled_from([np.float16, np.float32, np.float64]),
    seed=st.integers(0, 2**16),
    n_bad=st.integers(0, 5),
    contiguous=st.booleans(),
)
def test_count_nonfinite_equals_numpy(shape, dtype, seed, n_bad, contiguous):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape).astype(dtype)
    if x.size:
        for value in [np.nan, np.inf, -np.inf, np.nan, np.inf][:n_bad]:
            x.flat[rng.integers(x.size)] = value
    x[...] = np.where(np.isfinite(x), x * 100, x)  # large values stay finite (float16 too)
    if not contiguous and x.ndim and x.shape[0] > 1:
        x = x[::2]
    assert data_kernels.count_nonfinite(x) == np.count_nonzero(~np.isfinite(x))


@pytest.mark.parametrize("bad", [5, -1, 1 << 40])
def test_take_rows_refuses_rows_outside_x(bad):
    x = np.arange(15, dtype=np.float32).reshape(5, 3)
    with pytest.raises(ValueError, match=r"take_rows: row indices must lie in \[0, 5\)"):
        data_kernels.take_rows(x, np.array([0, bad, 2]), np.empty((3, 3), np.float32))
