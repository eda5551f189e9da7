"""Window scorers: the callable interface the scan runs per signal-region window.

A window scorer is any picklable callable ``scorer(events, window, seed) ->
scores`` that returns one score per event of ``events`` (higher = more
signal-like).  The scan passes the events of the window's fit range; every
event must be scored out of sample, and all events alike: a cut on the score
must not treat the SR, the sidebands and the rest of the fit range
differently, or it carves a bump into the background.

:class:`CWoLaHGB` (``cwola_hgb``) is the fast built-in: CWoLa hunting (SR
versus the adjacent sidebands, each sideband weighted to half the SR, as in
:mod:`resad_tf.methods.cwola`) with a histogram gradient-boosted classifier, on
features decorrelated from m_jj
(:class:`~resad_tf.data.decorrelation.ConditionalQuantileTransform`) by default.

:func:`scorer_config` describes a scorer's options for the scan's resume check.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Protocol

import numpy as np

from resad_tf.data.events import Events
from resad_tf.data.regions import Window
from resad_tf.errors import InputError


class WindowScorer(Protocol):
    def __call__(self, events: Events, window: Window, seed: int) -> np.ndarray: ...


def _decorrelated(fit: Events, *others: Events) -> tuple[Events, ...]:
    """``fit`` and ``others`` with each feature replaced by its conditional CDF given m_jj, fitted on ``fit``."""
    from resad_tf.data.decorrelation import ConditionalQuantileTransform

    t = ConditionalQuantileTransform().fit(fit.x, fit.mjj)
    return tuple(ev.with_features(t.transform(ev.x, ev.mjj), ev.features) for ev in (fit, *others))


def _out_of_fold(events: Events, k: int, seed: int, decorrelate: bool, fit_score) -> np.ndarray:
    """One score per event of ``events``, each from a model that was fitted without it.

    The events are split at random (``seed``) into ``k`` folds; for fold i,
    ``fit_score(i, others, train, held_out)`` fits on ``train`` (the events of the
    other folds, boolean mask ``others`` over ``events``) and returns the scores of
    ``held_out``.  ``decorrelate``: both see each feature's conditional CDF given
    m_jj, fitted on ``train`` only.
    """
    fold = np.random.default_rng(seed).permutation(len(events)) % k
    scores = np.empty(len(events))
    for i in range(k):
        others = fold != i
        train, held_out = events.select(others), events.select(~others)
        if decorrelate:
            train, held_out = _decorrelated(train, held_out)
        scores[~others] = fit_score(i, others, train, held_out)
    return scores


@dataclasses.dataclass(frozen=True)
class CWoLaHGB:
    """k-fold CWoLa hunting with a histogram gradient-boosted classifier, as a window scorer.

    A classifier learns the window's SR versus its sidebands (``window.sb_width`` TeV;
    default half the SR width), each sideband weighted to half the SR
    (:func:`resad_tf.methods.cwola.sideband_weights`).  The events are split at
    random into ``k`` folds; the model for fold i is trained on the SR and sideband
    events of the other folds and scores every event of fold i, so every event --
    in the SR, the sidebands or elsewhere in the fit range -- gets the score of
    one model that never saw it.  (Scoring the events outside SR + sidebands with
    the mean of the fold models, as an earlier version did, gave them a narrower score distribution,
    so a cut kept fewer of them than of the SR and sideband events: a step in m_jj
    that the dijet fit could not follow, and fake bumps.)

    The classifier is one scikit-learn HGB of ``max_iter`` rounds without early
    stopping: with a signal of about 0.5% of the SR the validation loss stops
    improving after a few rounds, long before the trees isolate the signal.

    ``decorrelate``: the classifier sees each feature's conditional CDF given m_jj
    (:class:`~resad_tf.data.decorrelation.ConditionalQuantileTransform`), so that
    it cannot learn m_jj from the background's feature-mass correlation.  The
    transform is fitted per fold on the other folds' events (all of the fit
    range, not only SR and sidebands): fitted on the scored events too, it would
    make their transformed marginals exactly uniform, so whatever a model learned
    from fluctuations of its training folds would show up reversed in the scored
    fold: on background (8 toys of 31k SR events) (3.6 +- 0.9)% fewer SR than
    sideband events passed a 10% cut, a deficit that eats into a real signal.
    """

    k: int = 5
    max_iter: int = 100
    decorrelate: bool = True

    def __call__(self, events: Events, window: Window, seed: int) -> np.ndarray:
        from resad_tf.methods.cwola import sideband_weights
        from resad_tf.models import make_classifier

        if int(self.k) < 2:
            raise InputError(f"k must be at least 2 folds, got {self.k}")
        if window.sb_width is None:
            window = dataclasses.replace(window, sb_width=(window.hi - window.lo) / 2)
        in_sr, in_sb = window.sr(events.mjj), window.sb(events.mjj)
        n_sr = int(in_sr.sum())
        if n_sr < 2 * self.k:
            raise InputError(f"SR {window.lo}-{window.hi} TeV holds {n_sr} events: too few for {self.k} folds")
        weight = np.where(in_sr, 1.0, 0.0)
        weight[in_sb] = sideband_weights(events.mjj[in_sb], window, n_sr)

        def fit_score(i, others, train, held_out):
            use = (in_sr | in_sb)[others]  # the classifier learns SR vs sidebands only
            model = make_classifier("hgb", n_estimators=1, max_iter=self.max_iter, early_stopping=False, seed=seed)
            model.fit(train.x[use], in_sr[others][use].astype(float), weight[others][use])
            return model.predict(held_out.x)

        return _out_of_fold(events, self.k, seed, self.decorrelate, fit_score)


cwola_hgb = CWoLaHGB()


@dataclasses.dataclass(frozen=True)
class MethodScorer:
    """Any registered method (``resad_tf.methods.get(method)``) as a window scorer.

    The events are split into ``k`` folds; the method is fitted on the other
    folds (its Regions hold them as the data, with this window) and scores the
    held-out fold, so every event is scored by a model that never saw it.
    ``config`` overrides fields of the method's Config.  ``decorrelate``: the
    method sees the features decorrelated from m_jj, the transform fitted on the
    training folds (as in :class:`CWoLaHGB`).  Methods that need samples besides
    the data (a background reference, a simulation) cannot run in a scan.
    """

    method: str
    config: tuple[tuple[str, object], ...] = ()
    k: int = 5
    decorrelate: bool = False

    def __call__(self, events: Events, window: Window, seed: int) -> np.ndarray:
        from resad_tf import methods
        from resad_tf.data.regions import Regions

        cls = methods.get(self.method)
        if cls.needs:
            raise InputError(f"{self.method} needs {sorted(cls.needs)} besides the data and cannot run in a scan")
        cfg = cls.Config(**dict(self.config))

        def fit_score(i, others, train, held_out):
            model = cls(cfg, seed=seed + i, verbose=False).fit(Regions(window=window, data=train, seed=seed))
            return model.score(held_out)

        return _out_of_fold(events, self.k, seed, self.decorrelate, fit_score)


BUILTIN = {"cwola-hgb": cwola_hgb}


def get_scorer(name: str, decorrelate: bool | None = None) -> WindowScorer:
    """The built-in window scorer called ``name``, or any registered method with k-fold scoring.

    ``decorrelate``: decorrelate the features from m_jj first (None: the scorer's default,
    on for ``cwola-hgb``, off for the methods).

    >>> get_scorer("cwola-hgb", decorrelate=False)
    CWoLaHGB(k=5, max_iter=100, decorrelate=False)
    """
    from resad_tf import methods

    if name in BUILTIN:
        scorer = BUILTIN[name]
    elif name in methods.names():
        scorer = MethodScorer(name)
    else:
        raise InputError(f"unknown scan method {name!r}; choices: {sorted(BUILTIN) + methods.names()}")
    return scorer if decorrelate is None else dataclasses.replace(scorer, decorrelate=bool(decorrelate))


def scorer_config(scorer) -> dict:
    """What a scorer is and its options, as JSON-ready data (recorded with the scan settings).

    Dataclass scorers give their fields; ``functools.partial`` its keywords over
    the wrapped scorer's; anything else just its name.

    >>> scorer_config(CWoLaHGB(k=3))
    {'name': 'CWoLaHGB', 'k': 3, 'max_iter': 100, 'decorrelate': True}
    """
    if isinstance(scorer, functools.partial):
        return {**scorer_config(scorer.func), **scorer.keywords}
    if dataclasses.is_dataclass(scorer) and not isinstance(scorer, type):
        return {"name": type(scorer).__name__, **dataclasses.asdict(scorer)}
    return {"name": getattr(scorer, "__qualname__", type(scorer).__qualname__)}
