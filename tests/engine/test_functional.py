"""functional: dense on every backend, activations and fused losses — values and gradients."""

import re

import numpy as np
import pytest

import densecore as dc
from densecore import functional as F


def tensor(shape, seed=0, low=None, high=None):
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return dc.Tensor(data, requires_grad=True)


@pytest.fixture(params=["reference", "cpu"])
def backend(request):
    dc.set_backend(request.param)
    yield request.param
    dc.set_backend("cpu")


@pytest.mark.parametrize("activation", [None, "linear", "relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradcheck(backend, activation, bias):
    x, w = tensor((5, 3), 0), tensor((3, 4), 1)
    b = tensor((4,), 2) if bias else None
    inputs = [x, w] + ([b] if bias else [])
    assert dc.gradcheck(lambda x, w, *b: F.dense(x, w, b[0] if b else None, activation), inputs)


def test_dense_skips_gradients_nobody_needs(backend):
    x = dc.Tensor(np.ones((2, 3)))
    w = dc.Tensor(np.ones((3, 2)), requires_grad=True)
    F.dense(x, w).sum().backward()
    assert x.grad is None and w.grad.shape == (3, 2)


@pytest.mark.parametrize("fn", [F.softmax, F.log_softmax, F.relu, F.sigmoid, F.tanh])
def test_activation_gradcheck(fn):
    assert dc.gradcheck(fn, [tensor((4, 5))])


labels = np.array([0, 2, 1, 2])
onehot = np.eye(3)[labels]
binary = np.array([[1.0, 0.0, 1.0], [0, 0, 1], [1, 1, 0], [0, 1, 0]])

LOSSES = {  # y_pred, sample weights (or None) -> the loss
    "bce_logits": lambda z, w=None: F.binary_crossentropy(binary, z, from_logits=True, sample_weight=w),
    "bce_through_sigmoid": lambda z, w=None: F.binary_crossentropy(binary, F.sigmoid(z), sample_weight=w),
    "cce_logits": lambda z, w=None: F.categorical_crossentropy(onehot, z, from_logits=True, sample_weight=w),
    "cce_through_softmax": lambda z, w=None: F.categorical_crossentropy(
        onehot, F.softmax(z), sample_weight=w
    ),
    "scce_logits": lambda z, w=None: F.sparse_categorical_crossentropy(labels, z, True, w),
    "scce_through_softmax": lambda z, w=None: F.sparse_categorical_crossentropy(
        labels, F.softmax(z), False, w
    ),
    "mse": lambda z, w=None: F.mean_squared_error(binary, z, w),
    "mae": lambda z, w=None: F.mean_absolute_error(binary, z, w),
}
WEIGHTS = np.array([0.5, 2.0, 0.0, 1.5])


@pytest.mark.parametrize("weighted", [False, True], ids=["", "weighted"])
@pytest.mark.parametrize("name", LOSSES)
def test_loss_gradcheck(name, weighted, backend):  # each backend's loss kernel (kernels/losses.py)
    w = WEIGHTS if weighted else None
    assert dc.gradcheck(lambda z: LOSSES[name](z, w), [tensor((4, 3))])


@pytest.mark.parametrize("name", LOSSES)
def test_sample_weights_scale_each_samples_share_of_the_batch_mean(name, backend):
    """Keras's sum_over_batch_size: Σ_n w_n loss_n / N, N the batch size (not Σ w)."""
    z = tensor((4, 3))
    per_sample = []
    for n in range(4):  # each sample's own loss: the loss of a batch of that sample alone
        one = np.zeros(4)
        one[n] = 4.0  # Σ one·loss / 4 = loss_n
        per_sample.append(LOSSES[name](z, one).item())
    want = (WEIGHTS * np.array(per_sample)).sum() / 4
    assert np.isclose(LOSSES[name](z, WEIGHTS).item(), want, rtol=1e-10)
    assert LOSSES[name](z, np.ones(4)).item() == LOSSES[name](z).item()


def test_sample_weights_of_outputs_beyond_two_axes_weight_the_first():
    z = tensor((2, 3, 4))
    t = (np.arange(24).reshape(2, 3, 4) % 2).astype(float)
    w = np.array([3.0, 0.0])
    weighted = F.binary_crossentropy(t, z, from_logits=True, sample_weight=w).item()
    first = F.binary_crossentropy(t[:1], z.data[:1], from_logits=True).item()
    assert np.isclose(weighted, 3.0 * first / 2)
    assert dc.gradcheck(lambda z: F.mean_absolute_error(t, z, sample_weight=w), [z])


@pytest.mark.parametrize(
    "weights, error, words",
    [
        (np.ones(3), ValueError, "binary_crossentropy: sample weights must have shape (4,)"),
        (
            np.array([1.0, np.inf, 1.0, 1.0]),
            ValueError,
            "binary_crossentropy: sample weights contain NaN or inf",
        ),
        (
            np.array(["a"] * 4),
            TypeError,
            "binary_crossentropy: sample weights must be a numpy array of numbers",
        ),
    ],
)
def test_bad_sample_weights_are_named(weights, error, words):
    with pytest.raises(error, match=re.escape(words)):
        F.binary_crossentropy(binary, np.zeros((4, 3)), from_logits=True, sample_weight=weights)


@pytest.mark.parametrize("name", ["bce", "cce"])
def test_loss_from_probabilities_gradcheck(name):
    p = tensor((4, 3), low=0.05, high=0.95)
    fn = {
        "bce": lambda p: F.binary_crossentropy(binary, p),
        "cce": lambda p: F.categorical_crossentropy(onehot, p),
    }[name]
    assert dc.gradcheck(fn, [p])


def test_loss_values_match_the_textbook_formulas():
    z = np.array([[2.0, -1.0, 0.5]])
    p = 1 / (1 + np.exp(-z))
    t = np.array([[1.0, 0.0, 1.0]])
    expected = -(t * np.log(p) + (1 - t) * np.log(1 - p)).mean()
    assert np.isclose(F.binary_crossentropy(t, z, from_logits=True).item(), expected)
    soft = np.exp(z) / np.exp(z).sum()
    assert np.isclose(F.sparse_categorical_crossentropy([2], z, from_logits=True).item(), -np.log(soft[0, 2]))
    assert np.isclose(F.categorical_crossentropy(np.eye(3)[[2]], soft).item(), -np.log(soft[0, 2]))


@pytest.mark.parametrize("scale", [1e3, 1e4])
def test_losses_stay_finite_for_huge_logits(scale):
    z = dc.Tensor(np.array([[scale, -scale, 0.0], [-scale, scale, 1.0]]), requires_grad=True)
    losses = [
        F.binary_crossentropy(binary[:2], z, from_logits=True),
        F.categorical_crossentropy(onehot[:2], z, from_logits=True),
        F.sparse_categorical_crossentropy(labels[:2], z, from_logits=True),
        F.binary_crossentropy(binary[:2], F.sigmoid(z)),
        F.sparse_categorical_crossentropy(labels[:2], F.softmax(z)),
    ]
    for loss in losses:
        z.grad = None
        loss.backward()
        assert np.isfinite(loss.item()) and np.all(np.isfinite(z.grad))


def test_binary_targets_of_shape_n_match_outputs_of_shape_n_1():
    z = np.zeros((3, 1))
    assert np.isclose(F.binary_crossentropy([1, 0, 1], z, from_logits=True).item(), np.log(2))


def test_loss_shape_errors_name_the_loss_and_shapes():
    with pytest.raises(ValueError, match=r"mean_squared_error.*\(4, 2\).*\(4, 3\)"):
        F.mean_squared_error(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        F.sparse_categorical_crossentropy([0, 3], np.zeros((2, 3)), from_logits=True)
    with pytest.raises(ValueError, match="integer class labels"):
        F.sparse_categorical_crossentropy([0.5, 1], np.zeros((2, 3)), from_logits=True)


def test_sparse_crossentropy_from_probabilities_gradcheck():
    p = tensor((4, 3), low=0.05, high=0.95)
    assert dc.gradcheck(lambda p: F.sparse_categorical_crossentropy(labels, p), [p])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_crossentropy_through_softmax_equals_from_logits_bitwise(dtype):
    # through the output layer's softmax, the loss works from its logits: the same kernel, the same bits
    rng = np.random.default_rng(3)
    z = rng.standard_normal((7, 5)).astype(dtype) * 4
    labels = rng.integers(0, 5, 7)
    onehot = np.eye(5, dtype=dtype)[labels]
    for loss, target in ((F.sparse_categorical_crossentropy, labels), (F.categorical_crossentropy, onehot)):
        grads = []
        for through_softmax in (True, False):
            x = dc.Tensor(z.copy(), requires_grad=True)
            out = F.softmax(x) if through_softmax else x
            value = loss(target, out, from_logits=not through_softmax)
            value.backward()
            grads.append((value.data, x.grad))
        np.testing.assert_array_equal(grads[0][0], grads[1][0])
        np.testing.assert_array_equal(grads[0][1], grads[1][1])
    # softmax over another axis is not the loss's softmax: the loss computes its own
    x = dc.Tensor(z.copy(), requires_grad=True)
    F.sparse_categorical_crossentropy(labels, F.softmax(x, axis=0)).backward()
    x2 = dc.Tensor(z.copy(), requires_grad=True)
    F.sparse_categorical_crossentropy(labels, x2, from_logits=True).backward()
    np.testing.assert_array_equal(x.grad, x2.grad)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 1), (5, 10), (17, 3)])
def test_row_kernels_equal_numpy(dtype, shape):
    from densecore.kernels import activations as row_kernels

    z = (np.random.default_rng(1).standard_normal(shape) * 30).astype(dtype)
    z[0, 0] = 700 if dtype == np.float64 else 80  # e^z would overflow without the shift
    y, lse = row_kernels.softmax_rows(z), row_kernels.logsumexp_rows(z)
    top = z.max(axis=1, keepdims=True).astype(np.float64)
    e = np.exp(z - top)
    tol = 1e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(y, e / e.sum(axis=1, keepdims=True), rtol=tol, atol=tol)
    np.testing.assert_allclose(lse, top + np.log(e.sum(axis=1, keepdims=True)), rtol=tol)
    nan = z.copy()
    nan[-1, -1] = np.nan
    assert np.isnan(row_kernels.softmax_rows(nan)[-1]).all() and np.isnan(row_kernels.logsumexp_rows(nan)[-1])


def test_relu_keeps_nan_like_the_fused_kernel():
    """Activation("relu") and F.relu give what Dense(activation="relu")'s kernel gives: NaN
    stays NaN (as in numpy and PyTorch), negatives become 0."""
    from densecore import kernels

    x = np.array([[np.nan, -1.0, 2.0]], np.float32)
    fused = kernels.get("cpu").dense_forward(x, np.eye(3, dtype=np.float32), None, "relu")
    for y in (dc.functional.relu(dc.Tensor(x)).data, dc.layers.Activation("relu")(dc.Tensor(x)).data):
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y, [[np.nan, 0.0, 2.0]])
    assert np.isnan(fused[0]).all()  # the NaN reaches every output through the product
