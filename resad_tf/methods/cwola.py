"""CWoLa hunting (Classification Without Labels; arXiv:1805.02664, 1902.02634).

A classifier learns to tell signal-region data from the data in the two
neighbouring sidebands.  Without signal the two are (nearly) the same
physics and the classifier learns nothing; with signal in the SR it learns
the signal's features.  Cross-training over k folds gives every data event a
score from a model that never saw it, which is what the bump hunt needs.

The sidebands' weights are balanced so that the low and the high sideband
carry the same total weight: otherwise the classifier would learn the m_jj
dependence of the features (the falling spectrum puts far more events low).
A gap between the SR and each sideband (``sideband_gap``) keeps a
resonance's m_jj tails out of the sidebands.  ``k_folds=1`` trains one
classifier on all the data, for a caller that cross-fits itself (the scan).
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from resad_tf.component import load_part, save_part
from resad_tf.config import option
from resad_tf.data import Events, Regions, StandardScaler, Window
from resad_tf.errors import InputError
from resad_tf.methods.base import Method
from resad_tf.methods.classify import ClassifierOptions, classifier_kwargs
from resad_tf.models import kfold_predict, make_classifier


@dataclasses.dataclass(frozen=True)
class CWoLaConfig(ClassifierOptions):
    sideband_width: float = option(0.2, "width of each sideband in TeV (the shared --sb_width overrides it)",
                                   gt=0)
    sideband_gap: float = option(0.0, "TeV between the SR and each sideband, trained on by neither (keeps a "
                                 "resonance's m_jj tails out of the sidebands)", ge=0)
    k_folds: int = option(5, "k-fold cross-training: no data event is scored by a model that saw it "
                          "(>= 3: a training, a validation and a scored fold; 1: one classifier on all the data, "
                          "for a caller that cross-fits itself, as the scan does)", ge=1)

    def __post_init__(self):
        super().__post_init__()
        if self.k_folds == 2:
            raise InputError("--k_folds=2 leaves no validation fold: use 1 (no cross-training) or >= 3")

    def window(self, window: Window) -> Window:
        """``window`` with these sidebands (its own ``sb_width`` first, if it has one).

        >>> CWoLaConfig(sideband_gap=0.1).window(Window(3.3, 3.7))
        Window(lo=3.3, hi=3.7, sb_width=0.2, sb_gap=0.1)
        """
        width = self.sideband_width if window.sb_width is None else window.sb_width
        return dataclasses.replace(window, sb_width=width, sb_gap=self.sideband_gap)


def sideband_weights(mjj: np.ndarray, window: Window, n_sr: int) -> np.ndarray:
    """Weights of SB events: each sideband of ``window`` carries half of the SR's total weight."""
    low, high = window.sb_low(mjj), window.sb_high(mjj)
    w = np.zeros(len(mjj))
    for side in (low, high):
        if side.sum() == 0:
            raise InputError(f"a sideband of {window.lo},{window.hi} TeV (width {window.sb_width}) is empty")
        w[side] = 0.5 * n_sr / side.sum()
    return w


def cwola_labels(mjj: np.ndarray, window: Window, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """CWoLa's training sample among events at masses ``mjj``: per event a label and a training weight.

    Label 1 in the signal region, 0 in the two sidebands (``window.sb_width``
    TeV each), -1 elsewhere (not trained on).  Weights: the event's own
    ``weight`` (default 1), in the sidebands times :func:`sideband_weights`,
    so that each sideband carries as much as half the SR; 0 elsewhere.

    >>> y, w = cwola_labels(np.array([3.0, 3.2, 3.5, 3.6, 3.8, 4.5]), Window(3.3, 3.7, 0.2))
    >>> y.tolist(), w.tolist()
    ([-1, 0, 1, 1, 0, -1], [0.0, 1.0, 1.0, 1.0, 1.0, 0.0])
    """
    if window.sb_width is None:
        raise InputError("CWoLa needs sidebands of a finite width (--sb_width)")
    mjj = np.asarray(mjj, np.float64)
    weight = np.ones(len(mjj)) if weight is None else np.asarray(weight, np.float64)
    in_sr, in_sb = window.sr(mjj), window.sb(mjj)
    y = np.where(in_sr, 1, np.where(in_sb, 0, -1))
    w = np.where(in_sr, weight, 0.0)
    w[in_sb] = weight[in_sb] * sideband_weights(mjj[in_sb], window, int(in_sr.sum()))
    return y, w


class CWoLa(Method):
    name = "cwola"
    Config = CWoLaConfig
    uses_sidebands = True

    def _fit(self, regions: Regions) -> None:
        cfg = self.config
        window = cfg.window(regions.window)
        data = regions.data
        if not window.sb(data.mjj).any():
            regions.require_sidebands("CWoLa")
        label, weight = cwola_labels(data.mjj, window, data.weight)
        self.window_ = window
        kw = classifier_kwargs(cfg, self.seed, verbose=False)
        if cfg.k_folds == 1:  # one classifier, no out-of-fold data scores
            events = data.select(label >= 0)
            self.scaler_ = StandardScaler().fit(events.x)
            model = make_classifier(cfg.classifier, **kw)
            self.models_ = [model.fit(self.scaler_.transform(events.x), label[label >= 0].astype(np.float64),
                                      weight[label >= 0])]
            return
        order = np.r_[np.flatnonzero(label == 1), np.flatnonzero(label == 0)]  # SR first, then SB
        events, y, w = data.select(order), label[order].astype(np.float64), weight[order]
        self.scaler_ = StandardScaler().fit(events.x)
        result = kfold_predict(lambda: make_classifier(cfg.classifier, **kw), self.scaler_.transform(events.x), y, w,
                               k=cfg.k_folds, seed=self.seed, verbose=self.verbose)
        self.models_ = result.models
        # out-of-fold scores of the data events (for the bump hunt); SR first, then SB
        self.data_events_ = events
        self.data_scores_ = result.scores
        self.data_fold_ = result.fold

    def _score(self, events: Events) -> np.ndarray:
        """Mean of the k fold models (for events outside the training data)."""
        xs = self.scaler_.transform(events.x)
        return np.mean([m.predict(xs) for m in self.models_], axis=0)

    def _save_state(self, directory: pathlib.Path) -> dict:
        return {"scaler": save_part(self.scaler_, directory),
                "folds": [save_part(m, directory / f"fold_{i}") for i, m in enumerate(self.models_)]}

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        self.scaler_ = load_part(state["scaler"], directory)
        self.models_ = [load_part(entry, directory / f"fold_{i}") for i, entry in enumerate(state["folds"])]
