"""Scan wall time versus Dask workers, and a look-elsewhere check without signal.

    .venv/bin/python bench/scan_scaling.py            # ~10 min on 2 cores
    .venv/bin/python bench/scan_scaling.py --quick    # a smoke run

Data: the embedded LHCO-like generator (``resad_tf.data.load("toy")``), the fastest
scorer (the built-in ``cwola-hgb`` with 3 folds and 20 boosting rounds, one tree
ensemble member).  Writes bench/results/scan_scaling.md.
"""

from __future__ import annotations

import argparse
import functools
import os
import pathlib
import tempfile
import time

import numpy as np

from resad_tf.data import ToySpec, inject, load
from resad_tf.outputs import write_json_atomic
from resad_tf.scan import HuntSettings, cwola_hgb, make_tasks, make_windows, run_scan

RESULTS = pathlib.Path(__file__).resolve().parent / "results"
SCORER = functools.partial(cwola_hgb, k=3, max_iter=20)
EFFS = (1.0, 0.1, 0.01)
# The generator's spectrum turns on below 2.8 TeV (trigger-like pT cut): the dijet function only
# describes it above, so the fit starts at 2.8 TeV and the windows at 3.0 TeV.
SETTINGS = HuntSettings("cwola-hgb", EFFS, fit_range=(2.8, 6.0))


def _loader(n_background, n_signal_pool=5000):
    toy = ToySpec(n_background=n_background, n_signal=n_signal_pool)
    cache = {}

    def load_one(n_sig, seed):
        if (n_sig, seed) not in cache:
            cache[(n_sig, seed)] = inject(load("toy", seed=seed, toy=toy, quiet=True), n_sig, seed)[0]
        return cache[(n_sig, seed)]

    return load_one


def scaling(n_background, windows, workers, tmp):
    load_one = _loader(n_background)
    t0 = time.perf_counter()
    n_events = len(load_one(1000, 0))
    t_load = time.perf_counter() - t0
    rows = []
    for n in workers:
        tasks = make_tasks(windows, [0], [1000], "cwola-hgb")
        t0 = time.perf_counter()
        s = run_scan(tasks, load_one, SCORER, SETTINGS, tmp / f"w{n}",
                     cluster="local", n_workers=n, quiet=True)
        rows.append(dict(workers=n, wall_s=time.perf_counter() - t0, tasks=s.n_tasks, failed=s.n_failed,
                         peak=max(s.records, key=lambda r: max(z or 0 for z in r["z"]))["window"]))
    return n_events, t_load, rows


def look_elsewhere(n_background, windows, seeds, tmp):
    tasks = make_tasks(windows, seeds, [0], "cwola-hgb")
    t0 = time.perf_counter()
    s = run_scan(tasks, _loader(n_background), SCORER, SETTINGS, tmp / "lee",
                 cluster="local", quiet=True)
    wall = time.perf_counter() - t0
    z = np.array([[np.nan if v is None else v for v in r["z"]] for r in s.records])  # (tasks, cuts)
    sculpted = np.array([[c["sculpted"] for c in r["bump_hunt"]["cuts"]] for r in s.records])
    seed_of = np.array([r["seed"] for r in s.records])
    out = []
    for j, eff in enumerate(EFFS):
        zj, ok = z[:, j], ~sculpted[:, j] & np.isfinite(z[:, j])
        scans_any = [bool(np.nanmax(zj[seed_of == sd]) > 3) for sd in seeds]
        scans_any_ok = [bool(np.any(zj[(seed_of == sd) & ok] > 3)) for sd in seeds]
        out.append(dict(eff=eff, windows=len(zj), frac_gt3=float(np.mean(zj > 3)),
                        frac_gt3_ok=float(np.mean(zj[ok] > 3)) if ok.any() else float("nan"),
                        sculpted=float(np.mean(~ok)), scans_any=sum(scans_any), scans_any_ok=sum(scans_any_ok),
                        max_z=float(np.nanmax(zj))))
    return wall, s.n_failed, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small smoke run")
    args = ap.parse_args()
    if args.quick:
        n_scale, scale_windows, n_lee, seeds = 50_000, make_windows(0.4, 0.8, (3.1, 4.7)), 50_000, [0, 1]
    else:
        n_scale, scale_windows, n_lee, seeds = 1_100_000, make_windows(0.4, 0.4, (3.1, 5.5)), 200_000, [0, 1, 2]
    lee_windows = make_windows(0.4, 0.1, (3.0, 5.5))
    with tempfile.TemporaryDirectory() as d:
        tmp = pathlib.Path(d)
        n_events, t_load, rows = scaling(n_scale, scale_windows, (1, 2), tmp)
        lee_wall, lee_failed, lee = look_elsewhere(n_lee, lee_windows, seeds, tmp)

    lines = [
        "# Scan scaling and look-elsewhere check",
        "",
        f"Machine: {os.cpu_count()} cores, shared with other jobs (load varies: timings are indicative). "
        "Data: resad_tf.data toy generator (pythia-like background), N_sig = 1000 injected at 3.5 TeV for "
        "the timing scan. Scorer: cwola-hgb, 3 folds, 20 boosting rounds, 1 member (the fastest built-in). "
        f"Cuts: efficiencies {EFFS}; 4-parameter dijet fit on {SETTINGS.fit_range[0]}-{SETTINGS.fit_range[1]} TeV "
        "(the generator's spectrum turns on below 2.8 TeV).",
        "",
        f"## Wall time: {n_events:,} events, {len(scale_windows)} windows (0.4 TeV every "
        f"{scale_windows[1].lo - scale_windows[0].lo if len(scale_windows) > 1 else 0:.1f} TeV, "
        f"{scale_windows[0].lo}-{scale_windows[-1].hi} TeV)" + (" [--quick]" if args.quick else ""),
        "",
        f"Generating the toy took {t_load:.0f} s (once, on the driver; not included below).",
        "",
        "| Dask workers (LocalCluster, 1 thread each) | wall time [s] | s / window | failed | window with max Z |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(f"| {r['workers']} | {r['wall_s']:.0f} | {r['wall_s'] / r['tasks']:.1f} | {r['failed']} | "
                     f"{r['peak']['lo']:.1f}-{r['peak']['hi']:.1f} TeV |")
    if len(rows) == 2:
        lines += ["", f"Speed-up 1 -> 2 workers: {rows[0]['wall_s'] / rows[1]['wall_s']:.2f}x."]
    lines += [
        "",
        f"## Look-elsewhere: no signal, {len(seeds)} seeds x {len(lee_windows)} windows "
        f"(0.4 TeV every 0.1 TeV, {lee_windows[0].lo}-{lee_windows[-1].hi} TeV), {n_lee:,} background events per seed",
        "",
        f"Wall time {lee_wall:.0f} s on {os.cpu_count()} workers, {lee_failed} failed tasks. "
        "Windows overlap, so the counts are correlated; 'ok' excludes cuts flagged as sculpted.",
        "",
        "| cut eff | windows > 3 sigma | windows > 3 sigma (ok fits) | sculpted | scans with any window > 3 sigma "
        "| same, ok fits | max Z |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in lee:
        lines.append(f"| {r['eff']:g} | {r['frac_gt3']:.1%} | {r['frac_gt3_ok']:.1%} | {r['sculpted']:.0%} | "
                     f"{r['scans_any']}/{len(seeds)} | {r['scans_any_ok']}/{len(seeds)} | {r['max_z']:.1f} |")
    RESULTS.mkdir(exist_ok=True)
    name = "scan_scaling_quick" if args.quick else "scan_scaling"
    write_json_atomic(RESULTS / f"{name}.json", dict(scaling=rows, n_events=n_events, look_elsewhere=lee))
    tmp_md = RESULTS / f".{name}.md.tmp"
    tmp_md.write_text("\n".join(lines) + "\n")
    os.replace(tmp_md, RESULTS / f"{name}.md")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
