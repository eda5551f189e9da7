"""The bump hunt: cut on an anomaly score, fit the sidebands, count the signal region.

For each target efficiency the score threshold is a quantile of the reference
scores (the signal-region events by default), the m_jj histogram of the events
passing the cut is fitted with the dijet function with the signal-region bins
masked, and the observed signal-region count is compared with the fit's
interpolation.  A poor sideband fit (p-value below ``min_fit_pvalue``) or a fitted
shape with a peak inside the fit range (the flexible dijet function can fit a peak carved by a
mass-correlated cut) flags the cut as having *sculpted* the background: its
significance is not to be trusted.

>>> import numpy as np
>>> from resad_tf.bumphunt.dijet import sample_dijet
>>> rng = np.random.default_rng(0)
>>> mjj = sample_dijet(20000, seed=rng)
>>> res = bump_hunt(mjj, rng.normal(size=mjj.size), efficiencies=(1.0, 0.2))
>>> [c.efficiency for c in res.cuts], bool(res.cuts[0].z < 3)
([1.0, 0.2], True)
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from resad_tf.bumphunt.fit import DijetFit, bin_edges, check_n_params, choose_dijet, sr_bin_mask
from resad_tf.bumphunt.significance import local_significance, poisson_pvalue
from resad_tf.errors import InputError
from resad_tf.outputs import to_json

REFERENCES = ("sr", "all", "background")


@dataclass(frozen=True, eq=False)
class CutResult:
    """One score cut.  ``fit`` is None (and b, z NaN) when too few events survive to fit."""

    efficiency: float
    threshold: float
    n_selected: int
    n_obs: int
    b: float
    sigma_b: float
    z: float
    p_poisson: float
    sculpted: bool
    fit: DijetFit | None
    n_signal_sr: int | None = None
    error: str | None = None

    def to_dict(self) -> dict:
        out = {
            "efficiency": self.efficiency,
            "threshold": self.threshold,
            "n_selected": self.n_selected,
            "n_obs": self.n_obs,
            "b": self.b,
            "sigma_b": self.sigma_b,
            "z": self.z,
            "p_poisson": self.p_poisson,
            "sculpted": self.sculpted,
            "n_signal_sr": self.n_signal_sr,
            "error": self.error,
            "fit": None if self.fit is None else self.fit.to_dict(),
        }
        if self.fit is not None:
            out["counts"] = self.fit.counts.astype(int).tolist()
        return out


@dataclass(frozen=True, eq=False)
class BumpHuntResult:
    sr: tuple[float, float]
    fit_range: tuple[float, float]
    reference: str
    edges: np.ndarray
    cuts: tuple[CutResult, ...]
    fit_gap: float = 0.0

    @property
    def efficiencies(self) -> np.ndarray:
        return np.array([c.efficiency for c in self.cuts])

    @property
    def z(self) -> np.ndarray:
        return np.array([c.z for c in self.cuts])

    @classmethod
    def from_dict(cls, d: dict) -> "BumpHuntResult":
        """Rebuild a result from :meth:`to_dict` (what the scan stores), enough to plot it:
        each cut's histogram and its fitted dijet function (no covariance-based prediction)."""
        edges = np.asarray(d["edges"], dtype=np.float64)
        cuts = []
        for c in d["cuts"]:
            fit = None
            if c.get("fit") is not None and c.get("counts") is not None:
                gap = d.get("fit_gap", 0.0)
                fit = DijetFit.from_dict(c["fit"], edges, np.asarray(c["counts"], dtype=np.float64),
                                         (d["sr"][0] - gap, d["sr"][1] + gap))
            nan = float("nan")
            cuts.append(CutResult(
                efficiency=c["efficiency"], threshold=c["threshold"], n_selected=c["n_selected"], n_obs=c["n_obs"],
                b=nan if c["b"] is None else c["b"], sigma_b=nan if c["sigma_b"] is None else c["sigma_b"],
                z=nan if c["z"] is None else c["z"], p_poisson=nan if c["p_poisson"] is None else c["p_poisson"],
                sculpted=c["sculpted"], fit=fit, n_signal_sr=c.get("n_signal_sr"), error=c.get("error")))
        return cls(tuple(d["sr"]), tuple(d["fit_range"]), d["reference"], edges, tuple(cuts), d.get("fit_gap", 0.0))

    def to_dict(self) -> dict:
        """JSON-serialisable summary (NaN becomes null)."""
        out = {
            "sr": list(self.sr),
            "fit_range": list(self.fit_range),
            "reference": self.reference,
            "fit_gap": self.fit_gap,
            "edges": self.edges.tolist(),
            "cuts": [c.to_dict() for c in self.cuts],
        }
        return json.loads(to_json(out))  # NaN -> null, numpy -> Python, as in every metrics.json


def bump_hunt(
    mjj,
    score,
    sr=(3.3, 3.7),
    efficiencies=(1.0, 0.1, 0.01, 0.002),
    fit_range=(2.6, 6.0),
    bins=0.1,
    n_params: int | str = "max",
    reference: str = "sr",
    label=None,
    min_fit_pvalue: float = 0.01,
    ftest_alpha: float = 0.05,
    significance: str = "asymptotic",
    fit_gap: float = 0.0,
) -> BumpHuntResult:
    """Bump hunt in m_jj (TeV) after cuts on ``score`` (higher = more signal-like).

    ``bins`` is a bin width in TeV (edges then include the SR edges) or an array of
    edges.  ``reference`` picks whose scores define the thresholds: ``"sr"`` the
    signal-region events, ``"all"`` every event in the fit range, ``"background"``
    the truth-background signal-region events (needs ``label``).  With ``label``
    the surviving truth-signal count in the SR is recorded too.  ``n_params``: 3, 4
    or 5 dijet parameters; ``"max"`` (default) the most of them that fit the sidebands
    (:func:`~resad_tf.bumphunt.fit.largest_dijet`); ``"ftest"`` the fewest that Fisher's F-test at
    level ``ftest_alpha`` does not improve (:func:`~resad_tf.bumphunt.fit.select_dijet`).
    ``significance``: the backend of :func:`~resad_tf.bumphunt.significance.local_significance`
    (``"asymptotic"`` or ``"pyhf"``).  ``fit_gap`` (TeV): the bins this close to the SR are left
    out of the fit too (and not counted): a resonance's m_jj tails reach beyond any window, and
    after a tight cut their events in the bins next to the SR pull the fitted background up.
    """
    check_n_params(n_params)  # before the fits: a bad value would otherwise be recorded as every cut's fit error
    mjj = np.asarray(mjj, dtype=np.float64).reshape(-1)
    score = np.asarray(score, dtype=np.float64).reshape(-1)
    if mjj.shape != score.shape:
        raise InputError(f"mjj has {mjj.size} entries but score has {score.size}; pass one score per event")
    if not (np.all(np.isfinite(mjj)) and np.all(np.isfinite(score))):
        raise InputError("mjj and score must be finite; drop events with NaN/inf scores first")
    if reference not in REFERENCES:
        raise InputError(f"reference must be one of {REFERENCES}, got {reference!r}")
    effs = [float(e) for e in efficiencies]
    if not effs or not all(0 < e <= 1 for e in effs):
        raise InputError(f"efficiencies must lie in (0, 1], got {list(efficiencies)}")
    if label is not None:
        label = np.asarray(label).reshape(-1)
        if label.shape != mjj.shape:
            raise InputError(f"label has {label.size} entries for {mjj.size} events")
    elif reference == "background":
        raise InputError('reference="background" needs truth labels; pass label= or use reference="sr"')

    blind = (sr[0] - fit_gap, sr[1] + fit_gap)  # left out of the fit
    edges = bin_edges(fit_range, sr, bins, fit_gap) if np.isscalar(bins) else np.asarray(bins, np.float64)
    sr_bin_mask(edges, sr), sr_bin_mask(edges, blind)  # validates that the SR (and gap) edges are bin edges
    keep = (mjj >= edges[0]) & (mjj < edges[-1])
    mjj, score = mjj[keep], score[keep]
    label = None if label is None else label[keep]
    in_sr = (mjj >= sr[0]) & (mjj < sr[1])
    ref = {"sr": in_sr, "all": np.ones_like(in_sr), "background": None}[reference]
    if ref is None:
        ref = in_sr & (label == 0)
    if not ref.any():
        raise InputError(f"no reference events ({reference!r}) in the signal region {sr}; check sr and the data")

    cuts = []
    for eff in effs:
        thr = -np.inf if eff >= 1 else float(np.quantile(score[ref], 1 - eff))
        sel = score >= thr
        cuts.append(_cut(mjj[sel], in_sr[sel], None if label is None else label[sel], edges, sr, blind,
                         eff, thr, n_params, min_fit_pvalue, ftest_alpha, significance))
    return BumpHuntResult(tuple(map(float, sr)), (float(edges[0]), float(edges[-1])), reference, edges, tuple(cuts),
                          float(fit_gap))


def _cut(mjj, in_sr, label, edges, sr, blind, eff, thr, n_params, min_fit_pvalue, ftest_alpha,
         significance) -> CutResult:
    n_obs = int(in_sr.sum())
    common = dict(
        efficiency=eff,
        threshold=float(thr),
        n_selected=len(mjj),
        n_obs=n_obs,
        n_signal_sr=None if label is None else int(np.sum(label[in_sr] == 1)),
    )
    counts = np.histogram(mjj, edges)[0]
    try:
        fit = choose_dijet(counts, edges, sr=blind, n_params=n_params, ftest_alpha=ftest_alpha,
                           min_pvalue=min_fit_pvalue)
    except InputError as err:  # too few events after a tight cut: record, do not abort the hunt
        nan = float("nan")
        return CutResult(**common, b=nan, sigma_b=nan, z=nan, p_poisson=nan, sculpted=False,
                         fit=None, error=str(err))
    b, sigma_b = fit.predict(*sr)
    ok = fit.valid and np.isfinite(sigma_b)
    return CutResult(
        **common,
        b=b,
        sigma_b=sigma_b,
        z=local_significance(n_obs, b, sigma_b, backend=significance) if ok else float("nan"),
        p_poisson=poisson_pvalue(n_obs, b),
        sculpted=bool(not ok or fit.pvalue < min_fit_pvalue or fit.peaked),
        fit=fit,
        error=None if ok else "the background fit did not converge",
    )
