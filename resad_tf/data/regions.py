"""Signal region / sideband windows, signal injection and reproducible splits.

The standard LHCO protocol: a labelled pool of background and signal events;
``n_sig`` signal events (counted over the full m_jj range) are injected into
the background to make the "observed" data; a fraction of the background is
held out, uniformly in m_jj, to build a labelled signal-region test set (with
the signal that was not injected) and a pure-background signal-region
reference sample (what the idealized anomaly detector compares to).

>>> w = Window.parse("3.3,3.7")
>>> w, w.sr(np.array([3.2, 3.5, 3.7])).tolist()
(Window(lo=3.3, hi=3.7, sb_width=None, sb_gap=0.0), [False, True, False])
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resad_tf.data.events import Events
from resad_tf.errors import InputError
from resad_tf.validation import check_class_counts

#: the fewest events of a sample that a method splits into training and validation
#: (the flows' densities refuse fewer; stratified splits and the k-fold need several per class)
MIN_EVENTS = 10

_HELD_OUT = "(or use labelled data so that one can be held out)"
#: the samples a method may need besides the SR data (``Method.needs``, plus "sidebands" for
#: ``Method.uses_sidebands``): what each is, and how the user provides it
NEEDS = {
    "sidebands": ("sideband data", "choose a signal region with data on either side"),
    "reference": ("a pure-background SR sample", f"pass --background=PATH {_HELD_OUT}"),
    "signal": ("a pure-signal SR sample", f"pass --signal=PATH {_HELD_OUT}"),
    "simulation": ("a simulated sample", "pass --simulation=PATH"),
}


@dataclass(frozen=True)
class Window:
    """A signal region [lo, hi) in m_jj (TeV) and its sidebands.

    ``sb_width`` limits each sideband to that many TeV; ``None`` takes everything
    outside the SR (the ANODE/CATHODE convention).  ``sb_gap`` TeV between the SR
    and each sideband belong to neither: a resonance's m_jj tails reach beyond the
    SR, and a gap keeps them out of the sidebands (CWoLa hunting in the scan).

    >>> w = Window(3.3, 3.7, sb_width=0.2, sb_gap=0.1)
    >>> w.sb_low(np.array([2.95, 3.1, 3.25])).tolist(), w.sb_high(np.array([3.75, 3.85, 4.05])).tolist()
    ([False, True, False], [False, True, False])
    """

    lo: float
    hi: float
    sb_width: float | None = None
    sb_gap: float = 0.0

    def __post_init__(self):
        if not (np.isfinite(self.lo) and np.isfinite(self.hi)):
            raise InputError(f"signal region edges must be finite numbers, got {self.lo},{self.hi}")
        if self.lo <= 0 or self.hi <= self.lo:
            raise InputError(
                f"signal region {self.lo},{self.hi} TeV is impossible: need 0 < lo < hi, e.g. --sr=3.3,3.7"
            )
        if self.sb_width is not None and self.sb_width <= 0:
            raise InputError(f"sideband width must be positive, got {self.sb_width} TeV")
        if not self.sb_gap >= 0:
            raise InputError(f"the gap between the signal region and its sidebands must be >= 0, got {self.sb_gap} TeV")

    @classmethod
    def parse(cls, text: str, sb_width: float | None = None) -> "Window":
        """Parse ``"lo,hi"`` in TeV (the ``--sr`` flag)."""
        parts = str(text).replace(" ", "").split(",")
        try:
            lo, hi = (float(p) for p in parts)
        except ValueError:
            raise InputError(
                f"--sr={text!r} is not two numbers 'lo,hi' in TeV, e.g. --sr=3.3,3.7"
            ) from None
        return cls(lo, hi, sb_width)

    @property
    def center(self) -> float:
        return 0.5 * (self.lo + self.hi)

    def sr(self, mjj: np.ndarray) -> np.ndarray:
        return (mjj >= self.lo) & (mjj < self.hi)

    def sb_low(self, mjj: np.ndarray) -> np.ndarray:
        lo = self.lo - self.sb_gap
        edge = -np.inf if self.sb_width is None else lo - self.sb_width
        return (mjj < lo) & (mjj >= edge)

    def sb_high(self, mjj: np.ndarray) -> np.ndarray:
        hi = self.hi + self.sb_gap
        edge = np.inf if self.sb_width is None else hi + self.sb_width
        return (mjj >= hi) & (mjj < edge)

    def sb(self, mjj: np.ndarray) -> np.ndarray:
        return self.sb_low(mjj) | self.sb_high(mjj)

    def check(self, events: Events) -> None:
        """Raise an InputError if the SR lies outside the data or holds no event."""
        lo, hi = float(events.mjj.min()), float(events.mjj.max())
        if self.hi <= lo or self.lo >= hi:
            raise InputError(
                f"signal region {self.lo},{self.hi} TeV lies outside the m_jj range of "
                f"{events.source} ({lo:.3f}-{hi:.3f} TeV)"
            )
        if not self.sr(events.mjj).any():
            raise InputError(f"signal region {self.lo},{self.hi} TeV holds no event of {events.source}")


@dataclass(frozen=True, eq=False)
class Regions:
    """Everything a method needs: the observed data and its labelled companions.

    ``data`` is what an analysis would observe (all m_jj); ``test`` is a
    labelled SR sample never used in training; ``reference`` a pure-background
    SR sample (for the idealized detector); ``signal`` a pure-signal SR sample
    disjoint from the test set (for the supervised bound); ``simulation`` a
    simulated sample over all m_jj (for SALAD).
    """

    window: Window
    data: Events
    test: Events | None = None
    reference: Events | None = None
    simulation: Events | None = None
    signal: Events | None = None
    n_sig_injected: int | None = None
    seed: int = 0

    @property
    def sr(self) -> Events:
        return self.data.select(self.window.sr(self.data.mjj))

    @property
    def sb(self) -> Events:
        return self.data.select(self.window.sb(self.data.mjj))

    def require_sidebands(self, method: str) -> Events:
        """The sideband data, or an InputError if there is none (e.g. SR-only CATHODE arrays)."""
        sb = self.sb
        if len(sb) == 0:
            raise InputError(
                f"{method} learns from the sidebands, but {self.data.source} has no event outside "
                f"the signal region {self.window.lo},{self.window.hi} TeV"
            )
        return sb

    def check_needs(self, needs, method: str = "this method") -> "Regions":
        """Raise an InputError unless every sample in ``needs`` is there with >= :data:`MIN_EVENTS` events.

        ``needs``: keys of :data:`NEEDS`: a method's ``needs`` plus "sidebands" for a
        method that learns from the data outside the SR (``uses_sidebands``).
        """
        for need in sorted(needs):
            what, fix = NEEDS[need]
            sample = self.require_sidebands(method) if need == "sidebands" else getattr(self, need)
            if sample is None:
                raise InputError(f"{method} needs {what}: {fix}")
            if len(sample) < MIN_EVENTS:
                raise InputError(f"{method} needs {what} of at least {MIN_EVENTS} events, but {sample.source} "
                                 f"gives {len(sample)}: {fix}")
        return self

    @property
    def sb_low(self) -> Events:
        return self.data.select(self.window.sb_low(self.data.mjj))

    @property
    def sb_high(self) -> Events:
        return self.data.select(self.window.sb_high(self.data.mjj))

    @property
    def features(self) -> tuple[str, ...]:
        return self.data.features

    def summary(self) -> dict:
        """Counts that belong in every metrics.json."""
        sr = self.sr
        out = {
            "sr": [self.window.lo, self.window.hi],
            "sb_width": self.window.sb_width,
            "sb_gap": self.window.sb_gap,
            "n_data": len(self.data),
            "n_sr": len(sr),
            "n_sb": len(self.sb),
            "n_sig_injected": self.n_sig_injected,
            "n_test": None if self.test is None else len(self.test),
            "n_reference": None if self.reference is None else len(self.reference),
            "n_simulation": None if self.simulation is None else len(self.simulation),
            "n_signal_sample": None if self.signal is None else len(self.signal),
        }
        if sr.has_labels:
            s, b = sr.n_signal, sr.n_background
            out.update(n_sig_sr=s, n_bkg_sr=b, s_over_b_sr=s / max(b, 1),
                       s_over_sqrt_b_sr=float(s / np.sqrt(max(b, 1))))
        return out


def inject(events: Events, n_sig: int, seed) -> tuple[Events, Events]:
    """Keep all background and ``n_sig`` randomly drawn signal events (over all m_jj).

    Returns ``(data, leftover_signal)``.
    """
    label = events.require_labels("to inject signal (--n_sig)")
    if n_sig < 0:
        raise InputError(f"--n_sig must be >= 0, got {n_sig}")
    sig_idx = np.flatnonzero(label == 1)
    if n_sig > len(sig_idx):
        raise InputError(
            f"--n_sig={n_sig} but {events.source} holds only {len(sig_idx)} signal events"
        )
    rng = np.random.default_rng(seed)
    chosen = rng.permutation(sig_idx)
    keep = np.zeros(len(events), bool)
    keep[label == 0] = True
    keep[chosen[:n_sig]] = True
    leftover = np.zeros(len(events), bool)
    leftover[chosen[n_sig:]] = True
    return events.select(keep), events.select(leftover)


def _split_fraction(events: Events, fraction: float, rng) -> tuple[Events, Events]:
    """Random (1 - fraction, fraction) split of the events."""
    perm = rng.permutation(len(events))
    n_out = int(round(fraction * len(events)))
    return events.select(np.sort(perm[n_out:])), events.select(np.sort(perm[:n_out]))


def make_regions(
    events: Events,
    window: Window,
    *,
    n_sig: int | None = None,
    holdout: float = 0.5,
    seed: int = 0,
    test: Events | None = None,
    reference: Events | None = None,
    simulation: Events | None = None,
    signal: Events | None = None,
) -> Regions:
    """Build the observed data and its labelled companions from a pool of events.

    * ``n_sig`` (labelled pools only): inject that many signal events; ``None``
      keeps the pool's own signal content.
    * ``holdout``: without an external ``test``, this fraction of the
      background (and, when ``n_sig`` is None, of the signal) is held out,
      uniformly in m_jj; its SR background is split in two halves, one for a
      labelled test set and one for a pure-background reference; the SR signal
      that was not injected is split likewise between the test set and a
      pure-signal sample.  With an external ``test`` nothing is held out.
    """
    window.check(events)
    rng = np.random.default_rng(seed)
    if not events.has_labels:
        if n_sig is not None:
            events.require_labels("to inject signal (--n_sig); this looks like real (black-box) data")
        data, test_pool = events, None
    else:
        if not 0.0 <= holdout < 1.0:
            raise InputError(f"holdout fraction must be in [0, 1), got {holdout}")
        bkg, sig = events.background(), events.signal()
        frac = 0.0 if test is not None else holdout
        bkg_data, bkg_out = _split_fraction(bkg, frac, rng)
        if n_sig is None:
            sig_data, sig_out = _split_fraction(sig, frac, rng)
            data = Events.concat([bkg_data, sig_data])
        else:
            data, sig_out = inject(Events.concat([bkg_data, sig]), n_sig, rng)
        data = data.shuffle(rng)
        test_pool = None if test is not None else (bkg_out, sig_out)
    data.check_values()
    if test is None and test_pool is not None:
        bkg_out, sig_out = (e.select(window.sr(e.mjj)) for e in test_pool)
        bkg_test, bkg_ref = _split_fraction(bkg_out, 0.5, rng)
        sig_test, sig_train = _split_fraction(sig_out, 0.5, rng)
        test = Events.concat([bkg_test, sig_test]).shuffle(rng)
        reference = reference if reference is not None else bkg_ref
        signal = signal if signal is not None else sig_train
    elif test is not None:
        test = test.select(window.sr(test.mjj))
        test.require_labels("in the evaluation set (--test)")
        if len(test) == 0:
            raise InputError(f"the evaluation set {test.source} has no event in the signal region")
    n_sr = int(window.sr(data.mjj).sum())
    if n_sr < MIN_EVENTS:
        raise InputError(
            f"{data.source}: the signal region {window.lo},{window.hi} TeV holds {n_sr} data events, but at "
            f"least {MIN_EVENTS} are needed to train and validate on; use a larger file or a wider --sr"
        )
    if test is not None and not np.any(test.label == 0):
        # injecting less signal does not help here: the signal region itself lacks background
        in_file = (f" ({events.source} has {int(np.sum(window.sr(events.mjj) & (events.label == 0)))} background "
                   "events there)" if events.has_labels else "")
        raise InputError(
            f"the evaluation set has no background event in the signal region {window.lo},{window.hi} TeV{in_file}; "
            "choose an --sr where the data has background, a file that covers it, or pass a labelled --test with "
            "background in the signal region"
        )
    if test is not None:
        check_class_counts(test.label, 1, f"the evaluation set ({test.source}, signal region)",
                           {0: "background", 1: "signal"},
                           fix="inject fewer signal events than the file holds (--n_sig) or pass a labelled "
                               "--test with both classes")
    if reference is not None:
        reference = reference.select(window.sr(reference.mjj))
    if signal is not None:
        signal = signal.select(window.sr(signal.mjj))
    if test is not None and test.features != data.features:
        raise InputError(f"evaluation set features {test.features} differ from the data's {data.features}")
    return Regions(window=window, data=data, test=test, reference=reference, simulation=simulation,
                   signal=signal, n_sig_injected=n_sig, seed=seed)


def train_val_split(events: Events, val_fraction: float, seed) -> tuple[Events, Events]:
    """Reproducible random (train, validation) split."""
    if not 0.0 < val_fraction < 1.0:
        raise InputError(f"validation fraction must be in (0, 1), got {val_fraction}")
    return _split_fraction(events, val_fraction, np.random.default_rng(seed))
