"""Saving and loading models: one zip file holding a JSON config and .npy arrays.

    config.json        {"format": "densecore", "version": 1, "kind": "model"|"weights",
                        "class_name", "config", "input_shape", "compile", "weights",
                        "optimizer"}
    weights/<i>.npy    each weight, in get_weights() order
    optimizer/<i>.npy  the optimizer's state arrays (so training resumes where it stopped)

A file may come from a stranger, so a load trusts nothing in it and checks, before it
builds or allocates anything:
- the zip: every entry it reads is stored or deflated (never encrypted), lies inside the
  file, and declares a size that the config implies (each weight's shape and dtype, at most
  MAX_CONFIG_BYTES of JSON) and that deflate can produce from the bytes actually stored
  (at most MAX_DEFLATE_RATIO : 1); it is then read as a stream that stops at that size, so a
  zip bomb costs nothing;
- the config, against the schema of the format (`_check_config`): the type and range of
  every field, at most MAX_DEPTH levels of JSON, finite numbers only, at most MAX_LAYERS
  layers, and every setting of a layer, optimizer or loss one its class takes;
- the bytes the architecture implies: the weights each layer would create (units × input
  width, a LowRankDense's rank, ...) must be exactly the arrays declared and stored, so a
  file cannot demand a huge layer it does not hold;
- each .npy header (at most MAX_NPY_HEADER bytes, read before anything is allocated for
  it) against the declared shape and dtype. Never pickle: no array is read with pickle
  and the config is plain JSON.
Every damaged or hostile file is a ValueError naming the path, the entry and what was
found. Weights that are not finite (a diverged model) load, with a warning naming them,
as Keras does: a save never writes a file that load refuses, because save runs the same
checks on what it is about to write.

A save writes a temporary file beside the target (named after it, so the next save there
removes what a killed one left), fsyncs it and renames it over the target: a crash or a
full disk mid-save leaves the old file intact. The file keeps the mode of the one it
replaces, or gets the umask's default for a new one.
"""

import functools
import hashlib
import inspect
import io
import json
import math
import os
import re
import secrets
import socket
import time
import warnings
import zipfile
import zlib

import numpy as np

from . import constraints as constraints_module
from . import initializers as initializers_module
from . import layers as layers_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module
from . import registry
from . import regularizers as regularizers_module
from . import schedules as schedules_module
from .registry import (  # noqa: F401  (dc.saving's names, as keras.saving's)
    custom_object_scope,
    get_custom_objects,
    get_registered_name,
    register_serializable,
)

FORMAT, VERSION = "densecore", 1

# ---- what a file may declare: each limit is stated in the error that refuses a file -----------
MAX_ELEMENTS = 2**31  # per array (and per input sample)
MAX_DIMS = 8  # axes of an array or of the input shape
MAX_LAYERS = 10_000  # layers of a Sequential model (building is linear; this bounds the time)
MAX_ARRAYS = 8 * MAX_LAYERS  # weight arrays a file may declare
MAX_CONFIG_BYTES = 16 * 2**20  # config.json (a 10,000-layer model's is about 5 MB)
MAX_DEPTH = 32  # levels of JSON nesting (densecore writes at most 7)
MAX_METRICS = 1000
MAX_INPUTS = 64  # inputs (and outputs) of a functional model
MAX_NPY_HEADER = 4096  # bytes of a .npy header (numpy writes about 128)
MAX_DEFLATE_RATIO = 1100  # deflate cannot expand more than 1032 : 1
MAX_ITERATIONS = 2**62
DTYPES = {"<f4", "<f8", "|i1", "<i4"}  # the only dtypes a weight may declare

STALE_AFTER_S = 600  # a temporary untouched this long is a leftover, whoever wrote it
_CHUNK = 1 << 20  # arrays are read in pieces of this many bytes, straight into place


class _Invalid(Exception):
    """What is wrong with a file (or with a config about to be saved), in words; the public
    functions turn it into a ValueError that names the path."""


def _show(value) -> str:
    """repr(value), cut short: a hostile value may be megabytes long."""
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# ---- saving -------------------------------------------------------------------------------
def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
    return buffer.getvalue()


def _describe(model) -> dict:
    return {
        "format": FORMAT,
        "version": VERSION,
        "class_name": type(model).__name__,
        "config": model.get_config(),
        "input_shape": None if model.input_shape is None else list(model.input_shape),
        "weights": [{"name": w.name, "shape": list(w.shape), "dtype": w.dtype.str} for w in model.weights],
    }


def _path(where: str, filepath) -> str:
    try:
        return os.fsdecode(os.fspath(filepath))
    except TypeError:
        raise TypeError(
            f"{where}: filepath must be a path (str or os.PathLike); received {type(filepath).__name__}."
        ) from None


def _config_text(model, config: dict, filepath: str) -> bytes:
    """config.json for `config`, after the checks load runs on it: a save never writes a
    file that load_model or load_weights would refuse."""
    where = f"save: cannot save model '{model.name}' to {filepath!r}"
    try:
        text = json.dumps(config, allow_nan=False).encode()
    except ValueError as exc:  # NaN or inf in a setting: JSON has no such numbers
        raise ValueError(f"{where}: its config holds a number that is not finite ({exc}).") from None
    except TypeError as exc:  # get_config() returned something JSON cannot hold
        raise TypeError(f"{where}: its config is not plain JSON ({exc}).") from None
    if len(text) > MAX_CONFIG_BYTES:
        raise ValueError(
            f"{where}: its config is {len(text)} bytes of JSON; a file holds at most {MAX_CONFIG_BYTES}."
        )
    try:
        checked = json.loads(text)
        with registry.custom_object_scope(_own_classes(model)):  # load needs them found too
            _check_config(checked)
            if checked["kind"] == "model":
                _check_architecture(checked)
    except _Invalid as exc:
        raise ValueError(f"{where}: load would refuse the file: {exc}.") from None
    return text


def _own_classes(model) -> dict:
    """{name: class} of every object in the model that a file names by class: its layers, the
    model itself, its loss and metrics, and the layers' initializers, regularizers and
    constraints. Those of yours must be registered or given to load_model in custom_objects."""
    objects = [model, *model.iter_layers(), getattr(model, "loss", None)]
    objects += list(getattr(model, "compiled_metrics", []))
    for layer in model.iter_layers():
        objects += [v for v in vars(layer).values() if not isinstance(v, (list, dict, tuple))]
    return {type(o).__name__: type(o) for o in objects if o is not None and hasattr(o, "get_config")}


def save_model(model, filepath) -> None:
    """Save `model` (architecture, weights, compile settings, optimizer state) to filepath.

    Weights that are not finite are saved as they are (load_model warns about them).

    Raises:
        ValueError: for a model that is not built, or whose config load_model would refuse
            (more than MAX_LAYERS layers, a layer of a class it cannot rebuild, ...); the file
            is then not touched.
        OSError: when the file cannot be written; it names `filepath`, and the file there,
            if any, is unchanged.
    """
    filepath = _path("save", filepath)
    if not model.built:
        raise ValueError(f"save: model '{model.name}' is not built; there is nothing to save yet.")
    config = {**_describe(model), "kind": "model", "compile": None, "optimizer": None}
    state = []
    if getattr(model, "compiled", False):
        spec = _compile_spec(model)
        if spec is not None:
            optimizer = model.optimizer
            config["compile"] = {"optimizer": optimizers_module.serialize(optimizer), **spec}
            state = optimizer.state_arrays(model.trainable_weights)
            config["optimizer"] = {"iterations": optimizer.iterations, "arrays": len(state)}
        else:  # said, not dropped silently
            warnings.warn(
                f"save: model '{model.name}' is saved without its compile settings and optimizer state "
                f"(its loss {model.loss!r:.60} is a callable without get_config, which the file format "
                f"cannot hold; a densecore Loss or a registered function can): compile it again after "
                f"load_model to train on.",
                RuntimeWarning,
                stacklevel=3,
            )
    text = _config_text(model, config, filepath)
    entries = {f"weights/{i}.npy": _npy(w.data) for i, w in enumerate(model.weights)}
    entries.update({f"optimizer/{i}.npy": _npy(a) for i, a in enumerate(state)})
    entries["config.json"] = text
    _write_atomic(filepath, entries)


def _compile_spec(model):
    """compile's settings as the file holds them, besides the optimizer: the loss (None for a
    model that only adds its own) and metrics; for a model of several outputs, "outputs":
    their names, a loss (or None), a loss weight (or None) and metrics for each. None when a
    loss cannot be saved (a callable without get_config)."""
    outputs = model._compile_config.get("outputs")
    if outputs is not None:
        losses = model._compile_config["losses"]
        given = model.loss.losses if model.loss is not None else [None] * len(outputs)
        if any(spec is None and loss is not None for spec, loss in zip(losses, given)):
            return None
        return {"loss": None, "outputs": dict(model._compile_config)}
    loss = model.loss
    if loss is not None and not isinstance(loss, losses_module.Loss):
        return None
    saved = None if loss is None else losses_module.serialize(loss)
    return {"loss": saved, **model._compile_config}  # (metrics and weighted_metrics)


def save_weights(model, filepath) -> None:
    """Save only the weights of a built model (atomically, as save_model)."""
    filepath = _path("save_weights", filepath)
    if not model.built:
        raise ValueError(f"save_weights: model '{model.name}' is not built.")
    text = _config_text(model, {**_describe(model), "kind": "weights"}, filepath)
    entries = {f"weights/{i}.npy": _npy(w.data) for i, w in enumerate(model.weights)}
    entries["config.json"] = text
    _write_atomic(filepath, entries)


# ---- the atomic write -----------------------------------------------------------------------
def _temporary_prefix(name: str) -> str:
    """Temporaries are named after their target, `.<name>.densecore-<pid>-<host>-<random>.tmp`,
    so a save finds the ones an earlier, killed save to the same path left behind (the name
    is cut to 48 characters so that the temporary's stays within the 255 bytes a name may have)."""
    return f".{name[:48]}.densecore-"


_host_tag = None


def _host() -> str:
    """A short tag of this machine: a process id means something only on the machine that ran it
    (a directory may be shared over the network)."""
    global _host_tag
    if _host_tag is None:
        _host_tag = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
    return _host_tag


def _alive(pid: int) -> bool:
    if os.name != "posix":  # (os.kill(pid, 0) would end the process on Windows): go by age alone
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # it exists but is another user's, or we cannot tell: leave its file alone
        return True
    return True


def _remove_stale_temporaries(directory: str, name: str) -> None:
    """Remove the temporaries an earlier save to `name` left when it was killed: those of a
    process of this machine that has ended, and any untouched for STALE_AFTER_S (a live save
    writes to its temporary continuously, then renames it within a moment)."""
    pattern = re.compile(re.escape(_temporary_prefix(name)) + r"(\d+)-([0-9a-f]{6})-[0-9a-f]{8}\.tmp\Z")
    try:
        listing = os.scandir(directory)
    except OSError:
        return
    now = time.time()
    with listing:
        for entry in listing:
            found = pattern.match(entry.name)
            if found is None:
                continue
            pid, host = int(found[1]), found[2]
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                dead = host == _host() and pid != os.getpid() and not _alive(pid)
                if dead or now - entry.stat(follow_symlinks=False).st_mtime > STALE_AFTER_S:
                    os.unlink(entry.path)
            except OSError:  # removed meanwhile, or not ours to remove: it is only a leftover
                continue


def _create_temporary(directory: str, name: str):
    """(fd, path) of a new temporary beside the target. Created with mode 0o666, so the umask
    applies as it does to any new file (mkstemp's 0o600 would leave the saved file unreadable
    to the group and others)."""
    prefix = os.path.join(directory, _temporary_prefix(name))
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = f"{prefix}{os.getpid()}-{_host()}-{secrets.token_hex(4)}.tmp"
        try:
            return os.open(tmp, flags, 0o666), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"no free temporary name for {prefix}*")


def _named(exc: OSError, filepath: str) -> OSError:
    """The same kind of OSError (OSError(errno, ...) picks the subclass), naming the file the
    caller asked for, not our temporary."""
    message = f"save: cannot write {filepath!r} ({exc.strerror or exc}); the file there, if any, is unchanged"
    return OSError(exc.errno, message) if exc.errno is not None else OSError(message)


def _write_atomic(filepath: str, entries: dict) -> None:
    directory, name = os.path.split(os.path.abspath(filepath))
    _remove_stale_temporaries(directory, name)
    tmp = None
    try:
        try:  # keep the mode of the file replaced (the permission bits only)
            mode = os.stat(filepath).st_mode & 0o777
        except FileNotFoundError:
            mode = None  # a new file: the umask's default, from os.open's 0o666
        fd, tmp = _create_temporary(directory, name)
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for entry, data in entries.items():
                    archive.writestr(entry, data)
            handle.flush()
            os.fsync(handle.fileno())
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, filepath)
        tmp = None
    except OSError as exc:
        raise _named(exc, filepath) from exc
    finally:
        if tmp is not None:  # failed or interrupted (KeyboardInterrupt too): the old file stays
            try:
                os.unlink(tmp)
            except OSError:
                pass


# ---- the schema of config.json ------------------------------------------------------------
def _fail(where: str, expected: str, value):
    raise _Invalid(f"{where} must be {expected}; received {_show(value)}")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _integer(value, where, low=-(2**64), high=2**64):
    if not _is_int(value) or not low <= value <= high:
        _fail(where, f"an integer in [{low}, {high}]", value)
    return value


def _count(value, where):
    return _integer(value, where, 1, MAX_ELEMENTS)


def _number(value, where):
    if not _is_number(value):
        _fail(where, "a number", value)
    return value


def _flag(value, where):
    if not isinstance(value, bool):
        _fail(where, "true or false", value)
    return value


def _text(value, where):
    if not isinstance(value, str) or not 0 < len(value) <= 1000:
        _fail(where, "a non-empty string of at most 1000 characters", value)
    return value


def _dict(value, where):
    if not isinstance(value, dict):
        _fail(where, "an object {...}", value)
    return value


def _list(value, where, most):
    if not isinstance(value, list) or len(value) > most:
        shown = f"a list of {len(value)} entries" if isinstance(value, list) else value
        _fail(where, f"a list of at most {most} entries", shown)
    return value


def _optional(check):
    def optional(value, where):
        return None if value is None else check(value, where)

    return optional


def _dims(value, where):
    """A sample's shape (d1, ...): 1 to MAX_DIMS positive integers, at most MAX_ELEMENTS in all."""
    _list(value, where, MAX_DIMS)
    if not value:
        _fail(where, "a list of 1 to 8 positive integers", value)
    for i, d in enumerate(value):
        _count(d, f"{where}[{i}]")
    if math.prod(value) > MAX_ELEMENTS:
        _fail(where, f"at most {MAX_ELEMENTS} elements in all", value)
    return value


def _input_shape(value, where):
    """[null, d1, ...], or (a model with several inputs) a list of such shapes."""
    if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
        for i, shape in enumerate(_list(value, where, MAX_INPUTS)):
            _input_shape(shape, f"{where}[{i}]")
        return value
    if not isinstance(value, list) or not value or value[0] is not None:
        _fail(where, "[null, d1, ...] (the batch axis first, then positive integers)", value)
    _dims(value[1:], where)
    return value


def _scan(value, where: str) -> None:
    """Any JSON value: at most MAX_DEPTH levels deep, numbers finite and integers within
    ±2⁶⁴. Iterative, so no depth of nesting can exhaust the stack; a node's path is spelt
    out only for the error (a 10,000-layer config has some 300,000 nodes)."""

    def path(at, key=None):
        keys = [] if key is None else [key]
        while isinstance(at, tuple):
            at, key = at
            keys.append(key)
        return at + "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in reversed(keys))

    stack = [(value, where, 0)]
    while stack:
        item, at, depth = stack.pop()
        if depth >= MAX_DEPTH:
            raise _Invalid(f"{path(at)} is nested more than {MAX_DEPTH} levels deep")
        for key, child in item.items() if isinstance(item, dict) else enumerate(item):
            kind = type(child)
            if kind is dict or kind is list:
                stack.append((child, (at, key), depth + 1))
            elif kind is float and not math.isfinite(child):
                _fail(path(at, key), "a finite number", child)
            elif kind is int and not -(2**64) <= child <= 2**64:
                _fail(path(at, key), "an integer within ±2**64", child)


def _accepted(cls) -> set:
    """The keyword arguments cls(...) takes: its __init__'s, and those of the base classes its
    **kwargs pass on to."""
    names = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    names.discard("self")
    return names


_ACCEPTED = {}


def _registered(value, where, known: dict, key=lambda name: name):
    """The class that `value` names: one of `known` (densecore's), or one of yours registered
    with @register_serializable or given in custom_objects (registry.lookup)."""
    if isinstance(value, str):
        found = known.get(key(value)) or registry.lookup(value)
        if isinstance(found, type):
            return found
        short = value.rpartition(">")[2]
        raise _Invalid(
            f"{where}: {value!r} is not a class densecore knows; if it is yours, register it with "
            f"@densecore.saving.register_serializable() or pass custom_objects={{{short!r}: {short}}} "
            f"(densecore's own: {', '.join(sorted(known))})"
        )
    _fail(where, f"a class name, one of {sorted(known)}", value)


def _object(value, where, known: dict, key=lambda name: name):
    """{"class_name": a name `_registered` knows, "config": its settings}: the class, its
    settings checked."""
    _dict(value, where)
    cls = _registered(value.get("class_name"), f"{where}.class_name", known, key)
    _settings(cls, _dict(value.get("config"), f"{where}.config"), f"{where}.config")
    return cls


def _initializer(value, where):
    if isinstance(value, str):
        return _registered(value, where, initializers_module.ALL, str.lower)
    return _object(value, where, initializers_module.ALL)


_REGULARIZERS = {cls.__name__: cls for cls in regularizers_module.ALL.values()}  # as serialize names them


_CONSTRAINTS = {cls.__name__: cls for cls in constraints_module.ALL.values()}  # as serialize names them


def _regularizer(value, where):
    return None if value is None else _object(value, where, _REGULARIZERS)


def _learning_rate(value, where):
    if isinstance(value, dict):
        return _object(value, where, schedules_module.ALL)
    return _number(value, where)


# The type (and, for sizes, the range) of each setting a layer, optimizer, schedule, loss or
# initializer may have, by name; the classes themselves check the values' ranges when built.
_SETTINGS = {
    "name": _optional(_text),
    "trainable": _flag,
    "input_shape": _optional(_dims),
    "shape": _dims,
    "input_dim": _optional(_count),
    "dtype": _optional(_text),
    "units": _count,
    "rank": _count,
    "activation": _optional(_text),
    "use_bias": _flag,
    "center": _flag,
    "scale": lambda value, where: (_number if _is_number(value) and not isinstance(value, bool) else _flag)(
        value, where
    ),  # BatchNormalization's flag, VarianceScaling's factor
    "static": _flag,
    "nesterov": _flag,
    "staircase": _flag,
    "from_logits": _flag,
    "axis": _integer,
    "num_bits": _integer,
    "input_bits": _optional(_integer),
    "seed": _optional(_integer),
    "learning_rate": _learning_rate,
    "clipnorm": _optional(_number),
    "clipvalue": _optional(_number),
    "global_clipnorm": _optional(_number),
    "weight_decay": _optional(_number),
    **dict.fromkeys(
        (
            "rate",
            "momentum",
            "epsilon",
            "range_momentum",
            "beta_1",
            "beta_2",
            "rho",
            "initial_learning_rate",
            "decay_steps",
            "decay_rate",
            "alpha",
            "l1",
            "l2",
        ),
        _number,
    ),
}


def _settings(cls, config: dict, where: str) -> None:
    """Each key one that cls(...) takes, each known setting of its type."""
    accepted = _ACCEPTED.get(cls)
    if accepted is None:
        accepted = _ACCEPTED[cls] = _accepted(cls)
    for key, value in config.items():
        if key not in accepted:
            raise _Invalid(
                f"{where}: {cls.__name__} takes no setting {_show(key)}; it takes {sorted(accepted)}"
            )
        if key.endswith("_initializer"):
            _initializer(value, f"{where}.{key}")
        elif key.endswith("_regularizer"):
            _regularizer(value, f"{where}.{key}")
        elif key.endswith("_constraint"):
            if value is not None:
                _object(value, f"{where}.{key}", _CONSTRAINTS)
        elif key in _SETTINGS:
            _SETTINGS[key](value, f"{where}.{key}")


def _loss_spec(spec):
    """The saved loss, read as densecore 0.1 wrote it too: that release saved from_logits for
    every loss, the regression ones included, which take no such setting now."""
    if isinstance(spec, dict) and isinstance(spec.get("config"), dict) and "from_logits" in spec["config"]:
        name = spec.get("class_name")
        cls = losses_module.CLASSES.get(name) if isinstance(name, str) else None
        if cls is not None and "from_logits" not in _accepted(cls) and spec["config"]["from_logits"] is False:
            return {**spec, "config": {k: v for k, v in spec["config"].items() if k != "from_logits"}}
    return spec


def _check_compile(spec) -> None:
    _dict(spec, "compile")
    _object(spec.get("optimizer"), "compile.optimizer", optimizers_module.ALL, str.lower)
    if spec.get("loss") is not None:  # (None: a model that adds its own losses, or several outputs)
        _object(_loss_spec(spec["loss"]), "compile.loss", losses_module.SAVED)
    outputs = spec.get("outputs")
    if outputs is None:
        for kind in ("metrics", "weighted_metrics"):
            _check_metrics(spec.get(kind) or [], f"compile.{kind}")
        return
    _dict(outputs, "compile.outputs")
    names = _list(outputs.get("outputs"), "compile.outputs.outputs", MAX_INPUTS)
    for i, name in enumerate(names):
        _text(name, f"compile.outputs.outputs[{i}]")
    for key in ("losses", "loss_weights", "metrics", "weighted_metrics"):
        values = _list(outputs.get(key), f"compile.outputs.{key}", MAX_INPUTS)
        if len(values) != len(names):
            _fail(f"compile.outputs.{key}", f"one entry per output ({len(names)})", f"{len(values)} entries")
        for i, value in enumerate(values):
            where = f"compile.outputs.{key}[{i}]"
            if key == "losses" and value is not None:
                _object(_loss_spec(value), where, losses_module.SAVED)
            elif key == "loss_weights" and value is not None:
                _number(value, where)
            elif key.endswith("metrics"):
                _check_metrics(value, where)


def _check_metrics(specs, where) -> None:
    for i, metric in enumerate(_list(specs, where, MAX_METRICS)):
        at = f"{where}[{i}]"
        if isinstance(metric, str):  # a name, as files written before metrics kept settings
            _text(metric, at)
            continue
        _dict(metric, at)  # a class of the user's own may be missing: load warns then
        _text(metric.get("class_name"), f"{at}.class_name")
        _dict(metric.get("config"), f"{at}.config")


def _check_config(config) -> None:
    """config.json against the schema of the format (types, ranges, depth, counts); raises
    _Invalid naming the field and what it holds. Nothing here allocates more than the
    config itself, and nothing is built."""
    _scan(config, "config.json")
    if config.get("kind") not in ("model", "weights", "backup"):
        _fail("kind", '"model", "weights" or "backup"', config.get("kind"))
    _text(config.get("class_name"), "class_name")
    _dict(config.get("config"), "config")
    _input_shape(config.get("input_shape"), "input_shape")
    for i, spec in enumerate(_list(config.get("weights"), "weights", MAX_ARRAYS)):
        where = f"weights[{i}]"
        _dict(spec, where)
        _text(spec.get("name"), f"{where}.name")
        shape = _list(spec.get("shape"), f"{where}.shape", MAX_DIMS)
        for j, d in enumerate(shape):
            _count(d, f"{where}.shape[{j}]")
        if math.prod(shape) > MAX_ELEMENTS:
            _fail(f"{where}.shape", f"at most {MAX_ELEMENTS} elements", shape)
        dtype = spec.get("dtype", "<f4")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            _fail(f"{where}.dtype", f"one of {sorted(DTYPES)}", spec.get("dtype"))
    if config["kind"] == "backup":  # BackupAndRestore's: the optimizer's class and state, fit's state
        state = _dict(config.get("optimizer"), "optimizer")
        _text(state.get("class_name"), "optimizer.class_name")
        _integer(state.get("iterations", 0), "optimizer.iterations", 0, MAX_ITERATIONS)
        _integer(state.get("arrays", 0), "optimizer.arrays", 0, 4 * MAX_ARRAYS)
        _dict(config.get("state"), "state")
    if config["kind"] == "model":
        if config.get("compile") is not None:
            _check_compile(config["compile"])
        state = config.get("optimizer")
        if state is not None:
            _dict(state, "optimizer")
            _integer(state.get("iterations", 0), "optimizer.iterations", 0, MAX_ITERATIONS)
            _integer(state.get("arrays", 0), "optimizer.arrays", 0, 4 * MAX_ARRAYS)
        if config["class_name"] == "Sequential":
            _check_layers(config["config"])
        elif "input_layers" in config["config"]:
            _check_graph(config["config"])


def _check_layers(config: dict) -> None:
    _optional(_text)(config.get("name"), "config.name")
    if not isinstance(config.get("layers"), list):
        _fail("config.layers", "a list of layers", config.get("layers"))
    if len(config["layers"]) > MAX_LAYERS:
        raise _Invalid(
            f"config.layers holds {len(config['layers'])} layers; a file may declare at most {MAX_LAYERS}"
        )
    for i, spec in enumerate(config["layers"]):
        where = f"config.layers[{i}]"
        _dict(spec, where)
        cls = _registered(spec.get("class_name"), f"{where}.class_name", layers_module.ALL)
        _settings(cls, _dict(spec.get("config"), f"{where}.config"), f"{where}.config")


def _check_graph(config: dict) -> None:
    """A functional model's config (Keras's form): its layers, each with the nodes that feed
    it, and the tensors that are the model's inputs and outputs, every reference to a layer
    of the model."""
    _check_layers(config)
    names = set()
    for i, spec in enumerate(config["layers"]):
        where = f"config.layers[{i}]"
        names.add(_text(spec.get("name"), f"{where}.name"))
        for j, node in enumerate(_list(spec.get("inbound_nodes", []), f"{where}.inbound_nodes", MAX_LAYERS)):
            _dict(node, f"{where}.inbound_nodes[{j}]")
            _flag(node.get("list", False), f"{where}.inbound_nodes[{j}].list")
            for k, ref in enumerate(_list(node.get("args"), f"{where}.inbound_nodes[{j}].args", MAX_INPUTS)):
                _tensor_ref(ref, f"{where}.inbound_nodes[{j}].args[{k}]")
    for key in ("input_layers", "output_layers"):
        refs = config.get(key)
        refs = [refs] if isinstance(refs, list) and refs and isinstance(refs[0], str) else refs
        for k, ref in enumerate(_list(refs, f"config.{key}", MAX_INPUTS)):
            if _tensor_ref(ref, f"config.{key}[{k}]")[0] not in names:
                _fail(f"config.{key}[{k}]", "the name of one of the model's layers", ref)


def _tensor_ref(value, where):
    """[layer name, node index, tensor index]: a tensor of the graph."""
    if not (isinstance(value, list) and len(value) == 3):
        _fail(where, "[layer name, node index, tensor index]", value)
    _text(value[0], where)
    _integer(value[1], where, 0, MAX_LAYERS)
    _integer(value[2], where, 0, MAX_INPUTS)
    return value


# ---- the weights an architecture implies --------------------------------------------------
# Per layer class: (input shape, config) -> (output shape, [(shape, dtype) of each weight in
# get_weights order]), as its build() creates them; worked out from the config alone, so a
# file is checked against the arrays it stores before anything is built or allocated.
def _dense_input(kind, shape, where):
    if len(shape) != 2:
        raise _Invalid(f"{where}: {kind} takes inputs (batch, features); it would receive {list(shape)}")
    return shape[1]


def _required(c, key, where):
    if key not in c:
        raise _Invalid(f"{where}.config lacks the setting {key!r}")
    return c[key]


def _dense(shape, c, where, kind="Dense"):
    n_in, units = _dense_input(kind, shape, where), _required(c, "units", where)
    bias = [((units,), "<f4")] if c.get("use_bias", True) else []
    return (None, units), [((n_in, units), "<f4"), *bias]


def _low_rank(shape, c, where):
    n_in = _dense_input("LowRankDense", shape, where)
    units, rank = _required(c, "units", where), _required(c, "rank", where)
    bias = [((units,), "<f4")] if c.get("use_bias", True) else []
    return (None, units), [((n_in, rank), "<f4"), ((rank, units), "<f4"), *bias]


def _qat(shape, c, where):
    out, weights = _dense(shape, c, where, "QATDense")
    return out, [*weights, ((3,), "<f4")]


def _quantized(shape, c, where):
    n_in, units = _dense_input("QuantizedDense", shape, where), _required(c, "units", where)
    bias = [((units,), "<f4")] if c.get("use_bias", True) else []
    return (None, units), [((units, n_in), "|i1"), ((units,), "<f4"), ((units,), "<i4"), *bias, ((2,), "<f4")]


def _batch_norm(shape, c, where):
    f = ((shape[-1],), "<f4")
    return shape, [f] * (int(c.get("scale", True)) + int(c.get("center", True)) + 2)


def _flatten(shape, c, where):
    return (None, math.prod(shape[1:])), []


_IMPLIED = {
    "Dense": _dense,
    "LowRankDense": _low_rank,
    "QATDense": _qat,
    "QuantizedDense": _quantized,
    "BatchNormalization": _batch_norm,
    "Flatten": _flatten,
    "Dropout": lambda shape, c, where: (shape, []),
    "Activation": lambda shape, c, where: (shape, []),
    "InputLayer": lambda shape, c, where: (shape, []),
}


def _implied_weights(layer_specs: list, input_shape):
    """[(shape, dtype)] of the weights building these layers for `input_shape` creates, or
    None when a layer is of a class the table does not know (its build is guarded instead)."""
    shape, implied = tuple(input_shape), []
    for i, spec in enumerate(layer_specs):
        kind, config, where = spec["class_name"], spec["config"], f"config.layers[{i}]"
        rule, cls = _IMPLIED.get(kind), layers_module.ALL.get(kind)
        if rule is None or cls is None or not cls.__module__.startswith("densecore."):
            return None  # (a class of the user's own, registered under a built-in name)
        declared = config.get("shape") if kind == "InputLayer" else config.get("input_shape")
        if kind == "InputLayer" and i > 0:
            raise _Invalid(f"{where}: an InputLayer can only be the first layer")
        if i == 0 and declared is not None and list(declared) != list(shape[1:]):
            raise _Invalid(
                f"{where} declares inputs {declared}, but the file's input_shape is {list(input_shape)}"
            )
        shape, weights = rule(shape, config, where)
        implied += weights
    return implied


def _bytes(shape, dtype) -> int:
    return math.prod(shape) * np.dtype(dtype).itemsize


def _compare_weights(implied, declared, where) -> None:
    """The weights the architecture implies against those the file declares, shape and dtype."""
    if len(implied) != len(declared):
        raise _Invalid(
            f"{where} implies {len(implied)} weight arrays ({sum(_bytes(*w) for w in implied)} bytes); "
            f"the file declares {len(declared)}"
        )
    for i, ((shape, dtype), spec) in enumerate(zip(implied, declared)):
        if list(shape) != spec["shape"] or dtype != spec.get("dtype", "<f4"):
            raise _Invalid(
                f"{where} implies weight {i} of shape {list(shape)} {dtype} ({_bytes(shape, dtype)} bytes); "
                f"the file declares weights[{i}] {spec['shape']} {spec.get('dtype', '<f4')}"
            )


def _check_architecture(config: dict) -> None:
    """A Sequential's layers against the weights the file declares (other models are the
    user's code: their build is guarded instead)."""
    if config["class_name"] == "Sequential":
        implied = _implied_weights(config["config"]["layers"], config["input_shape"])
        if implied is not None:
            _compare_weights(implied, config["weights"], "the architecture")


# ---- loading ------------------------------------------------------------------------------
_READ_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    OSError,
    zlib.error,
    NotImplementedError,  # a damaged header naming an unknown compression method
    RuntimeError,  # zipfile: "File is encrypted, password required"
)


class _Archive:
    """A validated view of a saved file: the zip opened, config.json read (bounded) and
    checked against the schema. `caller` names the public function in errors."""

    def __init__(self, filepath, caller: str):
        self.caller = caller
        self.path = _path(caller, filepath)
        try:
            self.size = os.path.getsize(self.path)
            self.zip = zipfile.ZipFile(self.path, "r")
        except (FileNotFoundError, PermissionError, IsADirectoryError):
            raise  # no file to judge: the usual errors of opening a path
        except (*_READ_ERRORS, ValueError) as exc:
            raise self.refused(f"not a zip archive ({type(exc).__name__}: {exc})") from None
        try:
            self._index()
            raw = self.read("config.json", MAX_CONFIG_BYTES)
            self.config = self._parse(raw)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def refused(self, detail: str) -> ValueError:
        return ValueError(f"{self.caller}: cannot load {self.path!r}: {detail}.")

    def _index(self) -> None:
        infos = self.zip.infolist()
        self.entries = {}
        for info in infos:
            if info.filename in self.entries:
                raise self.refused(f"it holds two entries named {info.filename!r}")
            self.entries[info.filename] = info

    def _parse(self, raw: bytes) -> dict:
        def constant(name):  # NaN, Infinity: not JSON, and never in a setting
            raise _Invalid(f"config.json holds {name}, which is not a JSON number")

        try:
            config = json.loads(raw.decode("utf-8"), parse_constant=constant)
        except RecursionError:  # json's C parser counts its depth: a deep file ends here
            raise self.refused(f"config.json is nested more than {MAX_DEPTH} levels deep") from None
        except (UnicodeDecodeError, ValueError) as exc:  # (JSONDecodeError is a ValueError)
            raise self.refused(f"config.json is not JSON ({exc})") from None
        except _Invalid as exc:
            raise self.refused(str(exc)) from None
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise ValueError(f"{self.caller}: {self.path!r} is not a densecore file.")
        if config.get("version") != VERSION:
            raise ValueError(
                f"{self.caller}: {self.path!r} has format version "
                f"{_show(config.get('version'))}; this densecore reads {VERSION}."
            )
        try:
            _check_config(config)
        except _Invalid as exc:
            raise self.refused(str(exc)) from None
        return config

    def entry(self, name: str, low: int, high: int, why: str) -> zipfile.ZipInfo:
        """The zip entry `name`, checked before a byte of it is read: present, stored or
        deflated, not encrypted, inside the file, declaring low..high bytes, and no more
        than deflate can produce from the bytes it stores (a zip bomb declares either too
        much, or less than it inflates to, and the stream stops at the declared size)."""
        info = self.entries.get(name)
        if info is None:
            raise self.refused(f"the entry {name} is missing")
        if info.flag_bits & 0x41:
            raise self.refused(f"the entry {name} is encrypted; densecore never encrypts")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise self.refused(
                f"the entry {name} uses compression method {info.compress_type}; densecore "
                f"writes stored ({zipfile.ZIP_STORED}) or deflated ({zipfile.ZIP_DEFLATED}) entries"
            )
        if not low <= info.file_size <= high:
            raise self.refused(
                f"the entry {name} declares {info.file_size} bytes; {why} it may hold {low} to {high}"
            )
        if info.header_offset + info.compress_size > self.size:
            raise self.refused(f"the entry {name} runs past the end of the file (truncated?)")
        ratio = 1 if info.compress_type == zipfile.ZIP_STORED else MAX_DEFLATE_RATIO
        if info.file_size > ratio * info.compress_size + (1024 if ratio > 1 else 0):
            raise self.refused(
                f"the entry {name} declares {info.file_size} bytes from {info.compress_size} stored "
                f"bytes, more than its compression can produce (at most {MAX_DEFLATE_RATIO}:1 for deflate)"
            )
        return info

    def read(self, name: str, most: int) -> bytes:
        """A whole (small) entry: config.json."""
        info = self.entry(name, 0, most, "as a densecore config,")
        try:
            with self.zip.open(info) as handle:
                data = handle.read(info.file_size + 1)  # zipfile stops at the declared size
        except _READ_ERRORS as exc:
            raise self.refused(f"the entry {name} cannot be read ({type(exc).__name__}: {exc})") from None
        if len(data) != info.file_size:
            raise self.refused(
                f"the entry {name} holds {len(data)} bytes, not the {info.file_size} it declares"
            )
        return data

    def check_array(self, name: str, shape, dtype) -> None:
        """The entry of an array of `shape` and `dtype` declares its size (header + data)."""
        nbytes = _bytes(shape, dtype)
        why = f"as an array of shape {list(shape)} {np.dtype(dtype).str} (its header and {nbytes} bytes),"
        self.entry(name, nbytes + 10, nbytes + 12 + MAX_NPY_HEADER, why)

    def array(self, name: str, shape, dtype=np.float32) -> np.ndarray:
        """Read one array: its entry and its .npy header checked against the expected shape
        and dtype before anything is allocated for it, then its data streamed into place."""
        shape, dtype = tuple(shape), np.dtype(dtype)
        nbytes = _bytes(shape, dtype)
        why = f"as an array of shape {list(shape)} {dtype.str} (its header and {nbytes} bytes),"
        info = self.entry(name, nbytes + 10, nbytes + 12 + MAX_NPY_HEADER, why)
        try:
            with self.zip.open(info) as handle:
                header_bytes = self._npy_header(name, handle, shape, dtype)
                if header_bytes + nbytes != info.file_size:
                    raise self.refused(
                        f"the entry {name} declares {info.file_size} bytes; its header implies "
                        f"{header_bytes + nbytes}"
                    )
                out = np.empty(shape, dtype)
                view, done = memoryview(out.reshape(-1).view(np.uint8)), 0
                while done < nbytes:
                    n = handle.readinto(view[done : done + _CHUNK])
                    if not n:
                        raise EOFError(f"{name} ends after {done} of {nbytes} bytes")
                    done += n
                if handle.read(1):  # (zipfile never yields more than declared; kept as a guard)
                    raise self.refused(f"the entry {name} holds more than {nbytes} bytes of data")
        except _READ_ERRORS as exc:
            raise self.refused(
                f"the entry {name} is damaged or truncated ({type(exc).__name__}: {exc})"
            ) from None
        return out

    def _npy_header(self, name, handle, shape, dtype) -> int:
        """Read and check a .npy header; the number of bytes it takes. Its length field is
        checked before the header is read: numpy would read a 4 GiB header before refusing it."""
        prefix = _read_exactly(handle, 10)
        version = (prefix[6], prefix[7])
        if prefix[:6] != b"\x93NUMPY" or version not in ((1, 0), (2, 0)):
            raise self.refused(f"the entry {name} is not a .npy array (version 1.0 or 2.0)")
        length_field = prefix[8:10] if version == (1, 0) else prefix[8:10] + _read_exactly(handle, 2)
        length = int.from_bytes(length_field, "little")
        if length > MAX_NPY_HEADER:
            raise self.refused(f"the .npy header of {name} declares {length} bytes; at most {MAX_NPY_HEADER}")
        text = _read_exactly(handle, length)
        if prefix + text == _expected_header(shape, dtype):
            return len(prefix) + length  # as this numpy writes it: parsing would only agree (and cost)
        header = io.BytesIO(length_field + text)
        fmt = np.lib.format
        read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
        try:
            found, fortran, found_dtype = read(header, max_header_size=MAX_NPY_HEADER)
        except (ValueError, SyntaxError, TypeError) as exc:  # numpy parses the header's literal
            raise self.refused(f"the .npy header of {name} is damaged ({exc})") from None
        if tuple(found) != shape or found_dtype != dtype or fortran:
            raise self.refused(
                f"array {name} is {tuple(found)} {found_dtype}{' (Fortran order)' if fortran else ''}, "
                f"expected {shape} {dtype}"
            )
        return 8 + len(length_field) + length


@functools.lru_cache(maxsize=256)
def _expected_header(shape: tuple, dtype: np.dtype) -> bytes:
    """The .npy header (magic to newline) numpy writes for a C-ordered array of shape and dtype."""
    buffer = io.BytesIO()
    fields = {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(buffer, fields)
    return buffer.getvalue()


def _read_exactly(handle, n: int) -> bytes:
    data = handle.read(n)
    if len(data) != n:
        raise EOFError(f"the entry ends after {len(data)} bytes")
    return data


def _constructed(where: str, make, *args, **kwargs):
    """make(*args, **kwargs), a constructor fed from the file: what it refuses is the file's fault."""
    try:
        return make(*args, **kwargs)
    except KeyError as exc:  # a setting missing, or a name in it unknown
        raise _Invalid(f"{where}: no {exc} (a setting missing, or a name unknown)") from None
    except (ValueError, TypeError, AttributeError, IndexError, OverflowError) as exc:
        raise _Invalid(f"{where}: {type(exc).__name__}: {exc}") from None


def _build_model(archive, custom_objects):
    config = archive.config
    class_name, settings, input_shape = config["class_name"], config["config"], config["input_shape"]
    if class_name == "Sequential":
        specs = settings["layers"]
        model = layers_module.MODELS["Sequential"](name=settings.get("name"))
        # the input shape is known before the first layer: each add then builds only the new
        # layer, and building stays linear in the number of layers
        model.input_shape = tuple(input_shape)
        for i, spec in enumerate(specs):
            where = f"config.layers[{i}] ({spec['class_name']})"
            cls = _registered(spec["class_name"], where, layers_module.ALL)
            layer = _constructed(where, cls.from_config, spec["config"])
            _constructed(where, model.add, layer)
    else:
        cls = registry.lookup(class_name) or layers_module.MODELS.get(class_name)
        if cls is None:
            raise ValueError(
                f"load_model: {archive.path!r}: model class {class_name!r} is not defined here; define it "
                f"(or pass custom_objects={{'{class_name}': cls}}) before loading."
            )
        if "input_layers" in settings:  # a functional model: the graph is in its config
            model = _constructed(f"config ({class_name})", cls.from_config, settings, custom_objects)
        else:
            kwargs = {k: v for k, v in settings.items() if k != "name"}
            model = _constructed(f"config ({class_name})", cls, **kwargs)
    _constructed("input_shape", model.build, tuple(input_shape))
    return model


def _check_arrays(archive) -> None:
    """Every declared weight has an entry of its size: a file holds the arrays it declares."""
    for i, spec in enumerate(archive.config["weights"]):
        archive.check_array(f"weights/{i}.npy", spec["shape"], spec.get("dtype", "<f4"))


def _load_weights_into(model, archive) -> None:
    """Read every weight (checked), then put them in place. Not through set_weights, which
    refuses weights that are not finite: a diverged model loads as it was saved, as in Keras,
    with a warning naming those weights."""
    declared = archive.config["weights"]
    own = model.weights
    differ = [
        i
        for i, (w, d) in enumerate(zip(own, declared))
        if list(w.shape) != d["shape"] or w.dtype.str != d.get("dtype", "<f4")
    ]
    if len(declared) != len(own) or differ:
        held, has = [d["shape"] for d in declared], [list(w.shape) for w in own]
        raise ValueError(
            f"{archive.caller}: {archive.path!r} holds weights {_show(held)} but model '{model.name}' has "
            f"{_show(has)}" + (f" (the first to differ: weights[{differ[0]}])." if differ else ".")
        )
    arrays = [archive.array(f"weights/{i}.npy", w.shape, w.dtype) for i, w in enumerate(own)]
    # (a float64 sum of float32 values cannot overflow: it is finite exactly when they all are)
    not_finite = [
        w.name
        for w, a in zip(own, arrays)
        if a.dtype.kind == "f" and not np.isfinite(a.sum(dtype=np.float64))
    ]
    for w, a in zip(own, arrays):  # all read before anything changes
        w.data = a
    if not_finite:
        shown = ", ".join(not_finite[:5])
        if len(not_finite) > 5:
            shown += f" and {len(not_finite) - 5} more"
        warnings.warn(
            f"{archive.caller}: {archive.path!r}: the weights {shown} hold NaN or inf values (a diverged "
            f"model?); they are loaded as saved, and the model's outputs will not be finite.",
            RuntimeWarning,
            stacklevel=3,
        )


def _check_custom_objects(custom_objects) -> dict:
    if custom_objects is None:
        return {}
    if not isinstance(custom_objects, dict):
        raise TypeError(
            f"load_model: custom_objects must be a dict {{'ClassName': class}}; received "
            f"{type(custom_objects).__name__} {_show(custom_objects)}."
        )
    for name, cls in custom_objects.items():
        if not isinstance(name, str) or not callable(cls):
            raise TypeError(
                f"load_model: custom_objects maps class (or function) names to classes (or functions); "
                f"received {_show(name)}: {_show(cls)}."
            )
    return custom_objects


def load_model(filepath, custom_objects=None, compile=True):
    """Load a model saved with `model.save`, ready to predict or to resume training.

    Args:
        filepath: the file.
        custom_objects: {"ClassName": cls} for classes (and functions) of yours that the file
            names: layers, models, losses, metrics, initializers, regularizers; registering
            them with @densecore.saving.register_serializable() does the same for every load.
        compile: restore the optimizer (with its state), the loss and the metrics.

    Raises:
        ValueError: for a file that is not a densecore model, is damaged or truncated, or
            declares sizes that are refused (see the module's doc); the message names the
            path. Nothing is built or allocated before the checks.
        TypeError: for custom_objects that is not a dict of classes.
        FileNotFoundError: for a path where there is no file.
    """
    custom_objects = _check_custom_objects(custom_objects)
    with registry.custom_object_scope(custom_objects), _Archive(filepath, "load_model") as archive:
        config = archive.config
        if config["kind"] != "model":
            raise ValueError(
                f"load_model: {archive.path!r} holds weights only; build the model and call "
                f"model.load_weights()."
            )
        try:
            _check_architecture(config)
            _check_arrays(archive)
            model = _build_model(archive, custom_objects)
            _load_weights_into(model, archive)
            if compile and config.get("compile"):
                _compile_from(model, archive, custom_objects)
        except _Invalid as exc:
            raise archive.refused(str(exc)) from None
        except MemoryError:
            declared = sum(_bytes(d["shape"], d.get("dtype", "<f4")) for d in config["weights"])
            raise archive.refused(
                f"the model it describes ({declared} bytes of weights) does not fit in the memory available"
            ) from None
    return model


def _compile_from(model, archive, custom_objects) -> None:
    spec = archive.config["compile"]
    optimizer_class = optimizers_module.ALL[spec["optimizer"]["class_name"].lower()]
    optimizer = _constructed("compile.optimizer", optimizer_class.from_config, spec["optimizer"]["config"])
    outputs = spec.get("outputs")
    if outputs is None:
        loss = _loss_from(spec.get("loss"), "compile.loss")
        metrics = {
            kind: _metrics_from(archive, spec.get(kind) or [], loss, custom_objects)
            for kind in ("metrics", "weighted_metrics")
        }
    else:  # several outputs: a loss, a weight and metrics each, in the order of their names
        names = getattr(model, "output_names", None)
        if names != outputs["outputs"]:
            raise _Invalid(
                f"compile.outputs.outputs: the settings are for the outputs {outputs['outputs']}; "
                f"the model's are {names}"
            )
        losses = [_loss_from(s, f"compile.outputs.losses[{i}]") for i, s in enumerate(outputs["losses"])]
        metrics = {
            kind: [
                _metrics_from(archive, specs, loss, custom_objects)
                for specs, loss in zip(outputs[kind], losses)
            ]
            for kind in ("metrics", "weighted_metrics")
        }
        loss = losses
        metrics["loss_weights"] = outputs["loss_weights"]
    _constructed("compile", model.compile, optimizer=optimizer, loss=loss, **metrics)
    state = archive.config.get("optimizer") or {}
    params = model.trainable_weights
    expected = [(p.size,) for p in params for _ in optimizer._slots]
    if state.get("arrays") == len(expected):
        arrays = [archive.array(f"optimizer/{i}.npy", shape) for i, shape in enumerate(expected)]
        optimizer.load_state_arrays(params, arrays)
        optimizer.iterations = state.get("iterations", 0)


def _loss_from(spec, where):
    """The saved loss, rebuilt (None stays None)."""
    if spec is None:
        return None
    loss_class = _registered(spec["class_name"], f"{where}.class_name", losses_module.SAVED)
    return _constructed(where, loss_class, **_loss_spec(spec)["config"])


def _metrics_from(archive, specs, loss, custom_objects) -> list:
    """The saved metrics, rebuilt; one that cannot be (a class of your own not given in
    custom_objects) is left out with a warning: a metric must never keep a model from loading."""
    rebuilt = []
    for spec in specs:
        try:
            rebuilt.append(metrics_module.from_config(spec, loss, custom_objects))
        except (ValueError, TypeError) as exc:
            warnings.warn(
                f"load_model: {archive.path!r}: a saved metric was not restored ({exc}); compile "
                f"again to count it.",
                RuntimeWarning,
                stacklevel=4,
            )
    return rebuilt


def load_weights(model, filepath) -> None:
    """Load weights from a file written by save_weights or save into `model` (built for
    the file's input shape first, if it is not built yet).

    Raises:
        ValueError: for a damaged file (as load_model), or weights that do not fit the model.
    """
    with _Archive(filepath, "load_weights") as archive:
        try:
            _check_arrays(archive)
            if not model.built:
                _build_for(model, archive)
            _load_weights_into(model, archive)
        except _Invalid as exc:
            raise archive.refused(str(exc)) from None
        except MemoryError:
            raise archive.refused(
                f"building model '{model.name}' for its input shape {archive.config['input_shape']} "
                f"does not fit in the memory available"
            ) from None


def _build_for(model, archive) -> None:
    """Build an unbuilt model for the file's input shape; a Sequential of known layers is
    first checked against the weights the file declares, so nothing is allocated for a
    file whose input shape would make its layers huge."""
    input_shape = archive.config["input_shape"]
    if isinstance(model, layers_module.MODELS.get("Sequential", ())) and all(
        layers_module.ALL.get(type(layer).__name__) is type(layer) for layer in model._layers
    ):
        specs = model.get_config()["layers"]
        implied = _implied_weights(specs, input_shape)
        if implied is not None:
            where = f"model '{model.name}' built for {input_shape}"
            _compare_weights(implied, archive.config["weights"], where)
    where = f"building model '{model.name}' for input_shape {input_shape}"
    _constructed(where, model.build, tuple(input_shape))


# ---- BackupAndRestore's file (callbacks.py) ----------------------------------------------------
def save_backup(model, filepath, state: dict) -> None:
    """Save what a resumed fit needs, in one file written atomically (as save_model): the
    weights, the optimizer's class, iterations and state arrays, and `state` (JSON: the
    epoch, step, random states, callbacks' states; see BackupAndRestore)."""
    filepath = _path("BackupAndRestore", filepath)
    optimizer = model.optimizer
    arrays = optimizer.state_arrays(model.trainable_weights)
    config = {
        **_describe(model),
        "kind": "backup",
        "optimizer": {
            "class_name": type(optimizer).__name__,
            "iterations": optimizer.iterations,
            "arrays": len(arrays),
        },
        "state": _wide_ints_out(state),
    }
    entries = {f"weights/{i}.npy": _npy(w.data) for i, w in enumerate(model.weights)}
    entries.update({f"optimizer/{i}.npy": _npy(a) for i, a in enumerate(arrays)})
    entries["config.json"] = json.dumps(config).encode()
    _write_atomic(filepath, entries)


def _wide_ints_out(value):
    """JSON for `value` with integers beyond ±2**63 (a random generator's 128-bit state) as
    {"int": "<hex>"}: the schema bounds plain integers, as a file from a stranger may lie."""
    if isinstance(value, dict):
        return {k: _wide_ints_out(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_wide_ints_out(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        return {"int": hex(value)}
    return value


def _wide_ints_in(value):
    """The inverse of _wide_ints_out (hex strings of at most 40 digits: 160 bits)."""
    if isinstance(value, dict):
        if set(value) == {"int"} and isinstance(value["int"], str) and len(value["int"]) <= 43:
            try:
                return int(value["int"], 16)
            except ValueError:
                raise ValueError(
                    f"BackupAndRestore: a damaged integer in the state: {value['int']!r:.50}"
                ) from None
        return {k: _wide_ints_in(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_wide_ints_in(v) for v in value]
    return value


def load_backup(model, filepath) -> dict:
    """Restore the weights and optimizer state of a backup written by save_backup into
    `model` (built and compiled), and return its `state`. The file is read as load_model
    reads a model (every check of a file from a stranger: sizes, schema, bounded reads), and
    everything is read and checked before anything is set; weights that are not finite are
    restored as saved, as load_model does.

    Raises:
        ValueError: naming the file, when it is not a densecore backup, is damaged, or
            holds the backup of another model (other weight shapes or dtypes, or another
            optimizer).
    """
    with _Archive(filepath, "BackupAndRestore") as archive:
        config, where = archive.config, f"BackupAndRestore: {archive.path!r}"
        if config["kind"] != "backup":
            raise ValueError(f"{where} is not a densecore backup (it holds a {config['kind']}).")
        own = [[list(w.shape), w.dtype.str] for w in model.weights]
        saved = [[w["shape"], w.get("dtype", "<f4")] for w in config["weights"]]
        optimizer = config["optimizer"]
        if saved != own or config["class_name"] != type(model).__name__:
            raise ValueError(
                f"{where} holds the backup of another model: a {config['class_name']} with "
                f"weights {[tuple(s) for s, _ in saved]}, where model '{model.name}' is a "
                f"{type(model).__name__} with weights {[tuple(s) for s, _ in own]}. Use another "
                f"backup_dir, or remove that one to start afresh."
            )
        if optimizer["class_name"] != type(model.optimizer).__name__:
            raise ValueError(
                f"{where} holds the backup of a model trained with {optimizer['class_name']}, "
                f"not {type(model.optimizer).__name__}. Use another backup_dir, or remove that one."
            )
        params = model.trainable_weights
        expected = model.optimizer.state_arrays(params)
        if optimizer.get("arrays", 0) != len(expected):
            raise ValueError(
                f"{where} holds another optimizer configuration ({optimizer.get('arrays')} state arrays)."
            )
        try:
            _check_arrays(archive)
            slots = [archive.array(f"optimizer/{i}.npy", a.shape, a.dtype) for i, a in enumerate(expected)]
            _load_weights_into(model, archive)
        except _Invalid as exc:
            raise archive.refused(str(exc)) from None
        state = _wide_ints_in(config["state"])
    model.optimizer.load_state_arrays(params, slots)
    model.optimizer.iterations = int(optimizer.get("iterations", 0))
    return state


register_keras_serializable = register_serializable  # Keras's name for it


def _known_classes() -> dict:
    """Every class densecore can rebuild from a config, by name."""
    kinds = (
        layers_module.ALL,
        layers_module.MODELS,
        losses_module.SAVED,
        metrics_module.CLASSES,
        {cls.__name__: cls for cls in initializers_module.ALL.values()},
        _REGULARIZERS,
        _CONSTRAINTS,
        {cls.__name__: cls for cls in optimizers_module.ALL.values()},
        schedules_module.ALL,
    )
    return {name: cls for kind in kinds for name, cls in kind.items()}


def serialize_keras_object(obj) -> dict:
    """{"module", "class_name", "config", "registered_name"} for any object with get_config
    (a layer, loss, metric, initializer, regularizer, constraint, optimizer, schedule), as
    Keras's `keras.saving.serialize_keras_object`.

    Example:
        >>> import densecore as dc
        >>> config = dc.saving.serialize_keras_object(dc.regularizers.L1(0.005))
        >>> type(dc.saving.deserialize_keras_object(config)).__name__
        'L1'
    """
    cls = type(obj)
    builtin = _known_classes().get(cls.__name__) is cls
    return {
        "module": cls.__module__ if builtin else None,
        "class_name": cls.__name__,
        "config": obj.get_config(),
        "registered_name": cls.__name__ if builtin else get_registered_name(cls),
    }


def deserialize_keras_object(config, custom_objects=None):
    """The object `serialize_keras_object` described; classes of yours are found as load_model
    finds them (registered, or in custom_objects)."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError(
            f"deserialize_keras_object: expected {{'class_name', 'config'}}; received {config!r:.80}"
        )
    with custom_object_scope(custom_objects):
        cls = registry.lookup(config.get("registered_name") or "") or _known_classes().get(
            config.get("class_name")
        )
        if cls is None:
            cls = registry.lookup(config.get("class_name"))
    if cls is None:
        raise ValueError(
            f"deserialize_keras_object: unknown class {config.get('class_name')!r}; register it with "
            f"@densecore.saving.register_serializable() or pass custom_objects."
        )
    return cls.from_config(config["config"])
