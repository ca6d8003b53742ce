"""Classes of your own that a saved model may name, Keras's way.

A file names each layer, loss, metric, initializer, regularizer and model by its class. Those
densecore defines are known; one of yours is found either because you registered it,

    @dc.saving.register_serializable(package="my_package")
    class MLPBlock(dc.layers.Layer): ...

or because you name it for one load: `dc.load_model(path, custom_objects={"MLPBlock": MLPBlock})`
(load_model opens a `custom_object_scope` for the call, so every deserializer sees it).
Registering also gives the class the name Keras writes for it, "package>ClassName".
"""

import contextlib
import threading

_REGISTERED = {}  # "package>Name" and "Name" -> class


class _Scope(threading.local):
    def __init__(self):
        self.stack = []  # the custom_objects dicts of the scopes open in this thread


_scope = _Scope()


def register_serializable(package: str = "Custom", name: str = None):
    """Class (or function) decorator: make it known to load_model by its name, as Keras's
    `keras.saving.register_keras_serializable(package, name)`.

    Args:
        package: the namespace of the registered name, "package>name" (default "Custom").
        name: the name within it (default: the class's own name).

    Example:
        >>> import densecore as dc
        >>> @dc.saving.register_serializable(package="docs")
        ... class Twice(dc.layers.Layer):
        ...     def call(self, inputs):
        ...         return inputs * 2.0
        >>> dc.saving.get_registered_name(Twice)
        'docs>Twice'
    """
    if not isinstance(package, str) or ">" in package or not package:
        raise ValueError(
            f"register_serializable: package must be a non-empty string without '>'; received {package!r}."
        )

    def decorate(obj):
        own = name or getattr(obj, "__name__", None)
        if not isinstance(own, str) or not own:
            raise ValueError(f"register_serializable: cannot name {obj!r}; pass name=.")
        full = f"{package}>{own}"
        _REGISTERED[full] = _REGISTERED[own] = obj  # a second registration replaces the first, as in Keras
        obj._registered_name = full
        return obj

    return decorate


def get_custom_objects() -> dict:
    """The registered objects, {name: class}, as Keras's `get_custom_objects()` (the dict
    itself: adding to it registers, as in Keras)."""
    return _REGISTERED


def get_registered_name(obj) -> str:
    """The name a registered class is saved under ("package>Name"), else its own name."""
    return getattr(obj, "_registered_name", None) or obj.__name__


@contextlib.contextmanager
def custom_object_scope(custom_objects):
    """Within this block, `lookup` also finds the classes (and functions) in custom_objects,
    a dict {"ClassName": class}; as Keras's `keras.saving.custom_object_scope`."""
    if custom_objects is not None and not isinstance(custom_objects, dict):
        raise TypeError(
            f"custom_object_scope: custom_objects must be a dict {{'ClassName': class}}; "
            f"received {type(custom_objects).__name__}."
        )
    _scope.stack.append(dict(custom_objects or {}))
    try:
        yield
    finally:
        _scope.stack.pop()


def lookup(name):
    """The class (or function) of yours called `name`: from the open scopes' custom_objects
    (the innermost first), else registered (by "package>Name" or "Name"); None if neither."""
    if not isinstance(name, str):
        return None
    for objects in reversed(_scope.stack):
        if name in objects:
            return objects[name]
        short = name.rpartition(">")[2]
        if short in objects:
            return objects[short]
    return _REGISTERED.get(name) or _REGISTERED.get(name.rpartition(">")[2])
