"""Helpers shared by the benchmark scripts: result tables written atomically, machine description."""

from __future__ import annotations

import dataclasses
import datetime
import os
import pathlib
import platform

from resad_tf.outputs import atomic_path, write_json_atomic

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
LHCO = pathlib.Path(os.environ.get("RESAD_LHCO_DIR", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data" / "lhco"))

# The "cpu" profile of the benches: networks and epochs shrunk to fit a 2-core machine.
CPU_CLASSIFIER = dict(batch_size=512, epochs=40, patience=0, n_best_epochs=5)
CPU_FLOW = dict(n_blocks=6, flow_hidden=(64,), flow_epochs=20, flow_batch_size=1024, flow_learning_rate=1e-3,
                n_checkpoints=5)


def with_changes(config, assignments):
    """``config`` (a dataclass) with 'field=value' strings applied, each value parsed as the field's type.

    >>> from resad_tf.methods.density import FlowOptions
    >>> with_changes(FlowOptions(), ["transform=rqs", "flow_hidden=64,64", "batch_norm=true"]).flow_hidden
    (64, 64)
    """
    changes = {}
    for item in filter(None, assignments):
        key, _, value = item.partition("=")
        default = getattr(config, key)  # AttributeError names a field the config does not have
        changes[key] = (tuple(type(default[0])(v) for v in value.split(",")) if isinstance(default, tuple)
                        else value.lower() in ("1", "true") if isinstance(default, bool)
                        else type(default)(value))
    return dataclasses.replace(config, **changes)


def machine() -> str:
    """CPU model, cores, the load when the bench started (the machines are shared), Python, date."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    load = f", load {os.getloadavg()[0]:.1f} at start" if hasattr(os, "getloadavg") else ""
    return f"{cpu}, {os.cpu_count()} cores{load}, Python {platform.python_version()}, {datetime.date.today()}"


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
