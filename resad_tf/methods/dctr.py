"""DCTR: Deep neural network using Classification for Tuning and Reweighting (arXiv:1907.08209).

A classifier f trained to separate a target sample (label 1, e.g. data) from
a source sample (label 0, e.g. simulation), with the classes balanced,
estimates f/(1-f) = p_target(x)/p_source(x).  Weighting the source by that
ratio morphs it into the target.  Parameterizing f in m_jj (giving it m_jj as
an input) lets weights learned in the sidebands be evaluated in the signal
region: the SALAD interpolation.
"""

from __future__ import annotations

import pathlib

import numpy as np

from resad_tf.component import Component, load_part, save_part
from resad_tf.config import project
from resad_tf.errors import InputError
from resad_tf.methods.classify import ClassifierOptions, Discriminator


def _ratio(step: Discriminator, x) -> np.ndarray:
    """f / (1 - f) of one classifier: its estimate of p_target / p_source at x."""
    f = np.clip(step.predict(x), 1e-6, 1 - 1e-6)
    return f / (1 - f)


class DCTRReweighter(Component):
    """``fit(target, source)`` then ``weights(x)`` = p_target/p_source at x (clipped).

    With ``n_iterations`` > 1 the reweighting is refined step by step: step k
    trains a fresh classifier on the target against the source weighted by the
    product of the earlier steps' ratios, and learns only what they left (as in
    OmniFold's iterations); ``weights`` is the product of all steps' ratios.

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> opts = ClassifierOptions(classifier="hgb", n_estimators=2, max_iter=50)
    >>> r = DCTRReweighter(opts).fit(rng.normal(0.3, 1, (20000, 1)), rng.normal(0, 1, (20000, 1)))
    >>> src = rng.normal(0, 1, (20000, 1))
    >>> round(float(np.average(src[:, 0], weights=r.weights(src))), 1)
    0.3
    """

    def __init__(self, opts: ClassifierOptions, seed: int = 0, max_weight: float = 20.0, n_iterations: int = 1,
                 verbose: bool = False):
        if n_iterations < 1:
            raise InputError(f"n_iterations must be >= 1, got {n_iterations}")
        self.opts, self.seed, self.max_weight, self.verbose = project(ClassifierOptions, opts), seed, max_weight, verbose
        self.n_iterations = n_iterations

    def fit(self, target, source, w_target=None, w_source=None) -> "DCTRReweighter":
        w_source = np.ones(len(source)) if w_source is None else np.asarray(w_source, np.float64)
        self.steps_, ratio = [], np.ones(len(source))  # ratio: the earlier steps' product on the source
        for k in range(self.n_iterations):
            step = Discriminator(self.opts, seed=self.seed + 101 * k, verbose=self.verbose)
            self.steps_.append(step.fit(target, source, w_target, w_source * np.minimum(ratio, self.max_weight)))
            if k + 1 < self.n_iterations:
                ratio *= _ratio(step, source)
        return self

    @property
    def discriminator_(self) -> Discriminator:
        """The first step's classifier (the only one unless ``n_iterations`` > 1)."""
        return self.steps_[0]

    def weights(self, x) -> np.ndarray:
        """p_target / p_source at each row of ``x``, clipped at ``max_weight``."""
        self.check_fitted("weights()")
        w = np.ones(len(x))
        for step in self.steps_:
            w *= _ratio(step, x)
        return np.minimum(w, self.max_weight)

    def _save_state(self, directory: pathlib.Path) -> dict:
        return {"steps": [save_part(step, directory / f"step_{k}") for k, step in enumerate(self.steps_)]}

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        self.steps_ = [load_part(entry, directory / f"step_{k}") for k, entry in enumerate(state["steps"])]
