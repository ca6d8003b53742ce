"""Affine integer quantization, the shared math (Jacob et al., 2018).

A real value r is represented by an integer q with a scale s > 0 and a zero point z:

    r = s · (q − z),        q = clip(round(r / s) + z, q_min, q_max)

with round-half-to-even and, for b bits held in int8, q_min = −2^(b−1), q_max = 2^(b−1) − 1.

- symmetric (weights): z = 0 and s = max|r| / q_max, per output channel (a column of W) or
  per tensor; the range [−q_max, q_max] keeps ±0 symmetric.
- asymmetric (activations): the observed [min, max] (widened to contain 0, so that 0 is
  exactly representable) maps onto [q_min, q_max]: s = (max − min) / (q_max − q_min),
  z = round(q_min − min / s).

A dense layer y = x W + b then runs in integers. With x ≈ s_x (q_x − z_x) and
W[:, j] ≈ s_j q_w[:, j]:

    y_j = s_x s_j Σ_k (q_x[k] − z_x) q_w[k, j] + b_j
        = s_x s_j (acc_j + β_j),   acc_j = Σ_k q_x[k] q_w[k, j]   (exact in int32 while
                                       K · 128 · 128 ≤ 2³¹ − 1, i.e. K ≤ MAX_K = 131071)
                                   β_j = round(b_j / (s_x s_j)) − z_x Σ_k q_w[k, j]

so the zero point and the bias fold into one int32 per output, the inner loop is a pure
int8 × int8 → int32 dot product, and one multiply per output rescales it (the epilogue, which
also applies the activation and, to feed another integer layer, requantizes:
q_y = clip(round(y / s_y) + z_y)).
"""

import math
from typing import NamedTuple

import numpy as np

from . import checks, int8_simd
from .checks import MAX_K  # noqa: F401  (quant.MAX_K: the bound is part of the int8 scheme)

INT32_MAX = 2**31 - 1


def qrange(num_bits: int, where: str = "quantize"):
    """(q_min, q_max) for `num_bits` in 2..8 held in int8."""
    if isinstance(num_bits, bool) or not isinstance(num_bits, (int, np.integer)) or not 2 <= num_bits <= 8:
        raise ValueError(f"{where}: num_bits must be an integer from 2 to 8. Received: num_bits={num_bits!r}")
    return -(2 ** (num_bits - 1)), 2 ** (num_bits - 1) - 1


def symmetric_scale(values: np.ndarray, num_bits: int, axis=None) -> np.ndarray:
    """s = max|r| / q_max (per column with axis=0), never zero."""
    _, q_max = qrange(num_bits)
    peak = np.abs(values).max(axis=axis) if values.size else np.float32(0)
    return np.maximum(np.asarray(peak, np.float64) / q_max, 1e-12).astype(np.float32)


def affine_params(low: float, high: float, num_bits: int, symmetric: bool = False):
    """(scale, zero_point) mapping [low, high] (widened to contain 0) onto the int range."""
    q_min, q_max = qrange(num_bits)
    low, high = min(float(low), 0.0), max(float(high), 0.0)
    if symmetric:
        return np.float32(max(max(-low, high) / q_max, 1e-12)), 0
    scale = max((high - low) / (q_max - q_min), 1e-12)
    zero = int(np.clip(np.rint(q_min - low / scale), q_min, q_max))
    return np.float32(scale), zero


def pack_weights(wq: np.ndarray):
    """Lay int8 weights (K, M) out for the kernels: (M, K), one contiguous row per output,
    and the per-output sums Σ_k q_w[k, j] used to fold the input's zero point."""
    wq_t = np.ascontiguousarray(wq.T, dtype=np.int8)
    return wq_t, wq_t.sum(axis=1, dtype=np.int32)


class PackedInt8(NamedTuple):
    """int8 B (K, M) packed once into the panels the CPU micro-kernels read
    (kernels/int8_simd.py: panels[p, q, j, t] = uint8(B[4q + t, 32p + j] + 128), padded with
    weight 0). Every kernel path reads this one layout, so it does not depend on the CPU.

    Pass it as `b` to cpu.int8_matmul or as `wq_t` to cpu.qdense_forward to skip their per-call
    packing pass."""

    panels: np.ndarray  # (ceil(M / 32), ceil(K / 4), 32, 4) uint8
    n_k: int
    n_cols: int

    @property
    def shape(self):
        """(M, K): the shape of the (outputs, inputs) weights it was packed from."""
        return (self.n_cols, self.n_k)


def _aligned_empty(shape, align: int = 64) -> np.ndarray:
    """An uninitialised uint8 array whose first byte is `align`-byte aligned: the kernels read
    each quad of a panel (128 bytes) as whole 64-byte vectors, and numpy's 16-byte alignment
    would split every one of them across two cache lines."""
    size = int(np.prod(shape))
    raw = np.empty(size + align, np.uint8)
    start = -raw.ctypes.data % align
    return raw[start : start + size].reshape(shape)


def pack_panels(b: np.ndarray, transposed: bool = False) -> PackedInt8:
    """Pack int8 B (K, M), or B given as (M, K) with `transposed` (pack_weights' wq_t), into
    the micro-kernels' panels: one pass over B."""
    if not isinstance(b, np.ndarray) or b.dtype != np.int8 or b.ndim != 2:
        raise TypeError(
            "pack_panels: b must be a 2-D int8 numpy array; received "
            f"{getattr(b, 'dtype', type(b).__name__)} {getattr(b, 'shape', '')}."
        )
    n_k, n_cols = (b.shape[1], b.shape[0]) if transposed else b.shape
    if n_k > checks.MAX_K:
        raise ValueError(f"pack_panels: K = {n_k} could overflow int32 (at most {checks.MAX_K}).")
    nr, quad = int8_simd.NR, int8_simd.QUAD
    panels = _aligned_empty((max(1, -(-n_cols // nr)), max(1, -(-n_k // quad)), nr, quad))
    int8_simd.pack(panels, b, transposed)
    return PackedInt8(panels, int(n_k), int(n_cols))


def quantize_inputs(where, x, scale, zero_point, num_bits):
    """Validate quantize's arguments; return x as 2-D float (rows, channels) and per-channel
    float32 scales and int32 zero points (a scalar is repeated for every channel)."""
    q_min, q_max = qrange(num_bits, where)
    if not isinstance(x, np.ndarray) or x.dtype.type not in checks.FLOAT_DTYPES:
        raise TypeError(
            f"{where}: x must be a float32 or float64 numpy array; received "
            f"{getattr(x, 'dtype', type(x).__name__)}."
        )
    shape = x.shape
    x2 = np.ascontiguousarray(x.reshape(-1, shape[-1]) if x.ndim else x.reshape(1, 1))
    channels = x2.shape[1]
    if (
        isinstance(scale, (float, np.floating))
        and isinstance(zero_point, (int, np.integer))
        and not isinstance(zero_point, bool)
    ):
        # one scale and zero point for the tensor (the per-batch case): checked as scalars
        if not (math.isfinite(scale) and scale > 0) or not q_min <= zero_point <= q_max:
            raise ValueError(
                f"{where}: scale must be positive and finite and zero_point an integer in "
                f"[{q_min}, {q_max}]; received {scale!r}, {zero_point!r}."
            )
        checks.same_dtype(where, x=x2)
        full = np.full(channels, scale, np.float32), np.full(channels, zero_point, np.int32)
        return x2, shape, *full, q_min, q_max
    scale = (
        np.broadcast_to(np.asarray(scale, np.float32), (channels,)).copy() if np.ndim(scale) <= 1 else None
    )
    if scale is None or not np.all(np.isfinite(scale)) or np.any(scale <= 0):
        raise ValueError(
            f"{where}: scale must be positive and finite, a scalar or one per channel "
            f"({channels}); received {np.shape(scale)}."
        )
    zero = np.broadcast_to(np.asarray(zero_point), (channels,))
    if zero.dtype.kind not in "iu" or zero.min(initial=q_min) < q_min or zero.max(initial=q_max) > q_max:
        raise ValueError(f"{where}: zero_point must be integers in [{q_min}, {q_max}].")
    checks.same_dtype(where, x=x2)
    return x2, shape, scale, zero.astype(np.int32).copy(), q_min, q_max


def fold(x_scale, x_zero, w_scale, w_sums, bias):
    """Per output j: the float multiplier m_j = s_x s_j, the int32 β_j = round(b_j / m_j) −
    z_x Σ_k q_w[k, j], and a float residual r_j for what β_j cannot hold, so that

        y_j = m_j · (acc_j + β_j) + r_j.

    r_j is 0 for every ordinary unit. A unit whose weights are all (nearly) zero has a tiny
    or zero scale s_j, and b_j / m_j does not fit in int32 (cast, it would wrap and corrupt
    that unit's output): its β_j is 0 and the bias, with the zero point's term, stays in
    float, r_j = b_j − m_j z_x Σ_k q_w[k, j].
    """
    multiplier = (np.float64(x_scale) * w_scale).astype(np.float32)
    zero_term = np.int64(x_zero) * w_sums.astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        exact = np.rint(bias / multiplier) - zero_term  # (b_j / m_j in float32, as the kernels scale)
    fits = np.isfinite(exact) & (np.abs(exact) <= INT32_MAX)
    folded = np.where(fits, exact, 0).astype(np.int32)
    residual = np.where(fits, 0.0, bias - multiplier.astype(np.float64) * zero_term).astype(np.float32)
    return multiplier, folded, residual
