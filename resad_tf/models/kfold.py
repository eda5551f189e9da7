"""k-fold cross-training: out-of-fold scores for every event.

CWoLa and the sliding-window scan must score the very events they train on.
:func:`kfold_predict` splits them into ``k`` folds; the model for fold ``i``
trains on ``k - 2`` folds, early-stops on fold ``i + 1 (mod k)`` and scores
only fold ``i``.  So every score comes from a model that never saw the event,
neither in training nor in validation.

>>> import numpy as np
>>> from resad_tf.models import make_classifier
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(300, 2)); y = rng.integers(0, 2, 300)
>>> out = kfold_predict(lambda: make_classifier("hgb", n_estimators=2, max_iter=10), x, y, k=3)
>>> out.scores.shape, sorted(set(out.fold.tolist()))
((300,), [0, 1, 2])
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from tqdm.auto import tqdm

from resad_tf.errors import InputError
from resad_tf.models.base import Classifier, check_training_data
from resad_tf.validation import check_class_counts


class KFoldScores(NamedTuple):
    scores: np.ndarray  # out-of-fold probability of class 1, one per event
    fold: np.ndarray  # the fold each event was scored in (its model never saw it)
    models: list  # models[i] scored fold i; trained without folds i and i + 1 (mod k)


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

    Folds are stratified by label and drawn with ``seed``; with ``groups``
    (one id per event) all events of a group fall into the same fold, e.g.
    copies or oversampled versions of one event.
    """
    x, y, w = check_training_data(x, y, weight)
    if int(k) < 3:
        raise InputError(f"k must be >= 3 (a training, a validation and a scored fold), got {k}")
    k = int(k)
    check_class_counts(y, k, f"k-fold cross-training with k={k} folds")
    seed = int(seed.integers(2**31 - 1)) if isinstance(seed, np.random.Generator) else int(seed)
    if groups is None:
        splits = StratifiedKFold(k, shuffle=True, random_state=seed).split(x, y)
    else:
        groups = np.asarray(groups).reshape(-1)
        if len(groups) != len(x):
            raise InputError(f"groups has {len(groups)} entries for {len(x)} events")
        if len(np.unique(groups)) < k:
            raise InputError(f"k={k} folds need at least {k} distinct groups")
        splits = StratifiedGroupKFold(k, shuffle=True, random_state=seed).split(x, y, groups)
    fold = np.empty(len(x), dtype=np.int64)
    for i, (_, held_out) in enumerate(splits):
        fold[held_out] = i

    scores = np.empty(len(x), dtype=np.float64)
    models = []
    for i in tqdm(range(k), desc="k-fold", disable=not verbose):
        test, val = fold == i, fold == (i + 1) % k
        train = ~(test | val)
        model = make_model().fit(x[train], y[train], w[train], x_val=x[val], y_val=y[val], weight_val=w[val])
        scores[test] = model.predict(x[test])
        models.append(model)
    return KFoldScores(scores, fold, models)
