"""Small in-memory regions from the generator, with a strong injection, shared by the method tests."""

import pytest

from resad_tf import data


@pytest.fixture(scope="session")
def toy_regions():
    """~40k background + 3000 injected signal; SR 3.3-3.7; herwig-like simulation attached."""
    events = data.load("toy", seed=11, toy=data.ToySpec(n_background=60_000, n_signal=8_000))
    sim = data.load("toy", seed=12, toy=data.ToySpec(n_background=40_000, n_signal=0, background="herwig"))
    return data.make_regions(events, data.Window(3.3, 3.7), n_sig=3000, holdout=1 / 3, seed=0,
                             simulation=sim)
