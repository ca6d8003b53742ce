"""Knowledge distillation: a small student trained on a teacher's softened outputs."""

import numpy as np

from ..engine import functional as F
from ..engine import random as dc_random
from ..engine.tensor import Tensor, no_grad
from ..nn import optimizers as optimizers_module
from ..nn.layers import learning_phase
from .surgery import _require_built


# ---- knowledge distillation --------------------------------------------------------------
def distill(
    teacher,
    student,
    x,
    y=None,
    temperature=2.0,
    alpha=0.1,
    epochs=5,
    batch_size=32,
    optimizer="adam",
    verbose=1,
):
    """Train `student` to match `teacher`'s softened outputs (Hinton et al., 2015).

    With teacher logits z_t and student logits z_s (the inputs of their final softmax), the
    soft targets are p = softmax(z_t / T) and the loss per sample is

        (1 − α) · T² · CE(p, softmax(z_s / T))  +  α · CE(y, softmax(z_s))

    The temperature T > 1 spreads the teacher's probability over the wrong classes, which
    carries what it learned about their similarity; T² keeps the gradient scale independent
    of T. With y None, α is ignored and only the soft targets are used.

    Args:
        teacher, student: built models ending in a softmax Dense layer, with equal outputs.
        x: inputs.  y: integer labels (optional).  temperature: T > 0.  alpha: in [0, 1].
        epochs, batch_size, optimizer: for the student's training.

    Returns:
        The per-epoch mean loss, a list.
    """
    where = "compress.distill"
    _require_built(teacher, where)
    if not temperature > 0:
        raise ValueError(f"{where}: temperature must be > 0. Received: temperature={temperature!r}")
    if not 0 <= alpha <= 1:
        raise ValueError(f"{where}: alpha must be in [0, 1]. Received: alpha={alpha!r}")
    x = np.asarray(x, np.float32)
    if not student.built:
        student.build((None, *x.shape[1:]))
    with no_grad(), learning_phase(False):
        out = teacher(Tensor(x[:1]))
    if getattr(out, "_logits", None) is None or out.shape[1] != student.output_shape[-1]:
        raise ValueError(
            f"{where}: teacher and student must end in softmax layers with the same number of outputs."
        )
    soft = np.concatenate(
        [_teacher_soft(teacher, x[i : i + 1024], temperature) for i in range(0, len(x), 1024)]
    )
    labels = None if y is None else F.sparse_labels(where, y, soft.shape[1], len(x))
    opt = optimizers_module.get(optimizer)
    params = student.trainable_weights
    history = []
    for epoch in range(epochs):
        order = dc_random.generator().permutation(len(x))
        total = 0.0
        for start in range(0, len(x), batch_size):
            idx = order[start : start + batch_size]
            with learning_phase(True):
                logits = student(Tensor(x[idx]))._logits
            loss = F.categorical_crossentropy(soft[idx], logits * (1.0 / temperature), from_logits=True) * (
                temperature**2
            )
            if labels is not None:
                loss = (
                    loss * (1 - alpha)
                    + F.sparse_categorical_crossentropy(labels[idx], logits, from_logits=True) * alpha
                )
            total += float(loss.data) * len(idx)
            loss.backward()
            opt.apply(params)
        history.append(total / len(x))
        if verbose:
            print(f"distill epoch {epoch + 1}/{epochs} - loss: {history[-1]:.4f}")
    return history


def _teacher_soft(teacher, x, temperature):
    with no_grad(), learning_phase(False):
        logits = teacher(Tensor(x))._logits.data
    return F._softmax(logits / temperature)
