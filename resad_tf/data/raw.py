"""Streaming reader and writer of the raw LHCO constituents format.

The LHC Olympics 2020 raw files (``events_anomalydetection.h5``, the black
boxes) are pandas HDF5 files, key ``df``, one row per event: up to 700
particles as ``(pT [GeV], eta, phi)`` triplets, zero-padded at the end, then
(R&D file only) the truth label, 1 = signal.  The R&D file has 1.1M rows and
is ~17 GB in memory, so it is read in row ranges: pandas supports
``start``/``stop`` for both the "fixed" layout the official files use and the
"table" layout.

Inside resad_tf momenta are in TeV: :func:`read_raw` converts pT from GeV on
the way in and :func:`write_raw` converts back on the way out.  Particle
arrays have shape ``(n, n_particles, 3)`` with columns ``(pT, eta, phi)``;
padding rows are all zero.  Every chunk read is validated (:data:`RAW_RULES`):
numbers, finite, pT >= 0, labels 0 or 1.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "raw.h5")
>>> parts = np.zeros((5, 4, 3)); parts[:, 0] = (1.2, 0.1, 0.3)
>>> write_raw(path, parts, labels=np.array([0, 1, 0, 0, 1]))
>>> n_raw_events(path)
5
>>> [(start, p.shape, lab.tolist()) for start, p, lab in iter_raw_chunks(path, chunksize=3)]
[(0, (3, 4, 3), [0, 1, 0]), (3, (2, 4, 3), [0, 1])]
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import numpy as np
import pandas as pd

from resad_tf.data.formats import LABEL, V2_COLUMNS, missing_key, unreadable
from resad_tf.errors import InputError
from resad_tf.validation import check_columns, check_numeric, rule

KEY = "df"
GEV_PER_TEV = 1000.0
RAW_RULES = {"pT": rule(ge=0, what="a particle's transverse momentum"), "label": LABEL}


def _storer_shape(path) -> tuple[int, int]:
    """(rows, columns) of the ``df`` frame without reading its values."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError(f"{path}: raw LHCO file not found; check the path")
    try:
        store = pd.HDFStore(path, mode="r")
    except Exception as exc:  # pandas/tables raise many types for non-HDF5 input
        raise unreadable(path, exc) from None
    try:
        storer = store.get_storer(KEY) if f"/{KEY}" in store.keys() else None
        if storer is None:
            raise missing_key(path, [k.lstrip("/") for k in store.keys()], "the raw LHCO layout (700 x pT, eta, "
                              "phi + label)", KEY)
        if getattr(storer, "is_table", False):
            n_rows, n_cols = int(storer.nrows), int(storer.ncols)
            names = storer.non_index_axes[0][1] if storer.non_index_axes else []
        else:
            n_rows, n_cols = (int(s) for s in storer.shape)
            names = storer.group.axis0[:] if "axis0" in storer.group else []
    finally:
        store.close()
    names = {n.decode() if isinstance(n, bytes) else str(n) for n in names}
    if set(V2_COLUMNS[:-1]) <= names:
        raise InputError(f"{path}: holds jet features (the LHCO v2 layout), not raw constituents; give it to the "
                         "feature-based methods as --data (bin/cwola, bin/salad, ...)")
    if n_rows == 0:
        raise InputError(f"{path}: contains no events")
    if n_cols < 3 or n_cols % 3 == 2:
        raise InputError(
            f"{path}: {n_cols} columns; a raw LHCO file has 3 x n_particles columns "
            "(pT, eta, phi), optionally followed by one label column"
        )
    return n_rows, n_cols


def n_raw_events(path) -> int:
    """Number of events (rows) in a raw LHCO file, read from its metadata."""
    return _storer_shape(path)[0]


def read_raw(path, start: int = 0, stop: int | None = None):
    """Read events ``start:stop`` as ``(particles [n, n_particles, 3] TeV, labels or None)``.

    ``labels`` is an int8 array when the file has the trailing label column
    (R&D file), else ``None`` (black boxes).
    """
    n_rows, n_cols = _storer_shape(path)
    stop = n_rows if stop is None else min(int(stop), n_rows)
    if not 0 <= start <= stop:
        raise InputError(f"{path}: bad event range start={start}, stop={stop} (file has {n_rows})")
    values = _read_values(path, start, stop)
    has_label = n_cols % 3 == 1
    particles = values[:, : n_cols - has_label].reshape(len(values), -1, 3)
    check_columns(particles.reshape(-1, 3), ("pT", "eta", "phi"), RAW_RULES, f"{path}", unit="particles")
    particles[:, :, 0] *= 1.0 / GEV_PER_TEV
    labels = None
    if has_label:
        check_columns(values[:, -1:], ("label",), RAW_RULES, f"{path}")
        labels = values[:, -1].astype(np.int8)
    return particles, labels


def _read_values(path, start: int, stop: int) -> np.ndarray:
    """Rows start:stop of the ``df`` frame as a new float64 array.

    The official files are pandas "fixed" frames holding all columns, in order,
    in one value block: that block is sliced directly (PyTables decompresses
    only the rows asked for), ~30% faster than building the DataFrame.
    """
    with pd.HDFStore(os.fspath(path), mode="r") as store:
        storer = store.get_storer(KEY)
        group = storer.group
        if (
            not storer.is_table
            and storer.nblocks == 1
            and np.array_equal(group.block0_items[:], group.axis0[:])
            and getattr(group.block0_values.attrs, "transposed", False)  # stored (rows, columns)
            and np.dtype(getattr(group.block0_values, "dtype", object)).kind == "f"
        ):
            return np.asarray(group.block0_values[start:stop], dtype=np.float64)
        frame = store.select(KEY, start=start, stop=stop)
        check_numeric(frame.dtypes.to_dict(), os.fspath(path))
        return np.array(frame.to_numpy(), dtype=np.float64)


def iter_raw_chunks(
    path, chunksize: int = 10_000, start: int = 0, stop: int | None = None
) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """Yield ``(first_event_index, particles, labels)`` for consecutive chunks.

    Only one chunk is in memory at a time (about ``chunksize`` x 17 kB for the
    700-particle files).
    """
    if chunksize < 1:
        raise InputError(f"chunksize must be >= 1, got {chunksize}")
    n_rows = n_raw_events(path)
    stop = n_rows if stop is None else min(int(stop), n_rows)
    for lo in range(int(start), stop, chunksize):
        particles, labels = read_raw(path, lo, min(lo + chunksize, stop))
        yield lo, particles, labels


def write_raw(path, particles: np.ndarray, labels: np.ndarray | None = None) -> None:
    """Write ``particles`` (n, n_particles, 3; pT in TeV) in the raw LHCO layout, atomically.

    pT is stored in GeV, the columns are named 0..3*n_particles(-1 with a label),
    the "fixed" pandas layout with blosc compression, as in the official files.
    """
    particles = np.asarray(particles, dtype=np.float64)
    if particles.ndim != 3 or particles.shape[2] != 3:
        raise InputError(f"particles must have shape (n, n_particles, 3), got {particles.shape}")
    values = particles.reshape(len(particles), -1).copy()
    values[:, 0::3] *= GEV_PER_TEV
    if labels is not None:
        labels = np.asarray(labels).reshape(-1)
        if len(labels) != len(particles):
            raise InputError(f"{len(labels)} labels for {len(particles)} events")
        values = np.column_stack([values, labels.astype(np.float64)])
    frame = pd.DataFrame(values, columns=np.arange(values.shape[1]))
    atomic_to_hdf(frame, path, format="fixed", complevel=5, complib="blosc")


def atomic_to_hdf(frame: pd.DataFrame, path, **to_hdf_kwargs) -> None:
    """``frame.to_hdf(path, key="df")`` via a temporary file in the same folder and os.replace."""
    from resad_tf.outputs import atomic_path

    with atomic_path(path) as tmp:
        frame.to_hdf(tmp, key=KEY, mode="w", **to_hdf_kwargs)
