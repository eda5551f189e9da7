"""TreeEnsembleClassifier: trees grow on training data only; seeds; parallel == sequential."""

import numpy as np
import pytest

from resad_tf.models import TreeEnsembleClassifier

from .conftest import gaussian_toy


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(3)
    x, y = gaussian_toy(1500, rng)
    # an adversarial validation set: many events with the labels flipped
    xv, yv = gaussian_toy(3000, rng)
    return x, y, xv, 1 - yv


def test_hgb_never_trains_on_the_validation_set(data):
    x, y, xv, yv_flipped = data
    cfg = dict(n_estimators=3, max_iter=50, seed=1)
    alone = TreeEnsembleClassifier("hgb", **cfg).fit(x, y)
    given = TreeEnsembleClassifier("hgb", **cfg).fit(x, y, x_val=xv, y_val=yv_flipped)
    np.testing.assert_array_equal(given.predict(xv), alone.predict(xv))
    # and each member early-stopped on its own random half (different seeds -> different rounds/trees)
    assert len({tuple(np.round(m.predict_proba(xv[:50])[:, 1], 12)) for m in given.members_}) == 3


def test_xgb_trees_come_from_training_data_only(data):
    """Early stopping on x_val only picks the number of rounds: refitting on the training
    data alone for exactly that many rounds reproduces the model bit for bit."""
    x, y, xv, yv_flipped = data
    yv = 1 - yv_flipped
    cfg = dict(n_estimators=1, max_iter=300, learning_rate=0.3, seed=9)
    stopped = TreeEnsembleClassifier("xgb", **cfg).fit(x, y, x_val=xv, y_val=yv)
    (rounds,) = stopped.n_iter_
    assert rounds < 300  # early stopping did act
    refit = TreeEnsembleClassifier("xgb", **{**cfg, "max_iter": rounds, "early_stopping": False}).fit(x, y)
    np.testing.assert_array_equal(stopped.predict(xv), refit.predict(xv))


@pytest.mark.parametrize("kind", ["hgb", "xgb"])
def test_deterministic_and_members_differ(kind, data):
    x, y, xv, _ = data
    cfg = dict(n_estimators=3, max_iter=30, seed=4)
    a, b = (TreeEnsembleClassifier(kind, **cfg).fit(x, y) for _ in range(2))
    c = TreeEnsembleClassifier(kind, **{**cfg, "seed": 5}).fit(x, y)
    np.testing.assert_array_equal(a.predict(xv), b.predict(xv))
    assert not np.array_equal(a.predict(xv), c.predict(xv))
    members = [m.predict_proba(xv)[:, 1] for m in a.members_]
    assert not np.array_equal(members[0], members[1])
    np.testing.assert_allclose(a.predict(xv), np.mean(members, axis=0))


def test_parallel_members_match_sequential(data):
    x, y, xv, _ = data
    cfg = dict(n_estimators=2, max_iter=20, seed=6)
    sequential = TreeEnsembleClassifier("hgb", **cfg).fit(x, y)
    parallel = TreeEnsembleClassifier("hgb", n_jobs=2, **cfg).fit(x, y)
    np.testing.assert_array_equal(parallel.predict(xv), sequential.predict(xv))
