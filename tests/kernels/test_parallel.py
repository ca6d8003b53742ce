"""kernels.parallel: serial twins that are really serial, and kernels that keep working in a
process forked after its parent ran them (issue #19, item 17)."""

import subprocess
import sys
import textwrap

import numpy as np

from densecore.kernels import data, parallel


def test_a_serial_twin_is_compiled_apart_from_its_kernel_and_gives_the_same_result():
    """numba's cache keys entries by a function's name: a twin compiled from the same function
    would load the parallel code (or hand its serial code to the kernel). Twins have their own
    name, and no parallel region."""
    twin = parallel.serial(data._count_nonfinite)
    assert twin.py_func.__qualname__ == "_count_nonfinite_serial"
    assert twin is parallel.serial(data._count_nonfinite)  # made once
    assert "parallel" not in twin.targetoptions
    x = np.ones(300_000)
    x[[5, 200_000]] = np.nan, np.inf
    assert twin(x) == data._count_nonfinite(x) == 2
    assert parallel.choose(data._count_nonfinite, big=False) is twin
    assert parallel.choose(data._count_nonfinite, big=True) is data._count_nonfinite


_FORK_AFTER_PREDICT = textwrap.dedent(
    """
    import multiprocessing as mp
    import numpy as np
    import densecore as dc

    x = np.random.default_rng(0).standard_normal((300, 400)).astype(np.float32)
    model = dc.Sequential([dc.layers.Dense(300, activation="relu", input_shape=(400,)), dc.layers.Dense(10)])
    model.compile("adam", "mse")
    parent = model.predict(x)  # the parent runs the parallel kernels first

    def work(seed):
        return model.predict(x)

    def train(seed):  # a fork trains too: optimizer updates, losses, the backward's sweeps
        model.fit(x, x[:, :10], epochs=1, batch_size=64, verbose=0)
        return model.predict(x)

    with mp.get_context("fork").Pool(2) as pool:
        children = pool.map_async(work, range(2)).get(timeout=120)
        trained = pool.map_async(train, range(2)).get(timeout=120)
    assert all(np.array_equal(c, parent) for c in children)
    model.fit(x, x[:, :10], epochs=1, batch_size=64, verbose=0)  # the parent, on its threads
    assert all(np.array_equal(c, model.predict(x)) for c in trained)  # serial twins: the same bits
    print("ok")
    """
)


def test_a_pool_forked_after_predict_returns_the_same_predictions():
    """multiprocessing's default on Linux forks; after the parent predicted on the OpenMP
    threading layer, numba ended every child that started a parallel kernel, and
    Pool.map never returned. Children now run the kernels' serial twins (the same bits)."""
    result = subprocess.run(
        [sys.executable, "-c", _FORK_AFTER_PREDICT], capture_output=True, text=True, timeout=240
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]
