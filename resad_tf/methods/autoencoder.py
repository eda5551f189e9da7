"""Unsupervised anomaly detection with autoencoders on the high-level features.

An autoencoder trained on background-dominated data reconstructs background
well and unusual events (the signal) badly, so the reconstruction error is an
anomaly score that needs no background model and no labels (Farina, Nakai,
Shih, arXiv:1808.08992; Heimel et al., arXiv:1808.08979).  The VAE scores
with the negative ELBO (or its reconstruction / KL term), an upper bound on
-log p(x) under the learned model.

Training sample (``train_on``): the sideband data by default (background
dominated, and the signal region stays unseen), or the SR data itself (the
signal is rare, so the AE still learns mostly background), or all data.
Features are standardized by a StandardScaler fitted on the training sample.

>>> from resad_tf import data
>>> ev = data.load("toy", seed=1, toy=data.ToySpec(n_background=20_000, n_signal=2_000))
>>> regions = data.make_regions(ev, data.Window(3.3, 3.7), n_sig=1500, seed=0)
>>> ae = Autoencoder(AutoencoderConfig(epochs=3), seed=0, verbose=False).fit(regions)
>>> ae.score(regions.test).shape == (len(regions.test),)
True
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from resad_tf.component import load_part, save_part
from resad_tf.config import MAX_ITERATIONS, Options, option
from resad_tf.data import Events, Regions, StandardScaler
from resad_tf.errors import InputError
from resad_tf.methods.base import Method

TRAIN_ON = ("sb", "sr", "data")


def training_sample(regions: Regions, train_on: str, method: str) -> Events:
    """The data an unsupervised method learns from: sidebands, signal region or all data."""
    if train_on == "sb":
        return regions.require_sidebands(method)
    if train_on == "sr":
        return regions.sr
    if train_on == "data":
        return regions.data
    raise InputError(f"--train_on={train_on!r}: choose one of {TRAIN_ON}")


@dataclasses.dataclass(frozen=True)
class AutoencoderConfig(Options):
    train_on: str = option("sb", "training sample: sb (sideband data), sr (signal-region data), data (all)",
                           choices=TRAIN_ON)
    latent_dim: int = option(1, "latent dimension (small: the AE must not learn the identity)", ge=1)
    hidden: tuple[int, ...] = option((32, 32), "encoder hidden layer sizes (the decoder mirrors them)", ge=1)
    epochs: int = option(100, "maximum epochs", ge=1, le=MAX_ITERATIONS)
    batch_size: int = option(256, "batch size", ge=1)
    learning_rate: float = option(1e-3, "Adam learning rate", gt=0)
    patience: int = option(10, "early-stopping patience in epochs", ge=0)
    val_fraction: float = option(0.2, "fraction of the training sample used for validation", gt=0, lt=1)


class _ReconstructionMethod(Method):
    """Shared plumbing: pick the training sample, standardize, train, score standardized x."""

    Config = AutoencoderConfig

    def _build(self, n_features: int):  # pragma: no cover - interface
        raise NotImplementedError

    def _score_standardized(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def _fit(self, regions: Regions) -> None:
        import keras

        from resad_tf.models.autoencoder import fit_autoencoder

        cfg = self.config
        train = training_sample(regions, cfg.train_on, self.name)
        self.scaler_ = StandardScaler().fit(train.x)
        keras.utils.set_random_seed(int(self.seed))
        self.model_ = self._build(train.x.shape[1])
        self.history_ = fit_autoencoder(
            self.model_, self.scaler_.transform(train.x), epochs=cfg.epochs, batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate, patience=cfg.patience, val_fraction=cfg.val_fraction,
            seed=self.seed, verbose=self.verbose)

    def _score(self, events: Events) -> np.ndarray:
        return self._score_standardized(self.scaler_.transform(events.x))

    def _save_state(self, directory: pathlib.Path) -> dict:
        """The Keras model(s) (``_models``: file stem -> model; plain Keras loads them) and the scaler."""
        from resad_tf.outputs import atomic_path

        directory.mkdir(parents=True, exist_ok=True)
        for stem, model in self._models().items():
            with atomic_path(directory / f"{stem}.keras") as tmp:
                model.save(tmp)
        return {"scaler": save_part(self.scaler_, directory)}

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        self.scaler_ = load_part(state["scaler"], directory)
        self._restore_models(directory)

    def _models(self) -> dict:  # pragma: no cover - interface
        raise NotImplementedError

    def _restore_models(self, directory: pathlib.Path) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def diagnostics(self, directory) -> dict:
        val = self.history_["val_loss"]
        return {"epochs_trained": len(val), "best_val_loss": float(np.min(val))}


class Autoencoder(_ReconstructionMethod):
    """Score = mean squared reconstruction error of the standardized features."""

    name = "autoencoder"

    def _build(self, n_features):
        from resad_tf.models.autoencoder import build_autoencoder

        return build_autoencoder(n_features, self.config.latent_dim, self.config.hidden)

    def _score_standardized(self, x):
        from resad_tf.models.autoencoder import reconstruction_error

        return reconstruction_error(self.model_, x)

    def _models(self) -> dict:
        """``autoencoder.keras``: standardized x -> x_hat."""
        return {"autoencoder": self.model_}

    def _restore_models(self, directory):
        import keras

        self.model_ = keras.saving.load_model(directory / "autoencoder.keras")


VAE_SCORES = ("elbo", "reconstruction", "kl")


@dataclasses.dataclass(frozen=True)
class VAEConfig(AutoencoderConfig):
    latent_dim: int = option(2, "latent dimension", ge=1)
    beta: float = option(1.0, "weight of the KL term in the training loss (beta-VAE)", ge=0)
    vae_score: str = option("elbo", "score: elbo (negative ELBO), reconstruction (its reconstruction "
                            "term) or kl (its KL term)", choices=VAE_SCORES)
    n_samples: int = option(8, "latent samples per event for the ELBO estimate", ge=1)


class VAE(_ReconstructionMethod):
    """Score = negative ELBO (default), its reconstruction term or its KL term."""

    name = "vae"
    Config = VAEConfig

    def _build(self, n_features):
        from resad_tf.models.autoencoder import VAE as VAEModel

        cfg = self.config
        return VAEModel(n_features, cfg.latent_dim, cfg.hidden, beta=cfg.beta, seed=self.seed)

    def elbo_terms(self, events: Events) -> tuple[np.ndarray, np.ndarray]:
        """Per event (reconstruction term, KL term) of the negative ELBO."""
        self.check_fitted("elbo_terms()")
        return self.model_.elbo_terms(self.scaler_.transform(events.x), self.config.n_samples,
                                      seed=self.seed)

    def _score_standardized(self, x):
        rec, kl = self.model_.elbo_terms(x, self.config.n_samples, seed=self.seed)
        return {"elbo": rec + kl, "reconstruction": rec, "kl": kl}[self.config.vae_score]

    def _models(self) -> dict:
        """``encoder.keras`` (x -> [mean, log_var]) and ``decoder.keras`` (z -> x_hat)."""
        return {"encoder": self.model_.encoder, "decoder": self.model_.decoder}

    def _restore_models(self, directory):
        import keras

        self.model_ = self._build(len(self.scaler_.mean_))
        for part in ("encoder", "decoder"):
            saved = keras.saving.load_model(directory / f"{part}.keras")
            getattr(self.model_, part).set_weights(saved.get_weights())
