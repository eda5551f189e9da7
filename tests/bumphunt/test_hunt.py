import json

import numpy as np
import pandas as pd
import pytest

from resad_tf.bumphunt import bin_edges, bin_integrals, bump_hunt, fit_dijet, local_significance, sample_dijet
from resad_tf.errors import InputError

SR = (3.3, 3.7)


def test_background_only_gives_small_z_and_good_fits():
    rng = np.random.default_rng(21)
    mjj = sample_dijet(100_000, seed=rng)
    res = bump_hunt(mjj, rng.normal(size=mjj.size), efficiencies=(1.0, 0.1, 0.01))
    for cut in res.cuts:
        assert cut.z < 3 and not cut.sculpted, cut
        assert 0.4 < cut.fit.chi2_ndf < 2.0
    # thresholds are quantiles of the SR scores
    assert res.cuts[1].n_obs == pytest.approx(0.1 * res.cuts[0].n_obs, abs=2)
    json.dumps(res.to_dict(), allow_nan=False)


def test_injected_excess_matches_direct_poisson():
    """Asimov sidebands from the true function plus a known excess in the SR."""
    edges = bin_edges((2.6, 6.0), SR, 0.1)
    mu = bin_integrals(edges, (1.0, 9.0, 6.0, 0.0))
    mu *= 1e6 / mu.sum()
    counts = np.round(mu)
    in_sr = (edges[:-1] >= SR[0]) & (edges[1:] <= SR[1])
    b_true = mu[in_sr].sum()
    n_obs = round(b_true + 4 * np.sqrt(b_true))
    fit = fit_dijet(counts, edges, sr=SR)
    b, sigma_b = fit.predict(*SR)
    assert b == pytest.approx(b_true, rel=2e-3) and 0 < sigma_b < np.sqrt(b_true)
    z_direct = np.sqrt(2 * (n_obs * np.log(n_obs / b_true) - (n_obs - b_true)))
    assert local_significance(n_obs, b, 0.0) == pytest.approx(z_direct, abs=0.1)
    assert local_significance(n_obs, b, sigma_b) < local_significance(n_obs, b, 0.0)


def test_signal_shows_up_after_cut_and_labels_are_counted():
    rng = np.random.default_rng(4)
    mb, ms = sample_dijet(100_000, seed=rng), rng.normal(3.5, 0.07, 300)
    mjj, label = np.concatenate([mb, ms]), np.r_[np.zeros(mb.size), np.ones(ms.size)]
    score = rng.normal(size=mjj.size) + 3.0 * label
    res = bump_hunt(mjj, score, efficiencies=(1.0, 0.01), label=label, reference="background")
    loose, tight = res.cuts
    assert tight.z > 5 > loose.z  # a cut that keeps the signal and drops background wins
    in_sr = (mjj >= SR[0]) & (mjj < SR[1])
    assert tight.n_signal_sr == np.sum((score >= tight.threshold) & in_sr & (label == 1))
    assert tight.n_obs - tight.n_signal_sr == pytest.approx(0.01 * np.sum(in_sr & (label == 0)), abs=2)


@pytest.mark.parametrize("kind", ["step", "peak"])
def test_sculpting_flag_fires_for_a_mass_correlated_cut_only(kind):
    rng = np.random.default_rng(8)
    mjj = sample_dijet(100_000, seed=rng)
    if kind == "step":  # a score that grows above 3.9 TeV carves a step into the spectrum
        score = rng.normal(size=mjj.size) + 0.5 * (mjj > 3.9)
    else:  # a score preferring events near 3.0 TeV carves a peak the dijet function can follow
        score = -np.abs(mjj - 3.0) + rng.normal(0, 0.15, mjj.size)
    res = bump_hunt(mjj, score, efficiencies=(1.0, 0.1))
    assert not res.cuts[0].sculpted and res.cuts[1].sculpted
    fit = res.cuts[1].fit
    assert fit.pvalue < 0.01 if kind == "step" else fit.peaked
    unbiased = bump_hunt(mjj, rng.normal(size=mjj.size), efficiencies=(0.1,))
    assert not unbiased.cuts[0].sculpted and unbiased.cuts[0].fit.falling and not unbiased.cuts[0].fit.peaked


def test_window_local_fit_range_avoids_a_turn_on_the_dijet_function_cannot_follow():
    """A trigger-like turn-on below 3 TeV spoils a fit over the whole range; a window-local range does not."""
    rng = np.random.default_rng(5)
    mjj = sample_dijet(300_000, seed=rng)
    mjj = mjj[rng.random(mjj.size) < 1 / (1 + np.exp(-(mjj - 2.85) / 0.08))]
    score = np.zeros(mjj.size)
    wide = bump_hunt(mjj, score, sr=(4.3, 4.7), efficiencies=(1.0,), fit_range=(2.6, 6.0)).cuts[0]
    assert wide.sculpted and wide.fit.pvalue < 1e-3
    local = bump_hunt(mjj, score, sr=(4.3, 4.7), efficiencies=(1.0,), fit_range=(3.65, 5.35))
    cut = local.cuts[0]
    assert not cut.sculpted and cut.z < 3 and cut.fit.pvalue > 0.01
    assert local.fit_range == (3.65, 5.35) and {4.3, 4.7} <= set(np.round(local.edges, 9))
    assert cut.fit.counts.sum() == np.sum((mjj >= 3.65) & (mjj < 5.35))


def test_too_tight_cut_is_recorded_not_fatal():
    rng = np.random.default_rng(1)
    mjj = sample_dijet(3000, seed=rng)
    score = ((mjj >= SR[0]) & (mjj < SR[1])) + rng.normal(0, 0.01, mjj.size)  # only SR events pass
    res = bump_hunt(mjj, score, efficiencies=(1.0, 0.5))
    assert res.cuts[0].fit is not None
    assert res.cuts[1].fit is None and "too few" in res.cuts[1].error and np.isnan(res.cuts[1].z)
    assert res.to_dict()["cuts"][1]["z"] is None


def test_bad_arguments_raise_input_error():
    m, s = np.full(10, 3.5), np.zeros(10)
    with pytest.raises(InputError, match="score has 9"):
        bump_hunt(m, s[:9])
    with pytest.raises(InputError, match="needs truth labels"):
        bump_hunt(m, s, reference="background")
    with pytest.raises(InputError, match="efficiencies"):
        bump_hunt(m, s, efficiencies=(0.0,))
    with pytest.raises(InputError, match="inside the fit range"):
        bump_hunt(m, s, sr=(2.0, 2.5))
    with pytest.raises(InputError, match="finite"):
        bump_hunt(m, np.full(10, np.nan))


def test_plots_are_written(tmp_path):
    from resad_tf.bumphunt.plots import plot_fit, plot_scan, plot_significance

    rng = np.random.default_rng(2)
    mjj = sample_dijet(5000, seed=rng)
    res = bump_hunt(mjj, rng.normal(size=mjj.size), efficiencies=(1.0, 0.1))
    for p in (plot_fit(res, 1, tmp_path / "fit.png"), plot_significance(res, tmp_path / "z.png"),
              plot_scan([3.4, 3.5], [[0.1, 0.2], [1.0, 2.0]], (1.0, 0.1), tmp_path / "scan.png")):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(x.name for x in tmp_path.iterdir()) == ["fit.png", "scan.png", "z.png"]


def _real_mjj(lhco_dir):
    df = pd.read_hdf(lhco_dir / "rd_first100k.features.h5", "df")
    e = [np.sqrt(df[f"px{j}"] ** 2 + df[f"py{j}"] ** 2 + df[f"pz{j}"] ** 2 + df[f"m{j}"] ** 2) for j in ("j1", "j2")]
    p2 = sum((df[f"{c}j1"] + df[f"{c}j2"]) ** 2 for c in ("px", "py", "pz"))
    return np.sqrt((e[0] + e[1]) ** 2 - p2).to_numpy() / 1000.0, df["label"].to_numpy()


def test_real_lhco_background_fit_and_truth_cut(lhco_dir):
    mjj, label = _real_mjj(lhco_dir)
    # the README's count: 12,881 background events in the SR
    assert np.sum((mjj[label == 0] >= 3.3) & (mjj[label == 0] < 3.7)) == 12881
    bkg = bump_hunt(mjj[label == 0], np.zeros((label == 0).sum()), efficiencies=(1.0,))
    cut = bkg.cuts[0]  # the default: the most parameters that fit the sidebands
    assert cut.fit.n_params == 5 and cut.fit.chi2_ndf < 2.0 and cut.z < 3
    ftest = bump_hunt(mjj[label == 0], np.zeros((label == 0).sum()), efficiencies=(1.0,), n_params="ftest").cuts[0]
    assert ftest.fit.n_params == 4 and ftest.fit.chi2_ndf < 2.0 and ftest.z < 3
    assert ftest.sigma_b < cut.sigma_b  # fewer parameters, a tighter (if possibly biased) prediction
    # a perfect tagger on the real 9% signal: the excess is huge
    sig = bump_hunt(mjj, label.astype(float) + 1e-3 * np.random.default_rng(0).normal(size=mjj.size),
                    efficiencies=(0.3,))
    assert sig.cuts[0].z > 20 and sig.cuts[0].n_signal_sr is None


def test_fit_gap_keeps_the_resonance_tails_out_of_the_background_fit():
    """A resonance wider than the SR: after a tight cut its tails in the bins next to the SR pull the fit up
    (and spoil its quality); leaving 0.1 TeV on each side out of the fit removes most of that bias."""
    bias, sculpted = {0.0: [], 0.1: []}, {0.0: 0, 0.1: 0}
    for seed in range(6):
        rng = np.random.default_rng(seed)
        mb, ms = sample_dijet(400_000, seed=rng), rng.normal(3.5, 0.15, 1500)
        mjj, label = np.concatenate([mb, ms]), np.r_[np.zeros(mb.size), np.ones(ms.size)]
        score = rng.normal(size=mjj.size) + 2.5 * label
        for gap in bias:
            cut = bump_hunt(mjj, score, efficiencies=(0.01,), label=label, fit_gap=gap).cuts[0]
            bias[gap].append((cut.b - (cut.n_obs - cut.n_signal_sr)) / cut.sigma_b)
            sculpted[gap] += cut.sculpted
    assert np.mean(bias[0.0]) > 3 and np.mean(bias[0.1]) < 0.5 * np.mean(bias[0.0]), bias
    assert sculpted[0.1] < sculpted[0.0], sculpted
    res = bump_hunt(mjj, score, efficiencies=(0.01,), fit_gap=0.1)
    assert np.isclose(res.edges, 3.2).any() and np.isclose(res.edges, 3.8).any() and res.fit_gap == 0.1
    left_out = (res.edges[:-1] >= 3.2 - 1e-9) & (res.edges[1:] <= 3.8 + 1e-9)
    assert not res.cuts[0].fit.fitted[left_out].any() and res.cuts[0].fit.fitted[~left_out].all()
