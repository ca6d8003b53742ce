"""Keras guide "Writing your own callbacks" (keras-team/keras-io,
guides/writing_your_own_callbacks.py, Keras 3 version), ported to densecore.

Changes from the guide, and only these:
- the import: `import densecore as dc` where the guide has `import keras` (`keras.` -> `dc.`);
- the data: the bundled digits (`dc.datasets.load_digits()`: 64 features with values 0..16)
  instead of MNIST (784 features, 0..255), so `784` becomes `64` and `/ 255.0` becomes `/ 16.0`;
  the guide's own limit of 1000 samples is kept (digits has 1438 training and 359 test samples);
- `np.Inf` (removed in NumPy 2) is written `np.inf`;
- the guide's prints become assertions (the log keys each hook sees, that training stops,
  that the learning rate follows the schedule).

The sections "Introduction", "Keras callbacks overview", "An overview of callback methods",
"Usage of `self.model` attribute" and "Built-in Keras callbacks" are prose without code.
"""

import numpy as np
import pytest

import densecore as dc


# ---- A basic example ---------------------------------------------------------------------
# Define the Keras model to add callbacks to
def get_model():
    model = dc.Sequential()
    model.add(dc.layers.Dense(1))
    model.compile(
        optimizer=dc.optimizers.RMSprop(learning_rate=0.1),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    return model


@pytest.fixture
def data():
    # Load example digits data and pre-process it (MNIST in the guide)
    (x_train, y_train), (x_test, y_test) = dc.datasets.load_digits()
    x_train = x_train.reshape(-1, 64).astype("float32") / 16.0
    x_test = x_test.reshape(-1, 64).astype("float32") / 16.0

    # Limit the data to 1000 samples
    x_train = x_train[:1000]
    y_train = y_train[:1000]
    x_test = x_test[:1000]
    y_test = y_test[:1000]
    return x_train, y_train, x_test, y_test


class CustomCallback(dc.callbacks.Callback):
    """The guide's callback, recording (hook, argument, log keys) where the guide prints them."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def _log(self, hook, logs, arg=None):
        keys = list(logs.keys())
        self.calls.append((hook, arg, keys))

    def on_train_begin(self, logs=None):
        self._log("train_begin", logs)

    def on_train_end(self, logs=None):
        self._log("train_end", logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._log("epoch_begin", logs, epoch)

    def on_epoch_end(self, epoch, logs=None):
        self._log("epoch_end", logs, epoch)

    def on_test_begin(self, logs=None):
        self._log("test_begin", logs)

    def on_test_end(self, logs=None):
        self._log("test_end", logs)

    def on_predict_begin(self, logs=None):
        self._log("predict_begin", logs)

    def on_predict_end(self, logs=None):
        self._log("predict_end", logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._log("train_batch_begin", logs, batch)

    def on_train_batch_end(self, batch, logs=None):
        self._log("train_batch_end", logs, batch)

    def on_test_batch_begin(self, batch, logs=None):
        self._log("test_batch_begin", logs, batch)

    def on_test_batch_end(self, batch, logs=None):
        self._log("test_batch_end", logs, batch)

    def on_predict_batch_begin(self, batch, logs=None):
        self._log("predict_batch_begin", logs, batch)

    def on_predict_batch_end(self, batch, logs=None):
        self._log("predict_batch_end", logs, batch)


def test_a_basic_example(data):
    x_train, y_train, x_test, y_test = data
    model = get_model()
    fit_cb = CustomCallback()
    model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=1,
        verbose=0,
        validation_split=0.5,
        callbacks=[fit_cb],
    )
    eval_cb = CustomCallback()
    res = model.evaluate(x_test, y_test, batch_size=128, verbose=0, callbacks=[eval_cb])
    predict_cb = CustomCallback()
    res = model.predict(x_test, batch_size=128, callbacks=[predict_cb])
    assert res.shape == (len(x_test), 1)

    # What the guide's output shows: 500 training samples in 4 batches, then validation.
    hooks = [hook for hook, _, _ in fit_cb.calls]
    assert hooks[:2] == ["train_begin", "epoch_begin"]
    assert hooks[2:10] == ["train_batch_begin", "train_batch_end"] * 4
    assert hooks[10] == "test_begin" and hooks[-3:] == ["test_end", "epoch_end", "train_end"]
    assert fit_cb.calls[0][2] == []  # "Starting training; got log keys: []"
    train_batch_end_keys = [keys for hook, _, keys in fit_cb.calls if hook == "train_batch_end"]
    assert all(set(keys) == {"loss", "mean_absolute_error"} for keys in train_batch_end_keys)
    (epoch_end_keys,) = [keys for hook, _, keys in fit_cb.calls if hook == "epoch_end"]
    assert set(epoch_end_keys) == {"loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"}

    hooks = [hook for hook, _, _ in eval_cb.calls]
    assert hooks == ["test_begin"] + ["test_batch_begin", "test_batch_end"] * 3 + ["test_end"]
    assert set(eval_cb.calls[-1][2]) == {"loss", "mean_absolute_error"}

    hooks = [hook for hook, _, _ in predict_cb.calls]
    assert hooks == ["predict_begin"] + ["predict_batch_begin", "predict_batch_end"] * 3 + ["predict_end"]
    assert [keys for hook, _, keys in predict_cb.calls if hook == "predict_batch_end"] == [["outputs"]] * 3


# ---- Usage of `logs` dict ----------------------------------------------------------------
class LossAndErrorPrintingCallback(dc.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batch_losses, self.test_batch_losses, self.epochs = [], [], []

    def on_train_batch_end(self, batch, logs=None):
        self.batch_losses.append(logs["loss"])  # "Up to batch {}, the average loss is {:7.2f}."

    def on_test_batch_end(self, batch, logs=None):
        self.test_batch_losses.append(logs["loss"])

    def on_epoch_end(self, epoch, logs=None):
        # "The average loss for epoch {} is {:7.2f} and mean absolute error is {:7.2f}."
        self.epochs.append((epoch, logs["loss"], logs["mean_absolute_error"]))


def test_usage_of_logs_dict(data):
    x_train, y_train, x_test, y_test = data
    model = get_model()
    cb = LossAndErrorPrintingCallback()
    model.fit(
        x_train,
        y_train,
        batch_size=128,
        epochs=2,
        verbose=0,
        callbacks=[cb],
    )

    eval_cb = LossAndErrorPrintingCallback()
    res = model.evaluate(
        x_test,
        y_test,
        batch_size=128,
        verbose=0,
        callbacks=[eval_cb],
    )
    assert len(cb.batch_losses) == 2 * 8  # 1000 samples in batches of 128, two epochs
    assert [epoch for epoch, _, _ in cb.epochs] == [0, 1]
    # the epoch's loss is the running average the last batch reported
    assert cb.epochs[0][1] == pytest.approx(cb.batch_losses[7])
    assert cb.epochs[1][1] < cb.epochs[0][1]  # the guide's log: the loss goes down
    assert len(eval_cb.test_batch_losses) == 3
    assert eval_cb.test_batch_losses[-1] == pytest.approx(res[0] if isinstance(res, list) else res)


# ---- Examples of Keras callback applications: Early stopping at minimum loss -------------
class EarlyStoppingAtMinLoss(dc.callbacks.Callback):
    """Stop training when the loss is at its min, i.e. the loss stops decreasing.

    Arguments:
        patience: Number of epochs to wait after min has been hit. After this
        number of no improvement, training stops.
    """

    def __init__(self, patience=0):
        super().__init__()
        self.patience = patience
        # best_weights to store the weights at which the minimum loss occurs.
        self.best_weights = None

    def on_train_begin(self, logs=None):
        # The number of epoch it has waited when loss is no longer minimum.
        self.wait = 0
        # The epoch the training stops at.
        self.stopped_epoch = 0
        # Initialize the best as infinity.
        self.best = np.inf  # np.Inf in the guide

    def on_epoch_end(self, epoch, logs=None):
        current = logs.get("loss")
        if np.less(current, self.best):
            self.best = current
            self.wait = 0
            # Record the best weights if current results is better (less).
            self.best_weights = self.model.get_weights()
        else:
            self.wait += 1
            if self.wait >= self.patience:
                self.stopped_epoch = epoch
                self.model.stop_training = True
                print("Restoring model weights from the end of the best epoch.")
                self.model.set_weights(self.best_weights)

    def on_train_end(self, logs=None):
        if self.stopped_epoch > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")


def test_early_stopping_at_minimum_loss(data):
    x_train, y_train, _, _ = data
    model = get_model()
    stopper = EarlyStoppingAtMinLoss()
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=30,
        verbose=0,
        callbacks=[LossAndErrorPrintingCallback(), stopper],
    )
    losses = history.history["loss"]
    # The guide's run stops early (at epoch 4 of 30 in its log); ours must stop too, right
    # after the first epoch whose loss did not improve, with the best weights restored.
    assert stopper.stopped_epoch > 0
    assert len(losses) == stopper.stopped_epoch + 1 < 30
    assert losses[-1] >= min(losses[:-1])
    for restored, best in zip(model.get_weights(), stopper.best_weights):
        np.testing.assert_array_equal(restored, best)


# ---- Examples of Keras callback applications: Learning rate scheduling -------------------
class CustomLearningRateScheduler(dc.callbacks.Callback):
    """Learning rate scheduler which sets the learning rate according to schedule.

    Arguments:
        schedule: a function that takes an epoch index
            (integer, indexed from 0) and current learning rate
            as inputs and returns a new learning rate as output (float).
    """

    def __init__(self, schedule):
        super().__init__()
        self.schedule = schedule
        self.seen = []

    def on_epoch_begin(self, epoch, logs=None):
        if not hasattr(self.model.optimizer, "learning_rate"):
            raise ValueError('Optimizer must have a "learning_rate" attribute.')
        # Get the current learning rate from model's optimizer.
        lr = self.model.optimizer.learning_rate
        # Call schedule function to get the scheduled learning rate.
        scheduled_lr = self.schedule(epoch, lr)
        # Set the value back to the optimizer before this epoch starts
        self.model.optimizer.learning_rate = scheduled_lr
        self.seen.append(float(np.array(scheduled_lr)))  # "Epoch {epoch}: Learning rate is ..."


LR_SCHEDULE = [
    # (epoch to start, learning rate) tuples
    (3, 0.05),
    (6, 0.01),
    (9, 0.005),
    (12, 0.001),
]


def lr_schedule(epoch, lr):
    """Helper function to retrieve the scheduled learning rate based on epoch."""
    if epoch < LR_SCHEDULE[0][0] or epoch > LR_SCHEDULE[-1][0]:
        return lr
    for i in range(len(LR_SCHEDULE)):
        if epoch == LR_SCHEDULE[i][0]:
            return LR_SCHEDULE[i][1]
    return lr


def test_learning_rate_scheduling(data):
    x_train, y_train, _, _ = data
    model = get_model()
    scheduler = CustomLearningRateScheduler(lr_schedule)
    history = model.fit(
        x_train,
        y_train,
        batch_size=64,
        epochs=15,
        verbose=0,
        callbacks=[
            LossAndErrorPrintingCallback(),
            scheduler,
        ],
    )
    # The guide prints the rate at each epoch: 0.1 three times, then the schedule's steps.
    expected = [0.1] * 3 + [0.05] * 3 + [0.01] * 3 + [0.005] * 3 + [0.001] * 3
    np.testing.assert_allclose(scheduler.seen, expected, rtol=1e-6)
    assert float(np.array(model.optimizer.learning_rate)) == pytest.approx(0.001)
    assert len(history.history["loss"]) == 15
