"""low_rank(data=, refit_next=True): the Dense layer that reads a factorised layer is refitted by
ridge least squares. The oracle is numpy's float64 least-squares solver, np.linalg.lstsq, on the
stacked ("data augmentation") form of ridge regression with an unpenalised bias column:

    [ X̃    1 ] [W']   [    T     ]
    [ √(Nλ)I 0 ] [b'] = [ √(Nλ) W  ],     T = X W + b,

whose least-squares solution minimises ‖X̃W' + b' − T‖² + Nλ‖W' − W‖² (the objective / N); and
the choice of relu passes against the sum of squared differences of the final outputs."""

import warnings

import numpy as np
import pytest
from densecore.layers import Dense

import densecore as dc
from densecore.compress import lowrank
from densecore.compress.lowrank import refit_dense


def lstsq_ridge(xc, xo, w, b, lam):
    """The oracle: np.linalg.lstsq on the stacked system above (bias column unpenalised)."""
    n, k = xc.shape
    t = xo @ w + (0.0 if b is None else b)
    ones = [np.ones((n, 1))] if b is not None else []
    zeros = [np.zeros((k, 1))] if b is not None else []
    a = np.vstack([np.hstack([xc, *ones]), np.hstack([np.sqrt(n * lam) * np.eye(k), *zeros])])
    rhs = np.vstack([t, np.sqrt(n * lam) * w])
    sol = np.linalg.lstsq(a, rhs, rcond=None)[0]
    return (sol[:k], sol[k]) if b is not None else (sol, None)


def features(n=300, k=8, seed=0):
    rng = np.random.default_rng(seed)
    xo = np.maximum(rng.standard_normal((n, k)) @ rng.standard_normal((k, k)), 0)
    xc = xo @ (np.eye(k) + 0.3 * rng.standard_normal((k, k))) + 0.2  # a compressed model's features
    return xo, xc, rng.standard_normal((k, 5)), rng.standard_normal(5)


@pytest.mark.parametrize("ridge", [0.0, 1e-3, 0.5])
@pytest.mark.parametrize("bias", [True, False])
def test_refit_dense_is_the_least_squares_solution(ridge, bias):
    xo, xc, w, b = features(seed=int(ridge * 10) + bias)
    b = b if bias else None
    w2, b2 = refit_dense(w, b, xc, xo, ridge)
    centred = xc - xc.mean(0) if bias else xc
    lam = ridge * np.trace(centred.T @ centred / len(xc)) / xc.shape[1]
    w_ref, b_ref = lstsq_ridge(xc, xo, w, b, lam)
    np.testing.assert_allclose(w2, w_ref, rtol=1e-8, atol=1e-9)
    if bias:
        np.testing.assert_allclose(b2, b_ref, rtol=1e-8, atol=1e-9)
    else:
        assert b2 is None


def test_refit_dense_with_a_huge_ridge_keeps_the_kernel():
    xo, xc, w, b = features(seed=5)
    w2, _ = refit_dense(w, b, xc, xo, 1e12)
    np.testing.assert_allclose(w2, w, atol=1e-6)


def model_and_data(seed=0, n=400):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((n, 12)) * np.geomspace(0.1, 3, 12)).astype(np.float32)
    dc.set_seed(seed)
    model = dc.Sequential(
        [
            Dense(16, activation="relu", input_shape=(12,), name="a"),
            Dense(16, activation="relu", name="b"),
            Dense(3, activation="softmax", name="c"),
        ]
    )
    return model, x


def relu_forward(layer, x):
    """A (LowRank)Dense layer's relu output in float64 numpy."""
    w = layer.u.data.astype(np.float64) @ layer.v.data if hasattr(layer, "u") else layer.kernel.data
    return np.maximum(x @ np.asarray(w, np.float64) + layer.bias.data, 0)


def test_the_head_after_the_last_factorised_layer_is_the_lstsq_refit():
    model, x = model_and_data()
    xd = x.astype(np.float64)
    small = dc.compress.low_rank(model, rank=2, layers=["a", "b"], data=x, verbose=0)
    seen = relu_forward(small.layers[1], relu_forward(small.layers[0], xd))  # what the head receives
    orig = relu_forward(model.layers[1], relu_forward(model.layers[0], xd))
    head = model.layers[2]
    w, b = head.kernel.data.astype(np.float64), head.bias.data.astype(np.float64)
    (row,) = small.refit_report
    assert row["ridge"] in lowrank.REFIT_RIDGES  # ridge="auto": chosen by leave-one-out (below)
    centred = seen - seen.mean(0)
    lam = row["ridge"] * np.trace(centred.T @ centred / len(seen)) / 16
    w_ref, b_ref = lstsq_ridge(seen, orig, w, b, lam)
    np.testing.assert_allclose(small.layers[2].kernel.data, w_ref, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(small.layers[2].bias.data, b_ref, rtol=1e-3, atol=1e-4)
    assert type(small.layers[2]) is Dense and small.layers[2].activation is model.layers[2].activation
    assert (row["layer"], row["reads"], row["shape"]) == ("c", "b", (16, 3))
    t = orig @ w + b
    before = np.linalg.norm(seen @ w + b - t) / np.linalg.norm(t)
    after = np.linalg.norm(seen @ w_ref + b_ref - t) / np.linalg.norm(t)
    assert np.isclose(row["error_before"], before, rtol=1e-5) and np.isclose(
        row["error_after"], after, rtol=1e-3
    )
    assert row["error_after"] <= row["error_before"]
    assert "refitted (reads 'b')" in dc.compress.format_report(small.compression_report, small.refit_report)


def test_refit_next_false_and_the_whitened_fit_leave_the_head_alone():
    model, x = model_and_data(1)
    for kwargs in (dict(refit_next=False), dict(fit="whitened", ridge=1e-3)):
        small = dc.compress.low_rank(model, rank=2, layers=["a", "b"], data=x, verbose=0, **kwargs)
        np.testing.assert_array_equal(small.layers[2].kernel.data, model.layers[2].kernel.data)
        np.testing.assert_array_equal(small.layers[2].bias.data, model.layers[2].bias.data)
        assert small.refit_report == []
    plain = dc.compress.low_rank(model, rank=2, layers=["a", "b"], verbose=0)
    assert plain.refit_report == []


def test_a_layer_between_factorised_ones_is_refitted_and_sees_the_first():
    """Factorising only 'a': 'b' reads it and is refitted (on a's compressed output); 'c' reads a
    layer that was not factorised and keeps its weights; the parameter count is unchanged."""
    model, x = model_and_data(2)
    small = dc.compress.low_rank(model, rank=2, layers=["a"], data=x, verbose=0)
    assert [row["layer"] for row in small.refit_report] == ["b"]
    xd = x.astype(np.float64)
    seen, orig = relu_forward(small.layers[0], xd), relu_forward(model.layers[0], xd)
    b = model.layers[1]
    centred = seen - seen.mean(0)
    lam = small.refit_report[0]["ridge"] * np.trace(centred.T @ centred / len(seen)) / 16
    w_ref, b_ref = lstsq_ridge(
        seen, orig, b.kernel.data.astype(np.float64), b.bias.data.astype(np.float64), lam
    )
    np.testing.assert_allclose(small.layers[1].kernel.data, w_ref, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(small.layers[1].bias.data, b_ref, rtol=1e-3, atol=1e-4)
    np.testing.assert_array_equal(small.layers[2].kernel.data, model.layers[2].kernel.data)
    dense_params = model.count_params() - model.layers[0].count_params()
    assert small.count_params() == dense_params + small.compression_report[0]["params_after"]


def test_the_relu_passes_kept_are_the_closest_on_the_data(monkeypatch):
    """The model returned is, among every count of RELU_PASSES tried alone, one whose final
    outputs on the data have the least sum of squared differences from the original's (numpy)."""
    model, x = model_and_data(3)
    want = model.predict(x).astype(np.float64)

    def error(m):
        return float(np.sum((m.predict(x).astype(np.float64) - want) ** 2))

    chosen = dc.compress.low_rank(model, rank=1, layers=["a", "b"], data=x, verbose=0)
    grid = lowrank.RELU_PASSES
    alone = {}
    for passes in grid:
        monkeypatch.setattr(lowrank, "RELU_PASSES", (passes,))
        alone[passes] = error(dc.compress.low_rank(model, rank=1, layers=["a", "b"], data=x, verbose=0))
    assert error(chosen) <= min(alone.values()) * (1 + 1e-6)
    kept = {row["relu_passes"] for row in chosen.compression_report}
    assert len(kept) == 1 and np.isclose(alone[kept.pop()], error(chosen), rtol=1e-6)


def test_refit_next_is_checked_before_any_work():
    model, x = model_and_data(4)
    with pytest.raises(ValueError, match="refit_next must be True or False"):
        dc.compress.low_rank(model, rank=2, data=x, refit_next="yes", verbose=0)


def test_never_worse_than_plain_svd_on_the_data_with_the_refit():
    """With the refit, the final outputs on the data stay at least as close as plain SVD's."""
    model, x = model_and_data(5)
    want = model.predict(x)
    for r in (1, 2, 4):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            aware = dc.compress.low_rank(model, rank=r, layers=["a", "b"], data=x, verbose=0)
            plain = dc.compress.low_rank(model, rank=r, layers=["a", "b"], verbose=0)
        assert np.sum((aware.predict(x) - want) ** 2) <= np.sum((plain.predict(x) - want) ** 2)


@pytest.mark.parametrize("bias", [True, False])
def test_leave_one_out_errors_against_refitting_without_each_sample(bias):
    """loo_errors' closed form (e_i / (1 − H_ii)) against N explicit refits, each without one
    sample, by the lstsq oracle (λ held at its full-data value), predicting the left-out output."""
    from densecore.compress.lowrank import loo_errors, loo_ridge

    xo, xc, w, b = features(n=40, k=5, seed=9)
    w = w[:5]
    b = b if bias else None
    ridges = (1e-3, 0.1, 3.0)
    got = loo_errors(w, b, xc, xo, ridges)
    centred = xc - xc.mean(0) if bias else xc
    t = xo @ w + (0.0 if b is None else b)
    for ridge, value in zip(ridges, got):
        lam_abs = ridge * np.trace(centred.T @ centred / len(xc)) / 5  # λ · N is the penalty weight
        total = 0.0
        for i in range(len(xc)):
            rest = np.arange(len(xc)) != i
            # the oracle's λ is per row of the REST: N λ_full = (N − 1) λ_rest
            wi, bi = lstsq_ridge(xc[rest], xo[rest], w, b, lam_abs * len(xc) / (len(xc) - 1))
            pred = xc[i] @ wi + (0.0 if bi is None else bi)
            total += np.sum((pred - t[i]) ** 2)
        assert value == pytest.approx(total / len(xc), rel=1e-8)
    assert loo_ridge(w, b, xc, xo, ridges) == ridges[int(np.argmin(got))]
