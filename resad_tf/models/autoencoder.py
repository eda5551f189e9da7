"""Autoencoders (Keras 3): a dense AE and VAE on feature vectors, a sparse-conv AE on jet images.

* :func:`build_autoencoder` — a plain functional Keras model x -> hidden ->
  latent -> hidden -> x (saved ``.keras`` files load with keras alone).
* :class:`VAE` — Gaussian encoder q(z|x) = N(mean, exp(log_var)), standard
  normal prior, Gaussian decoder of unit variance, trained on the negative
  ELBO ``0.5 |x - x_hat|^2 + beta KL(q || p)`` with the reparameterization
  trick; :meth:`VAE.elbo_terms` estimates both terms per event.
* :class:`SparseAutoencoder` — submanifold + strided sparse convolutions
  (:mod:`resad_tf.models.sparse`) down to a dense bottleneck per image, then
  transposed sparse convolutions back onto the input's active sites: it
  reconstructs the pixel values where the image is active.
* :func:`fit_autoencoder` — the one Keras training loop of the dense models
  (Adam, early stopping on a random validation split, best weights kept);
  :func:`fit_sparse_autoencoder` — its counterpart for the sparse model.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(256, 4)).astype("float32")
>>> ae = build_autoencoder(4, latent_dim=2, hidden=(8,))
>>> history = fit_autoencoder(ae, x, epochs=2, seed=0, verbose=False)
>>> reconstruction_error(ae, x).shape
(256,)
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from keras import ops  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from resad_tf.errors import InputError, TrainingDiverged  # noqa: E402
from resad_tf.models.sparse import (  # noqa: E402
    SparseConv2D,
    SparseConv2DTranspose,
    SparseImageBatch,
    SubmanifoldConv2D,
)


def _check_sizes(n_features: int, latent_dim: int, hidden) -> None:
    if n_features < 1 or latent_dim < 1 or any(h < 1 for h in hidden):
        raise InputError(f"autoencoder sizes must be positive: n_features={n_features}, "
                         f"latent_dim={latent_dim}, hidden={tuple(hidden)}")


def _mlp(n_in: int, sizes, n_out: int, name: str) -> keras.Model:
    x = inputs = keras.Input((n_in,), name=f"{name}_input")
    for i, size in enumerate(sizes):
        x = keras.layers.Dense(size, activation="relu", name=f"{name}_{i}")(x)
    return keras.Model(inputs, keras.layers.Dense(n_out, name=f"{name}_out")(x), name=name)


def build_autoencoder(n_features: int, latent_dim: int = 2, hidden=(32, 32)) -> keras.Model:
    """x -> ReLU ``hidden`` -> linear latent -> reversed ``hidden`` -> linear x_hat."""
    _check_sizes(n_features, latent_dim, hidden)
    encoder = _mlp(n_features, hidden, latent_dim, "encoder")
    decoder = _mlp(latent_dim, tuple(reversed(hidden)), n_features, "decoder")
    x = keras.Input((n_features,), name="x")
    return keras.Model(x, decoder(encoder(x)), name="autoencoder")


def reconstruction_error(model: keras.Model, x, batch_size: int = 65536) -> np.ndarray:
    """Mean squared reconstruction error per row of ``x``."""
    x = np.asarray(x, np.float32)
    parts = [np.mean((x[i:i + batch_size] - np.asarray(model(x[i:i + batch_size]))) ** 2, axis=1)
             for i in range(0, len(x), batch_size)]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros(0)


def gaussian_nll(x, x_hat):
    """-log N(x; x_hat, 1) per row, up to the constant: 0.5 * sum of squared residuals."""
    return 0.5 * ops.sum(ops.square(x - x_hat), axis=-1)


@keras.saving.register_keras_serializable("resad_tf")
class VAE(keras.Model):
    """Variational autoencoder; ``vae(x)`` is the reconstruction (sampled z when training)."""

    def __init__(self, n_features: int, latent_dim: int = 2, hidden=(32, 32), beta: float = 1.0,
                 seed: int = 0, **kwargs):
        super().__init__(**kwargs)
        _check_sizes(n_features, latent_dim, hidden)
        if beta < 0:
            raise InputError(f"VAE beta must be >= 0, got {beta}")
        self.n_features, self.latent_dim, self.hidden = n_features, latent_dim, tuple(hidden)
        self.beta, self.seed = float(beta), int(seed)
        self.encoder = _mlp(n_features, self.hidden, 2 * latent_dim, "encoder")
        self.decoder = _mlp(latent_dim, tuple(reversed(self.hidden)), n_features, "decoder")
        self.noise = keras.random.SeedGenerator(seed)

    def encode(self, x):
        """(mean, log_var) of q(z | x)."""
        out = self.encoder(x)
        return out[:, : self.latent_dim], out[:, self.latent_dim:]

    @staticmethod
    def kl(mean, log_var):
        """KL(N(mean, exp(log_var)) || N(0, 1)) per row."""
        return 0.5 * ops.sum(ops.exp(log_var) + ops.square(mean) - 1.0 - log_var, axis=-1)

    def call(self, x, training=False):
        mean, log_var = self.encode(x)
        z = mean
        if training:
            z = mean + ops.exp(0.5 * log_var) * keras.random.normal(ops.shape(mean), seed=self.noise)
        self.add_loss(self.beta * ops.mean(self.kl(mean, log_var)))
        return self.decoder(z)

    def elbo_terms(self, x, n_samples: int = 8, seed=0, batch_size: int = 65536):
        """Per row: (E_q[0.5 |x - x_hat|^2] from ``n_samples`` draws of z, KL(q || p)).

        The negative ELBO is ``reconstruction + KL`` (+ a constant); ``beta`` is not applied.
        """
        rng = np.random.default_rng(seed)
        x = np.asarray(x, np.float32)
        rec, kl = [], []
        for i in range(0, len(x), batch_size):
            xb = x[i:i + batch_size]
            mean, log_var = (np.asarray(t) for t in self.encode(xb))
            terms = [np.asarray(gaussian_nll(xb, self.decoder(
                (mean + np.exp(0.5 * log_var) * rng.normal(size=mean.shape)).astype(np.float32))))
                for _ in range(n_samples)]
            rec.append(np.mean(terms, axis=0))
            kl.append(np.asarray(self.kl(mean, log_var)))
        if not rec:
            return np.zeros(0), np.zeros(0)
        return np.concatenate(rec).astype(np.float64), np.concatenate(kl).astype(np.float64)

    def get_config(self):
        return {**super().get_config(), "n_features": self.n_features, "latent_dim": self.latent_dim,
                "hidden": list(self.hidden), "beta": self.beta, "seed": self.seed}


def fit_autoencoder(model: keras.Model, x, *, epochs: int = 50, batch_size: int = 256,
                    learning_rate: float = 1e-3, patience: int = 5, val_fraction: float = 0.2,
                    seed=0, verbose: bool = True) -> dict:
    """Train ``model`` to reproduce ``x`` (MSE for a plain AE, the negative ELBO for a VAE).

    A random ``val_fraction`` of the rows steers early stopping; the weights of
    the lowest validation loss are kept.  Returns the Keras history dict.
    """
    x = np.asarray(x, np.float32)
    if len(x) < 10 or not 0 < val_fraction < 1:
        raise InputError(f"autoencoder training needs >= 10 rows and 0 < val_fraction < 1; "
                         f"got {len(x)} rows, val_fraction={val_fraction}")
    keras.utils.set_random_seed(int(np.random.default_rng(seed).integers(2**31)))
    perm = np.random.default_rng(seed).permutation(len(x))
    n_val = max(1, int(round(val_fraction * len(x))))
    x_val, x_train = x[perm[:n_val]], x[perm[n_val:]]
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss=gaussian_nll if isinstance(model, VAE) else "mse")
    stop = keras.callbacks.EarlyStopping(patience=patience, restore_best_weights=True)
    history = model.fit(x_train, x_train, validation_data=(x_val, x_val), epochs=epochs, batch_size=batch_size,
                        callbacks=[stop, keras.callbacks.TerminateOnNaN()], verbose=2 if verbose else 0)
    if not np.isfinite(history.history.get("val_loss", [np.nan])).any():
        raise TrainingDiverged(f"{type(model).__name__} training diverged: the validation loss was NaN/inf in "
                               f"every epoch (learning_rate={learning_rate}); try a smaller learning_rate and "
                               "check that the features are finite and standardized")
    return history.history


# ----------------------------------------------------------------------------- sparse AE
@keras.saving.register_keras_serializable("resad_tf")
class SparseAutoencoder(keras.Model):
    """Sparse-conv AE of ``npix`` x ``npix`` images with ``n_channels`` channels.

    Encoder: per level a submanifold conv and a stride-2 sparse conv
    (``filters`` gives the channels per level); the coarsest sites are placed
    on a small dense (npix / 2^levels)^2 grid and a Dense layer maps it to the
    ``latent_dim`` bottleneck.  Decoder: Dense back to that grid, read at the
    coarse sites, then per level a submanifold conv and a transposed sparse
    conv onto the finer sites, ending on the input's active sites.

    ``model(features, coords, n_images)`` returns the reconstructed features
    (n_sites, n_channels); ``model.encode(...)`` the (n_images, latent_dim)
    bottleneck.
    """

    def __init__(self, npix: int = 20, n_channels: int = 3, filters=(16, 32), latent_dim: int = 128,
                 **kwargs):
        super().__init__(**kwargs)
        self.npix, self.n_channels = int(npix), int(n_channels)
        self.filters, self.latent_dim = tuple(int(f) for f in filters), int(latent_dim)
        levels = len(self.filters)
        if levels < 1 or self.npix % 2**levels or latent_dim < 1 or min(self.filters) < 1:
            raise InputError(f"SparseAutoencoder: npix={npix} must be divisible by 2^{levels} "
                             f"(one halving per entry of filters={self.filters}), latent_dim >= 1")
        self.grid = self.npix // 2**levels
        f = self.filters
        relu = dict(activation="relu")
        # level l: submanifold conv (c_in -> f[l]) at its resolution, then stride-2 conv (f[l] -> f[l])
        self.enc_sub = [SubmanifoldConv2D(c, **relu) for c in f]
        self.enc_down = [SparseConv2D(c, **relu) for c in f]
        self.to_latent = keras.layers.Dense(self.latent_dim)
        self.from_latent = keras.layers.Dense(self.grid * self.grid * f[-1], **relu)
        # mirrored: submanifold conv (f[l] -> f[l]), then upsampling (f[l] -> f[l - 1], f[0] at the top)
        up_out = (f[0], *f[:-1])
        self.dec_sub = [SubmanifoldConv2D(c, **relu) for c in reversed(f)]
        self.dec_up = [SparseConv2DTranspose(c, **relu) for c in reversed(up_out)]
        self.out_layer = SubmanifoldConv2D(self.n_channels)
        # build every layer now: weights exist before the first call (and for .keras loading)
        for layer, c_in in zip(self.enc_sub, (self.n_channels, *f[:-1])):
            layer.build((None, c_in))
        for layer, c_in in zip([*self.enc_down, *self.dec_sub, *self.dec_up], [*f, *f[::-1], *f[::-1]]):
            layer.build((None, c_in))
        self.to_latent.build((None, self.grid * self.grid * f[-1]))
        self.from_latent.build((None, self.latent_dim))
        self.out_layer.build((None, f[0]))
        self.built = True

    def _encode(self, features, coords, n_images):
        levels = [coords]
        x = features
        for sub, down in zip(self.enc_sub, self.enc_down):
            x = sub(x, levels[-1])
            coarse, x = down(x, levels[-1])
            levels.append(coarse)
        grid = tf.scatter_nd(levels[-1], x, tf.stack(
            [tf.cast(n_images, tf.int64), self.grid, self.grid, self.filters[-1]]))
        return self.to_latent(tf.reshape(grid, [-1, self.grid * self.grid * self.filters[-1]])), levels

    def encode(self, features, coords, n_images):
        return self._encode(features, coords, n_images)[0]

    def call(self, features, coords, n_images):
        z, levels = self._encode(features, coords, n_images)
        grid = tf.reshape(self.from_latent(z), [-1, self.grid, self.grid, self.filters[-1]])
        x = tf.gather_nd(grid, levels[-1])
        for sub, up, coarse, fine in zip(self.dec_sub, self.dec_up, levels[:0:-1], levels[-2::-1]):
            x = up(sub(x, coarse), coarse, fine)
        return self.out_layer(x, coords)

    def get_config(self):
        return {**super().get_config(), "npix": self.npix, "n_channels": self.n_channels,
                "filters": list(self.filters), "latent_dim": self.latent_dim}


def model_inputs(batch: SparseImageBatch) -> tuple:
    """(features, coords, n_images) tensors: the arguments of a SparseAutoencoder call."""
    return (tf.constant(batch.features), tf.constant(batch.coords),
            tf.constant(batch.n_images, tf.int64))


def _site_errors(model, batch: SparseImageBatch):
    """Squared error summed over channels at every active site."""
    rec = model(*model_inputs(batch))
    return tf.reduce_sum(tf.square(rec - batch.features), axis=1)


def image_errors(model: SparseAutoencoder, batch: SparseImageBatch, batch_images: int = 4096):
    """(summed squared error, active sites) of every image: the reconstruction error ingredients."""
    err, sites = np.zeros(batch.n_images), np.zeros(batch.n_images)
    for lo in range(0, batch.n_images, batch_images):
        ids = np.arange(lo, min(lo + batch_images, batch.n_images))
        part = batch.select(ids)
        site_err = np.asarray(_site_errors(model, part), np.float64)
        err[ids] = np.bincount(part.coords[:, 0], site_err, minlength=len(ids))
        sites[ids] = np.bincount(part.coords[:, 0], minlength=len(ids))
    return err, sites


def bottleneck(model: SparseAutoencoder, batch: SparseImageBatch, batch_images: int = 4096) -> np.ndarray:
    """(n_images, latent_dim) bottleneck features."""
    parts = [np.asarray(model.encode(*model_inputs(b))) for b in (
        batch.select(np.arange(lo, min(lo + batch_images, batch.n_images)))
        for lo in range(0, batch.n_images, batch_images))]
    return np.concatenate(parts).astype(np.float64) if parts else np.zeros((0, model.latent_dim))


def fit_sparse_autoencoder(model: SparseAutoencoder, batch: SparseImageBatch, *, group: int = 1,
                           epochs: int = 10, batch_size: int = 256, learning_rate: float = 1e-3,
                           patience: int = 3, val_fraction: float = 0.2, seed=0,
                           verbose: bool = True) -> dict:
    """Train on the mean squared error at the active sites; early stopping on a validation split.

    Images are split into train/validation and batched in groups of ``group``
    consecutive images (2 = the two jets of one event stay together).
    Returns ``{"loss": [...], "val_loss": [...]}``; the best weights are kept.
    """
    n_groups = batch.n_images // group
    if n_groups < 10 or batch.n_images % group:
        raise InputError(f"sparse AE training needs >= 10 groups of {group} images, got {batch.n_images} images")
    rng = np.random.default_rng(seed)
    keras.utils.set_random_seed(int(rng.integers(2**31)))
    perm = rng.permutation(n_groups)
    n_val = max(1, int(round(val_fraction * n_groups)))
    val_groups, train_groups = perm[:n_val], perm[n_val:]
    as_images = lambda g: (g[:, None] * group + np.arange(group)).ravel()  # noqa: E731
    val = batch.select(as_images(np.sort(val_groups)))
    optimizer = keras.optimizers.Adam(learning_rate)
    optimizer.build(model.trainable_variables)  # slots exist before tracing: one trace, not two
    signature = [tf.TensorSpec([None, batch.features.shape[1]], tf.float32),
                 tf.TensorSpec([None, 3], tf.int64), tf.TensorSpec([], tf.int64)]

    @tf.function(input_signature=signature, autograph=False)
    def step(features, coords, n_images):
        with tf.GradientTape() as tape:
            rec = model(features, coords, n_images)
            loss = tf.reduce_mean(tf.square(rec - features))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    @tf.function(input_signature=signature, autograph=False)
    def val_loss(features, coords, n_images):
        return tf.reduce_mean(tf.square(model(features, coords, n_images) - features))

    history, best, waited = {"loss": [], "val_loss": []}, (np.inf, None), 0
    for epoch in tqdm(range(epochs), desc="sparse AE", unit="epoch", disable=not verbose):
        order = rng.permutation(train_groups)
        losses = []
        for lo in range(0, len(order), batch_size):
            part = batch.select(as_images(order[lo:lo + batch_size]))
            losses.append(float(step(*model_inputs(part))))
        history["loss"].append(float(np.mean(losses)))
        history["val_loss"].append(float(val_loss(*model_inputs(val))))
        if history["val_loss"][-1] < best[0]:
            best, waited = (history["val_loss"][-1], model.get_weights()), 0
        else:
            waited += 1
            if waited >= patience:
                break
    if best[1] is None:
        raise TrainingDiverged(f"sparse autoencoder training diverged: the validation loss was NaN/inf in every "
                               f"epoch (learning_rate={learning_rate}); try a smaller learning_rate")
    model.set_weights(best[1])
    return history
