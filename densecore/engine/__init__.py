"""The engine: Tensors and the graph of operations on them, each with its forward and its
backward side by side, over the kernels of the selected backend.

    backend.py       the one dispatch point between the engine and `densecore.kernels`
    device.py        where arrays live (host or GPU), and what has no device form
    gpu.py           whether a GPU is usable, and which
    random.py        the seed every random draw derives from
    step_buffers.py  arrays kept between training steps, so a step allocates nothing
    tensor.py        Tensor, no_grad, the elementwise ops and the dense product node
    functional.py    the other graph nodes: low-rank dense, dropout, batch norm, activations,
                     losses (each one node computing its value and its gradient)
    gradcheck.py     finite differences against every node's backward

Imports only `densecore.kernels` below it.
"""
