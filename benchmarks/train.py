"""Suite `train`: samples/s of a full training step, MLP 784-256-256-10, ReLU, Adam,
sparse categorical cross-entropy, random data.

    densecore  model.fit(x, y, batch_size=B, shuffle=True) on the cpu backend
    torch      the same model and step in a plain PyTorch loop (if torch is installed)
    numpy      the same step in plain numpy (BLAS matmuls): what a BLAS-bound step reaches
    keras      Keras 3 on its torch backend, model.fit (if keras is installed)

Each timed call trains EPOCHS epochs over the same 8,192 samples (one `fit(..., epochs=EPOCHS)`
for the fit-based frameworks), as a user's fit does: what a fit costs once, before its first
step (Keras builds its data adapter and epoch iterator: ~10 ms per fit here), is spread over the
epochs as in real use, not charged to every epoch. With one epoch per call, Keras measured ~5%
slower at batch 512.

Also reported: the share of densecore's step spent inside the kernels (dense forward and
backward, the loss and the optimizer update), measured by timing each kernel call during one
epoch.
"""

import functools
import time

import numpy as np

from . import method

DEFAULT_BATCHES = (32, 128, 512)
QUICK_BATCHES = (16,)
HEADER = f"{'batch':>6} {'framework':>10} {'samples/s':>11} {'min–max':>17} {'×torch':>7} {'in kernels':>11}"
LAYERS = (784, 256, 256, 10)
EPOCHS = 3  # per timed call (1 with --quick); each framework's run(epochs) trains that many


def _data(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, LAYERS[0])).astype(np.float32), rng.integers(0, LAYERS[-1], n)


def _densecore(batch, x, y):
    import densecore as dc

    dc.set_seed(0)
    model = dc.Sequential(
        [
            dc.layers.Dense(LAYERS[1], activation="relu"),
            dc.layers.Dense(LAYERS[2], activation="relu"),
            dc.layers.Dense(LAYERS[3], activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return model, lambda epochs: model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)


def _torch(batch, x, y):
    try:
        import torch
    except ImportError:
        return None
    torch.manual_seed(0)
    net = torch.nn.Sequential(
        torch.nn.Linear(LAYERS[0], LAYERS[1]),
        torch.nn.ReLU(),
        torch.nn.Linear(LAYERS[1], LAYERS[2]),
        torch.nn.ReLU(),
        torch.nn.Linear(LAYERS[2], LAYERS[3]),
    )
    opt = torch.optim.Adam(net.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    tx, ty = torch.from_numpy(x), torch.from_numpy(y)

    def epochs(count):
        for _ in range(count):
            order = torch.randperm(len(tx))
            for start in range(0, len(tx), batch):
                idx = order[start : start + batch]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(net(tx[idx]), ty[idx])
                loss.backward()
                opt.step()

    return epochs


def _numpy(batch, x, y):
    """The same step written in plain numpy (its matmuls are BLAS): the yardstick for what
    any library built on these BLAS calls can reach, and the shape of densecore's step."""
    rng = np.random.default_rng(0)
    shapes = list(zip(LAYERS[:-1], LAYERS[1:]))
    params = []
    for n_in, n_out in shapes:  # glorot uniform kernels, zero biases
        limit = np.sqrt(6.0 / (n_in + n_out))
        params += [rng.uniform(-limit, limit, (n_in, n_out)).astype(np.float32), np.zeros(n_out, np.float32)]
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    step = [0]
    lr, b1, b2, eps = 1e-3, 0.9, 0.999, 1e-7

    def train_step(xb, yb):
        acts = [xb]
        for i in range(len(shapes)):
            z = acts[-1] @ params[2 * i] + params[2 * i + 1]
            acts.append(np.maximum(z, 0) if i < len(shapes) - 1 else z)
        z = acts[-1]
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(len(yb)), yb] -= 1.0
        dz = p / len(yb)  # d(mean cross-entropy)/d(logits)
        grads = [None] * len(params)
        for i in reversed(range(len(shapes))):
            grads[2 * i], grads[2 * i + 1] = acts[i].T @ dz, dz.sum(axis=0)
            if i:
                dz = (dz @ params[2 * i].T) * (acts[i] > 0)
        step[0] += 1
        t = step[0]
        rate = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        for p_, g, (m, v) in zip(params, grads, moments):
            m += (1 - b1) * (g - m)
            v += (1 - b2) * (g * g - v)
            p_ -= rate * m / (np.sqrt(v) + eps)

    def epochs(count):
        for _ in range(count):
            order = rng.permutation(len(x))
            for start in range(0, len(x), batch):
                idx = order[start : start + batch]
                train_step(x[idx], y[idx])

    return epochs


def _keras(batch, x, y):
    import os

    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        import keras
    except Exception:
        return None
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((LAYERS[0],)),
            keras.layers.Dense(LAYERS[1], activation="relu"),
            keras.layers.Dense(LAYERS[2], activation="relu"),
            keras.layers.Dense(LAYERS[3], activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    return lambda epochs: model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)


def kernel_share(model, run) -> float:
    """Fraction of one fit epoch spent inside the backend's kernels."""
    from densecore.engine import backend

    module = backend.kernels()
    names = ("dense_forward", "dense_backward", "adam_update", "cross_entropy")
    saved = {n: getattr(module, n) for n in names}
    spent = [0.0]

    def timed(fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start

        return wrapper

    for n in names:
        setattr(module, n, timed(saved[n]))
    try:
        start = time.perf_counter()
        run()
        total = time.perf_counter() - start
    finally:
        for n, fn in saved.items():
            setattr(module, n, fn)
    return spent[0] / total


def run_train(args, rows):
    batches = (
        [int(b) for b in args.batches.split(",")]
        if args.batches
        else QUICK_BATCHES
        if args.quick
        else DEFAULT_BATCHES
    )
    n = 512 if args.quick else 8192
    epochs = 1 if args.quick else EPOCHS
    x, y = _data(n)
    rounds = args.rounds or (1 if args.quick else 5)
    for batch in batches:
        model, ours = _densecore(batch, x, y)
        candidates = [method.Candidate("densecore", functools.partial(ours, epochs), library="numba")]
        for name, make in (("numpy", _numpy), ("torch", _torch), ("keras", _keras)):
            if args.quick:
                break
            run = make(batch, x, y)
            if run is not None:
                candidates.append(method.Candidate(name, functools.partial(run, epochs), library=name))
        method.measure(
            candidates, rounds=rounds, block=0.0 if args.quick else 0.5, gap=0.0 if args.quick else 0.3
        )
        share = kernel_share(model, functools.partial(ours, 1))
        torch_median = next(
            (method.summary(c.samples)["median"] for c in candidates if c.name == "torch" and c.samples), None
        )
        for c in candidates:
            stats = method.summary(c.samples)
            row = {
                "suite": "train",
                "case": f"batch{batch}",
                "op": "fit",
                "backend": c.name,
                "samples": n * epochs,
                **{f"{k}_s": v for k, v in stats.items()},
                "samples_s": c.samples,
                "samples_per_s": n * epochs / stats["median"],
                "first_call_s": c.first_call,
            }
            if torch_median:
                row["vs_torch"] = torch_median / stats["median"]
            if c.name == "densecore":
                row["kernel_share"] = share
            rows.append(row)
            spread = f"{n * epochs / stats['max']:,.0f}–{n * epochs / stats['min']:,.0f}"
            print(
                f"{batch:>6} {c.name:>10} {row['samples_per_s']:>11,.0f} {spread:>17} "
                f"{row.get('vs_torch', float('nan')):>7.2f} "
                f"{(f'{share:.0%}' if c.name == 'densecore' else ''):>11}"
            )
