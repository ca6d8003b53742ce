"""Operation counts of a dense layer: the one place summary(), the benchmarks and the tour
read them from.

A dense layer y = act(x W + b) on N rows, K inputs and M outputs does N·K·M multiplies and
as many adds (2NKM FLOPs), plus N·M bias adds. The backward pass does the two products
dW = Xᵀ dZ and dX = dZ Wᵀ, 2NKM FLOPs each.
"""


def dense_flops(batch: int, inputs: int, outputs: int, backward: bool = False) -> int:
    """FLOPs of a dense layer's forward pass (or its backward, dX and dW together)."""
    if backward:
        return 4 * batch * inputs * outputs
    return 2 * batch * inputs * outputs + batch * outputs


def dense_bytes(batch: int, inputs: int, outputs: int, itemsize: int = 4) -> int:
    """Bytes a dense forward must move at least: read x, W and b, write y."""
    return itemsize * (batch * inputs + inputs * outputs + outputs + batch * outputs)


def arithmetic_intensity(batch: int, inputs: int, outputs: int, itemsize: int = 4) -> float:
    """FLOPs per byte of the forward pass: the x coordinate of its roofline point."""
    return dense_flops(batch, inputs, outputs) / dense_bytes(batch, inputs, outputs, itemsize)
