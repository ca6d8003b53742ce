"""Losses from logits with their gradients, one row at a time, in one pass.

Shapes: N = batch, C = classes (or outputs). z holds logits, t targets, `scale` is what the
gradient is multiplied by (1 / count for a mean, times the incoming gradient), and w, when
given, one weight per sample (Keras's sample_weight): row n's loss counts w_n times and its
gradient is multiplied by w_n too, since d(w_n loss_n)/dz_n = w_n dloss_n/dz_n.

    sparse       t[n] = a label in [0, C):
                 loss_n = lse(z_n) − z_n[t]                    grad = softmax(z_n) − onehot(t)
    categorical  t[n, :] targets (one-hot or soft):
                 loss_n = Σ_c t_c (lse(z_n) − z_c)             grad = (Σ_c t_c) softmax(z_n) − t_n
    binary       t[n, :] in [0, 1], each output its own sigmoid:
                 loss_n = Σ_c max(z_c, 0) − z_c t_c + log(1 + e^−|z_c|)      grad = σ(z) − t
    squared      loss_n = Σ_c (p_c − t_c)²                     grad = 2 (p − t)

with lse(z) = max z + log Σ_c e^(z_c − max z), which never overflows, and softmax(z)_c =
e^(z_c − lse(z)). Why the gradients are so simple: for softmax followed by −log p[t], the
softmax's Jacobian and the log's 1/p cancel, leaving p − onehot; σ and the binary loss
cancel the same way. Working from the logits is also what keeps the loss finite where p
rounds to 0 or 1.

The row functions are the single source for every backend: the cpu loop below runs them
over rows in threads, kernels/cuda.py compiles the same Python as device functions (one
GPU thread per row), and kernels/reference.py states the same math with whole-array numpy.
Each row's loss is summed in float64 and the rows' losses are added by numpy in a fixed
order, so the total does not depend on the thread count.
"""

import math

import numpy as np
from numba import njit, prange

from . import checks, parallel
from .buffers import take

KINDS = ("sparse", "categorical", "binary")
SPARSE, CATEGORICAL, BINARY, SQUARED = 0, 1, 2, 3

CHUNK = 4096  # elements of z per thread task (~35 µs of exponentials); one chunk runs serially


def cross_entropy_row(g, z, t, kind, scale):
    """The loss of one row (float64), its gradient · scale written into g (see above)."""
    classes = z.shape[0]
    loss = 0.0
    if kind == BINARY:
        for c in range(classes):
            v, target = z[c], t[c]
            e = math.exp(-abs(v))  # ≤ 1: neither term below can overflow
            loss += max(v, 0.0) - v * target + math.log1p(e)
            sigma = 1.0 / (1.0 + e) if v >= 0.0 else e / (1.0 + e)  # 1/(1 + e^−v) or e^v/(1 + e^v)
            g[c] = (sigma - target) * scale
        return loss
    top = z[0]
    for c in range(1, classes):
        top = max(top, z[c])
    total = 0.0
    for c in range(classes):  # e^(z − max), kept in g: one exponential per element
        g[c] = math.exp(z[c] - top)
        total += g[c]
    lse = top + math.log(total)
    mass = 1.0  # Σ t: 1 for a label
    if kind == CATEGORICAL:
        mass = 0.0
        for c in range(classes):
            mass += t[c]
    for c in range(classes):
        target = (1.0 if c == t[0] else 0.0) if kind == SPARSE else t[c]
        loss += target * (lse - z[c])
        g[c] = (mass * (g[c] / total) - target) * scale
    return loss


def squared_error_row(g, p, t, scale):
    """Σ_c (p_c − t_c)² of one row (float64), 2 (p − t) · scale written into g."""
    loss = 0.0
    for c in range(p.shape[0]):
        d = p[c] - t[c]
        loss += d * d
        g[c] = 2.0 * d * scale
    return loss


_ce_row = njit(inline="always", cache=True)(cross_entropy_row)
_se_row = njit(inline="always", cache=True)(squared_error_row)


@njit(cache=True, parallel=True)
def _rows(losses, grad, z, t, kind, scale, w):
    """Every row's loss (times its weight) into `losses` and its gradient into `grad`;
    returns the number of sparse labels outside [0, C) (those rows are left undefined).
    An empty w means every weight is 1."""
    n_rows, classes = z.shape
    weighted = w.shape[0] > 0
    n_blocks = max(1, min(n_rows, (n_rows * classes + CHUNK - 1) // CHUNK))
    per = (n_rows + n_blocks - 1) // n_blocks  # rows per task, as even as rows allow
    outside = 0
    for blk in prange(n_blocks):
        for n in range(blk * per, min(n_rows, (blk + 1) * per)):
            wn = w[n] if weighted else 1.0
            if kind == SQUARED:
                losses[n] = wn * _se_row(grad[n], z[n], t[n], scale * wn)
            elif kind == SPARSE and not 0 <= t[n, 0] < classes:
                outside += 1
            else:
                losses[n] = wn * _ce_row(grad[n], z[n], t[n], kind, scale * wn)
    return outside


def loss_inputs(where, kind, z, t, w=None, check_labels=True):
    """Check the operands of a loss kernel: z (N, C) float logits, t (N, 1) int64 labels for
    "sparse" (in [0, C), unless the caller counts them itself: check_labels=False) or t (N, C)
    in z's dtype, and w None or N finite sample weights; returns (z, t, w) C-contiguous, w as
    float64 (empty for None). TypeError/ValueError naming `where` and the shapes otherwise."""
    if kind not in KINDS and kind != "squared":
        raise ValueError(f"{where}: unknown kind {kind!r}; expected one of {[*KINDS, 'squared']}.")
    z = checks.as_float_matrix(z, "z", where)
    if z.shape[1] == 0 and kind in ("sparse", "categorical"):
        raise ValueError(f"{where}: z must have at least one class (column); received shape {z.shape}.")
    if not isinstance(t, np.ndarray):
        raise TypeError(f"{where}: t must be a numpy array; received {type(t).__name__}.")
    if kind == "sparse":
        if t.dtype != np.int64:
            raise TypeError(f"{where}: sparse labels t must be int64; received dtype {t.dtype}.")
        checks.check_shape(where, "t", t, (z.shape[0], 1), f"one label per row of z {z.shape}")
        if check_labels and t.size and not (0 <= t.min() and t.max() < z.shape[1]):
            _labels_outside(where, t, z.shape[1])
    else:
        if t.dtype != z.dtype:
            raise TypeError(f"{where}: t must have z's dtype {z.dtype}; received {t.dtype}.")
        checks.check_shape(where, "t", t, z.shape, "the shape of z")
    return z, np.ascontiguousarray(t), sample_weights(where, w, z.shape[0])


_UNWEIGHTED = np.zeros(0, np.float64)  # "every weight is 1"; empty, so nothing can write it
# (and writable on purpose: numba compiles a read-only array as a type of its own)


def sample_weights(where, w, n_rows):
    """w as N float64 sample weights (an empty array for None), checked: a ValueError or
    TypeError naming `where` for a wrong shape, non-numbers, NaN or inf."""
    if w is None:
        return _UNWEIGHTED
    if not isinstance(w, np.ndarray) or w.dtype.kind not in "biuf":
        raise TypeError(f"{where}: sample weights must be a numpy array of numbers; received {w!r:.60}.")
    checks.check_shape(where, "sample weights", w, (n_rows,), "one per sample")
    w = np.ascontiguousarray(w, np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{where}: sample weights contain NaN or inf.")
    return w


def run(where, kind, z, t, scale, w=None, buffers=None):
    """(Σ_n w_n loss_n as a one-element float64 array, gradient · scale) on the cpu (see
    above); the per-row losses and the gradient are kept in `buffers` for the next call."""
    z, t, w = loss_inputs(where, kind, z, t, w, check_labels=False)  # the row loop counts labels
    losses = take(buffers, where, "losses", (z.shape[0],), np.float64)
    grad = take(buffers, where, "gradient", z.shape, z.dtype, (z,))
    loop = parallel.choose(_rows, z.size > CHUNK)  # one chunk: a launch costs more than it saves
    code = SQUARED if kind == "squared" else KINDS.index(kind)
    outside = loop(losses, grad, z, t, code, float(scale), w)
    if outside:
        _labels_outside(where, t, z.shape[1])
    return np.array([losses.sum()]), grad


def _labels_outside(where, t, classes):
    raise ValueError(
        f"{where}: labels must lie in [0, {classes}) for {classes} classes; received {t.min()} to {t.max()}."
    )
