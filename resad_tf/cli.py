"""absl glue of the scripts in ``bin/``: flags from the option dataclasses, the pipeline, exit codes.

A method script is a few lines::

    from resad_tf import cli
    from resad_tf.methods.salad import Salad
    if __name__ == "__main__":
        cli.main(Salad)

:func:`main` defines one flag per field of :class:`~resad_tf.pipeline.RunOptions`
and of the method's ``Config`` (help from the fields), parses them, calls
:func:`resad_tf.pipeline.run` and maps errors to exit codes:
:class:`~resad_tf.errors.InputError` and flag errors become one line on stderr
and exit status 2, other resad_tf errors (:class:`~resad_tf.errors.TrainingDiverged`,
...) one line and exit status 1, Ctrl-C one line and exit status 130; anything else
is a bug and stays a traceback.  Nothing else is printed unless ``--verbosity`` asks
for it (absl's flag: TensorFlow's C++ log and Python logging below WARNING are off
by default, :func:`resad_tf.runtime.set_verbosity`).
Every flag is checked against the values its ``option(...)`` allows when the
option dataclasses are made from the flags (:class:`~resad_tf.config.Options`),
and the output directory before any data is read (:func:`resad_tf.pipeline.run`).
:func:`run_script` does the same for scripts that are not methods.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
import sys
import typing

from absl import app, flags

from resad_tf import runtime  # first: pins the CPU-independent kernels before numpy loads; TensorFlow loads quietly
from resad_tf import config as options
from resad_tf.errors import InputError, ResadError, exit_status

FLAGS = flags.FLAGS


# ----------------------------------------------------------------------------- flags from dataclasses
def _define(name, default, help, kind) -> None:
    if name in FLAGS:
        return
    if kind is bool:
        flags.DEFINE_boolean(name, default, help)
    elif kind is int:
        flags.DEFINE_integer(name, default, help)
    elif kind is float:
        flags.DEFINE_float(name, default, help)
    elif kind is tuple:
        flags.DEFINE_list(name, None if default is None else [str(v) for v in default], help)
    else:
        flags.DEFINE_string(name, default, help)


def define_flags(cls, only=None, unset: bool = False) -> list[str]:
    """One absl flag per field of the option dataclass ``cls`` (help from its metadata), or per field
    named in ``only``; returns the names.  ``unset``: the flags default to None (the caller fills in)."""
    names = []
    for f in dataclasses.fields(cls):
        if only is not None and f.name not in only:
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        _define(f.name, None if unset else default, options.help_text(cls, f.name), options.kind(cls, f.name))
        names.append(f.name)
    return names


def from_flags(cls, only=None, **fixed):
    """An instance of the option dataclass ``cls`` from the parsed flags (InputError if it refuses them).

    ``only``: read just these fields' flags (the others keep their defaults); ``fixed``: values set here.
    """
    values = dict(fixed)
    for f in dataclasses.fields(cls):
        if (only is not None and f.name not in only) or f.name in fixed:
            continue
        v = FLAGS[f.name].value
        if options.kind(cls, f.name) is tuple and v is not None:
            elem = options.element_type(cls, f.name)
            try:
                v = tuple(elem(x) for x in v)
            except ValueError:
                raise InputError(f"--{f.name}={','.join(v)}: expected a list of {elem.__name__}") from None
        values[f.name] = v
    try:
        return cls(**values)
    except InputError:
        raise
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad {cls.__name__}: {exc}") from None


# ----------------------------------------------------------------------------- errors -> exit codes
def fail(message: str, status: int = 2) -> typing.NoReturn:
    """``<script>: error: <message>`` as one line on stderr (line breaks squashed), then exit with ``status``."""
    prog = pathlib.Path(sys.argv[0]).name
    print(f"{prog}: error: {' '.join(str(message).split())}", file=sys.stderr)
    sys.exit(status)


def parse_flags(argv):
    try:
        return FLAGS(argv)
    except flags.Error as exc:
        fail(str(exc))


#: exit status of a run stopped by Ctrl-C (SIGINT), as a shell reports a process killed by it (128 + 2)
INTERRUPTED = 130


def _guarded(main_fn, argv) -> None:
    """Run ``main_fn()`` quietly; resad_tf errors become one line and their exit status (bugs stay tracebacks).

    The logging settings (:func:`resad_tf.runtime.set_verbosity`: absl's ``--verbosity`` when given,
    quiet otherwise) are made here, after the flags are parsed and before anything imports TensorFlow.
    Ctrl-C becomes one line and exit status 130: the outputs are written atomically
    (:mod:`resad_tf.outputs`), so an interrupted run leaves nothing half-written.
    """
    runtime.set_verbosity(FLAGS["verbosity"].value if FLAGS["verbosity"].present else None)
    if len(argv) > 1:
        fail(f"unexpected arguments {argv[1:]}; all options are --flags (see --help)")
    try:
        main_fn()
    except ResadError as exc:
        fail(str(exc), exit_status(exc))
    except KeyboardInterrupt:
        fail("interrupted (Ctrl-C); nothing half-written was left: outputs are only moved into place when "
             "complete", INTERRUPTED)


# ----------------------------------------------------------------------------- entry points
def _run_method(method_cls, source) -> None:
    from resad_tf import pipeline, runtime

    opts = from_flags(pipeline.RunOptions)
    runtime.configure(opts.intra_op_threads, opts.inter_op_threads, opts.device)
    result = pipeline.run(method_cls, from_flags(method_cls.Config), opts, source=source)
    summary = ", ".join(f"{k}={result[k]:.3f}" for k in ("auc", "max_sic") if k in result)
    print(f"{method_cls.name}: {summary or 'no labelled test set'}; results in {pipeline.output_dir(method_cls, opts)}/")


def main(method_cls, source=None) -> None:
    """Entry point of ``bin/<method>``: the run options' and the method's flags, then the pipeline.

    ``source`` replaces the default data source (:func:`resad_tf.pipeline.features_source`),
    e.g. :func:`resad_tf.methods.sparse_ae.constituents_source`.
    """
    import inspect

    from resad_tf.pipeline import RunOptions

    names = define_flags(RunOptions) + define_flags(method_cls.Config)
    for name in names:  # list them in the script's --help (absl shows the main module's key flags)
        FLAGS.register_key_flag_for_module(sys.argv[0], FLAGS[name])
    sys.modules["__main__"].__doc__ = (
        f"{inspect.getmodule(method_cls).__doc__}\nUsage: {pathlib.Path(sys.argv[0]).name} --data=toy|PATH "
        f"--sr=lo,hi --n_sig=N --seed=S --output_dir=DIR [--flagfile=configs/{method_cls.name}.flags]\n"
    )
    run = functools.partial(_run_method, method_cls, source)
    app.run(lambda argv: _guarded(run, argv), flags_parser=parse_flags)


def run_script(main_fn) -> None:
    """Entry point of a script that is not a method (make_dataset, download, scan, ...).

    ``main_fn()`` reads the absl FLAGS it defined; a flag-parsing error, a stray
    positional argument or an InputError it raises become one line on stderr
    and exit status 2, another resad_tf error one line and exit status 1.
    """
    app.run(lambda argv: _guarded(main_fn, argv), flags_parser=parse_flags)
