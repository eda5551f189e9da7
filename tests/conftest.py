"""Shared fixtures.

Real-data tests use the ``lhco_dir`` fixture: it points at ../shared/data/lhco
(or $RESAD_LHCO_DIR) and skips the test, with the reason, when it is absent.
Every test starts from fixed numpy/TF seeds and a clean Keras session so that
tests do not leak global state into each other.
"""

import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

# first, as the scripts do: pins the CPU-independent kernels before numpy loads OpenBLAS
from resad_tf import runtime  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

# as the scripts run: one thread per TensorFlow op (faster for these small networks on CPU)
runtime.configure()

REPO = pathlib.Path(__file__).resolve().parents[1]
LHCO_DIR = pathlib.Path(os.environ.get("RESAD_LHCO_DIR", REPO.parent / "shared" / "data" / "lhco"))


@pytest.fixture(scope="session")
def lhco_dir() -> pathlib.Path:
    if not LHCO_DIR.is_dir():
        pytest.skip(f"real LHCO data not found at {LHCO_DIR} (set RESAD_LHCO_DIR)")
    return LHCO_DIR


@pytest.fixture(scope="session")
def repo_root() -> pathlib.Path:
    return REPO


@pytest.fixture(autouse=True)
def _seed_everything():
    np.random.seed(1234)
    import sys

    if "tensorflow" in sys.modules:
        import tensorflow as tf

        tf.random.set_seed(1234)
    yield
