import numpy as np

from resad_tf.physics.clustering import cluster_jets


def test_matches_reference_fastjet_jets_event_by_event(tiny_jets, reference_jets):
    ref = reference_jets
    mass = tiny_jets.mass * 1000  # GeV
    for j in (0, 1):
        dm = np.abs(mass[:, j] - ref[f"mj{j + 1}"].to_numpy())
        assert np.mean(dm < 1.0) > 0.99
        # same jet in the same slot: momenta agree, so the pT ordering matches
        p_ref = ref[[f"pxj{j + 1}", f"pyj{j + 1}", f"pzj{j + 1}"]].to_numpy()
        assert np.mean(np.all(np.abs(tiny_jets.p4[:, j, :3] * 1000 - p_ref) < 1.0, axis=1)) > 0.99
    p = ref[["pxj1", "pyj1", "pzj1"]].to_numpy() + ref[["pxj2", "pyj2", "pzj2"]].to_numpy()
    e = sum(
        np.sqrt(ref[f"mj{k}"] ** 2 + np.sum(ref[[f"pxj{k}", f"pyj{k}", f"pzj{k}"]] ** 2, axis=1))
        for k in (1, 2)
    ).to_numpy()
    mjj_ref = np.sqrt(e**2 - np.sum(p**2, axis=1))
    assert np.mean(np.abs(tiny_jets.mjj() * 1000 - mjj_ref) < 1.0) > 0.99
    assert np.all(tiny_jets.pt[:, 0] >= tiny_jets.pt[:, 1])


def test_constituents_add_up_to_their_jet(tiny_jets):
    pt, eta, phi = tiny_jets.constituents.T
    four = np.column_stack(
        [pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)]
    )
    sums = np.zeros((tiny_jets.counts.size, 4))
    np.add.at(sums, tiny_jets.jet_index, four)
    np.testing.assert_allclose(sums.reshape(tiny_jets.p4.shape), tiny_jets.p4, atol=1e-9)
    c = tiny_jets.constituents_of(5, 1)
    assert len(c) == tiny_jets.counts[5, 1]


def test_events_with_few_particles_keep_their_row():
    parts = np.zeros((3, 6, 3))
    parts[0, :2] = [(1.0, 0.0, 0.0), (0.9, 0.2, 3.1)]  # two far-apart particles -> 2 jets
    parts[1, 0] = (0.5, 1.0, 1.0)  # one particle -> 1 jet
    jets = cluster_jets(parts)
    assert jets.n_found.tolist() == [2, 1, 0]
    assert jets.counts.tolist() == [[1, 1], [1, 0], [0, 0]]
    assert np.all(jets.p4[2] == 0) and np.all(jets.p4[1, 1] == 0)
    assert jets.mjj()[1:].tolist() == [0.0, 0.0] and jets.mjj()[0] > 1.5
