"""Mass decorrelation of the features: the conditional quantile transform.

A classifier trained to tell signal-region events from sideband events (CWoLa
hunting) learns m_jj itself when the features depend on m_jj in the
background: QCD jet masses grow with the jet pT, hence with m_jj.  A cut on
its score then carves a bump into the background at the SR.  The remedy of
the "designed decorrelated tagger" (DDT, arXiv:1603.00027) shifts a feature by
its m-dependent mean; :class:`ConditionalQuantileTransform` generalises it to
the full distribution: each feature is replaced by its conditional CDF given
m_jj,

    u = F(x | m)  in [0, 1]   (optionally z = Phi^-1(u), a standard normal),

so that in the background every transformed feature is uniform at every
m_jj, i.e. independent of m_jj to first order (correlations *between*
features that change with m_jj are not removed).  A signal localized in
m_jj and in feature space stays a localized cluster, since the map is
monotone in x at fixed m.

F(x | m) is estimated from quantile tables: m_jj is cut into bins of
``bin_width`` TeV, merged until each holds ``min_count`` events; in each bin
the ``n_quantiles`` quantiles of every feature are taken; at a given m the
table is interpolated linearly between the neighbouring bins' mean m
(extrapolated from the two outer bins to the ends of the fitted range), and
x is located in it by linear interpolation.

The transform is fitted on the data themselves, across the whole fit range
of a bump hunt, signal included: a resonance of sub-percent size shifts the
tables only a little.  (Where the signal sits far in the tail of a feature it
does shift the top quantiles of the few m_jj bins under its peak, and so loses
a little of its separation.)  When a classifier's scores must be out of
sample, fit the transform on the training folds only: fitted on the scored
events too, it makes their transformed marginals exactly uniform per bin, so
what a model learned from its training folds' fluctuations shows up reversed
in the scored fold (why the scan, :class:`resad_tf.scan.MethodScorer`, fits it per fold).

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> m = rng.uniform(3.0, 5.0, 20000)
>>> x = rng.normal(size=(20000, 1)) * 0.1 + m[:, None]  # mean grows with m
>>> t = ConditionalQuantileTransform(bin_width=0.25, min_count=500).fit(x, m)
>>> u = t.transform(x, m)
>>> round(float(np.corrcoef(x[:, 0], m)[0, 1]), 2), bool(abs(np.corrcoef(u[:, 0], m)[0, 1]) < 0.02)
(0.98, True)
>>> t.n_bins_, bool(u.min() >= 0 and u.max() <= 1)
(8, True)
"""

from __future__ import annotations

import numpy as np
from scipy import special

from resad_tf.errors import InputError

OUTPUTS = ("uniform", "normal")


class ConditionalQuantileTransform:
    """x -> F(x | m): each feature's conditional CDF given m_jj (sklearn-style, fit/transform).

    Parameters
    ----------
    n_quantiles:
        quantile levels per m_jj bin (evenly spaced in [0, 1], ends included).
    bin_width:
        m_jj bin width in TeV before merging.
    min_count:
        least number of events per m_jj bin; neighbouring bins are merged up to it.
    output:
        ``"uniform"`` (u in [0, 1]) or ``"normal"`` (ndtri(u), u clipped to
        [1/(2 n), 1 - 1/(2 n)] with n = ``min_count``, so values stay finite).

    Learned state: ``bin_edges_`` (the merged m_jj bins), ``counts_`` (events per
    bin), ``levels_`` (the quantile levels), ``nodes_`` (the m_jj values where the
    tables are known: the lowest fitted m, each bin's mean m, the highest fitted m)
    and ``quantiles_`` (n_nodes, n_quantiles, n_features).  The tables at the two
    outer nodes are extrapolated linearly from the two outer bins (and kept
    non-decreasing); beyond them the transform holds the outer table.
    """

    def __init__(self, n_quantiles: int = 200, bin_width: float = 0.05, min_count: int = 1000,
                 output: str = "uniform"):
        self.n_quantiles = n_quantiles
        self.bin_width = bin_width
        self.min_count = min_count
        self.output = output

    # -------------------------------------------------------------- fitting
    def fit(self, x, m) -> "ConditionalQuantileTransform":
        """Quantile tables of ``x`` (n, d) in bins of ``m`` (n,) TeV."""
        if int(self.n_quantiles) < 2:
            raise InputError(f"n_quantiles must be at least 2, got {self.n_quantiles}")
        if not self.bin_width > 0:
            raise InputError(f"bin_width must be positive, got {self.bin_width} TeV")
        if int(self.min_count) < 2:
            raise InputError(f"min_count must be at least 2, got {self.min_count}")
        if self.output not in OUTPUTS:
            raise InputError(f"output must be one of {OUTPUTS}, got {self.output!r}")
        x, m = self._check(x, m, "fit")
        if len(m) < self.min_count:
            raise InputError(
                f"mass decorrelation needs at least min_count={self.min_count} events per m_jj bin, but got "
                f"{len(m)} events in all; lower min_count or use more data"
            )
        self.bin_edges_ = _merged_edges(m, float(self.bin_width), int(self.min_count))
        which = np.clip(np.searchsorted(self.bin_edges_, m, side="right") - 1, 0, len(self.bin_edges_) - 2)
        self.levels_ = np.linspace(0.0, 1.0, int(self.n_quantiles))
        self.counts_ = np.bincount(which, minlength=len(self.bin_edges_) - 1)
        centres = np.bincount(which, weights=m, minlength=len(self.counts_)) / self.counts_
        tables = np.stack([np.quantile(x[which == b], self.levels_, axis=0) for b in range(len(self.counts_))])
        ends = [tables[0], tables[-1]]
        if len(centres) > 1:  # linear extrapolation to the range ends, from the two outer bins
            for i, (end, near, far) in enumerate(((m.min(), 0, 1), (m.max(), -1, -2))):
                slope = (tables[far] - tables[near]) / (centres[far] - centres[near])
                ends[i] = np.maximum.accumulate(tables[near] + (end - centres[near]) * slope, axis=0)
        self.nodes_ = np.concatenate([[m.min()], centres, [m.max()]])
        self.quantiles_ = np.concatenate([ends[0][None], tables, ends[1][None]])
        return self

    @property
    def n_bins_(self) -> int:
        self._check_fitted()
        return len(self.counts_)

    # ----------------------------------------------------------- transform
    def transform(self, x, m) -> np.ndarray:
        """F(x | m) per feature (or its normal quantile for ``output="normal"``), shape of ``x``."""
        self._check_fitted()
        x, m = self._check(x, m, "transform")
        if x.shape[1] != self.quantiles_.shape[2]:
            raise InputError(f"transform got {x.shape[1]} features but the transform was fitted on "
                             f"{self.quantiles_.shape[2]}")
        c = self.nodes_
        hi = np.clip(np.searchsorted(c, m), 1, len(c) - 1)
        lo = hi - 1
        span = c[hi] - c[lo]
        t = np.clip(np.divide(m - c[lo], span, out=np.zeros_like(m), where=span > 0), 0.0, 1.0)
        u = np.empty_like(x)
        for f in range(x.shape[1]):
            q = self.quantiles_[:, :, f]
            u[:, f] = _locate(x[:, f], lambda k: (1 - t) * q[lo, k] + t * q[hi, k], self.levels_)
        if self.output == "normal":
            eps = 0.5 / self.min_count
            return special.ndtri(np.clip(u, eps, 1 - eps))
        return u

    def fit_transform(self, x, m) -> np.ndarray:
        return self.fit(x, m).transform(x, m)

    # ------------------------------------------------------------- helpers
    def _check_fitted(self):
        if not hasattr(self, "quantiles_"):
            raise RuntimeError("ConditionalQuantileTransform is not fitted yet; call fit(x, m) first")

    @staticmethod
    def _check(x, m, what):
        x = np.asarray(x, dtype=np.float64)
        m = np.asarray(m, dtype=np.float64)
        if x.ndim != 2 or m.ndim != 1:
            raise InputError(f"mass decorrelation {what} needs x of shape (n, d) and m of shape (n,), "
                             f"got {x.shape} and {m.shape}")
        if len(x) != len(m):
            raise InputError(f"mass decorrelation {what}: x has {len(x)} rows but m has {len(m)} entries")
        if not (np.isfinite(x).all() and np.isfinite(m).all()):
            raise InputError(f"mass decorrelation {what} got NaN/inf features or masses; drop those events first")
        return x, m


def _merged_edges(m, width, min_count) -> np.ndarray:
    """Edges of ``width``-wide bins over the range of ``m``, neighbours merged until each holds ``min_count``."""
    lo, hi = float(m.min()), float(m.max())
    n = max(int(np.ceil((hi - lo) / width)), 1)
    grid = lo + width * np.arange(n + 1)
    grid[-1] = np.nextafter(max(grid[-1], hi), np.inf)  # the largest m falls inside the last bin
    counts = np.histogram(m, grid)[0]
    edges, acc = [grid[0]], 0
    for right, c in zip(grid[1:], counts):
        acc += c
        if acc >= min_count:
            edges.append(right)
            acc = 0
    if acc:  # a short remainder joins the last full bin
        edges[-1] = grid[-1]
    return np.asarray(edges)


def _locate(x, table, levels) -> np.ndarray:
    """Piecewise-linear CDF: the level of each ``x[i]`` in its own non-decreasing quantile row.

    ``table(k)`` gives entry ``k[i]`` of row ``i``; a vectorised binary search finds
    ``table(k - 1) <= x < table(k)``, then x is interpolated between the two levels.
    """
    n_levels = len(levels)
    a, b = np.zeros(len(x), dtype=np.int64), np.full(len(x), n_levels, dtype=np.int64)
    while np.any(a < b):  # invariant: table(k) <= x for k < a, table(k) > x for k >= b
        mid = (a + b) // 2
        below = table(np.minimum(mid, n_levels - 1)) <= x
        open_ = a < b
        a = np.where(open_ & below, mid + 1, a)
        b = np.where(open_ & ~below, mid, b)
    k = np.clip(a, 1, n_levels - 1)
    q0, q1 = table(k - 1), table(k)
    frac = np.divide(x - q0, q1 - q0, out=np.zeros_like(x), where=q1 > q0)
    u = levels[k - 1] + np.clip(frac, 0.0, 1.0) * (levels[k] - levels[k - 1])
    return np.where(a == 0, 0.0, np.where(a == n_levels, 1.0, u))
