"""Discovery reach of the sliding-window scan on the LHCO-like toy: local and global significance
per injected signal strength and data seed, the background-only rate of false claims, wall time
and peak memory.

    nice -n 5 .venv/bin/python bench/studies/scan_discovery.py --method=cwola --n_sigs=1000,600,300,0 --seeds=0,1,2,3,4
    nice -n 5 .venv/bin/python bench/studies/scan_discovery.py --signal_masses=4.0,0.3,0.2 --n_sigs=600,300 --tag=cwola_m4000
    .venv/bin/python bench/studies/scan_discovery.py --report_only             # rewrite the tables
    .venv/bin/python bench/studies/scan_discovery.py --data=FILE.h5 --n_sigs=-1,1000 --tag=cwola_file

With ``--data=FILE`` (a labelled features file: LHCO v2 .h5, CATHODE-style .npy, ``bin/make_dataset``'s
output) the data sets are that file's background plus N_sig of its signal events (drawn with each seed;
``-1`` keeps the file's own composition, ``0`` its background alone).  Its background is the same for every
seed, so seeds differ only by the signal drawn, the folds and the training.

Each data set (injection x seed) is one full scan as `bin/scan` runs it: the toy generator's 1.1M
background events (its m_jj spectrum turns on below 2.8 TeV) plus N_sig signal events drawn from
its W' -> X Y pool, 21 windows of 0.4 TeV every 0.1 TeV from 3.2 to 5.6 TeV, every event of the
2.8-6.0 TeV fit range scored out of fold (5 folds), cuts keeping 100/10/1/0.2% of the window's
SR, the dijet function of --n_params (default: the most parameters that fit the sidebands), the
global significance from --n_toys
background-only pseudo-experiments and the Gross-Vitells extrapolation.  The data sets run one
after the other on a local Dask cluster of --n_workers workers, so each one's wall time is the
full scan's; the scans live in --work_dir (a rerun resumes them, keeping the timings of the data
sets it does not rerun).  Background-only data sets use seeds 100+ (independent of the injected
ones).  Writes bench/results/scan_discovery_<tag>.md and .json.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import time

import numpy as np
from absl import flags

from resad_tf.data import ToySpec, inject, load
from resad_tf.bumphunt.lookelsewhere import gross_vitells
from resad_tf.errors import InputError
from resad_tf.outputs import atomic_path, write_json_atomic
from resad_tf.scan import HuntSettings, get_scorer, make_tasks, make_windows, run_scan, scorer_config
from resad_tf.data.regions import Window
from resad_tf.scan.store import TaskStore
from resad_tf.scan.tasks import OWN_COMPOSITION, Task, dataset_name

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import RESULTS, define_seeds, ints, machine, run  # noqa: E402

flags.DEFINE_string("method", "cwola", "the scan's window scorer: cwola, cathode or ranode")
flags.DEFINE_integer("k", 5, "folds")
flags.DEFINE_string("data", "toy", "toy (the embedded generator) or a labelled features file whose signal "
                    "is injected")
flags.DEFINE_list("n_sigs", ["1000", "600", "300", "0"], "injected signal counts (0: background only; -1: a "
                  "file's own composition)")
define_seeds(("0", "1", "2", "3", "4"))
flags.DEFINE_list("signal_masses", ["3.5", "0.5", "0.1"], "m_W', m_X, m_Y of the generated signal in TeV")
flags.DEFINE_integer("n_background", 1_100_000, "background events per data set")
flags.DEFINE_enum("n_params", "max", ["max", "ftest", "3", "4", "5"], "the dijet function's parameters (bin/scan's "
                  "--n_params)")
flags.DEFINE_integer("n_toys", 50, "background-only pseudo-experiments per data set")
flags.DEFINE_integer("n_workers", 2, "local Dask workers")
flags.DEFINE_string("tag", None, "name of the result files: scan_discovery_<tag> (default: the method)")
flags.DEFINE_string("work_dir", "runs/scan_discovery", "where the scans live (a rerun resumes them)")
flags.DEFINE_bool("report_only", False, "rewrite the tables from the scans in --work_dir")
flags.DEFINE_bool("quiet", False, "no progress bars")
FLAGS = flags.FLAGS
EFFS = (1.0, 0.1, 0.01, 0.002)
WINDOWS = dict(width=0.4, step=0.1, scan_range=(3.2, 5.6))
FIT_RANGE = (2.8, 6.0)
BACKGROUND_SEED_OFFSET = 100


def _loader(data, masses, n_background):
    toy = ToySpec(n_background=n_background, n_signal=50_000, signal_masses=tuple(masses))

    def load_one(n_sig, seed):
        if data == "toy":
            events = load("toy", seed=seed, toy=toy, quiet=True)
        else:
            events = load(data, seed=seed, quiet=True).require_labels("to report the signal in each window")
        # N_sig = 0: the background alone; -1: the file's own composition
        return events if n_sig == OWN_COMPOSITION else inject(events, n_sig, seed)[0]

    return load_one


class _MemoryMonitor:
    """Samples, every ``interval`` s, the resident memory of this process and all its descendants (the Dask
    workers): the peak of their sum (what the machine must hold) and of the largest single process."""

    def __init__(self, interval=1.0):
        import threading

        self.interval, self.total, self.largest = interval, 0.0, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        import psutil

        me = psutil.Process()
        while not self._stop.is_set():
            rss = []
            for proc in [me, *me.children(recursive=True)]:
                try:
                    rss.append(proc.memory_info().rss / 1e9)
                except psutil.Error:  # a worker that just exited
                    pass
            self.total, self.largest = max(self.total, sum(rss)), max(self.largest, max(rss, default=0.0))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def result(self) -> dict:
        return {"peak_total_gb": round(self.total, 2), "peak_process_gb": round(self.largest, 2)}


class _Args:
    """The flags, checked and parsed."""

    def __init__(self, **kw):
        self.__dict__.update(kw)


def _settings(args) -> HuntSettings:
    data = f"toy:{','.join(map(str, args.signal_masses))}" if args.data == "toy" else args.data
    return HuntSettings(args.method, EFFS, FIT_RANGE, n_params=args.n_params, data=data)


def _windows():
    return make_windows(WINDOWS["width"], WINDOWS["step"], WINDOWS["scan_range"])


def run_bench(args) -> None:
    work = pathlib.Path(args.work_dir) / args.tag
    timings_path = work / "timings.json"
    timings = json.loads(timings_path.read_text()) if timings_path.exists() else {}
    scorer = get_scorer(args.method, k=args.k)
    settings, windows = _settings(args), _windows()
    load_one = _loader(args.data, args.signal_masses, args.n_background)
    for n_sig in args.n_sigs:
        for seed in args.seeds:
            seed = seed + (BACKGROUND_SEED_OFFSET if n_sig == 0 else 0)
            key = dataset_name((n_sig, seed))
            t0, load_before = time.time(), os.getloadavg()[0]
            with _MemoryMonitor() as memory:
                summary = run_scan(make_tasks(windows, [seed], [n_sig], args.method), load_one, scorer, settings,
                                   work, cluster="local", n_workers=args.n_workers, quiet=args.quiet,
                                   n_toys=args.n_toys)
            if summary.n_failed:
                raise SystemExit(f"{key}: {summary.n_failed} windows failed, see {work}/tasks")
            if summary.n_run == len(windows):  # a resumed data set keeps the timing of the run that computed it
                timings[key] = {"wall_s": round(time.time() - t0, 1), "windows_run": summary.n_run,
                                "load_before": round(load_before, 1), "load_after": round(os.getloadavg()[0], 1),
                                **memory.result()}
                write_json_atomic(timings_path, timings)
            print(f"{key}: {timings.get(key, {}).get('wall_s', '?')} s")
    report(args, work, scorer, settings, windows)


def _contains(window, mass) -> bool:
    return window[0] <= mass < window[1]


def report(args, work, scorer, settings, windows) -> None:
    summaries = {}
    for path in sorted((work / "summary").glob("*.json")):
        d = json.loads(path.read_text())
        summaries[(d["n_sig"], d["seed"])] = d
    timings = json.loads((work / "timings.json").read_text()) if (work / "timings.json").exists() else {}
    mass = args.signal_masses[0]
    rows, per_nsig = [], {}
    for (n_sig, seed), d in sorted(summaries.items(), key=lambda kv: (-kv[0][0], kv[0][1])):
        z = np.array([[np.nan if v is None else v for v in row] for row in d["z_local"]], dtype=float)
        signal_rows = [i for i, w in enumerate(d["windows"]) if _contains(w, mass)]
        z_signal = float(np.nanmax(z[signal_rows])) if signal_rows and np.any(np.isfinite(z[signal_rows])) else 0.0
        elsewhere = np.delete(z, signal_rows, axis=0)
        z_else = float(np.nanmax(elsewhere)) if np.any(np.isfinite(elsewhere)) else 0.0
        found = d["window"] is not None and _contains(d["window"], mass)
        best = int(np.argmax(d["n_signal_sr"])) if d["n_signal_sr"] else None
        s_over_sqrt_b = None
        if n_sig and best is not None:  # the SR with the most signal: S / sqrt(B) before any cut
            lo, hi = d["windows"][best]
            task = TaskStore(work).read_done(Task(Window(lo, hi), seed, n_sig, args.method).id)
            s_over_sqrt_b = task["n_signal_sr"] / np.sqrt(task["n_sr"] - task["n_signal_sr"])
        row = dict(n_sig=n_sig, seed=seed, z_local_max=d["z_local_max"], window=d["window"],
                   efficiency=d["efficiency"], z_global=d["z_global"], global_method=d["method"],
                   p_global_gv=d["p_global_gv"], p_global_toys=d["p_global_toys"], n_toys=d["n_toys"],
                   z_signal_windows=z_signal, z_max_elsewhere=z_else, signal_window_is_max=bool(found),
                   n_signal_sr=max(d["n_signal_sr"]) if d["n_signal_sr"] else None, s_over_sqrt_b=s_over_sqrt_b,
                   toy_max_z=d["toy_max_z"], **timings.get(dataset_name((n_sig, seed)), {}))
        rows.append(row)
        per_nsig.setdefault(n_sig, []).append(row)
    summary = []
    for n_sig, rs in sorted(per_nsig.items(), key=lambda kv: -kv[0]):
        zs = np.array([r["z_signal_windows"] for r in rs])
        zmax = np.array([r["z_local_max"] for r in rs])
        zg = np.array([r["z_global"] for r in rs])
        toys = np.concatenate([r["toy_max_z"] for r in rs])
        summary.append(dict(
            n_sig=n_sig, n_seeds=len(rs),
            median_s_over_sqrt_b=float(np.median([r["s_over_sqrt_b"] for r in rs])) if n_sig else None,
            median_z_signal_window=float(np.median(zs)), iqr_z_signal_window=np.percentile(zs, [25, 75]).tolist(),
            signal_window_is_max=int(sum(r["signal_window_is_max"] for r in rs)),
            median_z_global=float(np.median(zg)), min_z_global=float(zg.min()),
            seeds_global_above_3=int(np.sum(zg >= 3)), seeds_global_above_5=int(np.sum(zg >= 5)),
            max_local_z=float(zmax.max()), median_max_local_z=float(np.median(zmax)),
            frac_local_max_above_3=float(np.mean(zmax >= 3)),
            toys_frac_above_3=float(np.mean(toys >= 3)), toys_median_max=float(np.median(toys)),
            n_toys=int(len(toys)),
            median_wall_s=float(np.median([r["wall_s"] for r in rs if "wall_s" in r])) if any(
                "wall_s" in r for r in rs) else None,
            max_rss_gb=max([r.get("peak_total_gb", 0) for r in rs]),
        ))
    background = _background_only([d for (n_sig, _), d in summaries.items() if n_sig == 0])
    meta = dict(method=args.method, scorer=scorer_config(scorer), settings=settings.to_dict(),
                windows=len(windows), signal_masses=list(args.signal_masses), tag=args.tag, data=args.data,
                n_background=args.n_background,
                n_workers=args.n_workers, machine=machine())
    out = RESULTS / f"scan_discovery_{args.tag}"
    write_json_atomic(out.with_suffix(".json"),
                      {"meta": meta, "summary": summary, "background_only": background, "rows": rows})
    with atomic_path(out.with_suffix(".md")) as tmp:
        tmp.write_text(_markdown(meta, summary, background, rows, mass))
    print(f"wrote {out}.md")


def _background_only(summaries) -> dict | None:
    """Calibration of the local Z on the retrained background-only scans, per cut and per window.

    Nominal one-sided rates: P(Z > 1) = 15.9 %, P(Z > 2) = 2.3 %.  A window whose local Z is
    high on every independent sample shows a systematic (a spurious signal of the background fit or
    of the selection) that pseudo-experiments drawn from the fit cannot contain.
    """
    if not summaries:
        return None
    z = np.array([[[np.nan if v is None else v for v in row] for row in d["z_local"]] for d in summaries])
    effs, windows = summaries[0]["efficiencies"], summaries[0]["windows"]
    per_cut = []
    for j, eff in enumerate(effs):
        zj = z[:, :, j][np.isfinite(z[:, :, j])]
        per_cut.append(dict(efficiency=eff, n=int(zj.size), frac_above_1=float(np.mean(zj > 1)),
                            frac_above_2=float(np.mean(zj > 2)), mean=float(np.mean(zj))))
    mean_z = np.nanmean(z, axis=0)  # (window, cut): the mean over the samples
    systematic = [dict(window=windows[i], efficiency=effs[j], mean_z=float(mean_z[i, j]))
                  for i, j in zip(*np.nonzero(mean_z >= 1.0))]
    upcrossings = np.mean([d["mean_upcrossings"] for d in summaries], axis=0)
    return dict(n_samples=len(summaries), per_cut=per_cut, systematic_windows=systematic,
                gv_p_max_above_3=gross_vitells(3.0, upcrossings, summaries[0]["u0"]))


def _injection(n_sig) -> str:
    """The N_sig column: the count, or 'data' for a file's own composition."""
    return "data" if n_sig == OWN_COMPOSITION else str(n_sig)


def _fmt(v, digits=1):
    return "-" if v is None else f"{v:.{digits}f}"


def _markdown(meta, summary, background, rows, mass) -> str:
    s = meta["scorer"]
    data = (f"Toy generator, {meta['n_background']:,} background events per data set;" if meta["data"] == "toy" else
            f"Data: `{meta['data']}` (its background plus N_sig of its signal events, drawn per seed; 'data': the "
            "file's own composition);")
    lines = [
        f"# Scan discovery reach: {meta['method']}, signal W'({meta['signal_masses'][0]} TeV) -> "
        f"X({meta['signal_masses'][1]}) Y({meta['signal_masses'][2]})",
        "",
        f"`python bench/studies/scan_discovery.py --method={meta['method']} --data={meta['data']} --signal_masses="
        f"{','.join(map(str, meta['signal_masses']))} --n_params={meta['settings']['n_params']} --tag={meta['tag']}` on {meta['machine']} ({meta['n_workers']} Dask workers). "
        f"{data} {meta['windows']} windows of "
        f"0.4 TeV every 0.1 TeV in 3.2-5.6 TeV, fit range 2.8-6.0 TeV (dijet function, "
        f"n_params={meta['settings']['n_params']}), cuts keeping "
        f"{', '.join(f'{e:g}' for e in meta['settings']['efficiencies'])} of each window's SR. Scorer: "
        f"{s['name']} ({', '.join(f'{k}={v}' for k, v in s.items() if k != 'name')}). "
        "Local Z: the profile-likelihood significance of the SR count over the sideband fit, maximised over "
        "cuts (fits flagged as sculpted excluded); global Z: from the background-only pseudo-experiments where "
        "at least 10 of them reach the observed maximum, else the Gross-Vitells extrapolation calibrated on them.",
        "",
        "| N_sig | seeds | S/sqrt(B) in the SR | median local Z in the signal window (IQR) | signal window has the largest Z | "
        "median global Z (min) | seeds with global Z >= 3 / >= 5 | largest local Z anywhere | "
        "wall time per scan (median) | peak RSS |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in summary:
        iqr = r["iqr_z_signal_window"]
        signal_cols = (f"{r['median_z_signal_window']:.1f} ({iqr[0]:.1f}-{iqr[1]:.1f})",
                       f"{r['signal_window_is_max']}/{r['n_seeds']}" if r["n_sig"] else "-")
        lines.append(
            f"| {_injection(r['n_sig'])} | {r['n_seeds']} | {_fmt(r['median_s_over_sqrt_b'])} | {signal_cols[0]} | {signal_cols[1]} | "
            f"{r['median_z_global']:.1f} ({r['min_z_global']:.1f}) | {r['seeds_global_above_3']} / "
            f"{r['seeds_global_above_5']} | {r['max_local_z']:.1f} | "
            f"{_fmt(r['median_wall_s'] and r['median_wall_s'] / 60)} min | {r['max_rss_gb']:.1f} GB |")
    found = [r["n_sig"] for r in summary if r["n_sig"] > 0 and r["median_z_global"] >= 3]
    if found:
        lines += ["", f"Smallest injection with a median global Z >= 3: N_sig = {min(found)}."]
    no_signal = [r for r in summary if r["n_sig"] == 0]
    if no_signal:
        b = no_signal[0]
        lines += ["", f"**No signal** ({b['n_seeds']} independent background samples, every model retrained on "
                  f"each): the largest local Z over windows and cuts has median {b['median_max_local_z']:.2f} and "
                  f"reaches 3 on {b['frac_local_max_above_3']:.0%} of the samples; the pseudo-experiments (the same "
                  f"scan with random scores, {b['n_toys']} of them) expect median {b['toys_median_max']:.2f} and "
                  f"{b['toys_frac_above_3']:.1%} above 3; the Gross-Vitells formula with the toys' upcrossings "
                  f"{background['gv_p_max_above_3']:.1%}.  The largest global Z of a background-only sample: "
                  f"{max(r['z_global'] for r in rows if r['n_sig'] == 0):.2f}.", "",
                  "Local Z of every window on the background-only samples, per cut (nominal one-sided rates: "
                  "15.9% above 1, 2.3% above 2):", "",
                  "| cut (fraction of the SR kept) | windows x samples | above 1 | above 2 | mean |",
                  "| --- | --- | --- | --- | --- |"]
        lines += [f"| {c['efficiency']:g} | {c['n']} | {c['frac_above_1']:.1%} | {c['frac_above_2']:.1%} | "
                  f"{c['mean']:.2f} |" for c in background["per_cut"]]
        if background["systematic_windows"]:
            lines += ["", "Windows and cuts whose local Z averages 1 or more over the background-only samples (a "
                      "spurious signal the fit does not absorb, the same on every sample): " + ", ".join(
                          f"{w['window'][0]:.1f}-{w['window'][1]:.1f} TeV at {w['efficiency']:g} "
                          f"(mean {w['mean_z']:.1f})" for w in background["systematic_windows"]) + "."]
    lines += ["", "Per data set:", "",
              "| N_sig | seed | truth signal in the SR | largest local Z (window, cut) | local Z in the signal "
              "windows | largest local Z elsewhere | global Z (method) | wall time |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        w = "-" if r["window"] is None else f"{r['window'][0]:.1f}-{r['window'][1]:.1f}"
        lines.append(
            f"| {_injection(r['n_sig'])} | {r['seed']} | {r['n_signal_sr'] if r['n_sig'] else 0} | {r['z_local_max']:.2f} "
            f"({w}, {r['efficiency']}) | {r['z_signal_windows']:.2f} | {r['z_max_elsewhere']:.2f} | "
            f"{r['z_global']:.2f} ({r['global_method']}) | {_fmt(r.get('wall_s') and r['wall_s'] / 60)} min |")
    lines += ["", f"Signal windows: those containing m_W' = {mass} TeV (for N_sig = 0 the same windows without signal: what the scorer and the fit give there on background alone). 'truth signal in the SR': signal events "
              "in the window with the most of them, before any cut; S/sqrt(B) there, before any cut (median over "
              "the seeds).", ""]
    return "\n".join(lines)


def main():
    args = FLAGS
    lowest = 0 if args.data == "toy" else OWN_COMPOSITION
    if any(n < lowest for n in ints("n_sigs")) or any(s < 0 for s in ints("seeds")):
        raise InputError(f"--n_sigs must be >= {lowest} (-1, a file's own composition, needs --data=FILE) and "
                         f"--seeds >= 0, got {FLAGS.n_sigs} and {FLAGS.seeds}")
    opts = _Args(method=args.method, data=args.data, k=args.k, n_sigs=ints("n_sigs"), seeds=ints("seeds"),
                 signal_masses=[float(v) for v in args.signal_masses], n_background=args.n_background,
                 n_toys=args.n_toys, n_params=args.n_params, n_workers=args.n_workers, tag=args.tag or args.method,
                 work_dir=args.work_dir,
                 quiet=args.quiet)
    if args.report_only:
        scorer = get_scorer(opts.method, k=opts.k)
        report(opts, pathlib.Path(opts.work_dir) / opts.tag, scorer, _settings(opts), _windows())
    else:
        run_bench(opts)


if __name__ == "__main__":
    run(main)
