#!/usr/bin/env python
"""IAD and supervised bounds on the official LHCO signal-region features (../shared/data/lhco/cathode_sr).

The exact split (issue 4's protocol):
* data       = innerdata_train.npy (60,000 SR events, 395 signal: the standard N_sig = 1000 injection)
* background = the background rows of innerdata_test.npy split into --n_folds parts by --seed;
               in fold k, part k is the evaluation background and the other parts are the
               IAD's background reference and the supervised classifier's background
               (--reference_size > 0 subsamples that reference, for the sample-size scan)
* signal     = innerdata_extrasig.npy (27,263 signal) for the supervised classifier
* evaluation = the folds' held-out parts pooled, with the 20,000 signal rows of innerdata_test.npy
               split the same way: every evaluation event is scored once, by a model that did
               not see it, and the evaluation background is all 40,000 (the max-SIC floor of
               50 background events sits at FPR 1.25e-3).  --n_folds=2 (the default) is the
               two halves swapped; more folds give each model a larger reference
               (n_folds=4: 30,000).

    python bench/studies/real_cathode_sr.py [--seeds=0,1,2] [--classifier=mlp] [--n_folds=2] [--reference_size=0] [--tag=]
    python bench/studies/real_cathode_sr.py --classifier=hgb --n_estimators=10 --n_folds=4 --methods=iad \
        --n_sigs=1000,600,500,300,225 --seeds=0,1,2,3,4 --tag=_lowsb      # the low-signal ladder

--n_sigs thins the data's signal: N_sig = 1000 keeps all 395, N_sig = n keeps round(395 n / 1000) of them
(drawn by the seed), the background untouched: the injections of the toy's low-signal table.

Writes bench/results/real_cathode_sr_<classifier><tag>.md/.json (median and IQR over seeds of max SIC and AUC).
"""

from __future__ import annotations

import functools
import sys
import time

import numpy as np
from absl import flags

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import LHCO, define_seeds, ints, machine, markdown_table, run, seeds, write_results  # noqa: E402

from resad_tf import metrics, runtime  # noqa: E402
from resad_tf.data import Events, Window, features, formats, make_regions  # noqa: E402
from resad_tf.errors import InputError  # noqa: E402
from resad_tf.methods.iad import IADConfig, IdealizedAD, Supervised, SupervisedConfig  # noqa: E402

define_seeds(("0", "1", "2"), "seeds (split of innerdata_test and training)")
flags.DEFINE_string("classifier", "mlp", "mlp, hgb or xgb")
flags.DEFINE_integer("epochs", 100, "MLP epochs (early stopping, patience 10)")
flags.DEFINE_integer("n_best_epochs", 10, "MLP epoch ensembling")
flags.DEFINE_integer("n_folds", 2, "background folds: each model trains on all but one fold's background and "
                     "scores the held-out one; the held-out scores are pooled (2 = the halves swapped)")
flags.DEFINE_integer("reference_size", 0, "subsample each fold's background reference to this many events "
                     "(0 = all of the other folds)")
flags.DEFINE_list("methods", ["supervised", "iad"], "which bounds to train")
flags.DEFINE_string("tag", "", "suffix of the result file name")
flags.DEFINE_integer("n_estimators", 50, "tree ensembles: members")
flags.DEFINE_list("n_sigs", ["1000"], "injections: keep round(395 n / 1000) of the data's 395 signal events")
FLAGS = flags.FLAGS


@functools.cache
def load(name: str) -> Events:
    """One of the cathode_sr arrays as Events (read once: every fold and seed starts from the same arrays)."""
    return features.from_cathode(formats.read_cathode(LHCO / "cathode_sr" / name), source=name)


def regions_for(seed: int, fold: int = 0, n_folds: int = 2, reference_size: int = 0, n_sig: int = 1000):
    """The regions of one fold: its part of innerdata_test's background (and signal) is evaluated,
    the other parts' background is the reference (subsampled to ``reference_size`` if > 0)."""
    data, test_pool, extrasig = load("innerdata_train.npy"), load("innerdata_test.npy"), load("innerdata_extrasig.npy")
    if n_sig != 1000:
        signal = np.flatnonzero(data.label == 1)
        keep = np.random.default_rng(seed + 11).choice(signal, round(len(signal) * n_sig / 1000), replace=False)
        data = data.select(np.sort(np.r_[np.flatnonzero(data.label == 0), keep]))
    bkg, sig = test_pool.background().shuffle(seed), test_pool.signal().shuffle(seed + 1)
    parts = np.array_split(np.arange(len(bkg)), n_folds)
    held_out = (fold + 1) % n_folds  # n_folds=2: fold 0 trains on half A and scores half B, as before
    rest = np.concatenate([p for k, p in enumerate(parts) if k != held_out])
    if reference_size:
        if reference_size > len(rest):
            raise InputError(f"--reference_size={reference_size} exceeds the {len(rest)} background events "
                             f"outside one of {n_folds} folds")
        rest = np.random.default_rng(seed + 7).choice(rest, reference_size, replace=False)
    reference, eval_bkg = bkg.select(rest), bkg.select(parts[held_out])
    eval_sig = sig.select(np.array_split(np.arange(len(sig)), n_folds)[fold])
    test = Events.concat([eval_bkg, eval_sig])
    return make_regions(data, Window(3.3, 3.7), n_sig=None, test=test, reference=reference, signal=extrasig,
                        seed=seed)


def main():
    rows = []
    runtime.configure()
    if FLAGS.n_folds < 2:
        raise InputError(f"--n_folds={FLAGS.n_folds}: need at least 2 folds (one evaluated, the rest the reference)")
    folds = range(FLAGS.n_folds)
    n_sigs = ints("n_sigs")
    if not all(0 <= n <= 1000 for n in n_sigs):
        raise InputError(f"--n_sigs={','.join(FLAGS.n_sigs)}: each must be in 0-1000 (1000 = all of the data's signal)")
    for n_sig, seed in ((n, s) for n in n_sigs for s in seeds()):
        fold_regions = [regions_for(seed, fold, FLAGS.n_folds, FLAGS.reference_size, n_sig) for fold in folds]
        label = np.concatenate([regions.test.label for regions in fold_regions])
        for cls, cfg_cls in ((Supervised, SupervisedConfig), (IdealizedAD, IADConfig)):
            if cls.name not in FLAGS.methods:
                continue
            cfg = cfg_cls(classifier=FLAGS.classifier, epochs=FLAGS.epochs, n_best_epochs=FLAGS.n_best_epochs,
                          n_estimators=FLAGS.n_estimators)
            t0, scores = time.time(), []
            for fold, regions in zip(folds, fold_regions):
                runtime.seed_everything(seed + 100 * fold)
                m = cls(cfg, seed=seed + 100 * fold, verbose=False).fit(regions)
                scores.append(m.score(regions.test))
            score = np.concatenate(scores)
            s = metrics.summarize(label, score, min_bkg=50)
            rows.append(dict(method=cls.name, n_sig=n_sig, n_sig_data=fold_regions[0].data.n_signal, seed=seed,
                             auc=s.auc, max_sic=s.max_sic,
                             max_sic_floor10=metrics.max_sic(label, score, min_bkg=10),
                             n_eval_bkg=int(np.sum(label == 0)),
                             n_reference=len(fold_regions[0].reference), seconds=time.time() - t0))
            print(rows[-1], flush=True)
    summary = []
    for n_sig, name in ((n, m) for n in n_sigs for m in ("supervised", "iad")):
        r = [x for x in rows if x["method"] == name and x["n_sig"] == n_sig]
        if not r:
            continue
        ms, au = metrics.median_iqr([x["max_sic"] for x in r]), metrics.median_iqr([x["auc"] for x in r])
        m10 = metrics.median_iqr([x["max_sic_floor10"] for x in r])
        summary.append(dict(n_sig=n_sig, n_sig_data=r[0]["n_sig_data"], method=name, max_sic_median=ms["median"],
                            max_sic_q25=ms["q25"], max_sic_q75=ms["q75"], max_sic_floor10_median=m10["median"],
                            auc_median=au["median"], seeds=len(r)))
    reg = fold_regions[0]  # the sample sizes are the same in every fold and seed
    n_eval_bkg = rows[0]["n_eval_bkg"]
    n_eval_sig = int(np.sum(label == 1))
    text = (
        "# IAD and supervised on the official LHCO SR features (cathode_sr)\n\n"
        f"Machine: {machine()}. Classifier: {FLAGS.classifier} ("
        + (f"3 x 64 ReLU, Adam 1e-3, batch 128, up to {FLAGS.epochs} epochs, {FLAGS.n_best_epochs} best epochs "
           "averaged" if FLAGS.classifier == "mlp" else
           f"{FLAGS.n_estimators} boosted-tree members, max_iter 200, early stopping")
        + ").\n\n"
        f"Split: data = innerdata_train ({len(load('innerdata_train.npy'))} events, "
        f"{load('innerdata_train.npy').n_signal} signal at N_sig = 1000, thinned for lower N_sig); innerdata_test's "
        f"background in {FLAGS.n_folds} folds: each model's reference (IAD) and background (supervised) is "
        f"{len(reg.reference)} events of the other folds, its held-out fold is evaluated with the same share of "
        f"innerdata_test's signal; supervised signal = innerdata_extrasig ({len(reg.signal)}).  The held-out "
        f"scores are pooled: {n_eval_bkg} bkg + {n_eval_sig} sig, every event scored once by a model that did not "
        f"see it. max SIC ignores FPR below 50 background events (FPR >= {50 / n_eval_bkg:.1e}); the floor-10 "
        f"column allows FPR down to {10 / n_eval_bkg:.1e} (~30% statistical error there).\n\n"
        + markdown_table(summary, ["n_sig", "n_sig_data", "method", "max_sic_median", "max_sic_q25", "max_sic_q75",
                                   "max_sic_floor10_median", "auc_median", "seeds"])
        + "\n\nLiterature (CATHODE paper, larger training samples): supervised ~17, IAD ~15.6.\n\nPer seed:\n\n"
        + markdown_table(rows, ["method", "n_sig", "seed", "auc", "max_sic", "max_sic_floor10", "n_eval_bkg",
                                "n_reference", "seconds"])
        + "\n"
    )
    print(write_results(f"real_cathode_sr_{FLAGS.classifier}{FLAGS.tag}", text, {"summary": summary, "runs": rows}))


if __name__ == "__main__":
    run(main)
