"""The one training loop for every flow: weighted maximum likelihood with Adam(W).

:func:`train` minimises the (weighted) mean negative log-likelihood of
``x`` given ``context`` with mini-batches shuffled by ``seed``, evaluates the
validation loss after each epoch, keeps per-epoch weight checkpoints for
ensembling, optionally stops early, and leaves the flow holding the weights of
the best validation epoch.

Non-finite losses are survived: the flow and optimizer go back to the state at
the start of the epoch, the learning rate is halved (with a warning) and the
epoch is run again; after ``max_retries`` such restarts it gives up.

>>> import numpy as np
>>> from resad_tf.flows import ConditionalFlow
>>> rng = np.random.default_rng(0)
>>> m = rng.uniform(3, 4, 512); x = rng.normal(m[:, None] - 3.5, 1.0, (512, 2))
>>> flow = ConditionalFlow(dim=2, n_blocks=2, hidden_units=(8,))
>>> h = train(flow, x, m, x_val=x, context_val=m, epochs=2, verbose=False)
>>> len(h.val_loss), h.best_epoch in (0, 1)
(2, True)
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
import tf_keras
from tqdm.auto import tqdm

from resad_tf.errors import InputError, TrainingDiverged
from resad_tf.flows.flow import ConditionalFlow
from resad_tf.flows.inputs import as_context, as_features

log = logging.getLogger(__name__)



@dataclass
class FlowHistory:
    """Per-epoch losses (mean NLL, weighted) and weight checkpoints of one training run.

    ``checkpoints`` maps epoch -> ``flow.get_weights()`` at the end of that epoch,
    for the ``keep_epochs`` best epochs by validation loss plus the last one.
    """

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    best_epoch: int = -1
    checkpoints: dict[int, list[np.ndarray]] = field(default_factory=dict)
    learning_rate: float = float("nan")  # final learning rate (lower after NaN restarts)
    stopped_early: bool = False

    def best_checkpoints(self, k: int | None = None) -> list[list[np.ndarray]]:
        """Weights of the ``k`` kept epochs with the lowest validation loss (all if None)."""
        epochs = sorted(self.checkpoints, key=lambda e: self.val_loss[e])
        return [self.checkpoints[e] for e in epochs[:k]]


def _checked(x, context, weight, dim, context_dim, what):
    x = as_features(x, dim)
    c = as_context(context, x.shape[0], context_dim)
    w = np.ones(x.shape[0], np.float32) if weight is None else np.asarray(weight, np.float32)
    if w.shape != (x.shape[0],):
        raise InputError(f"{what}: weight has shape {w.shape}, expected ({x.shape[0]},)")
    if x.shape[0] == 0:
        raise InputError(f"{what}: no events")
    for name, arr in (("x", x), ("context", c), ("weight", w)):
        if not np.all(np.isfinite(np.asarray(arr))):
            raise InputError(f"{what}: {name} contains NaN or inf; clean the inputs first")
    if np.sum(w) <= 0:
        raise InputError(f"{what}: the weights sum to {np.sum(w)}; they must sum to > 0")
    return x, c, tf.constant(w)


def mean_nll(flow: ConditionalFlow, x, context, weight=None) -> float:
    """Weighted mean negative log-likelihood of ``x`` given ``context`` (inference mode)."""
    x, c, w = _checked(x, context, weight, flow.dim, flow.context_dim, "mean_nll")
    lp = flow.log_prob(x, c).numpy().astype(np.float64)  # log_prob runs in row chunks itself
    w = w.numpy().astype(np.float64)
    return float(-np.sum(w * lp) / np.sum(w))


def _make_optimizer(variables, learning_rate):
    """Adam with fused per-variable updates (tf_keras legacy: one op per variable).

    The newer tf_keras/Keras 3 Adam(W) emit ~20 graph ops per variable, which
    dominates a step of a 15-block flow on CPU.  Slots are created here, eagerly,
    so the optimizer state can be snapshotted before the first step.
    """
    optimizer = tf_keras.optimizers.legacy.Adam(learning_rate=learning_rate)
    optimizer._create_all_weights(variables)
    return optimizer


def _make_step(flow: ConditionalFlow, optimizer, weight_decay: float, jit_compile: bool):
    variables = flow.trainable_variables

    @tf.function(
        jit_compile=jit_compile,
        input_signature=[
            tf.TensorSpec([None, flow.dim], tf.float32),
            tf.TensorSpec([None, flow.context_dim], tf.float32),
            tf.TensorSpec([None], tf.float32),
        ],
    )
    def step(x, c, w):
        with tf.GradientTape() as tape:
            weighted_nll = -tf.reduce_sum(w * flow._log_prob(x, c, training=True))
            loss = weighted_nll / tf.reduce_sum(w)
        grads = tape.gradient(loss, variables)
        if weight_decay:  # decoupled (AdamW): w <- w - lr * decay * w, before the Adam step
            for v in variables:
                v.assign_sub(optimizer.learning_rate * weight_decay * v)
        # apply_gradients also re-applies the MADE mask constraints
        optimizer.apply_gradients(zip(grads, variables))
        return weighted_nll

    return step


def _keep(history: FlowHistory, keep_epochs: int, last: int) -> None:
    """Drop checkpoints outside the best ``keep_epochs`` by val loss (the last always stays)."""
    ranked = sorted(history.checkpoints, key=lambda e: history.val_loss[e])
    for e in ranked[keep_epochs:]:
        if e != last:
            del history.checkpoints[e]


def train(
    flow: ConditionalFlow,
    x,
    context,
    *,
    x_val,
    context_val,
    weight=None,
    weight_val=None,
    epochs: int = 100,
    batch_size: int = 256,
    learning_rate: float = 1e-4,
    weight_decay: float = 0.0,
    patience: int | None = None,
    keep_epochs: int = 10,
    seed: int = 0,
    max_retries: int = 3,
    jit_compile: bool = False,
    verbose: bool = True,
) -> FlowHistory:
    """Fit ``flow`` to p(x | context) by weighted maximum likelihood; returns the history.

    Args:
        flow: the :class:`ConditionalFlow` to train (modified in place; it ends
            holding the best-validation-epoch weights).
        x, context: training features (n, dim) and context (n, context_dim) or (n,).
        x_val, context_val: validation sample for the per-epoch loss, early
            stopping and checkpoint ranking.
        weight, weight_val: optional per-event weights (default 1).
        epochs, batch_size, learning_rate: Adam settings.
        weight_decay: decoupled (AdamW-style) weight decay: w -= learning_rate * decay * w.
        patience: stop after this many epochs without a new best val loss.
        keep_epochs: checkpoints kept (best by val loss; the last is kept too).
        seed: batch shuffling; same seed and data give the same history on CPU.
        max_retries: NaN/inf restarts (each halves the learning rate) before giving up.
        jit_compile: XLA-compile the training step (slow to compile; see
            bench/results/flow_throughput.md for when it pays).
        verbose: show a tqdm bar over epochs.
    """
    if int(epochs) < 1 or int(batch_size) < 1 or not learning_rate > 0:
        raise InputError(
            f"epochs={epochs}, batch_size={batch_size}, learning_rate={learning_rate}: "
            "all must be positive"
        )
    if int(keep_epochs) < 1 or weight_decay < 0:
        raise InputError(
            f"keep_epochs={keep_epochs}, weight_decay={weight_decay}: need >= 1 and >= 0"
        )
    x, c, w = _checked(x, context, weight, flow.dim, flow.context_dim, "training sample")
    xv, cv, wv = _checked(x_val, context_val, weight_val, flow.dim, flow.context_dim,
                          "validation sample")
    n, batch_size = x.shape[0], int(batch_size)
    optimizer = _make_optimizer(flow.trainable_variables, learning_rate)
    step = _make_step(flow, optimizer, float(weight_decay), jit_compile)
    sizes = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
    rng = np.random.default_rng(seed)
    history = FlowHistory()
    retries, since_best = 0, 0

    bar = tqdm(total=int(epochs), desc="flow", unit="epoch", disable=not verbose)
    epoch = 0
    while epoch < int(epochs):
        # the state to go back to if this epoch produces a non-finite loss
        good_state = (flow.get_weights(), [v.numpy() for v in optimizer.variables()])
        perm = tf.constant(rng.permutation(n))
        # one split op per epoch instead of three slicing ops per step
        batches = zip(*(tf.split(tf.gather(a, perm), sizes) for a in (x, c, w)))
        total = 0.0
        for xb, cb, wb in batches:
            total += float(step(xb, cb, wb))
            if not math.isfinite(total):
                break
        train_loss = total / float(tf.reduce_sum(w))
        val_loss = mean_nll(flow, xv, cv, wv) if math.isfinite(train_loss) else math.nan
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            retries += 1
            if retries > max_retries:
                raise TrainingDiverged(
                    f"flow training diverged (non-finite loss) in epoch {epoch} even after "
                    f"{max_retries} restarts with halved learning rates; lower learning_rate "
                    f"(now {float(optimizer.learning_rate):.3g}) or check the inputs' scale"
                )
            flow.set_weights(good_state[0])
            for v, value in zip(optimizer.variables(), good_state[1]):
                v.assign(value)
            new_lr = float(optimizer.learning_rate) / 2
            optimizer.learning_rate = new_lr
            log.warning(
                "non-finite flow loss in epoch %d: restored the weights from the start of the "
                "epoch and halved the learning rate to %.3g (restart %d of %d)",
                epoch, new_lr, retries, max_retries,
            )
            continue
        history.train_loss.append(train_loss)
        history.val_loss.append(val_loss)
        history.checkpoints[epoch] = flow.get_weights()
        _keep(history, int(keep_epochs), last=epoch)
        if history.best_epoch < 0 or val_loss < history.val_loss[history.best_epoch]:
            history.best_epoch, since_best = epoch, 0
        else:
            since_best += 1
        bar.update()
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val_loss:.4f}")
        epoch += 1
        if patience is not None and since_best >= int(patience):
            history.stopped_early = True
            break
    bar.close()
    flow.set_weights(history.checkpoints[history.best_epoch])
    history.learning_rate = float(optimizer.learning_rate)
    return history
