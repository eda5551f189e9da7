"""Invertible feature preprocessing with a known Jacobian.

The LHCO density-estimation methods (ANODE, CATHODE, ...) map every feature
to an unbounded, roughly standard-normal variable before the flow sees it:

    u = (x - lo) / (hi - lo)          min-max to [0, 1] (with a small margin)
    v = logit(u)                      unbounded
    y = (v - mean) / std              standardized

:class:`LogitScaler` is an sklearn-style transformer doing exactly that.  It
is fitted on the sample the method is allowed to see (e.g. the sidebands for
the background model) and reports ``log_abs_det_jacobian(x)`` = log|dy/dx|
summed over features, so that a density learned in y-space converts back to
x-space: log p_x(x) = log p_y(y) + log|dy/dx|.

>>> import numpy as np
>>> x = np.random.default_rng(0).uniform(size=(1000, 2))
>>> s = LogitScaler().fit(x)
>>> bool(np.allclose(s.inverse_transform(s.transform(x)), x))
True

:class:`MassScaler` centres m_jj for the conditional models, and
:class:`StandardScaler` is scikit-learn's, as a resad_tf component (saved and
loaded with :mod:`resad_tf.component` like everything fitted).
"""

from __future__ import annotations

import numpy as np
from sklearn import preprocessing as _sk

from resad_tf.component import Component
from resad_tf.errors import InputError


class LogitScaler(Component):
    """Min-max -> logit -> standardize, fitted per feature.

    Parameters
    ----------
    margin:
        relative padding of the min-max range, so that values slightly outside
        the fitted range (e.g. SR events when fitted on the SB) stay finite.
    logit:
        apply the logit step (False gives a plain min-max + standardize).
    """

    def __init__(self, margin: float = 0.02, logit: bool = True):
        self.margin = margin
        self.logit = logit

    # -------------------------------------------------------------- fitting
    def fit(self, x: np.ndarray, weight: np.ndarray | None = None) -> "LogitScaler":
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or len(x) < 2:
            raise InputError(f"preprocessing needs a 2-d array with at least 2 rows, got shape {x.shape}")
        if not np.isfinite(x).all():
            raise InputError("preprocessing got NaN/inf features")
        lo, hi = x.min(axis=0), x.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        self.lo_ = lo - self.margin * span
        self.hi_ = hi + self.margin * span
        v = self._squash(x)
        w = np.ones(len(x)) if weight is None else np.asarray(weight, np.float64)
        self.mean_ = np.average(v, axis=0, weights=w)
        std = np.sqrt(np.average((v - self.mean_) ** 2, axis=0, weights=w))
        self.std_ = np.where(std > 0, std, 1.0)
        return self

    # ---------------------------------------------------------- transforms
    def _unit(self, x):
        u = (np.asarray(x, np.float64) - self.lo_) / (self.hi_ - self.lo_)
        # values outside the padded fit range are clipped, never turned into inf
        eps = 1e-6
        return np.clip(u, eps, 1 - eps)

    def _squash(self, x):
        u = self._unit(x)
        return np.log(u) - np.log1p(-u) if self.logit else u

    def transform(self, x: np.ndarray) -> np.ndarray:
        self.check_fitted("transform()")
        return (self._squash(x) - self.mean_) / self.std_

    def inverse_transform(self, y: np.ndarray) -> np.ndarray:
        self.check_fitted("inverse_transform()")
        v = np.asarray(y, np.float64) * self.std_ + self.mean_
        u = 1.0 / (1.0 + np.exp(-v)) if self.logit else v
        return self.lo_ + u * (self.hi_ - self.lo_)

    def fit_transform(self, x, weight=None):
        return self.fit(x, weight).transform(x)

    def log_abs_det_jacobian(self, x: np.ndarray) -> np.ndarray:
        """log|det dy/dx| per event (summed over features)."""
        self.check_fitted("log_abs_det_jacobian()")
        u = self._unit(x)
        per_feature = -np.log(self.hi_ - self.lo_) - np.log(self.std_)
        if self.logit:
            per_feature = per_feature - np.log(u) - np.log1p(-u)
        return np.sum(np.broadcast_to(per_feature, u.shape), axis=1)

    def out_of_range(self, x: np.ndarray) -> np.ndarray:
        """Boolean mask of events with a feature outside the padded fit range."""
        self.check_fitted("out_of_range()")
        x = np.asarray(x, np.float64)
        return np.any((x <= self.lo_) | (x >= self.hi_), axis=1)

    # --------------------------------------------------------------- saving
    def _save_state(self, directory) -> dict:
        return {"lo": self.lo_.tolist(), "hi": self.hi_.tolist(), "mean": self.mean_.tolist(),
                "std": self.std_.tolist()}

    def _load_state(self, directory, state) -> None:
        self.lo_, self.hi_ = np.asarray(state["lo"]), np.asarray(state["hi"])
        self.mean_, self.std_ = np.asarray(state["mean"]), np.asarray(state["std"])


class MassScaler(Component):
    """An affine map of m_jj (TeV) to a centred context variable for conditional models."""

    def fit(self, mjj: np.ndarray) -> "MassScaler":
        mjj = np.asarray(mjj, np.float64)
        if mjj.ndim != 1 or len(mjj) == 0 or not np.isfinite(mjj).all():
            raise InputError(f"MassScaler needs a non-empty 1-d array of finite masses, got shape {mjj.shape}")
        self.mean_ = float(mjj.mean())
        self.std_ = float(mjj.std()) or 1.0
        return self

    def transform(self, mjj: np.ndarray) -> np.ndarray:
        self.check_fitted("transform()")
        return ((np.asarray(mjj, np.float64) - self.mean_) / self.std_)[:, None]

    def _save_state(self, directory) -> dict:
        return {"mean": self.mean_, "std": self.std_}

    def _load_state(self, directory, state) -> None:
        self.mean_, self.std_ = float(state["mean"]), float(state["std"])


class StandardScaler(Component, _sk.StandardScaler):
    """scikit-learn's StandardScaler (same options, same numbers) as a resad_tf component."""

    def transform(self, x, copy=None):
        self.check_fitted("transform()")
        return super().transform(x, copy=copy)

    def _save_state(self, directory) -> dict:
        return {"mean": self.mean_.tolist(), "scale": self.scale_.tolist()}

    def _load_state(self, directory, state) -> None:
        self.mean_, self.scale_ = np.asarray(state["mean"]), np.asarray(state["scale"])
        self.var_, self.n_features_in_ = self.scale_**2, len(self.mean_)
