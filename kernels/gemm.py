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

How it is fast (GotoBLAS/BLIS structure; docs/performance.md has the measurements):
- C is cut into tiles of at most TILE_ROWS × TILE_COLS (128 × 240 on AVX2), the panels shared
  out in proportion so that tiles differ by one panel at most; tiles run in parallel, each on
  one thread, and each element of C is summed by one thread in a fixed k order, so results
  are bitwise identical for any thread count.
- K is cut into blocks of at most KC; for each block the tile's columns of op(B) are packed
  into NR-column panels, laid out in the order the micro-kernel reads them (unit stride) and
  zero-padded at the edge. op(A) is read in place: the micro-kernel only broadcasts MR
  scalars of it per k (a zero-padded copy is made for the last, partial row panel).
- The micro-kernel keeps an MR × NR tile of C in registers: 4 × 24 on AVX2 (12 of the 16 ymm
  registers, 3 vector loads of B and 4 broadcasts of A per k), 8 × 32 on AVX-512 (16 of the
  32 zmm registers). The accumulator is a fixed-size stack array, which LLVM promotes to
  registers (a heap array stays in memory), and the fixed-size j loop is unrolled and then
  vectorised by LLVM's SLP vectoriser, which numba leaves off by default: these kernels are
  compiled with it on (see `slp_vectorizer`), for float32 and, when first used, float64.
- Bias and activation are applied as the last K block is stored: no extra pass over C.
- The packing scratch is the caller's (`plan` gives its shape for each product), so a
  training loop keeps it from one call to the next (kernels/buffers.py) instead of
  allocating it again.
"""

import functools

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
SHARED_MAX = 1 << 20  # elements of op(B) packed once for all row tiles: beyond, the shared copy
# would not stay in L3 (measured: 256×4096×4096 forward fell from 142 to 87 GFLOP/s with it)
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


@functools.lru_cache(maxsize=1024)
def tiling(n_rows: int, n_cols: int, n_threads: int):
    """How many tiles (row_tiles, col_tiles) to cut C into.

    Tiles hold at most TILE_ROWS × TILE_COLS, and there are at least two per thread where
    the matrix is big enough (load balance). `gemm` cuts the MR-row and NR-column panels in
    proportion, so tiles differ by one panel at most and every thread's share is even.
    """
    row_panels, col_panels = max(1, -(-n_rows // MR)), max(1, -(-n_cols // NR))
    col_tiles = max(1, -(-col_panels // (TILE_COLS // NR)))
    row_tiles = max(1, -(-row_panels // (TILE_ROWS // MR)))
    want = 2 * n_threads
    if row_tiles * col_tiles < want:  # split columns first: each row tile packs B again
        col_tiles = min(col_panels, -(-want // row_tiles))
    if row_tiles * col_tiles < want:
        row_tiles = min(row_panels, -(-want // col_tiles))
    return row_tiles, col_tiles


@functools.lru_cache(maxsize=1024)
def plan(n_rows: int, n_cols: int, n_k: int, n_threads: int):
    """Everything `gemm` needs to know about its shape, decided once per shape.

    Returns:
        (n_tr, n_tc, kc_even, shared, packed_shape): the tiles (`tiling`); the K block,
        K cut into equal blocks of at most KC (no thin last block); whether op(B) is packed
        whole once for every row tile (when there are several and it stays in L3); and the
        shape of the packing scratch: (1, col_panels, K, NR) when shared, else one K block
        of each tile's columns, (tiles, panels per tile, kc_even, NR). The caller allocates
        the scratch (or keeps it from the last call: kernels/buffers.py).
    """
    n_tr, n_tc = tiling(n_rows, n_cols, n_threads)
    n_kb = max(1, -(-n_k // KC))
    kc_even = max(1, -(-n_k // n_kb))
    col_panels = -(-n_cols // NR)
    shared = n_tr > 1 and n_k * n_cols <= SHARED_MAX
    if shared:
        return n_tr, n_tc, kc_even, True, (1, col_panels, n_k, NR)
    return n_tr, n_tc, kc_even, False, (n_tr * n_tc, -(-col_panels // n_tc), kc_even, NR)


# Packing copies go through a small stack array: LLVM cannot prove that two numpy arrays do
# not overlap, so it will not vectorise a copy from one to the other, but it knows a fresh
# stack array overlaps nothing. Rows are indexed through views with plain range variables,
# which also spares numba's negative-index check.


def _panel_kernels(nr):
    """The packing routine and the micro-kernel for B panels nr columns wide.

    One source for every panel width: nr is a closure constant, so each width compiles to
    its own fully unrolled code (and numba's cache keys it by the closure's value). The
    GEMM uses nr = NR; a narrower width serves its narrow edge tiles. (The low-rank forward,
    kernels/lowrank.py, has register tiles of its own.)
    """

    @njit(cache=True, fastmath=FASTMATH, error_model="numpy")
    def pack_b(bp, b, trans_b, c0, c1, k0, kc):
        """bp[p, kk, j] = op(B)[k0 + kk, c0 + p*nr + j], zero past column c1."""
        tmp = carray(_stack_tile(bp), (nr,))
        for p in range(bp.shape[0]):
            cs = c0 + p * nr
            width = min(nr, c1 - cs)
            panel = bp[p]
            if width == nr and not trans_b:  # row k of b holds nr consecutive columns
                for kk in range(kc):
                    src = b[k0 + kk, cs : cs + nr]
                    for j in range(nr):
                        tmp[j] = src[j]
                    dst = panel[kk]
                    for j in range(nr):
                        dst[j] = tmp[j]
            elif width == nr:  # op(B)[k, c] = b[c, k]: read each of nr rows of b once, in order
                for j in range(nr):  # (strided writes beat strided reads: 0.43 vs 1.6 ns/element)
                    src = b[cs + j, k0 : k0 + kc]
                    for kk in range(kc):
                        panel[kk, j] = src[kk]
            else:
                for kk in range(kc):
                    for j in range(nr):
                        panel[kk, j] = 0.0
                    for j in range(width):
                        panel[kk, j] = b[cs + j, k0 + kk] if trans_b else b[k0 + kk, cs + j]

    @njit(cache=True, fastmath=FASTMATH, error_model="numpy")
    def micro_kernel(out, row0, col0, accumulate, av, panel, kc):
        """out[row0:+MR, col0:+nr] (+)= av (kc × MR, any strides)ᵀ · panel (kc × nr, packed).

        The hot loop. A is not packed: per k the kernel broadcasts MR scalars, which it can
        read as well from MR rows of A (or MR neighbours in a row of Aᵀ) as from a packed
        panel, measured. Kept a function of its own so LLVM sees the accumulator only with
        constant bounds and keeps it in registers; the call costs nothing next to
        2·MR·nr·kc FLOPs.
        """
        acc = carray(_stack_tile(out), (MR, nr))
        for i in range(MR):
            for j in range(nr):
                acc[i, j] = 0.0
        for kk in range(kc):
            for i in range(MR):
                a = av[kk, i]
                for j in range(nr):
                    acc[i, j] += a * panel[kk, j]
        for i in range(MR):  # rows of out as views indexed from 0: vector stores, no
            row = out[row0 + i, col0 : col0 + nr]  # wraparound checks (they dominate at small kc)
            if accumulate:
                for j in range(nr):
                    row[j] += acc[i, j]
            else:
                for j in range(nr):
                    row[j] = acc[i, j]

    return pack_b, micro_kernel


_pack_b, _micro_kernel = _panel_kernels(NR)
NARROW = 16  # a thin panel: the micro-kernel for edge tiles at most 16 columns wide
_, _micro_narrow = _panel_kernels(NARROW)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _tile(c, a, b, trans_a, trans_b, bias, act, r0, r1, c0, c1, n_k, kc_even, bp, own):
    """Compute C[r0:r1, c0:c1] over all K blocks, then add bias and apply act to it.

    bp holds op(B) packed: whole (n_panels, K, NR), already, when several row tiles share
    the same panels; else (own) the tile packs its own columns into it, one K block at a
    time, in a buffer small enough to stay in L2.
    """
    n_rp = (r1 - r0 + MR - 1) // MR
    n_cp = (c1 - c0 + NR - 1) // NR
    p0 = 0 if own else c0 // NR  # the tile's first panel in bp
    edge_a = np.zeros((kc_even, MR), c.dtype)  # the last, partial row panel, zero-padded
    edge = np.empty((MR, NR), c.dtype)
    n_kb = (n_k + kc_even - 1) // kc_even
    for kb in range(n_kb):
        k0 = kb * kc_even
        kc = min(kc_even, n_k - k0)
        kp = 0 if own else k0  # the block's first k in bp
        if own:
            _pack_b(bp[0:n_cp], b, trans_b, c0, c1, k0, kc)
        for rp in range(n_rp):
            row0 = r0 + rp * MR
            height = min(MR, r1 - row0)
            if height == MR:
                av = a[k0 : k0 + kc, row0 : row0 + MR] if trans_a else a[row0 : row0 + MR, k0 : k0 + kc].T
            else:
                for kk in range(kc):
                    for i in range(height):
                        edge_a[kk, i] = a[k0 + kk, row0 + i] if trans_a else a[row0 + i, k0 + kk]
                av = edge_a[0:kc, 0:MR]
            for cp in range(n_cp):
                col0 = c0 + cp * NR
                width = min(NR, c1 - col0)
                panel = bp[p0 + cp, kp : kp + kc]
                if height == MR and width == NR:
                    _micro_kernel(c, row0, col0, kb > 0, av, panel, kc)
                elif height == MR and width == NARROW:  # e.g. the last 16 of 64 columns
                    _micro_narrow(c, row0, col0, kb > 0, av, panel, kc)
                else:  # an edge tile: through a scratch tile, then only its valid part
                    if width <= NARROW:  # a narrow edge (10 classes): 2/3 of the work
                        _micro_narrow(edge, 0, 0, False, av, panel, kc)
                    else:
                        _micro_kernel(edge, 0, 0, False, av, panel, kc)
                    for i in range(height):
                        src = edge[i, 0:width]
                        dst = c[row0 + i, col0 : col0 + width]
                        if kb > 0:
                            for j in range(width):
                                dst[j] += src[j]
                        else:
                            for j in range(width):
                                dst[j] = src[j]
    if n_kb == 0:  # K == 0: the product is empty
        for r in range(r0, r1):
            for j in range(c0, c1):
                c[r, j] = 0.0
    _epilogue(c, bias, act, r0, r1, c0, c1)


@njit(inline="always", cache=True, fastmath=FASTMATH, error_model="numpy")
def _epilogue(c, bias, act, r0, r1, c0, c1):
    """C = act(C + bias) over the tile, while it is still in cache.

    The activation is chosen outside the row loops so each loop is a plain vector sweep.
    An empty bias with the linear activation means there is nothing to do (the products
    of the backward): no pass at all.
    """
    if act == activations.LINEAR and bias.shape[0] == 0:
        return
    b = bias[c0:c1]  # views indexed from zero: no wraparound checks, so the loops vectorise
    for r in range(r0, r1):
        row = c[r, c0:c1]
        if act == activations.LINEAR:
            for j in range(c1 - c0):
                row[j] += b[j]
        elif act == activations.RELU:
            for j in range(c1 - c0):
                z = row[j] + b[j]
                row[j] = 0.0 if z <= 0.0 else z
        else:
            for j in range(c1 - c0):
                row[j] = activations.apply(row[j] + b[j], act)


SMALL = 1 << 16  # multiply-adds up to which `small` runs a product (K ≤ KC too)


def is_small(n_rows: int, n_cols: int, n_k: int) -> bool:
    """Whether a product is for `small`: too little work to pay for packing and threads."""
    return n_k <= KC and n_rows * n_cols * n_k <= SMALL


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def small(c, a, b, trans_a, trans_b, bias, act):
    """C = act(op(A)·op(B) + bias) on one thread, a row of C at a time, for `is_small` products
    (a small model's layers: the article's 30-10-1 network is all of them).

    No packing, no parallel launch, and a few seconds less to compile on a machine's first run
    than `gemm`, which then compiles only when a product needs it. With K ≤ KC it sums each
    element as `gemm` does (from zero, k ascending, the same fused multiply-adds), so the two
    give the same bits.
    """
    n_rows, n_cols = c.shape
    n_k = a.shape[0] if trans_a else a.shape[1]
    for i in range(n_rows):
        row = c[i, 0:n_cols]  # a view indexed from zero: the j loops vectorise
        for j in range(n_cols):
            row[j] = 0.0
        for k in range(n_k):
            aik = a[k, i] if trans_a else a[i, k]
            if trans_b:
                for j in range(n_cols):
                    row[j] += aik * b[j, k]
            else:
                b_row = b[k, 0:n_cols]
                for j in range(n_cols):
                    row[j] += aik * b_row[j]
    _epilogue(c, bias, act, 0, n_rows, 0, n_cols)


@njit(cache=True, parallel=True, fastmath=FASTMATH, error_model="numpy")
def gemm(c, a, b, trans_a, trans_b, bias, act, n_tr, n_tc, kc_even, shared, packed):
    """C = act(op(A)·op(B) + bias), written into c (N, M), with the tiles, K block and
    packing scratch that `plan` gives for this shape. See the module docstring."""
    n_rows, n_cols = c.shape
    n_k = a.shape[0] if trans_a else a.shape[1]
    row_panels = (n_rows + MR - 1) // MR
    col_panels = (n_cols + NR - 1) // NR
    if shared:  # every row tile needs the same panels: pack op(B) once
        for p in prange(col_panels):
            _pack_b(packed[0, p : p + 1], b, trans_b, p * NR, n_cols, 0, n_k)
    for t in prange(n_tr * n_tc):
        i, j = t // n_tc, t % n_tc  # panels cut in proportion: tiles differ by one at most
        r0, r1 = i * row_panels // n_tr * MR, min((i + 1) * row_panels // n_tr * MR, n_rows)
        c0, c1 = j * col_panels // n_tc * NR, min((j + 1) * col_panels // n_tc * NR, n_cols)
        bp = packed[0] if shared else packed[t]
        _tile(c, a, b, trans_a, trans_b, bias, act, r0, r1, c0, c1, n_k, kc_even, bp, not shared)


GEMV_CHUNK = 256  # rows of B per GEMV task


@njit(cache=True, parallel=True, fastmath=FASTMATH, error_model="numpy")
def gemv(c, a, b, bias, act):
    """C = act(A·B + bias) for one row of A (N = 1): stream B's rows once.

    With one row there is nothing to reuse B for: the work is reading B. Each task takes
    GEMV_CHUNK whole rows of B (contiguous memory, friendly to the prefetcher and the TLB)
    into a partial sum of all M outputs, four rows of B per sweep over the partial (a quarter
    of the L1 traffic of one row at a time); the partials are then added in chunk order. The
    chunks depend on K only, not on the thread count, so the result is deterministic. An
    empty bias means none.
    """
    n_k, n_cols = b.shape
    n_chunks = max(1, (n_k + GEMV_CHUNK - 1) // GEMV_CHUNK)
    partial = np.zeros((n_chunks, n_cols), c.dtype)
    for t in prange(n_chunks):
        acc = partial[t]
        k1 = min(n_k, (t + 1) * GEMV_CHUNK)
        k = t * GEMV_CHUNK
        while k + 4 <= k1:
            a0, a1, a2, a3 = a[0, k], a[0, k + 1], a[0, k + 2], a[0, k + 3]
            b0, b1, b2, b3 = b[k], b[k + 1], b[k + 2], b[k + 3]
            for j in range(n_cols):
                acc[j] += (a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + a3 * b3[j])
            k += 4
        for kk in range(k, k1):
            ak, bk = a[0, kk], b[kk]
            for j in range(n_cols):
                acc[j] += ak * bk[j]
    has_bias = bias.shape[0] > 0
    for j in range(n_cols):
        z = bias[j] if has_bias else 0.0
        for t in range(n_chunks):
            z += partial[t, j]
        c[0, j] = activations.apply(z, act)


DOT_LANES = 16  # interleaved partial sums per dot product
DOT_ROWS = 4  # rows of B per sweep over A: A's chunk is loaded once for four dot products


@njit(cache=True, parallel=True, fastmath=FASTMATH, error_model="numpy")
def gemv_t(c, a, b, bias, act):
    """C = act(A·Bᵀ + bias) for one row of A (N = 1): c[j] = Σ_k a[k] b[j, k].

    The backward's dX = dZ Wᵀ for a single sample. Each output is the dot product of A with
    a contiguous row of B, so B streams from memory once, in order, with no packing; DOT_ROWS
    rows share each load of A. Each sum runs in DOT_LANES interleaved partial sums (what lets
    it vectorise without a run-to-run order), added in lane order at the end. An empty bias
    means none.
    """
    n_cols, n_k = b.shape
    av = a[0]
    n_full = n_k - n_k % DOT_LANES
    has_bias = bias.shape[0] > 0
    n_groups = (n_cols + DOT_ROWS - 1) // DOT_ROWS
    last = np.zeros((DOT_ROWS, n_k), c.dtype)  # the last, partial group, zero-padded
    last[: n_cols - (n_groups - 1) * DOT_ROWS] = b[(n_groups - 1) * DOT_ROWS :]
    for g in prange(n_groups):
        j0 = g * DOT_ROWS
        rows = b[j0 : j0 + DOT_ROWS] if j0 + DOT_ROWS <= n_cols else last
        acc = carray(_stack_tile(c), (DOT_ROWS, DOT_LANES))
        for r in range(DOT_ROWS):
            for lane in range(DOT_LANES):
                acc[r, lane] = 0.0
        for k0 in range(0, n_full, DOT_LANES):  # constant bounds: LLVM keeps acc in registers
            xs = av[k0 : k0 + DOT_LANES]
            for r in range(DOT_ROWS):
                ys = rows[r, k0 : k0 + DOT_LANES]
                for lane in range(DOT_LANES):
                    acc[r, lane] += xs[lane] * ys[lane]
        for r in range(min(DOT_ROWS, n_cols - j0)):
            z = bias[j0 + r] if has_bias else 0.0
            for lane in range(DOT_LANES):
                z += acc[r, lane]
            for k in range(n_full, n_k):
                z += av[k] * rows[r, k]
            c[0, j0 + r] = activations.apply(z, act)


class _SlpVectorizer:
    """Turn on LLVM's SLP vectoriser for kernels compiled inside this block only.

    numba reads `config.SLP_VECTORIZE` each time it builds an optimisation pipeline. It is
    off by default, and without it the unrolled register-tile loop stays scalar (4 GFLOP/s
    instead of 90 per core). Every call of this module's kernels goes through this block
    (two attribute writes), so whichever signature compiles first, it compiles with SLP;
    each is compiled once per process at most, and loaded from numba's cache after that.
    A class rather than a generator-based context manager: it is on every kernel call's
    path, and this costs less (1.0 against 1.4 µs a block, measured). Blocks may nest, in one
    thread or several: the stack holds the setting found at each entry, so the setting is on
    while any block is open and the original comes back when the last one closes.
    """

    def __init__(self):
        self._saved = []

    def __enter__(self):
        self._saved.append(numba.config.SLP_VECTORIZE)
        numba.config.SLP_VECTORIZE = 1

    def __exit__(self, *exc):
        numba.config.SLP_VECTORIZE = self._saved.pop()


_SLP = _SlpVectorizer()


def slp_vectorizer():
    """The block (a context manager) under which this module's kernels are called."""
    return _SLP
