"""SALAD: Simulation-Assisted Likelihood-free Anomaly Detection (arXiv:2001.05001).

1. In the sidebands, a classifier f(x, m_jj) learns to tell the data from the
   simulation (DCTR, :mod:`resad_tf.methods.dctr`).
2. Its weights w = f/(1-f), evaluated in the signal region thanks to the m_jj
   parameterization, reweight the simulation into a background estimate there.
3. In the signal region, a classifier separates the data from the reweighted
   simulation; its output is the anomaly score.

Diagnostics written next to metrics.json: feature histograms of the
simulation before and after reweighting with ratio panels to the data, in
held-out sideband events (closure: the weights must make the simulation match
the data there) and in the signal region; the closure numbers go into
metrics.json.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from resad_tf import plots
from resad_tf.component import load_part, save_part
from resad_tf.config import MAX_ITERATIONS, option
from resad_tf.data import Events, Regions, train_val_split
from resad_tf.errors import InputError
from resad_tf.methods.base import Method
from resad_tf.methods.classify import ClassifierOptions, Discriminator
from resad_tf.methods.dctr import DCTRReweighter
from resad_tf.models import KINDS


@dataclasses.dataclass(frozen=True)
class SaladConfig(ClassifierOptions):
    # sized for a laptop CPU; configs/salad.flags has the literature's batch 128 x 100 epochs
    batch_size: int = option(1024, "MLP batch size", ge=1)
    epochs: int = option(30, "MLP maximum epochs", ge=1, le=MAX_ITERATIONS)
    n_best_epochs: int = option(5, "MLP: average the models of this many lowest-val-loss epochs", ge=1)
    reweight: bool = option(True, "reweight the simulation with DCTR (False: the un-reweighted ablation)")
    max_weight: float = option(20.0, "clip the DCTR weights at this value", gt=0)
    closure_fraction: float = option(0.2, "fraction of the sideband events held out to check the weights' closure",
                                     gt=0, lt=1)
    dctr_simulation_ratio: float = option(
        1.0, "DCTR trains on at most this many sideband simulation events per sideband data event (a random "
        "subset, for speed); 0: all of them (see docs/results.md for what that changes)", ge=0)
    dctr_sr_buffer: float = option(
        0.0, "TeV: the DCTR does not train on sideband events closer than this to the SR, where a resonance's "
        "m_jj tail leaks signal that the DCTR could learn as mis-modelling and carry into the SR", ge=0)
    dctr_n_runs: int = option(
        0, "DCTR: average this many independently trained classifiers (0: --n_runs); an ensemble smooths the "
        "weights, whose noise the signal-region classifier would otherwise learn", ge=0)
    dctr_iterations: int = option(
        1, "DCTR: refine the weights in this many steps, each a classifier trained on the data against the "
        "simulation weighted by the earlier steps (one DCTR training per step)", ge=1, le=MAX_ITERATIONS)
    dctr_batch_size: int = option(0, "DCTR MLP batch size (0: --batch_size)", ge=0)
    dctr_epochs: int = option(0, "DCTR MLP maximum epochs (0: --epochs)", ge=0, le=MAX_ITERATIONS)
    dctr_learning_rate: float = option(0.0, "DCTR MLP learning rate (0: --learning_rate)", ge=0)
    dctr_classifier: str = option(
        "", "DCTR classifier: '' (the same kind and settings as the signal-region classifier), mlp, hgb or xgb "
        "(the tree ensembles use --n_estimators and --max_iter)", choices=("",) + tuple(KINDS))


def closure(target: Events, source: Events, weight: np.ndarray | None, bins: int = 20) -> dict:
    """Per feature: chi2/ndf of the (weighted) source vs the target histogram, shapes only."""
    out = {}
    for j, name in enumerate(target.features):
        edges = np.quantile(target.x[:, j], np.linspace(0, 1, bins + 1))
        edges = np.unique(edges)
        t, _ = np.histogram(target.x[:, j], edges)
        w = np.ones(len(source)) if weight is None else weight
        s, _ = np.histogram(source.x[:, j], edges, weights=w)
        s2, _ = np.histogram(source.x[:, j], edges, weights=w**2)
        s_scale = t.sum() / s.sum()
        var = t + s2 * s_scale**2
        ok = var > 0
        out[name] = float(np.sum((t - s * s_scale)[ok] ** 2 / var[ok]) / max(ok.sum() - 1, 1))
    return out


class Salad(Method):
    name = "salad"
    Config = SaladConfig
    needs = frozenset({"simulation"})
    uses_sidebands = True

    def _fit(self, regions: Regions) -> None:
        self.reweight(regions)
        self.discriminator_ = Discriminator(self.config, seed=self.seed + 2, verbose=self.verbose)
        self.discriminator_.fit(self.sr_data_.x, self.sr_sim_.x, self.sr_data_.weight, self.sr_sim_weight_)

    def reweight(self, regions: Regions) -> np.ndarray:
        """Steps 1-2: fit the DCTR weights in the sidebands; return the SR simulation's weights.

        Sets ``sr_sim_`` (the SR simulation), ``sr_sim_weight_`` (its weights; the simulation's own
        weights when ``reweight`` is off) and the held-out sideband closure samples.  A step of
        :meth:`fit` that studies of the weights call alone (bench/studies/dctr_fidelity.py); it checks
        the regions as ``fit`` does.
        """
        regions.check_needs(self.needs | {"sidebands"}, self.name)
        cfg, w = self.config, regions.window
        sim = regions.simulation
        sb_data = regions.require_sidebands("SALAD")
        sb_sim = sim.select(w.sb(sim.mjj))
        if cfg.dctr_sr_buffer > 0:
            buf = cfg.dctr_sr_buffer
            sb_data, sb_sim = (e.select((e.mjj < w.lo - buf) | (e.mjj > w.hi + buf)) for e in (sb_data, sb_sim))
            if len(sb_data) == 0 or len(sb_sim) == 0:
                raise InputError(f"--dctr_sr_buffer={cfg.dctr_sr_buffer} TeV leaves no sideband "
                                 f"{'data' if len(sb_data) == 0 else 'simulation'} to train the DCTR on")
        sb_data_fit, self.sb_data_check_ = train_val_split(sb_data, cfg.closure_fraction, self.seed)
        sb_sim_fit, self.sb_sim_check_ = train_val_split(sb_sim, cfg.closure_fraction, self.seed + 1)
        n_max = int(cfg.dctr_simulation_ratio * len(sb_data_fit))
        if 0 < n_max < len(sb_sim_fit):
            keep = np.random.default_rng(self.seed + 3).choice(len(sb_sim_fit), n_max, replace=False)
            sb_sim_fit = sb_sim_fit.select(np.sort(keep))
        self.dctr_events_ = {"data": len(sb_data_fit), "simulation": len(sb_sim_fit)}
        self.sr_sim_ = sim.select(w.sr(sim.mjj))
        self.sr_data_ = regions.sr
        self.dctr_ = None
        sim_weight = self.sr_sim_.weight
        if cfg.reweight:
            dctr_opts = dataclasses.replace(cfg, classifier=cfg.dctr_classifier or cfg.classifier,
                                            n_runs=cfg.dctr_n_runs or cfg.n_runs,
                                            batch_size=cfg.dctr_batch_size or cfg.batch_size,
                                            epochs=cfg.dctr_epochs or cfg.epochs,
                                            learning_rate=cfg.dctr_learning_rate or cfg.learning_rate)
            self.dctr_ = DCTRReweighter(dctr_opts, seed=self.seed, max_weight=cfg.max_weight,
                                        n_iterations=cfg.dctr_iterations, verbose=self.verbose)
            self.dctr_.fit(sb_data_fit.xm(), sb_sim_fit.xm(), sb_data_fit.weight, sb_sim_fit.weight)
            sim_weight = sim_weight * self.dctr_.weights(self.sr_sim_.xm())
        self.sr_sim_weight_ = sim_weight
        return sim_weight

    def _score(self, events: Events) -> np.ndarray:
        return self.discriminator_.predict(events.x)

    def _save_state(self, directory: pathlib.Path) -> dict:
        return {"discriminator": save_part(self.discriminator_, directory / "sr_classifier"),
                "dctr": None if self.dctr_ is None else save_part(self.dctr_, directory / "dctr")}

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        self.discriminator_ = load_part(state["discriminator"], directory / "sr_classifier")
        self.dctr_ = None if state["dctr"] is None else load_part(state["dctr"], directory / "dctr")

    def diagnostics(self, directory) -> dict:
        directory = pathlib.Path(directory)
        feats = self.sr_data_.features
        check_sim, check_data = self.sb_sim_check_, self.sb_data_check_
        w_check = None if self.dctr_ is None else self.dctr_.weights(check_sim.xm())
        panels = {"simulation": (check_sim.x, None)}
        if w_check is not None:
            panels["simulation, DCTR-weighted"] = (check_sim.x, w_check)
        plots.ratio_panels((check_data.x, None), panels, feats, directory / "reweighting_sb_closure.png",
                           title="SALAD: held-out sideband events")
        sr_panels = {"simulation": (self.sr_sim_.x, None)}
        if self.dctr_ is not None:
            sr_panels["simulation, DCTR-weighted"] = (self.sr_sim_.x, self.sr_sim_weight_)
        plots.ratio_panels((self.sr_data_.x, None), sr_panels, feats, directory / "reweighting_sr.png",
                           title="SALAD: signal region (data include any signal)")
        return {
            "dctr_training_events": self.dctr_events_ if self.dctr_ is not None else None,
            "closure_chi2_ndf_sb_before": closure(check_data, check_sim, None),
            "closure_chi2_ndf_sb_after": None if w_check is None else closure(check_data, check_sim, w_check),
        }
