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
the file and the problem; nothing deep inside pandas leaks to the user.
"""

from __future__ import annotations

import pathlib

import numpy as np
import pandas as pd

from resad_tf.errors import InputError

V2_JET_COLUMNS = ("px", "py", "pz", "m", "tau1", "tau2", "tau3")
V2_COLUMNS = tuple(f"{q}j{j}" for j in (1, 2) for q in V2_JET_COLUMNS) + ("label",)
CATHODE_COLUMNS = ("mjj", "mj_light", "delta_mj", "tau21_light", "tau21_heavy", "label")


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
        raise InputError(f"{path}: cannot be read as a pandas HDF5 file ({exc.__class__.__name__}: {exc})") from None
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
    out = df[want].astype(np.float64)
    values = out.to_numpy()
    finite = np.isfinite(values)
    if not finite.all():
        col = want[int(np.argmin(finite.all(axis=0)))]
        raise InputError(
            f"{source}: column '{col}' has {int((~finite).sum(axis=0).max())} NaN/inf values; "
            "clean the file or drop those events"
        )
    if has_label and not np.isin(out["label"].to_numpy(), (0.0, 1.0)).all():
        raise InputError(f"{source}: column 'label' must hold only 0 (background) and 1 (signal)")
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
    arr = arr.astype(np.float64)
    finite = np.isfinite(arr)
    if not finite.all():
        col = CATHODE_COLUMNS[int(np.argmin(finite.all(axis=0)))]
        raise InputError(f"{path}: column '{col}' has NaN/inf values")
    if not np.isin(arr[:, 5], (0.0, 1.0)).all():
        raise InputError(f"{path}: the last column (label) must hold only 0 and 1")
    return arr
