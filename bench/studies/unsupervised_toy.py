"""Max SIC of the autoencoder methods on the constituent toy, over seeds and N_sig, next to feature baselines.

Per seed one constituent-toy pool (:func:`resad_tf.methods.sparse_ae.load_constituents`:
clustered jets -> the 4 standard features + 20x20 images of both jets);
for each N_sig that many signal events are injected, SR 3.3-3.7 TeV, half of
the background held out for the labelled test set and the background
reference.  Rows: XGBoost on the standard features, SR vs sidebands
(CWoLa-like, 0.2 TeV sidebands balanced as in CWoLa) and SR vs reference
(idealized); the dense AE and VAE on the standard features (trained on the
sidebands); the sparse-conv AE on the images: its reconstruction error, and
its bottleneck features (2 x 128) -> XGBoost, SR vs sidebands (the method's
default) and vs reference.  Reduced sizes for a CPU (20 epochs).  The table
gives the median max SIC and IQR over seeds per (method, N_sig); runs are
saved as they finish (``--merge`` keeps earlier runs of other (N_sig, seed)).
Writes bench/results/unsupervised_toy.md/.json.

    .venv/bin/python bench/studies/unsupervised_toy.py --n_background=100000 --n_sigs=1000,500,300 --seeds=0,1,2
"""

from __future__ import annotations

import dataclasses
import pathlib
import sys
import time

import numpy as np
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import (RESULTS, define_seeds, ints, markdown_table, merge_rows, run, seed_summary, seeds,  # noqa: E402
                    write_results)

flags.DEFINE_integer("n_background", 100_000, "background events of each seed's constituent pool")
flags.DEFINE_integer("n_signal", 3_000, "signal pool per seed")
flags.DEFINE_list("n_sigs", ["1000", "500", "300"], "injected signal counts")
define_seeds(help="seeds (each its own constituent pool)")
flags.DEFINE_integer("epochs", 20, "sparse AE epochs")
flags.DEFINE_bool("merge", False, "keep saved runs of other (N_sig, seed)")
FLAGS = flags.FLAGS


def run_dataset(src, n_sig: int, seed: int, epochs: int) -> tuple[list[dict], dict]:
    """Every method on one injected data set: per-method rows and the data set's counts."""
    from resad_tf import data, metrics, runtime
    from resad_tf.methods.autoencoder import VAE, Autoencoder, AutoencoderConfig, VAEConfig
    from resad_tf.methods.classify import ClassifierOptions, Discriminator
    from resad_tf.methods.cwola import sideband_weights
    from resad_tf.methods.sparse_ae import SparseAE, SparseAEConfig

    runtime.seed_everything(seed)
    regions = data.make_regions(src.events, data.Window(3.3, 3.7), n_sig=n_sig, holdout=0.5, seed=seed)
    test, sr, ref = regions.test, regions.sr, regions.reference
    window = dataclasses.replace(regions.window, sb_width=0.2)
    sb = regions.data.select(window.sb(regions.data.mjj))
    w_sb = sideband_weights(sb.mjj, window, len(sr))
    xgb = ClassifierOptions(classifier="xgb", n_estimators=10, max_iter=200)
    features = slice(0, -1)  # drop the event_id column for the feature-level methods
    counts = regions.summary()
    rows = []

    def drop_id(ev):
        return ev.with_features(ev.x[:, features], ev.features[features])

    hl = data.Regions(window=regions.window, data=drop_id(regions.data), test=drop_id(test))

    def record(name, score, seconds):
        r = metrics.summarize(test.label, score).to_dict()
        rows.append(dict(method=name, n_sig=n_sig, seed=seed, auc=r["auc"], max_sic=r["max_sic"],
                         sic_at_0_2=r["sic_at_0_2"], n_sig_sr=counts["n_sig_sr"],
                         s_over_sqrt_b=counts["s_over_sqrt_b_sr"], seconds=round(seconds)))
        print(f"N_sig={n_sig} seed={seed} {name}: auc={r['auc']:.3f} max_sic={r['max_sic']:.2f} "
              f"({seconds:.0f} s)", flush=True)

    def weak(x_sr, x_sb, x_ref, x_test, label):
        t = time.time()
        d = Discriminator(xgb, seed=seed).fit(x_sr, x_sb, sr.weight, w_sb)
        record(f"{label}, SR vs sidebands", d.predict(x_test), time.time() - t)
        t = time.time()
        d = Discriminator(xgb, seed=seed).fit(x_sr, x_ref)
        record(f"{label}, SR vs reference (idealized)", d.predict(x_test), time.time() - t)

    weak(sr.x[:, features], sb.x[:, features], ref.x[:, features], test.x[:, features],
         "XGBoost on standard features")
    for cls, cfg in ((Autoencoder, AutoencoderConfig(epochs=50, patience=5)), (VAE, VAEConfig(epochs=50, patience=5))):
        t = time.time()
        method = cls(cfg, seed=seed, verbose=False).fit(hl)
        record(f"{cls.name} on standard features (reconstruction)", method.score(hl.test), time.time() - t)

    t = time.time()
    sparse = SparseAE(SparseAEConfig(epochs=epochs), images=src.images, seed=seed, verbose=False).fit(regions)
    fit_s = time.time() - t
    record("sparse AE: reconstruction error", sparse.reconstruction_error(test), fit_s)
    record("sparse AE: bottleneck -> XGBoost, SR vs sidebands (default)", sparse.score(test), fit_s)
    t = time.time()
    d = Discriminator(xgb, seed=seed).fit(sparse.bottleneck(sr), sparse.bottleneck(ref))
    record("sparse AE: bottleneck -> XGBoost, SR vs reference (idealized)",
           d.predict(sparse.bottleneck(test)), time.time() - t)
    counts.update(n_test_signal=test.n_signal, n_test_background=test.n_background,
                  epochs_trained=len(sparse.history_["loss"]))
    return rows, counts


def report(rows: list[dict], datasets: dict, args) -> None:
    rows = sorted(rows, key=lambda r: (-r["n_sig"], r["seed"]))
    summary = seed_summary(rows, lambda r: {"n_sig": r["n_sig"], "method": r["method"]})
    summary.sort(key=lambda r: -r["n_sig"])
    n_bkg_test = min(d["n_test_background"] for d in datasets.values())
    text = (
        "# Unsupervised / representation methods on the constituent toy\n\n"
        f"Constituent toy (`load_constituents`): per seed {args.n_background} background + {args.n_signal} "
        "signal pool, half of the background held out (test set and idealized reference), SR 3.3-3.7 TeV, "
        "20x20 images, sparse AE filters (16, 32), bottleneck 128/jet, up to "
        f"{args.epochs} epochs; XGBoost 10 members x 200 rounds.  The test set holds >= {n_bkg_test} "
        "background events, and max SIC ignores FPR resting on fewer than 50, so it saturates near "
        f"{np.sqrt(n_bkg_test / 50):.1f}.  This toy's QCD jets are one-pronged and its S/B is not the "
        "feature toy's: compare methods within this table only.  Produced by `bench/studies/unsupervised_toy.py`.\n\n"
        "Median and IQR of max SIC over seeds:\n\n"
        + markdown_table(summary, ["n_sig", "method", "max_sic", "q25", "q75", "auc", "seeds"])
        + "\n\nData sets (signal and background in the SR data):\n\n"
        + markdown_table([dict(n_sig=k[0], seed=k[1], **{c: d[c] for c in ("n_sig_sr", "n_bkg_sr", "s_over_b_sr",
                                                                            "s_over_sqrt_b_sr", "epochs_trained")})
                          for k, d in sorted(datasets.items(), key=lambda kv: (-kv[0][0], kv[0][1]))],
                         ["n_sig", "seed", "n_sig_sr", "n_bkg_sr", "s_over_b_sr", "s_over_sqrt_b_sr",
                          "epochs_trained"], ".3g")
        + "\n\nPer run:\n\n"
        + markdown_table(rows, ["method", "n_sig", "seed", "auc", "max_sic", "sic_at_0_2", "seconds"])
        + "\n")
    print(write_results("unsupervised_toy", text,
                        {"summary": summary, "runs": rows,
                         "datasets": [dict(n_sig=k[0], seed=k[1], **d) for k, d in datasets.items()],
                         "settings": dict(n_background=args.n_background, n_signal=args.n_signal,
                                          n_sigs=ints("n_sigs"), seeds=seeds(), epochs=args.epochs)}))


def main():
    import json

    args = FLAGS
    from resad_tf.methods.sparse_ae import load_constituents

    path = RESULTS / "unsupervised_toy.json"
    rows, datasets = [], {}
    if args.merge and path.exists():
        saved = json.loads(path.read_text())
        rows = saved.get("runs", [])
        datasets = {(d["n_sig"], d["seed"]): {k: v for k, v in d.items() if k not in ("n_sig", "seed")}
                    for d in saved.get("datasets", [])}
    for seed in seeds():
        t0 = time.time()
        src = load_constituents("toy_constituents", n_background=args.n_background, n_signal=args.n_signal,
                                seed=seed, quiet=True)
        print(f"seed {seed}: constituent pool in {time.time() - t0:.0f} s", flush=True)
        for n_sig in ints("n_sigs"):
            new, counts = run_dataset(src, n_sig, seed, args.epochs)
            rows = merge_rows(rows, new, key=lambda r: (r["method"], r["n_sig"], r["seed"]))
            datasets[(n_sig, seed)] = counts
            report(rows, datasets, args)


if __name__ == "__main__":
    run(main)
