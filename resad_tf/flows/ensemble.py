"""Ensembling a flow over training checkpoints: p(x|c) = mean_k p_k(x|c).

Averaging the densities of the best few epochs (``FlowHistory.best_checkpoints``)
smooths the epoch-to-epoch jitter of a flow, as CATHODE and LaCATHODE do.
:func:`ensemble_sample` draws from that same mixture: each row picks one
checkpoint uniformly at random.

>>> import numpy as np
>>> from resad_tf.flows import ConditionalFlow
>>> flow = ConditionalFlow(dim=2, n_blocks=2, hidden_units=(8,))
>>> x, m = np.zeros((2, 2)), np.array([3.3, 3.6])
>>> w = flow.get_weights()
>>> bool(np.allclose(ensemble_log_prob(flow, [w, w], x, m), flow.log_prob(x, m), atol=1e-5))
True
"""

from __future__ import annotations

import contextlib
import math

import numpy as np
import tensorflow as tf

from resad_tf.errors import InputError


@contextlib.contextmanager
def _weights_restored(flow):
    """Let the body load checkpoints into ``flow``; its own weights come back afterwards."""
    current = flow.get_weights()
    try:
        yield
    finally:
        flow.set_weights(current)


def ensemble_log_prob(flow, checkpoints, x, context) -> tf.Tensor:
    """log of the mean over ``checkpoints`` (lists from ``flow.get_weights()``) of p(x | context).

    The flow's own weights are restored afterwards.
    """
    checkpoints = list(checkpoints)
    if not checkpoints:
        raise InputError("ensemble_log_prob needs at least one checkpoint")
    with _weights_restored(flow):
        log_probs = []
        for weights in checkpoints:
            flow.set_weights(weights)
            log_probs.append(flow.log_prob(x, context))
    return tf.reduce_logsumexp(tf.stack(log_probs), axis=0) - math.log(len(checkpoints))


def ensemble_sample(flow, checkpoints, context, seed=None) -> np.ndarray:
    """One x per ``context`` row from the mixture mean_k p_k(x | c) of ``checkpoints``.

    Each row is assigned to a checkpoint uniformly at random (by ``seed``), so the
    samples follow the density that :func:`ensemble_log_prob` evaluates.  The
    flow's own weights are restored afterwards.
    """
    checkpoints = list(checkpoints)
    if not checkpoints:
        raise InputError("ensemble_sample needs at least one checkpoint")
    context = np.asarray(context, np.float32)
    n = len(context)
    rng = np.random.default_rng(seed)
    which = rng.integers(len(checkpoints), size=n)
    out = np.empty((n, flow.dim), np.float32)
    with _weights_restored(flow):
        for k, weights in enumerate(checkpoints):
            rows = np.flatnonzero(which == k)
            if len(rows):
                flow.set_weights(weights)
                out[rows] = flow.sample(len(rows), context[rows], seed=int(rng.integers(2**31 - 1)))
    return out


def save_ensemble(flow, checkpoints, flow_dir, weights_file) -> None:
    """Write ``flow`` (its current weights) as a SavedModel to ``flow_dir`` and the weights of every
    checkpoint to the ``weights_file`` .npz (keys ``best_i``, ``ckpt{k}_i``): what :func:`load_ensemble`
    reads back."""
    from resad_tf.flows.savedmodel import export

    export(flow, flow_dir)
    arrays = {f"best_{i}": w for i, w in enumerate(flow.get_weights())}
    for k, ckpt in enumerate(checkpoints):
        arrays.update({f"ckpt{k}_{i}": w for i, w in enumerate(ckpt)})
    np.savez(weights_file, **arrays)


def load_ensemble(flow_dir, weights_file, n_checkpoints: int):
    """The flow (a trainable :class:`~resad_tf.flows.ConditionalFlow` with the saved weights) and its
    ``n_checkpoints`` checkpoint weights, from what :func:`save_ensemble` wrote."""
    import json
    import pathlib

    from resad_tf.flows.flow import ConditionalFlow
    from resad_tf.flows.savedmodel import CONFIG_FILE

    flow = ConditionalFlow.from_config(json.loads((pathlib.Path(flow_dir) / CONFIG_FILE).read_text()))
    with np.load(weights_file) as z:
        n_vars = sum(1 for k in z.files if k.startswith("best_"))
        flow.set_weights([z[f"best_{i}"] for i in range(n_vars)])
        checkpoints = [[z[f"ckpt{k}_{i}"] for i in range(n_vars)] for k in range(n_checkpoints)]
    return flow, checkpoints
