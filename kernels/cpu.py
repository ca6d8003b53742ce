"""The fast CPU backend: parallel, blocked, vectorised dense-layer kernels.

Shapes: N = batch, K = inputs, M = outputs.

Same functions and results as kernels/reference.py (which states the math); the products
are kernels/gemm.py's packed GEMM, with bias and activation fused into its epilogue:

    dense_forward   Y  = act(X W + b)   one GEMM (a GEMV when N = 1)
    dense_backward  dZ = dY ⊙ act'(Y),  db = Σ_n dZ      one parallel sweep over dY
                    dW = Xᵀ dZ                          GEMM, X transposed while packed
                    dX = dZ Wᵀ                          GEMM, W transposed while packed

Every element is summed by one thread in a fixed order, so results are bitwise identical
run to run and for any thread count.
"""

import numba
import numpy as np
from numba import njit, prange

from . import FUNCTIONS, activations, checks, gemm, int8, int8_simd, losses, lowrank, parallel, quant
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

_ROWS_PER_BLOCK = 16  # rows per task in the dZ/db sweep
_SERIAL_MAX = 1 << 13  # elements up to which a sweep runs on one thread (same bits): a parallel
# launch costs more than the sweep, and a small model then never compiles the parallel form
_NO_BIAS = {np.dtype(t): np.zeros(0, t) for t in checks.FLOAT_DTYPES}  # (read only: shared)


def _matmul(out, a, b, trans_a, trans_b, bias=None, act=activations.LINEAR, buffers=None, name=""):
    """out = act(op(a) op(b) + bias) through the small-product loop, the GEMV or the tiled
    GEMM, whose packing scratch is kept in `buffers` under `name` (or new)."""
    n_rows, n_cols = out.shape
    if out.size == 0:
        return out
    if bias is None:  # empty: the epilogue skips its pass when act is linear too
        bias = _NO_BIAS[out.dtype] if act == activations.LINEAR else np.zeros(n_cols, out.dtype)
    n_k = a.shape[0] if trans_a else a.shape[1]
    with gemm.slp_vectorizer():
        if gemm.is_small(n_rows, n_cols, n_k):
            gemm.small(out, a, b, trans_a, trans_b, bias, act)
        elif n_rows == 1 and not trans_a and not trans_b:
            parallel.choose(gemm.gemv)(out, a, b, bias, act)
        elif n_rows == 1 and not trans_a:
            parallel.choose(gemm.gemv_t)(out, a, b, bias, act)
        else:
            n_tr, n_tc, kc_even, shared, shape = gemm.plan(n_rows, n_cols, n_k, numba.get_num_threads())
            packed = take(buffers, "cpu", "packed " + name, shape, out.dtype)
            parallel.choose(gemm.gemm)(
                out, a, b, trans_a, trans_b, bias, act, n_tr, n_tc, kc_even, shared, packed
            )
    return out


def dense_forward(x, w, b=None, activation=None, buffers=None):
    """Y = act(X W + b); must equal reference.dense_forward.

    Args:
        x: inputs, shape (N, K), float32 or float64 (made C-contiguous if it is not).
        w: kernel, shape (K, M), same dtype.
        b: bias, shape (M,), or None.
        activation: "linear" (or None), "relu", "sigmoid" or "tanh".
        buffers: a kernels.Buffers to write y into and keep it for the next call (see
            kernels/buffers.py), or None for a new array.

    Returns:
        y, shape (N, M), the dtype of x.
    """
    where = "cpu.dense_forward"
    x, w, b = checks.dense_inputs(where, x, w, b)
    act = activations.code(activation, where)
    y = take(buffers, where, "y", (x.shape[0], w.shape[1]), x.dtype, (x, w, b))
    return _matmul(y, x, w, False, False, b, act, buffers, "y")


def dense_backward(x, w, y, dy, activation=None, need_dx=True, need_dw=True, buffers=None):
    """(dX, dW, db) of Y = act(X W + b); must equal reference.dense_backward.

    Args:
        x, w: the forward's inputs, (N, K) and (K, M).
        y: the forward's output, (N, M).
        dy: dL/dY, (N, M).
        activation: the forward's activation.
        need_dx: compute dX (skip it for a network's first layer).
        need_dw: compute dW (skip it for a frozen layer).
        buffers: a kernels.Buffers to keep dx, dw, db and the scratch dZ for the next
            call, or None for new arrays.

    Returns:
        (dx, dw, db); dx or dw is None when not asked for.
    """
    where = "cpu.dense_backward"
    x, w, y, dy = checks.dense_grad_inputs(where, x, w, y, dy)
    act = activations.code(activation, where)
    n_rows, n_in = x.shape
    n_out = w.shape[1]
    inputs = (x, w, y, dy)
    dz = take(buffers, where, "dz", dy.shape, dy.dtype)  # scratch: never returned
    partial = take(buffers, where, "db_partial", (-(-n_rows // _ROWS_PER_BLOCK) or 1, n_out), dy.dtype)
    db = take(buffers, where, "db", (n_out,), dy.dtype, inputs)
    parallel.choose(_dz_db, dy.size > _SERIAL_MAX)(dz, db, partial, y, dy, act)
    dx = dw = None
    if need_dw:
        dw = take(buffers, where, "dw", (n_in, n_out), x.dtype, inputs)
        _matmul(dw, x, dz, True, False, buffers=buffers, name="dw")
    if need_dx:
        dx = take(buffers, where, "dx", (n_rows, n_in), x.dtype, inputs)
        _matmul(dx, dz, w, False, True, buffers=buffers, name="dx")
    return dx, dw, db


@njit(cache=True, parallel=True)
def _dz_db(dz, db, partial, y, dy, act):
    """dz = dy ⊙ act'(y) and db = Σ_n dz.

    Rows are cut into partial.shape[0] blocks (a number that depends on N only), each task
    sweeps its rows contiguously and sums its own partial db; the partials are then added in
    block order, so db does not depend on the thread count.
    """
    n_rows, n_out = dy.shape
    n_blocks = partial.shape[0]
    per = (n_rows + n_blocks - 1) // n_blocks
    for t in prange(n_blocks):
        for j in range(n_out):
            partial[t, j] = 0.0
        for n in range(t * per, min(n_rows, (t + 1) * per)):
            if act == activations.RELU:  # chosen outside the j loops: plain vector sweeps
                for j in range(n_out):
                    dz[n, j] = dy[n, j] if y[n, j] > 0.0 else dy[n, j] * 0.0
            elif act == activations.LINEAR:
                for j in range(n_out):
                    dz[n, j] = dy[n, j]
            else:
                for j in range(n_out):
                    dz[n, j] = dy[n, j] * activations.derivative_from_output(y[n, j], act)
            for j in range(n_out):
                partial[t, j] += dz[n, j]
    for j in range(n_out):
        db[j] = 0.0
    for t in range(n_blocks):
        for j in range(n_out):
            db[j] += partial[t, j]


def lowrank_forward(x, u, v, b=None, activation=None, buffers=None):
    """Y = act((X U) V + b); must equal reference.lowrank_forward.

    One pass over X (kernels/lowrank.py): per block of rows, the thin intermediate t = X U
    stays in cache and is multiplied by V at once, with bias and activation fused in the
    store. `buffers` as in dense_forward.
    """
    where = "cpu.lowrank_forward"
    x, u, v, b = checks.lowrank_inputs(where, x, u, v, b)
    act = activations.code(activation, where)
    y = take(buffers, where, "y", (x.shape[0], v.shape[1]), x.dtype, (x, u, v, b))
    if y.size:
        with gemm.slp_vectorizer():
            bias = np.zeros(v.shape[1], x.dtype) if b is None else b
            kernel = lowrank.kernel(x.dtype.itemsize)  # u C-contiguous: it may be its own panel
            parallel.choose(kernel)(y, x, np.ascontiguousarray(u), v, bias, act)
    return y


def lowrank_backward(x, u, v, y, dy, activation=None, need_dx=True, need_dw=True, buffers=None):
    """(dx, du, dv, db) of Y = act((X U) V + b); must equal reference.lowrank_backward.
    `buffers` as in dense_backward."""
    where = "cpu.lowrank_backward"
    x, u, v, y, dy = checks.lowrank_grad_inputs(where, x, u, v, y, dy)
    t = take(buffers, where, "t", (x.shape[0], u.shape[1]), x.dtype)
    _matmul(t, x, u, False, False, buffers=buffers, name="t")
    dt, dv, db = dense_backward(t, v, y, dy, activation, True, need_dw, sub(buffers, "v"))
    dx, du, _ = dense_backward(x, u, t, dt, None, need_dx, need_dw, sub(buffers, "u"))
    return dx, du, dv, db


# ---- integer quantization (kernels/int8.py; the math in kernels/quant.py) ----------------
def quantize(x, scale, zero_point=0, num_bits=8):
    """int8 q = clip(round_half_even(x / scale) + zero_point); must equal reference.quantize."""
    x2, shape, scale, zero, q_min, q_max = quant.quantize_inputs(
        "cpu.quantize", x, scale, zero_point, num_bits
    )
    q = np.empty(x2.shape, np.int8)
    parallel.choose(int8.quantize)(q, x2, scale, zero, q_min, q_max)
    return q.reshape(shape)


def dequantize(q, scale, zero_point=0):
    """float32 scale · (q − zero_point); must equal reference.dequantize."""
    if not isinstance(q, np.ndarray) or q.dtype != np.int8:
        raise TypeError(
            f"cpu.dequantize: q must be an int8 array; received {getattr(q, 'dtype', type(q).__name__)}."
        )
    shape = q.shape
    q2 = np.ascontiguousarray(q.reshape(-1, shape[-1]) if q.ndim else q.reshape(1, 1))
    _, _, scale, zero, _, _ = quant.quantize_inputs(
        "cpu.dequantize", np.zeros((1, q2.shape[1]), np.float32), scale, zero_point, 8
    )
    out = np.empty(q2.shape, np.float32)
    parallel.choose(int8.dequantize)(out, q2, scale, zero)
    return out.reshape(shape)


def _packed_b(where, b, n_k, transposed):
    """b as quant.PackedInt8: as given, or packed now (one pass over b) from int8 (K, M), or
    (M, K) with `transposed`. Errors as checks' for an unpacked b."""
    if isinstance(b, quant.PackedInt8):
        if b.n_k != n_k:
            name = "wq_t" if transposed else "b"
            raise ValueError(
                f"{where}: {name} (packed for K = {b.n_k}) and the inputs (K = {n_k}) do not chain "
                f"(expects {b.n_k} features)."
            )
        return b
    if not isinstance(b, np.ndarray) or b.dtype != np.int8:
        raise TypeError(
            f"{where}: b must be an int8 numpy array; received {getattr(b, 'dtype', type(b).__name__)}."
        )
    if b.ndim != 2:
        raise ValueError(f"{where}: b must have 2 dimensions; received shape {b.shape}.")
    return quant.pack_panels(b, transposed)


_run_int8 = int8_simd.launch  # the int8 GEMM of the path the host runs, threads when it pays
_NO_F32, _NO_I32 = np.zeros(0, np.float32), np.zeros(0, np.int32)


def int8_matmul(a, b):
    """Exact int32 C = A B for int8 A (N, K), B (K, M) or B packed by quant.pack_panels;
    must equal reference.int8_matmul.

    An unpacked B is packed first (one pass over it) into the panels the micro-kernels read
    (kernels/int8_simd.py); pack it once with quant.pack_panels to skip that pass.
    """
    where = "cpu.int8_matmul"
    a = checks.int8_matrix(a, "a", where)
    if isinstance(b, np.ndarray) and b.ndim == 2 and b.dtype == np.int8 and a.shape[1] != b.shape[0]:
        raise ValueError(
            f"{where}: a {a.shape} and b {b.shape} do not chain (a's columns must equal b's rows)."
        )
    if a.shape[1] > checks.MAX_K:
        raise ValueError(f"{where}: K = {a.shape[1]} could overflow int32 (at most {checks.MAX_K}).")
    packed = _packed_b(where, b, a.shape[1], False)
    c = np.empty((a.shape[0], packed.n_cols), np.int32)
    narrow = int8_simd.narrow_array(a)  # (then the avx2 path's faster twin is exact)
    _run_int8(c, np.empty((0, 0), np.float32), a, packed, _NO_F32, _NO_I32, _NO_F32, 0, False, narrow=narrow)
    return c


def _qdense_packed_inputs(where, xq, x_scale, packed, w_scale, w_sums, bias):
    """checks.qdense_inputs for packed weights (whose K bound pack_panels has checked)."""
    xq = checks.int8_matrix(xq, "xq", where)
    n_out, n_in = packed.shape
    if xq.shape[1] != n_in:
        raise ValueError(
            f"{where}: xq has {xq.shape[1]} features but the packed weights expect {n_in}; "
            f"received xq {xq.shape}."
        )
    if not (np.isfinite(x_scale) and x_scale > 0):
        raise ValueError(f"{where}: x_scale must be a positive finite number; received {x_scale!r}.")
    w_scale = np.ascontiguousarray(w_scale, np.float32).reshape(-1)
    w_sums = np.ascontiguousarray(w_sums, np.int32).reshape(-1)
    bias = np.zeros(n_out, np.float32) if bias is None else np.ascontiguousarray(bias, np.float32)
    for name, arr in (("w_scale", w_scale), ("w_sums", w_sums), ("bias", bias)):
        checks.check_shape(where, name, arr, (n_out,), f"one per output of the packed weights {packed.shape}")
    return xq, w_scale, w_sums, bias


INT8_PACKED = True  # qdense_forward takes quant.PackedInt8 weights (QuantizedDense packs once)


def qdense_forward(
    xq, x_scale, x_zero, wq_t, w_scale, w_sums, bias=None, activation=None, out_scale=None, out_zero=0
):
    """The quantized dense layer; arguments and math as reference.qdense_forward, except that
    wq_t may also be quant.pack_panels(wq_t, transposed=True) (then no per-call packing)."""
    where = "cpu.qdense_forward"
    if isinstance(wq_t, quant.PackedInt8):
        xq, w_scale, w_sums, bias = _qdense_packed_inputs(where, xq, x_scale, wq_t, w_scale, w_sums, bias)
        packed = wq_t
    else:
        xq, wq_t, w_scale, w_sums, bias = checks.qdense_inputs(
            where, xq, x_scale, x_zero, wq_t, w_scale, w_sums, bias
        )
        packed = quant.pack_panels(wq_t, transposed=True)
    act = activations.code(activation, where)
    n_out = packed.n_cols
    multiplier, folded, residual = (
        np.empty(n_out, np.float32),
        np.empty(n_out, np.int32),
        np.empty(n_out, np.float32),
    )
    int8.fold(
        multiplier, folded, residual, float(x_scale), int(x_zero), w_scale, w_sums, bias
    )  # quant.fold's bits
    y = np.empty((xq.shape[0], n_out), np.float32)
    narrow = int8_simd.narrow_array(xq)
    _run_int8(None, y, xq, packed, multiplier, folded, residual, act, True, narrow=narrow)
    if out_scale is None:
        return y
    return quantize(y, out_scale, out_zero)


# ---- losses from logits, with their gradients (kernels/losses.py) ------------------------
def cross_entropy(kind, z, t, scale, w=None, buffers=None):
    """(Σ_n w_n loss_n as a one-element float64 array, dL/dz · scale), w the optional sample
    weights (N,): one pass over the rows, in threads when z holds more than a chunk, the
    gradient kept in `buffers`; must equal reference.cross_entropy."""
    return losses.run("cpu.cross_entropy", kind, z, t, scale, w, buffers)


def squared_error(p, t, scale, w=None, buffers=None):
    """(Σ_n w_n Σ_c (p − t)² as a one-element float64 array, 2 w_n (p − t) · scale); must
    equal reference.squared_error."""
    return losses.run("cpu.squared_error", "squared", p, t, scale, w, buffers)


def dropout(x, rate, seed, buffers=None):
    """x · keep / (1 − rate), the mask a hash of (seed, element index), in one threaded pass
    (kernels/dropout.py; the backward is the same call on the gradient); must equal
    reference.dropout."""
    x = np.ascontiguousarray(x)
    masks.check("cpu.dropout", x, rate)
    return masks.apply(x, rate, seed, take(buffers, "cpu.dropout", "y", x.shape, x.dtype, (x,)))
