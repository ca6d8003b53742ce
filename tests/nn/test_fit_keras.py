"""fit, evaluate and predict against Keras 3: tests ported from
keras/src/trainers/trainer_test.py (each names its Keras test), and the regression tests of
issues #18 and #19 whose expected behaviour is Keras's (a non-finite loss logged as nan or
inf, targets holding inf trained on, callbacks in evaluate and predict) or densecore's
promise (no diverged checkpoint kept as the best, x checked after its cast, no caller's
array returned by predict, metric names that cannot hide the loss, clear errors, no file
left open)."""

import csv
import json
import math
import os
import zipfile

import numpy as np
import pytest
from densecore.layers import Dense, Dropout, Flatten, InputLayer

import densecore as dc
from densecore import callbacks


def example_model(units=3):
    """trainer_test.py's ExampleModel: Dense(units, use_bias=False) with a kernel of ones."""
    return dc.Sequential([Dense(units, use_bias=False, kernel_initializer="ones")])


# ---- keras/src/trainers/trainer_test.py -------------------------------------------------------


def test_fit_flow():
    """trainer_test.py::TestTrainer::test_fit_flow: the epochs' mean squared error."""
    model = example_model()
    x, y = np.ones((100, 4)), np.zeros((100, 3))
    model.compile(
        optimizer=dc.optimizers.SGD(),
        loss=dc.losses.MeanSquaredError(),
        metrics=[dc.metrics.MeanSquaredError()],
    )
    history = model.fit(x, y, batch_size=20, epochs=3, verbose=0).history
    assert "loss" in history and "mean_squared_error" in history
    np.testing.assert_allclose(history["mean_squared_error"], [14.5, 11.5, 8.5], atol=1.0)


def test_evaluate_flow():
    """trainer_test.py::TestTrainer::test_evaluate_flow."""
    model = example_model()
    x, y = np.ones((100, 4)), np.zeros((100, 3))
    model.compile(
        optimizer=dc.optimizers.SGD(),
        loss=dc.losses.MeanSquaredError(),
        metrics=[dc.metrics.MeanSquaredError()],
    )
    np.testing.assert_allclose(model.evaluate(x, y, batch_size=16), [16.0, 16.0])
    output = model.evaluate(x, y, batch_size=16, return_dict=True)
    assert isinstance(output, dict) and "loss" in output
    np.testing.assert_allclose(output["mean_squared_error"], 16.0)


def test_predict_flow():
    """trainer_test.py::TestTrainer::test_predict_flow."""
    outputs = example_model().predict(np.ones((100, 4)), batch_size=16)
    np.testing.assert_allclose(outputs, 4 * np.ones((100, 3)))


def test_callback_methods_keys():
    """trainer_test.py::TestTrainer::test_callback_methods_keys: what each hook's logs hold
    (here evaluate and predict get the callback too)."""
    seen = {}
    expected = {
        "on_train_begin": [],
        "on_train_end": ["loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"],
        "on_epoch_begin": [],
        "on_epoch_end": ["loss", "mean_absolute_error", "val_loss", "val_mean_absolute_error"],
        "on_test_begin": [],
        "on_test_end": ["loss", "mean_absolute_error"],
        "on_predict_begin": [],
        "on_predict_end": [],
        "on_train_batch_begin": [],
        "on_train_batch_end": ["loss", "mean_absolute_error"],
        "on_test_batch_begin": [],
        "on_test_batch_end": ["loss", "mean_absolute_error"],
        "on_predict_batch_begin": [],
        "on_predict_batch_end": ["outputs"],
    }

    def recorder(hook):
        def record(*args):
            seen.setdefault(hook, set()).add(tuple(sorted(args[-1].keys())))

        return record

    cbk = callbacks.LambdaCallback(**{hook: recorder(hook) for hook in expected})
    model = example_model()
    model.compile(optimizer="adam", loss="mse", metrics=["mean_absolute_error"])
    x, y = np.ones((16, 4)), np.zeros((16, 3))
    model.fit(x, y, callbacks=[cbk], batch_size=4, validation_data=(x, y), verbose=0)
    model.evaluate(x, y, batch_size=4, callbacks=[cbk])
    model.predict(x, batch_size=4, callbacks=[cbk])
    assert seen == {hook: {tuple(keys)} for hook, keys in expected.items()}


@pytest.mark.parametrize(
    "method, gerund, kind",
    [("fit", "training", "train"), ("evaluate", "evaluating", "test"), ("predict", "predicting", "predict")],
)
def test_stop_loop(method, gerund, kind):
    """trainer_test.py::TestTrainer::test_stop_loop: a callback stops fit, evaluate or
    predict after 5 batches (densecore takes arrays, not Keras's endless generator)."""
    model = example_model()
    model.compile(optimizer="sgd", loss="mse", metrics=["mse"])

    class Stopper(callbacks.Callback):
        def __init__(self, stop_count):
            self.stop_count = stop_count
            self.counter = 0
            setattr(self, f"on_{kind}_batch_end", self.batch_end)

        def batch_end(self, *args, **kwargs):
            self.counter += 1
            if self.counter == self.stop_count:
                setattr(self.model, f"stop_{gerund}", True)

    stopper = Stopper(5)
    x, y = np.ones((40, 2)), np.ones((40, 3))
    if method == "fit":
        model.fit(x, y, batch_size=2, epochs=10, callbacks=[stopper], verbose=0)
    elif method == "evaluate":
        model.evaluate(x, y, batch_size=2, callbacks=[stopper])
    else:
        assert len(model.predict(x, batch_size=2, callbacks=[stopper])) == 10  # the batches run
    assert stopper.counter == 5


def test_validation_runs_the_test_hooks():
    """trainer.py: fit validates through evaluate with its own callbacks, so on_test_begin
    and on_test_end run around each validation (validation_freq=2: epochs 2 and 4)."""
    seen = []
    cbk = callbacks.LambdaCallback(
        on_test_begin=lambda logs: seen.append("test_begin"),
        on_test_end=lambda logs: seen.append(("test_end", sorted(logs))),
        on_epoch_end=lambda epoch, logs: seen.append(epoch),
    )
    model = example_model()
    model.compile("sgd", "mse")
    x, y = np.ones((8, 4)), np.zeros((8, 3))
    model.fit(x, y, epochs=4, validation_data=(x, y), validation_freq=2, callbacks=[cbk], verbose=0)
    assert seen == [0, "test_begin", ("test_end", ["loss"]), 1, 2, "test_begin", ("test_end", ["loss"]), 3]


# ---- a non-finite loss, targets holding inf (issue #18) ---------------------------------------


def test_a_non_finite_loss_is_logged_as_nan_or_inf_in_history_and_csv(tmp_path):
    """Keras logs the epoch's loss as nan or inf (densecore logged 0.0, the mean of nothing)."""
    x = np.ones((8, 2))
    for bad, text in [(np.inf, "inf"), (np.nan, "nan")]:
        model = dc.Sequential([Dense(1, input_shape=(2,))])
        model.compile("sgd", "mse", metrics=["mae"])
        path = tmp_path / f"{text}.csv"
        y = np.ones(8)
        y[5] = bad  # in the first batch: the first step's loss is not finite
        with pytest.warns(RuntimeWarning, match=f"loss became {text}"):
            history = model.fit(
                x, y, batch_size=8, epochs=3, verbose=0, callbacks=[callbacks.CSVLogger(path)]
            )
        assert history.epoch == [0]
        assert str(history.history["loss"][0]) == text
        rows = list(csv.DictReader(open(path)))
        assert rows[0]["loss"] == text and rows[0]["val_loss"] == "NA"


def test_targets_holding_inf_are_trained_on_and_evaluated_as_keras():
    """Keras trains on targets holding inf (TerminateOnNaN stops it) and evaluates them to
    inf; densecore still refuses NaN or inf in x, a documented difference."""
    model = dc.Sequential([Dense(1, input_shape=(1,))])
    model.compile(optimizer="sgd", loss="mse")
    x, y = np.array([[1.0], [2.0]]), np.array([[1.0], [np.inf]])
    start = model.get_weights()
    with pytest.warns(RuntimeWarning, match="loss became inf at epoch 1, step 1"):
        history = model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    assert history.history["loss"] == [math.inf]
    for w, w0 in zip(model.get_weights(), start):  # no step was taken from an inf loss
        np.testing.assert_array_equal(w, w0)
    assert model.evaluate(x, y) == math.inf
    with pytest.raises(ValueError, match="x contains NaN or inf"):
        model.evaluate(np.array([[np.inf], [2.0]]), y)


# ---- issue #19 ---------------------------------------------------------------------------------


def test_a_diverging_run_does_not_overwrite_the_best_checkpoint(tmp_path):
    """Issue #19, item 1, its script: losses 5.2, 6.6, 1e3, 3e8, 5e25, then not finite; the
    best checkpoint must stay the first epoch's (densecore saved the diverged model as the
    best, its loss logged as 0.0)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 4))
    y = x.sum(1)
    dc.set_seed(0)
    m = dc.Sequential([Dense(8, activation="relu", input_shape=(4,)), Dense(1)])
    m.compile(dc.optimizers.SGD(1.0), "mse")
    path = tmp_path / "best.dc"
    ck = callbacks.ModelCheckpoint(path, monitor="loss", save_best_only=True)
    with pytest.warns(RuntimeWarning, match="loss became"):
        history = m.fit(x, y, epochs=30, batch_size=64, callbacks=[ck], verbose=0)
    losses = history.history["loss"]
    assert not math.isfinite(losses[-1]) and all(math.isfinite(v) for v in losses[:-1])
    assert ck.best == min(losses[:-1]) == losses[0]
    # one step per epoch: an epoch's loss is that of the weights the epoch before left, so
    # the model saved after the first epoch has the second epoch's loss
    np.testing.assert_allclose(dc.load_model(path).evaluate(x, y), losses[1], rtol=1e-5)


@pytest.mark.parametrize("method", ["predict", "evaluate", "fit"])
def test_float64_inputs_beyond_float32_are_refused(method):
    """Issue #19, item 6: x is checked after its cast to float32 (1e39 became inf there,
    and predict returned NaN)."""
    model = dc.Sequential([Dense(1, input_shape=(2,))])
    model.compile("sgd", "mse")
    x = np.ones((4, 2))
    x[2, 1] = 1e39
    call = {
        "predict": lambda: model.predict(x),
        "evaluate": lambda: model.evaluate(x, np.ones(4)),
        "fit": lambda: model.fit(x, np.ones(4), verbose=0),
    }[method]
    with pytest.raises(ValueError, match=r"x holds 1e\+39 at index \(2, 1\), beyond the range of float32"):
        call()


def test_metric_names_that_collide_are_refused_at_compile():
    """Issue #19, item 7: a metric named "loss" replaced the loss in evaluate and History."""
    model = dc.Sequential([Dense(1, input_shape=(2,))])
    for metrics, words in [
        (
            [dc.metrics.MeanAbsoluteError(name="loss")],
            "MeanAbsoluteError(name='loss') would be logged under the name of the loss",
        ),
        (["mae", "mae"], "name='mae') would be logged under the name of another metric"),
        (
            [dc.metrics.MeanSquaredError(name="val_loss")],
            "metric 'val_loss' has the name fit gives to the validation 'loss'",
        ),
    ]:
        with pytest.raises(ValueError, match=words.replace("(", r"\(").replace(")", r"\)")):
            model.compile("sgd", "mse", metrics=metrics)
        assert not getattr(model, "compiled", False)  # nothing was set
    model.compile("sgd", "mse", metrics=["mae"], weighted_metrics=["mae"])  # logged as weighted_mae
    assert [m.name for m in model.compiled_metrics] == ["mae", "weighted_mae"]


def test_a_model_file_naming_a_metric_loss_is_refused(tmp_path):
    """Issue #19, item 7: load_model compiles, so a file whose metric is named "loss" (built
    here by hand from a good file) is refused with a ValueError naming the file."""
    model = dc.Sequential([Dense(1, input_shape=(3,))])
    model.compile("sgd", "mse", metrics=["mae"])
    good, bad = tmp_path / "good.dc", tmp_path / "bad.dc"
    model.save(good)
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(bad, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "config.json":
                config = json.loads(data)
                config["compile"]["metrics"][0]["config"]["name"] = "loss"
                data = json.dumps(config).encode()
            target.writestr(item.filename, data)
    dc.load_model(good)
    with pytest.raises(ValueError, match="bad.dc.*name='loss'"):
        dc.load_model(bad)


@pytest.mark.parametrize(
    "layers",
    [[InputLayer(shape=(4,)), Dropout(0.5)], [InputLayer(shape=(4,)), Flatten()], [Dropout(0.2)]],
    ids=["dropout", "flatten", "dropout alone"],
)
@pytest.mark.parametrize("batch_size", [None, 3])
def test_predict_returns_a_new_array(layers, batch_size):
    """Issue #19, item 8: a model that changes nothing at inference returned the caller's
    own array (later writes changed the "prediction")."""
    model = dc.Sequential(layers)
    model.build((None, 4))
    x = np.arange(20, dtype=np.float32).reshape(5, 4)
    p = model.predict(x, batch_size=batch_size)
    assert p is not x and not np.shares_memory(p, x)
    x[:] = -1
    np.testing.assert_array_equal(p, np.arange(20).reshape(5, 4))


def test_a_checkpoint_placeholder_fit_will_not_log_is_refused_at_the_start(tmp_path):
    """Issue #19, item 15: ModelCheckpoint("m-{val_loss:.2f}.dc") without validation ended
    fit, after its first epoch, with a bare KeyError('val_loss')."""
    model = dc.Sequential([Dense(1, input_shape=(2,))])
    model.compile("sgd", "mse")
    x, y = np.ones((8, 2)), np.ones(8)
    ck = callbacks.ModelCheckpoint(tmp_path / "m-{val_loss:.2f}.dc")
    with pytest.raises(ValueError, match=r"names \{val_loss\}, which fit will not log.*no validation data"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[ck])
    assert model.optimizer.iterations == 0 and not list(tmp_path.iterdir())
    model.fit(x, y, epochs=1, verbose=0, callbacks=[ck], validation_split=0.25)  # now it is logged
    assert [p.name for p in tmp_path.iterdir()] == [f"m-{model.evaluate(x[6:], y[6:]):.2f}.dc"]
    typo = callbacks.ModelCheckpoint(tmp_path / "m-{los:.2f}.dc")  # another callback might log it
    with pytest.raises(KeyError, match=r"Failed to format this callback filepath.*placeholder .*los"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[typo])


def open_paths():
    """The files this process holds open (Linux)."""
    fds = "/proc/self/fd"
    paths = set()
    for fd in os.listdir(fds):
        try:
            paths.add(os.readlink(os.path.join(fds, fd)))
        except OSError:
            pass
    return paths


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="needs /proc/self/fd")
@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_csv_logger_leaves_no_file_open_when_fit_is_interrupted(tmp_path, error):
    """Issue #19, item 16: CSVLogger stayed open after an interrupted fit (on_train_end,
    which closed it, does not run when an exception ends fit, as in Keras)."""
    path = tmp_path / "log.csv"

    class Interrupt(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if epoch == 1:
                raise error("stop")

    model = dc.Sequential([Dense(1, input_shape=(2,))])
    model.compile("sgd", "mse")
    logger = callbacks.CSVLogger(path)
    with pytest.raises(error):
        model.fit(np.ones((8, 2)), np.ones(8), epochs=5, verbose=0, callbacks=[logger, Interrupt()])
    assert str(path) not in open_paths()
    assert [row[0] for row in csv.reader(open(path))] == ["epoch", "0", "1"]


# ---- EarlyStopping in a real fit (issue #18) -------------------------------------------------


def test_early_stopping_stops_without_restore_best_weights_or_baseline():
    """Issue #18: EarlyStopping never stopped unless restore_best_weights or baseline was set
    (README's example included). With a learning rate of 0 the loss never improves: patience
    2 stops after the third epoch, as Keras."""
    model = dc.Sequential([Dense(1, input_shape=(2,))])
    model.compile(dc.optimizers.SGD(0.0), "mse")
    stopper = callbacks.EarlyStopping(monitor="loss", patience=2)
    history = model.fit(np.ones((8, 2)), np.ones(8), epochs=20, verbose=0, callbacks=[stopper])
    assert history.epoch == [0, 1, 2] and stopper.stopped_epoch == 2


def test_early_stopping_on_a_metric_never_logged_fails_after_the_first_epoch():
    """Issue #18: Keras raises ValueError at the end of the first epoch (densecore warned)."""
    model = dc.Sequential([Dense(1, input_shape=(2,))])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match="monitor='val_acuracy'.*mode='max'"):
        model.fit(
            np.ones((8, 2)),
            np.ones(8),
            batch_size=4,
            epochs=5,
            verbose=0,
            callbacks=[callbacks.EarlyStopping(monitor="val_acuracy")],
        )
    assert model.optimizer.iterations == 2  # one epoch of two steps


def test_early_stopping_restores_the_best_weights_when_the_epochs_run_out():
    """Issue #18: Keras 3 restores the best epoch's weights at the end of training even when
    EarlyStopping did not stop it."""
    model = dc.Sequential([Dense(1, input_shape=(2,))])
    model.compile(dc.optimizers.SGD(0.1), "mse")
    seen = []
    keep = callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append((logs["loss"], model.get_weights()))
    )
    stopper = callbacks.EarlyStopping(monitor="loss", patience=100, restore_best_weights=True)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 2))
    model.fit(x, x @ [1.0, -2.0], epochs=4, verbose=0, callbacks=[keep, stopper])
    assert stopper.stopped_epoch == 0
    best = min(range(4), key=lambda i: seen[i][0])
    for w, w_best in zip(model.get_weights(), seen[best][1]):
        np.testing.assert_array_equal(w, w_best)


def test_callbacks_that_ignore_batches_cost_the_steps_nothing():
    """fit's step loop computes a batch's logs only for callbacks that listen to batches."""
    listening = callbacks.CallbackList(
        [
            callbacks.EarlyStopping(),
            callbacks.ModelCheckpoint("m.dc"),
            callbacks.CSVLogger("log.csv"),
            callbacks.LearningRateScheduler(lambda epoch, lr: lr),
            callbacks.ReduceLROnPlateau(),
            callbacks.LambdaCallback(on_epoch_end=print),
        ],
        None,
        {},
        callbacks.History(),
    )
    assert not any(listening.wants_batches(kind) for kind in ("train", "test", "predict"))
    for cbk, kind in [
        (callbacks.TerminateOnNaN(), "train"),
        (callbacks.LambdaCallback(on_batch_end=print), "train"),
        (callbacks.LambdaCallback(on_test_batch_end=print), "test"),
        (callbacks.LambdaCallback(on_predict_batch_begin=print), "predict"),
    ]:
        assert callbacks.CallbackList([cbk], None, {}).wants_batches(kind)
