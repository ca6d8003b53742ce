"""Budgets instead of per-layer knobs: each layer's rank chosen to meet one global budget.

One rank for every layer spends parameters evenly, but layers are not equally compressible:
one whose output lives in a few directions loses little at a small rank, another loses a lot.
`fit_budget` spends a budget (parameters or FLOPs per sample) where it buys the most.

The price of each choice comes from the data-aware factorisation (see `lowrank`): for a layer
whose whitened kernel Lᵀ W has singular values s_1 ≥ s_2 ≥ …, keeping r of them loses the
fraction

    e(r) = Σ_{i>r} s_i² / Σ_i s_i²

of the layer's output energy on the data, and costs r·(in + out) parameters (2·r·(in + out)
FLOPs). Going from r to r + 1 buys s_{r+1}² / Σ s_i² for (in + out) more: a gain per unit of
budget that only falls as r grows, since the s_i are sorted. So the greedy rule, which starts
every layer at rank 1 (the smallest model) and repeatedly takes the step with the largest
gain per unit of budget that still fits, is the classic solution of this knapsack with
diminishing returns. A layer's last step is back to its dense kernel, which removes its whole
remaining error for in·out − r·(in + out) more. The sum of the layers' relative errors is the
objective: relative, so that layers whose activations differ in scale weigh the same.

The spectra are those of `lowrank.output_fit` on the original model: each layer's output energy
in the metric of the next dense layer, so a step is priced by what it changes downstream, not
by W's singular values.

Measured prices and an exact allocation (the "dp" plan). The spectrum prices a layer by its own
output; what matters is the model's FINAL output. So each layer is also priced by measurement:
with that layer ALONE factorised (by `output_fit` on the original inputs, one relu pass) at each
rank r of a grid R_ℓ (about MEASURED_RANKS ranks, geometric from 1 to the largest rank that saves
parameters, plus the greedy and uniform ranks), E_ℓ(r) = ‖f̃(X) − f(X)‖_F² is the sum of squared
differences of the final outputs on the data (E_ℓ(dense) = 0). Taking the layers' errors as
additive (first order: the cross terms of two small errors are of second order), the
allocation is the multiple-choice knapsack

    min Σ_ℓ E_ℓ(r_ℓ)   over r_ℓ ∈ R_ℓ ∪ {dense},   subject to   Σ_ℓ cost_ℓ(r_ℓ) ≤ budget − rest,

solved exactly by dynamic programming over the layers: after layer ℓ, keep for every reachable
cost only the plans not dominated by a cheaper one with less error (the Pareto front of cost
against error); the best plan of the last front within the budget is optimal, because any
plan's prefix can be swapped for the front's plan of no more cost and no more error. The
fronts hold at most Π|R_ℓ| plans and usually far fewer; pricing costs Σ|R_ℓ| fits and
predictions on the data.

The plans (greedy, dp, and the largest single rank for every layer that fits) are each applied
by `low_rank(model, rank={layer: r}, data=data)`, layer by layer on the compressed model, and
the model whose final outputs on the data are closest to the original's (sum of squared
differences: label-free) is returned (`budget_report["chose"]` says which): on that data,
never further than one rank for all layers.
"""

import warnings

import numpy as np

from ..nn.layers import Dense, LowRankDense
from .lowrank import (
    OUTPUT_RIDGE,
    _check_ridge,
    _is_relu,
    _metric,
    _next_dense,
    _walk,
    check_data,
    layer_inputs,
    low_rank,
    output_fit,
)
from .surgery import _counterpart, _require_built, clone, find_layers, rebuilt, replace_layers

MEASURED_RANKS = 12  # ranks per layer measured for the dp plan (geometric), plus greedy's and uniform's


def _costs(layer, kind):
    """(cost at rank r as a function, cost dense) for one layer, in parameters or FLOPs."""
    n_in, n_out = layer.kernel.shape
    bias = n_out if layer.use_bias else 0
    if kind == "params":
        return (lambda r: r * (n_in + n_out) + bias), n_in * n_out + bias
    return (lambda r: 2 * r * (n_in + n_out) + n_out), layer.flops_per_sample()


def _total(model, kind):
    if kind == "params":
        return model.count_params()
    return sum(layer.flops_per_sample() for _, layer in _walk(model))


def fit_budget(model, data, params=None, flops=None, layers=None, ridge="auto", verbose=1):
    """A copy of `model` whose dense layers are factorised at ranks chosen to fit a budget
    with the least output error on `data`.

    Args:
        model: a built model (trained, usually).
        data: inputs (samples, *input shape) representative of what the model will see.
        params: the most parameters the whole model may have; or
        flops: the most forward FLOPs per sample the whole model may cost.
        layers: names of the Dense layers that may be factorised (default: every Dense for
            which rank 1 saves something).
        ridge: as `low_rank` ("auto" by default).
        verbose: 1 prints the chosen ranks.

    Returns:
        The new model (compiled like the original, if it was). Its `budget_report` holds the
        budget, what the model spends, and per layer: shape, the chosen rank (None: kept
        dense), its cost, its predicted relative output error √e(r) and its measured error
        E(r) (the final outputs' sum of squared differences on the data with that layer alone
        factorised); "chose" (greedy, dp or uniform) and "candidates" (each plan's ranks and
        its model's error on the data); its `compression_report` and `refit_report` are
        low_rank's.

    Raises:
        ValueError: not exactly one of params and flops, a budget that is not a positive
            integer or is below the smallest model (every chosen layer at rank 1), or bad
            data (see `low_rank`); before any work, with the model untouched.
        TypeError: data that is not numeric.

    Example:
        >>> import numpy as np, densecore as dc
        >>> dc.set_seed(0)
        >>> model = dc.Sequential([dc.layers.Dense(32, activation="relu", input_shape=(16,)),
        ...                        dc.layers.Dense(32, activation="relu"), dc.layers.Dense(4)])
        >>> x = np.random.default_rng(0).standard_normal((300, 16)).astype("float32")
        >>> small = dc.compress.fit_budget(model, x, params=1200, verbose=0)
        >>> small.count_params() <= 1200 < model.count_params()
        True
        >>> dc.compress.fit_budget(model, x, params=100)
        Traceback (most recent call last):
        ...
        ValueError: compress.fit_budget: params=100 is below the smallest model this can make, ...
    """
    where = "compress.fit_budget"
    _require_built(model, where)
    if (params is None) == (flops is None):
        raise ValueError(
            f"{where}: give exactly one of params and flops; received params={params!r}, flops={flops!r}."
        )
    kind, budget = ("params", params) if params is not None else ("flops", flops)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"{where}: {kind} must be a positive integer. Received: {kind}={budget!r}")
    _check_ridge(ridge, where)
    data = check_data(model, data, where)
    if layers is None:
        targets = [
            layer
            for _, layer in _walk(model)
            if type(layer) is Dense and sum(layer.kernel.shape) < np.prod(layer.kernel.shape)
        ]
    else:
        targets = find_layers(model, layers, where)
    costs = {layer: _costs(layer, kind) for layer in targets}
    total = _total(model, kind)
    rest = total - sum(dense for _, dense in costs.values())
    smallest = rest + sum(cost(1) for cost, _ in costs.values())
    unit = "parameters" if kind == "params" else "FLOPs per sample"
    if budget < smallest:
        raise ValueError(
            f"{where}: {kind}={budget} is below the smallest model this can make, {smallest} {unit} "
            f"(every factorised layer at rank 1)."
        )
    few = [layer.name for layer in targets if len(data) < layer.kernel.shape[0]]
    if few and ridge == 0:
        raise ValueError(
            f"{where}: data has {len(data)} samples, fewer than the inputs of {few}; give ridge > 0. "
            f"Received: data of shape {data.shape}, ridge=0"
        )

    # the price list: each layer's relative output error at every rank, from the spectrum of
    # the data-aware fit (output energy in the next layer's metric, not W's singular values)
    lam = OUTPUT_RIDGE if ridge == "auto" else ridge
    following = _next_dense(model)
    errors = {}
    for layer in targets:
        xo = layer_inputs(model, layer, data)
        bias = layer.bias.data if layer.use_bias else None
        metric = _metric(following.get(layer))
        s = output_fit(
            layer.kernel.data, bias, xo, xo, lam, metric=metric, where=where, name=f"layer '{layer.name}'"
        )[4]
        energy = s**2 / max(float(np.sum(s**2)), 1e-300)
        errors[layer] = np.concatenate([[1.0], 1.0 - np.cumsum(energy)]).clip(0)  # e(0), e(1), …

    # greedy: every layer at rank 1, then the affordable step with the most gain per cost
    ranks = dict.fromkeys(targets, 1)
    spent = smallest
    while True:
        best = None
        for layer, r in ranks.items():
            if r is None:
                continue
            cost, dense = costs[layer]
            n_in, n_out = layer.kernel.shape
            if (r + 1) * (n_in + n_out) < n_in * n_out and r + 1 <= min(n_in, n_out):
                step, gain = cost(r + 1) - cost(r), errors[layer][r] - errors[layer][r + 1]
                nxt = r + 1
            else:
                step, gain, nxt = dense - cost(r), errors[layer][r], None
            if spent + step <= budget and (best is None or gain / step > best[0]):
                best = (gain / step, layer, nxt, step)
        if best is None:
            break
        _, layer, nxt, step = best
        ranks[layer], spent = nxt, spent + step

    # the measured prices (each layer alone, final outputs on the data) and the exact allocation
    wanted = model.predict(data, batch_size=256)
    uniform = _uniform(targets, costs, rest, budget)
    extra = {layer: {ranks[layer], None if uniform is None else uniform[layer]} for layer in targets}
    measured = _measured_errors(model, targets, data, lam, wanted, extra)
    dp = allocate(
        [
            {r: (costs[layer][1] if r is None else costs[layer][0](r), e) for r, e in measured[layer].items()}
            for layer in targets
        ],
        budget - rest,
    )

    # the candidates: greedy, dp, and the largest single rank for all layers that fits; the one
    # whose final outputs on the data are closest to the original model's is kept
    candidates = [("greedy", ranks)]
    if dp is not None:
        candidates.append(("dp", dict(zip(targets, dp))))
    if uniform is not None:
        candidates.append(("uniform", uniform))
    best, built = None, {}
    for label, plan in candidates:
        key = tuple(plan[layer] for layer in targets)
        if key in built:  # the same ranks as an earlier plan: the same model
            continue
        chosen = {layer.name: r for layer, r in plan.items() if r is not None}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            new = low_rank(model, rank=chosen, data=data, ridge=ridge, verbose=0) if chosen else clone(model)
        if not chosen:
            new.compression_report, new.refit_report = [], []
        error = float(np.sum((new.predict(data, batch_size=256) - wanted) ** 2))
        built[key] = (label, error)
        if best is None or error < best[0]:
            best = (error, new, plan, label)
    _, new, ranks, label = best
    rows = []
    for layer in targets:
        r = ranks[layer]
        cost, dense = costs[layer]
        rows.append(
            {
                "layer": layer.name,
                "shape": tuple(layer.kernel.shape),
                "rank": r,
                kind: dense if r is None else cost(r),
                "predicted_error": 0.0 if r is None else float(np.sqrt(errors[layer][r])),
                "measured_error": measured[layer].get(r),
            }
        )
    new.budget_report = {
        "budget": budget,
        "kind": kind,
        "spent": _total(new, kind),
        "layers": rows,
        "chose": label,
        "candidates": [
            {"plan": plan, "ranks": list(key), "error": error} for key, (plan, error) in built.items()
        ],
    }
    if verbose:
        print(format_budget(new.budget_report))
    return new


def _rank_grid(layer, extra):
    """About MEASURED_RANKS ranks, geometric from 1 to the largest that saves parameters, with
    `extra` (None: dense, always included)."""
    n_in, n_out = layer.kernel.shape
    top = max(1, min(min(n_in, n_out), -(-n_in * n_out // (n_in + n_out)) - 1))
    grid = {int(round(g)) for g in np.geomspace(1, top, MEASURED_RANKS)}
    return sorted(grid | {r for r in extra if r is not None}) + [None]


def _measured_errors(model, targets, data, lam, wanted, extra):
    """{layer: {r: E(r)}}: the sum of squared differences of the final outputs on `data` from
    `wanted` (the original's) with that layer ALONE factorised at rank r by `output_fit` on the
    original inputs (one relu pass); E(None) = 0 (dense)."""
    following = _next_dense(model)
    measured = {}
    for layer in targets:
        new = clone(model)
        current = _counterpart(model, new)[layer]
        xo = layer_inputs(model, layer, data)
        bias = layer.bias.data if layer.use_bias else None
        errors = {}
        for r in _rank_grid(layer, extra[layer]):
            if r is None:
                errors[r] = 0.0
                continue
            _, u, v, b, _ = output_fit(
                layer.kernel.data,
                bias,
                xo,
                xo,
                lam,
                metric=_metric(following.get(layer)),
                relu_passes=1 if _is_relu(layer) else 0,
                rank=lambda s, r=r: r,
            )
            weights = [u.astype(np.float32), v.astype(np.float32)] + (
                [b.astype(np.float32)] if bias is not None else []
            )
            candidate = rebuilt(LowRankDense, layer, weights, rank=r)
            replace_layers(new, {current: candidate})
            current = candidate
            errors[r] = float(np.sum((new.predict(data, batch_size=256) - wanted) ** 2))
        measured[layer] = errors
    return measured


def allocate(options, available):
    """The exact multiple-choice knapsack: one option per layer, least total error within the
    budget, by dynamic programming over the layers' Pareto fronts (module docstring).

    Args:
        options: per layer, {choice: (cost, error)}.
        available: the most the chosen options may cost together.

    Returns:
        [choice per layer] of least Σ error with Σ cost ≤ available (the cheapest of equals),
        or None when nothing fits.

    Example:
        >>> allocate([{1: (2, 5.0), 2: (4, 1.0)}, {1: (2, 3.0), 2: (4, 2.0)}], available=6)
        [2, 1]
    """
    front = [(0, 0.0, [])]  # (cost, error, choices): cost ascending, error strictly descending
    for layer in options:
        plans = sorted(
            (
                (cost + c, error + e, choices + [choice])
                for cost, error, choices in front
                for choice, (c, e) in layer.items()
                if cost + c <= available
            ),
            key=lambda plan: plan[:2],
        )
        front = []
        for plan in plans:  # keep a plan only if it has less error than every cheaper one
            if not front or plan[1] < front[-1][1]:
                front.append(plan)
        if not front:
            return None
    return front[-1][2]


def _uniform(targets, costs, rest, budget):
    """{layer: r}: the largest one rank for every layer (clipped to what saves parameters, else
    dense) whose model fits the budget; None if even rank 1 does not."""
    best = None
    for r in range(1, max(min(layer.kernel.shape) for layer in targets) + 1):
        plan = {}
        for layer in targets:
            n_in, n_out = layer.kernel.shape
            plan[layer] = r if r * (n_in + n_out) < n_in * n_out and r <= min(n_in, n_out) else None
        spent = rest + sum(
            costs[layer][1] if plan[layer] is None else costs[layer][0](plan[layer]) for layer in targets
        )
        if spent > budget:
            break
        best = plan
    return best


def format_budget(report) -> str:
    """The budget report as a table."""
    kind = report["kind"]
    lines = [
        f"budget {report['budget']:,} {kind}, spent {report['spent']:,}",
        f"{'layer':<14}{'in × out':>12}{'rank':>7}{kind:>10}{'pred. error':>13}",
    ]
    for row in report["layers"]:
        rank = "dense" if row["rank"] is None else row["rank"]
        lines.append(
            f"{row['layer']:<14}{'%d × %d' % row['shape']:>12}{rank:>7}{row[kind]:>10,}"
            f"{row['predicted_error']:>13.4f}"
        )
    return "\n".join(lines)
