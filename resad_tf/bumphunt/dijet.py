"""The standard dijet function, its bin integrals and toy spectra drawn from it.

``f(m) = p0 (1 - x)^p1 / x^(p2 + p3 ln x + p4 ln^2 x)`` with ``x = m / sqrt(s)``,
``sqrt(s) = 13 TeV`` and ``m`` in TeV; ``f`` is a density in events per TeV.  The
3-parameter form has ``p3 = p4 = 0``, the 4-parameter form ``p4 = 0`` (the family of
the CMS and ATLAS dijet searches).

>>> import numpy as np
>>> edges = np.array([3.0, 3.5, 4.0])
>>> counts = bin_integrals(edges, (1e4, 8.0, 5.0, 0.0))
>>> bool(counts[0] > counts[1] > 0)
True
>>> m = sample_dijet(1000, (1.0, 8.0, 5.0, 0.0), (2.6, 6.0), seed=1)
>>> bool(m.min() >= 2.6 and m.max() < 6.0)
True
"""

from __future__ import annotations

import numpy as np

SQRT_S = 13.0  # TeV

#: Parameters (p0 = 1, p1, p2, p3) close to the LHCO R&D QCD m_jj spectrum above 2.6 TeV.
LHCO_LIKE = (1.0, 9.0, 6.0, 0.0)

_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(8)


def dijet(m, p0, p1, p2, p3=0.0, p4=0.0):
    """The dijet density at ``m`` (TeV), in events per TeV."""
    x = np.asarray(m, dtype=np.float64) / SQRT_S
    lx = np.log(x)
    with np.errstate(divide="ignore"):  # p0 = 0 -> log 0 = -inf -> 0; the log keeps huge/tiny factors finite
        return np.sign(p0) * np.exp(np.log(np.abs(p0)) + p1 * np.log1p(-x) - (p2 + (p3 + p4 * lx) * lx) * lx)


def bin_integrals(edges, params) -> np.ndarray:
    """Integral of the dijet function over each bin (8-point Gauss-Legendre per bin).

    ``params`` is ``(p0, p1, p2)``, ``(p0, p1, p2, p3)`` or ``(p0, p1, p2, p3, p4)``.
    """
    edges = np.asarray(edges, dtype=np.float64)
    half = 0.5 * np.diff(edges)
    mid = 0.5 * (edges[1:] + edges[:-1])
    nodes = mid[:, None] + half[:, None] * _GL_NODES
    return half * (dijet(nodes, *params) @ _GL_WEIGHTS)


def sample_dijet(n: int, params=LHCO_LIKE, mjj_range=(2.6, 6.0), seed=None) -> np.ndarray:
    """Draw ``n`` m_jj values (TeV) from the dijet shape within ``mjj_range``.

    Inverse-CDF sampling on a fine grid (1 MeV cells, linear inside a cell);
    ``p0`` is irrelevant for the shape.
    """
    rng = np.random.default_rng(seed)
    lo, hi = mjj_range
    grid = np.linspace(lo, hi, max(int((hi - lo) / 1e-3), 2) + 1)
    cdf = np.concatenate([[0.0], np.cumsum(bin_integrals(grid, params))])
    return np.interp(rng.uniform(0.0, cdf[-1], n), cdf, grid)
