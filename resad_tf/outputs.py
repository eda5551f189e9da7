"""Writing results: one place, atomic.

A run's outputs (metrics.json, scores.h5, plots, exported models, the
resolved config) are assembled in a hidden temporary sibling directory and
moved into place only when everything succeeded.  A crash or a bad input half
way leaves the previous results (or nothing) behind, never a half-written run.

A results directory is recognised by its ``metrics.json`` (:data:`MARKER`).
An existing one is replaced only when asked (``overwrite=True``, the scripts'
``--overwrite``); a file, or a directory holding anything else, is never
touched (:func:`check_output_dir`).

>>> import tempfile, pathlib, json
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with RunDirectory(root / "run") as out:
...     _ = out.write_json("metrics.json", {"auc": 0.9})
>>> json.loads((root / "run" / "metrics.json").read_text())
{'auc': 0.9}
>>> RunDirectory(root / "run").__enter__()  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
resad_tf.errors.InputError: --output_dir=.../run: holds the results of a previous run; pass --overwrite ...
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import tempfile

import numpy as np

from resad_tf.errors import InputError

#: the file every results directory holds; only a directory with it may be replaced
MARKER = "metrics.json"


def _jsonable(obj):
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not np.isfinite(obj):
        return None if np.isnan(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, pathlib.PurePath):
        return str(obj)
    return obj


def to_json(obj) -> str:
    """JSON text of nested dicts/lists with numpy values (NaN -> null, inf -> "inf")."""
    return json.dumps(_jsonable(obj), indent=2, sort_keys=False, allow_nan=False)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a hidden temporary path next to ``path`` (same suffix); move it into place on success.

    The one way resad_tf writes a file: readers never see a half-written one.
    """
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    tmp = pathlib.Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # mkstemp creates 0600
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json_atomic(path, obj) -> pathlib.Path:
    with atomic_path(path) as tmp:
        tmp.write_text(to_json(obj) + "\n")
    return pathlib.Path(path)


def check_writable_dir(path, *, flag: str, where: str | None = None) -> pathlib.Path:
    """Raise an InputError unless ``path`` is, or can be made, a directory to create files in.

    The nearest existing part of ``path`` must be a directory in which a file can
    be created (the only reliable test: permissions, read-only file systems, root).
    ``flag`` names the option in messages, ``where`` the value shown (default ``flag=path``).
    """
    path = pathlib.Path(path)
    where = where or f"{flag}={path}"
    existing = path
    while not os.path.lexists(existing):
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"{where}: {existing} is a file, not a directory; choose another {flag}")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".resad_tf-probe-", dir=existing))
    except OSError as exc:
        raise InputError(f"{where}: cannot create files in {existing} ({exc.strerror}); "
                         f"choose a writable {flag}") from None
    return path


def check_output_dir(path, *, overwrite: bool = False, flag: str = "--output_dir") -> pathlib.Path:
    """Raise an InputError unless ``path`` can take a run's results; cheap, so call it before slow work.

    Refused: a path that is (or lies below) a file; a non-empty directory without
    :data:`MARKER` (not resad_tf's); a previous results directory unless ``overwrite``;
    a place where no directory can be created.  ``flag`` names the option in messages.
    """
    path = pathlib.Path(path)
    where = f"{flag}={path}"
    if os.path.lexists(path):
        if not path.is_dir():
            raise InputError(f"{where}: is a file, not a directory; choose another {flag} (the file is left alone)")
        if any(path.iterdir()):
            if not (path / MARKER).is_file():
                raise InputError(f"{where}: is a non-empty directory but not a results directory (no {MARKER}); "
                                 f"it is left alone: choose another {flag}")
            if not overwrite:
                raise InputError(f"{where}: holds the results of a previous run; pass --overwrite to replace them, "
                                 f"or choose another {flag}")
    check_writable_dir(path.parent, flag=flag, where=where)  # the results are built in a sibling
    return path


def check_output_file(path, *, flag: str, suffixes=(".h5", ".hdf5", ".hdf")) -> pathlib.Path:
    """Raise an InputError unless a file with one of ``suffixes`` can be written at ``path``."""
    path = pathlib.Path(path)
    where = f"{flag}={path}"
    if path.is_dir():
        raise InputError(f"{where}: is a directory; name a file in it, e.g. {flag}={path / ('out' + suffixes[0])}")
    if path.suffix not in suffixes:
        raise InputError(f"{where}: use a file name ending in {' or '.join(suffixes)} (pandas HDF5, key 'df')")
    check_writable_dir(path.parent, flag=flag, where=where)
    return path


class RunDirectory:
    """Context manager: build a result directory in a temp sibling, publish on success.

    ``overwrite`` allows replacing a previous results directory (see :func:`check_output_dir`).
    """

    def __init__(self, path, overwrite: bool = False):
        self.final = pathlib.Path(path)
        self.overwrite = overwrite

    def __enter__(self) -> "RunDirectory":
        check_output_dir(self.final, overwrite=self.overwrite)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = pathlib.Path(tempfile.mkdtemp(prefix=f".{self.final.name}.tmp-", dir=self.final.parent))
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            try:  # the directory may have changed since __enter__
                check_output_dir(self.final, overwrite=self.overwrite)
            except InputError:
                shutil.rmtree(self.path, ignore_errors=True)
                raise
        if exc_type is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            return False
        old = None
        if self.final.exists():
            old = self.final.with_name(f".{self.final.name}.old-{os.getpid()}")
            os.replace(self.final, old)
        os.replace(self.path, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self.path = self.final
        return False

    def __truediv__(self, name) -> pathlib.Path:
        return self.path / name

    def write_json(self, name: str, obj) -> pathlib.Path:
        p = self.path / name
        p.write_text(to_json(obj) + "\n")
        return p

    def write_scores(self, name: str = "scores.h5", **arrays) -> pathlib.Path:
        """Per-event arrays (score, label, mjj, ...) as datasets of an HDF5 file."""
        import h5py

        p = self.path / name
        with h5py.File(p, "w") as f:
            for key, arr in arrays.items():
                if arr is not None:
                    f.create_dataset(key, data=np.asarray(arr), compression="gzip")
        return p


def read_scores(path) -> dict[str, np.ndarray]:
    import h5py

    with h5py.File(path, "r") as f:
        return {k: f[k][()] for k in f.keys()}
