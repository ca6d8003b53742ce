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
(nothing copied), and return the same kind.
"""

import functools
import math

import numpy as np
from numba import cuda, float32, float64, int32

from . import activations, checks, losses, quant
from . import dropout as masks
from .buffers import sub, take
from .updates import V_MAX

__all__ = [
    "dense_forward",
    "dense_backward",
    "lowrank_forward",
    "lowrank_backward",
    "sgd_update",
    "adam_update",
    "rmsprop_update",
    "quantize",
    "dequantize",
    "int8_matmul",
    "qdense_forward",
    "unavailable_reason",
    "device_info",
]

TILE = 16  # edge of the block of C per thread block, and of the shared-memory tiles
RT = 2  # each thread computes an RT × RT register tile
THREADS = TILE // RT  # threads per block along each axis
REDUCE_COLS, REDUCE_ROWS = 32, 4  # a column-sum block: 32 columns × 4 row groups
ELEMENTWISE_THREADS = 256

_apply = cuda.jit(device=True)(activations.apply.py_func)  # one source for every backend
_slope = cuda.jit(device=True)(activations.derivative_from_output.py_func)


def unavailable_reason():
    """None when a CUDA device (or numba's simulator) can run these kernels, else why not."""
    try:
        if cuda.is_available():
            return None
        return "numba.cuda found no usable GPU and driver (cuda.is_available() is False)"
    except Exception as exc:  # a broken driver install raises here
        return f"numba.cuda could not be initialised: {exc}"


def device_info() -> dict:
    """Name, compute capability and memory of the current device."""
    from numba import config

    if config.ENABLE_CUDASIM:
        return {"name": "numba CUDA simulator", "compute_capability": None, "memory_bytes": None}
    device = cuda.get_current_device()
    free, total = cuda.current_context().get_memory_info()
    return {
        "name": device.name.decode() if isinstance(device.name, bytes) else device.name,
        "compute_capability": device.compute_capability,
        "memory_bytes": total,
        "memory_free_bytes": free,
    }


def _make_gemm(dtype):
    @cuda.jit
    def gemm(c, a, b, trans_a, trans_b, bias, act):
        """C = act(op(A) op(B) + bias); one TILE × TILE block of C per thread block."""
        sa = cuda.shared.array((TILE, TILE), dtype)
        sb = cuda.shared.array((TILE, TILE), dtype)
        acc = cuda.local.array((RT, RT), dtype)
        n_rows, n_cols = c.shape
        n_k = a.shape[0] if trans_a else a.shape[1]
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        row0, col0 = cuda.blockIdx.y * TILE, cuda.blockIdx.x * TILE
        for i in range(RT):
            for j in range(RT):
                acc[i, j] = 0
        for k0 in range(0, n_k, TILE):
            for i in range(RT):  # each thread loads RT × RT elements of each tile
                for j in range(RT):
                    r, q = ty * RT + i, tx * RT + j
                    gr, gk = row0 + r, k0 + q
                    if gr < n_rows and gk < n_k:
                        sa[r, q] = a[gk, gr] if trans_a else a[gr, gk]
                    else:
                        sa[r, q] = 0
                    gk, gc = k0 + r, col0 + q
                    if gk < n_k and gc < n_cols:
                        sb[r, q] = b[gc, gk] if trans_b else b[gk, gc]
                    else:
                        sb[r, q] = 0
            cuda.syncthreads()
            for kk in range(TILE):
                for i in range(RT):
                    av = sa[ty * RT + i, kk]
                    for j in range(RT):
                        acc[i, j] += av * sb[kk, tx * RT + j]
            cuda.syncthreads()
        for i in range(RT):
            for j in range(RT):
                r, q = row0 + ty * RT + i, col0 + tx * RT + j
                if r < n_rows and q < n_cols:
                    c[r, q] = _apply(acc[i, j] + bias[q], act)

    return gemm


def _make_dz_db(dtype):
    @cuda.jit
    def dz_db(dz, db, y, dy, act):
        """dz = dy ⊙ act'(y); db = Σ_n dz by a block reduction.

        A block owns REDUCE_COLS columns; its REDUCE_ROWS row groups each sum the rows
        n ≡ group (mod REDUCE_ROWS) of their column (neighbouring threads read neighbouring
        columns: coalesced), then a tree in shared memory adds the groups, in a fixed order.
        """
        partial = cuda.shared.array((REDUCE_ROWS, REDUCE_COLS), dtype)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        j = cuda.blockIdx.x * REDUCE_COLS + tx
        s = dtype(0)
        if j < dy.shape[1]:
            for n in range(ty, dy.shape[0], REDUCE_ROWS):
                g = dy[n, j] * _slope(y[n, j], act)
                dz[n, j] = g
                s += g
        partial[ty, tx] = s
        cuda.syncthreads()
        width = REDUCE_ROWS // 2
        while width > 0:
            if ty < width:
                partial[ty, tx] += partial[ty + width, tx]
            cuda.syncthreads()
            width //= 2
        if ty == 0 and j < dy.shape[1]:
            db[j] = partial[0, tx]

    return dz_db


# int32: the exact integer product of int8 operands (bias zero, linear activation).
_GEMM = {
    np.dtype(t): _make_gemm(nt) for t, nt in ((np.float32, float32), (np.float64, float64), (np.int32, int32))
}
_DZ_DB = {np.dtype(np.float32): _make_dz_db(float32), np.dtype(np.float64): _make_dz_db(float64)}


def _is_device(array) -> bool:
    """A device array (also the simulator's stand-in for one)?"""
    return not isinstance(array, np.ndarray) and (
        hasattr(array, "__cuda_array_interface__") or hasattr(array, "copy_to_host")
    )


def _inputs(where, arrays: dict, validate):
    """Validate (numpy) or shape-check (device) the inputs; return device arrays and whether
    the caller gave numpy arrays (then results go back to the host)."""
    on_host = not any(_is_device(a) for a in arrays.values() if a is not None)
    if on_host:
        values = validate(*arrays.values())
        return [None if v is None else _upload(v, n) for v, n in zip(values, arrays)], True
    for name, a in arrays.items():
        if a is not None and not _is_device(a):
            raise TypeError(f"{where}: mix of device and host arrays; {name} is on the host.")
        if a is not None and np.dtype(a.dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"{where}: {name} must be float32 or float64; received {a.dtype}.")
    return list(arrays.values()), False


def _out_of_memory(exc, name, shape, dtype):
    """A MemoryError naming the array, for the driver's out-of-memory error; None otherwise."""
    if getattr(exc, "code", None) != 2 and "OUT_OF_MEMORY" not in str(exc):  # CUDA_ERROR_OUT_OF_MEMORY
        return None
    shape = tuple(int(d) for d in np.atleast_1d(shape))
    size = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    return MemoryError(
        f"cuda: out of GPU memory allocating {name} {shape} {np.dtype(dtype)} "
        f"({size / 2**20:,.1f} MiB); use smaller batches or layers, or the cpu backend."
    )


def _alloc(shape, dtype, name):
    """cuda.device_array, with out-of-memory reported as a MemoryError naming the array."""
    try:
        return cuda.device_array(shape, dtype)
    except Exception as exc:
        raise (_out_of_memory(exc, name, shape, dtype) or exc) from exc


def _take(buffers, where, name, shape, dtype, inputs=()):
    """A device array for `name`, kept in `buffers` for the next call (kernels/buffers.py)
    or new: a cudaMalloc per array and step is what it saves."""
    return take(buffers, where, name, shape, dtype, inputs, lambda shape, dtype: _alloc(shape, dtype, name))


def _upload(array, name):
    """cuda.to_device, with out-of-memory reported as a MemoryError naming the array."""
    try:
        return cuda.to_device(array)
    except Exception as exc:
        raise (_out_of_memory(exc, name, array.shape, array.dtype) or exc) from exc


def _matmul(out, a, b, trans_a, trans_b, bias=None, act=activations.LINEAR):
    """out = act(op(a) op(b) + bias) by the tiled kernel; no bias: zeros."""
    n_rows, n_cols = out.shape
    if out.size == 0:
        return out
    if bias is None:
        bias = _zeros(n_cols, np.dtype(out.dtype))
    blocks = (math.ceil(n_cols / TILE), math.ceil(n_rows / TILE))
    _GEMM[np.dtype(out.dtype)][blocks, (THREADS, THREADS)](out, a, b, trans_a, trans_b, bias, act)
    return out


@functools.lru_cache(maxsize=64)
def _zeros(n, dtype):
    """A device vector of zeros, made once per (length, dtype): kernels only read it, so a
    training step does not copy a fresh one to the device for every product."""
    return _upload(np.zeros(n, dtype), "zeros")


def dense_forward(x, w, b=None, activation=None, buffers=None):
    """Y = act(X W + b) on the GPU; must equal reference.dense_forward."""
    where = "cuda.dense_forward"
    act = activations.code(activation, where)
    (dx, dw, db), host = _inputs(
        where, {"x": x, "w": w, "b": b}, lambda x, w, b: checks.dense_inputs(where, x, w, b)
    )
    if not host and dx.shape[1] != dw.shape[0]:
        raise ValueError(f"{where}: x {dx.shape} and w {dw.shape} do not chain.")
    y = _take(buffers, where, "y", (dx.shape[0], dw.shape[1]), dx.dtype, (dx, dw, db))
    _matmul(y, dx, dw, False, False, db, act)
    return y.copy_to_host() if host else y


def dense_backward(x, w, y, dy, activation=None, need_dx=True, need_dw=True, buffers=None):
    """(dX, dW, db) on the GPU; must equal reference.dense_backward."""
    where = "cuda.dense_backward"
    act = activations.code(activation, where)
    (x, w, y, dy), host = _inputs(
        where,
        {"x": x, "w": w, "y": y, "dy": dy},
        lambda x, w, y, dy: checks.dense_grad_inputs(where, x, w, y, dy),
    )
    n_rows, n_in = x.shape
    n_out = w.shape[1]
    inputs = (x, w, y, dy)
    dz = _take(buffers, where, "dz", (n_rows, n_out), x.dtype)
    db = _take(buffers, where, "db", (n_out,), x.dtype, inputs)
    if n_out:
        blocks = math.ceil(n_out / REDUCE_COLS)
        _DZ_DB[np.dtype(x.dtype)][blocks, (REDUCE_COLS, REDUCE_ROWS)](dz, db, y, dy, act)
    dx = dw = None
    if need_dw:
        dw = _matmul(_take(buffers, where, "dw", (n_in, n_out), x.dtype, inputs), x, dz, True, False)
    if need_dx:
        dx = _matmul(_take(buffers, where, "dx", (n_rows, n_in), x.dtype, inputs), dz, w, False, True)
    if host:
        return tuple(None if a is None else a.copy_to_host() for a in (dx, dw, db))
    return dx, dw, db


def lowrank_forward(x, u, v, b=None, activation=None, buffers=None):
    """Y = act((X U) V + b) on the GPU: two tiled products, t = X U kept on the device."""
    where = "cuda.lowrank_forward"
    act = activations.code(activation, where)
    (x, u, v, b), host = _inputs(
        where, {"x": x, "u": u, "v": v, "b": b}, lambda x, u, v, b: checks.lowrank_inputs(where, x, u, v, b)
    )
    t = _matmul(_take(buffers, where, "t", (x.shape[0], u.shape[1]), x.dtype), x, u, False, False)
    y = _take(buffers, where, "y", (x.shape[0], v.shape[1]), x.dtype, (x, u, v, b))
    _matmul(y, t, v, False, False, b, act)
    return y.copy_to_host() if host else y


def lowrank_backward(x, u, v, y, dy, activation=None, need_dx=True, need_dw=True, buffers=None):
    """(dx, du, dv, db) of Y = act((X U) V + b) on the GPU (formulas in reference.py)."""
    where = "cuda.lowrank_backward"
    (x, u, v, y, dy), host = _inputs(
        where,
        {"x": x, "u": u, "v": v, "y": y, "dy": dy},
        lambda x, u, v, y, dy: checks.lowrank_grad_inputs(where, x, u, v, y, dy),
    )
    t = _take(buffers, where, "t", (x.shape[0], u.shape[1]), x.dtype)
    _matmul(t, x, u, False, False)
    dt, dv, db = dense_backward(t, v, y, dy, activation, True, need_dw, sub(buffers, "v"))
    dx, du, _ = dense_backward(x, u, t, dt, None, need_dx, need_dw, sub(buffers, "u"))
    out = (dx, du, dv, db)
    return tuple(None if a is None else a.copy_to_host() for a in out) if host else out


# ---- optimizer updates: one thread per element (formulas in kernels/updates.py) ----------
@cuda.jit
def _sgd(w, g, m, lr, momentum, nesterov):
    i = cuda.grid(1)
    if i < w.size:
        if momentum == 0.0:
            w[i] -= lr * g[i]
        else:
            m[i] = momentum * m[i] - lr * g[i]
            w[i] += momentum * m[i] - lr * g[i] if nesterov else m[i]


@cuda.jit
def _adam(w, g, m, v, alpha, beta_1, beta_2, epsilon, decay):
    i = cuda.grid(1)
    if i < w.size:
        if decay != 0.0:
            w[i] -= decay * w[i]
        m[i] += (g[i] - m[i]) * (1.0 - beta_1)
        v[i] = min(v[i] + (float64(g[i]) * g[i] - v[i]) * (1.0 - beta_2), V_MAX)
        w[i] -= alpha * m[i] / (math.sqrt(v[i]) + epsilon)


@cuda.jit
def _rmsprop(w, g, v, mom, lr, rho, momentum, epsilon):
    i = cuda.grid(1)
    if i < w.size:
        v[i] = min(rho * v[i] + (1.0 - rho) * float64(g[i]) * g[i], V_MAX)
        step = lr * g[i] / math.sqrt(v[i] + epsilon)
        if momentum > 0.0:
            mom[i] = momentum * mom[i] + step
            w[i] -= mom[i]
        else:
            w[i] -= step


def _in_place(where, kernel, arrays, scalars):
    """Run an elementwise update on device copies of host arrays and copy them back in place,
    after the checks of updates._flat: one float dtype and one shape for all."""
    dtypes = {np.dtype(getattr(a, "dtype", object)) for a in arrays}
    if len(dtypes) != 1 or next(iter(dtypes)).type not in checks.FLOAT_DTYPES:
        raise TypeError(
            f"{where}: w, its gradient and its state must share one float dtype; received {dtypes}."
        )
    if len({tuple(a.shape) for a in arrays}) != 1 or not all(
        a.flags.c_contiguous for a in arrays if isinstance(a, np.ndarray)
    ):
        raise ValueError(
            f"{where}: w, its gradient and its state must share one shape, numpy arrays "
            f"C-contiguous (they are updated in place); received {[tuple(a.shape) for a in arrays]}."
        )
    arrays = [a.reshape(-1) if a.ndim != 1 else a for a in arrays]  # views: contiguous
    host = [a for a in arrays if isinstance(a, np.ndarray)]
    device = [_upload(a, "optimizer state") if isinstance(a, np.ndarray) else a for a in arrays]
    size = arrays[0].size
    if size:
        kernel[math.ceil(size / ELEMENTWISE_THREADS), ELEMENTWISE_THREADS](*device, *scalars)
    for original, copy in zip(arrays, device):
        if isinstance(original, np.ndarray):
            copy.copy_to_host(original)
    return host


def sgd_update(w, g, m, lr, momentum, nesterov):
    """In place, as updates.sgd_update."""
    _in_place("cuda.sgd_update", _sgd, [w, g, m], [lr, momentum, nesterov])


def adam_update(w, g, m, v, alpha, beta_1, beta_2, epsilon, decay):
    """In place, as updates.adam_update."""
    _in_place("cuda.adam_update", _adam, [w, g, m, v], [alpha, beta_1, beta_2, epsilon, decay])


def rmsprop_update(w, g, v, mom, lr, rho, momentum, epsilon):
    """In place, as updates.rmsprop_update."""
    _in_place("cuda.rmsprop_update", _rmsprop, [w, g, v, mom], [lr, rho, momentum, epsilon])


# ---- integer quantization (the math in kernels/quant.py; the loops in reference.py) --------
# Each takes numpy arrays (checked as the cpu backend checks them, copied in and out) or
# device arrays (used in place, results left on the device).
@cuda.jit
def _quantize(q, x, scale, zero, q_min, q_max):
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
def _dequantize(out, q, scale, zero):
    n, c = cuda.grid(2)
    if n < q.shape[0] and c < q.shape[1]:
        out[n, c] = scale[c] * float32(int32(q[n, c]) - zero[c])


@cuda.jit
def _rescale(y, acc, multiplier, folded, act):
    """y = act(multiplier_j · (acc + folded_j)): the quantized layer's epilogue, a second pass
    over the int32 accumulators (the cpu kernel fuses it into the dot products)."""
    n, j = cuda.grid(2)
    if n < acc.shape[0] and j < acc.shape[1]:
        y[n, j] = _apply(multiplier[j] * float32(acc[n, j] + folded[j]), act)


def _grid_2d(rows, cols):
    return (math.ceil(rows / REDUCE_ROWS), math.ceil(cols / REDUCE_COLS)), (REDUCE_ROWS, REDUCE_COLS)


def quantize(x, scale, zero_point=0, num_bits=8):
    """int8 q = clip(round_half_even(x / scale) + zero_point); must equal reference.quantize."""
    host = not _is_device(x)
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
    q = _alloc(x2.shape, np.int8, "q")
    if q.size:
        _quantize[_grid_2d(*x2.shape)](
            q, x2, _upload(scale, "scale"), _upload(zero, "zero_point"), q_min, q_max
        )
    return q.copy_to_host().reshape(shape) if host else q


def dequantize(q, scale, zero_point=0):
    """float32 scale · (q − zero_point); must equal reference.dequantize."""
    host = not _is_device(q)
    if host and (not isinstance(q, np.ndarray) or q.dtype != np.int8):
        raise TypeError(
            f"cuda.dequantize: q must be an int8 array; received {getattr(q, 'dtype', type(q).__name__)}."
        )
    shape = q.shape
    q2 = np.ascontiguousarray(q.reshape(-1, shape[-1]) if q.ndim else q.reshape(1, 1)) if host else q
    _, _, scale, zero, _, _ = quant.quantize_inputs(
        "cuda.dequantize", np.zeros((1, q2.shape[1]), np.float32), scale, zero_point, 8
    )
    out = _alloc(q2.shape, np.float32, "out")
    if out.size:
        _dequantize[_grid_2d(*q2.shape)](
            out, _upload(q2, "q") if host else q2, _upload(scale, "scale"), _upload(zero, "zero_point")
        )
    return out.copy_to_host().reshape(shape) if host else out


def _int8_product(a, b, trans_b):
    """The exact int32 accumulators op(A) op(B) of device int8 operands."""
    n_cols = b.shape[0] if trans_b else b.shape[1]
    c = _alloc((a.shape[0], n_cols), np.int32, "accumulators")
    return _matmul(c, a, b, False, trans_b)


def int8_matmul(a, b):
    """Exact int32 C = A B for int8 A (M, K), B (K, N); must equal reference.int8_matmul."""
    where = "cuda.int8_matmul"
    host = not (_is_device(a) or _is_device(b))
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
    host = not (_is_device(xq) or _is_device(wq_t))
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
    multiplier, folded = quant.fold(x_scale, x_zero, w_scale, w_sums, bias)
    acc = _int8_product(xq, wq_t, True)
    y = _alloc(acc.shape, np.float32, "y")
    if y.size:
        _rescale[_grid_2d(*acc.shape)](
            y, acc, _upload(multiplier, "multiplier"), _upload(folded, "folded bias"), act
        )
    if out_scale is not None:
        y = quantize(y, out_scale, out_zero)
    return y.copy_to_host() if host else y


# ---- what a training step needs besides the layers, for training that stays on the device --
# Device arrays in, device arrays out. A loss or a count comes back as a one-element device
# array: the caller copies that one number to the host, nothing else.
DEVICE_FUNCTIONS = ("upload", "add", "softmax", "sigmoid", "count_correct")
LOSS_KINDS = losses.KINDS


@cuda.jit
def _add(out, a, b):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = a[i] + b[i]


_softmax_row = cuda.jit(device=True)(activations.softmax_row)  # the cpu's own row


@cuda.jit
def _softmax_rows(out, z):
    n = cuda.grid(1)
    if n < z.shape[0]:
        _softmax_row(out[n], z[n])


@cuda.jit
def _sigmoid(out, z):
    i = cuda.grid(1)
    if i < out.size:
        out[i] = _apply(z[i], activations.SIGMOID)


_cross_entropy_row = cuda.jit(device=True)(losses.cross_entropy_row)  # the cpu's own rows
_squared_error_row = cuda.jit(device=True)(losses.squared_error_row)


@cuda.jit
def _cross_entropy_rows(per_row, grad, z, t, kind, scale, w):
    """One thread per row: its loss from logits z and its gradient times `scale`, both
    times the row's weight w[n] when w is not empty (the math and the kinds:
    kernels/losses.py)."""
    n = cuda.grid(1)
    if n < z.shape[0]:
        wn = w[n] if w.shape[0] > 0 else 1.0
        per_row[n] = wn * _cross_entropy_row(grad[n], z[n], t[n], kind, scale * wn)


@cuda.jit
def _squared_error_rows(per_row, grad, p, t, scale, w):
    n = cuda.grid(1)
    if n < p.shape[0]:
        wn = w[n] if w.shape[0] > 0 else 1.0
        per_row[n] = wn * _squared_error_row(grad[n], p[n], t[n], scale * wn)


_hash32 = cuda.jit(device=True)(masks.hash32)  # the cpu's own hash


@cuda.jit
def _dropout(out, x, cut, k1, k2, scale):
    """One thread per element: x · keep / (1 − rate), keep from the hash of (seed, i)
    (kernels/dropout.py): the same mask as the cpu's, bit for bit."""
    i = cuda.grid(1)
    if i < x.size:
        out[i] = x[i] * scale if _hash32(i, k1, k2) >= cut else 0.0


@cuda.jit
def _correct_rows(per_row, p, t, kind):
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


def _launch_1d(kernel, size, *args):
    if size:
        kernel[math.ceil(size / ELEMENTWISE_THREADS), ELEMENTWISE_THREADS](*args)


def _total(per_row):
    out = _alloc(1, np.float64, "sum")
    _sum[1, ELEMENTWISE_THREADS](out, per_row)
    return out


def upload(array, name="array"):
    """A numpy array copied to the device (C-contiguous), out of memory named as `name`."""
    return _upload(np.ascontiguousarray(array), name)


def add(a, b):
    """a + b (same shape) on the device: gradient accumulation."""
    out = _alloc(a.shape, a.dtype, "sum")
    _launch_1d(_add, a.size, out.reshape(-1), a.reshape(-1), b.reshape(-1))
    return out


def softmax(z):
    """Row-wise softmax of a 2-D device array."""
    out = _alloc(z.shape, z.dtype, "softmax")
    _launch_1d(_softmax_rows, z.shape[0], out, z)
    return out


def sigmoid(z):
    """1 / (1 + e^−z), elementwise, on the device."""
    out = _alloc(z.shape, z.dtype, "sigmoid")
    _launch_1d(_sigmoid, z.size, out.reshape(-1), z.reshape(-1))
    return out


def _loss_inputs(where, kind, z, t, w):
    """Loss operands as device arrays, and whether they came from the host (then checked as
    on the cpu, labels included, and the results go back). Device operands are the engine's,
    already checked there; the sample weights (numpy, or None) are checked either way."""
    host = not (_is_device(z) or _is_device(t))
    if host:
        z, t, w = losses.loss_inputs(where, kind, z, t, w)
        z, t = _upload(z, "z"), _upload(t, "t")
    else:
        w = losses.sample_weights(where, w, z.shape[0])
    return z, t, _upload(w, "sample weights") if w.size else _no_weights(), host


@functools.lru_cache(maxsize=1)
def _no_weights():
    """An empty device array: "every weight is 1" for the loss kernels, made once."""
    return cuda.to_device(np.zeros(0, np.float64))


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
    z, t, w, host = _loss_inputs(where, kind, z, t, w)
    per_row = _take(buffers, where, "losses", (z.shape[0],), np.float64)
    grad = _take(buffers, where, "gradient", z.shape, z.dtype, () if host else (z,))
    if kind == "squared":
        _launch_1d(_squared_error_rows, z.shape[0], per_row, grad, z, t, float(scale), w)
    else:
        kind = LOSS_KINDS.index(kind)
        _launch_1d(_cross_entropy_rows, z.shape[0], per_row, grad, z, t, kind, float(scale), w)
    total = _total(per_row)
    return (total.copy_to_host(), grad.copy_to_host()) if host else (total, grad)


def dropout(x, rate, seed, buffers=None):
    """Inverted dropout with kernels/dropout.py's mask, one thread per element. Device arrays
    in, a device array out; numpy in, numpy out."""
    masks.check("cuda.dropout", x, rate)
    host = not _is_device(x)
    xd = _upload(np.ascontiguousarray(x), "x") if host else x
    out = _take(buffers, "cuda.dropout", "y", x.shape, x.dtype, () if host else (x,))
    scale = np.dtype(x.dtype).type(1.0 / (1.0 - rate))
    _launch_1d(
        _dropout, x.size, out.reshape(-1), xd.reshape(-1), masks.threshold(rate), *masks.keys(seed), scale
    )
    return out.copy_to_host() if host else out


def count_correct(kind, p, t):
    """The number of right answers (see _correct_rows) as a 1-element float64 device array."""
    per_row = _alloc(p.shape[0], np.float64, "hits")
    _launch_1d(_correct_rows, p.shape[0], per_row, p, t, LOSS_KINDS.index(kind))
    return _total(per_row)
