"""Bundled data, helpers, and the main demo."""

import numpy as np

from densecore import datasets


def test_breast_cancer_shapes_and_stratified_split():
    (x, y), (xt, yt) = datasets.load_breast_cancer()
    assert x.shape == (456, 30) and xt.shape == (113, 30) and x.dtype == np.float32
    assert set(np.unique(y)) == {0, 1}
    assert abs(y.mean() - yt.mean()) < 0.02  # stratified: same class balance


def test_digits_shapes():
    (x, y), (xt, yt) = datasets.load_digits()
    assert x.shape == (1438, 64) and xt.shape == (359, 64) and x.max() == 16
    assert np.bincount(y).min() > 130 and set(np.unique(yt)) == set(range(10))
    assert datasets.load_digits(flatten=False)[0][0].shape == (1438, 8, 8)


def test_standardize_uses_training_statistics():
    a = np.array([[1.0, 5.0], [3.0, 5.0]])
    sa, sb = datasets.standardize(a, np.array([[2.0, 6.0]]))
    np.testing.assert_allclose(sa, [[-1, 0], [1, 0]])
    np.testing.assert_allclose(sb, [[0, 1]])


def test_toy_generators():
    x, y = datasets.make_moons(100)
    assert x.shape == (100, 2) and set(np.unique(y)) == {0, 1}
    x, y = datasets.make_spirals(90, n_classes=3)
    assert x.shape == (90, 2) and np.bincount(y).tolist() == [30, 30, 30]


def test_main_demo_runs(capsys):
    from densecore.__main__ import main

    assert main(["--epochs", "2", "--verbose", "0"]) == 0
    out = capsys.readouterr().out
    assert "test acc" in out and "SimpleNet" in out and "Total params: 321" in out
    # the kernels' compile or load is timed before training, and the warm-up's throwaway
    # model leaves the layer names free: the trained model's layers are "dense", "dense_1"
    assert "kernels ready in" in out and "\ndense (Dense)" in out
