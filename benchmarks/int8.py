"""Suite `int8`: integer dense forward against float, kernel level (issue #21).

    python -m benchmarks int8 --threads 2

Per shape N × K × M (1×4096×4096, 32×1024×1024, 256×1024×1024, 256×4096×4096; --quick:
small ones), in one process, as benchmarks/method.py times (validated first, interleaved
rounds, median, pauses between libraries):

    densecore float32 dense_forward (relu)                       GFLOP/s = 2NKM / t
    densecore int8 qdense_forward, weights prepacked (relu)     GOP/s   = 2NKM / t
    PyTorch float Linear and quantize_dynamic int8 Linear (+ relu), when torch is installed
    where the path has a vpmaddubsw twin (avx2): int8 with x in 7 bits, [-64, 63]

Model level: predict of an MLP 784-1024-1024-10 (relu, relu, softmax) against its integer
copies (dc.quantize, static from calibration data and dynamic; with a twin, also static with
reduce_range=True: 7-bit inputs), at batch 1 and 256, beside PyTorch's float and quantize_dynamic copies of the
same model (--quick: 64-128-128-10).

Also printed: the int8 path this CPU runs (kernels/int8_simd.py) and the instruction mix of
its micro-kernels (numba's inspect_asm of a fresh compile: the dot-product instructions of
each kernel's inner K loop).
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
    "densecore int8, x in 7 bits": "densecore float32",
    "torch dynamic int8 Linear": "torch float Linear",
}
HEADER = f"{'shape':>16} {'candidate':>28} {'median ms':>10} {'min–max ms':>17} {'GOP/s':>8} {'× float':>8}"
DOT = r"vpdpbusd|vpdpwssd|vpmaddwd|vpmaddubsw"


def instruction_mix(path):
    """The dot-product instructions of each micro-kernel's inner K loop in a fresh compile of
    `path`'s driver (the relu epilogue kernels, what qdense_forward runs), e.g.
    {'8 rows': {'vpdpbusd zmm': 32, 'k per iteration': 8}, ...}; empty for the portable path."""
    if path == "portable":
        return {}
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
    mr_full = int8_simd.PATHS[path][2]
    mix = {}
    for mr in int8_simd.edge_heights(mr_full):
        name = f"densecore_int8_{path}_{mr}_{int8_simd.EP_INT}:"
        body = asm[asm.index(name) :]
        body = body[: body.find("\n\t.size") if "\n\t.size" in body else len(body)]
        loops = _loops(body)
        if not loops:
            continue
        found = re.findall(rf"\b({DOT})\s+%?([xyz]mm)", max(loops, key=lambda b: len(re.findall(DOT, b))))
        counts = dict(collections.Counter(f"{op} {reg}" for op, reg in found))
        kind = int8_simd.PATHS[path][1]
        n_vec = int8_simd.NR // int8_simd.columns_per_vector(path)  # vectors per row, quad
        per_quad = mr * min(int8_simd.vectors_per_pass(path, mr), n_vec)  # dots per 4 k in one pass
        dots = [f for f in found if f[0] == "vpmaddubsw"] if kind == "pmaddubsw" else found
        counts["k per iteration"] = int8_simd.QUAD * len(dots) // per_quad  # (per product, not per add)
        mix[f"{mr} rows"] = counts
    return mix


def _loops(asm):
    """The basic blocks of `asm` that jump back to themselves (the innermost loops)."""
    blocks = re.split(r"\n(?=\.LBB\w+:)", asm)
    out = []
    for block in blocks:
        label = re.match(r"(\.LBB\w+):", block)
        if label and re.search(rf"\bj\w+\s+{re.escape(label.group(1))}\b", block):
            out.append(block)
    return out


def run_int8(args, rows):
    import numba

    for shape in QUICK_SHAPES if args.quick else DEFAULT_SHAPES:
        _run_shape(args, rows, *shape)
    _run_model(args, rows)
    path = int8_simd.choose_path()
    print(
        f"int8 path: {path} (host has {', '.join(int8_simd.host_paths())}); threads {numba.get_num_threads()}"
    )
    for kernel in dict.fromkeys((path, int8_simd.kernel_path(True))):
        mix = instruction_mix(kernel) or "scalar loops"
        print(f"inner loops of the {kernel} micro-kernels (dot products, k per iteration): {mix}")


def _has_twin():
    """Whether this host's int8 path runs a faster kernel for 7-bit inputs."""
    return int8_simd.kernel_path(True) != int8_simd.kernel_path(False)


MODEL_WIDTHS = (784, 1024, 1024, 10)
QUICK_WIDTHS = (64, 128, 128, 10)
MODEL_FLOAT_OF = {
    "int8 static": "float",
    "int8 dynamic": "float",
    "int8 static, 7-bit inputs": "float",
    "torch dynamic int8": "torch float",
}


def _run_model(args, rows):
    """predict of the float MLP and its integer copies at batch 1 and 256 (see the docstring)."""
    import densecore as dc

    widths = QUICK_WIDTHS if args.quick else MODEL_WIDTHS
    rng = np.random.default_rng(1)
    acts = ["relu"] * (len(widths) - 2) + ["softmax"]
    layers = [dc.layers.Dense(widths[1], activation=acts[0], input_shape=(widths[0],))]
    layers += [dc.layers.Dense(w, activation=a) for w, a in zip(widths[2:], acts[1:])]
    model = dc.Sequential(layers)
    calibration = rng.standard_normal((512, widths[0])).astype(np.float32)
    static = dc.quantize(model, calibration_data=calibration)
    dynamic = dc.quantize(model)
    seven = dc.quantize(model, calibration_data=calibration, reduce_range=True) if _has_twin() else None
    label = "-".join(map(str, widths))
    print(f"\n## int8 model: predict of an MLP {label} (relu, softmax) and its integer copies")
    print(HEADER.replace("shape", "batch"))
    for batch in (1, 256):
        x = rng.standard_normal((batch, widths[0])).astype(np.float32)
        want = model.predict(x, batch_size=batch)

        def close(fn, tol=0.05, want=want):
            def check():
                err = np.abs(fn() - want).max()
                assert err < tol, f"error {err:.2e}"

            return check

        def predict(m, x=x, batch=batch):
            return lambda: m.predict(x, batch_size=batch)

        cands = [
            Candidate("float", predict(model), None, "numba"),
            Candidate("int8 static", predict(static), close(predict(static)), "numba"),
            Candidate("int8 dynamic", predict(dynamic), close(predict(dynamic)), "numba"),
        ]
        if seven is not None:
            cands.append(Candidate("int8 static, 7-bit inputs", predict(seven), close(predict(seven)), "numba"))
        cands += _torch_model(model, x, close)
        measure(
            cands,
            rounds=args.rounds or (2 if args.quick else 7),
            block=0.02 if args.quick else 0.1,
            gap=0.0 if args.quick else 0.2,
        )
        _report(
            rows,
            cands,
            f"batch {batch}",
            2 * batch * sum(a * b for a, b in zip(widths, widths[1:])),
            MODEL_FLOAT_OF,
            "int8_model",
        )


def _torch_model(model, x, close):
    """The same MLP in PyTorch, float and quantize_dynamic (fbgemm), or nothing without torch."""
    try:
        import torch
    except ImportError:
        return []
    mods = []
    dense = model.layers
    for i, layer in enumerate(dense):
        w, b = layer.get_weights()
        linear = torch.nn.Linear(*w.shape)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        mods += [linear, torch.nn.ReLU() if i < len(dense) - 1 else torch.nn.Softmax(dim=-1)]
    net = torch.nn.Sequential(*mods).eval()
    dynamic = torch.ao.quantization.quantize_dynamic(net, {torch.nn.Linear}, dtype=torch.qint8)
    tx = torch.from_numpy(x)

    def run(m):
        def call():
            with torch.no_grad():
                return m(tx).numpy()

        return call

    return [
        Candidate("torch float", run(net), close(run(net), 1e-4), "torch"),
        Candidate("torch dynamic int8", run(dynamic), close(run(dynamic)), "torch"),
    ]


def _report(rows, cands, label, ops, float_of, suite):
    medians = {c.name: summary(c.samples)["median"] for c in cands if c.samples}
    for c in cands:
        if not c.samples:
            print(f"{label:>16} {c.name:>28} {c.status}")
            continue
        stats = summary(c.samples)
        base = medians.get(float_of.get(c.name, c.name))
        ratio = base / stats["median"] if base else float("nan")
        gops = ops / stats["median"] / 1e9
        rows.append(
            {
                "suite": suite,
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
    if _has_twin():  # x quantized to 7 bits: the vpmaddubsw twin, checked against the reference
        sx7, zx7 = quant.affine_params(x.min(), x.max(), 7)
        xq7 = cpu.quantize(x, sx7, zx7, 7)
        exact7 = kernels.get("reference").qdense_forward(xq7, sx7, zx7, wq_t, sw, sums, b, "relu")

        def int8_7():
            return cpu.qdense_forward(xq7, sx7, zx7, packed, sw, sums, b, "relu")

        def int8_7_check():
            np.testing.assert_array_equal(int8_7(), exact7)

        cands.append(Candidate("densecore int8, x in 7 bits", int8_7, int8_7_check, "numba"))
    cands += _torch(x, w, b, close)
    measure(
        cands,
        rounds=args.rounds or (2 if args.quick else 7),
        block=0.02 if args.quick else 0.1,
        gap=0.0 if args.quick else 0.2,
    )
    _report(rows, cands, f"{n}×{k}×{m}", 2 * n * k * m, FLOAT_OF, "int8")


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
