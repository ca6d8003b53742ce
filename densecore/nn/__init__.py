"""The Keras-like API over the engine: layers, models and their training loop, losses,
metrics, optimizers and their schedules, callbacks, initializers, regularizers, saving.

Imports only `densecore.engine` and `densecore.kernels` below it; within it, each module
imports only those beneath it (the layers contract in pyproject.toml).
"""
