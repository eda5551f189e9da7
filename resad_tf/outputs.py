"""Writing results: one place, atomic.

A run's outputs (metrics.json, scores.h5, plots, exported models, the
resolved config) are assembled in a hidden temporary sibling directory and
moved into place only when everything succeeded.  A crash or a bad input half
way leaves the previous results (or nothing) behind, never a half-written run.

>>> import tempfile, pathlib, json
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> with RunDirectory(root / "run") as out:
...     _ = out.write_json("metrics.json", {"auc": 0.9})
>>> json.loads((root / "run" / "metrics.json").read_text())
{'auc': 0.9}
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import tempfile

import numpy as np


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


class RunDirectory:
    """Context manager: build a result directory in a temp sibling, publish on success."""

    def __init__(self, path):
        self.final = pathlib.Path(path)

    def __enter__(self) -> "RunDirectory":
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = pathlib.Path(tempfile.mkdtemp(prefix=f".{self.final.name}.tmp-", dir=self.final.parent))
        return self

    def __exit__(self, exc_type, exc, tb):
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
