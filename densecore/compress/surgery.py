"""Model surgery shared by every compression: walk, find, copy and swap layers.

Every transformation in `densecore.compress` returns a new model and leaves the original
untouched: it clones the model, maps each original layer to its copy, and replaces the
copies it changes.
"""

import copy

from ..nn.layers import Dense, Layer


# ---- model surgery, shared by every transformation here -----------------------------------
def _walk(model):
    """(owner, layer) for every layer in the model, depth first, in order: the owner is the
    layer or model that tracks it, whose attribute (or list entry) a replacement rewrites."""
    for layer in model._layers:
        yield model, layer
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
    """Swap layers in place in `model` (a clone): {old layer: new layer}. In a functional
    model the graph's nodes are rewritten too (the new layer makes what the old one made),
    and the symbolic shapes downstream follow (a pruned layer has fewer units)."""
    for owner, layer in list(_walk(model)):
        new = replacements.get(layer)
        if new is None:
            continue
        owner._layers[owner._layers.index(layer)] = new
        for attribute in _attribute_names(owner, layer):
            object.__setattr__(owner, attribute, new)
        if getattr(owner, "_graph", None) is not None:
            owner._graph.replace_layer(layer, new)


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
