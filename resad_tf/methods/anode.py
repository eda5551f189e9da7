"""ANODE: Anomaly detection with Density Estimation (arXiv:2001.04990), enhanced.

Two conditional densities: p_bg(x | m) learned in the sidebands and
interpolated into the signal region through its m_jj conditioning, and
p_data(x | m) learned on the signal-region data.  The anomaly score is the
log-likelihood ratio R = log p_data - log p_bg.

Enhanced (arXiv:2109.00546 appendix, 2307.11157): both densities are averaged
over their ``n_checkpoints`` best epochs with log-sum-exp before the ratio is
taken, and the flows are regularized with weight decay instead of spectral
normalization.  ``--n_checkpoints=1 --weight_decay=0`` gives the original.

``fit(regions, background=density)`` takes a trained p_bg instead of learning it
in the sidebands (:class:`~resad_tf.methods.density.BackgroundDensityMethod`).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from resad_tf.component import load_part, save_part
from resad_tf.config import option
from resad_tf.data import Events, Regions
from resad_tf.methods.base import Method
from resad_tf.methods.density import BackgroundDensityMethod, ConditionalDensity, FlowOptions


@dataclasses.dataclass(frozen=True)
class ANODEConfig(FlowOptions):
    weight_decay: float = option(1e-4, "decoupled weight decay of the flow optimizer (enhanced ANODE)", ge=0)


class ANODE(BackgroundDensityMethod, Method):
    name = "anode"
    Config = ANODEConfig

    def _fit(self, regions: Regions, background: ConditionalDensity | None = None) -> None:
        self.background_ = self._background(regions, background)
        self.data_density_ = ConditionalDensity(self.config, self.seed + 1, self.verbose).fit(regions.sr)

    def _score(self, events: Events) -> np.ndarray:
        return self.data_density_.log_prob(events) - self.background_.log_prob(events)

    def _save_state(self, directory: pathlib.Path) -> dict:
        return {"background": save_part(self.background_, directory / "background"),
                "data_density": save_part(self.data_density_, directory / "data")}

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        self.background_ = load_part(state["background"], directory / "background")
        self.data_density_ = load_part(state["data_density"], directory / "data")
