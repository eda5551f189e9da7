"""Cluster raw particles into jets with FastJet (scikit-hep ``fastjet``).

Every event's particles ``(pT, eta, phi)`` are taken as massless four-vectors
(``E = pT cosh eta``, ``pz = pT sinh eta``) and clustered with anti-kT, R=1.0
by default, through fastjet's vectorised awkward interface: one
``fastjet.ClusterSequence`` call clusters a whole chunk of events in C++
(~4x faster than looping over events with the classic interface).  The
``n_jets`` leading-pT jets are kept, with their constituents.

Units follow the input (TeV inside resad_tf); clustering is scale-free.

>>> import numpy as np
>>> parts = np.zeros((1, 4, 3))
>>> parts[0, :3] = [(1.0, 0.0, 0.0), (0.5, 0.1, 0.0), (0.8, 0.0, 3.0)]
>>> jets = cluster_jets(parts)
>>> jets.pt.round(2).tolist(), jets.counts.tolist()
([[1.5, 0.8]], [[2, 1]])
"""

from __future__ import annotations

from dataclasses import dataclass

import awkward as ak
import fastjet
import numpy as np

from resad_tf.errors import InputError


def momenta(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, counts: np.ndarray) -> ak.Array:
    """Jagged massless four-vectors (px, py, pz, E), ``counts[i]`` particles in list i.

    This is the input fastjet's multi-event ``ClusterSequence`` takes.
    """
    record = ak.zip(
        {
            "px": pt * np.cos(phi),
            "py": pt * np.sin(phi),
            "pz": pt * np.sinh(eta),
            "E": pt * np.cosh(eta),
        },
        with_name="Momentum4D",
    )
    return ak.unflatten(record, np.asarray(counts, dtype=np.int64))


def _padded(array: ak.Array, n: int, fill: float = 0.0) -> np.ndarray:
    """(n_lists, n) numpy array from a jagged array, clipped / padded with ``fill``."""
    return ak.to_numpy(ak.fill_none(ak.pad_none(array, n, clip=True), fill)).astype(np.float64)


@dataclass(frozen=True)
class Jets:
    """The ``n_jets`` leading-pT jets of ``n`` events and their constituents.

    Attributes
    ----------
    p4 : (n, n_jets, 4) px, py, pz, E; all zero where an event has fewer jets.
    counts : (n, n_jets) number of constituents of each jet (0 for a missing jet).
    constituents : (sum(counts), 3) pT, eta, phi of every constituent, jet after
        jet in (event, jet) row-major order.
    """

    p4: np.ndarray
    counts: np.ndarray
    constituents: np.ndarray

    @property
    def n_found(self) -> np.ndarray:
        """Jets found per event (at most n_jets)."""
        return np.sum(self.counts > 0, axis=1)

    @property
    def pt(self) -> np.ndarray:
        return np.hypot(self.p4[..., 0], self.p4[..., 1])

    @property
    def mass(self) -> np.ndarray:
        px, py, pz, e = np.moveaxis(self.p4, -1, 0)
        return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))

    @property
    def rapidity(self) -> np.ndarray:
        e, pz = self.p4[..., 3], self.p4[..., 2]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.nan_to_num(0.5 * np.log((e + pz) / (e - pz)))

    @property
    def phi(self) -> np.ndarray:
        return np.arctan2(self.p4[..., 1], self.p4[..., 0])

    @property
    def jet_index(self) -> np.ndarray:
        """For each constituent row, the flat jet number ``event * n_jets + jet``."""
        return np.repeat(np.arange(self.counts.size), self.counts.ravel())

    def constituents_of(self, event: int, jet: int) -> np.ndarray:
        """(k, 3) pT, eta, phi of one jet's constituents."""
        flat = event * self.counts.shape[1] + jet
        offsets = np.concatenate([[0], np.cumsum(self.counts.ravel())])
        return self.constituents[offsets[flat] : offsets[flat + 1]]

    def mjj(self) -> np.ndarray:
        """Invariant mass of the two leading jets (0 when an event has fewer than two)."""
        p = self.p4[:, 0] + self.p4[:, 1]
        mjj = np.sqrt(np.maximum(p[:, 3] ** 2 - np.sum(p[:, :3] ** 2, axis=1), 0.0))
        return np.where(self.n_found >= 2, mjj, 0.0)


def cluster_jets(particles: np.ndarray, R: float = 1.0, n_jets: int = 2) -> Jets:
    """Anti-kT cluster zero-padded ``particles`` (n, n_particles, 3: pT, eta, phi).

    Particles with pT <= 0 are padding and ignored.  Returns the ``n_jets``
    leading-pT jets of each event (see :class:`Jets`).
    """
    particles = np.asarray(particles, dtype=np.float64)
    if particles.ndim != 3 or particles.shape[2] != 3:
        raise InputError(f"particles must have shape (n, n_particles, 3), got {particles.shape}")
    if R <= 0 or n_jets < 1:
        raise InputError(f"need R > 0 and n_jets >= 1, got R={R}, n_jets={n_jets}")
    real = particles[..., 0] > 0
    n_per_event = real.sum(axis=1)
    flat = particles[real]  # (total, 3), event after event
    events = momenta(flat[:, 0], flat[:, 1], flat[:, 2], n_per_event)
    sequence = fastjet.ClusterSequence(events, fastjet.JetDefinition(fastjet.antikt_algorithm, R))
    jets = sequence.inclusive_jets()
    members = sequence.constituent_index()  # (event, jet, constituent) local indices
    order = ak.argsort(np.hypot(jets.px, jets.py), axis=1, ascending=False)[:, :n_jets]
    leading, members = jets[order], members[order]

    p4 = np.stack([_padded(leading[c], n_jets) for c in ("px", "py", "pz", "E")], axis=-1)
    members = ak.pad_none(members, n_jets, axis=1, clip=True)
    counts = ak.to_numpy(ak.fill_none(ak.num(members, axis=2), 0)).astype(np.int64)
    first_particle = np.concatenate([[0], np.cumsum(n_per_event)[:-1]])
    local = ak.to_numpy(ak.flatten(members, axis=None)).astype(np.int64)
    rows = local + np.repeat(first_particle, counts.sum(axis=1))
    return Jets(p4=p4, counts=counts, constituents=flat[rows])
