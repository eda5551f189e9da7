"""The window scorer: what the scan runs per signal-region window to score every event of its fit range.

A window scorer is a picklable object with a number of folds ``k`` and a call
``scorer(data, window, seed, background=None) -> scores``: one score per event of
``data.events`` (a :class:`~resad_tf.scan.tasks.Dataset`: the window's fit range,
each event's fold 0..k-1, the same for every window of a data set).  The score of
an event of fold ``f`` must come from models that never saw fold ``f``, and all
events must be scored alike: a cut must not treat the signal region (SR), the
sidebands and the rest of the fit range differently, or it carves a bump into
the background.

:class:`MethodScorer` is that scorer for any registered method
(:mod:`resad_tf.methods`): ``bin/scan --method=X`` runs the algorithm of ``bin/X``.
Per fold ``f`` (folds by :func:`resad_tf.models.cross_fit`):

1. **What the method sees.**  With ``decorrelate`` each feature is replaced by its
   conditional quantile given m_jj, mapped to a standard normal
   (:meth:`~resad_tf.scan.tasks.Dataset.decorrelated`, fitted on the other folds
   over the whole fit range).  In the background every transformed feature is
   N(0, 1) at every m_jj, so a classifier on them cannot learn m_jj and a cut keeps
   the background's m_jj shape (shown on background-only toys in tests/scan and
   bench/studies/scan_discovery.py).
2. **Fit.**  The method is fitted on the other folds' events as its
   :class:`~resad_tf.data.Regions` (the window, all their m_jj as the data):
   ``Method(config, seed=seed + f).fit(regions, background=...)``.  A method that
   takes a background density (``takes_background``: CATHODE, LaCATHODE, R-ANODE,
   ANODE) gets an **amortized** one instead of learning its own in the window's
   sidebands: one per fold and *blinded region* (:meth:`MethodScorer.background_regions`:
   overlapping regions of ``blind_width`` TeV, each window inside one), trained by
   the method's own ``background_density()`` on the other folds' events of the
   whole fit range outside the region, and shared by every window inside it.  The
   density learns the features themselves (on the decorrelated ones the same flow
   models the background far worse: with 2-epoch flows CATHODE's SIC in the signal
   window fell from 5.5 to 2.2); with ``decorrelate`` its samples are mapped by the
   fold's transform (:class:`DecorrelatedSamples`), which is why only a method that
   samples its density (CATHODE) can be decorrelated.
3. **Score** fold ``f`` with the fitted method; with ``flatten``, each score is
   replaced by its quantile among the scores of background-density samples at the
   same m_jj (:func:`flatten_in_mjj`), a post-processing for scores that depend on
   m_jj by construction (R-ANODE's log p_s - log p_bg).

Methods that need samples besides the data (the IAD's pure-background reference,
the supervised bound's signal sample, SALAD's simulation) or score jet images
(sparse_ae) are refused with an InputError: a scan has only the data.

:func:`get_scorer` builds a scorer with the scan's defaults
(:data:`resad_tf.scan.options.METHOD_DEFAULTS`); :func:`scorer_config` describes it
for the scan's resume check, by the options it uses.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Protocol

import numpy as np

from resad_tf.config import to_dict
from resad_tf.data.events import Events
from resad_tf.data.regions import Regions, Window
from resad_tf.errors import InputError
from resad_tf.models.kfold import cross_fit


class WindowScorer(Protocol):
    k: int

    def __call__(self, data, window: Window, seed: int, background=None) -> np.ndarray: ...


#: least events per fold in a window's SR (and in each sideband a method trains on) to learn anything
MIN_EVENTS_PER_FOLD = 20

#: methods whose scores the scan flattens in m_jj by default (``flatten=None``)
FLATTEN_BY_DEFAULT = ("ranode",)


def _check_count(what: str, n: int, k: int) -> None:
    if n < MIN_EVENTS_PER_FOLD * k:
        raise InputError(f"{what} holds {n} events: too few for {k} folds (need at least "
                         f"{MIN_EVENTS_PER_FOLD * k}); use more data, wider windows or move the scan range")


def flatten_in_mjj(score, density, mjj_pool: np.ndarray, events: Events, n: int, seed: int) -> np.ndarray:
    """``score(events)`` made flat in m_jj: each score's quantile among background scores at its m_jj.

    The background scores are ``score`` of ``n`` samples of ``density`` (its
    checkpoint mixture) at masses drawn from ``mjj_pool``; the per-m_jj quantile is a
    :class:`~resad_tf.data.decorrelation.ConditionalQuantileTransform` of the score.
    A cut then keeps the same fraction of the *modelled* background at every m_jj:
    exact where the density describes the data (where it was trained), an
    interpolation inside a blinded region.
    """
    from resad_tf.data.decorrelation import ConditionalQuantileTransform

    rng = np.random.default_rng(seed)
    m_cal = rng.choice(mjj_pool, n)
    calibration = Events(m_cal, density.sample(m_cal, seed=seed, ensemble=True), events.features)
    cqt = ConditionalQuantileTransform().fit(score(calibration)[:, None], m_cal)
    return cqt.transform(score(events)[:, None], events.mjj)[:, 0]


class DecorrelatedSamples:
    """A background density as a method that sees decorrelated features samples it: each sample mapped by
    ``transform(x, mjj)`` (a fold's decorrelating map).  Only sampling: the map has no Jacobian here."""

    def __init__(self, density, transform):
        self.density, self.transform = density, transform
        self.features_ = density.features_

    def sample(self, mjj: np.ndarray, seed, ensemble: bool = False) -> np.ndarray:
        return self.transform(self.density.sample(mjj, seed=seed, ensemble=ensemble), mjj)


@dataclasses.dataclass(frozen=True)
class MethodScorer:
    """A registered method as a window scorer (see the module doc).

    ``config``: the method's Config; ``decorrelate``: the method sees the
    decorrelated features; ``flatten``: the scores are flattened in m_jj with the
    amortized background (methods that take one); ``blind_width``: TeV of the
    amortized background's blinded regions; ``n_calibration``: background samples
    per fold that flattening ranks against.

    >>> from resad_tf.methods.cwola import CWoLaConfig
    >>> MethodScorer("cwola", CWoLaConfig(), k=3).k
    3
    """

    method: str
    config: object
    k: int = 5
    decorrelate: bool = True
    flatten: bool = False
    blind_width: float = 0.8
    n_calibration: int = 300_000

    def __post_init__(self):
        from resad_tf import methods

        cls = methods.get(self.method)
        if cls.needs:
            raise InputError(f"--method={self.method} needs {sorted(cls.needs)} besides the data, which a scan "
                             "does not have: scan a method that learns from the data alone")
        if cls.inputs != "features":
            raise InputError(f"--method={self.method} scores {cls.inputs}, which a scan does not load: scan a "
                             "method that scores the events' features")
        if not isinstance(self.config, cls.Config):
            raise InputError(f"{self.method} takes a {cls.Config.__name__}, got a {type(self.config).__name__}")
        if int(self.k) < 2:
            raise InputError(f"the scan needs at least 2 folds, got k={self.k}")
        if self.flatten and not cls.takes_background:
            raise InputError(f"--flatten needs a background density to rank against, and {self.method} takes none")
        if self.decorrelate and cls.takes_background and cls.density_use != "samples":
            raise InputError(f"--method={self.method} evaluates its background density ({cls.density_use}), which "
                             "the decorrelating transform does not map: use --nodecorrelate")

    @property
    def method_class(self):
        from resad_tf import methods

        return methods.get(self.method)

    @property
    def takes_background(self) -> bool:
        return self.method_class.takes_background

    def _model(self, seed: int):
        return self.method_class(self.config, seed=seed, verbose=False)

    def _events(self, data, f: int) -> Events:
        """What the method sees of fold ``f``'s model: every event, decorrelated by fold ``f``'s transform."""
        events = data.events
        return events.with_features(data.decorrelated(f), events.features) if self.decorrelate else events

    # ------------------------------------------------------------------ amortized background
    def background_regions(self, windows) -> list[tuple[float, float]]:
        """Blinded regions of ``blind_width`` TeV, each window inside one; none for a method without a density.

        Regions start at the first window's low edge and step by ``blind_width - width``
        (the widest window), so consecutive regions overlap by one window width.
        """
        if not self.takes_background:
            return []
        width = max(w.hi - w.lo for w in windows)
        if self.blind_width < width:
            raise InputError(f"blind_width ({self.blind_width} TeV) must be at least the window width ({width} TeV)")
        step = max(self.blind_width - width, 1e-3)
        lo, top = min(w.lo for w in windows), max(w.hi for w in windows)
        regions = []
        while True:
            regions.append((round(lo, 6), round(lo + self.blind_width, 6)))
            if lo + self.blind_width >= top - 1e-9:
                return regions
            lo += step

    def region_of(self, window: Window, regions) -> tuple[float, float]:
        for r in regions:
            if r[0] - 1e-9 <= window.lo and window.hi <= r[1] + 1e-9:
                return r
        raise ValueError(f"window {window.lo}-{window.hi} lies in no blinded region of {regions}")

    def fit_background(self, data, f: int, region, seed: int):
        """Fold ``f``'s background density for a blinded region: the method's own, trained on the other
        folds' events outside ``region`` (their features, not decorrelated)."""
        use = (data.fold != f) & ~data.events.in_window(*region)
        return self._model(seed).background_density().fit(data.events.select(use))

    def method_background(self, data, f: int, density):
        """Fold ``f``'s amortized ``density`` as the method sees it (its samples decorrelated with ``decorrelate``)."""
        return DecorrelatedSamples(density, data.transform(f)) if self.decorrelate else density

    # ------------------------------------------------------------------ scoring
    def check(self, events: Events, window: Window) -> None:
        """Refuse (InputError) a window whose SR, or the sidebands the method trains on, hold too few events."""
        _check_count(f"the SR {window.lo}-{window.hi} TeV", int(window.sr(events.mjj).sum()), self.k)
        if not self.method_class.uses_sidebands or self.takes_background or not hasattr(self.config, "window"):
            return
        sided = self.config.window(window)
        for name, side in (("low", sided.sb_low(events.mjj)), ("high", sided.sb_high(events.mjj))):
            _check_count(f"the {name} sideband of {window.lo}-{window.hi} TeV (width {sided.sb_width}, gap "
                         f"{sided.sb_gap} TeV, inside the fit range)", int(side.sum()), self.k)

    def __call__(self, data, window, seed, background=None) -> np.ndarray:
        self.check(data.events, window)
        if self.takes_background and (background is None or len(background) != self.k):
            raise ValueError(f"{self.method} needs one background density per fold ({self.k}), got {background!r}")

        def fit_score(f, train, _, held_out):
            events = self._events(data, f)
            density = self.method_background(data, f, background[f]) if self.takes_background else None
            model = self._model(seed + f).fit(Regions(window=window, data=events.select(train), seed=seed),
                                              background=density)
            scored = events.select(held_out)
            if self.flatten:
                return flatten_in_mjj(model.score, density, events.mjj[train], scored, self.n_calibration, seed + f)
            return model.score(scored)

        return cross_fit(fit_score, data.fold, validation=False)


def get_scorer(method: str, k: int = 5, decorrelate: bool | None = None, flatten: bool | None = None,
               blind_width: float = 0.8, n_calibration: int = 300_000, **config) -> MethodScorer:
    """The scorer of ``method`` with the scan's defaults for its Config, then the options in ``config``.

    ``flatten`` (None): on for the methods of :data:`FLATTEN_BY_DEFAULT`; ``decorrelate``
    (None): on unless the scores are flattened or the method evaluates its background
    density (ANODE, LaCATHODE, R-ANODE; see :class:`DecorrelatedSamples`).

    >>> get_scorer("cwola", k=3).config.k_folds, get_scorer("cwola", max_iter=50).config.max_iter
    (1, 50)
    >>> get_scorer("cathode").background_regions([Window(3.3, 3.7), Window(3.8, 4.2)])
    [(3.3, 4.1), (3.7, 4.5)]
    """
    from resad_tf import methods
    from resad_tf.scan.options import method_config

    cls = methods.get(method)
    flatten = method in FLATTEN_BY_DEFAULT if flatten is None else bool(flatten)
    if decorrelate is None:
        decorrelate = not flatten and getattr(cls, "density_use", "samples") == "samples"
    return MethodScorer(method, method_config(cls, **config), k=int(k), decorrelate=decorrelate, flatten=flatten,
                        blind_width=blind_width, n_calibration=int(n_calibration))


def scorer_config(scorer) -> dict:
    """What a scorer is and the options it uses, as JSON-ready data (the scan's resume identity).

    A :class:`MethodScorer` records its method's Config without the options its
    classifier ignores (the MLP's for trees, the trees' for the MLP) and only the
    scan options that apply to it (the blinded regions for a method with a
    background density, the calibration sample when it flattens).

    >>> c = scorer_config(get_scorer("cwola", k=3))
    >>> c["method"], c["k"], "blind_width" in c, "epochs" in c["config"], c["config"]["sideband_gap"]
    ('cwola', 3, False, False, 0.1)
    """
    if isinstance(scorer, functools.partial):
        return {**scorer_config(scorer.func), **scorer.keywords}
    if isinstance(scorer, MethodScorer):
        from resad_tf.methods.classify import ClassifierOptions, unused_options

        config = to_dict(scorer.config)
        if isinstance(scorer.config, ClassifierOptions):
            config = {key: v for key, v in config.items() if key not in unused_options(scorer.config)}
        out = {"name": "MethodScorer", "method": scorer.method, "k": scorer.k, "decorrelate": scorer.decorrelate,
               "config": {key: list(v) if isinstance(v, tuple) else v for key, v in config.items()}}
        if scorer.takes_background:
            out["blind_width"] = scorer.blind_width
            out["flatten"] = scorer.flatten
        if scorer.flatten:
            out["n_calibration"] = scorer.n_calibration
        return out
    if dataclasses.is_dataclass(scorer) and not isinstance(scorer, type):
        return {"name": type(scorer).__name__, **dataclasses.asdict(scorer)}
    return {"name": getattr(scorer, "__qualname__", type(scorer).__qualname__)}
