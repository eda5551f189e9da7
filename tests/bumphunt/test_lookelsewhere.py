import numpy as np
import pytest
from scipy import stats

from resad_tf.bumphunt.lookelsewhere import (
    global_pvalue_from_toys,
    global_significance,
    gross_vitells,
    p_to_z,
    upcrossings,
)


def _scans(n, n_points, correlation_length, rng):
    """Background-only 'local significance' scans: a smoothed Gaussian process, one-sided (Z = max(g, 0))."""
    kernel = np.exp(-0.5 * (np.arange(-4 * correlation_length, 4 * correlation_length + 1) / correlation_length) ** 2)
    g = np.array([np.convolve(rng.normal(size=n_points + len(kernel) - 1), kernel, mode="valid") for _ in range(n)])
    g /= np.sqrt(np.sum(kernel**2))  # unit variance at each point
    return np.maximum(g, 0.0)


def test_gross_vitells_predicts_the_tail_of_the_maximum():
    """Calibrated on the upcrossings of a low level in 50 scans, GV predicts P(max Z > 3) of 20000 scans."""
    rng = np.random.default_rng(0)
    calibration = _scans(50, 200, 5, rng)
    n_up = upcrossings(calibration, 1.0).mean()
    truth = np.mean(_scans(20_000, 200, 5, rng).max(axis=1) > 3.0)
    predicted = gross_vitells(3.0, n_up, 1.0)
    assert truth > 0.01 and predicted == pytest.approx(truth, rel=0.35)
    assert predicted > stats.norm.sf(3.0) * 5  # the trials factor is large here


def test_upcrossings_and_toy_pvalues():
    z = np.array([[0.0, 2.0, 0.5, 2.5, 3.0, 0.0], [3.0, 0.0, 0.0, 0.0, 0.0, 0.0]])
    assert upcrossings(z, 1.0).tolist() == [2, 0]  # a scan that starts above the level has not crossed it
    assert global_pvalue_from_toys(2.0, [0.5, 1.0, 2.5, 3.0])[0] == pytest.approx(3 / 5)
    assert p_to_z(stats.norm.sf(2.5)) == pytest.approx(2.5) and p_to_z(0.7) == 0.0
    assert gross_vitells(0.5, [3.0, 2.0], 1.0) == 1.0  # below the calibration level: no information
    assert gross_vitells(4.0, [1.0, 1.0], 1.0) == pytest.approx(2 * (stats.norm.sf(4) + np.exp(-7.5)))


def test_global_significance_uses_toys_where_they_reach_and_gv_beyond():
    rng = np.random.default_rng(3)
    toys = _scans(300, 60, 3, rng).reshape(300, 20, 3)  # 300 toys x 20 windows x 3 cuts
    windows = [(3.0 + 0.1 * i, 3.4 + 0.1 * i) for i in range(20)]
    modest = np.zeros((20, 3))
    modest[4, 1] = 2.0
    g = global_significance(modest, toys, windows, (1.0, 0.1, 0.01))
    assert g.method == "toys" and g.window == windows[4] and g.efficiency == 0.1 and g.z_local_max == 2.0
    assert g.p_global_toys == pytest.approx(np.mean(toys.max(axis=(1, 2)) >= 2.0), abs=0.01)
    strong = modest.copy()
    strong[7, 2] = 6.0
    g = global_significance(strong, toys, windows, (1.0, 0.1, 0.01))
    assert g.method == "gross-vitells" and g.p_global_toys == pytest.approx(1 / 301)
    assert 3.5 < g.z_global < 6.0 and g.trials_factor > 1
