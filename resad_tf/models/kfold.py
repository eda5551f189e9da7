"""k-fold cross-fitting, the one k-fold of resad_tf: out-of-fold scores for every event.

CWoLa and the sliding-window scan must score the very events they train on.
The events are split into ``k`` folds (:func:`make_folds`); the model for
fold ``i`` never sees fold ``i`` and scores only it (:func:`cross_fit`), so
every score comes from a model that never saw the event.  With
``validation=True`` fold ``i + 1 (mod k)`` is held out of the model's
training as well and handed to it for early stopping: the model for fold
``i`` trains on ``k - 2`` folds.

:func:`kfold_predict` is this for a :class:`~resad_tf.models.base.Classifier`
(stratified folds, validation fold); :func:`cross_fit` takes any fit/score
callback.

>>> import numpy as np
>>> from resad_tf.models import make_classifier
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(300, 2)); y = rng.integers(0, 2, 300)
>>> out = kfold_predict(lambda: make_classifier("hgb", n_estimators=2, max_iter=10), x, y, k=3)
>>> out.scores.shape, sorted(set(out.fold.tolist()))
((300,), [0, 1, 2])
>>> fold = make_folds(6, k=3, seed=0)        # random folds of equal size
>>> scores = cross_fit(lambda i, train, val, test: np.full(test.sum(), float(i)), fold, validation=False)
>>> bool(np.all(scores == fold))
True
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from tqdm.auto import tqdm

from resad_tf.errors import InputError
from resad_tf.models.base import Classifier, _int_seed, check_training_data
from resad_tf.validation import check_class_counts


class KFoldScores(NamedTuple):
    scores: np.ndarray  # out-of-fold probability of class 1, one per event
    fold: np.ndarray  # the fold each event was scored in (its model never saw it)
    models: list  # models[i] scored fold i; trained without folds i and i + 1 (mod k)


def make_folds(n: int, k: int, seed, y=None, groups=None) -> np.ndarray:
    """The fold (0 .. k-1) of each of ``n`` events, drawn with ``seed``.

    Without ``y``: a random permutation dealt round-robin (fold sizes differ by
    at most one).  With ``y`` (labels 0/1, at least ``k`` events of each, or an
    InputError says how many are needed): stratified by label
    (scikit-learn's StratifiedKFold, shuffled); with ``groups`` as well (one id
    per event) all events of a group fall into the same fold, e.g. copies or
    oversampled versions of one event.
    """
    k, seed = int(k), _int_seed(seed)
    if k < 2:
        raise InputError(f"k must be at least 2 folds, got {k}")
    if y is None:
        if groups is not None:
            raise InputError("groups need labels y (folds are stratified by label)")
        return np.random.default_rng(seed).permutation(n) % k
    check_class_counts(y, k, f"stratified k-fold with k={k} folds")
    if groups is None:
        splits = StratifiedKFold(k, shuffle=True, random_state=seed).split(np.zeros(n), y)
    else:
        groups = np.asarray(groups).reshape(-1)
        if len(groups) != n:
            raise InputError(f"groups has {len(groups)} entries for {n} events")
        if len(np.unique(groups)) < k:
            raise InputError(f"k={k} folds need at least {k} distinct groups")
        splits = StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(np.zeros(n), y, groups)
    fold = np.empty(n, dtype=np.int64)
    for i, (_, held_out) in enumerate(splits):
        fold[held_out] = i
    return fold


def cross_fit(fit_score: Callable, fold: np.ndarray, validation: bool = True, verbose: bool = False) -> np.ndarray:
    """Out-of-fold scores: for each fold ``i``, ``fit_score(i, train, val, test)`` fits a model and returns
    its scores of the ``test`` events.

    ``train``, ``val`` and ``test`` are boolean masks over the events: ``test``
    is fold ``i``; with ``validation`` ``val`` is fold ``i + 1 (mod k)`` and
    ``train`` the rest, without it ``val`` is None and ``train`` every event
    outside fold ``i``.  Returns one score per event (float64).
    """
    fold = np.asarray(fold)
    k = int(fold.max()) + 1 if len(fold) else 0
    scores = np.empty(len(fold), dtype=np.float64)
    for i in tqdm(range(k), desc="k-fold", disable=not verbose):
        test = fold == i
        val = fold == (i + 1) % k if validation else None
        train = ~test if val is None else ~(test | val)
        scores[test] = fit_score(i, train, val, test)
    return scores


def kfold_predict(
    make_model: Callable[[], Classifier],
    x,
    y,
    weight=None,
    k: int = 5,
    seed=0,
    groups=None,
    verbose: bool = False,
) -> KFoldScores:
    """Train ``k`` models from ``make_model()`` and return out-of-fold scores.

    Folds are stratified by label and drawn with ``seed`` (:func:`make_folds`);
    the model for fold ``i`` trains on ``k - 2`` folds, early-stops on fold
    ``i + 1`` and scores fold ``i``.
    """
    x, y, w = check_training_data(x, y, weight)
    if int(k) < 3:
        raise InputError(f"k must be >= 3 (a training, a validation and a scored fold), got {k}")
    k = int(k)
    fold = make_folds(len(x), k, seed, y=y, groups=groups)
    models = []

    def fit_score(i, train, val, test):
        model = make_model().fit(x[train], y[train], w[train], x_val=x[val], y_val=y[val], weight_val=w[val])
        models.append(model)
        return model.predict(x[test])

    scores = cross_fit(fit_score, fold, validation=True, verbose=verbose)
    return KFoldScores(scores, fold, models)
