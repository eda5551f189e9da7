"""DCTR: Deep neural network using Classification for Tuning and Reweighting (arXiv:1907.08209).

A classifier f trained to separate a target sample (label 1, e.g. data) from
a source sample (label 0, e.g. simulation), with the classes balanced,
estimates f/(1-f) = p_target(x)/p_source(x).  Weighting the source by that
ratio morphs it into the target.  Parameterizing f in m_jj (giving it m_jj as
an input) lets weights learned in the sidebands be evaluated in the signal
region: the SALAD interpolation.
"""

from __future__ import annotations

import numpy as np

from resad_tf.methods.classify import ClassifierOptions, Discriminator


class DCTRReweighter:
    """``fit(target, source)`` then ``weights(x)`` = p_target/p_source at x (clipped).

    >>> import numpy as np
    >>> rng = np.random.default_rng(1)
    >>> opts = ClassifierOptions(classifier="hgb", n_estimators=2, max_iter=50)
    >>> r = DCTRReweighter(opts).fit(rng.normal(0.3, 1, (20000, 1)), rng.normal(0, 1, (20000, 1)))
    >>> src = rng.normal(0, 1, (20000, 1))
    >>> round(float(np.average(src[:, 0], weights=r.weights(src))), 1)
    0.3
    """

    def __init__(self, opts: ClassifierOptions, seed: int = 0, max_weight: float = 20.0, verbose: bool = False):
        self.opts, self.seed, self.max_weight, self.verbose = opts, seed, max_weight, verbose

    def fit(self, target, source, w_target=None, w_source=None) -> "DCTRReweighter":
        self.discriminator_ = Discriminator(self.opts, seed=self.seed, verbose=self.verbose)
        self.discriminator_.fit(target, source, w_target, w_source)
        return self

    def weights(self, x) -> np.ndarray:
        f = np.clip(self.discriminator_.predict(x), 1e-6, 1 - 1e-6)
        return np.minimum(f / (1 - f), self.max_weight)

    def save(self, directory):
        return self.discriminator_.save(directory)
