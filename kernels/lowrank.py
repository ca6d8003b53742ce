"""The fused low-rank forward: Y = act((X U) V + b) in one pass over X (CPU, Numba).

Shapes: N = rows of X, K = inputs, R = rank, M = outputs; U (K × R), V (R × M).

A rank-r layer does r·(K + M) multiply-adds per row instead of K·M, but the two products
are thin: X U writes an N × R intermediate t, and t V has a summed dimension of only R.
Run as two GEMMs, the second is all overhead (pack, zero, store, a separate bias and
activation pass over Y). Here they are fused per block of rows:

- Rows are cut into blocks of BLOCK_ROWS (a multiple of MR), shared out among threads.
- Phase 1, t = X_block U: K is cut into chunks of KC; per chunk kernels/gemm.py's MR × W
  micro-kernel (W = 16 for R ≤ 16, else NR) runs over every row panel of the block, so the
  chunk of U (KC × W) is read from L1 by both. X is read in place (MR strided rows), once.
- Phase 2, Y_block = act(t V + b): per NR-column panel of V (R × NR, packed, in L1), the
  micro-kernel runs over every row panel of the block and applies bias and activation to
  its register tile as it stores it: Y is written once and never read back.
- U and V are packed once per call, by all threads (a panel each).

Must equal reference.lowrank_forward (up to float rounding). Each element is summed by one
thread in a fixed order: results are bitwise identical for any thread count.

Measured on the 2-core Zen 5 (AVX-512; shared with other jobs, so noisy), 256 × 1024 × 1024,
2 threads, against the kernel it replaced (gemm.lowrank: blocks of MR rows, a separate bias
and activation pass), in the same run, interleaved: rank 16, 95 against 103 µs; rank 64, 237
against 248 µs; in `python -m benchmarks lowrank` the two are within its noise. A store that
branched for relu, or an accumulator started under a branch, kept the accumulator in memory
(2.5× slower phase 2). Blocks of 2·MR rows with KC = 512 were the best of (1, 2, 4)·MR rows ×
KC 256 / 512 / 1024 / whole K, by a few percent.
"""

import numpy as np
from numba import njit, prange
from numba.np.numpy_support import carray

from . import activations
from .gemm import FASTMATH, MR, NARROW, NR, _micro_kernel, _micro_narrow, _stack_tile

BLOCK_ROWS = 2 * MR  # rows of X per task: a chunk of U is reused by 2 row panels from L1
KC = 512  # K per chunk of phase 1: KC × 16 of U is 32 KiB


def _store_kernel(nr, fixed):
    """The MR × nr micro-kernel of phase 2, with the bias and activation in its store; compiled
    for one activation (`fixed`: RELU or LINEAR, whose stores are plain vector code) or, with
    fixed = -1, for the one passed (measured: one body for all three was 15% slower)."""

    @njit(cache=True, fastmath=FASTMATH, error_model="numpy")
    def micro_store(out, row0, col0, height, width, av, panel, kc, bias, act_arg):
        """out[row0:+height, col0:+width] = act(av (kc × MR)ᵀ · panel (kc × nr) + bias), for
        a `bias` zero-padded to a whole number of panels.

        The accumulator starts from the bias (no add at the store), and is indexed with
        constant bounds only, so LLVM keeps it in registers (a branch around its start, or a
        loop over `height`, and it stays in memory: 2.5× slower, measured); a partial tile
        goes through a copy. relu is max(z, 0), which vectorises (a select on z <= 0 did not)
        and keeps NaN.
        """
        act = act_arg if fixed < 0 else fixed
        acc = carray(_stack_tile(out), (MR, nr))
        b = bias[col0 : col0 + nr]
        for i in range(MR):
            for j in range(nr):
                acc[i, j] = b[j]
        for kk in range(kc):
            for i in range(MR):
                a = av[kk, i]
                for j in range(nr):
                    acc[i, j] += a * panel[kk, j]
        if height == MR and width == nr:
            if act == activations.RELU:
                for i in range(MR):
                    row = out[row0 + i, col0 : col0 + nr]
                    for j in range(nr):
                        row[j] = max(acc[i, j], 0.0)
            elif act == activations.LINEAR:
                for i in range(MR):
                    row = out[row0 + i, col0 : col0 + nr]
                    for j in range(nr):
                        row[j] = acc[i, j]
            else:
                for i in range(MR):
                    row = out[row0 + i, col0 : col0 + nr]
                    for j in range(nr):
                        row[j] = activations.apply(acc[i, j], act)
        else:
            tile = carray(_stack_tile(out), (MR, nr))
            for i in range(MR):
                for j in range(nr):
                    tile[i, j] = acc[i, j]
            for i in range(height):
                for j in range(width):
                    out[row0 + i, col0 + j] = activations.apply(tile[i, j], act)

    return micro_store


_store_relu = _store_kernel(NR, activations.RELU)
_store_linear = _store_kernel(NR, activations.LINEAR)
_store_any = _store_kernel(NR, -1)


@njit(cache=True, fastmath=FASTMATH, error_model="numpy")
def _pack_panel(dst, src, c0, width):
    """dst[kk, j] = src[kk, c0 + j] for j < width, zero beyond (dst: rows × panel width)."""
    nr = dst.shape[1]
    for kk in range(dst.shape[0]):
        row = dst[kk]
        for j in range(nr):
            row[j] = 0.0
        s = src[kk, c0 : c0 + width]
        for j in range(width):
            row[j] = s[j]


@njit(cache=True, parallel=True, fastmath=FASTMATH, error_model="numpy")
def lowrank_forward(y, x, u, v, bias, act):
    """Y = act((X U) V + bias), written into y (N, M). See the module docstring."""
    n_rows, n_k = x.shape
    rank, n_cols = v.shape
    narrow = rank <= NARROW
    width = NARROW if narrow else NR
    n_up = (rank + width - 1) // width
    n_vp = (n_cols + NR - 1) // NR
    up = np.empty((n_up, max(n_k, 1), width), y.dtype)
    vp = np.empty((n_vp, max(rank, 1), NR), y.dtype)
    padded = np.zeros(n_vp * NR, y.dtype)  # the bias, zero-padded to whole panels
    padded[:n_cols] = bias
    n_kc = max(1, (n_k + KC - 1) // KC)
    for t in prange(n_up * n_kc + n_vp):  # pack U (by panel and K chunk) and V (by panel)
        if t < n_up * n_kc:
            p, c = t // n_kc, t % n_kc
            k0, k1 = c * KC, min(n_k, (c + 1) * KC)
            _pack_panel(up[p, k0:k1], u[k0:k1], p * width, min(width, rank - p * width))
        else:
            p = t - n_up * n_kc
            _pack_panel(vp[p, 0:rank], v, p * NR, min(NR, n_cols - p * NR))
    n_blocks = (n_rows + BLOCK_ROWS - 1) // BLOCK_ROWS
    for blk in prange(n_blocks):
        r0 = blk * BLOCK_ROWS
        r1 = min(n_rows, r0 + BLOCK_ROWS)
        n_rp = (r1 - r0 + MR - 1) // MR
        t = np.empty((BLOCK_ROWS, n_up * width), y.dtype)
        # phase 1: t = X_block U, K chunk by K chunk, every row panel per chunk
        for c in range(n_kc):
            k0 = c * KC
            kc = min(KC, n_k - k0)
            for rp in range(n_rp):
                row0 = r0 + rp * MR
                height = min(MR, r1 - row0)
                if height == MR:
                    av = x[row0 : row0 + MR, k0 : k0 + kc].T
                else:  # the last, partial row panel: a zero-padded copy
                    pad = np.zeros((kc, MR), y.dtype)
                    for kk in range(kc):
                        for i in range(height):
                            pad[kk, i] = x[row0 + i, k0 + kk]
                    av = pad[0:kc, 0:MR]
                for p in range(n_up):
                    if narrow:
                        _micro_narrow(t, rp * MR, 0, c > 0, av, up[p, k0 : k0 + kc], kc)
                    else:
                        _micro_kernel(t, rp * MR, p * NR, c > 0, av, up[p, k0 : k0 + kc], kc)
        # phase 2: Y_block = act(t V + bias), bias and activation in the store
        for cp in range(n_vp):
            col0 = cp * NR
            w = min(NR, n_cols - col0)
            panel = vp[cp, 0:rank]
            for rp in range(n_rp):
                row0 = r0 + rp * MR
                tv = t[rp * MR : rp * MR + MR, 0:rank].T
                height = min(MR, r1 - row0)
                if act == activations.RELU:
                    _store_relu(y, row0, col0, height, w, tv, panel, rank, padded, act)
                elif act == activations.LINEAR:
                    _store_linear(y, row0, col0, height, w, tv, panel, rank, padded, act)
                else:
                    _store_any(y, row0, col0, height, w, tv, panel, rank, padded, act)
