"""Where the scan's tasks run: no Dask, a local cluster, SLURM, or an existing scheduler."""

from __future__ import annotations

import contextlib
import os

from resad_tf.errors import InputError

CLUSTERS = ("local", "slurm", "none")


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
        made = LocalCluster(n_workers=n, threads_per_worker=1, processes=processes, dashboard_address=":0")
    else:
        made = slurm_cluster(**(slurm or {}))
        made.scale(jobs=n_jobs)
    with made, Client(made) as client:
        yield client
