"""The density-estimation step shared by ANODE, CATHODE, LaCATHODE and R-ANODE.

:class:`BackgroundDensityMethod` is what those four methods share: a background
density p_bg(x | m), learned in the sidebands, or given to ``fit(regions,
background=density)`` (then the sidebands are not used: one density serves
many fits, e.g. the scan's amortized flows).

:class:`ConditionalDensity` learns p(x | m_jj) from an :class:`Events`
sample: it fits the invertible preprocessing (min-max -> logit -> standardize)
on that sample, trains a conditional flow in the preprocessed space with the
one training loop of :mod:`resad_tf.flows`, and answers in the original
feature space (the preprocessing's log-Jacobian is added back), so densities
of models with different preprocessing can be compared directly.

Densities are averaged over the ``n_checkpoints`` best epochs (log-sum-exp),
the "enhanced ANODE" ensembling that stabilizes the likelihood ratio.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from resad_tf.component import Component, load_part, save_part
from resad_tf.config import MAX_ITERATIONS, Options, option, project
from resad_tf.data import Events, LogitScaler, MassScaler
from resad_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class FlowOptions(Options):
    transform: str = option("affine", "flow transform: affine (MAF) or rqs (rational-quadratic spline)",
                            choices=("affine", "rqs"))
    n_blocks: int = option(15, "MADE blocks of the flow", ge=1)
    flow_hidden: tuple[int, ...] = option((128,), "MADE hidden layer sizes", ge=1)
    n_bins: int = option(8, "spline bins (rqs only)", ge=1)
    batch_norm: bool = option(False, "batch-normalization bijectors between the blocks")
    flow_epochs: int = option(100, "flow training epochs", ge=1, le=MAX_ITERATIONS)
    flow_batch_size: int = option(256, "flow batch size", ge=1)
    flow_learning_rate: float = option(1e-4, "flow Adam learning rate (the peak of --flow_lr_schedule)", gt=0)
    flow_lr_schedule: str = option("constant", "flow learning-rate schedule: constant, or cosine (linear warm-up "
                                   "over --flow_warmup_epochs, then cosine decay to 0 at the last epoch)",
                                   choices=("constant", "cosine"))
    flow_warmup_epochs: float = option(0.0, "warm-up of the cosine schedule, in epochs", ge=0)
    weight_decay: float = option(0.0, "decoupled weight decay of the flow optimizer", ge=0)
    flow_patience: int = option(0, "early stopping after this many epochs without improvement (0: off)", ge=0)
    n_checkpoints: int = option(10, "average the densities of this many best epochs (log-sum-exp)", ge=1)
    flow_val_fraction: float = option(0.2, "fraction of the flow's training sample used for validation",
                                      gt=0, lt=1)
    flow_jit: bool = option(False, "XLA-compile the flow's training epochs (steps and loop; 1.5-3x faster, after "
                            "seconds of compilation; docs/performance.md)")


class ConditionalDensity(Component):
    """p(x | m) in the original feature space: preprocessing + conditional flow + ensembling.

    ``opts`` may be a method's Config that extends :class:`FlowOptions` (the
    density keeps the flow options of it); ``flow_overrides`` replace
    arguments of the :class:`~resad_tf.flows.ConditionalFlow` built from them
    (R-ANODE's signal flow has its own size).
    """

    def __init__(self, opts: FlowOptions, seed: int = 0, verbose: bool = False, flow_overrides: dict | None = None):
        self.opts, self.seed, self.verbose = project(FlowOptions, opts), seed, verbose
        self.flow_overrides = dict(flow_overrides or {})

    def make_flow(self, dim: int, context_dim: int = 1):
        from resad_tf.flows import ConditionalFlow

        kw = dict(n_blocks=self.opts.n_blocks, hidden_units=tuple(self.opts.flow_hidden),
                  transform=self.opts.transform, n_bins=self.opts.n_bins, batch_norm=self.opts.batch_norm,
                  seed=self.seed)
        kw.update(self.flow_overrides)
        return ConditionalFlow(dim=dim, context_dim=context_dim, **kw)

    def train_flow(self, flow, y, c, weight=None):
        """The shared training call (train/validation split by the seed)."""
        from resad_tf import flows

        o = self.opts
        idx = np.random.default_rng(self.seed).permutation(len(y))
        n_val = max(1, int(round(o.flow_val_fraction * len(y))))
        val, tr = idx[:n_val], idx[n_val:]
        w = np.ones(len(y)) if weight is None else weight
        return flows.train(flow, y[tr], c[tr], x_val=y[val], context_val=c[val], weight=w[tr],
                           weight_val=w[val], epochs=o.flow_epochs, batch_size=o.flow_batch_size,
                           learning_rate=o.flow_learning_rate, lr_schedule=o.flow_lr_schedule,
                           warmup_epochs=o.flow_warmup_epochs, weight_decay=o.weight_decay,
                           patience=o.flow_patience or None, keep_epochs=o.n_checkpoints, seed=self.seed,
                           jit_compile=o.flow_jit, verbose=self.verbose)

    # ------------------------------------------------------------------ fit
    def fit(self, events: Events) -> "ConditionalDensity":
        if len(events) < 10:
            raise InputError(f"a density needs more than {len(events)} events to learn from")
        self.features_ = events.features
        self.scaler_ = LogitScaler().fit(events.x)
        self.mass_ = MassScaler().fit(events.mjj)
        self.flow_ = self.make_flow(events.x.shape[1])
        self.history_ = self.train_flow(self.flow_, self.y(events), self.context(events.mjj), events.weight)
        self.checkpoints_ = self.history_.best_checkpoints(self.opts.n_checkpoints)
        return self

    # ---------------------------------------------------------- transforms
    def y(self, events: Events) -> np.ndarray:
        """Preprocessed features (the flow's data space)."""
        return self.scaler_.transform(events.x).astype(np.float32)

    def context(self, mjj: np.ndarray) -> np.ndarray:
        return self.mass_.transform(mjj).astype(np.float32)

    def log_prob_y(self, y: np.ndarray, mjj: np.ndarray, ensemble: bool = True) -> np.ndarray:
        """log p(y | m) in the preprocessed space (checkpoint-averaged when ``ensemble``)."""
        from resad_tf.flows import ensemble_log_prob

        self.check_fitted("log_prob()")
        c = self.context(mjj)  # the flow evaluates large inputs in row chunks itself
        lp = ensemble_log_prob(self.flow_, self.checkpoints_, y, c) if ensemble else self.flow_.log_prob(y, c)
        return np.asarray(lp, np.float64)

    def log_prob(self, events: Events, ensemble: bool = True) -> np.ndarray:
        """log p(x | m) in the original feature space."""
        return self.log_prob_y(self.y(events), events.mjj, ensemble) + self.scaler_.log_abs_det_jacobian(events.x)

    def sample(self, mjj: np.ndarray, seed, ensemble: bool = False) -> np.ndarray:
        """One x per mass in ``mjj`` (original feature space).

        ``ensemble``: draw from the mixture of the checkpoint ensemble (the density
        that :meth:`log_prob` evaluates) instead of the best epoch alone.
        """
        from resad_tf.flows import ensemble_sample

        self.check_fitted("sample()")
        c = self.context(mjj)
        y = (ensemble_sample(self.flow_, self.checkpoints_, c, seed=seed) if ensemble
             else self.flow_.sample(len(mjj), c, seed=seed))
        y = np.asarray(y, np.float64)
        return self.scaler_.inverse_transform(y)

    def latent(self, events: Events) -> np.ndarray:
        """The flow's latent coordinates z (standard normal for events like the training sample)."""
        return np.asarray(self.flow_.inverse(self.y(events), self.context(events.mjj)), np.float64)

    # -------------------------------------------------------------- saving
    def _save_state(self, directory: pathlib.Path) -> dict:
        """The flow as a SavedModel in ``flow/`` (best epoch; plain TensorFlow can use it), the checkpoint
        weights of the ensemble (``checkpoints.npz``) and the preprocessing (in the state)."""
        from resad_tf.flows import save_ensemble

        directory.mkdir(parents=True, exist_ok=True)
        save_ensemble(self.flow_, self.checkpoints_, directory / "flow", directory / "checkpoints.npz")
        return {"feature_scaler": save_part(self.scaler_, directory), "mass_scaler": save_part(self.mass_, directory),
                "n_checkpoints": len(self.checkpoints_),
                "usage": "y = feature_scaler(x); c = (mjj - mass_scaler.mean) / mass_scaler.std; "
                         "log p(x|m) = flow.log_prob(y, c) + log|dy/dx|"}

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        """Rebuild the flow with its checkpoint ensemble."""
        from resad_tf.flows import load_ensemble

        self.scaler_ = load_part(state["feature_scaler"], directory)
        self.mass_ = load_part(state["mass_scaler"], directory)
        self.flow_, self.checkpoints_ = load_ensemble(directory / "flow", directory / "checkpoints.npz",
                                                      state["n_checkpoints"])


class BackgroundDensityMethod:
    """Mixin of the methods built on a background density (put it before :class:`~resad_tf.methods.base.Method`).

    ``Method.fit(regions, background=None)`` hands ``_fit`` the given density;
    :meth:`_background` returns it, or trains :meth:`background_density` on the
    sidebands when none is given, so that the two paths run the same code after it.
    """

    takes_background = True
    uses_sidebands = True
    #: what the method asks of its background density: "samples" (CATHODE), "latent" (LaCATHODE's latent
    #: coordinates) or "density" (log p_bg: ANODE, R-ANODE); a caller that maps the features the method sees
    #: can map samples, not densities (the scan's decorrelation)
    density_use = "density"

    def background_density(self) -> ConditionalDensity:
        """The untrained background density ``fit`` learns in the sidebands: this method's flow options and seed."""
        return ConditionalDensity(self.config, self.seed, self.verbose)

    def _background(self, regions, background) -> ConditionalDensity:
        if background is not None:
            return background
        return self.background_density().fit(regions.require_sidebands(self.name))
