"""The elementwise integer kernels for the CPU (Numba): quantize and dequantize.

Shapes: N = rows, C = channels (the last axis). The math is in kernels/quant.py; each must
equal its twin in kernels/reference.py exactly (integers) or to float rounding. The int8
products (int8_matmul, the quantized dense layer) are kernels/int8_simd.py's register-blocked
micro-kernels: a dot product per output, as this file once had, is what LLVM vectorises on
its own (`vpmovsxbw` + `vpmaddwd`), but it reads each weight row once per batch row and ran
at 0.45–0.6× the float GEMM at batch 256.
"""

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def quantize(q, x, scale, zero, q_min, q_max):
    """q = clip(rint(x / scale) + zero) per channel (the last axis); NaN maps to the zero point."""
    for n in prange(x.shape[0]):
        for c in range(x.shape[1]):
            v = np.rint(x[n, c] / scale[c]) + zero[c]
            q[n, c] = min(max(v, q_min), q_max) if v == v else zero[c]


@njit(cache=True, parallel=True)
def dequantize(out, q, scale, zero):
    """out = scale · (q − zero) per channel (the last axis)."""
    for n in prange(q.shape[0]):
        for c in range(q.shape[1]):
            out[n, c] = scale[c] * np.float32(np.int32(q[n, c]) - zero[c])


INT32_MAX = 2**31 - 1


@njit(cache=True, error_model="numpy")
def fold(multiplier, folded, residual, x_scale, x_zero, w_scale, w_sums, bias):
    """quant.fold into the three arrays given, in one loop (quant.fold's numpy form is ~10
    passes and 16–37 µs at M = 1024–4096): the same float32 division b_j / m_j, the same
    float64 sums, so the same bits (tests/kernels/test_int8.py checks it)."""
    xs = np.float64(x_scale)
    zero = np.int64(x_zero)
    for j in range(w_scale.shape[0]):
        m = np.float32(xs * np.float64(w_scale[j]))
        zero_term = zero * np.int64(w_sums[j])
        exact = np.float64(np.rint(bias[j] / m)) - np.float64(zero_term)
        multiplier[j] = m
        if np.isfinite(exact) and abs(exact) <= INT32_MAX:
            folded[j] = np.int32(exact)
            residual[j] = np.float32(0.0)
        else:
            folded[j] = 0
            residual[j] = np.float32(np.float64(bias[j]) - np.float64(m) * np.float64(zero_term))


@njit(cache=True, error_model="numpy")
def dynamic_fold(low, high, q_min, q_max, w_scale, w_sums, bias, multiplier, folded, residual):
    """quant.affine_params(low, high) (asymmetric) then `fold` with the scale and zero point
    found: returns (ok, scale as float32, zero point); ok is False when the range gives no
    zero point (NaN or an infinite low: quant.affine_params raises, and so must the caller)."""
    if low != low or high != high:
        return False, np.float32(0.0), 0
    low, high = min(np.float64(low), 0.0), max(np.float64(high), 0.0)
    scale = max((high - low) / (q_max - q_min), 1e-12)
    z = np.rint(q_min - low / scale)
    if z != z:
        return False, np.float32(0.0), 0
    zero = int(min(max(z, q_min), q_max))
    scale32 = np.float32(scale)
    fold(multiplier, folded, residual, scale32, zero, w_scale, w_sums, bias)
    return True, scale32, zero


@njit(cache=True, error_model="numpy")
def dynamic_fold_of(x, q_min, q_max, w_scale, w_sums, bias, multiplier, folded, residual):
    """dynamic_fold on x's own range (x.min(initial=0), x.max(initial=0)), found in the same
    call: for small x (a batch of a few rows), where numpy's two reductions cost more than
    the loop. A NaN anywhere gives ok False, as numpy's NaN minimum would."""
    low, high = np.float32(0.0), np.float32(0.0)
    nan = False
    for v in x.flat:
        low = min(low, v)
        high = max(high, v)
        nan |= v != v
    if nan:
        return False, np.float32(0.0), 0
    return dynamic_fold(low, high, q_min, q_max, w_scale, w_sums, bias, multiplier, folded, residual)
