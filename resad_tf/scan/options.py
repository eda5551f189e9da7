"""The scan's own options: which data sets, which windows, the scorer's settings, where it runs.

``bin/scan`` takes three option dataclasses, each declared once and turned into flags
(:mod:`resad_tf.cli`): the data options of :class:`~resad_tf.pipeline.RunOptions`
(:data:`DATA_OPTIONS`), the bump hunt's :class:`~resad_tf.scan.tasks.HuntSettings` and
:class:`ScanOptions` below.

>>> opts = ScanOptions(window_width=0.4, step=0.2, scan_range=(3.2, 4.2), sb_gap=0.2)
>>> [w.lo for w in opts.windows()], opts.scorer("cwola").sb_gap
([3.2, 3.4, 3.6, 3.8], 0.2)
"""

from __future__ import annotations

import dataclasses

from resad_tf.config import Options, option
from resad_tf.errors import InputError

#: The fields of RunOptions that describe the data a scan reads (see :func:`resad_tf.pipeline.load_dataset`).
DATA_OPTIONS = ("data", "toy_n_background", "toy_n_signal", "toy_signal_masses", "feature_set", "noise_features",
                "quiet", "device", "intra_op_threads", "inter_op_threads")

#: ScanOptions fields handed to the scorer (None: the scorer's default).
SCORER_OPTIONS = ("k", "sb_width", "sb_gap", "blind_width", "flow_epochs", "max_iter", "decorrelate")


@dataclasses.dataclass(frozen=True)
class ScanOptions(Options):
    """What ``bin/scan`` scans and where it runs (the fields are its flags)."""

    n_sig: tuple[int, ...] = option((1000,), "injected signal counts (one scan each); -1 keeps the data's own "
                                    "signal content", ge=-1)
    seeds: tuple[int, ...] = option((0,), "seeds (data sample, folds and training), one scan each", ge=0)
    window_width: float = option(0.4, "signal-region width in TeV", gt=0)
    step: float = option(0.1, "step between windows in TeV", gt=0)
    scan_range: tuple[float, ...] = option((3.2, 5.6), "lo,hi in TeV: every window lies inside", gt=0)
    k: int = option(5, "folds: every event is scored by models trained on the other folds", ge=2)
    n_toys: int = option(100, "background-only pseudo-experiments per data set for the global significance",
                         ge=0)
    sb_width: float | None = option(None, "cwola: width of each sideband in TeV (default 0.4)", gt=0)
    sb_gap: float | None = option(None, "cwola: distance of the sidebands from the SR in TeV (default 0.1)",
                                  ge=0)
    blind_width: float | None = option(None, "cathode, ranode: width of the blinded regions of the amortized "
                                       "background flows in TeV (default 0.8)", gt=0)
    flow_epochs: int | None = option(None, "cathode, ranode: background-flow epochs (default 30)", ge=1)
    max_iter: int | None = option(None, "boosting rounds of the per-window classifier (default 200)", ge=1)
    decorrelate: bool | None = option(None, "decorrelate the features from m_jj (default: on for cwola and "
                                      "cathode, off for the methods of bin/)")
    output_dir: str | None = option(None, "output directory (required); rerun with the same one to resume")
    cluster: str = option("local", "where tasks run: local (a Dask LocalCluster), slurm (dask-jobqueue), none "
                          "(this process)", choices=("local", "slurm", "none"))
    scheduler: str | None = option(None, "address of a running Dask scheduler (overrides --cluster)")
    n_workers: int = option(0, "local Dask workers (0: one per core)", ge=0)
    slurm_queue: str | None = option(None, "SLURM partition")
    slurm_account: str | None = option(None, "SLURM account")
    slurm_walltime: str = option("02:00:00", "SLURM walltime per job")
    slurm_cores: int = option(4, "cores (= single-threaded worker processes) per SLURM job", ge=1)
    slurm_memory: str = option("16GB", "memory per SLURM job")
    slurm_jobs: int = option(1, "number of SLURM jobs", ge=1)

    def __post_init__(self):
        super().__post_init__()
        if len(self.scan_range) != 2 or not self.scan_range[0] < self.scan_range[1]:
            raise InputError(f"--scan_range needs lo,hi in TeV with lo < hi, got "
                             f"{','.join(map(str, self.scan_range))}")

    def windows(self):
        from resad_tf.scan.tasks import make_windows

        return make_windows(self.window_width, self.step, self.scan_range)

    def scorer(self, method: str):
        from resad_tf.scan.scorers import get_scorer

        return get_scorer(method, **{name: getattr(self, name) for name in SCORER_OPTIONS})

    def client_options(self) -> dict:
        """The keyword arguments of :func:`~resad_tf.scan.run_scan` that say where it runs."""
        slurm = dict(queue=self.slurm_queue, account=self.slurm_account, walltime=self.slurm_walltime,
                     cores=self.slurm_cores, memory=self.slurm_memory)
        return dict(cluster=self.cluster, scheduler=self.scheduler, n_workers=self.n_workers or None, slurm=slurm,
                    n_jobs=self.slurm_jobs)


def describe_data(opts) -> str:
    """What a scan's data are, from its RunOptions (recorded with the settings for the resume check).

    >>> from resad_tf.pipeline import RunOptions
    >>> describe_data(RunOptions(toy_n_background=20000))
    "toy(n_background=20000, n_signal=50000, signal_masses=(3.5, 0.5, 0.1)), features 'standard'"
    """
    data = str(opts.data)
    if data == "toy":
        data = (f"toy(n_background={opts.toy_n_background}, n_signal={opts.toy_n_signal}, "
                f"signal_masses={tuple(opts.toy_signal_masses)})")
    noise = f" + {opts.noise_features} noise" if opts.noise_features else ""
    return f"{data}, features '{opts.feature_set}'{noise}"
