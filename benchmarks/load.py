"""What a new process pays before its first real work: numba compiling (cold) or loading
(warm) the kernels it calls.

    python -m benchmarks.load            # warm: numba's cache filled, three new processes
    python -m benchmarks.load --cold     # also cold: an empty cache directory, all compiled

Two workloads, each in new processes, timed from before `import densecore` to the end:
- "first fit": the article's model (30-10-1, relu and sigmoid, Adam, binary cross-entropy)
  fit for one epoch on the bundled breast-cancer data, then evaluated: what a new user waits;
- "every kernel": every cpu kernel run once on tiny arrays (dense and low-rank forward and
  backward, the integer kernels, the optimizer updates, the losses). Tiny products take the
  small-product path; a layer of realistic size adds the tiled GEMM (about 10 s cold).
A warm run only loads machine code from numba's cache; a cold one compiles it all (numba then
writes its cache to a temporary directory, not the package's).
"""

import argparse
import os
import subprocess
import sys
import tempfile

_FIRST_FIT = """
import time
start = time.perf_counter()
import densecore as dc
(x, y), (xt, yt) = dc.datasets.load_breast_cancer()
x, xt = dc.datasets.standardize(x, xt)
model = dc.Sequential([dc.layers.Dense(10, activation="relu"), dc.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
model.fit(x, y, epochs=1, batch_size=32, verbose=0)
model.evaluate(xt, yt)
print(time.perf_counter() - start)
"""

_EVERY_KERNEL_ONCE = """
import time
start = time.perf_counter()
import numpy as np
from densecore import kernels
cpu = kernels.get("cpu")
f32 = np.float32
x, w, b = np.ones((3, 5), f32), np.ones((5, 4), f32), np.zeros(4, f32)
y = cpu.dense_forward(x, w, b, "relu")
cpu.dense_backward(x, w, y, np.ones_like(y), "relu")
u, v = np.ones((5, 2), f32), np.ones((2, 4), f32)
y = cpu.lowrank_forward(x, u, v, b, "relu")
cpu.lowrank_backward(x, u, v, y, np.ones_like(y), "relu")
xq = cpu.quantize(x, 0.1)
cpu.dequantize(xq, 0.1)
wq_t = cpu.quantize(np.ascontiguousarray(w.T), 0.1)
cpu.int8_matmul(xq, np.ascontiguousarray(wq_t.T))
cpu.qdense_forward(xq, 0.1, 0, wq_t, np.full(4, 0.1, f32), wq_t.astype(np.int32).sum(axis=1), b, "relu")
p, g, m, s = (np.ones(7, f32) for _ in range(4))
cpu.sgd_update(p, g, m, 0.1, 0.9, False)
cpu.adam_update(p, g, m, s, 0.001, 0.9, 0.999, 1e-7, 0.0)
cpu.rmsprop_update(p, g, m, s, 0.001, 0.9, 0.0, 1e-7)
cpu.cross_entropy("sparse", y, np.zeros((3, 1), np.int64), 1 / 3)
cpu.squared_error(y, y, 1.0)
print(time.perf_counter() - start)
"""


WORKLOADS = {"first fit": _FIRST_FIT, "every kernel": _EVERY_KERNEL_ONCE}


def time_new_process(cache_dir=None, workload="every kernel") -> float:
    """Seconds for a new process to run `workload` (a key of WORKLOADS), numba's cache in
    `cache_dir` (default: the package's own)."""
    env = dict(os.environ)
    if cache_dir is not None:
        env["NUMBA_CACHE_DIR"] = cache_dir
    result = subprocess.run(
        [sys.executable, "-c", WORKLOADS[workload]], capture_output=True, text=True, env=env, check=True
    )
    return float(result.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--cold", action="store_true", help="compile into an empty cache directory first")
    parser.add_argument("--runs", type=int, default=3, help="warm processes to time (default 3)")
    args = parser.parse_args(argv)
    for workload in WORKLOADS:
        if args.cold:
            with tempfile.TemporaryDirectory() as cache:
                print(
                    f"{workload}, cold (empty cache, all compiled): {time_new_process(cache, workload):.2f} s"
                )
        time_new_process(workload=workload)  # fills the package's cache if it is empty, untimed
        times = [time_new_process(workload=workload) for _ in range(args.runs)]
        listed = ", ".join(f"{t:.2f} s" for t in times)
        print(f"{workload}, warm (numba's cache filled), {args.runs} new processes: {listed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
