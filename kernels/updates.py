"""Optimizer updates: one fused pass over a parameter and its state, in place.

Shapes: every array is the flat view (P,) of one parameter, its gradient and its state.
Written as plain loops, they are their own reference: a single sweep that reads each
array once, where numpy would make a temporary array per operator.

The formulas are Keras 3's (keras/src/optimizers/{sgd,adam,rmsprop}.py):

    sgd       m ← μ m − η g;  w ← w + m  (nesterov: w ← w + μ m − η g);  μ = 0: w ← w − η g
    adam      m ← m + (g − m)(1 − β₁);  v ← v + (g² − v)(1 − β₂);  w ← w − α m / (√v + ε)
              with α = η √(1 − β₂ᵗ) / (1 − β₁ᵗ) computed by the caller
    rmsprop   v ← ρ v + (1 − ρ) g²;  Δ = η g / √(v + ε);  w ← w − Δ  (or via momentum)
    decay     w ← w − λ η w  (AdamW's decoupled weight decay, before the update)
"""

import math

import numpy as np
from numba import njit, prange

from .checks import FLOAT_DTYPES

__all__ = ["sgd_update", "adam_update", "rmsprop_update"]

# Second moments are capped here: a gradient of 1e20 squares past float32's range, and an
# inf second moment would turn into NaN (inf − inf) on the next step and poison the weights.
V_MAX = 3.4028234663852886e38


CHUNK = 16384  # elements per parallel task; elementwise, so any split gives the same bits

# error_model="numpy": division follows IEEE (x / 0 = inf) instead of raising, which also
# removes the zero test that stopped LLVM from vectorising these loops (6-9x, measured).


def _scalars(w, *values):
    """The scalars as one small array in w's dtype: the loops then run in float32 and
    vectorise. (One array costs ~1 µs to make; six numpy scalars, ~4 µs.)"""
    return np.array(values, w.dtype)


def _flat(where, w, *others):
    """w, its gradient and its state as flat views, after checking that they can be updated
    in place together: numpy arrays of one float dtype (else TypeError) and one shape,
    C-contiguous, w writeable (else ValueError: a mismatch would read past an array's end)."""
    arrays = (w, *others)
    dtype = getattr(w, "dtype", None)
    typed = all(type(a) is np.ndarray and a.dtype == dtype for a in arrays) and dtype.type in FLOAT_DTYPES
    if not (typed and all(a.shape == w.shape and a.flags.c_contiguous for a in arrays) and w.flags.writeable):
        listed = ", ".join(
            f"{getattr(a, 'shape', type(a).__name__)} {getattr(a, 'dtype', '')}".strip() for a in arrays
        )
        raise (ValueError if typed else TypeError)(
            f"{where}: w, its gradient and its state must be C-contiguous numpy arrays of one "
            f"float dtype and one shape, w writeable; received {listed}."
        )
    return arrays if w.ndim == 1 else tuple(a.reshape(-1) for a in arrays)


def sgd_update(w, g, m, lr, momentum, nesterov):
    """In place: SGD with optional (Nesterov) momentum; m is unused when momentum == 0."""
    w, g, m = _flat("sgd_update", w, g, m)
    _run(_sgd, w, g, m, _scalars(w, lr, momentum), bool(nesterov))


def adam_update(w, g, m, v, alpha, beta_1, beta_2, epsilon, decay):
    """In place: decoupled weight decay (decay = λη, 0 for Adam), then the Adam step."""
    w, g, m, v = _flat("adam_update", w, g, m, v)
    _run(_adam, w, g, m, v, _scalars(w, alpha, 1 - beta_1, 1 - beta_2, epsilon, decay, V_MAX))


def rmsprop_update(w, g, v, mom, lr, rho, momentum, epsilon):
    """In place: RMSprop (uncentered); mom is unused when momentum == 0."""
    w, g, v, mom = _flat("rmsprop_update", w, g, v, mom)
    _run(_rmsprop, w, g, v, mom, _scalars(w, lr, rho, 1 - rho, momentum, epsilon, V_MAX))


def _run(loop, w, *args):
    """The parallel loop, or its serial twin when w fits in one chunk: a parallel launch
    costs more than updating a bias (the same bits either way: elementwise)."""
    (loop if w.size > CHUNK else _SERIAL[loop])(w, *args)


# ---- the steps: one element each, plain Python, compiled by every backend ----------------
# The cpu loops below inline them (njit); kernels/cuda compiles the same functions as device
# functions, so every backend runs one formula. Scalars come in w's dtype (see _scalars).


def sgd_step(w, g, m, i, lr, momentum, nesterov):
    """Element i of SGD: plain, with momentum, or with Nesterov momentum (m unused at μ = 0)."""
    if momentum == 0:
        w[i] -= lr * g[i]
    elif nesterov:
        m[i] = momentum * m[i] - lr * g[i]
        w[i] += momentum * m[i] - lr * g[i]
    else:
        m[i] = momentum * m[i] - lr * g[i]
        w[i] += m[i]


def adam_step(w, g, m, v, i, alpha, c1, c2, epsilon, decay, v_max):
    """Element i of Adam (c1 = 1 − β₁, c2 = 1 − β₂), after AdamW's decay when decay ≠ 0."""
    if decay != 0:
        w[i] -= decay * w[i]
    gi = g[i]
    mi = m[i] + (gi - m[i]) * c1
    vi = v[i] + (gi * gi - v[i]) * c2
    vi = vi if vi < v_max else v_max
    m[i] = mi
    v[i] = vi
    w[i] -= alpha * mi / (math.sqrt(vi) + epsilon)


def rmsprop_step(w, g, v, mom, i, lr, rho, c, momentum, epsilon, v_max):
    """Element i of RMSprop (c = 1 − ρ), with momentum when momentum > 0."""
    gi = g[i]
    vi = rho * v[i] + c * gi * gi
    vi = vi if vi < v_max else v_max
    v[i] = vi
    step = lr * gi / math.sqrt(vi + epsilon)
    if momentum > 0:
        mom[i] = momentum * mom[i] + step
        w[i] -= mom[i]
    else:
        w[i] -= step


_sgd_step = njit(inline="always", cache=True, error_model="numpy")(sgd_step)
_adam_step = njit(inline="always", cache=True, error_model="numpy")(adam_step)
_rmsprop_step = njit(inline="always", cache=True, error_model="numpy")(rmsprop_step)


# ---- the cpu loops: chunks in parallel, each chunk a vectorised sweep -----------------------
# Each task works on views of its chunk indexed from zero: numba then knows no index is
# negative and drops its wraparound check, which otherwise blocks vectorisation.


@njit(cache=True, parallel=True, error_model="numpy")
def _sgd(w, g, m, scalars, nesterov):
    lr, momentum = scalars[0], scalars[1]
    for t in prange((w.size + CHUNK - 1) // CHUNK):
        lo, hi = t * CHUNK, min(w.size, (t + 1) * CHUNK)
        wc, gc, mc = w[lo:hi], g[lo:hi], m[lo:hi]
        for i in range(hi - lo):
            _sgd_step(wc, gc, mc, i, lr, momentum, nesterov)


@njit(cache=True, parallel=True, error_model="numpy")
def _adam(w, g, m, v, scalars):
    alpha, c1, c2 = scalars[0], scalars[1], scalars[2]  # (one small array: see _scalars)
    epsilon, decay, v_max = scalars[3], scalars[4], scalars[5]
    for t in prange((w.size + CHUNK - 1) // CHUNK):
        lo, hi = t * CHUNK, min(w.size, (t + 1) * CHUNK)
        wc, gc, mc, vc = w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi]
        for i in range(hi - lo):
            _adam_step(wc, gc, mc, vc, i, alpha, c1, c2, epsilon, decay, v_max)


@njit(cache=True, parallel=True, error_model="numpy")
def _rmsprop(w, g, v, mom, scalars):
    lr, rho, c = scalars[0], scalars[1], scalars[2]
    momentum, epsilon, v_max = scalars[3], scalars[4], scalars[5]
    for t in prange((w.size + CHUNK - 1) // CHUNK):
        lo, hi = t * CHUNK, min(w.size, (t + 1) * CHUNK)
        wc, gc, vc, mc = w[lo:hi], g[lo:hi], v[lo:hi], mom[lo:hi]
        for i in range(hi - lo):
            _rmsprop_step(wc, gc, vc, mc, i, lr, rho, c, momentum, epsilon, v_max)


# The same loops compiled without threads (prange runs as range), for small parameters.
_SERIAL = {loop: njit(cache=True, error_model="numpy")(loop.py_func) for loop in (_sgd, _adam, _rmsprop)}
