"""The checks every optimizer, schedule, initializer, regularizer and constraint runs on its
settings (at construction, and so when loaded from a file), and the one way they are rebuilt
from a config: one definition each, Keras's messages ("Received: beta_1=1.0")."""

import math
import numbers

from . import registry


def number(where, name, value, ok=lambda v: True, expected="a finite number", as_float=False):
    """`value` as a Python int or float (numpy scalars too; a float with as_float), after
    checking that it is a finite real number (not a bool) for which ok(value) holds; else a
    ValueError naming the object (`where`), the argument and the value."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not math.isfinite(value)
        or not ok(value)
    ):
        raise ValueError(f"{where}: argument `{name}` must be {expected}. Received: {name}={value!r}")
    return int(value) if isinstance(value, numbers.Integral) and not as_float else float(value)


def deserialize(kind, spec, find, get, known, custom_objects=None):
    """The object a {"class_name", "config"} spec describes (Keras's form: 'module' and
    'registered_name' ignored), a name (through `get`), or None.

    Args:
        kind: "initializer", "regularizer", ... (for the messages).
        find: class name -> densecore's class or None.  known: the names listed in errors.
        custom_objects: {name: class} for classes of yours (registered ones are found too).
    """
    if spec is None:
        return None
    if isinstance(spec, str):
        return get(spec)
    if not isinstance(spec, dict) or not isinstance(spec.get("config", {}), dict):
        raise ValueError(
            f"{kind}s.deserialize: expected {{'class_name': ..., 'config': {{...}}}}; received {spec!r:.80}."
        )
    name = spec.get("class_name")
    found = (find(name) or registry.lookup(name)) if isinstance(name, str) else None
    cls = (custom_objects or {}).get(name) or found
    if cls is None:
        raise ValueError(f"{kind}s.deserialize: unknown {kind} {name!r}; expected one of {sorted(known)}.")
    return cls.from_config(dict(spec.get("config", {})))
