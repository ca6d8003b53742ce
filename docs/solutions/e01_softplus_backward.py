"""E1 (chapter 1): a dense layer with the softplus activation, forward and backward by hand.

y = softplus(z) = log(1 + e^z), z = x W + b. Its derivative is the logistic function,
softplus′(z) = e^z / (1 + e^z) = σ(z), and since e^y = 1 + e^z it can be written from the output
alone, as the kernels write relu's, sigmoid's and tanh's: σ(z) = 1 − e^(−y). Then, as for every
activation:

    dZ = dY ⊙ (1 − e^(−Y)),   dW = Xᵀ dZ,   db = Σ_n dZ,   dX = dZ Wᵀ.

The node below registers that backward with the Tensor graph (as densecore.functional.dense does)
and `dc.gradcheck` compares it with finite differences. Answer: True.
"""

import numpy as np

import densecore as dc


def dense_softplus_forward(x, w, b):
    return np.logaddexp(0.0, x @ w + b)  # log(1 + e^z) without overflow


def dense_softplus_backward(x, w, y, dy):
    dz = dy * (1.0 - np.exp(-y))
    return dz @ w.T, x.T @ dz, dz.sum(axis=0)


def dense_softplus(x, w, b):
    """A graph node: its backward is dense_softplus_backward."""
    y = dense_softplus_forward(x.data, w.data, b.data)

    def backward(dy):
        dx, dw, db = dense_softplus_backward(x.data, w.data, y, dy)
        x._accumulate(dx)
        w._accumulate(dw)
        b._accumulate(db)

    return x._child(y, (x, w, b), backward)


def solve():
    rng = np.random.default_rng(0)
    x = dc.Tensor(rng.standard_normal((5, 4)), requires_grad=True)
    w = dc.Tensor(rng.standard_normal((4, 3)), requires_grad=True)
    b = dc.Tensor(rng.standard_normal(3), requires_grad=True)
    return {"gradcheck": dc.gradcheck(dense_softplus, [x, w, b])}


if __name__ == "__main__":
    print(solve())
