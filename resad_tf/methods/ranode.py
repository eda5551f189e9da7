"""R-ANODE: Residual ANODE (arXiv:2312.11629).

ANODE learns the whole SR data density and divides by the background; with
little signal that ratio of two noisy densities is mostly noise.  R-ANODE
keeps the interpolated background p_bg(x | m) fixed and fits only a (small)
signal flow p_s(x | m) on the SR data by maximizing

    log( w p_s(x | m) + (1 - w) p_bg(x | m) ),

so the signal model only has to describe what the background does not.  The
signal fraction w is fixed (a working point, e.g. from a scan) or learned.
The score is log p_s - log p_bg; :meth:`RANODE.sample_signal` draws events
from the learned signal model.  ``signal_runs`` x ``signal_checkpoints`` signal
flows (independent train/validation splits, their best epochs) give p_s as the
mean of their densities (configs/ranode.flags: 5 x 5).

``fit(regions, background=density)`` takes a trained p_bg instead of learning
it in the sidebands (the scan's amortized flows, studies that vary the
injection on one data set).

The mixture is trained by the shared flow loop: it is a flow-like module
whose context carries m_jj and the (fixed) background log-density of each
event.
"""

from __future__ import annotations

import dataclasses
import math
import pathlib

import numpy as np
import tensorflow as tf

from resad_tf.component import load_part, save_part
from resad_tf.config import MAX_ITERATIONS, option
from resad_tf.data import Events, Regions
from resad_tf.flows.ensemble import ensemble_log_prob, ensemble_sample
from resad_tf.methods.base import Method
from resad_tf.methods.density import BackgroundDensityMethod, ConditionalDensity, FlowOptions


@dataclasses.dataclass(frozen=True)
class RANODEConfig(FlowOptions):
    signal_fraction: float = option(0.0, "fixed signal fraction w in the SR; 0 learns it from the data",
                                    ge=0, lt=1)
    w_init: float = option(0.01, "starting value of a learned signal fraction", gt=0, lt=1)
    signal_transform: str = option("rqs", "signal flow transform: rqs or affine", choices=("rqs", "affine"))
    signal_blocks: int = option(4, "MADE blocks of the signal flow", ge=1)
    signal_hidden: tuple[int, ...] = option((64,), "MADE hidden layers of the signal flow", ge=1)
    signal_learning_rate: float = option(1e-3, "learning rate of the signal flow", gt=0)
    signal_epochs: int = option(100, "training epochs of the signal flow (--flow_epochs: the background flow's)",
                                ge=1, le=MAX_ITERATIONS)
    signal_batch_size: int = option(256, "batch size of the signal flow (--flow_batch_size: the background flow's)",
                                    ge=1)
    signal_runs: int = option(1, "signal flows, each trained on its own train/validation split of the SR data; "
                              "the score averages their densities", ge=1)
    signal_checkpoints: int = option(1, "average each signal flow's density over this many best epochs", ge=1)


class SignalMixture(tf.Module):
    """log(w p_s(y | m) + (1 - w) p_bg) with p_bg given per event as the last context column.

    w = sigmoid(W_SPEED * v) for a trainable v: Adam moves every variable by
    about one learning rate per step, which is right for network weights but
    far too slow for the one number w; the factor gives w its own pace.
    """

    W_SPEED = 30.0

    def __init__(self, signal_flow, w: float, learn_w: bool):
        super().__init__(name="signal_mixture")
        self.signal = signal_flow
        self.dim, self.context_dim = signal_flow.dim, signal_flow.context_dim + 1
        self.w_raw = tf.Variable(math.log(w / (1 - w)) / self.W_SPEED, dtype=tf.float32, trainable=learn_w)

    @property
    def w(self) -> float:
        return float(tf.sigmoid(self.W_SPEED * self.w_raw))

    def log_prob_tensor(self, y, c, training=False):
        """log of the mixture density per row, for float32 tensors (the training protocol,
        :class:`resad_tf.flows.TrainableDensity`); ``c``: the signal flow's context, then log p_bg."""
        log_ps = self.signal.log_prob_tensor(y, c[:, :-1], training)
        log_w = tf.math.log_sigmoid(self.W_SPEED * self.w_raw)
        log_1mw = tf.math.log_sigmoid(-self.W_SPEED * self.w_raw)
        return tf.reduce_logsumexp(tf.stack([log_w + log_ps, log_1mw + c[:, -1]]), axis=0)

    def log_prob(self, y, c):
        """:meth:`log_prob_tensor` for arrays (inference mode)."""
        return self.log_prob_tensor(tf.convert_to_tensor(y, tf.float32), tf.convert_to_tensor(c, tf.float32))

    def get_weights(self) -> list[np.ndarray]:
        return [v.numpy() for v in self.variables]

    def set_weights(self, weights):
        for v, w in zip(self.variables, weights):
            v.assign(w)


class RANODE(BackgroundDensityMethod, Method):
    name = "ranode"
    Config = RANODEConfig

    def _fit(self, regions: Regions, background: ConditionalDensity | None = None) -> None:
        """The signal model on the SR data against the fixed background density (given, or learned in the sidebands)."""
        cfg, sr = self.config, regions.sr
        self.background_ = bg = self._background(regions, background)
        y = bg.y(sr)
        log_pbg = bg.log_prob_y(y, sr.mjj).astype(np.float32)
        signal_opts = dataclasses.replace(cfg, flow_learning_rate=cfg.signal_learning_rate,
                                          flow_epochs=cfg.signal_epochs, flow_batch_size=cfg.signal_batch_size,
                                          n_checkpoints=cfg.signal_checkpoints)
        learn = cfg.signal_fraction == 0
        context = np.column_stack([bg.context(sr.mjj), log_pbg]).astype(np.float32)
        # every run has its own seed: its own initialization and train/validation split (ConditionalDensity)
        self.signal_checkpoints_, fractions, flow = [], [], None
        for run in range(cfg.signal_runs):
            density = ConditionalDensity(signal_opts, self.seed + 1 + run, self.verbose,
                                         flow_overrides=dict(n_blocks=cfg.signal_blocks,
                                                             hidden_units=tuple(cfg.signal_hidden),
                                                             transform=cfg.signal_transform))
            run_flow = density.make_flow(y.shape[1])
            mixture = SignalMixture(run_flow, cfg.w_init if learn else cfg.signal_fraction, learn_w=learn)
            history = density.train_flow(mixture, y, context, sr.weight)
            fractions.append(mixture.w)  # at the best epoch, where training leaves the weights
            for weights in history.best_checkpoints(cfg.signal_checkpoints):
                mixture.set_weights(weights)
                self.signal_checkpoints_.append(run_flow.get_weights())
            if flow is None:
                flow, self.history_ = run_flow, history
        # one flow object evaluates all runs x checkpoints: the same architecture, weights swapped in
        flow.set_weights(self.signal_checkpoints_[0])
        self.w_ = float(np.mean(fractions))
        self.signal_flow_ = flow

    def _log_ps_minus_log_pbg(self, events: Events) -> np.ndarray:
        bg = self.background_
        y, c = bg.y(events), bg.context(events.mjj)
        log_ps = np.asarray(ensemble_log_prob(self.signal_flow_, self.signal_checkpoints_, y, c), np.float64)
        return log_ps - bg.log_prob_y(y, events.mjj)

    def _score(self, events: Events) -> np.ndarray:
        return self._log_ps_minus_log_pbg(events)

    def sample_signal(self, mjj: np.ndarray, seed) -> np.ndarray:
        """Events from the learned signal model p_s(x | m), in the original feature space."""
        self.check_fitted("sample_signal()")
        bg = self.background_
        y = np.asarray(ensemble_sample(self.signal_flow_, self.signal_checkpoints_, bg.context(mjj), seed=seed),
                       np.float64)
        return bg.scaler_.inverse_transform(y)

    def diagnostics(self, directory) -> dict:
        return {"signal_fraction_fitted": self.w_, "signal_fraction_fixed": self.config.signal_fraction or None}

    def _save_state(self, directory: pathlib.Path) -> dict:
        """The background density, the signal flow (a SavedModel of the best epoch, plain TensorFlow can use
        it), the weights of every signal run and checkpoint the score averages, and w."""
        from resad_tf.flows import save_ensemble

        save_ensemble(self.signal_flow_, self.signal_checkpoints_, directory / "signal_flow",
                      directory / "signal_checkpoints.npz")
        return {"background": save_part(self.background_, directory / "background"), "signal_fraction": self.w_,
                "n_signal_checkpoints": len(self.signal_checkpoints_)}

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        from resad_tf.flows import load_ensemble

        self.background_ = load_part(state["background"], directory / "background")
        self.signal_flow_, self.signal_checkpoints_ = load_ensemble(
            directory / "signal_flow", directory / "signal_checkpoints.npz", state["n_signal_checkpoints"])
        self.w_ = state["signal_fraction"]
