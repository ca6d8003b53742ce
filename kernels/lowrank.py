"""The fused low-rank forward: Y = act((X U) V + b) in one pass over X (CPU, Numba).

Shapes: N = rows of X, K = inputs, R = rank, M = outputs; U (K × R), V (R × M).

A rank-r layer does r·(K + M) multiply-adds per row instead of K·M, but both of its products
are thin: X U has only R columns, and t V sums over only R. Run as two GEMMs, the second is
mostly overhead (packing, zeroing, a separate bias-and-activation pass over Y). Here:

- Rows are cut into blocks (12 rows for float32 with AVX-512), the tasks of one parallel
  loop; each block is done by one thread from X to Y: t = X_block U, then
  Y_block = act(t V + b). X is read once, in place; t never leaves the cache.
- X·U: a register tile of 12 rows × 16 columns of t (12 of the 32 zmm registers), per k one
  vector of U's 16-column panel and 12 broadcasts of X. 8 rows (the GEMM's MR, as in the
  kernel before this one) took 64–72 µs for 256×1024×16 on one core, 12 rows 43–48 (10 and
  14 rows: 59–67; 16 and more: the accumulator left the registers, 280+). Probably 8
  accumulators are too few to cover the FMA's latency at two per cycle. A rank that is a multiple of
  64 uses 6 × 64 tiles over 64-column panels (U read once per 64 columns of t instead of
  per 16: 145 against 203 µs for rank 64); the rest of a rank goes in 16-column panels.
  When U is one whole panel (rank 16 or 64), it is used in place, unpacked.
- t·V: a register tile of 6 rows × 64 columns (24 zmm registers: 6 broadcasts and 4 loads
  per 24 FMAs), over V packed in 64-column panels (packing also keeps V's rows from landing
  4 KiB apart, on one L1 set). The accumulator starts from the bias and relu is applied as
  it is stored (a compare and select, which keeps NaN): Y is written once and never read
  back. 6 × 64 against the GEMM's 8 × 32 with a separate epilogue pass: 43–45 against
  61 µs for 256 rows (rank 16, M = 1024, one core). sigmoid and tanh go through a second
  pass over the tile just stored, still in L1.
- The accumulators are fixed-size stack arrays indexed with constant bounds, which LLVM keeps
  in registers, and the tile loops are vectorised by the SLP vectoriser (called under
  gemm.slp_vectorizer()), as in kernels/gemm.py. Each phase's blocks are a function of their
  own (`_xu_block`, `_tv_block`): inlined into the parallel loop's body, phase 2 ran 20%
  slower.
- U's panels (when it is not its own panel), V's panels and the bias are packed once per
  call, on the calling thread: 3 µs of the call at rank 16, K = M = 1024.

Tried and not kept (same measurements): X·U as dot products along k (4 rows × 4 ranks of
16-lane accumulators, fewer loads per FMA): numba/LLVM did not keep more than 64 accumulator
lanes in registers (4–10 ms); two tiles of 6 rows whose k runs are offset by K/2 (so that the
12 rows of X, 4 KiB apart when K = 1024, do not all sit in one L1 set at once): faster only
while the machine was loaded (65 against 75 µs), not when quiet (51 against 48); copying
each block of X to rows padded past 4 KiB: the copy cost more (57 against 48 µs) than the
aliasing (padded X in place: 38–44); blocks of 24 rows: no change.

Each element of Y is summed by one thread in a fixed order (t's over k ascending; Y's from
the bias, over the rank ascending), so results are bitwise identical for any thread count.
Must equal reference.lowrank_forward (up to float rounding).

The tile shapes are per dtype and instruction set (`tiles`); each dtype's kernel is compiled
on first use (`kernel`): 6.6–8.2 s on a cold numba cache, against 6.4–6.8 s for the kernel
it replaced, 0.46 s from the cache for both. Measured on the 2-core Zen 5 (AVX-512; shared
with other jobs, whose load moved single-core times by up to 40%, so these are minimums over
interleaved repeats, thread CPU time), 256 × 1024 × 1024, float32, one thread, against
gemm.lowrank, the kernel this replaced (blocks of MR = 8 rows, 8 × 16 and 8 × 32 tiles, a
separate epilogue pass): rank 16, 116 against 141–148 µs (X·U 53, t·V 51–53, packing and
setup 3); rank 64, 335–339 against 348–357 µs; float64, rank 16 196 against 249 µs, rank 64
718 against 969. On two threads (`python -m benchmarks lowrank`, the old and new code run
alternately, 19:56–19:57): rank 16, 77–97 µs against 82–114 (56% of the FLOP ratio, the
old 45–55%); rank 64, 193–211 against 238–371 µs. Of the 77–97 µs: the kernel alone 73–79
(its two threads 85–93% busy: 135 µs of one core's work at the time, 3 of them serial),
and 5–14 µs of the call around it (input checks 2.6 µs, the output's allocation, dispatch).
With AVX2 (the same code compiled for haswell, run on the Zen 5), 4 × 16 and 4 × 24 tiles:
rank 16, 186 against 199 µs; rank 64, 681 against 703; wider AVX2 tiles (3 × 32, 2 × 48)
kept their accumulators in memory (1.3 ms at rank 64).
"""

import functools
import types as pytypes

import numpy as np
from numba import njit, prange, types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.numpy_support import carray

from . import activations
from .gemm import FASTMATH, HAS_AVX512

U_WIDTH = 16  # columns of U per narrow panel (rank ≤ 16: one panel, no padding)
STACK = 512  # elements of the largest register tile (6 × 64)


@intrinsic
def _stack(typingctx, like):
    """A pointer to STACK uninitialised elements of like's dtype, on the stack."""
    elem = like.dtype
    sig = types.CPointer(elem)(like)

    def codegen(context, builder, signature, args):
        size = context.get_constant(types.intp, STACK)
        return cgutils.alloca_once(builder, context.get_value_type(elem), size=size)

    return sig, codegen


def tiles(itemsize: int, avx512: bool = HAS_AVX512):
    """((rows, U_WIDTH) of the X·U tile, (rows, width) of the t·V tile) for one dtype.

    The t·V tile also serves X·U for U's wide panels. A block of rows (one task) is as tall
    as the X·U tile, a multiple of the t·V tile's rows. Measured: see the module docstring.
    """
    if avx512:  # 12 and 24 of the 32 zmm registers hold the accumulators
        return ((12, U_WIDTH), (6, 64)) if itemsize == 4 else ((6, U_WIDTH), (6, 32))
    # 8 or 12 of the 16 ymm registers (4 × 24 is the GEMM's register tile)
    return ((4, U_WIDTH), (4, 24)) if itemsize == 4 else ((3, U_WIDTH), (3, 16))


def _tile_kernel(rows, width, relu):
    """The register tile `rows` × `width`, its store plain or through relu.

    One source for every shape: the shape is a closure constant, so each compiles to its own
    unrolled code (numba's cache keys it by the closure's values).
    """

    @njit(cache=True, fastmath=FASTMATH, error_model="numpy")
    def tile(out, row0, col0, av, panel, kc, start, s0):
        """out[row0:+rows, col0:+width] = act(start[s0:+width] + av (kc × rows)ᵀ · panel).

        av any strides (broadcast per k), panel (kc × width) packed. The accumulator starts
        from `start` (the bias, or zeros) and is indexed with constant bounds only, so it
        stays in registers; the store goes through row views indexed from zero (vector
        stores, no wraparound checks).
        """
        acc = carray(_stack(out), (rows, width))
        b = start[s0 : s0 + width]
        for i in range(rows):
            for j in range(width):
                acc[i, j] = b[j]
        for kk in range(kc):
            for i in range(rows):
                a = av[kk, i]
                for j in range(width):
                    acc[i, j] += a * panel[kk, j]
        for i in range(rows):
            row = out[row0 + i, col0 : col0 + width]
            if relu:
                for j in range(width):
                    z = acc[i, j]
                    row[j] = 0.0 if z <= 0.0 else z  # NaN stays NaN
            else:
                for j in range(width):
                    row[j] = acc[i, j]

    return tile


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _pack(dst, src, c0):
    """dst[p, k, j] = src[k, c0 + p*w + j] (w = dst.shape[2]), zero past src's last column."""
    n_p, n_k, w = dst.shape
    n_cols = src.shape[1]
    for p in range(n_p):
        cs = c0 + p * w
        width = min(w, n_cols - cs)
        for k in range(n_k):
            row = dst[p, k]
            s = src[k, cs : cs + width]
            for j in range(width):
                row[j] = s[j]
            for j in range(width, w):
                row[j] = 0.0


# The three functions below are compiled once per dtype (`kernel`), each with its own globals
# in place of these placeholders: the tile shapes of `tiles`, rows per block (task), and the
# compiled tiles and block functions. Globals, not closure variables: numba's cache cannot key
# a closure that holds other compiled functions, and would compile them again in every process.
XU_ROWS = TV_ROWS = TV_WIDTH = BLOCK = None  # ints
XU_TILE = TV_LINEAR = TV_RELU = XU_BLOCK = TV_BLOCK = None  # compiled functions


def _xu_block(t, r0, xb, upw, upn, n_k, zero):
    """t[r0:+BLOCK] = xb (BLOCK × K) · U, over U's wide panels upw and narrow panels upn."""
    for i0 in range(0, BLOCK, TV_ROWS):  # per-dtype globals
        av = xb[i0 : i0 + TV_ROWS].T
        for p in range(upw.shape[0]):
            TV_LINEAR(t, r0 + i0, p * TV_WIDTH, av, upw[p], n_k, zero, 0)
    c0 = upw.shape[0] * TV_WIDTH
    for i0 in range(0, BLOCK, XU_ROWS):
        av = xb[i0 : i0 + XU_ROWS].T
        for p in range(upn.shape[0]):
            XU_TILE(t, r0 + i0, c0 + p * U_WIDTH, av, upn[p], n_k, zero, 0)


def _tv_block(y, r0, height, t, vp, rank, start, edge, act):
    """y[r0:+height] = act(t[r0:+height, :rank] · V + bias), V in packed panels vp, bias
    zero-padded to whole panels in `start`; partial tiles go through `edge`."""
    n_cols = y.shape[1]
    relu = act == activations.RELU
    for i0 in range(0, BLOCK, TV_ROWS):
        rows = min(TV_ROWS, height - i0)
        if rows <= 0:
            break
        tv = t[r0 + i0 : r0 + i0 + TV_ROWS, 0:rank].T
        for cp in range(vp.shape[0]):
            col0 = cp * TV_WIDTH
            width = min(TV_WIDTH, n_cols - col0)
            if rows == TV_ROWS and width == TV_WIDTH:
                if relu:
                    TV_RELU(y, r0 + i0, col0, tv, vp[cp], rank, start, col0)
                else:
                    TV_LINEAR(y, r0 + i0, col0, tv, vp[cp], rank, start, col0)
            else:  # an edge: the whole tile into the scratch tile, then its valid part
                if relu:
                    TV_RELU(edge, 0, 0, tv, vp[cp], rank, start, col0)
                else:
                    TV_LINEAR(edge, 0, 0, tv, vp[cp], rank, start, col0)
                for i in range(rows):
                    src = edge[i, 0:width]
                    dst = y[r0 + i0 + i, col0 : col0 + width]
                    for j in range(width):
                        dst[j] = src[j]
            if act != activations.LINEAR and not relu:  # sigmoid, tanh: on the tile, in L1
                for i in range(rows):
                    row = y[r0 + i0 + i, col0 : col0 + width]
                    for j in range(width):
                        row[j] = activations.apply(row[j], act)


def _lowrank(y, x, u, v, bias, act):
    """Y = act((X U) V + bias), written into y (N, M); u C-contiguous. See the module
    docstring."""
    n_rows, n_k = x.shape
    rank, n_cols = v.shape
    n_wide = rank // TV_WIDTH if rank > U_WIDTH else 0
    n_narrow = (rank - n_wide * TV_WIDTH + U_WIDTH - 1) // U_WIDTH
    if rank == U_WIDTH or rank == TV_WIDTH:  # u is its own panel
        whole = u.reshape((1, n_k, rank))
        upw, upn = whole[0:n_wide], whole[0:n_narrow]
    else:
        upw = np.empty((n_wide, n_k, TV_WIDTH), y.dtype)
        upn = np.empty((n_narrow, n_k, U_WIDTH), y.dtype)
        _pack(upw, u, 0)
        _pack(upn, u, n_wide * TV_WIDTH)
    n_vp = (n_cols + TV_WIDTH - 1) // TV_WIDTH
    vp = np.empty((n_vp, rank, TV_WIDTH), y.dtype)
    _pack(vp, v, 0)
    # Plain loops, not np.zeros or slice assignment: in a parallel function numba runs those
    # as parallel loops of their own, each a launch of the threads (1.4 µs).
    start = np.empty(n_vp * TV_WIDTH, y.dtype)  # the bias, zero-padded to whole panels
    for j in range(n_vp * TV_WIDTH):
        start[j] = bias[j] if j < n_cols else 0.0
    zero = np.empty(TV_WIDTH, y.dtype)  # X·U's tiles start from zero
    for j in range(TV_WIDTH):
        zero[j] = 0.0
    n_blocks = (n_rows + BLOCK - 1) // BLOCK
    t = np.empty((n_blocks * BLOCK, n_wide * TV_WIDTH + n_narrow * U_WIDTH), y.dtype)
    edge = np.empty((n_blocks, TV_ROWS, TV_WIDTH), y.dtype)  # a scratch tile per task
    r_last = (n_blocks - 1) * BLOCK
    partial = n_rows - r_last < BLOCK
    xpad = np.empty((BLOCK if partial else 0, n_k), y.dtype)  # the last, partial block
    for i in range(BLOCK if partial else 0):
        for k in range(n_k):
            xpad[i, k] = x[r_last + i, k] if r_last + i < n_rows else 0.0
    for blk in prange(n_blocks):
        r0 = blk * BLOCK
        height = min(BLOCK, n_rows - r0)
        xb = x[r0 : r0 + BLOCK, 0:n_k] if height == BLOCK else xpad[0:BLOCK, 0:n_k]
        XU_BLOCK(t, r0, xb, upw, upn, n_k, zero)
        TV_BLOCK(y, r0, height, t, vp, rank, start, edge[blk], act)


def _bind(fn, names, suffix, **options):
    """fn compiled with `names` as its globals, under its own name (numba's cache keys an
    entry by the function's name and line)."""
    twin = pytypes.FunctionType(fn.__code__, dict(fn.__globals__, **names), fn.__name__ + suffix)
    twin.__qualname__ = fn.__qualname__ + suffix
    twin.__module__ = fn.__module__
    twin.__doc__ = fn.__doc__
    return njit(cache=True, fastmath=FASTMATH, error_model="numpy", **options)(twin)


@functools.cache
def kernel(itemsize: int):
    """The forward for float32 (itemsize 4) or float64 (8), made on first use (compiled on
    its first call): lowrank(y, x, u, v, bias, act), u C-contiguous, bias of length M."""
    (xu_rows, _), (tv_rows, tv_width) = tiles(itemsize)
    tv_linear = _tile_kernel(tv_rows, tv_width, False)
    names = {
        "XU_ROWS": xu_rows,
        "TV_ROWS": tv_rows,
        "TV_WIDTH": tv_width,
        "BLOCK": xu_rows,
        "XU_TILE": _tile_kernel(xu_rows, U_WIDTH, False),
        "TV_LINEAR": tv_linear,
        "TV_RELU": _tile_kernel(tv_rows, tv_width, True),
    }
    suffix = f"_f{8 * itemsize}"
    names["XU_BLOCK"] = _bind(_xu_block, names, suffix)
    names["TV_BLOCK"] = _bind(_tv_block, names, suffix)
    return _bind(_lowrank, names, suffix, parallel=True)
