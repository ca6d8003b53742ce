"""Check analytic gradients against central finite differences."""

import numpy as np

from .tensor import Tensor, no_grad


class GradcheckError(AssertionError):
    """Analytic and numerical gradients disagree."""


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-6, rtol: float = 1e-4) -> bool:
    """Compare the gradients backward() computes with (f(x + ε) − f(x − ε)) / 2ε.

    A non-scalar output is reduced to L = Σ r ⊙ fn(inputs) with fixed random r, so every
    output element's gradient is checked.

    Args:
        fn: takes the tensors in `inputs` and returns a Tensor.
        inputs: float64 Tensors; those with requires_grad=True are checked.
        eps: the finite-difference step.
        atol, rtol: the allowed difference, |analytic − numeric| ≤ atol + rtol |numeric|.

    Returns:
        True when every element agrees.

    Raises:
        TypeError: an input that is not a float64 Tensor (float32 differences are noise).
        GradcheckError: naming the input, the worst element and both values.

    Example:
        >>> import numpy as np, densecore as dc
        >>> x = dc.Tensor(np.array([0.5, -1.0]), requires_grad=True)
        >>> dc.gradcheck(lambda x: (x * x).tanh(), [x])
        True
    """
    for i, t in enumerate(inputs):
        if not isinstance(t, Tensor) or t.dtype != np.float64:
            raise TypeError(
                f"gradcheck: input {i} must be a float64 Tensor; received "
                f"{type(t).__name__} {getattr(t, 'dtype', '')}."
            )
    weights = np.random.default_rng(0).uniform(0.5, 1.5, np.shape(fn(*inputs).data))

    def loss():
        return float((fn(*inputs).data * weights).sum())

    for t in inputs:
        t.grad = None
    (fn(*inputs) * weights).sum().backward()
    for i, t in enumerate(inputs):
        if not t.requires_grad:
            continue
        analytic = np.zeros(t.shape) if t.grad is None else t.grad
        numeric = np.zeros(t.shape)
        with no_grad():
            for index in np.ndindex(t.shape):
                saved = t.data[index]
                t.data[index] = saved + eps
                up = loss()
                t.data[index] = saved - eps
                down = loss()
                t.data[index] = saved
                numeric[index] = (up - down) / (2 * eps)
        excess = np.abs(analytic - numeric) - (atol + rtol * np.abs(numeric))
        if excess.size and excess.max() > 0:
            worst = np.unravel_index(np.argmax(excess), t.shape)
            raise GradcheckError(
                f"gradcheck: input {i} (shape {t.shape}) element {tuple(int(w) for w in worst)}: "
                f"analytic {analytic[worst]:.8g} vs numeric {numeric[worst]:.8g}."
            )
    return True
