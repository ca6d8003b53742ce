"""Weight initialisers, with Keras 3's names, arguments, defaults and formulas
(keras.initializers).

For a kernel of shape (fan_in, fan_out) (Keras's compute_fans: a vector of n has fans
(n, n); more than two axes multiply both fans by the product of the leading ones):

    VarianceScaling(scale, mode, distribution)   n = fan_in, fan_out or their mean (mode):
        "truncated_normal"    N(0, σ²) truncated at 2σ, σ = √(scale / n) / 0.8796 (so that
                              the truncated draw keeps the variance scale / n)
        "untruncated_normal"  N(0, scale / n)
        "uniform"             U(−l, l), l = √(3 · scale / n)
    glorot_uniform   scale 1, fan_avg, uniform: l = √(6 / (fan_in + fan_out))  (Dense's default)
    glorot_normal    scale 1, fan_avg, truncated normal
    he_uniform       scale 2, fan_in, uniform;   he_normal    scale 2, fan_in, truncated normal
    lecun_uniform    scale 1, fan_in, uniform;   lecun_normal scale 1, fan_in, truncated normal
    RandomNormal(mean, stddev)  TruncatedNormal(mean, stddev)  RandomUniform(minval, maxval)
    Orthogonal(gain)  gain · Q of the QR decomposition of a normal draw (orthonormal columns,
                      or rows when there are fewer rows than columns)
    Identity(gain)    gain · I (2-D only);  Constant(value), Zeros, Ones

Glorot keeps the variance of activations and of gradients roughly equal across layers for
tanh-like units; He doubles it for ReLU, which zeroes half its inputs.

Random draws: an initializer with an integer `seed` draws the same values at every call (as
in Keras); with seed=None (the default) it draws from densecore's stream, which
`densecore.set_seed` seeds, so a seeded program builds the same weights every run.

    >>> import densecore as dc
    >>> dc.set_seed(0)
    >>> a = dc.initializers.RandomNormal(stddev=1.0)((2, 2))
    >>> dc.set_seed(0)
    >>> bool((a == dc.initializers.RandomNormal(stddev=1.0)((2, 2))).all())
    True
"""

import inspect
import math
import numbers

import numpy as np

from ..engine import random as dc_random
from . import arguments
from .arguments import number as _number

__all__ = [
    "Initializer",
    "RandomNormal",
    "TruncatedNormal",
    "RandomUniform",
    "VarianceScaling",
    "GlorotUniform",
    "GlorotNormal",
    "HeUniform",
    "HeNormal",
    "LecunUniform",
    "LecunNormal",
    "Orthogonal",
    "Constant",
    "Identity",
    "Zeros",
    "Ones",
    "compute_fans",
    "get",
    "serialize",
    "deserialize",
]


def _shape(where, shape) -> tuple:
    try:
        dims = tuple(shape)
    except TypeError:
        dims = None
    if dims is None or not all(
        isinstance(d, numbers.Integral) and not isinstance(d, bool) and d >= 0 for d in dims
    ):
        raise ValueError(f"{where}: shape must be a tuple of integers ≥ 0. Received: shape={shape!r}")
    return tuple(int(d) for d in dims)


def compute_fans(shape) -> tuple:
    """(fan_in, fan_out) of a weight shape, as Keras computes them.

    Example:
        >>> compute_fans((3, 4)), compute_fans((5,)), compute_fans((2, 2, 3, 4))
        ((3, 4), (5, 5), (12, 16))
    """
    shape = tuple(shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _truncated_normal(rng, stddev, shape):
    """N(0, stddev²) resampled until every value lies within two standard deviations."""
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev


class Initializer:
    """Base class: `init(shape, dtype=None)` returns a new array (float32 by default).

    A subclass implements `sample(shape)` (float64 values; `self._rng()` is the generator
    to draw from) and `get_config()` when it takes arguments.

    Args:
        seed: None (default: draw from densecore's seeded stream) or an integer ≥ 0 (draw
            the same values at every call).

    Example:
        >>> import numpy as np
        >>> class Halves(Initializer):
        ...     def sample(self, shape):
        ...         return np.full(shape, 0.5)
        >>> Halves()((2,))
        array([0.5, 0.5], dtype=float32)
    """

    def __init__(self, seed=None):
        if seed is not None and (
            isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0
        ):
            raise ValueError(
                f"{type(self).__name__}: `seed` argument should be None or an integer ≥ 0. "
                f"Received: seed={seed!r}"
            )
        self.seed = None if seed is None else int(seed)

    def _rng(self):
        return dc_random.generator() if self.seed is None else np.random.default_rng(self.seed)

    def __call__(self, shape, dtype=None):
        shape = _shape(type(self).__name__, shape)
        return np.asarray(self.sample(shape), dtype=np.float32 if dtype is None else dtype)

    def sample(self, shape):
        raise NotImplementedError(f"Initializer {type(self).__name__} must implement `sample(shape)`.")

    def get_config(self) -> dict:
        """The constructor arguments, for saving."""
        return {"seed": self.seed}

    @classmethod
    def from_config(cls, config):
        """A new initializer from `get_config()`'s output (checked as the constructor checks)."""
        return cls(**config)


class RandomNormal(Initializer):
    """N(mean, stddev²), as keras.initializers.RandomNormal.

    Args:
        mean: a finite number; default 0.0.
        stddev: a finite number ≥ 0; default 0.05.
        seed: as Initializer.

    Example:
        >>> RandomNormal(mean=1.0, stddev=0.0)((2,))
        array([1., 1.], dtype=float32)
    """

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        where = type(self).__name__
        self.mean = _number(where, "mean", mean)
        self.stddev = _number(where, "stddev", stddev, lambda v: v >= 0, "a finite number ≥ 0")
        super().__init__(seed)

    def sample(self, shape):
        return self._rng().standard_normal(shape) * self.stddev + self.mean

    def get_config(self):
        return {"seed": self.seed, "mean": self.mean, "stddev": self.stddev}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev²) with the values beyond two standard deviations drawn again, as
    keras.initializers.TruncatedNormal.

    Args:
        mean: a finite number; default 0.0.
        stddev: a finite number ≥ 0; default 0.05.
        seed: as Initializer.

    Example:
        >>> bool(abs(TruncatedNormal(stddev=1.0, seed=0)((1000,))).max() <= 2)
        True
    """

    def sample(self, shape):
        return _truncated_normal(self._rng(), self.stddev, shape) + self.mean


class RandomUniform(Initializer):
    """U(minval, maxval), as keras.initializers.RandomUniform.

    Args:
        minval: a finite number; default -0.05.
        maxval: a finite number ≥ minval; default 0.05.
        seed: as Initializer.

    Example:
        >>> bool((RandomUniform(0.0, 1.0, seed=0)((100,)) < 1.0).all())
        True
    """

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        where = type(self).__name__
        self.minval = _number(where, "minval", minval)
        self.maxval = _number(
            where, "maxval", maxval, lambda v: v >= self.minval, f"a finite number ≥ minval ({minval})"
        )
        super().__init__(seed)

    def sample(self, shape):
        return self._rng().uniform(self.minval, self.maxval, shape)

    def get_config(self):
        return {"seed": self.seed, "minval": self.minval, "maxval": self.maxval}


class VarianceScaling(Initializer):
    """Draws whose variance is scale / n, n the fans chosen by `mode` (see the module's doc),
    as keras.initializers.VarianceScaling.

    Args:
        scale: a finite number > 0; default 1.0.
        mode: "fan_in" (default), "fan_out" or "fan_avg".
        distribution: "truncated_normal" (default; "normal" too), "untruncated_normal" or
            "uniform".
        seed: as Initializer.

    Example:
        >>> init = VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=0)
        >>> bool(abs(init((8, 4))).max() <= (3 * 2.0 / 8) ** 0.5)
        True
    """

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        where = type(self).__name__
        if (
            isinstance(scale, bool)
            or not isinstance(scale, numbers.Real)
            or not math.isfinite(scale)
            or scale <= 0
        ):
            raise ValueError(f"{where}: Argument `scale` must be positive float. Received: scale={scale!r}")
        allowed_modes = ("fan_in", "fan_out", "fan_avg")
        if mode not in allowed_modes:
            raise ValueError(f"{where}: Invalid `mode` argument: {mode!r}. Please use one of {allowed_modes}")
        allowed = ("uniform", "truncated_normal", "untruncated_normal")
        distribution = distribution.lower() if isinstance(distribution, str) else distribution
        distribution = "truncated_normal" if distribution == "normal" else distribution
        if distribution not in allowed:
            raise ValueError(
                f"{where}: Invalid `distribution` argument: {distribution!r}. Please use one of {allowed}"
            )
        self.scale = int(scale) if isinstance(scale, numbers.Integral) else float(scale)
        self.mode, self.distribution = mode, distribution
        super().__init__(seed)

    def sample(self, shape):
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        n = max(1.0, n)
        if self.distribution == "uniform":  # 3 · scale / n: the bits densecore 0.1 drew
            limit = math.sqrt(3.0 * self.scale / n)
            return self._rng().uniform(-limit, limit, shape)
        if self.distribution == "untruncated_normal":
            return self._rng().standard_normal(shape) * math.sqrt(self.scale / n)
        return _truncated_normal(self._rng(), math.sqrt(self.scale / n) / 0.87962566103423978, shape)

    def get_config(self):
        return {"seed": self.seed, "scale": self.scale, "mode": self.mode, "distribution": self.distribution}


class _Preset(VarianceScaling):
    """A VarianceScaling whose scale, mode and distribution its class fixes."""

    _preset = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed=None):
        super().__init__(*self._preset, seed=seed)

    def get_config(self):
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """U(−l, l) with l = √(6 / (fan_in + fan_out)) (Glorot & Bengio): Dense's default."""

    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal with σ = √(2 / (fan_in + fan_out))."""

    _preset = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_Preset):
    """U(−l, l) with l = √(6 / fan_in) (He et al.)."""

    _preset = (2.0, "fan_in", "uniform")


class HeNormal(_Preset):
    """Truncated normal with σ = √(2 / fan_in)."""

    _preset = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """U(−l, l) with l = √(3 / fan_in)."""

    _preset = (1.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal with σ = √(1 / fan_in)."""

    _preset = (1.0, "fan_in", "truncated_normal")


class Orthogonal(Initializer):
    """gain · an orthogonal matrix, as keras.initializers.Orthogonal: the Q of the QR
    decomposition of a normal draw, its signs fixed by R's diagonal; orthonormal columns,
    or rows when the weight has fewer rows than columns (more than two axes: the leading
    ones are flattened into rows).

    Args:
        gain: a finite number; default 1.0.
        seed: as Initializer.

    Example:
        >>> import numpy as np
        >>> q = Orthogonal(seed=0)((4, 4))
        >>> bool(np.allclose(q.T @ q, np.eye(4), atol=1e-6))
        True
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = _number(type(self).__name__, "gain", gain)
        super().__init__(seed)

    def sample(self, shape):
        if len(shape) < 2:
            raise ValueError(
                f"{type(self).__name__}: The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._rng().standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return self.gain * q.reshape(shape)

    def get_config(self):
        return {"seed": self.seed, "gain": self.gain}


class Constant(Initializer):
    """The same value everywhere, as keras.initializers.Constant.

    Args:
        value: a finite number, or an array of finite numbers that broadcasts to the shape;
            default 0.0.

    Example:
        >>> Constant(6.0)((2,))
        array([6., 6.], dtype=float32)
    """

    def __init__(self, value=0.0):
        where = type(self).__name__
        array = np.asarray(value) if not isinstance(value, bool) else None
        if array is None or array.dtype.kind not in "iuf" or not np.isfinite(array).all():
            raise ValueError(
                f"{where}: argument `value` must be a finite number or an array of them. "
                f"Received: value={value!r:.80}"
            )
        self.value = array.item() if array.ndim == 0 else array
        self.seed = None

    def sample(self, shape):
        try:
            return np.broadcast_to(np.asarray(self.value, np.float64), shape)
        except ValueError as exc:
            raise ValueError(
                f"{type(self).__name__}: a value of shape {np.shape(self.value)} cannot fill {shape}."
            ) from exc

    def get_config(self):
        return {"value": self.value.tolist() if isinstance(self.value, np.ndarray) else self.value}


class Identity(Initializer):
    """gain · the identity matrix (2-D weights only), as keras.initializers.Identity.

    Args:
        gain: a finite number; default 1.0.

    Example:
        >>> Identity(gain=2)((2, 3))
        array([[2., 0., 0.],
               [0., 2., 0.]], dtype=float32)
    """

    def __init__(self, gain=1.0):
        self.gain = _number(type(self).__name__, "gain", gain)
        self.seed = None

    def sample(self, shape):
        if len(shape) != 2:
            raise ValueError(
                f"{type(self).__name__}: Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        return self.gain * np.eye(*shape)

    def get_config(self):
        return {"gain": self.gain}


class Zeros(Initializer):
    """All zeros. (`seed` is taken, and ignored, for files densecore 0.1 wrote.)"""

    def sample(self, shape):
        return np.zeros(shape)

    def get_config(self):
        return {}


class Ones(Initializer):
    """All ones. (`seed` is taken, and ignored, for files densecore 0.1 wrote.)"""

    def sample(self, shape):
        return np.ones(shape)

    def get_config(self):
        return {}


# Keras's names: snake_case first (the name `serialize` writes, as densecore 0.1 did), then
# each class's own name and Keras's aliases. `get` also takes any case of the snake names.
_CLASSES = (
    GlorotUniform,
    GlorotNormal,
    HeUniform,
    HeNormal,
    LecunNormal,
    LecunUniform,
    Zeros,
    Ones,
    RandomNormal,
    TruncatedNormal,
    RandomUniform,
    VarianceScaling,
    Orthogonal,
    Constant,
    Identity,
)
_SNAKE = {
    cls: "".join("_" + c.lower() if c.isupper() else c for c in cls.__name__).lstrip("_") for cls in _CLASSES
}
ALL = {
    **{name: cls for cls, name in _SNAKE.items()},
    **{cls.__name__: cls for cls in _CLASSES},
    "normal": RandomNormal,
    "uniform": RandomUniform,
    "one": Ones,
    "zero": Zeros,
    "IdentityInitializer": Identity,
    "OrthogonalInitializer": Orthogonal,
}


def _lookup(name):
    return ALL.get(name) or ALL.get(name.lower())


class _Given:
    """An array as an initializer (Keras's `get(array)`): the shape asked for must be its own."""

    def __init__(self, array):
        self.array = array

    def __call__(self, shape, dtype=None):
        if tuple(shape) != self.array.shape:
            raise ValueError(
                f"Expected `shape` to be {self.array.shape} for direct tensor as initializer. "
                f"Received shape={shape}"
            )
        return np.array(self.array, dtype=np.float32 if dtype is None else dtype)


def get(identifier):
    """An initializer from None (returned as None, as in Keras), a name ("glorot_uniform",
    "GlorotUniform", "normal", ...), a config dict, an Initializer class or instance, a
    callable `(shape, dtype) -> array`, or a numpy array (its values, for its own shape).

    Example:
        >>> get("he_normal").get_config(), get(None)
        ({'seed': None}, None)
    """
    if identifier is None:
        return None
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        cls = _lookup(identifier)
        if cls is not None:
            return cls()
    elif isinstance(identifier, np.ndarray):
        return _Given(identifier)
    elif inspect.isclass(identifier) and issubclass(identifier, Initializer):
        return identifier()
    elif callable(identifier):
        return identifier
    raise ValueError(
        f"Could not interpret initializer identifier: {identifier!r:.80}; expected None, one of "
        f"{sorted(_SNAKE.values())} (or its class name), a config dict, an Initializer or an array."
    )


def serialize(init):
    """{'class_name', 'config'} for saving an initializer (snake_case names, as densecore 0.1
    wrote them), or None.

    Raises:
        ValueError: for an initializer that is not one of this module's classes (a function,
            or a class of your own), which a file cannot name.

    Example:
        >>> serialize(RandomUniform(seed=3))
        {'class_name': 'random_uniform', 'config': {'seed': 3, 'minval': -0.05, 'maxval': 0.05}}
    """
    if init is None:
        return None
    name = _SNAKE.get(type(init))
    if name is None:
        raise ValueError(
            f"initializers.serialize: {init!r:.80} is not one of densecore's initializers "
            f"({sorted(_SNAKE.values())}); a saved model cannot name it."
        )
    return {"class_name": name, "config": init.get_config()}


def deserialize(spec, custom_objects=None):
    """An initializer from `serialize`'s output (or Keras's: class names in either form,
    'module' and 'registered_name' ignored), a name, or None; `custom_objects` maps other
    class names to classes."""
    return arguments.deserialize("initializer", spec, _lookup, get, _SNAKE.values(), custom_objects)
