"""Classifiers shared by the classifier-based methods (CWoLa, CATHODE, SALAD, IAD, supervised).

* :mod:`~resad_tf.models.base` — the interface and :func:`make_classifier` (pick by flag:
  "mlp", "hgb", "xgb"); classifiers save and load with :mod:`resad_tf.component`.
* :mod:`~resad_tf.models.mlp` — :class:`MLPClassifier` (Keras 3, k-best-epoch x n-run ensembles).
* :mod:`~resad_tf.models.trees` — :class:`TreeEnsembleClassifier` (HGB / XGBoost ensembles).
* :mod:`~resad_tf.models.kfold` — the one k-fold: :func:`make_folds`, :func:`cross_fit` (out-of-fold
  scores for any fit/score callback) and :func:`kfold_predict` (the same for a classifier).

The Keras and tree modules are imported on first use, so ``import resad_tf.models`` stays light.
"""

from resad_tf.models.base import KINDS, Classifier, make_classifier
from resad_tf.models.kfold import KFoldScores, cross_fit, kfold_predict, make_folds

_LAZY = {"MLPClassifier": "resad_tf.models.mlp", "TreeEnsembleClassifier": "resad_tf.models.trees"}

__all__ = [
    "KINDS", "Classifier", "KFoldScores", "cross_fit", "kfold_predict", "make_classifier", "make_folds", *_LAZY
]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
