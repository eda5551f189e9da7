"""ConditionalFlow: a normalised density, exact inverses, consistent sampling."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf
from scipy import stats

from resad_tf.errors import InputError
from resad_tf.flows import ConditionalFlow

TRANSFORMS = ["affine", "rqs"]


def tiny(dim, transform, **kw):
    kw = dict(n_blocks=3, hidden_units=(16,), transform=transform, spline_bound=4.0) | kw
    return ConditionalFlow(dim=dim, **kw)


def not_standard_normal(flow, x, m, normal_logpdf):
    """The perturbed flow must be far from N(0, 1), or the tests below prove little."""
    diff = np.abs(np.exp(flow.log_prob(x, m).numpy()) - np.exp(normal_logpdf(x)))
    assert diff.max() > 0.05


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_density_integrates_to_one_in_1d(transform, make_perturbed, normal_logpdf):
    flow = make_perturbed(tiny(1, transform), 0.25)
    grid = np.linspace(-30, 30, 60001)[:, None]
    for m in (-1.0, 1.5):
        ctx = np.full(len(grid), m)
        not_standard_normal(flow, grid, ctx, normal_logpdf)
        p = np.exp(flow.log_prob(grid, ctx).numpy())
        assert np.trapezoid(p, grid[:, 0]) == pytest.approx(1.0, abs=1e-3)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_density_integrates_to_one_in_2d(transform, make_perturbed, normal_logpdf):
    flow = make_perturbed(tiny(2, transform, batch_norm=True), 0.1)
    axis = np.linspace(-12, 12, 481)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    grid = np.column_stack([xx.ravel(), yy.ravel()])
    ctx = np.full(len(grid), 0.7)
    not_standard_normal(flow, grid, ctx, normal_logpdf)
    p = np.exp(flow.log_prob(grid, ctx).numpy()).reshape(xx.shape)
    assert np.trapezoid(np.trapezoid(p, axis, axis=1), axis) == pytest.approx(1.0, abs=2e-3)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_inverse_forward_and_log_det_agree_with_autodiff(transform, make_perturbed,
                                                        normal_logpdf):
    flow = make_perturbed(tiny(3, transform, batch_norm=True, context_dim=2), 0.2)
    rng = np.random.default_rng(1)
    x = rng.normal(0, 1.5, (64, 3)).astype(np.float32)
    ctx = rng.normal(size=(64, 2)).astype(np.float32)
    z = flow.inverse(x, ctx)
    np.testing.assert_allclose(flow.forward(z, ctx).numpy(), x, atol=1e-3)
    xt = tf.constant(x)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(xt)
        zt = flow._inverse(xt, tf.constant(ctx))  # eager: much faster to differentiate
        rows = [tf.reduce_sum(zt[:, i]) for i in range(3)]
    # events are independent (batch norm in inference mode): row i of each event's Jacobian
    jacobian = np.stack([tape.gradient(r, xt).numpy() for r in rows], axis=1)
    _, log_det = np.linalg.slogdet(jacobian)
    expected = normal_logpdf(z.numpy()) + log_det
    np.testing.assert_allclose(flow.log_prob(x, ctx).numpy(), expected, atol=2e-3)


@pytest.mark.parametrize("transform", TRANSFORMS)
def test_samples_follow_the_density(transform, make_perturbed):
    flow = make_perturbed(tiny(1, transform), 0.25, seed=3)
    m = 0.4
    grid = np.linspace(-30, 30, 60001)
    pdf = np.exp(flow.log_prob(grid[:, None], np.full(len(grid), m)).numpy())
    cdf = np.concatenate([[0], np.cumsum((pdf[1:] + pdf[:-1]) / 2 * np.diff(grid))])
    samples = flow.sample(3000, np.full(3000, m), seed=7).numpy()[:, 0]
    assert stats.kstest(samples, lambda s: np.interp(s, grid, cdf / cdf[-1])).pvalue > 1e-3
    # and they are not simply standard normal
    assert stats.kstest(samples, "norm").pvalue < 1e-3


def test_sampling_is_seeded():
    flow = tiny(2, "affine")
    m = np.linspace(-1, 1, 5)
    a, b = flow.sample(5, m, seed=4).numpy(), flow.sample(5, m, seed=4).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, flow.sample(5, m, seed=5).numpy())
    np.testing.assert_array_equal(flow.sample(5, m, seed=np.random.default_rng(9)),
                                  flow.sample(5, m, seed=np.random.default_rng(9)))


def test_config_rebuilds_the_same_flow():
    flow = tiny(2, "rqs", n_bins=5, permutation="random", seed=11)
    config = json.loads(json.dumps(flow.get_config()))
    twin = ConditionalFlow.from_config(config)
    x, m = np.random.default_rng(0).normal(size=(10, 2)), np.linspace(-1, 1, 10)
    np.testing.assert_array_equal(flow.log_prob(x, m), twin.log_prob(x, m))
    other = ConditionalFlow.from_config(config | {"seed": 12})
    assert not np.allclose(flow.log_prob(x, m), other.log_prob(x, m))


def test_trainable_variables_cover_every_made_weight():
    flow = tiny(2, "affine", batch_norm=True)
    # per MADE: masked kernel + bias + context kernel for the hidden and the output layer
    assert len(flow.trainable_variables) == 3 * 6 + 2 * 2  # + BN gamma/beta after blocks 1, 2
    assert len(flow.variables) == len(flow.trainable_variables) + 2 * 2  # + moving mean/var


def test_set_weights_round_trip_and_mismatch():
    a, b = tiny(2, "affine", seed=0), tiny(2, "affine", seed=1)
    b.set_weights(a.get_weights())
    x, m = np.ones((3, 2)), np.zeros(3)
    np.testing.assert_array_equal(a.log_prob(x, m), b.log_prob(x, m))
    with pytest.raises(InputError, match="same config"):
        tiny(2, "affine", n_blocks=2).set_weights(a.get_weights())


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"transform": "glow"}, "transform"),
        ({"permutation": "shuffle"}, "permutation"),
        ({"n_blocks": 0}, "n_blocks"),
        ({"transform": "rqs", "n_bins": 1}, "n_bins"),
    ],
)
def test_bad_arguments_raise_input_error(kwargs, match):
    with pytest.raises(InputError, match=match):
        ConditionalFlow(dim=2, **kwargs)


def test_bad_shapes_raise_input_error():
    flow = tiny(2, "affine")
    with pytest.raises(InputError, match=r"expects \(n, 2\)"):
        flow.log_prob(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(InputError, match="4 events"):
        flow.log_prob(np.zeros((4, 2)), np.zeros(5))
    with pytest.raises(InputError, match="context"):
        flow.sample(3, np.zeros((3, 2)))


def test_large_inputs_are_chunked_with_identical_results():
    from resad_tf.flows.inputs import CHUNK

    flow = ConditionalFlow(dim=2, n_blocks=2, hidden_units=(8,), seed=3)
    rng = np.random.default_rng(0)
    n = 2 * CHUNK + 123  # three chunks, the last one partial
    x, m = rng.normal(size=(n, 2)).astype(np.float32), rng.uniform(-1, 1, (n, 1)).astype(np.float32)
    whole = flow._log_prob_fn(tf.constant(x), tf.constant(m)).numpy()  # one graph call
    np.testing.assert_allclose(flow.log_prob(x, m).numpy(), whole, rtol=1e-5, atol=1e-5)
    z = flow.inverse(x, m)
    np.testing.assert_allclose(flow.forward(z, m).numpy(), x, atol=1e-4)
    assert flow.sample(n, m, seed=1).shape == (n, 2)


def test_sampling_memory_stays_bounded(tmp_path):
    """Sampling 200k events from the 15 x 128 flow: one graph call held ~6 GB of MADE projections."""
    code = textwrap.dedent("""
        import resource
        import numpy as np
        from resad_tf.flows import ConditionalFlow
        flow = ConditionalFlow(dim=4, n_blocks=15, hidden_units=(128,))
        m = np.random.default_rng(0).uniform(-1, 1, 200_000)
        flow.sample(1000, m[:1000], seed=0)  # trace
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        flow.sample(len(m), m, seed=0).numpy()
        print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1e6)
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(r.stdout.split()[-1]) < 1.0  # GB of peak-RSS growth
