"""Binned Poisson-likelihood fit of the dijet function to an m_jj histogram.

The fit uses iminuit's :class:`~iminuit.cost.ExtendedBinnedNLL` with the dijet
function integrated over each bin, and masks the signal-region bins.  Internally
the normalisation is the expected number of events ``N`` in the whole histogram
range and the shape parameters are whitened (see :class:`_Parametrisation`);
results are reported as ``p0..p4`` with their covariance.  Starting values come
from a weighted linear least-squares fit of the log density.  A fit that does not
converge falls back to the next smaller parameter count.

:func:`select_dijet` chooses the number of parameters as the CMS and ATLAS dijet
searches do: nested fits with 3, 4 and 5 parameters, each one kept only if
Fisher's F-test says it improves on the smaller one (p < ``alpha``).

>>> import numpy as np
>>> from resad_tf.bumphunt.dijet import bin_integrals
>>> edges = np.linspace(2.6, 6.0, 35)
>>> counts = np.random.default_rng(0).poisson(bin_integrals(edges, (2e3, 9.0, 6.0, 0.0)))
>>> fit = fit_dijet(counts, edges, sr=(3.3, 3.7), n_params=3)
>>> fit.valid, bool(abs(fit.params[1] - 9.0) < 3 * np.sqrt(fit.cov[1, 1]))
(True, True)
>>> select_dijet(counts, edges, sr=(3.3, 3.7)).n_params  # a 3-parameter truth needs no more
3
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
from iminuit import Minuit
from iminuit.cost import ExtendedBinnedNLL
from scipy import stats

from resad_tf.bumphunt.dijet import LHCO_LIKE, SQRT_S, bin_integrals, dijet
from resad_tf.errors import InputError

PARAM_NAMES = ("p0", "p1", "p2", "p3", "p4")
N_PARAMS = (3, 4, 5)
#: the ways of choosing the parameter count instead of fixing one (see :func:`choose_dijet`)
N_PARAMS_RULES = ("max", "ftest")
_MIN_EVENTS = 10


def bin_edges(fit_range=(2.6, 6.0), sr=(3.3, 3.7), width=0.1, gap: float = 0.0) -> np.ndarray:
    """Bin edges of about ``width`` TeV spanning ``fit_range`` with the SR edges among them
    (and, with a ``gap``, the edges ``gap`` TeV outside the SR).

    >>> bin_edges((3.0, 4.0), (3.3, 3.7), 0.1, gap=0.1).round(2).tolist()
    [3.0, 3.1, 3.2, 3.3, 3.4, 3.5, 3.6, 3.7, 3.8, 3.9, 4.0]
    """
    lo, hi = map(float, fit_range)
    sr_lo, sr_hi = map(float, sr)
    if not lo < sr_lo - gap <= sr_lo < sr_hi <= sr_hi + gap < hi:
        raise InputError(
            f"signal region {sr} (with a fit gap of {gap} TeV) must lie strictly inside the fit range "
            f"{fit_range}; widen the fit range or move the signal region"
        )
    if width <= 0 or gap < 0:
        raise InputError(f"bin width must be positive and the gap >= 0, got {width} and {gap}")
    stops = [lo, sr_lo - gap, sr_lo, sr_hi, sr_hi + gap, hi] if gap > 0 else [lo, sr_lo, sr_hi, hi]
    pieces = [np.linspace(a, b, max(int(round((b - a) / width)), 1) + 1)[:-1] for a, b in zip(stops[:-1], stops[1:])]
    return np.concatenate(pieces + [[hi]])


def sr_bin_mask(edges, sr) -> np.ndarray:
    """Boolean per bin: True for bins inside the signal region ``sr`` (whose edges must be bin edges)."""
    edges = np.asarray(edges, dtype=np.float64)
    for e in sr:
        if not np.any(np.isclose(edges, e, atol=1e-9)):
            raise InputError(
                f"signal-region edge {e} TeV is not a bin edge; use bin_edges(fit_range, sr, width) "
                "or add it to the edges"
            )
    mid = 0.5 * (edges[1:] + edges[:-1])
    return (mid > sr[0]) & (mid < sr[1])


@dataclass(frozen=True, eq=False)
class DijetFit:
    """Result of :func:`fit_dijet`.

    ``params``/``cov``: p0..p4 (the unused ones 0 with zero variance);
    ``theta``/``theta_cov``: the internal ones (ln N, c_1..c_k).
    ``chi2`` is the Poisson deviance on the fitted (sideband) bins, ``ndf`` the
    number of those bins minus the number of parameters.  ``ftest``: for a fit
    chosen by :func:`select_dijet`, one row per candidate (n_params, chi2, ndf,
    valid, p-value of its F-test against the fit chosen before it; NaN where
    none was made).
    """

    edges: np.ndarray
    counts: np.ndarray
    fitted: np.ndarray
    n_params: int
    theta: np.ndarray
    theta_cov: np.ndarray
    params: np.ndarray
    cov: np.ndarray
    chi2: float
    ndf: int
    valid: bool
    _par: "_Parametrisation" = field(repr=False)
    ftest: tuple = ()

    @property
    def chi2_ndf(self) -> float:
        return self.chi2 / self.ndf if self.ndf > 0 else float("nan")

    @property
    def pvalue(self) -> float:
        return float(stats.chi2.sf(self.chi2, self.ndf)) if self.ndf > 0 else float("nan")

    @property
    def falling(self) -> bool:
        """Whether the fitted density falls monotonically over the histogram range, as QCD does."""
        m = np.linspace(self.edges[0], self.edges[-1], 200)
        with np.errstate(over="ignore", invalid="ignore"):
            return bool(np.all(np.diff(dijet(m, *self.params)) < 0))

    @property
    def peaked(self) -> bool:
        """Whether the fitted density has a local maximum inside the histogram range.

        A cut correlated with m_jj can carve a peak that the flexible dijet function
        follows; a tail that turns up at the end of a sparsely populated range is no
        such peak (and no sign of sculpting).
        """
        m = np.linspace(self.edges[0], self.edges[-1], 200)
        with np.errstate(over="ignore", invalid="ignore"):
            d = np.diff(dijet(m, *self.params))
        return bool(np.any((d[:-1] > 0) & (d[1:] <= 0)))

    def expected(self, edges=None) -> np.ndarray:
        """Expected counts per bin of ``edges`` (default: the fitted histogram's)."""
        return bin_integrals(self.edges if edges is None else edges, self.params)

    def pulls(self) -> np.ndarray:
        """(observed - expected) / sqrt(expected) per bin."""
        mu = self.expected()
        return (self.counts - mu) / np.sqrt(np.maximum(mu, 1e-12))

    def predict(self, lo: float, hi: float) -> tuple[float, float]:
        """Expected events in [lo, hi] TeV and its uncertainty from the fit covariance."""
        edges = np.array([lo, hi], dtype=np.float64)

        def integral(theta):
            return bin_integrals(edges, self._par.params(theta))[0]

        b = float(integral(self.theta))
        jac = _jacobian(integral, self.theta, self.theta_cov)
        return b, float(np.sqrt(max(jac @ self.theta_cov @ jac, 0.0)))

    @classmethod
    def from_dict(cls, d: dict, edges, counts, sr=None) -> "DijetFit":
        """The fitted function back from :meth:`to_dict` and its histogram (for plots and pulls;
        the internal parametrisation, hence :meth:`predict`, is not restored)."""
        edges, counts = np.asarray(edges, np.float64), np.asarray(counts, np.float64)
        fitted = np.ones(len(counts), bool) if sr is None else ~sr_bin_mask(edges, sr)
        cov = np.asarray([[np.nan if v is None else v for v in row] for row in d["cov"]], dtype=np.float64)
        params = np.array([d["params"].get(name, 0.0) for name in PARAM_NAMES])
        rows = tuple((r["n_params"], r["chi2"], r["ndf"], r["valid"], np.nan if r["p_ftest"] is None else r["p_ftest"])
                     for r in d.get("ftest", []))
        return cls(edges=edges, counts=counts, fitted=fitted, n_params=d["n_params"], theta=np.full(d["n_params"], np.nan),
                   theta_cov=np.full((d["n_params"],) * 2, np.nan), params=params, cov=cov, chi2=d["chi2"],
                   ndf=d["ndf"], valid=d["valid"], _par=None, ftest=rows)

    def to_dict(self) -> dict:
        return {
            "n_params": self.n_params,
            "params": dict(zip(PARAM_NAMES, map(float, self.params))),
            "cov": self.cov.tolist(),
            "chi2": float(self.chi2),
            "ndf": int(self.ndf),
            "chi2_ndf": float(self.chi2_ndf),
            "pvalue": self.pvalue,
            "valid": bool(self.valid),
            "falling": self.falling,
            "peaked": self.peaked,
            "ftest": [dict(zip(("n_params", "chi2", "ndf", "valid", "p_ftest"), row)) for row in self.ftest],
        }


def fit_dijet(counts, edges, sr=None, n_params: int = 4) -> DijetFit:
    """Fit the dijet function to a histogram, ignoring the bins inside ``sr``.

    ``n_params`` is 3, 4 or 5; a fit that does not converge falls back to the
    next smaller one (check ``fit.n_params``).
    """
    counts, edges, fitted = _check_histogram(counts, edges, sr)
    if n_params not in N_PARAMS:
        raise InputError(f"n_params must be one of {N_PARAMS}, got {n_params}")
    fit = _fit(counts, edges, fitted, n_params)
    while not fit.valid and fit.n_params > N_PARAMS[0]:
        fit = _fit(counts, edges, fitted, fit.n_params - 1)
    return fit


def select_dijet(counts, edges, sr=None, candidates=N_PARAMS, alpha: float = 0.05) -> DijetFit:
    """The dijet fit with the fewest parameters that more parameters do not significantly improve.

    Fits every ``candidates`` count (ascending; each a subset of 3, 4, 5) and walks
    up from the smallest valid fit: the next valid one replaces it when Fisher's
    F-test of the nested fits, F = ((chi2_a - chi2_b) / (n_b - n_a)) / (chi2_b / ndf_b)
    with (n_b - n_a, ndf_b) degrees of freedom, gives p < ``alpha``; the first
    improvement that is not significant stops the walk.  (chi2 is the Poisson
    deviance of the fitted bins.)  The returned fit's ``ftest`` holds
    every candidate's row.
    """
    counts, edges, fitted = _check_histogram(counts, edges, sr)
    candidates = sorted(int(n) for n in candidates)
    if not candidates or any(n not in N_PARAMS for n in candidates):
        raise InputError(f"dijet parameter counts must be among {N_PARAMS}, got {list(candidates)}")
    if not 0 < alpha < 1:
        raise InputError(f"the F-test level alpha must be in (0, 1), got {alpha}")
    fits = [_fit(counts, edges, fitted, n) for n in candidates]
    rows, chosen, stopped = [], None, False
    for fit in fits:
        p = float("nan")
        if fit.valid and chosen is None:
            chosen = fit
        elif fit.valid and not stopped:
            dof = fit.n_params - chosen.n_params
            f_stat = max(chosen.chi2 - fit.chi2, 0.0) / dof / max(fit.chi2 / max(fit.ndf, 1), 1e-12)
            p = float(stats.f.sf(f_stat, dof, max(fit.ndf, 1)))
            if p < alpha:
                chosen = fit
            else:
                stopped = True
        rows.append((fit.n_params, float(fit.chi2), int(fit.ndf), bool(fit.valid), p))
    if chosen is None:  # nothing converged: report the smallest fit (invalid, so not used for a significance)
        chosen = fits[0]
    return dataclasses.replace(chosen, ftest=tuple(rows))


def choose_dijet(counts, edges, sr=None, n_params: int | str = "max", ftest_alpha: float = 0.05,
                 min_pvalue: float = 0.01) -> DijetFit:
    """The dijet fit by ``n_params``: 3, 4 or 5 (:func:`fit_dijet`), ``"max"`` (:func:`largest_dijet`)
    or ``"ftest"`` (:func:`select_dijet`)."""
    check_n_params(n_params)
    if n_params == "max":
        return largest_dijet(counts, edges, sr=sr, min_pvalue=min_pvalue)
    if n_params == "ftest":
        return select_dijet(counts, edges, sr=sr, alpha=ftest_alpha)
    return fit_dijet(counts, edges, sr=sr, n_params=n_params)


def check_n_params(n_params) -> None:
    """Refuse (InputError) an ``n_params`` that :func:`choose_dijet` does not know."""
    if n_params not in N_PARAMS_RULES and n_params not in N_PARAMS:
        raise InputError(f"n_params must be one of {N_PARAMS} or {N_PARAMS_RULES}, got {n_params!r}")


def largest_dijet(counts, edges, sr=None, candidates=N_PARAMS, min_pvalue: float = 0.01) -> DijetFit:
    """The dijet fit with the most parameters that describes the sidebands: of ``candidates``
    (descending), the first that converges with a goodness-of-fit p-value of at least
    ``min_pvalue`` and no peak inside the fit range; where none does, the smallest fit.

    With a million events in the fit range the F-test (:func:`select_dijet`) often stops at
    3 parameters while the spectrum after a cut bends a little more than that: on
    background-only toy scans the fit then left localized residuals: local Z above 2 in
    7-8 % of the windows at 10 % and 1 % cuts instead of 2.3 % (docs/scan.md).  Taking the
    most parameters the sidebands support costs a somewhat larger uncertainty on the SR
    prediction.  ``ftest`` holds every tried candidate's row (p-value NaN: no F-test made).
    """
    counts, edges, fitted = _check_histogram(counts, edges, sr)
    candidates = sorted((int(n) for n in candidates), reverse=True)
    if not candidates or any(n not in N_PARAMS for n in candidates):
        raise InputError(f"dijet parameter counts must be among {N_PARAMS}, got {list(candidates)}")
    rows = []
    for n in candidates:
        fit = _fit(counts, edges, fitted, n)
        rows.append((fit.n_params, float(fit.chi2), int(fit.ndf), bool(fit.valid), float("nan")))
        if fit.valid and fit.pvalue >= min_pvalue and not fit.peaked:
            break
    return dataclasses.replace(fit, ftest=tuple(sorted(rows)))


def _check_histogram(counts, edges, sr):
    counts = np.asarray(counts, dtype=np.float64)
    edges = np.asarray(edges, dtype=np.float64)
    if len(edges) != len(counts) + 1 or np.any(np.diff(edges) <= 0):
        raise InputError("edges must be increasing and have one more entry than counts")
    if edges[0] <= 0 or edges[-1] >= SQRT_S:
        raise InputError(f"m_jj bins must lie in (0, {SQRT_S}) TeV, got {edges[0]}..{edges[-1]}")
    fitted = np.ones(len(counts), bool) if sr is None else ~sr_bin_mask(edges, sr)
    if counts[fitted].sum() < _MIN_EVENTS:
        raise InputError(
            f"only {counts[fitted].sum():.0f} events outside the signal region: too few to fit "
            "the background; loosen the score cut or widen the fit range"
        )
    return counts, edges, fitted


# --------------------------------------------------------------------- helpers
class _Parametrisation:
    """Internal fit parameters theta = (ln N, c_1..c_k) -> dijet parameters (p0, ..., p4).

    The shape terms of ``ln f`` (``ln(1-x)``, ``-ln x``, ``-ln^2 x``, ``-ln^3 x``) are nearly collinear
    over a dijet spectrum, so Minuit would see p1..p3 correlated at the 99.9% level.
    The shape parameters are therefore ``p = T c`` with ``T`` whitening the count-weighted,
    centred design matrix: the c's are about uncorrelated with unit errors, and the model
    is unchanged.  ``N`` is the expected number of events in the whole histogram range.
    """

    def __init__(self, counts, edges, fitted, n_params):
        self.edges = edges
        self.k = n_params - 1
        phi = _log_terms(edges)[:, : self.k]
        w = np.where(fitted, counts, 0.0) + 1e-9
        self.mean = w @ phi / w.sum()
        _, s, vt = np.linalg.svd(np.sqrt(w)[:, None] * (phi - self.mean), full_matrices=False)
        self.transform = vt.T / np.maximum(s, 1e-9 * s[0])

    def params(self, theta) -> np.ndarray:
        shape = np.zeros(len(PARAM_NAMES))
        shape[0] = 1.0
        shape[1 : 1 + self.k] = self.transform @ np.asarray(theta[1:])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # Minuit may probe wild values
            shape[0] = np.exp(theta[0]) / bin_integrals(self.edges, shape).sum()
        return shape

    def start(self, counts, fitted) -> np.ndarray:
        """Weighted linear least squares on the log density."""
        use = fitted & (counts > 0)
        edges = self.edges
        design = np.column_stack([np.ones(use.sum()), _log_terms(edges)[use, : self.k] - self.mean])
        design[:, 1:] = design[:, 1:] @ self.transform
        y = np.log(counts[use] / np.diff(edges)[use])
        w = np.sqrt(counts[use])
        coef = np.linalg.lstsq(design * w[:, None], y * w, rcond=None)[0]
        theta = np.concatenate([[0.0], coef[1:]])
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            frac = bin_integrals(edges, self.params(theta))
            if not np.all(np.isfinite(frac)) or frac[fitted].sum() <= 0:  # too few bins: a typical QCD shape
                typical = np.array([*LHCO_LIKE[1:], 0.0, 0.0])[: self.k]
                theta[1:] = np.linalg.lstsq(self.transform, typical, rcond=None)[0]
                frac = bin_integrals(edges, self.params(theta))
            theta[0] = np.log(counts[fitted].sum() * frac.sum() / frac[fitted].sum())
        return theta


def _log_terms(edges) -> np.ndarray:
    """Columns ln(1-x), -ln x, -ln^2 x, -ln^3 x at the bin centres (the terms of ln f)."""
    x = 0.5 * (edges[1:] + edges[:-1]) / SQRT_S
    lx = np.log(x)
    return np.column_stack([np.log1p(-x), -lx, -(lx**2), -(lx**3)])


def _fit(counts, edges, fitted, n_params) -> DijetFit:
    par = _Parametrisation(counts, edges, fitted, n_params)

    def scaled_cdf(xe, *theta):
        with np.errstate(over="ignore", invalid="ignore"):
            mu = bin_integrals(xe, par.params(theta))
        return np.concatenate([[0.0], np.cumsum(np.nan_to_num(mu, nan=1e300, posinf=1e300))])

    names = ("lnN",) + tuple(f"c{i}" for i in range(1, n_params))
    cost = ExtendedBinnedNLL(counts, edges, scaled_cdf, name=names)
    cost.mask = fitted
    m = Minuit(cost, *par.start(counts, fitted))
    m.strategy = 1
    m.migrad(ncall=5000)
    if m.valid:
        m.hesse()
    theta = np.array(m.values)
    valid = bool(m.valid and m.fmin.has_posdef_covar)
    if valid:
        theta_cov = np.array(m.covariance)
        with np.errstate(over="ignore", invalid="ignore"):  # p0 can be huge in loose 4-parameter fits
            jac = _jacobian(par.params, theta, theta_cov)
            cov = jac @ theta_cov @ jac.T
    else:
        theta_cov = np.full((n_params, n_params), np.nan)
        cov = np.full((len(PARAM_NAMES),) * 2, np.nan)
    return DijetFit(
        edges=edges,
        counts=counts,
        fitted=fitted,
        n_params=n_params,
        theta=theta,
        theta_cov=theta_cov,
        params=par.params(theta),
        cov=cov,
        chi2=float(m.fval),
        ndf=int(fitted.sum()) - n_params,
        valid=valid,
        _par=par,
    )


def _jacobian(f, theta, cov) -> np.ndarray:
    """Central-difference Jacobian of ``f`` at ``theta``, steps a small fraction of each error."""
    sig = np.sqrt(np.abs(np.diag(cov)))
    steps = np.where(np.isfinite(sig) & (sig > 0), 1e-3 * sig, 1e-6)
    cols = []
    for i, h in enumerate(steps):
        d = np.zeros_like(theta)
        d[i] = h
        cols.append((np.asarray(f(theta + d)) - np.asarray(f(theta - d))) / (2 * h))
    return np.stack(cols, axis=-1)
