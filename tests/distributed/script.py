"""The script tests/distributed/test_distributed.py launches, alone or under mpiexec.

    python script.py OUT [--mode M] [--no-init]

Trains a small tanh model (uneven splits over 2 or 3 ranks: 50 samples, global batch 16, so
the last batch of 2 leaves a rank of 3 without a sample) and writes, per rank, its weights
and history to OUT/rank<r>.npz, a checkpoint and a CSV log named by rank (only rank 0's must
exist), and predict's and evaluate's outputs. Modes other than "train" make a rank fail or
give bad input; "functional" trains a model of two inputs and two outputs instead.
"""

import argparse
import json
import os
import signal
import sys

import numpy as np

import densecore as dc

parser = argparse.ArgumentParser()
parser.add_argument("out")
parser.add_argument("--mode", default="train")
parser.add_argument("--no-init", action="store_true", help="a plain fit: no initialize()")
args = parser.parse_args()

if not args.no_init:
    dc.distribution.initialize()
if args.mode == "twice":
    dc.distribution.initialize()
rank, ranks = dc.distribution.rank(), dc.distribution.size()

rng = np.random.default_rng(1)
samples = 48 if args.mode == "samples" and rank == 1 else 50
x = rng.standard_normal((samples, 6)).astype(np.float32)
y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)

dc.set_seed(rank)  # seeded differently: fit starts every rank from rank 0's weights and stream
units = 9 if args.mode == "arch" and rank == 1 else 8
fit_weights = None
if args.mode == "functional":  # two inputs, two outputs, a loss and a sample weight per output
    a, b = dc.Input((4,), name="a"), dc.Input((2,), name="b")
    joined = dc.layers.Concatenate()([dc.layers.Dense(units, activation="tanh")(a), b])
    classes = dc.layers.Dense(3, activation="softmax", name="classes")(joined)
    value = dc.layers.Dense(1, name="value")(joined)
    model = dc.Model([a, b], [classes, value])
    model.compile(
        dc.optimizers.Adam(0.01),
        ["sparse_categorical_crossentropy", "mse"],
        loss_weights=[1.0, 0.5],
        weighted_metrics=[["accuracy"], ["mae"]],
    )
    x, y = [x[:, :4], x[:, 4:]], [y, x[:, :1] * x[:, 1:2]]
    fit_weights = [np.linspace(0.5, 1.5, samples), None]
else:
    model = dc.Sequential(
        [
            dc.layers.Dense(
                units,
                activation="tanh",
                kernel_regularizer=dc.regularizers.L2(1e-3),
                activity_regularizer=dc.regularizers.L2(1e-3),
                input_shape=(6,),
            ),
            dc.layers.Dense(3, activation="softmax"),
        ]
    )
    model.compile(dc.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])


class Fail(dc.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if rank != 1 or self.model.optimizer.iterations < 3:
            return
        if args.mode == "raise":
            raise RuntimeError("rank 1 fails on purpose")
        if args.mode == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if args.mode == "exit":
            sys.exit(0)


callbacks = [
    dc.callbacks.ModelCheckpoint(os.path.join(args.out, f"ckpt-rank{rank}.dc")),
    dc.callbacks.CSVLogger(os.path.join(args.out, f"log-rank{rank}.csv")),
    Fail(),
]
epochs = 200 if args.mode in ("raise", "kill", "exit") else 3
history = model.fit(
    x,
    y,
    batch_size=1 if args.mode == "batch" else 16,
    epochs=epochs,
    validation_split=0.2,
    callbacks=callbacks,
    sample_weight=fit_weights,
    verbose=0,
)
predicted = model.predict(x, batch_size=7)
predicted = np.concatenate(predicted, axis=1) if isinstance(predicted, list) else predicted
evaluated = model.evaluate(x, y, batch_size=7)
np.savez(
    os.path.join(args.out, f"rank{rank}.npz"),
    *model.get_weights(),
    predicted=predicted,
    evaluated=np.array(evaluated),
)
with open(os.path.join(args.out, f"history{rank}.json"), "w") as file:
    json.dump({"ranks": ranks, "history": history.history}, file)
