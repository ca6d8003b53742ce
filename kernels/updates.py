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

import numpy as np
from numba import njit

__all__ = ["sgd_update", "adam_update", "rmsprop_update"]

# Second moments are capped here: a gradient of 1e20 squares past float32's range, and the
# inf would turn into NaN (inf − inf) on the next step and poison the weights.
V_MAX = 3.4028234663852886e38


@njit(cache=True)
def sgd_update(w, g, m, lr, momentum, nesterov):
    """In place: SGD with optional (Nesterov) momentum; m is unused when momentum == 0."""
    if momentum == 0.0:
        for i in range(w.size):
            w[i] -= lr * g[i]
        return
    for i in range(w.size):
        m[i] = momentum * m[i] - lr * g[i]
        if nesterov:
            w[i] += momentum * m[i] - lr * g[i]
        else:
            w[i] += m[i]


@njit(cache=True)
def adam_update(w, g, m, v, alpha, beta_1, beta_2, epsilon, decay):
    """In place: decoupled weight decay (decay = λη, 0 for Adam), then the Adam step."""
    for i in range(w.size):
        if decay != 0.0:
            w[i] -= decay * w[i]
        m[i] += (g[i] - m[i]) * (1.0 - beta_1)
        v[i] = min(v[i] + (np.float64(g[i]) * g[i] - v[i]) * (1.0 - beta_2), V_MAX)
        w[i] -= alpha * m[i] / (np.sqrt(v[i]) + epsilon)


@njit(cache=True)
def rmsprop_update(w, g, v, mom, lr, rho, momentum, epsilon):
    """In place: RMSprop (uncentered); mom is unused when momentum == 0."""
    for i in range(w.size):
        v[i] = min(rho * v[i] + (1.0 - rho) * np.float64(g[i]) * g[i], V_MAX)
        step = lr * g[i] / np.sqrt(v[i] + epsilon)
        if momentum > 0.0:
            mom[i] = momentum * mom[i] + step
            w[i] -= mom[i]
        else:
            w[i] -= step
