"""CWoLa hunting (Classification Without Labels; arXiv:1805.02664, 1902.02634).

A classifier learns to tell signal-region data from the data in the two
neighbouring sidebands.  Without signal the two are (nearly) the same
physics and the classifier learns nothing; with signal in the SR it learns
the signal's features.  Cross-training over k folds gives every data event a
score from a model that never saw it, which is what the bump hunt needs.

The sidebands' weights are balanced so that the low and the high sideband
carry the same total weight: otherwise the classifier would learn the m_jj
dependence of the features (the falling spectrum puts far more events low).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np
from sklearn.preprocessing import StandardScaler

from resad_tf.data import Events, Regions, Window
from resad_tf.errors import InputError
from resad_tf.methods.base import Method, option
from resad_tf.methods.classify import ClassifierOptions, classifier_kwargs, load_scaler, save_scaler
from resad_tf.models import kfold_predict, load_classifier, make_classifier


@dataclasses.dataclass(frozen=True)
class CWoLaConfig(ClassifierOptions):
    sideband_width: float = option(0.2, "width of each sideband next to the SR in TeV "
                                   "(the shared --sb_width overrides it)", gt=0)
    k_folds: int = option(5, "k-fold cross-training: no data event is scored by a model that saw it "
                          "(>= 3: a training, a validation and a scored fold)", ge=3)


def sideband_weights(mjj: np.ndarray, window: Window, n_sr: int) -> np.ndarray:
    """Weights of SB events: each sideband carries half of the SR's total weight."""
    low, high = window.sb_low(mjj), window.sb_high(mjj)
    w = np.zeros(len(mjj))
    for side in (low, high):
        if side.sum() == 0:
            raise InputError(f"a sideband of {window.lo},{window.hi} TeV (width {window.sb_width}) is empty")
        w[side] = 0.5 * n_sr / side.sum()
    return w


class CWoLa(Method):
    name = "cwola"
    Config = CWoLaConfig
    uses_sidebands = True

    def fit(self, regions: Regions) -> "CWoLa":
        cfg = self.config
        window = regions.window
        if window.sb_width is None:
            window = dataclasses.replace(window, sb_width=cfg.sideband_width)
        data = regions.data
        sr, sb = data.select(window.sr(data.mjj)), data.select(window.sb(data.mjj))
        if len(sb) == 0:
            regions.require_sidebands("CWoLa")
        x = np.concatenate([sr.x, sb.x])
        y = np.r_[np.ones(len(sr)), np.zeros(len(sb))]
        w = np.r_[sr.weight, sb.weight * sideband_weights(sb.mjj, window, len(sr))]
        self.window_ = window
        self.scaler_ = StandardScaler().fit(x)
        kw = classifier_kwargs(cfg, self.seed, verbose=False)
        result = kfold_predict(lambda: make_classifier(cfg.classifier, **kw), self.scaler_.transform(x), y, w,
                               k=cfg.k_folds, seed=self.seed, verbose=self.verbose)
        self.models_ = result.models
        # out-of-fold scores of the data events (for the bump hunt); SR first, then SB
        self.data_events_ = Events.concat([sr, sb])
        self.data_scores_ = result.scores
        self.data_fold_ = result.fold
        return self

    def score(self, events: Events) -> np.ndarray:
        """Mean of the k fold models (for events outside the training data)."""
        xs = self.scaler_.transform(events.x)
        return np.mean([m.predict(xs) for m in self.models_], axis=0)

    def export(self, directory):
        directory = pathlib.Path(directory)
        for i, m in enumerate(self.models_):
            m.save(directory / f"fold_{i}")
        save_scaler(self.scaler_, directory / "scaler.json", sr=[self.window_.lo, self.window_.hi],
                    sb_width=self.window_.sb_width)

    def _restore(self, directory):
        self.models_ = [load_classifier(p) for p in sorted(directory.glob("fold_*"))]
        self.scaler_ = load_scaler(directory / "scaler.json")
