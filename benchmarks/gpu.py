"""python -m benchmarks.gpu [--quick]: the real-GPU check, in one short run (< 5 minutes).

1. verifies every CUDA kernel against the cpu backend on realistic shapes (the dense layer,
   low rank, and the integer kernels, which must agree exactly);
2. trains an MLP 784-1024-1024-10 a few steps on "cuda" and on "cpu" and times a step;
3. reports GFLOP/s of dense forward and backward at 4096³, beside cuBLAS fp32 through torch
   (TF32 off) when torch sees the GPU.

--quick uses tiny shapes so that it also runs on numba's CUDA simulator (a smoke test).
"""

import argparse
import time

import numpy as np


def _time(fn, repeats=5):
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def _check_lowrank_and_int8(cuda_k, cpu_k, rng, quick):
    from densecore.kernels import quant

    n, k, m, r = (8, 12, 10, 3) if quick else (256, 1024, 1024, 64)
    x, u, v = (rng.standard_normal(s).astype(np.float32) for s in ((n, k), (k, r), (r, m)))
    error = np.abs(
        cuda_k.lowrank_forward(x, u, v, None, "relu") - cpu_k.lowrank_forward(x, u, v, None, "relu")
    )
    print(f"check lowrank {n}x{k}x{m} r{r}: max |cuda − cpu| forward = {error.max():.2e}")
    w = (rng.standard_normal((k, m)) / np.sqrt(k)).astype(np.float32)
    sx, zx = quant.affine_params(x.min(), x.max(), 8)
    sw = quant.symmetric_scale(w, 8, axis=0)
    wq_t, sums = quant.pack_weights(cpu_k.quantize(w, sw, 0))
    xq = cpu_k.quantize(x, sx, zx)
    same_q = np.array_equal(cuda_k.quantize(x, sx, zx), xq)
    same_mm = np.array_equal(
        cuda_k.int8_matmul(xq, np.ascontiguousarray(wq_t.T)), cpu_k.int8_matmul(xq, wq_t.T)
    )
    args = (xq, sx, zx, wq_t, sw, sums, None, "relu")
    error = np.abs(cuda_k.qdense_forward(*args) - cpu_k.qdense_forward(*args)).max()
    print(
        f"check int8 {n}x{k}x{m}: quantize {'exact' if same_q else 'DIFFERS'}, int8_matmul "
        f"{'exact' if same_mm else 'DIFFERS'}, qdense max |cuda − cpu| = {error:.2e}"
    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)

    import densecore as dc
    from densecore import kernels

    cuda_k, cpu_k = kernels.get("cuda"), kernels.get("cpu")
    from numba import cuda

    print(f"# device: {cuda_k.device_info()}")
    rng = np.random.default_rng(0)
    shapes = [(8, 12, 10)] if args.quick else [(1024, 784, 1024), (256, 1024, 1024), (1, 4096, 4096)]
    for n, k, m in shapes:  # 1. correctness
        x, w, b = (rng.standard_normal(s).astype(np.float32) for s in ((n, k), (k, m), (m,)))
        y = cuda_k.dense_forward(x, w, b, "relu")
        errors = [np.abs(y - cpu_k.dense_forward(x, w, b, "relu")).max()]
        dy = rng.standard_normal(y.shape).astype(np.float32)
        errors += [
            np.abs(a - e).max()
            for a, e in zip(
                cuda_k.dense_backward(x, w, y, dy, "relu"), cpu_k.dense_backward(x, w, y, dy, "relu")
            )
        ]
        print(
            f"check {n}x{k}x{m}: max |cuda − cpu| forward, dx, dw, db = "
            + ", ".join(f"{e:.2e}" for e in errors)
        )

    _check_lowrank_and_int8(cuda_k, cpu_k, rng, args.quick)

    size = 16 if args.quick else 4096  # 3. throughput with the data on the device
    repeats = 1 if args.quick else 5  # (the simulator runs every thread in Python)
    a = cuda.to_device(rng.standard_normal((size, size)).astype(np.float32))
    bb = cuda.to_device(rng.standard_normal((size, size)).astype(np.float32))
    bias = cuda.to_device(np.zeros(size, np.float32))
    fwd = _time(lambda: (cuda_k.dense_forward(a, bb, bias, "relu"), cuda.synchronize()), repeats)
    bwd = _time(lambda: (cuda_k.dense_backward(a, bb, a, a, "relu"), cuda.synchronize()), repeats)
    flops = 2 * size**3
    print(
        f"dense {size}³ on the device: forward {flops / fwd / 1e9:.0f} GFLOP/s, backward "
        f"{2 * flops / bwd / 1e9:.0f} GFLOP/s, together {3 * flops / (fwd + bwd) / 1e9:.0f} GFLOP/s"
    )
    try:
        import torch

        if torch.cuda.is_available():
            torch.backends.cuda.matmul.allow_tf32 = False
            ta = torch.randn(size, size, device="cuda")
            tm = _time(lambda: (ta @ ta, torch.cuda.synchronize()))
            print(
                f"cuBLAS fp32 (torch, TF32 off): {flops / tm / 1e9:.0f} GFLOP/s → ours is "
                f"{(3 * flops / (fwd + bwd)) / (flops / tm):.0%} of it"
            )
    except ImportError:
        print("torch not installed: no vendor baseline")

    batch, widths = (8, (12, 16, 16, 4)) if args.quick else (1024, (784, 1024, 1024, 10))
    x = rng.standard_normal((batch * 4, widths[0])).astype(np.float32)
    y = rng.integers(0, widths[-1], batch * 4)
    step_times = {}
    for backend in ("cuda", "cpu"):  # 2. a training step
        dc.set_backend(backend)
        dc.set_seed(0)
        model = dc.Sequential(
            [
                dc.layers.Dense(widths[1], activation="relu"),
                dc.layers.Dense(widths[2], activation="relu"),
                dc.layers.Dense(widths[3], activation="softmax"),
            ]
        )
        model.compile("adam", "sparse_categorical_crossentropy")
        model.fit(x[:batch], y[:batch], batch_size=batch, epochs=1, verbose=0)
        start = time.perf_counter()
        history = model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
        step_times[backend] = (time.perf_counter() - start) / 4
        print(
            f"{backend}: training step {step_times[backend] * 1e3:.1f} ms, "
            f"loss {history.history['loss'][0]:.4f}"
        )
    dc.set_backend("cpu")
    print(f"cuda step is {step_times['cpu'] / step_times['cuda']:.1f}× faster than cpu")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
