"""The tiled products of the cuda backend: C = act(op(A) op(B) + bias) and the bias
gradient's column sums (the design is in the package docstring)."""

import math

import numpy as np
from numba import cuda, float32, float64, int32

from .. import activations
from .memory import zeros

TILE = 16  # edge of the block of C per thread block, and of the shared-memory tiles
RT = 2  # each thread computes an RT × RT register tile
THREADS = TILE // RT  # threads per block along each axis
REDUCE_COLS, REDUCE_ROWS = 32, 4  # a column-sum block: 32 columns × 4 row groups

apply = cuda.jit(device=True)(activations.apply.py_func)  # one source for every backend
slope = cuda.jit(device=True)(activations.derivative_from_output.py_func)


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
                    c[r, q] = apply(acc[i, j] + bias[q], act)

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
                g = dy[n, j] * slope(y[n, j], act)
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


def matmul(out, a, b, trans_a, trans_b, bias=None, act=activations.LINEAR):
    """out = act(op(a) op(b) + bias) by the tiled kernel; no bias: zeros."""
    n_rows, n_cols = out.shape
    if out.size == 0:
        return out
    if bias is None:
        bias = zeros(n_cols, np.dtype(out.dtype))
    blocks = (math.ceil(n_cols / TILE), math.ceil(n_rows / TILE))
    _GEMM[np.dtype(out.dtype)][blocks, (THREADS, THREADS)](out, a, b, trans_a, trans_b, bias, act)
    return out


def dz_db(dz, db, y, dy, act):
    """dz = dy ⊙ act'(y) and db = Σ_n dz, into device arrays dz and db."""
    if dy.shape[1]:
        blocks = math.ceil(dy.shape[1] / REDUCE_COLS)
        _DZ_DB[np.dtype(dy.dtype)][blocks, (REDUCE_COLS, REDUCE_ROWS)](dz, db, y, dy, act)
