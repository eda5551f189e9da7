"""Sliding-window scan of the bump hunt over m_jj, run on Dask.

>>> from resad_tf.scan import make_tasks, make_windows
>>> tasks = make_tasks(make_windows(0.4, 0.2, (3.1, 3.9)), seeds=[0, 1], n_sigs=[0], method="cwola")
>>> len(tasks), tasks[0].id
(6, 'cwola_nsig0_seed0_3.100-3.500')
"""

from resad_tf.scan.cluster import make_client, slurm_cluster
from resad_tf.scan.scan import ScanSummary, run_scan, summarise
from resad_tf.scan.scorers import (
    DecorrelatedSamples,
    MethodScorer,
    WindowScorer,
    flatten_in_mjj,
    get_scorer,
    scorer_config,
)
from resad_tf.scan.store import TaskStore
from resad_tf.scan.tasks import Dataset, HuntSettings, Task, make_tasks, make_windows, run_task, window_name

__all__ = [
    "Dataset",
    "DecorrelatedSamples",
    "HuntSettings",
    "MethodScorer",
    "ScanSummary",
    "Task",
    "TaskStore",
    "WindowScorer",
    "flatten_in_mjj",
    "get_scorer",
    "make_client",
    "make_tasks",
    "make_windows",
    "run_scan",
    "run_task",
    "scorer_config",
    "slurm_cluster",
    "summarise",
    "window_name",
]
