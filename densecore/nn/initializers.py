"""Weight initialisers, with Keras's names and formulas.

For a kernel of shape (fan_in, fan_out):

    glorot_uniform  U(−l, l),  l = √(6 / (fan_in + fan_out))     (Keras's Dense default)
    glorot_normal   N(0, σ²) truncated at 2σ, σ = √(2 / (fan_in + fan_out))
    he_uniform      U(−l, l),  l = √(6 / fan_in)
    he_normal       truncated normal, σ = √(2 / fan_in)
    lecun_normal    truncated normal, σ = √(1 / fan_in)
    zeros, ones     constants

Glorot keeps the variance of activations and of gradients roughly equal across layers for
tanh-like units; He doubles it for ReLU, which zeroes half its inputs.
"""

import numpy as np

from ..engine import random as dc_random


class Initializer:
    """Base class: `init(shape, dtype)` returns a new array.

    Args:
        seed: an integer for a draw that does not depend on densecore's global stream;
            None (default) draws from the stream seeded by `densecore.set_seed`.
    """

    def __init__(self, seed=None):
        self.seed = seed

    def _rng(self):
        return dc_random.generator() if self.seed is None else np.random.default_rng(self.seed)

    def __call__(self, shape, dtype=np.float32):
        return np.asarray(self.sample(tuple(shape)), dtype=dtype)

    def get_config(self) -> dict:
        """The constructor arguments, for saving."""
        return {"seed": self.seed}


def _fans(shape):
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def _truncated_normal(rng, stddev, shape):
    """N(0, stddev²) resampled until every value lies within two standard deviations.

    Keras scales the std by 1/0.8796 so the truncated distribution keeps the target variance.
    """
    stddev = stddev / 0.87962566103423978
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * stddev


class GlorotUniform(Initializer):
    """U(−l, l) with l = √(6 / (fan_in + fan_out))."""

    def sample(self, shape):
        fan_in, fan_out = _fans(shape)
        limit = np.sqrt(6.0 / max(fan_in + fan_out, 1))
        return self._rng().uniform(-limit, limit, shape)


class GlorotNormal(Initializer):
    """Truncated normal with σ = √(2 / (fan_in + fan_out))."""

    def sample(self, shape):
        fan_in, fan_out = _fans(shape)
        return _truncated_normal(self._rng(), np.sqrt(2.0 / max(fan_in + fan_out, 1)), shape)


class HeUniform(Initializer):
    """U(−l, l) with l = √(6 / fan_in)."""

    def sample(self, shape):
        limit = np.sqrt(6.0 / max(_fans(shape)[0], 1))
        return self._rng().uniform(-limit, limit, shape)


class HeNormal(Initializer):
    """Truncated normal with σ = √(2 / fan_in)."""

    def sample(self, shape):
        return _truncated_normal(self._rng(), np.sqrt(2.0 / max(_fans(shape)[0], 1)), shape)


class LecunNormal(Initializer):
    """Truncated normal with σ = √(1 / fan_in)."""

    def sample(self, shape):
        return _truncated_normal(self._rng(), np.sqrt(1.0 / max(_fans(shape)[0], 1)), shape)


class Zeros(Initializer):
    """All zeros."""

    def sample(self, shape):
        return np.zeros(shape)


class Ones(Initializer):
    """All ones."""

    def sample(self, shape):
        return np.ones(shape)


ALL = {
    "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform,
    "he_normal": HeNormal,
    "lecun_normal": LecunNormal,
    "zeros": Zeros,
    "ones": Ones,
}


def get(identifier) -> Initializer:
    """An initializer from a name ("glorot_uniform", ...) or an Initializer instance."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ALL:
        return ALL[identifier.lower()]()
    raise ValueError(
        f"Unknown initializer {identifier!r}; expected one of {sorted(ALL)} or an Initializer instance."
    )


def serialize(init: Initializer) -> dict:
    """{'class_name', 'config'} for saving an initializer."""
    name = next(k for k, v in ALL.items() if type(init) is v)
    return {"class_name": name, "config": init.get_config()}


def deserialize(spec) -> Initializer:
    """An initializer from `serialize`'s output (or a name)."""
    if isinstance(spec, str):
        return get(spec)
    return ALL[spec["class_name"]](**spec.get("config", {}))
