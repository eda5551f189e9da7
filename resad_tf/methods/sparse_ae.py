"""A sparse-convolution autoencoder on jet images, and its bottleneck features + XGBoost.

Each event's two leading jets become 3-channel images (pT, E, log pT;
:mod:`resad_tf.physics.images`), a few percent of whose pixels are active.
A :class:`~resad_tf.models.autoencoder.SparseAutoencoder` (submanifold and
strided sparse convolutions, a dense bottleneck of ``latent_dim`` per jet,
transposed sparse convolutions back onto the active pixels) learns to
reconstruct the active pixels of background-dominated jets.  Two scores:

* ``reconstruction``: the mean squared error over the event's active pixels
  (fully unsupervised);
* ``xgb`` (default, the stronger one): the bottleneck features of both jets
  feed an XGBoost classifier trained weakly supervised, signal-region data
  (1) against a background estimate (0).  ``xgb_background=sidebands`` (default)
  is CWoLa-like: the data in sidebands of ``sideband_width`` next to the SR,
  each sideband weighted to half the SR total, the estimate a real analysis
  has; ``xgb_background=reference`` uses the pure-background SR sample (the
  idealized detector's), the best case.

Pixel values are made comparable between jets (pT and E as fractions of the
jet's total, log pT as is), then standardized per channel on the training
pixels.

Data: these methods need constituents.  :func:`jet_image_data` clusters raw
particles, computes the v2 features (-> :class:`Events`) and the images of
the two leading jets; :func:`load_constituents` does that in chunks for the
constituent toy or a raw LHCO file.  The events carry an ``event_id`` column
(last), the row of their images in the image store; the method is given the
store (``SparseAE(config, images=store)``) and reads the images of the events
it is given by that id.  :func:`constituents_source` is the pipeline's data
source for ``bin/sparse_ae``: it loads constituents and hands the pipeline
the regions and the image store.

>>> src = load_constituents("toy_constituents", n_background=1500, n_signal=300, seed=0, quiet=True)
>>> src.events.features[-1], src.images.n_images == 2 * len(src.events)
('event_id', True)
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np
from tqdm.auto import tqdm

from resad_tf.component import load_part, save_part
from resad_tf.config import MAX_ITERATIONS, Options, option
from resad_tf.data import Events, Regions
from resad_tf.errors import InputError
from resad_tf.methods.autoencoder import TRAIN_ON, training_sample
from resad_tf.methods.base import Method
from resad_tf.models.sparse import SparseImageBatch

EVENT_ID = "event_id"
TOY = "toy_constituents"
SCORES = ("xgb", "reconstruction")
BACKGROUNDS = ("sidebands", "reference")


# ----------------------------------------------------------------------------- data
@dataclasses.dataclass(frozen=True, eq=False)
class JetImageData:
    """Events (features + ``event_id``) and the images of their jets: event i -> images 2i, 2i+1."""

    events: Events
    images: SparseImageBatch

    @staticmethod
    def concat(parts: list["JetImageData"]) -> "JetImageData":
        coords, n = [], 0
        for p in parts:
            c = p.images.coords.copy()
            c[:, 0] += n
            coords.append(c)
            n += p.images.n_images
        images = SparseImageBatch(np.concatenate(coords), np.concatenate([p.images.features for p in parts]),
                                  n, parts[0].images.npix)
        return JetImageData(Events.concat([p.events for p in parts]), images)


def jet_image_data(particles, labels=None, *, npix: int = 20, feature_set: str = "standard",
                   first_id: int = 0, source: str = "constituents") -> JetImageData:
    """Cluster zero-padded ``particles`` (n, n_particles, 3; pT in TeV): features and jet images.

    Event i gets ``event_id = first_id + i``; its leading-pT jet is image 2i, the other 2i + 1.
    """
    from resad_tf.data.features import from_v2
    from resad_tf.physics.clustering import cluster_jets
    from resad_tf.physics.images import jet_images
    from resad_tf.physics.prepare import jet_features

    events = from_v2(jet_features(particles, labels), feature_set, source=source)
    jets = cluster_jets(particles, n_jets=2)
    images = SparseImageBatch.from_sparse_images(jet_images(jets.constituents, jets.counts.ravel(), npix=npix))
    ids = first_id + np.arange(len(events), dtype=np.float64)
    return JetImageData(events.with_features(np.column_stack([events.x, ids]), events.features + (EVENT_ID,)),
                        images)


def load_constituents(spec: str, *, n_background: int = 20_000, n_signal: int = 2_000, max_events=None,
                      npix: int = 20, feature_set: str = "standard", seed=0, chunksize: int = 5_000,
                      quiet: bool = False, flag: str = "--data") -> JetImageData:
    """Events + jet images from ``"toy_constituents"`` (or ``"toy"``; generated) or a raw LHCO ``.h5`` file.

    The toy draws ``n_background`` QCD-like and ``n_signal`` W' events
    (:mod:`resad_tf.data.toy_constituents`); a raw file is read from its first
    row, ``max_events`` rows at most (all by default).
    """
    from resad_tf.data.toy_constituents import generate_raw

    if spec in ("toy", TOY):
        rng = np.random.default_rng(seed)
        plan = [(min(chunksize, n_background - lo), 0) for lo in range(0, n_background, chunksize)]
        plan += [(0, min(chunksize, n_signal - lo)) for lo in range(0, n_signal, chunksize)]
        chunks = (generate_raw(nb, ns, rng) for nb, ns in plan)
        total, source = n_background + n_signal, f"{TOY}(seed={seed})"
    else:
        from resad_tf.data.raw import iter_raw_chunks, n_raw_events

        if not pathlib.Path(spec).exists():
            raise InputError(f"{flag}={spec}: file or directory not found (use {flag}={TOY} for the "
                             "constituent toy, or a raw LHCO .h5 file)")
        total = n_raw_events(spec) if max_events is None else min(int(max_events), n_raw_events(spec))
        chunks = ((p, lab) for _, p, lab in iter_raw_chunks(spec, chunksize, stop=total))
        source = str(spec)
    parts, first = [], 0
    with tqdm(total=total, unit="ev", desc="jets + images", disable=quiet) as progress:
        for particles, labels in chunks:
            parts.append(jet_image_data(particles, labels, npix=npix, feature_set=feature_set,
                                        first_id=first, source=source))
            first += len(particles)
            progress.update(len(particles))
    return JetImageData.concat(parts)


def normalized_pixels(images: SparseImageBatch) -> np.ndarray:
    """Pixel features with the pT and E channels as fractions of their jet's totals."""
    totals = np.stack([np.bincount(images.coords[:, 0], images.features[:, c], minlength=images.n_images)
                       for c in (0, 1)], axis=1)
    out = images.features.astype(np.float64).copy()
    out[:, :2] /= np.maximum(totals[images.coords[:, 0]], 1e-12)
    return out


# ----------------------------------------------------------------------------- method
@dataclasses.dataclass(frozen=True)
class SparseAEConfig(Options):
    score: str = option("xgb", "score: xgb (bottleneck features -> weakly supervised XGBoost) or "
                        "reconstruction (mean squared error over the active pixels)", choices=SCORES)
    xgb_background: str = option("sidebands", "XGBoost background estimate: sidebands (CWoLa-like) or "
                                 "reference (the pure-background SR sample, idealized)", choices=BACKGROUNDS)
    sideband_width: float = option(0.2, "width of each sideband in TeV for xgb_background=sidebands "
                                   "(the shared --sb_width overrides it)", gt=0)
    train_on: str = option("sb", "autoencoder training sample: sb, sr or data", choices=TRAIN_ON)
    npix: int = option(20, "image pixels per side (divisible by 2^len(filters))", ge=1)
    filters: tuple[int, ...] = option((16, 32), "channels per encoder level (one stride-2 halving each)", ge=1)
    latent_dim: int = option(128, "bottleneck size per jet", ge=1)
    epochs: int = option(20, "maximum autoencoder epochs", ge=1, le=MAX_ITERATIONS)
    batch_size: int = option(128, "events per batch (two jet images each)", ge=1)
    learning_rate: float = option(1e-3, "Adam learning rate", gt=0)
    patience: int = option(3, "early-stopping patience in epochs", ge=0)
    val_fraction: float = option(0.2, "fraction of the training events used for validation", gt=0, lt=1)
    n_estimators: int = option(10, "XGBoost ensemble members", ge=1, le=MAX_ITERATIONS)
    max_iter: int = option(200, "XGBoost boosting rounds per member", ge=1, le=MAX_ITERATIONS)
    max_events: int = option(20_000, "bin/sparse_ae: at most this many constituent events are generated "
                             "per class (toy) or read (raw file)", ge=1)

    def __post_init__(self):
        super().__post_init__()
        levels = len(self.filters)
        if levels < 1 or self.npix % 2**levels:
            raise InputError(f"--npix={self.npix} with --filters={','.join(map(str, self.filters))}: need at least "
                             f"one filter level and npix divisible by 2^{levels} = {2**levels}")


class SparseAE(Method):
    """Sparse-conv AE on the two jets' images: ``SparseAE(config, images=store).fit(regions)``.

    ``images`` is the store the events' ``event_id`` column points into
    (event i -> images 2i, 2i+1; :func:`load_constituents`).  It is data, not
    part of the trained model: a loaded model gets it by ``model.images = store``.
    """

    name = "sparse_ae"
    Config = SparseAEConfig
    inputs = "jet images"
    transient = ("verbose", "images")

    def __init__(self, config=None, *, images: SparseImageBatch | None = None, seed: int = 0, verbose: bool = True):
        super().__init__(config, seed=seed, verbose=verbose)
        self.images = images

    def _pixels(self, events: Events) -> SparseImageBatch:
        """The events' jet images (2 per event) with normalized, not yet standardized, pixels."""
        if self.images is None:
            raise InputError("sparse_ae needs jet images: build it with SparseAE(config, images=load_constituents(...)"
                             ".images) or run bin/sparse_ae --data=toy_constituents (or a raw LHCO .h5)")
        if not events.features or events.features[-1] != EVENT_ID:
            raise InputError(f"{events.source}: events have no '{EVENT_ID}' column; load them with "
                             "resad_tf.methods.sparse_ae.load_constituents")
        ids = events.x[:, -1].astype(np.int64)
        if len(ids) and (ids.min() < 0 or 2 * ids.max() + 1 >= self.images.n_images):
            raise InputError(f"{events.source}: event ids beyond the {self.images.n_images // 2} events "
                             "of the bound image store")
        images = self.images.select(np.column_stack([2 * ids, 2 * ids + 1]).ravel())
        return images.with_features(normalized_pixels(images))

    def _model_images(self, events: Events) -> SparseImageBatch:
        images = self._pixels(events)
        return images.with_features((images.features - self.pixel_mean_) / self.pixel_scale_)

    def _fit(self, regions: Regions) -> None:
        import keras

        from resad_tf.models.autoencoder import SparseAutoencoder, fit_sparse_autoencoder

        cfg = self.config
        if self.images is not None and self.images.npix != cfg.npix:
            raise InputError(f"--npix={cfg.npix} but the bound images have {self.images.npix} pixels per side")
        train = training_sample(regions, cfg.train_on, self.name)
        pixels = self._pixels(train).features
        self.pixel_mean_ = pixels.mean(axis=0)
        self.pixel_scale_ = np.maximum(pixels.std(axis=0), 1e-6)
        keras.utils.set_random_seed(int(self.seed))
        self.model_ = SparseAutoencoder(cfg.npix, pixels.shape[1], cfg.filters, cfg.latent_dim)
        self.history_ = fit_sparse_autoencoder(
            self.model_, self._model_images(train), group=2, epochs=cfg.epochs, batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate, patience=cfg.patience, val_fraction=cfg.val_fraction,
            seed=self.seed, verbose=self.verbose)
        self.discriminator_ = self._fit_classifier(regions) if cfg.score == "xgb" else None

    def bottleneck(self, events: Events) -> np.ndarray:
        """(n, 2 * latent_dim): the bottleneck features of both jets."""
        from resad_tf.models.autoencoder import bottleneck

        return bottleneck(self.model_, self._model_images(events)).reshape(len(events), -1)

    def reconstruction_error(self, events: Events) -> np.ndarray:
        """Mean squared error per active pixel and channel over both jets."""
        from resad_tf.models.autoencoder import image_errors

        err, sites = image_errors(self.model_, self._model_images(events))
        err, sites = err.reshape(-1, 2).sum(axis=1), sites.reshape(-1, 2).sum(axis=1)
        return err / np.maximum(sites * self.model_.n_channels, 1)

    def _fit_classifier(self, regions: Regions):
        from resad_tf.methods.classify import ClassifierOptions, Discriminator
        from resad_tf.methods.cwola import sideband_weights

        cfg = self.config
        sr = regions.sr
        if cfg.xgb_background == "reference":
            if regions.reference is None:
                raise InputError("--xgb_background=reference needs a pure-background SR sample "
                                 "(labelled data, or use --xgb_background=sidebands)")
            x0, w0 = regions.reference, regions.reference.weight
        else:
            window = regions.window
            if window.sb_width is None:
                window = dataclasses.replace(window, sb_width=cfg.sideband_width)
            x0 = regions.data.select(window.sb(regions.data.mjj))
            if len(x0) == 0:
                regions.require_sidebands(self.name)
            w0 = x0.weight * sideband_weights(x0.mjj, window, len(sr))
        opts = ClassifierOptions(classifier="xgb", n_estimators=cfg.n_estimators, max_iter=cfg.max_iter)
        return Discriminator(opts, seed=self.seed, verbose=self.verbose).fit(
            self.bottleneck(sr), self.bottleneck(x0), sr.weight, w0)

    def _score(self, events: Events) -> np.ndarray:
        if self.discriminator_ is None:
            return self.reconstruction_error(events)
        return self.discriminator_.predict(self.bottleneck(events))

    def _save_state(self, directory: pathlib.Path) -> dict:
        """``sparse_ae.keras`` (needs resad_tf imported to load), the pixel standardization, ``discriminator/``."""
        from resad_tf.outputs import atomic_path

        directory.mkdir(parents=True, exist_ok=True)
        with atomic_path(directory / "sparse_ae.keras") as tmp:
            self.model_.save(tmp)
        return {"pixel_mean": self.pixel_mean_.tolist(), "pixel_scale": self.pixel_scale_.tolist(),
                "pixel_normalization": "pT and E as fractions of the jet total",
                "discriminator": None if self.discriminator_ is None
                else save_part(self.discriminator_, directory / "discriminator")}

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        import keras

        from resad_tf.models.autoencoder import SparseAutoencoder  # noqa: F401  (registers it for loading)

        self.model_ = keras.saving.load_model(directory / "sparse_ae.keras")
        self.pixel_mean_, self.pixel_scale_ = np.asarray(state["pixel_mean"]), np.asarray(state["pixel_scale"])
        entry = state["discriminator"]
        self.discriminator_ = None if entry is None else load_part(entry, directory / "discriminator")

    def diagnostics(self, directory) -> dict:
        val = self.history_["val_loss"]
        return {"ae_epochs_trained": len(val), "ae_best_val_loss": float(np.min(val))}


# ----------------------------------------------------------------------------- the pipeline's data source
def constituents_source(opts, method_cls, config):
    """The data source of ``bin/sparse_ae`` (see :mod:`resad_tf.pipeline`): constituents -> regions + images.

    ``--data`` is ``toy_constituents`` (or ``toy``; the constituent toy, with
    ``--toy_n_background`` / ``--toy_n_signal`` capped by ``config.max_events``)
    or a raw LHCO ``.h5`` file (its first ``config.max_events`` rows).  The
    image store reaches the method as its ``images`` argument.
    """
    from resad_tf import data
    from resad_tf.pipeline import RunData, pool_size

    window = data.Window.parse(opts.sr, opts.sb_width)
    for flag in ("test", "background", "signal", "simulation"):
        if getattr(opts, flag) is not None:
            raise InputError(f"--{flag} is not supported by sparse_ae (its samples come from --data)")
    if opts.noise_features:
        raise InputError("--noise_features is not supported by sparse_ae")
    source = load_constituents(opts.data, n_background=min(pool_size(opts.toy_n_background, opts.holdout),
                                                            config.max_events),
                               n_signal=min(opts.toy_n_signal, config.max_events), max_events=config.max_events,
                               npix=config.npix, feature_set=opts.feature_set, seed=opts.seed, quiet=opts.quiet)
    n_sig = opts.n_sig
    if n_sig is None:
        n_sig = 1000 if opts.data in ("toy", TOY) else -1
    regions = data.make_regions(source.events, window, n_sig=None if n_sig == -1 else n_sig,
                                holdout=opts.holdout, seed=opts.seed)
    return RunData(regions, method_inputs={"images": source.images})
