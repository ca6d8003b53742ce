"""Data-aware low rank: the whitened factorisation against a float64 numpy reference, never
worse than plain SVD on the data, and bad data refused before any work."""

import warnings

import numpy as np
import pytest
from densecore.layers import Dense, LowRankDense

import densecore as dc


def correlated(n=400, width=12, seed=0):
    """Inputs correlated and uneven in scale (full rank): where data-aware and plain differ."""
    rng = np.random.default_rng(seed)
    mix = rng.standard_normal((width, width)) * np.geomspace(0.05, 3, width)
    return (rng.standard_normal((n, width)) @ mix).astype(np.float32)


def linear_model(width=12, units=10, seed=0):
    dc.set_seed(seed)
    model = dc.Sequential([Dense(units, input_shape=(width,), name="first"), Dense(3, name="head")])
    model.build((None, width))
    return model


def reference(x, w, r, lam=0.0):
    """The formula, in float64: C = XᵀX/N + λI = L Lᵀ, SVD of Lᵀ W, U = L⁻ᵀ P_r S_r^½, V = S_r^½ Q_rᵀ."""
    x, w = x.astype(np.float64), w.astype(np.float64)
    c = x.T @ x / len(x) + lam * np.eye(len(w))
    chol = np.linalg.cholesky(c)
    p, s, qt = np.linalg.svd(chol.T @ w, full_matrices=False)
    root = np.sqrt(s[:r])
    return np.linalg.solve(chol.T, p[:, :r] * root), root[:, None] * qt[:r], s


@pytest.mark.parametrize("r", [1, 3, 6])
def test_whitened_factors_match_the_reference_and_the_error_is_the_discarded_spectrum(r):
    x = correlated()
    model = linear_model()
    w = model.layers[0].kernel.data
    small = dc.compress.low_rank(
        model, rank=r, layers=["first"], data=x, ridge=0.0, fit="whitened", verbose=0
    )
    layer = small.layers[0]
    assert isinstance(layer, LowRankDense) and layer.rank == r
    u, v, s = reference(x, w, r)
    product = layer.u.data.astype(np.float64) @ layer.v.data.astype(np.float64)
    np.testing.assert_allclose(product, u @ v, atol=2e-5)
    xd = x.astype(np.float64)
    error = np.sum((xd @ w.astype(np.float64) - xd @ u @ v) ** 2) / len(x)
    assert np.isclose(error, np.sum(s[r:] ** 2), rtol=1e-9)  # Eckart–Young, whitened
    row = small.compression_report[0]
    assert row["error_of"] == "output" and row["ridge"] == 0.0
    assert np.isclose(row["relative_error"], np.sqrt(np.sum(s[r:] ** 2) / np.sum(s**2)), rtol=1e-6)


@pytest.mark.parametrize("r", [1, 2, 4, 8])
def test_never_a_larger_output_error_than_plain_svd(r):
    x = correlated(seed=1)
    model = linear_model(seed=1)
    w = model.layers[0].kernel.data.astype(np.float64)
    xd = x.astype(np.float64)

    def error(m):
        layer = m.layers[0]
        return np.linalg.norm(xd @ w - xd @ (layer.u.data.astype(np.float64) @ layer.v.data))

    aware = dc.compress.low_rank(
        model, rank=r, layers=["first"], data=x, ridge=0.0, fit="whitened", verbose=0
    )
    plain = dc.compress.low_rank(model, rank=r, layers=["first"], verbose=0)
    assert error(aware) <= error(plain) * (1 + 1e-6)
    auto = dc.compress.low_rank(model, rank=r, layers=["first"], data=x, fit="whitened", verbose=0)
    want = model.predict(x)
    assert np.linalg.norm(auto.predict(x) - want) <= np.linalg.norm(plain.predict(x) - want) * (1 + 1e-5)


def test_energy_with_data_keeps_that_share_of_the_output_energy():
    x = correlated(seed=2)
    model = linear_model(seed=2)
    s = reference(x, model.layers[0].kernel.data, 1)[2]
    share = np.cumsum(s**2) / np.sum(s**2)
    small = dc.compress.low_rank(
        model, energy=0.9, layers=["first"], data=x, ridge=0.0, fit="whitened", verbose=0
    )
    r = small.layers[0].rank
    assert share[r - 1] >= 0.9 and (r == 1 or share[r - 2] < 0.9)


def test_white_inputs_give_the_plain_svd():
    model = linear_model(seed=3)
    x = (np.random.default_rng(3).standard_normal((20000, 12))).astype(np.float32)
    aware = dc.compress.low_rank(
        model, rank=4, layers=["first"], data=x, ridge=0.0, fit="whitened", verbose=0
    )
    plain = dc.compress.low_rank(model, rank=4, layers=["first"], verbose=0)
    a, p = ([lay.u.data @ lay.v.data for lay in (m.layers[0],)][0] for m in (aware, plain))
    assert np.linalg.norm(a - p) < 0.1 * np.linalg.norm(p)


def test_layers_are_fitted_in_order_on_the_compressed_models_activations():
    x = correlated(seed=4)
    dc.set_seed(4)
    model = dc.Sequential([Dense(10, input_shape=(12,), name="a"), Dense(10, name="b"), Dense(2)])
    small = dc.compress.low_rank(
        model, rank=3, layers=["a", "b"], data=x, ridge=1e-6, fit="whitened", verbose=0
    )
    first = small.layers[0]
    seen = x.astype(np.float64) @ first.u.data @ first.v.data + first.bias.data  # what b receives
    lam = 1e-6 * np.trace(seen.T @ seen / len(seen)) / 10  # rank 3 + bias: singular without it
    u, v, _ = reference(seen, model.layers[1].kernel.data, 3, lam)
    second = small.layers[1]
    np.testing.assert_allclose(second.u.data.astype(np.float64) @ second.v.data, u @ v, atol=1e-4)
    assert [row["layer"] for row in small.compression_report] == ["a", "b"]


def test_original_untouched_and_without_data_the_plain_svd():
    x = correlated(seed=5)
    model = linear_model(seed=5)
    before = model.get_weights()
    dc.compress.low_rank(model, rank=2, layers=["first"], data=x, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    plain = dc.compress.low_rank(model, rank=2, layers=["first"], verbose=0)
    u, s, vt = np.linalg.svd(model.layers[0].kernel.data.astype(np.float64))
    product = plain.layers[0].u.data.astype(np.float64) @ plain.layers[0].v.data
    np.testing.assert_allclose(product, (u[:, :2] * s[:2]) @ vt[:2], atol=1e-5)
    assert plain.compression_report[0]["error_of"] == "weights"


def test_fewer_rows_than_inputs_warns_and_regularises():
    model = linear_model(seed=6)
    x = correlated(n=5, seed=6)
    with pytest.warns(UserWarning, match="fewer than the inputs"):
        small = dc.compress.low_rank(model, rank=2, layers=["first"], data=x, ridge=0.01, verbose=0)
    assert np.all(np.isfinite(small.layers[0].u.data))
    with pytest.raises(ValueError, match="ridge > 0"):
        dc.compress.low_rank(model, rank=2, layers=["first"], data=x, ridge=0, verbose=0)


def test_a_zero_feature_needs_the_ridge():
    model = linear_model(seed=7)
    x = correlated(seed=7)
    x[:, 3] = 0  # a blank pixel: the second moment is singular
    with pytest.raises(ValueError, match="singular second moment"):
        dc.compress.low_rank(model, rank=2, layers=["first"], data=x, ridge=0, verbose=0)
    small = dc.compress.low_rank(model, rank=2, layers=["first"], data=x, ridge=1e-3, verbose=0)
    assert np.all(np.isfinite(small.layers[0].u.data))


@pytest.mark.parametrize(
    "data, kwargs, error, words",
    [
        (np.ones((10, 5), np.float32), {}, ValueError, ["data must have shape (samples, 12)", "(10, 5)"]),
        (np.ones((0, 12), np.float32), {}, ValueError, ["at least one sample", "(0, 12)"]),
        (np.full((10, 12), np.nan, np.float32), {}, ValueError, ["data must be finite", "120 NaN"]),
        (np.array([["a"] * 12]), {}, TypeError, ["data must be a numeric array", "<U1"]),
        (np.ones((30, 12)), {"ridge": -1}, ValueError, ["ridge", "Received: ridge=-1"]),
        (np.ones((30, 12)), {"ridge": "lots"}, ValueError, ["ridge", "'lots'"]),
        (np.ones((30, 12)), {"rank": {"first": 0}}, ValueError, ["rank['first']"]),
    ],
)
def test_bad_data_is_refused_before_any_work(data, kwargs, error, words):
    model = linear_model(seed=8)
    before = model.get_weights()
    with pytest.raises(error) as info:
        args = {"rank": 2, "layers": ["first"], **kwargs}
        if isinstance(args["rank"], dict):
            del args["layers"]
        dc.compress.low_rank(model, **args, data=data, verbose=0)
    for word in words:
        assert word in str(info.value)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_rank_dict_names_the_layers():
    model = dc.Sequential([Dense(10, input_shape=(12,), name="a"), Dense(10, name="b"), Dense(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        small = dc.compress.low_rank(model, rank={"a": 2, "b": 3}, data=correlated(), verbose=0)
    assert [getattr(layer, "rank", None) for layer in small.layers] == [2, 3, None]
