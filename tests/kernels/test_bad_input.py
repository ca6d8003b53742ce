"""Bad input to a kernel is a clear ValueError/TypeError raised before any work."""

import numpy as np
import pytest

from densecore import kernels

BACKENDS = ["reference", "cpu"]
x, w, b = np.ones((4, 3), np.float32), np.ones((3, 2), np.float32), np.ones(2, np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "args, error, words",
    [
        ((np.ones(3, np.float32), w, b, None), ValueError, ["x", "2 dimension", "(3,)"]),
        ((np.ones((4, 5), np.float32), w, b, None), ValueError, ["5 features", "(4, 5)", "(3, 2)"]),
        ((x, w, np.ones(3, np.float32), None), ValueError, ["b", "(2,)", "(3,)"]),
        ((x.astype(np.int32), w, b, None), TypeError, ["x", "int32"]),
        ((x.astype(object), w, b, None), TypeError, ["x", "object"]),
        ((x, w.astype(np.float64), b, None), TypeError, ["float32", "float64"]),
        ((x.tolist(), w, b, None), TypeError, ["numpy array", "list"]),
        ((x, w, b, "softplus"), ValueError, ["softplus", "relu"]),
    ],
)
def test_forward_rejects(backend, args, error, words):
    with pytest.raises(error) as info:
        kernels.get(backend).dense_forward(*args)
    message = str(info.value)
    assert "dense_forward" in message
    for word in words:
        assert word in message


@pytest.mark.parametrize("backend", BACKENDS)
def test_backward_rejects_mismatched_gradient(backend):
    with pytest.raises(ValueError, match=r"dy must have shape \(4, 2\).*received \(4, 3\)"):
        kernels.get(backend).dense_backward(x, w, np.ones((4, 2), np.float32), np.ones((4, 3), np.float32))


def test_unknown_backend_lists_the_known_ones():
    with pytest.raises(ValueError, match="reference"):
        kernels.get("tpu")
