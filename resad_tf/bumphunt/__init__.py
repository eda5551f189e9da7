"""Dijet bump hunt: cut on an anomaly score, fit the m_jj sidebands, count the signal region.

Plots live in :mod:`resad_tf.bumphunt.plots` (imported on demand: matplotlib).
"""

from resad_tf.bumphunt.dijet import SQRT_S, bin_integrals, dijet, sample_dijet
from resad_tf.bumphunt.fit import DijetFit, bin_edges, choose_dijet, fit_dijet, largest_dijet, select_dijet
from resad_tf.bumphunt.hunt import BumpHuntResult, CutResult, bump_hunt
from resad_tf.bumphunt.significance import local_significance, poisson_pvalue

__all__ = [
    "SQRT_S",
    "BumpHuntResult",
    "CutResult",
    "DijetFit",
    "bin_edges",
    "bin_integrals",
    "bump_hunt",
    "dijet",
    "choose_dijet",
    "fit_dijet",
    "largest_dijet",
    "local_significance",
    "poisson_pvalue",
    "sample_dijet",
    "select_dijet",
]
