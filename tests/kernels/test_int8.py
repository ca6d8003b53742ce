"""Integer kernels: exact against integer numpy, and the quantization formulas."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from densecore import kernels
from densecore.kernels import quant

BACKENDS = ["reference", "cpu"]
sizes = st.sampled_from([1, 2, 3, 7, 16, 17, 33, 64])


@pytest.mark.parametrize("backend", BACKENDS)
@given(n=sizes, k=sizes, m=sizes, seed=st.integers(0, 2**16), layout=st.sampled_from(["c", "t"]))
def test_int8_matmul_is_exact(backend, n, k, m, seed, layout):
    rng = np.random.default_rng(seed)
    a = rng.integers(-128, 128, (n, k)).astype(np.int8)
    b = rng.integers(-128, 128, (k, m)).astype(np.int8)
    if layout == "t":
        b = np.asfortranarray(b)
    c = kernels.get(backend).int8_matmul(a, b)
    assert c.dtype == np.int32
    np.testing.assert_array_equal(c, a.astype(np.int64) @ b.astype(np.int64))


@pytest.mark.parametrize("backend", BACKENDS)
def test_quantize_rounds_half_to_even_and_clips(backend):
    k = kernels.get(backend)
    x = np.array([[0.5, 1.5, 2.5, -0.5, -1.5, 1000.0, -1000.0, np.nan]], np.float32)
    np.testing.assert_array_equal(k.quantize(x, 1.0, 0), [[0, 2, 2, 0, -2, 127, -128, 0]])
    np.testing.assert_array_equal(k.quantize(x[:, :3], 1.0, 3, num_bits=4), [[3, 5, 5]])
    np.testing.assert_array_equal(
        k.quantize(np.array([[9.0, -9.0]], np.float32), 1.0, 0, num_bits=4), [[7, -8]]
    )


@pytest.mark.parametrize("backend", BACKENDS)
@given(bits=st.integers(2, 8), seed=st.integers(0, 2**16), per_channel=st.booleans())
def test_dequantize_error_is_at_most_half_a_step(backend, bits, seed, per_channel):
    k = kernels.get(backend)
    x = np.random.default_rng(seed).standard_normal((9, 5)).astype(np.float32)
    if per_channel:
        scale = quant.symmetric_scale(x, bits, axis=0)
        q = k.quantize(x, scale, 0, bits)
        assert q.min() >= -(2 ** (bits - 1)) and q.max() <= 2 ** (bits - 1) - 1
        assert np.all(np.abs(k.dequantize(q, scale, 0) - x) <= scale / 2 + 1e-6)
    else:
        scale, zero = quant.affine_params(x.min(), x.max(), bits)
        q = k.quantize(x, scale, zero, bits)
        assert np.abs(k.dequantize(q, scale, zero) - x).max() <= scale / 2 + 1e-6


def test_affine_params_represent_zero_exactly():
    for low, high, bits in [(-1.0, 3.0, 8), (0.5, 2.0, 8), (-3.0, -1.0, 4)]:
        scale, zero = quant.affine_params(low, high, bits)
        q_min, q_max = quant.qrange(bits)
        assert q_min <= zero <= q_max
        assert scale * (zero - zero) == 0  # q = z decodes to 0.0 exactly
        # rounding z to an integer shifts the covered range by at most half a step
        assert scale * (q_min - zero) <= min(low, 0) + scale / 2
        assert scale * (q_max - zero) >= max(high, 0) - scale / 2


@pytest.mark.parametrize("backend", BACKENDS)
@given(
    n=sizes,
    k=sizes,
    m=sizes,
    seed=st.integers(0, 2**16),
    activation=st.sampled_from([None, "relu", "tanh", "sigmoid"]),
    bias=st.booleans(),
)
def test_qdense_equals_the_dequantized_float_math(backend, n, k, m, seed, activation, bias):
    rng = np.random.default_rng(seed)
    kb = kernels.get(backend)
    x = rng.standard_normal((n, k)).astype(np.float32)
    w = rng.standard_normal((k, m)).astype(np.float32)
    b = rng.standard_normal(m).astype(np.float32) if bias else None
    sx, zx = quant.affine_params(x.min(), x.max(), 8)
    sw = quant.symmetric_scale(w, 8, axis=0)
    xq, wq = kb.quantize(x, sx, zx), kb.quantize(w, sw, 0)
    wq_t, sums = quant.pack_weights(wq)
    y = kb.qdense_forward(xq, sx, zx, wq_t, sw, sums, b, activation)
    xd = sx * (xq.astype(np.float64) - zx)
    wd = sw * wq.astype(np.float64)
    # the int32 bias: b rounded in steps of the float32 multiplier s_x s_j, as quant.fold defines it
    # (rounding b / (s_x s_j) in float64 instead can land one step away at a tie)
    mult = (np.float64(sx) * sw).astype(np.float32)
    bq = 0 if b is None else np.rint(b / mult).astype(np.float64) * mult
    z = xd @ wd + bq
    want = {None: z, "relu": np.maximum(z, 0), "tanh": np.tanh(z), "sigmoid": 1 / (1 + np.exp(-z))}[
        activation
    ]
    np.testing.assert_allclose(y, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))


def test_backends_agree_exactly_on_requantized_output():
    rng = np.random.default_rng(0)
    xq = rng.integers(-128, 128, (7, 13)).astype(np.int8)
    wq_t = rng.integers(-127, 128, (5, 13)).astype(np.int8)
    sums = wq_t.sum(axis=1, dtype=np.int32)
    args = (xq, 0.02, 3, wq_t, np.full(5, 0.01, np.float32), sums, np.ones(5, np.float32), "relu")
    outs = [kernels.get(b).qdense_forward(*args, out_scale=0.01, out_zero=-5) for b in BACKENDS]
    assert outs[0].dtype == np.int8
    np.testing.assert_array_equal(outs[0], outs[1])


@pytest.mark.parametrize("backend", BACKENDS)
def test_bad_integer_input(backend):
    k = kernels.get(backend)
    with pytest.raises(TypeError, match="int8"):
        k.int8_matmul(np.ones((2, 2), np.float32), np.ones((2, 2), np.int8))
    with pytest.raises(ValueError, match="do not chain"):
        k.int8_matmul(np.ones((2, 3), np.int8), np.ones((2, 2), np.int8))
    with pytest.raises(ValueError, match="num_bits"):
        k.quantize(np.ones((2, 2), np.float32), 1.0, 0, num_bits=9)
    with pytest.raises(ValueError, match="scale"):
        k.quantize(np.ones((2, 2), np.float32), 0.0, 0)
    with pytest.raises(ValueError, match="expects 3"):
        k.qdense_forward(
            np.ones((2, 4), np.int8), 1.0, 0, np.ones((5, 3), np.int8), np.ones(5), np.ones(5, np.int32)
        )


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_int32_accumulator_bound_is_exact_at_its_boundary(backend):
    """int32 holds K · 128 · 128 exactly up to 2³¹ − 1, so K ≤ 131071 (quant.MAX_K); at
    K = 131072 all (−128)·(−128) products sum to 2³¹, which wrapped to −2³¹ before
    (issue #19, item 4). The bound is accepted and exact; one more is refused up front."""
    k = kernels.get(backend)
    assert quant.MAX_K == 131071 and quant.MAX_K * 128 * 128 <= 2**31 - 1 < (quant.MAX_K + 1) * 128 * 128
    a = np.full((1, quant.MAX_K), -128, np.int8)
    c = k.int8_matmul(a, np.full((quant.MAX_K, 1), -128, np.int8))
    assert int(c[0, 0]) == 128 * 128 * quant.MAX_K  # = 2147467264, not wrapped
    wq_t = np.full((1, quant.MAX_K), -128, np.int8)
    w_sums = wq_t.sum(axis=1, dtype=np.int64).astype(np.int32)
    y = k.qdense_forward(a, 1.0, 0, wq_t, np.ones(1, np.float32), w_sums, np.zeros(1, np.float32))
    assert y[0, 0] > 2.1e9  # positive: the sign no longer flips
    with pytest.raises(ValueError, match="131071"):
        k.int8_matmul(np.zeros((1, quant.MAX_K + 1), np.int8), np.zeros((quant.MAX_K + 1, 1), np.int8))
    with pytest.raises(ValueError, match="131071"):
        big = np.zeros((1, quant.MAX_K + 1), np.int8)
        k.qdense_forward(big, 1.0, 0, big, np.ones(1, np.float32), np.zeros(1, np.int32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_units_with_zero_or_tiny_weights_keep_their_bias(backend):
    """A unit whose weights are all 0 (scale 0) or ~1e-6 has b / (s_x s_w) far beyond int32:
    cast, it wrapped and the unit's output became garbage (issue #19, item 5). The bias
    stays in float for such units: the output is the float layer's, b_j + x·w_j."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    w = rng.standard_normal((4, 3)).astype(np.float32)
    w[:, 1], w[:, 2] = 0.0, 1e-6
    b = np.array([0.1, 0.5, 0.5], np.float32)
    x_scale, x_zero = quant.affine_params(x.min(), x.max(), 8)
    w_scale = quant.symmetric_scale(w, 8, axis=0)
    k = kernels.get(backend)
    xq = k.quantize(x, x_scale, x_zero)
    wq_t, w_sums = quant.pack_weights(k.quantize(w, w_scale))
    y = k.qdense_forward(xq, x_scale, x_zero, wq_t, w_scale, w_sums, b)
    expected = x.astype(np.float64) @ w + b  # the float layer (textbook formula)
    np.testing.assert_allclose(y[:, 1:], expected[:, 1:], atol=1e-5)
    np.testing.assert_allclose(y[:, 0], expected[:, 0], atol=0.1)  # an ordinary unit: int8 error


@st.composite
def _fold_case(draw):
    m = draw(st.integers(1, 40))
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    w_scale = (10.0 ** rng.uniform(-14, 2, m)).astype(np.float32)  # down to the tiny scales of
    w_scale[rng.random(m) < 0.2] = 1e-12  # all-zero units (quant.symmetric_scale's floor)
    w_sums = rng.integers(-127 * 4096, 127 * 4096, m).astype(np.int32)
    bias = (rng.standard_normal(m) * 10.0 ** rng.uniform(-3, 3, m)).astype(np.float32)
    bias[rng.random(m) < 0.1] = 0.0
    x_scale = draw(st.sampled_from([1e-12, 1e-4, 0.02, 1.0, 3.7e3]))
    x_zero = draw(st.integers(-128, 127))
    return x_scale, x_zero, w_scale, w_sums, bias


@given(case=_fold_case(), as_f32=st.booleans())
def test_the_compiled_fold_equals_quant_fold_bit_for_bit(case, as_f32):
    """kernels/int8.py's fold (one loop, what the cpu backend and QuantizedDense run) gives
    quant.fold's numpy bits: the multipliers, the int32 β (or 0 where it cannot hold b_j / m_j)
    and the float residuals."""
    from densecore.kernels import int8

    x_scale, x_zero, w_scale, w_sums, bias = case
    x_scale = np.float32(x_scale) if as_f32 else float(np.float32(x_scale))
    want = quant.fold(x_scale, x_zero, w_scale, w_sums, bias)
    got = tuple(np.empty(len(bias), t) for t in (np.float32, np.int32, np.float32))
    int8.fold(*got, x_scale, x_zero, w_scale, w_sums, bias)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


@given(
    case=_fold_case(),
    low=st.floats(-1e6, 0, width=32) | st.sampled_from([0.0, -0.0, -1e-30]),
    high=st.floats(0, 1e6, width=32) | st.sampled_from([0.0, 1e-30, np.inf]),
    bits=st.integers(2, 8),
)
def test_dynamic_fold_is_affine_params_then_fold(case, low, high, bits):
    from densecore.kernels import int8

    _, _, w_scale, w_sums, bias = case
    q_min, q_max = quant.qrange(bits)
    got = tuple(np.empty(len(bias), t) for t in (np.float32, np.int32, np.float32))
    ok, scale, zero = int8.dynamic_fold(
        np.float32(low), np.float32(high), q_min, q_max, w_scale, w_sums, bias, *got
    )
    want_scale, want_zero = quant.affine_params(np.float32(low), np.float32(high), bits)
    assert ok and scale == want_scale and zero == want_zero  # (a float32 value, boxed as float)
    for g, w in zip(got, quant.fold(want_scale, want_zero, w_scale, w_sums, bias)):
        np.testing.assert_array_equal(g, w)


@given(case=_fold_case(), seed=st.integers(0, 2**16), rows=st.integers(0, 5), bits=st.integers(2, 8))
def test_dynamic_fold_of_finds_numpys_range(case, seed, rows, bits):
    from densecore.kernels import int8

    _, _, w_scale, w_sums, bias = case
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, 13)) * 10.0 ** rng.uniform(-3, 3)).astype(np.float32)
    if rows and seed % 3 == 0:
        x = np.abs(x)  # all positive: the range's low end is the initial 0
    q_min, q_max = quant.qrange(bits)
    got = tuple(np.empty(len(bias), t) for t in (np.float32, np.int32, np.float32))
    ok, scale, zero = int8.dynamic_fold_of(x, q_min, q_max, w_scale, w_sums, bias, *got)
    assert ok and (scale, zero) == quant.affine_params(x.min(initial=0), x.max(initial=0), bits)
    for g, w in zip(got, quant.fold(np.float32(scale), zero, w_scale, w_sums, bias)):
        np.testing.assert_array_equal(g, w)
    if rows:
        x[-1, 5] = np.nan
        assert not int8.dynamic_fold_of(x, q_min, q_max, w_scale, w_sums, bias, *got)[0]


def test_dynamic_fold_refuses_what_affine_params_refuses():
    """NaN or −inf in the range: quant.affine_params raises (no zero point), dynamic_fold says
    so (ok False) and QuantizedDense then takes call's path, which raises the same error."""
    from densecore.kernels import int8

    one = np.ones(1, np.float32), np.ones(1, np.int32), np.ones(1, np.float32)
    out = tuple(np.empty(1, t) for t in (np.float32, np.int32, np.float32))
    for low, high in ((np.nan, 1.0), (-1.0, np.nan), (-np.inf, 1.0)):
        with pytest.raises(ValueError):
            quant.affine_params(low, high, 8)
        assert not int8.dynamic_fold(np.float32(low), np.float32(high), -128, 127, *one, *out)[0]
