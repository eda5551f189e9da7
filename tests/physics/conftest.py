"""Real LHCO raw events (the tiny file) and the shared reference jets, read once."""

import pandas as pd
import pytest

from resad_tf.data.raw import read_raw
from resad_tf.physics.clustering import cluster_jets


@pytest.fixture(scope="session")
def tiny_path(lhco_dir):
    path = lhco_dir / "events_anomalydetection_tiny.h5"
    if not path.exists():
        pytest.skip(f"{path} not found")
    return path


@pytest.fixture(scope="session")
def tiny_raw(tiny_path):
    return read_raw(tiny_path)


@pytest.fixture(scope="session")
def tiny_jets(tiny_raw):
    return cluster_jets(tiny_raw[0])


@pytest.fixture(scope="session")
def reference_jets(lhco_dir):
    """Third-party FastJet jets of the same 1000 events (v2 features, GeV)."""
    return pd.read_hdf(lhco_dir / "rd_first100k.features.h5", "df", start=0, stop=1000)
