"""Suite `int8`: integer inference against float, kernel and model level.

kernel  cpu qdense_forward (int8 × int8 → int32, fused rescale) against cpu dense_forward
        (float32) and numpy, at N × 4096 × 4096
model   predict of a quantized Dense(4096) on 4096 inputs against the float model, and
        PyTorch's dynamically quantized Linear against its float Linear (when installed)
"""

import numpy as np

from densecore import kernels
from densecore.kernels import quant

from .method import Candidate, measure, summary

DEFAULT_BATCHES = (1, 256)
QUICK_BATCHES = (1, 8)
HEADER = f"{'batch':>6} {'candidate':>28} {'median ms':>10} {'min–max ms':>17} {'× float':>8}"


def _row(rows, batch, name, c, base):
    stats = summary(c.samples)
    ratio = base / stats["median"] if base else float("nan")
    rows.append(
        {
            "suite": "int8",
            "case": f"batch{batch}",
            "op": name,
            "backend": "cpu",
            **{f"{k}_s": v for k, v in stats.items()},
            "samples_s": c.samples,
            "vs_float": ratio,
        }
    )
    print(
        f"{batch:>6} {name:>28} {stats['median'] * 1e3:>10.3f} "
        f"{stats['min'] * 1e3:>8.3g}–{stats['max'] * 1e3:<8.3g} {ratio:>8.2f}"
    )


def run_int8(args, rows):
    import densecore as dc

    size = 256 if args.quick else 4096
    cpu = kernels.get("cpu")
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((size, size)) / np.sqrt(size)).astype(np.float32)
    b = np.zeros(size, np.float32)
    sw = quant.symmetric_scale(w, 8, axis=0)
    wq_t, sums = quant.pack_weights(cpu.quantize(w, sw, 0))
    float_model = dc.Sequential([dc.layers.Dense(size, activation="relu", input_shape=(size,))])
    float_model.set_weights([w, b])
    calib = rng.standard_normal((64, size)).astype(np.float32)
    int_model = dc.quantize(float_model, calibration_data=calib)
    for batch in QUICK_BATCHES if args.quick else DEFAULT_BATCHES:
        _run_batch(args, rows, rng, cpu, w, b, sw, wq_t, sums, float_model, int_model, size, batch)


def _run_batch(args, rows, rng, cpu, w, b, sw, wq_t, sums, float_model, int_model, size, batch):
    x = rng.standard_normal((batch, size)).astype(np.float32)
    sx, zx = quant.affine_params(x.min(), x.max(), 8)
    xq = cpu.quantize(x, sx, zx)
    want = np.maximum(x.astype(np.float64) @ w, 0)

    def close(y, tol):
        def check():
            err = np.abs(y() - want).max() / max(1.0, np.abs(want).max())
            assert err < tol, f"error {err:.2e}"

        return check

    cands = [
        Candidate(
            "kernel float32 dense_forward",
            lambda: cpu.dense_forward(x, w, b, "relu"),
            close(lambda: cpu.dense_forward(x, w, b, "relu"), 1e-4),
            "numba",
        ),
        Candidate(
            "kernel int8 qdense_forward",
            lambda: cpu.qdense_forward(xq, sx, zx, wq_t, sw, sums, b, "relu"),
            close(lambda: cpu.qdense_forward(xq, sx, zx, wq_t, sw, sums, b, "relu"), 0.05),
            "numba",
        ),
        Candidate("numpy float32", lambda: np.maximum(x @ w + b, 0), None, "blas"),
        Candidate("model float predict", lambda: float_model.predict(x, batch_size=batch), None, "numba"),
        Candidate(
            "model int8 predict",
            lambda: int_model.predict(x, batch_size=batch),
            close(lambda: int_model.predict(x, batch_size=batch), 0.05),
            "numba",
        ),
    ]
    cands += _torch(x, w, b, batch)
    measure(
        cands,
        rounds=args.rounds or (2 if args.quick else 5),
        block=0.02 if args.quick else 0.1,
        gap=0.0 if args.quick else 0.2,
    )
    base = {c.name: summary(c.samples)["median"] for c in cands if c.samples}
    floats = {
        "kernel int8 qdense_forward": "kernel float32 dense_forward",
        "model int8 predict": "model float predict",
        "torch dynamic int8 Linear": "torch float Linear",
    }
    for c in cands:
        if c.samples:
            _row(rows, batch, c.name, c, base.get(floats.get(c.name, c.name)))
        else:
            print(f"{batch:>6} {c.name:>28} {c.status}")


def _torch(x, w, b, batch):
    try:
        import torch
    except ImportError:
        return []
    linear = torch.nn.Linear(w.shape[0], w.shape[1])
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(w.T.copy()))
        linear.bias.zero_()
    dynamic = torch.ao.quantization.quantize_dynamic(
        torch.nn.Sequential(linear), {torch.nn.Linear}, dtype=torch.qint8
    )
    tx = torch.from_numpy(x)

    def run(model):
        def call():
            with torch.no_grad():
                return torch.relu(model(tx))

        return call

    return [
        Candidate("torch float Linear", run(linear), None, "torch"),
        Candidate("torch dynamic int8 Linear", run(dynamic), None, "torch"),
    ]
