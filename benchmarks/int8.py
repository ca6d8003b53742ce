"""Suite `int8`: integer dense forward against float, kernel level (issue #21).

    python -m benchmarks int8 --threads 2

Per shape N × K × M (1×4096×4096, 32×1024×1024, 256×1024×1024, 256×4096×4096; --quick:
small ones), in one process, as benchmarks/method.py times (validated first, interleaved
rounds, median, pauses between libraries):

    densecore float32 dense_forward (relu)                       GFLOP/s = 2NKM / t
    densecore int8 qdense_forward, weights prepacked (relu)     GOP/s   = 2NKM / t
    PyTorch float Linear and quantize_dynamic int8 Linear (+ relu), when torch is installed

Also printed: the int8 path this CPU runs (kernels/int8_simd.py) and the instruction mix of
its compiled driver (numba's inspect_asm: the dot-product instructions of the micro-kernels).
"""

import collections
import re

import numpy as np

from densecore import kernels
from densecore.kernels import int8_simd, quant

from .method import Candidate, measure, summary

DEFAULT_SHAPES = ((1, 4096, 4096), (32, 1024, 1024), (256, 1024, 1024), (256, 4096, 4096))
QUICK_SHAPES = ((1, 256, 256), (32, 128, 128))
FLOAT_OF = {  # the float candidate each ratio is taken against
    "densecore int8 (prepacked)": "densecore float32",
    "torch dynamic int8 Linear": "torch float Linear",
}
HEADER = f"{'shape':>16} {'candidate':>28} {'median ms':>10} {'min–max ms':>17} {'GOP/s':>8} {'× float':>8}"
DOT = r"vpdpbusd|vpdpwssd|vpmaddwd|vpmaddubsw"


def instruction_mix(path):
    """Counts of the dot-product instructions (and their register width) in a fresh compile of
    `path`'s driver: {'vpdpbusd zmm': 116, ...} (empty for the portable path)."""
    run = int8_simd._make_driver(path, cache=False)  # cached code cannot be inspected
    a = np.ones((9, 8), np.int8)
    packed = quant.pack_panels(np.ones((8, 40), np.int8))
    e32, ef = np.zeros(0, np.int32), np.zeros(0, np.float32)
    run(
        np.empty((9, 40), np.int32),
        np.empty((0, 0), np.float32),
        a,
        packed.panels,
        40,
        1,
        ef,
        e32,
        ef,
        0,
        False,
    )
    asm = "\n".join(run.inspect_asm().values())
    found = re.findall(rf"\b({DOT})\s+%?([xyz]mm)", asm)
    return dict(collections.Counter(f"{op} {reg}" for op, reg in found))


def run_int8(args, rows):
    import numba

    for shape in QUICK_SHAPES if args.quick else DEFAULT_SHAPES:
        _run_shape(args, rows, *shape)
    path = int8_simd.choose_path()
    print(
        f"int8 path: {path} (host has {', '.join(int8_simd.host_paths())}); threads {numba.get_num_threads()}"
    )
    print(f"instruction mix of the {path} driver: {instruction_mix(path) or 'scalar loops'}")


def _run_shape(args, rows, n, k, m):
    cpu = kernels.get("cpu")
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((k, m)) / np.sqrt(k)).astype(np.float32)
    b = (0.1 * rng.standard_normal(m)).astype(np.float32)
    x = rng.standard_normal((n, k)).astype(np.float32)
    sw = quant.symmetric_scale(w, 8, axis=0)
    wq_t, sums = quant.pack_weights(cpu.quantize(w, sw, 0))
    packed = quant.pack_panels(wq_t, transposed=True)  # once, as QuantizedDense does
    sx, zx = quant.affine_params(x.min(), x.max(), 8)
    xq = cpu.quantize(x, sx, zx)
    want = np.maximum(x.astype(np.float64) @ w + b, 0)
    exact = kernels.get("reference").qdense_forward(xq, sx, zx, wq_t, sw, sums, b, "relu")

    def close(run, tol):
        def check():
            err = np.abs(run() - want).max() / max(1.0, np.abs(want).max())
            assert err < tol, f"error {err:.2e}"

        return check

    def int8_check():
        np.testing.assert_array_equal(int8(), exact)  # the reference's bits

    def int8():
        return cpu.qdense_forward(xq, sx, zx, packed, sw, sums, b, "relu")

    cands = [
        Candidate(
            "densecore float32",
            lambda: cpu.dense_forward(x, w, b, "relu"),
            close(lambda: cpu.dense_forward(x, w, b, "relu"), 1e-4),
            "numba",
        ),
        Candidate("densecore int8 (prepacked)", int8, int8_check, "numba"),
    ]
    cands += _torch(x, w, b, close)
    measure(
        cands,
        rounds=args.rounds or (2 if args.quick else 7),
        block=0.02 if args.quick else 0.1,
        gap=0.0 if args.quick else 0.2,
    )
    medians = {c.name: summary(c.samples)["median"] for c in cands if c.samples}
    label = f"{n}×{k}×{m}"
    for c in cands:
        if not c.samples:
            print(f"{label:>16} {c.name:>28} {c.status}")
            continue
        stats = summary(c.samples)
        base = medians.get(FLOAT_OF.get(c.name, c.name))
        ratio = base / stats["median"] if base else float("nan")
        gops = 2 * n * k * m / stats["median"] / 1e9
        rows.append(
            {
                "suite": "int8",
                "case": label,
                "op": c.name,
                "backend": "cpu",
                **{f"{key}_s": v for key, v in stats.items()},
                "samples_s": c.samples,
                "gops": gops,
                "vs_float": ratio,
            }
        )
        print(
            f"{label:>16} {c.name:>28} {stats['median'] * 1e3:>10.3f} "
            f"{stats['min'] * 1e3:>8.3g}–{stats['max'] * 1e3:<8.3g} {gops:>8.1f} {ratio:>8.2f}"
        )


def _torch(x, w, b, close):
    """PyTorch's float Linear and its dynamically quantized int8 Linear (fbgemm), or nothing
    when torch is not installed (it is optional)."""
    try:
        import torch
    except ImportError:
        print("(torch not installed: its candidates are skipped)")
        return []
    linear = torch.nn.Linear(w.shape[0], w.shape[1])
    with torch.no_grad():
        linear.weight.copy_(torch.from_numpy(w.T.copy()))
        linear.bias.copy_(torch.from_numpy(b))
    dynamic = torch.ao.quantization.quantize_dynamic(
        torch.nn.Sequential(linear), {torch.nn.Linear}, dtype=torch.qint8
    )
    tx = torch.from_numpy(x)

    def run(model):
        def call():
            with torch.no_grad():
                return torch.relu(model(tx)).numpy()

        return call

    return [
        Candidate("torch float Linear", run(linear), close(run(linear), 1e-4), "torch"),
        Candidate("torch dynamic int8 Linear", run(dynamic), close(run(dynamic), 0.05), "torch"),
    ]
