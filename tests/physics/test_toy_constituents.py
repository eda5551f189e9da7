import numpy as np
import pytest

from resad_tf.data.toy_constituents import generate_raw
from resad_tf.errors import InputError
from resad_tf.physics.clustering import cluster_jets
from resad_tf.physics.nsubjettiness import nsubjettiness


@pytest.fixture(scope="module")
def toy():
    particles, labels = generate_raw(600, 300, seed=3)
    jets = cluster_jets(particles)
    tau = nsubjettiness(jets.constituents, jets.counts.ravel()).reshape(-1, 2, 3)
    return particles, labels, jets, tau[..., 1] / tau[..., 0]


def test_deterministic_and_raw_layout():
    a, la = generate_raw(20, 10, seed=11)
    b, lb = generate_raw(20, 10, seed=np.random.default_rng(11))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (30, 700, 3) and la.tolist() == [0] * 20 + [1] * 10
    real = a[..., 0] > 0
    n = real.sum(axis=1)
    assert np.all(real[np.arange(700) < n[:, None]])  # zero padding only at the end
    assert np.all(np.abs(a[..., 2]) <= np.pi)
    assert not np.array_equal(a, generate_raw(20, 10, seed=12)[0])
    with pytest.raises(InputError):
        generate_raw(0, 0, seed=1)


def test_clustered_toy_has_lhco_like_physics(toy):
    _, labels, jets, tau21 = toy
    mass = jets.mass * 1000
    sig, bkg = labels == 1, labels == 0
    assert np.median(mass[sig].min(axis=1)) == pytest.approx(100, abs=20)
    assert np.median(mass[sig].max(axis=1)) == pytest.approx(500, abs=30)
    assert np.median(mass[bkg].max(axis=1)) < 300
    assert tau21[sig].mean() < tau21[bkg].mean() - 0.2
    assert 0.4 < tau21[bkg].mean() < 0.75
    mjj = jets.mjj()
    assert np.median(mjj[sig]) == pytest.approx(3.5, abs=0.15)
    counts, _ = np.histogram(mjj[bkg], bins=[2.7, 3.0, 3.3, 3.6, 3.9, 4.2])
    assert np.all(np.diff(counts) < 0) and np.mean(mjj[bkg] < 2.6) < 0.01
