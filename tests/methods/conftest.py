"""Small in-memory regions from the generator, with a strong injection, shared by the method tests."""

import pytest

from resad_tf import data


@pytest.fixture(scope="session")
def toy_regions():
    """~40k background + 3000 injected signal; SR 3.3-3.7; herwig-like simulation attached."""
    events = data.load("toy", seed=11, toy=data.ToySpec(n_background=60_000, n_signal=8_000), quiet=True)
    sim = data.load("toy", seed=12, toy=data.ToySpec(n_background=40_000, n_signal=0, background="herwig"), quiet=True)
    return data.make_regions(events, data.Window(3.3, 3.7), n_sig=3000, holdout=1 / 3, seed=0,
                             simulation=sim)


@pytest.fixture
def assert_roundtrip():
    return _assert_roundtrip


def _assert_roundtrip(method, regions, directory):
    """component.save -> resad_tf.load_model: the same class, the trained options, the same scores."""
    import numpy as np

    import resad_tf
    from resad_tf import component

    component.save(method, directory, metrics={"auc": 0.5})
    loaded = resad_tf.load_model(directory)
    assert type(loaded) is type(method) and loaded.config == method.config and loaded.seed == method.seed
    assert loaded.features_ == method.features_ and loaded.window_ == method.window_
    test = regions.test
    np.testing.assert_allclose(loaded.score(test), method.score(test), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.score_arrays(test.x[:50], test.mjj[:50]), method.score(test.select(np.arange(50))),
                               rtol=1e-5, atol=1e-6)
    manifest = component.read_manifest(directory)
    assert manifest["class"].endswith(f":{type(method).__name__}") and manifest["metrics"] == {"auc": 0.5}
    return loaded
