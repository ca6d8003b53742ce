"""`python -m densecore`: the article's dense-layer experiment on bundled real data.

Trains the article's SimpleNet (Dense(10, relu) → Dense(1, sigmoid)) on the Breast Cancer
Wisconsin data with Adam and binary cross-entropy, then reports test accuracy, parameter
count and wall time.
"""

import argparse
import time

import numpy as np

import densecore as dc


class SimpleNet(dc.Model):
    """The article's model: 30 features → 10 ReLU units → 1 sigmoid output."""

    def __init__(self):
        super().__init__()
        self.dense1 = dc.layers.Dense(10, activation="relu")
        self.dense2 = dc.layers.Dense(1, activation="sigmoid")

    def call(self, inputs):
        x = self.dense1(inputs)
        return self.dense2(x)


def _warm_up() -> None:
    """One training step and one predict of a throwaway SimpleNet on a few random samples, so
    that compiling (or loading) the kernels is timed apart from the training below."""
    x = np.random.default_rng(0).standard_normal((8, 30)).astype(np.float32)
    model = SimpleNet()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    model.fit(x, (x[:, 0] > 0).astype(np.float32), epochs=1, batch_size=8, verbose=0)
    model.predict(x, verbose=0)


def _predict_time(model, x, repeats=20) -> float:
    model.predict(x)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        model.predict(x, batch_size=len(x))
    return (time.perf_counter() - start) / repeats


def _gpu_step(args, x_train, y_train, cpu_time) -> None:
    """The parallel-hardware step: the same training on the GPU when one is usable."""
    available = dc.gpu_available()
    print(f"\n# parallel hardware: gpu_available() = {available}")
    if not available:
        return
    print(f"# device: {dc.device_info()['name']}")
    dc.set_backend("cuda")
    try:
        dc.set_seed(args.seed)
        gpu_model = SimpleNet()
        gpu_model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
        start = time.perf_counter()
        gpu_model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=0)
        print(
            f"training on the GPU: {time.perf_counter() - start:.2f} s (cpu: {cpu_time:.2f} s; "
            f"a model this small is dominated by per-call transfers)"
        )
    finally:
        dc.set_backend(args.backend)


def main(argv=None) -> int:
    """Run the demo; returns the exit status."""
    parser = argparse.ArgumentParser(prog="densecore", description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=10, help="training epochs (default 10, the article's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--backend", default="cpu", help="kernel backend: cpu (default) or reference")
    parser.add_argument("--verbose", type=int, default=1, help="0 silent, 1 progress bar, 2 a line per epoch")
    args = parser.parse_args(argv)

    dc.set_backend(args.backend)
    start = time.perf_counter()
    _warm_up()
    ready = time.perf_counter() - start
    dc.clear_session()  # the throwaway model's layer names are free again
    dc.set_seed(args.seed)
    (x_train, y_train), (x_test, y_test) = dc.datasets.load_breast_cancer()
    x_train, x_test = dc.datasets.standardize(x_train, x_test)
    print(
        f"densecore {dc.__version__} · backend {dc.get_backend()} · breast cancer: "
        f"{len(x_train)} train / {len(x_test)} test samples, {x_train.shape[1]} features\n"
        f"kernels ready in {ready:.2f} s (numba compiles them on a machine's first run and caches "
        f"them; later runs load them)"
    )

    model = SimpleNet()
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    start = time.perf_counter()
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=32, verbose=args.verbose)
    train_time = time.perf_counter() - start
    loss, accuracy = model.evaluate(x_test, y_test)
    model.summary()
    print(
        f"\ntraining: {args.epochs} epochs in {train_time:.2f} s; test loss {loss:.4f}, "
        f"test accuracy {accuracy:.2%}"
    )
    _gpu_step(args, x_train, y_train, train_time)

    rows = [("SimpleNet (dense)", model)]
    print("\n# fewer parameters: dense1 (30 × 10) as a rank-5 product U V, from its SVD")
    low = dc.compress.low_rank(model, rank=5, layers=["dense1"])
    rows.append(("rank 5 (SVD only)", low))
    tuned = dc.compress.clone(low)
    tuned.fit(x_train, y_train, epochs=5, batch_size=32, verbose=0)
    rows.append(("rank 5 + 5 epochs fine-tune", tuned))

    print("\n# fewer nodes: keep the 5 strongest of dense1's 10 hidden units, then fine-tune")
    pruned = dc.compress.prune_units(model, keep=5, layers=["dense1"])
    rows.append(("5 hidden units (pruned only)", pruned))
    pruned_tuned = dc.compress.clone(pruned)
    pruned_tuned.fit(x_train, y_train, epochs=5, batch_size=32, verbose=0)
    rows.append(("5 hidden units + 5 epochs", pruned_tuned))

    print("\n# integer quantization: int8 and 4-bit weights and activations")
    rows.append(("int8 post-training (static)", dc.quantize(model, calibration_data=x_train)))
    rows.append(("4-bit post-training (static)", dc.quantize(model, num_bits=4, calibration_data=x_train)))
    qat = dc.quantize_aware(model, num_bits=4)
    for lr in (0.001, 0.0001):  # at the training rate, then a tenth of it
        qat.optimizer.learning_rate = lr
        qat.fit(x_train, y_train, epochs=5, batch_size=32, verbose=0)
    rows.append(("4-bit quantization-aware", qat.convert()))

    print(f"\n{'model':<32}{'test acc':>10}{'params':>10}{'bytes':>8}{'predict':>12}")
    for name, m in rows:
        acc = m.evaluate(x_test, y_test, return_dict=True)["accuracy"]
        print(
            f"{name:<32}{acc:>10.2%}{m.count_params():>10,}{dc.quantization.model_bytes(m):>8,}"
            f"{_predict_time(m, x_test) * 1e6:>10.0f}us"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
