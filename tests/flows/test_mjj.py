"""MjjDensity: a normalised KDE on the window, unbiased at its edges, that samples what it describes."""

import numpy as np
import pytest
from scipy import stats

from resad_tf.errors import InputError
from resad_tf.flows import MjjDensity

WINDOW = (3.3, 3.7)


@pytest.fixture(scope="module", params=[True, False], ids=["reflected", "truncated"])
def density(request):
    # a falling spectrum, like QCD dijets, over a range wider than the window
    mjj = 2.8 + np.random.default_rng(0).exponential(0.5, 20000)
    return MjjDensity(WINDOW, reflect=request.param).fit(mjj)


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


@pytest.mark.parametrize("shape", ["flat", "falling"])
def test_no_deficit_at_the_window_edges(shape):
    """A truncated KDE halves the density within a bandwidth of each edge; reflection must not."""
    rng = np.random.default_rng(3)
    if shape == "flat":
        mjj, truth = rng.uniform(*WINDOW, 200_000), lambda m: np.full_like(m, 2.5)
    else:  # exp(-m / 0.2 TeV), as steep as the toy's QCD spectrum in the SR
        mjj = 3.3 + rng.exponential(0.2, 400_000)
        norm = 0.2 * (1 - np.exp(-0.4 / 0.2))
        truth = lambda m: np.exp(-(m - 3.3) / 0.2) / norm  # noqa: E731
    d = MjjDensity(WINDOW).fit(mjj)
    bw = d.kde_.factor * mjj[(mjj >= 3.3) & (mjj < 3.7)].std()
    edge = np.array([3.3, 3.3 + bw / 2, 3.7 - bw / 2, 3.7 - 1e-9])
    np.testing.assert_allclose(np.exp(d.log_prob(edge)), truth(edge), rtol=0.05)
    m = d.sample(400_000, seed=1)
    truncated = MjjDensity(WINDOW, reflect=False).fit(mjj).sample(400_000, seed=1)
    for a, b in [(3.3, 3.3 + bw), (3.7 - bw, 3.7)]:  # sampled fraction in one bandwidth at each edge
        expected = np.trapezoid(truth(np.linspace(a, b, 101)), np.linspace(a, b, 101))
        assert np.mean((m >= a) & (m < b)) == pytest.approx(expected, rel=0.06)
        assert np.mean((truncated >= a) & (truncated < b)) < 0.85 * expected  # the bias reflection removes


def test_user_errors():
    with pytest.raises(InputError, match="lo < hi"):
        MjjDensity((3.7, 3.3))
    with pytest.raises(InputError, match="TeV"):
        MjjDensity(WINDOW).fit(np.full(100, 3500.0))  # GeV by mistake
    with pytest.raises(InputError, match="not fitted"):
        MjjDensity(WINDOW).sample(5)
