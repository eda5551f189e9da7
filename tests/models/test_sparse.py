"""Sparse convolutions against dense Keras convolutions on the same kernels, restricted to active sites."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from resad_tf.errors import InputError
from resad_tf.models.sparse import (
    SparseConv2D,
    SparseConv2DTranspose,
    SparseImageBatch,
    SubmanifoldConv2D,
    lookup,
    site_keys,
)


@pytest.fixture
def sparse_images():
    """3 random 12x12 images with 2 channels, ~85% of the pixels empty."""
    rng = np.random.default_rng(7)
    active = rng.uniform(size=(3, 12, 12)) < 0.15
    dense = (active[..., None] * rng.normal(size=(3, 12, 12, 2))).astype(np.float32)
    coords = np.argwhere(active).astype(np.int64)
    return dense, coords, dense[tuple(coords.T)]


@pytest.mark.parametrize("kernel_size", [3, 5])
def test_submanifold_equals_dense_conv_at_active_sites(sparse_images, kernel_size):
    dense, coords, feats = sparse_images
    layer = SubmanifoldConv2D(4, kernel_size=kernel_size, activation="relu", kernel_initializer="random_normal")
    out = layer(feats, coords).numpy()
    ref_layer = keras.layers.Conv2D(4, kernel_size, padding="same", activation="relu")
    ref_layer.build(dense.shape)
    ref_layer.set_weights(layer.get_weights())
    ref = ref_layer(dense).numpy()[tuple(coords.T)]
    assert out.shape == (len(coords), 4)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)
    assert np.abs(ref).max() > 0.1  # not trivially zero


def test_strided_conv_equals_dense_strided_conv(sparse_images):
    dense, coords, feats = sparse_images
    layer = SparseConv2D(5, stride=2)
    coarse, out = layer(feats, coords)
    coarse = coarse.numpy()
    ref_layer = keras.layers.Conv2D(5, 2, strides=2)
    ref_layer.build(dense.shape)
    ref_layer.set_weights(layer.get_weights())
    ref = ref_layer(dense).numpy()
    # output sites: exactly the 2x2 blocks holding an active pixel, in row-major order
    expected = np.unique(coords // [1, 2, 2], axis=0)
    np.testing.assert_array_equal(coarse, expected)
    np.testing.assert_allclose(out.numpy(), ref[tuple(coarse.T)], rtol=1e-5, atol=1e-5)


def test_transposed_conv_equals_dense_transposed_conv(sparse_images):
    dense, coords, feats = sparse_images
    coarse, coarse_feats = SparseConv2D(3, stride=2)(feats, coords)
    layer = SparseConv2DTranspose(2, stride=2)
    out = layer(coarse_feats, coarse, coords).numpy()
    grid = np.zeros((3, 6, 6, 3), np.float32)
    grid[tuple(coarse.numpy().T)] = coarse_feats.numpy()
    ref_layer = keras.layers.Conv2DTranspose(2, 2, strides=2)
    ref_layer.build(grid.shape)
    kernel, bias = layer.get_weights()
    ref_layer.set_weights([kernel.transpose(0, 1, 3, 2), bias])  # Keras stores (kh, kw, out, in)
    np.testing.assert_allclose(out, ref_layer(grid).numpy()[tuple(coords.T)], rtol=1e-5, atol=1e-5)


def test_gradients_equal_the_dense_ones(sparse_images):
    """d(sum of outputs at active sites * r)/d(kernel, input) matches the dense conv's."""
    dense, coords, feats = sparse_images
    layer = SubmanifoldConv2D(3)
    layer.build(feats.shape)
    ref_layer = keras.layers.Conv2D(3, 3, padding="same")
    ref_layer.build(dense.shape)
    ref_layer.set_weights(layer.get_weights())
    r = tf.constant(np.random.default_rng(1).normal(size=(len(coords), 3)), tf.float32)
    x_sparse, x_dense = tf.Variable(feats), tf.Variable(dense)
    with tf.GradientTape(persistent=True) as tape:
        loss = tf.reduce_sum(layer(x_sparse, coords) * r)
        ref_loss = tf.reduce_sum(tf.gather_nd(ref_layer(x_dense), coords) * r)
    g_kernel, g_x = tape.gradient(loss, [layer.kernel, x_sparse])
    ref_kernel, ref_x = tape.gradient(ref_loss, [ref_layer.kernel, x_dense])
    np.testing.assert_allclose(g_kernel.numpy(), ref_kernel.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(tf.convert_to_tensor(g_x).numpy(), ref_x.numpy()[tuple(coords.T)],
                               rtol=1e-4, atol=1e-4)
    assert np.abs(g_kernel.numpy()).sum() > 0


def test_sparsity_is_preserved_through_a_stack_in_tf_function(sparse_images):
    _, coords, feats = sparse_images
    first, second = SubmanifoldConv2D(8, activation="relu"), SubmanifoldConv2D(2)
    eager = second(first(feats, coords), coords).numpy()  # builds the layers
    spec = [tf.TensorSpec([None, 2], tf.float32), tf.TensorSpec([None, 3], tf.int64)]

    @tf.function(input_signature=spec)
    def net(f, c):
        return second(first(f, c), c)

    out = net(feats, coords).numpy()
    assert out.shape == (len(coords), 2)  # one output per active site, none elsewhere
    np.testing.assert_allclose(out, eager, rtol=1e-5, atol=1e-6)
    # the same graph serves another number of sites; a lone site sees only the kernel centre
    lone = net(feats[:1], coords[:1]).numpy()
    (k1, b1), (k2, b2) = first.get_weights(), second.get_weights()
    centre = np.maximum(feats[:1] @ k1[1, 1] + b1, 0) @ k2[1, 1] + b2
    np.testing.assert_allclose(lone, centre, rtol=1e-5, atol=1e-6)
    assert net.experimental_get_tracing_count() == 1


def test_lookup_finds_present_keys_and_flags_absent_ones():
    keys = site_keys(np.array([[0, 3, 4], [1, 0, 0], [0, 0, 1]]))
    queries = site_keys(np.array([[0, 0, 1], [0, 3, 4], [2, 0, 0], [0, -1, 1]]))
    assert lookup(keys, queries).numpy().tolist() == [2, 0, 3, 3]
    assert lookup(keys[:0], queries).numpy().tolist() == [0, 0, 0, 0]  # empty: all absent


def test_sparse_image_batch_round_trips_jet_images():
    from resad_tf.data.toy_constituents import generate_raw
    from resad_tf.physics.clustering import cluster_jets
    from resad_tf.physics.images import jet_images

    jets = cluster_jets(generate_raw(20, 5, seed=3)[0])
    images = jet_images(jets.constituents, jets.counts.ravel(), npix=16)
    batch = SparseImageBatch.from_sparse_images(images)
    np.testing.assert_array_equal(batch.to_dense(), images.to_dense())
    assert batch.sparsity > 0.9
    picked = batch.select([7, 2])
    np.testing.assert_array_equal(picked.to_dense(), images.to_dense()[[7, 2]])
    with pytest.raises(InputError, match="same"):
        SparseImageBatch(batch.coords, batch.features[:-1], batch.n_images, 16)
    with pytest.raises(InputError, match="odd"):
        SubmanifoldConv2D(4, kernel_size=2)
