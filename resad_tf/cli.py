"""The shared command line of every method script, and the run wrapper.

A script in ``bin/`` is a few lines::

    from resad_tf import cli
    from resad_tf.methods.salad import Salad
    if __name__ == "__main__":
        cli.main(Salad)

``cli.main`` defines the shared flags below plus one flag per field of the
method's ``Config`` dataclass, runs :func:`execute`, and turns every
:class:`~resad_tf.errors.InputError` (and every flag-parsing error) into one
line on stderr and exit status 2; a training that diverged
(:class:`~resad_tf.errors.TrainingDiverged`) into one line and exit status 1.
Every flag is checked against its allowed values (:data:`RUN_OPTION_RULES`, the
Config's ``option(...)`` declarations) and the output directory against
:func:`resad_tf.outputs.check_output_dir` before any data is read.

:func:`execute` is the same pipeline without flags, for Python users and the
scan: load -> regions -> fit -> score -> metrics -> outputs.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import sys
import time
import typing

from absl import app, flags

from resad_tf import runtime
from resad_tf.data.features import FEATURE_SETS
from resad_tf.errors import InputError, TrainingDiverged
from resad_tf.validation import check_options, rule

FLAGS = flags.FLAGS

_COMMON = [
    ("data", "toy", "input: 'toy' (the embedded LHCO-like generator), an LHCO v2 features .h5, "
     "a CATHODE-style .npy or a directory of innerdata_*/outerdata_* arrays"),
    ("sr", "3.3,3.7", "signal region 'lo,hi' in TeV"),
    ("sb_width", None, "width of each sideband in TeV (default: everything outside the SR)"),
    ("n_sig", None, "signal events to inject, counted over the full m_jj range; -1 keeps the "
     "file's own signal content (default: 1000 for the toy and labelled .h5, -1 for .npy)"),
    ("seed", 0, "random seed for data splits, injection and training"),
    ("output_dir", None, "where results go (default: runs/<method>)"),
    ("overwrite", False, "replace the results of a previous run in --output_dir (without it, such a "
     "directory is refused; a file or a directory that is not a results directory is never replaced)"),
    ("test", None, "external labelled evaluation set (same formats as --data); "
     "default: a held-out part of the data"),
    ("background", None, "pure-background signal-region sample for the idealized detector "
     "(default: held-out background truth)"),
    ("signal", None, "pure-signal signal-region sample for the supervised bound "
     "(default: held-out signal truth)"),
    ("simulation", None, "simulated sample in the LHCO v2 layout for simulation-assisted methods "
     "(default with --data=toy: the generator's herwig-like variant)"),
    ("feature_set", "standard", "jet features: standard, extended, extended_dr, masses"),
    ("noise_features", 0, "append this many Gaussian noise features (robustness studies)"),
    ("holdout", 0.5, "fraction of the background held out (uniformly in m_jj) for the test set "
     "and the background reference"),
    ("toy_n_background", 1_000_000, "background events of the generated data (--data=toy)"),
    ("toy_n_signal", 50_000, "signal pool of the generator that --n_sig draws from"),
    ("toy_reference_factor", 4, "with --data=toy, the idealized detector's pure-background reference is "
     "generated: this many times the data's background (0: a held-out half as for files)"),
    ("toy_simulation_factor", 4, "with --data=toy, the default simulation (herwig-like) is generated: this "
     "many times the data's background (like the IAD reference, so SALAD and IAD see equal statistics)"),
    ("min_bkg", 50, "max SIC ignores background efficiencies resting on fewer background events"),
    ("quiet", False, "no progress bars"),
    ("device", "auto", "auto (a GPU if TensorFlow sees one), cpu (hide the GPUs) or gpu (fail without one)"),
    ("intra_op_threads", 1, "threads per TensorFlow op; 1 is fastest for these small networks on CPU "
     "(15x128 flow at batch 256 on 2 cores: 1.2-1.5x the samples/s of the default); 0 = TensorFlow's default"),
    ("inter_op_threads", 0, "TensorFlow ops run concurrently (0 = TensorFlow's default, one per core)"),
]

#: the allowed values of the shared options, checked when RunOptions are made
RUN_OPTION_RULES = {
    "sb_width": rule(gt=0),
    "n_sig": rule(ge=-1),
    "seed": rule(ge=0, le=2**32 - 1),  # numpy's (and Keras') global seed takes 32 bits
    "feature_set": rule(choices=tuple(FEATURE_SETS)),
    "noise_features": rule(ge=0),
    "holdout": rule(gt=0, lt=1),
    "toy_n_background": rule(ge=100),
    "toy_n_signal": rule(ge=0),
    "toy_reference_factor": rule(ge=0),
    "toy_simulation_factor": rule(ge=1),
    "min_bkg": rule(ge=1),
    "device": rule(choices=runtime.DEVICES),
    "intra_op_threads": rule(ge=0),
    "inter_op_threads": rule(ge=0),
}


@dataclasses.dataclass(frozen=True)
class RunOptions:
    """The shared options (mirrors the flags above)."""

    data: str = "toy"
    sr: str = "3.3,3.7"
    sb_width: float | None = None
    n_sig: int | None = None
    seed: int = 0
    output_dir: str | None = None
    overwrite: bool = False
    test: str | None = None
    background: str | None = None
    signal: str | None = None
    simulation: str | None = None
    feature_set: str = "standard"
    noise_features: int = 0
    holdout: float = 0.5
    toy_n_background: int = 1_000_000
    toy_n_signal: int = 50_000
    toy_reference_factor: int = 4
    toy_simulation_factor: int = 4
    min_bkg: int = 50
    quiet: bool = False
    device: str = "auto"
    intra_op_threads: int = 1
    inter_op_threads: int = 0

    def __post_init__(self):
        check_options(self, RUN_OPTION_RULES)


_FLAG_TYPES = {"sb_width": float, "n_sig": int, "seed": int, "noise_features": int,
               "holdout": float, "toy_n_background": int, "toy_n_signal": int, "min_bkg": int,
               "toy_reference_factor": int, "toy_simulation_factor": int, "overwrite": bool,
               "quiet": bool, "intra_op_threads": int, "inter_op_threads": int}


def _define(name, default, help, kind):
    if name in FLAGS:
        return
    if kind is bool:
        flags.DEFINE_boolean(name, default, help)
    elif kind is int:
        flags.DEFINE_integer(name, default, help)
    elif kind is float:
        flags.DEFINE_float(name, default, help)
    elif kind in (list, tuple):
        flags.DEFINE_list(name, None if default is None else [str(v) for v in default], help)
    else:
        flags.DEFINE_string(name, default, help)


def define_common_flags() -> None:
    for name, default, help in _COMMON:
        _define(name, default, help, _FLAG_TYPES.get(name, str))


def _field_kind(field, hints):
    t = hints[field.name]
    origin = typing.get_origin(t)
    if origin in (tuple, list):
        return tuple
    if origin is typing.Union or str(origin) == "types.UnionType":
        args = [a for a in typing.get_args(t) if a is not type(None)]
        t = args[0]
    return t if t in (bool, int, float, str) else str


def define_config_flags(config_cls) -> None:
    """One absl flag per field of a method's Config dataclass (help from field metadata)."""
    hints = typing.get_type_hints(config_cls)
    for f in dataclasses.fields(config_cls):
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        _define(f.name, default, f.metadata.get("help", f.name), _field_kind(f, hints))


def config_from_flags(config_cls):
    hints = typing.get_type_hints(config_cls)
    values = {}
    for f in dataclasses.fields(config_cls):
        v = FLAGS[f.name].value
        if _field_kind(f, hints) is tuple and v is not None:
            elem = typing.get_args(hints[f.name])[0] if typing.get_args(hints[f.name]) else str
            try:
                v = tuple(elem(x) for x in v)
            except ValueError:
                raise InputError(f"--{f.name}={','.join(v)}: expected a list of {elem.__name__}") from None
        values[f.name] = v
    try:
        return config_cls(**values)
    except InputError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad {config_cls.__name__}: {exc}") from None


def options_from_flags() -> RunOptions:
    return RunOptions(**{f.name: FLAGS[f.name].value for f in dataclasses.fields(RunOptions)})


# ----------------------------------------------------------------------------- pipeline
def _pool_size(n: int, holdout: float) -> int:
    return int(round(n / (1.0 - holdout)))


def build_regions(opts: RunOptions, needs=frozenset()):
    """Load the data (and test / reference / simulation samples) and make the Regions."""
    from resad_tf import data

    window = data.Window.parse(opts.sr, opts.sb_width)
    for flag in ("data", "test", "background", "signal", "simulation"):  # fail before any slow work
        path = getattr(opts, flag)
        if path is not None and path != "toy" and not pathlib.Path(path).exists():
            raise InputError(f"--{flag}={path}: file or directory not found")
    toy = None
    if opts.data == "toy":
        toy = data.ToySpec(n_background=_pool_size(opts.toy_n_background, opts.holdout),
                           n_signal=opts.toy_n_signal)
    events = data.load(opts.data, feature_set=opts.feature_set, seed=opts.seed, toy=toy, quiet=opts.quiet)

    def extra(flag, seed_offset):
        path = getattr(opts, flag)
        if path is None:
            return None
        ev = data.load(path, feature_set=opts.feature_set, seed=opts.seed + seed_offset, flag=f"--{flag}")
        return data.add_noise_features(ev, opts.noise_features, opts.seed + seed_offset)

    n_sig = opts.n_sig
    if n_sig is None:
        natural = (not events.has_labels) or str(opts.data).endswith(".npy") or pathlib.Path(
            opts.data).is_dir()
        n_sig = -1 if natural else 1000
    simulation = extra("simulation", 1)
    if simulation is None and "simulation" in needs:
        if opts.data != "toy":
            raise InputError("this method needs a simulated sample: pass --simulation=PATH")
        sim_spec = dataclasses.replace(toy, background="herwig", n_signal=0,
                                       n_background=opts.toy_simulation_factor * opts.toy_n_background)
        simulation = data.load("toy", feature_set=opts.feature_set, seed=opts.seed + 1, toy=sim_spec,
                               quiet=opts.quiet)
        simulation = data.add_noise_features(simulation, opts.noise_features, opts.seed + 1)
    events = data.add_noise_features(events, opts.noise_features, opts.seed)
    reference = extra("background", 3)
    if reference is None and opts.data == "toy" and "reference" in needs and opts.toy_reference_factor > 0:
        # the generator's truth: a large pure-background sample, as the literature's IAD uses
        ref_spec = dataclasses.replace(toy, n_signal=0, n_background=opts.toy_reference_factor * opts.toy_n_background)
        reference = data.load("toy", feature_set=opts.feature_set, seed=opts.seed + 3, toy=ref_spec, quiet=opts.quiet)
        reference = data.add_noise_features(reference, opts.noise_features, opts.seed + 3)
    regions = data.make_regions(
        events, window, n_sig=None if n_sig == -1 else n_sig, holdout=opts.holdout, seed=opts.seed,
        test=extra("test", 2), reference=reference, simulation=simulation,
        signal=extra("signal", 4),
    )
    return regions


def execute(method_cls, config=None, opts: RunOptions | None = None, regions=None, build=None) -> dict:
    """Run one method end to end and write its outputs; returns the metrics dict.

    ``regions`` skips the loading (benchmarks reuse one data set for many methods);
    otherwise ``build(opts, needs)`` makes them (default :func:`build_regions`;
    methods on constituents bring their own).
    """
    from resad_tf import metrics, outputs, plots, runtime, saving

    opts = opts or RunOptions()
    config = config if config is not None else method_cls.Config()
    t0 = time.time()
    out_dir = opts.output_dir or f"runs/{method_cls.name}"
    outputs.check_output_dir(out_dir, overwrite=opts.overwrite)  # before the slow work
    needs = getattr(method_cls, "needs", frozenset())
    if regions is None:
        regions = (build or build_regions)(opts, needs)
    regions.check_needs(needs | ({"sidebands"} if getattr(method_cls, "uses_sidebands", False) else set()),
                        method_cls.name)
    runtime.seed_everything(opts.seed)
    method = method_cls(config, seed=opts.seed, verbose=not opts.quiet)
    method.fit(regions)
    fit_seconds = time.time() - t0
    result = {
        "method": method_cls.name,
        "seed": opts.seed,
        "regions": regions.summary(),
        "config": dataclasses.asdict(config),
        "options": dataclasses.asdict(opts),
        "versions": runtime.versions(),
        "fit_seconds": round(fit_seconds, 1),
    }
    with outputs.RunDirectory(out_dir, overwrite=opts.overwrite) as out:
        test = regions.test
        if test is not None:
            score = method.score(test)
            result.update(metrics.summarize(test.label, score, min_bkg=opts.min_bkg).to_dict())
            result["n_sig_sr"] = result["regions"].get("n_sig_sr")
            result["n_bkg_sr"] = result["regions"].get("n_bkg_sr")
            out.write_scores(score=score, label=test.label, mjj=test.mjj)
            plots.roc_sic({method_cls.name: (test.label, score)}, out / "roc_sic.png",
                          min_bkg=opts.min_bkg, title=f"{method_cls.name}, SR {opts.sr} TeV")
        else:
            score = method.score(regions.sr)
            out.write_scores(score=score, mjj=regions.sr.mjj)
        result.update(method.diagnostics(out.path) or {})
        saving.save_model(method, out / "model", features=regions.features, window=regions.window, metrics=result)
        result["wall_seconds"] = round(time.time() - t0, 1)
        out.write_json("metrics.json", result)
    return result


# ----------------------------------------------------------------------------- entry point
def fail(message: str, status: int = 2) -> typing.NoReturn:
    """Print ``<script>: error: <message>`` as one line on stderr and exit with ``status``."""
    prog = pathlib.Path(sys.argv[0]).name
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(status)


def parse_flags(argv):
    try:
        return FLAGS(argv)
    except flags.Error as exc:
        fail(str(exc))


def _main(method_cls, build, argv):
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}; all options are --flags (see --help)")
    try:
        opts = options_from_flags()
        runtime.configure(opts.intra_op_threads, opts.inter_op_threads, opts.device)
        result = execute(method_cls, config_from_flags(method_cls.Config), opts, build=build)
    except InputError as exc:
        fail(str(exc))
    except TrainingDiverged as exc:  # not bad input: exit 1, but one line, not a traceback
        fail(str(exc), status=1)
    out = FLAGS.output_dir or f"runs/{method_cls.name}"
    summary = ", ".join(f"{k}={result[k]:.3f}" for k in ("auc", "max_sic") if k in result)
    print(f"{method_cls.name}: {summary or 'no labelled test set'}; results in {out}/")


def _show_in_help(names) -> None:
    """List these flags in the script's --help (absl shows the main module's key flags)."""
    for name in names:
        FLAGS.register_key_flag_for_module(sys.argv[0], FLAGS[name])


def main(method_cls, build_regions=None) -> None:
    """Entry point of bin/<method>: shared flags + the method's config flags, exit 2 on bad input.

    ``build_regions(opts, needs)`` replaces the default data loading (e.g. constituents).
    """
    import inspect

    define_common_flags()
    define_config_flags(method_cls.Config)
    _show_in_help([name for name, _, _ in _COMMON] + [f.name for f in dataclasses.fields(method_cls.Config)])
    main_module = sys.modules["__main__"]
    main_module.__doc__ = (
        f"{inspect.getmodule(method_cls).__doc__}\nUsage: {pathlib.Path(sys.argv[0]).name} --data=toy|PATH "
        f"--sr=lo,hi --n_sig=N --seed=S --output_dir=DIR [--flagfile=configs/{method_cls.name}.flags]\n"
    )
    app.run(functools.partial(_main, method_cls, build_regions), flags_parser=parse_flags)


def run_script(main_fn) -> None:
    """Entry point of a script that is not a method (make_dataset, download, ...).

    ``main_fn()`` reads the absl FLAGS it defined; an InputError it raises, a
    flag-parsing error or a stray positional argument become one line on
    stderr and exit status 2.
    """

    def _run(argv):
        if len(argv) > 1:
            fail(f"unexpected arguments {argv[1:]}; all options are --flags (see --help)")
        try:
            main_fn()
        except InputError as exc:
            fail(str(exc))

    app.run(_run, flags_parser=parse_flags)
