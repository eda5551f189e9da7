"""CATHODE (arXiv:2109.00546) and LaCATHODE (arXiv:2210.14924).

CATHODE: a conditional flow p_bg(x | m) learned in the sidebands is sampled
in the signal region, at masses drawn from a KDE of the SR data's m_jj, with
``oversampling`` times as many events as the SR data, drawn equally from the
flow's ``n_checkpoints`` best epochs.  A classifier trained
on SR data vs these synthetic background events approaches the data/background
likelihood ratio: the idealized anomaly detector, but with a learned
background estimate.  The classifier is the SR classifier of
:class:`~resad_tf.methods.classify.SRClassifierOptions` (default: 10 boosted-tree
members; ``--classifier=mlp`` averages the MLP's 10 best epochs, as the paper).

LaCATHODE: the same classifier works in the flow's latent space, where the
background is a standard normal whatever m_jj: SR data mapped to z vs
standard-normal samples.  This decorrelates the score from m_jj and reduces
background sculpting when the features depend on the mass.

Both take a trained background density instead of learning one in the
sidebands: ``CATHODE(cfg).fit(regions, background=density)`` (a study that
compares injections on one data set, the scan's amortized flows).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from resad_tf.component import load_part, save_part
from resad_tf.config import option
from resad_tf.data import Events, Regions, Window
from resad_tf.methods.base import Method
from resad_tf.methods.classify import Discriminator, SRClassifierOptions
from resad_tf.methods.density import BackgroundDensityMethod, ConditionalDensity, FlowOptions


@dataclasses.dataclass(frozen=True)
class CATHODEConfig(FlowOptions, SRClassifierOptions):
    oversampling: int = option(4, "synthetic background events per SR data event", ge=1)
    sample_checkpoints: bool = option(True, "draw the synthetic background from the mixture of the flow's "
                                      "n_checkpoints best epochs, as the paper does (False: the best epoch alone)")
    n_best_epochs: int = option(10, "MLP: average the models of this many lowest-val-loss epochs", ge=1)


class CATHODE(BackgroundDensityMethod, Method):
    name = "cathode"
    Config = CATHODEConfig
    density_use = "samples"

    def _fit(self, regions: Regions, background: ConditionalDensity | None = None) -> None:
        """The classifier: the SR data vs samples of the background density (given, or learned in the sidebands)."""
        sr = regions.sr
        self.samples_ = self.synthetic_background(sr, regions.window, self._background(regions, background))
        self.discriminator_ = Discriminator(self.config, seed=self.seed + 1, verbose=self.verbose)
        self.discriminator_.fit(self._inputs(sr), self.samples_.x, sr.weight, None)

    def synthetic_background(self, sr: Events, window: Window, background: ConditionalDensity) -> Events:
        """The events the classifier takes for background: ``oversampling`` per SR data event, at masses
        drawn from a KDE of the SR data's m_jj, features from ``background`` (LaCATHODE: its latent
        standard normal), seeded by the method's seed."""
        from resad_tf.flows import MjjDensity

        self.background_ = background
        n = self.config.oversampling * len(sr)
        mjj = MjjDensity((window.lo, window.hi)).fit(sr.mjj).sample(n, seed=self.seed)
        return Events(mjj, self._synthetic(mjj), sr.features, source="CATHODE samples")

    def _synthetic(self, mjj):
        return self.background_.sample(mjj, seed=self.seed + 2, ensemble=self.config.sample_checkpoints)

    def _inputs(self, events: Events) -> np.ndarray:
        return events.x

    def _score(self, events: Events) -> np.ndarray:
        return self.discriminator_.predict(self._inputs(events))

    def _save_state(self, directory: pathlib.Path) -> dict:
        return {"background": save_part(self.background_, directory / "background"),
                "discriminator": save_part(self.discriminator_, directory / "classifier")}

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        self.background_ = load_part(state["background"], directory / "background")
        self.discriminator_ = load_part(state["discriminator"], directory / "classifier")


class LaCATHODE(CATHODE):
    name = "lacathode"
    density_use = "latent"

    def _synthetic(self, mjj):
        rng = np.random.default_rng(self.seed + 2)
        return rng.standard_normal((len(mjj), len(self.background_.features_)))

    def _inputs(self, events: Events) -> np.ndarray:
        return self.background_.latent(events)
