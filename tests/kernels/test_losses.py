"""The loss kernels (kernels/losses.py): numpy's formulas from every host backend, with and without
sample weights, one result for any thread split, finite for huge logits, clear errors for bad
operands."""

import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from densecore import kernels
from densecore.kernels import losses, parallel

BACKENDS = [kernels.get(name) for name in ("reference", "cpu")]
KINDS = [*losses.KINDS, "squared"]


def numpy_loss(kind, z, t, w=None):
    """(Σ_n w_n loss_n, gradient) straight from the textbook formulas, in float64."""
    z = z.astype(np.float64)
    w = np.ones(len(z)) if w is None else w
    if kind == "squared":
        per, grad = (z - t) ** 2, 2 * (z - t)
    elif kind == "binary":
        p = 1 / (1 + np.exp(-z))
        per, grad = -(t * np.log(p) + (1 - t) * np.log(1 - p)), p - t
    else:
        if kind == "sparse":
            t = np.eye(z.shape[1])[t[:, 0]]
        p = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        per, grad = -(t * np.log(p)), t.sum(axis=1, keepdims=True) * p - t
    return (w * per.sum(axis=1)).sum(), w[:, None] * grad


def operands(kind, shape, dtype, seed=0, contiguous=True):
    rng = np.random.default_rng(seed)
    z = (3 * rng.standard_normal((shape[0], 2 * shape[1]))).astype(dtype)
    z = z[:, ::2] if not contiguous else np.ascontiguousarray(z[:, : shape[1]])
    if kind == "sparse":
        return z, rng.integers(0, shape[1], (shape[0], 1))
    t = rng.random(shape).astype(dtype)
    return z, (t > 0.5).astype(dtype) if kind == "binary" else t


def call(module, kind, z, t, scale, w=None):
    if kind == "squared":
        return module.squared_error(z, t, scale, w)
    return module.cross_entropy(kind, z, t, scale, w)


@settings(max_examples=30, deadline=None)
@given(
    kind=st.sampled_from(KINDS),
    rows=st.integers(1, 40),
    cols=st.integers(1, 12),
    dtype=st.sampled_from([np.float32, np.float64]),
    contiguous=st.booleans(),
    weighted=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_every_host_backend_gives_numpys_loss_and_gradient(
    kind, rows, cols, dtype, contiguous, weighted, seed
):
    z, t = operands(kind, (rows, cols), dtype, seed, contiguous)
    w = np.random.default_rng(seed).random(rows) * 3 if weighted else None
    want_total, want_grad = numpy_loss(kind, z, t, w)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for module in BACKENDS:
        total, grad = call(module, kind, z, t, 0.5, w)
        assert total.shape == (1,) and total.dtype == np.float64
        assert grad.dtype == dtype and grad.shape == z.shape
        np.testing.assert_allclose(total[0], want_total, rtol=tol, atol=tol)
        np.testing.assert_allclose(grad, 0.5 * want_grad, rtol=tol, atol=tol)


@pytest.mark.parametrize("kind", KINDS)
def test_threaded_rows_give_the_serial_loops_bits(kind):
    z, t = operands(kind, (3 * losses.CHUNK // 10 + 7, 10), np.float32, seed=1)  # several chunks
    kind_code = losses.SQUARED if kind == "squared" else losses.KINDS.index(kind)
    results = []
    w = np.random.default_rng(2).random(len(z))
    for loop in (losses._rows, parallel.serial(losses._rows)):
        for weights in (w, np.zeros(0)):
            per_row, grad = np.empty(len(z)), np.empty_like(z)
            assert loop(per_row, grad, z, t, kind_code, 0.25, weights) == 0
            results.append((per_row, grad))
    threaded, serial = results[:2], results[2:]
    assert all(np.array_equal(a, b) for pair in zip(threaded, serial) for a, b in zip(*pair))


@pytest.mark.parametrize("module", BACKENDS, ids=lambda m: m.__name__)
def test_unit_weights_change_no_bit(module):
    z, t = operands("sparse", (13, 5), np.float32, seed=3)
    plain = call(module, "sparse", z, t, 0.5)
    ones = call(module, "sparse", z, t, 0.5, np.ones(13, np.float32))
    assert all(np.array_equal(a, b) for a, b in zip(plain, ones))


@pytest.mark.parametrize("kind", losses.KINDS)
def test_huge_logits_give_finite_losses_and_gradients(kind):
    z = np.array([[1e30, -1e30, 0.0], [-1e30, 1e30, 5.0]], np.float32)
    t = np.array([[1], [0]]) if kind == "sparse" else np.eye(3, dtype=np.float32)[[0, 2]]
    for module in BACKENDS:
        total, grad = call(module, kind, z, t, 1.0)
        assert np.isfinite(total).all() and np.isfinite(grad).all(), module.__name__


@pytest.mark.parametrize("module", BACKENDS, ids=lambda m: m.__name__)
def test_bad_operands_are_named_before_any_work(module):
    z = np.zeros((4, 3), np.float32)
    name = module.__name__.split(".")[-1]
    cases = [
        (lambda: module.cross_entropy("sparse", z, np.array([[0], [1], [3], [2]]), 1), ValueError, "[0, 3)"),
        (lambda: module.cross_entropy("sparse", z, np.array([[0], [-1], [1], [2]]), 1), ValueError, "[0, 3)"),
        (lambda: module.cross_entropy("sparse", z, np.zeros((4, 1), np.int32), 1.0), TypeError, "int64"),
        (lambda: module.cross_entropy("sparse", z, np.zeros((3, 1), np.int64), 1.0), ValueError, "(4, 1)"),
        (lambda: module.cross_entropy("binary", z, np.zeros((4, 2), np.float32), 1.0), ValueError, "(4, 3)"),
        (lambda: module.cross_entropy("binary", z, np.zeros((4, 3)), 1.0), TypeError, "float32"),
        (lambda: module.cross_entropy("hinge", z, z, 1.0), ValueError, "sparse"),
        (lambda: module.cross_entropy("categorical", z[:, :0], z[:, :0], 1.0), ValueError, "one class"),
        (lambda: module.squared_error(z.astype(int), z, 1.0), TypeError, "float32 or float64"),
        (lambda: module.squared_error(z[0], z[0], 1.0), ValueError, "2 dimension"),
        (lambda: module.squared_error(z, z.tolist(), 1.0), TypeError, "numpy array"),
        (lambda: module.squared_error(z, z, 1.0, np.ones(3)), ValueError, "weights must have shape (4,)"),
        (lambda: module.squared_error(z, z, 1.0, [1, 1, 1, 1]), TypeError, "sample weights must be a numpy"),
        (lambda: module.cross_entropy("binary", z, z, 1.0, np.array([1, np.nan, 1, 1])), ValueError, "NaN"),
    ]
    for run, error, words in cases:
        with pytest.raises(error, match=rf"^{name}\.(cross_entropy|squared_error): .*{re.escape(words)}"):
            run()


@pytest.mark.parametrize("kind", KINDS)
def test_the_cpu_keeps_the_gradient_in_buffers_between_calls(kind):
    z, t = operands(kind, (6, 4), np.float32, seed=5)
    kept = kernels.Buffers()
    cpu = kernels.get("cpu")
    run = (
        (lambda s: cpu.squared_error(z, t, s, None, kept))
        if kind == "squared"
        else (lambda s: cpu.cross_entropy(kind, z, t, s, None, kept))
    )
    first = run(1.0)[1]
    second = run(0.5)[1]
    assert second is first  # written in place: no allocation per call
    np.testing.assert_allclose(second, 0.5 * call(cpu, kind, z, t, 1.0)[1], rtol=1e-6)
