"""Helpers shared by the benchmark scripts: result tables written atomically, machine description."""

from __future__ import annotations

import datetime
import os
import pathlib
import platform

from resad_tf.outputs import atomic_path, write_json_atomic

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
LHCO = pathlib.Path(os.environ.get("RESAD_LHCO_DIR", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "lhco"))


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}, {datetime.date.today()}"


def markdown_table(rows: list[dict], columns: list[str], floatfmt: str = ".3g") -> str:
    def fmt(v):
        return format(v, floatfmt) if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_results(name: str, text: str, data) -> pathlib.Path:
    RESULTS.mkdir(exist_ok=True)
    md = RESULTS / f"{name}.md"
    with atomic_path(md) as tmp:
        tmp.write_text(text)
    write_json_atomic(RESULTS / f"{name}.json", data)
    return md
