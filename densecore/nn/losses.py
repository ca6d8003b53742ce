"""Loss objects with Keras's names; the math lives in functional.py.

Each loss returns the batch mean of the per-sample loss, as a scalar Tensor. When the model's
last layer applies sigmoid or softmax, cross-entropies are computed from its logits.
"""

from ..engine import functional as F


class Loss:
    """Base class: `loss(y_true, y_pred, sample_weight=None)` returns a scalar Tensor: the
    batch mean of the per-sample losses, each times its weight when sample_weight (one
    weight per sample) is given, divided by the batch size as in Keras.

    Args:
        from_logits: whether y_pred holds logits rather than probabilities (default False).
        name: the loss's name.
    """

    kind = "regression"  # which accuracy "accuracy" means with this loss
    fn = None

    def __init__(self, from_logits: bool = False, name=None):
        self.from_logits = bool(from_logits)
        self.name = name or self.default_name

    def __call__(self, y_true, y_pred, sample_weight=None):
        return type(self).fn(y_true, y_pred, from_logits=self.from_logits, sample_weight=sample_weight)

    def get_config(self):
        """The constructor arguments, for saving."""
        return {"from_logits": self.from_logits, "name": self.name}


class BinaryCrossentropy(Loss):
    """−[t log p + (1 − t) log(1 − p)], averaged; see functional.binary_crossentropy."""

    kind, default_name, fn = "binary", "binary_crossentropy", F.binary_crossentropy


class CategoricalCrossentropy(Loss):
    """−Σ t log p with one-hot t; see functional.categorical_crossentropy."""

    kind, default_name, fn = "categorical", "categorical_crossentropy", F.categorical_crossentropy


class SparseCategoricalCrossentropy(Loss):
    """−log p[label] with integer labels; see functional.sparse_categorical_crossentropy."""

    kind, default_name, fn = "sparse", "sparse_categorical_crossentropy", F.sparse_categorical_crossentropy


class MeanSquaredError(Loss):
    """Mean of (t − p)²."""

    default_name = "mean_squared_error"

    def __call__(self, y_true, y_pred, sample_weight=None):
        return F.mean_squared_error(y_true, y_pred, sample_weight)


class MeanAbsoluteError(Loss):
    """Mean of |t − p|."""

    default_name = "mean_absolute_error"

    def __call__(self, y_true, y_pred, sample_weight=None):
        return F.mean_absolute_error(y_true, y_pred, sample_weight)


ALL = {
    "binary_crossentropy": BinaryCrossentropy,
    "bce": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "cce": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
}
CLASSES = {cls.__name__: cls for cls in set(ALL.values())}

# Keras's function-style names
binary_crossentropy = F.binary_crossentropy
categorical_crossentropy = F.categorical_crossentropy
sparse_categorical_crossentropy = F.sparse_categorical_crossentropy
mean_squared_error = mse = F.mean_squared_error
mean_absolute_error = mae = F.mean_absolute_error


def get(identifier) -> Loss:
    """A Loss from a name ("binary_crossentropy", "mse", ...) or a Loss instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str) and identifier.lower() in ALL:
        return ALL[identifier.lower()]()
    raise ValueError(f"Unknown loss {identifier!r}; expected one of {sorted(ALL)} or a Loss instance.")
