"""E5 (chapter 8): the data-aware factors never lose to plain SVD on the data; when do they tie?

With C = XᵀX/N = L Lᵀ, ‖X(W − W_r)‖_F² = N ‖Lᵀ(W − W_r)‖_F². The data-aware W_r minimises the
right side over all rank-r matrices (Eckart–Young on LᵀW), and the plain SVD's W_r is one of
those matrices, so its output error can only be larger or equal. They coincide when C ∝ I
(white inputs): then the weighting is uniform and both solve the same problem. Checked on random
correlated inputs (data-aware strictly better) and on whitened ones (equal).

Answer: data-aware ≤ plain for every rank; equal (to rounding) for white inputs.
"""

import numpy as np


def rank_r(m, r):
    u, s, vt = np.linalg.svd(m, full_matrices=False)
    return (u[:, :r] * s[:r]) @ vt[:r]


def output_errors(x, w, r):
    chol = np.linalg.cholesky(x.T @ x / len(x))
    plain = rank_r(w, r)
    aware = np.linalg.solve(chol.T, rank_r(chol.T @ w, r))
    return np.linalg.norm(x @ (w - plain)), np.linalg.norm(x @ (w - aware))


def solve():
    rng = np.random.default_rng(0)
    w = rng.standard_normal((12, 8))
    x = rng.standard_normal((500, 12)) @ rng.standard_normal((12, 12))  # correlated inputs
    correlated = [output_errors(x, w, r) for r in range(1, 8)]
    q, _ = np.linalg.qr(rng.standard_normal((500, 12)))
    white = [output_errors(q * np.sqrt(500), w, r) for r in range(1, 8)]  # XᵀX/N = I
    return {
        "aware_never_worse": all(a <= p * (1 + 1e-12) for p, a in correlated),
        "aware_strictly_better_on_correlated": all(a < p for p, a in correlated),
        "equal_on_white": all(np.isclose(p, a, rtol=1e-9) for p, a in white),
    }


if __name__ == "__main__":
    print(solve())
