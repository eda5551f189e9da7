"""Process-wide settings in one place: seeds, determinism, threads, devices, logging.

Quiet by default, so that a script prints its own lines only: importing this
module (every script does, through :mod:`resad_tf.cli`) sets the quiet
TensorFlow environment and makes TensorFlow's first import, wherever it
happens, hold back the C++ lines it prints while loading
(:func:`quiet_tensorflow`).  ``set_verbosity(level)`` (the scripts call it with
absl's ``--verbosity`` once the flags are parsed) sets what TensorFlow's C++ log
and Python logging (Dask's) may print.

``seed_everything(seed)`` seeds Python, numpy, TensorFlow and Keras and turns
on TensorFlow's op determinism, so the same seed gives the same scores on CPU.

``configure(intra_op_threads, inter_op_threads, device)`` sets TensorFlow's
thread pools and visible devices; it must run before TensorFlow executes its
first op (the scripts call it first thing).  One thread per op is the default
because the networks here are small: a step of the 15 x 128 background flow at
batch 256 is ~1000 tiny ops, and splitting each over the cores costs more in
synchronisation than it gains (on 2 cores, 1.2-1.5x the training samples/s
of TensorFlow's default, bench/results/flow_throughput.md).

CPU-independent arithmetic (:func:`pin_numerics`, on by default, when this module
is imported, before numpy and TensorFlow load): oneDNN (TensorFlow's matrix
products), OpenBLAS (numpy's) and XLA pick their kernels by the CPU they run on, and
training amplifies the round-off in which they differ.  Pinned to the AVX2 kernels,
which every x86-64 CPU since 2013 (Intel Haswell, AMD Zen) has, the same seed gives
bit-identical scores on AVX2 and AVX-512 machines.  ``RESAD_CPU_INDEPENDENT=0`` in the
environment opts out (each library's fastest kernels for the CPU; docs/performance.md).
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.machinery
import os
import platform
import random
import sys
import tempfile

#: set ``RESAD_CPU_INDEPENDENT=0`` to let oneDNN, OpenBLAS and XLA use the CPU's newest instructions
CPU_INDEPENDENT_VAR = "RESAD_CPU_INDEPENDENT"

#: the kernel choices :func:`pin_numerics` fixes: the newest instruction set each library may use.  AVX2
#: (with FMA) is x86-64-v3, present on every Intel CPU since Haswell (2013) and every AMD Zen; TensorFlow
#: 2.21's wheels themselves need AVX only, and on an AVX-only CPU the libraries fall back to AVX kernels.
CPU_INDEPENDENT_ENV = {
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN: TensorFlow's MatMul/contractions (read at its first primitive)
    "OPENBLAS_CORETYPE": "Haswell",  # numpy's and scipy's OpenBLAS (read when the library loads)
}
#: XLA's CPU compiler (``jit_compile``, --flow_jit) targets the host's ISA unless capped
XLA_MAX_ISA_FLAG = "--xla_cpu_max_isa=AVX2"


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def cpu_independent() -> bool:
    """Whether this process runs with the pinned, CPU-independent kernels (:func:`pin_numerics`)."""
    return os.environ.get(CPU_INDEPENDENT_VAR, "1").strip().lower() not in ("0", "false", "no", "off")


def pin_numerics() -> dict:
    """Fix the kernel choices that depend on the CPU, unless ``RESAD_CPU_INDEPENDENT=0``; returns what it set.

    Environment variables, so they must be set before the libraries read them: OpenBLAS reads its
    core type when numpy loads, oneDNN its maximum ISA at its first computation, XLA its flags at
    its first compilation.  This runs when this module is imported, which every script does first
    (:mod:`resad_tf.cli`); processes started later (Dask's workers, subprocesses) inherit the
    environment.  A value the environment already sets is kept.  Only on x86-64; the OpenBLAS core
    type only where the CPU has AVX2 and FMA (Haswell kernels would fault elsewhere).  The tree
    ensembles need nothing here: each member is fitted and applied single-threaded
    (:class:`~resad_tf.models.trees.TreeEnsembleClassifier`), so their sums do not depend on the
    number of cores.
    """
    if not cpu_independent() or platform.machine().lower() not in ("x86_64", "amd64"):
        return {}
    flags = _cpu_flags()
    pinned = {}
    for var, value in CPU_INDEPENDENT_ENV.items():
        if var == "OPENBLAS_CORETYPE" and not {"avx2", "fma"} <= flags:
            continue
        pinned[var] = os.environ.setdefault(var, value)
    xla = os.environ.get("XLA_FLAGS", "")
    if "xla_cpu_max_isa" not in xla:
        os.environ["XLA_FLAGS"] = f"{xla} {XLA_MAX_ISA_FLAG}".strip()
    pinned["XLA_FLAGS"] = os.environ["XLA_FLAGS"]
    return pinned


pin_numerics()  # before numpy loads OpenBLAS (below) and before anything imports TensorFlow

import numpy as np  # noqa: E402


#: TF_CPP_MIN_LOG_LEVEL when --verbosity is not given: 3 hides TensorFlow's C++ ERROR lines too (with 2,
#: TF 2.21 still prints "E0000 ... cuda_platform.cc:52] failed call to cuInit" on a machine without a GPU);
#: its start-up INFO lines ("oneDNN custom operations are on", "Could not find cuda drivers") come before
#: TensorFlow reads the variable and are held back by :class:`_QuietTensorFlowImport` instead.
QUIET_TF_LOG_LEVEL = "3"


def set_verbosity(verbosity: int | None = None) -> None:
    """What may be printed besides the script's own lines; call it before TensorFlow is imported.

    ``verbosity`` is absl's ``--verbosity`` when given (``None``: not given).  Not given: Python
    logging shows WARNING and above (Dask's INFO lines, "Receive client connection ...", are
    dropped), TensorFlow's C++ log shows nothing (``TF_CPP_MIN_LOG_LEVEL=3``, unless the
    environment sets it) and its start-up lines are held back.  ``--verbosity=N`` given: Python
    logging at absl's level N (0 INFO, -1 WARNING, -2 ERROR, 1 DEBUG) and TensorFlow's C++ log
    at the same level (``TF_CPP_MIN_LOG_LEVEL = -N`` clipped to 0..3; 0 also shows the start-up lines).
    """
    import logging

    from absl.logging import converter

    if verbosity is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)
        level = logging.WARNING
    else:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = str(min(max(-int(verbosity), 0), 3))
        level = converter.absl_to_standard(min(max(int(verbosity), -3), 1))
    if os.environ["TF_CPP_MIN_LOG_LEVEL"] == "0":  # what TensorFlow printed while loading, if it was loaded
        for text in _HELD_BACK:
            os.write(2, text)
        _HELD_BACK.clear()
    logging.getLogger().setLevel(level)
    # Dask configures its loggers ("distributed.*") at INFO itself; workers inherit this setting
    os.environ["DASK_LOGGING__DISTRIBUTED"] = logging.getLevelName(level).lower()
    for name in ("distributed", "dask", "bokeh", "tornado"):
        logging.getLogger(name).setLevel(level)


#: what TensorFlow printed while it loaded (held back by :func:`_stderr_held`; shown by ``--verbosity=0``)
_HELD_BACK: list[bytes] = []


@contextlib.contextmanager
def _stderr_held():
    """Send file descriptor 2 (C++ writes to it directly) to a temporary file; keep what arrived.

    On an exception it is written out at once (an ImportError must show TensorFlow's reasons).
    """
    sys.stderr.flush()
    saved = os.dup(2)
    held = tempfile.TemporaryFile()
    os.dup2(held.fileno(), 2)
    ok = False
    try:
        yield
        ok = True
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        held.seek(0)
        text = held.read()
        held.close()
        if ok:
            _HELD_BACK.append(text)
        else:
            os.write(2, text)


class _QuietTensorFlowImport(importlib.abc.MetaPathFinder):
    """Makes the first ``import tensorflow``, wherever it happens, load with stderr held back.

    TensorFlow 2.21 writes "WARNING: All log messages before absl::InitializeLog() ...", the oneDNN
    notice and "Could not find cuda drivers" to file descriptor 2 while it loads, before it reads
    ``TF_CPP_MIN_LOG_LEVEL``: no setting stops them.  Some modules import TensorFlow at their top
    (bin/ranode's method), before any flag is parsed, so the hold-back cannot wait for the scripts'
    first call: it is installed when this module is imported (:func:`quiet_tensorflow`).
    """

    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow" or os.environ.get("TF_CPP_MIN_LOG_LEVEL") == "0":
            return None
        sys.meta_path.remove(self)  # once: returning a spec ends the search
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is not None and spec.loader is not None:
            load = spec.loader.exec_module

            def exec_module(module):
                with _stderr_held():
                    load(module)

            spec.loader.exec_module = exec_module
        return spec


def quiet_tensorflow() -> None:
    """The environment TensorFlow is imported with: quiet unless :func:`set_verbosity` asked otherwise.

    Runs when this module is imported (every script imports it through :mod:`resad_tf.cli` before
    anything imports TensorFlow; a Dask worker through the tasks' modules).
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", QUIET_TF_LOG_LEVEL)
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlowImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlowImport())


def import_tensorflow():
    """``import tensorflow`` with the quiet settings (:func:`quiet_tensorflow`); returns the module."""
    quiet_tensorflow()
    import tensorflow as tf

    return tf


DEVICES = ("auto", "cpu", "gpu")


def configure(intra_op_threads: int = 1, inter_op_threads: int = 0, device: str = "auto") -> None:
    """Thread pools and device visibility for this process (and the processes it starts).

    Args:
        intra_op_threads: threads that one op may use (0: TensorFlow's default, all cores).
        inter_op_threads: ops run concurrently (0: TensorFlow's default).
        device: ``"auto"`` (a GPU when TensorFlow sees one), ``"cpu"`` (hide the GPUs)
            or ``"gpu"`` (fail unless a GPU is visible).

    Raises InputError for a bad value, or when TensorFlow is already running with
    other thread settings (call it before any TensorFlow computation).
    """
    from resad_tf.errors import InputError

    if device not in DEVICES:
        raise InputError(f"device={device!r}: use one of {', '.join(DEVICES)}")
    if int(intra_op_threads) < 0 or int(inter_op_threads) < 0:
        raise InputError(
            f"intra_op_threads={intra_op_threads}, inter_op_threads={inter_op_threads}: "
            "need >= 0 (0 = TensorFlow's default)"
        )
    tf = import_tensorflow()
    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(intra_op_threads))
        tf.config.threading.set_inter_op_parallelism_threads(int(inter_op_threads))
        if device == "cpu":
            tf.config.set_visible_devices([], "GPU")
    except RuntimeError as exc:  # TensorFlow already initialised its runtime
        current = (tf.config.threading.get_intra_op_parallelism_threads(),
                   tf.config.threading.get_inter_op_parallelism_threads())
        if current != (int(intra_op_threads), int(inter_op_threads)) or device == "cpu":
            raise InputError(
                "runtime.configure must run before TensorFlow's first computation "
                f"(TensorFlow says: {exc})"
            ) from None
    # the environment reaches worker processes (Dask) that import TensorFlow afresh
    for var, n in (("TF_NUM_INTRAOP_THREADS", intra_op_threads),
                   ("TF_NUM_INTEROP_THREADS", inter_op_threads)):
        if int(n) > 0:
            os.environ[var] = str(int(n))
    if device == "gpu" and not tf.config.list_physical_devices("GPU"):
        raise InputError(
            "--device=gpu, but TensorFlow sees no GPU: check the CUDA driver "
            "(nvidia-smi) and, in Docker, run with --gpus all"
        )


def seed_everything(seed: int, deterministic: bool = True) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    tf = import_tensorflow()

    tf.random.set_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    try:
        import keras

        keras.utils.set_random_seed(seed)
    except ImportError:  # pragma: no cover - keras is a dependency
        pass


def numerics() -> dict:
    """How this process's arithmetic was chosen (for metrics.json): pinned or not, the CPU, the settings."""
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "")
    except OSError:
        pass
    out = {"cpu_independent": bool(cpu_independent()), "cpu": cpu or platform.machine()}
    for var in CPU_INDEPENDENT_ENV:
        out[var] = os.environ.get(var)
    out["XLA_FLAGS"] = os.environ.get("XLA_FLAGS")
    return out


def versions() -> dict:
    """Versions of the packages that determine a result (for metrics.json / manifests)."""
    import importlib.metadata as md

    import resad_tf

    out = {"resad_tf": resad_tf.__version__}
    for pkg in ("tensorflow", "tensorflow-probability", "keras", "numpy", "scikit-learn", "xgboost"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


quiet_tensorflow()
