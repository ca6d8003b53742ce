"""Keras parity: densecore's per-epoch losses against Keras 3's, from the same start.

    KERAS_BACKEND=torch python -m benchmarks.parity

Needs keras and torch installed (the test suite does not). Both frameworks get the same
initial weights (Keras's, copied with set_weights), the same data in the same order
(shuffle=False) and the same settings; the relative difference of each epoch's loss and
accuracy is printed.
"""

import os

os.environ.setdefault("KERAS_BACKEND", "torch")


import densecore as dc  # noqa: E402

CASES = {
    "breast cancer: Dense(10, relu) → Dense(1, sigmoid), Adam, binary CE": dict(
        data=dc.datasets.load_breast_cancer,
        layers=[(10, "relu"), (1, "sigmoid")],
        optimizer=("Adam", {}),
        loss="binary_crossentropy",
    ),
    "digits: Dense(64, tanh) → Dense(10, softmax), SGD momentum 0.9, sparse CE": dict(
        data=dc.datasets.load_digits,
        layers=[(64, "tanh"), (10, "softmax")],
        optimizer=("SGD", {"momentum": 0.9}),
        loss="sparse_categorical_crossentropy",
    ),
    "breast cancer, class_weight {0: 2, 1: 0.5}: the first case, each class's loss reweighted": dict(
        data=dc.datasets.load_breast_cancer,
        layers=[(10, "relu"), (1, "sigmoid")],
        optimizer=("Adam", {}),
        loss="binary_crossentropy",
        fit={"class_weight": {0: 2.0, 1: 0.5}},
    ),
    "digits, sample_weight 1 + (label mod 3): the second case, per-sample weights": dict(
        data=dc.datasets.load_digits,
        layers=[(64, "tanh"), (10, "softmax")],
        optimizer=("SGD", {"momentum": 0.9}),
        loss="sparse_categorical_crossentropy",
        fit={"sample_weight": lambda y: 1.0 + (y % 3)},
    ),
    "digits: Dense(32, relu) → BatchNormalization → Dense(10, softmax), SGD momentum 0.9": dict(
        data=dc.datasets.load_digits,
        layers=[(32, "relu"), "batchnorm", (10, "softmax")],
        optimizer=("SGD", {"momentum": 0.9}),
        loss="sparse_categorical_crossentropy",
    ),
}


def _layers(module, spec):
    """The case's layers in keras's or densecore's `layers` module."""
    return [
        module.BatchNormalization() if layer == "batchnorm" else module.Dense(layer[0], activation=layer[1])
        for layer in spec["layers"]
    ]


def run_case(spec, epochs=5, batch_size=32):
    import keras

    (x, y), _ = spec["data"]()
    x = dc.datasets.standardize(x)
    fit_args = {key: value(y) if callable(value) else value for key, value in spec.get("fit", {}).items()}
    keras.utils.set_random_seed(0)
    k_model = keras.Sequential([keras.Input((x.shape[1],)), *_layers(keras.layers, spec)])
    start = [w.copy() for w in k_model.get_weights()]
    name, kwargs = spec["optimizer"]
    k_model.compile(getattr(keras.optimizers, name)(**kwargs), spec["loss"], metrics=["accuracy"])
    k_hist = k_model.fit(
        x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0, **fit_args
    ).history

    d_model = dc.Sequential(_layers(dc.layers, spec))
    d_model.build((None, x.shape[1]))
    d_model.set_weights(start)
    d_model.compile(getattr(dc.optimizers, name)(**kwargs), spec["loss"], metrics=["accuracy"])
    d_hist = d_model.fit(
        x, y, epochs=epochs, batch_size=batch_size, shuffle=False, verbose=0, **fit_args
    ).history
    return k_hist, d_hist


def main():
    worst = 0.0
    for title, spec in CASES.items():
        k_hist, d_hist = run_case(spec)
        print(
            f"\n{title}\n{'epoch':>5} {'keras loss':>12} {'densecore':>12} {'rel diff':>10} "
            f"{'keras acc':>10} {'dc acc':>8}"
        )
        for e, (kl, dl, ka, da) in enumerate(
            zip(k_hist["loss"], d_hist["loss"], k_hist["accuracy"], d_hist["accuracy"]), 1
        ):
            rel = abs(dl - kl) / abs(kl)
            worst = max(worst, rel)
            print(f"{e:>5} {kl:>12.6f} {dl:>12.6f} {rel:>10.2e} {ka:>10.4f} {da:>8.4f}")
    print(f"\nlargest relative loss difference: {worst:.2e} (target ≤ 1e-3)")


if __name__ == "__main__":
    main()
