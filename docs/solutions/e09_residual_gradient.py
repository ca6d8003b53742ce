"""E9 (chapter 11): the gradient through a residual block y = x + tanh(x W).

dX = dY + (dY ⊙ (1 − tanh²(x W))) Wᵀ. At W = 0 the branch's term is (dY ⊙ 1) · 0ᵀ = 0, so
dX = dY exactly: the block passes the gradient through unchanged. A stack of L such blocks near
W = 0 passes dY to the first layer intact, while a stack of plain tanh layers y = tanh(x W)
gives dX = (dY ⊙ tanh′) Wᵀ = 0 at W = 0 and, for small W, shrinks the gradient by about ‖W‖ per
layer.

Answer: dX = dY at W = 0; through 10 blocks with small random W the gradient's norm stays near
its start, through 10 plain tanh layers it collapses (ratio < 1e-3).
"""

import numpy as np

import densecore as dc
from densecore import functional as F


def grad_norm_ratio(residual, depth=10, scale=0.1, seed=0):
    rng = np.random.default_rng(seed)
    x = dc.Tensor(rng.standard_normal((4, 16)), requires_grad=True)
    h = x
    for _ in range(depth):
        w = dc.Tensor(scale * rng.standard_normal((16, 16)) / 4)
        branch = F.dense(h, w, None, "tanh")
        h = h + branch if residual else branch
    dy = rng.standard_normal((4, 16))
    h.backward(dy)
    return float(np.linalg.norm(x.grad) / np.linalg.norm(dy))


def solve():
    rng = np.random.default_rng(1)
    x = dc.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = x + F.dense(x, dc.Tensor(np.zeros((3, 3))), None, "tanh")
    dy = rng.standard_normal((4, 3))
    y.backward(dy)
    return {
        "dx_equals_dy_at_zero": bool(np.array_equal(x.grad, dy)),
        "residual_ratio": grad_norm_ratio(True),
        "plain_ratio": grad_norm_ratio(False),
    }


if __name__ == "__main__":
    print(solve())
