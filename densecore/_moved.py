"""Where the modules of the flat layout (densecore 0.1) went.

`import densecore.layers` and the other public namespaces keep working as names of their new
homes; the modules that were internal (`densecore.tensor`, `densecore.backend`, ...) also
still import, with a DeprecationWarning, for one release.
"""

import importlib
import importlib.abc
import importlib.util
import warnings

# old name -> new home, for the public namespaces (Keras's `keras.layers` and its kin)
PUBLIC = {
    "layers": "densecore.nn.layers",
    "losses": "densecore.nn.losses",
    "metrics": "densecore.nn.metrics",
    "optimizers": "densecore.nn.optimizers",
    "callbacks": "densecore.nn.callbacks",
    "initializers": "densecore.nn.initializers",
    "regularizers": "densecore.nn.regularizers",
    "functional": "densecore.engine.functional",
    "quantization": "densecore.compress.quantization",
    "saving": "densecore.nn.saving",
}
# old name -> new home, for the modules that were internal: deprecated
MOVED = {
    "backend": "densecore.engine.backend",
    "device": "densecore.engine.device",
    "gpu": "densecore.engine.gpu",
    "gradcheck": "densecore.engine.gradcheck",
    "random": "densecore.engine.random",
    "step_buffers": "densecore.engine.step_buffers",
    "tensor": "densecore.engine.tensor",
    "models": "densecore.nn.models",
    "training": "densecore.nn.training",
    "inputs": "densecore.nn.inputs",
    "schedules": "densecore.nn.schedules",
    "progress": "densecore.nn.progress",
}


class Aliases(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """A finder that answers `densecore.<old name>` with the module at its new home."""

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package == "densecore" and (name in PUBLIC or name in MOVED):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        name = spec.name.rpartition(".")[2]
        if name in MOVED:
            warnings.warn(
                f"{spec.name} moved to {MOVED[name]}; the old path goes in the next release.",
                DeprecationWarning,
                stacklevel=2,
            )
        return importlib.import_module(PUBLIC.get(name) or MOVED[name])

    def exec_module(self, module):
        pass  # the module at its new home is already executed
