"""Integer kernels for the CPU (Numba): quantize, int8 dot products, the quantized dense layer.

Shapes: N = batch, K = inputs, M = outputs. The math is in kernels/quant.py; each function
must equal its twin in kernels/reference.py exactly (integers) or to float rounding.

What the compiler emits: the dot product over a contiguous K of int16 activations × int8
weights, with the products formed in int16 and summed in int32, is vectorised by LLVM into
`vpmovsxbw` (widen 16 weight bytes to 16 words) + `vpmaddwd` (multiply word pairs, add
adjacent pairs into int32), 16 multiply-adds per instruction pair on AVX2. That is why the weights are stored
(M, K), one contiguous row per output. There is no `vpdpbusd` (VNNI) on AVX2-only CPUs, and
LLVM does not emit it from loops even where it exists. Several dot products per loop (register
blocking) stop LLVM from using `vpmaddwd`, measured, so each task computes one output column
for all rows, reusing its weight row from L1.
"""

import numpy as np
from numba import njit, prange

from . import activations


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


@njit(cache=True, inline="always")
def _dot(a, b):
    """Σ_k a[k] b[k] over an int16 row a and an int8 row b, exactly, in int32 (b widened by
    vpmovsxbw, then vpmaddwd). a is the activations, widened once per call of the kernel
    (`_widen`): widening them again for every output cost 15% at batch 1, measured.

    Callers store the result straight into an int32 array: mixed into other arithmetic, the
    sum was widened and LLVM lost the vpmaddwd form (2× slower, measured).
    """
    s = np.int32(0)
    for k in range(a.shape[0]):
        s += np.int32(a[k] * np.int16(b[k]))
    return s


@njit(cache=True, inline="always")
def _widen(q):
    """q (int8) as int16: the form the dot product multiplies."""
    out = np.empty(q.shape, np.int16)
    for n in range(q.shape[0]):
        for k in range(q.shape[1]):
            out[n, k] = q[n, k]
    return out


@njit(cache=True, parallel=True)
def matmul_t(c, a, b_t):
    """c = a · b_tᵀ in int32, for int8 a (N, K) and b_t (M, K)."""
    a16 = _widen(a)
    for j in prange(b_t.shape[0]):
        row = b_t[j]
        for n in range(a.shape[0]):
            c[n, j] = _dot(a16[n], row)


@njit(cache=True, parallel=True)
def qdense(y, xq, wq_t, multiplier, folded, residual, act):
    """y = act(multiplier_j · (Σ_k xq wq + folded_j) + residual_j), one output column per task."""
    columns = np.empty((wq_t.shape[0], xq.shape[0]), np.int32)  # one allocation, not one per j
    x16 = _widen(xq)
    for j in prange(wq_t.shape[0]):
        row = wq_t[j]
        column = columns[j]
        for n in range(xq.shape[0]):
            column[n] = _dot(x16[n], row)
        for n in range(xq.shape[0]):
            y[n, j] = activations.apply(multiplier[j] * np.float32(column[n] + folded[j]) + residual[j], act)
