import numpy as np
import pytest
from scipy import stats
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from resad_tf.data import ConditionalQuantileTransform, ToySpec, load
from resad_tf.errors import InputError


def _mass_dependent(n, seed):
    """Two features whose whole distribution moves with m: a jet-mass-like gamma and a Gaussian."""
    rng = np.random.default_rng(seed)
    m = 2.8 + rng.exponential(0.6, n)
    x = np.column_stack([rng.gamma(3.0, 0.02 * m), rng.normal(0.3 * m, 0.2 + 0.05 * m)])
    return x, m


def _toy_background(seed, n=40_000):
    ev = load("toy", seed=seed, toy=ToySpec(n_background=n, n_signal=0), quiet=True)
    return ev.select(ev.in_window(2.8, 6.0))


def test_low_vs_high_mass_classifier_learns_nothing_after_the_transform():
    """On toy background, jet masses grow with m_jj: a classifier of the lower vs the upper part of the
    m_jj range learns it from the raw features, but not from the transformed ones (fitted on another sample)."""
    fit_sample, ev = _toy_background(3), _toy_background(4)
    t = ConditionalQuantileTransform().fit(fit_sample.x, fit_sample.mjj)
    y = (ev.mjj > 3.6).astype(int)
    train = np.random.default_rng(0).random(len(ev)) < 0.5

    def auc(x):
        clf = LogisticRegression().fit(x[train], y[train])
        return roc_auc_score(y[~train], clf.predict_proba(x[~train])[:, 1])

    assert auc(ev.x) > 0.53
    assert abs(auc(t.transform(ev.x, ev.mjj)) - 0.5) < 0.02


def test_transformed_features_are_uniform_in_every_mass_slice():
    x_fit, m_fit = _mass_dependent(60_000, 0)
    x, m = _mass_dependent(30_000, 1)  # an independent sample
    t = ConditionalQuantileTransform().fit(x_fit, m_fit)
    u = t.transform(x, m)
    edges = np.quantile(m, np.linspace(0, 1, 7))
    for lo, hi in zip(edges[:-1], edges[1:]):
        s = (m >= lo) & (m < hi)
        for f in range(x.shape[1]):
            assert stats.kstest(u[s, f], "uniform").pvalue > 1e-3, (lo, hi, f)
    # without the transform the slices differ: the raw feature's own CDF is far from uniform per slice
    raw_u = stats.rankdata(x[:, 0]) / len(x)
    assert stats.kstest(raw_u[m > edges[-2]], "uniform").pvalue < 1e-6
    z = ConditionalQuantileTransform(output="normal").fit(x_fit, m_fit).transform(x, m)
    assert np.isfinite(z).all() and abs(z.mean()) < 0.05 and abs(z.std() - 1) < 0.05


def test_transform_is_monotone_in_x_at_fixed_mass():
    x_fit, m_fit = _mass_dependent(20_000, 2)
    t = ConditionalQuantileTransform(n_quantiles=50).fit(x_fit, m_fit)
    grid = np.linspace(t.quantiles_[..., 0].min() - 0.1, t.quantiles_[..., 0].max() + 0.1, 4000)
    for m in (2.0, m_fit.min(), 3.0, 3.33, 4.1, m_fit.max(), 9.0):  # outside, at the ends, between nodes
        xs = np.column_stack([grid, np.zeros_like(grid)])
        u = t.transform(xs, np.full(len(grid), m))[:, 0]
        assert np.all(np.diff(u) >= 0) and u[0] == 0.0 and u[-1] == 1.0, m
    inside = (grid > np.quantile(x_fit[:, 0], 0.01)) & (grid < np.quantile(x_fit[:, 0], 0.99))
    assert np.all(np.diff(t.transform(np.column_stack([grid, grid]), np.full(len(grid), 3.2))[inside, 0]) > 0)


def test_bins_merge_up_to_the_minimum_count():
    x, m = _mass_dependent(20_000, 3)
    t = ConditionalQuantileTransform(bin_width=0.05, min_count=1000).fit(x, m)
    assert t.counts_.sum() == len(m) and t.counts_.min() >= 1000
    assert t.bin_edges_[0] == m.min() and t.bin_edges_[-1] > m.max()
    assert t.quantiles_.shape == (t.n_bins_ + 2, 200, 2) and len(t.nodes_) == t.n_bins_ + 2
    assert np.all(np.diff(t.quantiles_, axis=1) >= 0)  # every table is non-decreasing


def test_bad_input_raises_input_error():
    x, m = _mass_dependent(3000, 4)
    t = ConditionalQuantileTransform(min_count=500)
    with pytest.raises(InputError, match="NaN"):
        t.fit(np.where(np.arange(len(m))[:, None] == 5, np.nan, x), m)
    with pytest.raises(InputError, match="x has 3000 rows but m has 2999"):
        t.fit(x, m[:-1])
    with pytest.raises(InputError, match="shape"):
        t.fit(x[:, 0], m)
    with pytest.raises(InputError, match="min_count=5000"):
        ConditionalQuantileTransform(min_count=5000).fit(x, m)
    with pytest.raises(InputError, match="output"):
        ConditionalQuantileTransform(output="gauss").fit(x, m)
    with pytest.raises(RuntimeError, match="not fitted"):
        t.transform(x, m)
    t.fit(x, m)
    with pytest.raises(InputError, match="3 features"):
        t.transform(np.column_stack([x, x[:, 0]]), m)
