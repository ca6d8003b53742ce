"""Suite `dense`: dense forward and backward, every backend against numpy (and torch).

forward   y = act(x @ w + b)                            2NKM + NM FLOPs
backward  dz = dy ⊙ act'(y); dw = xᵀ dz; db = Σ dz; dx = dz wᵀ     4NKM FLOPs
"""

import numpy as np

from densecore import kernels
from densecore.kernels.flops import dense_bytes, dense_flops

from .method import Candidate

DEFAULT_SHAPES = [(32, 784, 256), (128, 784, 256), (256, 1024, 1024), (1024, 1024, 1024), (1, 4096, 4096)]
QUICK_SHAPES = [(8, 33, 17), (1, 64, 48)]
ACTIVATION = "relu"


def _numpy_forward(x, w, b):
    return np.maximum(x @ w + b, 0)


def _numpy_backward(x, w, y, dy):
    dz = dy * (y > 0)
    return dz @ w.T, x.T @ dz, dz.sum(axis=0)


def _close(got, want, what):
    scale = max(1.0, float(np.abs(want).max()))
    err = float(np.abs(np.asarray(got, np.float64) - want).max()) / scale
    assert err < 1e-4, f"{what}: max relative error {err:.2e}"


def cases(shape, backends, quick=False, dtype=np.float32):
    """Candidates for one shape: (op, backend) pairs, each checked against float64 numpy."""
    n, k, m = shape
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k)).astype(dtype)
    w = (rng.standard_normal((k, m)) / np.sqrt(k)).astype(dtype)
    b = rng.standard_normal(m).astype(dtype)
    y = _numpy_forward(x, w, b)
    dy = rng.standard_normal((n, m)).astype(dtype)
    want_y = _numpy_forward(x.astype(np.float64), w.astype(np.float64), b)
    want_g = _numpy_backward(x.astype(np.float64), w.astype(np.float64), y.astype(np.float64), dy)

    out = []

    def add(op, name, library, run, check):
        out.append(Candidate(f"{op}/{name}", run, check, library))

    for name in backends:
        if name == "reference" and n * k * m > 2**24 and not quick:
            continue  # the textbook loops would take minutes here
        kb = kernels.get(name)
        add(
            "forward",
            name,
            "numba",
            lambda kb=kb: kb.dense_forward(x, w, b, ACTIVATION),
            lambda kb=kb: _close(kb.dense_forward(x, w, b, ACTIVATION), want_y, "y"),
        )
        add(
            "backward",
            name,
            "numba",
            lambda kb=kb: kb.dense_backward(x, w, y, dy, ACTIVATION),
            lambda kb=kb: [
                _close(g, e, "grad") for g, e in zip(kb.dense_backward(x, w, y, dy, ACTIVATION), want_g)
            ],
        )
    add(
        "forward",
        "numpy",
        "blas",
        lambda: _numpy_forward(x, w, b),
        lambda: _close(_numpy_forward(x, w, b), want_y, "y"),
    )
    add(
        "backward",
        "numpy",
        "blas",
        lambda: _numpy_backward(x, w, y, dy),
        lambda: [_close(g, e, "grad") for g, e in zip(_numpy_backward(x, w, y, dy), want_g)],
    )
    out.extend(_torch_cases(x, w, b, y, dy, want_y, want_g))
    return out


def _torch_cases(x, w, b, y, dy, want_y, want_g):
    try:
        import torch
    except ImportError:
        return []
    out = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        tx, tw, tb, ty, tdy = (torch.from_numpy(a).to(device) for a in (x, w, b, y, dy))
        sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

        def forward(tx=tx, tw=tw, tb=tb, sync=sync):
            out = torch.relu(torch.addmm(tb, tx, tw))
            sync()
            return out

        def backward(tx=tx, tw=tw, ty=ty, tdy=tdy, sync=sync):
            dz = tdy * (ty > 0)
            out = dz @ tw.T, tx.T @ dz, dz.sum(0)
            sync()
            return out

        name = "torch" if device == "cpu" else "torch-gpu"
        out += [
            Candidate(
                f"forward/{name}", forward, lambda f=forward: _close(f().cpu().numpy(), want_y, "y"), name
            ),
            Candidate(
                f"backward/{name}",
                backward,
                lambda f=backward: [_close(g.cpu().numpy(), e, "grad") for g, e in zip(f(), want_g)],
                name,
            ),
        ]
    return out


def counts(shape, op, itemsize=4):
    n, k, m = shape
    flops = dense_flops(n, k, m, backward=(op == "backward"))
    traffic = dense_bytes(n, k, m, itemsize) * (2 if op == "backward" else 1)
    return flops, traffic
