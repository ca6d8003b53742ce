"""Making a trained model cheaper: low-rank factorisation (SVD) of its dense layers.

Every function here returns a new model and leaves the original untouched; each checks all
its arguments before it copies anything.

Low rank. A dense kernel W (in × out) has a singular value decomposition

    W = U Σ Vᵀ = Σ_i σ_i u_i v_iᵀ,      σ_1 ≥ σ_2 ≥ … ≥ 0,

a sum of rank-one matrices ordered by importance. Keeping the first r terms gives W_r, and
by the Eckart–Young theorem no matrix of rank r is closer to W in the Frobenius norm:

    ‖W − W_r‖_F = √(σ_{r+1}² + … + σ_n²),   so   ‖W − W_r‖_F / ‖W‖_F = √(Σ_{i>r} σ_i² / Σ_i σ_i²).

W_r is stored as two thin factors, splitting √Σ between them so neither is badly scaled:

    U_r = U[:, :r] · √Σ_r   (in × r),      V_r = √Σ_r · Vᵀ[:r, :]   (r × out),

and the layer becomes a LowRankDense computing act(x U_r V_r + b). Parameters and FLOPs
fall from in·out to r·(in + out), which pays only when r < in·out / (in + out). The rank
can be given directly, or chosen as the smallest r that keeps a fraction `energy` of
Σ σ_i² (the squared Frobenius norm).
"""

import copy
import warnings

import numpy as np

from .layers import Dense, Layer, LowRankDense


# ---- model surgery, shared by every transformation here -----------------------------------
def _walk(container):
    """(owner, layer) for every layer in the model, depth first, in order."""
    for layer in container._layers:
        yield container, layer
        yield from _walk(layer)


def _require_built(model, where):
    if not getattr(model, "built", False):
        raise ValueError(
            f"{where}: model '{model.name}' is not built; call it on data, fit it "
            f"or build((None, features)) first."
        )


def _attribute_names(owner, layer):
    return [name for name, value in vars(owner).items() if value is layer]


def find_layers(model, names, where, kind=Dense):
    """The layers named in `names` (by layer name or attribute name), checked to be `kind`."""
    found = []
    known = {}
    for owner, layer in _walk(model):
        known[layer.name] = layer
        for attribute in _attribute_names(owner, layer):
            known.setdefault(attribute, layer)
    for name in names:
        layer = name if isinstance(name, Layer) else known.get(name)
        if layer is None:
            raise ValueError(f"{where}: no layer named {name!r}; the model has {sorted(known)}.")
        if type(layer) is not kind:
            raise ValueError(f"{where}: layer {name!r} is a {type(layer).__name__}, not a {kind.__name__}.")
        found.append(layer)
    return found


def clone(model):
    """A deep copy of `model`, compiled like it (fresh optimizer state) if it was compiled."""
    new = copy.deepcopy(model)
    if getattr(model, "compiled", False):
        optimizer = type(model.optimizer).from_config(model.optimizer.get_config())
        new.compile(
            optimizer=optimizer,
            loss=copy.deepcopy(model.loss),
            metrics=[copy.deepcopy(m) for m in model.compiled_metrics],
        )
    return new


def replace_layers(model, replacements: dict) -> None:
    """Swap layers in place in `model` (a clone): {old layer: new layer}."""
    for owner, layer in list(_walk(model)):
        new = replacements.get(layer)
        if new is None:
            continue
        owner._layers[owner._layers.index(layer)] = new
        for attribute in _attribute_names(owner, layer):
            object.__setattr__(owner, attribute, new)


def rebuilt(cls, layer, weights, **changes):
    """A new `cls` layer configured like `layer` (with `changes`), holding `weights`.

    Its input width is the first weight's number of rows; it keeps `layer`'s trainable flag.
    """
    config = {k: v for k, v in layer.get_config().items() if k != "input_shape"}
    new = cls.from_config({**config, **changes})
    new.build((None, weights[0].shape[0]))
    new.set_weights(weights)
    new.trainable = layer.trainable
    return new


def _counterpart(original, copied):
    """Map each layer of `original` to the same layer in its deep copy `copied`."""
    return {a: b for (_, a), (_, b) in zip(_walk(original), _walk(copied))}


# ---- low rank ----------------------------------------------------------------------------
def _rank_for(sigma, rank, energy):
    if rank is not None:
        return rank
    share = np.cumsum(sigma**2) / max(float(np.sum(sigma**2)), 1e-300)
    return int(np.searchsorted(share, energy - 1e-12) + 1)


def low_rank(model, rank=None, energy=None, layers=None, verbose=1):
    """A copy of `model` whose dense layers are factorised by truncated SVD.

    Args:
        model: a built model (trained, usually).
        rank: the rank r for every chosen layer; or
        energy: in (0, 1]: per layer, the smallest r keeping this fraction of Σσ².
        layers: names (layer or attribute names) of the Dense layers to factorise. None: every
            Dense whose factorisation saves parameters (r < in·out/(in + out)); the others are
            kept dense, with a warning.
        verbose: 1 prints the report table.

    Returns:
        The new model (compiled like the original, with a fresh optimizer, if it was). Its
        `compression_report` lists per layer: rank, parameters and FLOPs per sample before
        and after, and the relative error ‖W − UV‖_F / ‖W‖_F.

    Example:
        >>> import densecore as dc
        >>> model = dc.Sequential([dc.layers.Dense(64, input_shape=(64,)), dc.layers.Dense(10)])
        >>> small = dc.compress.low_rank(model, rank=9, verbose=0)  # 9·(64+10) > 64·10: kept
        >>> [type(layer).__name__ for layer in small.layers]
        ['LowRankDense', 'Dense']
    """
    where = "compress.low_rank"
    _require_built(model, where)
    if (rank is None) == (energy is None):
        raise ValueError(
            f"{where}: give exactly one of rank and energy; received rank={rank!r}, energy={energy!r}."
        )
    if rank is not None and (isinstance(rank, bool) or not isinstance(rank, (int, np.integer)) or rank < 1):
        raise ValueError(f"{where}: rank must be a positive integer. Received: rank={rank!r}")
    if energy is not None and (not isinstance(energy, (int, float)) or not 0 < energy <= 1):
        raise ValueError(f"{where}: energy must be in (0, 1]. Received: energy={energy!r}")
    named = layers is not None
    targets = (
        find_layers(model, layers, where)
        if named
        else [layer for _, layer in _walk(model) if type(layer) is Dense]
    )

    plan, report = {}, []
    for layer in targets:
        w = layer.kernel.data.astype(np.float64)
        n_in, n_out = w.shape
        u, sigma, vt = np.linalg.svd(w, full_matrices=False)
        r = _rank_for(sigma, rank, energy)
        if r > min(n_in, n_out):
            if named:
                raise ValueError(
                    f"{where}: rank {r} exceeds min(in, out) = {min(n_in, n_out)} "
                    f"for layer '{layer.name}' ({n_in} × {n_out})."
                )
            r = min(n_in, n_out)
        if r * (n_in + n_out) >= n_in * n_out and not named:
            warnings.warn(
                f"{where}: layer '{layer.name}' ({n_in} × {n_out}) kept dense: rank {r} "
                f"would not save parameters (needs r < {n_in * n_out / (n_in + n_out):.1f}).",
                stacklevel=2,
            )
            continue
        root = np.sqrt(sigma[:r])
        error = float(np.sqrt(np.sum(sigma[r:] ** 2) / max(np.sum(sigma**2), 1e-300)))
        plan[layer] = (r, (u[:, :r] * root).astype(np.float32), (root[:, None] * vt[:r]).astype(np.float32))
        bias = 0 if not layer.use_bias else n_out
        report.append(
            {
                "layer": layer.name,
                "shape": (n_in, n_out),
                "rank": r,
                "params_before": n_in * n_out + bias,
                "params_after": r * (n_in + n_out) + bias,
                "flops_before": layer.flops_per_sample(),
                "flops_after": 2 * r * (n_in + n_out) + n_out,
                "relative_error": error,
            }
        )

    new = clone(model)
    twin = _counterpart(model, new)
    replacements = {}
    for layer, (r, u_r, v_r) in plan.items():
        bias = [layer.bias.data] if layer.use_bias else []
        replacements[twin[layer]] = rebuilt(LowRankDense, layer, [u_r, v_r] + bias, rank=r)
    replace_layers(new, replacements)
    new.compression_report = report
    if verbose:
        print(format_report(report))
    return new


def format_report(report) -> str:
    """The low-rank report as a table."""
    lines = [f"{'layer':<14}{'in × out':>12}{'rank':>6}{'params':>18}{'FLOPs/sample':>20}{'rel. error':>12}"]
    for row in report:
        lines.append(
            f"{row['layer']:<14}{'%d × %d' % row['shape']:>12}{row['rank']:>6}"
            f"{row['params_before']:>9,} → {row['params_after']:<6,}"
            f"{row['flops_before']:>10,} → {row['flops_after']:<7,}{row['relative_error']:>12.4f}"
        )
    return "\n".join(lines)


def _score(model, x, y):
    result = model.evaluate(x, y, return_dict=True)
    metric = next((k for k in result if k != "loss"), "loss")
    return metric, result[metric]


def sweep(
    model,
    x,
    y,
    ranks,
    fine_tune_epochs=3,
    validation_data=None,
    layers=None,
    batch_size=32,
    plot=None,
    verbose=1,
):
    """Compress `model` at each rank, score it, fine-tune it, score it again.

    Args:
        model: a built, compiled model.
        x, y: fine-tuning data.  validation_data: (x, y) to score on (default: x, y).
        ranks: the ranks to try.  fine_tune_epochs: epochs of fit after compression.
        layers: as low_rank.  plot: a file name for a PNG of accuracy against parameters
            (needs matplotlib).

    Returns:
        A list of dicts: rank, params, flops, score before and after fine-tuning (the first
        compiled metric, else the loss), with the dense original as rank None.
    """
    model._require_compiled("compress.sweep")
    x_val, y_val = validation_data if validation_data is not None else (x, y)
    metric, base = _score(model, x_val, y_val)
    rows = [
        {
            "rank": None,
            "params": model.count_params(),
            "flops": sum(layer.flops_per_sample() for layer in model.layers),
            "before": base,
            "after": base,
        }
    ]
    for rank in ranks:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            small = low_rank(model, rank=rank, layers=layers, verbose=0)
        before = _score(small, x_val, y_val)[1]
        if fine_tune_epochs:
            small.fit(x, y, epochs=fine_tune_epochs, batch_size=batch_size, verbose=0)
        rows.append(
            {
                "rank": rank,
                "params": small.count_params(),
                "flops": sum(layer.flops_per_sample() for layer in small.layers),
                "before": before,
                "after": _score(small, x_val, y_val)[1],
            }
        )
    if verbose:
        print(f"{'rank':>6}{'params':>10}{'FLOPs':>10}{metric + ' before':>20}{'after':>10}")
        for row in rows:
            print(
                f"{'dense' if row['rank'] is None else row['rank']:>6}{row['params']:>10,}"
                f"{row['flops']:>10,}{row['before']:>20.4f}{row['after']:>10.4f}"
            )
    if plot:
        _plot_sweep(rows, metric, plot)
    return rows


def _plot_sweep(rows, metric, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("compress.sweep(plot=...) needs matplotlib: pip install densecore[plot]") from exc
    fig, ax = plt.subplots(figsize=(5, 3.5))
    params = [r["params"] for r in rows]
    ax.plot(params, [r["before"] for r in rows], "o--", label="after SVD")
    ax.plot(params, [r["after"] for r in rows], "o-", label="after fine-tuning")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel(metric)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# ---- fewer nodes: structured pruning -----------------------------------------------------
def _dense_chain(model):
    """{layer: the Dense that consumes its output} found by tracing one forward pass.

    Every Dense call records its input and output Tensors; a Dense B consumes A when B's
    input is A's output, or derives from it through shape-preserving one-input steps
    (Dropout, Activation). Layers whose consumer is unclear map to None.
    """
    from .tensor import Tensor

    calls = []
    dense_layers = [layer for _, layer in _walk(model) if type(layer) is Dense]
    for layer in dense_layers:
        original = layer.call

        def traced(inputs, training=None, _layer=layer, _call=original):
            out = _call(inputs, training=training)
            calls.append((_layer, inputs, out))
            return out

        object.__setattr__(layer, "call", traced)
    try:
        x = Tensor(np.zeros((2, *model.input_shape[1:]), np.float32), requires_grad=True)
        model(x, training=False)
    finally:
        for layer in dense_layers:
            del layer.__dict__["call"]
    producer = {id(out): layer for layer, _, out in calls}
    consumers = {}
    for layer, inputs, _ in calls:
        node = inputs
        while id(node) not in producer:
            grad_parents = [p for p in node._parents if p.requires_grad]
            if len(grad_parents) != 1 or grad_parents[0].shape != node.shape:
                node = None
                break
            node = grad_parents[0]
        if node is not None:
            source = producer[id(node)]
            consumers[source] = None if source in consumers else layer  # two consumers: unclear
    return consumers


def _unit_scores(layer, consumer, criterion, data, model, where):
    if criterion == "l2":  # each unit's incoming and outgoing weights: ‖W[:, j]‖ · ‖W_next[j, :]‖
        incoming = np.sqrt((layer.kernel.data.astype(np.float64) ** 2).sum(axis=0))
        outgoing = np.sqrt((consumer.kernel.data.astype(np.float64) ** 2).sum(axis=1))
        return incoming * outgoing
    captured = {}
    original = layer.call

    def capture(inputs, training=None):
        out = original(inputs, training=training)
        captured["a"] = out.data
        return out

    object.__setattr__(layer, "call", capture)
    try:
        sums = np.zeros(layer.units)
        for start in range(0, len(data), 256):
            model.predict(data[start : start + 256], batch_size=256)
            sums += np.abs(captured["a"]).sum(axis=0)
    finally:
        del layer.__dict__["call"]
    return sums / len(data)


def prune_units(model, amount=None, keep=None, layers=None, criterion="l2", data=None, verbose=1):
    """A smaller copy of `model`: each chosen hidden Dense keeps only its most important units.

    The pruned layer loses the columns of its kernel (and entries of its bias) for the
    removed units, and the layer that consumes its output loses the matching rows of its
    kernel, so the kept units compute exactly what they did: before fine-tuning, the new
    model equals the old one with the removed units' outputs set to zero.

    Criteria:
        "l2": ‖W[:, j]‖₂ · ‖W_next[j, :]‖₂ — how strongly unit j is fed and how strongly it
            feeds the next layer. Needs no data, and (as a product) does not change when a
            ReLU unit's input weights are scaled by c and its output weights by 1/c, which
            leaves the network's function unchanged.
        "activation": the mean |a_j| of the unit's output over `data` — units that barely
            respond to real inputs go first. Needs representative data.

    Args:
        model: a built model whose dense layers form a chain.
        amount: the fraction of units to remove, in [0, 1); or
        keep: the number of units to keep per layer (≥ 1).
        layers: names of the hidden Dense layers to prune (default: every Dense but the last).
        criterion: "l2" (default) or "activation".
        data: inputs for the "activation" criterion.

    Returns:
        The new model (compiled like the original, with a fresh optimizer, if it was); its
        `pruning_report` lists units, parameters and FLOPs per sample before and after.
    """
    where = "compress.prune_units"
    _require_built(model, where)
    if (amount is None) == (keep is None):
        raise ValueError(
            f"{where}: give exactly one of amount and keep; received amount={amount!r}, keep={keep!r}."
        )
    if amount is not None and (not isinstance(amount, (int, float)) or not 0 <= amount < 1):
        raise ValueError(f"{where}: amount must be in [0, 1). Received: amount={amount!r}")
    if keep is not None and (isinstance(keep, bool) or not isinstance(keep, (int, np.integer)) or keep < 1):
        raise ValueError(f"{where}: keep must be a positive integer. Received: keep={keep!r}")
    if criterion not in ("l2", "activation"):
        raise ValueError(f"{where}: criterion must be 'l2' or 'activation'; received {criterion!r}.")
    if criterion == "activation":
        if data is None:
            raise ValueError(f"{where}: criterion='activation' needs data=.")
        data = np.asarray(data, np.float32)
        if data.shape[1:] != tuple(model.input_shape[1:]) or not np.all(np.isfinite(data)):
            raise ValueError(
                f"{where}: data must be finite, of shape (samples, "
                f"{', '.join(map(str, model.input_shape[1:]))}); received {data.shape}."
            )
    chain = _dense_chain(model)
    dense_layers = [layer for _, layer in _walk(model) if type(layer) is Dense]
    if layers is None:
        targets = [layer for layer in dense_layers if chain.get(layer) is not None]
    else:
        targets = find_layers(model, layers, where)
    plan, report = {}, []
    for layer in targets:
        consumer = chain.get(layer)
        if consumer is None:
            raise ValueError(
                f"{where}: layer '{layer.name}' feeds no single Dense layer (it is "
                f"the output layer, or its consumer is unclear); it cannot be pruned."
            )
        n_keep = keep if keep is not None else max(1, int(round(layer.units * (1 - amount))))
        if n_keep > layer.units:
            raise ValueError(
                f"{where}: keep={n_keep} is more than the {layer.units} units of layer '{layer.name}'."
            )
        scores = _unit_scores(layer, consumer, criterion, data, model, where)
        kept = np.sort(np.argsort(-scores, kind="stable")[:n_keep])
        plan[layer] = (consumer, kept)
    new = clone(model)
    twin = _counterpart(model, new)
    rows_to_keep = {consumer: kept for consumer, kept in plan.values()}
    replacements = {}
    for layer in dense_layers:
        cols = plan[layer][1] if layer in plan else None
        rows = rows_to_keep.get(layer)
        if cols is None and rows is None:
            continue
        kernel = layer.kernel.data
        bias = layer.bias.data if layer.use_bias else None
        if rows is not None:
            kernel = kernel[rows]
        if cols is not None:
            kernel = kernel[:, cols]
            bias = None if bias is None else bias[cols]
        smaller = rebuilt(Dense, layer, [kernel] + ([] if bias is None else [bias]), units=kernel.shape[1])
        replacements[twin[layer]] = smaller
        report.append(
            {
                "layer": layer.name,
                "units": (layer.units, kernel.shape[1]),
                "inputs": (layer.kernel.shape[0], kernel.shape[0]),
                "params": (layer.count_params(), smaller.count_params()),
                "flops": (layer.flops_per_sample(), smaller.flops_per_sample()),
            }
        )
    replace_layers(new, replacements)
    new.pruning_report = report
    if verbose:
        print(f"{'layer':<14}{'units':>14}{'inputs':>14}{'params':>20}{'FLOPs/sample':>22}")
        for row in report:
            print(
                f"{row['layer']:<14}{'%d → %d' % row['units']:>14}{'%d → %d' % row['inputs']:>14}"
                f"{'%d → %d' % row['params']:>20}{'%d → %d' % row['flops']:>22}"
            )
    return new


# ---- knowledge distillation --------------------------------------------------------------
def distill(
    teacher,
    student,
    x,
    y=None,
    temperature=2.0,
    alpha=0.1,
    epochs=5,
    batch_size=32,
    optimizer="adam",
    verbose=1,
):
    """Train `student` to match `teacher`'s softened outputs (Hinton et al., 2015).

    With teacher logits z_t and student logits z_s (the inputs of their final softmax), the
    soft targets are p = softmax(z_t / T) and the loss per sample is

        (1 − α) · T² · CE(p, softmax(z_s / T))  +  α · CE(y, softmax(z_s))

    The temperature T > 1 spreads the teacher's probability over the wrong classes, which
    carries what it learned about their similarity; T² keeps the gradient scale independent
    of T. With y None, α is ignored and only the soft targets are used.

    Args:
        teacher, student: built models ending in a softmax Dense layer, with equal outputs.
        x: inputs.  y: integer labels (optional).  temperature: T > 0.  alpha: in [0, 1].
        epochs, batch_size, optimizer: for the student's training.

    Returns:
        The per-epoch mean loss, a list.
    """
    from . import functional as F
    from . import optimizers as optimizers_module
    from . import random as dc_random
    from .layers import learning_phase
    from .tensor import Tensor, no_grad

    where = "compress.distill"
    _require_built(teacher, where)
    if not temperature > 0:
        raise ValueError(f"{where}: temperature must be > 0. Received: temperature={temperature!r}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"{where}: alpha must be in [0, 1]. Received: alpha={alpha!r}")
    x = np.asarray(x, np.float32)
    if not student.built:
        student.build((None, *x.shape[1:]))
    with no_grad(), learning_phase(False):
        out = teacher(Tensor(x[:1]))
    if getattr(out, "_logits", None) is None or out.shape[1] != student.output_shape[-1]:
        raise ValueError(
            f"{where}: teacher and student must end in softmax layers with the same number of outputs."
        )
    soft = np.concatenate(
        [_teacher_soft(teacher, x[i : i + 1024], temperature) for i in range(0, len(x), 1024)]
    )
    labels = None if y is None else F.sparse_labels(where, y, soft.shape[1], len(x))
    opt = optimizers_module.get(optimizer)
    params = student.trainable_weights
    history = []
    for epoch in range(epochs):
        order = dc_random.generator().permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            with learning_phase(True):
                logits = student(Tensor(x[idx]))._logits
            loss = F.categorical_crossentropy(soft[idx], logits * (1.0 / temperature), from_logits=True) * (
                temperature**2
            )
            if labels is not None:
                loss = (
                    loss * (1 - alpha)
                    + F.sparse_categorical_crossentropy(labels[idx], logits, from_logits=True) * alpha
                )
            total += float(loss.data) * len(idx)
            loss.backward()
            opt.apply(params)
        history.append(total / len(x))
        if verbose:
            print(f"distill epoch {epoch + 1}/{epochs} - loss: {history[-1]:.4f}")
    return history


def _teacher_soft(teacher, x, temperature):
    from . import functional as F
    from .layers import learning_phase
    from .tensor import Tensor, no_grad

    with no_grad(), learning_phase(False):
        logits = teacher(Tensor(x))._logits.data
    return F._softmax(logits / temperature)
