"""Fewer nodes: structured pruning of hidden units."""

import numpy as np

from ..engine.tensor import Tensor
from ..nn.layers import Dense, tap
from .surgery import _counterpart, _require_built, _walk, clone, find_layers, rebuilt, replace_layers


# ---- fewer nodes: structured pruning -----------------------------------------------------
def _dense_chain(model):
    """{layer: the Dense that consumes its output} found by tracing one forward pass.

    Every Dense call records its input and output Tensors; a Dense B consumes A when B's
    input is A's output, or derives from it through shape-preserving one-input steps
    (Dropout, Activation). Layers whose consumer is unclear map to None.
    """
    calls = []
    dense_layers = [layer for _, layer in _walk(model) if type(layer) is Dense]
    x = Tensor(np.zeros((2, *model.input_shape[1:]), np.float32), requires_grad=True)
    with tap(dense_layers, lambda layer, inputs, out: calls.append((layer, inputs, out))):
        model(x, training=False)
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


def _drop_branching(model, chain) -> None:
    """In a functional model (or one nested in the model), a Dense may feed its consumer Dense
    and, besides, a merge layer or a model output that the trace above does not see: removing
    units would change what those read. Such a layer's consumer becomes unclear (None): a
    unit's removal is well defined only when the layer's one output tensor is read by a single
    node, through one-input layers (Dropout, Activation) up to the consumer Dense."""
    for _, owner in [(None, model), *_walk(model)]:
        graph = getattr(owner, "_graph", None)
        if graph is None:
            continue
        ends = {id(t) for t in graph.outputs}
        for node in graph.nodes:
            if node.layer not in chain or chain[node.layer] is None:
                continue
            tensor, ok = node.output, len(vars(node.layer).get("_inbound_nodes", [])) == 1
            while ok:
                readers = graph.consumers(tensor)
                ok = len(readers) == 1 and id(tensor) not in ends and readers[0].form == "one"
                if not ok or readers[0].layer is chain[node.layer]:
                    break
                tensor = readers[0].output
            if not ok:
                chain[node.layer] = None


def _unit_scores(layer, consumer, criterion, data, model, where):
    if criterion == "l2":  # each unit's incoming and outgoing weights: ‖W[:, j]‖ · ‖W_next[j, :]‖
        incoming = np.sqrt((layer.kernel.data.astype(np.float64) ** 2).sum(axis=0))
        outgoing = np.sqrt((consumer.kernel.data.astype(np.float64) ** 2).sum(axis=1))
        return incoming * outgoing
    sums = np.zeros(layer.units)
    with tap([layer], lambda _, inputs, out: np.add(sums, np.abs(out.data).sum(axis=0), out=sums)):
        for start in range(0, len(data), 256):
            model.predict(data[start : start + 256], batch_size=256)
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
        model: a built model whose dense layers form a chain; in a functional model, a
            Dense whose output one Dense reads (through Dropout or Activation) and nothing
            else: one feeding a merge layer, two layers or a model output is refused.
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
    _drop_branching(model, chain)
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
