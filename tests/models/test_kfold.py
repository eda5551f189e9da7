"""kfold_predict: every event is scored by a model that never saw it."""

import numpy as np
import pytest

from resad_tf.errors import InputError
from resad_tf.models import Classifier, kfold_predict


class Spy(Classifier):
    """Remembers the rows it was trained/validated on; predicts 1 for a row it has seen."""

    kind = "spy"

    def fit(self, x, y, weight=None, x_val=None, y_val=None, weight_val=None):
        self.train_ids_, self.val_ids_ = set(x[:, 0]), set(x_val[:, 0])
        self.n_features_in_ = x.shape[1]
        return self

    def predict(self, x):
        seen = self.train_ids_ | self.val_ids_
        return np.array([float(i in seen) for i in x[:, 0]])

    def _save_state(self, directory):
        raise NotImplementedError

    def _load_state(self, directory, state):
        raise NotImplementedError


def test_no_event_is_scored_by_a_model_that_saw_it():
    rng = np.random.default_rng(0)
    n, k = 1000, 5
    x = np.column_stack([np.arange(n, dtype=float), rng.normal(size=n)])  # column 0 = event id
    y = (rng.random(n) < 0.3).astype(int)
    out = kfold_predict(Spy, x, y, k=k, seed=1)
    assert np.all(out.scores == 0)
    counts = np.bincount(out.fold, minlength=k)
    assert counts.min() >= n // k - 1 and counts.max() <= n // k + 1
    for i, model in enumerate(out.models):
        ids = x[:, 0]
        assert model.train_ids_ == set(ids[(out.fold != i) & (out.fold != (i + 1) % k)])
        assert model.val_ids_ == set(ids[out.fold == (i + 1) % k])
        assert np.mean(y[out.fold == i]) == pytest.approx(0.3, abs=0.05)  # stratified


def test_groups_stay_in_one_fold():
    rng = np.random.default_rng(1)
    groups = np.repeat(np.arange(200), 3)  # e.g. three oversampled copies of each event
    x = np.column_stack([np.arange(600, dtype=float), rng.normal(size=600)])
    y = np.repeat(rng.integers(0, 2, 200), 3)
    out = kfold_predict(Spy, x, y, k=4, seed=0, groups=groups)
    assert all(len(set(out.fold[groups == g])) == 1 for g in range(200))
    assert np.all(out.scores == 0)


def test_folds_depend_on_seed_and_bad_k_is_refused():
    x, y = np.arange(60.0)[:, None], np.tile([0, 1], 30)
    f0, f0b, f1 = (kfold_predict(Spy, x, y, k=3, seed=s).fold for s in (0, 0, 1))
    np.testing.assert_array_equal(f0, f0b)
    assert not np.array_equal(f0, f1)
    with pytest.raises(InputError, match="k must be >= 3"):
        kfold_predict(Spy, x, y, k=2)
    with pytest.raises(InputError, match="at least 40 events of each class"):
        kfold_predict(Spy, x, y, k=40)


def test_cross_fit_scores_every_event_out_of_fold_for_any_callback():
    """The generic form (what the scan needs): random folds, every model sees all but its own fold."""
    from resad_tf.models import cross_fit, make_folds

    n, k = 103, 4
    fold = make_folds(n, k, seed=5)
    np.testing.assert_array_equal(fold, np.random.default_rng(5).permutation(n) % k)  # the scan's folds
    seen = {}

    def fit_score(i, train, val, test):
        assert val is None and not np.any(train & test) and np.all(train | test)
        seen[i] = np.flatnonzero(train)
        return np.flatnonzero(test).astype(float)  # "score" = the event's own index

    scores = cross_fit(fit_score, fold, validation=False)
    np.testing.assert_array_equal(scores, np.arange(n))
    assert sorted(seen) == list(range(k))
    with_val = cross_fit(lambda i, train, val, test: np.full(test.sum(), val.sum() + train.sum()), fold)
    assert np.all(with_val + np.bincount(fold)[fold] == n)  # train + val = everything but the scored fold
    with pytest.raises(InputError, match="at least 2 folds"):
        make_folds(10, 1, seed=0)
