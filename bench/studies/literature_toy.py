#!/usr/bin/env python
"""The literature setups (configs/<method>.flags) on the default 1M-event toy: max SIC and wall time.

Runs ``bin/<method> --flagfile=configs/<method>.flags --seed=S`` as a user
would (the default data: the generator's 1M background events, N_sig = 1000,
SR 3.3-3.7 TeV) into runs/bench/literature/<method>_seed<S>/, measuring the
wall time, CPU time and peak memory of the script, and tabulates max SIC, AUC
and those costs.  A run whose metrics.json exists is not repeated (rerun to
resume or to add seeds); its costs come from the resources.json written next
to it.  The ratio to the IAD of the same seed is the number issue 3 asks for
(CATHODE >= 0.9 x IAD).

    nice .venv/bin/python bench/studies/literature_toy.py --methods=iad,cathode --seeds=0

Writes bench/results/literature_toy.md and .json.
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import subprocess
import sys
import time

from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import REPO as ROOT  # noqa: E402
from common import define_seeds, machine, markdown_table, run, seeds, write_results  # noqa: E402

from resad_tf.outputs import write_json_atomic  # noqa: E402

RUNS = ROOT / "runs" / "bench" / "literature"

flags.DEFINE_list("methods", ["iad", "cathode"], "methods with a configs/<method>.flags")
define_seeds()
flags.DEFINE_list("extra", [], "extra flags for every run, e.g. --n_sig=500 (then use another --runs_dir)")
flags.DEFINE_string("runs_dir", str(RUNS), "where the runs go")
FLAGS = flags.FLAGS


def run_script(method: str, seed: int, out: pathlib.Path) -> None:
    """One script run into ``out`` with its measured costs in resources.json (skipped when done)."""
    if (out / "metrics.json").exists():
        return
    cmd = [sys.executable, str(ROOT / "bin" / method), f"--flagfile={ROOT / 'configs' / f'{method}.flags'}",
           f"--seed={seed}", f"--output_dir={out}", "--quiet", *FLAGS.extra]
    print(" ".join(cmd), flush=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.time()
    subprocess.run(cmd, check=True, cwd=ROOT)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    write_json_atomic(out / "resources.json", {
        "wall_seconds": round(time.time() - t0, 1),
        "cpu_seconds": round(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime, 1),
        # ru_maxrss of children: the largest child so far (kB on Linux)
        "peak_rss_gb": round(after.ru_maxrss / 1e6, 2),
    })


def row(out: pathlib.Path) -> dict:
    """The table row of a finished run: its metrics plus measured costs."""
    method, seed = out.name.rsplit("_seed", 1)
    metrics = json.loads((out / "metrics.json").read_text())
    costs = json.loads((out / "resources.json").read_text()) if (out / "resources.json").exists() else {}
    return dict(method=method, seed=int(seed), max_sic=metrics["max_sic"], auc=metrics["auc"],
                n_sig_sr=metrics["n_sig_sr"], n_bkg_sr=metrics["n_bkg_sr"],
                minutes=round(costs.get("wall_seconds", metrics["wall_seconds"]) / 60, 1),
                cpu_minutes=round(costs["cpu_seconds"] / 60, 1) if "cpu_seconds" in costs else "",
                peak_rss_gb=costs.get("peak_rss_gb", ""), note=costs.get("note", ""))


def main():
    runs_dir = pathlib.Path(FLAGS.runs_dir)
    for s in seeds():
        for m in FLAGS.methods:
            run_script(m, s, runs_dir / f"{m}_seed{s}")
    # every finished run in the folder, not only this call's
    rows = [row(path.parent) for path in sorted(runs_dir.glob("*_seed*/metrics.json"))]
    iad = {r["seed"]: r["max_sic"] for r in rows if r["method"] == "iad"}
    for r in rows:
        r["x_iad"] = round(r["max_sic"] / iad[r["seed"]], 2) if r["seed"] in iad else ""
    rows.sort(key=lambda r: (r["seed"], r["method"]))
    configs = {m: (ROOT / "configs" / f"{m}.flags").read_text() for m in sorted({r["method"] for r in rows})}
    text = (
        "# Literature setups on the default toy (1M background, N_sig = 1000, SR 3.3-3.7 TeV)\n\n"
        f"Machine: {machine()}; one TensorFlow thread per op (the scripts' default), runs may share the 2 cores.\n"
        "Each row is `bin/<method> --flagfile=configs/<method>.flags --seed=S` end to end (data generation, "
        "training, scoring, plots, export); minutes = wall time of the script, peak RSS of the script's process.\n"
        "x_iad = max SIC / the IAD's of the same seed (same events; the IAD's reference is 4x generator truth, "
        "CATHODE samples 4x from its flow).\n\n"
        + markdown_table(rows, ["method", "seed", "max_sic", "x_iad", "auc", "n_sig_sr", "n_bkg_sr", "minutes",
                                "cpu_minutes", "peak_rss_gb", "note"])
        + "\n\nFlagfiles:\n\n" + "\n".join(f"```\n# configs/{m}.flags\n{t}```\n" for m, t in configs.items())
    )
    print(write_results("literature_toy", text, {"runs": rows, "configs": configs}))


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    run(main)
