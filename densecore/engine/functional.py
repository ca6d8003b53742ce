"""Operations on Tensors that are one graph node each: the dense layer, activations, losses.

`dense` runs the selected kernel backend (see backend.py) forward and backward. The losses
are fused: each computes its value and its gradient in one node, in the numerically stable
form, so logits of ±1000 give finite values and gradients.

Losses follow Keras's argument order `(y_true, y_pred)` and reduction: the per-sample loss
is taken over the last axis, and the result is its mean over the batch. With
`sample_weight` (one weight w_n per sample, Keras's "sum_over_batch_size"), it is
Σ_n w_n loss_n / N: the weights scale each sample's share, the divisor stays the batch size.
"""

import numpy as np

from ..kernels import activations as row_kernels
from ..kernels.checks import FLOAT_DTYPES
from ..kernels.losses import sample_weights as _checked_weights
from . import backend, device, step_buffers
from .tensor import Tensor, _relu, _sigmoid, as_tensor, dense  # noqa: F401  (dense: the product node)

EPSILON = 1e-7  # Keras's backend.epsilon(): probabilities are clipped to [ε, 1 - ε]


# ---- the dense layer ----------------------------------------------------------------------
def lowrank_dense(x, u, v, b=None, activation=None) -> Tensor:
    """y = act((x @ u) @ v + b) as one graph node: a dense layer whose kernel W = U V has rank R.

    Args:
        x: (N, K).  u: (K, R).  v: (R, M).  b: (M,) or None.
        activation: None/"linear", "relu", "sigmoid" or "tanh".

    Returns:
        A Tensor (N, M); its backward is the kernel's lowrank_backward (see
        kernels/reference.py for the formulas).
    """
    x, u, v = as_tensor(x), as_tensor(u), as_tensor(v)
    b = None if b is None else as_tensor(b)
    kernels = backend.kernels()
    xd = x.data if x.dtype == u.dtype else x.data.astype(u.dtype)
    buffers = step_buffers.for_node()
    y = kernels.lowrank_forward(
        xd, u.data, v.data, None if b is None else b.data, activation, buffers=buffers
    )

    def backward(g):
        trainable = u.requires_grad or v.requires_grad
        dx, du, dv, db = kernels.lowrank_backward(
            xd, u.data, v.data, y, g, activation, need_dx=x.requires_grad, need_dw=trainable, buffers=buffers
        )
        for tensor, grad in ((x, dx), (u, du), (v, dv), (b, db)):
            if tensor is not None and grad is not None:
                tensor._accumulate(grad)

    parents = (x, u, v) if b is None else (x, u, v, b)
    return x._child(y, parents, backward)


def dropout(x, rate: float, seed: int) -> Tensor:
    """Inverted dropout as one node on the selected backend: y = x · keep / (1 − rate), the
    mask a function of (seed, element index) (kernels/dropout.py), so the backward applies
    the same mask to the gradient by running the same kernel on it, and nothing is stored.
    Inside a training step both outputs are written into the arrays of the step before."""
    x = as_tensor(x)
    kernels = backend.kernels()
    buffers = step_buffers.for_node()
    y = kernels.dropout(x.data, rate, seed, buffers=buffers)
    grad_buffers = None if buffers is None else buffers.sub("backward")
    return x._child(y, (x,), lambda g: x._accumulate(kernels.dropout(g, rate, seed, buffers=grad_buffers)))


def batch_norm(x, gamma, beta, mean, variance, epsilon, batch_stats=False) -> Tensor:
    """y = γ x̂ + β with x̂ = (x − μ) / s, s = √(σ² + ε), per feature (the last axis), as one
    graph node.

    Args:
        x: (N, ..., C).  gamma, beta: (C,) Tensors, or None for 1 and 0.
        mean, variance: μ and σ² (C,) as arrays.
        batch_stats: whether μ and σ² are x's own batch mean and (biased) variance over all
            axes but the last (training), so that they move with x; else they are constants
            (inference, from the moving averages).

    The backward, with dx̂ = γ dy and means over the M = N·… rows:
        dβ = Σ dy,   dγ = Σ dy ⊙ x̂,
        dx = dx̂ / s                                      (constant statistics)
        dx = (dx̂ − mean(dx̂) − x̂ ⊙ mean(dx̂ ⊙ x̂)) / s      (batch statistics: the two
             extra terms are what flows back through μ and σ²).
    """
    x = as_tensor(x)
    device.require_host(x.data, "batch_norm")
    values = [None if t is None else t.data for t in (gamma, beta)]
    y, x_hat, scale = batch_norm_values(x.data, *values, mean, variance, epsilon)

    def backward(g):
        rows = g.reshape(-1, g.shape[-1])
        hat = x_hat.reshape(rows.shape)
        if beta is not None:
            beta._accumulate(rows.sum(axis=0))
        if gamma is not None:
            gamma._accumulate((rows * hat).sum(axis=0))
        if x.requires_grad:
            d_hat = rows if gamma is None else rows * gamma.data
            if batch_stats:
                d_hat = d_hat - d_hat.mean(axis=0) - hat * (d_hat * hat).mean(axis=0)
            x._accumulate((d_hat * scale).reshape(x.shape))

    parents = tuple(t for t in (x, gamma, beta) if t is not None)
    return x._child(y, parents, backward)


def batch_norm_values(x, gamma, beta, mean, variance, epsilon):
    """batch_norm's forward on arrays: (y, x̂, 1/s), y in x's dtype; gamma, beta None for 1, 0.
    (Also BatchNormalization's graph-free inference.)"""
    scale = 1.0 / np.sqrt(np.asarray(variance, x.dtype) + x.dtype.type(epsilon))
    x_hat = (x - np.asarray(mean, x.dtype)) * scale
    y = x_hat * (1.0 if gamma is None else gamma) + (0.0 if beta is None else beta)
    return y.astype(x.dtype, copy=False), x_hat, scale


def fake_quantize(x, scale, zero_point, q_min, q_max) -> Tensor:
    """Quantize and dequantize in one node: y = s · (clip(round(x / s) + z, q_min, q_max) − z).

    The forward sees exactly the values an integer kernel would. Rounding has zero gradient
    almost everywhere, so the backward uses the straight-through estimator: the gradient
    passes unchanged where x / s + z fell inside [q_min, q_max] and is zero where it was
    clipped. `scale` and `zero_point` are scalars or one per channel (last axis).
    """
    x = as_tensor(x)
    scale = np.asarray(scale, x.dtype)
    position = x.data / scale + zero_point
    q = np.clip(np.rint(position), q_min, q_max)
    inside = (position >= q_min - 0.5) & (position <= q_max + 0.5)
    return x._child(((q - zero_point) * scale).astype(x.dtype), (x,), lambda g: x._accumulate(g * inside))


# ---- activations --------------------------------------------------------------------------
def relu(x) -> Tensor:
    """max(x, 0)."""
    return as_tensor(x).relu()


def tanh(x) -> Tensor:
    """Hyperbolic tangent."""
    return as_tensor(x).tanh()


def linear(x) -> Tensor:
    """The identity."""
    return as_tensor(x)


def sigmoid(x) -> Tensor:
    """1 / (1 + e^-x). The result remembers x as its logits, so a cross-entropy loss can
    work from them (as Keras does) instead of from saturated probabilities."""
    x = as_tensor(x)
    y = _on_device(x, backend.kernels().sigmoid, "sigmoid") if device.is_device(x.data) else x.sigmoid()
    y._logits = x
    return y


def _on_device(x, kernel, name):
    """An output layer's activation on the GPU. The losses work from its logits, so no
    gradient is ever asked of it there; one that is says so."""
    return x._child(kernel(x.data), (x,), lambda g: device.require_host(g, f"the gradient of {name}"))


def softmax(x, axis: int = -1) -> Tensor:
    """e^x / Σ e^x along `axis`, shifted by the max so it never overflows.

    Backward: dx = y ⊙ (g − Σ g ⊙ y). Remembers x as its logits (see `sigmoid`).
    """
    x = as_tensor(x)
    if device.is_device(x.data) and axis in (-1, x.ndim - 1) and x.ndim == 2:
        out = _on_device(x, backend.kernels().softmax, "softmax")
        out._logits = x
        return out
    device.require_host(x.data, "softmax over this axis")
    y = _softmax(x.data, axis)

    def backward(g):
        x._accumulate(y * (g - (g * y).sum(axis=axis, keepdims=True)))

    out = x._child(y, (x,), backward)
    out._logits = x  # whatever the axis, as Keras: its losses take the logits along their own
    return out


def log_softmax(x, axis: int = -1) -> Tensor:
    """x − log Σ e^x along `axis` (log-sum-exp). Backward: dx = g − softmax(x) Σ g."""
    x = as_tensor(x)
    out = x.data - _logsumexp(x.data, axis)

    def backward(g):
        x._accumulate(g - np.exp(out) * g.sum(axis=axis, keepdims=True))

    return x._child(out, (x,), backward)


def _rows(z, axis) -> bool:
    """Whether z is (batch, classes) taken along its classes: the case of kernels' row loops."""
    return (
        z.ndim == 2
        and axis in (-1, 1)
        and z.shape[1] > 0
        and z.dtype.type in FLOAT_DTYPES  # what the kernels are compiled for
        and z.flags.c_contiguous
    )


def _softmax(z, axis=-1):
    if _rows(z, axis):
        return row_kernels.softmax_rows(z)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _logsumexp(z, axis=-1):
    if _rows(z, axis):
        return row_kernels.logsumexp_rows(z)
    top = z.max(axis=axis, keepdims=True)
    return top + np.log(np.exp(z - top).sum(axis=axis, keepdims=True))


ACTIVATIONS = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax}
# The same functions on plain arrays, for inference without a graph (`Layer._infer`).
ARRAY_ACTIVATIONS = {
    "linear": lambda z: z,
    "relu": _relu,
    "sigmoid": _sigmoid,
    "tanh": np.tanh,
    "softmax": _softmax,
}


def activated(op, activation, *args) -> Tensor:
    """op(*args, activation) when the kernels fuse the activation into their epilogue (the
    table in kernels/activations.py), else the activation's node after op(*args)."""
    if activation in row_kernels.FUSED:
        return op(*args, activation)
    return ACTIVATIONS[activation](op(*args))


def activated_array(kernel, activation, *arrays):
    """`activated` on plain arrays, for inference without a graph (`Layer._infer`)."""
    if activation in row_kernels.FUSED:
        return kernel(*arrays, activation)
    return ARRAY_ACTIVATIONS[activation](kernel(*arrays))


# ---- losses -------------------------------------------------------------------------------
def _targets(where, y_true, y_pred: Tensor) -> np.ndarray:
    """y_true as an array of y_pred's dtype and shape (a missing last axis of 1 is added)."""
    t = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if t.dtype.kind not in "biuf":
        raise TypeError(f"{where}: y_true must be numeric; received dtype {t.dtype}.")
    if t.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        t = t[..., None]
    if t.shape != y_pred.shape:
        raise ValueError(
            f"{where}: y_true and y_pred must have the same shape; received y_true "
            f"{t.shape}, y_pred {y_pred.shape}."
        )
    return t.astype(y_pred.dtype, copy=False)


def _sample_weights(where, sample_weight, y_pred: Tensor):
    """sample_weight as one float64 weight per sample (y_pred's first axis), or None.

    Accepts a list, an array of shape (N,) or (N, 1), or a Tensor (its values: weights get
    no gradient). ValueError/TypeError naming `where` for anything else, NaN or inf.
    """
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    return _checked_weights(where, w, y_pred.shape[0] if y_pred.ndim else 1)


def _weighted(values: np.ndarray, w):
    """values with sample n's entries times w_n (w along the first axis); as is for None."""
    return values if w is None else values * w.reshape((-1,) + (1,) * (values.ndim - 1))


def _scalar_loss(value, source: Tensor, grad_fn) -> Tensor:
    """A scalar node whose backward passes g · grad_fn() to `source`."""
    return source._child(
        np.asarray(value, source.dtype), (source,), lambda g: source._accumulate(g * grad_fn())
    )


def _kernel_loss(kind, source: Tensor, t, count: int, w=None) -> Tensor:
    """A loss of 2-D logits (of outputs, for "squared") from the selected backend's kernel:
    the per-sample losses, weighted by w when given, and the gradient in one pass over the
    rows, kernels/losses.py (with the math). On the GPU only the loss value comes back to
    the host."""
    kernels = backend.kernels()
    if device.is_device(source.data):
        t = device.targets_to_device(t)
    buffers = step_buffers.for_node()  # in a training step: the gradient written in place

    def run(scale):
        if kind == "squared":
            return kernels.squared_error(source.data, t, scale, w, buffers)
        return kernels.cross_entropy(kind, source.data, t, scale, w, buffers)

    total, grad = run(1.0 / max(count, 1))
    value = float(device.to_host(total)[0]) / max(count, 1)

    def backward(g):  # g is 1 for a loss that is itself the root; else the kernel runs again
        g = float(np.asarray(device.to_host(g)))
        source._accumulate(grad if g == 1.0 else run(g / max(count, 1))[1])

    return source._child(np.asarray(value, source.dtype), (source,), backward)


def _logits_of(y_pred: Tensor, from_logits: bool):
    """The logits to compute a cross-entropy from, or None to use probabilities."""
    return y_pred if from_logits else getattr(y_pred, "_logits", None)


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, sample_weight=None) -> Tensor:
    """Mean of −[t log p + (1 − t) log(1 − p)] (each sample's weighted by sample_weight).

    From logits z (p = σ(z)) it is computed as max(z, 0) − z t + log(1 + e^−|z|), which
    never overflows, and its gradient is (σ(z) − t) / count. From probabilities, p is
    clipped to [ε, 1 − ε] as Keras does.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.binary_crossentropy([[1.0]], [[0.0]], from_logits=True).item(), 4)
        0.6931
    """
    y_pred = as_tensor(y_pred)
    t = _targets("binary_crossentropy", y_true, y_pred)
    w = _sample_weights("binary_crossentropy", sample_weight, y_pred)
    logits = _logits_of(y_pred, from_logits)
    if logits is not None and logits.ndim == 2:
        return _kernel_loss("binary", logits, t, t.size, w)
    device.require_host(y_pred.data, "binary_crossentropy from probabilities")
    if logits is not None:
        z = logits.data
        per = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
        return _scalar_loss(_weighted(per, w).mean(), logits, lambda: _weighted(_sigmoid(z) - t, w) / z.size)
    p = np.clip(y_pred.data, EPSILON, 1 - EPSILON)
    per = -(t * np.log(p) + (1 - t) * np.log(1 - p))
    inside = (y_pred.data > EPSILON) & (y_pred.data < 1 - EPSILON)

    def grad():
        return _weighted(inside * (p - t) / (p * (1 - p)), w) / p.size

    return _scalar_loss(_weighted(per, w).mean(), y_pred, grad)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, sample_weight=None) -> Tensor:
    """Mean over the batch of −Σ_c t_c log p_c, with t one-hot (or soft) targets (each
    sample's weighted by sample_weight).

    From logits: Σ_c t_c (logsumexp(z) − z_c), gradient (Σ t) softmax(z) − t. From
    probabilities: p is renormalised to sum to 1 and clipped to [ε, 1 − ε], as Keras does.
    """
    y_pred = as_tensor(y_pred)
    t = _targets("categorical_crossentropy", y_true, y_pred)
    w = _sample_weights("categorical_crossentropy", sample_weight, y_pred)
    n = max(t.size // max(t.shape[-1], 1), 1)
    logits = _logits_of(y_pred, from_logits)
    if logits is not None and logits.ndim == 2:
        return _kernel_loss("categorical", logits, t, n, w)
    device.require_host(y_pred.data, "categorical_crossentropy from probabilities")
    if logits is not None:
        z = logits.data
        per = (t * (_logsumexp(z) - z)).sum(axis=-1)

        def grad_z():
            return _weighted(t.sum(axis=-1, keepdims=True) * _softmax(z) - t, w) / n

        return _scalar_loss(_weighted(per, w).sum() / n, logits, grad_z)
    total = y_pred.data.sum(axis=-1, keepdims=True)
    p = np.clip(y_pred.data / total, EPSILON, 1 - EPSILON)
    per = -(t * np.log(p)).sum(axis=-1)

    def grad():  # through the renormalisation q = p / Σp: dq/dp = (I − q 1ᵀ) / Σp
        inside = (y_pred.data / total > EPSILON) & (y_pred.data / total < 1 - EPSILON)
        dq = -t / p * inside
        return _weighted((dq - (dq * (y_pred.data / total)).sum(axis=-1, keepdims=True)) / total, w) / n

    return _scalar_loss(_weighted(per, w).sum() / n, y_pred, grad)


def sparse_labels(where, y_true, n_classes: int, n_rows: int) -> np.ndarray:
    """Integer class labels (N,) from y_true of shape (N,) or (N, 1), checked in range."""
    labels = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if labels.ndim == 2 and labels.shape[1] == 1:
        labels = labels[:, 0]
    if labels.ndim != 1 or labels.shape[0] != n_rows:
        raise ValueError(
            f"{where}: y_true must hold one integer label per sample, shape ({n_rows},); "
            f"received {labels.shape}."
        )
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError(f"{where}: y_true must hold integer class labels; received non-integer values.")
    elif labels.dtype.kind not in "biu":
        raise TypeError(f"{where}: y_true must hold integer class labels; received dtype {labels.dtype}.")
    labels = labels.astype(np.int64)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{where}: labels must lie in [0, {n_classes}) for {n_classes} outputs; received "
            f"values from {labels.min()} to {labels.max()}."
        )
    return labels


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False, sample_weight=None) -> Tensor:
    """Mean over the batch of −log p[label], with integer labels (each sample's weighted by
    sample_weight).

    From logits: logsumexp(z) − z[label], gradient softmax(z) − onehot(label), divided by N.
    """
    y_pred = as_tensor(y_pred)
    if y_pred.ndim != 2:
        raise ValueError(
            f"sparse_categorical_crossentropy: y_pred must be (batch, classes); received {y_pred.shape}."
        )
    n, classes = y_pred.shape
    labels = sparse_labels("sparse_categorical_crossentropy", y_true, classes, n)
    w = _sample_weights("sparse_categorical_crossentropy", sample_weight, y_pred)
    logits = _logits_of(y_pred, from_logits)
    if logits is not None:
        return _kernel_loss("sparse", logits, labels.reshape(-1, 1), n, w)
    device.require_host(y_pred.data, "sparse_categorical_crossentropy from probabilities")
    rows = np.arange(n)
    p = np.clip(y_pred.data[rows, labels], EPSILON, 1 - EPSILON)

    def grad():
        g = np.zeros_like(y_pred.data)
        inside = (y_pred.data[rows, labels] > EPSILON) & (y_pred.data[rows, labels] < 1 - EPSILON)
        g[rows, labels] = _weighted(np.where(inside, -1.0 / p, 0.0), w) / max(n, 1)
        return g

    return _scalar_loss(_weighted(-np.log(p), w).mean(), y_pred, grad)


def mean_squared_error(y_true, y_pred, sample_weight=None) -> Tensor:
    """Mean of (t − p)²; gradient 2 (p − t) / count (each sample's times its weight)."""
    y_pred = as_tensor(y_pred)
    t = _targets("mean_squared_error", y_true, y_pred)
    w = _sample_weights("mean_squared_error", sample_weight, y_pred)
    if y_pred.ndim == 2:
        return _kernel_loss("squared", y_pred, t, t.size, w)
    d = y_pred.data - t
    return _scalar_loss(_weighted(d * d, w).mean(), y_pred, lambda: _weighted(2 * d, w) / max(d.size, 1))


def mean_absolute_error(y_true, y_pred, sample_weight=None) -> Tensor:
    """Mean of |t − p|; gradient sign(p − t) / count (each sample's times its weight)."""
    y_pred = as_tensor(y_pred)
    t = _targets("mean_absolute_error", y_true, y_pred)
    w = _sample_weights("mean_absolute_error", sample_weight, y_pred)
    device.require_host(y_pred.data, "mean_absolute_error")
    d = y_pred.data - t
    return _scalar_loss(
        _weighted(np.abs(d), w).mean(), y_pred, lambda: _weighted(np.sign(d), w) / max(d.size, 1)
    )
