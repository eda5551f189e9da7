"""A quick toy for the scan tests: dijet-shaped background, Gaussian features, a Gaussian bump.

Faster than ``resad_tf.data.load("toy")`` and with a background that is exactly the
dijet function, so the bump hunt's closure is known.
"""

import numpy as np
import pytest

from resad_tf.bumphunt.dijet import LHCO_LIKE, sample_dijet
from resad_tf.data.events import Events


def toy_events(
    n_background: int,
    n_signal: int,
    seed,
    mass: float = 3.5,
    width: float = 0.07,
    n_features: int = 4,
    shift: float = 2.0,
    mjj_range=(2.6, 6.0),
) -> Events:
    """Background plus ``n_signal`` events at ``mass`` TeV whose first two features are shifted by ``shift``."""
    rng = np.random.default_rng(seed)
    mjj_b = sample_dijet(n_background, LHCO_LIKE, mjj_range, seed=rng)
    mjj_s = rng.normal(mass, width, n_signal)
    x = rng.normal(size=(n_background + n_signal, n_features))
    x[n_background:, : min(2, n_features)] += shift
    label = np.r_[np.zeros(n_background, np.int8), np.ones(n_signal, np.int8)]
    ev = Events(np.r_[mjj_b, mjj_s], x, tuple(f"f{i}" for i in range(n_features)), label, source="scan-toy")
    return ev.shuffle(rng)


@pytest.fixture
def toy():
    return toy_events
