"""AUC / max SIC of the autoencoder methods on the constituent toy, next to high-level-feature baselines.

One dataset from :func:`resad_tf.methods.sparse_ae.load_constituents` (the
constituent toy: clustered jets -> the 4 standard features + 20x20 images of
both jets), ``--n_sig`` signal events injected, SR 3.3-3.7 TeV, half of the
background held out for the labelled test set and the background reference.

Rows: XGBoost on the standard features, SR vs sidebands (CWoLa-like, 0.2 TeV
sidebands balanced as in CWoLa) and SR vs reference (idealized); the dense AE
and VAE on the standard features (trained on the sidebands); the sparse-conv
AE on the images: its reconstruction error, and its bottleneck features
(2 x 128) -> XGBoost, SR vs sidebands (the method's default) and vs reference.
Reduced sizes for a CPU (default 40k background, 20 epochs, one seed);
runs in about 5-10 minutes on 2 cores.  Writes bench/results/unsupervised_toy.md.

    .venv/bin/python bench/unsupervised_toy.py [--n_background 40000] [--n_sig 1000] [--seed 0]
"""

from __future__ import annotations

import argparse
import dataclasses
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from common import write_results  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n_background", type=int, default=40_000)
    parser.add_argument("--n_signal", type=int, default=3_000)
    parser.add_argument("--n_sig", type=int, default=1_000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from resad_tf import data, metrics, runtime
    from resad_tf.methods.autoencoder import VAE, Autoencoder, AutoencoderConfig, VAEConfig
    from resad_tf.methods.classify import ClassifierOptions, Discriminator
    from resad_tf.methods.cwola import sideband_weights
    from resad_tf.methods.sparse_ae import SparseAE, SparseAEConfig, load_constituents

    runtime.seed_everything(args.seed)
    t0 = time.time()
    src = load_constituents("toy_constituents", n_background=args.n_background, n_signal=args.n_signal,
                            seed=args.seed)
    regions = data.make_regions(src.events, data.Window(3.3, 3.7), n_sig=args.n_sig, holdout=0.5, seed=args.seed)
    load_s = time.time() - t0
    test, sr, ref = regions.test, regions.sr, regions.reference
    window = dataclasses.replace(regions.window, sb_width=0.2)
    sb = regions.data.select(window.sb(regions.data.mjj))
    w_sb = sideband_weights(sb.mjj, window, len(sr))
    xgb = ClassifierOptions(classifier="xgb", n_estimators=10, max_iter=200)
    features = slice(0, -1)  # drop the event_id column for the feature-level methods

    def drop_id(ev):
        return ev.with_features(ev.x[:, features], ev.features[features])

    hl = data.Regions(window=regions.window, data=drop_id(regions.data), test=drop_id(test))
    rows, timings = {}, {}

    def record(name, score, seconds):
        rows[name] = metrics.summarize(test.label, score).to_dict()
        timings[name] = seconds
        print(f"{name}: auc={rows[name]['auc']:.3f} max_sic={rows[name]['max_sic']:.2f} ({seconds:.0f} s)", flush=True)

    def weak(x_sr, x_sb, x_ref, x_test, label):
        t = time.time()
        d = Discriminator(xgb, seed=args.seed).fit(x_sr, x_sb, sr.weight, w_sb)
        record(f"{label}, SR vs sidebands", d.predict(x_test), time.time() - t)
        t = time.time()
        d = Discriminator(xgb, seed=args.seed).fit(x_sr, x_ref)
        record(f"{label}, SR vs reference (idealized)", d.predict(x_test), time.time() - t)

    weak(sr.x[:, features], sb.x[:, features], ref.x[:, features], test.x[:, features],
         "XGBoost on standard features")
    for cls, cfg in ((Autoencoder, AutoencoderConfig(epochs=50, patience=5)), (VAE, VAEConfig(epochs=50, patience=5))):
        t = time.time()
        method = cls(cfg, seed=args.seed, verbose=False).fit(hl)
        record(f"{cls.name} on standard features (reconstruction)", method.score(hl.test), time.time() - t)

    t = time.time()
    cfg = SparseAEConfig(epochs=args.epochs)
    sparse = SparseAE.on(src.images)(cfg, seed=args.seed, verbose=True).fit(regions)
    fit_s = time.time() - t
    record("sparse AE: reconstruction error", sparse.reconstruction_error(test), fit_s)
    record("sparse AE: bottleneck -> XGBoost, SR vs sidebands (default)", sparse.score(test), fit_s)
    t = time.time()
    d = Discriminator(xgb, seed=args.seed).fit(sparse.bottleneck(sr), sparse.bottleneck(ref))
    record("sparse AE: bottleneck -> XGBoost, SR vs reference (idealized)",
           d.predict(sparse.bottleneck(test)), time.time() - t)

    summary = regions.summary()
    lines = ["# Unsupervised / representation methods on the constituent toy", "",
             f"Constituent toy (`load_constituents`), {args.n_background} background + {args.n_signal} signal pool, "
             f"{args.n_sig} injected, SR 3.3-3.7 TeV: {summary['n_sig_sr']} signal / {summary['n_bkg_sr']} "
             f"background in the SR data (S/B = {summary['s_over_b_sr']:.2f}); test set {test.n_signal} signal + "
             f"{test.n_background} background (max SIC needs >= 50 background events, so it saturates near "
             f"{np.sqrt(test.n_background / 50):.1f}).  Reduced CPU sizes, one seed ({args.seed}); sparse AE "
             f"{cfg.npix}x{cfg.npix} images, filters {cfg.filters}, bottleneck {cfg.latent_dim}/jet, "
             f"{len(sparse.history_['loss'])} epochs.  Data preparation {load_s:.0f} s.  "
             "SIC at eff_s=0.2 is inf when no test background passes that cut.  "
             "Produced by `bench/unsupervised_toy.py`.", "",
             "| method | AUC | max SIC | SIC at eff_s=0.2 | fit s |", "| --- | --- | --- | --- | --- |"]
    for name, r in rows.items():
        lines.append(f"| {name} | {r['auc']:.3f} | {r['max_sic']:.2f} | {r['sic_at_0_2']:.2f} | {timings[name]:.0f} |")
    write_results("unsupervised_toy", "\n".join(lines) + "\n",
                  {"rows": rows, "fit_seconds": timings, "seed": args.seed})
    print("\n".join(lines))


if __name__ == "__main__":
    main()
