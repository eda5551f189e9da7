#!/usr/bin/env python
"""Compare the LHCO-like generator (resad_tf.data.toy) with the real R&D data.

Writes bench/results/toy_calibration.md (a table of toy vs real numbers, the
generator's speed and the pythia/herwig separability) and
bench/results/toy_calibration.png (m_jj over the full range, the four
standard features in the signal region, background and signal).

    .venv/bin/python bench/studies/toy_calibration.py [--lhco_dir=../shared/data/lhco] [--n_background=1000000]
"""

from __future__ import annotations

import pathlib
import sys
import time

import numpy as np
import pandas as pd
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import LHCO, RESULTS, run, write_results  # noqa: E402

from resad_tf.data import toy  # noqa: E402
from resad_tf.data.features import all_features  # noqa: E402
from resad_tf.data.formats import read_cathode, read_v2  # noqa: E402
from resad_tf.outputs import atomic_path  # noqa: E402

FLAGS = flags.FLAGS
flags.DEFINE_string("lhco_dir", str(LHCO), "real LHCO subsets (README there)")
flags.DEFINE_integer("n_background", 1_000_000, "toy background events (the timing uses this + 100k signal)")
flags.DEFINE_integer("seed", 0, "generator seed")

SR = toy.SIGNAL_REGION
FEATURES = ("mj_light", "delta_mj", "tau21_light", "tau21_heavy")


def exp_slope(mjj, lo=3.0, hi=5.0) -> float:
    """Maximum-likelihood slope (1/TeV) of exp(-slope m) truncated to [lo, hi]."""
    from scipy.optimize import brentq

    x = mjj[(mjj >= lo) & (mjj < hi)] - lo
    w = hi - lo

    def mean_gap(s):  # mean of a truncated exponential minus the observed mean
        return 1 / s - w / np.expm1(s * w) - x.mean()

    return brentq(mean_gap, 1e-3, 20.0)


def kinematics(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """m_jj, standard features and a few kinematic variables (TeV) of a v2 frame."""
    mjj, cols = all_features(df)
    p = {q: (df[f"{q}j1"].to_numpy() + df[f"{q}j2"].to_numpy()) / 1e3 for q in ("px", "py")}
    e1 = np.sqrt(df.pxj1**2 + df.pyj1**2 + df.pzj1**2 + df.mj1**2).to_numpy()
    e2 = np.sqrt(df.pxj2**2 + df.pyj2**2 + df.pzj2**2 + df.mj2**2).to_numpy()
    pz = (df.pzj1 + df.pzj2).to_numpy()
    tau32 = np.concatenate([cols["tau32_light"], cols["tau32_heavy"]])
    return dict(mjj=mjj, label=df["label"].to_numpy(), pt1=cols["pt_j1"], pt2=cols["pt_j2"],
                pt_sys=np.hypot(p["px"], p["py"]), y_sys=0.5 * np.log((e1 + e2 + pz) / (e1 + e2 - pz)),
                tau32_mean=tau32.mean(), **{f: cols[f] for f in FEATURES})


def mjj_summary(k: dict) -> dict[str, float]:
    bkg, sig = k["label"] == 0, k["label"] == 1
    m = k["mjj"]
    out = {
        "bkg m_jj median [TeV]": np.median(m[bkg]),
        "bkg m_jj 5% quantile [TeV]": np.quantile(m[bkg], 0.05),
        "bkg fraction in SR 3.3-3.7 [%]": 100 * np.mean((m[bkg] > SR[0]) & (m[bkg] < SR[1])),
        "bkg slope 3-5 TeV [1/TeV]": exp_slope(m[bkg]),
        "bkg slope 4-6 TeV [1/TeV]": exp_slope(m[bkg], 4.0, 6.0),
        "bkg leading-jet pT median [TeV]": np.median(k["pt1"][bkg]),
        "bkg pT2/pT1 median": np.median(k["pt2"][bkg] / k["pt1"][bkg]),
        "bkg dijet pT median [TeV]": np.median(k["pt_sys"][bkg]),
        "bkg dijet rapidity sd": np.std(k["y_sys"][bkg]),
    }
    for lo, hi in ((2.6, 3.0), (3.3, 3.7), (4.3, 5.0)):
        s = bkg & (m > lo) & (m < hi)
        out[f"bkg mj_heavy median, m_jj {lo}-{hi} [GeV]"] = 1e3 * np.median(k["mj_light"][s] + k["delta_mj"][s])
    if sig.any():
        q16, q50, q84 = np.quantile(m[sig], [0.16, 0.5, 0.84])
        out |= {"sig m_jj median [TeV]": q50, "sig m_jj (q84-q16)/2 [TeV]": (q84 - q16) / 2,
                "sig m_jj 5% quantile [TeV]": np.quantile(m[sig], 0.05),
                "sig fraction in SR [%]": 100 * np.mean((m[sig] > SR[0]) & (m[sig] < SR[1]))}
    return out


def sr_summary(mjj, x, label) -> dict[str, float]:
    """Quantiles of the standard features in the SR, background and signal (masses in GeV)."""
    out = {}
    sr = (mjj > SR[0]) & (mjj < SR[1])
    for name, lab in (("bkg", 0), ("sig", 1)):
        s = sr & (label == lab)
        ml, mh = 1e3 * x[s, 0], 1e3 * (x[s, 0] + x[s, 1])
        for var, v in (("mj_light", ml), ("mj_heavy", mh)):
            for q in (0.16, 0.5, 0.84):
                out[f"{name} {var} q{int(100 * q)} [GeV]"] = np.quantile(v, q)
        for j, var in ((2, "tau21_light"), (3, "tau21_heavy")):
            out[f"{name} {var} mean"] = x[s, j].mean()
            out[f"{name} {var} sd"] = x[s, j].std()
    return out


def classifier_auc(a: np.ndarray, b: np.ndarray, seed=0) -> float:
    """Test AUC of a gradient-boosted classifier separating feature samples a and b."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import train_test_split

    x = np.concatenate([a, b])
    y = np.repeat([0, 1], [len(a), len(b)])
    xtr, xte, ytr, yte = train_test_split(x, y, test_size=0.5, random_state=seed, stratify=y)
    clf = HistGradientBoostingClassifier(max_iter=100, random_state=seed).fit(xtr, ytr)
    return roc_auc_score(yte, clf.predict_proba(xte)[:, 1])


def sr_features(df):
    k = kinematics(df)
    sr = (k["mjj"] > SR[0]) & (k["mjj"] < SR[1])
    return k["mjj"][sr], np.column_stack([k[f] for f in FEATURES])[sr], k["label"][sr]


def plot(real_k, toy_k, real_sr, toy_sr, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import mplhep

    plt.style.use(mplhep.style.CMS)
    fig, axes = plt.subplots(2, 3, figsize=(24, 14))
    bins = np.linspace(2.0, 7.0, 51)
    ax = axes[0, 0]
    for k, name, style in ((real_k, "real (rd_first100k)", dict(histtype="step", lw=2)),
                           (toy_k, "toy", dict(histtype="step", lw=2, ls="--"))):
        for lab, color in ((0, "C0"), (1, "C3")):
            m = k["mjj"][k["label"] == lab]
            ax.hist(m, bins, density=True, color=color, label=f"{name}, {'signal' if lab else 'background'}", **style)
    ax.set(yscale="log", xlabel=r"$m_{jj}$ [TeV]", ylabel="density")
    ax.legend(fontsize=12)
    titles = (r"$m_{j,light}$ [GeV]", r"$m_{j,heavy}-m_{j,light}$ [GeV]", r"$\tau_{21}$ light", r"$\tau_{21}$ heavy")
    ranges = ((0, 600), (0, 800), (0, 1), (0, 1))
    for i, ax in enumerate(axes.flat[1:5]):
        scale = 1e3 if i < 2 else 1.0
        b = np.linspace(*ranges[i], 41)
        for (mjj, x, lab), name, ls in ((real_sr, "real (CATHODE SR)", "-"), (toy_sr, "toy SR", "--")):
            for lb, color in ((0, "C0"), (1, "C3")):
                ax.hist(scale * x[lab == lb, i], b, density=True, histtype="step", lw=2, ls=ls, color=color,
                        label=f"{name}, {'signal' if lb else 'background'}")
        ax.set(xlabel=titles[i], ylabel="density")
    axes[0, 1].legend(fontsize=12)
    ax = axes[1, 2]
    ax.hist(real_k["pt1"], np.linspace(1.1, 2.5, 57), density=True, histtype="step", lw=2, label="real")
    ax.hist(toy_k["pt1"], np.linspace(1.1, 2.5, 57), density=True, histtype="step", lw=2, ls="--", label="toy")
    ax.set(xlabel=r"leading-jet $p_T$ [TeV]", ylabel="density")
    ax.legend(fontsize=12)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=60)


def main():
    lhco = pathlib.Path(FLAGS.lhco_dir)
    real = read_v2(lhco / "rd_first100k.features.h5")
    cat = read_cathode(lhco / "cathode_sr" / "innerdata_test.npy")
    t0 = time.perf_counter()
    big = toy.generate(FLAGS.n_background, 100_000, seed=FLAGS.seed)
    seconds = time.perf_counter() - t0
    # the same composition as rd_first100k for the kinematic comparison
    small = toy.generate(90_941, 9_059, seed=FLAGS.seed + 1, quiet=True)
    real_k, toy_k = kinematics(real), kinematics(small)
    rows = {k: (v, mjj_summary(toy_k)[k]) for k, v in mjj_summary(real_k).items()}
    real_sr = (cat[:, 0], cat[:, 1:5], cat[:, 5])
    toy_sr = sr_features(big)
    rows |= {k: (v, sr_summary(*toy_sr)[k]) for k, v in sr_summary(*real_sr).items()}
    rows["bkg tau32 mean (real: third-party taus)"] = (real_k["tau32_mean"], toy_k["tau32_mean"])

    herwig = sr_features(toy.generate(200_000, seed=FLAGS.seed + 2, background="herwig", quiet=True))
    pythia = sr_features(toy.generate(200_000, seed=FLAGS.seed + 3, quiet=True))
    auc_hp = classifier_auc(pythia[1], herwig[1])
    auc_real = classifier_auc(real_sr[1][real_sr[2] == 0], toy_sr[1][toy_sr[2] == 0][:40_000])

    plot(real_k, toy_k, real_sr, toy_sr, RESULTS / "toy_calibration.png")
    lines = [
        "# Toy generator vs real LHCO R&D data",
        "",
        f"Generated by `bench/studies/toy_calibration.py` (seed {FLAGS.seed}). Kinematics: toy with the rd_first100k",
        "composition (90,941 background + 9,059 signal) vs `rd_first100k.features.h5`. SR features:",
        f"toy SR events out of {FLAGS.n_background:,} background + 100,000 signal vs CATHODE `innerdata_test.npy`.",
        "",
        "| quantity | real | toy |",
        "| --- | ---: | ---: |",
        *[f"| {k} | {r:.3f} | {t:.3f} |" for k, (r, t) in rows.items()],
        "",
        f"- generation speed: {FLAGS.n_background + 100_000:,} events in {seconds:.1f} s "
        f"({(FLAGS.n_background + 100_000) / seconds / 1e3:.0f} k events/s, one process).",
        f"- pythia vs herwig toy background, SR features, boosted-tree test AUC: {auc_hp:.3f} (target 0.6-0.7).",
        f"- real vs toy SR background, same classifier: AUC {auc_real:.3f} (0.5 = indistinguishable).",
        "",
        "![toy vs real](toy_calibration.png)",
    ]
    print(write_results("toy_calibration", "\n".join(lines) + "\n", {
        "seed": FLAGS.seed, "n_background": FLAGS.n_background, "generation_seconds": seconds,
        "rows": {k: {"real": r, "toy": t} for k, (r, t) in rows.items()},
        "auc_pythia_vs_herwig": auc_hp, "auc_real_vs_toy": auc_real}))


if __name__ == "__main__":
    run(main)
