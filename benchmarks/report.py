"""Run the chosen suites, print the table, write the JSON."""

import json
import time

import numpy as np

from densecore import kernels

from . import dense, method


def _backends(args):
    names = kernels.available()
    if args.backends:
        names = [b for b in args.backends.split(",") if b in names]
    return names


def _threads(args):
    try:
        import torch

        if args.threads:
            torch.set_num_threads(args.threads)
    except ImportError:
        pass


def run_dense(args, peaks, rows):
    shapes = (
        method.parse_shapes(args.shapes)
        if args.shapes
        else (dense.QUICK_SHAPES if args.quick else dense.DEFAULT_SHAPES)
    )
    rounds = args.rounds or (2 if args.quick else 5)
    for shape in shapes:
        dtype = np.dtype(getattr(args, "dtype", "float32"))
        candidates = dense.cases(shape, _backends(args), quick=args.quick, dtype=dtype.type)
        method.measure(
            candidates, rounds=rounds, block=0.02 if args.quick else 0.1, gap=0.0 if args.quick else 0.2
        )
        by_name = {c.name: c for c in candidates}
        for c in candidates:
            op, library = c.name.split("/")
            flops, traffic = dense.counts(shape, op, dtype.itemsize)
            row = {
                "dtype": dtype.name,
                "suite": "dense",
                "case": "x".join(map(str, shape)),
                "op": op,
                "backend": library,
                "flops": flops,
                "bytes": traffic,
                "first_call_s": c.first_call,
                "status": c.status,
                "samples_s": c.samples,
            }
            if c.samples:
                stats = method.summary(c.samples)
                row.update({f"{k}_s": v for k, v in stats.items()})
                row["gflops"] = flops / stats["median"] / 1e9
                row["gbytes_per_s"] = traffic / stats["median"] / 1e9
                row["fraction_of_peak"] = row["gflops"] / peaks["gflops"]
                base = by_name.get(f"{op}/numpy")
                if base is not None and base.samples:
                    row["vs_numpy"] = method.summary(base.samples)["median"] / stats["median"]
            rows.append(row)
            _print_row(row)


def _print_row(row):
    if "median_s" not in row:
        print(f"{row['case']:>16} {row['op']:>9} {row['backend']:>10}   {row['status']}")
        return
    spread = f"{row['min_s'] * 1e3:.3g}–{row['max_s'] * 1e3:.3g}"
    print(
        f"{row['case']:>16} {row['op']:>9} {row['backend']:>10} {row['median_s'] * 1e3:>10.3f} "
        f"{spread:>17} {row['gflops']:>8.1f} {row['gbytes_per_s']:>6.1f} {row['fraction_of_peak']:>6.0%} "
        f"{row.get('vs_numpy', float('nan')):>8.2f} {row['first_call_s'] * 1e3:>9.1f}"
    )


HEADER = (
    f"{'case NxKxM':>16} {'op':>9} {'backend':>10} {'median ms':>10} {'min–max ms':>17} "
    f"{'GFLOP/s':>8} {'GB/s':>6} {'peak':>6} {'×numpy':>8} {'1st ms':>9}"
)


def run(args) -> int:
    start = time.perf_counter()
    import_start = time.perf_counter()
    kernels.get("cpu")  # loads (or compiles) the cpu kernels
    load_time = time.perf_counter() - import_start
    _threads(args)
    facts = method.machine_facts()
    peaks = method.measure_peaks(quick=args.quick)
    print(
        f"# {facts['cpu']} · {facts['cores']} cores · numba threads {facts['numba_threads']} · "
        f"numpy {facts['numpy']} · numba {facts['numba']} · torch {facts['torch']}"
    )
    nominal = method.nominal_peak(facts)
    print(
        f"# measured peaks: sgemm {peaks['gflops']:.1f} GFLOP/s ({peaks['sgemm_size']}³, numpy BLAS), "
        f"copy {peaks['gbytes_per_s']:.1f} GB/s; FMA peak at the nominal clock "
        f"{'unknown' if nominal is None else f'{nominal / 1e9:.0f} GFLOP/s (cores boost above it)'}; "
        f"cpu kernels loaded in {load_time:.2f} s"
    )
    rows = []
    for suite in args.suites:
        if suite == "dense":
            print("\n## dense: forward y = relu(x @ w + b); backward dx, dw, db\n" + HEADER)
            run_dense(args, peaks, rows)
        elif suite == "train":
            from . import train

            print("\n## train: fit throughput, MLP 784-256-256-10, relu, Adam, sparse CE\n" + train.HEADER)
            train.run_train(args, rows)
        elif suite == "lowrank":
            from . import lowrank

            print("\n## lowrank: forward relu((x U) V + b) against relu(x W + b), W = U V\n" + lowrank.HEADER)
            lowrank.run_lowrank(args, rows)
        elif suite == "int8":
            from . import int8

            print(
                "\n## int8: integer inference against float32 (N × 4096 × 4096, relu; 256 with --quick)\n"
                + int8.HEADER
            )
            int8.run_int8(args, rows)
        elif suite == "compress":
            from . import compress

            print("\n## compress: accuracy, size and speed of cheaper dense layers (digits)")
            compress.run_compress(args, rows)
        elif suite == "distributed":
            from . import distributed

            print(
                "\n## distributed: fit throughput over MPI ranks, MLP 784-256-256-10\n" + distributed.HEADER
            )
            distributed.run_distributed(args, rows)
        else:
            raise SystemExit(
                f"unknown suite {suite!r}; expected dense, lowrank, int8, compress, train or distributed"
            )
    end = method.measure_peaks(quick=args.quick)  # the host's speed drifts: report both
    print(
        f"# peaks measured again at the end: sgemm {end['gflops']:.1f} GFLOP/s, copy "
        f"{end['gbytes_per_s']:.1f} GB/s (the fractions of peak above use the start's)"
    )
    peaks = {
        **peaks,
        "end_gflops": end["gflops"],
        "end_gbytes_per_s": end["gbytes_per_s"],
        "nominal_gflops": None if nominal is None else nominal / 1e9,
    }
    if args.plot:
        from .plots import write_plots

        for path in write_plots(rows, peaks, args.plot):
            print(f"# plot: {path}")
    print(f"\n# total {time.perf_counter() - start:.1f} s")
    if args.out:
        with open(args.out, "w") as handle:
            json.dump(
                {"machine": facts, "peaks": peaks, "kernel_load_s": load_time, "results": rows},
                handle,
                indent=1,
            )
        print(f"# wrote {args.out}")
    return 0
