"""Readers and writers for the LHC Olympics 2020 R&D file formats.

Three layouts are understood:

* **v2 features** (``events_anomalydetection_v2.features.h5`` and the black-box
  / extra-background files): a pandas HDF5 table under key ``df`` with the two
  leading anti-kT R=1.0 jets, columns :data:`V2_COLUMNS` in GeV, ``j1`` the
  leading-pT jet, optional ``label`` (1 = signal).
* **CATHODE arrays** (``innerdata_*.npy`` / ``outerdata_*.npy``): float arrays
  of shape (n, 6) with columns :data:`CATHODE_COLUMNS`, masses in TeV.
* **raw constituents** (``events_anomalydetection.h5``): 700 particles x
  (pT, eta, phi) + label; streamed by :mod:`resad_tf.data.raw`.

Every reader validates at the boundary and raises :class:`InputError` naming
the file and the problem; nothing deep inside pandas leaks to the user.  What
each column may hold is declared once, in :data:`V2_RULES` and
:data:`CATHODE_RULES`: numbers, finite, masses >= 0 (up to the rounding of
massless jets), momenta below 100 TeV, N-subjettiness >= 0, m_jj > 0,
labels 0 or 1; in CATHODE arrays the two jet masses add up to at most m_jj.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from resad_tf.errors import InputError
from resad_tf.validation import check_columns, check_numeric, rule

V2_JET_COLUMNS = ("px", "py", "pz", "m", "tau1", "tau2", "tau3")
V2_COLUMNS = tuple(f"{q}j{j}" for j in (1, 2) for q in V2_JET_COLUMNS) + ("label",)
CATHODE_COLUMNS = ("mjj", "mj_light", "delta_mj", "tau21_light", "tau21_heavy", "label")

# Massless jets come out of E^2 - p^2 with rounding: the R&D file holds masses down to -2.2e-5 GeV.
MASS_ROUNDING_GEV = 0.01
LABEL = rule(choices=(0, 1), what="the truth label: 0 background, 1 signal")
# |p| of a jet at the LHC (13 TeV collisions) stays far below 100 TeV; larger values are corrupt (1e200)
MAX_MOMENTUM_GEV = 1e5
V2_RULES = {
    **{f"p{c}j{j}": rule(ge=-MAX_MOMENTUM_GEV, le=MAX_MOMENTUM_GEV, what="a momentum component in GeV")
       for c in "xyz" for j in (1, 2)},
    **{f"mj{j}": rule(ge=-MASS_ROUNDING_GEV, what="a jet mass in GeV, >= 0 up to rounding") for j in (1, 2)},
    **{f"tau{n}j{j}": rule(ge=0, what="an N-subjettiness") for n in (1, 2, 3) for j in (1, 2)},
    "label": LABEL,
}
CATHODE_RULES = {
    "mjj": rule(gt=0, what="the dijet mass in TeV"),
    "mj_light": rule(ge=-MASS_ROUNDING_GEV * 1e-3, what="a jet mass in TeV, >= 0 up to rounding"),
    "delta_mj": rule(ge=-MASS_ROUNDING_GEV * 1e-3, what="m_heavy - m_light in TeV, >= 0 up to rounding"),
    "tau21_light": rule(ge=0, what="an N-subjettiness ratio"),
    "tau21_heavy": rule(ge=0, what="an N-subjettiness ratio"),
    "label": LABEL,
}


def unreadable(path, exc: Exception) -> InputError:
    """The one-line InputError for a file that pandas/PyTables cannot open (their messages span lines)."""
    path = pathlib.Path(path)
    if path.stat().st_size == 0:
        reason = "it is empty (0 bytes)"
    else:
        with open(path, "rb") as f:
            is_hdf5 = f.read(8) == b"\x89HDF\r\n\x1a\n"
        first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
        reason = f"{type(exc).__name__}: {first}" if is_hdf5 else "it is not an HDF5 file"
    return InputError(f"{path}: cannot be read as a pandas HDF5 file: {reason}")


def missing_key(path, keys, layout: str, key: str = "df") -> InputError:
    """The InputError for a pandas HDF5 file without a pandas object under ``key``.

    pandas lists only the objects it wrote (``keys``); an HDF5 dataset written by
    h5py (or another tool) under the same name is invisible to it, and "keys: none"
    would hide what is wrong, so the file's own names are looked up with h5py.
    """
    import h5py

    try:
        with h5py.File(path, "r") as f:
            names = sorted(f.keys())
    except OSError:
        names = []
    foreign = [n for n in names if n not in keys]
    expected = f"expected {layout}: a pandas DataFrame written with DataFrame.to_hdf(path, key='{key}')"
    if key in foreign:
        return InputError(f"{path}: '{key}' is a plain HDF5 dataset (written by h5py or another tool), not a pandas "
                          f"table; {expected}")
    found = keys + [f"{n} (not pandas)" for n in foreign]
    return InputError(f"{path}: no key '{key}' in this HDF5 file (keys: {', '.join(found) or 'none'}); {expected}")


def _check_file(path) -> pathlib.Path:
    path = pathlib.Path(path)
    if not path.exists():
        raise InputError(f"{path}: file not found")
    if path.is_dir():
        raise InputError(f"{path}: is a directory, expected a file")
    return path


def read_v2(path, *, require_label: bool = False) -> pd.DataFrame:
    """Read a v2 features file into a DataFrame with exactly :data:`V2_COLUMNS`.

    A file without a ``label`` column (a black box) is returned without it.
    """
    path = _check_file(path)
    try:
        with pd.HDFStore(path, mode="r") as store:
            keys = [k.lstrip("/") for k in store.keys()]
            if "df" not in keys:
                raise missing_key(path, keys, "the LHCO v2 features layout")
            df = store["df"]
    except InputError:
        raise
    except Exception as exc:  # corrupt or non-HDF5 file: pandas/tables raise many types
        raise unreadable(path, exc) from None
    return validate_v2(df, source=str(path), require_label=require_label)


def validate_v2(df: pd.DataFrame, *, source: str, require_label: bool = False) -> pd.DataFrame:
    """Check columns and values of a v2 features frame; return it with the canonical column order."""
    if not isinstance(df, pd.DataFrame):
        raise InputError(f"{source}: key 'df' holds a {type(df).__name__}, expected a DataFrame")
    cols = [str(c) for c in df.columns]
    expected = list(V2_COLUMNS)
    if len(cols) >= 2100:
        raise InputError(
            f"{source}: {len(cols)} columns look like the raw constituents layout (700 x pT, eta, phi); "
            f"make jet features first: bin/prepare_lhco --input={source} --output=FEATURES.h5"
        )
    has_label = "label" in cols
    want = expected if has_label else expected[:-1]
    missing = [c for c in want if c not in cols]
    if missing:
        raise InputError(
            f"{source}: missing columns {missing}; the LHCO v2 features layout has {expected}"
        )
    extra = [c for c in cols if c not in expected]
    if extra:
        raise InputError(
            f"{source}: unexpected columns {extra}; the LHCO v2 features layout has {expected}"
        )
    if require_label and not has_label:
        raise InputError(f"{source}: has no 'label' column, but truth labels are needed here")
    if len(df) == 0:
        raise InputError(f"{source}: contains no events")
    check_numeric({c: df[c].dtype for c in want}, source)
    out = df[want].astype(np.float64)
    check_columns(out.to_numpy(), want, V2_RULES, source)
    return out.reset_index(drop=True)


def write_v2(df: pd.DataFrame, path) -> pathlib.Path:
    """Write a v2 features frame atomically (pandas HDF5, key ``df``, fixed format)."""
    from resad_tf.outputs import atomic_path

    df = validate_v2(df, source="frame to write")
    with atomic_path(path) as tmp:
        df.to_hdf(tmp, key="df", mode="w", format="fixed")
    return pathlib.Path(path)


def _cathode_files(directory: pathlib.Path, prefixes=("innerdata_", "outerdata_")) -> list[pathlib.Path]:
    """The training arrays of a CATHODE-style directory (``*_train``/``*_val``) with one of ``prefixes``."""
    return sorted(p for p in directory.glob("*.npy")
                  if p.stem.startswith(prefixes) and p.stem.endswith(("_train", "_val")))


def check_inner_in_window(directory, lo: float, hi: float, flag: str = "--data") -> None:
    """Raise an InputError if a directory's ``innerdata_*`` events lie outside the signal region [lo, hi).

    In a CATHODE-style directory the inner files hold the signal region's events and the
    outer files the sidebands; inner events outside ``--sr`` mean the directory was made for
    another signal region (or the inner file holds everything), and the "sidebands" would
    silently come from the inner file.  Up to 1% outside is tolerated (edges rounded).
    Call it after :func:`read_cathode` accepted the files.
    """
    directory = pathlib.Path(directory)
    outer = _cathode_files(directory, ("outerdata_",))
    for f in _cathode_files(directory, ("innerdata_",)):
        mjj = np.load(f, mmap_mode="r")[:, 0]
        outside = float(np.mean((mjj < lo) | (mjj >= hi)))
        if outside > 0.01:
            fix = (f"pass the --sr it was made for" if outer else
                   "pass the --sr it was made for and put the sidebands in outerdata_*_train/_val.npy, or give "
                   f"one .npy of all events as {flag}=FILE.npy")
            raise InputError(
                f"{flag}={directory}: {f.name} holds signal-region events, but {outside:.0%} of its events lie "
                f"outside the signal region {lo:g},{hi:g} TeV (its m_jj spans {float(mjj.min()):.3f}-"
                f"{float(mjj.max()):.3f} TeV{'' if outer else '; there are no outerdata_* files'}); {fix}"
            )


def read_cathode(path) -> np.ndarray:
    """Read CATHODE-style arrays: one ``.npy`` file, or a directory of ``innerdata_*``/``outerdata_*``.

    Returns a float64 array (n, 6) with columns :data:`CATHODE_COLUMNS`.  In a
    directory, ``*_train``/``*_val`` files are combined (``*_test`` and
    ``*_extrasig`` are evaluation samples and are read only when named).
    """
    path = pathlib.Path(path)
    if not path.exists():
        raise InputError(f"{path}: file or directory not found")
    if path.is_dir():
        files = _cathode_files(path)
        if not files:
            raise InputError(
                f"{path}: no innerdata_*_train/_val.npy or outerdata_*_train/_val.npy files in this directory"
            )
        return np.concatenate([read_cathode(p) for p in files])
    try:
        arr = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise InputError(f"{path}: cannot be read as a .npy array ({exc})") from None
    if arr.ndim != 2 or arr.shape[1] != len(CATHODE_COLUMNS):
        raise InputError(
            f"{path}: array of shape {arr.shape}; CATHODE arrays have shape (n, 6) with columns "
            f"{list(CATHODE_COLUMNS)}"
        )
    if len(arr) == 0:
        raise InputError(f"{path}: contains no events")
    check_numeric({name: arr.dtype for name in CATHODE_COLUMNS}, str(path))
    arr = arr.astype(np.float64)
    check_columns(arr, CATHODE_COLUMNS, CATHODE_RULES, str(path))
    _check_masses_below_mjj(arr, str(path))
    return arr


def _check_masses_below_mjj(arr: np.ndarray, source: str) -> None:
    """Raise an InputError where the two jet masses add up to more than m_jj (m_jj >= m_j1 + m_j2 always).

    The usual cause is a unit mix-up: masses in GeV (or MeV) next to an m_jj in TeV.
    """
    mjj, light, delta = arr[:, 0], arr[:, 1], arr[:, 2]
    bad = 2 * light + delta > mjj * (1 + 1e-6) + MASS_ROUNDING_GEV * 1e-3
    if bad.any():
        rows = np.flatnonzero(bad)
        i = rows[0]
        column = "mj_light" if light[i] > mjj[i] else "delta_mj"
        raise InputError(
            f"{source}: in {len(rows)} of {len(arr)} events (rows {', '.join(map(str, rows[:5]))}"
            f"{', ...' if len(rows) > 5 else ''}) the jet masses add up to more than m_jj (e.g. column "
            f"'{column}': mj_light={light[i]:g}, delta_mj={delta[i]:g} with mjj={mjj[i]:g}), which is unphysical "
            "(m_jj >= m_j1 + m_j2); are the masses in GeV (or MeV) while mjj is in TeV? CATHODE arrays hold every "
            "mass in TeV: convert those columns (divide GeV by 1000)"
        )
