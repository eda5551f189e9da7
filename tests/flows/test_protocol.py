"""The density-training protocol: train() fits anything that implements TrainableDensity."""

import numpy as np
import pytest
import tensorflow as tf

from resad_tf.flows import ConditionalFlow, TrainableDensity, train
from resad_tf.methods.ranode import SignalMixture


class LinearGaussian(tf.Module):
    """x | c ~ N(a c + b, exp(s)^2): not a flow, three numbers, the protocol and nothing else."""

    dim, context_dim = 1, 1

    def __init__(self):
        super().__init__()
        self.a, self.b, self.s = (tf.Variable(0.0), tf.Variable(0.0), tf.Variable(0.0))

    def log_prob_tensor(self, x, c, training=False):
        z = (x[:, 0] - self.a * c[:, 0] - self.b) * tf.exp(-self.s)
        return -0.5 * z * z - self.s - 0.5 * np.log(2 * np.pi)

    def get_weights(self):
        return [v.numpy() for v in self.variables]

    def set_weights(self, weights):
        for v, w in zip(self.variables, weights):
            v.assign(w)


def test_the_models_implement_the_protocol():
    flow = ConditionalFlow(dim=2, n_blocks=1, hidden_units=(4,))
    assert isinstance(flow, TrainableDensity)
    assert isinstance(SignalMixture(flow, 0.1, learn_w=True), TrainableDensity)
    assert isinstance(LinearGaussian(), TrainableDensity)
    x, c = tf.zeros([3, 2]), tf.zeros([3, 1])
    np.testing.assert_allclose(flow.log_prob_tensor(x, c), flow.log_prob(x, c), rtol=1e-6)


def test_train_fits_any_trainable_density():
    rng = np.random.default_rng(0)
    c = rng.uniform(-1, 1, 4000)
    x = rng.normal(1.5 * c - 0.5, 0.3)[:, None]
    model = LinearGaussian()
    h = train(model, x, c, x_val=x[:1000], context_val=c[:1000], epochs=30, batch_size=200,
              learning_rate=0.05, lr_schedule="cosine", warmup_epochs=1, verbose=False)
    a, b, s = model.get_weights()
    assert (a, b, np.exp(s)) == pytest.approx((1.5, -0.5, 0.3), abs=0.03)
    assert h.best_epoch >= 0


def test_signal_mixture_density_is_the_mixture():
    flow = ConditionalFlow(dim=2, n_blocks=1, hidden_units=(4,))
    mixture = SignalMixture(flow, 0.2, learn_w=False)
    rng = np.random.default_rng(1)
    y = rng.normal(size=(5, 2)).astype(np.float32)
    m, log_pbg = rng.normal(size=(5, 1)).astype(np.float32), rng.normal(size=5).astype(np.float32)
    expected = np.log(0.2 * np.exp(flow.log_prob(y, m).numpy()) + 0.8 * np.exp(log_pbg))
    got = mixture.log_prob_tensor(tf.constant(y), tf.constant(np.column_stack([m, log_pbg])))
    np.testing.assert_allclose(got, expected, rtol=1e-5)
