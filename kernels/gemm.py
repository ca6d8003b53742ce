"""A from-scratch parallel GEMM with a fused bias-and-activation epilogue (CPU, Numba).

Shapes: N = rows of C, K = the summed dimension, M = columns of C.

    C = act(op(A) · op(B) + bias)    op(A) (N, K), op(B) (K, M), C (N, M)

where op(A) is A or Aᵀ (`trans_a`) and op(B) is B or Bᵀ (`trans_b`). The dense layer's
three products are all this one routine:

    forward   Y  = act(X · W + b)     A = X,   B = W
    backward  dW = Xᵀ · dZ            A = X,   trans_a, B = dZ
              dX = dZ · Wᵀ            A = dZ,  B = W,   trans_b

so a transposed operand is transposed while it is packed, never copied whole.

It must equal the triple loop of kernels/reference.py (up to float rounding).

How it is fast (GotoBLAS/BLIS structure, see PERF_NOTES.md):
- C is cut into tiles of about 128 rows × 256 columns; tiles run in parallel, each on one
  thread, and each element of C is summed by one thread in a fixed k order, so results are
  bitwise identical for any thread count.
- K is cut into blocks of at most KC; for each block the tile's rows of op(A) are packed into
  MR-row panels and its columns of op(B) into NR-column panels, laid out in the order the
  micro-kernel reads them (unit stride), zero-padded at the edges so the micro-kernel has no
  edge cases.
- The micro-kernel keeps an MR × NR tile of C in registers: 4 × 24 on AVX2 (12 of the 16 ymm
  registers, 3 vector loads of B and 4 broadcasts of A per k), 8 × 32 on AVX-512 (16 of the
  32 zmm registers). The accumulator is a fixed-size stack array, which LLVM promotes to
  registers (a heap array stays in memory), and the fixed-size j loop is unrolled and then
  vectorised by LLVM's SLP vectoriser, which numba leaves off by default: these kernels are
  compiled with it on (see `_compiled_with_slp`), at import, for the exact signatures used.
- Bias and activation are applied as the last K block is stored: no extra pass over C.
"""

import contextlib

import llvmlite.binding as llvm
import numba
import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.numpy_support import carray

from . import activations

HAS_AVX512 = "+avx512f" in llvm.get_host_cpu_features().flatten()
# Register tile: rows of A broadcast (MR) × columns of B loaded as vectors (NR).
MR, NR = (8, 32) if HAS_AVX512 else (4, 24)
KC = 256  # most k per block: a KC×NR B panel (24 KiB on AVX2) stays in L1 across row panels
TILE_ROWS = 128  # rows of C per parallel tile (a multiple of MR)
TILE_COLS = NR * (256 // NR)  # columns of C per parallel tile (a multiple of NR)

# contract lets LLVM fuse a*b+c into one FMA; nothing that reorders a sum is allowed.
FASTMATH = {"contract"}


@intrinsic
def _stack_tile(typingctx, like):
    """A pointer to MR*NR uninitialised elements of like's dtype, on the stack."""
    elem = like.dtype
    sig = types.CPointer(elem)(like)

    def codegen(context, builder, signature, args):
        size = context.get_constant(types.intp, MR * NR)
        return cgutils.alloca_once(builder, context.get_value_type(elem), size=size)

    return sig, codegen


def tiling(n_rows: int, n_cols: int, n_threads: int):
    """Tile sizes (rows, cols) giving each thread at least two tiles where possible."""
    rows = min(TILE_ROWS, max(1, -(-n_rows // MR)) * MR)
    cols = min(TILE_COLS, max(1, -(-n_cols // NR)) * NR)

    def count(r, c):
        return -(-n_rows // r) * -(-n_cols // c)

    while count(rows, cols) < 2 * n_threads and cols > NR:
        cols = max(NR, (cols // 2 + NR - 1) // NR * NR)
    while count(rows, cols) < 2 * n_threads and rows > MR:
        rows = max(MR, (rows // 2 + MR - 1) // MR * MR)
    return rows, cols


@njit(cache=True, fastmath=FASTMATH)
def _pack_a(ap, a, trans_a, r0, r1, k0, kc):
    """ap[p, kk, i] = op(A)[r0 + p*MR + i, k0 + kk], zero past row r1."""
    for p in range(ap.shape[0]):
        rs = r0 + p * MR
        height = min(MR, r1 - rs)
        if height == MR:  # constant trip counts: LLVM turns these into vector moves
            for kk in range(kc):
                for i in range(MR):
                    ap[p, kk, i] = a[k0 + kk, rs + i] if trans_a else a[rs + i, k0 + kk]
            continue
        if trans_a:  # op(A)[r, k] = a[k, r]
            for kk in range(kc):
                for i in range(height):
                    ap[p, kk, i] = a[k0 + kk, rs + i]
        else:
            for i in range(height):
                for kk in range(kc):
                    ap[p, kk, i] = a[rs + i, k0 + kk]
        for kk in range(kc):
            for i in range(height, MR):
                ap[p, kk, i] = 0.0


@njit(cache=True, fastmath=FASTMATH)
def _pack_b(bp, b, trans_b, c0, c1, k0, kc):
    """bp[p, kk, j] = op(B)[k0 + kk, c0 + p*NR + j], zero past column c1."""
    for p in range(bp.shape[0]):
        cs = c0 + p * NR
        width = min(NR, c1 - cs)
        if width == NR and not trans_b:  # constant trip count: a vector copy
            for kk in range(kc):
                for j in range(NR):
                    bp[p, kk, j] = b[k0 + kk, cs + j]
            continue
        if trans_b:  # op(B)[k, c] = b[c, k]: rows of b are contiguous in k
            for j in range(width):
                for kk in range(kc):
                    bp[p, kk, j] = b[cs + j, k0 + kk]
        else:
            for kk in range(kc):
                for j in range(width):
                    bp[p, kk, j] = b[k0 + kk, cs + j]
        for kk in range(kc):
            for j in range(width, NR):
                bp[p, kk, j] = 0.0


@njit(cache=True, fastmath=FASTMATH)
def _micro_kernel(out, ap, bp, rp, cp, kc):
    """out (MR, NR) = A panel rp (MR × kc) · B panel cp (kc × NR): the hot loop.

    Kept a function of its own so that LLVM sees the accumulator only with constant
    bounds and keeps it in registers; the call costs nothing next to 2·MR·NR·kc FLOPs.
    """
    acc = carray(_stack_tile(out), (MR, NR))
    for i in range(MR):
        for j in range(NR):
            acc[i, j] = 0.0
    for kk in range(kc):
        for i in range(MR):
            av = ap[rp, kk, i]
            for j in range(NR):
                acc[i, j] += av * bp[cp, kk, j]
    for i in range(MR):
        for j in range(NR):
            out[i, j] = acc[i, j]


@njit(cache=True, fastmath=FASTMATH)
def _tile(c, a, b, trans_a, trans_b, bias, act, r0, r1, c0, c1, n_k, kc_even):
    """Compute C[r0:r1, c0:c1] over all K blocks."""
    n_rp = (r1 - r0 + MR - 1) // MR
    n_cp = (c1 - c0 + NR - 1) // NR
    ap = np.empty((n_rp, kc_even, MR), c.dtype)
    bp = np.empty((n_cp, kc_even, NR), c.dtype)
    edge = np.empty((MR, NR), c.dtype)
    n_kb = (n_k + kc_even - 1) // kc_even
    for kb in range(n_kb):
        k0 = kb * kc_even
        kc = min(kc_even, n_k - k0)
        _pack_a(ap, a, trans_a, r0, r1, k0, kc)
        _pack_b(bp, b, trans_b, c0, c1, k0, kc)
        for cp in range(n_cp):
            for rp in range(n_rp):
                _micro_kernel(edge, ap, bp, rp, cp, kc)
                row0 = r0 + rp * MR
                col0 = c0 + cp * NR
                _store(c, edge, bias, act, row0, col0, min(MR, r1 - row0),
                       min(NR, c1 - col0), kb == 0, kb == n_kb - 1)
    if n_kb == 0:  # K == 0: C = act(bias)
        for r in range(r0, r1):
            for j in range(c0, c1):
                c[r, j] = activations.apply(bias[j], act)


@njit(inline="always", cache=True, fastmath=FASTMATH)
def _store(c, tile, bias, act, row0, col0, rows, cols, first, last):
    """c[row0:+rows, col0:+cols] (+)= tile; on the last K block also + bias and act.

    The branches sit outside the row loops so that each loop is a plain vector sweep:
    this runs once per MR×NR tile per K block, often enough to matter.
    """
    for i in range(rows):
        r = row0 + i
        if first:
            for j in range(cols):
                c[r, col0 + j] = tile[i, j]
        else:
            for j in range(cols):
                c[r, col0 + j] += tile[i, j]
        if last:
            if act == activations.LINEAR:
                for j in range(cols):
                    c[r, col0 + j] += bias[col0 + j]
            elif act == activations.RELU:
                for j in range(cols):
                    z = c[r, col0 + j] + bias[col0 + j]
                    c[r, col0 + j] = 0.0 if z <= 0.0 else z
            else:
                for j in range(cols):
                    c[r, col0 + j] = activations.apply(c[r, col0 + j] + bias[col0 + j], act)


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def gemm(c, a, b, trans_a, trans_b, bias, act, tile_rows, tile_cols):
    """C = act(op(A)·op(B) + bias), written into c (N, M). See the module docstring."""
    n_rows, n_cols = c.shape
    n_k = a.shape[0] if trans_a else a.shape[1]
    n_kb = max(1, (n_k + KC - 1) // KC)
    kc_even = max(1, (n_k + n_kb - 1) // n_kb)  # equal blocks: no thin last block
    n_tr = (n_rows + tile_rows - 1) // tile_rows
    n_tc = (n_cols + tile_cols - 1) // tile_cols
    for t in prange(n_tr * n_tc):
        r0 = (t // n_tc) * tile_rows
        c0 = (t % n_tc) * tile_cols
        _tile(c, a, b, trans_a, trans_b, bias, act, r0, min(r0 + tile_rows, n_rows),
              c0, min(c0 + tile_cols, n_cols), n_k, kc_even)


GEMV_CHUNK = 256  # rows of B per GEMV task


@njit(cache=True, parallel=True, fastmath=FASTMATH)
def gemv(c, a, b, bias, act):
    """C = act(A·B + bias) for one row of A (N = 1): stream B's rows once.

    With one row there is nothing to reuse B for: the work is reading B. Each task takes
    GEMV_CHUNK whole rows of B (contiguous memory, friendly to the prefetcher and the TLB)
    into a partial sum of all M outputs; the partials are then added in chunk order. The
    chunks depend on K only, not on the thread count, so the result is deterministic.
    """
    n_k, n_cols = b.shape
    n_chunks = max(1, (n_k + GEMV_CHUNK - 1) // GEMV_CHUNK)
    partial = np.zeros((n_chunks, n_cols), c.dtype)
    for t in prange(n_chunks):
        for k in range(t * GEMV_CHUNK, min(n_k, (t + 1) * GEMV_CHUNK)):
            av = a[0, k]
            for j in range(n_cols):
                partial[t, j] += av * b[k, j]
    for j in range(n_cols):
        z = bias[j]
        for t in range(n_chunks):
            z += partial[t, j]
        c[0, j] = activations.apply(z, act)


@contextlib.contextmanager
def _compiled_with_slp():
    """Turn on LLVM's SLP vectoriser for the kernels compiled inside this block only.

    numba reads `config.SLP_VECTORIZE` each time it builds an optimisation pipeline. It is
    off by default, and without it the unrolled register-tile loop stays scalar (4 GFLOP/s
    instead of 90 per core). The setting is restored afterwards, so user code is unaffected.
    """
    saved = numba.config.SLP_VECTORIZE
    numba.config.SLP_VECTORIZE = 1
    try:
        yield
    finally:
        numba.config.SLP_VECTORIZE = saved


def _compile():
    """Compile (or load from numba's cache) every signature used, then freeze them.

    Frozen dispatchers never compile again: a call with other types is a TypeError from
    here rather than a silent recompilation on the hot path.
    """
    flag, index = types.boolean, types.int64
    with _compiled_with_slp():
        for dtype in (types.float32, types.float64):
            m, v = dtype[:, ::1], dtype[::1]
            gemm.compile((m, m, m, flag, flag, v, index, index, index))
            gemv.compile((m, m, m, v, index))
    gemm.disable_compile()
    gemv.disable_compile()


_compile()
