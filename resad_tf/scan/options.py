"""The scan's own options: which data sets, which windows, the scorer's settings, where it runs.

``bin/scan`` takes four sets of options, each declared once and turned into flags
(:mod:`resad_tf.cli`): the data options of :class:`~resad_tf.pipeline.RunOptions`
(:data:`DATA_OPTIONS`), the bump hunt's :class:`~resad_tf.scan.tasks.HuntSettings`,
:class:`ScanOptions` below, and the options of the scanned method's Config (the flags
of ``bin/<method>``; :func:`method_flags`), whose defaults in a scan are
:data:`METHOD_DEFAULTS` where the scan chose its own (configs/scan.flags holds the same).

>>> opts = ScanOptions(window_width=0.4, step=0.2, scan_range=(3.2, 4.2))
>>> [w.lo for w in opts.windows()], opts.scorer("cwola", {"sideband_gap": 0.2}).config.sideband_gap
([3.2, 3.4, 3.6, 3.8], 0.2)
"""

from __future__ import annotations

import dataclasses

from resad_tf.config import Options, element_type, kind, option
from resad_tf.errors import InputError

#: The fields of RunOptions that describe the data a scan reads (see :func:`resad_tf.pipeline.load_dataset`).
DATA_OPTIONS = ("data", "toy_n_background", "toy_n_signal", "toy_signal_masses", "feature_set", "noise_features",
                "quiet", "device", "intra_op_threads", "inter_op_threads")

#: ScanOptions fields handed to the scorer (None: the scorer's default).
SCORER_OPTIONS = ("k", "blind_width", "decorrelate", "flatten", "n_calibration")

#: The scan's defaults for the methods' options, where they differ from the methods' own (each applies to the
#: methods whose Config has the field; configs/scan.flags sets the same values):
METHOD_DEFAULTS = dict(
    # the per-window classifier: one regularised HGB.  A weak signal (~0.5% of the SR) in a large background:
    # a small learning rate, large leaves and an L2 penalty keep the trees from fitting the background's
    # fluctuations; no early stopping, which with so little signal stops before the trees isolate it
    classifier="hgb", n_estimators=1, max_iter=200, tree_learning_rate=0.05, min_samples_leaf=200,
    l2_regularization=1.0, early_stopping=False,
    # CWoLa: sidebands of 0.4 TeV, 0.1 TeV away from the SR (the gap keeps the resonance's m_jj tails out);
    # one classifier per fold (the scan cross-fits)
    sideband_width=0.4, sideband_gap=0.1, k_folds=1,
    # the amortized background flows (CATHODE, LaCATHODE, R-ANODE, ANODE): affine MAF 6 x 64, 30 epochs at
    # batch 1024, the density averaged over its 5 best epochs
    n_blocks=6, flow_hidden=(64,), flow_epochs=30, flow_batch_size=1024, flow_learning_rate=1e-3, n_checkpoints=5,
    # CATHODE: 2 synthetic background events per SR event
    oversampling=2,
    # R-ANODE's signal flow: a small affine MAF, 10 epochs at batch 512, the signal fraction learned from 0.5%
    signal_blocks=2, signal_hidden=(32,), signal_transform="affine", signal_epochs=10, signal_batch_size=512,
    signal_learning_rate=3e-3, w_init=0.005,
)


def method_config(cls, **options):
    """``cls.Config`` with :data:`METHOD_DEFAULTS` (the fields it has), then ``options`` (InputError for one it lacks).

    >>> from resad_tf import methods
    >>> method_config(methods.get("cathode")).oversampling, method_config(methods.get("iad")).classifier
    (2, 'hgb')
    """
    names = {f.name for f in dataclasses.fields(cls.Config)}
    unknown = sorted(set(options) - names)
    if unknown:
        raise InputError(f"--method={cls.name} has no option(s) {unknown}; it takes {sorted(names)}")
    values = {**{k: v for k, v in METHOD_DEFAULTS.items() if k in names}, **options}
    return cls.Config(**values)


def method_flags() -> dict:
    """Every option of a registered method's Config that ``bin/scan`` takes as a flag: name -> Config.

    A flag applies to the scanned method if its Config has the option and is ignored otherwise, so that
    one flagfile (configs/scan.flags) serves every method.  The first Config declaring a name gives its
    type and help.
    """
    from resad_tf import methods

    out = {}
    for name in methods.names():
        config = methods.get(name).Config
        for f in dataclasses.fields(config):
            out.setdefault(f.name, config)
    return out


def method_options(values: dict, cls) -> dict:
    """The flag ``values`` (name -> parsed absl value, None where unset) that ``cls.Config`` has, typed."""
    names = {f.name for f in dataclasses.fields(cls.Config)}
    out = {}
    for name, value in values.items():
        if value is None or name not in names:
            continue
        if kind(cls.Config, name) is tuple:
            elem = element_type(cls.Config, name)
            try:
                value = tuple(elem(v) for v in value)
            except ValueError:
                raise InputError(f"--{name}={','.join(map(str, value))}: expected a list of {elem.__name__}") from None
        out[name] = value
    return out


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
    blind_width: float = option(0.8, "methods with a background density (cathode, lacathode, ranode, anode): "
                                "width of the blinded regions of the amortized background flows in TeV", gt=0)
    decorrelate: bool | None = option(None, "the method sees the features decorrelated from m_jj (per fold; "
                                      "default: on unless the scores are flattened or the method evaluates its "
                                      "background density: anode, lacathode, ranode)")
    flatten: bool | None = option(None, "replace each score by its quantile among background-flow samples' "
                                  "scores at the same m_jj (methods with a background density; default: on for "
                                  "ranode)")
    n_calibration: int = option(300_000, "--flatten: background-flow samples per fold to rank against", ge=1)
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

    def scorer(self, method: str, config: dict | None = None):
        """The window scorer of ``method``, its Config the scan's defaults updated by ``config``."""
        from resad_tf.scan.scorers import get_scorer

        return get_scorer(method, **{name: getattr(self, name) for name in SCORER_OPTIONS}, **(config or {}))

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
