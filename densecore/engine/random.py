"""The seeded random stream behind initialisers, shuffling and dropout."""

import numpy as np

_state = {"generator": np.random.default_rng()}


def set_seed(seed: int) -> None:
    """Seed every random choice densecore makes (initial weights, shuffling, dropout).

    Two runs that call `set_seed(n)` with the same n and do the same things get bitwise
    identical results on the cpu and reference backends.

    Args:
        seed: a non-negative integer.

    Example:
        >>> import densecore as dc
        >>> dc.set_seed(42)
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"set_seed: seed must be a non-negative integer; received {seed!r}.")
    _state["generator"] = np.random.default_rng(int(seed))


def generator() -> np.random.Generator:
    """The generator every densecore random draw comes from."""
    return _state["generator"]
