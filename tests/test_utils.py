"""densecore.utils: Keras's to_categorical and normalize."""

import numpy as np
import pytest

import densecore as dc


def test_to_categorical_as_keras():
    assert dc.utils.to_categorical([0, 2, 1]).tolist() == [[1, 0, 0], [0, 0, 1], [0, 1, 0]]
    onehot = dc.utils.to_categorical(np.array([[1], [0]]), num_classes=4)  # (N, 1) labels: (N, C)
    assert onehot.shape == (2, 4) and onehot.dtype == np.float32 and onehot[0, 1] == 1
    assert dc.utils.to_categorical(np.array([[0, 1], [1, 1]])).shape == (2, 2, 2)
    assert dc.utils.to_categorical(np.array([2.0, 0.0])).argmax(axis=1).tolist() == [2, 0]


@pytest.mark.parametrize(
    "x, num_classes, words",
    [
        ([0, 3], 3, "[0, 3)"),
        ([-1, 0], None, "from -1"),
        ([0.5, 1], None, "integer class labels"),
        (["a"], None, "dtype"),
        ([0, 1], -2, "num_classes"),
    ],
)
def test_to_categorical_refuses_what_is_not_a_label(x, num_classes, words):
    with pytest.raises(ValueError, match=r"^to_categorical: .*" + __import__("re").escape(words)):
        dc.utils.to_categorical(x, num_classes)


def test_normalize_gives_unit_rows_and_keeps_zero_rows():
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(dc.utils.normalize(x), [[0.6, 0.8], [0.0, 0.0]])
    np.testing.assert_allclose(dc.utils.normalize(x, axis=0, order=1), [[1.0, 1.0], [0.0, 0.0]])


def test_set_random_seed_is_set_seed():
    assert dc.utils.set_random_seed is dc.set_seed


def test_a_categorical_model_trains_on_to_categorical_targets():
    (x, y), _ = dc.datasets.load_digits()
    model = dc.Sequential([dc.layers.Dense(10, activation="softmax")])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    model.fit(x[:200], dc.utils.to_categorical(y[:200], 10), epochs=1, verbose=0)
