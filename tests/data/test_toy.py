"""The LHCO-like generator against the real R&D data, plus its variants and invariants.

Tolerances are stated per test; they hold for any seed at these sample sizes
(statistical errors are several times smaller than the tolerances).
"""

import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from resad_tf.data import features, toy
from resad_tf.data.formats import read_cathode, read_v2
from resad_tf.errors import InputError

SR = (3.3, 3.7)


def run_make_dataset(repo_root, *flags):
    cmd = [sys.executable, str(repo_root / "bin" / "make_dataset"), *flags, "--quiet"]
    env = dict(os.environ, PYTHONPATH=str(repo_root))
    return subprocess.run(cmd, capture_output=True, text=True, cwd=repo_root, env=env, timeout=120)


def in_sr(m):
    return (m > SR[0]) & (m < SR[1])


@pytest.fixture(scope="module")
def sample():
    """Toy events: 150k background + 15k signal, as (mjj, standard features, label)."""
    ev = features.from_v2(toy.generate(150_000, 15_000, seed=11, quiet=True))
    return ev.mjj, ev.x, ev.label


@pytest.fixture(scope="module")
def real_mjj(lhco_dir):
    ev = features.from_v2(read_v2(lhco_dir / "rd_first100k.features.h5"))
    return ev.mjj, ev.label


@pytest.fixture(scope="module")
def real_sr(lhco_dir):
    arr = read_cathode(lhco_dir / "cathode_sr" / "innerdata_test.npy")
    return arr[:, 0], arr[:, 1:5], arr[:, 5]


def exp_slope(m, lo=3.0, hi=5.0):
    """ML slope (1/TeV) of an exponential truncated to [lo, hi]."""
    from scipy.optimize import brentq

    x, w = m[(m >= lo) & (m < hi)] - lo, hi - lo
    return brentq(lambda s: 1 / s - w / np.expm1(s * w) - x.mean(), 1e-3, 20.0)


# ------------------------------------------------------------------ against real data
def test_background_mjj_spectrum_matches_rd_data(sample, real_mjj):
    toy_m, real_m = sample[0][sample[2] == 0], real_mjj[0][real_mjj[1] == 0]
    assert np.median(toy_m) == pytest.approx(np.median(real_m), abs=0.05)  # TeV
    assert 100 * in_sr(toy_m).mean() == pytest.approx(100 * in_sr(real_m).mean(), abs=1.5)  # % points
    assert exp_slope(toy_m) == pytest.approx(exp_slope(real_m), abs=0.15)  # 1/TeV, 3-5 TeV
    assert exp_slope(toy_m, 4.0, 6.0) == pytest.approx(exp_slope(real_m, 4.0, 6.0), abs=0.25)
    # the trigger turn-on: low quantiles
    assert np.quantile(toy_m, 0.05) == pytest.approx(np.quantile(real_m, 0.05), abs=0.1)


def test_signal_mjj_matches_rd_data(sample, real_mjj):
    toy_m, real_m = sample[0][sample[2] == 1], real_mjj[0][real_mjj[1] == 1]
    assert np.median(toy_m) == pytest.approx(np.median(real_m), abs=0.05)
    assert 100 * in_sr(toy_m).mean() == pytest.approx(100 * in_sr(real_m).mean(), abs=5.0)
    width = lambda m: np.diff(np.quantile(m, [0.16, 0.84]))[0] / 2  # noqa: E731
    assert width(toy_m) == pytest.approx(width(real_m), rel=0.25)


@pytest.mark.parametrize("label", [0, 1], ids=["background", "signal"])
def test_signal_region_features_match_cathode_arrays(sample, real_sr, label):
    def summary(mjj, x, lab):
        s = in_sr(mjj) & (lab == label)
        ml, mh = x[s, 0], x[s, 0] + x[s, 1]
        return np.quantile(ml, [0.16, 0.5, 0.84]), np.quantile(mh, [0.16, 0.5, 0.84]), x[s, 2:4]

    (t_ml, t_mh, t_tau), (r_ml, r_mh, r_tau) = summary(*sample), summary(*real_sr)
    np.testing.assert_allclose(t_ml, r_ml, rtol=0.1)  # light-jet mass quantiles within 10%
    np.testing.assert_allclose(t_mh, r_mh, rtol=0.1)
    np.testing.assert_allclose(t_tau.mean(axis=0), r_tau.mean(axis=0), atol=0.02)  # tau21 means
    np.testing.assert_allclose(t_tau.std(axis=0), r_tau.std(axis=0), atol=0.02)


# ------------------------------------------------------------------ invariants
def test_jets_are_physical_and_ordered():
    df = toy.generate(3000, 300, seed=5, quiet=True)
    pt1, pt2 = np.hypot(df.pxj1, df.pyj1), np.hypot(df.pxj2, df.pyj2)
    assert (pt1 >= pt2).all() and (pt1 > 1200).all()  # GeV, j1 leads, trigger
    for j in (1, 2):
        assert (df[f"mj{j}"] > 0).all()
        assert ((0 < df[f"tau3j{j}"]) & (df[f"tau3j{j}"] < df[f"tau2j{j}"]) & (df[f"tau2j{j}"] < df[f"tau1j{j}"])).all()
    assert list(df.columns) == list(toy.V2_COLUMNS) and set(df.label) == {0.0, 1.0}
    assert df.label.iloc[:3300].to_numpy().std() > 0  # shuffled, not background-then-signal blocks


def test_four_vectors_reproduce_the_dijet_state_exactly():
    rng = np.random.default_rng(0)
    ev = toy._system(rng, rng.uniform(2.0, 6.0, 1000), rng.uniform(-0.95, 0.95, 1000))
    ev.update(m_a=rng.uniform(0.01, 0.6, 1000), m_b=rng.uniform(0.01, 0.6, 1000))
    p_a, p_b = toy._jet_momenta(ev)
    back = toy._state(p_a, p_b, ev["m_a"], ev["m_b"])
    for key in ("mjj", "n_hat", "beta"):
        np.testing.assert_allclose(back[key], ev[key], rtol=1e-9, atol=1e-12)


def test_same_seed_same_frame_different_seed_different():
    a = toy.generate(2000, 100, seed=7, quiet=True)
    pd.testing.assert_frame_equal(a, toy.generate(2000, 100, seed=7, quiet=True))
    pd.testing.assert_frame_equal(a, toy.generate(2000, 100, seed=np.random.default_rng(7), quiet=True))
    assert not np.allclose(a.mj1, toy.generate(2000, 100, seed=8, quiet=True).mj1)


def test_counts_are_exact_and_zero_is_allowed():
    df = toy.generate(1234, 0, seed=1, quiet=True)
    assert len(df) == 1234 and df.label.sum() == 0
    assert len(toy.generate_lhco_like(n_sig=7, n_background=100, seed=1, quiet=True).query("label == 1")) == 7


# ------------------------------------------------------------------ variants
def test_correlated_variant_shifts_masses_by_a_tenth_of_mjj_event_by_event():
    plain = features.from_v2(toy.generate(3000, 300, seed=4, quiet=True))
    corr = features.from_v2(toy.generate(3000, 300, seed=4, quiet=True, correlated=True))
    np.testing.assert_allclose(corr.mjj, plain.mjj, rtol=1e-10)  # same events, m_jj exact
    np.testing.assert_allclose(corr.x[:, 0], plain.x[:, 0] + 0.1 * plain.mjj, atol=1e-9)
    np.testing.assert_allclose(corr.x[:, 1:], plain.x[:, 1:], atol=1e-9)  # mass gap and tau21 unchanged


def test_herwig_is_heavier_and_less_two_pronged_but_has_the_same_mjj_spectrum():
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    p = features.from_v2(toy.generate(60_000, seed=21, quiet=True))
    h = features.from_v2(toy.generate(60_000, seed=22, background="herwig", quiet=True))
    assert np.median(h.mjj) == pytest.approx(np.median(p.mjj), abs=0.03)
    assert in_sr(h.mjj).mean() == pytest.approx(in_sr(p.mjj).mean(), abs=0.01)
    ps, hs = p.x[in_sr(p.mjj)], h.x[in_sr(h.mjj)]
    ratio = np.median(hs[:, 0] + hs[:, 1]) / np.median(ps[:, 0] + ps[:, 1])  # heavy-jet mass
    assert 1.04 < ratio < 1.2
    shift = hs[:, 2:].mean(axis=0) - ps[:, 2:].mean(axis=0)
    assert ((0.015 < shift) & (shift < 0.08)).all()
    x = np.concatenate([ps, hs])
    y = np.repeat([0, 1], [len(ps), len(hs)])
    idx = np.random.default_rng(0).permutation(len(x))
    train, test = idx[: len(x) // 2], idx[len(x) // 2:]
    clf = HistGradientBoostingClassifier(max_iter=60, random_state=0).fit(x[train], y[train])
    auc = roc_auc_score(y[test], clf.predict_proba(x[test])[:, 1])
    assert 0.58 < auc < 0.75


def test_black_box_signal_masses_are_respected():
    sig = toy.SignalModel(3.823, 0.732, 0.378)
    ev = features.from_v2(toy.generate(0, 3000, seed=2, signal=sig, quiet=True))
    assert np.median(ev.mjj) == pytest.approx(3.823, rel=0.02)
    assert np.median(ev.x[:, 0] + ev.x[:, 1]) == pytest.approx(0.732, rel=0.04)
    assert np.median(ev.x[:, 0]) == pytest.approx(0.378, rel=0.06)


# ------------------------------------------------------------------ user errors
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_background=-1), "n_background"),
        (dict(n_background=10.5), "n_background"),
        (dict(n_background=10, n_signal=True), "n_signal"),
        (dict(n_background=10, background="sherpa"), "sherpa"),
    ],
)
def test_bad_arguments_raise_input_error(kwargs, match):
    with pytest.raises(InputError, match=match):
        toy.generate(**kwargs, seed=0, quiet=True)


@pytest.mark.parametrize(
    "masses, match",
    [((3.5, 0.1, 0.5), "swap"), ((3500.0, 500.0, 100.0), "GeV"), ((3.5, 2.0, 1.0), "no room"),
     ((3.5, -0.5, 0.1), "positive")],
)
def test_impossible_signal_masses_raise_input_error(masses, match):
    with pytest.raises(InputError, match=match):
        toy.SignalModel(*masses)


# ------------------------------------------------------------------ bin/make_dataset
def test_make_dataset_writes_the_generator_output(repo_root, tmp_path):
    out = tmp_path / "toy.h5"
    run = run_make_dataset(repo_root, f"--out={out}", "--n_background=2000", "--n_signal=50", "--seed=3",
                           "--background=herwig", "--signal_masses=3.823,0.732,0.378")
    assert run.returncode == 0, run.stderr
    expected = toy.generate(2000, 50, seed=3, background="herwig", signal=toy.SignalModel(3.823, 0.732, 0.378),
                            quiet=True)
    pd.testing.assert_frame_equal(read_v2(out), expected)


@pytest.mark.parametrize("flag", ["--signal_masses=3.5,0.5", "--n_background=abc", "--background=sherpa"])
def test_make_dataset_bad_flags_exit_2_with_one_line(repo_root, tmp_path, flag):
    run = run_make_dataset(repo_root, f"--out={tmp_path / 'x.h5'}", flag)
    assert run.returncode == 2
    assert len(run.stderr.strip().splitlines()) == 1 and "error" in run.stderr
    assert not (tmp_path / "x.h5").exists()
