"""Keras 3's own callback tests, ported: each test names the Keras test it comes from
(keras-team/keras, keras/src/callbacks/<file>::<class>::<test>) and carries over its data
shapes, arguments and expected values. Our own code; Keras is not needed to run them.

Where densecore differs on purpose, the test says so: a NaN or infinite loss stops fit by
itself, keeping the weights of the last good step (so values computed after it, such as a
val_loss, stay finite where Keras's become NaN); an unknown `mode` is refused rather than
replaced by "auto". Not ported: ModelCheckpoint's save_freq (batch-level saving) and the
cases that need metrics densecore lacks (AUC, F1Score, hinge) unless they exist.
"""

import csv
import math
import os
import warnings

import numpy as np
import pytest
from densecore.layers import Dense

import densecore as dc
from densecore import callbacks
from densecore.nn import schedules

# ---- Keras's test helpers, rewritten --------------------------------------------------------


def get_test_data(train_samples, test_samples, input_shape, num_classes, random_seed=0):
    """keras/src/testing/test_utils.py::get_test_data: class templates plus unit noise,
    split evenly by class."""
    rng = np.random.default_rng(random_seed)
    total = train_samples + test_samples
    y = np.arange(total) % num_classes
    templates = 2 * num_classes * rng.random((num_classes, *input_shape))
    x = (templates[y] + rng.normal(size=(total, *input_shape))).astype(np.float32)
    order = rng.permutation(total)
    x, y = x[order], y[order]
    return (x[:train_samples], y[:train_samples]), (x[train_samples:], y[train_samples:])


def constant_relu_stack(outputs):
    """5 × Dense(2, relu, kernel_initializer=Constant(1e5)) then Dense(outputs): the model
    whose loss overflows in csv_logger_test and terminate_on_nan_test."""
    model = dc.Sequential([Dense(2, activation="relu") for _ in range(5)] + [Dense(outputs)])
    model.build((None, 3))
    weights = model.get_weights()
    for i in range(0, 10, 2):
        weights[i] = np.full_like(weights[i], 1e5)
    model.set_weights(weights)
    return model


def keras_schedule():
    """The schedule Keras's "throws when optimizer has schedule" tests use: PolynomialDecay
    where densecore has it, else another schedule (the rule is the same for all)."""
    if hasattr(schedules, "PolynomialDecay"):
        return schedules.PolynomialDecay(initial_learning_rate=0.1, decay_steps=10)
    return schedules.ExponentialDecay(0.1, decay_steps=10, decay_rate=0.9)


def float32(value):
    """Keras keeps the learning rate in a float32 variable: compare there."""
    return np.float32(value)


# ---- early_stopping_test.py -----------------------------------------------------------------


def monitored_model():
    """early_stopping_test's and monitor_callback_test's model and data; its metrics include
    "hinge" and F1Score where densecore has them."""
    rng = np.random.default_rng(0)
    data = rng.random((10, 5)), rng.random((10, 1)), rng.random((10, 5)), rng.random((10, 1))
    model = dc.Sequential([Dense(1, activation="relu"), Dense(1, activation="relu")])
    cases = [
        ("max", "val_mse", "max"),
        ("min", "val_loss", "min"),
        ("auto", "val_mse", "min"),
        ("auto", "loss", "min"),
        ("auto", "acc", "max"),
        ("auto", "val_accuracy", "max"),
    ]
    metrics = ["mse", "acc", "accuracy"]
    try:
        extra = [dc.metrics.get("hinge"), dc.metrics.F1Score(name="f1_score")]
    except (ValueError, AttributeError):  # not (yet) in densecore
        extra = []
    if extra:
        metrics += extra
        cases += [("auto", "hinge", "min"), ("auto", "f1_score", "max")]
    model.compile(loss="mae", optimizer="adam", metrics=metrics)
    return model, data, cases


def test_early_stopping_direction_by_mode_and_unknown_monitor():
    """early_stopping_test.py::EarlyStoppingTest::test_early_stopping."""
    model, (x_train, y_train, x_test, y_test), cases = monitored_model()
    for mode, monitor, expected in cases:
        stopper = callbacks.EarlyStopping(patience=0, monitor=monitor, mode=mode)
        model.fit(
            x_train,
            y_train,
            batch_size=5,
            validation_data=(x_test, y_test),
            callbacks=[stopper],
            epochs=2,
            verbose=0,
        )
        assert stopper.monitor_op is (np.greater if expected == "max" else np.less), monitor
    with pytest.raises(ValueError, match="monitor='unknown'"):
        model.fit(
            x_train,
            y_train,
            batch_size=5,
            validation_data=(x_test, y_test),
            callbacks=[callbacks.EarlyStopping(patience=0, monitor="unknown")],
            epochs=2,
            verbose=0,
        )


@pytest.mark.parametrize("patience", [0, 1, 2, 3])
def test_early_stopping_patience(patience):
    """early_stopping_test.py::EarlyStoppingTest::test_early_stopping_patience: Keras stops
    at epochs 3, 3, 4, 5."""
    losses = [10.0, 9.0, 8.0, 9.0, 8.9, 8.8, 8.7, 8.6, 8.5]
    stopper = callbacks.EarlyStopping(monitor="loss", patience=patience)
    stopper.set_model(dc.Sequential())
    stopper.model.compile(loss="mse", optimizer="sgd")
    stopper.on_train_begin()
    for epoch, loss in enumerate(losses):
        stopper.on_epoch_end(epoch=epoch, logs={"loss": loss})
        if stopper.model.stop_training:
            break
    assert stopper.stopped_epoch == max(patience, 1) + 2


def test_early_stopping_reuse():
    """early_stopping_test.py::EarlyStoppingTest::test_early_stopping_reuse."""
    patience = 3
    data = np.random.default_rng(0).random((100, 1))
    labels = np.where(data > 0.5, 1, 0)
    model = dc.Sequential([Dense(1, activation="relu"), Dense(1, activation="relu")])
    model.compile(optimizer="sgd", loss="mae", metrics=["mse"])
    stopper = callbacks.EarlyStopping(monitor="mse", patience=patience)
    history1 = model.fit(data, labels, callbacks=[stopper], verbose=0, epochs=20)
    assert len(history1.epoch) >= patience
    history2 = model.fit(data, labels, callbacks=[stopper], verbose=0, epochs=20)
    assert len(history2.epoch) >= patience


def test_early_stopping_state_reset_across_fit_calls():
    """early_stopping_test.py::EarlyStoppingTest::test_state_reset_across_fit_calls."""
    stopper = callbacks.EarlyStopping(monitor="loss", patience=3)
    stopper.set_model(dc.Sequential())
    stopper.on_train_begin()
    stopper.best, stopper.wait, stopper.stopped_epoch = 0.1, 3, 5
    stopper.best_epoch, stopper.best_weights = 5, object()
    stopper.on_train_begin()
    assert stopper.best is None
    assert stopper.wait == 0 and stopper.stopped_epoch == 0 and stopper.best_epoch == 0
    assert stopper.best_weights is None


def test_early_stopping_with_baseline():
    """early_stopping_test.py::EarlyStoppingTest::test_early_stopping_with_baseline."""
    rng = np.random.default_rng(0)
    x_train, y_train = rng.random((10, 5)), rng.random((10, 1))
    model = dc.Sequential([Dense(1, activation="relu"), Dense(1, activation="relu")])
    model.compile(optimizer="sgd", loss="mae", metrics=["mse"])
    patience = 3
    stopper = callbacks.EarlyStopping(monitor="mse", patience=patience, baseline=0.6)
    history = model.fit(x_train, y_train, callbacks=[stopper], verbose=0, epochs=20)
    assert len(history.epoch) >= patience


class DummyModel:
    """early_stopping_test.py's stand-in: its "weights" are the epoch number."""

    def __init__(self):
        self.stop_training = False
        self.weights = -1

    def get_weights(self):
        return self.weights

    def set_weights(self, weights):
        self.weights = weights

    def set_weight_to_epoch(self, epoch):
        self.weights = epoch


def run_dummy(stopper, losses, stop_at=None):
    """The loop of test_early_stopping_final_weights_when_restoring_model_weights: the
    epochs trained and the weights left."""
    stopper.set_model(DummyModel())
    stopper.on_train_begin()
    trained = 0
    for epoch, loss in enumerate(losses):
        trained += 1
        stopper.model.set_weight_to_epoch(epoch=epoch)
        stopper.on_epoch_end(epoch, logs={"val_loss": loss})
        if epoch == stop_at:
            stopper.model.stop_training = True  # another callback asks to stop
        if stopper.model.stop_training:
            break
    stopper.on_train_end()
    return trained, stopper.model.get_weights()


def test_early_stopping_final_weights_when_restoring_model_weights():
    """early_stopping_test.py::EarlyStoppingTest::
    test_early_stopping_final_weights_when_restoring_model_weights: Keras 3 restores the
    best epoch's weights whether or not EarlyStopping stopped training, baseline or not."""
    stopper = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    _, weights = run_dummy(stopper, [0.2, 0.15, 0.1, 0.11, 0.12])
    assert weights == 2
    # no epoch beats the baseline: train for `patience` epochs, restore the best of them
    stopper = callbacks.EarlyStopping(monitor="val_loss", patience=5, baseline=0.5, restore_best_weights=True)
    trained, weights = run_dummy(stopper, [0.9, 0.8, 0.7, 0.71, 0.72, 0.73])
    assert trained == 5 and weights == 2
    # another callback stops training: the best weights are restored all the same
    stopper = callbacks.EarlyStopping(monitor="val_loss", patience=5, baseline=0.5, restore_best_weights=True)
    trained, weights = run_dummy(stopper, [0.9, 0.8, 0.7, 0.71, 0.72, 0.73], stop_at=3)
    assert trained == 4 and weights == 2


def test_early_stopping_with_start_from_epoch():
    """early_stopping_test.py::EarlyStoppingTest::test_early_stopping_with_start_from_epoch."""
    rng = np.random.default_rng(0)
    x_train, y_train = rng.random((10, 5)), rng.random((10, 1))
    model = dc.Sequential([Dense(1, activation="relu"), Dense(1, activation="relu")])
    model.compile(optimizer="sgd", loss="mae", metrics=["mse"])
    for start_from_epoch, patience in [(2, 3), (2, 0)]:
        stopper = callbacks.EarlyStopping(monitor="mse", patience=patience, start_from_epoch=start_from_epoch)
        history = model.fit(x_train, y_train, callbacks=[stopper], verbose=0, epochs=20)
        assert len(history.epoch) >= patience + start_from_epoch


# ---- monitor_callback_test.py ---------------------------------------------------------------


def test_monitor_op_logic():
    """monitor_callback_test.py::MonitorCallbackTest::test_monitor_op_logic."""
    model, (x_train, y_train, x_test, y_test), cases = monitored_model()
    for mode, monitor, expected in cases:
        monitor_callback = callbacks.MonitorCallback(monitor, mode)
        monitor_callback.set_model(model)
        model.fit(x_train, y_train, batch_size=5, validation_data=(x_test, y_test), epochs=2, verbose=0)
        monitor_callback._set_monitor_op()
        assert monitor_callback.monitor_op is (np.greater if expected == "max" else np.less), monitor
    monitor_callback = callbacks.MonitorCallback("unknown")
    monitor_callback.set_model(model)
    with pytest.raises(ValueError, match="monitor='unknown'"):
        monitor_callback._set_monitor_op()


def test_monitor_min_delta():
    """monitor_callback_test.py::MonitorCallbackTest::test_min_delta."""
    monitor_callback = callbacks.MonitorCallback(mode="max", min_delta=0.5)
    monitor_callback._set_monitor_op()
    assert monitor_callback._is_improvement(0.75, 0)
    assert monitor_callback._is_improvement(0.5, None)
    assert not monitor_callback._is_improvement(0.5, 0)
    assert not monitor_callback._is_improvement(0.2, 0.5)


# ---- learning_rate_scheduler_test.py --------------------------------------------------------


@pytest.fixture
def lr_setup():
    """LearningRateSchedulerTest.setUp: 10 samples of 3 features, 2 classes one-hot."""
    (x_train, y_train), _ = get_test_data(10, 10, (3,), 2)
    model = dc.Sequential([Dense(5), Dense(2)])
    model.compile(loss="mse", optimizer="sgd")
    return model, x_train, dc.utils.to_categorical(y_train, 2)


def test_lr_scheduler_updates_learning_rate_with_a_one_argument_schedule(lr_setup):
    """learning_rate_scheduler_test.py::LearningRateSchedulerTest::test_updates_learning_rate."""
    model, x, y = lr_setup
    scheduler = callbacks.LearningRateScheduler(lambda step: 1.0 / (2.0 + step), verbose=1)
    model.fit(x, y, callbacks=[scheduler], epochs=1, verbose=0)
    assert model.optimizer.learning_rate == 0.5


def test_lr_scheduler_verbose_logging(lr_setup, capsys):
    """learning_rate_scheduler_test.py::LearningRateSchedulerTest::test_verbose_logging."""
    model, x, y = lr_setup
    scheduler = callbacks.LearningRateScheduler(lambda step: 1.0 / (1.0 + step), verbose=1)
    model.fit(x, y, callbacks=[scheduler], epochs=1, verbose=0)
    assert "LearningRateScheduler setting learning rate to 1.0" in capsys.readouterr().out


def test_lr_scheduler_schedule_dependent_on_previous_learning_rate(lr_setup):
    """learning_rate_scheduler_test.py::LearningRateSchedulerTest::
    test_schedule_dependent_on_previous_learning_rate."""
    model, x, y = lr_setup
    scheduler = callbacks.LearningRateScheduler(lambda step, lr: lr / 2)
    model.compile(loss="mse", optimizer=dc.optimizers.Adam(0.03))
    model.fit(x, y, callbacks=[scheduler], epochs=2, verbose=0)
    assert float32(model.optimizer.learning_rate) == float32(0.03 / 4.0)


def test_lr_scheduler_throws_when_optimizer_has_schedule(lr_setup):
    """learning_rate_scheduler_test.py::LearningRateSchedulerTest::
    test_throws_when_optimizer_has_schedule."""
    model, x, y = lr_setup
    scheduler = callbacks.LearningRateScheduler(lambda step, lr: lr / 2)
    schedule = keras_schedule()
    model.compile(loss="mse", optimizer=dc.optimizers.Adam(schedule))
    with pytest.raises(TypeError, match="This optimizer was created with a `LearningRateSchedule`"):
        model.fit(x, y, callbacks=[scheduler], epochs=2, verbose=0)
    assert model.optimizer.learning_rate is schedule  # not replaced


def test_lr_scheduler_learning_rate_in_history(lr_setup):
    """learning_rate_scheduler_test.py::LearningRateSchedulerTest::test_learning_rate_in_history."""
    model, x, y = lr_setup
    scheduler = callbacks.LearningRateScheduler(lambda step, lr: 0.5)
    history = model.fit(x, y, callbacks=[scheduler], epochs=1, verbose=0)
    assert "learning_rate" in history.history
    assert type(history.history["learning_rate"][0]) is float
    assert history.history["learning_rate"][0] == 0.5


def test_lr_scheduler_docstring_example():
    """keras/src/callbacks/learning_rate_scheduler.py's docstring: SGD's 0.01 kept for ten
    epochs, then × exp(-0.1) per epoch: 0.00607 after 15 (inputs scaled so that SGD does not
    diverge, which would stop densecore's fit; targets (5, 10), as densecore's mse does not
    broadcast (5,) against the outputs)."""

    def scheduler(epoch, lr):
        return lr if epoch < 10 else lr * math.exp(-0.1)

    model = dc.Sequential([Dense(10)])
    model.compile(dc.optimizers.SGD(), loss="mse")
    assert round(model.optimizer.learning_rate, 5) == 0.01
    x = np.arange(100, dtype=np.float32).reshape(5, 20) / 100
    model.fit(
        x, np.zeros((5, 10)), epochs=15, callbacks=[callbacks.LearningRateScheduler(scheduler)], verbose=0
    )
    assert round(model.optimizer.learning_rate, 5) == 0.00607


def test_lr_scheduler_output_must_be_a_float(lr_setup):
    """learning_rate_scheduler.py: `ValueError` when the schedule returns no float."""
    model, x, y = lr_setup
    with pytest.raises(ValueError, match="should be a float"):
        model.fit(x, y, callbacks=[callbacks.LearningRateScheduler(lambda epoch: 1)], verbose=0)


# ---- csv_logger_test.py ---------------------------------------------------------------------


def test_csv_logger(tmp_path):
    """csv_logger_test.py::CSVLoggerTest::test_CSVLogger: the separator, append without a
    second header, reuse, and val_ columns with "NA" when validation_freq=3."""
    filepath = tmp_path / "log.tsv"
    sep = "\t"
    rng = np.random.default_rng(1337)
    x_train, y_train = rng.random((10, 3)), rng.random((10, 1))
    x_test, y_test = rng.random((10, 3)), rng.random((10, 1))

    def make_model():
        model = dc.Sequential([Dense(2, activation="relu"), Dense(1)])
        model.compile(loss="mse", optimizer="sgd", metrics=["mse"])
        return model

    def fit(model, cbks, epochs, **kwargs):
        return model.fit(
            x_train,
            y_train,
            batch_size=4,
            validation_data=(x_test, y_test),
            callbacks=cbks,
            epochs=epochs,
            verbose=0,
            **kwargs,
        )

    fit(make_model(), [callbacks.CSVLogger(filepath, separator=sep)], 1)  # case 1
    assert csv.Sniffer().sniff(filepath.read_text()).delimiter == sep
    model = make_model()  # case 2: append, no second header
    cbks = [callbacks.CSVLogger(filepath, separator=sep, append=True)]
    fit(model, cbks, 1)
    fit(model, cbks, 2)  # case 3: the same logger again
    lines = filepath.read_text().splitlines(keepends=True)
    assert all(line.count(sep) == 4 for line in lines)
    assert len(lines) == 5 and " ".join(lines).count("epoch") == 1
    os.remove(filepath)
    history = fit(make_model(), [callbacks.CSVLogger(filepath, separator=sep)], 5, validation_freq=3)
    with open(filepath) as file:
        rows = list(csv.DictReader(file, delimiter=sep))
    for index, row in enumerate(rows, 1):
        assert "val_loss" in row
        expected = str(history.history["val_loss"][0]) if index == 3 else "NA"
        assert row["val_loss"] == expected


def test_csv_logger_stop_training(tmp_path):
    """csv_logger_test.py::CSVLoggerTest::test_stop_training_csv: with TerminateOnNaN the
    file stays valid and the diverged epoch is logged as non-finite (Keras's row holds nan,
    from a val_loss on NaN weights; densecore keeps the last good weights, so the loss is
    logged as inf and the val_loss stays finite)."""
    path = tmp_path / "csv_logger.csv"
    (x_train, y_train), (x_test, y_test) = get_test_data(10, 10, (3,), 2)
    y_train, y_test = dc.utils.to_categorical(y_train, 2), dc.utils.to_categorical(y_test, 2)
    model = constant_relu_stack(2)
    model.compile(loss="mean_squared_error", optimizer="sgd")
    with pytest.warns(RuntimeWarning, match="loss became"):
        history = model.fit(
            x_train,
            y_train,
            batch_size=4,
            validation_data=(x_test, y_test),
            callbacks=[callbacks.TerminateOnNaN(), callbacks.CSVLogger(path)],
            epochs=20,
            verbose=0,
        )
    loss = history.history["loss"]
    assert len(loss) == 1 and not math.isfinite(loss[0])
    with open(path) as file:
        values = [row for row in csv.reader(file) if row]
    assert values[0] == ["epoch", "loss", "val_loss"]
    assert values[-1][1] in ("nan", "inf")


# ---- terminate_on_nan_test.py ---------------------------------------------------------------


def test_terminate_on_nan():
    """terminate_on_nan_test.py::TerminateOnNaNTest::test_TerminateOnNaN."""
    (x_train, y_train), (x_test, y_test) = get_test_data(10, 10, (3,), 2)
    y_train, y_test = dc.utils.to_categorical(y_train, 2), dc.utils.to_categorical(y_test, 2)
    model = constant_relu_stack(2)
    model.compile(loss="mean_squared_error", optimizer="sgd")
    with pytest.warns(RuntimeWarning):
        history = model.fit(
            x_train,
            y_train,
            batch_size=4,
            validation_data=(x_test, y_test),
            callbacks=[callbacks.TerminateOnNaN()],
            epochs=20,
            verbose=0,
        )
    loss = history.history["loss"]
    assert len(loss) == 1 and (np.isnan(loss[0]) or np.isinf(loss[0]))


def one_unit_model():
    model = dc.Sequential([Dense(1, input_shape=(1,))])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_terminate_on_nan_graceful_stop():
    """terminate_on_nan_test.py::TerminateOnNaNTest::test_terminate_on_nan_graceful_stop:
    infinite targets train (as in Keras) and the callback stops training."""
    x, y = np.array([[1.0], [2.0]]), np.array([[np.inf], [np.inf]])
    with pytest.warns(RuntimeWarning):
        history = one_unit_model().fit(
            x, y, epochs=2, batch_size=1, callbacks=[callbacks.TerminateOnNaN(raise_error=False)], verbose=0
        )
    assert len(history.history["loss"]) < 4


def test_terminate_on_nan_raise_error_raises_error():
    """terminate_on_nan_test.py::TerminateOnNaNTest::test_terminate_on_nan_raise_error_raises_error."""
    x, y = np.array([[1.0], [2.0]]), np.array([[np.inf], [np.inf]])
    with pytest.raises(RuntimeError, match="NaN or Inf loss encountered"):
        one_unit_model().fit(
            x, y, epochs=1, batch_size=1, callbacks=[callbacks.TerminateOnNaN(raise_error=True)], verbose=0
        )


def test_terminate_on_nan_raise_error_does_not_trigger_on_train_end():
    """terminate_on_nan_test.py::TerminateOnNaNTest::
    test_raise_error_terminate_does_not_trigger_on_train_end."""

    class TrackingCallback(callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.train_end_called = False

        def on_train_end(self, logs=None):
            self.train_end_called = True

    tracking = TrackingCallback()
    with pytest.raises(RuntimeError):
        one_unit_model().fit(
            np.array([[1.0]]),
            np.array([[np.inf]]),
            epochs=1,
            callbacks=[tracking, callbacks.TerminateOnNaN(raise_error=True)],
            verbose=0,
        )
    assert not tracking.train_end_called


@pytest.mark.parametrize("raise_error", [False, True])
def test_terminate_on_nan_normal_training_does_not_raise(raise_error):
    """terminate_on_nan_test.py::TerminateOnNaNTest::test_normal_training_does_not_raise."""
    x = y = np.array([[1.0], [2.0]])
    callback = callbacks.TerminateOnNaN(raise_error=raise_error)
    history = one_unit_model().fit(x, y, epochs=2, callbacks=[callback], verbose=0)
    assert len(history.history["loss"]) == 2


def test_terminate_on_nan_raise_error_stops_on_later_batch():
    """terminate_on_nan_test.py::TerminateOnNaNTest::test_raise_error_terminate_stops_on_later_batch."""
    x, y = np.array([[1.0], [2.0]]), np.array([[1.0], [np.inf]])
    with pytest.raises(RuntimeError) as info:
        one_unit_model().fit(
            x, y, epochs=1, batch_size=1, callbacks=[callbacks.TerminateOnNaN(raise_error=True)], verbose=0
        )
    assert any(f"batch {i}" in str(info.value) for i in (0, 1))


# ---- model_checkpoint_test.py ---------------------------------------------------------------


@pytest.fixture
def checkpoint_setup():
    """ModelCheckpointTest's data: 30 + 30 samples, 3 features, 3 classes one-hot."""
    (x_train, y_train), (x_test, y_test) = get_test_data(30, 30, (3,), 3, random_seed=42)
    y_train, y_test = dc.utils.to_categorical(y_train, 3), dc.utils.to_categorical(y_test, 3)

    def get_model():
        model = dc.Sequential([Dense(5, activation="relu"), Dense(3, activation="softmax")])
        model.compile(
            loss="categorical_crossentropy",
            optimizer="sgd",
            metrics=[dc.metrics.CategoricalAccuracy("acc")],
        )
        return model

    def fit(model, cbks, epochs=1, batch_size=5):
        model.fit(
            x_train,
            y_train,
            batch_size=batch_size,
            validation_data=(x_test, y_test),
            callbacks=cbks,
            epochs=epochs,
            verbose=0,
        )

    return get_model, fit


def test_model_checkpoint_options(tmp_path, checkpoint_setup):
    """model_checkpoint_test.py::ModelCheckpointTest::test_model_checkpoint_options, cases
    1-6 and 11-15 (Keras's accuracy metric is CategoricalAccuracy here; save_freq, cases
    8-10, is not supported; case 15 runs where densecore has AUC)."""
    get_model, fit = checkpoint_setup
    model = get_model()
    filepath = str(tmp_path / "subdir" / "checkpoint.dc")  # the folder is created
    for monitor, save_best_only, mode in [
        ("val_loss", False, "auto"),  # case 1
        ("val_loss", False, "min"),  # case 2
        ("val_acc", False, "max"),  # case 3
        ("val_acc", True, "max"),  # case 4
    ]:
        cbk = callbacks.ModelCheckpoint(filepath, monitor=monitor, save_best_only=save_best_only, mode=mode)
        fit(model, [cbk])
        assert os.path.exists(filepath)
        os.remove(filepath)
    # case 5: a metric that is never logged: a warning, and the model is saved
    cbk = callbacks.ModelCheckpoint(filepath, monitor="unknown", save_best_only=True, mode="min")
    with pytest.warns(UserWarning, match="unknown"):
        fit(model, [cbk])
    assert os.path.exists(filepath)
    # case 6: an unknown mode (Keras warns and uses "auto"; densecore refuses it)
    with pytest.raises(ValueError, match="mode must be 'auto', 'min' or 'max'; received 'unknown'"):
        callbacks.ModelCheckpoint(filepath, monitor="val_acc", save_best_only=True, mode="unknown")
    # cases 11-14: initial_value_threshold
    filepath = str(tmp_path / "checkpoint.dc")
    for monitor, threshold, mode, saved in [
        ("val_acc", -0.01, "max", True),  # case 11
        ("val_loss", None, "auto", True),  # case 12
        ("val_loss", 0, "min", False),  # case 13
        ("val_loss", 0, "auto", False),  # case 14
    ]:
        cbk = callbacks.ModelCheckpoint(
            filepath, monitor=monitor, save_best_only=True, initial_value_threshold=threshold, mode=mode
        )
        fit(model, [cbk])
        assert os.path.exists(filepath) == saved, (monitor, threshold, mode)
        if saved:
            os.remove(filepath)
    if hasattr(dc.metrics, "AUC"):  # case 15: AUC was at its best (1) already, in auto mode
        cbk = callbacks.ModelCheckpoint(
            filepath, monitor="val_auc", save_best_only=True, initial_value_threshold=1, mode="auto"
        )
        model.compile(loss="categorical_crossentropy", optimizer="sgd", metrics=[dc.metrics.AUC()])
        fit(model, [cbk])
        assert not os.path.exists(filepath)


@pytest.mark.parametrize("save_weights_only", [False, True])
def test_model_checkpoint_loading(tmp_path, checkpoint_setup, save_weights_only):
    """model_checkpoint_test.py::ModelCheckpointTest::test_model_checkpoint_loading (a
    Sequential model for Keras's functional one)."""
    get_model, fit = checkpoint_setup
    model = get_model()
    filepath = str(tmp_path / ("checkpoint.weights.dc" if save_weights_only else "checkpoint.model.dc"))
    cbk = callbacks.ModelCheckpoint(
        filepath, monitor="val_loss", save_best_only=True, save_weights_only=save_weights_only, mode="auto"
    )
    fit(model, [cbk])
    reference = model.get_weights()
    assert os.path.exists(filepath)
    if save_weights_only:
        restored = get_model()
        restored.load_weights(filepath)
    else:
        restored = dc.load_model(filepath)
    weights = restored.get_weights()
    assert len(weights) == len(reference)
    for w, ref in zip(weights, reference):
        np.testing.assert_allclose(w, ref)


# ---- reduce_lr_on_plateau_test.py -----------------------------------------------------------


@pytest.fixture
def plateau_setup():
    """ReduceLROnPlateauTest.setUp: Dense(5), Dense(2), mse, Adam(0.1)."""
    (x_train, y_train), (x_test, y_test) = get_test_data(10, 10, (3,), 2)
    y_train, y_test = dc.utils.to_categorical(y_train, 2), dc.utils.to_categorical(y_test, 2)
    model = dc.Sequential([Dense(5), Dense(2)])
    model.compile(loss="mse", optimizer=dc.optimizers.Adam(0.1))

    def fit(cbk, epochs):
        model.fit(
            x_train, y_train, validation_data=(x_test, y_test), callbacks=[cbk], epochs=epochs, verbose=0
        )

    return model, fit


def test_reduce_lr_with_model_fit(plateau_setup):
    """reduce_lr_on_plateau_test.py::ReduceLROnPlateauTest::test_reduces_lr_with_model_fit."""
    model, fit = plateau_setup
    fit(callbacks.ReduceLROnPlateau(patience=1, factor=0.1, monitor="val_loss", min_delta=100), 2)
    assert float32(model.optimizer.learning_rate) == float32(0.01)


def test_reduce_lr_throws_when_optimizer_has_schedule(plateau_setup):
    """reduce_lr_on_plateau_test.py::ReduceLROnPlateauTest::test_throws_when_optimizer_has_schedule."""
    model, fit = plateau_setup
    model.compile(loss="mse", optimizer=dc.optimizers.Adam(keras_schedule()))
    with pytest.raises(TypeError, match="This optimizer was created with a `LearningRateSchedule`"):
        fit(callbacks.ReduceLROnPlateau(patience=1, factor=0.1, monitor="val_loss", min_delta=100), 2)


def test_reduce_lr_verbose_logging(plateau_setup, capsys):
    """reduce_lr_on_plateau_test.py::ReduceLROnPlateauTest::test_verbose_logging."""
    _, fit = plateau_setup
    fit(callbacks.ReduceLROnPlateau(patience=1, factor=0.1, monitor="val_loss", min_delta=100, verbose=1), 2)
    assert "ReduceLROnPlateau reducing learning rate to 0.01" in capsys.readouterr().out


def test_reduce_lr_honors_min_lr(plateau_setup):
    """reduce_lr_on_plateau_test.py::ReduceLROnPlateauTest::test_honors_min_lr."""
    model, fit = plateau_setup
    fit(
        callbacks.ReduceLROnPlateau(patience=1, factor=0.1, monitor="val_loss", min_delta=10, min_lr=0.005), 4
    )
    assert float32(model.optimizer.learning_rate) == float32(0.005)


def test_reduce_lr_cooldown(plateau_setup):
    """reduce_lr_on_plateau_test.py::ReduceLROnPlateauTest::test_cooldown: a cooldown of 2
    epochs reduces every other epoch, twice in 4."""
    model, fit = plateau_setup
    fit(callbacks.ReduceLROnPlateau(patience=1, factor=0.1, monitor="val_loss", min_delta=100, cooldown=2), 4)
    np.testing.assert_allclose(model.optimizer.learning_rate, 0.001, rtol=1e-6)


def test_reduce_lr_state_reset_across_fit_calls(plateau_setup):
    """reduce_lr_on_plateau_test.py::ReduceLROnPlateauTest::test_state_reset_across_fit_calls."""
    model, _ = plateau_setup
    reduce_lr = callbacks.ReduceLROnPlateau(patience=1, factor=0.1, monitor="loss", min_delta=0, cooldown=2)
    reduce_lr.set_model(model)
    reduce_lr.on_train_begin()
    reduce_lr.best, reduce_lr.wait, reduce_lr.cooldown_counter = 0.5, 3, 2
    reduce_lr.on_train_begin()
    assert reduce_lr.best is None and reduce_lr.wait == 0 and reduce_lr.cooldown_counter == 0


# ---- lambda_callback_test.py ----------------------------------------------------------------


@pytest.fixture
def lambda_setup():
    """LambdaCallbackTest's model: Input(2), Dense(1), SGD, MeanSquaredError; 16 samples."""
    rng = np.random.default_rng(0)
    model = dc.Sequential([dc.layers.InputLayer(shape=(2,)), Dense(1)])
    model.compile(optimizer=dc.optimizers.SGD(), loss=dc.losses.MeanSquaredError())
    return model, rng.standard_normal((16, 2)), rng.standard_normal((16, 1))


def test_lambda_callback(lambda_setup):
    """lambda_callback_test.py::LambdaCallbackTest::test_lambda_callback."""
    model, x, y = lambda_setup
    seen = []
    cbk = callbacks.LambdaCallback(
        on_train_begin=lambda logs: seen.append("on_train_begin"),
        on_epoch_begin=lambda epoch, logs: seen.append("on_epoch_begin"),
        on_epoch_end=lambda epoch, logs: seen.append("on_epoch_end"),
        on_train_end=lambda logs: seen.append("on_train_end"),
    )
    model.fit(x, y, batch_size=4, validation_split=0.2, callbacks=[cbk], epochs=5, verbose=0)
    assert {"on_train_begin", "on_epoch_begin", "on_epoch_end", "on_train_end"} <= set(seen)


def test_lambda_callback_with_batches(lambda_setup):
    """lambda_callback_test.py::LambdaCallbackTest::test_lambda_callback_with_batches."""
    model, x, y = lambda_setup
    seen = []
    cbk = callbacks.LambdaCallback(
        on_train_batch_begin=lambda batch, logs: seen.append("on_train_batch_begin"),
        on_train_batch_end=lambda batch, logs: seen.append("on_train_batch_end"),
    )
    model.fit(x, y, batch_size=4, validation_split=0.2, callbacks=[cbk], epochs=5, verbose=0)
    assert {"on_train_batch_begin", "on_train_batch_end"} <= set(seen)


def test_lambda_callback_with_kwargs(lambda_setup):
    """lambda_callback_test.py::LambdaCallbackTest::test_lambda_callback_with_kwargs: a
    hook given by name (on_test_begin) runs in evaluate."""
    model, x, y = lambda_setup
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    seen = []
    cbk = callbacks.LambdaCallback(on_test_begin=lambda logs: seen.append("custom_on_test_begin_executed"))
    model.evaluate(x, y, batch_size=4, callbacks=[cbk], verbose=0)
    assert seen == ["custom_on_test_begin_executed"]


def test_lambda_callback_no_args():
    """lambda_callback_test.py::LambdaCallbackTest::test_lambda_callback_no_args."""
    assert isinstance(callbacks.LambdaCallback(), callbacks.LambdaCallback)


def test_lambda_callback_with_additional_kwargs():
    """lambda_callback_test.py::LambdaCallbackTest::test_lambda_callback_with_additional_kwargs
    (a misspelt hook, a name starting with "on_", is refused: it would never be called)."""

    def custom_callback(logs):
        pass

    assert hasattr(callbacks.LambdaCallback(custom_method=custom_callback), "custom_method")
    with pytest.raises(TypeError, match=r"unknown hooks \['on_epoch_ends'\]"):
        callbacks.LambdaCallback(on_epoch_ends=custom_callback)


def test_lambda_callback_during_prediction(lambda_setup):
    """lambda_callback_test.py::LambdaCallbackTest::test_lambda_callback_during_prediction."""
    model, x, _ = lambda_setup
    seen = []
    cbk = callbacks.LambdaCallback(on_predict_begin=lambda logs: seen.append("on_predict_begin_executed"))
    model.predict(x, batch_size=4, callbacks=[cbk], verbose=0)
    assert seen == ["on_predict_begin_executed"]


# ---- callback_test.py and history.py --------------------------------------------------------


def test_model_state_is_current_on_batch_end():
    """callback_test.py::CallbackTest::test_model_state_is_current_on_epoch_end: at
    on_batch_end the model has taken that batch's step (Keras counts calls in a model
    variable; densecore's count is optimizer.iterations)."""
    seen = []

    class CBK(callbacks.Callback):
        def on_batch_end(self, batch, logs):
            seen.append((batch, self.model.optimizer.iterations))

    model = dc.Sequential([Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    model.fit(rng.random((8, 1)), rng.random((8, 1)), callbacks=[CBK()], batch_size=2, verbose=0)
    assert seen == [(batch, batch + 1) for batch in range(4)]


def test_history_params_and_keys(capsys):
    """keras/src/callbacks/history.py's docstring: params and the history's keys (targets
    (5, 10) for Keras's broadcast (5,))."""
    model = dc.Sequential([Dense(10)])
    model.compile(dc.optimizers.SGD(), loss="mse")
    history = model.fit(np.arange(100).reshape(5, 20) / 100, np.zeros((5, 10)), epochs=10, verbose=1)
    capsys.readouterr()
    assert history.params == {"verbose": 1, "epochs": 10, "steps": 1}
    assert list(history.history.keys()) == ["loss"]


# ---- no callback takes a diverging run for an improvement (issue #19, item 1) ---------------


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_non_finite_value_is_never_an_improvement(bad):
    stopper = callbacks.EarlyStopping(monitor="loss", patience=1, restore_best_weights=True)
    trained, weights = run_dummy_loss(stopper, [1.0, bad, bad])
    assert trained == 2 and weights == 0 and stopper.best == 1.0  # stopped, the good epoch restored
    plateau = callbacks.ReduceLROnPlateau(monitor="loss", patience=1, min_delta=0)
    model = dc.Sequential([Dense(1)])
    model.compile(dc.optimizers.SGD(0.1), "mse")
    plateau.set_model(model)
    plateau.on_train_begin()
    for epoch, value in enumerate([1.0, bad]):
        plateau.on_epoch_end(epoch, {"loss": value})
    assert plateau.best == 1.0 and float32(model.optimizer.learning_rate) == float32(0.01)
    first = callbacks.EarlyStopping(monitor="loss", patience=5)  # a first value that is bad
    first.set_model(DummyModel())
    first.on_train_begin()
    first.on_epoch_end(0, {"loss": bad})
    assert first.best is None


def run_dummy_loss(stopper, losses):
    stopper.set_model(DummyModel())
    stopper.on_train_begin()
    trained = 0
    for epoch, loss in enumerate(losses):
        trained += 1
        stopper.model.set_weight_to_epoch(epoch)
        stopper.on_epoch_end(epoch, {"loss": loss})
        if stopper.model.stop_training:
            break
    stopper.on_train_end()
    return trained, stopper.model.get_weights()


def test_callbacks_refuse_bad_settings():
    for make, words in [
        (lambda: callbacks.EarlyStopping(patience=-1), "patience must be a non-negative integer"),
        (lambda: callbacks.EarlyStopping(min_delta=math.nan), "min_delta must be a finite number"),
        (lambda: callbacks.EarlyStopping(baseline=math.inf), "baseline must be a finite number"),
        (lambda: callbacks.EarlyStopping(mode="biggest"), "mode must be"),
        (lambda: callbacks.ReduceLROnPlateau(factor=1.0), "factor"),
        (lambda: callbacks.ReduceLROnPlateau(min_lr=-1), "min_lr"),
        (lambda: callbacks.ReduceLROnPlateau(cooldown=1.5), "cooldown"),
        (lambda: callbacks.ModelCheckpoint("m-{}.dc"), "positional placeholder"),
        (lambda: callbacks.ModelCheckpoint("m-{epoch.dc"), "not a valid format string"),
    ]:
        with pytest.raises(ValueError, match=words):
            make()
    with pytest.raises(TypeError, match="schedule must be a function"):
        callbacks.LearningRateScheduler(0.1)
    model = dc.Sequential([Dense(1)])
    model.compile("sgd", "mse")
    with pytest.raises(TypeError, match="callbacks must be densecore.callbacks.Callback"):
        model.fit(np.ones((2, 1)), np.ones(2), verbose=0, callbacks=[print])


def test_warnings_are_keras_s():
    """early_stopping.py: a monitor that is not logged, in mode min or max, warns."""
    stopper = callbacks.EarlyStopping(monitor="val_loss", mode="min")
    stopper.set_model(DummyModel())
    stopper.on_train_begin()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        stopper.on_epoch_end(0, {"loss": 1.0})
    assert "Early stopping conditioned on metric `val_loss` which is not available" in str(caught[0].message)


def test_a_monitor_of_several_values(tmp_path):
    """model_checkpoint.py: a monitor that is not one number saves as if save_best_only
    were False, with a warning; EarlyStopping refuses it (one value per class, F1Score's
    default, of one class is one number)."""
    stopper = callbacks.EarlyStopping(monitor="f1", mode="max")
    stopper.set_model(DummyModel())
    stopper.on_train_begin()
    stopper.on_epoch_end(0, {"f1": np.array([0.5])})
    assert stopper.best == 0.5
    with pytest.raises(ValueError, match="monitor='f1' holds 2 values"):
        stopper.on_epoch_end(1, {"f1": np.array([0.5, 0.7])})
    model = dc.Sequential([Dense(1, input_shape=(2,))])
    checkpoint = callbacks.ModelCheckpoint(tmp_path / "m.dc", monitor="f1", save_best_only=True, mode="max")
    checkpoint.set_model(model)
    with pytest.warns(UserWarning, match="Falling back to `save_best_only=False`"):
        checkpoint.on_epoch_end(0, {"f1": np.array([0.5, 0.7])})
    assert (tmp_path / "m.dc").exists()
