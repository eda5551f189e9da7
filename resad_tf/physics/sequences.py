"""Constituent sequences: each jet as a pT-ordered, padded list of particles.

For models that read particles directly (deep sets, transformers, RNNs).  Each
jet's constituents are sorted by decreasing pT (hardest first; pT ordering is
simple, stable and what particle-flow networks usually use) and described
relative to the jet axis (the E-scheme sum of its constituents):

    0 deta   = eta - y_jet
    1 dphi   = phi - phi_jet  (wrapped to [-pi, pi))
    2 log pT          (pT in TeV)
    3 log E
    4 log(pT / pT_jet)
    5 log(E / E_jet)
    6 dR     = hypot(deta, dphi)

Jets with more than ``max_len`` constituents keep the hardest ``max_len``;
shorter ones are zero-padded and ``mask`` marks the real entries.

>>> import numpy as np
>>> cons = np.array([[0.5, 0.1, 0.0], [1.0, 0.0, 0.0], [2.0, 1.0, 3.0]])
>>> seq, mask = constituent_sequences(cons, np.array([2, 1]), max_len=3)
>>> seq.shape, mask.tolist(), np.exp(seq[0, :2, 2]).round(2).tolist()
((2, 3, 7), [[True, True, False], [True, False, False]], [1.0, 0.5])
"""

from __future__ import annotations

import numpy as np

from resad_tf.errors import InputError

FEATURES = ("deta", "dphi", "log_pt", "log_e", "log_pt_rel", "log_e_rel", "dr")


def constituent_sequences(
    constituents: np.ndarray, counts: np.ndarray, max_len: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """(sequences (n_jets, max_len, 7) float32, mask (n_jets, max_len) bool).

    ``constituents`` (sum(counts), 3) pT [TeV], eta, phi, jet after jet, e.g.
    ``Jets.constituents`` with ``Jets.counts.ravel()``.
    """
    constituents = np.asarray(constituents, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64).reshape(-1)
    if constituents.ndim != 2 or constituents.shape[1] != 3 or counts.sum() != len(constituents):
        raise InputError(
            f"constituents {constituents.shape} do not match counts (sum {counts.sum()})"
        )
    if max_len < 1:
        raise InputError(f"max_len must be >= 1, got {max_len}")
    n_jets = len(counts)
    pt, eta, phi = constituents.T
    jet = np.repeat(np.arange(n_jets), counts)
    e = pt * np.cosh(eta)
    sums = [
        np.bincount(jet, v, minlength=n_jets)
        for v in (pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), e)
    ]
    px, py, pz, e_jet = sums
    pt_jet = np.hypot(px, py)
    with np.errstate(divide="ignore", invalid="ignore"):
        y_jet = np.nan_to_num(0.5 * np.log((e_jet + pz) / (e_jet - pz)))
    deta = eta - y_jet[jet]
    dphi = (phi - np.arctan2(py, px)[jet] + np.pi) % (2 * np.pi) - np.pi
    feats = np.column_stack(
        [
            deta,
            dphi,
            np.log(pt),
            np.log(e),
            np.log(pt / pt_jet[jet]),
            np.log(e / e_jet[jet]),
            np.hypot(deta, dphi),
        ]
    )
    order = np.lexsort((-pt, jet))
    rank = np.arange(len(jet)) - np.repeat(np.cumsum(counts) - counts, counts)
    keep = rank < max_len
    seq = np.zeros((n_jets, max_len, len(FEATURES)), dtype=np.float32)
    mask = np.zeros((n_jets, max_len), dtype=bool)
    seq[jet[keep], rank[keep]] = feats[order][keep]
    mask[jet[keep], rank[keep]] = True
    return seq, mask
