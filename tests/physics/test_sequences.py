import numpy as np

from resad_tf.physics.sequences import FEATURES, constituent_sequences


def test_sequences_sorted_centred_and_padded(tiny_jets):
    counts = tiny_jets.counts[:30].ravel()
    cons = tiny_jets.constituents[: counts.sum()]
    seq, mask = constituent_sequences(cons, counts, max_len=60)
    assert seq.shape == (60, 60, len(FEATURES))
    np.testing.assert_array_equal(mask.sum(axis=1), np.minimum(counts, 60))
    assert np.all(seq[~mask] == 0)
    pt = np.exp(seq[..., FEATURES.index("log_pt")])
    start = np.cumsum(counts) - counts
    for j in (0, 7, 31):  # hardest first, the same particles as the input
        want = np.sort(cons[start[j] : start[j] + counts[j], 0])[::-1][:60]
        np.testing.assert_allclose(pt[j, mask[j]], want, rtol=1e-5)
    # relative to the jet axis (jets kept whole): sum pT sin(dphi) = 0, sum pT cos(dphi) = pT_jet
    whole = counts <= 60
    rel = np.exp(seq[..., FEATURES.index("log_pt_rel")]) * mask
    dphi = seq[..., FEATURES.index("dphi")]
    np.testing.assert_allclose(np.sum(rel * np.sin(dphi), axis=1)[whole], 0, atol=1e-5)
    np.testing.assert_allclose(np.sum(rel * np.cos(dphi), axis=1)[whole], 1, rtol=1e-5)
    np.testing.assert_allclose(np.hypot(seq[..., 0], seq[..., 1]), seq[..., 6], atol=1e-6)
