"""Learning-rate schedules: the rate as a function of the optimizer's step count t, with
Keras 3's names, arguments, defaults and formulas (keras.optimizers.schedules).

ExponentialDecay        η(t) = η₀ · r^(t / T)                   (⌊t / T⌋ with staircase=True)
InverseTimeDecay        η(t) = η₀ / (1 + r · t / T)              (⌊t / T⌋ with staircase=True)
PiecewiseConstantDecay  η(t) = values[i] for boundaries[i−1] < t ≤ boundaries[i]
PolynomialDecay         η(t) = (η₀ − η_end) · (1 − min(t, T) / T)^p + η_end
                        (cycle=True: T · ⌈t / T⌉ in place of T, and t is not capped)
CosineDecay             η(t) = η₀ · [(1 − α) · ½(1 + cos(π · min(t, T) / T)) + α];
                        with a warm-up: η₀ + (η_w − η₀) · t / W for t < W, then the cosine
                        decay from η_w over the next T steps
CosineDecayRestarts     the cosine decay over T, then again over T · t_mul, T · t_mul², ...
                        each restart from η₀ · m_mulⁱ (SGDR)

Every argument is checked when the schedule is made (from_config too), so a schedule never
returns NaN, an infinite or a negative rate.

    >>> from densecore.nn import schedules
    >>> s = schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.01, 0.001])
    >>> s(10), s(11), s(21)
    (0.1, 0.01, 0.001)
"""

import math

from .arguments import number as _number

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "InverseTimeDecay",
    "CosineDecay",
    "CosineDecayRestarts",
    "serialize",
    "deserialize",
]


def _flag(where, name, value):
    if not isinstance(value, bool):
        raise ValueError(f"{where}: argument `{name}` must be True or False. Received: {name}={value!r}")
    return value


def _name(where, value):
    if not isinstance(value, str):
        raise ValueError(f"{where}: argument `name` must be a string. Received: name={value!r}")
    return value


def _rate(where, name, value):
    return _number(where, name, value, lambda v: v >= 0, "a finite number ≥ 0")


def _steps(where, name, value):
    return _number(where, name, value, lambda v: v > 0, "a finite number > 0")


def _step(step):
    """The step count as a float (an int, a float or a numpy scalar)."""
    return float(step)


class LearningRateSchedule:
    """Base class: `schedule(step)` returns the learning rate for that optimizer step.

    A subclass implements `__call__(self, step)`; `get_config()` returns its attributes
    unless it says otherwise, and `from_config(config)` calls the constructor with them.

    Example:
        >>> class Halving(LearningRateSchedule):
        ...     def __init__(self, rate):
        ...         self.rate = rate
        ...     def __call__(self, step):
        ...         return self.rate / 2 ** step
        >>> Halving(0.1)(2), Halving.from_config({"rate": 1.0})(1)
        (0.025, 0.5)
    """

    def __call__(self, step) -> float:
        raise NotImplementedError(
            f"Learning rate schedule '{type(self).__name__}' must override `__call__(self, step)`."
        )

    def get_config(self) -> dict:
        """The constructor arguments, for saving."""
        return dict(vars(self))

    @classmethod
    def from_config(cls, config):
        """A new schedule from `get_config()`'s output (checked as the constructor checks)."""
        return cls(**config)


class _RateDecay(LearningRateSchedule):
    """The settings ExponentialDecay and InverseTimeDecay share: η₀, T, r, staircase."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        where = type(self).__name__
        self.initial_learning_rate = _rate(where, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _steps(where, "decay_steps", decay_steps)
        self.decay_rate = _rate(where, "decay_rate", decay_rate)
        self.staircase = _flag(where, "staircase", staircase)
        self.name = _name(where, where if name is None else name)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "decay_rate": self.decay_rate,
            "staircase": self.staircase,
            "name": self.name,
        }


class ExponentialDecay(_RateDecay):
    """η₀ · decay_rate^(step / decay_steps), as keras.optimizers.schedules.ExponentialDecay.

    Args:
        initial_learning_rate: η₀, a finite number ≥ 0.
        decay_steps: T, a finite number > 0.
        decay_rate: r, a finite number ≥ 0.
        staircase: decay at whole multiples of T only (⌊t / T⌋).
        name: default "ExponentialDecay".

    Example:
        >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20)
        0.025
    """

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)


class PiecewiseConstantDecay(LearningRateSchedule):
    """A constant rate per interval of steps: values[0] while step ≤ boundaries[0],
    values[1] while step ≤ boundaries[1], ..., values[-1] after boundaries[-1].

    Args:
        boundaries: the last step of each interval, strictly increasing finite numbers.
        values: one more rate than boundaries, each a finite number ≥ 0.
        name: default "PiecewiseConstant".

    Example:
        >>> s = PiecewiseConstantDecay(boundaries=[100, 110], values=[1.0, 0.5, 0.1])
        >>> s(100), s(101), s(111)
        (1.0, 0.5, 0.1)
    """

    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        where = type(self).__name__
        if not isinstance(boundaries, (list, tuple)) or not isinstance(values, (list, tuple)):
            raise ValueError(
                f"{where}: arguments `boundaries` and `values` must be lists of numbers. "
                f"Received: boundaries={boundaries!r}, values={values!r}"
            )
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                f"{where}: The length of boundaries should be 1 less than the length of values. "
                f"Received: boundaries={boundaries} of length {len(boundaries)}, and "
                f"values={values} of length {len(values)}."
            )
        for b in boundaries:
            _number(where, "boundaries", b)
        if any(b >= c for b, c in zip(boundaries, boundaries[1:])):
            raise ValueError(
                f"{where}: argument `boundaries` must be strictly increasing. "
                f"Received: boundaries={boundaries}"
            )
        for v in values:
            _rate(where, "values", v)
        self.boundaries, self.values = list(boundaries), list(values)
        self.name = _name(where, name)

    def __call__(self, step):
        step = _step(step)
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """(η₀ − η_end) · (1 − t / T)^power + η_end, reaching end_learning_rate at step T.

    Args:
        initial_learning_rate: η₀, a finite number ≥ 0.
        decay_steps: T, a finite number > 0.
        end_learning_rate: η_end, a finite number ≥ 0; default 0.0001.
        power: a finite number ≥ 0; default 1.0 (linear).
        cycle: restart beyond T, decaying over the next multiple of T (T · ⌈t / T⌉).
        name: default "PolynomialDecay".

    Example:
        >>> PolynomialDecay(0.05, decay_steps=10, end_learning_rate=0.0)(5)
        0.025
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        end_learning_rate=0.0001,
        power=1.0,
        cycle=False,
        name="PolynomialDecay",
    ):
        where = type(self).__name__
        self.initial_learning_rate = _rate(where, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _steps(where, "decay_steps", decay_steps)
        self.end_learning_rate = _rate(where, "end_learning_rate", end_learning_rate)
        self.power = _number(where, "power", power, lambda v: v >= 0, "a finite number ≥ 0")
        self.cycle = _flag(where, "cycle", cycle)
        self.name = _name(where, name)

    def __call__(self, step):
        step, decay_steps = _step(step), self.decay_steps
        if self.cycle:
            decay_steps *= 1.0 if step == 0 else math.ceil(step / decay_steps)
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power + (
            self.end_learning_rate
        )

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "end_learning_rate": self.end_learning_rate,
            "power": self.power,
            "cycle": self.cycle,
            "name": self.name,
        }


class InverseTimeDecay(_RateDecay):
    """η₀ / (1 + decay_rate · step / decay_steps).

    Args:
        initial_learning_rate: η₀, a finite number ≥ 0.
        decay_steps: T, a finite number > 0.
        decay_rate: r, a finite number ≥ 0.
        staircase: ⌊t / T⌋ in place of t / T.
        name: default "InverseTimeDecay".

    Example:
        >>> InverseTimeDecay(0.1, decay_steps=1.0, decay_rate=0.5)(2)
        0.05
    """

    def __call__(self, step):
        p = _step(step) / self.decay_steps
        if self.staircase:
            p = math.floor(p)
        return self.initial_learning_rate / (1 + self.decay_rate * p)


def _cosine(fraction, alpha):
    """(1 − α) · ½(1 + cos(π f)) + α."""
    return (1 - alpha) * 0.5 * (1 + math.cos(math.pi * fraction)) + alpha


class CosineDecay(LearningRateSchedule):
    """Cosine decay from η₀ (or warmup_target) to α times it over decay_steps, after an
    optional linear warm-up, as keras.optimizers.schedules.CosineDecay.

    Args:
        initial_learning_rate: η₀, a finite number ≥ 0.
        decay_steps: T, a finite number > 0.
        alpha: the final rate as a fraction of the decay's start, in [0, 1]; default 0.
        name: default "CosineDecay".
        warmup_target: None (no warm-up: decay from η₀), or the rate η_w ≥ 0 that a linear
            warm-up from η₀ reaches after warmup_steps; the decay then starts from η_w.
        warmup_steps: W, a finite number ≥ 0; default 0.

    Example:
        >>> s = CosineDecay(0.0, decay_steps=100, warmup_target=1.0, warmup_steps=10)
        >>> s(5), s(10), s(60), s(110)
        (0.5, 1.0, 0.5, 0.0)
    """

    def __init__(
        self,
        initial_learning_rate,
        decay_steps,
        alpha=0.0,
        name="CosineDecay",
        warmup_target=None,
        warmup_steps=0,
    ):
        where = type(self).__name__
        self.initial_learning_rate = _rate(where, "initial_learning_rate", initial_learning_rate)
        self.decay_steps = _steps(where, "decay_steps", decay_steps)
        self.alpha = _number(where, "alpha", alpha, lambda v: 0 <= v <= 1, "a number in [0, 1]")
        self.name = _name(where, name)
        self.warmup_target = None if warmup_target is None else _rate(where, "warmup_target", warmup_target)
        self.warmup_steps = _rate(where, "warmup_steps", warmup_steps)

    def __call__(self, step):
        step = _step(step)
        if self.warmup_target is None:
            return self.initial_learning_rate * _cosine(
                min(step, self.decay_steps) / self.decay_steps, self.alpha
            )
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        fraction = (step - self.warmup_steps) / self.decay_steps
        return self.warmup_target * _cosine(fraction, self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "decay_steps": self.decay_steps,
            "alpha": self.alpha,
            "name": self.name,
            "warmup_target": self.warmup_target,
            "warmup_steps": self.warmup_steps,
        }


class CosineDecayRestarts(LearningRateSchedule):
    """Cosine decay with warm restarts (SGDR): the rate decays from η₀ to α·η₀ over
    first_decay_steps, then restarts; period i lasts T · t_mulⁱ steps and starts from
    η₀ · m_mulⁱ.

    Args:
        initial_learning_rate: η₀, a finite number ≥ 0.
        first_decay_steps: T, a finite number > 0.
        t_mul: the growth of each period, a finite number ≥ 1 (Keras also takes t_mul < 1,
            whose periods add up to a finite number of steps, past which its rate is NaN);
            default 2.0.
        m_mul: the factor of each restart's rate, a finite number ≥ 0; default 1.0.
        alpha: the lowest rate as a fraction of the period's start, in [0, 1]; default 0.
        name: default "SGDRDecay".

    Example:
        >>> s = CosineDecayRestarts(1.0, first_decay_steps=10, t_mul=1.0, m_mul=0.5)
        >>> s(0), s(5), s(10), s(25)
        (1.0, 0.5, 0.5, 0.125)
    """

    def __init__(
        self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name="SGDRDecay"
    ):
        where = type(self).__name__
        self.initial_learning_rate = _rate(where, "initial_learning_rate", initial_learning_rate)
        self.first_decay_steps = _steps(where, "first_decay_steps", first_decay_steps)
        self._t_mul = _number(where, "t_mul", t_mul, lambda v: v >= 1, "a finite number ≥ 1")
        self._m_mul = _rate(where, "m_mul", m_mul)
        self.alpha = _number(where, "alpha", alpha, lambda v: 0 <= v <= 1, "a number in [0, 1]")
        self.name = _name(where, name)

    def __call__(self, step):
        fraction = _step(step) / self.first_decay_steps
        t_mul = self._t_mul
        if t_mul == 1.0:
            restart = math.floor(fraction)
            fraction -= restart
        else:  # the periods 1, t, t², ... end at (tⁱ − 1) / (t − 1) first periods
            restart = math.floor(math.log(1.0 - fraction * (1.0 - t_mul)) / math.log(t_mul))
            done = (1.0 - t_mul**restart) / (1.0 - t_mul)
            fraction = (fraction - done) / t_mul**restart
        decayed = 0.5 * self._m_mul**restart * (1.0 + math.cos(math.pi * fraction))
        return self.initial_learning_rate * ((1 - self.alpha) * decayed + self.alpha)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "first_decay_steps": self.first_decay_steps,
            "t_mul": self._t_mul,
            "m_mul": self._m_mul,
            "alpha": self.alpha,
            "name": self.name,
        }


ALL = {
    cls.__name__: cls
    for cls in (
        ExponentialDecay,
        PiecewiseConstantDecay,
        PolynomialDecay,
        InverseTimeDecay,
        CosineDecay,
        CosineDecayRestarts,
    )
}


def serialize(schedule) -> dict:
    """{'class_name', 'config'} for saving a schedule (as an optimizer's config holds it).

    Example:
        >>> serialize(ExponentialDecay(0.1, 10, 0.9))["class_name"]
        'ExponentialDecay'
    """
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"schedules.serialize: expected a LearningRateSchedule; received {schedule!r:.80}.")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config, custom_objects=None) -> LearningRateSchedule:
    """A schedule from `serialize`'s output, or from Keras's (whose 'module' and
    'registered_name' are ignored); `custom_objects` maps other class names to classes.

    Example:
        >>> deserialize({"class_name": "InverseTimeDecay", "config": {
        ...     "initial_learning_rate": 0.1, "decay_steps": 1, "decay_rate": 1.0}})(1)
        0.05
    """
    if not isinstance(config, dict) or not isinstance(config.get("config", {}), dict):
        raise ValueError(
            "schedules.deserialize: expected {'class_name': ..., 'config': {...}}; "
            f"received {config!r:.80}."
        )
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or ALL.get(name)
    if cls is None:
        raise ValueError(f"schedules.deserialize: unknown schedule {name!r}; expected one of {sorted(ALL)}.")
    return cls.from_config(dict(config.get("config", {})))
