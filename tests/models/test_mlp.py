"""MLPClassifier: k-best-epoch ensembling, early stopping, determinism, plain-Keras export."""

import json

import keras
import numpy as np
import pytest

from resad_tf.models import MLPClassifier
from resad_tf.models.mlp import predict_member

from .conftest import gaussian_toy

KBEST = dict(hidden=(16,), epochs=6, patience=None, n_best_epochs=3, n_runs=2, batch_size=128, seed=2)


@pytest.fixture(scope="module")
def small():
    rng = np.random.default_rng(7)
    (x, y), (xv, yv) = gaussian_toy(600, rng), gaussian_toy(300, rng)
    return x, y, xv, yv


@pytest.fixture(scope="module")
def kbest(small):
    x, y, xv, yv = small
    return MLPClassifier(**KBEST).fit(x, y, x_val=xv, y_val=yv)


def bce(p, y):
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))


@pytest.mark.slow
def test_k_best_epochs_are_the_ones_averaged(kbest, small):
    _, _, xv, yv = small
    clf = kbest
    assert len(clf.members_) == 6 and [len(h) for h in clf.history_] == [6, 6]
    for history, kept in zip(clf.history_, clf.best_epochs_):
        assert kept == list(np.argsort(history, kind="stable")[:3])  # the 3 lowest val losses, best first
    # each member really holds the weights of its epoch: its val loss is the one Keras recorded
    # then (equal class sizes, so the balanced weights are all 1)
    for member, info in zip(clf.members_, clf.member_info_):
        loss = bce(predict_member(member, xv.astype(np.float32)), yv)
        assert loss == pytest.approx(clf.history_[info["run"]][info["epoch"]], rel=1e-4)
    members = [predict_member(m, xv.astype(np.float32)) for m in clf.members_]
    np.testing.assert_allclose(clf.predict(xv), np.mean(members, axis=0), rtol=1e-6)


@pytest.mark.slow
def test_deterministic_for_a_seed_and_runs_differ(kbest, small):
    x, y, xv, yv = small
    again = MLPClassifier(**KBEST).fit(x, y, x_val=xv, y_val=yv)
    np.testing.assert_array_equal(again.predict(xv), kbest.predict(xv))
    assert again.history_ == kbest.history_
    run0, run1 = (predict_member(kbest.members_[i], xv.astype(np.float32)) for i in (0, 3))
    assert not np.allclose(run0, run1)  # the two runs are independent trainings


@pytest.mark.slow
def test_early_stopping_and_validation_split(small):
    x, y, _, _ = small
    clf = MLPClassifier(hidden=(8,), epochs=200, patience=2, learning_rate=0.05, seed=0).fit(x, y)
    assert len(clf.history_[0]) < 200  # stopped early on the split-off 20 %
    best = int(np.argmin(clf.history_[0]))
    assert clf.best_epochs_ == [[best]] and len(clf.history_[0]) - 1 - best <= 2


def test_members_export_as_plain_keras(kbest, small, tmp_path):
    _, _, xv, _ = small
    from resad_tf import component

    component.save(kbest, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["class"] == "resad_tf.models.mlp:MLPClassifier" and manifest["config"]["hidden"] == [16]
    files = [m["file"] for m in manifest["state"]["members"]]
    assert len(files) == 6
    for name, member in zip(files, kbest.members_):
        plain = keras.saving.load_model(tmp_path / name)  # no resad_tf involved
        np.testing.assert_array_equal(plain.predict(xv, verbose=0), member.predict(xv, verbose=0))
