"""Conditional normalizing flows p(x | context) on TensorFlow Probability.

* :class:`ConditionalFlow` - MAF (affine) or rational-quadratic-spline flow, a ``tf.Module``
* :func:`train` / :class:`FlowHistory` - the one training loop (AdamW-style, learning-rate
  schedules (:class:`LearningRate`), early stopping, NaN recovery, per-epoch checkpoints);
  :class:`TrainableDensity` - what it needs from a model (the public density-training protocol)
* :func:`ensemble_log_prob` / :func:`ensemble_sample` - the mixture of checkpoints (density, samples);
  :func:`save_ensemble` / :func:`load_ensemble` - a flow with its checkpoints on disk
* :func:`export` / :func:`load` - SavedModel usable with plain ``tf.saved_model.load``
* :class:`MjjDensity` - KDE of m_jj in the signal region (sampling SR masses)

Submodules are imported on first use, so ``from resad_tf.flows import load``
does not pull in TFP or Keras.
"""

import importlib

_WHERE = {
    "ConditionalFlow": "flow",
    "train": "training",
    "FlowHistory": "training",
    "mean_nll": "training",
    "LearningRate": "training",
    "TrainableDensity": "protocol",
    "ensemble_log_prob": "ensemble",
    "ensemble_sample": "ensemble",
    "save_ensemble": "ensemble",
    "load_ensemble": "ensemble",
    "export": "savedmodel",
    "load": "savedmodel",
    "LoadedFlow": "savedmodel",
    "MjjDensity": "mjj",
}
__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
