"""Download the public LHC Olympics 2020 files from Zenodo: resumable, verified, atomic.

A download goes to ``<dest>.part``; an interrupted one resumes with an HTTP
Range request; the file is moved to ``dest`` only after its MD5 matched (when
a checksum is known).  Being offline gives one clear error that says how to
get the file by hand.

The catalogue lists the files by name.  Zenodo publishes each file's MD5 on
its record page; pass it with ``md5=`` (``bin/download --md5``) to verify.
"""

from __future__ import annotations

import hashlib
import os
import pathlib
import re
import urllib.error
import urllib.request
from dataclasses import dataclass

from resad_tf.errors import InputError
from resad_tf.outputs import check_writable_dir


@dataclass(frozen=True)
class RemoteFile:
    name: str
    url: str
    description: str
    md5: str | None = None


_ZENODO = "https://zenodo.org/records/{record}/files/{name}?download=1"
CATALOGUE = {
    f.name: f
    for f in (
        RemoteFile("events_anomalydetection.h5", _ZENODO.format(record=2629073, name="events_anomalydetection.h5"),
                   "R&D raw constituents, 1.1M events (~17 GB uncompressed in memory)"),
        RemoteFile("events_anomalydetection_v2.features.h5",
                   _ZENODO.format(record=4536377, name="events_anomalydetection_v2.features.h5"),
                   "R&D high-level features of the two leading jets (v2 layout)"),
        RemoteFile("events_LHCO2020_BlackBox1.features.h5",
                   _ZENODO.format(record=4536624, name="events_LHCO2020_BlackBox1.features.h5"),
                   "black box 1 high-level features (unlabelled)"),
    )
}


def md5sum(path, chunk: int = 1 << 20) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def download(url: str, dest, *, md5: str | None = None, chunk: int = 1 << 20, timeout: float = 30.0,
             progress: bool = True) -> pathlib.Path:
    """Fetch ``url`` to ``dest``; resume a partial ``dest.part``; verify ``md5`` if given."""
    dest = pathlib.Path(dest)
    if dest.exists() and (md5 is None or md5sum(dest) == md5):
        return dest
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"Range": f"bytes={have}-"} if have else {})
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part file is already complete
            response = None
        else:
            raise InputError(f"download of {url} failed: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise InputError(
            f"cannot reach {url} ({reason}); are you offline? Download the file by hand and pass its "
            f"path with --data, or retry later (a partial download in {part} resumes)"
        ) from None
    if response is not None:
        with response:
            resumed = response.status == 206
            total = response.headers.get("Content-Length")
            total = (int(total) + (have if resumed else 0)) if total else None
            mode = "ab" if resumed else "wb"
            from tqdm import tqdm

            dest.parent.mkdir(parents=True, exist_ok=True)
            with open(part, mode) as f, tqdm(total=total, initial=have if resumed else 0, unit="B",
                                             unit_scale=True, desc=dest.name, disable=not progress) as bar:
                for block in iter(lambda: response.read(chunk), b""):
                    f.write(block)
                    bar.update(len(block))
    if md5 is not None:
        got = md5sum(part)
        if got != md5:
            part.unlink()
            raise InputError(f"{url}: checksum mismatch (md5 {got}, expected {md5}); the partial file was removed, retry")
    os.replace(part, dest)
    return dest


def fetch(name: str, directory, *, md5: str | None = None, progress: bool = True) -> pathlib.Path:
    """Download a catalogued LHCO file by name into ``directory``."""
    if name not in CATALOGUE:
        raise InputError(f"unknown file '{name}'; known files: {sorted(CATALOGUE)}")
    if md5 is not None and not re.fullmatch(r"[0-9a-fA-F]{32}", md5):
        raise InputError(f"--md5={md5}: an MD5 checksum is 32 hexadecimal digits (see the Zenodo record page)")
    check_writable_dir(directory, flag="--dir")
    f = CATALOGUE[name]
    return download(f.url, pathlib.Path(directory) / f.name, md5=md5 or f.md5, progress=progress)
