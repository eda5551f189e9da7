"""Background-only pseudo-experiments of a scan, for its look-elsewhere correction.

A pseudo-experiment redraws the m_jj spectrum from the background fitted to the
data (the dijet function chosen by the scan's ``n_params`` rule over the whole
fit range, no window masked) and repeats every window's bump hunt with the data's settings.
The anomaly scores are not recomputed (that would retrain every model per toy;
bench/studies/scan_discovery.py does it with independent background-only data sets
instead): each window gets fresh uniform random scores, so a cut keeps a random
fraction e of the events, flat in m_jj, as the scan's decorrelated scores do on
background (checked in tests/scan).  Random scores are independent between
windows; the real scores of overlapping windows are correlated, so the toys
count more independent tests than the scan makes and the global p-value is
conservative.  Each toy repeats the whole procedure, the choice of the dijet
function's parameter count included.
"""

from __future__ import annotations

import numpy as np

from resad_tf.bumphunt import bump_hunt, choose_dijet, sample_dijet
from resad_tf.data.regions import Window
from resad_tf.scan.tasks import HuntSettings


def fit_background_spectrum(mjj, settings: HuntSettings) -> tuple[np.ndarray, int]:
    """The dijet parameters (p0..p4) describing the m_jj spectrum in ``settings.fit_range``, and its event count."""
    lo, hi = map(float, settings.fit_range)
    mjj = np.asarray(mjj)
    mjj = mjj[(mjj >= lo) & (mjj < hi)]
    edges = np.arange(lo, hi + 1e-9, settings.bin_width)
    if edges[-1] < hi - 1e-9:
        edges = np.append(edges, hi)
    fit = choose_dijet(np.histogram(mjj, edges)[0], edges, n_params=settings.dijet_params,
                       ftest_alpha=settings.ftest_alpha)
    return fit.params, len(mjj)


def toy_scan(params, n_events: int, windows: list[Window], settings: HuntSettings, seed) -> np.ndarray:
    """Local Z (windows, cuts) of one background-only pseudo-experiment."""
    rng = np.random.default_rng(seed)
    mjj = sample_dijet(rng.poisson(n_events), params, settings.fit_range, seed=rng)
    z = np.full((len(windows), len(settings.efficiencies)), np.nan)
    for i, w in enumerate(windows):
        lo, hi = settings.task_fit_range(w)
        m = mjj[(mjj >= lo) & (mjj < hi)]
        score = rng.random(len(m))
        res = bump_hunt(m, score, sr=(w.lo, w.hi), efficiencies=settings.efficiencies, fit_range=(lo, hi),
                        bins=settings.bin_width, n_params=settings.dijet_params, ftest_alpha=settings.ftest_alpha,
                        significance=settings.significance, fit_gap=settings.fit_gap)
        for j, cut in enumerate(res.cuts):
            if np.isfinite(cut.z) and not cut.sculpted:
                z[i, j] = cut.z
    return z


def toy_scans(params, n_events, windows, settings, seeds) -> np.ndarray:
    """(toys, windows, cuts) local Z of one pseudo-experiment per seed."""
    return np.stack([toy_scan(params, n_events, windows, settings, s) for s in seeds])

