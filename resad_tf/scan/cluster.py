"""Where the scan's tasks run: no Dask, a local cluster, SLURM, or an existing scheduler."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading

from resad_tf.errors import InputError

CLUSTERS = ("local", "slurm", "none")
TRACKER_QUIET = "ignore::UserWarning:multiprocessing.resource_tracker"


def slurm_cluster(queue=None, account=None, walltime="02:00:00", cores=4, memory="16GB", **kwargs):
    """A ``dask_jobqueue.SLURMCluster`` (one worker process per core); no jobs are submitted yet.

    Inspect ``cluster.job_script()``; ``cluster.scale(jobs=n)`` submits ``n`` jobs.
    """
    try:
        from dask_jobqueue import SLURMCluster
    except ImportError:
        raise InputError("--cluster=slurm needs dask-jobqueue: pip install 'resad_tf[hpc]'") from None
    return SLURMCluster(queue=queue, account=account, walltime=walltime, cores=cores, memory=memory,
                        processes=cores, **kwargs)


@contextlib.contextmanager
def make_client(cluster: str = "local", scheduler: str | None = None, n_workers: int | None = None,
                processes: bool = True, slurm: dict | None = None, n_jobs: int = 1):
    """Yield a ``distributed.Client`` (or None for ``cluster="none"``) and shut down what was started.

    ``scheduler`` (an address) wins over ``cluster``.  ``local``: a LocalCluster with
    ``n_workers`` (default: the machine's cores) single-threaded workers.  Dask's INFO log
    ("Receive client connection", the scheduler's and workers' start and stop) is off unless
    ``--verbosity`` asks for it (:func:`resad_tf.runtime.set_verbosity`, which the scripts call first).  ``slurm``:
    :func:`slurm_cluster` with the ``slurm`` options, scaled to ``n_jobs`` jobs.
    """
    if scheduler is None and cluster not in CLUSTERS:
        raise InputError(f"--cluster must be one of {CLUSTERS}, got {cluster!r}")
    if scheduler is None and cluster == "none":
        yield None
        return
    from distributed import Client, LocalCluster

    if scheduler is not None:
        with Client(scheduler) as client:
            yield client
        return
    if cluster == "local":
        n = n_workers or os.cpu_count() or 1
        if n < 1:
            raise InputError(f"--n_workers must be at least 1, got {n}")
        # the scheduler's HTTP server on a free port: the default 8787 may be taken (another user's scan on
        # the node), which Dask reports with a warning on every start
        # the process that multiprocessing starts to track the workers' semaphores warns at exit of those of
        # workers stopped in the middle of a task (after Ctrl-C); it reads its warning filters from the environment
        if TRACKER_QUIET not in os.environ.get("PYTHONWARNINGS", ""):
            os.environ["PYTHONWARNINGS"] = ",".join(filter(None, (os.environ.get("PYTHONWARNINGS"), TRACKER_QUIET)))
        with _sigint_ignored():  # the worker processes inherit it
            made = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes, dashboard_address=":0")
    else:
        made = slurm_cluster(**(slurm or {}))
        made.scale(jobs=n_jobs)
    with made, Client(made) as client, _quiet_after_interrupt(client):
        yield client


@contextlib.contextmanager
def _sigint_ignored():
    """Ignore Ctrl-C (SIGINT) while local workers are started, so that they ignore it too.

    A terminal's Ctrl-C reaches every process of the foreground group: workers interrupted in a task
    print tracebacks of their own.  The script's process alone stops and shuts the cluster down.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _quiet_distributed() -> None:
    logging.getLogger("distributed").setLevel(logging.ERROR)


@contextlib.contextmanager
def _quiet_after_interrupt(client):
    """After Ctrl-C, the shutdown's warnings (tasks cancelled, workers stopped mid-task) are expected: not shown."""
    try:
        yield
    except KeyboardInterrupt:
        _quiet_distributed()
        with contextlib.suppress(Exception):
            client.run(_quiet_distributed)  # in the workers too
        raise
