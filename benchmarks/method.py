"""How every benchmark here measures: validate first, then time interleaved blocks.

- Each candidate's result is checked against a float64 numpy reference before any timing;
  a wrong kernel is reported as INVALID, never timed.
- The first call (numba compilation, or loading from its cache) is timed apart and excluded.
- Candidates run in rounds, in a rotated order each round; in a round each runs one untimed
  call, then a block of calls lasting at least `block` seconds, and the per-call time of the
  block is one sample (the same for every library).
  Between blocks of different libraries there is a pause (`gap`), because a BLAS or OpenMP
  thread pool spins for ~0.1 s after its last call and would slow the next library (on two
  cores, alternating numpy-BLAS calls with numba-parallel kernels cut throughput 2–4×;
  docs/performance.md, "Threads").
- Reported: the median of the samples and their spread (min–max).
"""

import os
import platform
import statistics
import time
from dataclasses import dataclass, field

import numpy as np


@dataclass
class Candidate:
    """One thing to time: a zero-argument callable and how to check its result."""

    name: str
    run: object
    check: object = None  # () -> None, raises AssertionError when the result is wrong
    library: str = ""
    samples: list = field(default_factory=list)
    first_call: float = 0.0
    status: str = "ok"


def time_block(run, block: float) -> float:
    """Seconds per call, over enough calls to fill `block` seconds, after one untimed call.

    The untimed call absorbs what the pause before the block costs the first call rather
    than the kernel: waking a thread pool, and faulting in fresh pages for a big result
    (measured: a 1×4096×4096 backward, 64 MiB of dW, took 100–140 ms on its first call
    after a pause and 10–12 ms after, so the 0.1 s block held that one call)."""
    run()
    calls, start = 0, time.perf_counter()
    while True:
        run()
        calls += 1
        elapsed = time.perf_counter() - start
        if elapsed >= block:
            return elapsed / calls


def measure(candidates, rounds: int = 5, block: float = 0.1, gap: float = 0.2) -> None:
    """Validate, warm up and time `candidates` in interleaved rounds (fills .samples)."""
    live = []
    for c in candidates:
        start = time.perf_counter()
        try:
            c.run()
            c.first_call = time.perf_counter() - start
            if c.check is not None:
                c.check()
            live.append(c)
        except AssertionError as exc:
            c.status = f"INVALID: {exc}"[:200]
    for r in range(rounds):
        order = live[r % len(live) :] + live[: r % len(live)] if live else []
        previous = None
        for c in order:
            if previous is not None and previous != c.library:
                time.sleep(gap)
            c.samples.append(time_block(c.run, block))
            previous = c.library


def summary(samples) -> dict:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples)}


def machine_facts() -> dict:
    """What the numbers were measured on."""
    import numba

    facts = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "numba_threads": numba.get_num_threads(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "numba": numba.__version__,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }
    try:
        import llvmlite.binding as llvm

        features = llvm.get_host_cpu_features().flatten().split(",")
        facts["llvm_cpu"] = llvm.get_host_cpu_name()
        facts["simd"] = [
            f[1:]
            for f in features
            if f.startswith("+") and any(k in f for k in ("avx", "fma", "vnni", "sse4"))
        ]
    except Exception:  # facts are best effort
        pass
    try:
        from threadpoolctl import threadpool_info

        facts["blas"] = [
            {k: p.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for p in threadpool_info()
            if p.get("user_api") == "blas"
        ]
    except ImportError:
        facts["blas"] = "threadpoolctl not installed"
    for name in ("torch", "numba_cuda"):
        try:
            facts[name] = __import__(name).__version__
        except Exception:
            facts[name] = None
    return facts


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure_peaks(quick: bool = False) -> dict:
    """This machine's compute and memory ceilings, measured now: BLAS sgemm and a copy."""
    n = 512 if quick else 2048
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = a.copy()
    sgemm = min(time_block(lambda: a @ b, 0.3) for _ in range(3))
    size = (16 if quick else 128) * 2**20 // 4
    src, dst = np.ones(size, np.float32), np.empty(size, np.float32)
    copy = min(time_block(lambda: np.copyto(dst, src), 0.3) for _ in range(3))
    time.sleep(0.2)
    return {
        "gflops": 2 * n**3 / sgemm / 1e9,
        "gbytes_per_s": 2 * src.nbytes / copy / 1e9,
        "sgemm_size": n,
        "copy_bytes": src.nbytes,
    }


def nominal_peak(facts: dict):
    """FLOP/s the cores can do in theory: FMA lanes × 2 × clock × cores (from /proc/cpuinfo).

    Two FMA units of 8 float32 lanes (AVX2) or 16 (AVX-512) per core; None when the clock is
    not readable. The clock is the nominal one, not the boost clock.
    """
    try:
        with open("/proc/cpuinfo") as handle:
            mhz = max(float(line.split(":")[1]) for line in handle if line.startswith("cpu MHz"))
    except (OSError, ValueError):
        return None
    lanes = 16 if "avx512f" in facts.get("simd", []) else 8
    return 2 * 2 * lanes * mhz * 1e6 * facts["numba_threads"]


def parse_shapes(text: str) -> list:
    """'128x784x256,1x4096x4096' -> [(128, 784, 256), (1, 4096, 4096)]."""
    shapes = []
    for item in text.split(","):
        parts = item.lower().strip().split("x")
        if len(parts) != 3 or not all(p.isdigit() and int(p) > 0 for p in parts):
            raise SystemExit(f"--shapes: expected NxKxM with positive integers; received {item!r}")
        shapes.append(tuple(int(p) for p in parts))
    return shapes
