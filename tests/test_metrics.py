"""Metrics against analytic expectations."""

import numpy as np
import pytest
from scipy import stats

from resad_tf import metrics
from resad_tf.errors import InputError


def _gauss(n_bkg=200_000, n_sig=200_000, shift=1.0, seed=0):
    rng = np.random.default_rng(seed)
    y = np.r_[np.zeros(n_bkg), np.ones(n_sig)]
    return y, np.r_[rng.normal(0, 1, n_bkg), rng.normal(shift, 1, n_sig)]


def test_auc_of_shifted_gaussians():
    y, s = _gauss(shift=1.0)
    assert metrics.auc(y, s) == pytest.approx(stats.norm.cdf(1 / np.sqrt(2)), abs=3e-3)


def test_random_classifier_sic_is_sqrt_tpr():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 100_000)
    tpr, sic = metrics.sic_curve(y, rng.uniform(size=len(y)))
    mid = (tpr > 0.1) & (tpr < 0.9)
    np.testing.assert_allclose(sic[mid], np.sqrt(tpr[mid]), rtol=0.05)


def test_sic_at_fixed_efficiency_analytic():
    y, s = _gauss(shift=1.0, seed=2)
    t = stats.norm.ppf(0.5, loc=1.0)  # cut keeping half the signal
    expected = 0.5 / np.sqrt(stats.norm.sf(t))
    assert metrics.sic_at(y, s, 0.5) == pytest.approx(expected, rel=0.02)


def test_max_sic_statistical_floor():
    """One background event above all signal must not create an infinite SIC."""
    y = np.r_[np.zeros(1000), np.ones(100)]
    s = np.r_[np.linspace(0, 1, 1000), np.full(100, 2.0)]
    s[0] = 5.0  # one background event above every signal event
    assert np.isfinite(metrics.max_sic(y, s, min_bkg=10))
    assert metrics.max_sic(y, s, min_bkg=10) == pytest.approx(1 / np.sqrt(10 / 1000), rel=0.01)


def test_summary_and_bad_inputs():
    y, s = _gauss(20_000, 2_000)
    d = metrics.summarize(y, s).to_dict()
    assert set(d) >= {"auc", "max_sic", "sic_at_0_2", "sic_at_0_5"} and d["n_sig"] == 2000
    with pytest.raises(InputError, match="both signal and background"):
        metrics.auc(np.zeros(10), np.arange(10))
    with pytest.raises(InputError, match="NaN"):
        metrics.auc(y, np.where(np.arange(len(s)) == 0, np.nan, s))


def test_median_iqr_and_significance():
    r = metrics.median_iqr([1, 2, 3, 4, 5, np.nan])
    assert (r["median"], r["q25"], r["q75"], r["n"]) == (3.0, 2.0, 4.0, 5)
    assert metrics.significance_after_cut(2.0, 5.0) == 10.0
