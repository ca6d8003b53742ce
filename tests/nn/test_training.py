"""compile / fit / evaluate / predict: Keras's behaviour, bad input, reproducibility."""

import numpy as np
import pytest
from densecore.layers import Dense

import densecore as dc
from densecore.nn import inputs


def data(n=64, features=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, features)).astype(np.float32)
    return x, (x[:, 0] + 0.5 * x[:, 1] > 0).astype(np.int64)


def binary_model(features=5):
    model = dc.Sequential([Dense(8, activation="relu"), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    return model


def test_history_keys_and_epoch_loss_is_batch_size_weighted_mean():
    x, y = data(50)
    dc.set_seed(0)
    model = binary_model()
    model.build((None, 5))
    start = model.get_weights()
    history = model.fit(
        x, y, epochs=2, batch_size=16, verbose=0, shuffle=False, validation_data=(x[:10], y[:10])
    )
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epoch == [0, 1]
    # replay epoch 1 by hand with train_on_batch from the same start
    replay = binary_model()
    replay.build((None, 5))
    replay.set_weights(start)
    losses = [replay.train_on_batch(x[i : i + 16], y[i : i + 16])[0] for i in range(0, 50, 16)]
    sizes = [16, 16, 16, 2]
    assert np.isclose(history.history["loss"][0], np.dot(losses, sizes) / 50, rtol=1e-6)


def test_validation_split_takes_the_last_samples_before_shuffling():
    x, y = data(40)
    model = binary_model()
    seen = []

    class Spy(dc.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(logs["val_loss"])

    model.fit(x, y, epochs=1, validation_split=0.25, verbose=0, callbacks=[Spy()])
    assert np.isclose(seen[0], model.evaluate(x[30:], y[30:])[0], rtol=1e-6)


def test_evaluate_return_forms_and_predict():
    x, y = data()
    model = binary_model()
    model.fit(x, y, epochs=1, verbose=0)
    loss, acc = model.evaluate(x, y)
    assert model.evaluate(x, y, return_dict=True) == {"loss": loss, "accuracy": acc}
    model.compile(optimizer="adam", loss="binary_crossentropy")
    assert isinstance(model.evaluate(x, y), float)
    p = model.predict(x, batch_size=7)
    assert p.shape == (64, 1) and isinstance(p, np.ndarray) and ((p > 0) & (p < 1)).all()


def test_accuracy_resolves_from_the_loss():
    x, y = data()
    for loss, units, act, expected in [
        ("binary_crossentropy", 1, "sigmoid", dc.metrics.BinaryAccuracy),
        ("sparse_categorical_crossentropy", 2, "softmax", dc.metrics.SparseCategoricalAccuracy),
        ("categorical_crossentropy", 2, "softmax", dc.metrics.CategoricalAccuracy),
    ]:
        model = dc.Sequential([Dense(units, activation=act)])
        model.compile("sgd", loss, metrics=["acc"])
        assert isinstance(model.compiled_metrics[0], expected)
        target = np.eye(2)[y] if loss.startswith("categorical") else y
        assert "acc" in model.fit(x, target, epochs=1, verbose=0).history


def test_metrics_count_samples_not_batches():
    m = dc.metrics.BinaryAccuracy()
    m.update_state([1, 1, 1], np.array([[0.9], [0.9], [0.1]]))
    m.update_state([0], np.array([[0.2]]))
    assert m.result() == 0.75
    p = dc.metrics.Precision()
    p.update_state([1, 0, 1, 0], np.array([0.9, 0.8, 0.1, 0.2]))
    r = dc.metrics.Recall()
    r.update_state([1, 0, 1, 0], np.array([0.9, 0.8, 0.1, 0.2]))
    assert p.result() == 0.5 and r.result() == 0.5


def test_same_seed_gives_bitwise_identical_training():
    x, y = data(100)

    def train():
        dc.set_seed(123)
        model = dc.Sequential(
            [Dense(16, activation="relu"), dc.layers.Dropout(0.3), Dense(1, activation="sigmoid")]
        )
        model.compile("adam", "binary_crossentropy")
        history = model.fit(x, y, epochs=3, batch_size=8, verbose=0)
        return model.get_weights(), history.history["loss"]

    (w1, l1), (w2, l2) = train(), train()
    assert l1 == l2
    for a, b in zip(w1, w2):
        assert np.array_equal(a, b)


def test_callbacks_early_stopping_restores_best_and_lr_scheduler():
    x, y = data()
    model = binary_model()
    stopper = dc.callbacks.EarlyStopping(
        monitor="loss", patience=0, min_delta=10.0, restore_best_weights=True
    )
    history = model.fit(x, y, epochs=10, verbose=0, callbacks=[stopper])
    assert len(history.epoch) == 2 and stopper.stopped_epoch == 1
    sched = dc.callbacks.LearningRateScheduler(lambda epoch, lr: 0.1 / (epoch + 1))
    history = model.fit(x, y, epochs=3, verbose=0, callbacks=[sched])
    assert np.isclose(model.optimizer.current_learning_rate(), 0.1 / 3)
    assert history.history["learning_rate"][0] == pytest.approx(0.1)


def test_model_checkpoint_saves_best_only(tmp_path):
    x, y = data()
    model = binary_model()
    path = tmp_path / "best-{epoch:02d}.dc"
    model.fit(
        x,
        y,
        epochs=3,
        verbose=0,
        validation_split=0.2,
        callbacks=[dc.callbacks.ModelCheckpoint(path, monitor="val_loss", save_best_only=True)],
    )
    saved = sorted(p.name for p in tmp_path.iterdir())
    assert saved and saved[0] == "best-01.dc"
    assert dc.load_model(tmp_path / saved[-1]).predict(x).shape == (64, 1)


def test_custom_callback_sees_batches_and_can_stop():
    x, y = data()
    model = binary_model()

    class StopAfterThree(dc.callbacks.Callback):
        batches = 0

        def on_train_batch_end(self, batch, logs=None):
            StopAfterThree.batches += 1
            assert "loss" in logs

        def on_epoch_end(self, epoch, logs=None):
            self.model.stop_training = epoch == 2

    history = model.fit(x, y, epochs=10, batch_size=16, verbose=0, callbacks=[StopAfterThree()])
    assert len(history.epoch) == 3 and StopAfterThree.batches == 12


def test_nan_loss_stops_and_keeps_the_last_good_weights():
    x, y = data()
    model = dc.Sequential([Dense(1, input_shape=(5,))])
    model.compile(dc.optimizers.SGD(1e30), "mse")
    with pytest.warns(RuntimeWarning, match=r"epoch 1, step \d+"):
        model.fit(x, y.astype(np.float32) * 1e20, epochs=3, batch_size=8, verbose=0)
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())


def test_verbose_progress_output(capsys):
    x, y = data()
    binary_model().fit(x, y, epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "Epoch 1/2" in out and "2/2 - " in out and "/step - loss:" in out and "accuracy:" in out
    assert "━" not in out  # verbose=2: no bar, as Keras
    binary_model().fit(x, y, epochs=1, verbose=1)  # not a terminal: the bar once, at the end
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[1].startswith("2/2 ━")


def test_regression_with_mae_metric():
    x, _ = data()
    y = x @ np.arange(5, dtype=np.float32)
    model = dc.Sequential([Dense(1)])
    model.compile(dc.optimizers.SGD(0.05), "mse", metrics=["mae"])
    history = model.fit(x, y, epochs=30, verbose=0)
    assert history.history["loss"][-1] < 0.01 * history.history["loss"][0]


x_ok, y_ok = data()
BAD_FIT = {
    "length mismatch": (
        dict(x=x_ok, y=y_ok[:10]),
        ValueError,
        ["same number of samples", "(64, 5)", "(10,)"],
    ),
    "feature count": (dict(x=x_ok[:, :3], y=y_ok), ValueError, ["(batch, 5)", "(64, 3)"]),
    "nan in x": (dict(x=np.where(x_ok > 2, np.nan, x_ok), y=y_ok), ValueError, ["x contains NaN"]),
    "inf in x": (dict(x=np.where(x_ok > 2, np.inf, x_ok), y=y_ok), ValueError, ["x contains NaN or inf"]),
    "x beyond float32": (
        dict(x=np.where(x_ok > 2, 1e39, x_ok.astype(np.float64)), y=y_ok),
        ValueError,
        ["x holds 1e+39", "beyond the range of float32"],
    ),
    "empty": (dict(x=x_ok[:0], y=y_ok[:0]), ValueError, ["empty"]),
    "batch size": (dict(x=x_ok, y=y_ok, batch_size=0), ValueError, ["batch_size", "0"]),
    "strings": (dict(x=x_ok.astype(str), y=y_ok), TypeError, ["numbers", "dtype"]),
    "1-d x": (dict(x=x_ok[:, 0], y=y_ok), ValueError, ["(samples, features)"]),
    "y shape": (dict(x=x_ok, y=np.zeros((64, 3))), ValueError, ["y does not fit", "(64, 3)"]),
    "split": (dict(x=x_ok, y=y_ok, validation_split=1.5), ValueError, ["validation_split"]),
    "validation_freq": (dict(x=x_ok, y=y_ok, validation_freq=0), ValueError, ["validation_freq", "0"]),
    "validation_batch_size": (
        dict(x=x_ok, y=y_ok, validation_batch_size=-1),
        ValueError,
        ["batch_size", "-1"],
    ),
    "weights shape": (dict(x=x_ok, y=y_ok, sample_weight=np.ones(10)), ValueError, ["(64,)", "(10,)"]),
    "nan weight": (
        dict(x=x_ok, y=y_ok, sample_weight=np.full(64, np.nan)),
        ValueError,
        ["sample_weight", "NaN"],
    ),
    "both weights": (
        dict(x=x_ok, y=y_ok, sample_weight=np.ones(64), class_weight={0: 1}),
        ValueError,
        ["not both"],
    ),
    "class_weight list": (
        dict(x=x_ok, y=y_ok, class_weight=[1, 2]),
        TypeError,
        ["class_weight must be a dict"],
    ),
    "class_weight inf": (dict(x=x_ok, y=y_ok, class_weight={1: np.inf}), ValueError, ["class_weight[1]"]),
    "val weights": (
        dict(x=x_ok, y=y_ok, validation_data=(x_ok, y_ok, np.ones(3))),
        ValueError,
        ["fit (validation_data): sample_weight", "(64,)"],
    ),
}


@pytest.mark.parametrize("case", BAD_FIT)
def test_fit_rejects_bad_input_before_any_step(case):
    kwargs, error, words = BAD_FIT[case]
    model = binary_model()
    model.build((None, 5))
    before = model.get_weights()
    with pytest.raises(error) as info:
        model.fit(verbose=0, **kwargs)
    for word in words:
        assert word in str(info.value)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert model.optimizer.iterations == 0


def test_sparse_labels_out_of_range():
    model = dc.Sequential([Dense(3, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\).*to 5"):
        model.fit(x_ok, np.arange(64) % 6, verbose=0)


def test_fit_and_evaluate_before_compile_and_unknown_names():
    model = dc.Sequential([Dense(1)])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x_ok, y_ok)
    with pytest.raises(RuntimeError, match="compile"):
        model.evaluate(x_ok, y_ok)
    with pytest.raises(ValueError, match="binary_crossentropy"):  # "hinge" is a loss since Keras's are
        model.compile("adam", "no_such_loss")
    with pytest.raises(ValueError, match="accuracy"):  # and "auc" a metric
        model.compile("adam", "mse", metrics=["no_such_metric"])


def fit_weighted(seed=0, **weights):
    x, y = data(48)
    dc.set_seed(seed)
    model = binary_model()
    history = model.fit(x, y, epochs=2, batch_size=16, verbose=0, validation_data=(x[:8], y[:8]), **weights)
    return history.history, model.get_weights()


def same(run_a, run_b):
    (history_a, weights_a), (history_b, weights_b) = run_a, run_b
    return history_a == history_b and all(np.array_equal(a, b) for a, b in zip(weights_a, weights_b))


def test_class_weight_is_the_sample_weight_of_each_samples_class():
    x, y = data(48)
    per_sample = np.where(y == 1, 3.0, 0.5)
    assert same(fit_weighted(class_weight={0: 0.5, 1: 3.0}), fit_weighted(sample_weight=per_sample))
    assert same(fit_weighted(sample_weight=np.ones(48)), fit_weighted())  # unit weights: not a bit moves
    assert not same(fit_weighted(class_weight={1: 3.0}), fit_weighted())
    onehot = np.eye(3)[[0, 2, 1, 2]]  # one-hot targets: the class is the argmax
    assert inputs.class_weights("fit", onehot, {2: 5}).tolist() == [1, 5, 1, 5]


def test_weighted_loss_is_keras_sum_over_batch_size_everywhere():
    """fit, train_on_batch, evaluate and val_loss all give Σ w_n loss_n / N."""
    x, y = data(40)
    w = np.linspace(0.0, 2.0, 40)
    model = binary_model()
    model.fit(x, y, epochs=1, verbose=0)
    per_sample = [model.evaluate(x[i : i + 1], y[i : i + 1])[0] for i in range(40)]
    want = np.dot(w, per_sample) / 40
    assert np.isclose(model.evaluate(x, y, batch_size=7, sample_weight=w)[0], want, rtol=1e-5)
    seen = []

    class Spy(dc.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(logs["val_loss"])

    start = model.get_weights()
    model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y, w), callbacks=[Spy()])
    assert np.isclose(seen[0], model.evaluate(x, y, sample_weight=w)[0], rtol=1e-6)
    model.set_weights(start)
    assert np.isclose(model.train_on_batch(x, y, sample_weight=w)[0], want, rtol=1e-5)


def test_a_plain_loss_function_takes_sample_weights_as_keras():
    """Keras wraps a loss function in LossFunctionWrapper, which applies sample_weight
    itself (sum_over_batch_size): a function that knows nothing of weights gives the same
    weighted loss as the built-in mse."""
    x, y = data(16)
    w = np.linspace(0.0, 2.0, 16)
    losses = []
    for loss in ("mse", lambda t, p: ((p - t) ** 2).mean(axis=-1)):
        dc.set_seed(0)
        model = dc.Sequential([Dense(1)])
        model.compile(dc.optimizers.SGD(0.0), loss)
        losses.append(model.fit(x, y, sample_weight=w, batch_size=16, verbose=0).history["loss"][0])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-6)


def test_weighted_metrics_count_each_sample_its_weight():
    x, y = data(40)
    w = np.linspace(0.0, 2.0, 40)
    model = dc.Sequential([Dense(1, activation="sigmoid")])
    model.compile(
        "adam", "binary_crossentropy", metrics=["accuracy", "mse"], weighted_metrics=["accuracy", "precision"]
    )
    logs = model.evaluate(x, y, batch_size=7, sample_weight=w, return_dict=True)
    assert list(logs) == ["loss", "accuracy", "mse", "weighted_accuracy", "precision"]
    p = model.predict(x)[:, 0]
    right = (p > 0.5) == (y > 0.5)
    assert np.isclose(logs["accuracy"], right.mean())
    assert np.isclose(logs["weighted_accuracy"], np.dot(w, right) / w.sum())
    positive = p > 0.5
    assert np.isclose(logs["precision"], np.dot(w, positive & (y > 0.5)) / np.dot(w, positive))
    unweighted = model.evaluate(x, y, return_dict=True)  # no weights: the weighted count all alike
    assert np.isclose(unweighted["weighted_accuracy"], unweighted["accuracy"])
    history = model.fit(x, y, epochs=1, verbose=0, class_weight={0: 1.0, 1: 2.0}).history
    assert set(history) == {"loss", "accuracy", "mse", "weighted_accuracy", "precision"}


def test_a_metric_that_does_not_fit_the_outputs_is_named_before_training():
    model = dc.Sequential([Dense(2, activation="softmax")])  # precision is for binary outputs
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["precision"])
    with pytest.raises(ValueError, match="metric 'precision' does not fit"):
        model.fit(x_ok[:2], y_ok[:2], verbose=0)  # two samples, two outputs: shapes that broadcast


@pytest.mark.parametrize("freq, epochs", [(2, [2, 4]), ([1, 3], [1, 3])])
def test_validation_freq_validates_only_those_epochs(freq, epochs):
    x, y = data(40)
    model = binary_model()
    seen = []

    class Spy(dc.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            if "val_loss" in logs:
                seen.append(epoch + 1)

    history = model.fit(
        x, y, epochs=4, verbose=0, validation_split=0.25, validation_freq=freq, callbacks=[Spy()]
    ).history
    assert seen == epochs and len(history["val_loss"]) == len(epochs) and len(history["loss"]) == 4


def test_validation_batch_size_changes_the_steps_not_the_result():
    x, y = data(40)
    runs = []
    for size in (None, 3):
        dc.set_seed(0)
        model = binary_model()
        runs.append(model.fit(x, y, epochs=1, verbose=0, validation_data=(x, y), validation_batch_size=size))
    assert np.isclose(runs[0].history["val_loss"][0], runs[1].history["val_loss"][0], rtol=1e-6)


def test_reduce_lr_on_plateau_follows_keras():
    """The learning rates Keras 3's ReduceLROnPlateau gives for this sequence (run once)."""
    seq = [1.0, 0.995, 0.98, 0.985, 0.99, 0.97, 0.5, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6, 0.6]
    keras_lrs = [0.1, 0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05, 0.025, 0.025, 0.02, 0.02, 0.02, 0.02]
    model = dc.Sequential([Dense(1)])
    model.compile(dc.optimizers.SGD(0.1), "mse")
    cb = dc.callbacks.ReduceLROnPlateau(factor=0.5, patience=2, cooldown=1, min_delta=0.01, min_lr=0.02)
    cb.set_model(model)
    cb.on_train_begin()
    lrs = []
    for epoch, value in enumerate(seq):
        logs = {"val_loss": value}
        cb.on_epoch_end(epoch, logs)
        lrs.append(model.optimizer.learning_rate)
        assert logs["learning_rate"] == (lrs[-2] if epoch else 0.1)  # logged before the change
    assert np.allclose(lrs, keras_lrs)
    with pytest.raises(ValueError, match="factor"):
        dc.callbacks.ReduceLROnPlateau(factor=1.5)


def test_csv_logger_writes_a_row_per_epoch_and_appends(tmp_path):
    x, y = data(40)
    path = tmp_path / "log.csv"
    model = binary_model()
    cb = dc.callbacks.CSVLogger(path)
    model.fit(x, y, epochs=3, verbose=0, validation_split=0.25, validation_freq=[1, 3], callbacks=[cb])
    rows = path.read_text().splitlines()
    assert rows[0] == "epoch,accuracy,loss,val_accuracy,val_loss"
    assert [r.split(",")[0] for r in rows[1:]] == ["0", "1", "2"]
    assert rows[2].endswith(",NA,NA") and not rows[3].endswith("NA")
    model.fit(
        x, y, epochs=4, initial_epoch=3, verbose=0, callbacks=[dc.callbacks.CSVLogger(path, append=True)]
    )
    rows = path.read_text().splitlines()
    assert len(rows) == 5 and rows[4].startswith("3,")  # no second header


def test_lambda_callback_calls_the_hooks_it_is_given():
    x, y = data(40)
    seen = []
    cb = dc.callbacks.LambdaCallback(
        on_epoch_end=lambda epoch, logs: seen.append(("epoch", epoch)),
        on_train_batch_end=lambda batch, logs: seen.append(("batch", batch)),
    )
    binary_model().fit(x, y, epochs=1, batch_size=20, verbose=0, callbacks=[cb])
    assert seen == [("batch", 0), ("batch", 1), ("epoch", 0)]
    with pytest.raises(TypeError, match="on_epoch_ends"):
        dc.callbacks.LambdaCallback(on_epoch_ends=print)


def test_train_and_test_on_batch_return_keras_forms():
    x, y = data(16)
    model = binary_model()
    loss, acc = model.train_on_batch(x, y)
    assert 0 <= acc <= 1 and loss > 0
    logs = model.test_on_batch(x, y, return_dict=True)
    assert list(logs) == ["loss", "accuracy"]
    assert logs == model.evaluate(x, y, batch_size=16, return_dict=True)
    plain = dc.Sequential([Dense(1)])
    plain.compile("sgd", "mse")
    assert isinstance(plain.train_on_batch(x, y), float) and isinstance(plain.test_on_batch(x, y), float)


def test_class_weight_weights_training_not_validation():  # as Keras: the split keeps sample weights only
    x, y = data(40)
    seen = {}

    class Spy(dc.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen[len(seen)] = (logs["val_loss"], self.model.evaluate(x[30:], y[30:], sample_weight=w[30:])[0])

    model = binary_model()
    w = np.linspace(0.5, 1.5, 40)
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, class_weight={1: 3.0}, callbacks=[Spy()])
    unweighted = model.evaluate(x[30:], y[30:])[0]
    model.fit(x, y, epochs=1, verbose=0, validation_split=0.25, sample_weight=w, callbacks=[Spy()])
    assert np.isclose(seen[0][0], unweighted, rtol=1e-6)
    assert np.isclose(seen[1][0], seen[1][1], rtol=1e-6)


def test_a_weighted_metric_must_take_weights():
    class Plain(dc.metrics.Metric):
        default_name = "plain"

        def update_state(self, y_true, y_pred):
            pass

    model = dc.Sequential([Dense(1)])
    with pytest.raises(TypeError, match="weighted metric 'plain'.*sample_weight"):
        model.compile("sgd", "mse", weighted_metrics=[Plain()])
    model.compile("sgd", "mse", metrics=[Plain()])  # unweighted: fine
