"""The sliding-window scan: every window x seed x injection is an independent task.

For each data set (one injection x seed) the scan

1. assigns every event a fold (:class:`~resad_tf.scan.tasks.Dataset`), the same for all windows;
2. trains the scorer's amortized background densities, if its method takes one
   (one per fold and blinded region, :meth:`~resad_tf.scan.scorers.MethodScorer.fit_background`),
   stored in ``DIR/background/``;
3. runs one task per window: score every event of the fit range out of fold, cut,
   fit the m_jj spectrum outside the SR, local significance
   (:func:`~resad_tf.scan.tasks.run_task`), stored in ``DIR/tasks/<id>.json``;
4. summarises: the largest local significance over windows and cuts and its
   global significance from background-only pseudo-experiments
   (:mod:`resad_tf.scan.toys`, :mod:`resad_tf.bumphunt.lookelsewhere`), stored in
   ``DIR/summary/<data set>.json`` (``nsig<N>_seed<S>``, or ``data_seed<S>`` for the data's
   own composition) with plots in ``DIR/plots/``.

Steps run synchronously or on Dask (see :mod:`resad_tf.scan.cluster`); every
result is written atomically as soon as it exists, so an interrupted scan
resumes where it stopped.  At the end everything goes to ``DIR/scan.json``.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import tempfile
import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from resad_tf.component import MANIFEST
from resad_tf.data.events import Events
from resad_tf.outputs import write_json_atomic as write_json
from resad_tf.scan.cluster import make_client
from resad_tf.scan.scorers import scorer_config
from resad_tf.scan.store import TaskStore
from resad_tf.scan.tasks import (Dataset, HuntSettings, Task, dataset_name, derived_seeds, injection_label,
                                  injection_name, run_task, window_name)


@dataclass
class ScanSummary:
    n_tasks: int
    n_run: int
    n_skipped: int
    failed: list[str]
    records: list[dict] = field(repr=False)
    datasets: list[dict] = field(repr=False, default_factory=list)

    @property
    def n_failed(self) -> int:
        return len(self.failed)


def run_scan(
    tasks: list[Task],
    load: Callable[[int, int], Events],
    scorer,
    settings: HuntSettings,
    out_dir,
    cluster: str = "none",
    quiet: bool = False,
    n_toys: int = 100,
    **client_options,
) -> ScanSummary:
    """Run the steps not yet finished in ``out_dir`` and summarise all of them.

    ``load(n_sig, seed)`` gives the events of one injection/seed (called once each,
    on this process, only for data sets with work left); ``scorer`` is a window
    scorer (see :mod:`resad_tf.scan.scorers`).  The ``settings``, ``n_toys`` and the
    scorer's options are recorded in ``DIR/scan_config.json``; a rerun with
    different ones is refused.  ``client_options`` go to
    :func:`~resad_tf.scan.cluster.make_client` (scheduler, n_workers, processes,
    slurm, n_jobs).
    """
    store = TaskStore(out_dir)
    store.check_directory()
    config = {**settings.to_dict(), "scorer": scorer_config(scorer), "n_toys": int(n_toys)}
    store.check_settings(config, record=False)  # before the (slow) loading
    pending = [t for t in tasks if not store.is_done(t.id)]
    keys = list(dict.fromkeys(t.data_key for t in tasks))
    unsummarised = [key for key in keys if not store.summary_path(key).exists()]
    needed = list(dict.fromkeys([t.data_key for t in pending] + unsummarised))
    lo, hi = settings.fit_range
    data = {}
    for key in needed:
        events = load(*key)
        data[key] = Dataset.make(events.select(events.in_window(lo, hi)), int(scorer.k), key[1])
    for t in pending:  # refuse windows without enough events before any training (InputError: bad settings)
        if hasattr(scorer, "check"):
            events = data[t.data_key].events
            scorer.check(events.select(events.in_window(*settings.task_fit_range(t.window))), t.window)
    store.check_settings(config)
    windows = sorted({t.window for t in tasks}, key=lambda w: (w.lo, w.hi))
    regions = scorer.background_regions(windows) if hasattr(scorer, "background_regions") else []
    failed = []
    with make_client(cluster, **client_options) as client:
        runner = _Runner(client, store, scorer, settings, data, quiet)
        failed += runner.windows(pending, regions)
        done = {key: [store.read_done(t.id) for t in tasks if t.data_key == key and store.is_done(t.id)]
                for key in keys}
        complete = [key for key in unsummarised if len(done[key]) == sum(t.data_key == key for t in tasks)]
        runner.summaries(complete, done, windows, n_toys)
    records = [store.read_done(t.id) for t in tasks if store.is_done(t.id)]
    datasets = [store.read_summary(key) for key in keys if store.summary_path(key).exists()]
    summary = ScanSummary(len(tasks), len(pending), len(tasks) - len(pending), sorted(failed), records, datasets)
    write_json(store.dir / "scan.json", {
        "settings": config,
        "n_tasks": summary.n_tasks,
        "n_failed": summary.n_failed,
        "failed": summary.failed,
        "datasets": datasets,
        "records": records,
    })
    if records:
        _plot_mean(records, settings, store.dir)
    return summary


class _Runner:
    """Runs the scan's steps on Dask (``client``) or in this process (``client=None``)."""

    def __init__(self, client, store, scorer, settings, data, quiet):
        self.client, self.store, self.scorer, self.settings, self.quiet = client, store, scorer, settings, quiet
        self.data = data if client is None else {k: client.scatter(v) for k, v in data.items()}

    def windows(self, pending, regions) -> list[str]:
        """Background models, then window tasks; returns the ids of failed tasks."""
        background = {}  # (data key, region) -> [path or future per fold]
        for t in pending:
            if not regions:
                break
            region = self.scorer.region_of(t.window, regions)
            if (t.data_key, region) in background:
                continue
            paths = [self.store.background_path(t.data_key, region, f) for f in range(self.scorer.k)]
            background[(t.data_key, region)] = [
                p if (p / MANIFEST).exists() else
                self._submit(_fit_background, self.scorer, self.data[t.data_key], f, region, t.seed, p)
                for f, p in enumerate(paths)]
        jobs = {}
        for t in pending:
            bg = background[(t.data_key, self.scorer.region_of(t.window, regions))] if regions else None
            jobs[t.id] = self._submit(_run_and_store, t, self.data[t.data_key], self.scorer, self.settings,
                                      str(self.store.dir), bg)
        failed = []
        for task_id, ok in tqdm(self._results(jobs), total=len(jobs), desc="scan", disable=self.quiet or not jobs):
            if not ok:
                failed.append(task_id)
        return failed

    def summaries(self, keys, done, windows, n_toys) -> None:
        for key in keys:
            summarise(key, done[key], self.data[key] if self.client is None else self.client.gather(self.data[key]),
                      windows, self.settings, self.store, n_toys, self.client, self.quiet)

    def _submit(self, fn, *args):
        if self.client is None:
            return _Eager(fn, args)
        return self.client.submit(fn, *args, pure=False)

    def _results(self, jobs):
        if self.client is None:
            for task_id, job in jobs.items():
                try:
                    yield job.result()
                except Exception:  # a background model the window needs failed (the window's own are caught)
                    self.store.write_failed(task_id, traceback.format_exc())
                    yield task_id, False
            return
        from distributed import as_completed

        ids = {fut: task_id for task_id, fut in jobs.items()}
        for fut in as_completed(list(jobs.values())):
            if fut.status == "error":  # the worker died, a background model failed, or unpicklable input
                task_id = ids[fut]
                self.store.write_failed(task_id, "".join(traceback.format_exception(fut.exception())))
                yield task_id, False
            else:
                yield fut.result()


class _Eager:
    """A job run in this process on first use, with the interface of a Dask future the runner uses
    (its result, or its exception, is kept: a background model shared by many windows runs once)."""

    def __init__(self, fn, args):
        self.fn, self.args, self.outcome = fn, args, None

    def result(self):
        if self.outcome is None:
            try:
                args = [[a.result() if isinstance(a, _Eager) else a for a in arg] if isinstance(arg, list) else arg
                        for arg in self.args]
                self.outcome = (True, self.fn(*args))
            except Exception as exc:
                self.outcome = (False, exc)
        ok, value = self.outcome
        if not ok:
            raise value
        return value


def _fit_background(scorer, data: Dataset, f: int, region, seed: int, path) -> pathlib.Path:
    """Train one fold's background model for a blinded region and save it atomically to ``path``."""
    from resad_tf import component

    path = pathlib.Path(path)
    model = scorer.fit_background(data, f, region, seed + 1000 * f)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = pathlib.Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        component.save(model, tmp, region=list(region), fold=f)
        if path.exists():  # a concurrent or earlier partial copy
            shutil.rmtree(path)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return path


def _run_and_store(task, data, scorer, settings, out_dir, background_paths) -> tuple[str, bool]:
    """Run one task and record its result or traceback; never raises for a task's own failure."""
    store = TaskStore(out_dir)
    try:
        background = None
        if background_paths is not None:
            from resad_tf import component

            background = [component.load(p) for p in background_paths]
        record = run_task(task, data, scorer, settings, background)
    except Exception:  # a failing window must not stop the scan: record it and report it at the end
        store.write_failed(task.id, traceback.format_exc())
        return task.id, False
    store.write_done(task.id, record)
    return task.id, True


# ------------------------------------------------------------------------------ summaries
def _matrix(records, windows, n_cuts) -> np.ndarray:
    """(windows, cuts) local Z, NaN where the fit failed or was flagged as sculpted."""
    z = np.full((len(windows), n_cuts), np.nan)
    index = {window_name(w): i for i, w in enumerate(windows)}
    for r in records:
        i = index[f"{r['window']['lo']:.3f}-{r['window']['hi']:.3f}"]
        for j, (value, sculpted) in enumerate(zip(r["z"], r.get("sculpted", [False] * n_cuts))):
            if value is not None and not sculpted:
                z[i, j] = value
    return z


def summarise(key, records, data: Dataset, windows, settings: HuntSettings, store: TaskStore, n_toys: int,
              client=None, quiet=True) -> dict:
    """Local and global significance of one data set's scan; written to ``DIR/summary/`` with plots."""
    from resad_tf.bumphunt.lookelsewhere import global_significance
    from resad_tf.scan.toys import fit_background_spectrum, toy_scans

    n_sig, seed = key
    records = sorted(records, key=lambda r: (r["window"]["lo"], r["window"]["hi"]))
    windows = [w for w in windows if any(abs(r["window"]["lo"] - w.lo) < 1e-9 and abs(r["window"]["hi"] - w.hi) < 1e-9
                                         for r in records)]
    n_cuts = len(settings.efficiencies)
    z_obs = _matrix(records, windows, n_cuts)
    params, n_events = fit_background_spectrum(data.events.mjj, settings)
    seeds = [[s] for s in derived_seeds(key, "toys", int(n_toys))]  # one pseudo-experiment per job
    if client is None:
        toy_z = [toy_scans(params, n_events, windows, settings, s)
                 for s in tqdm(seeds, desc="toys", disable=quiet)]
    else:
        futures = [client.submit(toy_scans, params, n_events, windows, settings, s, pure=False)
                   for s in seeds]
        toy_z = client.gather(futures)
    toy_z = np.concatenate(toy_z) if toy_z else np.zeros((0, len(windows), n_cuts))
    result = global_significance(z_obs, toy_z, [(w.lo, w.hi) for w in windows], settings.efficiencies)
    summary = {
        "n_sig": n_sig,  # -1: the data's own composition
        "dataset": dataset_name(key),
        "seed": seed,
        "windows": [[w.lo, w.hi] for w in windows],
        "efficiencies": list(settings.efficiencies),
        "z_local": z_obs,
        "n_signal_sr": [r["n_signal_sr"] for r in records],
        "background_params": params,
        **result.to_dict(),
    }
    store.write_summary(key, summary)
    _plot_dataset(summary, records, toy_z, store.dir / "plots", settings)
    return summary


def _plot_dataset(summary, records, toy_z, plot_dir, settings) -> None:
    """Local Z versus window centre, the toys' maximum local Z, and the best window's fits with pulls."""
    from resad_tf.bumphunt import BumpHuntResult
    from resad_tf.bumphunt.plots import plot_fits, plot_scan, plot_toys

    tag = dataset_name((summary["n_sig"], summary["seed"]))
    centres = [0.5 * (lo + hi) for lo, hi in summary["windows"]]
    plot_scan(centres, np.asarray(summary["z_local"], dtype=float), settings.efficiencies,
              plot_dir / f"significance_{tag}.png",
              title=f"{settings.method}, {injection_label(summary['n_sig'])}, seed {summary['seed']}")
    plot_toys(np.asarray(summary["toy_max_z"]), summary["z_local_max"], plot_dir / f"toys_max_z_{tag}.png",
              z_global=summary["z_global"])
    if summary["window"] is not None:
        best = next(r for r in records if abs(r["window"]["lo"] - summary["window"][0]) < 1e-9
                    and abs(r["window"]["hi"] - summary["window"][1]) < 1e-9)
        plot_fits(BumpHuntResult.from_dict(best["bump_hunt"]), plot_dir / f"fits_{tag}.png",
                  title=f"{settings.method}, window {best['window']['lo']:.2f}-{best['window']['hi']:.2f} TeV")


def _plot_mean(records, settings, out_dir):
    """Local Z versus window centre per cut, mean (and spread) over seeds, one plot per injection."""
    from resad_tf.bumphunt.plots import plot_scan

    n_sigs = sorted({r["n_sig"] for r in records})
    for n_sig in n_sigs:
        rows = [r for r in records if r["n_sig"] == n_sig]
        centres = sorted({r["window"]["centre"] for r in rows})
        z = np.full((len(centres), len(settings.efficiencies), len(rows)), np.nan)
        for k, r in enumerate(rows):
            z[centres.index(r["window"]["centre"]), :, k] = [np.nan if v is None else v for v in r["z"]]
        n_seeds = len({r["seed"] for r in rows})
        with warnings.catch_warnings():  # all-NaN slices: windows whose fits failed
            warnings.simplefilter("ignore", RuntimeWarning)
            mean, spread = np.nanmean(z, axis=2), np.nanstd(z, axis=2) if n_seeds > 1 else None
        name = "scan_significance.png" if len(n_sigs) == 1 else f"scan_significance_{injection_name(n_sig)}.png"
        plot_scan(centres, mean, settings.efficiencies, out_dir / name, z_spread=spread,
                  title=f"{settings.method}, {injection_label(n_sig)}, {n_seeds} seed(s)" + (" (mean, std band)" if n_seeds > 1 else ""))
