import numpy as np
import pytest

from resad_tf.bumphunt import bin_edges, bin_integrals, choose_dijet, fit_dijet, largest_dijet, sample_dijet, select_dijet
from resad_tf.errors import InputError

SR = (3.3, 3.7)
EDGES = bin_edges((2.6, 6.0), SR, 0.1)


def _expected(params, n_total):
    mu = bin_integrals(EDGES, params)
    return mu * n_total / mu.sum()


def _true_params(shape, n_total):
    return np.array([n_total / bin_integrals(EDGES, shape).sum(), *shape[1:]])


def test_bin_integrals_match_quadrature():
    from scipy.integrate import quad

    from resad_tf.bumphunt import dijet

    params = (3.0, 7.0, 6.5, 0.4)
    edges = np.array([2.6, 3.4, 6.0])  # deliberately wide bins
    exact = [quad(lambda m: dijet(m, *params), a, b)[0] for a, b in zip(edges[:-1], edges[1:])]
    np.testing.assert_allclose(bin_integrals(edges, params), exact, rtol=1e-7)


def test_sample_dijet_follows_the_function():
    shape = (1.0, 9.0, 6.0, 0.0)
    m = sample_dijet(200_000, shape, (2.6, 6.0), seed=3)
    counts = np.histogram(m, EDGES)[0]
    mu = _expected(shape, len(m))
    chi2 = np.sum((counts - mu) ** 2 / mu)
    assert chi2 / len(mu) < 2.0


@pytest.mark.parametrize("n_params, shape", [(3, (1.0, 9.0, 6.0, 0.0)), (4, (1.0, 7.0, 7.0, 0.3)),
                                             (5, (1.0, 7.0, 4.0, -2.0, -1.0))])
def test_fit_recovers_known_parameters(n_params, shape):
    n_total = 1e5
    counts = np.random.default_rng(11).poisson(_expected(shape, n_total))
    fit = fit_dijet(counts, EDGES, sr=SR, n_params=n_params)
    assert fit.valid and fit.n_params == n_params
    truth = _true_params(shape, n_total)
    err = np.sqrt(np.diag(fit.cov))[1:n_params]
    pulls = (fit.params[1:n_params] - truth[1:n_params]) / err
    assert np.all(np.abs(pulls) < 3), pulls
    # covariance: symmetric, positive definite, errors small compared with the values
    np.testing.assert_allclose(fit.cov, fit.cov.T, rtol=1e-6, atol=1e-12)
    assert np.all(np.linalg.eigvalsh(fit.cov[:n_params, :n_params]) > 0)
    assert n_params == 5 or np.all(err < 5)  # the 5 terms are nearly collinear: large, correlated errors
    assert 0.4 < fit.chi2_ndf < 2.0 and fit.ndf == int((~_sr_bins()).sum()) - n_params


def _sr_bins():
    mid = 0.5 * (EDGES[1:] + EDGES[:-1])
    return (mid > SR[0]) & (mid < SR[1])


def test_prediction_uncertainty_matches_spread_over_toys():
    shape, n_total = (1.0, 7.0, 7.0, 0.3), 2e4
    mu = _expected(shape, n_total)
    b_true = mu[_sr_bins()].sum()
    rng = np.random.default_rng(5)
    preds = np.array([fit_dijet(rng.poisson(mu), EDGES, sr=SR).predict(*SR) for _ in range(25)])
    b, sigma_b = preds[:, 0], preds[:, 1]
    assert abs(b.mean() - b_true) < 3 * b.std() / np.sqrt(len(b)) + 0.01 * b_true
    assert 0.6 < b.std() / sigma_b.mean() < 1.6


def test_fit_converges_on_small_and_large_spectra():
    shape = (1.0, 9.0, 6.0, 0.0)
    for n_total, seed in [(100, 1), (1e6, 2)]:
        counts = np.random.default_rng(seed).poisson(_expected(shape, n_total))
        fit = fit_dijet(counts, EDGES, sr=SR)
        assert fit.valid, n_total
        b, sigma_b = fit.predict(*SR)
        b_true = _expected(shape, n_total)[_sr_bins()].sum()
        assert abs(b - b_true) < 4 * sigma_b + 1, (n_total, b, sigma_b, b_true)


def test_bad_inputs_raise_input_error():
    counts = np.ones(len(EDGES) - 1) * 100
    with pytest.raises(InputError, match="n_params"):
        fit_dijet(counts, EDGES, n_params=6)
    with pytest.raises(InputError, match="among"):
        select_dijet(counts, EDGES, candidates=(2, 3))
    with pytest.raises(InputError, match="not a bin edge"):
        fit_dijet(counts, EDGES, sr=(3.33, 3.7))
    with pytest.raises(InputError, match="too few"):
        fit_dijet(np.zeros_like(counts), EDGES, sr=SR)
    with pytest.raises(InputError, match="inside the fit range"):
        bin_edges((2.6, 6.0), (5.9, 6.2))


def test_ftest_keeps_the_smallest_adequate_function():
    """3-parameter truth: more parameters are chosen about as often as the test's level says."""
    alpha, n_toys = 0.1, 40
    mu = _expected((1.0, 9.0, 6.0, 0.0), 5e4)
    rng = np.random.default_rng(21)
    chosen = [select_dijet(rng.poisson(mu), EDGES, sr=SR, alpha=alpha).n_params for _ in range(n_toys)]
    rate = np.mean(np.array(chosen) > 3)
    assert rate < alpha + 3 * np.sqrt(alpha * (1 - alpha) / n_toys), chosen


def test_ftest_adds_parameters_the_spectrum_needs():
    """A strongly curved 5-parameter truth with 10^6 events: 3 and 4 parameters are rejected."""
    mu = _expected((1.0, 7.0, 4.0, -2.0, -1.0), 1e6)
    counts = np.random.default_rng(4).poisson(mu)
    fit = select_dijet(counts, EDGES, sr=SR)
    rows = {row[0]: row for row in fit.ftest}
    assert fit.n_params == 5 and rows[4][4] < 1e-6 and rows[5][4] < 0.05, fit.ftest
    assert rows[3][1] / rows[3][2] > 3 > fit.chi2_ndf
    assert [row[0] for row in fit.ftest] == [3, 4, 5]
    b, sigma_b = fit.predict(*SR)
    assert abs(b - mu[_sr_bins()].sum()) < 4 * sigma_b


def test_largest_dijet_takes_the_most_parameters_the_sidebands_support():
    """The default choice: 5 parameters where they fit, fewer only where they do not; unbiased in closure."""
    counts = np.random.default_rng(4).poisson(_expected((1.0, 7.0, 4.0, -2.0, -1.0), 1e6))
    fit = largest_dijet(counts, EDGES, sr=SR)
    assert fit.n_params == 5 and fit.chi2_ndf < 2 and [row[0] for row in fit.ftest] == [5]
    nothing_fits = largest_dijet(counts, EDGES, sr=SR, min_pvalue=1.0)  # no fit is good enough: the smallest
    assert nothing_fits.n_params == 3 and [row[0] for row in nothing_fits.ftest] == [3, 4, 5]
    assert choose_dijet(counts, EDGES, sr=SR).n_params == 5
    assert choose_dijet(counts, EDGES, sr=SR, n_params=4).n_params == 4
    with pytest.raises(InputError, match="n_params"):
        choose_dijet(counts, EDGES, sr=SR, n_params="all")
    # a 3-parameter truth: 5 parameters still predict the SR without bias, at a larger uncertainty
    mu = _expected((1.0, 9.0, 6.0, 0.0), 5e4)
    rng = np.random.default_rng(21)
    pulls, widths = [], []
    for _ in range(30):
        counts = rng.poisson(mu)
        b, sigma_b = largest_dijet(counts, EDGES, sr=SR).predict(*SR)
        pulls.append((b - mu[_sr_bins()].sum()) / sigma_b)
        widths.append(sigma_b / select_dijet(counts, EDGES, sr=SR).predict(*SR)[1])
    assert abs(np.mean(pulls)) < 3 / np.sqrt(len(pulls)) and 0.6 < np.std(pulls) < 1.5, pulls
    assert np.median(widths) > 1.0
