"""train(): learns a known conditional density, is reproducible, survives NaNs."""

import logging

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from resad_tf.errors import InputError, TrainingDiverged
from resad_tf.flows import ConditionalFlow, LearningRate, ensemble_log_prob, ensemble_sample, mean_nll, train


def toy(n, seed):
    """x1 | m ~ N(2(m - 3.5), 0.3 + 0.7(m - 3)), x2 | x1 ~ N(x1 / 2, 0.4); m ~ U(3, 4) TeV.

    Returns x, the standardised context and the true log p(x | m).
    """
    rng = np.random.default_rng(seed)
    m = rng.uniform(3, 4, n)
    mu, sigma = 2 * (m - 3.5), 0.3 + 0.7 * (m - 3)
    x1 = rng.normal(mu, sigma)
    x2 = rng.normal(x1 / 2, 0.4)
    logp = stats.norm.logpdf(x1, mu, sigma) + stats.norm.logpdf(x2, x1 / 2, 0.4)
    return np.column_stack([x1, x2]), (m - 3.5) / 0.3, logp


def small_data(n=512, seed=0):
    x, c, _ = toy(n, seed)
    return dict(x=x, context=c, x_val=x[: n // 4], context_val=c[: n // 4])


@pytest.mark.parametrize(
    "transform, n_blocks, learning_rate",
    # one spline block can already represent the toy; TFP's spline is slow to trace and run
    [("affine", 3, 5e-3), ("rqs", 1, 1e-2)],
)
def test_learns_a_known_conditional_gaussian(transform, n_blocks, learning_rate):
    x, c, _ = toy(4000, seed=0)
    x_val, c_val, _ = toy(1500, seed=1)
    x_test, c_test, logp_test = toy(3000, seed=2)
    flow = ConditionalFlow(dim=2, n_blocks=n_blocks, hidden_units=(32,), transform=transform)
    history = train(flow, x, c, x_val=x_val, context_val=c_val, epochs=15,
                    learning_rate=learning_rate, verbose=False)
    assert history.val_loss[history.best_epoch] == min(history.val_loss)
    # mean log-likelihood close to the truth (the model can only be worse on average)
    assert np.mean(flow.log_prob(x_test, c_test)) == pytest.approx(np.mean(logp_test), abs=0.05)
    # conditional mean and width of x1 at two masses
    for m in (3.2, 3.8):
        s = flow.sample(6000, np.full(6000, (m - 3.5) / 0.3), seed=3).numpy()
        var1 = (0.3 + 0.7 * (m - 3)) ** 2
        assert np.mean(s[:, 0]) == pytest.approx(2 * (m - 3.5), abs=0.06)
        assert np.var(s[:, 0]) == pytest.approx(var1, rel=0.15)
        # x2 follows x1: corr = (var1 / 2) / sqrt(var1 * (var1 / 4 + 0.16))
        true_corr = (var1 / 2) / np.sqrt(var1 * (var1 / 4 + 0.16))
        assert np.corrcoef(s.T)[0, 1] == pytest.approx(true_corr, abs=0.05)
    # the MADE masks survived training: forward still inverts inverse
    z = flow.inverse(x_test[:200], c_test[:200])
    np.testing.assert_allclose(flow.forward(z, c_test[:200]), x_test[:200], atol=1e-3)


def test_weights_select_what_is_learned():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 0.5, 1500), rng.normal(2, 0.5, 1500)])[:, None]
    w = np.r_[np.ones(1500), np.zeros(1500)]
    c = np.zeros(3000)
    flow = ConditionalFlow(dim=1, n_blocks=2, hidden_units=(8,))
    train(flow, x, c, weight=w, x_val=x, context_val=c, weight_val=w, epochs=8,
          learning_rate=1e-2, verbose=False)
    lp = flow.log_prob([[-2.0], [2.0]], [0.0, 0.0]).numpy()
    assert lp[0] > lp[1] + 2
    expected = -np.sum(w * flow.log_prob(x, c).numpy()) / np.sum(w)
    assert mean_nll(flow, x, c, w) == pytest.approx(expected, rel=1e-5)


def test_same_seed_same_history_and_best_weights_kept():
    histories = []
    for seed in (5, 5, 6):
        flow = ConditionalFlow(dim=2, n_blocks=2, hidden_units=(8,), seed=1)
        h = train(flow, **small_data(), epochs=4, batch_size=64, learning_rate=1e-2,
                  keep_epochs=2, seed=seed, verbose=False)
        histories.append(h)
    a, b, other = histories
    assert a.train_loss == b.train_loss and a.val_loss == b.val_loss
    assert a.train_loss != other.train_loss
    assert a.best_epoch == int(np.argmin(a.val_loss))
    kept = sorted(np.argsort(a.val_loss)[:2].tolist() + [3])
    assert sorted(set(kept)) == sorted(a.checkpoints)
    # the flow ends on the best epoch's weights: its val loss is reproduced
    data = small_data()
    flow.set_weights(other.checkpoints[other.best_epoch])
    assert mean_nll(flow, data["x_val"], data["context_val"]) == pytest.approx(
        other.val_loss[other.best_epoch], rel=1e-5)


def test_patience_stops_when_nothing_improves():
    flow = ConditionalFlow(dim=2, n_blocks=2, hidden_units=(8,))
    h = train(flow, **small_data(), epochs=20, learning_rate=1e-30, patience=2, verbose=False)
    assert h.stopped_early and len(h.val_loss) == 3 and h.best_epoch == 0


def poisoned_flow(bad_steps, **kwargs):
    """A flow whose training loss (and gradients) turn NaN on the given optimiser steps."""
    counter = tf.Variable(0, trainable=False)  # closure, not an attribute: never restored

    class Poisoned(ConditionalFlow):
        def log_prob_tensor(self, x, c, training=False):
            lp = super().log_prob_tensor(x, c, training)
            if not training:
                return lp
            step = counter.assign_add(1)
            bad = (step >= bad_steps[0]) & (step < bad_steps[1])
            return lp * tf.where(bad, np.float32(np.nan), np.float32(1.0))

    return Poisoned(**kwargs)


def test_recovers_from_a_nan_step(caplog):
    flow = poisoned_flow((6, 7), dim=2, n_blocks=2, hidden_units=(8,))
    with caplog.at_level(logging.WARNING, logger="resad_tf.flows.training"):
        h = train(flow, **small_data(), epochs=3, batch_size=128, learning_rate=1e-3,
                  verbose=False)
    assert len(h.train_loss) == 3 and np.all(np.isfinite(h.train_loss + h.val_loss))
    assert h.learning_rate == pytest.approx(5e-4)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "halved the learning rate" in warnings[0]
    assert all(np.all(np.isfinite(w)) for w in flow.get_weights())


def test_gives_up_when_the_loss_stays_nan():
    flow = poisoned_flow((3, 10**9), dim=2, n_blocks=2, hidden_units=(8,))
    with pytest.raises(TrainingDiverged, match="flow training diverged.*lower learning_rate"):
        train(flow, **small_data(), epochs=3, batch_size=128, max_retries=2, verbose=False)


def test_ensemble_log_prob():
    flow = ConditionalFlow(dim=2, n_blocks=2, hidden_units=(8,))
    h = train(flow, **small_data(), epochs=3, learning_rate=1e-2, verbose=False)
    x, c, _ = toy(50, seed=9)
    best = flow.get_weights()
    lp = flow.log_prob(x, c).numpy()
    np.testing.assert_allclose(ensemble_log_prob(flow, [best] * 3, x, c), lp, atol=1e-5)
    per_epoch = []
    for weights in h.best_checkpoints(2):
        flow.set_weights(weights)
        per_epoch.append(flow.log_prob(x, c).numpy())
    flow.set_weights(best)
    expected = np.log(np.mean(np.exp(per_epoch), axis=0))
    np.testing.assert_allclose(ensemble_log_prob(flow, h.best_checkpoints(2), x, c), expected,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(flow.log_prob(x, c), lp)  # weights restored


def test_ensemble_sample_draws_from_the_checkpoint_mixture():
    """Two checkpoints, the second trained on shifted data: the mixture's samples match an equal mix."""
    flow = ConditionalFlow(dim=2, n_blocks=2, hidden_units=(8,), seed=0)
    d = small_data(2048)
    train(flow, **d, epochs=5, learning_rate=1e-2, verbose=False)
    near = flow.get_weights()
    train(flow, **dict(d, x=d["x"] + 4.0, x_val=d["x_val"] + 4.0), epochs=5, learning_rate=1e-2, verbose=False)
    far = flow.get_weights()
    c = np.zeros(20000, np.float32)
    x_near = ensemble_sample(flow, [near], c, seed=1)
    x_far = ensemble_sample(flow, [far], c, seed=1)
    assert np.all(x_far.mean(axis=0) - x_near.mean(axis=0) > 1.0)  # the two components differ
    mixed = ensemble_sample(flow, [near, far], c, seed=2)
    # an equal mix of the components, 10k each, vs the mixture sampler: two-sample KS per coordinate
    reference = np.concatenate([x_near[:10000], x_far[10000:]])
    for j in range(2):
        assert stats.ks_2samp(mixed[:, j], reference[:, j]).pvalue > 1e-3
        assert stats.ks_2samp(mixed[:, j], x_far[:, j]).pvalue < 1e-6
    np.testing.assert_array_equal(flow.get_weights()[0], far[0])  # weights restored
    np.testing.assert_array_equal(ensemble_sample(flow, [near, far], c, seed=2), mixed)  # seeded


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(x=np.full((512, 2), np.nan)), "NaN"),
        (dict(weight=np.zeros(512)), "sum to"),
        (dict(context=np.zeros(100)), "100 rows"),
        (dict(epochs=0), "epochs"),
    ],
)
def test_bad_training_input(change, match):
    flow = ConditionalFlow(dim=2, n_blocks=1, hidden_units=(4,))
    with pytest.raises(InputError, match=match):
        train(flow, **(small_data() | change), verbose=False)


def test_weight_decay_shrinks_the_weights():
    norms = []
    for decay in (0.0, 5.0):
        flow = ConditionalFlow(dim=2, n_blocks=1, hidden_units=(8,))
        train(flow, **small_data(), epochs=2, learning_rate=1e-2, weight_decay=decay,
              verbose=False)
        norms.append(sum(np.sum(w**2) for w in flow.get_weights()))
    assert norms[1] < 0.8 * norms[0]


def test_learning_rate_schedules():
    const = LearningRate(1e-3)
    assert [float(const(s)) for s in (0, 500)] == pytest.approx([1e-3, 1e-3])
    cos = LearningRate(1e-3, "cosine", total_steps=110, warmup_steps=10)
    values = np.array([float(cos(s)) for s in range(111)])
    np.testing.assert_allclose(values[:10], 1e-3 * np.arange(1, 11) / 10, rtol=1e-6)  # linear warm-up
    assert values[60] == pytest.approx(5e-4, rel=1e-5)  # half-way through the decay: half the peak
    assert values[110] == pytest.approx(0.0, abs=1e-12) and np.all(np.diff(values[10:]) <= 1e-12)
    cos.peak.assign(5e-4)  # a NaN restart halves the peak: the same shape, half the height
    assert float(cos(60)) == pytest.approx(2.5e-4, rel=1e-5)
    with pytest.raises(InputError, match="lr_schedule"):
        LearningRate(1e-3, "linear")


def test_cosine_schedule_learns_and_ends_at_zero():
    x, c, _ = toy(4000, seed=0)
    x_val, c_val, logp_val = toy(1500, seed=1)
    flow = ConditionalFlow(dim=2, n_blocks=3, hidden_units=(32,))
    h = train(flow, x, c, x_val=x_val, context_val=c_val, epochs=12, batch_size=256, learning_rate=1e-2,
              lr_schedule="cosine", warmup_epochs=1, verbose=False)
    assert h.learning_rate == pytest.approx(1e-2)  # the peak (no restarts)
    assert h.val_loss[h.best_epoch] == pytest.approx(-np.mean(logp_val), abs=0.06)
    # the last epoch ran at learning rates near 0: its loss barely differs from the one before
    assert abs(h.val_loss[11] - h.val_loss[10]) < 0.01
    assert len(h.seconds) == 12 and np.all(np.diff(h.seconds) > 0)


def test_xla_epoch_matches_the_graph_epoch():
    """jit_compile compiles the same loop (batch norm included): the same losses up to float rounding."""
    runs = []
    for jit in (False, True):
        flow = ConditionalFlow(dim=2, n_blocks=2, hidden_units=(8,), batch_norm=True, seed=1)
        runs.append(train(flow, **small_data(), epochs=3, batch_size=64, learning_rate=1e-2, seed=3,
                          jit_compile=jit, verbose=False))
    np.testing.assert_allclose(runs[1].train_loss, runs[0].train_loss, rtol=1e-4)
    np.testing.assert_allclose(runs[1].val_loss, runs[0].val_loss, rtol=1e-4)


def test_full_batches_only_and_a_batch_larger_than_the_sample():
    """Every step sees a full batch; the n % batch_size events left out differ between epochs."""
    d = small_data(500)  # 500 = 7 x 64 + 52
    flow = ConditionalFlow(dim=2, n_blocks=1, hidden_units=(4,))
    h = train(flow, **d, epochs=2, batch_size=64, learning_rate=1e-30, verbose=False)
    # lr ~ 0: the loss of an epoch is the mean NLL of the 448 events it used, close to all 500's
    assert h.train_loss[0] == pytest.approx(mean_nll(flow, d["x"], d["context"]), rel=0.05)
    h = train(flow, **d, epochs=1, batch_size=4096, verbose=False)  # one batch of all 500
    assert np.isfinite(h.train_loss[0])
