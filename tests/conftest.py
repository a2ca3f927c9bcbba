import numpy as np
import pytest

from kernelnet import backend


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def float64():
    previous = backend.floatx()
    backend.set_floatx("float64")
    yield
    backend.set_floatx(previous)
