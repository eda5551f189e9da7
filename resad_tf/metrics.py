"""Figures of merit of the anomaly-detection literature.

* ROC curve and AUC (sklearn);
* significance improvement characteristic SIC = TPR / sqrt(FPR): the factor by
  which a cut on the score multiplies S/sqrt(B);
* max SIC with a statistical floor: points whose background efficiency rests
  on fewer than ``min_bkg`` background events are ignored (otherwise max SIC
  is dominated by one lucky event);
* SIC at a fixed signal efficiency, the significance reached after the cut,
  and median / inter-quartile range over seeds or ensembles.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> y = np.r_[np.zeros(20000), np.ones(2000)]
>>> s = np.r_[rng.normal(0, 1, 20000), rng.normal(2, 1, 2000)]
>>> round(auc(y, s), 2)
0.92
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from sklearn import metrics as skm

from resad_tf.errors import InputError


def _check(y, score, weight=None):
    y = np.asarray(y).reshape(-1)
    score = np.asarray(score, np.float64).reshape(-1)
    if len(y) != len(score):
        raise ValueError(f"{len(y)} labels but {len(score)} scores")
    if not np.isin(y, (0, 1)).all():
        raise InputError("labels must be 0 (background) or 1 (signal)")
    if y.min() == y.max():
        raise InputError("the evaluation set needs both signal and background events")
    if not np.isfinite(score).all():
        raise InputError(f"{int((~np.isfinite(score)).sum())} anomaly scores are NaN/inf")
    w = None if weight is None else np.asarray(weight, np.float64).reshape(-1)
    return y, score, w


def roc(y, score, weight=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds): background and signal efficiencies of a cut score >= t."""
    y, score, w = _check(y, score, weight)
    fpr, tpr, thr = skm.roc_curve(y, score, sample_weight=w, drop_intermediate=False)
    return fpr, tpr, thr


def auc(y, score, weight=None) -> float:
    y, score, w = _check(y, score, weight)
    return float(skm.roc_auc_score(y, score, sample_weight=w))


def sic_curve(y, score, weight=None, min_bkg: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(tpr, sic) on the points whose FPR rests on at least ``min_bkg`` background events."""
    y, score, _ = _check(y, score, weight)
    fpr, tpr, _ = roc(y, score, weight)
    n_bkg = int(np.sum(y == 0))
    ok = fpr * n_bkg >= max(min_bkg, 1)
    return tpr[ok], tpr[ok] / np.sqrt(fpr[ok])


def max_sic(y, score, weight=None, min_bkg: int = 50) -> float:
    tpr, sic = sic_curve(y, score, weight, min_bkg)
    return float(sic.max()) if len(sic) else float("nan")


def sic_at(y, score, signal_efficiency: float, weight=None) -> float:
    """SIC at a fixed signal efficiency (TPR), interpolated on the ROC curve."""
    fpr, tpr, _ = roc(y, score, weight)
    f = float(np.interp(signal_efficiency, tpr, fpr))
    return float(signal_efficiency / np.sqrt(f)) if f > 0 else float("inf")


def significance_after_cut(s_over_sqrt_b: float, sic: float) -> float:
    """S/sqrt(B) after a cut = SIC x S/sqrt(B) before (the 'significance improvement')."""
    return float(sic * s_over_sqrt_b)


@dataclass(frozen=True)
class Summary:
    auc: float
    max_sic: float
    sic_at_0_2: float
    sic_at_0_5: float
    n_sig: int
    n_bkg: int
    min_bkg: int

    def to_dict(self) -> dict:
        return asdict(self)


def summarize(y, score, weight=None, min_bkg: int = 50) -> Summary:
    """The numbers every method reports in metrics.json."""
    y, score, w = _check(y, score, weight)
    return Summary(
        auc=auc(y, score, w),
        max_sic=max_sic(y, score, w, min_bkg),
        sic_at_0_2=sic_at(y, score, 0.2, w),
        sic_at_0_5=sic_at(y, score, 0.5, w),
        n_sig=int(np.sum(y == 1)),
        n_bkg=int(np.sum(y == 0)),
        min_bkg=min_bkg,
    )


def median_iqr(values) -> dict:
    """Median and the 25/75% quantiles of a set of results (over seeds or runs)."""
    v = np.asarray(values, np.float64)
    v = v[np.isfinite(v)]
    if len(v) == 0:
        return {"median": float("nan"), "q25": float("nan"), "q75": float("nan"), "n": 0}
    q25, med, q75 = np.percentile(v, [25, 50, 75])
    return {"median": float(med), "q25": float(q25), "q75": float(q75), "n": int(len(v))}
