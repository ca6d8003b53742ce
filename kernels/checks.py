"""Argument checks shared by every backend's public functions.

Kernels are compiled for two dtypes and C-contiguous arrays only. Everything a user can get
wrong is caught here, in Python, before any kernel runs, with a message that names the
function, the argument and the shapes (never a numba typing error or a wrong answer).
"""

import numpy as np

FLOAT_DTYPES = (np.float32, np.float64)
# The most K an int32 accumulator of int8 × int8 products holds exactly: |q_x q_w| ≤ 128 · 128,
# so K · 128 · 128 ≤ 2³¹ − 1, K ≤ 131071 (at K = 131072, (−128)(−128) · K = 2³¹ wraps).
MAX_K = (2**31 - 1) // (128 * 128)


def as_float_matrix(value, name: str, where: str, ndim: int = 2) -> np.ndarray:
    """Return `value` as a C-contiguous float32/float64 array with `ndim` dimensions."""
    if not isinstance(value, np.ndarray):
        raise TypeError(f"{where}: {name} must be a numpy array; received {type(value).__name__}.")
    if value.dtype.type not in FLOAT_DTYPES:
        raise TypeError(
            f"{where}: {name} must be float32 or float64; received dtype {value.dtype} (shape {value.shape})."
        )
    if value.ndim != ndim:
        raise ValueError(f"{where}: {name} must have {ndim} dimension(s); received shape {value.shape}.")
    return np.ascontiguousarray(value)


def same_dtype(where: str, **arrays) -> np.dtype:
    """Check that all arrays share one dtype and return it."""
    dtypes = {name: a.dtype for name, a in arrays.items() if a is not None}
    if len(set(dtypes.values())) > 1:
        listed = ", ".join(f"{n} {d}" for n, d in dtypes.items())
        raise TypeError(f"{where}: all arrays must share one dtype; received {listed}.")
    return next(iter(dtypes.values()))


def check_shape(where: str, name: str, array: np.ndarray, expected: tuple, context: str):
    """Raise ValueError unless array.shape == expected."""
    if array.shape != expected:
        raise ValueError(f"{where}: {name} must have shape {expected} ({context}); received {array.shape}.")


def _ready(*arrays) -> bool:
    """The common case, checked cheaply: C-contiguous float32/64 arrays of one dtype."""
    dtype = arrays[0].dtype if type(arrays[0]) is np.ndarray else None
    return (
        dtype is not None
        and dtype.type in FLOAT_DTYPES
        and all(type(a) is np.ndarray and a.dtype == dtype and a.flags.c_contiguous for a in arrays)
    )


def _chained(x, w) -> bool:
    """x (N, K) and w (K, M): two matrices that multiply (the fast paths' shape test)."""
    return x.ndim == 2 and w.ndim == 2 and x.shape[1] == w.shape[0]


def dense_inputs(where, x, w, b):
    """Validate the operands of a dense layer: x (N, K), w (K, M), b (M,) or None."""
    if (
        _ready(x, w, *(() if b is None else (b,)))  # (first: the rest assumes arrays)
        and _chained(x, w)
        and (b is None or b.shape == (w.shape[1],))
    ):
        return x, w, b
    x = as_float_matrix(x, "x", where)
    w = as_float_matrix(w, "w", where)
    if x.shape[1] != w.shape[0]:
        raise ValueError(
            f"{where}: x has {x.shape[1]} features but w expects {w.shape[0]} inputs; "
            f"received x {x.shape}, w {w.shape}."
        )
    b = bias_vector(where, b, w)
    same_dtype(where, x=x, w=w, b=b)
    return x, w, b


def bias_vector(where, b, last):
    """b as a float vector with one entry per column of the layer's last matrix, or None."""
    if b is None:
        return None
    b = as_float_matrix(b, "b", where, ndim=1)
    check_shape(where, "b", b, (last.shape[1],), f"one bias per output, {last.shape[1]}")
    return b


def dense_grad_inputs(where, x, w, y, dy):
    """Validate the operands of a dense layer's backward pass."""
    if _ready(x, w, y, dy) and _chained(x, w) and y.shape == dy.shape == (x.shape[0], w.shape[1]):
        return x, w, y, dy
    x, w, _ = dense_inputs(where, x, w, None)
    expected = (x.shape[0], w.shape[1])
    y = as_float_matrix(y, "y", where)
    dy = as_float_matrix(dy, "dy", where)
    check_shape(where, "y", y, expected, f"x {x.shape} @ w {w.shape}")
    check_shape(where, "dy", dy, expected, f"x {x.shape} @ w {w.shape}")
    same_dtype(where, x=x, w=w, y=y, dy=dy)
    return x, w, y, dy


def lowrank_inputs(where, x, u, v, b):
    """Validate a low-rank layer's operands: x (N, K), u (K, R), v (R, M), b (M,) or None."""
    x, u, _ = dense_inputs(where, x, u, None)
    v = as_float_matrix(v, "v", where)
    if v.shape[0] != u.shape[1]:
        raise ValueError(
            f"{where}: u has rank {u.shape[1]} but v has {v.shape[0]} rows; "
            f"received u {u.shape}, v {v.shape}."
        )
    b = bias_vector(where, b, v)
    same_dtype(where, x=x, u=u, v=v, b=b)
    return x, u, v, b


def lowrank_grad_inputs(where, x, u, v, y, dy):
    """Validate a low-rank layer's backward operands; y and dy are (N, M)."""
    x, u, v, _ = lowrank_inputs(where, x, u, v, None)
    expected = (x.shape[0], v.shape[1])
    y, dy = as_float_matrix(y, "y", where), as_float_matrix(dy, "dy", where)
    check_shape(where, "y", y, expected, "x @ u @ v")
    check_shape(where, "dy", dy, expected, "x @ u @ v")
    same_dtype(where, x=x, u=u, v=v, y=y, dy=dy)
    return x, u, v, y, dy


def int8_matrix(value, name: str, where: str) -> np.ndarray:
    """`value` as a C-contiguous 2-D int8 array, or a TypeError/ValueError."""
    if not isinstance(value, np.ndarray) or value.dtype != np.int8:
        raise TypeError(
            f"{where}: {name} must be an int8 numpy array; received "
            f"{getattr(value, 'dtype', type(value).__name__)}."
        )
    if value.ndim != 2:
        raise ValueError(f"{where}: {name} must have 2 dimensions; received shape {value.shape}.")
    return np.ascontiguousarray(value)


def qdense_inputs(where, xq, x_scale, x_zero, wq_t, w_scale, w_sums, bias):
    """Validate a quantized dense layer's operands (see kernels/quant.py for the math)."""
    xq = int8_matrix(xq, "xq", where)
    wq_t = int8_matrix(wq_t, "wq_t", where)
    n_out, n_in = wq_t.shape
    if xq.shape[1] != n_in:
        raise ValueError(
            f"{where}: xq has {xq.shape[1]} features but wq_t (outputs, inputs) "
            f"expects {n_in}; received xq {xq.shape}, wq_t {wq_t.shape}."
        )
    if n_in > MAX_K:
        raise ValueError(f"{where}: {n_in} inputs could overflow int32 accumulators (at most {MAX_K}).")
    if not (np.isfinite(x_scale) and x_scale > 0):
        raise ValueError(f"{where}: x_scale must be a positive finite number; received {x_scale!r}.")
    w_scale = np.ascontiguousarray(w_scale, np.float32).reshape(-1)
    w_sums = np.ascontiguousarray(w_sums, np.int32).reshape(-1)
    bias = np.zeros(n_out, np.float32) if bias is None else np.ascontiguousarray(bias, np.float32)
    for name, arr in (("w_scale", w_scale), ("w_sums", w_sums), ("bias", bias)):
        check_shape(where, name, arr, (n_out,), f"one per output of wq_t {wq_t.shape}")
    return xq, wq_t, w_scale, w_sums, bias


def int8_matmul_inputs(where, a, b):
    """Validate int8 A (M, K) and B (K, N) for an exact int32 product."""
    a, b = int8_matrix(a, "a", where), int8_matrix(b, "b", where)
    if a.shape[1] != b.shape[0]:
        raise ValueError(
            f"{where}: a {a.shape} and b {b.shape} do not chain (a's columns must equal b's rows)."
        )
    if a.shape[1] > MAX_K:
        raise ValueError(f"{where}: K = {a.shape[1]} could overflow int32 (at most {MAX_K}).")
    return a, b


def is_device(array) -> bool:
    """A GPU array (numba.cuda's, another library's through __cuda_array_interface__, or the
    simulator's stand-in), not a numpy one."""
    return not isinstance(array, np.ndarray) and (
        hasattr(array, "__cuda_array_interface__") or hasattr(array, "copy_to_host")
    )
