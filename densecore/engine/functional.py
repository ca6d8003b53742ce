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
from .tensor import Tensor, _relu, _sigmoid, as_tensor, dense, no_grad  # noqa: F401  (dense: the product node)

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
    table in kernels/activations.py), else the activation's node after op(*args). A callable
    `activation` (a function of yours on Tensors) is applied to op(*args), as its own nodes."""
    if callable(activation):
        return as_tensor(activation(op(*args)))
    if activation in row_kernels.FUSED:
        return op(*args, activation)
    return ACTIVATIONS[activation](op(*args))


def activated_array(kernel, activation, *arrays):
    """`activated` on plain arrays, for inference without a graph (`Layer._infer`); a
    callable activation runs on a Tensor of them, without recording a graph."""
    if callable(activation):
        return apply_array(activation, kernel(*arrays))
    if activation in row_kernels.FUSED:
        return kernel(*arrays, activation)
    return ARRAY_ACTIVATIONS[activation](kernel(*arrays))


def apply_array(fn, array):
    """fn, a function on Tensors, applied to an array without a graph: an array back."""
    with no_grad():
        out = fn(Tensor(array))
    return out.data if isinstance(out, Tensor) else np.asarray(out)


# ---- losses -------------------------------------------------------------------------------
# Every loss is one function (y_true, y_pred, <its own arguments>, sample_weight=None,
# reduction="sum_over_batch_size") that computes what the keras.losses class of that name
# computes:
#
#   1. the per-sample losses l: one value per sample (y_pred's shape less its last axis);
#   2. the weighted losses l ⊙ w, the sample weights w broadcast against l;
#   3. the reduction: "sum_over_batch_size" (the default) and "mean" give Σ l ⊙ w / size(l),
#      "sum" gives Σ l ⊙ w, "mean_with_sample_weight" gives Σ l ⊙ w / Σ w, and "none" (or
#      None) gives l ⊙ w itself.
#
# Two paths compute it. The fused path, for a 2-D batch with one weight per sample (or none)
# and a reduction that sums: the squared error and the cross-entropies from logits run
# kernels/losses.py, loss and gradient in one pass over the rows (this is how fit trains, and
# inside a step's buffers the kernels write into the arrays of the step before). Every other
# case builds one graph node of per-sample losses (`_per_sample`: the forward values and,
# beside them, their derivative) followed by the reduction in Tensor operations
# (`reduce_weighted_values`).

REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)
_FUSED_REDUCTIONS = ("sum_over_batch_size", "mean", "sum")


def standardize_reduction(reduction, where="loss"):
    """`reduction` if it is one of Keras's names (REDUCTIONS), else ValueError naming `where`."""
    if reduction is None or (isinstance(reduction, str) and reduction in REDUCTIONS):
        return reduction
    raise ValueError(
        f"{where}: Invalid value for argument `reduction`. Expected one of "
        f"{list(REDUCTIONS)}. Received: reduction={reduction!r}"
    )


def _operands(where, y_true, y_pred):
    """(y_pred as a Tensor, y_true as an array of its dtype and shape).

    As Keras's squeeze_or_expand_to_same_rank: when one side has one more axis and that
    last axis has size 1, a 1-D other side gets that axis too ((N,) against (N, 1)), else
    the axis is removed. TypeError for non-numeric targets, ValueError for shapes that still
    differ, both naming `where`.
    """
    y_pred = as_tensor(y_pred)
    t = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if t.dtype.kind not in "biuf":
        raise TypeError(f"{where}: y_true must be numeric; received dtype {t.dtype}.")
    if y_pred.ndim == 0:
        raise ValueError(f"{where}: y_pred must have at least one axis; received a scalar.")
    t, y_pred = _same_rank(t, y_pred)
    if t.shape != y_pred.shape:
        raise ValueError(
            f"{where}: y_true and y_pred must have the same shape; received y_true "
            f"{t.shape}, y_pred {y_pred.shape}."
        )
    return y_pred, t.astype(y_pred.dtype, copy=False)


def _same_rank(a, b):
    """Keras's squeeze_or_expand_to_same_rank, on arrays or Tensors: when one has one more
    axis than the other and that last axis has size 1, a 1-D other one gets a last axis of 1
    too ((N,) against (N, 1)), else that axis is removed."""
    if a.ndim == b.ndim + 1 and a.shape[-1] == 1:
        if b.ndim == 1:
            b = b.reshape(-1, 1)
        else:
            a = a.reshape(a.shape[:-1])
    elif b.ndim == a.ndim + 1 and b.shape[-1] == 1:
        if a.ndim == 1:
            a = a.reshape(-1, 1)
        else:
            b = b.reshape(b.shape[:-1])
    return a, b


def _class_axis_last(where, x: Tensor, axis) -> Tensor:
    """x with its `axis` moved to the end (a node whose backward moves the gradient back), so
    that every loss below works along the last axis. ValueError for an axis x lacks."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{where}: `axis` must be an integer; received axis={axis!r}.")
    if not -x.ndim <= axis < x.ndim:
        raise ValueError(f"{where}: axis={axis} is out of range for y_pred of shape {x.shape}.")
    axis = int(axis) % x.ndim
    if axis == x.ndim - 1:
        return x
    moved = np.moveaxis(x.data, axis, -1)
    return x._child(moved, (x,), lambda g: x._accumulate(np.moveaxis(g, -1, axis)))


def _label_smoothing(where, value) -> float:
    """label_smoothing checked: a number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or not 0 <= value <= 1:
        raise ValueError(f"{where}: label_smoothing must be a number in [0, 1]; received {value!r}.")
    return float(value)


def _smoothed(t, keep, spread, buffers):
    """t · keep + spread (Keras's label smoothing), written into an array kept in `buffers`
    (a training step's: the same array step after step), or a new one when buffers is None."""
    if buffers is None:
        out = np.empty_like(t)
    else:
        out = buffers.sub("label_smoothing").take("label_smoothing", "targets", t.shape, t.dtype, (t,))
    np.multiply(t, t.dtype.type(keep), out=out)
    out += t.dtype.type(spread)
    return out


def _weights(where, sample_weight) -> np.ndarray:
    """sample_weight (a number, a list, an array or a Tensor: its values, weights get no
    gradient) as a float64 array, checked: TypeError for non-numbers, ValueError for NaN/inf."""
    w = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight)
    if w.dtype.kind not in "biuf":
        raise TypeError(f"{where}: sample weights must be a numpy array of numbers; received {w!r:.60}.")
    w = w.astype(np.float64)
    if not np.all(np.isfinite(w)):
        raise ValueError(f"{where}: sample weights contain NaN or inf.")
    return w


def _per_row(sample_weight, rows: int) -> bool:
    """Whether sample_weight is none, one number or one weight per row: the fused kernels' case."""
    if sample_weight is None:
        return True
    shape = np.shape(sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight)
    return shape in ((), (rows,), (rows, 1))


def _fusable(reduction, source: Tensor, sample_weight) -> bool:
    """Whether a fused kernel computes this loss: a 2-D batch, a reduction that sums, one
    weight per sample at most."""
    return reduction in _FUSED_REDUCTIONS and source.ndim == 2 and _per_row(sample_weight, source.shape[0])


def _sample_weights(where, sample_weight, y_pred: Tensor):
    """sample_weight as one float64 weight per sample (y_pred's first axis), or None: the
    fused kernels' weights.

    Accepts a number (every sample's weight), a list, an array of shape (N,) or (N, 1), or a
    Tensor (its values). ValueError/TypeError naming `where` for anything else, NaN or inf.
    """
    if sample_weight is None:
        return None
    w = np.asarray(sample_weight.data if isinstance(sample_weight, Tensor) else sample_weight)
    rows = y_pred.shape[0] if y_pred.ndim else 1
    if w.ndim == 0 and w.dtype.kind in "biuf":
        w = np.full(rows, w, np.float64)
    if w.ndim == 2 and w.shape[1] == 1:
        w = w[:, 0]
    return _checked_weights(where, w, rows)


def _kernel_loss(kind, source: Tensor, t, count: int, w=None, buffers=None) -> Tensor:
    """A loss of 2-D logits (of outputs, for "squared") from the selected backend's kernel:
    the per-sample losses, weighted by w when given, summed and divided by `count`, and the
    gradient in one pass over the rows, kernels/losses.py (with the math). On the GPU only the
    loss value comes back to the host. `buffers`: the step's (the gradient is written in place)."""
    kernels = backend.kernels()
    if device.is_device(source.data):
        t = device.targets_to_device(t)

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


def _per_sample(source: Tensor, values, dvalues) -> Tensor:
    """One graph node of per-sample losses.

    Args:
        source: the Tensor the losses are a function of, (..., C).
        values: the per-sample losses, source's shape less its last axis.
        dvalues: a function returning d(values)/d(source) row by row, source's shape; called
            only when a gradient is asked for. The backward passes g[..., None] · dvalues().
    """
    return source._child(
        np.asarray(values, source.dtype), (source,), lambda g: source._accumulate(g[..., None] * dvalues())
    )


def _mean_over_last(source: Tensor, elementwise, derivative) -> Tensor:
    """The per-sample mean over the last axis of an elementwise loss e (source's shape), as a
    `_per_sample` node; `derivative()` gives de/dsource, so the gradient is derivative / C."""
    classes = max(source.shape[-1], 1)
    return _per_sample(source, elementwise.mean(axis=-1), lambda: derivative() / classes)


def _match_rank(where, values, w: np.ndarray):
    """(values, w) brought to ranks that broadcast (`_same_rank`); weights that still have
    fewer axes than the losses weigh their leading axes (one weight per sample for sequence
    outputs, where Keras would fail to broadcast). ValueError naming `where` when they do not
    broadcast."""
    values, w = _same_rank(values, w)
    if 0 < w.ndim < values.ndim and w.shape == values.shape[: w.ndim]:
        w = w.reshape(w.shape + (1,) * (values.ndim - w.ndim))
    try:
        np.broadcast_shapes(values.shape, w.shape)
    except ValueError:
        rows = values.shape[0] if values.ndim else 1
        raise ValueError(
            f"{where}: sample weights must have shape ({rows},) (one per sample) or broadcast "
            f"to the per-sample losses {values.shape}; received {w.shape}."
        ) from None
    return values, w


def reduce_weighted_values(
    values, sample_weight=None, reduction="sum_over_batch_size", mask=None, where="loss"
):
    """Keras's reduction of per-sample losses (steps 2 and 3 above) as Tensor operations.

    Args:
        values: the per-sample losses, a Tensor.
        sample_weight: None, a number, or weights that broadcast against `values`.
        reduction: one of REDUCTIONS.
        mask: booleans shaped like `values`, False for losses to leave out (as Keras's
            ignore_class); the batch means then divide by the number of those kept.
        where: the name for error messages.

    Returns:
        A scalar Tensor, or the weighted values for "none"/None.

    Example:
        >>> import densecore as dc
        >>> losses = dc.Tensor([1.0, 3.0])
        >>> dc.functional.reduce_weighted_values(losses, [1.0, 0.5]).item()
        1.25
    """
    reduction = standardize_reduction(reduction, where)
    values = as_tensor(values)
    w = None if sample_weight is None else _weights(where, sample_weight)
    if mask is not None:
        keep = np.asarray(mask, np.float64)
        if reduction in ("sum_over_batch_size", "mean"):  # kept losses count size/kept times
            kept = keep.sum()
            keep = keep * (keep.size / kept if kept else 0.0)
        if w is not None:
            keep, w = _match_rank(where, keep, w)
        w = keep if w is None else keep * w
    if w is not None:
        values, w = _match_rank(where, values, w)
        values = values * w
    if reduction in ("none", None) or values.ndim == 0 or values.shape == (0,):
        return values
    total = values.sum()
    if reduction == "sum":
        return total
    divisor = w.sum() if reduction == "mean_with_sample_weight" and w is not None else values.size
    return total * (1.0 / divisor if divisor else 0.0)


# ---- the cross-entropies --------------------------------------------------------------------
def _dense_targets(where, y_true, y_pred, from_logits, label_smoothing, axis, reduction):
    """What the binary and categorical cross-entropies check and align first: (reduction,
    smoothing, y_pred, logits or None, the Tensor the loss reads with its classes last, the
    targets likewise)."""
    reduction = standardize_reduction(reduction, where)
    smoothing = _label_smoothing(where, label_smoothing)
    y_pred = as_tensor(y_pred)
    logits = _logits_of(y_pred, from_logits)
    source, t = _operands(where, y_true, y_pred if logits is None else logits)
    source = _class_axis_last(where, source, axis)
    t = t if axis in (-1, t.ndim - 1) else np.moveaxis(t, axis, -1)
    return reduction, smoothing, y_pred, logits, source, t


def binary_crossentropy(
    y_true,
    y_pred,
    from_logits: bool = False,
    sample_weight=None,
    label_smoothing=0.0,
    axis=-1,
    reduction="sum_over_batch_size",
) -> Tensor:
    """Binary cross-entropy: each output its own two-class problem.

    Per sample, the mean over `axis` of
        −[t log p + (1 − t) log(1 − p)],
    with t smoothed towards ½ by label_smoothing s: t (1 − s) + s / 2.

    From logits z (p = σ(z)) it is computed as max(z, 0) − z t + log(1 + e^−|z|), which never
    overflows, with gradient σ(z) − t. From probabilities, p is clipped to [ε, 1 − ε] as Keras
    does (no gradient where clipped), with gradient (p − t) / (p (1 − p)). After a sigmoid
    layer, the loss works from its logits.

    Args:
        y_true: targets in [0, 1], y_pred's shape.
        y_pred: probabilities, or logits with from_logits=True.
        from_logits: whether y_pred holds logits.
        sample_weight: None, a number, one weight per sample, or weights that broadcast.
        label_smoothing: s in [0, 1].
        axis: the axis the mean is taken over.
        reduction: see REDUCTIONS.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.binary_crossentropy([[1.0]], [[0.0]], from_logits=True).item(), 4)
        0.6931
    """
    where = "binary_crossentropy"
    reduction, smoothing, y_pred, logits, source, t = _dense_targets(
        where, y_true, y_pred, from_logits, label_smoothing, axis, reduction
    )
    buffers = step_buffers.for_node()  # in a training step: the arrays of the step before
    if smoothing:
        t = _smoothed(t, 1.0 - smoothing, 0.5 * smoothing, buffers)
    if logits is not None and _fusable(reduction, source, sample_weight):
        w = _sample_weights(where, sample_weight, source)
        count = t.shape[-1] * (1 if reduction == "sum" else t.shape[0])
        return _kernel_loss("binary", source, t, count, w, buffers)
    device.require_host(source.data, f"{where} other than from a 2-D batch of logits")
    if logits is not None:
        z = source.data
        per = np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z)))
        values = _mean_over_last(source, per, lambda: _sigmoid(z) - t)
    else:
        p = np.clip(source.data, EPSILON, 1 - EPSILON)
        per = -(t * np.log(p) + (1 - t) * np.log(1 - p))
        inside = (source.data > EPSILON) & (source.data < 1 - EPSILON)
        values = _mean_over_last(source, per, lambda: inside * (p - t) / (p * (1 - p)))
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def categorical_crossentropy(
    y_true,
    y_pred,
    from_logits: bool = False,
    sample_weight=None,
    label_smoothing=0.0,
    axis=-1,
    reduction="sum_over_batch_size",
) -> Tensor:
    """Categorical cross-entropy with one-hot (or soft) targets.

    Per sample, over the classes c along `axis`: −Σ_c t_c log p_c, with t smoothed towards
    the uniform distribution by label_smoothing s: t (1 − s) + s / C.

    From logits z: Σ_c t_c (logsumexp(z) − z_c), gradient (Σ t) softmax(z) − t. From
    probabilities: p is renormalised to sum to 1, q = p / Σp, then clipped to [ε, 1 − ε], as
    Keras does; the gradient flows through the renormalisation, dq/dp = (I − q 1ᵀ) / Σp.
    After a softmax layer, the loss works from its logits.

    Args:
        y_true: targets, y_pred's shape.
        y_pred: probabilities, or logits with from_logits=True.
        from_logits: whether y_pred holds logits.
        sample_weight: None, a number, one weight per sample, or weights that broadcast.
        label_smoothing: s in [0, 1].
        axis: the classes' axis.
        reduction: see REDUCTIONS.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.categorical_crossentropy([[0, 1]], [[0.25, 0.75]]).item(), 4)
        0.2877
    """
    where = "categorical_crossentropy"
    reduction, smoothing, y_pred, logits, source, t = _dense_targets(
        where, y_true, y_pred, from_logits, label_smoothing, axis, reduction
    )
    classes = source.shape[-1]
    if classes == 1:
        import warnings

        warnings.warn(
            f"In loss {where}, expected y_pred.shape to be (batch_size, num_classes) with "
            f"num_classes > 1. Received: y_pred.shape={y_pred.shape}. Consider using "
            f"'binary_crossentropy' if you only have 2 classes.",
            SyntaxWarning,
            stacklevel=2,
        )
    buffers = step_buffers.for_node()
    if smoothing:
        t = _smoothed(t, 1.0 - smoothing, smoothing / classes, buffers)
    if logits is not None and _fusable(reduction, source, sample_weight):
        w = _sample_weights(where, sample_weight, source)
        return _kernel_loss("categorical", source, t, 1 if reduction == "sum" else t.shape[0], w, buffers)
    device.require_host(source.data, f"{where} other than from a 2-D batch of logits")
    if logits is not None:
        z = source.data
        values = _per_sample(
            source,
            (t * (_logsumexp(z) - z)).sum(axis=-1),
            lambda: t.sum(axis=-1, keepdims=True) * _softmax(z) - t,
        )
    else:
        p = source.data
        total = p.sum(axis=-1, keepdims=True)
        q = np.clip(p / total, EPSILON, 1 - EPSILON)

        def dvalues():  # through q = p / Σp: dq/dp = (I − q 1ᵀ) / Σp
            inside = (p / total > EPSILON) & (p / total < 1 - EPSILON)
            dq = -t / q * inside
            return (dq - (dq * (p / total)).sum(axis=-1, keepdims=True)) / total

        values = _per_sample(source, -(t * np.log(q)).sum(axis=-1), dvalues)
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


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
    labels, _ = _checked_labels(where, labels, n_classes)
    return labels


def _checked_labels(where, labels, n_classes: int, ignore_class=None):
    """(labels as int64, the mask of those kept or None): integer class labels in [0, C),
    except those equal to ignore_class (which are kept out, as 0). ValueError/TypeError
    naming `where` otherwise."""
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or np.any(labels != np.round(labels)):
            raise ValueError(f"{where}: y_true must hold integer class labels; received non-integer values.")
    elif labels.dtype.kind not in "biu":
        raise TypeError(f"{where}: y_true must hold integer class labels; received dtype {labels.dtype}.")
    labels = labels.astype(np.int64)
    mask = None
    if ignore_class is not None:
        mask = labels != ignore_class
        labels = np.where(mask, labels, 0)
    if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
        raise ValueError(
            f"{where}: labels must lie in [0, {n_classes}) for {n_classes} outputs; received "
            f"values from {labels.min()} to {labels.max()}."
        )
    return labels, mask


def sparse_categorical_crossentropy(
    y_true,
    y_pred,
    from_logits: bool = False,
    sample_weight=None,
    ignore_class=None,
    axis=-1,
    reduction="sum_over_batch_size",
) -> Tensor:
    """Categorical cross-entropy with integer labels: per sample, −log p[label].

    From logits z: logsumexp(z) − z[label], gradient softmax(z) − onehot(label). From
    probabilities, p is renormalised to sum to 1 and clipped to [ε, 1 − ε], as Keras does:
    −log clip(q[label]) with q = p / Σp; its gradient is (q[label] − onehot(label)) /
    (q[label] Σp), zero where clipped. After a softmax layer, the loss works from its logits.

    Args:
        y_true: integer labels, y_pred's shape less its class axis (a trailing axis of 1 is
            dropped).
        y_pred: probabilities, or logits with from_logits=True; classes along `axis`.
        from_logits: whether y_pred holds logits.
        sample_weight: None, a number, one weight per sample, or weights that broadcast.
        ignore_class: a label whose samples count for nothing (loss 0, left out of the
            batch mean), e.g. a "void" class; None keeps every class.
        axis: the classes' axis.
        reduction: see REDUCTIONS.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.sparse_categorical_crossentropy([1], [[0.5, 1.5]]).item(), 4)
        0.2877
    """
    where = "sparse_categorical_crossentropy"
    reduction = standardize_reduction(reduction, where)
    y_pred = as_tensor(y_pred)
    if y_pred.ndim == 0:
        raise ValueError(f"{where}: y_pred must have a classes axis; received a scalar.")
    logits = _logits_of(y_pred, from_logits)
    source = _class_axis_last(where, y_pred if logits is None else logits, axis)
    labels = np.asarray(y_true.data if isinstance(y_true, Tensor) else y_true)
    if labels.ndim == y_pred.ndim and labels.shape[axis] == 1:
        labels = np.squeeze(labels, axis)
    if labels.shape != source.shape[:-1]:
        raise ValueError(
            f"{where}: y_true must hold one integer label per sample, y_pred's shape {y_pred.shape} "
            f"less its classes axis {axis}: {source.shape[:-1]}; received {labels.shape}."
        )
    classes = source.shape[-1]
    labels, mask = _checked_labels(where, labels, classes, ignore_class)
    if logits is not None and mask is None and _fusable(reduction, source, sample_weight):
        w = _sample_weights(where, sample_weight, source)
        count = 1 if reduction == "sum" else labels.shape[0]
        return _kernel_loss("sparse", source, labels.reshape(-1, 1), count, w, step_buffers.for_node())
    device.require_host(source.data, f"{where} other than from a 2-D batch of logits")
    onehot = np.eye(classes, dtype=source.dtype)[labels]
    if logits is not None:
        z = source.data
        per = np.take_along_axis(_logsumexp(z) - z, labels[..., None], axis=-1)[..., 0]
        values = _per_sample(source, per, lambda: _softmax(z) - onehot)
    else:
        p = source.data
        total = p.sum(axis=-1, keepdims=True)
        q = p / total
        picked = (q * onehot).sum(axis=-1, keepdims=True)  # q[label]
        clipped = np.clip(picked, EPSILON, 1 - EPSILON)

        def dvalues():
            inside = (picked > EPSILON) & (picked < 1 - EPSILON)
            return inside * (picked - onehot) / (clipped * total)

        values = _per_sample(source, -np.log(clipped[..., 0]), dvalues)
    if mask is not None:  # ignored samples: loss 0, and no gradient
        values = values * mask
    return reduce_weighted_values(values, sample_weight, reduction, mask=mask, where=where)


# ---- regression and other losses ------------------------------------------------------------
def mean_squared_error(y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Mean squared error: per sample, the mean over the last axis of (p − t)²; gradient
    2 (p − t) / C. A 2-D batch runs the fused squared-error kernel.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.mean_squared_error([1.0, 0.0, 1.0], [0.9, 0.1, 0.8]).item(), 4)
        0.02
    """
    where = "mean_squared_error"
    reduction = standardize_reduction(reduction, where)
    y_pred, t = _operands(where, y_true, y_pred)
    if _fusable(reduction, y_pred, sample_weight):
        w = _sample_weights(where, sample_weight, y_pred)
        count = t.shape[-1] * (1 if reduction == "sum" else t.shape[0])
        return _kernel_loss("squared", y_pred, t, count, w, step_buffers.for_node())
    device.require_host(y_pred.data, f"{where} of other than a 2-D batch")
    d = y_pred.data - t
    values = _mean_over_last(y_pred, d * d, lambda: 2 * d)
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def mean_absolute_error(y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Mean absolute error: per sample, the mean over the last axis of |p − t|; gradient
    sign(p − t) / C.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.mean_absolute_error([1.0, 0.3, 1.0], [1.9, 0.3, 1.8]).item(), 4)
        0.5667
    """
    where = "mean_absolute_error"
    y_pred, t = _elementwise_operands(where, y_true, y_pred, reduction)
    d = y_pred.data - t
    values = _mean_over_last(y_pred, np.abs(d), lambda: np.sign(d))
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def _elementwise_operands(where, y_true, y_pred, reduction):
    """The operands of a loss without a kernel, checked (see _operands), on the host."""
    standardize_reduction(reduction, where)
    y_pred, t = _operands(where, y_true, y_pred)
    device.require_host(y_pred.data, where)
    return y_pred, t


def mean_absolute_percentage_error(
    y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size"
) -> Tensor:
    """Mean absolute percentage error: per sample, the mean over the last axis of
    100 |t − p| / max(|t|, ε); gradient 100 sign(p − t) / max(|t|, ε) / C.

    Example:
        >>> import densecore as dc
        >>> t, p = [100.0, 200.0, 300.0], [90.0, 210.0, 310.0]
        >>> round(dc.functional.mean_absolute_percentage_error(t, p).item(), 4)
        6.1111
    """
    where = "mean_absolute_percentage_error"
    y_pred, t = _elementwise_operands(where, y_true, y_pred, reduction)
    scale = 100.0 / np.maximum(np.abs(t), EPSILON)
    d = y_pred.data - t
    values = _mean_over_last(y_pred, np.abs(d) * scale, lambda: np.sign(d) * scale)
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def mean_squared_logarithmic_error(
    y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size"
) -> Tensor:
    """Mean squared logarithmic error: per sample, the mean over the last axis of
    (log(1 + max(p, ε)) − log(1 + max(t, ε)))²; gradient 2 (that difference) / (1 + p) / C
    where p > ε, 0 below.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.mean_squared_logarithmic_error([[0.0, 1.0]], [[1.0, 1.0]]).item(), 4)
        0.2402
    """
    where = "mean_squared_logarithmic_error"
    y_pred, t = _elementwise_operands(where, y_true, y_pred, reduction)
    p = np.maximum(y_pred.data, EPSILON)
    d = np.log(p + 1.0) - np.log(np.maximum(t, EPSILON) + 1.0)
    values = _mean_over_last(y_pred, d * d, lambda: 2 * d / (p + 1.0) * (y_pred.data > EPSILON))
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def huber(y_true, y_pred, delta=1.0, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Huber loss: per sample, the mean over the last axis of, with e = p − t,
        ½ e²             where |e| ≤ δ  (quadratic near the target, as MSE),
        δ |e| − ½ δ²     elsewhere      (linear far from it, as MAE: outliers weigh less);
    the two pieces meet with the same value and slope at |e| = δ. Gradient e where |e| ≤ δ,
    else δ sign(e), divided by C.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.huber([[0.0, 1.0]], [[0.6, 0.4]]).item(), 3)
        0.18
    """
    where = "huber"
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.number)) or not delta >= 0:
        raise ValueError(f"{where}: delta must be a number ≥ 0; received {delta!r}.")
    y_pred, t = _elementwise_operands(where, y_true, y_pred, reduction)
    e = y_pred.data - t
    small = np.abs(e) <= delta
    per = np.where(small, 0.5 * e * e, delta * np.abs(e) - 0.5 * delta * delta)
    values = _mean_over_last(y_pred, per, lambda: np.where(small, e, delta * np.sign(e)))
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def _softplus(x):
    """log(1 + e^x) without overflow: max(x, 0) + log(1 + e^−|x|)."""
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def log_cosh(y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Log-cosh loss: per sample, the mean over the last axis of log cosh(e), e = p − t,
    about e² / 2 for small e and |e| − log 2 for large e. Computed as
    e + softplus(−2e) − log 2, which never overflows; gradient tanh(e) / C.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.log_cosh([[0.0, 1.0]], [[1.0, 1.0]]).item(), 4)
        0.2169
    """
    where = "log_cosh"
    y_pred, t = _elementwise_operands(where, y_true, y_pred, reduction)
    e = y_pred.data - t
    per = e + _softplus(-2.0 * e) - np.log(2.0)
    values = _mean_over_last(y_pred, per, lambda: np.tanh(e))
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def kl_divergence(y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Kullback-Leibler divergence of the distribution p from t: per sample, the sum over the
    last axis of t log(t / p), both clipped to [ε, 1] as Keras does; gradient −t / p where p
    lies in [ε, 1], 0 elsewhere.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.kl_divergence([[0.5, 0.5]], [[0.25, 0.75]]).item(), 4)
        0.1438
    """
    where = "kl_divergence"
    y_pred, t = _elementwise_operands(where, y_true, y_pred, reduction)
    t = np.clip(t, EPSILON, 1)
    p = np.clip(y_pred.data, EPSILON, 1)
    inside = (y_pred.data >= EPSILON) & (y_pred.data <= 1)
    values = _per_sample(y_pred, (t * np.log(t / p)).sum(axis=-1), lambda: -t / p * inside)
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def poisson(y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Poisson loss (the negative log-likelihood of counts t with rate p, less a constant):
    per sample, the mean over the last axis of p − t log(p + ε); gradient 1 − t / (p + ε),
    divided by C.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.poisson([[1.0, 2.0]], [[1.0, 2.0]]).item(), 4)
        0.8069
    """
    where = "poisson"
    y_pred, t = _elementwise_operands(where, y_true, y_pred, reduction)
    p = y_pred.data
    values = _mean_over_last(y_pred, p - t * np.log(p + EPSILON), lambda: 1 - t / (p + EPSILON))
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def _hinge_labels(t):
    """Targets for the hinge losses: 0/1 labels become −1/+1 (when every target is 0 or 1)."""
    return 2.0 * t - 1.0 if np.all((t == 0) | (t == 1)) else t


def hinge(y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Hinge loss (the SVM's): per sample, the mean over the last axis of max(1 − t p, 0),
    with t in {−1, +1} (0/1 labels are converted); gradient −t where 1 − t p > 0, divided
    by C.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.hinge([[0.0, 1.0]], [[0.6, 0.4]]).item(), 4)
        1.1
    """
    where = "hinge"
    y_pred, t = _elementwise_operands(where, y_true, y_pred, reduction)
    t = _hinge_labels(t)
    margin = 1.0 - t * y_pred.data
    values = _mean_over_last(y_pred, np.maximum(margin, 0.0), lambda: -t * (margin > 0))
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def squared_hinge(y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Squared hinge loss: per sample, the mean over the last axis of max(1 − t p, 0)², with
    t in {−1, +1} (0/1 labels are converted); gradient −2 t max(1 − t p, 0) / C.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.squared_hinge([[0.0, 1.0]], [[0.6, 0.4]]).item(), 4)
        1.46
    """
    where = "squared_hinge"
    y_pred, t = _elementwise_operands(where, y_true, y_pred, reduction)
    t = _hinge_labels(t)
    margin = np.maximum(1.0 - t * y_pred.data, 0.0)
    values = _mean_over_last(y_pred, margin * margin, lambda: -2.0 * t * margin)
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def categorical_hinge(y_true, y_pred, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Categorical hinge loss, with one-hot t: per sample, max(neg − pos + 1, 0) where
    pos = Σ_c t_c p_c is the target's score and neg = max_c (1 − t_c) p_c the best other
    score. Gradient, where the loss is positive: (1 − t) at the best other class, minus t.

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.categorical_hinge([[0.0, 1.0]], [[0.6, 0.4]]).item(), 4)
        1.2
    """
    where = "categorical_hinge"
    y_pred, t = _elementwise_operands(where, y_true, y_pred, reduction)
    p = y_pred.data
    others = (1.0 - t) * p
    loss = np.maximum(others.max(axis=-1) - (t * p).sum(axis=-1) + 1.0, 0.0)

    def dvalues():
        best = np.zeros_like(p)  # 1 at the best other class
        np.put_along_axis(best, np.argmax(others, axis=-1)[..., None], 1.0, axis=-1)
        return (best * (1.0 - t) - t) * (loss > 0)[..., None]

    values = _per_sample(y_pred, loss, dvalues)
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def cosine_similarity(y_true, y_pred, axis=-1, sample_weight=None, reduction="sum_over_batch_size") -> Tensor:
    """Negative cosine similarity: per sample, −Σ t̂ p̂ along `axis`, with x̂ = x / ‖x‖ and
    ‖x‖ = √max(Σ x², ε²) (a zero vector gives 0). −1 means the same direction, so it is a
    loss to minimise. Gradient, with r = 1 / ‖p‖: −t̂ r + (Σ t̂ p) p r³ (the second term only
    where Σ p² > ε²).

    Example:
        >>> import densecore as dc
        >>> round(dc.functional.cosine_similarity([[0.0, 1.0]], [[1.0, 1.0]]).item(), 4)
        -0.7071
    """
    where = "cosine_similarity"
    standardize_reduction(reduction, where)
    y_pred, t = _operands(where, y_true, y_pred)
    y_pred = _class_axis_last(where, y_pred, axis)
    device.require_host(y_pred.data, where)
    t = t if axis in (-1, t.ndim - 1) else np.moveaxis(t, axis, -1)
    p = y_pred.data
    t_hat = t / np.sqrt(np.maximum((t * t).sum(axis=-1, keepdims=True), EPSILON * EPSILON))
    squares = (p * p).sum(axis=-1, keepdims=True)
    r = 1.0 / np.sqrt(np.maximum(squares, EPSILON * EPSILON))
    dot = (t_hat * p).sum(axis=-1, keepdims=True)
    values = _per_sample(
        y_pred, -(dot * r)[..., 0], lambda: -t_hat * r + dot * p * r**3 * (squares > EPSILON**2)
    )
    return reduce_weighted_values(values, sample_weight, reduction, where=where)


def cast(x, dtype) -> Tensor:
    """x in another float dtype, as a node whose gradient is cast back (Keras's losses'
    `dtype` argument)."""
    x = as_tensor(x)
    dtype = np.dtype(dtype)
    if x.dtype == dtype:
        return x
    return x._child(x.data.astype(dtype), (x,), lambda g: x._accumulate(g.astype(x.dtype)))
