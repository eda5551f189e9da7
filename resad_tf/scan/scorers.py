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


@dataclasses.dataclass(frozen=True)
class MethodScorer:
    """Any registered method (``resad_tf.methods.get(method)``) as a window scorer.

    The events are split into ``k`` folds; the method is fitted on the other
    folds (its Regions hold them as the data, with this window) and scores the
    held-out fold, so every event is scored by a model that never saw it.
    ``config`` overrides fields of the method's Config.  Methods that need
    samples besides the data (a background reference, a simulation) cannot
    run in a scan.
    """

    method: str
    config: tuple[tuple[str, object], ...] = ()
    k: int = 5

    def __call__(self, events: Events, window: Window, seed: int) -> np.ndarray:
        from resad_tf import methods
        from resad_tf.data.regions import Regions

        cls = methods.get(self.method)
        if cls.needs:
            raise InputError(f"{self.method} needs {sorted(cls.needs)} besides the data and cannot run in a scan")
        cfg = cls.Config(**dict(self.config))
        fold = np.random.default_rng(seed).permutation(len(events)) % self.k
        scores = np.empty(len(events))
        for i in range(self.k):
            regions = Regions(window=window, data=events.select(fold != i), seed=seed)
            model = cls(cfg, seed=seed + i, verbose=False).fit(regions)
            scores[fold == i] = model.score(events.select(fold == i))
        return scores


BUILTIN = {"cwola-hgb": cwola_hgb}


def get_scorer(name: str) -> WindowScorer:
    """The built-in window scorer called ``name``, or any registered method with k-fold scoring."""
    from resad_tf import methods

    if name in BUILTIN:
        return BUILTIN[name]
    if name in methods.names():
        return MethodScorer(name)
    raise InputError(f"unknown scan method {name!r}; choices: {sorted(BUILTIN) + methods.names()}")
