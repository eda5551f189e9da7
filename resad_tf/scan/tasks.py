"""What the scan runs: SR windows, the bump-hunt settings, and one task per window x seed x injection.

>>> [window_name(w) for w in make_windows(0.4, 0.2, (3.0, 4.0))]
['3.000-3.400', '3.200-3.600', '3.400-3.800', '3.600-4.000']
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import numpy as np

from resad_tf.bumphunt import SQRT_S, bump_hunt
from resad_tf.bumphunt.fit import N_PARAMS, N_PARAMS_RULES
from resad_tf.bumphunt.significance import BACKENDS
from resad_tf.config import Options, option, to_dict
from resad_tf.data.events import Events
from resad_tf.data.regions import Window
from resad_tf.errors import InputError


def window_name(window: Window) -> str:
    return f"{window.lo:.3f}-{window.hi:.3f}"


def make_windows(width: float, step: float, scan_range) -> list[Window]:
    """SR windows of ``width`` TeV every ``step`` TeV, all inside ``scan_range = (lo, hi)``."""
    lo, hi = map(float, scan_range)
    if not (width > 0 and step > 0):
        raise InputError(f"--window_width ({width}) and --step ({step}) must be positive (TeV)")
    if hi - lo < width - 1e-9:
        raise InputError(f"--scan_range {lo}-{hi} TeV is narrower than one window ({width} TeV): "
                         "widen the range or narrow the windows")
    n = int(np.floor((hi - lo - width) / step + 1e-9)) + 1
    return [Window(round(lo + i * step, 6), round(lo + i * step + width, 6)) for i in range(n)]


@dataclass(frozen=True, eq=False)
class Dataset:
    """The events of one injection x seed, their fold (the same for every window) and, per fold,
    the features decorrelated from m_jj by a transform that never saw that fold.

    ``select`` gives a part (a window's fit range) that shares its parent's decorrelation: each
    fold's transform is fitted once per data set (on all its events of the other folds), not once
    per window.

    >>> from resad_tf.data.events import Events
    >>> d = Dataset.make(Events(np.linspace(3, 4, 10), np.zeros((10, 1)), ("f",)), k=5, seed=0)
    >>> int(d.fold.max()), len(d.select(d.events.mjj < 3.5).events)
    (4, 5)
    """

    events: Events
    fold: np.ndarray
    _root: "Dataset | None" = field(default=None, repr=False)
    _index: np.ndarray | None = field(default=None, repr=False)
    _transforms: dict = field(default_factory=dict, repr=False)

    @classmethod
    def make(cls, events: Events, k: int, seed: int) -> "Dataset":
        from resad_tf.models import make_folds

        return cls(events, make_folds(len(events), k, seed))

    def select(self, mask) -> "Dataset":
        root = self._root or self
        index = np.flatnonzero(mask) if self._index is None else self._index[mask]
        return Dataset(self.events.select(mask), self.fold[mask], root, index)

    def transform(self, f: int):
        """The decorrelating map (x, m) -> z of fold ``f``: each feature's conditional quantile given m_jj,
        as a standard normal (:class:`~resad_tf.data.decorrelation.ConditionalQuantileTransform`), fitted on
        the whole data set's events outside fold ``f``."""
        root = self._root or self
        if f not in root._transforms:
            from resad_tf.data.decorrelation import ConditionalQuantileTransform

            train = root.fold != f
            cqt = ConditionalQuantileTransform(output="normal").fit(root.events.x[train], root.events.mjj[train])
            root._transforms[f] = (cqt.transform, cqt.transform(root.events.x, root.events.mjj))
        return root._transforms[f][0]

    def decorrelated(self, f: int) -> np.ndarray:
        """Every event's features through :meth:`transform` of fold ``f`` (computed once per data set)."""
        self.transform(f)
        z = (self._root or self)._transforms[f][1]
        return z if self._index is None else z[self._index]

    def __getstate__(self):  # what Dask ships to a worker: the events and folds, not the caches
        return {"events": self.events, "fold": self.fold, "_root": self._root, "_index": self._index,
                "_transforms": {}}

    def __setstate__(self, state):
        for key, value in state.items():
            object.__setattr__(self, key, value)


#: fitted bins a window's background fit needs on each side, beyond its fit gap
MIN_SIDEBAND_BINS = 3


@dataclass(frozen=True)
class HuntSettings(Options):
    """Everything besides the window and the scorer that decides a task's result (checked on resume).

    ``fit_range`` (TeV) bounds the background fit and the events a scorer sees.
    ``fit_margin`` (TeV; None: the whole ``fit_range``) makes both window-local, as
    in CWoLa hunting: [max(fit_lo, lo - margin), min(fit_hi, hi + margin)] for the
    window [lo, hi).  The fields are ``bin/scan``'s flags of the same names.

    >>> HuntSettings("cwola", fit_range=(2.8, 6.0), fit_margin=0.6).task_fit_range(Window(3.2, 3.6))
    (2.8, 4.2)
    """

    method: str = option("cwola", "window scorer: cwola (SR vs gapped sidebands on decorrelated features), "
                         "cathode (SR vs samples of amortized background flows), ranode (R-ANODE on those "
                         "flows), or any method of bin/ that needs no extra sample (retrained per window)")
    efficiencies: tuple[float, ...] = option((1.0, 0.1, 0.01, 0.002), "score cuts: fractions of each window's "
                                             "SR events kept", gt=0, le=1)
    fit_range: tuple[float, ...] = option((2.8, 6.0), "lo,hi in TeV of the background fit (and of the events "
                                          "scored)", gt=0, lt=SQRT_S)
    fit_margin: float | None = option(None, "TeV: fit each window on [lo - margin, hi + margin] within "
                                      "--fit_range (a window-local fit); unset: the whole --fit_range", gt=0)
    bin_width: float = option(0.1, "m_jj bin width of the fits in TeV (the SR edges are bin edges)", gt=0)
    fit_gap: float = option(0.1, "TeV on each side of the SR left out of the background fit: a resonance's m_jj "
                            "tails reach beyond the window and, after a tight cut, pull the fit up", ge=0)
    n_params: str = option("max", "dijet function parameters: 3, 4, 5, max (the most that fit the sidebands) or "
                           "ftest (the fewest that Fisher's F-test does not improve)",
                           choices=N_PARAMS_RULES + tuple(map(str, N_PARAMS)))
    ftest_alpha: float = option(0.05, "level of the F-test that adds a dijet parameter", gt=0, lt=1)
    significance: str = option("asymptotic", "local-significance backend: asymptotic (closed-form profile "
                               "likelihood, Gaussian background constraint) or pyhf (HistFactory counting "
                               "model, Poisson-constrained background)", choices=BACKENDS)
    reference: str = option("sr", "whose scores set the cut thresholds: sr (the window's SR events)",
                            choices=("sr",))
    data: str = option("toy", "the data set's description (recorded for the resume check)")

    def __post_init__(self):
        super().__post_init__()
        if len(self.fit_range) != 2 or not self.fit_range[0] < self.fit_range[1]:
            raise InputError(f"--fit_range needs lo,hi in TeV with lo < hi, got {','.join(map(str, self.fit_range))}")
        if self.fit_margin is not None and not self.fit_margin > self.fit_gap + self.bin_width:
            raise InputError(f"--fit_margin={self.fit_margin} leaves no sideband to fit beyond the fit gap "
                             f"({self.fit_gap} TeV) and one bin ({self.bin_width} TeV): widen it")

    @property
    def dijet_params(self) -> int | str:
        """``n_params`` as :func:`~resad_tf.bumphunt.bump_hunt` takes it."""
        return self.n_params if self.n_params in N_PARAMS_RULES else int(self.n_params)

    def task_fit_range(self, window: Window) -> tuple[float, float]:
        """The fit range of ``window``'s bump hunt (and of the events its scorer sees).

        Each side must keep :data:`MIN_SIDEBAND_BINS` fitted bins beyond the fit gap: with fewer, the
        interpolation into the SR is an extrapolation from one side, and its significance meaningless.
        """
        lo, hi = map(float, self.fit_range)
        if self.fit_margin is not None:
            lo, hi = max(lo, round(window.lo - self.fit_margin, 9)), min(hi, round(window.hi + self.fit_margin, 9))
        room = MIN_SIDEBAND_BINS * self.bin_width - 1e-9
        if not (lo <= window.lo - self.fit_gap - room and window.hi + self.fit_gap + room <= hi):
            raise InputError(
                f"window {window_name(window)} TeV leaves less than {MIN_SIDEBAND_BINS} bins of "
                f"{self.bin_width} TeV to fit beyond its fit gap ({self.fit_gap} TeV) inside the fit range "
                f"{lo:g}-{hi:g} TeV: move the scan range inwards or widen the fit range")
        return lo, hi

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in to_dict(self).items()}


#: ``--n_sig`` value that keeps the data's own composition (nothing injected)
OWN_COMPOSITION = -1


def dataset_name(data_key) -> str:
    """The name of one data set of a scan, in file names, records and plots: ``nsig<N>_seed<S>`` for
    ``N`` injected signal events, ``data_seed<S>`` for the data's own composition (``n_sig = -1``).

    >>> dataset_name((1000, 0)), dataset_name((OWN_COMPOSITION, 3))
    ('nsig1000_seed0', 'data_seed3')
    """
    n_sig, seed = data_key
    return f"{injection_name(n_sig)}_seed{seed}"


def injection_name(n_sig: int) -> str:
    """``data`` for the data's own composition, ``nsig<N>`` for ``N`` injected signal events."""
    return "data" if n_sig == OWN_COMPOSITION else f"nsig{n_sig}"


def injection_label(n_sig: int) -> str:
    """How plots and tables name an injection: ``data`` or ``N_sig = <N>``."""
    return "data" if n_sig == OWN_COMPOSITION else f"N_sig = {n_sig}"


#: what a scan draws random numbers for, besides the data, folds and training (which use the seed itself)
SEED_PURPOSES = ("toys",)


def derived_seeds(data_key, purpose: str, n: int) -> list[np.random.SeedSequence]:
    """``n`` independent random streams for ``purpose`` of one data set ``(n_sig, seed)``: the one place a
    scan derives seeds, valid for every ``n_sig >= -1`` and ``seed >= 0`` (numpy ``SeedSequence``s, so
    streams of different data sets, purposes and indices never overlap).

    >>> a = derived_seeds((-1, 0), "toys", 2)
    >>> [np.random.default_rng(s).integers(10**6) for s in a] == [
    ...     np.random.default_rng(s).integers(10**6) for s in derived_seeds((-1, 0), "toys", 2)]
    True
    >>> a[0].entropy != derived_seeds((1000, 0), "toys", 1)[0].entropy
    True
    """
    n_sig, seed = map(int, data_key)
    if n_sig < OWN_COMPOSITION or seed < 0:
        raise InputError(f"a scan's data set needs n_sig >= {OWN_COMPOSITION} and seed >= 0, got {n_sig}, {seed}")
    # the entropy must be non-negative: n_sig + 1 maps the data's own composition (-1) to 0
    root = np.random.SeedSequence([seed, n_sig + 1, SEED_PURPOSES.index(purpose)])
    return root.spawn(int(n))


@dataclass(frozen=True)
class Task:
    window: Window
    seed: int
    n_sig: int
    method: str

    @property
    def id(self) -> str:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.method)
        return f"{name}_{dataset_name(self.data_key)}_{window_name(self.window)}"

    @property
    def data_key(self) -> tuple[int, int]:
        return self.n_sig, self.seed


def make_tasks(windows, seeds, n_sigs, method) -> list[Task]:
    return [Task(w, int(s), int(n), method) for n in n_sigs for s in seeds for w in windows]


def calibrate_per_fold(scores: np.ndarray, fold: np.ndarray, in_sr: np.ndarray, seed=0) -> np.ndarray:
    """Each score replaced by the fraction of its own fold's SR events that score below it.

    Every fold has its own models, whose score scales differ; after this a cut at
    efficiency e keeps a fraction e of every fold's SR events.  Tied scores (boosted
    trees give many) are spread uniformly over the ranks they share (the randomized
    probability integral transform, seeded), so that every efficiency is reachable.

    >>> u = calibrate_per_fold(np.array([0.1, 0.2, 5.0, 6.0]), np.array([0, 0, 1, 1]), np.ones(4, bool))
    >>> np.floor(2 * u).tolist()  # the lower and the upper half of each fold
    [0.0, 1.0, 0.0, 1.0]
    >>> tied = np.repeat([1.0, 2.0, 3.0, 4.0], 250)  # four distinct scores only
    >>> round(float(np.mean(calibrate_per_fold(tied, np.zeros(1000, int), np.ones(1000, bool)) >= 0.9)), 2)
    0.1
    """
    rng = np.random.default_rng(seed)
    out = np.empty(len(scores))
    for f in np.unique(fold):
        mine = fold == f
        ref = np.sort(scores[mine & in_sr])
        if len(ref) == 0:
            raise InputError(f"fold {f} has no events in the signal region: too few events for the folds")
        below = np.searchsorted(ref, scores[mine], side="left")
        tied = np.searchsorted(ref, scores[mine], side="right") - below
        out[mine] = (below + rng.random(int(mine.sum())) * tied) / len(ref)
    return out


def run_task(task: Task, data: Dataset, scorer, settings: HuntSettings, background=None) -> dict:
    """Score the events of the window's fit range and bump-hunt; returns the task's record."""
    t0 = time.perf_counter()
    lo, hi = settings.task_fit_range(task.window)
    d = data.select(data.events.in_window(lo, hi))
    ev = d.events
    raw = np.asarray(scorer(d, task.window, task.seed, background=background), dtype=np.float64)
    if raw.shape != (len(ev),) or not np.all(np.isfinite(raw)):
        raise ValueError(f"scorer returned shape {raw.shape} (finite: {np.isfinite(raw).all()}) for {len(ev)} events")
    in_sr = task.window.sr(ev.mjj)
    scores = calibrate_per_fold(raw, d.fold, in_sr, seed=task.seed)
    res = bump_hunt(ev.mjj, scores, sr=(task.window.lo, task.window.hi), efficiencies=settings.efficiencies,
                    fit_range=(lo, hi), bins=settings.bin_width, n_params=settings.dijet_params,
                    reference=settings.reference, label=ev.label, ftest_alpha=settings.ftest_alpha,
                    significance=settings.significance, fit_gap=settings.fit_gap)
    return {
        "id": task.id,
        "method": task.method,
        "n_sig": task.n_sig,  # -1: the data's own composition
        "dataset": dataset_name(task.data_key),
        "seed": task.seed,
        "window": {"lo": task.window.lo, "hi": task.window.hi, "centre": task.window.center},
        "fit_range": [lo, hi],
        "n_events": len(ev),
        "n_sr": int(in_sr.sum()),
        "n_signal_sr": None if ev.label is None else int(np.sum(ev.label[in_sr] == 1)),
        "efficiencies": list(settings.efficiencies),
        "z": [c.z if np.isfinite(c.z) else None for c in res.cuts],
        "sculpted": [bool(c.sculpted) for c in res.cuts],
        "n_params": [None if c.fit is None else c.fit.n_params for c in res.cuts],
        "bump_hunt": res.to_dict(),
        "wall_s": time.perf_counter() - t0,
    }
