"""Every example in a docstring of densecore (its kernels and benchmarks included) runs and prints
what it says."""

import doctest
import importlib
import pkgutil
import warnings

import pytest

import densecore


def _modules():
    yield densecore.__name__
    for info in pkgutil.walk_packages(densecore.__path__, densecore.__name__ + "."):
        if not info.name.endswith("__main__"):  # importing it would run the demo
            yield info.name


@pytest.mark.parametrize("name", sorted(_modules()))
def test_docstring_examples(name):
    try:
        module = importlib.import_module(name)
    except ImportError as exc:  # kernels.cuda without numba-cuda: nothing to run
        pytest.skip(str(exc))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an example may warn (e.g. a layer kept dense)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"
