"""What the scan runs: SR windows, the bump-hunt settings, and one task per window x seed x injection.

>>> [window_name(w) for w in make_windows(0.4, 0.2, (3.0, 4.0))]
['3.000-3.400', '3.200-3.600', '3.400-3.800', '3.600-4.000']
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass

import numpy as np

from resad_tf.bumphunt import bump_hunt
from resad_tf.data.events import Events
from resad_tf.data.regions import Window
from resad_tf.errors import InputError


def window_name(window: Window) -> str:
    return f"{window.lo:.3f}-{window.hi:.3f}"


def make_windows(width: float, step: float, scan_range, sb_width: float | None = None) -> list[Window]:
    """SR windows of ``width`` TeV every ``step`` TeV, all inside ``scan_range = (lo, hi)``.

    ``sb_width``: the sidebands a scorer trains on (None: the scorer's default).
    """
    lo, hi = map(float, scan_range)
    if width <= 0 or step <= 0:
        raise InputError(f"--window_width ({width}) and --step ({step}) must be positive")
    if hi - lo < width - 1e-9:
        raise InputError(f"--scan_range {lo}-{hi} TeV is narrower than one window ({width} TeV)")
    n = int(np.floor((hi - lo - width) / step + 1e-9)) + 1
    return [Window(round(lo + i * step, 6), round(lo + i * step + width, 6), sb_width) for i in range(n)]


@dataclass(frozen=True)
class HuntSettings:
    """Everything besides the window and the scorer that decides a task's result (checked on resume).

    ``fit_range`` (TeV) bounds the background fit and the events a scorer sees.
    ``fit_margin`` (TeV; None: the whole ``fit_range``) makes both window-local, as
    in CWoLa hunting: [max(fit_lo, lo - margin), min(fit_hi, hi + margin)] for the
    window [lo, hi).  It must leave room for the scorer's sidebands and a few bins
    of ``bin_width`` on each side.

    >>> HuntSettings("cwola-hgb", fit_range=(2.8, 6.0), fit_margin=0.6).task_fit_range(Window(3.0, 3.4))
    (2.8, 4.0)
    """

    method: str
    efficiencies: tuple[float, ...] = (1.0, 0.1, 0.01, 0.002)
    fit_range: tuple[float, float] = (2.6, 6.0)
    fit_margin: float | None = None
    bin_width: float = 0.1
    n_params: int = 4
    reference: str = "sr"
    data: str = "toy"

    def __post_init__(self):
        if self.fit_margin is not None and not self.fit_margin > 0:
            raise InputError(f"--fit_margin must be positive (TeV), got {self.fit_margin}")

    def task_fit_range(self, window: Window) -> tuple[float, float]:
        """The fit range of ``window``'s bump hunt (and of the events its scorer sees)."""
        lo, hi = map(float, self.fit_range)
        if not lo < window.lo < window.hi < hi:
            raise InputError(f"window {window_name(window)} TeV must lie inside the fit range {lo}-{hi} TeV")
        if self.fit_margin is None:
            return lo, hi
        return max(lo, round(window.lo - self.fit_margin, 9)), min(hi, round(window.hi + self.fit_margin, 9))

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}


@dataclass(frozen=True)
class Task:
    window: Window
    seed: int
    n_sig: int
    method: str

    @property
    def id(self) -> str:
        name = re.sub(r"[^A-Za-z0-9_.-]", "_", self.method)
        return f"{name}_nsig{self.n_sig}_seed{self.seed}_{window_name(self.window)}"

    @property
    def data_key(self) -> tuple[int, int]:
        return self.n_sig, self.seed


def make_tasks(windows, seeds, n_sigs, method) -> list[Task]:
    return [Task(w, int(s), int(n), method) for n in n_sigs for s in seeds for w in windows]


def run_task(task: Task, events: Events, scorer, settings: HuntSettings) -> dict:
    """Score the events of the window's fit range and bump-hunt; returns the task's record."""
    t0 = time.perf_counter()
    lo, hi = settings.task_fit_range(task.window)
    ev = events.select(events.in_window(lo, hi))
    scores = np.asarray(scorer(ev, task.window, task.seed), dtype=np.float64)
    if scores.shape != (len(ev),):
        raise ValueError(f"scorer returned shape {scores.shape} for {len(ev)} events")
    res = bump_hunt(ev.mjj, scores, sr=(task.window.lo, task.window.hi), efficiencies=settings.efficiencies,
                    fit_range=(lo, hi), bins=settings.bin_width, n_params=settings.n_params,
                    reference=settings.reference, label=ev.label)
    in_sr = ev.in_window(task.window.lo, task.window.hi)
    return {
        "id": task.id,
        "method": task.method,
        "n_sig": task.n_sig,
        "seed": task.seed,
        "window": {"lo": task.window.lo, "hi": task.window.hi, "centre": task.window.center},
        "n_events": len(ev),
        "n_sr": int(in_sr.sum()),
        "n_signal_sr": None if ev.label is None else int(np.sum(ev.label[in_sr] == 1)),
        "efficiencies": list(settings.efficiencies),
        "z": [c.z if np.isfinite(c.z) else None for c in res.cuts],
        "bump_hunt": res.to_dict(),
        "wall_s": time.perf_counter() - t0,
    }
