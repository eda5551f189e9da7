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
massless jets), N-subjettiness >= 0, m_jj > 0, labels 0 or 1.
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
V2_RULES = {
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
                raise InputError(
                    f"{path}: no key 'df' in this HDF5 file (keys: {keys or 'none'}); "
                    "expected the LHCO v2 features layout"
                )
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
        files = sorted(
            p for p in path.glob("*.npy")
            if p.stem.startswith(("innerdata_", "outerdata_")) and p.stem.endswith(("_train", "_val"))
        )
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
    return arr
