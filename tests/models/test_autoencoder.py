"""Dense AE / VAE and the sparse-conv AE learn what they are trained on; saved models reload."""

import zipfile

import keras
import numpy as np
import pytest

from resad_tf.errors import InputError
from resad_tf.models.autoencoder import (
    VAE,
    SparseAutoencoder,
    bottleneck,
    build_autoencoder,
    fit_autoencoder,
    fit_sparse_autoencoder,
    image_errors,
    reconstruction_error,
)
from resad_tf.models.sparse import SparseImageBatch


def correlated_gaussian(n, rng, shift=0.0):
    """4-d data on a 1-d manifold plus small noise: a 1-d latent space reconstructs it."""
    t = rng.normal(size=(n, 1))
    x = np.column_stack([t, 0.8 * t, -0.5 * t, t**2 - 1]) + 0.1 * rng.normal(size=(n, 4))
    return (x + shift).astype(np.float32)


def test_autoencoder_reconstructs_its_training_distribution_best():
    rng = np.random.default_rng(0)
    x = correlated_gaussian(2000, rng)
    keras.utils.set_random_seed(0)
    ae = build_autoencoder(4, latent_dim=1, hidden=(16, 16))
    history = fit_autoencoder(ae, x, epochs=15, batch_size=256, learning_rate=1e-2, patience=5, seed=0,
                              verbose=False)
    assert history["val_loss"][-1] < history["val_loss"][0]
    same = reconstruction_error(ae, correlated_gaussian(2000, rng)).mean()
    # off the manifold (decorrelated columns): much worse
    shuffled = np.column_stack([rng.permutation(c) for c in correlated_gaussian(2000, rng).T])
    assert same < 0.1 < 0.5 * reconstruction_error(ae, shuffled).mean()


def test_vae_elbo_improves_and_kl_is_positive():
    rng = np.random.default_rng(1)
    x = correlated_gaussian(2000, rng)
    keras.utils.set_random_seed(0)
    vae = VAE(4, latent_dim=2, hidden=(16, 16), beta=1.0, seed=0)
    rec0, kl0 = vae.elbo_terms(x[:1000], seed=0)
    fit_autoencoder(vae, x, epochs=15, batch_size=256, learning_rate=1e-2, patience=5, seed=0, verbose=False)
    rec, kl = vae.elbo_terms(x[:1000], seed=0)
    # better than at the start, and better than the best model that ignores z (x_hat = mean of x)
    no_latent = 0.5 * x.var(axis=0).sum()
    assert (rec + kl).mean() < min((rec0 + kl0).mean(), 0.9 * no_latent)
    assert kl.min() >= 0 and kl.mean() > 0.1  # the latent space carries information
    shifted_rec, shifted_kl = vae.elbo_terms(x[:1000] + 3.0, seed=0)
    assert (shifted_rec + shifted_kl).mean() > 2 * (rec + kl).mean()
    with pytest.raises(InputError, match="beta"):
        VAE(4, beta=-1.0)


def test_autoencoder_keras_file_needs_only_keras(tmp_path):
    """The saved file names only Keras' own classes (nothing registered by resad_tf) and reloads exactly."""
    x = correlated_gaussian(500, np.random.default_rng(2))
    ae = build_autoencoder(4, latent_dim=1, hidden=(8,))
    fit_autoencoder(ae, x, epochs=2, seed=0, verbose=False)
    ae.save(tmp_path / "ae.keras")
    with zipfile.ZipFile(tmp_path / "ae.keras") as archive:
        config = archive.read("config.json").decode()
    assert "resad_tf" not in config and '"module": "keras' in config
    again = keras.saving.load_model(tmp_path / "ae.keras")
    np.testing.assert_allclose(np.asarray(again(x)), np.asarray(ae(x)), rtol=1e-6)


@pytest.fixture(scope="module")
def jet_batch():
    from resad_tf.data.toy_constituents import generate_raw
    from resad_tf.physics.clustering import cluster_jets
    from resad_tf.physics.images import jet_images

    jets = cluster_jets(generate_raw(400, 0, seed=4)[0])
    batch = SparseImageBatch.from_sparse_images(jet_images(jets.constituents, jets.counts.ravel(), npix=8))
    f = batch.features
    return batch.with_features((f - f.mean(0)) / f.std(0))


@pytest.mark.slow
def test_sparse_autoencoder_learns_and_round_trips(jet_batch, tmp_path):
    keras.utils.set_random_seed(0)
    model = SparseAutoencoder(npix=8, n_channels=3, filters=(8, 8), latent_dim=16)
    before = image_errors(model, jet_batch)[0].sum()
    history = fit_sparse_autoencoder(model, jet_batch, group=2, epochs=6, batch_size=64, learning_rate=3e-3,
                                     patience=6, seed=0, verbose=False)
    err, sites = image_errors(model, jet_batch)
    assert err.sum() < 0.7 * before and min(history["val_loss"]) < history["val_loss"][0]
    np.testing.assert_array_equal(sites, np.bincount(jet_batch.coords[:, 0], minlength=jet_batch.n_images))
    z = bottleneck(model, jet_batch)
    assert z.shape == (jet_batch.n_images, 16) and np.all(np.isfinite(z))
    model.save(tmp_path / "sae.keras")
    again = keras.saving.load_model(tmp_path / "sae.keras")
    np.testing.assert_allclose(bottleneck(again, jet_batch), z, rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match="divisible"):
        SparseAutoencoder(npix=10, filters=(8, 8))
