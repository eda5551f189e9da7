"""The sliding-window scan: every window x seed x injection is an independent task.

Tasks run synchronously or on Dask (see :mod:`resad_tf.scan.cluster`); each
writes its record to ``DIR/tasks/<id>.json`` as soon as it finishes, so an
interrupted scan resumes where it stopped.  At the end all records go to
``DIR/scan.json`` and the local significance versus window centre to
``DIR/scan_significance.png``.
"""

from __future__ import annotations

import traceback
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from tqdm.auto import tqdm

from resad_tf.data.events import Events
from resad_tf.scan.cluster import make_client
from resad_tf.outputs import write_json_atomic as write_json
from resad_tf.scan.scorers import scorer_config
from resad_tf.scan.store import TaskStore
from resad_tf.scan.tasks import HuntSettings, Task, run_task


@dataclass
class ScanSummary:
    n_tasks: int
    n_run: int
    n_skipped: int
    failed: list[str]
    records: list[dict] = field(repr=False)

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
    **client_options,
) -> ScanSummary:
    """Run the ``tasks`` not yet finished in ``out_dir`` and summarise all of them.

    ``load(n_sig, seed)`` gives the events of one injection/seed (called once each,
    on this process, only for datasets with pending tasks); ``scorer`` is a window
    scorer (see :mod:`resad_tf.scan.scorers`).  The ``settings`` and the scorer's
    options (:func:`~resad_tf.scan.scorers.scorer_config`) are recorded in
    ``DIR/scan_config.json``; a rerun with different ones is refused.
    ``client_options`` go to :func:`~resad_tf.scan.cluster.make_client`
    (scheduler, n_workers, processes, slurm, n_jobs).
    """
    store = TaskStore(out_dir)
    config = {**settings.to_dict(), "scorer": scorer_config(scorer)}
    store.check_settings(config)
    pending = [t for t in tasks if not store.is_done(t.id)]
    data = {key: load(*key) for key in dict.fromkeys(t.data_key for t in pending)}
    failed = []
    with make_client(cluster, **client_options) as client:
        if client is None:
            outcomes = (_run_and_store(t, data[t.data_key], scorer, settings, str(out_dir)) for t in pending)
        else:
            outcomes = _on_dask(client, pending, data, scorer, settings, store)
        for task_id, ok in tqdm(outcomes, total=len(pending), desc="scan", disable=quiet or not pending):
            if not ok:
                failed.append(task_id)
    records = [store.read_done(t.id) for t in tasks if store.is_done(t.id)]
    summary = ScanSummary(len(tasks), len(pending), len(tasks) - len(pending), sorted(failed), records)
    write_json(store.dir / "scan.json", {
        "settings": config,
        "n_tasks": summary.n_tasks,
        "n_failed": summary.n_failed,
        "failed": summary.failed,
        "records": records,
    })
    if records:
        _plot(records, settings, store.dir)
    return summary


def _run_and_store(task, events, scorer, settings, out_dir) -> tuple[str, bool]:
    """Run one task and record its result or traceback; never raises for a task's own failure."""
    store = TaskStore(out_dir)
    try:
        record = run_task(task, events, scorer, settings)
    except Exception:  # a failing window must not stop the scan: record it and report it at the end
        store.write_failed(task.id, traceback.format_exc())
        return task.id, False
    store.write_done(task.id, record)
    return task.id, True


def _on_dask(client, pending, data, scorer, settings, store):
    from distributed import as_completed

    scattered = {key: client.scatter(ev) for key, ev in data.items()}
    futures = {
        client.submit(_run_and_store, t, scattered[t.data_key], scorer, settings, str(store.dir),
                      key=f"scan-{t.id}", pure=False): t
        for t in pending
    }
    for fut in as_completed(futures):
        if fut.status == "error":  # the worker itself died or the task could not be deserialised
            task = futures[fut]
            store.write_failed(task.id, "".join(traceback.format_exception(fut.exception())))
            yield task.id, False
        else:
            yield fut.result()


def _plot(records, settings, out_dir):
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
        name = "scan_significance.png" if len(n_sigs) == 1 else f"scan_significance_nsig{n_sig}.png"
        plot_scan(centres, mean, settings.efficiencies, out_dir / name, z_spread=spread,
                  title=f"{settings.method}, N_sig = {n_sig}, {n_seeds} seed(s)" + (" (mean, std band)" if n_seeds > 1 else ""))
