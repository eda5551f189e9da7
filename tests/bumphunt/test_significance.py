import numpy as np
import pytest
from scipy import optimize, stats

from resad_tf.bumphunt import local_significance, poisson_pvalue
from resad_tf.errors import InputError


def _profile_z(n, b, sigma_b):
    """Direct numerical profile likelihood of Poisson(n | s + beta) x Gauss(b | beta, sigma_b)."""

    def nll(beta):
        return -(stats.poisson.logpmf(n, beta) + stats.norm.logpdf(b, beta, sigma_b))

    cond = optimize.minimize_scalar(nll, bounds=(1e-6, 10 * (n + b)), method="bounded",
                                    options={"xatol": 1e-10})
    # unconditional minimum: s_hat = n - b, beta_hat = b
    nll_min = nll(b) + stats.poisson.logpmf(n, b) - stats.poisson.logpmf(n, n)
    return np.sqrt(2 * (cond.fun - nll_min))


@pytest.mark.parametrize("n, b", [(150, 100.0), (12, 3.2), (1, 0.05), (5000, 4800.0)])
def test_zero_uncertainty_is_plain_poisson(n, b):
    direct = np.sqrt(2 * (n * np.log(n / b) - (n - b)))
    assert local_significance(n, b) == pytest.approx(direct, rel=1e-12)
    assert local_significance(n, b, sigma_b=1e-9 * b) == pytest.approx(direct, rel=1e-6)


@pytest.mark.parametrize("n, b, sigma_b", [(150, 100.0, 10.0), (12, 3.2, 1.5), (5000, 4800.0, 60.0)])
def test_matches_numerical_profile_likelihood(n, b, sigma_b):
    assert local_significance(n, b, sigma_b) == pytest.approx(_profile_z(n, b, sigma_b), rel=1e-4)


def test_significance_falls_as_background_uncertainty_grows():
    z = local_significance(150, 100.0, np.array([0.0, 1.0, 5.0, 10.0, 30.0, 100.0]))
    assert np.all(np.diff(z) < 0) and z[-1] < 1.0


def test_deficits_give_zero_and_bad_inputs_raise():
    assert local_significance(90, 100.0, 5.0) == 0.0
    assert local_significance(0, 2.0) == 0.0
    with pytest.raises(InputError, match="b > 0"):
        local_significance(10, 0.0)
    with pytest.raises(InputError, match="sigma_b"):
        local_significance(10, 5.0, -1.0)


def test_poisson_pvalue_is_upper_tail_sum():
    for n, b in [(0, 2.0), (7, 2.5), (130, 100.0)]:
        assert poisson_pvalue(n, b) == pytest.approx(1 - stats.poisson.pmf(np.arange(n), b).sum(), abs=1e-12)
    # large counts: the asymptotic Z agrees with the exact p-value
    assert stats.norm.isf(poisson_pvalue(1100, 1000.0)) == pytest.approx(local_significance(1100, 1000.0), abs=0.05)


@pytest.mark.parametrize("n, b, sigma_b", [(150, 100.0, 10.0), (317, 207.0, 14.0), (1582, 1349.0, 37.0), (12, 5.0, 2.0)])
def test_pyhf_backend_is_the_on_off_likelihood(n, b, sigma_b):
    """pyhf's counting model with a Poisson-constrained background is the on/off problem:
    n_off = (b / sigma_b)^2 sideband counts with tau = n_off / b; Li & Ma (1983) eq. 17 gives its Z."""
    n_off = (b / sigma_b) ** 2
    alpha = b / n_off  # on/off exposure ratio
    z_lima = np.sqrt(2 * (n * np.log((1 + alpha) / alpha * n / (n + n_off))
                          + n_off * np.log((1 + alpha) * n_off / (n + n_off))))
    assert local_significance(n, b, sigma_b, backend="pyhf") == pytest.approx(z_lima, rel=0.01)
    # both backends agree where the constraint's shape matters little
    assert local_significance(n, b, sigma_b, backend="pyhf") == pytest.approx(
        local_significance(n, b, sigma_b), rel=0.1)
    assert local_significance(0.9 * b, b, sigma_b, backend="pyhf") == 0.0
    with pytest.raises(InputError, match="backend"):
        local_significance(n, b, sigma_b, backend="root")
