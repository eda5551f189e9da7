"""The run pipeline: options -> data -> regions -> fit -> score -> metrics -> outputs.

Every script in ``bin/`` is this pipeline behind flags (:mod:`resad_tf.cli`);
from Python it is one call:

>>> import tempfile
>>> from resad_tf import pipeline
>>> from resad_tf.methods.iad import IdealizedAD, IADConfig
>>> opts = pipeline.RunOptions(toy_n_background=5_000, n_sig=300, quiet=True, output_dir=tempfile.mkdtemp())
>>> result = pipeline.run(IdealizedAD, IADConfig(classifier="hgb", n_estimators=2), opts)
>>> sorted(p.name for p in pathlib.Path(opts.output_dir).iterdir())
['metrics.json', 'model', 'roc_sic.png', 'scores.h5']
>>> 0.5 < result["auc"] <= 1
True

* :class:`RunOptions`: the options every run shares (the data, the signal
  region, the injection, the seed, the output directory, ...), declared once
  with their allowed values (checked when RunOptions are made); the scripts'
  flags are made from it.
* A *data source* turns the options into a :class:`RunData` (the
  :class:`~resad_tf.data.Regions`, plus any extra constructor arguments the
  method needs).  :func:`features_source` (the default) reads high-level
  features (or generates the toy) and assembles the regions with
  :func:`build_regions`; methods on other inputs bring their own, e.g.
  :func:`resad_tf.methods.sparse_ae.constituents_source` (jet images).
* :func:`run` fits the method, scores the test set and writes the outputs
  (:func:`write_outputs`: metrics.json, scores.h5, plots, the saved model).
* :func:`load_dataset` is the data of one scan task: the same options, one
  (N_sig, seed).

Samples a run draws besides the data use their own seeds, derived from
``--seed`` by the offsets of :data:`SAMPLE_SEED_OFFSETS`.
"""

from __future__ import annotations

import dataclasses
import pathlib
import time
from typing import Mapping, Protocol

from resad_tf.config import Options, option
from resad_tf.data.features import FEATURE_SETS
from resad_tf.data.formats import check_inner_in_window
from resad_tf.errors import InputError
from resad_tf.runtime import DEVICES


@dataclasses.dataclass(frozen=True)
class RunOptions(Options):
    """The options every run shares (the flags of every bin/ script besides the method's own).

    Each option's allowed values are checked when RunOptions are made (:class:`~resad_tf.config.Options`).
    """

    data: str = option("toy", "input: 'toy' (the embedded LHCO-like generator), an LHCO v2 features .h5, "
                       "a CATHODE-style .npy or a directory of innerdata_*/outerdata_* arrays")
    sr: str = option("3.3,3.7", "signal region 'lo,hi' in TeV")
    sb_width: float | None = option(None, "width of each sideband in TeV (default: everything outside the SR)",
                                    gt=0)
    n_sig: int | None = option(None, "signal events to inject, counted over the full m_jj range; -1 keeps the "
                               "file's own signal content (default: 1000 for the toy and labelled .h5, -1 for .npy)",
                               ge=-1)
    # numpy's (and Keras') global seed takes 32 bits
    seed: int = option(0, "random seed for data splits, injection and training", ge=0, le=2**32 - 1)
    output_dir: str | None = option(None, "where results go (default: runs/<method>)")
    overwrite: bool = option(False, "replace the results of a previous run in --output_dir (without it, such a "
                             "directory is refused; a file or a directory that is not a results directory is "
                             "never replaced)")
    test: str | None = option(None, "external labelled evaluation set (same formats as --data); "
                              "default: a held-out part of the data")
    background: str | None = option(None, "pure-background signal-region sample for the idealized detector "
                                    "(default: held-out background truth)")
    signal: str | None = option(None, "pure-signal signal-region sample for the supervised bound "
                                "(default: held-out signal truth)")
    simulation: str | None = option(None, "simulated sample in the LHCO v2 layout for simulation-assisted "
                                    "methods (default with --data=toy: the generator's herwig-like variant)")
    feature_set: str = option("standard", "jet features: standard, extended, extended_dr, masses",
                              choices=tuple(FEATURE_SETS))
    noise_features: int = option(0, "append this many Gaussian noise features (robustness studies)", ge=0)
    holdout: float = option(0.5, "fraction of the background held out (uniformly in m_jj) for the test set "
                            "and the background reference", gt=0, lt=1)
    toy_n_background: int = option(1_000_000, "background events of the generated data (--data=toy)", ge=100)
    toy_n_signal: int = option(50_000, "signal pool of the generator that --n_sig draws from", ge=0)
    toy_signal_masses: tuple[float, ...] = option((3.5, 0.5, 0.1), "m_W', m_X, m_Y in TeV of the generated "
                                                  "signal W' -> X Y (--data=toy)", gt=0)
    toy_reference_factor: int = option(4, "with --data=toy, the idealized detector's pure-background reference "
                                       "is generated: this many times the data's background (0: a held-out "
                                       "half as for files)", ge=0)
    toy_simulation_factor: int = option(4, "with --data=toy, the default simulation (herwig-like) is generated: "
                                        "this many times the data's background", ge=1)
    min_bkg: int = option(50, "max SIC ignores background efficiencies resting on fewer background events", ge=1)
    quiet: bool = option(False, "no progress bars")
    device: str = option("auto", "auto (a GPU if TensorFlow sees one), cpu (hide the GPUs) or gpu "
                         "(fail without one)", choices=DEVICES)
    intra_op_threads: int = option(1, "threads one TensorFlow op may use (1: each op on one core, so that "
                                   "parallel jobs do not compete; 0: TensorFlow's default, all cores)", ge=0)
    inter_op_threads: int = option(0, "TensorFlow ops run concurrently (0: TensorFlow's default, one per core)",
                                   ge=0)

    def __post_init__(self):
        super().__post_init__()
        if len(self.toy_signal_masses) != 3:
            raise InputError(f"--toy_signal_masses={','.join(map(str, self.toy_signal_masses))}: give the three "
                             "masses m_W',m_X,m_Y in TeV, e.g. 3.5,0.5,0.1")
        from resad_tf.data.toy import SignalModel

        SignalModel(*self.toy_signal_masses)  # its own checks: m_X >= m_Y, room for boosted jets, TeV not GeV


#: The seed of each sample a run draws, as an offset from ``--seed`` (so no two samples share a
#: random stream): the data (generation, injection, splits, training), the generated simulation
#: (``--simulation`` / the toy's herwig-like variant), an external test set's noise features,
#: the pure-background reference (``--background`` / the toy's generated truth) and the pure-signal
#: sample (``--signal``).
SAMPLE_SEED_OFFSETS = {"data": 0, "simulation": 1, "test": 2, "background": 3, "signal": 4}


def sample_seed(opts: RunOptions, sample: str) -> int:
    """The seed of ``sample`` (a key of :data:`SAMPLE_SEED_OFFSETS`) in a run with these options."""
    return opts.seed + SAMPLE_SEED_OFFSETS[sample]


def pool_size(n: int, holdout: float) -> int:
    """Events to generate so that ``n`` remain after a fraction ``holdout`` is held out."""
    return int(round(n / (1.0 - holdout)))


# ----------------------------------------------------------------------------- data sources
@dataclasses.dataclass(frozen=True, eq=False)
class RunData:
    """What a data source hands the pipeline: the regions, and extra keyword arguments for the
    method's constructor (e.g. the jet-image store of :class:`~resad_tf.methods.sparse_ae.SparseAE`)."""

    regions: object  # resad_tf.data.Regions
    method_inputs: Mapping[str, object] = dataclasses.field(default_factory=dict)


class DataSource(Protocol):
    """Where a run's events come from: ``source(opts, method_cls, config) -> RunData``.

    It gets the run options and the method it loads for (its class, whose
    ``needs`` say which extra samples it wants, and its config), and raises
    :class:`~resad_tf.errors.InputError` for anything the user must fix.
    """

    def __call__(self, opts: RunOptions, method_cls: type, config) -> RunData: ...


def features_source(opts: RunOptions, method_cls: type, config) -> RunData:
    """The default data source: high-level features from ``--data`` (or the toy), :func:`build_regions`."""
    return RunData(build_regions(opts, method_cls.needs))


#: memory a generated toy event costs while a run builds its data (build_regions measured 0.5-0.6 kB per
#: generated event): a lower bound, so a size refused for it could never have run
TOY_BYTES_PER_EVENT = 600


def check_toy_memory(opts: RunOptions, needs=frozenset()) -> None:
    """Raise an InputError if the toy these options generate cannot fit in the memory available now.

    Counts the data (``--toy_n_background`` + ``--toy_n_signal``) and, when the method needs
    them, the generated reference and simulation (``--toy_reference_factor``,
    ``--toy_simulation_factor``); without this check an absurd size runs until the kernel kills it.
    """
    if opts.data != "toy":
        return
    import psutil

    factor = (1 + (opts.toy_reference_factor if "reference" in needs else 0)
              + (opts.toy_simulation_factor if "simulation" in needs else 0))
    need = TOY_BYTES_PER_EVENT * factor * (opts.toy_n_background + opts.toy_n_signal)
    available = psutil.virtual_memory().available
    if need > available:
        fits = max(int(available / (TOY_BYTES_PER_EVENT * factor)) - opts.toy_n_signal, 0)
        n_events = factor * (opts.toy_n_background + opts.toy_n_signal)
        raise InputError(
            f"--toy_n_background={opts.toy_n_background}: generating the toy needs about {need / 1e9:.3g} GB of "
            f"memory (~{TOY_BYTES_PER_EVENT / 1e3:g} kB for each of {n_events:.3g} "
            f"events: the data{' and the reference/simulation the method generates' if factor > 1 else ''}), but "
            f"{available / 1e9:.3g} GB are available; use a smaller --toy_n_background (at most about {fits} here)"
        )


def _check_paths(opts: RunOptions) -> None:
    for flag in ("data", "test", "background", "signal", "simulation"):  # fail before any slow work
        path = getattr(opts, flag)
        if path is not None and path != "toy" and not pathlib.Path(path).exists():
            raise InputError(f"--{flag}={path}: file or directory not found")


def build_regions(opts: RunOptions, needs=frozenset()):
    """Load the data (and test / reference / simulation / signal samples) and make the Regions.

    ``needs`` (a method's ``needs``) says which extra samples it wants; on the
    toy the reference and the simulation are generated when needed
    (``--toy_reference_factor``, ``--toy_simulation_factor``).  Whether the
    method has all it needs is checked when it is fitted (:meth:`Regions.check_needs`).
    """
    from resad_tf import data
    from resad_tf.data.regions import NEEDS

    window = data.Window.parse(opts.sr, opts.sb_width)
    _check_paths(opts)
    check_toy_memory(opts, needs)
    toy = None
    if opts.data == "toy":
        toy = data.ToySpec(n_background=pool_size(opts.toy_n_background, opts.holdout), n_signal=opts.toy_n_signal,
                           signal_masses=opts.toy_signal_masses)
    events = data.load(opts.data, feature_set=opts.feature_set, seed=opts.seed, toy=toy, quiet=opts.quiet)
    if opts.data != "toy" and pathlib.Path(opts.data).is_dir():
        check_inner_in_window(opts.data, window.lo, window.hi)

    def with_noise(events, sample):
        return data.add_noise_features(events, opts.noise_features, sample_seed(opts, sample))

    def from_flag(sample):  # the sample named by its flag (--test, --background, ...), or None
        path = getattr(opts, sample)
        if path is None:
            return None
        return with_noise(data.load(path, feature_set=opts.feature_set, seed=sample_seed(opts, sample),
                                    flag=f"--{sample}"), sample)

    def generated(sample, spec):  # a sample of the toy generator
        return with_noise(data.load("toy", feature_set=opts.feature_set, seed=sample_seed(opts, sample), toy=spec,
                                    quiet=opts.quiet), sample)

    n_sig = opts.n_sig
    if n_sig is None:
        natural = (not events.has_labels) or str(opts.data).endswith(".npy") or pathlib.Path(opts.data).is_dir()
        n_sig = -1 if natural else 1000
    simulation = from_flag("simulation")
    if simulation is None and "simulation" in needs:
        if opts.data != "toy":
            raise InputError("this method needs {}: {}".format(*NEEDS["simulation"]))
        simulation = generated("simulation", dataclasses.replace(
            toy, background="herwig", n_signal=0, n_background=opts.toy_simulation_factor * opts.toy_n_background))
    events = with_noise(events, "data")
    reference = from_flag("background")
    if reference is None and opts.data == "toy" and "reference" in needs and opts.toy_reference_factor > 0:
        # the generator's truth: a large pure-background sample, as the literature's IAD uses
        reference = generated("background", dataclasses.replace(
            toy, n_signal=0, n_background=opts.toy_reference_factor * opts.toy_n_background))
    return data.make_regions(
        events, window, n_sig=None if n_sig == -1 else n_sig, holdout=opts.holdout, seed=opts.seed,
        test=from_flag("test"), reference=reference, simulation=simulation, signal=from_flag("signal"),
    )


def load_dataset(opts: RunOptions, n_sig: int, seed: int):
    """The events of one scan task: ``opts.data`` with ``n_sig`` signal events injected, drawn with ``seed``.

    For the sliding-window scan, which scores every event and holds nothing
    out: the toy is generated with ``seed`` and ``opts.toy_n_background``
    background events (``opts.toy_n_signal`` in the signal pool); a file is
    read as it is.  ``n_sig = -1`` keeps the data's own signal content.
    ``opts.feature_set`` and ``opts.noise_features`` apply as in a run; the
    other options (the SR, the holdout, the extra samples) do not.  Picklable
    with ``functools.partial(load_dataset, opts)``, so Dask workers can call it.
    """
    from resad_tf import data

    _check_paths(dataclasses.replace(opts, test=None, background=None, signal=None, simulation=None))
    check_toy_memory(opts)
    toy = data.ToySpec(n_background=opts.toy_n_background, n_signal=opts.toy_n_signal,
                       signal_masses=opts.toy_signal_masses)
    events = data.load(opts.data, feature_set=opts.feature_set, seed=seed, toy=toy, quiet=opts.quiet)
    events = data.add_noise_features(events, opts.noise_features, seed)
    return events if n_sig < 0 else data.inject(events, n_sig, seed)[0]


# ----------------------------------------------------------------------------- run
def run(method_cls, config=None, opts: RunOptions | None = None, *, data=None,
        source: DataSource | None = None) -> dict:
    """Run one method end to end and write its outputs; returns the metrics dict.

    The output directory is checked first, before any data is read
    (:func:`resad_tf.outputs.check_output_dir`: the results of a previous run
    are replaced only with ``opts.overwrite``).  ``data`` (a :class:`RunData` or
    :class:`~resad_tf.data.Regions`) skips the loading (benchmarks reuse one
    data set for many methods); otherwise ``source`` (default
    :func:`features_source`) loads it.
    """
    from resad_tf import outputs, runtime
    from resad_tf.data import Regions

    opts = opts or RunOptions()
    config = config if config is not None else method_cls.Config()
    t0 = time.time()
    outputs.check_output_dir(output_dir(method_cls, opts), overwrite=opts.overwrite)  # before the slow work
    if data is None:
        data = (source or features_source)(opts, method_cls, config)
    elif isinstance(data, Regions):
        data = RunData(data)
    runtime.seed_everything(opts.seed)
    method = method_cls(config, seed=opts.seed, verbose=not opts.quiet, **data.method_inputs)
    method.fit(data.regions)
    result = {
        "method": method_cls.name,
        "seed": opts.seed,
        "regions": data.regions.summary(),
        "config": dataclasses.asdict(config),
        "options": dataclasses.asdict(opts),
        "versions": runtime.versions(),
        "numerics": runtime.numerics(),
        "fit_seconds": round(time.time() - t0, 1),
    }
    return write_outputs(method, data.regions, result, opts, started=t0)


def output_dir(method_cls, opts: RunOptions) -> str:
    """Where a run of ``method_cls`` with these options writes (``--output_dir``, default runs/<method>)."""
    return opts.output_dir or f"runs/{method_cls.name}"


def write_outputs(method, regions, result: dict, opts: RunOptions, started: float) -> dict:
    """Score the test set (or the SR data) and write the run directory atomically; returns ``result`` completed.

    The directory holds metrics.json (``result`` + the metrics), scores.h5
    (score, label, m_jj per event), roc_sic.png, the method's diagnostics and
    ``model/`` (the fitted method, :func:`resad_tf.component.save`).  It replaces
    a previous run's results only with ``opts.overwrite`` (:class:`resad_tf.outputs.RunDirectory`).
    """
    from resad_tf import component, metrics, outputs, plots

    name = type(method).name
    with outputs.RunDirectory(output_dir(type(method), opts), overwrite=opts.overwrite) as out:
        test = regions.test
        if test is not None:
            score = method.score(test)
            result.update(metrics.summarize(test.label, score, min_bkg=opts.min_bkg).to_dict())
            result["n_sig_sr"] = result["regions"].get("n_sig_sr")
            result["n_bkg_sr"] = result["regions"].get("n_bkg_sr")
            out.write_scores(score=score, label=test.label, mjj=test.mjj)
            plots.roc_sic({name: (test.label, score)}, out / "roc_sic.png", min_bkg=opts.min_bkg,
                          title=f"{name}, SR {opts.sr} TeV")
        else:
            score = method.score(regions.sr)
            out.write_scores(score=score, mjj=regions.sr.mjj)
        result.update(method.diagnostics(out.path) or {})
        component.save(method, out / "model",
                       metrics={k: v for k, v in result.items() if isinstance(v, (int, float))})
        result["wall_seconds"] = round(time.time() - started, 1)
        result["files"] = out.files()  # what --overwrite may replace (outputs.check_output_dir)
        out.write_json(outputs.MARKER, result)
    return result
