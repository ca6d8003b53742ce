"""Learning-rate schedules: the rate as a function of the optimizer's step count.

ExponentialDecay  η(t) = η₀ · r^(t / T)        (t // T with staircase=True)
CosineDecay       η(t) = η₀ · [(1 − α) · ½(1 + cos(π · min(t, T) / T)) + α]
"""

import math


class LearningRateSchedule:
    """Base class: `schedule(step)` returns the learning rate for that step."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor arguments, for saving."""
        return dict(vars(self))


class ExponentialDecay(LearningRateSchedule):
    """η₀ · decay_rate^(step / decay_steps), as keras.optimizers.schedules.ExponentialDecay.

    Example:
        >>> ExponentialDecay(0.1, decay_steps=10, decay_rate=0.5)(20)
        0.025
    """

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False):
        if decay_steps <= 0:
            raise ValueError(f"ExponentialDecay: decay_steps must be > 0; received {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.decay_rate = float(decay_rate)
        self.staircase = staircase

    def __call__(self, step):
        p = step / self.decay_steps
        return self.initial_learning_rate * self.decay_rate ** (math.floor(p) if self.staircase else p)


class CosineDecay(LearningRateSchedule):
    """Cosine decay from η₀ to α·η₀ over decay_steps, as keras's CosineDecay (no warm-up)."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0):
        if decay_steps <= 0:
            raise ValueError(f"CosineDecay: decay_steps must be > 0; received {decay_steps}.")
        self.initial_learning_rate = float(initial_learning_rate)
        self.decay_steps = decay_steps
        self.alpha = float(alpha)

    def __call__(self, step):
        progress = min(step, self.decay_steps) / self.decay_steps
        cosine = 0.5 * (1 + math.cos(math.pi * progress))
        return self.initial_learning_rate * ((1 - self.alpha) * cosine + self.alpha)


ALL = {"ExponentialDecay": ExponentialDecay, "CosineDecay": CosineDecay}
