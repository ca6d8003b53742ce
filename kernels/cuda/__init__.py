"""The GPU backend: the dense layer with numba.cuda (the optional `densecore[cuda]` extra).

Shapes: N = batch, K = inputs, M = outputs. Same functions and results as
kernels/reference.py (which states the math).

The product C = act(op(A) op(B) + bias) is a shared-memory tiled matmul, as in numba's CUDA
matrix-multiplication example:
- each thread block computes a TILE × TILE block of C; its THREADS × THREADS threads each
  keep an RT × RT register tile of it (fewer, busier threads: more arithmetic per shared-
  memory load);
- K is walked in steps of TILE: the block copies a TILE × TILE tile of op(A) and of op(B)
  into shared memory (reading A or B transposed when asked, so dW = Xᵀ dZ and dX = dZ Wᵀ need
  no transposed copies), synchronises, and every thread accumulates from shared memory;
- bias and activation are applied in registers as the tile is stored.
db = Σ_n dZ is a block reduction (32 columns × 4 row groups per block, a tree in shared memory).
The integer kernels reuse the same tiled product with int32 accumulators (exact for int8
operands), then rescale in one elementwise pass.

Public functions accept numpy arrays (copied to the device and back) or device arrays
(nothing copied), and return the same kind. Device copies are named x_d, w_d, ...: dx, dw, db
are gradients, as everywhere else.

    gemm.py         the tiled products and the bias gradient's column sums
    elementwise.py  one thread per element or row: optimizer steps, quantization, losses,
                    dropout, softmax, counts (each body the cpu's own plain-Python function)
    memory.py       copies, allocations, arrays kept between calls
    this file       the host side: checks, launches, what comes back
"""

import numpy as np

from .. import activations, checks, quant
from .. import dropout as masks
from .. import losses as loss_rows
from ..buffers import sub
from ..checks import is_device
from ..updates import V_MAX, _flat
from . import elementwise as ew
from .gemm import dz_db, matmul
from .memory import alloc, device_info, keep, operands, unavailable_reason, zeros
from .memory import upload as _upload

__all__ = [
    "dense_forward",
    "dense_backward",
    "lowrank_forward",
    "lowrank_backward",
    "sgd_update",
    "adam_update",
    "rmsprop_update",
    "adamax_update",
    "nadam_update",
    "adagrad_update",
    "quantize",
    "dequantize",
    "int8_matmul",
    "qdense_forward",
    "cross_entropy",
    "squared_error",
    "dropout",
    "upload",
    "add",
    "softmax",
    "sigmoid",
    "count_correct",
    "unavailable_reason",
    "device_info",
]

LOSS_KINDS = loss_rows.KINDS


# ---- the dense layer ------------------------------------------------------------------------
def dense_forward(x, w, b=None, activation=None, buffers=None):
    """Y = act(X W + b) on the GPU; must equal reference.dense_forward."""
    where = "cuda.dense_forward"
    act = activations.code(activation, where)
    (x_d, w_d, b_d), host = operands(
        where, {"x": x, "w": w, "b": b}, lambda x, w, b: checks.dense_inputs(where, x, w, b)
    )
    if not host and x_d.shape[1] != w_d.shape[0]:
        raise ValueError(f"{where}: x {x_d.shape} and w {w_d.shape} do not chain.")
    y = keep(buffers, where, "y", (x_d.shape[0], w_d.shape[1]), x_d.dtype, (x_d, w_d, b_d))
    matmul(y, x_d, w_d, False, False, b_d, act)
    return y.copy_to_host() if host else y


def dense_backward(x, w, y, dy, activation=None, need_dx=True, need_dw=True, buffers=None):
    """(dX, dW, db) on the GPU; must equal reference.dense_backward."""
    where = "cuda.dense_backward"
    act = activations.code(activation, where)
    (x, w, y, dy), host = operands(
        where,
        {"x": x, "w": w, "y": y, "dy": dy},
        lambda x, w, y, dy: checks.dense_grad_inputs(where, x, w, y, dy),
    )
    n_rows, n_in = x.shape
    n_out = w.shape[1]
    inputs = (x, w, y, dy)
    dz = keep(buffers, where, "dz", (n_rows, n_out), x.dtype)
    db = keep(buffers, where, "db", (n_out,), x.dtype, inputs)
    dz_db(dz, db, y, dy, act)
    dx = dw = None
    if need_dw:
        dw = matmul(keep(buffers, where, "dw", (n_in, n_out), x.dtype, inputs), x, dz, True, False)
    if need_dx:
        dx = matmul(keep(buffers, where, "dx", (n_rows, n_in), x.dtype, inputs), dz, w, False, True)
    if host:
        return tuple(None if a is None else a.copy_to_host() for a in (dx, dw, db))
    return dx, dw, db


def lowrank_forward(x, u, v, b=None, activation=None, buffers=None):
    """Y = act((X U) V + b) on the GPU: two tiled products, t = X U kept on the device."""
    where = "cuda.lowrank_forward"
    act = activations.code(activation, where)
    (x, u, v, b), host = operands(
        where, {"x": x, "u": u, "v": v, "b": b}, lambda x, u, v, b: checks.lowrank_inputs(where, x, u, v, b)
    )
    t = matmul(keep(buffers, where, "t", (x.shape[0], u.shape[1]), x.dtype), x, u, False, False)
    y = keep(buffers, where, "y", (x.shape[0], v.shape[1]), x.dtype, (x, u, v, b))
    matmul(y, t, v, False, False, b, act)
    return y.copy_to_host() if host else y


def lowrank_backward(x, u, v, y, dy, activation=None, need_dx=True, need_dw=True, buffers=None):
    """(dx, du, dv, db) of Y = act((X U) V + b) on the GPU (formulas in reference.py)."""
    where = "cuda.lowrank_backward"
    (x, u, v, y, dy), host = operands(
        where,
        {"x": x, "u": u, "v": v, "y": y, "dy": dy},
        lambda x, u, v, y, dy: checks.lowrank_grad_inputs(where, x, u, v, y, dy),
    )
    t = keep(buffers, where, "t", (x.shape[0], u.shape[1]), x.dtype)
    matmul(t, x, u, False, False)
    dt, dv, db = dense_backward(t, v, y, dy, activation, True, need_dw, sub(buffers, "v"))
    dx, du, _ = dense_backward(x, u, t, dt, None, need_dx, need_dw, sub(buffers, "u"))
    out = (dx, du, dv, db)
    return tuple(None if a is None else a.copy_to_host() for a in out) if host else out


# ---- optimizer updates (the steps are kernels/updates.py's, compiled in elementwise.py) ------
def _in_place(where, kernel, arrays, scalars):
    """Run an elementwise update over w, its gradient and its state, in place: numpy arrays
    (checked as on the cpu, copied to the device and back) or device arrays (updated there).
    An optional state array given as None reaches the kernel empty (its option is off). The
    scalars are cast to w's dtype, so the arithmetic is the cpu's; flags stay bools."""
    given = [a for a in arrays if a is not None]
    if not any(is_device(a) for a in given):
        given = _flat(where, *given)
    elif len({np.dtype(a.dtype) for a in given}) != 1:
        raise TypeError(
            f"{where}: w, its gradient and its state must share one float dtype; received "
            f"{[str(a.dtype) for a in given]}."
        )
    elif len({tuple(a.shape) for a in given}) != 1:
        raise ValueError(
            f"{where}: w, its gradient and its state must share one shape; received "
            f"{[tuple(a.shape) for a in given]}."
        )
    flat = [a.reshape(-1) if a.ndim != 1 else a for a in given]
    on_device = [a if is_device(a) else _upload(a, "optimizer state") for a in flat]
    dtype = np.dtype(given[0].dtype)
    it = iter(on_device)
    operands = [zeros(0, dtype) if a is None else next(it) for a in arrays]
    cast = dtype.type
    ew.launch_1d(
        kernel, flat[0].size, *operands, *(cast(s) if not isinstance(s, bool) else s for s in scalars)
    )
    for original, copy in zip(flat, on_device):
        if original is not copy:
            copy.copy_to_host(original)


def sgd_update(w, g, m, lr, momentum, nesterov, decay=0.0):
    """In place, as updates.sgd_update."""
    _in_place("cuda.sgd_update", ew.sgd, [w, g, m], [lr, momentum, bool(nesterov), decay])


def adam_update(w, g, m, v, alpha, beta_1, beta_2, epsilon, decay, v_hat=None):
    """In place, as updates.adam_update."""
    scalars = [alpha, 1 - beta_1, 1 - beta_2, epsilon, decay, V_MAX, v_hat is not None]
    _in_place("cuda.adam_update", ew.adam, [w, g, m, v, v_hat], scalars)


def rmsprop_update(w, g, v, mom, lr, rho, momentum, epsilon, decay=0.0, average=None):
    """In place, as updates.rmsprop_update."""
    scalars = [lr, rho, 1 - rho, momentum, epsilon, V_MAX, decay, average is not None]
    _in_place("cuda.rmsprop_update", ew.rmsprop, [w, g, v, mom, average], scalars)


def adamax_update(w, g, m, u, alpha, beta_1, beta_2, epsilon, decay=0.0):
    """In place, as updates.adamax_update."""
    _in_place("cuda.adamax_update", ew.adamax, [w, g, m, u], [alpha, 1 - beta_1, beta_2, epsilon, decay])


def nadam_update(w, g, m, v, lr, beta_1, beta_2, epsilon, m_factor, g_factor, v_factor, decay=0.0):
    """In place, as updates.nadam_update."""
    scalars = [lr, 1 - beta_1, 1 - beta_2, epsilon, m_factor, g_factor, v_factor, decay, V_MAX]
    _in_place("cuda.nadam_update", ew.nadam, [w, g, m, v], scalars)


def adagrad_update(w, g, acc, lr, epsilon, decay=0.0):
    """In place, as updates.adagrad_update."""
    _in_place("cuda.adagrad_update", ew.adagrad, [w, g, acc], [lr, epsilon, decay, V_MAX])


# ---- integer quantization (the math in kernels/quant.py; the loops in reference.py) --------
# Each takes numpy arrays (checked as the cpu backend checks them, copied in and out) or
# device arrays (used in place, results left on the device).
def quantize(x, scale, zero_point=0, num_bits=8):
    """int8 q = clip(round_half_even(x / scale) + zero_point); must equal reference.quantize."""
    host = not is_device(x)
    if host:
        x2, shape, scale, zero, q_min, q_max = quant.quantize_inputs(
            "cuda.quantize", x, scale, zero_point, num_bits
        )
        x2 = _upload(x2, "x")
    else:
        if x.ndim != 2:
            raise ValueError(f"cuda.quantize: a device x must be 2-D (rows, channels); received {x.shape}.")
        _, _, scale, zero, q_min, q_max = quant.quantize_inputs(
            "cuda.quantize", np.zeros((1, x.shape[1]), np.float32), scale, zero_point, num_bits
        )
        x2, shape = x, x.shape
    q = alloc(x2.shape, np.int8, "q")
    if q.size:
        ew.quantize[ew.grid_2d(*x2.shape)](
            q, x2, _upload(scale, "scale"), _upload(zero, "zero_point"), q_min, q_max
        )
    return q.copy_to_host().reshape(shape) if host else q


def dequantize(q, scale, zero_point=0):
    """float32 scale · (q − zero_point); must equal reference.dequantize."""
    host = not is_device(q)
    if host and (not isinstance(q, np.ndarray) or q.dtype != np.int8):
        raise TypeError(
            f"cuda.dequantize: q must be an int8 array; received {getattr(q, 'dtype', type(q).__name__)}."
        )
    shape = q.shape
    q2 = np.ascontiguousarray(q.reshape(-1, shape[-1]) if q.ndim else q.reshape(1, 1)) if host else q
    _, _, scale, zero, _, _ = quant.quantize_inputs(
        "cuda.dequantize", np.zeros((1, q2.shape[1]), np.float32), scale, zero_point, 8
    )
    out = alloc(q2.shape, np.float32, "out")
    if out.size:
        ew.dequantize[ew.grid_2d(*q2.shape)](
            out, _upload(q2, "q") if host else q2, _upload(scale, "scale"), _upload(zero, "zero_point")
        )
    return out.copy_to_host().reshape(shape) if host else out


def _int8_product(a, b, trans_b):
    """The exact int32 accumulators op(A) op(B) of device int8 operands."""
    n_cols = b.shape[0] if trans_b else b.shape[1]
    c = alloc((a.shape[0], n_cols), np.int32, "accumulators")
    return matmul(c, a, b, False, trans_b)


def int8_matmul(a, b):
    """Exact int32 C = A B for int8 A (M, K), B (K, N); must equal reference.int8_matmul."""
    where = "cuda.int8_matmul"
    host = not (is_device(a) or is_device(b))
    if host:
        a, b = (_upload(m, n) for m, n in zip(checks.int8_matmul_inputs(where, a, b), "ab"))
    elif a.shape[1] != b.shape[0]:
        raise ValueError(f"{where}: a {a.shape} and b {b.shape} do not chain.")
    c = _int8_product(a, b, False)
    return c.copy_to_host() if host else c


def qdense_forward(
    xq, x_scale, x_zero, wq_t, w_scale, w_sums, bias=None, activation=None, out_scale=None, out_zero=0
):
    """The quantized dense layer on the GPU; arguments and math as reference.qdense_forward.

    The int32 accumulators come from the tiled product (wq_t read transposed in place), then
    one elementwise pass rescales, adds the folded bias and applies the activation.
    """
    where = "cuda.qdense_forward"
    act = activations.code(activation, where)
    host = not (is_device(xq) or is_device(wq_t))
    if host:
        xq, wq_t, w_scale, w_sums, bias = checks.qdense_inputs(
            where, xq, x_scale, x_zero, wq_t, w_scale, w_sums, bias
        )
        xq, wq_t = _upload(xq, "xq"), _upload(wq_t, "wq_t")
    else:
        if xq.shape[1] != wq_t.shape[1]:
            raise ValueError(f"{where}: xq {xq.shape} and wq_t {wq_t.shape} do not chain.")
        w_scale = np.ascontiguousarray(w_scale, np.float32)
        w_sums = np.ascontiguousarray(w_sums, np.int32)
        bias = np.zeros(wq_t.shape[0], np.float32) if bias is None else np.ascontiguousarray(bias, np.float32)
    multiplier, folded, residual = quant.fold(x_scale, x_zero, w_scale, w_sums, bias)
    acc = _int8_product(xq, wq_t, True)
    y = alloc(acc.shape, np.float32, "y")
    if y.size:
        ew.rescale[ew.grid_2d(*acc.shape)](
            y,
            acc,
            _upload(multiplier, "multiplier"),
            _upload(folded, "folded bias"),
            _upload(residual, "float bias"),
            act,
        )
    if out_scale is not None:
        y = quantize(y, out_scale, out_zero)
    return y.copy_to_host() if host else y


# ---- what a training step needs besides the layers, for training that stays on the device --
# Device arrays in, device arrays out. A loss or a count comes back as a one-element device
# array: the caller copies that one number to the host, nothing else.
def upload(array, name="array"):
    """A numpy array copied to the device (C-contiguous), out of memory named as `name`."""
    return _upload(np.ascontiguousarray(array), name)


def add(a, b):
    """a + b (same shape) on the device: gradient accumulation."""
    out = alloc(a.shape, a.dtype, "sum")
    ew.launch_1d(ew.add, a.size, out.reshape(-1), a.reshape(-1), b.reshape(-1))
    return out


def softmax(z):
    """Row-wise softmax of a 2-D device array."""
    out = alloc(z.shape, z.dtype, "softmax")
    ew.launch_1d(ew.softmax_rows, z.shape[0], out, z)
    return out


def sigmoid(z):
    """1 / (1 + e^−z), elementwise, on the device."""
    out = alloc(z.shape, z.dtype, "sigmoid")
    ew.launch_1d(ew.sigmoid, z.size, out.reshape(-1), z.reshape(-1))
    return out


def _loss_operands(where, kind, z, t, w):
    """Loss operands as device arrays, and whether they came from the host (then checked as
    on the cpu, labels included, and the results go back). Device operands are the engine's,
    already checked there; the sample weights (numpy, or None) are checked either way."""
    host = not (is_device(z) or is_device(t))
    if host:
        z, t, w = loss_rows.loss_inputs(where, kind, z, t, w)
        z, t = _upload(z, "z"), _upload(t, "t")
    else:
        w = loss_rows.sample_weights(where, w, z.shape[0])
    return z, t, _upload(w, "sample weights") if w.size else zeros(0, np.dtype(np.float64)), host


def cross_entropy(kind, z, t, scale, w=None, buffers=None):
    """(Σ_n w_n loss_n as a 1-element float64 array, gradient · scale), from logits z, with
    optional sample weights w (N,); kinds and math as kernels/losses.py. Device arrays in,
    device arrays out (only the one number comes back for the loss); numpy in, numpy out.
    The per-row losses and the gradient are kept in `buffers` for the next call."""
    return _loss("cuda.cross_entropy", kind, z, t, scale, w, buffers)


def squared_error(p, t, scale, w=None, buffers=None):
    """(Σ_n w_n Σ_c (p − t)² as a 1-element float64 array, 2 w_n (p − t) · scale), as
    cross_entropy."""
    return _loss("cuda.squared_error", "squared", p, t, scale, w, buffers)


def _loss(where, kind, z, t, scale, w, buffers):
    z, t, w, host = _loss_operands(where, kind, z, t, w)
    per_row = keep(buffers, where, "losses", (z.shape[0],), np.float64)
    grad = keep(buffers, where, "gradient", z.shape, z.dtype, () if host else (z,))
    if kind == "squared":
        ew.launch_1d(ew.squared_error_rows, z.shape[0], per_row, grad, z, t, float(scale), w)
    else:
        kind = LOSS_KINDS.index(kind)
        ew.launch_1d(ew.cross_entropy_rows, z.shape[0], per_row, grad, z, t, kind, float(scale), w)
    total = ew.total(per_row)
    return (total.copy_to_host(), grad.copy_to_host()) if host else (total, grad)


def dropout(x, rate, seed, buffers=None):
    """Inverted dropout with kernels/dropout.py's mask, one thread per element. Device arrays
    in, a device array out; numpy in, numpy out."""
    masks.check("cuda.dropout", x, rate)
    host = not is_device(x)
    x_d = _upload(np.ascontiguousarray(x), "x") if host else x
    out = keep(buffers, "cuda.dropout", "y", x.shape, x.dtype, () if host else (x,))
    scale = np.dtype(x.dtype).type(1.0 / (1.0 - rate))
    ew.launch_1d(
        ew.dropout, x.size, out.reshape(-1), x_d.reshape(-1), masks.threshold(rate), *masks.keys(seed), scale
    )
    return out.copy_to_host() if host else out


def count_correct(kind, p, t):
    """The number of right answers (see elementwise.correct_rows) as a 1-element float64 device array."""
    per_row = alloc(p.shape[0], np.float64, "hits")
    ew.launch_1d(ew.correct_rows, p.shape[0], per_row, p, t, LOSS_KINDS.index(kind))
    return ew.total(per_row)
