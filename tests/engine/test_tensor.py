"""The autograd engine: every op's gradient, broadcasting, accumulation, graph handling."""

import numpy as np
import pytest

import densecore as dc


def t(shape, seed=0, positive=False):
    data = np.random.default_rng(seed).standard_normal(shape)
    return dc.Tensor(np.abs(data) + 0.5 if positive else data, requires_grad=True)


OPS = {
    "add": (lambda a, b: a + b, [(3, 4), (4,)]),
    "sub": (lambda a, b: a - b, [(3, 4), (3, 1)]),
    "mul": (lambda a, b: a * b, [(2, 3, 4), (3, 4)]),
    "div": (lambda a, b: a / b, [(3, 4), "positive"]),
    "neg": (lambda a: -a, [(5,)]),
    "pow": (lambda a: a**3, [(3, 2)]),
    "pow_fraction": (lambda a: a**0.5, ["positive"]),
    "matmul_2d": (lambda a, b: a @ b, [(3, 4), (4, 5)]),
    "matmul_batched": (lambda a, b: a @ b, [(2, 3, 4), (4, 2)]),
    "sum_all": (lambda a: a.sum(), [(3, 4)]),
    "sum_axis": (lambda a: a.sum(axis=1), [(3, 4)]),
    "sum_keepdims": (lambda a: a.sum(axis=0, keepdims=True), [(3, 4)]),
    "mean_axis": (lambda a: a.mean(axis=-1), [(3, 4)]),
    "reshape": (lambda a: a.reshape(4, 3), [(3, 4)]),
    "transpose": (lambda a: a.T, [(3, 4)]),
    "getitem": (lambda a: a[1:, ::2], [(3, 4)]),
    "exp": (lambda a: a.exp(), [(3, 4)]),
    "log": (lambda a: a.log(), ["positive"]),
    "relu": (lambda a: a.relu(), [(3, 4)]),
    "sigmoid": (lambda a: a.sigmoid(), [(3, 4)]),
    "tanh": (lambda a: a.tanh(), [(3, 4)]),
    "rsub_rdiv": (lambda a: 2.0 - 1.0 / a, ["positive"]),
}


@pytest.mark.parametrize("name", OPS)
def test_gradcheck(name):
    fn, shapes = OPS[name]
    inputs = [t((3, 4), i, positive=True) if s == "positive" else t(s, i) for i, s in enumerate(shapes)]
    assert dc.gradcheck(fn, inputs)


def test_gradients_accumulate_until_zeroed():
    x = dc.Tensor([1.0, 2.0], requires_grad=True)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_array_equal(x.grad, [6.0, 6.0])
    x.zero_grad()
    assert x.grad is None


def test_a_node_used_twice_gets_both_parts():
    x = dc.Tensor([3.0], requires_grad=True)
    y = x * x
    (y + y).sum().backward()  # d(2x²)/dx = 4x
    np.testing.assert_array_equal(x.grad, [12.0])


def test_no_grad_records_nothing():
    x = dc.Tensor([1.0], requires_grad=True)
    with dc.no_grad():
        y = x * 2
    assert not y.requires_grad and y._parents == ()


def test_backward_needs_a_gradient_for_non_scalars():
    with pytest.raises(ValueError, match=r"non-scalar tensor of shape \(2,\)"):
        (dc.Tensor([1.0, 2.0], requires_grad=True) * 2).backward()


def test_integer_data_becomes_float32_and_strings_are_refused():
    assert dc.Tensor([1, 2]).dtype == np.float32
    with pytest.raises(TypeError, match="numeric"):
        dc.Tensor(["a"])


def test_graph_is_freed_after_backward():
    x = dc.Tensor(np.ones(3), requires_grad=True)
    y = (x * 2).exp()
    loss = y.sum()
    loss.backward()
    assert loss._parents == () and y._parents == ()


def test_gradcheck_reports_the_worst_element():
    x = t((2, 2))

    def wrong(a):  # forward a², backward claims 3a
        out = a._child(a.data**2, (a,), lambda g: a._accumulate(3 * a.data * g))
        return out

    with pytest.raises(dc.GradcheckError, match="element"):
        dc.gradcheck(wrong, [x])


def test_gradcheck_refuses_float32():
    with pytest.raises(TypeError, match="float64"):
        dc.gradcheck(lambda a: a, [dc.Tensor(np.ones(2, np.float32), requires_grad=True)])


def test_backend_selection():
    assert dc.get_backend() == "cpu"
    dc.set_backend("reference")
    try:
        assert dc.get_backend() == "reference"
    finally:
        dc.set_backend("cpu")
    with pytest.raises(ValueError, match="unknown backend"):
        dc.set_backend("abacus")
