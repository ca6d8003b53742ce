"""Saving: round trips, resumed training, atomic writes, and loads that validate."""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
from densecore.layers import Dense

import densecore as dc


class TwoLayer(dc.Model):
    def __init__(self, hidden=6):
        super().__init__()
        self.hidden = hidden
        self.a = Dense(hidden, activation="tanh")
        self.b = Dense(2, activation="softmax")

    def call(self, inputs):
        return self.b(self.a(inputs))

    def get_config(self):
        return {"hidden": self.hidden}


def data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 4)).astype(np.float32)
    return x, (x[:, 0] > 0).astype(np.int64)


def trained(model):
    x, y = data()
    dc.set_seed(0)
    model.compile(dc.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    return model


@pytest.mark.parametrize(
    "make",
    [
        lambda: dc.Sequential(
            [
                Dense(6, activation="tanh", kernel_regularizer="l2"),
                dc.layers.Dropout(0.2),
                Dense(2, activation="softmax"),
            ]
        ),
        lambda: TwoLayer(hidden=6),
    ],
)
def test_round_trip_resumes_training_exactly(make, tmp_path):
    x, y = data()
    model = trained(make())
    path = tmp_path / "model.dc"
    model.save(path)
    loaded = dc.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.optimizer.iterations == model.optimizer.iterations
    assert type(loaded.optimizer) is dc.optimizers.Adam and loaded.optimizer.learning_rate == 0.01
    dc.set_seed(5)
    a = model.fit(x, y, epochs=1, verbose=0, shuffle=False).history
    dc.set_seed(5)
    b = loaded.fit(x, y, epochs=1, verbose=0, shuffle=False).history
    assert a == b


def test_weights_only(tmp_path):
    model = trained(TwoLayer())
    model.save_weights(tmp_path / "w.dc")
    fresh = TwoLayer()
    fresh.load_weights(tmp_path / "w.dc")
    for a, b in zip(model.get_weights(), fresh.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="weights only"):
        dc.load_model(tmp_path / "w.dc")
    other = dc.Sequential([Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match="holds weights"):
        other.load_weights(tmp_path / "w.dc")


def test_a_failed_save_leaves_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "m.dc"
    model = trained(TwoLayer())
    model.save(path)
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", explode)
    with pytest.raises(OSError):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.dc"]  # no temporary left behind


def test_killed_writer_leaves_a_loadable_file(tmp_path):
    path = tmp_path / "m.dc"
    trained(dc.Sequential([Dense(3, input_shape=(4,)), Dense(2, activation="softmax")])).save(path)
    script = f"""
import os, numpy as np, densecore as dc, densecore.saving as s
m = dc.Sequential([dc.layers.Dense(300, input_shape=(4,)), dc.layers.Dense(2)])
real = s._npy
def slow(a):
    os.kill(os.getpid(), 9)  # die in the middle of writing the temporary file
s._npy = slow
m.save({str(path)!r})
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert result.returncode != 0
    assert dc.load_model(path).predict(np.ones((1, 4), np.float32)).shape == (1, 2)


def corrupt(tmp_path, mutate):
    path = tmp_path / "m.dc"
    trained(dc.Sequential([Dense(3, input_shape=(4,)), Dense(2, activation="softmax")])).save(path)
    mutate(path)
    return path


def rewrite_config(path, change):
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    config = json.loads(entries["config.json"])
    change(config)
    entries["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(path, "w") as z:
        for n, d in entries.items():
            z.writestr(n, d)


def swap_array(path):
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    import io

    buf = io.BytesIO()
    np.save(buf, np.ones((5, 5), np.float32))
    entries["weights/0.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for n, d in entries.items():
            z.writestr(n, d)


def pickled_array(path):
    with zipfile.ZipFile(path) as z:
        entries = {n: z.read(n) for n in z.namelist()}
    import io

    buf = io.BytesIO()
    np.save(buf, np.array([{"evil": 1}, None], dtype=object).reshape(1, 2), allow_pickle=True)
    entries["weights/1.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as z:
        for n, d in entries.items():
            z.writestr(n, d)


CORRUPTIONS = {
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),
    "garbage": lambda p: p.write_bytes(b"not a zip at all"),
    "foreign zip": lambda p: zipfile.ZipFile(p, "w").writestr("hello.txt", "hi"),
    "foreign json": lambda p: rewrite_config(p, lambda c: c.update(format="keras")),
    "future version": lambda p: rewrite_config(p, lambda c: c.update(version=99)),
    "huge layer": lambda p: rewrite_config(
        p, lambda c: c["config"]["layers"][0]["config"].update(units=10**12)
    ),
    "huge weight": lambda p: rewrite_config(p, lambda c: c["weights"][0].update(shape=[10**12, 10**12])),
    "huge input": lambda p: rewrite_config(p, lambda c: c.update(input_shape=[None, 10**12])),
    "unknown layer": lambda p: rewrite_config(
        p, lambda c: c["config"]["layers"][0].update(class_name="Lambda")
    ),
    "wrong array": swap_array,
    "pickled array": pickled_array,
}


@pytest.mark.parametrize("case", CORRUPTIONS)
def test_bad_files_are_refused_clearly(case, tmp_path):
    path = corrupt(tmp_path, CORRUPTIONS[case])
    with pytest.raises(ValueError, match="load"):
        dc.load_model(path)


def test_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        dc.load_model(tmp_path / "nope.dc")


def test_unknown_subclass_needs_custom_objects(tmp_path):
    class Local(dc.Model):
        def __init__(self):
            super().__init__()
            self.d = Dense(2)

        def call(self, x):
            return self.d(x)

    model = Local()
    model.build((None, 3))
    model.save(tmp_path / "l.dc")
    from densecore.nn.layers import MODELS

    del MODELS["Local"]
    with pytest.raises(ValueError, match="custom_objects"):
        dc.load_model(tmp_path / "l.dc")
    assert dc.load_model(tmp_path / "l.dc", custom_objects={"Local": Local}).count_params() == 8


class Hits(dc.metrics.Metric):
    """A metric class of the user's own."""

    default_name = "hits"

    def values(self, y_true, y_pred):
        return ((y_pred[:, 0] > 0.5) == y_true).astype(float)


def test_metrics_come_back_with_their_class_settings_and_weighting(tmp_path):
    x, y = data()
    model = dc.Sequential([Dense(1, activation="sigmoid")])
    model.compile(
        "adam",
        "binary_crossentropy",
        metrics=["acc", dc.metrics.Precision(name="prec"), dc.metrics.BinaryAccuracy(threshold=0.7), Hits()],
        weighted_metrics=["acc"],
    )
    w = np.linspace(0, 2, len(x))
    model.fit(x, y, epochs=1, verbose=0, sample_weight=w)
    model.save(tmp_path / "m.dc")
    with pytest.warns(RuntimeWarning, match="'Hits'.*custom_objects"):  # left out, the rest loads
        partial = dc.load_model(tmp_path / "m.dc")
    assert [m.name for m in partial.compiled_metrics] == ["acc", "prec", "binary_accuracy", "weighted_acc"]
    loaded = dc.load_model(tmp_path / "m.dc", custom_objects={"Hits": Hits})
    described = [(type(m).__name__, m.get_config()) for m in loaded.compiled_metrics]
    assert described == [(type(m).__name__, m.get_config()) for m in model.compiled_metrics]
    assert loaded.compiled_metrics[2].threshold == 0.7
    assert loaded.evaluate(x, y, sample_weight=w, return_dict=True) == model.evaluate(
        x, y, sample_weight=w, return_dict=True
    )


def test_files_that_name_their_metrics_still_load():  # as written before metrics kept settings
    from densecore import metrics

    loss = dc.losses.SparseCategoricalCrossentropy()
    assert type(metrics.from_config("accuracy", loss)) is metrics.SparseCategoricalAccuracy


# ---- weights that are not finite (a diverged model) save and load back, as in Keras ---------------
def diverged(tmp_path):
    model = trained(dc.Sequential([Dense(3, input_shape=(4,)), Dense(2, activation="softmax")]))
    kernel = model.layers[0].kernel  # (set_weights refuses such values; a diverging fit leaves them)
    kernel.data[0, 0], kernel.data[1, 1], kernel.data[2, 2] = np.nan, np.inf, -np.inf
    return model, kernel.name


def test_weights_that_are_not_finite_load_back_with_a_warning_naming_them(tmp_path):
    model, name = diverged(tmp_path)
    model.save(tmp_path / "m.dc")
    with pytest.warns(RuntimeWarning, match=f"{name}.*NaN or inf"):
        loaded = dc.load_model(tmp_path / "m.dc")
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)  # (NaN where NaN was)
    assert loaded.optimizer.iterations == model.optimizer.iterations


def test_load_weights_takes_weights_that_are_not_finite_too(tmp_path):
    model, _ = diverged(tmp_path)
    model.save_weights(tmp_path / "w.dc")
    fresh = dc.Sequential([Dense(3), Dense(2, activation="softmax")])
    with pytest.warns(RuntimeWarning, match="/kernel hold NaN or inf"):  # (named as in `fresh`)
        fresh.load_weights(tmp_path / "w.dc")
    np.testing.assert_array_equal(fresh.get_weights()[0], model.get_weights()[0])


class Settings(dc.Model):
    """A subclassed model whose config is whatever it is given."""

    def __init__(self, setting=None):
        super().__init__()
        self.setting = setting
        self.d = Dense(2)

    def call(self, inputs):
        return self.d(inputs)

    def get_config(self):
        return {"setting": self.setting}


@pytest.mark.parametrize("setting, error", [(float("nan"), ValueError), (np.float32(1.5), TypeError)])
def test_save_refuses_a_config_load_could_not_read_and_writes_nothing(tmp_path, setting, error):
    model = Settings(setting)
    model.build((None, 3))
    with pytest.raises(error, match="save: cannot save model"):
        model.save(tmp_path / "m.dc")
    assert list(tmp_path.iterdir()) == []
