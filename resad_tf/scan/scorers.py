"""Window scorers: the callable interface the scan runs per signal-region window.

A window scorer is any picklable callable ``scorer(events, window, seed) ->
scores`` that returns one score per event of ``events`` (higher = more
signal-like).  Events a scorer trains on (the window's SR and sidebands) must be
scored out-of-sample (k-fold); the scan passes the events of the whole fit range.

:func:`cwola_hgb` is the fast built-in: CWoLa hunting (SR versus the adjacent
sidebands, each sideband weighted to half the SR, as in
:mod:`resad_tf.methods.cwola`) with a histogram gradient-boosted classifier
cross-trained by :func:`resad_tf.models.kfold_predict`.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np

from resad_tf.data.events import Events
from resad_tf.data.regions import Window
from resad_tf.errors import InputError


class WindowScorer(Protocol):
    def __call__(self, events: Events, window: Window, seed: int) -> np.ndarray: ...


def cwola_hgb(events: Events, window: Window, seed: int, k: int = 5, max_iter: int = 50,
              n_estimators: int = 1) -> np.ndarray:
    """k-fold CWoLa scores for ``events``; sidebands of ``window.sb_width`` TeV (default: half the SR width).

    SR and sideband events are scored by the fold model that never saw them; all
    other events by the mean of the ``k`` fold models.
    """
    from resad_tf.methods.cwola import sideband_weights
    from resad_tf.models import kfold_predict, make_classifier

    if window.sb_width is None:
        window = dataclasses.replace(window, sb_width=(window.hi - window.lo) / 2)
    in_sr, in_sb = window.sr(events.mjj), window.sb(events.mjj)
    train = np.flatnonzero(in_sr | in_sb)
    y = in_sr[train].astype(float)
    if y.sum() < k:
        raise InputError(f"SR {window.lo}-{window.hi} TeV holds {int(y.sum())} events: too few for {k} folds")
    w = np.where(y == 1, 1.0, sideband_weights(events.mjj[train], window, int(y.sum())))
    out = kfold_predict(
        lambda: make_classifier("hgb", n_estimators=n_estimators, max_iter=max_iter, seed=seed),
        events.x[train], y, w, k=k, seed=seed,
    )
    scores = np.empty(len(events))
    scores[train] = out.scores
    rest = np.ones(len(events), bool)
    rest[train] = False
    if rest.any():
        scores[rest] = np.mean([m.predict(events.x[rest]) for m in out.models], axis=0)
    return scores


BUILTIN = {"cwola-hgb": cwola_hgb}


def get_scorer(name: str) -> WindowScorer:
    """The built-in window scorer called ``name``."""
    try:
        return BUILTIN[name]
    except KeyError:
        raise InputError(f"unknown scan method {name!r}; built-in choices: {sorted(BUILTIN)}") from None
