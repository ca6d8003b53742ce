"""Render the figures of docs/tour.md and README.md to PNG files under docs/figures/.

    pip install matplotlib        # or: pip install densecore[plot]
    python docs/figures.py        # about a minute on a 2-core machine; --out DIR writes elsewhere,
                                  # --quick draws the same figures from fewer points (a smoke test)

Six figures, each from the code the tour runs:

    loss_curve.png         the article's SimpleNet on breast cancer: loss per epoch
    accuracy_vs_rank.png   low-rank (SVD) compression of a digits MLP: test accuracy against rank
    accuracy_vs_bits.png   integer quantization of the same MLP: test accuracy against bits
    roofline.png           this machine's measured ceilings, with the tour's kernels on them: the
                           dense layer (chapters 1-2), low rank (4, 8), int8 (6, 9)
    singular_values.png    the digits MLP's first layer: singular values, trained against random
    quantization_grid.png  the same layer's weight histogram under its 4- and 8-bit grids

The first three are deterministic (dc.set_seed); the roofline is a measurement, so its title
names the CPU and the date it was taken on.
"""

import argparse
import datetime
import os
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "docs", "figures")
FIGURES = (
    "loss_curve.png",
    "accuracy_vs_rank.png",
    "accuracy_vs_bits.png",
    "roofline.png",
    "singular_values.png",
    "quantization_grid.png",
)

RANKS = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
BITS = (2, 3, 4, 5, 6, 7, 8)
ROOFLINE_SHAPES = ((1, 4096, 4096), (32, 784, 256), (128, 784, 256), (256, 1024, 1024), (1024, 1024, 1024))
QUICK = {"ranks": (2, 16), "bits": (3, 8), "shapes": ((1, 512, 512), (64, 256, 256))}
# the other chapters' kernels on the roofline: (name, N×K×M, rank for low rank)
CHAPTER_KERNELS = (
    ("lowrank", (256, 1024, 1024), 16),
    ("lowrank", (256, 1024, 1024), 64),
    ("int8", (1, 4096, 4096), None),
    ("int8", (32, 1024, 1024), None),
    ("int8", (256, 1024, 1024), None),
)
QUICK_CHAPTER_KERNELS = (("lowrank", (64, 256, 256), 16), ("int8", (64, 256, 256), None))


def loss_curve(dc, plt, path):
    """The article's model (README's SimpleNet), 30 epochs, loss on the training and test sets."""
    (x_train, y_train), (x_test, y_test) = dc.datasets.load_breast_cancer()
    x_train, x_test = dc.datasets.standardize(x_train, x_test)

    class SimpleNet(dc.Model):
        def __init__(self):
            super().__init__()
            self.dense1 = dc.layers.Dense(10, activation="relu")
            self.dense2 = dc.layers.Dense(1, activation="sigmoid")

        def call(self, inputs):
            return self.dense2(self.dense1(inputs))

    dc.set_seed(0)
    model = SimpleNet()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    history = model.fit(
        x_train, y_train, epochs=30, batch_size=32, validation_data=(x_test, y_test), verbose=0
    ).history
    epochs = range(1, len(history["loss"]) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(epochs, history["loss"], "o-", ms=3, label="training loss")
    ax.plot(epochs, history["val_loss"], "s--", ms=3, label="test loss")
    ax.set(xlabel="epoch", ylabel="binary cross-entropy", ylim=(0, None))
    ax.set_title(
        "SimpleNet (30-10-1) on breast cancer: test accuracy %.1f%%" % (100 * history["val_accuracy"][-1])
    )
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, plt, path)


def digits_model(dc):
    """The tour's digits MLP, 64-128-10, trained 10 epochs."""
    (x, y), (x_test, y_test) = dc.datasets.load_digits()
    x, x_test = dc.datasets.standardize(x, x_test)
    dc.set_seed(0)
    model = dc.Sequential(
        [dc.layers.Dense(128, activation="relu"), dc.layers.Dense(10, activation="softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=10, verbose=0)
    return model, (x, y), (x_test, y_test)


def accuracy_vs_rank(dc, plt, path, trained, ranks=RANKS):
    """dc.compress.low_rank on the first layer (64 × 128) at each rank, then 2 epochs of fine-tuning."""
    model, (x, y), (x_test, y_test) = trained
    first = model.layers[0].name
    dense_accuracy = model.evaluate(x_test, y_test)[1]
    dense_params = model.layers[0].count_params()
    before, after, params = [], [], []
    for rank in ranks:
        dc.set_seed(0)
        small = dc.compress.low_rank(model, rank=rank, layers=[first], verbose=0)
        before.append(small.evaluate(x_test, y_test)[1])
        small.fit(x, y, epochs=2, verbose=0)
        after.append(small.evaluate(x_test, y_test)[1])
        params.append(small.layers[0].count_params())
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(ranks, before, "o-", label="right after the SVD")
    ax.plot(ranks, after, "s-", label="after 2 epochs of fine-tuning")
    ax.axhline(dense_accuracy, color="k", ls=":", label=f"dense ({dense_params:,} parameters)")
    ax.set_xscale("log", base=2)
    ax.set_xticks(ranks, [f"{r}\n{p:,}" for r, p in zip(ranks, params)], fontsize=7)
    ax.set(xlabel="rank r (and the layer's parameters, r·(64 + 128) + 128)", ylabel="test accuracy")
    ax.set_ylim(0, 1)
    ax.set_title("Low rank: digits MLP 64-128-10, first layer factored")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    _save(fig, plt, path)


def accuracy_vs_bits(dc, plt, path, trained, bits_list=BITS):
    """dc.quantize (post-training, calibrated) and dc.quantize_aware (3 epochs of QAT) per bit width."""
    model, (x, y), (x_test, y_test) = trained
    float_accuracy = model.evaluate(x_test, y_test)[1]
    ptq, qat = [], []
    for bits in bits_list:
        ptq.append(dc.quantize(model, num_bits=bits, calibration_data=x).evaluate(x_test, y_test)[1])
        dc.set_seed(0)
        aware = dc.quantize_aware(model, num_bits=bits)
        aware.fit(x, y, epochs=3, verbose=0)
        qat.append(aware.convert().evaluate(x_test, y_test)[1])
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.plot(bits_list, ptq, "o-", label="post-training")
    ax.plot(bits_list, qat, "s-", label="quantization-aware (3 epochs)")
    ax.axhline(float_accuracy, color="k", ls=":", label="float32")
    ax.set(xlabel="bits per weight and activation", ylabel="test accuracy", ylim=(0, 1), xticks=bits_list)
    ax.set_title("Integer quantization: digits MLP 64-128-10")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=9)
    _save(fig, plt, path)


def roofline(dc, plt, path, shapes=ROOFLINE_SHAPES, quick=False):
    """Peaks measured now (numpy's sgemm, a streaming copy) and the cpu kernel timed at each shape
    as `python -m benchmarks dense` does (validated first, interleaved rounds, pauses between
    libraries); each point is its best round, as each ceiling is its best block."""
    from densecore.benchmarks import dense, method

    facts = method.machine_facts()
    busy = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    if busy > 0.5 * (os.cpu_count() or 1):
        print(f"roofline: load average {busy:.1f} on {os.cpu_count()} cores: other work lowers the points")
    before = method.measure_peaks(quick)
    wanted = ("forward/cpu", "backward/cpu", "forward/numpy")
    cases = [
        (shape, c, dense.counts(shape, c.name.split("/")[0]))
        for shape in shapes
        for c in dense.cases(shape, ["cpu"])
        if c.name in wanted
    ]
    cases += chapter_cases(dc, QUICK_CHAPTER_KERNELS if quick else CHAPTER_KERNELS)
    # every shape in the same rounds, so that a busy spell of the host lowers no shape alone
    method.measure([c for _, c, _ in cases], rounds=1 if quick else 7)
    points = []  # (candidate name, shape, FLOPs per byte, GFLOP/s)
    for shape, c, (flops, traffic) in cases:
        if c.status != "ok":
            raise RuntimeError(f"{c.name} at {shape}: {c.status}")
        best = min(c.samples)  # the best block, as measure_peaks takes for the ceilings
        points.append((c.name, shape, flops / traffic, flops / best / 1e9))
        print("roofline: %-17s %4d×%4d×%4d %6.1f FLOP/byte %6.1f GFLOP/s" % (c.name, *shape, *points[-1][2:]))
    after = method.measure_peaks(quick)  # the ceilings: the best of before and after the points
    peaks = {key: max(before[key], after[key]) for key in ("gflops", "gbytes_per_s")}
    print("roofline: sgemm %(gflops).0f GFLOP/s, copy %(gbytes_per_s).1f GB/s" % peaks)
    ridge = peaks["gflops"] / peaks["gbytes_per_s"]
    intensity = [0.1 * 1.2**i for i in range(70)]
    fig, ax = plt.subplots(figsize=(7, 4.6))
    ax.plot(intensity, [min(peaks["gflops"], peaks["gbytes_per_s"] * i) for i in intensity], "k-", lw=1.5)
    ax.annotate(
        f"copy {peaks['gbytes_per_s']:.0f} GB/s", (0.12, 0.12 * peaks["gbytes_per_s"] * 1.3), fontsize=8
    )
    ax.annotate(
        f"numpy sgemm {peaks['gflops']:.0f} GFLOP/s", (6000, peaks["gflops"] * 0.82), fontsize=8, ha="right"
    )
    nominal = method.nominal_peak(facts)
    if nominal:
        ax.axhline(nominal / 1e9, color="k", ls="--", lw=0.8)
        ax.annotate(
            f"FMA peak at the nominal clock {nominal / 1e9:.0f}",
            (0.12, nominal / 1e9 * 1.07),
            fontsize=8,
        )
    ax.axvline(ridge, color="grey", ls=":", lw=1)
    styles = {  # drawn in this order: the squares under the dots, so that both show
        "backward/cpu": dict(marker="s", ms=9, color="C1", label="dense backward (ch. 1-2)"),
        "forward/cpu": dict(marker="o", ms=6, color="C0", label="dense forward (ch. 1-2)"),
        "forward/numpy": dict(
            marker="o", ms=8, color="C2", mfc="none", mew=1.5, label="numpy (BLAS), forward"
        ),
        "lowrank": dict(marker="^", ms=8, color="C4", label="low rank r = 16, 64 (ch. 4, 8)"),
        "int8": dict(marker="D", ms=7, color="C3", label="int8, integer ops (ch. 6, 9)"),
    }
    for name, style in styles.items():
        rows = [p for p in points if p[0].split()[0] == name]
        ax.plot([r[2] for r in rows], [r[3] for r in rows], ls="none", **style)
    for name, shape, x_value, y_value in points:
        if name.startswith(("lowrank", "int8")):  # which shape (and rank) each one is
            label = "%d×%d×%d" % shape + (f" r{name.split('r=')[1]}" if "r=" in name else "")
            ax.annotate(label, (x_value, y_value), xytext=(4, -9), textcoords="offset points", fontsize=6)
    for name, shape, x_value, _ in points:
        if name == "forward/cpu":  # each shape's name above its column, outside the plot
            label = "%d×%d×%d" % shape
            ax.text(
                x_value, 1.01, label, transform=ax.get_xaxis_transform(), rotation=90, fontsize=7, ha="center"
            )
    ax.set(xscale="log", yscale="log", xlabel="arithmetic intensity (FLOP per byte moved)", ylabel="GFLOP/s")
    ax.set_xlim(0.08, 8000)
    if nominal and any(p[0] == "int8" for p in points):  # int8's own roof: products per instruction
        from densecore.kernels import int8_simd

        times = 4 if int8_simd.choose_path().startswith("vnni") else 2  # vpdpbusd 4 per lane, vpmaddwd 2
        ax.axhline(times * nominal / 1e9, color="C3", ls="--", lw=0.8)
        ax.annotate(
            f"int8 dot products at the nominal clock ({times}× the FMA's)",
            (0.12, times * nominal / 1e9 * 1.07),
            fontsize=8,
            color="C3",
        )
    top = max([peaks["gflops"], (nominal or 0) / 1e9] + [p[3] for p in points])
    top = max(top, 4 * (nominal or 0) / 1e9 if any(p[0] == "int8" for p in points) else 0)
    ax.set_ylim(1, top * 1.8)
    simd = facts.get("simd", [])
    simd = "AVX-512" if "avx512f" in simd else "AVX2" if "avx2" in simd else "no AVX2"
    cpu = ", ".join(filter(None, [facts.get("llvm_cpu"), simd]))
    ax.set_title(
        f"Roofline, {facts['cpu']} ({cpu}), {facts['numba_threads']} threads, "
        f"{datetime.date.today():%Y-%m-%d}\n"
        "left of the dotted ridge memory-bound, right compute-bound; shapes N×K×M",
        fontsize=9,
        pad=72,  # room for the shapes' names
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(loc="lower right", fontsize=8)
    _save(fig, plt, path)


def chapter_cases(dc, kernels):
    """The other chapters' kernels as timing candidates, each with (FLOPs, bytes) and checked
    against numpy: the fused low-rank forward act((X U) V + b) (2N(KR + RM) FLOPs), and the
    int8 layer on prepacked weights (2NKM integer multiply-adds counted as FLOPs; int8 x and
    W, float32 y: N K + K M + 4 N M bytes)."""
    import numpy as np

    from densecore.benchmarks import method
    from densecore.kernels import quant

    cpu, rng, cases = dc.kernels.get("cpu"), np.random.default_rng(0), []
    for name, (n, k, m), rank in kernels:
        if name == "lowrank":
            x = rng.standard_normal((n, k)).astype(np.float32)
            u = (rng.standard_normal((k, rank)) / np.sqrt(k)).astype(np.float32)
            v = (rng.standard_normal((rank, m)) / np.sqrt(rank)).astype(np.float32)
            b = np.zeros(m, np.float32)
            want = np.maximum((x.astype(np.float64) @ u) @ v, 0)

            def run(x=x, u=u, v=v, b=b):
                return cpu.lowrank_forward(x, u, v, b, "relu")

            def check(run=run, want=want):
                np.testing.assert_allclose(run(), want, rtol=1e-3, atol=1e-3)

            counts = (2 * n * (k * rank + rank * m), 4 * (n * k + k * rank + rank * m + n * m + m))
            cases.append(((n, k, m), method.Candidate(f"lowrank r={rank}", run, check, "numba"), counts))
        else:
            xq = rng.integers(-128, 128, (n, k), dtype=np.int8)
            wq_t = rng.integers(-127, 128, (m, k), dtype=np.int8)
            packed = quant.pack_panels(wq_t, transposed=True)
            ones, sums = np.ones(m, np.float32), wq_t.sum(axis=1, dtype=np.int32)
            want = np.maximum(xq.astype(np.int64) @ wq_t.T.astype(np.int64), 0)

            def run(xq=xq, packed=packed, ones=ones, sums=sums):
                return cpu.qdense_forward(xq, 1.0, 0, packed, ones, sums, None, "relu")

            def check(run=run, want=want):
                np.testing.assert_array_equal(run(), want.astype(np.float32))

            counts = (2 * n * k * m, n * k + k * m + 4 * n * m)
            cases.append(((n, k, m), method.Candidate("int8", run, check, "numba"), counts))
    return cases


def singular_values(dc, plt, path, trained):
    """σᵢ/σ₁ of the trained first layer (64 × 128) against a random matrix of the same shape and
    norm: the trained spectrum falls off, the random one stays flat, so low rank keeps more."""
    import numpy as np

    w = trained[0].layers[0].kernel.data.astype(np.float64)
    rng = np.random.default_rng(0)
    random = rng.standard_normal(w.shape) * w.std()
    fig, ax = plt.subplots(figsize=(6, 3.8))
    for matrix, label, style in ((w, "trained", "o-"), (random, "random, same shape and scale", "s--")):
        s = np.linalg.svd(matrix, compute_uv=False)
        ax.plot(np.arange(1, len(s) + 1), s / s[0], style, ms=3, label=label)
    ax.set(xlabel="index i", ylabel="σᵢ / σ₁", yscale="log")
    ax.set_title("Singular values of the digits MLP's 64 × 128 layer")
    ax.grid(alpha=0.3)
    ax.legend()
    _save(fig, plt, path)


def quantization_grid(dc, plt, path, trained):
    """The first layer's weights, histogram, with the symmetric per-tensor 4- and 8-bit grids
    (s = max|w| / (2^(b−1) − 1)): 4 bits leaves 15 levels for the whole distribution."""
    import numpy as np

    w = trained[0].layers[0].kernel.data.ravel().astype(np.float64)
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.hist(w, bins=120, color="0.6", label="weights")
    top = np.abs(w).max()
    for bits, color in ((4, "C3"), (8, "C0")):
        levels = 2 ** (bits - 1) - 1
        grid = np.arange(-levels, levels + 1) * top / levels
        step = max(1, len(grid) // 32)
        ax.vlines(
            grid[::step],
            0,
            ax.get_ylim()[1] * (0.3 if bits == 8 else 1),
            color=color,
            lw=0.8,
            label=f"{bits}-bit grid" + ("" if step == 1 else f" (every {step}th level)"),
        )
    ax.set(xlabel="weight", ylabel="count")
    ax.set_title("Digits MLP, first layer: weights and the quantization grid")
    ax.legend(fontsize=8)
    _save(fig, plt, path)


def _save(fig, plt, path):
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    print("wrote", os.path.relpath(path))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=OUT, help="folder for the PNG files (default: docs/figures)")
    parser.add_argument("--quick", action="store_true", help="fewer points: a smoke test, not for docs/")
    parser.add_argument("--only", nargs="+", choices=FIGURES, help="render these figures alone")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sys.path.insert(0, ROOT)  # render this checkout's code, whatever else is installed
    import densecore as dc

    os.makedirs(args.out, exist_ok=True)
    start = time.perf_counter()
    wanted = args.only or FIGURES
    trained = digits_model(dc)
    options = QUICK if args.quick else {"ranks": RANKS, "bits": BITS, "shapes": ROOFLINE_SHAPES}
    draw = {
        "loss_curve.png": lambda path: loss_curve(dc, plt, path),
        "accuracy_vs_rank.png": lambda path: accuracy_vs_rank(dc, plt, path, trained, options["ranks"]),
        "accuracy_vs_bits.png": lambda path: accuracy_vs_bits(dc, plt, path, trained, options["bits"]),
        "roofline.png": lambda path: roofline(dc, plt, path, options["shapes"], args.quick),
        "singular_values.png": lambda path: singular_values(dc, plt, path, trained),
        "quantization_grid.png": lambda path: quantization_grid(dc, plt, path, trained),
    }
    for name in wanted:
        draw[name](os.path.join(args.out, name))
    print(f"{len(wanted)} figures in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
