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
