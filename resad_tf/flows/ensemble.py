"""Ensembling a flow over training checkpoints: p(x|c) = mean_k p_k(x|c).

Averaging the densities of the best few epochs (``FlowHistory.best_checkpoints``)
smooths the epoch-to-epoch jitter of a flow, as CATHODE and LaCATHODE do.

>>> import numpy as np
>>> from resad_tf.flows import ConditionalFlow
>>> flow = ConditionalFlow(dim=2, n_blocks=2, hidden_units=(8,))
>>> x, m = np.zeros((2, 2)), np.array([3.3, 3.6])
>>> w = flow.get_weights()
>>> bool(np.allclose(ensemble_log_prob(flow, [w, w], x, m), flow.log_prob(x, m), atol=1e-5))
True
"""

from __future__ import annotations

import math

import tensorflow as tf

from resad_tf.errors import InputError


def ensemble_log_prob(flow, checkpoints, x, context) -> tf.Tensor:
    """log of the mean over ``checkpoints`` (lists from ``flow.get_weights()``) of p(x | context).

    The flow's own weights are restored afterwards.
    """
    checkpoints = list(checkpoints)
    if not checkpoints:
        raise InputError("ensemble_log_prob needs at least one checkpoint")
    current = flow.get_weights()
    try:
        log_probs = []
        for weights in checkpoints:
            flow.set_weights(weights)
            log_probs.append(flow.log_prob(x, context))
    finally:
        flow.set_weights(current)
    return tf.reduce_logsumexp(tf.stack(log_probs), axis=0) - math.log(len(checkpoints))
