"""Derived jet features and the feature-set registry.

From the two jets of a v2 features file we compute, per event, a dictionary of
named columns (masses in TeV) and pick the ones a feature set asks for.  The
standard set of the LHCO literature (CWoLa, ANODE, CATHODE, ...) is

    x = [mj_light, mj_heavy - mj_light, tau21_light, tau21_heavy]

with jets ordered by mass and tau21 = tau2 / tau1.  A jet with tau1 = 0 (a
single constituent) gets tau21 = 0, as ``np.nan_to_num`` does in the
reference implementations.

>>> import pandas as pd
>>> from resad_tf.data.formats import V2_COLUMNS
>>> row = dict(pxj1=1500.0, pyj1=0, pzj1=0, mj1=100.0, tau1j1=0.5, tau2j1=0.2, tau3j1=0.1,
...            pxj2=-1500.0, pyj2=0, pzj2=0, mj2=500.0, tau1j2=0.4, tau2j2=0.1, tau3j2=0.05, label=1)
>>> ev = from_v2(pd.DataFrame([row]))
>>> ev.features
('mj_light', 'delta_mj', 'tau21_light', 'tau21_heavy')
>>> [round(float(v), 4) for v in ev.x[0]], round(float(ev.mjj[0]), 4)
([0.1, 0.4, 0.4, 0.25], 3.0845)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from resad_tf.data.events import Events
from resad_tf.data.formats import CATHODE_COLUMNS
from resad_tf.errors import InputError

GEV = 1e-3  # GeV -> TeV, applied once at the file boundary

FEATURE_SETS: dict[str, tuple[str, ...]] = {
    "standard": ("mj_light", "delta_mj", "tau21_light", "tau21_heavy"),
    "extended": (
        "mj_light", "delta_mj", "tau21_light", "tau21_heavy", "tau32_light", "tau32_heavy",
    ),
    "extended_dr": (
        "mj_light", "delta_mj", "tau21_light", "tau21_heavy", "tau32_light", "tau32_heavy",
        "delta_r_jj",
    ),
    "masses": ("mj_light", "mj_heavy"),
}


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num/den with 0 where den == 0 (tau1 = 0: a one-constituent jet)."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _jet(df: pd.DataFrame, j: int) -> dict[str, np.ndarray]:
    g = lambda q: df[f"{q}j{j}"].to_numpy(np.float64)  # noqa: E731
    px, py, pz, m = g("px") * GEV, g("py") * GEV, g("pz") * GEV, g("m") * GEV
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    pt = np.hypot(px, py)
    return dict(px=px, py=py, pz=pz, m=m, e=e, pt=pt, eta=np.arcsinh(_ratio(pz, pt)),
                phi=np.arctan2(py, px), tau1=g("tau1"), tau2=g("tau2"), tau3=g("tau3"))


def dijet_mass(df: pd.DataFrame) -> np.ndarray:
    """m_jj in TeV from the two jets' four-vectors."""
    j1, j2 = _jet(df, 1), _jet(df, 2)
    return _mjj(j1, j2)


def _mjj(j1, j2) -> np.ndarray:
    e = j1["e"] + j2["e"]
    p2 = (j1["px"] + j2["px"]) ** 2 + (j1["py"] + j2["py"]) ** 2 + (j1["pz"] + j2["pz"]) ** 2
    return np.sqrt(np.clip(e**2 - p2, 0.0, None))


def all_features(df: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(mjj, {name: column}) for every feature any registered set can use."""
    j1, j2 = _jet(df, 1), _jet(df, 2)
    mjj = _mjj(j1, j2)
    first_heavy = j1["m"] >= j2["m"]
    heavy = {k: np.where(first_heavy, j1[k], j2[k]) for k in j1}
    light = {k: np.where(first_heavy, j2[k], j1[k]) for k in j1}
    dphi = np.mod(j1["phi"] - j2["phi"] + np.pi, 2 * np.pi) - np.pi
    cols = {
        "mj_light": light["m"],
        "mj_heavy": heavy["m"],
        "delta_mj": heavy["m"] - light["m"],
        "tau21_light": _ratio(light["tau2"], light["tau1"]),
        "tau21_heavy": _ratio(heavy["tau2"], heavy["tau1"]),
        "tau32_light": _ratio(light["tau3"], light["tau2"]),
        "tau32_heavy": _ratio(heavy["tau3"], heavy["tau2"]),
        "delta_r_jj": np.hypot(j1["eta"] - j2["eta"], dphi),
        "pt_j1": j1["pt"],
        "pt_j2": j2["pt"],
    }
    return mjj, cols


def feature_names(feature_set: str) -> tuple[str, ...]:
    try:
        return FEATURE_SETS[feature_set]
    except KeyError:
        raise InputError(
            f"unknown feature set '{feature_set}'; choose one of {sorted(FEATURE_SETS)}"
        ) from None


def from_v2(df: pd.DataFrame, feature_set: str = "standard", source: str = "v2 features") -> Events:
    """Turn a validated v2 features frame into :class:`Events`."""
    names = feature_names(feature_set)
    mjj, cols = all_features(df)
    label = df["label"].to_numpy() if "label" in df.columns else None
    return Events(mjj=mjj, x=np.column_stack([cols[n] for n in names]), features=names,
                  label=label, source=source).check_values()


def from_cathode(arr: np.ndarray, feature_set: str = "standard", source: str = "cathode arrays") -> Events:
    """Turn a CATHODE-style array (n, 6) into :class:`Events` (only the standard set exists there)."""
    names = feature_names(feature_set)
    available = CATHODE_COLUMNS[1:5]
    if tuple(names) != available:
        raise InputError(
            f"{source}: CATHODE arrays only carry the standard features {list(available)}; "
            f"feature set '{feature_set}' needs a v2 features file"
        )
    return Events(mjj=arr[:, 0], x=arr[:, 1:5], features=names, label=arr[:, 5], source=source).check_values()


def add_noise_features(events: Events, n: int, seed) -> Events:
    """Append ``n`` standard-normal noise columns (the robustness test of the literature)."""
    if n < 0:
        raise InputError(f"number of noise features must be >= 0, got {n}")
    if n == 0:
        return events
    rng = np.random.default_rng(seed)
    noise = rng.standard_normal((len(events), n))
    return events.with_features(
        np.column_stack([events.x, noise]), events.features + tuple(f"noise_{i}" for i in range(n))
    )
