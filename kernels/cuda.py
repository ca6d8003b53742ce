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

Public functions accept numpy arrays (copied to the device and back) or device arrays
(nothing copied), and return the same kind.
"""

import math

import numpy as np
from numba import cuda, float32, float64

from . import activations, checks
from .updates import V_MAX

__all__ = [
    "dense_forward",
    "dense_backward",
    "lowrank_forward",
    "lowrank_backward",
    "sgd_update",
    "adam_update",
    "rmsprop_update",
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


_GEMM = {np.dtype(np.float32): _make_gemm(float32), np.dtype(np.float64): _make_gemm(float64)}
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
        return [None if v is None else cuda.to_device(v) for v in values], True
    for name, a in arrays.items():
        if a is not None and not _is_device(a):
            raise TypeError(f"{where}: mix of device and host arrays; {name} is on the host.")
        if a is not None and np.dtype(a.dtype) not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise TypeError(f"{where}: {name} must be float32 or float64; received {a.dtype}.")
    return list(arrays.values()), False


def _matmul(out, a, b, trans_a, trans_b, bias, act):
    n_rows, n_cols = out.shape
    if out.size == 0:
        return out
    blocks = (math.ceil(n_cols / TILE), math.ceil(n_rows / TILE))
    _GEMM[np.dtype(out.dtype)][blocks, (THREADS, THREADS)](out, a, b, trans_a, trans_b, bias, act)
    return out


def _zeros(n, dtype):
    return cuda.to_device(np.zeros(n, dtype))


def dense_forward(x, w, b=None, activation=None):
    """Y = act(X W + b) on the GPU; must equal reference.dense_forward."""
    where = "cuda.dense_forward"
    act = activations.code(activation, where)
    (dx, dw, db), host = _inputs(
        where, {"x": x, "w": w, "b": b}, lambda x, w, b: checks.dense_inputs(where, x, w, b)
    )
    if not host and dx.shape[1] != dw.shape[0]:
        raise ValueError(f"{where}: x {dx.shape} and w {dw.shape} do not chain.")
    y = cuda.device_array((dx.shape[0], dw.shape[1]), dx.dtype)
    _matmul(y, dx, dw, False, False, _zeros(dw.shape[1], dx.dtype) if db is None else db, act)
    return y.copy_to_host() if host else y


def dense_backward(x, w, y, dy, activation=None, need_dx=True, need_dw=True):
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
    dz = cuda.device_array((n_rows, n_out), x.dtype)
    db = cuda.device_array(n_out, x.dtype)
    if n_out:
        blocks = math.ceil(n_out / REDUCE_COLS)
        _DZ_DB[np.dtype(x.dtype)][blocks, (REDUCE_COLS, REDUCE_ROWS)](dz, db, y, dy, act)
    dx = dw = None
    if need_dw:
        dw = _matmul(
            cuda.device_array((n_in, n_out), x.dtype),
            x,
            dz,
            True,
            False,
            _zeros(n_out, x.dtype),
            activations.LINEAR,
        )
    if need_dx:
        dx = _matmul(
            cuda.device_array((n_rows, n_in), x.dtype),
            dz,
            w,
            False,
            True,
            _zeros(n_in, x.dtype),
            activations.LINEAR,
        )
    if host:
        return tuple(None if a is None else a.copy_to_host() for a in (dx, dw, db))
    return dx, dw, db


def lowrank_forward(x, u, v, b=None, activation=None):
    """Y = act((X U) V + b) on the GPU: two tiled products, t = X U kept on the device."""
    where = "cuda.lowrank_forward"
    act = activations.code(activation, where)
    (x, u, v, b), host = _inputs(
        where, {"x": x, "u": u, "v": v, "b": b}, lambda x, u, v, b: checks.lowrank_inputs(where, x, u, v, b)
    )
    t = _matmul(
        cuda.device_array((x.shape[0], u.shape[1]), x.dtype),
        x,
        u,
        False,
        False,
        _zeros(u.shape[1], x.dtype),
        activations.LINEAR,
    )
    y = _matmul(
        cuda.device_array((x.shape[0], v.shape[1]), x.dtype),
        t,
        v,
        False,
        False,
        _zeros(v.shape[1], x.dtype) if b is None else b,
        act,
    )
    return y.copy_to_host() if host else y


def lowrank_backward(x, u, v, y, dy, activation=None, need_dx=True, need_dw=True):
    """(dx, du, dv, db) of Y = act((X U) V + b) on the GPU (formulas in reference.py)."""
    where = "cuda.lowrank_backward"
    (x, u, v, y, dy), host = _inputs(
        where,
        {"x": x, "u": u, "v": v, "y": y, "dy": dy},
        lambda x, u, v, y, dy: checks.lowrank_grad_inputs(where, x, u, v, y, dy),
    )
    t = cuda.device_array((x.shape[0], u.shape[1]), x.dtype)
    _matmul(t, x, u, False, False, _zeros(u.shape[1], x.dtype), activations.LINEAR)
    dt, dv, db = dense_backward(t, v, y, dy, activation, True, need_dw)
    dx, du, _ = dense_backward(x, u, t, dt, None, need_dx, need_dw)
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


def _in_place(kernel, arrays, scalars):
    """Run an elementwise update on device copies of host arrays and copy them back in place."""
    host = [a for a in arrays if isinstance(a, np.ndarray)]
    device = [cuda.to_device(a) if isinstance(a, np.ndarray) else a for a in arrays]
    size = arrays[0].size
    if size:
        kernel[math.ceil(size / ELEMENTWISE_THREADS), ELEMENTWISE_THREADS](*device, *scalars)
    for original, copy in zip(arrays, device):
        if isinstance(original, np.ndarray):
            copy.copy_to_host(original)
    return host


def sgd_update(w, g, m, lr, momentum, nesterov):
    """In place, as updates.sgd_update."""
    _in_place(_sgd, [w, g, m], [lr, momentum, nesterov])


def adam_update(w, g, m, v, alpha, beta_1, beta_2, epsilon, decay):
    """In place, as updates.adam_update."""
    _in_place(_adam, [w, g, m, v], [alpha, beta_1, beta_2, epsilon, decay])


def rmsprop_update(w, g, v, mom, lr, rho, momentum, epsilon):
    """In place, as updates.rmsprop_update."""
    _in_place(_rmsprop, [w, g, v, mom], [lr, rho, momentum, epsilon])
