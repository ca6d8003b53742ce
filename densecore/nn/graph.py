"""The functional API's graph: symbolic tensors, the nodes that made them, and the walk.

Read top to bottom, this is how `dc.Model(inputs, outputs)` works:

1. `dc.Input(shape=(30,))` returns a `SymbolicTensor`: a shape with the batch axis None
   (`(None, 30)`), a dtype, and the `Node` that produced it (the InputLayer's node). It holds
   no numbers.
2. Calling a layer on symbolic tensors (`Dense(8)(x)`, `Add()([a, b])`) runs no arithmetic:
   `symbolic_call` builds the layer from the symbolic shapes (`layer.build`), asks it for its
   output shape (`layer.compute_output_shape`), and records a `Node`: (layer, the tensors
   it read, the tensor it made). The new tensor points back at its node, so the tensors and
   nodes form a directed acyclic graph that only ever grows towards the outputs.
3. `Graph(inputs, outputs)` walks that graph backwards from the outputs, collecting the
   nodes the outputs depend on, and orders them topologically (every node after the nodes
   that made its inputs). It checks, before any work, that every output is computed from
   the given inputs and that every input is used.
4. `Graph.run(values)` is the forward pass: it maps each input tensor to its array and
   calls each node's layer in that order on the values of the node's inputs. The layers run
   their ordinary `__call__` on real Tensors, so the engine records the backward as usual.

A layer may be called more than once (a layer shared by two branches): each call is a node
of its own, and both use the same weights.

Example:
    >>> import numpy as np, densecore as dc
    >>> x = dc.Input(shape=(3,))
    >>> x.shape
    (None, 3)
    >>> h = dc.layers.Dense(4, name="hidden")(x)
    >>> h
    <SymbolicTensor shape=(None, 4) from hidden>
    >>> graph = Graph([x], [h])
    >>> [node.layer.name for node in graph.nodes][1:]
    ['hidden']
"""

import inspect


class SymbolicTensor:
    """A placeholder for the value a layer will compute: its shape (batch axis None), dtype,
    and the node that makes it (Keras's KerasTensor).

    `a + b`, `a - b` and `a * b` between symbolic tensors record an Add, Subtract or
    Multiply layer (densecore.nn.merging registers them in `OPERATORS`).
    """

    def __init__(self, shape, dtype="float32", node=None, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype
        self.node = node
        self.name = name

    ndim = property(lambda self: len(self.shape))

    def __repr__(self):
        source = "" if self.node is None else f" from {self.node.layer.name}"
        return f"<SymbolicTensor shape={self.shape}{source}>"

    def _operator(self, name, other, swap=False):
        if name not in OPERATORS or not isinstance(other, SymbolicTensor):
            return NotImplemented  # a number, an array: no layer computes that (no Lambda)
        return OPERATORS[name]()([other, self] if swap else [self, other])

    def __add__(self, other):
        return self._operator("add", other)

    def __sub__(self, other):
        return self._operator("sub", other)

    def __mul__(self, other):
        return self._operator("mul", other)

    def __bool__(self):
        raise TypeError(
            "A symbolic tensor has no value: it is a placeholder in a model's graph. "
            "Build the model with dc.Model(inputs, outputs), then call it on data."
        )

    def numpy(self):
        raise TypeError(f"{self!r} has no value; build a model and call it on data.")


OPERATORS = {}  # "add" | "sub" | "mul" -> layer class, filled by densecore.nn.merging


class Node:
    """One call of a layer on symbolic tensors.

    Attributes:
        layer: the layer called.
        inputs: the symbolic tensors it read, in order (empty for an Input).
        form: how the layer was called: "one" (`layer(x)`), "list" (`layer([a, b])`, as merge
            layers are) or "args" (`layer(a, b)`, as a layer whose call takes several tensors).
        output: the symbolic tensor the call made.
    """

    FORMS = ("one", "list", "args")

    def __init__(self, layer, inputs, form, output_shape, dtype="float32"):
        if form not in self.FORMS:
            raise ValueError(f"Node: form must be one of {self.FORMS}; received {form!r}.")
        self.layer = layer
        self.inputs = list(inputs)
        self.form = form
        self.output = SymbolicTensor(output_shape, dtype, node=self)
        layer.__dict__.setdefault("_inbound_nodes", []).append(self)

    @property
    def parents(self) -> list:
        """The nodes that made this node's inputs."""
        return [t.node for t in self.inputs]

    def call_args(self, values):
        """The layer's inputs as it was called on them: one value, or a list."""
        return values[0] if self.form == "one" else list(values)

    def call(self, values):
        """Call the layer on `values` (one per input tensor) in the node's form."""
        if self.form == "args":
            return self.layer(*values)
        return self.layer(self.call_args(values))

    def shape_args(self) -> list:
        """The inputs' shapes as the layer's build and compute_output_shape read them (Keras's
        rule): a layer called on one tensor or a list gets its shape or the list of shapes; a
        layer called on several tensors gets all their shapes when its method takes as many
        arguments, else the first one's."""
        shapes = [t.shape for t in self.inputs]
        return [shapes[0]] if self.form == "one" else [shapes] if self.form == "list" else shapes


def is_symbolic(value) -> bool:
    """Whether `value` is a SymbolicTensor or a non-empty list or tuple of them."""
    if isinstance(value, SymbolicTensor):
        return True
    return (
        isinstance(value, (list, tuple)) and bool(value) and all(isinstance(v, SymbolicTensor) for v in value)
    )


def symbolic_call(layer, inputs, more=()) -> SymbolicTensor:
    """Record `layer(inputs)` (or `layer(inputs, *more)`) on symbolic tensors: build the layer
    for their shapes (once), compute the output shape, and return the new node's output. No
    arithmetic runs, except for a user's layer that does not say its output shape: that one is
    called once on zeros, as Keras traces such a layer (Layer.symbolic_output_shape).

    Raises:
        ValueError: naming the layer, when its weights were built for other shapes (a layer
            shared by inputs of another width) or it rejects these shapes.
    """
    form = "args" if more else "list" if isinstance(inputs, (list, tuple)) else "one"
    tensors = [inputs, *more] if more else list(inputs) if form == "list" else [inputs]
    node = Node(layer, tensors, form, (), tensors[0].dtype)  # its shape is set below
    shape = node.shape_args()
    where = f"{type(layer).__name__} '{layer.name}'"
    built_for = layer.input_shape if layer.built and layer.weights else None  # weights fix the width
    if built_for is not None and _without_batch(built_for) != _without_batch(shape[0]):
        layer._inbound_nodes.remove(node)
        raise ValueError(
            f"{where} was built for inputs of shape {layer.input_shape}; it is called on "
            f"symbolic inputs of shape {shape[0]}."
        )
    try:
        if not layer.built:
            layer.build(*shapes_for(layer.build, shape))
            layer.built = True
        node.output.shape = tuple(layer.symbolic_output_shape(node))
    except BaseException:
        layer._inbound_nodes.remove(node)
        raise
    return node.output


def shapes_for(method, shapes) -> list:
    """`shapes` (Node.shape_args) cut to what `method` takes: all of them when it takes as
    many positional arguments (or *args), else the first."""
    if len(shapes) == 1:
        return shapes
    params = inspect.signature(method).parameters.values()
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return shapes
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return shapes if len(positional) >= len(shapes) else shapes[:1]


def _without_batch(shape):
    if shape and isinstance(shape[0], (list, tuple)):
        return [tuple(s)[1:] for s in shape]
    return tuple(shape)[1:]


class Graph:
    """The nodes between `inputs` and `outputs` (lists of SymbolicTensors), in an order in
    which each node comes after the nodes that made its inputs.

    Raises:
        ValueError: an output that is not computed from the inputs (naming the layer that
            needs a missing input), an input that no output uses, the same tensor given twice
            as an input, or an input that is not an Input.
        TypeError: inputs or outputs that are not symbolic tensors.
    """

    def __init__(self, inputs, outputs, where="Model"):
        for kind, tensors in (("inputs", inputs), ("outputs", outputs)):
            for t in tensors:
                if not isinstance(t, SymbolicTensor):
                    raise TypeError(
                        f"{where} (the functional API): {kind} must be symbolic tensors (from "
                        f"dc.Input or a layer called on one); received {type(t).__name__}."
                    )
        for t in inputs:
            if t.node.inputs:
                raise ValueError(
                    f"{where}: inputs must come from dc.Input(...); {t!r} is the output of a layer."
                )
        if len({id(t) for t in inputs}) != len(inputs):
            raise ValueError(f"{where}: the same Input is given twice in inputs.")
        self.inputs, self.outputs = list(inputs), list(outputs)
        self.nodes = self._ordered(where)
        used = {id(node) for node in self.nodes}
        unused = [t for t in self.inputs if id(t.node) not in used]
        if unused:
            raise ValueError(
                f"{where}: input {unused[0].node.layer.name!r} is not connected to the outputs "
                f"(no output is computed from it)."
            )

    def _ordered(self, where) -> list:
        """Depth-first from each output, a node is placed once all its parents are: the
        reverse of the order in which the walk finishes them (iterative, for deep graphs)."""
        given = {id(t.node) for t in self.inputs}
        order, done, active = [], set(), set()
        for output in self.outputs:
            stack = [(output.node, False)]
            while stack:
                node, finished = stack.pop()
                if finished:
                    active.discard(id(node))
                    done.add(id(node))
                    order.append(node)
                    continue
                if id(node) in done:
                    continue
                if id(node) in active:  # only reachable by editing nodes by hand
                    raise ValueError(f"{where}: the graph has a cycle through layer '{node.layer.name}'.")
                if not node.inputs and id(node) not in given:
                    raise ValueError(
                        f"{where}: output {output!r} is computed from the Input '{node.layer.name}', "
                        f"which is not in the model's inputs."
                    )
                active.add(id(node))
                stack.append((node, True))
                stack.extend((parent, False) for parent in reversed(node.parents) if id(parent) not in done)
        return order

    @property
    def layers(self) -> list:
        """Each layer once, in the order of its first node."""
        seen, layers = set(), []
        for node in self.nodes:
            if id(node.layer) not in seen:
                seen.add(id(node.layer))
                layers.append(node.layer)
        return layers

    def consumers(self, tensor) -> list:
        """The nodes of this graph that read `tensor`."""
        return [node for node in self.nodes if any(t is tensor for t in node.inputs)]

    def run(self, values):
        """The forward pass: `values` for the inputs, in order; the outputs' values, in order.
        Each node's layer is called on the values of its inputs, in topological order; a value
        is dropped once the last node that reads it has run."""
        computed = {id(t): v for t, v in zip(self.inputs, values)}
        last_use = {}
        for i, node in enumerate(self.nodes):
            for t in node.inputs:
                last_use[id(t)] = i
        keep = {id(t) for t in self.outputs}
        for i, node in enumerate(self.nodes):
            if not node.inputs:
                continue  # an Input: its value was given
            computed[id(node.output)] = node.call([computed[id(t)] for t in node.inputs])
            for t in node.inputs:
                if last_use[id(t)] == i and id(t) not in keep:
                    computed.pop(id(t), None)
        return [computed[id(t)] for t in self.outputs]

    def replace_layer(self, old, new) -> None:
        """Let `new` make what `old` made in every node (model surgery), then recompute the
        symbolic shapes downstream (a pruned layer has fewer units)."""
        for node in self.nodes:
            if node.layer is old:
                node.layer = new
                new.__dict__.setdefault("_inbound_nodes", []).append(node)
        self.refresh_shapes()

    def refresh_shapes(self) -> None:
        """Recompute every node's output shape from its inputs', in order."""
        for node in self.nodes:
            if node.inputs:
                node.output.shape = tuple(node.layer.symbolic_output_shape(node))
