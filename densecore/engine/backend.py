"""The one dispatch point between the engine and the kernels.

Nothing above this module asks which backend runs: `functional.dense` and the optimizers
call `backend.kernels()` and get a module with the same functions whatever the name.
"""

from .. import kernels as _kernels

_state = {"name": "cpu", "module": None}


def set_backend(name: str) -> None:
    """Select the kernel backend: "cpu" (default), "reference" or "cuda".

    Raises:
        ValueError: for an unknown name or a backend not usable here, with the reason.

    Example:
        >>> import densecore as dc
        >>> dc.set_backend("reference"); dc.get_backend()
        'reference'
        >>> dc.set_backend("cpu")
    """
    module = _kernels.get(name)
    _state["name"], _state["module"] = name, module


def get_backend() -> str:
    """The name of the selected kernel backend."""
    return _state["name"]


def kernels():
    """The selected backend's kernel module."""
    if _state["module"] is None:
        _state["module"] = _kernels.get(_state["name"])
    return _state["module"]
