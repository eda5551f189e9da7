"""Classifier-based methods find a strong injected signal; CWoLa's cross-training never leaks."""

import numpy as np
import pytest

from resad_tf import component, metrics
from resad_tf.data import Window
from resad_tf.errors import InputError
from resad_tf.methods import get
from resad_tf.methods.classify import ClassifierOptions
from resad_tf.methods.cwola import CWoLa, CWoLaConfig, sideband_weights
from resad_tf.methods.dctr import DCTRReweighter
from resad_tf.methods.iad import IADConfig, IdealizedAD, Supervised, SupervisedConfig
from resad_tf.methods.salad import Salad, SaladConfig

FAST_TREES = dict(classifier="hgb", n_estimators=3, max_iter=100)


def _auc(method, regions):
    return metrics.auc(regions.test.label, method.score(regions.test))


def test_supervised_and_iad(toy_regions, tmp_path, assert_roundtrip):
    sup = Supervised(SupervisedConfig(**FAST_TREES), seed=0, verbose=False).fit(toy_regions)
    iad = IdealizedAD(IADConfig(**FAST_TREES), seed=0, verbose=False).fit(toy_regions)
    assert_roundtrip(iad, toy_regions, tmp_path / "iad")
    a_sup, a_iad = _auc(sup, toy_regions), _auc(iad, toy_regions)
    assert a_sup > 0.9
    assert a_iad > 0.85
    assert a_sup >= a_iad - 0.01  # the supervised bound is the upper bound


def test_salad_end_to_end_and_reweighting_helps(toy_regions, tmp_path, assert_roundtrip):
    cfg = SaladConfig(classifier="mlp", hidden=(32, 32), epochs=8, batch_size=512, patience=3,
                      dctr_simulation_ratio=0.5, dctr_epochs=6, dctr_batch_size=1024)
    salad = Salad(cfg, seed=0, verbose=False).fit(toy_regions)
    assert _auc(salad, toy_regions) > 0.8
    # the DCTR's own training settings reach its MLP, the SR classifier keeps the shared ones
    assert len(salad.dctr_.discriminator_.classifier_.history_[0]) <= 6
    assert salad.dctr_.opts.epochs == 6 and salad.dctr_.opts.batch_size == 1024
    assert salad.discriminator_.opts.batch_size == 512
    assert_roundtrip(salad, toy_regions, tmp_path / "model")
    # collaborators without resad_tf: the exported .keras files load in plain Keras
    import keras

    member = sorted((tmp_path / "model" / "sr_classifier").rglob("*.keras"))[0]
    assert keras.saving.load_model(member).predict(np.zeros((2, 4)), verbose=0).shape == (2, 1)
    diag = salad.diagnostics(tmp_path)
    before, after = diag["closure_chi2_ndf_sb_before"], diag["closure_chi2_ndf_sb_after"]
    n_dctr = diag["dctr_training_events"]  # the simulation was subsampled to half the SB data
    assert n_dctr["simulation"] == int(0.5 * n_dctr["data"])
    # the herwig-like simulation is mis-modelled: DCTR weights must make it match the data in the SB
    assert np.mean(list(after.values())) < 0.5 * np.mean(list(before.values()))
    assert (tmp_path / "reweighting_sb_closure.png").stat().st_size > 10_000


def test_salad_dctr_with_a_tree_ensemble(toy_regions, tmp_path):
    """--dctr_classifier=hgb: trees reweight, the MLP still classifies in the SR; closure improves.
    Two DCTR steps: both are exported, and their reloaded ratios multiply to SALAD's weights."""
    cfg = SaladConfig(classifier="mlp", hidden=(16,), epochs=2, batch_size=1024, dctr_classifier="hgb",
                      n_estimators=2, max_iter=60, dctr_simulation_ratio=0.5, dctr_n_runs=2, dctr_iterations=2)
    salad = Salad(cfg, seed=0, verbose=False).fit(toy_regions)
    dctr = salad.dctr_.discriminator_.classifier_
    assert dctr.kind == "hgb" and len(dctr.members_) == 2 * 2  # n_estimators x dctr_n_runs
    assert salad.discriminator_.classifier_.kind == "mlp"
    diag = salad.diagnostics(tmp_path)
    before, after = diag["closure_chi2_ndf_sb_before"], diag["closure_chi2_ndf_sb_after"]
    assert np.mean(list(after.values())) < 0.5 * np.mean(list(before.values()))
    # both DCTR steps are saved and reloaded with their trained options; their ratios multiply to the weights
    loaded = component.load(component.save(salad, tmp_path / "model"))
    assert loaded.dctr_.get_config() == salad.dctr_.get_config() and len(loaded.dctr_.steps_) == 2
    assert loaded.dctr_.steps_[0].opts.classifier == "hgb" and loaded.dctr_.steps_[0].opts.n_runs == 2
    xm = toy_regions.simulation.xm()[:500]
    f = np.clip(np.stack([s.predict(xm) for s in loaded.dctr_.steps_]), 1e-6, 1 - 1e-6)
    np.testing.assert_allclose(np.minimum(np.prod(f / (1 - f), axis=0), cfg.max_weight),
                               salad.dctr_.weights(xm), rtol=1e-6)
    np.testing.assert_allclose(loaded.dctr_.weights(xm), salad.dctr_.weights(xm), rtol=1e-6)
    with pytest.raises(InputError, match="--dctr_classifier='bogus': choose one of"):
        SaladConfig(dctr_classifier="bogus")
    with pytest.raises(InputError, match="--dctr_n_runs=-1 is out of range: must be >= 0"):
        SaladConfig(dctr_n_runs=-1)
    with pytest.raises(InputError, match=r"--dctr_epochs=-1 is out of range: must be in \[0, 100000\]"):
        SaladConfig(dctr_epochs=-1)


def test_salad_dctr_sr_buffer_keeps_the_signal_tail_out_of_the_dctr(toy_regions):
    """--dctr_sr_buffer: no event within the buffer of the SR reaches the DCTR (fit or closure check), and the
    signal that leaks into the sidebands next to the SR is what the buffer removes."""
    cfg = SaladConfig(classifier="hgb", n_estimators=1, max_iter=10, dctr_simulation_ratio=0, dctr_sr_buffer=0.2)
    salad = Salad(cfg, seed=0, verbose=False)
    salad.reweight(toy_regions)
    w = toy_regions.window
    for e in (salad.sb_data_check_, salad.sb_sim_check_):
        assert np.all((e.mjj < w.lo - 0.2) | (e.mjj > w.hi + 0.2))
    sb = toy_regions.sb
    kept = (sb.mjj < w.lo - 0.2) | (sb.mjj > w.hi + 0.2)
    n_fit = salad.dctr_events_["data"] + len(salad.sb_data_check_)
    assert n_fit == kept.sum() < len(sb)
    # the toy resonance's m_jj tail: most of the sidebands' signal sits within 0.2 TeV of the SR
    assert sb.n_signal > 0 and sb.select(kept).n_signal < 0.5 * sb.n_signal
    with pytest.raises(InputError, match="--dctr_sr_buffer=-0.1 is out of range: must be >= 0"):
        SaladConfig(dctr_sr_buffer=-0.1)
    with pytest.raises(InputError, match="leaves no sideband data"):
        Salad(SaladConfig(dctr_sr_buffer=20.0), seed=0, verbose=False).reweight(toy_regions)


def test_dctr_recovers_known_density_ratio():
    """Source N(0,1), target N(0.5, 1.2): weights must equal the analytic ratio within a few %."""
    from scipy import stats

    rng = np.random.default_rng(0)
    target, source = rng.normal(0.5, 1.2, (60_000, 1)), rng.normal(0, 1, (60_000, 1))
    opts = ClassifierOptions(classifier="mlp", hidden=(32, 32), epochs=15, batch_size=512, patience=4)
    r = DCTRReweighter(opts, seed=0).fit(target, source)
    grid = np.linspace(-1.0, 1.5, 11)[:, None]  # the bulk: 80% of the source
    truth = stats.norm.pdf(grid[:, 0], 0.5, 1.2) / stats.norm.pdf(grid[:, 0])
    np.testing.assert_allclose(r.weights(grid), truth, rtol=0.08)
    # closure of moments: the weighted source reproduces the target's mean and std
    test = rng.normal(0, 1, (100_000, 1))
    w = r.weights(test)
    mean = np.average(test[:, 0], weights=w)
    std = np.sqrt(np.average((test[:, 0] - mean) ** 2, weights=w))
    assert mean == pytest.approx(0.5, abs=0.03) and std == pytest.approx(1.2, rel=0.03)


def test_dctr_iterations_refine_an_underfitted_ratio():
    """Each DCTR step learns what the earlier ones left: with a deliberately weak classifier (4 boosting
    rounds) one step recovers little of the N(0.5, 1.2) / N(0, 1) ratio, five steps most of it."""
    from scipy import stats

    rng = np.random.default_rng(0)
    target, source = rng.normal(0.5, 1.2, (40_000, 1)), rng.normal(0, 1, (40_000, 1))
    grid = np.linspace(-1.0, 1.5, 11)[:, None]
    truth = stats.norm.pdf(grid[:, 0], 0.5, 1.2) / stats.norm.pdf(grid[:, 0])
    test = rng.normal(0, 1, (100_000, 1))
    weak = ClassifierOptions(classifier="hgb", n_estimators=1, max_iter=4)
    err, mean = {}, {}
    for n in (1, 5):
        r = DCTRReweighter(weak, seed=0, n_iterations=n).fit(target, source)
        assert len(r.steps_) == n
        err[n] = np.max(np.abs(r.weights(grid) / truth - 1))
        mean[n] = np.average(test[:, 0], weights=r.weights(test))
    assert mean[1] < 0.2 and mean[5] > 0.4  # the target mean is 0.5
    assert err[5] < 0.6 * err[1]
    with pytest.raises(ValueError, match="n_iterations must be >= 1"):
        DCTRReweighter(weak, n_iterations=0)
    with pytest.raises(InputError, match=r"--dctr_iterations=0 is out of range: must be in \[1, 100000\]"):
        SaladConfig(dctr_iterations=0)


def test_cwola_kfold_never_scores_with_a_model_that_saw_the_event(toy_regions, tmp_path, assert_roundtrip):
    cw = CWoLa(CWoLaConfig(**FAST_TREES, k_folds=3), seed=0, verbose=False).fit(toy_regions)
    assert_roundtrip(cw, toy_regions, tmp_path / "cwola")
    ev, fold = cw.data_events_, cw.data_fold_
    # every model i scored only fold i; rescoring fold i with the other models changes the answer
    xs = cw.scaler_.transform(ev.x)
    for i, m in enumerate(cw.models_):
        np.testing.assert_allclose(m.predict(xs[fold == i]), cw.data_scores_[fold == i])
    # and model i never trained on fold i: its training-set membership is folds != i, i+1
    assert set(np.unique(fold)) == {0, 1, 2}
    # out-of-fold scores separate signal in the SR
    sr = Window(3.3, 3.7, 0.2).sr(ev.mjj)
    assert metrics.auc(ev.label[sr], cw.data_scores_[sr]) > 0.7
    assert _auc(cw, toy_regions) > 0.7


def test_sideband_weights_balance():
    mjj = np.r_[np.full(300, 3.15), np.full(100, 3.8)]
    w = sideband_weights(mjj, Window(3.3, 3.7, 0.2), n_sr=200)
    assert w[:300].sum() == pytest.approx(100) and w[300:].sum() == pytest.approx(100)


def test_registry():
    assert get("iad") is IdealizedAD and get("salad") is Salad
    with pytest.raises(Exception, match="unknown method"):
        get("bogus")


def test_sr_classifier_default_is_a_tree_ensemble(toy_regions):
    """The IAD, CATHODE and LaCATHODE default to 10 boosted-tree members (docs/low_signal.md), each
    early-stopped on its own half: the members differ, and their mean finds the signal."""
    from resad_tf.methods.cathode import CATHODEConfig
    from resad_tf.models.trees import TreeEnsembleClassifier

    assert (IADConfig().classifier, IADConfig().n_estimators) == ("hgb", 10)
    assert (CATHODEConfig().classifier, CATHODEConfig().n_estimators) == ("hgb", 10)
    assert ClassifierOptions().classifier == "mlp"  # SALAD and CWoLa keep theirs
    iad = IdealizedAD(IADConfig(max_iter=60), seed=0, verbose=False).fit(toy_regions)
    clf = iad.discriminator_.classifier_
    assert isinstance(clf, TreeEnsembleClassifier) and len(clf.members_) == 10
    x = toy_regions.test.x[:500]
    member_scores = np.array([m.predict_proba(iad.discriminator_.scaler_.transform(x))[:, 1] for m in clf.members_])
    assert np.ptp(member_scores, axis=0).max() > 0  # different halves, different members
    assert _auc(iad, toy_regions) > 0.85
