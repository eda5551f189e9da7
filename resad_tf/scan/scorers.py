"""Window scorers: what the scan runs per signal-region window to score every event of its fit range.

A window scorer is a picklable object with a number of folds ``k`` and a call
``scorer(data, window, seed, background=None) -> scores``: one score per event of
``data.events`` (a :class:`~resad_tf.scan.tasks.Dataset`: the window's fit range,
each event's fold 0..k-1, the same for every window of a data set, and the
features decorrelated per fold).  The score of
an event of fold ``f`` must come from models that never saw fold ``f``, and all
events must be scored alike: a cut must not treat the signal region (SR), the
sidebands and the rest of the fit range differently, or it carves a bump into
the background.

The built-in scorers share one recipe per fold ``f`` (folds by :func:`resad_tf.models.cross_fit`):

1. **Decorrelate.**  Each feature is replaced by its conditional quantile given
   m_jj, mapped to a standard normal
   (:meth:`~resad_tf.scan.tasks.Dataset.decorrelated`: fitted on the other folds
   over the whole fit range, once per data set).  In the background every
   transformed feature is N(0, 1) at every m_jj, so a classifier on them cannot
   learn m_jj and a cut keeps the background's m_jj shape (shown on
   background-only toys in tests/scan and bench/studies/scan_discovery.py).
2. **Background template for the SR**, by scorer:

   * :class:`SidebandScorer` (``cwola``): CWoLa hunting.  The data in two
     sidebands of ``sb_width`` TeV, ``sb_gap`` TeV away from the SR (the gap
     keeps out the resonance's m_jj tails), each weighted to half the SR
     (:func:`resad_tf.methods.cwola.sideband_weights`).  In the decorrelated
     space the sidebands are the SR's background to the extent the features'
     joint dependence (their copula) does not change with m_jj; the balanced
     weights cancel a linear change.
   * :class:`FlowScorer` (``cathode``): CATHODE.  Samples of a conditional flow
     p(x | m_jj) (:class:`~resad_tf.methods.density.ConditionalDensity`) at the
     SR's masses.  The flows are amortized: one per fold and *blinded region*
     (:meth:`FlowScorer.background_regions`: overlapping regions of
     ``blind_width`` TeV such that every window lies inside one), trained on the
     other folds' events of the whole fit range outside the region, and shared
     by every window inside it.

3. **Classify** the SR data of the other folds against the template with a
   regularised boosted-tree classifier and score fold ``f``.

:class:`RANODEScorer` (``ranode``) shares the amortized background flows but
fits a signal density instead of a classifier, and makes its score flat in m_jj
by a per-m_jj quantile of the modelled background (see its docstring).

:class:`MethodScorer` runs any registered method of ``bin/`` per window (k-fold,
no amortization: slow, for comparisons).

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
from resad_tf.models.kfold import cross_fit


class WindowScorer(Protocol):
    k: int

    def __call__(self, data, window: Window, seed: int, background=None) -> np.ndarray: ...


# ------------------------------------------------------------------------------ shared steps
@dataclasses.dataclass(frozen=True)
class TreeSettings:
    """The per-window classifier: one regularised HGB (or an ensemble of ``n_members``).

    The defaults are chosen for a weak signal in a large background (signal ~0.5% of
    the SR): a small learning rate, large leaves and an L2 penalty keep the trees from
    fitting the background's fluctuations; no early stopping, which with so little
    signal stops after a few rounds, before the trees isolate it.
    """

    classifier: str = "hgb"
    n_members: int = 1
    max_iter: int = 200
    learning_rate: float = 0.05
    min_samples_leaf: int = 200
    l2_regularization: float = 1.0

    def fit_predict(self, x, y, weight, x_score, seed) -> np.ndarray:
        from resad_tf.models import make_classifier

        if self.classifier not in ("hgb", "xgb"):
            raise InputError(f"scan classifier must be 'hgb' or 'xgb', got {self.classifier!r}")
        model = make_classifier(self.classifier, n_estimators=self.n_members, max_iter=self.max_iter,
                                learning_rate=self.learning_rate, min_samples_leaf=self.min_samples_leaf,
                                l2_regularization=self.l2_regularization, early_stopping=False, seed=seed)
        model.fit(x, y, weight)
        return model.predict(x_score)


#: least events per fold in a window's SR (and in each sideband) for a classifier to learn anything
MIN_EVENTS_PER_FOLD = 20


def _check_count(what: str, n: int, k: int) -> None:
    if n < MIN_EVENTS_PER_FOLD * k:
        raise InputError(f"{what} holds {n} events: too few for {k} folds (need at least "
                         f"{MIN_EVENTS_PER_FOLD * k}); use more data, wider windows or move the scan range")


# ------------------------------------------------------------------------------ CWoLa
@dataclasses.dataclass(frozen=True)
class SidebandScorer(TreeSettings):
    """CWoLa hunting on decorrelated features: SR vs two gapped sidebands, k folds (see the module doc)."""

    k: int = 5
    sb_width: float = 0.4
    sb_gap: float = 0.1
    decorrelate: bool = True

    def __post_init__(self):
        if int(self.k) < 2:
            raise InputError(f"the scan needs at least 2 folds, got k={self.k}")
        if not self.sb_width > 0 or not self.sb_gap >= 0:
            raise InputError(f"sideband width ({self.sb_width}) must be > 0 and gap ({self.sb_gap}) >= 0 TeV")

    def check(self, events: Events, window: Window) -> None:
        """Refuse (InputError) a window whose SR or sidebands hold too few of ``events`` to train on."""
        from resad_tf.methods.cwola import sidebands

        _check_count(f"the SR {window.lo}-{window.hi} TeV", int(window.sr(events.mjj).sum()), self.k)
        low, high = sidebands(events.mjj, dataclasses.replace(window, sb_width=self.sb_width), self.sb_gap)
        for name, side in (("low", low), ("high", high)):
            _check_count(f"the {name} sideband of {window.lo}-{window.hi} TeV (width {self.sb_width}, gap "
                         f"{self.sb_gap} TeV, inside the fit range)", int(side.sum()), self.k)

    def __call__(self, data, window, seed, background=None) -> np.ndarray:
        from resad_tf.methods.cwola import sideband_weights, sidebands

        events = data.events
        self.check(events, window)
        window = dataclasses.replace(window, sb_width=self.sb_width)
        in_sr = window.sr(events.mjj)
        low, high = sidebands(events.mjj, window, self.sb_gap)

        def fit_score(f, train, _, held_out):
            z = data.decorrelated(f) if self.decorrelate else events.x
            sr, lo_sb, hi_sb = in_sr & train, low & train, high & train
            use = sr | lo_sb | hi_sb
            weight = np.where(sr, 1.0, 0.0)
            sb = lo_sb | hi_sb
            weight[sb] = sideband_weights(events.mjj[sb], window, int(sr.sum()), self.sb_gap)
            return self.fit_predict(z[use], sr[use].astype(float), weight[use], z[held_out], seed + f)

        return cross_fit(fit_score, data.fold, validation=False)


# ------------------------------------------------------------------------------ CATHODE
@dataclasses.dataclass(frozen=True)
class FlowScorer(TreeSettings):
    """CATHODE with amortized background flows (see the module doc).

    ``fit_background`` trains one :class:`~resad_tf.methods.density.ConditionalDensity`
    (logit preprocessing + affine MAF of ``n_blocks`` x ``flow_hidden``, the density
    averaged over its ``n_checkpoints`` best epochs) on the training folds outside
    a blinded region; the scan stores it and hands it to every window inside the
    region.  The window's SR masses are drawn from a KDE of the SR data, the flow
    is sampled ``oversampling`` times per SR event (from its checkpoint mixture),
    and the classifier tells the SR data from the samples, both decorrelated with
    the same transform.
    """

    k: int = 5
    blind_width: float = 0.8
    n_blocks: int = 6
    flow_hidden: int = 64
    flow_epochs: int = 30
    flow_batch_size: int = 1024
    flow_learning_rate: float = 1e-3
    n_checkpoints: int = 5
    oversampling: int = 2

    def __post_init__(self):
        if int(self.k) < 2:
            raise InputError(f"the scan needs at least 2 folds, got k={self.k}")
        if int(self.oversampling) < 1:
            raise InputError(f"oversampling must be >= 1, got {self.oversampling}")

    def background_regions(self, windows) -> list[tuple[float, float]]:
        """Blinded regions of ``blind_width`` TeV, each window inside one (the first that contains it).

        Regions start at the first window's low edge and step by ``blind_width - width``
        (the widest window), so consecutive regions overlap by one window width.
        """
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

    def flow_options(self):
        from resad_tf.methods.density import FlowOptions

        return FlowOptions(n_blocks=self.n_blocks, flow_hidden=(self.flow_hidden,), flow_epochs=self.flow_epochs,
                           flow_batch_size=self.flow_batch_size, flow_learning_rate=self.flow_learning_rate,
                           n_checkpoints=self.n_checkpoints)

    def fit_background(self, events: Events, train: np.ndarray, region, seed: int):
        """The background density of one fold and blinded region: trained on ``events[train]`` outside ``region``."""
        from resad_tf.methods.density import ConditionalDensity

        use = train & ~events.in_window(*region)
        return ConditionalDensity(self.flow_options(), seed=seed).fit(events.select(use))

    def check(self, events: Events, window: Window) -> None:
        """Refuse (InputError) a window whose SR holds too few of ``events`` to train on."""
        _check_count(f"the SR {window.lo}-{window.hi} TeV", int(window.sr(events.mjj).sum()), self.k)

    def _window(self, data, window, background) -> tuple[Events, np.ndarray]:
        """The window's events and SR mask, after checking them and the background models."""
        if background is None or len(background) != self.k:
            raise ValueError(f"{type(self).__name__} needs one background density per fold ({self.k}), "
                             f"got {background!r}")
        self.check(data.events, window)
        return data.events, window.sr(data.events.mjj)

    def __call__(self, data, window, seed, background=None) -> np.ndarray:
        from resad_tf.flows import MjjDensity

        events, in_sr = self._window(data, window, background)

        def fit_score(f, train, _, held_out):
            z, sr = data.decorrelated(f), in_sr & train
            mjj = MjjDensity((window.lo, window.hi)).fit(events.mjj[sr]).sample(
                self.oversampling * int(sr.sum()), seed=seed + f)
            samples = background[f].sample(mjj, seed=seed + f, ensemble=True)
            x = np.concatenate([z[sr], data.transform(f)(samples, mjj)])
            y = np.r_[np.ones(int(sr.sum())), np.zeros(len(mjj))]
            return self.fit_predict(x, y, None, z[held_out], seed + f)

        return cross_fit(fit_score, data.fold, validation=False)


# ------------------------------------------------------------------------------ R-ANODE
@dataclasses.dataclass(frozen=True)
class RANODEScorer(FlowScorer):
    """R-ANODE with the amortized background flows of :class:`FlowScorer`.

    Per fold, a small signal flow p_s(x | m) is fitted on the SR data of the other
    folds as the mixture w p_s + (1 - w) p_bg with the background density fixed
    (:meth:`resad_tf.methods.ranode.RANODE.fit_signal`, w learned), and the score is
    log p_s - log p_bg.  That score depends on m_jj, so it is made flat by
    construction: each event's score is replaced by its quantile among background
    scores at the same m_jj, estimated from ``n_calibration`` samples of the
    background flow at masses drawn from the fold's data
    (:class:`~resad_tf.data.decorrelation.ConditionalQuantileTransform` on the
    score).  A cut then keeps the same fraction of the *modelled* background at
    every m_jj: exact where the flow describes the data (the sidebands, where it
    was trained), an interpolation inside the blinded region.
    """

    signal_blocks: int = 2
    signal_hidden: int = 32
    signal_transform: str = "affine"
    signal_epochs: int = 10
    signal_batch_size: int = 512
    signal_learning_rate: float = 3e-3
    w_init: float = 0.005
    n_calibration: int = 300_000

    def signal_config(self):
        from resad_tf.methods.ranode import RANODEConfig

        return RANODEConfig(signal_blocks=self.signal_blocks, signal_hidden=(self.signal_hidden,),
                            signal_transform=self.signal_transform, flow_epochs=self.signal_epochs,
                            flow_batch_size=self.signal_batch_size, signal_learning_rate=self.signal_learning_rate,
                            w_init=self.w_init, n_checkpoints=1)

    def __call__(self, data, window, seed, background=None) -> np.ndarray:
        from resad_tf.data.decorrelation import ConditionalQuantileTransform
        from resad_tf.methods.ranode import RANODE

        events, in_sr = self._window(data, window, background)

        def fit_score(f, train, _, held_out):
            bg = background[f]
            model = RANODE(self.signal_config(), seed=seed + f, verbose=False).fit_signal(
                events.select(in_sr & train), bg)
            rng = np.random.default_rng(seed + f)
            m_cal = rng.choice(events.mjj[train], self.n_calibration)
            calibration = events.__class__(m_cal, bg.sample(m_cal, seed=seed + f, ensemble=True), events.features)
            cqt = ConditionalQuantileTransform().fit(model.score(calibration)[:, None], m_cal)
            scored = events.select(held_out)
            return cqt.transform(model.score(scored)[:, None], scored.mjj)[:, 0]

        return cross_fit(fit_score, data.fold, validation=False)


# ------------------------------------------------------------------------------ any method
@dataclasses.dataclass(frozen=True)
class MethodScorer:
    """Any registered method (``resad_tf.methods.get(method)``) as a window scorer.

    For each fold the method is fitted on the other folds (its Regions hold them
    as the data, with this window) and scores the held-out fold.  ``config``
    overrides fields of the method's Config.  ``decorrelate``: the method sees the
    decorrelated features (the transform fitted on the training folds).  Methods
    that need samples besides the data (a background reference, a simulation)
    cannot run in a scan.  Nothing is amortized: every window retrains everything.
    """

    method: str
    config: tuple[tuple[str, object], ...] = ()
    k: int = 5
    decorrelate: bool = False

    def __call__(self, data, window, seed, background=None) -> np.ndarray:
        from resad_tf import methods
        from resad_tf.data.regions import Regions

        cls = methods.get(self.method)
        if cls.needs:
            raise InputError(f"{self.method} needs {sorted(cls.needs)} besides the data and cannot run in a scan")
        cfg = cls.Config(**dict(self.config))

        def fit_score(f, train, _, held_out):
            ev = data.events
            if self.decorrelate:
                ev = ev.with_features(data.decorrelated(f), ev.features)
            model = cls(cfg, seed=seed + f, verbose=False).fit(Regions(window=window, data=ev.select(train), seed=seed))
            return model.score(ev.select(held_out))

        return cross_fit(fit_score, data.fold, validation=False)


BUILTIN = {"cwola": SidebandScorer, "cathode": FlowScorer, "ranode": RANODEScorer}


def get_scorer(name: str, **options) -> WindowScorer:
    """The built-in scorer ``name`` (``cwola``, ``cathode``, ``ranode``) with ``options``, or any registered method.

    >>> get_scorer("cwola", k=3).k
    3
    >>> get_scorer("cathode").background_regions([Window(3.3, 3.7), Window(3.8, 4.2)])
    [(3.3, 4.1), (3.7, 4.5)]
    """
    from resad_tf import methods

    options = {key: value for key, value in options.items() if value is not None}
    if name in BUILTIN:
        cls = BUILTIN[name]
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise InputError(f"scan method {name!r} has no option(s) {unknown}; it takes {sorted(known)}")
        return cls(**options)
    if name in methods.names():
        return MethodScorer(name, k=options.get("k", 5), decorrelate=bool(options.get("decorrelate", False)))
    raise InputError(f"unknown scan method {name!r}; choices: {sorted(BUILTIN) + methods.names()}")


def scorer_config(scorer) -> dict:
    """What a scorer is and its options, as JSON-ready data (recorded with the scan settings).

    >>> scorer_config(SidebandScorer(k=3))["k"], scorer_config(SidebandScorer())["name"]
    (3, 'SidebandScorer')
    """
    if isinstance(scorer, functools.partial):
        return {**scorer_config(scorer.func), **scorer.keywords}
    if dataclasses.is_dataclass(scorer) and not isinstance(scorer, type):
        return {"name": type(scorer).__name__, **dataclasses.asdict(scorer)}
    return {"name": getattr(scorer, "__qualname__", type(scorer).__qualname__)}
