"""The one training loop for every flow: weighted maximum likelihood with Adam(W).

:func:`train` minimises the (weighted) mean negative log-likelihood of
``x`` given ``context`` with mini-batches shuffled by ``seed``, evaluates the
validation loss after each epoch, keeps per-epoch weight checkpoints for
ensembling, optionally stops early, and leaves the flow holding the weights of
the best validation epoch.

With ``jit_compile`` each epoch is one XLA-compiled graph call (:func:`_make_epoch`):
the steps run in a ``tf.while_loop`` over the shuffled indices; without, one graph
call per step.  Either way the loss is summed on the device and read once per epoch.

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
import time
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf
import tf_keras
from tqdm.auto import tqdm

from resad_tf.errors import InputError, TrainingDiverged
from resad_tf.flows.flow import ConditionalFlow
from resad_tf.flows.protocol import TrainableDensity
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
    learning_rate: float = float("nan")  # final (peak) learning rate (lower after NaN restarts)
    stopped_early: bool = False
    seconds: list[float] = field(default_factory=list)  # wall time from the call to each epoch's end

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


class LearningRate(tf_keras.optimizers.schedules.LearningRateSchedule):
    """The learning rate per optimizer step: ``constant``, or ``cosine`` (linear warm-up, then cosine decay).

    ``cosine`` rises linearly from ``peak / warmup_steps`` to ``peak`` over the first
    ``warmup_steps`` steps, then decays as ``peak * (1 + cos(pi * t)) / 2`` to 0 at
    ``total_steps`` (t the fraction of the decay phase done).  ``peak`` is a variable:
    a NaN restart halves it, and the schedule keeps its shape.

    >>> lr = LearningRate(1e-3, "cosine", total_steps=100, warmup_steps=10)
    >>> [round(float(lr(s)), 6) for s in (0, 9, 55, 100)]
    [0.0001, 0.001, 0.0005, 0.0]
    """

    KINDS = ("constant", "cosine")

    def __init__(self, peak: float, kind: str = "constant", total_steps: int = 1, warmup_steps: int = 0):
        if kind not in self.KINDS:
            raise InputError(f"lr_schedule={kind!r}: use one of {', '.join(self.KINDS)}")
        self.peak = tf.Variable(float(peak), trainable=False, dtype=tf.float32, name="peak_learning_rate")
        self.kind, self.total, self.warmup = kind, max(int(total_steps), 1), max(int(warmup_steps), 0)

    def __call__(self, step):
        if self.kind == "constant":
            return tf.identity(self.peak)
        step = tf.cast(step, tf.float32)
        warm = (step + 1.0) / max(self.warmup, 1)
        t = tf.clip_by_value((step - self.warmup) / max(self.total - self.warmup, 1), 0.0, 1.0)
        decay = 0.5 * (1.0 + tf.cos(math.pi * t))
        return self.peak * tf.where(step < self.warmup, warm, decay)

    def get_config(self):
        return dict(peak=float(self.peak.numpy()), kind=self.kind, total_steps=self.total,
                    warmup_steps=self.warmup)


def _make_optimizer(variables, learning_rate):
    """Adam with fused per-variable updates (tf_keras legacy: one op per variable).

    The newer tf_keras/Keras 3 Adam(W) emit ~20 graph ops per variable, which
    dominates a step of a 15-block flow on CPU.  Slots are created here, eagerly,
    so the optimizer state can be snapshotted before the first step.
    ``learning_rate``: a :class:`LearningRate` (the weight decay reads its value per step).
    """
    optimizer = tf_keras.optimizers.legacy.Adam(learning_rate=learning_rate)
    optimizer._create_all_weights(variables)
    return optimizer


def _make_step(model: TrainableDensity, optimizer, weight_decay: float):
    """One optimizer step on a batch; returns the batch's weighted NLL sum (a tensor, no host sync)."""
    variables = model.trainable_variables

    def step(x, c, w):
        with tf.GradientTape() as tape:
            weighted_nll = -tf.reduce_sum(w * model.log_prob_tensor(x, c, training=True))
            loss = weighted_nll / tf.reduce_sum(w)
        grads = tape.gradient(loss, variables)
        if weight_decay:  # decoupled (AdamW): w <- w - lr * decay * w, before the Adam step
            lr = optimizer.learning_rate(optimizer.iterations)  # a LearningRate: this step's value
            for v in variables:
                v.assign_sub(lr * weight_decay * v)
        # apply_gradients also re-applies the MADE mask constraints
        optimizer.apply_gradients(zip(grads, variables))
        return weighted_nll

    return step


def _make_epoch(model: TrainableDensity, optimizer, weight_decay: float, n_batches: int, batch_size: int,
                jit_compile: bool):
    """One epoch: ``epoch(x, c, w, perm)`` runs ``n_batches`` steps on the batches ``perm[0:b], perm[b:2b],
    ...`` and returns the summed weighted NLL (float64, summed on the device: one host read per epoch).

    With ``jit_compile`` the whole epoch is one XLA-compiled graph call, its steps in a
    ``tf.while_loop`` (all shapes fixed: one compilation per :func:`train` call; it stops at the first
    non-finite batch loss).  Without, one graph call per step.  Measured end to end on 2 cores at batch 256 (15 x 128 MAF
    + batch norm, bench/results/flow_vs_reference.md): under XLA 3.1x the samples/s of one
    compiled call per step; without XLA about the same (the step's ops are the cost there).
    """
    step = _make_step(model, optimizer, weight_decay)
    if not jit_compile:
        # Without XLA, one graph call per step on shapes left open (batch dimension None): traced on
        # the fixed batch shape, or inside one loop over the epoch, TensorFlow's CPU kernels gave
        # weights that differed in the last bits from run to run (measured on R-ANODE's signal
        # mixture with 2 inter-op threads), and the whole-epoch graph gains nothing here (above).
        spec = [tf.TensorSpec([None, model.dim], tf.float32), tf.TensorSpec([None, model.context_dim], tf.float32),
                tf.TensorSpec([None], tf.float32)]
        graph_step = tf.function(step, input_signature=spec)

        def epoch(x, c, w, perm):
            total = tf.constant(0.0, tf.float64)
            for i in range(n_batches):
                idx = perm[i * batch_size:(i + 1) * batch_size]
                total += tf.cast(graph_step(tf.gather(x, idx), tf.gather(c, idx), tf.gather(w, idx)), tf.float64)
            return total

        return epoch

    @tf.function(jit_compile=True)
    def epoch(x, c, w, perm):
        batches = tf.reshape(perm[: n_batches * batch_size], [n_batches, batch_size])
        total = tf.constant(0.0, tf.float64)
        for i in tf.range(n_batches):
            idx = batches[i]
            total += tf.cast(step(tf.gather(x, idx), tf.gather(c, idx), tf.gather(w, idx)), tf.float64)
            if not tf.math.is_finite(total):
                break
        return total

    return epoch


def _make_validation(model: TrainableDensity, chunk: int = 65536):
    """Weighted mean NLL in inference mode, in row chunks of one graph (and one host read) each."""

    @tf.function(input_signature=[tf.TensorSpec([None, model.dim], tf.float32),
                                  tf.TensorSpec([None, model.context_dim], tf.float32),
                                  tf.TensorSpec([None], tf.float32)])
    def weighted_nll(x, c, w):
        return -tf.reduce_sum(tf.cast(w * model.log_prob_tensor(x, c), tf.float64))

    def mean(x, c, w):
        total = sum(float(weighted_nll(x[i:i + chunk], c[i:i + chunk], w[i:i + chunk]))
                    for i in range(0, x.shape[0], chunk))
        return total / float(tf.reduce_sum(tf.cast(w, tf.float64)))

    return mean


def _keep(history: FlowHistory, keep_epochs: int, last: int) -> None:
    """Drop checkpoints outside the best ``keep_epochs`` by val loss (the last always stays)."""
    ranked = sorted(history.checkpoints, key=lambda e: history.val_loss[e])
    for e in ranked[keep_epochs:]:
        if e != last:
            del history.checkpoints[e]


def train(
    flow: TrainableDensity,
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
    lr_schedule: str = "constant",
    warmup_epochs: float = 0.0,
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
        flow: a :class:`ConditionalFlow` or any :class:`~resad_tf.flows.protocol.TrainableDensity`
            (modified in place; it ends holding the best-validation-epoch weights).
        x, context: training features (n, dim) and context (n, context_dim) or (n,).
        x_val, context_val: validation sample for the per-epoch loss, early
            stopping and checkpoint ranking.
        weight, weight_val: optional per-event weights (default 1).
        epochs, batch_size, learning_rate: Adam settings (``learning_rate``: the peak of a schedule).
            Every step sees a full batch: an epoch covers ``n - n % batch_size`` events of a fresh
            shuffle (the rest are left out of that epoch only).
        lr_schedule: ``"constant"``, or ``"cosine"``: linear warm-up over ``warmup_epochs``, then
            cosine decay to 0 at the end of ``epochs`` (:class:`LearningRate`).
        warmup_epochs: length of the cosine schedule's warm-up, in epochs (fractions allowed).
        weight_decay: decoupled (AdamW-style) weight decay: w -= learning_rate * decay * w.
        patience: stop after this many epochs without a new best val loss.
        keep_epochs: checkpoints kept (best by val loss; the last is kept too).
        seed: batch shuffling; same seed and data give the same history on CPU.
        max_retries: NaN/inf restarts (each halves the learning rate) before giving up.
        jit_compile: XLA-compile the training epoch (seconds to compile; see
            bench/results/flow_throughput.md for when it pays).
        verbose: show a tqdm bar over epochs.
    """
    if int(epochs) < 1 or int(batch_size) < 1 or not learning_rate > 0:
        raise InputError(
            f"epochs={epochs}, batch_size={batch_size}, learning_rate={learning_rate}: "
            "all must be positive"
        )
    if int(keep_epochs) < 1 or weight_decay < 0 or warmup_epochs < 0:
        raise InputError(
            f"keep_epochs={keep_epochs}, weight_decay={weight_decay}, warmup_epochs={warmup_epochs}: "
            "need >= 1, >= 0 and >= 0"
        )
    x, c, w = _checked(x, context, weight, flow.dim, flow.context_dim, "training sample")
    xv, cv, wv = _checked(x_val, context_val, weight_val, flow.dim, flow.context_dim,
                          "validation sample")
    # every batch full (one shape: one trace, one XLA compilation); the n % batch_size events left
    # over differ from epoch to epoch (a fresh shuffle each time), as PyTorch's drop_last
    n, batch_size = x.shape[0], min(int(batch_size), x.shape[0])
    steps_per_epoch = n // batch_size
    schedule = LearningRate(learning_rate, lr_schedule, total_steps=int(epochs) * steps_per_epoch,
                            warmup_steps=round(float(warmup_epochs) * steps_per_epoch))
    optimizer = _make_optimizer(flow.trainable_variables, schedule)
    run_epoch = _make_epoch(flow, optimizer, float(weight_decay), steps_per_epoch, batch_size, jit_compile)
    validation_nll = _make_validation(flow)
    rng = np.random.default_rng(seed)
    history = FlowHistory()
    retries, since_best = 0, 0

    started = time.perf_counter()
    bar = tqdm(total=int(epochs), desc="flow", unit="epoch", disable=not verbose)
    epoch = 0
    while epoch < int(epochs):
        # the state to go back to if this epoch produces a non-finite loss
        good_state = (flow.get_weights(), [v.numpy() for v in optimizer.variables()])
        perm = rng.permutation(n)
        used_w = float(np.sum(w.numpy()[perm[: steps_per_epoch * batch_size]], dtype=np.float64))
        train_loss = float(run_epoch(x, c, w, tf.constant(perm))) / used_w
        val_loss = validation_nll(xv, cv, wv) if math.isfinite(train_loss) else math.nan
        if not (math.isfinite(train_loss) and math.isfinite(val_loss)):
            retries += 1
            if retries > max_retries:
                raise TrainingDiverged(
                    f"flow training diverged (non-finite loss) in epoch {epoch} even after "
                    f"{max_retries} restarts with halved learning rates; lower learning_rate "
                    f"(now {float(schedule.peak.numpy()):.3g}) or check the inputs' scale"
                )
            flow.set_weights(good_state[0])
            for v, value in zip(optimizer.variables(), good_state[1]):
                v.assign(value)
            schedule.peak.assign(schedule.peak / 2)
            log.warning(
                "non-finite flow loss in epoch %d: restored the weights from the start of the "
                "epoch and halved the learning rate to %.3g (restart %d of %d)",
                epoch, float(schedule.peak.numpy()), retries, max_retries,
            )
            continue
        history.train_loss.append(train_loss)
        history.val_loss.append(val_loss)
        history.seconds.append(time.perf_counter() - started)
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
    history.learning_rate = float(schedule.peak.numpy())
    return history
