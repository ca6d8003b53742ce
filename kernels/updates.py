"""Optimizer updates: one fused pass over a parameter and its state, in place.

Shapes: every array is the flat view (P,) of one parameter, its gradient and its state.
Written as plain loops, they are their own reference: a single sweep that reads each
array once, where numpy would make a temporary array per operator.

The formulas are Keras 3's (keras/src/optimizers/{sgd,adam,rmsprop,adamax,nadam,adagrad}.py):

    decay     w ← w − λ η w  (weight decay, before the update; decay = λη, 0 for none)
    sgd       m ← μ m − η g;  w ← w + m  (nesterov: w ← w + μ m − η g);  μ = 0: w ← w − η g
    adam      m ← m + (g − m)(1 − β₁);  v ← v + (g² − v)(1 − β₂);  w ← w − α m / (√v + ε)
              with α = η √(1 − β₂ᵗ) / (1 − β₁ᵗ) computed by the caller;
              amsgrad: v̂ ← max(v̂, v) and v̂ in place of v
    rmsprop   v ← ρ v + (1 − ρ) g²;  Δ = η g / √(v + ε);  w ← w − Δ  (or via momentum:
              μ_w ← μ μ_w + Δ;  w ← w − μ_w); centered: a ← ρ a + (1 − ρ) g and
              Δ = η g / √(v − a² + ε)
    adamax    m ← m + (g − m)(1 − β₁);  u ← max(β₂ u, |g|);  w ← w − α m / (u + ε)
              with α = η / (1 − β₁ᵗ)
    nadam     m ← m + (g − m)(1 − β₁);  v ← v + (g² − v)(1 − β₂);
              w ← w − η (a m + b g) / (√(c v) + ε), with the caller's a = μₜ₊₁ / (1 − Πₜ₊₁),
              b = (1 − μₜ) / (1 − Πₜ), c = 1 / (1 − β₂ᵗ)  (μₜ = β₁ (1 − ½ 0.96ᵗ), Πₜ = μ₁ ⋯ μₜ)
    adagrad   A ← A + g²;  w ← w − η g / √(A + ε)
"""

import math

import numpy as np
from numba import njit, prange

from . import parallel
from .checks import FLOAT_DTYPES

__all__ = [
    "sgd_update",
    "adam_update",
    "rmsprop_update",
    "adamax_update",
    "nadam_update",
    "adagrad_update",
]

# Second moments are capped here: a gradient of 1e20 squares past float32's range, and an
# inf second moment would turn into NaN (inf − inf) on the next step and poison the weights.
V_MAX = 3.4028234663852886e38


CHUNK = 16384  # elements per parallel task; elementwise, so any split gives the same bits

# error_model="numpy": division follows IEEE (x / 0 = inf) instead of raising, which also
# removes the zero test that stopped LLVM from vectorising these loops (6-9x, measured).

# What the loops get for a state array that an option leaves unused (Adam's v̂ without
# amsgrad, RMSprop's average gradient when not centered): empty, so never read or written
# (and writeable, so that both forms share one compiled loop).
_UNUSED = {np.dtype(t): np.zeros(0, t) for t in FLOAT_DTYPES}


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


def _optional(where, arrays, extra):
    """The flat arrays with an optional state array `extra` appended (checked like the
    others), or the unused placeholder when it is None."""
    if extra is None:
        flat = _flat(where, *arrays)
        return (*flat, _UNUSED[flat[0].dtype])
    return _flat(where, *arrays, extra)


def sgd_update(w, g, m, lr, momentum, nesterov, decay=0.0):
    """In place: SGD with optional (Nesterov) momentum; m is unused when momentum == 0.

    Args:
        w, g, m: the parameter, its gradient and its momentum, arrays of one shape and dtype.
        lr: η.  momentum: μ.  nesterov: bool.
        decay: λη, the weight decay applied before the step (0: none).
    """
    w, g, m = _flat("sgd_update", w, g, m)
    _run(_sgd, w, g, m, _scalars(w, lr, momentum, decay), bool(nesterov))


def adam_update(w, g, m, v, alpha, beta_1, beta_2, epsilon, decay, v_hat=None):
    """In place: weight decay (decay = λη, 0 for none), then the Adam step.

    Args:
        w, g, m, v: the parameter, its gradient, first and second moments.
        alpha: η √(1 − β₂ᵗ) / (1 − β₁ᵗ).  beta_1, beta_2, epsilon: Adam's.
        decay: λη.
        v_hat: AMSGrad's running maximum of v, or None for plain Adam.
    """
    w, g, m, v, vh = _optional("adam_update", (w, g, m, v), v_hat)
    scalars = _scalars(w, alpha, 1 - beta_1, 1 - beta_2, epsilon, decay, V_MAX)
    _run(_adam, w, g, m, v, vh, scalars, v_hat is not None)


def rmsprop_update(w, g, v, mom, lr, rho, momentum, epsilon, decay=0.0, average=None):
    """In place: RMSprop; mom is unused when momentum == 0.

    Args:
        w, g, v, mom: the parameter, its gradient, the mean square and the momentum.
        lr, rho, momentum, epsilon: RMSprop's.  decay: λη.
        average: the centered form's mean gradient, or None for the uncentered form.
    """
    w, g, v, mom, avg = _optional("rmsprop_update", (w, g, v, mom), average)
    scalars = _scalars(w, lr, rho, 1 - rho, momentum, epsilon, V_MAX, decay)
    _run(_rmsprop, w, g, v, mom, avg, scalars, average is not None)


def adamax_update(w, g, m, u, alpha, beta_1, beta_2, epsilon, decay=0.0):
    """In place: Adamax with α = η / (1 − β₁ᵗ); u is the exponentially weighted infinity norm."""
    w, g, m, u = _flat("adamax_update", w, g, m, u)
    _run(_adamax, w, g, m, u, _scalars(w, alpha, 1 - beta_1, beta_2, epsilon, decay))


def nadam_update(w, g, m, v, lr, beta_1, beta_2, epsilon, m_factor, g_factor, v_factor, decay=0.0):
    """In place: Nadam, with the step's factors a = m_factor, b = g_factor, c = v_factor (the
    module's formula; the optimizer computes them once per step from its momentum schedule)."""
    w, g, m, v = _flat("nadam_update", w, g, m, v)
    scalars = _scalars(w, lr, 1 - beta_1, 1 - beta_2, epsilon, m_factor, g_factor, v_factor, decay, V_MAX)
    _run(_nadam, w, g, m, v, scalars)


def adagrad_update(w, g, acc, lr, epsilon, decay=0.0):
    """In place: Adagrad; acc is the sum of squared gradients (it starts at Keras's
    initial_accumulator_value, set by the optimizer)."""
    w, g, acc = _flat("adagrad_update", w, g, acc)
    _run(_adagrad, w, g, acc, _scalars(w, lr, epsilon, decay, V_MAX))


def _run(loop, w, *args):
    """The parallel loop, or its serial twin when w fits in one chunk: a parallel launch
    costs more than updating a bias (the same bits either way: elementwise)."""
    parallel.choose(loop, w.size > CHUNK)(w, *args)


# ---- the steps: one element each, plain Python, compiled by every backend ----------------
# The cpu loops below inline them (njit); kernels/cuda compiles the same functions as device
# functions, so every backend runs one formula. Scalars come in w's dtype (see _scalars).
# Each step reads an element of each array once into a local, and writes each array at
# most once: weight decay then changes a local, not memory, and a test that does not depend
# on i (decay ≠ 0, momentum, nesterov) is hoisted out of the loop by the compiler, which keeps
# the loop vectorised. (Other arrangements of the same arithmetic, such as a second store to
# w under the decay test, made LLVM give up vectorising: 4-150x slower, measured; the
# benchmark: NUMBA_NUM_THREADS=1, 1M float32 elements per update.)


def sgd_step(w, g, m, i, lr, momentum, nesterov, decay):
    """Element i of SGD: plain, with momentum, or with Nesterov momentum (m unused at μ = 0)."""
    wi, gi = w[i], g[i]
    if decay != 0:
        wi -= decay * wi
    if momentum == 0:
        wi -= lr * gi
    else:
        mi = momentum * m[i] - lr * gi
        m[i] = mi
        wi += momentum * mi - lr * gi if nesterov else mi
    w[i] = wi


def adam_step(w, g, m, v, vh, i, alpha, c1, c2, epsilon, decay, v_max, amsgrad):
    """Element i of Adam (c1 = 1 − β₁, c2 = 1 − β₂), after weight decay when decay ≠ 0;
    with amsgrad, v̂ = max(v̂, v) divides the step (vh unused otherwise)."""
    wi, gi = w[i], g[i]
    if decay != 0:
        wi -= decay * wi
    mi = m[i] + (gi - m[i]) * c1
    vi = v[i] + (gi * gi - v[i]) * c2
    vi = vi if vi < v_max else v_max
    m[i] = mi
    v[i] = vi
    if amsgrad:
        vi = vi if vi > vh[i] else vh[i]
        vh[i] = vi
    w[i] = wi - alpha * mi / (math.sqrt(vi) + epsilon)


def rmsprop_step(w, g, v, mom, avg, i, lr, rho, c, momentum, epsilon, v_max, decay, centered):
    """Element i of RMSprop (c = 1 − ρ), with momentum when momentum > 0, centered on the
    mean gradient avg when `centered` (avg unused otherwise)."""
    wi, gi = w[i], g[i]
    if decay != 0:
        wi -= decay * wi
    vi = rho * v[i] + c * gi * gi
    vi = vi if vi < v_max else v_max
    v[i] = vi
    if centered:
        ai = rho * avg[i] + c * gi
        avg[i] = ai
        vi = vi - ai * ai
    delta = lr * gi / math.sqrt(vi + epsilon)
    if momentum > 0:
        mi = momentum * mom[i] + delta
        mom[i] = mi
        w[i] = wi - mi
    else:
        w[i] = wi - delta


def adamax_step(w, g, m, u, i, alpha, c1, beta_2, epsilon, decay):
    """Element i of Adamax (c1 = 1 − β₁, α = η / (1 − β₁ᵗ))."""
    wi, gi = w[i], g[i]
    if decay != 0:
        wi -= decay * wi
    mi = m[i] + (gi - m[i]) * c1
    ui = beta_2 * u[i]
    size = abs(gi)
    ui = ui if ui > size else size
    m[i] = mi
    u[i] = ui
    w[i] = wi - alpha * mi / (ui + epsilon)


def nadam_step(w, g, m, v, i, lr, c1, c2, epsilon, m_factor, g_factor, v_factor, decay, v_max):
    """Element i of Nadam (c1 = 1 − β₁, c2 = 1 − β₂; the factors a, b, c of the module's doc)."""
    wi, gi = w[i], g[i]
    if decay != 0:
        wi -= decay * wi
    mi = m[i] + (gi - m[i]) * c1
    vi = v[i] + (gi * gi - v[i]) * c2
    vi = vi if vi < v_max else v_max
    m[i] = mi
    v[i] = vi
    w[i] = wi - lr * (m_factor * mi + g_factor * gi) / (math.sqrt(vi * v_factor) + epsilon)


def adagrad_step(w, g, acc, i, lr, epsilon, decay, v_max):
    """Element i of Adagrad."""
    wi, gi = w[i], g[i]
    if decay != 0:
        wi -= decay * wi
    ai = acc[i] + gi * gi
    ai = ai if ai < v_max else v_max
    acc[i] = ai
    w[i] = wi - lr * gi / math.sqrt(ai + epsilon)


def _inline(step):
    return njit(inline="always", cache=True, error_model="numpy")(step)


_sgd_step, _adam_step, _rmsprop_step = _inline(sgd_step), _inline(adam_step), _inline(rmsprop_step)
_adamax_step, _nadam_step, _adagrad_step = _inline(adamax_step), _inline(nadam_step), _inline(adagrad_step)


# ---- the cpu loops: chunks in parallel, each chunk a vectorised sweep -----------------------
# Each task works on views of its chunk indexed from zero: numba then knows no index is
# negative and drops its wraparound check, which otherwise blocks vectorisation.
# An option that adds a store to an array of its own (amsgrad's v̂, the centered average,
# empty when unused) is settled per chunk, by calling the step with a constant in a sweep of
# its own: the compiler drops the dead branch and vectorises each sweep.


@njit(cache=True, parallel=True, error_model="numpy")
def _sgd(w, g, m, scalars, nesterov):
    lr, momentum, decay = scalars[0], scalars[1], scalars[2]
    for t in prange((w.size + CHUNK - 1) // CHUNK):
        lo, hi = t * CHUNK, min(w.size, (t + 1) * CHUNK)
        wc, gc, mc = w[lo:hi], g[lo:hi], m[lo:hi]
        for i in range(hi - lo):
            _sgd_step(wc, gc, mc, i, lr, momentum, nesterov, decay)


@njit(cache=True, parallel=True, error_model="numpy")
def _adam(w, g, m, v, vh, scalars, amsgrad):
    alpha, c1, c2 = scalars[0], scalars[1], scalars[2]  # (one small array: see _scalars)
    epsilon, decay, v_max = scalars[3], scalars[4], scalars[5]
    for t in prange((w.size + CHUNK - 1) // CHUNK):
        lo, hi = t * CHUNK, min(w.size, (t + 1) * CHUNK)
        wc, gc, mc, vc, hc = w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi], vh[lo:hi]
        if amsgrad:
            for i in range(hi - lo):
                _adam_step(wc, gc, mc, vc, hc, i, alpha, c1, c2, epsilon, decay, v_max, True)
        else:
            for i in range(hi - lo):
                _adam_step(wc, gc, mc, vc, hc, i, alpha, c1, c2, epsilon, decay, v_max, False)


@njit(cache=True, parallel=True, error_model="numpy")
def _rmsprop(w, g, v, mom, avg, scalars, centered):
    lr, rho, c = scalars[0], scalars[1], scalars[2]
    momentum, epsilon, v_max, decay = scalars[3], scalars[4], scalars[5], scalars[6]
    for t in prange((w.size + CHUNK - 1) // CHUNK):
        lo, hi = t * CHUNK, min(w.size, (t + 1) * CHUNK)
        wc, gc, vc, mc, ac = w[lo:hi], g[lo:hi], v[lo:hi], mom[lo:hi], avg[lo:hi]
        if centered:
            for i in range(hi - lo):
                _rmsprop_step(wc, gc, vc, mc, ac, i, lr, rho, c, momentum, epsilon, v_max, decay, True)
        else:
            for i in range(hi - lo):
                _rmsprop_step(wc, gc, vc, mc, ac, i, lr, rho, c, momentum, epsilon, v_max, decay, False)


@njit(cache=True, parallel=True, error_model="numpy")
def _adamax(w, g, m, u, scalars):
    alpha, c1, beta_2, epsilon, decay = scalars[0], scalars[1], scalars[2], scalars[3], scalars[4]
    for t in prange((w.size + CHUNK - 1) // CHUNK):
        lo, hi = t * CHUNK, min(w.size, (t + 1) * CHUNK)
        wc, gc, mc, uc = w[lo:hi], g[lo:hi], m[lo:hi], u[lo:hi]
        for i in range(hi - lo):
            _adamax_step(wc, gc, mc, uc, i, alpha, c1, beta_2, epsilon, decay)


@njit(cache=True, parallel=True, error_model="numpy")
def _nadam(w, g, m, v, scalars):
    lr, c1, c2, epsilon = scalars[0], scalars[1], scalars[2], scalars[3]
    m_factor, g_factor, v_factor, decay, v_max = scalars[4], scalars[5], scalars[6], scalars[7], scalars[8]
    for t in prange((w.size + CHUNK - 1) // CHUNK):
        lo, hi = t * CHUNK, min(w.size, (t + 1) * CHUNK)
        wc, gc, mc, vc = w[lo:hi], g[lo:hi], m[lo:hi], v[lo:hi]
        for i in range(hi - lo):
            _nadam_step(wc, gc, mc, vc, i, lr, c1, c2, epsilon, m_factor, g_factor, v_factor, decay, v_max)


@njit(cache=True, parallel=True, error_model="numpy")
def _adagrad(w, g, acc, scalars):
    lr, epsilon, decay, v_max = scalars[0], scalars[1], scalars[2], scalars[3]
    for t in prange((w.size + CHUNK - 1) // CHUNK):
        lo, hi = t * CHUNK, min(w.size, (t + 1) * CHUNK)
        wc, gc, ac = w[lo:hi], g[lo:hi], acc[lo:hi]
        for i in range(hi - lo):
            _adagrad_step(wc, gc, ac, i, lr, epsilon, decay, v_max)


_LOOPS = (_sgd, _adam, _rmsprop, _adamax, _nadam, _adagrad)  # (their serial twins: kernels.parallel)
