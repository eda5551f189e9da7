"""Process-wide settings in one place: seeds, determinism, logging verbosity.

``seed_everything(seed)`` seeds Python, numpy, TensorFlow and Keras and turns
on TensorFlow's op determinism, so the same seed gives the same scores on CPU.
"""

from __future__ import annotations

import os
import random

import numpy as np


def quiet_tensorflow() -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")


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
