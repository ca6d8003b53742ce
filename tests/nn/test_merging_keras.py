"""The merge layers against Keras 3's keras/src/layers/merging/merging_test.py: each test
names the Keras test it ports; the values are Keras's (masks aside: densecore has no masking,
so only the masked tests whose outputs do not depend on the mask are ported)."""

import numpy as np
import pytest

import densecore as dc
from densecore.engine.gradcheck import gradcheck

L = dc.layers
OPS = {
    "add": (L.Add, {}, np.add),
    "subtract": (L.Subtract, {}, np.subtract),
    "minimum": (L.Minimum, {}, np.minimum),
    "maximum": (L.Maximum, {}, np.maximum),
    "multiply": (L.Multiply, {}, np.multiply),
    "average": (L.Average, {}, lambda a, b: np.multiply(np.add(a, b), 0.5)),
    "concat": (L.Concatenate, {"axis": -1}, lambda a, b: np.concatenate((a, b), axis=-1)),
}
SHAPES = {"concat": (2, 4, 10)}


@pytest.mark.parametrize("name", sorted(OPS))
def test_basic(name):
    """MergingLayersTest.test_basic: no weights, output shape (2, 4, 5) (concat (2, 4, 10))."""
    cls, kwargs, _ = OPS[name]
    layer = cls(**kwargs)
    out = layer([np.ones((2, 4, 5), np.float32), np.ones((2, 4, 5), np.float32)])
    assert out.shape == SHAPES.get(name, (2, 4, 5))
    assert layer.weights == [] and layer.losses == []
    again = cls.from_config(layer.get_config())
    assert type(again) is cls and again.get_config() == {**layer.get_config(), "name": again.name}


@pytest.mark.parametrize("name", sorted(OPS))
def test_correctness_dynamic(name):
    """MergingLayersTest.test_correctness_dynamic (and _static: no fixed batch size here):
    Model([input_1, input_2], layer([input_1, input_2])) computes np_op(x1, x2)."""
    cls, kwargs, np_op = OPS[name]
    rng = np.random.default_rng(0)
    x1, x2 = rng.random((2, 4, 5)), rng.random((2, 4, 5))
    input_1, input_2 = dc.Input(shape=(4, 5)), dc.Input(shape=(4, 5))
    out = cls(**kwargs)([input_1, input_2])
    assert out.shape == (None, *SHAPES.get(name, (2, 4, 5))[1:])
    model = dc.Model([input_1, input_2], out)
    res = model([x1, x2])
    assert res.shape == SHAPES.get(name, (2, 4, 5))
    np.testing.assert_allclose(res.numpy(), np_op(x1, x2), atol=1e-4)


def test_subtract_layer_inputs_length_errors():
    """MergingLayersTest.test_subtract_layer_inputs_length_errors."""
    inputs = [dc.Input(shape=(4, 5)) for _ in range(3)]
    with pytest.raises(ValueError, match="layer should be called on exactly 2 inputs"):
        L.Subtract()(inputs)
    with pytest.raises(ValueError, match="layer should be called on exactly 2 inputs"):
        L.Subtract()(inputs[:1])


X1 = np.array([[[0, 0], [1, 2], [0, 0], [3, 4]]], np.float32)
X2 = np.array([[[0, 0], [0, 0], [1, 2], [3, 4]]], np.float32)


@pytest.mark.parametrize(
    "cls, x1, x2, expected",
    [
        ("Add", X1, X2, [[[0, 0], [1, 2], [1, 2], [6, 8]]]),  # test_add_with_mask
        ("Subtract", X1, X2, [[[0, 0], [1, 2], [-1, -2], [0, 0]]]),  # test_subtract_with_mask
        ("Average", X1, X2, [[[0, 0], [0.5, 1], [0.5, 1], [3, 4]]]),  # test_average_with_mask
    ],
)
def test_with_mask_values(cls, x1, x2, expected):
    """MergingLayersTest.test_<op>_with_mask for add, subtract and average: their outputs do not
    depend on the mask. (multiply, maximum and minimum replace masked entries by 1, -inf and
    +inf first, so their numbers need masking, which densecore does not have: not ported.)"""
    np.testing.assert_allclose(getattr(L, cls)()([x1, x2]).numpy(), expected)


def test_concatenate_with_mask():
    """MergingLayersTest.test_concatenate_with_mask: the values along axis 1 and 2."""
    out = L.Concatenate(axis=1)([X1, X2]).numpy()
    np.testing.assert_allclose(out, [[[0, 0], [1, 2], [0, 0], [3, 4], [0, 0], [0, 0], [1, 2], [3, 4]]])
    out = L.Concatenate(axis=2)([X1, X2]).numpy()
    np.testing.assert_allclose(out, [[[0, 0, 0, 0], [1, 2, 0, 0], [0, 0, 1, 2], [3, 4, 3, 4]]])


def test_concatenate_errors():
    """MergingLayersTest.test_concatenate_errors."""
    out = L.Concatenate(axis=-1)([np.ones((1, 1, 1, 1, 5)), np.ones((1, 1, 1, 1, 4))])
    assert out.shape == (1, 1, 1, 1, 9)
    match = "requires inputs with matching shapes except for the concatenation axis"
    with pytest.raises(ValueError, match=match):
        L.Concatenate(axis=-1)([np.ones((1, 2, 1, 1, 5)), np.ones((1, 1, 1, 1, 4))])
    with pytest.raises(ValueError, match=match):
        L.Concatenate(axis=1)([np.ones((1, 2, 1, 2, 1)), np.ones((1, 1, 1, 3, 1))])


@pytest.mark.parametrize(
    "name", ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"]
)
def test_backward_matches_finite_differences(name):
    """densecore's own: every merge layer's backward, against central differences (float64)."""
    rng = np.random.default_rng(1)
    a = dc.Tensor(rng.normal(size=(3, 4)), requires_grad=True)
    b = dc.Tensor(rng.normal(size=(3, 4)), requires_grad=True)
    layer = getattr(L, name)()
    gradcheck(lambda a, b: (layer([a, b]) * layer([a, b])).sum(), [a, b])


def test_maximum_ties_send_the_gradient_to_the_first_input():
    a = dc.Tensor([[1.0, 2.0]], requires_grad=True)
    b = dc.Tensor([[1.0, 3.0]], requires_grad=True)
    L.Maximum()([a, b]).sum().backward()
    assert a.grad.tolist() == [[1.0, 0.0]] and b.grad.tolist() == [[0.0, 1.0]]


def test_incompatible_shapes_name_the_layer():
    a, b = dc.Input(shape=(3,)), dc.Input(shape=(4,))
    with pytest.raises(ValueError, match=r"Add 'join': Inputs have incompatible shapes"):
        L.Add(name="join")([a, b])
