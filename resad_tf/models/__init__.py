"""Classifiers shared by the classifier-based methods (CWoLa, CATHODE, SALAD, IAD, supervised).

* :mod:`~resad_tf.models.base` — the interface, :func:`make_classifier` (pick by flag:
  "mlp", "hgb", "xgb") and :func:`load_classifier` (rebuild from a saved directory).
* :mod:`~resad_tf.models.mlp` — :class:`MLPClassifier` (Keras 3, k-best-epoch x n-run ensembles).
* :mod:`~resad_tf.models.trees` — :class:`TreeEnsembleClassifier` (HGB / XGBoost ensembles).
* :mod:`~resad_tf.models.kfold` — :func:`kfold_predict`, out-of-fold scores by cross-training.

The Keras and tree modules are imported on first use, so ``import resad_tf.models`` stays light.
"""

from resad_tf.models.base import KINDS, Classifier, load_classifier, make_classifier
from resad_tf.models.kfold import KFoldScores, fold_ids, kfold_predict

_LAZY = {"MLPClassifier": "resad_tf.models.mlp", "TreeEnsembleClassifier": "resad_tf.models.trees"}

__all__ = [
    "KINDS", "Classifier", "KFoldScores", "fold_ids", "kfold_predict", "load_classifier", "make_classifier", *_LAZY
]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
