"""Density-estimation methods find a strong injected signal with small flows."""

import dataclasses

import numpy as np
import pytest

from resad_tf import metrics
from resad_tf.data import Regions
from resad_tf.errors import InputError
from resad_tf.methods.anode import ANODE, ANODEConfig
from resad_tf.methods.cathode import CATHODE, CATHODEConfig, LaCATHODE
from resad_tf.methods.ranode import RANODE, RANODEConfig

SMALL_FLOW = dict(n_blocks=3, flow_hidden=(32,), flow_epochs=6, flow_batch_size=512, flow_learning_rate=2e-3,
                  n_checkpoints=3)
FAST_TREES = dict(classifier="hgb", n_estimators=3, max_iter=100)


def _auc(method, regions):
    return metrics.auc(regions.test.label, method.score(regions.test))


def test_anode(toy_regions, tmp_path, assert_roundtrip):
    m = ANODE(ANODEConfig(**SMALL_FLOW), seed=0, verbose=False).fit(toy_regions)
    assert _auc(m, toy_regions) > 0.75
    assert_roundtrip(m, toy_regions, tmp_path / "anode")  # the checkpoint ensemble survives the export
    # the background density, interpolated into the SR, describes SR background better than SR signal
    bkg, sig = toy_regions.test.background(), toy_regions.test.signal()
    assert m.background_.log_prob(bkg).mean() > m.background_.log_prob(sig).mean()


def test_cathode_and_lacathode(toy_regions, tmp_path, assert_roundtrip):
    cfg = CATHODEConfig(**SMALL_FLOW, **FAST_TREES)
    cathode = CATHODE(cfg, seed=0, verbose=False).fit(toy_regions)
    assert len(cathode.samples_) == 4 * len(toy_regions.sr)
    assert _auc(cathode, toy_regions) > 0.8
    la = LaCATHODE(cfg, seed=0, verbose=False).fit(toy_regions)
    assert _auc(la, toy_regions) > 0.75
    assert_roundtrip(la, toy_regions, tmp_path / "lacathode")
    # the background flow loads with plain TensorFlow and gives the same latents
    import tensorflow as tf

    flow = tf.saved_model.load(str(tmp_path / "lacathode" / "background" / "flow"))
    ev = toy_regions.test.select(np.arange(20))
    bg = la.background_
    z = flow.inverse(tf.constant(bg.y(ev)), tf.constant(bg.context(ev.mjj)))
    np.testing.assert_allclose(z.numpy(), bg.latent(ev), rtol=1e-4, atol=1e-5)
    # background SR events map to (roughly) standard-normal latents
    z = la.background_.latent(toy_regions.test.background())
    assert np.all(np.abs(z.mean(0)) < 0.35) and np.all(np.abs(z.std(0) - 1) < 0.35)


def test_ranode_learns_signal_fraction(toy_regions, tmp_path, assert_roundtrip):
    cfg = RANODEConfig(**SMALL_FLOW, signal_blocks=2, signal_hidden=(32,), signal_epochs=6, signal_batch_size=512)
    r = RANODE(cfg, seed=0, verbose=False).fit(toy_regions)
    true_w = toy_regions.sr.n_signal / len(toy_regions.sr)
    assert _auc(r, toy_regions) > 0.75
    assert_roundtrip(r, toy_regions, tmp_path / "ranode")
    # a learned w climbs from its start (0.01) towards the true fraction within a few epochs
    assert 3 * cfg.w_init < r.w_ < 1.5 * true_w
    x = r.sample_signal(np.full(2000, 3.5), seed=1)
    # the learned signal model puts its heavy jet near the 500 GeV X: delta_mj ~ 0.4 TeV
    assert abs(np.median(x[:, 1]) - np.median(toy_regions.test.signal().x[:, 1])) < 0.1


def test_ranode_ensemble_over_splits_and_epochs(toy_regions, tmp_path, assert_roundtrip):
    """signal_runs x signal_checkpoints signal densities, averaged: the score is log mean_k p_s,k - log p_bg."""
    small = dict(SMALL_FLOW, flow_epochs=3)
    cfg = RANODEConfig(**small, signal_blocks=1, signal_hidden=(16,), signal_runs=2, signal_checkpoints=2,
                       signal_epochs=3, signal_batch_size=512)
    r = RANODE(cfg, seed=0, verbose=False).fit(toy_regions)
    assert len(r.signal_checkpoints_) == 4
    # the runs are different trainings (own seed: initialization and train/validation split)
    assert not np.allclose(r.signal_checkpoints_[0][0], r.signal_checkpoints_[2][0])
    ev = toy_regions.test.select(np.arange(200))
    bg, flow = r.background_, r.signal_flow_
    y, c = bg.y(ev), bg.context(ev.mjj)
    per_model = []
    for weights in r.signal_checkpoints_:
        flow.set_weights(weights)
        per_model.append(np.asarray(flow.log_prob(y, c), np.float64))
    flow.set_weights(r.signal_checkpoints_[0])
    expected = np.logaddexp.reduce(per_model, axis=0) - np.log(4) - bg.log_prob_y(y, ev.mjj)
    np.testing.assert_allclose(r.score(ev), expected, rtol=1e-5, atol=1e-4)
    assert_roundtrip(r, toy_regions, tmp_path / "ranode_ensemble")
    # one run, one checkpoint: the best epoch's density alone
    one = RANODE(dataclasses.replace(cfg, signal_runs=1, signal_checkpoints=1), seed=0, verbose=False)
    one.fit(_sr_only(toy_regions), background=bg)
    assert len(one.signal_checkpoints_) == 1
    np.testing.assert_allclose(one.score(ev), np.asarray(one.signal_flow_.log_prob(y, c), np.float64)
                               - bg.log_prob_y(y, ev.mjj), rtol=1e-6, atol=1e-5)


def _sr_only(regions):
    """The regions' SR data alone: no sidebands to learn a background from."""
    return Regions(window=regions.window, data=regions.sr)


def test_a_given_background_replaces_the_sideband_density(toy_regions):
    """fit(regions, background=density) with the density fit(regions) learned in the sidebands gives the same
    scores, bit for bit, without any sideband; CATHODE's equal the classifier step computed by hand (what the
    former fit_classifier did)."""
    from resad_tf.methods.classify import Discriminator

    tiny = dict(SMALL_FLOW, flow_epochs=2, n_blocks=1, flow_hidden=(8,))
    ev = toy_regions.test.select(np.arange(2000))
    cfg = CATHODEConfig(**tiny, **FAST_TREES)
    full = CATHODE(cfg, seed=0, verbose=False).fit(toy_regions)
    given = CATHODE(cfg, seed=0, verbose=False).fit(_sr_only(toy_regions), background=full.background_)
    np.testing.assert_array_equal(given.score(ev), full.score(ev))
    assert given.window_ == full.window_ and given.features_ == full.features_
    by_hand = CATHODE(cfg, seed=0, verbose=False)
    samples = by_hand.synthetic_background(toy_regions.sr, toy_regions.window, full.background_)
    disc = Discriminator(cfg, seed=1).fit(toy_regions.sr.x, samples.x, toy_regions.sr.weight, None)
    np.testing.assert_array_equal(disc.predict(ev.x), full.score(ev))
    la = LaCATHODE(cfg, seed=0, verbose=False)
    np.testing.assert_array_equal(la.fit(_sr_only(toy_regions), background=full.background_).score(ev),
                                  LaCATHODE(cfg, seed=0, verbose=False).fit(toy_regions).score(ev))
    rcfg = RANODEConfig(**tiny, signal_blocks=1, signal_hidden=(8,), signal_epochs=2, signal_batch_size=512)
    r = RANODE(rcfg, seed=0, verbose=False).fit(toy_regions)
    again = RANODE(rcfg, seed=0, verbose=False).fit(_sr_only(toy_regions), background=r.background_)
    np.testing.assert_array_equal(again.score(ev), r.score(ev))
    assert again.w_ == r.w_
    a = ANODE(ANODEConfig(**tiny), seed=0, verbose=False).fit(toy_regions)
    np.testing.assert_array_equal(
        ANODE(ANODEConfig(**tiny), seed=0, verbose=False).fit(_sr_only(toy_regions), background=a.background_)
        .score(ev), a.score(ev))


def test_background_is_checked(toy_regions):
    """Method.fit's checks run with a given background too; methods without a density refuse one."""
    from resad_tf.methods.cwola import CWoLa

    bg = CATHODE(CATHODEConfig(**SMALL_FLOW, **FAST_TREES), seed=0, verbose=False).background_density()
    with pytest.raises(InputError, match="takes none"):
        CWoLa().fit(toy_regions, background=bg)
    with pytest.raises(InputError, match="no event outside"):
        CATHODE().fit(_sr_only(toy_regions))
    with pytest.raises(InputError, match="takes Regions"):
        CATHODE().fit(toy_regions.sr, background=bg)
