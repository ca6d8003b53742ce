"""Low-rank compression: the SVD math, the new model, and bad arguments."""

import warnings

import numpy as np
import pytest
from densecore.layers import Dense, LowRankDense

import densecore as dc


def trained_mlp(hidden=24, seed=0):
    dc.set_seed(seed)
    (x, y), (xt, yt) = dc.datasets.load_digits()
    x, xt = dc.datasets.standardize(x, xt)
    model = dc.Sequential(
        [Dense(hidden, activation="relu"), Dense(hidden, activation="relu"), Dense(10, activation="softmax")]
    )
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:400], y[:400], epochs=3, verbose=0)
    return model, (x[:400], y[:400]), (xt, yt)


def test_low_rank_is_the_truncated_svd_and_reports_eckart_young():
    model, _, (xt, _) = trained_mlp()
    w = model.layers[1].kernel.data.astype(np.float64)
    small = dc.compress.low_rank(model, rank=5, layers=[model.layers[1].name], verbose=0)
    layer = small.layers[1]
    assert isinstance(layer, LowRankDense) and layer.rank == 5
    product = layer.u.data.astype(np.float64) @ layer.v.data
    u, s, vt = np.linalg.svd(w)
    np.testing.assert_allclose(product, (u[:, :5] * s[:5]) @ vt[:5], atol=1e-5)
    row = small.compression_report[0]
    error = np.linalg.norm(w - product) / np.linalg.norm(w)
    assert np.isclose(row["relative_error"], error, rtol=1e-4)
    assert np.isclose(row["relative_error"], np.sqrt((s[5:] ** 2).sum() / (s**2).sum()))
    assert row["params_after"] == 5 * (24 + 24) + 24 and row["params_before"] == 24 * 24 + 24


def test_full_rank_reproduces_predictions_and_original_is_untouched():
    model, _, (xt, _) = trained_mlp(hidden=8)
    before = model.get_weights()
    small = dc.compress.low_rank(model, rank=8, layers=[model.layers[1].name], verbose=0)
    np.testing.assert_allclose(small.predict(xt), model.predict(xt), atol=1e-5)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert all(type(layer) is Dense for layer in model.layers)


def test_energy_picks_the_smallest_rank_keeping_that_share():
    model, _, _ = trained_mlp()
    s = np.linalg.svd(model.layers[1].kernel.data.astype(np.float64), compute_uv=False)
    share = np.cumsum(s**2) / (s**2).sum()
    small = dc.compress.low_rank(model, energy=0.8, layers=[model.layers[1].name], verbose=0)
    r = small.layers[1].rank
    assert share[r - 1] >= 0.8 and (r == 1 or share[r - 2] < 0.8)


def test_layers_none_compresses_only_where_it_pays():
    model, _, _ = trained_mlp()
    with pytest.warns(UserWarning, match="kept dense"):
        small = dc.compress.low_rank(model, rank=9, verbose=0)  # 24x10 output: 9*34 > 240
    assert [type(layer).__name__ for layer in small.layers] == ["LowRankDense", "LowRankDense", "Dense"]


def test_compressed_model_fine_tunes_saves_and_loads(tmp_path):
    model, (x, y), (xt, yt) = trained_mlp()
    small = dc.compress.low_rank(model, rank=4, layers=[model.layers[1].name], verbose=0)
    history = small.fit(x, y, epochs=2, verbose=0)
    assert history.history["loss"][1] < history.history["loss"][0]
    small.save(tmp_path / "s.dc")
    np.testing.assert_array_equal(dc.load_model(tmp_path / "s.dc").predict(xt), small.predict(xt))


def test_subclassed_model_by_attribute_name():
    class Net(dc.Model):
        def __init__(self):
            super().__init__()
            self.dense1 = Dense(10, activation="relu")
            self.dense2 = Dense(1, activation="sigmoid")

        def call(self, inputs):
            return self.dense2(self.dense1(inputs))

    model = Net()
    model.build((None, 30))
    small = dc.compress.low_rank(model, rank=5, layers=["dense1"], verbose=0)
    assert isinstance(small.dense1, LowRankDense) and small.layers[0] is small.dense1
    assert small.count_params() == 5 * 40 + 10 + 11
    assert small.predict(np.ones((2, 30))).shape == (2, 1)


def test_sweep_table():
    model, (x, y), (xt, yt) = trained_mlp()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rows = dc.compress.sweep(
            model, x, y, ranks=[2, 8], fine_tune_epochs=1, validation_data=(xt, yt), verbose=0
        )
    assert [r["rank"] for r in rows] == [None, 2, 8]
    assert rows[1]["params"] < rows[2]["params"] < rows[0]["params"]


def test_lowrank_dense_gradcheck_and_initial_variance():
    x = dc.Tensor(np.random.default_rng(0).standard_normal((4, 6)))
    u = dc.Tensor(np.random.default_rng(1).standard_normal((6, 2)), requires_grad=True)
    v = dc.Tensor(np.random.default_rng(2).standard_normal((2, 3)), requires_grad=True)
    b = dc.Tensor(np.zeros(3), requires_grad=True)
    assert dc.gradcheck(lambda u, v, b: dc.functional.lowrank_dense(x, u, v, b, "relu"), [u, v, b])
    layer = LowRankDense(300, rank=20)
    layer.build((None, 500))
    product = layer.u.data @ layer.v.data
    assert abs(product.std() - np.sqrt(2 / 800)) < 0.05 * np.sqrt(2 / 800)


@pytest.mark.parametrize(
    "kwargs, words",
    [
        (dict(rank=0), ["rank", "Received: rank=0"]),
        (dict(rank=2, energy=0.5), ["exactly one"]),
        (dict(), ["exactly one"]),
        (dict(energy=1.5), ["energy"]),
        (dict(energy=0), ["energy"]),
        (dict(rank=2, layers=["nope"]), ["no layer named 'nope'"]),
        (dict(rank=99, layers=["dense_a"]), ["exceeds min(in, out)"]),
    ],
)
def test_bad_arguments_leave_the_model_alone(kwargs, words):
    model = dc.Sequential([Dense(6, input_shape=(5,), name="dense_a"), Dense(2)])
    before = model.get_weights()
    with pytest.raises(ValueError) as info:
        dc.compress.low_rank(model, verbose=0, **kwargs)
    for word in words:
        assert word in str(info.value)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_unbuilt_model_is_refused():
    with pytest.raises(ValueError, match="not built"):
        dc.compress.low_rank(dc.Sequential([Dense(2)]), rank=1)


def test_training_the_compressed_copies_leaves_the_original_alone():
    """Regression: a copy made through set_weights once shared its bias arrays with the
    original, so fitting the copy moved the original's biases."""
    model, (x, y), _ = trained_mlp()
    before = model.get_weights()
    hidden = [model.layers[0].name]
    for copy in (
        dc.compress.low_rank(model, rank=2, layers=hidden, verbose=0),
        dc.compress.prune_units(model, keep=8, verbose=0),
        dc.quantize_aware(model, num_bits=4),
    ):
        copy.fit(x, y, epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
