"""fit="output" (the default with data): the reduced-rank regression of compress.lowrank.output_fit
against its textbook formula in float64 numpy, and what it corrects that the whitened SVD cannot."""

import numpy as np
import pytest
from densecore.layers import Dense

import densecore as dc
from densecore.compress.lowrank import output_fit


def problem(n=300, k=9, m=7, seed=0):
    rng = np.random.default_rng(seed)
    xo = rng.standard_normal((n, k)) @ (rng.standard_normal((k, k)) * np.geomspace(0.1, 2, k))
    xc = xo + 0.3 * rng.standard_normal((n, k)) + 0.5  # compressed inputs: noisier and shifted
    w, b = rng.standard_normal((k, m)), rng.standard_normal(m)
    h = rng.standard_normal((m, 4))
    g = h @ h.T + 0.1 * np.eye(m)  # a next layer's metric (positive definite)
    return xo, xc, w, b, g


def objective(xc, xo, w, b, g, lam, wt, bt):
    """The textbook objective: ‖(Xc W̃ + b̃ − (Xo W + b)) G^½‖²/N + λ‖(W̃ − W) G^½‖², as traces."""
    e = xc @ wt + bt - (xo @ w + b)
    d = wt - w
    return np.trace(e @ g @ e.T) / len(xc) + lam * np.trace(d @ g @ d.T)


@pytest.mark.parametrize("r", [1, 3, 5])
def test_the_fit_is_the_optimum_and_its_excess_is_the_discarded_spectrum(r):
    xo, xc, w, b, g = problem(seed=r)
    ridge = 1e-2
    got_r, u, v, bias, s = output_fit(w, b, xc, xo, ridge, metric=g, rank=lambda s: r)
    assert got_r == r and u.shape == (9, r) and v.shape == (r, 7)
    a = xc - xc.mean(0)
    lam = ridge * np.trace(a.T @ a / len(a)) / 9
    # the unconstrained optimum (normal equations) in numpy, and its bias
    full = np.linalg.solve(
        a.T @ a / len(a) + lam * np.eye(9), a.T @ (xo @ w + b - (xo @ w + b).mean(0)) / len(a) + lam * w
    )
    full_b = (xo @ w + b).mean(0) - xc.mean(0) @ full
    best = objective(xc, xo, w, b, g, lam, full, full_b)
    mine = objective(xc, xo, w, b, g, lam, u @ v, bias)
    # reduced-rank regression: the excess over the full-rank optimum is Σ_{i>r} s_i² (Eckart–Young)
    assert np.isclose(mine - best, np.sum(s[r:] ** 2), rtol=1e-8, atol=1e-10)
    # and no other rank-r kernel does better: random perturbations within rank r
    rng = np.random.default_rng(0)
    for _ in range(5):
        du, dv = 1e-2 * rng.standard_normal(u.shape), 1e-2 * rng.standard_normal(v.shape)
        other = (u + du) @ (v + dv)
        other_b = (xo @ w + b).mean(0) - xc.mean(0) @ other
        assert objective(xc, xo, w, b, g, lam, other, other_b) >= mine - 1e-12


def test_full_rank_recovers_the_original_output_through_a_shift():
    """A mean shift of the inputs (an earlier layer's error) is corrected by the refitted bias:
    at full rank and no ridge the original output comes back exactly (numpy float64)."""
    xo, _, w, b, _ = problem(seed=7)
    xc = xo + np.linspace(-1, 1, 9)
    _, u, v, bias, _ = output_fit(w, b, xc, xo, 0.0, rank=lambda s: 7)
    np.testing.assert_allclose(xc @ u @ v + bias, xo @ w + b, atol=1e-9)


def test_same_inputs_and_no_metric_give_the_whitened_svd_of_the_centred_inputs():
    xo, _, w, b, _ = problem(seed=3)
    _, u, v, _, s = output_fit(w, b, xo, xo, 0.0, rank=lambda s: 3)
    a = xo - xo.mean(0)
    chol = np.linalg.cholesky(a.T @ a / len(a))
    p, s2, qt = np.linalg.svd(chol.T @ w, full_matrices=False)
    np.testing.assert_allclose(s, s2, rtol=1e-9)
    np.testing.assert_allclose(u @ v, np.linalg.solve(chol.T, p[:, :3] * s2[:3]) @ qt[:3], atol=1e-9)


def test_the_model_path_matches_output_fit_on_gathered_activations():
    """low_rank(data=) layer by layer: the second layer is fitted on the first's compressed output."""
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((400, 12)) * np.geomspace(0.1, 3, 12)).astype(np.float32)
    dc.set_seed(4)
    model = dc.Sequential(
        [Dense(10, activation="relu", input_shape=(12,), name="a"), Dense(10, name="b"), Dense(2, name="c")]
    )
    small = dc.compress.low_rank(model, rank=3, layers=["a", "b"], data=x, verbose=0)
    first, second = small.layers[0], small.layers[1]
    seen = np.maximum(x.astype(np.float64) @ first.u.data @ first.v.data + first.bias.data, 0)
    orig = np.maximum(x.astype(np.float64) @ model.layers[0].kernel.data + model.layers[0].bias.data, 0)
    wc = model.layers[2].kernel.data.astype(np.float64)
    g = wc @ wc.T
    g += 0.1 * np.trace(g) / 10 * np.eye(10)
    _, u, v, bias, _ = output_fit(
        model.layers[1].kernel.data, model.layers[1].bias.data, seen, orig, 1e-3, metric=g, rank=lambda s: 3
    )
    np.testing.assert_allclose(second.u.data.astype(np.float64) @ second.v.data, u @ v, atol=1e-4)
    np.testing.assert_allclose(second.bias.data, bias, atol=1e-4)
    assert [row["fit"] for row in small.compression_report] == ["output", "output"]


def test_fit_is_checked():
    model = dc.Sequential([Dense(10, input_shape=(12,)), Dense(2)])
    with pytest.raises(ValueError, match="fit must be 'output' or 'whitened'"):
        dc.compress.low_rank(model, rank=2, data=np.ones((20, 12)), fit="pca", verbose=0)
