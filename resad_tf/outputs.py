"""Writing results: one place, atomic.

A run's outputs (metrics.json, scores.h5, plots, exported models, the
resolved config) are assembled in a hidden temporary sibling directory and
moved into place only when everything succeeded.  A crash or a bad input half
way leaves the previous results (or nothing) behind, never a half-written run.

A results directory is recognised by its ``metrics.json`` (:data:`MARKER`),
which lists the entries the run wrote (``"files"``, :meth:`RunDirectory.files`).
An existing one is replaced only when asked (``overwrite=True``, the scripts'
``--overwrite``) and only when it holds nothing else: a file, a directory of
other files or a results directory to which a user added files is never
touched (:func:`check_output_dir`).  An ``--output_dir`` that is a symbolic
link to a directory is written through: the link stays, its target receives
the results.  New files and directories follow the user's umask.

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
#: what a run writes besides its diagnostics: the entries of a results directory whose MARKER lists none
#: (written before the MARKER listed them)
CORE_FILES = (MARKER, "scores.h5", "roc_sic.png", "model")
#: the longest addition to a name for its temporary siblings (".NAME.tmp-XXXXXXXX", ".NAME.XXXXXXXX.h5")
TEMP_NAME_EXTRA = 24


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _check_name_lengths(path: pathlib.Path, where: str, flag: str) -> None:
    """Raise an InputError if a component of ``path`` is longer than the file system allows.

    Checked up front so that the error comes before the training, not from the final write (errno 36).
    The last component also needs room for its temporary siblings' prefix and suffix (:data:`TEMP_NAME_EXTRA`).
    """
    existing = pathlib.Path(os.path.abspath(path))
    while not os.path.lexists(existing):  # (Path.exists raises for a name that is too long)
        existing = existing.parent
    try:
        name_max = os.pathconf(existing, "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    parts = path.parts
    for i, part in enumerate(parts):
        limit = name_max - (TEMP_NAME_EXTRA if i == len(parts) - 1 else 0)
        size = len(os.fsencode(part))
        if size > limit:
            shown = part if len(part) <= 40 else f"{part[:20]}...{part[-12:]}"
            raise InputError(f"{flag}: the name '{shown}' is {size} bytes long, but the file system allows "
                             f"{name_max} bytes per name (the results are first written under a temporary name "
                             f"{TEMP_NAME_EXTRA} bytes longer); choose a name of at most {limit} bytes")


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
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600: follow the user's umask, as open() would
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


def _foreign_entries(path: pathlib.Path) -> list[str]:
    """The entries of the results directory ``path`` that no run wrote (not listed in its :data:`MARKER`)."""
    try:
        listed = json.loads((path / MARKER).read_text()).get("files")
    except (OSError, ValueError, AttributeError):
        listed = None
    ours = set(listed) if isinstance(listed, list) and all(isinstance(n, str) for n in listed) else set(CORE_FILES)
    return sorted(p.name for p in path.iterdir() if p.name not in ours | {MARKER})


def resolve_link(path, *, flag: str = "--output_dir") -> pathlib.Path:
    """``path``, or the directory it links to: a symbolic link is written through, never replaced.

    A dangling link is refused (it names a target that does not exist).
    """
    path = pathlib.Path(path)
    if not path.is_symlink():
        return path
    target = pathlib.Path(os.path.realpath(path))
    if not target.exists():
        raise InputError(f"{flag}={path}: is a dangling symbolic link (to {os.readlink(path)}, which does not "
                         f"exist); create its target directory, remove the link or choose another {flag}")
    return target


def check_output_dir(path, *, overwrite: bool = False, flag: str = "--output_dir") -> pathlib.Path:
    """Raise an InputError unless ``path`` can take a run's results; cheap, so call it before slow work.

    Refused: a path that is (or lies below) a file; a non-empty directory without
    :data:`MARKER` (not resad_tf's); a previous results directory unless ``overwrite``,
    and with it one that also holds entries no run wrote (a user's notes); a dangling
    symbolic link; names longer than the file system allows; a place where no directory
    can be created.  A link to a directory is checked as its target, which is returned
    (the results are written there).  ``flag`` names the option in messages.
    """
    where = f"{flag}={path}"
    _check_name_lengths(pathlib.Path(path), where, flag)
    path = resolve_link(path, flag=flag)
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
            foreign = _foreign_entries(path)
            if foreign:
                shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
                raise InputError(f"{where}: holds a previous run's results and also {shown}, which no run wrote; "
                                 "--overwrite replaces only a run's own files: move those elsewhere or choose "
                                 f"another {flag}")
    check_writable_dir(path.parent, flag=flag, where=where)  # the results are built in a sibling
    return path


def check_output_file(path, *, flag: str, suffixes=(".h5", ".hdf5", ".hdf"), overwrite: bool = False
                      ) -> pathlib.Path:
    """Raise an InputError unless a file with one of ``suffixes`` can be written at ``path``.

    An existing file is replaced only with ``overwrite`` (the scripts' ``--overwrite``).
    """
    path = pathlib.Path(path)
    where = f"{flag}={path}"
    _check_name_lengths(path, where, flag)
    if path.is_dir():
        raise InputError(f"{where}: is a directory; name a file in it, e.g. {flag}={path / ('out' + suffixes[0])}")
    if path.suffix not in suffixes:
        raise InputError(f"{where}: use a file name ending in {' or '.join(suffixes)} (pandas HDF5, key 'df')")
    if os.path.lexists(path) and not overwrite:
        raise InputError(f"{where}: the file exists; pass --overwrite to replace it, or choose another {flag}")
    check_writable_dir(path.parent, flag=flag, where=where)
    return path


class RunDirectory:
    """Context manager: build a result directory in a temp sibling, publish on success.

    ``overwrite`` allows replacing a previous results directory (see :func:`check_output_dir`).
    A ``path`` that is a symbolic link to a directory is kept: its target is replaced.
    """

    def __init__(self, path, overwrite: bool = False):
        self.final = pathlib.Path(path)
        self.overwrite = overwrite

    def __enter__(self) -> "RunDirectory":
        self.final = check_output_dir(self.final, overwrite=self.overwrite)
        self.final.parent.mkdir(parents=True, exist_ok=True)
        self.path = pathlib.Path(tempfile.mkdtemp(prefix=f".{self.final.name}.tmp-", dir=self.final.parent))
        os.chmod(self.path, 0o777 & ~_umask())  # mkdtemp makes it private (0700); results follow the umask
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

    def files(self) -> list[str]:
        """The entries written so far, plus the :data:`MARKER`: what the MARKER lists as the run's own."""
        return sorted({p.name for p in self.path.iterdir()} | {MARKER})

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
