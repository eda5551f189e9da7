"""The classifier interface every classifier-based method relies on.

CWoLa, CATHODE, SALAD, IAD and the supervised reference all train a binary
classifier on ``(x, y, weight)`` with a validation set and use its output as
the anomaly score.  They pick the classifier by a flag::

    clf = make_classifier("hgb", n_estimators=10)       # or "mlp", "xgb"
    clf.fit(x, y, weight, x_val=x_val, y_val=y_val)
    score = clf.predict(x_test)                         # P(class 1) in [0, 1]
    resad_tf.component.save(clf, "out/classifier")
    same = resad_tf.component.load("out/classifier")

Classifiers are :class:`~resad_tf.component.Component` s: saved and loaded
like every fitted object of resad_tf, the member files in each library's own
format next to the manifest.

This module also holds the input checks and the small pieces of data handling
the kinds share (class balancing, the validation split, member seeds, atomic
file writes).
"""

from __future__ import annotations

import pathlib
from abc import ABC, abstractmethod

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split

from resad_tf.component import Component
from resad_tf.errors import InputError
from resad_tf.outputs import atomic_path  # noqa: F401  (re-exported: the kinds write through it)
from resad_tf.validation import check_class_counts

KINDS = ("mlp", "hgb", "xgb")


class Classifier(Component, BaseEstimator, ABC):
    """A binary classifier: ``fit(x, y, weight, x_val, y_val, weight_val)``, ``predict(x)``.

    Parameters live in ``__init__`` (they are the saved config); learned state
    has a trailing underscore, as in scikit-learn.  Subclasses implement
    :meth:`fit`, :meth:`predict` and the component's two state hooks
    ``_save_state`` / ``_load_state`` (which record ``n_features_in_``).
    """

    kind: str

    @abstractmethod
    def fit(self, x, y, weight=None, x_val=None, y_val=None, weight_val=None) -> "Classifier":
        """Train on ``(x, y, weight)``; the validation set only steers training."""

    @abstractmethod
    def predict(self, x) -> np.ndarray:
        """Probability of class 1 for each row of ``x``, shape (n,), in [0, 1]."""

    def _check_predict_input(self, x) -> np.ndarray:
        self.check_fitted("predict()")
        return check_features(x, "x", n_features=self.n_features_in_)


def make_classifier(kind: str, **config) -> Classifier:
    """The classifier named by ``kind`` ("mlp", "hgb" or "xgb") with ``config``.

    >>> make_classifier("hgb", n_estimators=3).n_estimators
    3
    """
    if kind == "mlp":
        from resad_tf.models.mlp import MLPClassifier as cls
    elif kind in ("hgb", "xgb"):
        from resad_tf.models.trees import TreeEnsembleClassifier as cls

        config = {"kind": kind, **config}
    else:
        raise InputError(f"unknown classifier kind {kind!r}; choose one of {KINDS}")
    unknown = sorted(set(config) - set(cls._get_param_names()))
    if unknown:
        raise InputError(
            f"classifier {kind!r} has no option(s) {unknown}; valid options: {cls._get_param_names()}"
        )
    return cls(**config)


# --------------------------------------------------------------------- input checks
def check_features(x, name: str, n_features: int | None = None) -> np.ndarray:
    """``x`` as a finite float array of shape (n, d); 1-d input is one feature."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise InputError(f"{name} must be a 2-d array (events, features), got shape {x.shape}")
    if n_features is not None and x.shape[1] != n_features:
        raise InputError(f"{name} has {x.shape[1]} features but the classifier was trained on {n_features}")
    if not np.all(np.isfinite(x)):
        col = int(np.argmin(np.isfinite(x).all(axis=0)))
        raise InputError(f"{name} has NaN/inf values in column {col}; clean or drop those events")
    return x


def check_training_data(x, y, weight=None, name: str = "x"):
    """Validated ``(x, y, weight)``: float (n, d), int8 labels in {0, 1}, weights >= 0."""
    x = check_features(x, name)
    n = len(x)
    y = np.asarray(y).reshape(-1)
    if len(y) != n:
        raise InputError(f"{name} has {n} rows but its labels have {len(y)}")
    if not np.isin(y, (0, 1)).all():
        raise InputError(f"labels for {name} must be 0 or 1, got values {np.unique(y)[:5]}")
    y = y.astype(np.int8)
    if not (np.any(y == 0) and np.any(y == 1)):
        raise InputError(f"labels for {name} need both classes 0 and 1, got only {np.unique(y).tolist()}")
    w = np.ones(n) if weight is None else np.asarray(weight, dtype=np.float64).reshape(-1)
    if len(w) != n:
        raise InputError(f"{name} has {n} rows but {len(w)} weights")
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise InputError(f"weights for {name} must be finite and >= 0")
    if not (w[y == 0].sum() > 0 and w[y == 1].sum() > 0):
        raise InputError(f"weights for {name} sum to zero for one class")
    return x, y, w


def validation_data(x, y, w, x_val, y_val, weight_val, fraction: float, seed):
    """``(x, y, w, x_val, y_val, w_val)``: the given validation set, or a stratified split.

    When ``x_val`` is None a fraction ``fraction`` of the training events is
    split off (stratified by label, reproducible by ``seed``).
    """
    if x_val is None:
        if y_val is not None or weight_val is not None:
            raise InputError("y_val/weight_val given without x_val")
        if not 0 < fraction < 1:
            raise InputError(f"validation_fraction must be in (0, 1), got {fraction}")
        what = f"the classifier's validation split (val_fraction={fraction:g})"
        check_class_counts(y, 2, what)
        n_val = int(np.ceil(fraction * len(y)))
        if min(n_val, len(y) - n_val) < 2:
            raise InputError(f"{what} of {len(y)} events leaves {n_val} for validation and {len(y) - n_val} for "
                             "training, but each needs at least 2 (one per class); use more events")
        x, x_val, y, y_val, w, weight_val = train_test_split(
            x, y, w, test_size=fraction, random_state=_int_seed(seed), stratify=y
        )
        return x, y, w, x_val, y_val, weight_val
    if y_val is None:
        raise InputError("x_val given without y_val")
    x_val, y_val, weight_val = check_training_data(x_val, y_val, weight_val, name="x_val")
    if x_val.shape[1] != x.shape[1]:
        raise InputError(f"x_val has {x_val.shape[1]} features but x has {x.shape[1]}")
    return x, y, w, x_val, y_val, weight_val


def balanced_weights(y: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """Rescale ``weight`` so both classes carry equal total weight (mean weight 1).

    >>> balanced_weights(np.array([0, 0, 0, 1]), np.ones(4)).tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    out = np.array(weight, dtype=np.float64)
    for cls in (0, 1):
        sel = y == cls
        out[sel] *= 0.5 * len(y) / weight[sel].sum()
    return out


def member_seeds(seed, n: int) -> list[int]:
    """``n`` independent 31-bit seeds derived from ``seed`` (int or Generator)."""
    return [int(s) for s in np.random.SeedSequence(_int_seed(seed)).generate_state(n) % (2**31 - 1)]


def _int_seed(seed) -> int:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**31 - 1))
    return int(seed)
