"""Every kind learns the known optimal classifier, uses sample weights, and round-trips."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from resad_tf import component
from resad_tf.models import make_classifier

from .conftest import FAST, true_posterior

KINDS = list(FAST)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_auc_close_to_optimal(kind, toy, fitted):
    p = fitted[kind].predict(toy["x_test"])
    assert p.shape == (len(toy["x_test"]),) and p.min() >= 0 and p.max() <= 1
    optimal = roc_auc_score(toy["y_test"], true_posterior(toy["x_test"]))
    assert optimal == pytest.approx(0.760, abs=0.005)  # Phi(|mu|/sqrt 2): the toy is what we think
    assert roc_auc_score(toy["y_test"], p) > optimal - 0.015


@pytest.mark.slow
@pytest.mark.parametrize("kind, tolerance", [("mlp", 0.03), ("hgb", 0.05), ("xgb", 0.05)])
def test_probability_tracks_true_posterior(kind, tolerance, toy, fitted):
    p, truth = fitted[kind].predict(toy["x_test"]), true_posterior(toy["x_test"])
    assert np.mean(np.abs(p - truth)) < tolerance
    # and in bins of the true posterior, the mean prediction follows it
    bins = np.digitize(truth, [0.2, 0.35, 0.5, 0.65, 0.8])
    for b in range(6):
        assert np.mean(p[bins == b]) == pytest.approx(np.mean(truth[bins == b]), abs=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_sample_weights_drive_the_fit(kind):
    """DCTR-style: class 1 is N(0,1) weighted to look like N(a,1).

    With the weights the classifier learns the ratio exp(a x - a^2/2), and
    reweighting class-0 events by p/(1-p) reproduces the target mean a; without
    the weights both classes are the same and the reweighted mean stays at 0.
    """
    a, n = 0.5, 4000
    rng = np.random.default_rng(11)
    x = rng.normal(size=(2 * n, 1))
    y = np.repeat([0, 1], n)
    w = np.where(y == 1, np.exp(a * x[:, 0] - a**2 / 2), 1.0)
    x_test = rng.normal(size=(20000, 1))

    def reweighted_mean(weight):
        p = make_classifier(kind, seed=5, **FAST[kind]).fit(x, y, weight).predict(x_test)
        p = np.clip(p, 1e-6, 1 - 1e-6)
        return np.average(x_test[:, 0], weights=p / (1 - p))

    assert reweighted_mean(w) == pytest.approx(a, abs=0.1)
    assert reweighted_mean(None) == pytest.approx(0.0, abs=0.1)


@pytest.mark.parametrize("kind", KINDS)
def test_save_load_round_trip(kind, toy, fitted, tmp_path):
    clf = fitted[kind]
    component.save(clf, tmp_path / "clf")
    back = component.load(tmp_path / "clf")
    assert type(back) is type(clf) and back.get_config() == clf.get_config()
    assert back.n_features_in_ == clf.n_features_in_
    np.testing.assert_array_equal(back.predict(toy["x_test"]), clf.predict(toy["x_test"]))
    assert not list((tmp_path / "clf").glob(".*")), "temporary files left behind"
