import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# A JIT compile can take seconds on first use, so no per-example deadline; in CI the
# examples are derandomised so a run is reproducible.
settings.register_profile(
    "default",
    deadline=None,
    max_examples=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("ci", parent=settings.get_profile("default"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture
def rng():
    return np.random.default_rng(0)
