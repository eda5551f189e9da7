"""MjjDensity: a normalised, window-truncated KDE that samples what it describes."""

import numpy as np
import pytest
from scipy import stats

from resad_tf.errors import InputError
from resad_tf.flows import MjjDensity

WINDOW = (3.3, 3.7)


@pytest.fixture(scope="module")
def density():
    # a falling spectrum, like QCD dijets, over a range wider than the window
    mjj = 2.8 + np.random.default_rng(0).exponential(0.5, 20000)
    return MjjDensity(WINDOW).fit(mjj)


def test_log_prob_is_normalised_on_the_window(density):
    grid = np.linspace(*WINDOW, 4001, endpoint=False)
    assert np.trapezoid(np.exp(density.log_prob(grid)), grid) == pytest.approx(1, abs=2e-3)
    assert np.all(np.isneginf(density.log_prob([3.0, 3.7, 4.5])))
    p = np.exp(density.log_prob([3.35, 3.65]))
    assert p[0] > 1.5 * p[1]  # the spectrum falls


def test_samples_follow_log_prob_and_stay_in_the_window(density):
    m = density.sample(4000, seed=1)
    assert m.shape == (4000,) and m.min() >= WINDOW[0] and m.max() < WINDOW[1]
    grid = np.linspace(*WINDOW, 4001)
    pdf = np.exp(density.log_prob(grid[:-1]))
    cdf = np.concatenate([[0], np.cumsum(pdf * np.diff(grid))])
    assert stats.kstest(m, lambda v: np.interp(v, grid, cdf / cdf[-1])).pvalue > 1e-3
    np.testing.assert_array_equal(m, density.sample(4000, seed=1))


def test_user_errors():
    with pytest.raises(InputError, match="lo < hi"):
        MjjDensity((3.7, 3.3))
    with pytest.raises(InputError, match="TeV"):
        MjjDensity(WINDOW).fit(np.full(100, 3500.0))  # GeV by mistake
    with pytest.raises(InputError, match="not fitted"):
        MjjDensity(WINDOW).sample(5)
