"""The look-elsewhere effect: from the largest local significance of a scan to a global one.

A scan tests many windows (and several score cuts per window), so its largest
local significance Z_max is the maximum of many correlated tests.  Two standard
estimates of the global p-value P(Z_max >= z | background only):

* **Pseudo-experiments** (:func:`global_pvalue_from_toys`): the fraction of
  background-only toy scans whose own Z_max reaches z.  Exact, but only down to
  p ~ 1 / n_toys.
* **Gross-Vitells** (arXiv:1005.1891, :func:`gross_vitells`): for a test
  statistic q = Z^2 that is asymptotically chi2-distributed at each point of a
  one-dimensional scan, P(max q > c) ~ P(q > c) + <N(c0)> exp(-(c - c0) / 2),
  where <N(c0)> is the mean number of upcrossings of a low level c0 (counted on
  a few toys, :func:`upcrossings`).  It extrapolates to small p-values.  A scan
  with several cuts is combined conservatively (Bonferroni: the sum over cuts).

>>> round(gross_vitells(3.0, mean_upcrossings=2.0, u0=1.0), 4)
0.038
>>> upcrossings(np.array([0.0, 1.5, 0.5, 2.0, 2.5]), 1.0)
2
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats


def upcrossings(z, u: float) -> np.ndarray | int:
    """How often ``z`` crosses the level ``u`` from below, along the last axis (the scan variable)."""
    z = np.nan_to_num(np.asarray(z, dtype=np.float64), nan=-np.inf)
    n = np.sum((z[..., :-1] < u) & (z[..., 1:] >= u), axis=-1)
    return int(n) if np.ndim(n) == 0 else n


def gross_vitells(z, mean_upcrossings, u0: float) -> float:
    """Global p-value of a local (one-sided) significance ``z`` in a one-dimensional scan.

    ``mean_upcrossings``: the background-only mean number of upcrossings of the level
    ``u0`` (in Z units; the formula uses q = Z^2).  For several scans (e.g. score cuts)
    pass an array of their means: the p-values add up (Bonferroni), capped at 1.
    """
    z = float(z)
    n = np.atleast_1d(np.asarray(mean_upcrossings, dtype=np.float64))
    p_local = stats.norm.sf(z)
    p = p_local + n * np.exp(-(z**2 - u0**2) / 2) if z > u0 else np.ones_like(n)
    return float(min(1.0, np.sum(np.minimum(p, 1.0))))


def global_pvalue_from_toys(z, toy_max) -> tuple[float, float]:
    """(p, its binomial error): the fraction of toys whose maximum reaches ``z`` ((k + 1) / (n + 1))."""
    toy_max = np.asarray(toy_max, dtype=np.float64)
    n, k = len(toy_max), int(np.sum(toy_max >= z))
    p = (k + 1) / (n + 1)
    return p, float(np.sqrt(p * (1 - p) / (n + 1)))


def p_to_z(p: float) -> float:
    """One-sided significance of a p-value (0 for p >= 0.5)."""
    return float(max(stats.norm.isf(min(max(p, 1e-300), 1.0)), 0.0))


@dataclass(frozen=True)
class GlobalSignificance:
    """The largest local significance of a scan and its global significance."""

    z_local_max: float
    p_local: float
    window: tuple[float, float] | None
    efficiency: float | None
    n_toys: int
    toy_max_z: tuple[float, ...]
    p_global_toys: float
    p_global_toys_err: float
    u0: float
    mean_upcrossings: tuple[float, ...]
    p_global_gv: float
    z_global: float
    method: str

    @property
    def trials_factor(self) -> float:
        return self.p_global_gv / self.p_local if self.p_local > 0 else float("nan")

    def to_dict(self) -> dict:
        out = asdict(self)
        out["trials_factor"] = self.trials_factor
        return out


def global_significance(z_obs, toy_z, windows, efficiencies, u0: float = 1.0) -> GlobalSignificance:
    """The global significance of a scan's local significances.

    ``z_obs``: (windows, cuts) local Z of the data (NaN where a fit failed or was
    sculpted); ``toy_z``: (toys, windows, cuts) the same for background-only toys.
    The global p-value is the toys' where they reach the observed Z_max (at least
    10 toys at or above it), else the Gross-Vitells extrapolation calibrated on the
    toys' upcrossings of ``u0``; both are recorded.
    """
    z_obs = np.asarray(z_obs, dtype=np.float64)
    toy_z = np.asarray(toy_z, dtype=np.float64)
    if not np.any(np.isfinite(z_obs)):
        z_max, where = 0.0, None
    else:
        where = np.unravel_index(np.nanargmax(z_obs), z_obs.shape)
        z_max = float(z_obs[where])
    toy_max = np.nanmax(np.where(np.isfinite(toy_z), toy_z, 0.0), axis=(1, 2)) if len(toy_z) else np.zeros(0)
    p_toys, p_err = global_pvalue_from_toys(z_max, toy_max) if len(toy_max) else (float("nan"), float("nan"))
    # upcrossings along the windows, per cut (the windows must be ordered by centre)
    mean_up = upcrossings(np.moveaxis(toy_z, 1, 2), u0).mean(axis=0) if len(toy_z) else np.zeros(z_obs.shape[1])
    p_gv = gross_vitells(z_max, mean_up, u0)
    enough = len(toy_max) and np.sum(toy_max >= z_max) >= 10
    p_global = p_toys if enough else p_gv
    return GlobalSignificance(
        z_local_max=z_max,
        p_local=float(stats.norm.sf(z_max)),
        window=None if where is None else tuple(map(float, windows[where[0]])),
        efficiency=None if where is None else float(efficiencies[where[1]]),
        n_toys=int(len(toy_max)),
        toy_max_z=tuple(float(v) for v in toy_max),
        p_global_toys=float(p_toys),
        p_global_toys_err=float(p_err),
        u0=float(u0),
        mean_upcrossings=tuple(float(v) for v in mean_up),
        p_global_gv=float(p_gv),
        z_global=p_to_z(p_global),
        method="toys" if enough else "gross-vitells",
    )
