"""The reference kernels: a dense layer written to be read, the oracle for every backend.

Shapes: N = batch, K = inputs (in), M = outputs (out).

A dense (fully connected) layer maps each input row x_n (K numbers) to M outputs:

    z[n, j] = sum_k x[n, k] * w[k, j] + b[j]          Z = X W + b      (N, M)
    y[n, j] = act(z[n, j])                              Y = act(Z)       (N, M)

Backward. Given dL/dY (written dy), the chain rule gives, element by element:

    dz[n, j] = dy[n, j] * act'(z[n, j])                 dZ = dY ⊙ act'(Z)
    dw[k, j] = sum_n x[n, k] * dz[n, j]                 dW = Xᵀ dZ       (K, M)
    db[j]    = sum_n dz[n, j]                           db = Σ_n dZ      (M,)
    dx[n, k] = sum_j dz[n, j] * w[k, j]                 dX = dZ Wᵀ       (N, K)

Why: w[k, j] touches the loss only through z[n, j] for every n, with ∂z[n, j]/∂w[k, j] =
x[n, k], so its gradient sums x[n, k]·dz[n, j] over the batch. b[j] enters every z[n, j]
with slope 1. x[n, k] enters every output j of its own row with slope w[k, j].
act'(z) is computed from the saved output y (see kernels/activations.py), so the forward
need not keep z.

These loops are plain on purpose: no tiling, no threads, no tricks. Each dot product is
accumulated in float64 so that, as an oracle, this module is more accurate than the fast
kernels it checks. Every fast kernel in this package names the function here it must equal.
"""

import numpy as np
from numba import njit

from . import FUNCTIONS, activations, checks, losses, quant
from . import dropout as masks
from .buffers import sub, take
from .updates import (  # noqa: F401  (shared loops)
    adagrad_update,
    adam_update,
    adamax_update,
    nadam_update,
    rmsprop_update,
    sgd_update,
)

__all__ = list(FUNCTIONS)


def dense_forward(x, w, b=None, activation=None, buffers=None):
    """Y = act(X W + b).

    Args:
        x: inputs, shape (N, K), float32 or float64.
        w: kernel, shape (K, M), same dtype as x.
        b: bias, shape (M,), or None for no bias.
        activation: "linear" (or None), "relu", "sigmoid" or "tanh".
        buffers: a kernels.Buffers that keeps y for the next call (a training loop's
            way to allocate nothing per step; see kernels/buffers.py), or None.

    Returns:
        y, shape (N, M), the dtype of x.

    Example:
        >>> x = np.ones((2, 3), np.float32); w = np.ones((3, 4), np.float32)
        >>> float(dense_forward(x, w, None, "relu")[0, 0])
        3.0
    """
    where = "reference.dense_forward"
    x, w, b = checks.dense_inputs(where, x, w, b)
    act = activations.code(activation, where)
    y = take(buffers, where, "y", (x.shape[0], w.shape[1]), x.dtype, (x, w, b))
    bias = np.zeros(w.shape[1], x.dtype) if b is None else b
    _dense_forward(y, x, w, bias, act)
    return y


@njit(cache=True)
def _dense_forward(y, x, w, b, act):
    n_rows, n_in = x.shape
    n_out = w.shape[1]
    for n in range(n_rows):
        for j in range(n_out):
            z = 0.0
            for k in range(n_in):
                z += x[n, k] * w[k, j]
            y[n, j] = activations.apply(z + b[j], act)


def dense_backward(x, w, y, dy, activation=None, need_dx=True, need_dw=True, buffers=None):
    """Gradients of a dense layer from its inputs, its output and dL/dY.

    Args:
        x: the forward's inputs, shape (N, K).
        w: the forward's kernel, shape (K, M).
        y: the forward's output act(X W + b), shape (N, M).
        dy: dL/dY, shape (N, M).
        activation: the forward's activation.
        need_dx: compute dX (False for a network's first layer).
        need_dw: compute dW (False for a frozen layer).
        buffers: a kernels.Buffers that keeps dx, dw, db and dz for the next call, or None.

    Returns:
        (dx, dw, db): shapes (N, K), (K, M), (M,); dx or dw is None when not asked for.
    """
    where = "reference.dense_backward"
    x, w, y, dy = checks.dense_grad_inputs(where, x, w, y, dy)
    act = activations.code(activation, where)
    n_rows, n_in = x.shape
    n_out = w.shape[1]
    inputs = (x, w, y, dy)
    dz = take(buffers, where, "dz", dy.shape, dy.dtype)
    db = take(buffers, where, "db", (n_out,), dy.dtype, inputs)
    _dense_backward_dz(dz, db, y, dy, act)
    dx = take(buffers, where, "dx", (n_rows, n_in), x.dtype, inputs) if need_dx else None
    dw = take(buffers, where, "dw", (n_in, n_out), x.dtype, inputs) if need_dw else None
    if need_dw:
        _dense_backward_dw(dw, x, dz)
    if need_dx:
        _dense_backward_dx(dx, w, dz)
    return dx, dw, db


@njit(cache=True)
def _dense_backward_dz(dz, db, y, dy, act):
    n_rows, n_out = dy.shape
    for j in range(n_out):
        s = 0.0
        for n in range(n_rows):
            dz[n, j] = dy[n, j] * activations.derivative_from_output(y[n, j], act)
            s += dz[n, j]
        db[j] = s


@njit(cache=True)
def _dense_backward_dw(dw, x, dz):
    n_rows, n_in = x.shape
    n_out = dz.shape[1]
    for k in range(n_in):
        for j in range(n_out):
            s = 0.0
            for n in range(n_rows):
                s += x[n, k] * dz[n, j]
            dw[k, j] = s


@njit(cache=True)
def _dense_backward_dx(dx, w, dz):
    n_rows, n_out = dz.shape
    n_in = w.shape[0]
    for n in range(n_rows):
        for k in range(n_in):
            s = 0.0
            for j in range(n_out):
                s += dz[n, j] * w[k, j]
            dx[n, k] = s


# ---- low rank ---------------------------------------------------------------------------
# Shapes: N = batch, K = inputs, R = rank, M = outputs.
#
# A low-rank dense layer replaces W (K, M) by the product of U (K, R) and V (R, M):
#
#     t = X U                       (N, R)   the thin intermediate
#     y = act(t V + b)              (N, M)
#
# Parameters and FLOPs per sample fall from K·M to R·(K + M). Backward, by the chain rule
# through the two products (t is recomputed rather than stored):
#
#     dZ = dY ⊙ act'(Y);  db = Σ_n dZ
#     dV = tᵀ dZ    (R, M)      dt = dZ Vᵀ    (N, R)
#     dU = Xᵀ dt    (K, R)      dX = dt Uᵀ    (N, K)


def lowrank_forward(x, u, v, b=None, activation=None, buffers=None):
    """Y = act((X U) V + b), the math of a dense layer with W = U V.

    Args:
        x: (N, K).  u: (K, R).  v: (R, M).  b: (M,) or None.
        activation, buffers: as dense_forward.

    Returns:
        y (N, M).
    """
    where = "reference.lowrank_forward"
    x, u, v, b = checks.lowrank_inputs(where, x, u, v, b)
    t = dense_forward(x, u, buffers=sub(buffers, "u"))
    return dense_forward(t, v, b, activation, sub(buffers, "v"))


def lowrank_backward(x, u, v, y, dy, activation=None, need_dx=True, need_dw=True, buffers=None):
    """Gradients (dx, du, dv, db) of Y = act((X U) V + b); dx or du, dv None when not needed."""
    where = "reference.lowrank_backward"
    x, u, v, y, dy = checks.lowrank_grad_inputs(where, x, u, v, y, dy)
    t = dense_forward(x, u, buffers=sub(buffers, "t"))
    dt, dv, db = dense_backward(t, v, y, dy, activation, True, need_dw, sub(buffers, "v"))
    dx, du, _ = dense_backward(x, u, t, dt, None, need_dx, need_dw, sub(buffers, "u"))
    return dx, du, dv, db


# ---- integer quantization ---------------------------------------------------------------
# Shapes: N = batch, K = inputs, M = outputs. The math is in kernels/quant.py:
#     q = clip(round(r / s) + z, q_min, q_max)        r ≈ s (q − z)
#     acc = Σ_k q_x q_w (int32);   y = s_x s_w (acc + β) → act → float, or requantized


def quantize(x, scale, zero_point=0, num_bits=8):
    """q = clip(round_half_even(x / scale) + zero_point, q_min, q_max) as int8.

    Args:
        x: a float array; its last axis is the channel axis.
        scale: a positive scalar, or one per channel (per-channel quantization).
        zero_point: an integer, or one per channel.
        num_bits: 2..8 (values are held in int8).
    """
    x2, shape, scale, zero, q_min, q_max = quant.quantize_inputs(
        "reference.quantize", x, scale, zero_point, num_bits
    )
    q = np.empty(x2.shape, np.int8)
    _quantize(q, x2, scale, zero, q_min, q_max)
    return q.reshape(shape)


@njit(cache=True)
def _quantize(q, x, scale, zero, q_min, q_max):
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            v = np.rint(x[n, c] / scale[c]) + zero[c]  # rint: round half to even
            q[n, c] = min(max(v, q_min), q_max) if v == v else zero[c]


def dequantize(q, scale, zero_point=0):
    """r = scale · (q − zero_point) as float32; scale and zero point per channel or scalar."""
    if not isinstance(q, np.ndarray) or q.dtype != np.int8:
        raise TypeError(
            "reference.dequantize: q must be an int8 array; received "
            f"{getattr(q, 'dtype', type(q).__name__)}."
        )
    x2, shape, scale, zero, _, _ = quant.quantize_inputs(
        "reference.dequantize", q.astype(np.float32), scale, zero_point, 8
    )
    out = np.empty(x2.shape, np.float32)
    for c in range(x2.shape[1]):
        out[:, c] = scale[c] * (x2[:, c] - zero[c])
    return out.reshape(shape)


def int8_matmul(a, b):
    """C = A B exactly, for int8 A (M, K) and B (K, N), accumulated in int32."""
    where = "reference.int8_matmul"
    a, b = checks.int8_matmul_inputs(where, a, b)
    c = np.empty((a.shape[0], b.shape[1]), np.int32)
    _int8_matmul(c, a, b)
    return c


@njit(cache=True)
def _int8_matmul(c, a, b):
    for i in range(a.shape[0]):
        for j in range(b.shape[1]):
            s = 0
            for k in range(a.shape[1]):
                s += np.int32(a[i, k]) * np.int32(b[k, j])
            c[i, j] = s


def qdense_forward(
    xq, x_scale, x_zero, wq_t, w_scale, w_sums, bias=None, activation=None, out_scale=None, out_zero=0
):
    """A dense layer in integers: y = act(s_x s_j (Σ_k q_x q_w + β_j) + r_j), see kernels/quant.py
    (r_j = 0 but for units whose weights are all nearly zero: quant.fold).

    Args:
        xq: int8 inputs (N, K), quantized with x_scale and x_zero (per tensor).
        wq_t: int8 weights laid out (M, K) by quant.pack_weights; w_scale (M,) their
            per-output scales (symmetric), w_sums (M,) their per-output sums.
        bias: float (M,) or None.  activation: as dense_forward.
        out_scale, out_zero: when given, the output is requantized to int8 with them.

    Returns:
        float32 y (N, M), or int8 when out_scale is given.
    """
    where = "reference.qdense_forward"
    xq, wq_t, w_scale, w_sums, bias = checks.qdense_inputs(
        where, xq, x_scale, x_zero, wq_t, w_scale, w_sums, bias
    )
    act = activations.code(activation, where)
    multiplier, folded, residual = quant.fold(x_scale, x_zero, w_scale, w_sums, bias)
    y = np.empty((xq.shape[0], wq_t.shape[0]), np.float32)
    _qdense(y, xq, wq_t, multiplier, folded, residual, act)
    if out_scale is None:
        return y
    return quantize(y, out_scale, out_zero)


@njit(cache=True)
def _qdense(y, xq, wq_t, multiplier, folded, residual, act):
    for n in range(xq.shape[0]):
        for j in range(wq_t.shape[0]):
            acc = 0
            for k in range(xq.shape[1]):
                acc += np.int32(xq[n, k]) * np.int32(wq_t[j, k])
            y[n, j] = activations.apply(multiplier[j] * np.float32(acc + folded[j]) + residual[j], act)


# ---- losses from logits, with their gradients (the math: kernels/losses.py) ---------------
def cross_entropy(kind, z, t, scale, w=None, buffers=None):
    """(Σ_n w_n loss_n as a one-element float64 array, dL/dz · scale), in whole-array numpy.

    Args:
        kind: "sparse" (t: int64 labels, (N, 1)), "categorical" (t: targets like z) or
            "binary" (t: targets in [0, 1] like z, one sigmoid per output).
        z: logits (N, C), float32 or float64.
        scale: the gradient's factor (1 / N for a mean over the batch).
        w: None, or one weight per sample (N,): row n's loss and gradient count w_n times.
        buffers: taken for the backends' common signature; the reference keeps nothing.

    Example:
        >>> z = np.zeros((1, 2), np.float32)
        >>> total, g = cross_entropy("sparse", z, np.array([[0]]), 1.0)
        >>> round(float(total[0]), 4), g.tolist()
        (0.6931, [[-0.5, 0.5]])
    """
    z, t, w = losses.loss_inputs("reference.cross_entropy", kind, z, t, w)
    w = w if w.size else np.ones(z.shape[0])
    z64 = z.astype(np.float64)
    if kind == "binary":
        e = np.exp(-np.abs(z64))  # ≤ 1: nothing below overflows
        per_row = (np.maximum(z64, 0) - z64 * t + np.log1p(e)).sum(axis=1)
        grad = np.where(z64 >= 0, 1 / (1 + e), e / (1 + e)) - t  # σ(z), from either side
    else:
        top = z64.max(axis=1, keepdims=True)
        lse = top + np.log(np.exp(z64 - top).sum(axis=1, keepdims=True))
        if kind == "sparse":
            t = np.eye(z.shape[1])[t[:, 0]]  # one-hot (labels checked by loss_inputs)
        per_row = (t * (lse - z64)).sum(axis=1)
        grad = t.sum(axis=1, keepdims=True) * np.exp(z64 - lse) - t
    return np.array([(w * per_row).sum()]), (grad * (scale * w[:, None])).astype(z.dtype)


def squared_error(p, t, scale, w=None, buffers=None):
    """(Σ_n w_n Σ_c (p − t)² as a one-element float64 array, 2 w_n (p − t) · scale) for p,
    t (N, C) and optional sample weights w (N,) (buffers: as cross_entropy)."""
    p, t, w = losses.loss_inputs("reference.squared_error", "squared", p, t, w)
    w = w if w.size else np.ones(p.shape[0])
    d = p.astype(np.float64) - t
    return np.array([(w * (d * d).sum(axis=1)).sum()]), (2 * d * (scale * w[:, None])).astype(p.dtype)


def dropout(x, rate, seed, buffers=None):
    """Inverted dropout: y = x · keep / (1 − rate), keep_i = [h_i ≥ rate · 2³²] with h_i a
    hash of (seed, i) (the formula: kernels/dropout.py), in whole-array numpy."""
    x = np.ascontiguousarray(x)
    masks.check("reference.dropout", x, rate)
    return masks.reference_dropout(x, rate, seed)
