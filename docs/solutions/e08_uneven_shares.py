"""E8 (chapter 10): the plain average of the ranks' gradients, with uneven shares.

Rank r's gradient of its own mean loss is g_r = (1/n_r) Σ_{i∈r} ∇l_i. The full-batch gradient is
g = Σ_r (n_r/N) g_r; the plain average is ḡ = (1/R) Σ_r g_r. Their difference,
Σ_r (n_r/N − 1/R) g_r, vanishes for every loss only when n_r = N/R for every rank, that is when
R divides N (dc.distribution.share gives shares differing by at most one). With N = 10 on 3
ranks (3, 3, 4): the weights are 0.3, 0.3, 0.4 against 1/3 each, and ḡ ≠ g; on 2 or 5 ranks
(10 = 2 · 5) the average is exact.

Answer: a nonzero difference for R = 3; exact (to rounding) for R = 2 and R = 5.
"""

import numpy as np

import densecore as dc
from densecore import functional as F


def gradients(parts, n=10, seed=0):
    rng = np.random.default_rng(seed)
    xs, ts = rng.standard_normal((n, 5)), rng.integers(0, 3, n)
    w0 = rng.standard_normal((5, 3))

    def grad(rows, scale):
        w = dc.Tensor(w0.copy(), requires_grad=True)
        z = F.dense(xs[rows], w)
        p = z.exp() / z.exp().sum(axis=1, keepdims=True)
        loss = -(p.log() * np.eye(3)[ts[rows]]).sum() / len(xs[rows])
        (loss * scale).backward()
        return w.grad

    shares = [dc.distribution.share(n, parts, r) for r in range(parts)]
    full = grad(slice(0, n), 1.0)
    averaged = sum(grad(s, 1 / parts) for s in shares)
    weighted = sum(grad(s, (s.stop - s.start) / n) for s in shares)
    return full, averaged, weighted, [s.stop - s.start for s in shares]


def solve():
    answer = {}
    for parts in (2, 3, 5):
        full, averaged, weighted, sizes = gradients(parts)
        answer[parts] = {
            "shares": sizes,
            "average_error": float(np.abs(averaged - full).max()),
            "weighted_error": float(np.abs(weighted - full).max()),
        }
    return answer


if __name__ == "__main__":
    print(solve())
