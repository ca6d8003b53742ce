"""fit_budget: ranks chosen per layer within a budget, the greedy rule, bad budgets refused."""

import numpy as np
import pytest
from densecore.layers import Dense

import densecore as dc


def model_and_data(seed=0):
    dc.set_seed(seed)
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((300, 16)) * np.geomspace(0.1, 2, 16)).astype(np.float32)
    model = dc.Sequential(
        [
            Dense(32, activation="relu", input_shape=(16,), name="a"),
            Dense(32, activation="relu", name="b"),
            Dense(4),
        ]
    )
    return model, x


@pytest.mark.parametrize("kind", ["params", "flops"])
def test_the_budget_is_met_and_reported(kind):
    model, x = model_and_data()
    total = (
        model.count_params() if kind == "params" else sum(layer.flops_per_sample() for layer in model.layers)
    )
    budget = int(total * 0.5)
    small = dc.compress.fit_budget(model, x, **{kind: budget}, layers=["a", "b"], verbose=0)
    report = small.budget_report
    spent = (
        small.count_params() if kind == "params" else sum(layer.flops_per_sample() for layer in small.layers)
    )
    assert report["spent"] == spent <= budget
    assert [row["layer"] for row in report["layers"]] == ["a", "b"]
    assert [getattr(layer, "rank", None) for layer in small.layers[:2]] == [
        row["rank"] for row in report["layers"]
    ]
    assert "budget" in dc.compress.format_budget(report)


def test_more_budget_never_more_predicted_error():
    model, x = model_and_data(1)
    errors = []
    for budget in (600, 900, 1300, 1800):
        small = dc.compress.fit_budget(model, x, params=budget, layers=["a", "b"], verbose=0)
        errors.append(sum(row["predicted_error"] ** 2 for row in small.budget_report["layers"]))
    assert errors == sorted(errors, reverse=True)


def test_a_budget_as_big_as_the_model_keeps_it_dense():
    model, x = model_and_data(2)
    small = dc.compress.fit_budget(model, x, params=model.count_params(), verbose=0)
    np.testing.assert_allclose(small.predict(x), model.predict(x), atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, error, words",
    [
        (dict(params=100), ValueError, ["params=100 is below the smallest model", "216 parameters"]),
        (dict(flops=10), ValueError, ["flops=10 is below the smallest model"]),
        (dict(params=0), ValueError, ["Received: params=0"]),
        (dict(params=1000, flops=1000), ValueError, ["exactly one"]),
        (dict(), ValueError, ["exactly one"]),
        (dict(params=1000, data=np.ones((5, 3))), ValueError, ["data must have shape", "(5, 3)"]),
        (dict(params=1000, data=np.full((5, 16), np.inf)), ValueError, ["finite"]),
        (dict(params=1000, data="x"), TypeError, ["numeric"]),
    ],
)
def test_bad_budgets_and_data_are_refused_before_any_work(kwargs, error, words):
    model, x = model_and_data(3)
    before = model.get_weights()
    kwargs = {"data": x, **kwargs}
    with pytest.raises(error) as info:
        dc.compress.fit_budget(model, verbose=0, **kwargs)
    for word in words:
        assert word in str(info.value)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_never_further_from_the_original_than_one_rank_for_all_layers_on_the_data():
    """The returned model's outputs on the data are at least as close to the original's (sum of
    squared differences, numpy) as those of the largest uniform rank that fits the same budget."""
    import warnings

    rng = np.random.default_rng(3)
    x = (rng.standard_normal((300, 16)) * np.geomspace(0.1, 3, 16)).astype(np.float32)
    dc.set_seed(3)
    model = dc.Sequential(
        [
            dc.layers.Dense(48, activation="relu", input_shape=(16,), name="h1"),
            dc.layers.Dense(48, activation="relu", name="h2"),
            dc.layers.Dense(4, name="out"),
        ]
    )
    want = model.predict(x)
    for r in (2, 4, 8):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            uniform = dc.compress.low_rank(model, rank=r, layers=["h1", "h2"], data=x, verbose=0)
            chosen = dc.compress.fit_budget(
                model, x, params=uniform.count_params(), layers=["h1", "h2"], verbose=0
            )
        assert chosen.count_params() <= uniform.count_params()
        assert chosen.budget_report["chose"] in ("greedy", "dp", "uniform")
        err = lambda m: float(np.sum((m.predict(x) - want) ** 2))  # noqa: E731
        assert err(chosen) <= err(uniform) * (1 + 1e-6)


def test_allocate_is_the_exact_knapsack_against_brute_force():
    """allocate (dynamic programming over Pareto fronts) against enumerating every combination
    with itertools.product: the least total error within the budget."""
    import itertools

    from densecore.compress.budget import allocate

    rng = np.random.default_rng(0)
    for _ in range(30):
        layers = [
            {
                choice: (int(rng.integers(1, 40)), float(rng.random()))
                for choice in [None, *range(1, rng.integers(2, 6))]
            }
            for _ in range(int(rng.integers(1, 4)))
        ]
        available = int(rng.integers(1, 100))
        best = None
        for combo in itertools.product(*[list(layer.items()) for layer in layers]):
            cost = sum(c for _, (c, _) in combo)
            error = sum(e for _, (_, e) in combo)
            if cost <= available and (best is None or error < best[0] - 1e-12):
                best = (error, [choice for choice, _ in combo])
        got = allocate(layers, available)
        if best is None:
            assert got is None
            continue
        assert sum(layer[c][1] for layer, c in zip(layers, got)) == pytest.approx(best[0], abs=1e-12)
        assert sum(layer[c][0] for layer, c in zip(layers, got)) <= available


def test_the_kept_plan_is_the_closest_candidate_on_the_data():
    """Every candidate plan (greedy, dp, uniform) is reported with its error on the data, and the
    model returned is the one of least error; its measured errors are those of each layer alone."""
    model, x = model_and_data(4)
    small = dc.compress.fit_budget(model, x, params=900, layers=["a", "b"], verbose=0)
    report = small.budget_report
    plans = {row["plan"] for row in report["candidates"]}
    assert "greedy" in plans and report["chose"] in plans
    want = model.predict(x)
    error = float(np.sum((small.predict(x) - want) ** 2))
    assert error == pytest.approx(min(row["error"] for row in report["candidates"]), rel=1e-6)
    kept = next(row for row in report["candidates"] if row["plan"] == report["chose"])
    assert kept["ranks"] == [row["rank"] for row in report["layers"]]
    for row in report["layers"]:
        assert row["measured_error"] is not None and row["measured_error"] >= 0
