"""Small real data sets shipped inside the package, and toy generators for teaching.

    load_breast_cancer()  569 × 30, binary (the article's kind of task)
    load_digits()         1797 images of 8 × 8, 10 classes

Each returns `(x_train, y_train), (x_test, y_test)` with a fixed, stratified 80/20 split
(see README.md beside this file for sources and licences).
"""

from importlib import resources

import numpy as np


def _load(name):
    with resources.files(__name__).joinpath(name).open("rb") as handle:
        with np.load(handle, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}


def load_breast_cancer():
    """Breast Cancer Wisconsin (Diagnostic): 30 features of cell nuclei, benign (1) or not.

    Returns:
        (x_train, y_train), (x_test, y_test): float32 (456, 30), int64 (456,), float32
        (113, 30), int64 (113,). Features are raw: standardise them (see `standardize`).

    Example:
        >>> from densecore import datasets
        >>> (x, y), (xt, yt) = datasets.load_breast_cancer()
        >>> x.shape, xt.shape
        ((456, 30), (113, 30))
    """
    d = _load("breast_cancer.npz")
    return (
        (d["x_train"].astype(np.float32), d["y_train"].astype(np.int64)),
        (d["x_test"].astype(np.float32), d["y_test"].astype(np.int64)),
    )


def load_digits(flatten: bool = True):
    """Optical handwritten digits: 8×8 images with values 0–16, labels 0–9.

    Args:
        flatten: (n, 64) rows (default) or (n, 8, 8) images.

    Returns:
        (x_train, y_train), (x_test, y_test): float32 images, int64 labels (1438 and 359).
    """
    d = _load("digits.npz")
    shape = (-1, 64) if flatten else (-1, 8, 8)
    return (
        (d["x_train"].astype(np.float32).reshape(shape), d["y_train"].astype(np.int64)),
        (d["x_test"].astype(np.float32).reshape(shape), d["y_test"].astype(np.int64)),
    )


def standardize(x_train, *others):
    """Scale features to mean 0 and standard deviation 1, using x_train's statistics only.

    Constant features (standard deviation 0) are centred and left unscaled.

    Returns:
        The standardised x_train, followed by each array of `others` transformed alike.
    """
    x_train = np.asarray(x_train, np.float32)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std[std == 0] = 1.0
    out = [(x_train - mean) / std] + [(np.asarray(o, np.float32) - mean) / std for o in others]
    return out[0] if not others else tuple(out)


def make_moons(n_samples: int = 200, noise: float = 0.1, seed: int = 0):
    """Two interleaving half circles in 2-D (a classic non-linear binary task).

    Returns:
        x float32 (n_samples, 2), y int64 (n_samples,).
    """
    rng = np.random.default_rng(seed)
    n_out = n_samples // 2
    n_in = n_samples - n_out
    t_out, t_in = np.linspace(0, np.pi, n_out), np.linspace(0, np.pi, n_in)
    x = np.concatenate(
        [np.stack([np.cos(t_out), np.sin(t_out)], 1), np.stack([1 - np.cos(t_in), 0.5 - np.sin(t_in)], 1)]
    )
    y = np.concatenate([np.zeros(n_out), np.ones(n_in)]).astype(np.int64)
    x += rng.normal(scale=noise, size=x.shape)
    order = rng.permutation(n_samples)
    return x[order].astype(np.float32), y[order]


def make_spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2, seed: int = 0):
    """`n_classes` interleaved spiral arms in 2-D (needs a hidden layer to separate).

    Returns:
        x float32 (n_samples, 2), y int64 (n_samples,).
    """
    rng = np.random.default_rng(seed)
    per = n_samples // n_classes
    xs, ys = [], []
    for c in range(n_classes):
        r = np.linspace(0.0, 1.0, per)
        t = np.linspace(c * 4.0, (c + 1) * 4.0, per) + rng.normal(scale=noise, size=per)
        xs.append(np.stack([r * np.sin(t), r * np.cos(t)], 1))
        ys.append(np.full(per, c))
    x, y = np.concatenate(xs), np.concatenate(ys).astype(np.int64)
    order = rng.permutation(len(x))
    return x[order].astype(np.float32), y[order]
