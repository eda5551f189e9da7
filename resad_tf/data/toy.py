"""An LHCO-like event generator: the project's default data.

The LHC Olympics 2020 R&D sample (1.1M events: QCD dijets plus a
W'(3.5 TeV) -> X(500 GeV) Y(100 GeV), X, Y -> qq signal) is too large to ship,
so :func:`generate` produces events in exactly its "v2 features" layout
(:data:`resad_tf.data.formats.V2_COLUMNS`, GeV, ``j1`` = leading-pT jet,
``label`` 1 = signal).  Toy and real data then take the same code path.

Events are built the way a parton shower + detector would hand them over,
only with parametrised shapes:

1. the parton-level dijet system: m_jj (QCD: a dijet-function spectrum with
   a generator-level pT-hat cut; signal: the W' mass), the scattering angle in
   its rest frame (QCD: flat in chi = exp|dy|; signal: 1 - cos^2), an ISR
   recoil and a longitudinal boost;
2. jet masses (QCD: generalised-normal in log m, scaling with pT and
   saturating; signal: the X/Y mass smeared, sometimes with extra radiation or
   a lost prong), drawn before the kinematics, so that the two jets'
   four-vectors are exact;
3. the detector: each jet's momentum scaled by a response (out-of-cone loss,
   resolution), then the trigger, leading-jet pT > 1.2 TeV, which shapes the
   m_jj turn-on;
4. N-subjettiness tau1 > tau2 > tau3 from tau21 and tau32 drawn around
   mass-dependent means (lower for genuinely two-pronged jets).

Every constant below was fitted to the real R&D files (``rd_first100k`` for
kinematics, the CATHODE signal-region arrays for substructure);
``bench/studies/toy_calibration.py`` compares toy and real data side by side.

>>> df = generate(2000, 100, seed=1, quiet=True)
>>> df.shape, int(df.label.sum())
((2100, 15), 100)
>>> bool((np.hypot(df.pxj1, df.pyj1) > 1200).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from resad_tf.bumphunt.dijet import dijet
from resad_tf.data.formats import V2_COLUMNS
from resad_tf.errors import InputError

PT_TRIGGER = 1.2  # TeV, leading-jet pT threshold of the R&D sample
SIGNAL_REGION = (3.3, 3.7)  # TeV, the standard LHCO signal region

# --- QCD dijet system ---------------------------------------------------------
QCD_MJJ_PARAMS = (1.0, 9.31, 4.36, 0.0)  # parton-level dijet-function shape (p0, p1, p2, p3)
QCD_MAX_DY = 4.0  # parton |y1 - y2| range; chi = exp|dy| is flat in [1, exp(QCD_MAX_DY)]
PT_HAT_MIN = 1.0  # TeV, generator-level cut on the parton pT (Pythia's pTHatMin); drops < 1e-4 of triggered events
RECOIL_PT_SCALE, RECOIL_PT_SHAPE = 0.044, 1.61  # TeV, Gamma-distributed dijet-system pT (ISR recoil)
JET_LOSS_SCALE, JET_LOSS_SHAPE = 0.032, 0.51  # Weibull fraction of momentum lost out of cone (QCD jets)
QUARK_LOSS_FACTOR = 0.6  # signal (quark) jets radiate less than the gluon-rich QCD jets (fitted)
JET_RESOLUTION = 0.030  # Gaussian relative jet-momentum resolution
JET_SCALE = 1.029  # calibration: response = JET_SCALE - loss + resolution * z
BOOST_Y_SCALE = 0.32  # sd of the system rapidity = BOOST_Y_SCALE * ln(13 TeV / m_jj)
SQRT_S = 13.0

# --- substructure ---------------------------------------------------------------
PT_REF = 1.5  # TeV, jet pT at which the QCD mass median is quoted
TAU21_CONCENTRATION = 8.0  # Beta(mean * k, (1 - mean) * k) spread of QCD tau21
TAU21_2PRONG_CONCENTRATION = 10.0  # same for two-pronged (signal) jets
TAU32_CONCENTRATION = 5.0
TAU1_SIGMA = 0.5  # log-normal spread of tau1 around 1.17 (m / pT)^1.27


@dataclass(frozen=True)
class ShowerModel:
    """Jet-substructure constants of one parton-shower model (QCD jets only).

    ``mass_median`` (TeV) is the per-jet mass median at pT = 1.5 TeV, scaling
    as pT^``mass_pt_power``; log m follows a generalised normal of scale
    ``mass_width`` and shape ``mass_shape`` (2 = Gaussian, larger = thinner
    tails); the mass saturates softly towards ``mass_cap`` x pT.  tau21's mean falls from
    ``tau21_high`` to ``tau21_low`` around m/pT = ``tau21_rho0``, shifted by
    ``tau21_shift + tau21_mjj_slope * (m_jj - 3.5 TeV)``.
    """

    mass_median: float = 0.184
    mass_width: float = 1.23
    mass_shape: float = 2.55
    mass_cap: float = 0.68
    mass_cap_sharpness: float = 2.54
    mass_pt_power: float = 0.8
    tau21_high: float = 0.609
    tau21_low: float = 0.291
    tau21_rho0: float = 0.215
    tau21_power: float = 3.62
    tau21_shift: float = 0.0
    tau21_mjj_slope: float = 0.0


#: "pythia" is fitted to the R&D background; "herwig" is a deliberately
#: mis-modelled variant (heavier jets, higher and m_jj-dependent tau21), smooth
#: in m_jj, for methods such as SALAD that must correct a simulation.
SHOWERS = {
    "pythia": ShowerModel(),
    "herwig": ShowerModel(mass_median=0.205, mass_pt_power=1.0, tau21_shift=0.05, tau21_mjj_slope=0.03),
}


@dataclass(frozen=True)
class SignalModel:
    """A W' -> X Y, X -> qq, Y -> qq resonance; masses in TeV.

    The default is the R&D signal; the first LHCO black box is
    ``SignalModel(3.823, 0.732, 0.378)``.

    >>> SignalModel(3.5, 0.05, 0.5)
    Traceback (most recent call last):
    ...
    resad_tf.errors.InputError: signal masses: need m_X >= m_Y (got m_X=0.05, m_Y=0.5 TeV); swap them
    """

    m_w: float = 3.5
    m_x: float = 0.5
    m_y: float = 0.1
    width: float = 0.025  # relative Gaussian spread of the parton-level m_jj (detector effects come on top)
    mass_resolution: tuple[float, float] = (0.05, 0.012)  # jet-mass smearing: relative, TeV (in quadrature)
    mass_offset: float = 0.035  # TeV, added in quadrature (underlying event, pile-up)
    extra_radiation: tuple[float, float] = (0.35, 0.12)  # (fraction, TeV exponential scale) added in quadrature

    def __post_init__(self):
        if not all(np.isfinite([self.m_w, self.m_x, self.m_y])) or min(self.m_w, self.m_x, self.m_y) <= 0:
            raise InputError(
                f"signal masses: all must be positive TeV values (got m_W={self.m_w}, "
                f"m_X={self.m_x}, m_Y={self.m_y})"
            )
        if self.m_x < self.m_y:
            raise InputError(
                f"signal masses: need m_X >= m_Y (got m_X={self.m_x}, m_Y={self.m_y} TeV); swap them"
            )
        if self.m_x + self.m_y >= 0.8 * self.m_w:
            raise InputError(
                f"signal masses: m_X + m_Y = {self.m_x + self.m_y:g} TeV leaves no room for boosted jets "
                f"in a W' of {self.m_w:g} TeV; use m_X + m_Y < 0.8 m_W (masses are in TeV, not GeV)"
            )
        if not 2 * PT_TRIGGER <= self.m_w <= SQRT_S / 2:
            raise InputError(
                f"signal masses: m_W = {self.m_w:g} TeV is outside {2 * PT_TRIGGER:g}-{SQRT_S / 2:g} TeV "
                f"(below, its jets cannot pass the {PT_TRIGGER} TeV trigger; masses are in TeV, not GeV)"
            )


def generate(
    n_background: int,
    n_signal: int = 0,
    *,
    seed,
    background: str = "pythia",
    signal: SignalModel = SignalModel(),
    correlated: bool = False,
    quiet: bool = False,
) -> pd.DataFrame:
    """Generate a shuffled LHCO v2 features frame of QCD background and W' signal.

    ``n_background`` / ``n_signal`` count events *after* the trigger.
    ``background`` picks the shower model (``"pythia"`` or ``"herwig"``, see
    :data:`SHOWERS`).  ``correlated=True`` records every jet mass as
    mj + 0.1 m_jj (the correlated-feature stress test of the literature); the
    events are otherwise the same ones, with their momenta rescaled so that
    m_jj stays exact.  Deterministic for a given ``seed`` (int or
    ``np.random.Generator``).

    >>> from resad_tf.data.features import dijet_mass
    >>> a = generate(500, seed=3, quiet=True)
    >>> b = generate(500, seed=3, quiet=True, correlated=True)
    >>> shift = b[["mj1", "mj2"]].sum(axis=1) - a[["mj1", "mj2"]].sum(axis=1)
    >>> bool(np.allclose(shift, 2 * 100 * dijet_mass(a))), bool(np.allclose(dijet_mass(b), dijet_mass(a)))
    (True, True)
    """
    n_background = _count("n_background", n_background)
    n_signal = _count("n_signal", n_signal)
    if background not in SHOWERS:
        raise InputError(f"background='{background}' is not a known shower model; choose one of {sorted(SHOWERS)}")
    if not isinstance(signal, SignalModel):
        raise InputError(f"signal must be a SignalModel, got {type(signal).__name__}")
    rng = np.random.default_rng(seed)
    shower = SHOWERS[background]
    with tqdm(total=n_background + n_signal, desc="toy events", unit="ev", disable=quiet) as bar:
        parts = [
            _accepted(rng, n_background, lambda r, n: _qcd_events(r, n, shower), shower, bar),
            _accepted(rng, n_signal, lambda r, n: _signal_events(r, n, signal), SHOWERS["pythia"], bar),
        ]
    events = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    events["label"] = np.repeat([0.0, 1.0], [n_background, n_signal])
    if correlated:
        events["m_a"] = events["m_a"] + 0.1 * events["mjj"]
        events["m_b"] = events["m_b"] + 0.1 * events["mjj"]
    frame = _v2_frame(events)
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def generate_lhco_like(n_sig: int = 1000, n_background: int = 1_000_000, *, seed, quiet: bool = False) -> pd.DataFrame:
    """The R&D composition: 1M QCD events with ``n_sig`` W'(3.5 TeV) signal events.

    >>> df = generate_lhco_like(n_sig=10, n_background=300, seed=0, quiet=True)
    >>> len(df), int(df.label.sum())
    (310, 10)
    """
    return generate(n_background, n_sig, seed=seed, quiet=quiet)


# ------------------------------------------------------------------ event loop
def _count(name: str, n) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"{name} must be a non-negative integer number of events, got {n!r}")
    return int(n)


def _accepted(rng, n: int, draw, shower: ShowerModel, bar) -> dict[str, np.ndarray]:
    """Draw parton-level events in chunks until ``n`` pass the trigger; return the first ``n``."""
    chunks, have, efficiency = [], 0, 0.25  # first guess of the trigger efficiency
    while have < n or not chunks:  # one pass even for n = 0, so every key exists
        size = int(min(1_000_000, max(10_000, 1.1 * (n - have) / efficiency)))
        ev, keep = _detector(rng, draw(rng, size))
        efficiency = max(keep.mean(), 1e-3)
        ev = {k: v[keep][: n - have] for k, v in ev.items()}
        _add_substructure(rng, ev, shower)
        chunks.append(ev)
        have += len(ev["mjj"])
        bar.update(len(ev["mjj"]))
    return {k: np.concatenate([c[k] for c in chunks]) for k in chunks[0]}


# ------------------------------------------------------------------ dijet systems
# An event's kinematics are its dijet "state": mass ``mjj``, the unit vector
# ``n_hat`` of jet a in the dijet rest frame and the velocity ``beta`` of that
# frame in the lab.  With the jet masses ``m_a``, ``m_b`` it fixes both jets.
def _qcd_events(rng, n: int, shower: ShowerModel) -> dict[str, np.ndarray]:
    mjj = np.interp(rng.uniform(size=n), _MJJ_CDF, _MJJ_GRID)
    chi = rng.uniform(1.0, _chi_max(mjj))
    ev = _system(rng, mjj, cos_theta=np.tanh(np.log(chi) / 2) * rng.choice([-1.0, 1.0], n))
    pt = ev["pt_parton"]
    no_prongs = np.full(n, np.nan)
    ev.update(m_a=_qcd_mass(rng, pt, shower), m_b=_qcd_mass(rng, pt, shower), rho2_a=no_prongs, rho2_b=no_prongs,
              loss_scale=np.full(n, JET_LOSS_SCALE))
    return ev


def _chi_max(mjj):
    """Largest chi = exp|dy| with parton pT = m_jj / (sqrt(chi) + 1 / sqrt(chi)) >= PT_HAT_MIN."""
    r = np.maximum(mjj / (2 * PT_HAT_MIN), 1.0)  # (sqrt(chi) + 1/sqrt(chi)) / 2 at the limit
    return np.minimum((r + np.sqrt(r**2 - 1)) ** 2, np.exp(QCD_MAX_DY))


def _qcd_mjj_cdf():
    """m_jj grid and CDF of dsigma/dm (chi flat) after the pT-hat cut: dijet(m) x (chi_max(m) - 1)."""
    grid = np.linspace(2 * PT_HAT_MIN, 10.0, 20_001)
    pdf = dijet(grid, *QCD_MJJ_PARAMS) * (_chi_max(grid) - 1.0)
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    return grid, cdf / cdf[-1]


_MJJ_GRID, _MJJ_CDF = _qcd_mjj_cdf()


def _signal_events(rng, n: int, sig: SignalModel) -> dict[str, np.ndarray]:
    mjj = sig.m_w * (1.0 + sig.width * rng.standard_normal(n))
    # spin-1 W' -> two scalars: 1 - cos^2(theta*) is the law of the median of three uniforms on [-1, 1]
    ev = _system(rng, mjj, cos_theta=np.median(rng.uniform(-1.0, 1.0, (n, 3)), axis=1))
    (m_a, rho2_a), (m_b, rho2_b) = (_two_prong_jet(rng, m, ev["pt_parton"], sig) for m in (sig.m_x, sig.m_y))
    ev.update(m_a=m_a, m_b=m_b, rho2_a=rho2_a, rho2_b=rho2_b, loss_scale=np.full(n, QUARK_LOSS_FACTOR * JET_LOSS_SCALE))
    return ev


def _system(rng, mjj, cos_theta) -> dict[str, np.ndarray]:
    """The dijet state from the rest-frame polar angle plus ISR recoil and a longitudinal boost."""
    n = len(mjj)
    phi, phi_sys = rng.uniform(-np.pi, np.pi, (2, n))
    sin_theta = np.sqrt(1.0 - cos_theta**2)
    pt_sys = RECOIL_PT_SCALE * rng.gamma(RECOIL_PT_SHAPE, size=n)
    y_sys = BOOST_Y_SCALE * np.log(SQRT_S / mjj) * rng.standard_normal(n)
    mt = np.sqrt(mjj**2 + pt_sys**2)
    p_sys = np.stack([pt_sys * np.cos(phi_sys), pt_sys * np.sin(phi_sys), mt * np.sinh(y_sys)], axis=1)
    return dict(
        mjj=mjj,
        n_hat=np.stack([sin_theta * np.cos(phi), sin_theta * np.sin(phi), cos_theta], axis=1),
        beta=p_sys / (mt * np.cosh(y_sys))[:, None],
        pt_parton=0.5 * mjj * sin_theta,
    )


def _detector(rng, ev: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Scale each jet's momentum by a response (out-of-cone losses, resolution).

    Returns the events with their measured dijet state, and the trigger decision.
    """
    p_a, p_b = _jet_momenta(ev)
    n = len(p_a)
    r_a, r_b = np.clip(
        JET_SCALE - np.minimum(ev.pop("loss_scale") * rng.weibull(JET_LOSS_SHAPE, (2, n)), 0.7)
        + JET_RESOLUTION * rng.standard_normal((2, n)),
        0.3, None,
    )
    p_a, p_b = r_a[:, None] * p_a, r_b[:, None] * p_b
    trigger = np.maximum(np.hypot(p_a[:, 0], p_a[:, 1]), np.hypot(p_b[:, 0], p_b[:, 1])) > PT_TRIGGER
    return ev | _state(p_a, p_b, ev["m_a"], ev["m_b"]), trigger


def _state(p_a, p_b, m_a, m_b) -> dict[str, np.ndarray]:
    """The dijet state (mjj, n_hat, beta) of two jets."""
    e_a, e_b = np.sqrt(_dot(p_a, p_a) + m_a**2), np.sqrt(_dot(p_b, p_b) + m_b**2)
    p, e = p_a + p_b, e_a + e_b
    beta = p / e[:, None]
    p_star = _boost(e_a, p_a, -beta)
    return dict(mjj=np.sqrt(e**2 - _dot(p, p)),
                n_hat=p_star / np.sqrt(_dot(p_star, p_star))[:, None], beta=beta)


def _jet_momenta(ev) -> tuple[np.ndarray, np.ndarray]:
    """Lab momenta (TeV) of jets a, b: back-to-back with masses m_a, m_b in the rest frame, boosted."""
    M, m_a, m_b = ev["mjj"], ev["m_a"], ev["m_b"]
    p_star = np.sqrt((M**2 - (m_a + m_b) ** 2) * (M**2 - (m_a - m_b) ** 2)) / (2 * M)
    e_a = (M**2 + m_a**2 - m_b**2) / (2 * M)
    p = p_star[:, None] * ev["n_hat"]
    return _boost(e_a, p, ev["beta"]), _boost(M - e_a, -p, ev["beta"])


def _boost(e, p, beta) -> np.ndarray:
    """Three-momentum after boosting (e, p) by velocity ``beta`` (all row-wise)."""
    b2 = _dot(beta, beta)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    return p + ((gamma - 1.0) * _dot(beta, p) / np.where(b2 > 0, b2, 1.0) + gamma * e)[:, None] * beta


def _dot(a, b) -> np.ndarray:
    return np.einsum("ij,ij->i", a, b)


# ------------------------------------------------------------------ substructure
def _qcd_mass(rng, pt, shower: ShowerModel) -> np.ndarray:
    """QCD jet mass (TeV): generalised-normal in log m around a pT-scaled median, softly capped."""
    s = shower
    u = rng.standard_gamma(1.0 / s.mass_shape, len(pt)) ** (1.0 / s.mass_shape)
    m0 = s.mass_median * (pt / PT_REF) ** s.mass_pt_power * np.exp(s.mass_width * u * rng.choice([-1.0, 1.0], len(pt)))
    cap = s.mass_cap * pt
    return m0 / (1.0 + (m0 / cap) ** s.mass_cap_sharpness) ** (1.0 / s.mass_cap_sharpness)


def _qcd_tau21_mean(rho, mjj, shower: ShowerModel) -> np.ndarray:
    s = shower
    mean = s.tau21_low + (s.tau21_high - s.tau21_low) / (1.0 + (rho / s.tau21_rho0) ** s.tau21_power)
    return mean + s.tau21_shift + s.tau21_mjj_slope * (mjj - 3.5)


def _two_prong_jet(rng, m_true, pt, sig: SignalModel) -> tuple[np.ndarray, np.ndarray]:
    """Mass (TeV) of a jet from a resonance of mass ``m_true``, and its m_true / pT (NaN if QCD-like).

    The quarks' opening angle is ~ 2 m / pT; with probability 0.3 (2 m / pT)^2
    one falls outside the R = 1 jet, which then looks like a QCD jet.
    """
    n = len(pt)
    frac, scale = sig.extra_radiation
    extra = (rng.uniform(size=n) < frac) * rng.exponential(scale, n)
    mass = np.sqrt(m_true**2 + sig.mass_offset**2 + extra**2)
    rel, absolute = sig.mass_resolution
    mass = np.abs(mass + np.hypot(rel * mass, absolute) * rng.standard_normal(n))
    lost = rng.uniform(size=n) < 0.3 * (2 * m_true / pt) ** 2
    return np.where(lost, _qcd_mass(rng, pt, SHOWERS["pythia"]), mass), np.where(lost, np.nan, m_true / pt)


def _beta(rng, mean, concentration) -> np.ndarray:
    mean = np.clip(mean, 0.02, 0.98)
    return np.clip(rng.beta(mean * concentration, (1.0 - mean) * concentration), 1e-4, 1 - 1e-4)


def _add_substructure(rng, ev: dict[str, np.ndarray], shower: ShowerModel) -> None:
    """N-subjettiness of jets a and b: tau21 around a mass-dependent mean (lower for two-pronged
    jets), tau1 ~ (m/pT)^1.27, tau2 = tau21 tau1, tau3 = tau32 tau2."""
    pt_parton = ev.pop("pt_parton")
    for tag, p in zip("ab", _jet_momenta(ev)):
        rho2 = ev.pop(f"rho2_{tag}")
        two_prong = np.isfinite(rho2)
        tau21 = _beta(
            rng,
            np.where(two_prong, np.clip(0.21 - 0.11 * np.log(rho2 / 0.3), 0.05, 0.6),
                     _qcd_tau21_mean(ev[f"m_{tag}"] / pt_parton, ev["mjj"], shower)),
            np.where(two_prong, TAU21_2PRONG_CONCENTRATION, TAU21_CONCENTRATION),
        )
        rho = ev[f"m_{tag}"] / np.hypot(p[:, 0], p[:, 1])
        tau1 = 1.17 * rho**1.27 * np.exp(TAU1_SIGMA * rng.standard_normal(len(rho)))
        tau32 = _beta(rng, 0.77 - 0.058 * np.log(rho / 0.05), TAU32_CONCENTRATION)
        ev[f"tau1_{tag}"], ev[f"tau2_{tag}"], ev[f"tau3_{tag}"] = tau1, tau21 * tau1, tau32 * tau21 * tau1


# ------------------------------------------------------------------ output
def _v2_frame(ev: dict[str, np.ndarray]) -> pd.DataFrame:
    """Order jets by pT (j1 leading), convert to GeV, fill :data:`V2_COLUMNS`."""
    p_a, p_b = _jet_momenta(ev)  # recomputed: the masses may have been shifted (correlated=True)
    a_leads = np.hypot(p_a[:, 0], p_a[:, 1]) >= np.hypot(p_b[:, 0], p_b[:, 1])
    jets = {
        tag: dict(px=1e3 * p[:, 0], py=1e3 * p[:, 1], pz=1e3 * p[:, 2], m=1e3 * ev[f"m_{tag}"],
                  **{f"tau{k}": ev[f"tau{k}_{tag}"] for k in (1, 2, 3)})
        for tag, p in (("a", p_a), ("b", p_b))
    }
    cols = {f"{q}j{j}": np.where(a_leads, jets[first][q], jets[second][q])
            for j, (first, second) in ((1, ("a", "b")), (2, ("b", "a"))) for q in jets["a"]}
    cols["label"] = ev["label"]
    return pd.DataFrame(cols, columns=list(V2_COLUMNS))
