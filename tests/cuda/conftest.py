"""The CUDA tests run where the "cuda" backend can: under numba's simulator in CI
(NUMBA_ENABLE_CUDASIM=1, its own pytest run in .ci/run) or on a real GPU. Shapes stay at or
below 32 per dimension: the simulator interprets every thread in Python."""

import pytest

from densecore import kernels

if "cuda" not in kernels.available():
    pytest.skip(
        "no CUDA backend here (install densecore[cuda]; set NUMBA_ENABLE_CUDASIM=1 to use numba's simulator)",
        allow_module_level=True,
    )
