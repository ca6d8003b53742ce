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


def get_state() -> dict:
    """The stream's position, as plain JSON data (numpy's bit_generator.state): what
    BackupAndRestore saves so that a resumed fit draws what the interrupted one would have.

    Example:
        >>> import densecore as dc
        >>> from densecore.engine import random
        >>> dc.set_seed(1)
        >>> state = random.get_state()
        >>> first = random.generator().integers(1000)
        >>> random.set_state(state)
        >>> bool(random.generator().integers(1000) == first)
        True
    """
    return _state["generator"].bit_generator.state


def set_state(state: dict) -> None:
    """Put the stream back where `get_state` found it.

    Raises:
        ValueError: for a state numpy's generators cannot take.
    """
    name = state.get("bit_generator") if isinstance(state, dict) else None
    bit_generator = getattr(np.random, name, None) if isinstance(name, str) else None
    if bit_generator is None or not isinstance(bit_generator, type):
        raise ValueError(f"set_state: not a random state from get_state(); received {state!r:.80}.")
    generator = np.random.Generator(bit_generator())
    try:
        generator.bit_generator.state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"set_state: not a random state from get_state(): {exc}") from None
    _state["generator"] = generator
