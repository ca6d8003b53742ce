"""Saving and loading models: one zip file holding a JSON config and .npy arrays.

    config.json        {"format": "densecore", "version": 1, "kind": "model"|"weights",
                        "class_name", "config", "input_shape", "compile", "weights",
                        "optimizer"}
    weights/<i>.npy    each weight, in get_weights() order
    optimizer/<i>.npy  the optimizer's state arrays (so training resumes where it stopped)

Never pickle: arrays are read with allow_pickle=False and the config is plain JSON.
A save writes a temporary file beside the target, fsyncs it and renames it over the
target, so a crash mid-save leaves the old file intact. A load checks everything (the
zip, the JSON, each declared layer size, each array's header against the declared shape)
before allocating the model's arrays.
"""

import io
import json
import os
import tempfile
import warnings
import zipfile
import zlib

import numpy as np

from . import layers as layers_module
from . import losses as losses_module
from . import metrics as metrics_module
from . import optimizers as optimizers_module

FORMAT, VERSION = "densecore", 1
MAX_ELEMENTS = 2**31  # per array: larger declarations are refused before allocation
DTYPES = {"<f4", "<f8", "|i1", "<i4"}  # the only dtypes a weight may declare


def _write_atomic(filepath, entries: dict) -> None:
    filepath = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(prefix=".densecore-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as archive:
                for name, data in entries.items():
                    archive.writestr(name, data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def save_model(model, filepath) -> None:
    """Save `model` (architecture, weights, compile settings, optimizer state) to filepath."""
    if not model.built:
        raise ValueError(f"save: model '{model.name}' is not built; there is nothing to save yet.")
    config = {**_describe(model), "kind": "model", "compile": None, "optimizer": None}
    entries = {f"weights/{i}.npy": _npy(w.data) for i, w in enumerate(model.weights)}
    if getattr(model, "compiled", False):
        loss = model.loss
        if isinstance(loss, losses_module.Loss):
            optimizer = model.optimizer
            config["compile"] = {
                "optimizer": {"class_name": type(optimizer).__name__, "config": optimizer.get_config()},
                "loss": {"class_name": type(loss).__name__, "config": loss.get_config()},
                **model._compile_config,  # metrics and weighted_metrics
            }
            state = optimizer.state_arrays(model.trainable_weights)
            config["optimizer"] = {"iterations": optimizer.iterations, "arrays": len(state)}
            entries.update({f"optimizer/{i}.npy": _npy(a) for i, a in enumerate(state)})
    entries["config.json"] = json.dumps(config).encode()
    _write_atomic(filepath, entries)


def save_weights(model, filepath) -> None:
    """Save only the weights of a built model."""
    if not model.built:
        raise ValueError(f"save_weights: model '{model.name}' is not built.")
    entries = {f"weights/{i}.npy": _npy(w.data) for i, w in enumerate(model.weights)}
    entries["config.json"] = json.dumps({**_describe(model), "kind": "weights"}).encode()
    _write_atomic(filepath, entries)


# ---- loading ------------------------------------------------------------------------------
class _Archive:
    """A validated view of a saved file."""

    def __init__(self, filepath):
        self.path = os.fspath(filepath)
        try:
            self.zip = zipfile.ZipFile(self.path, "r")
            raw = self.zip.read("config.json")
            self.config = json.loads(raw)
        except FileNotFoundError:
            raise
        except (
            zipfile.BadZipFile,
            KeyError,
            json.JSONDecodeError,
            UnicodeDecodeError,
            OSError,
            EOFError,
            zipfile.LargeZipFile,
            zlib.error,
            NotImplementedError,  # a damaged header naming an unknown compression method
        ) as exc:
            raise ValueError(
                f"load: {self.path!r} is not a densecore file, or it is "
                f"damaged ({type(exc).__name__}: {exc})."
            ) from None
        if not isinstance(self.config, dict) or self.config.get("format") != FORMAT:
            raise ValueError(f"load: {self.path!r} is not a densecore file.")
        if self.config.get("version") != VERSION:
            raise ValueError(
                f"load: {self.path!r} has format version "
                f"{self.config.get('version')!r}; this densecore reads {VERSION}."
            )

    def array(self, name, shape, dtype=np.float32) -> np.ndarray:
        """Read one array, checking its header against the expected shape and dtype first."""
        try:
            with self.zip.open(name) as handle:
                version = np.lib.format.read_magic(handle)
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                found, _, found_dtype = read_header(handle)
                if tuple(found) != tuple(shape) or found_dtype != np.dtype(dtype):
                    raise ValueError(
                        f"array {name} is {found} {found_dtype}, expected {tuple(shape)} {np.dtype(dtype)}"
                    )
            with self.zip.open(name) as handle:
                return np.lib.format.read_array(handle, allow_pickle=False)
        except ValueError as exc:
            raise ValueError(f"load: {self.path!r} is damaged: {exc}.") from None
        except (KeyError, zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError) as exc:
            raise ValueError(
                f"load: {self.path!r} is damaged or truncated ({type(exc).__name__}: {exc})."
            ) from None


def _check_layer_config(spec) -> None:
    if not isinstance(spec, dict) or spec.get("class_name") not in layers_module.ALL:
        raise ValueError(f"load: unknown layer {spec!r}.")
    config = spec.get("config", {})
    units = config.get("units")
    if units is not None and (not isinstance(units, int) or not 0 < units <= MAX_ELEMENTS):
        raise ValueError(f"load: layer declares units={units!r}, which is refused.")


def _build_model(archive, custom_objects):
    config = archive.config
    class_name = config.get("class_name")
    input_shape = config.get("input_shape")
    if (
        not isinstance(input_shape, list)
        or len(input_shape) < 2
        or input_shape[0] is not None
        or not all(isinstance(d, int) and not isinstance(d, bool) and d > 0 for d in input_shape[1:])
        or int(np.prod(input_shape[1:], dtype=np.float64)) > MAX_ELEMENTS
    ):
        raise ValueError(f"load: invalid input shape {input_shape!r}.")
    declared = config.get("weights")
    if not isinstance(declared, list):
        raise ValueError("load: the weights list is missing.")
    for spec in declared:
        shape = spec.get("shape") if isinstance(spec, dict) else None
        if (
            not isinstance(shape, list)
            or not all(isinstance(s, int) and s > 0 for s in shape)
            or int(np.prod(shape, dtype=np.float64)) > MAX_ELEMENTS
            or spec.get("dtype", "<f4") not in DTYPES
        ):
            raise ValueError(
                f"load: weight declaration {spec!r} is refused (shape must be "
                f"positive integers, at most {MAX_ELEMENTS} elements, dtype one of "
                f"{sorted(DTYPES)})."
            )
    if class_name == "Sequential":
        layer_specs = config.get("config", {}).get("layers", [])
        for spec in layer_specs:
            _check_layer_config(spec)
        model = layers_module.MODELS["Sequential"](name=config["config"].get("name"))
        for spec in layer_specs:
            model.add(layers_module.ALL[spec["class_name"]].from_config(spec["config"]))
    else:
        cls = (custom_objects or {}).get(class_name) or layers_module.MODELS.get(class_name)
        if cls is None:
            raise ValueError(
                f"load: model class {class_name!r} is not defined here; define it "
                f"(or pass custom_objects={{'{class_name}': cls}}) before loading."
            )
        model = cls(**{k: v for k, v in config.get("config", {}).items() if k != "name"})
    model.build(tuple(input_shape))
    return model


def _load_weights_into(model, archive) -> None:
    declared = archive.config.get("weights", [])
    own = model.weights
    if len(declared) != len(own) or any(
        list(w.shape) != d.get("shape") or w.dtype.str != d.get("dtype", "<f4") for w, d in zip(own, declared)
    ):
        raise ValueError(
            f"load: the file holds weights {[d.get('shape') for d in declared]} but model "
            f"'{model.name}' has {[list(w.shape) for w in own]}."
        )
    model.set_weights([archive.array(f"weights/{i}.npy", w.shape, w.dtype) for i, w in enumerate(own)])


def load_model(filepath, custom_objects=None, compile=True):
    """Load a model saved with `model.save`, ready to predict or to resume training.

    Args:
        filepath: the file.
        custom_objects: {"ClassName": cls} for subclassed models defined elsewhere.
        compile: restore the optimizer (with its state), the loss and the metrics.

    Raises:
        ValueError: for a file that is not a densecore model, is damaged or truncated, or
            declares sizes that are refused; nothing is allocated before the checks.
    """
    archive = _Archive(filepath)
    if archive.config.get("kind") != "model":
        raise ValueError(
            f"load_model: {archive.path!r} holds weights only; build the model and call model.load_weights()."
        )
    try:
        model = _build_model(archive, custom_objects)
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"load_model: {archive.path!r} has an invalid config ({exc}).") from None
    _load_weights_into(model, archive)
    spec = archive.config.get("compile")
    if compile and spec:
        try:
            optimizer = optimizers_module.ALL[spec["optimizer"]["class_name"].lower()].from_config(
                spec["optimizer"]["config"]
            )
            loss = losses_module.CLASSES[spec["loss"]["class_name"]](**spec["loss"]["config"])
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"load_model: {archive.path!r} has an invalid compile config ({exc}).") from None
        metrics = {
            kind: _metrics_from(archive, spec.get(kind) or [], loss, custom_objects)
            for kind in ("metrics", "weighted_metrics")
        }
        model.compile(optimizer=optimizer, loss=loss, **metrics)
        state = archive.config.get("optimizer") or {}
        params = model.trainable_weights
        expected = [(p.size,) for p in params for _ in optimizer._slots]
        if state.get("arrays") == len(expected):
            arrays = [archive.array(f"optimizer/{i}.npy", shape) for i, shape in enumerate(expected)]
            optimizer.load_state_arrays(params, arrays)
            optimizer.iterations = int(state.get("iterations", 0))
    return model


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
                stacklevel=3,
            )
    return rebuilt


def load_weights(model, filepath) -> None:
    """Load weights from a file written by save_weights or save into a built model."""
    archive = _Archive(filepath)
    if not model.built:
        shape = archive.config.get("input_shape")
        if isinstance(shape, list) and len(shape) >= 2:
            model.build(tuple(shape))
    _load_weights_into(model, archive)
