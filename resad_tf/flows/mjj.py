"""Density of m_jj inside the signal region, for sampling SR masses (CATHODE).

A Gaussian kernel density estimate (``scipy.stats.gaussian_kde``) of the SR
events' m_jj, truncated to and renormalised on the SR window.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> d = MjjDensity(window=(3.3, 3.7)).fit(rng.uniform(3.3, 3.7, 1000))
>>> m = d.sample(500, seed=1)
>>> bool(m.min() >= 3.3 and m.max() < 3.7), m.shape
(True, (500,))
"""

from __future__ import annotations

import numpy as np
from scipy.stats import gaussian_kde

from resad_tf.errors import InputError


class MjjDensity:
    """KDE of m_jj (TeV) on the window [lo, hi); ``bandwidth`` as scipy's ``bw_method``."""

    def __init__(self, window: tuple[float, float], bandwidth="scott"):
        lo, hi = (float(v) for v in window)
        if not lo < hi:
            raise InputError(f"window={window}: need lo < hi (TeV)")
        self.window, self.bandwidth = (lo, hi), bandwidth

    def fit(self, mjj) -> "MjjDensity":
        """Fit to the m_jj values inside the window (values outside are ignored)."""
        mjj = np.asarray(mjj, dtype=np.float64).reshape(-1)
        lo, hi = self.window
        inside = mjj[(mjj >= lo) & (mjj < hi)]
        if len(inside) < 2 or np.ptp(inside) == 0:
            raise InputError(
                f"only {len(inside)} distinct-enough of {len(mjj)} m_jj values lie in the window "
                f"{self.window} TeV; is mjj in TeV and is the window right?"
            )
        self.kde_ = gaussian_kde(inside, bw_method=self.bandwidth)
        # the KDE's probability mass inside the window, for renormalisation
        self.log_mass_ = float(np.log(self.kde_.integrate_box_1d(lo, hi)))
        return self

    def _check_fitted(self):
        if not hasattr(self, "kde_"):
            raise InputError("MjjDensity is not fitted; call fit(mjj) first")

    def log_prob(self, m) -> np.ndarray:
        """log density of the window-truncated KDE (-inf outside the window)."""
        self._check_fitted()
        m = np.asarray(m, dtype=np.float64).reshape(-1)
        lo, hi = self.window
        out = np.full(m.shape, -np.inf)
        inside = (m >= lo) & (m < hi)
        if inside.any():
            out[inside] = self.kde_.logpdf(m[inside]) - self.log_mass_
        return out

    def sample(self, n: int, seed=None) -> np.ndarray:
        """``n`` masses from the KDE inside the window (draws outside are rejected)."""
        self._check_fitted()
        rng = np.random.default_rng(seed)
        lo, hi = self.window
        out = np.empty(0)
        while len(out) < n:
            k = int((n - len(out)) / np.exp(self.log_mass_) * 1.1) + 16  # / acceptance
            draw = self.kde_.resample(k, seed=rng)[0]
            out = np.concatenate([out, draw[(draw >= lo) & (draw < hi)]])
        return out[:n]
