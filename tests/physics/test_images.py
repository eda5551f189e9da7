import numpy as np
import pytest

from resad_tf.physics.images import centred_coordinates, jet_images


@pytest.fixture(scope="module")
def some_jets(tiny_jets):
    counts = tiny_jets.counts[:50].ravel()
    return tiny_jets.constituents[: counts.sum()], counts


def test_pt_conserved_and_sparse_equals_dense(some_jets):
    cons, counts = some_jets
    img = jet_images(cons, counts, npix=40, half_width=1.6)  # wide enough to hold every jet
    dense = img.to_dense()
    jet = np.repeat(np.arange(len(counts)), counts)
    np.testing.assert_allclose(
        dense[..., 0].sum(axis=(1, 2)), np.bincount(jet, cons[:, 0]), rtol=1e-5
    )
    energy = cons[:, 0] * np.cosh(cons[:, 1])
    np.testing.assert_allclose(dense[..., 1].sum(axis=(1, 2)), np.bincount(jet, energy), rtol=1e-5)
    np.testing.assert_allclose(dense[..., 2], np.log1p(dense[..., 0] / 1e-3), rtol=1e-5)
    # sparse representation: canonical order, no duplicates, same content
    flat = np.ravel_multi_index(img.indices.T, img.dense_shape)
    assert np.all(np.diff(flat) > 0)
    np.testing.assert_array_equal(dense[tuple(img.indices.T)], img.values)
    assert np.count_nonzero(dense) == np.count_nonzero(img.values)


def test_centroid_at_image_centre(some_jets):
    cons, counts = some_jets
    npix, hw = 40, 1.6
    dense = jet_images(cons, counts, npix=npix, half_width=hw).to_dense()[..., 0]
    centres = -hw + (np.arange(npix) + 0.5) * 2 * hw / npix
    pt = dense.sum(axis=(1, 2))
    row_c = np.einsum("jrc,r->j", dense, centres) / pt
    col_c = np.einsum("jrc,c->j", dense, centres) / pt
    pixel = 2 * hw / npix
    assert np.all(np.abs(row_c) < pixel / 2) and np.all(np.abs(col_c) < pixel / 2)


def test_rotation_puts_major_axis_up_and_flip_puts_pt_right():
    # a jet elongated along phi, harder particle at +phi, softer stuff at -eta
    cons = np.array([[1.0, 0.0, 0.3], [0.8, 0.0, -0.3], [0.1, -0.05, 0.0], [0.05, -0.1, 0.0]])
    x, y = centred_coordinates(cons, np.array([4]))
    assert np.all(np.abs(y[:2]) > 0.25) and np.all(np.abs(x[:2]) < 0.05)  # major axis -> vertical
    assert y[0] > 0  # hardest particle up
    assert np.sum(cons[:, 0] * (x > 0)) >= np.sum(cons[:, 0] * (x < 0))
    x0, y0 = centred_coordinates(cons, np.array([4]), rotate=False, flip=False)
    np.testing.assert_allclose(np.hypot(x, y), np.hypot(x0, y0))  # a rigid motion
    img = jet_images(cons, np.array([4]), npix=20, half_width=1.0, rotate=False).to_dense()[
        0, ..., 0
    ]
    assert (
        img.sum(axis=0).argmax() > 10 and img.sum(axis=1).std() > 0
    )  # unrotated: spread along phi
