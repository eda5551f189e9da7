"""Process-wide settings in one place: seeds, determinism, threads, devices, logging.

``seed_everything(seed)`` seeds Python, numpy, TensorFlow and Keras and turns
on TensorFlow's op determinism, so the same seed gives the same scores on CPU.

``configure(intra_op_threads, inter_op_threads, device)`` sets TensorFlow's
thread pools and visible devices; it must run before TensorFlow executes its
first op (the scripts call it first thing).  One thread per op is the default
because the networks here are small: a step of the 15 x 128 background flow at
batch 256 is ~1000 tiny ops, and splitting each over the cores costs more in
synchronisation than it gains (on 2 cores, 1.2-1.5x the training samples/s
of TensorFlow's default, bench/results/flow_throughput.md).
"""

from __future__ import annotations

import os
import random

import numpy as np


def quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


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
    quiet_tensorflow()
    import tensorflow as tf

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
    quiet_tensorflow()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    import tensorflow as tf

    tf.random.set_seed(seed)
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    try:
        import keras

        keras.utils.set_random_seed(seed)
    except ImportError:  # pragma: no cover - keras is a dependency
        pass


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
