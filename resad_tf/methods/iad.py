"""The idealized anomaly detector (IAD) and the fully supervised bound.

IAD: a classifier trained to separate the signal-region data from a perfect
background sample of the same region.  By the Neyman-Pearson lemma this
approaches the data/background likelihood ratio, which is monotonic in the
signal/background ratio: the best any weakly supervised method built on a
background estimate can do (CATHODE, SALAD, ... aim to reach it).

Supervised: signal vs background with truth labels, the absolute upper bound.
"""

from __future__ import annotations

import numpy as np

from resad_tf.component import load_part, save_part
from resad_tf.data import Events, Regions
from resad_tf.methods.base import Method
from resad_tf.methods.classify import Discriminator, SRClassifierOptions


#: both bounds are configured by the SR classifier's options alone (the classifier CATHODE uses)
IADConfig = SupervisedConfig = SRClassifierOptions


class _ClassifierMethod(Method):
    """Shared plumbing: one Discriminator, scored on the features x."""

    Config = SRClassifierOptions

    def _train(self, x1: Events, x0: Events) -> None:
        self.discriminator_ = Discriminator(self.config, seed=self.seed, verbose=self.verbose)
        self.discriminator_.fit(x1.x, x0.x, x1.weight, x0.weight)

    def _score(self, events: Events) -> np.ndarray:
        return self.discriminator_.predict(events.x)

    def _save_state(self, directory) -> dict:
        return {"discriminator": save_part(self.discriminator_, directory)}

    def _load_state(self, directory, state) -> None:
        self.discriminator_ = load_part(state["discriminator"], directory)


class IdealizedAD(_ClassifierMethod):
    """SR data (1) vs a pure-background SR sample (0)."""

    name = "iad"
    needs = frozenset({"reference"})

    def _fit(self, regions: Regions) -> None:
        self._train(regions.sr, regions.reference)


class Supervised(_ClassifierMethod):
    """Pure signal (1) vs pure background (0) in the SR, from truth labels."""

    name = "supervised"
    needs = frozenset({"reference", "signal"})

    def _fit(self, regions: Regions) -> None:
        self._train(regions.signal, regions.reference)
