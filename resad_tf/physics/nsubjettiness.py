"""N-subjettiness tau_N of many jets at once (fjcontrib Nsubjettiness via fastjet).

    tau_N = sum_i pT_i min_k dR(i, axis_k)**beta  /  sum_i pT_i R0**beta

with beta = 1, R0 = 1.0: the normalised measure of Thaler & Van Tilburg
(arXiv:1011.2268), distances in rapidity-azimuth.  The N axes start as the
exclusive kT subjets of the jet's constituents (``exclusive_jets(N)`` of a kT
reclustering, E-scheme).  With ``axes="onepass_kt"`` (default) they are then
refined by one-pass minimisation of tau_N (fjcontrib "OnePass_KT_Axes");
``axes="kt"`` keeps the plain kT axes (fjcontrib "KT_Axes").

Which convention?  On the LHCO R&D background in the 3.3-3.7 TeV signal region
the official features have light-jet tau21 = 0.58 +- 0.18.  On the real raw
events, one-pass kT axes give 0.58 +- 0.16 and plain kT axes 0.61 +- 0.22 (the
wider spread of the third-party ``rd_first100k.features.h5``, which plain kT
axes reproduce jet by jet), so the default is one-pass; numbers and checks in
tests/physics/test_nsubjettiness.py.

All jets of a chunk go through fastjet's vectorised multi-event interface in
one call (C++ loop); a jet with at most N constituents has tau_N = 0 and an
empty (missing) jet has tau_N = 0 for all N.

>>> import numpy as np
>>> # two pencil-like prongs 0.5 apart with equal pT: tau1 = 0.25, tau2 = 0
>>> cons = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.5]])
>>> nsubjettiness(cons, np.array([2]), n_max=2).round(3).tolist()
[[0.25, 0.0]]
"""

from __future__ import annotations

import fastjet
import numpy as np

from resad_tf.errors import InputError
from resad_tf.physics.clustering import momenta

AXES = {"onepass_kt": "OnePass_KT_Axes", "kt": "KT_Axes"}


def nsubjettiness(
    constituents: np.ndarray,
    counts: np.ndarray,
    n_max: int = 3,
    beta: float = 1.0,
    R0: float = 1.0,
    axes: str = "onepass_kt",
) -> np.ndarray:
    """tau_1..tau_n_max of many jets, shape (n_jets, n_max).

    ``constituents`` is (sum(counts), 3) pT, eta, phi (massless), jet after
    jet; ``counts[j]`` is the number of constituents of jet j (may be 0).  From
    :func:`resad_tf.physics.clustering.cluster_jets`:
    ``nsubjettiness(jets.constituents, jets.counts.ravel())``.
    """
    constituents = np.asarray(constituents, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64).reshape(-1)
    if constituents.ndim != 2 or constituents.shape[1] != 3 or counts.sum() != len(constituents):
        raise InputError(
            f"constituents {constituents.shape} and counts (sum {counts.sum()}) do not match: "
            "need (sum(counts), 3) rows of pT, eta, phi"
        )
    if axes not in AXES:
        raise InputError(f"axes={axes!r} is not one of {sorted(AXES)}")
    if n_max < 1 or beta <= 0 or R0 <= 0:
        raise InputError(f"need n_max >= 1, beta > 0, R0 > 0; got {n_max}, {beta}, {R0}")
    if len(counts) == 0:
        return np.zeros((0, n_max))
    pt, eta, phi = constituents.T
    # One "event" per jet; the jet definition only organises the particles per
    # jet, Nsubjettiness finds its own axes from them.
    per_jet = fastjet.ClusterSequence(
        momenta(pt, eta, phi, counts), fastjet.JetDefinition(fastjet.kt_algorithm, R0)
    )
    taus = per_jet.njettiness(
        measure_definition="NormalizedMeasure",
        axes_definition=AXES[axes],
        njets=list(range(1, n_max + 1)),
        beta=float(beta),
        R0=float(R0),
    )
    return np.asarray(taus, dtype=np.float64).reshape(len(counts), n_max)
