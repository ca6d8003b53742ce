"""Suite `lowrank`: forward time of LowRankDense against Dense, against the FLOP ratio.

For in = out = 1024 at batch 256 a rank-r layer does r·(in + out) instead of in·out
multiply-adds per sample; the speed-up it reaches is compared with that FLOP ratio.
"""

import numpy as np

from densecore import kernels

from .method import Candidate, measure, summary

DEFAULT_CASES = [(256, 1024, 1024, r) for r in (16, 64, 256)]
QUICK_CASES = [(8, 32, 24, 4)]
HEADER = (
    f"{'case NxKxM r':>20} {'dense ms':>9} {'lowrank ms':>11} {'speed-up':>9} "
    f"{'FLOP ratio':>11} {'reached':>8}"
)


def run_lowrank(args, rows):
    cpu = kernels.get("cpu")
    for n, k, m, r in QUICK_CASES if args.quick else DEFAULT_CASES:
        _run_case(cpu, n, k, m, r, args, rows)


def _run_case(cpu, n, k, m, r, args, rows):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, k)).astype(np.float32)
    u = (rng.standard_normal((k, r)) / np.sqrt(k)).astype(np.float32)
    v = (rng.standard_normal((r, m)) / np.sqrt(r)).astype(np.float32)
    w = u @ v
    b = np.zeros(m, np.float32)
    want = np.maximum(x.astype(np.float64) @ w + b, 0)

    def check(fn):
        def run():
            err = np.abs(fn() - want).max() / max(1.0, np.abs(want).max())
            assert err < 1e-4, f"max relative error {err:.1e}"

        return run

    dense = Candidate(
        "dense",
        lambda: cpu.dense_forward(x, w, b, "relu"),
        check(lambda: cpu.dense_forward(x, w, b, "relu")),
        "numba",
    )
    low = Candidate(
        "lowrank",
        lambda: cpu.lowrank_forward(x, u, v, b, "relu"),
        check(lambda: cpu.lowrank_forward(x, u, v, b, "relu")),
        "numba",
    )
    measure(
        [dense, low],
        rounds=args.rounds or (2 if args.quick else 5),
        block=0.02 if args.quick else 0.1,
        gap=0.0,
    )
    if not (dense.samples and low.samples):
        print(f"{n}x{k}x{m} r{r}: {dense.status} {low.status}")
        return
    td, tl = summary(dense.samples)["median"], summary(low.samples)["median"]
    flop_ratio = k * m / (r * (k + m))
    row = {
        "suite": "lowrank",
        "case": f"{n}x{k}x{m}r{r}",
        "op": "forward",
        "backend": "cpu",
        "median_s": tl,
        "min_s": min(low.samples),
        "max_s": max(low.samples),
        "dense_median_s": td,
        "speedup": td / tl,
        "flop_ratio": flop_ratio,
        "fraction_of_flop_ratio": td / tl / flop_ratio,
    }
    rows.append(row)
    print(
        f"{row['case']:>20} {td * 1e3:>9.3f} {tl * 1e3:>11.3f} {td / tl:>9.2f} "
        f"{flop_ratio:>11.2f} {row['fraction_of_flop_ratio']:>8.0%}"
    )
