"""The elementwise and row-wise kernels of the cuda backend, one thread per element or row.

Each body is the cpu's own: the optimizer steps (kernels/updates.py), activations, loss rows
(kernels/losses.py) and the dropout hash (kernels/dropout.py) are plain Python functions that
the cpu loops inline and that are compiled here as device functions, so every backend runs one
formula.
"""

import math

import numpy as np
from numba import cuda, float32, float64, int32

from .. import activations, losses, updates
from .. import dropout as masks
from .gemm import REDUCE_COLS, REDUCE_ROWS, apply
from .memory import alloc

ELEMENTWISE_THREADS = 256
LOSS_KINDS = losses.KINDS


def launch_1d(kernel, size, *args):
    """kernel over `size` threads, in blocks of ELEMENTWISE_THREADS (nothing when size is 0)."""
    if size:
        kernel[math.ceil(size / ELEMENTWISE_THREADS), ELEMENTWISE_THREADS](*args)


def grid_2d(rows, cols):
    """(blocks, threads) covering a rows × cols array with 2-D thread blocks."""
    return (math.ceil(rows / REDUCE_ROWS), math.ceil(cols / REDUCE_COLS)), (REDUCE_ROWS, REDUCE_COLS)


# ---- optimizer updates: one thread per element, scalars in w's dtype (as on the cpu) --------
# An unused optional state array (Adam's v̂ without amsgrad, RMSprop's average when not
# centered) comes as an empty array with its flag False, as on the cpu.
_sgd_step = cuda.jit(device=True)(updates.sgd_step)
_adam_step = cuda.jit(device=True)(updates.adam_step)
_rmsprop_step = cuda.jit(device=True)(updates.rmsprop_step)
_adamax_step = cuda.jit(device=True)(updates.adamax_step)
_nadam_step = cuda.jit(device=True)(updates.nadam_step)
_adagrad_step = cuda.jit(device=True)(updates.adagrad_step)


@cuda.jit
def sgd(w, g, m, lr, momentum, nesterov, decay):
    i = cuda.grid(1)
    if i < w.size:
        _sgd_step(w, g, m, i, lr, momentum, nesterov, decay)


@cuda.jit
def adam(w, g, m, v, vh, alpha, c1, c2, epsilon, decay, v_max, amsgrad):
    i = cuda.grid(1)
    if i < w.size:
        _adam_step(w, g, m, v, vh, i, alpha, c1, c2, epsilon, decay, v_max, amsgrad)


@cuda.jit
def rmsprop(w, g, v, mom, avg, lr, rho, c, momentum, epsilon, v_max, decay, centered):
    i = cuda.grid(1)
    if i < w.size:
        _rmsprop_step(w, g, v, mom, avg, i, lr, rho, c, momentum, epsilon, v_max, decay, centered)


@cuda.jit
def adamax(w, g, m, u, alpha, c1, beta_2, epsilon, decay):
    i = cuda.grid(1)
    if i < w.size:
        _adamax_step(w, g, m, u, i, alpha, c1, beta_2, epsilon, decay)


@cuda.jit
def nadam(w, g, m, v, lr, c1, c2, epsilon, m_factor, g_factor, v_factor, decay, v_max):
    i = cuda.grid(1)
    if i < w.size:
        _nadam_step(w, g, m, v, i, lr, c1, c2, epsilon, m_factor, g_factor, v_factor, decay, v_max)


@cuda.jit
def adagrad(w, g, acc, lr, epsilon, decay, v_max):
    i = cuda.grid(1)
    if i < w.size:
        _adagrad_step(w, g, acc, i, lr, epsilon, decay, v_max)


# ---- integer quantization (the math in kernels/quant.py; the loops in reference.py) --------
@cuda.jit
def quantize(q, x, scale, zero, q_min, q_max):
    """q = clip(round_half_even(x / scale) + zero) per channel (the last axis); NaN → zero."""
    n, c = cuda.grid(2)
    if n < x.shape[0] and c < x.shape[1]:
        v = x[n, c] / scale[c]
        if v != v:
            q[n, c] = zero[c]
        else:  # clipped first so that round() stays in range; the result is the same
            v = min(max(v, q_min - zero[c] - 1), q_max - zero[c] + 1)
            q[n, c] = min(max(round(v) + zero[c], q_min), q_max)


@cuda.jit
def dequantize(out, q, scale, zero):
    n, c = cuda.grid(2)
    if n < q.shape[0] and c < q.shape[1]:
        out[n, c] = scale[c] * float32(int32(q[n, c]) - zero[c])


@cuda.jit
def rescale(y, acc, multiplier, folded, residual, act):
    """y = act(multiplier_j · (acc + folded_j) + residual_j): the quantized layer's epilogue, a
    second pass over the int32 accumulators (the cpu kernel fuses it into the dot products)."""
    n, j = cuda.grid(2)
    if n < acc.shape[0] and j < acc.shape[1]:
        y[n, j] = apply(multiplier[j] * float32(acc[n, j] + folded[j]) + residual[j], act)


# ---- what a training step needs besides the layers -----------------------------------------
@cuda.jit
def add(out, a, b):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a[i] + b[i]


_softmax_row = cuda.jit(device=True)(activations.softmax_row)  # the cpu's own row


@cuda.jit
def softmax_rows(out, z):
    n = cuda.grid(1)
    if n < z.shape[0]:
        _softmax_row(out[n], z[n])


@cuda.jit
def sigmoid(out, z):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = apply(z[i], activations.SIGMOID)


_cross_entropy_row = cuda.jit(device=True)(losses.cross_entropy_row)  # the cpu's own rows
_squared_error_row = cuda.jit(device=True)(losses.squared_error_row)


@cuda.jit
def cross_entropy_rows(per_row, grad, z, t, kind, scale, w):
    """One thread per row: its loss from logits z and its gradient times `scale`, both
    times the row's weight w[n] when w is not empty (the math and the kinds:
    kernels/losses.py)."""
    n = cuda.grid(1)
    if n < z.shape[0]:
        wn = w[n] if w.shape[0] > 0 else 1.0
        per_row[n] = wn * _cross_entropy_row(grad[n], z[n], t[n], kind, scale * wn)


@cuda.jit
def squared_error_rows(per_row, grad, p, t, scale, w):
    n = cuda.grid(1)
    if n < p.shape[0]:
        wn = w[n] if w.shape[0] > 0 else 1.0
        per_row[n] = wn * _squared_error_row(grad[n], p[n], t[n], scale * wn)


_hash32 = cuda.jit(device=True)(masks.hash32)  # the cpu's own hash


@cuda.jit
def dropout(out, x, cut, k1, k2, scale):
    """One thread per element: x · keep / (1 − rate), keep from the hash of (seed, i)
    (kernels/dropout.py): the same mask as the cpu's, bit for bit."""
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] * scale if _hash32(i, k1, k2) >= cut else 0.0


@cuda.jit
def correct_rows(per_row, p, t, kind):
    """1.0 where a row is right: argmax = label (sparse), argmax = argmax t (categorical);
    binary: the number of outputs on the target's side of 0.5."""
    n = cuda.grid(1)
    if n < p.shape[0]:
        if kind == 2:
            hits = 0.0
            for c in range(p.shape[1]):
                hits += 1.0 if (p[n, c] > 0.5) == (t[n, c] > 0.5) else 0.0
            per_row[n] = hits
        else:
            best = 0
            for c in range(1, p.shape[1]):
                if p[n, c] > p[n, best]:
                    best = c
            if kind == 0:
                per_row[n] = 1.0 if best == t[n, 0] else 0.0
            else:
                want = 0
                for c in range(1, t.shape[1]):
                    if t[n, c] > t[n, want]:
                        want = c
                per_row[n] = 1.0 if best == want else 0.0


@cuda.jit
def _sum(out, values):
    """out[0] = Σ values, by one block: strided partial sums, then a tree in shared memory."""
    partial = cuda.shared.array(ELEMENTWISE_THREADS, float64)
    i = cuda.threadIdx.x
    s = 0.0
    for k in range(i, values.size, ELEMENTWISE_THREADS):
        s += values[k]
    partial[i] = s
    cuda.syncthreads()
    width = ELEMENTWISE_THREADS // 2
    while width > 0:
        if i < width:
            partial[i] += partial[i + width]
        cuda.syncthreads()
        width //= 2
    if i == 0:
        out[0] = partial[0]


def total(per_row):
    """Σ per_row as a 1-element float64 device array (one block's reduction)."""
    out = alloc(1, np.float64, "sum")
    _sum[1, ELEMENTWISE_THREADS](out, per_row)
    return out
