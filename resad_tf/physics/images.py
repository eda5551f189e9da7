"""Jet images: constituents binned on an (eta, phi) grid around the jet.

Preprocessing of each jet (vectorised over all jets):

1. centre: shift so the pT-weighted centroid of the constituents is at (0, 0)
   (phi wrapped around the jet);
2. rotate (``rotate=True``): the principal axis of the pT-weighted
   constituent distribution points up (along +eta, the row axis), signed so the
   hardest constituent is in the upper half;
3. flip (``flip=True``): mirror left-right so the right half (+phi) carries at
   least as much pT as the left.

Pixels of size ``2 * half_width / npix`` cover [-half_width, half_width] in
both directions; constituents outside are dropped.  Channels: 0 = summed pT,
1 = summed energy (pT cosh eta, from the unshifted eta), 2 = log(1 + pT /
log_scale) of the pixel pT.  The result is sparse: ``indices`` (K, 4) rows of
(jet, row, col, channel) in row-major order, ``values`` (K,), ``dense_shape``,
ready for ``tf.sparse.SparseTensor(img.indices, img.values, img.dense_shape)``;
:meth:`SparseImages.to_dense` gives the (n_jets, npix, npix, 3) array.

>>> import numpy as np
>>> cons = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.4]])  # pT, eta, phi
>>> img = jet_images(cons, np.array([2]), npix=10, half_width=1.0)
>>> dense = img.to_dense()
>>> dense.shape, float(dense[..., 0].sum())
((1, 10, 10, 3), 2.0)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resad_tf.errors import InputError

CHANNELS = ("pt", "e", "logpt")


@dataclass(frozen=True)
class SparseImages:
    indices: np.ndarray  # (K, 4) int64: jet, row (eta), col (phi), channel
    values: np.ndarray  # (K,) float32
    dense_shape: tuple[int, int, int, int]

    def to_dense(self) -> np.ndarray:
        dense = np.zeros(self.dense_shape, dtype=np.float32)
        dense[tuple(self.indices.T)] = self.values
        return dense


def _weighted_mean(values, weight, jet, n_jets):
    total = np.bincount(jet, weight, minlength=n_jets)
    return np.divide(
        np.bincount(jet, weight * values, minlength=n_jets),
        total,
        out=np.zeros(n_jets),
        where=total > 0,
    )


def centred_coordinates(constituents, counts, rotate=True, flip=True):
    """(x = phi-like, y = eta-like) of every constituent after centring/rotation/flip."""
    pt, eta, phi = np.asarray(constituents, dtype=np.float64).T
    n_jets = len(counts)
    jet = np.repeat(np.arange(n_jets), counts)
    phi_axis = np.arctan2(
        np.bincount(jet, pt * np.sin(phi), minlength=n_jets),
        np.bincount(jet, pt * np.cos(phi), minlength=n_jets),
    )
    x = (phi - phi_axis[jet] + np.pi) % (2 * np.pi) - np.pi
    x = x - _weighted_mean(x, pt, jet, n_jets)[jet]
    y = eta - _weighted_mean(eta, pt, jet, n_jets)[jet]
    if rotate:
        cxx, cyy, cxy = (_weighted_mean(a, pt, jet, n_jets) for a in (x * x, y * y, x * y))
        theta = 0.5 * np.arctan2(2 * cxy, cxx - cyy)  # major-axis angle from +x
        ux, uy = np.cos(theta), np.sin(theta)  # unit vector along the major axis
        by_pt = np.lexsort((-pt, jet))  # hardest constituent first within each jet
        hardest = by_pt[(np.cumsum(counts) - counts)[counts > 0]]
        has = counts > 0
        sign = np.ones(n_jets)
        sign[has] = np.where(x[hardest] * ux[has] + y[hardest] * uy[has] < 0, -1.0, 1.0)
        ux, uy = ux * sign, uy * sign
        x, y = x * uy[jet] - y * ux[jet], x * ux[jet] + y * uy[jet]  # major axis -> +y
    if flip:
        right = np.bincount(jet, pt * (x > 0), minlength=n_jets)
        left = np.bincount(jet, pt * (x < 0), minlength=n_jets)
        x = np.where((left > right)[jet], -x, x)
    return x, y


def jet_images(
    constituents: np.ndarray,
    counts: np.ndarray,
    npix: int = 40,
    half_width: float = 1.2,
    rotate: bool = True,
    flip: bool = True,
    log_scale: float = 1e-3,
) -> SparseImages:
    """Sparse (n_jets, npix, npix, 3) images of jets given as constituents + counts.

    ``constituents`` (sum(counts), 3) pT [TeV], eta, phi, jet after jet, e.g.
    ``Jets.constituents`` with ``Jets.counts.ravel()``; ``log_scale`` is the pT
    unit of the log channel (1 GeV).
    """
    constituents = np.asarray(constituents, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.int64).reshape(-1)
    if constituents.ndim != 2 or constituents.shape[1] != 3 or counts.sum() != len(constituents):
        raise InputError(
            f"constituents {constituents.shape} do not match counts (sum {counts.sum()})"
        )
    if npix < 1 or half_width <= 0 or log_scale <= 0:
        raise InputError(
            f"need npix >= 1, half_width > 0, log_scale > 0; got {npix}, {half_width}, {log_scale}"
        )
    x, y = centred_coordinates(constituents, counts, rotate, flip)
    pt, eta = constituents[:, 0], constituents[:, 1]
    jet = np.repeat(np.arange(len(counts)), counts)
    col = np.floor((x + half_width) / (2 * half_width) * npix).astype(np.int64)
    row = np.floor((y + half_width) / (2 * half_width) * npix).astype(np.int64)
    inside = (col >= 0) & (col < npix) & (row >= 0) & (row < npix)
    key = (jet[inside] * npix + row[inside]) * npix + col[inside]
    pixels, which = np.unique(key, return_inverse=True)
    pix_pt = np.bincount(which, pt[inside], minlength=len(pixels))
    pix_e = np.bincount(which, (pt * np.cosh(eta))[inside], minlength=len(pixels))
    values = np.column_stack([pix_pt, pix_e, np.log1p(pix_pt / log_scale)]).ravel()
    j, rest = np.divmod(pixels, npix * npix)
    r, c = np.divmod(rest, npix)
    indices = np.column_stack(
        [np.repeat(np.column_stack([j, r, c]), 3, axis=0), np.tile(np.arange(3), len(pixels))]
    )
    return SparseImages(
        indices.astype(np.int64),
        values.astype(np.float32),
        (len(counts), npix, npix, len(CHANNELS)),
    )
