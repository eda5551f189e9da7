"""LogitScaler: invertible, and its log-Jacobian is the true one (densities stay normalized)."""

import numpy as np
import pytest
from scipy import stats

from resad_tf.data import LogitScaler


def test_roundtrip_and_standardization():
    rng = np.random.default_rng(0)
    x = np.c_[rng.gamma(2, 0.05, 5000), rng.beta(2, 3, 5000)]
    s = LogitScaler().fit(x)
    y = s.transform(x)
    np.testing.assert_allclose(s.inverse_transform(y), x, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(y.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(y.std(0), 1, atol=1e-9)


def test_log_jacobian_matches_numerical_derivative():
    rng = np.random.default_rng(1)
    x = rng.uniform(0.1, 0.9, size=(200, 3))
    s = LogitScaler().fit(x)
    h = 1e-6
    num = np.zeros(len(x))
    for j in range(3):
        dx = np.zeros(3); dx[j] = h
        num += np.log((s.transform(x + dx)[:, j] - s.transform(x - dx)[:, j]) / (2 * h))
    np.testing.assert_allclose(s.log_abs_det_jacobian(x), num, rtol=1e-5)


def test_density_change_of_variables_is_normalized():
    """A Gaussian in y-space, pulled back to x with log|J|, integrates to one over x."""
    rng = np.random.default_rng(2)
    s = LogitScaler().fit(rng.uniform(0, 1, size=(1000, 1)))
    grid = np.linspace(s.lo_[0] + 1e-9, s.hi_[0] - 1e-9, 200_001)[:, None]
    log_px = stats.norm.logpdf(s.transform(grid)[:, 0]) + s.log_abs_det_jacobian(grid)
    assert np.trapezoid(np.exp(log_px), grid[:, 0]) == pytest.approx(1.0, abs=2e-3)


def test_out_of_range_stays_finite_and_is_reported():
    x = np.linspace(0, 1, 100)[:, None]
    s = LogitScaler(margin=0.01).fit(x)
    far = np.array([[-5.0], [0.5], [7.0]])
    assert np.isfinite(s.transform(far)).all()
    assert s.out_of_range(far).tolist() == [True, False, True]


def test_save_load_roundtrip(tmp_path):
    from resad_tf import component

    x = np.random.default_rng(3).normal(size=(100, 2))
    s = LogitScaler(margin=0.05, logit=False).fit(x)
    t = component.load(component.save(s, tmp_path / "scaler"))
    assert t.get_config() == {"margin": 0.05, "logit": False}  # the trained options, not the defaults
    np.testing.assert_array_equal(s.transform(x), t.transform(x))
    np.testing.assert_array_equal(s.log_abs_det_jacobian(x), t.log_abs_det_jacobian(x))
