"""Suite `distributed`: samples/s of a data-parallel fit (dc.distribution over MPI), MLP
784-256-256-10, ReLU, Adam, sparse categorical cross-entropy, random data (as suite `train`).

    python -m benchmarks.distributed [--batches 512,2048] [--rounds 3] [--epochs 2]

For each global batch it times, in fresh processes, interleaved over the rounds:

    1 rank × 1 thread     NUMBA_NUM_THREADS=1, plain python (the baseline)
    1 proc × 2 threads    NUMBA_NUM_THREADS=2: the two cores used by threads
    2 ranks × 1 thread    mpiexec -n 2, NUMBA_NUM_THREADS=1 each: the two cores used by ranks

and, for the 2 ranks, the allreduce's share of a step: the time inside the step's allreduce
during fit (which includes waiting for the slower rank), and the allreduce alone (the same
buffer, both ranks already waiting at a barrier) over the step's time. Targets (issue #22):
2 ranks ≥ 1.6× one rank at batch 512 and ≥ 0.9× one process with 2 threads; the allreduce
≤ 15% of a step. Timings on a shared machine are noisy: the median of the rounds is shown,
with the min–max.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time

import numpy as np

LAYERS = (784, 256, 256, 10)
SAMPLES = 8192
HEADER = (
    f"{'batch':>6} {'configuration':>20} {'samples/s':>10} {'min–max':>15} {'×1 rank':>8} "
    f"{'allreduce in fit':>17} {'allreduce alone':>16}"
)
CONFIGS = (("1 rank × 1 thread", 1, 1), ("1 proc × 2 threads", 1, 2), ("2 ranks × 1 thread", 2, 1))


def _worker(batch, epochs) -> None:
    """One timed fit (in this process, or this rank); rank 0 prints a JSON line."""
    import densecore as dc
    from densecore.engine import distribution

    dc.distribution.initialize()
    rng = np.random.default_rng(0)
    x = rng.standard_normal((SAMPLES, LAYERS[0])).astype(np.float32)
    y = rng.integers(0, LAYERS[-1], SAMPLES)
    dc.set_seed(0)
    model = dc.Sequential(
        [
            dc.layers.Dense(LAYERS[1], activation="relu"),
            dc.layers.Dense(LAYERS[2], activation="relu"),
            dc.layers.Dense(LAYERS[3], activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(x[: batch * 2], y[: batch * 2], batch_size=batch, epochs=1, verbose=0)  # compile, warm
    distribution.reset_stats()
    dc.distribution.barrier()
    start = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=epochs, verbose=0)
    dc.distribution.barrier()
    seconds = time.perf_counter() - start
    steps = epochs * -(-SAMPLES // batch)
    result = {"samples_s": epochs * SAMPLES / seconds, "step_s": seconds / steps}
    if dc.distribution.size() > 1:
        result["allreduce_in_fit_s"] = distribution.stats["allreduce_s"] / max(
            distribution.stats["allreduce_calls"], 1
        )
        buffer = model._reduce_buffers
        calls = 30
        dc.distribution.barrier()
        distribution.reset_stats()
        for _ in range(calls):
            dc.distribution.barrier()
            buffer.allreduce()
        result["allreduce_alone_s"] = distribution.stats["allreduce_s"] / calls
        result["buffer_mb"] = buffer.flat.nbytes / 1e6
    if dc.distribution.is_chief():
        print("RESULT " + json.dumps(result), flush=True)


def _launch(batch, epochs, ranks, threads) -> dict:
    env = dict(os.environ)
    for var in ("NUMBA_NUM_THREADS", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    env.setdefault("MPIEXEC_TIMEOUT", "600")
    command = [sys.executable, "-m", "benchmarks.distributed", "--worker", "--batch", str(batch)]
    command += ["--epochs", str(epochs)]
    if ranks > 1:
        mpiexec = shutil.which("mpiexec")
        if mpiexec is None:
            return {"status": "no mpiexec (pip install densecore[mpi])"}
        command = [mpiexec, "-n", str(ranks), *command]
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=root, timeout=900)
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return {"status": f"failed (exit {done.returncode}): {done.stderr.strip()[-300:]}"}


def run_distributed(args, rows) -> None:
    """Time every configuration at every batch (rounds interleaved); print and append rows."""
    batches = [int(b) for b in (args.batches or "512,2048").split(",")]
    rounds = getattr(args, "rounds", None) or (1 if args.quick else 3)
    epochs = getattr(args, "epochs", None) or (1 if args.quick else 2)
    for batch in batches:
        runs = {name: [] for name, _, _ in CONFIGS}
        for _ in range(rounds):
            for name, ranks, threads in CONFIGS:
                runs[name].append(_launch(batch, epochs, ranks, threads))
        base = None
        for name, ranks, threads in CONFIGS:
            good = [r for r in runs[name] if "samples_s" in r]
            row = {"suite": "distributed", "batch": batch, "case": name, "ranks": ranks, "threads": threads}
            if not good:
                row["status"] = runs[name][-1].get("status", "failed")
                print(f"{batch:>6} {name:>20}   {row['status']}")
                rows.append(row)
                continue
            speeds = sorted(r["samples_s"] for r in good)
            median = float(np.median(speeds))
            base = median if base is None else base
            row.update(
                samples_s=median, min_samples_s=speeds[0], max_samples_s=speeds[-1], vs_1_rank=median / base
            )
            share_fit = share_alone = ""
            if ranks > 1:
                step = float(np.median([r["step_s"] for r in good]))
                row["allreduce_in_fit_share"] = (
                    float(np.median([r["allreduce_in_fit_s"] for r in good])) / step
                )
                row["allreduce_alone_share"] = float(np.median([r["allreduce_alone_s"] for r in good])) / step
                row["buffer_mb"] = good[0]["buffer_mb"]
                share_fit = f"{row['allreduce_in_fit_share']:.1%}"
                share_alone = f"{row['allreduce_alone_share']:.1%}"
            spread = f"{speeds[0]:.0f}–{speeds[-1]:.0f}"
            print(
                f"{batch:>6} {name:>20} {median:>10.0f} {spread:>15} {row['vs_1_rank']:>8.2f} "
                f"{share_fit:>17} {share_alone:>16}",
                flush=True,
            )
            rows.append(row)
        two = {r["case"]: r for r in rows if r.get("batch") == batch and "samples_s" in r}
        if len(two) == len(CONFIGS):
            ranks2, threads2 = two[CONFIGS[2][0]], two[CONFIGS[1][0]]
            print(
                f"{'':>6} 2 ranks / 1 rank {ranks2['vs_1_rank']:.2f}× (target ≥ 1.6 at 512), / 2 threads "
                f"{ranks2['samples_s'] / threads2['samples_s']:.2f}× (target ≥ 0.9); allreduce "
                f"{ranks2['allreduce_alone_share']:.1%} of a step alone (target ≤ 15%)"
            )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.distributed", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--batches", help="global batch sizes, e.g. 512,2048")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per case (default 3)")
    parser.add_argument("--epochs", type=int, help="epochs of 8,192 samples per timed fit (default 2)")
    parser.add_argument("--quick", action="store_true", help="one round of one epoch")
    parser.add_argument("--out", help="write the rows to this JSON file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    if args.worker:
        _worker(args.batch, args.epochs)
        return 0
    print(
        f"## distributed: fit throughput over MPI ranks, MLP 784-256-256-10, relu, Adam, sparse CE\n{HEADER}"
    )
    rows = []
    run_distributed(args, rows)
    if args.out:
        with open(args.out, "w") as file:
            json.dump({"results": rows}, file, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
