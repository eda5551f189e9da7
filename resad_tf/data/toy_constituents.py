"""A constituent-level toy of the LHCO R&D dataset, in the raw layout.

So that clustering, N-subjettiness, images and ``bin/prepare_lhco`` run
without the 17 GB raw file, :func:`generate_raw` makes dijet events as
zero-padded (pT [TeV], eta, phi) particles:

* background (QCD-like): two 1-prong jets.  mjj follows a falling power law
  above 2.8 TeV; each jet's particles scatter around its axis with a width
  drawn per jet (log-normal), giving a broad, falling jet-mass spectrum.
* signal (W' -> X Y, X, Y -> qq): mjj ~ 3.5 TeV; two 2-prong jets with masses
  mX = 500 GeV and mY = 100 GeV.  The prongs share the jet pT as z, 1 - z and
  are dR = m / (pT sqrt(z (1 - z))) apart (~2m/pT), so the jet mass is m.

Every event also gets soft, uniformly spread particles (underlying event).
Each prong is a narrow spray of massless particles with exponentially
distributed momentum fractions.  Once clustered, signal jets peak near
100/500 GeV and have clearly lower tau21 than background (tests/physics).

>>> particles, labels = generate_raw(3, 2, seed=0)
>>> particles.shape, labels.tolist()
((5, 700, 3), [0, 0, 0, 1, 1])
"""

from __future__ import annotations

import numpy as np

from resad_tf.errors import InputError

N_PARTICLES = 700
MJJ_MIN_BKG, MJJ_MAX_BKG = 2.8, 7.0  # TeV, range of the background power law
MJJ_SIGNAL = 3.5
M_X, M_Y = 0.5, 0.1  # TeV


def _sprays(rng, pt, eta, phi, width, mean_mult):
    """Particles of narrow sprays: one row per particle (spray index, pT, eta, phi)."""
    mult = 2 + rng.poisson(mean_mult, size=len(pt))
    spray = np.repeat(np.arange(len(pt)), mult)
    frac = rng.exponential(size=len(spray))
    frac /= np.bincount(spray, frac)[spray]
    r = width[spray] * np.sqrt(rng.exponential(size=len(spray)))  # 2-D Gaussian radius
    angle = rng.uniform(0, 2 * np.pi, len(spray))
    return spray, pt[spray] * frac, eta[spray] + r * np.cos(angle), phi[spray] + r * np.sin(angle)


def generate_raw(
    n_background: int, n_signal: int, seed, n_particles: int = N_PARTICLES
) -> tuple[np.ndarray, np.ndarray]:
    """``(particles (n, n_particles, 3) with pT in TeV, labels)``; background rows first.

    ``seed`` is an int or a ``np.random.Generator``.  Write it to disk with
    :func:`resad_tf.data.raw.write_raw`.
    """
    if n_background < 0 or n_signal < 0 or n_background + n_signal == 0:
        raise InputError(
            f"need n_background, n_signal >= 0, not both 0; got {n_background}, {n_signal}"
        )
    rng = np.random.default_rng(seed)
    n = n_background + n_signal
    signal = np.arange(n) >= n_background

    # dijet kinematics: back-to-back in phi, small rapidity gap, pT from mjj
    lo, hi, k = MJJ_MIN_BKG**-6.0, MJJ_MAX_BKG**-6.0, -1 / 6.0  # mjj^-7 power law
    mjj = np.where(
        signal,
        rng.normal(MJJ_SIGNAL, 0.05 * MJJ_SIGNAL, n),
        (lo - rng.uniform(size=n) * (lo - hi)) ** k,
    )
    y_mid, dy = rng.normal(0, 0.6, n), rng.uniform(-1.2, 1.2, n)
    pt_jet = mjj / (2 * np.cosh(dy / 2))
    phi1 = rng.uniform(-np.pi, np.pi, n)
    jet_eta = np.column_stack([y_mid + dy / 2, y_mid - dy / 2]).ravel()  # (n*2,) event-major
    jet_phi = np.column_stack([phi1, phi1 + np.pi]).ravel()
    jet_pt = np.repeat(pt_jet, 2)
    jet_event = np.repeat(np.arange(n), 2)
    jet_signal = np.repeat(signal, 2)

    # two prongs per jet sharing its pT as z, 1 - z, an angle dR apart
    # signal: a decay, dR set by the mass; background: a QCD-like splitting,
    # soft (z ~ 1/z) and at log-uniform angles, around a wider core
    x_is_first = rng.uniform(size=n) < 0.5
    jet_mass = np.where(np.column_stack([x_is_first, ~x_is_first]), M_X, M_Y).ravel()
    z_sig = rng.uniform(0.25, 0.75, 2 * n)
    z = np.where(jet_signal, z_sig, 0.02 * 25.0 ** rng.uniform(size=2 * n))  # 0.02..0.5
    opening = np.where(
        jet_signal,
        jet_mass / (jet_pt * np.sqrt(z_sig * (1 - z_sig))),
        0.05 * 16.0 ** rng.uniform(size=2 * n),  # 0.05..0.8
    )
    # plus, in every jet, a soft wide-angle emission (final-state radiation)
    z_fsr = 0.003 * 10.0 ** rng.uniform(size=2 * n)  # 0.003..0.03
    angle_fsr = 0.05 * 10.0 ** rng.uniform(size=2 * n)  # 0.05..0.5
    prong_jet = np.repeat(np.arange(2 * n), 3)
    kind = np.tile([0, 1, 2], 2 * n)  # leading prong, second prong, radiation
    zj, zf = z[prong_jet], z_fsr[prong_jet]
    share = np.choose(kind, [(1 - zj) * (1 - zf), zj * (1 - zf), zf])
    offset = np.choose(
        kind, [zj * opening[prong_jet], -(1 - zj) * opening[prong_jet], angle_fsr[prong_jet]]
    )
    alpha = rng.uniform(0, 2 * np.pi, 2 * n)[prong_jet] + np.where(
        kind == 2, rng.uniform(0, 2 * np.pi, len(kind)), 0
    )
    width = np.where(
        jet_signal[prong_jet], 0.015, np.exp(rng.normal(np.log(0.03), 0.4, len(prong_jet)))
    )
    spray, pt, eta, phi = _sprays(
        rng,
        jet_pt[prong_jet] * share,
        jet_eta[prong_jet] + offset * np.cos(alpha),
        jet_phi[prong_jet] + offset * np.sin(alpha),
        width,
        mean_mult=2 + 40 * share,
    )
    event = jet_event[prong_jet][spray]

    # soft underlying event, spread over the detector
    n_soft = rng.poisson(30, n)
    soft_event = np.repeat(np.arange(n), n_soft)
    event = np.concatenate([event, soft_event])
    pt = np.concatenate([pt, rng.exponential(0.0005, len(soft_event))])
    eta = np.concatenate([eta, rng.uniform(-2.5, 2.5, len(soft_event))])
    phi = np.concatenate([phi, rng.uniform(-np.pi, np.pi, len(soft_event))])

    # zero-padded (n, n_particles, 3), hardest particle first as in the real file
    order = np.lexsort((-pt, event))
    event, pt, eta, phi = event[order], pt[order], eta[order], phi[order]
    per_event = np.bincount(event, minlength=n)
    slot = np.arange(len(event)) - np.repeat(np.cumsum(per_event) - per_event, per_event)
    keep = slot < n_particles
    particles = np.zeros((n, n_particles, 3))
    particles[event[keep], slot[keep]] = np.column_stack(
        [pt, eta, (phi + np.pi) % (2 * np.pi) - np.pi]
    )[keep]
    return particles, signal.astype(np.int8)
