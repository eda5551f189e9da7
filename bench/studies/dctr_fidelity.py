#!/usr/bin/env python
"""DCTR fidelity: how well do SALAD's weights turn the simulation into the true SR background?

SALAD's signal-region classifier separates the data from the DCTR-weighted
simulation.  Wherever the weights leave the simulation short of the true
background, the data look like signal to it, so the weights' residual
mis-modelling caps SALAD below the idealized detector (IAD), whose reference
is true background.  On the toy the truth is available (the IAD's
generator-truth reference, pythia-like, 4x the data), so for each DCTR
variant this bench reports

* truth vs weighted simulation: a 2-fold cross-fitted HGB in the SR
  (interpolation) and on held-out sideband events (closure where the weights
  were fitted): AUC (0.5 = indistinguishable) and the tail excess, the ratio
  truth / weighted simulation above the score that keeps 1% and 0.1% of the
  simulation's weight (1 = no fake excess in the most data-like corner);
* a ladder: the same SR classifier (10 HGB members; steadier than the MLP)
  trained on the SR data against the truth (IAD), the bare simulation and each
  variant's weighted simulation, max SIC on one test set, over classifier seeds.

    python bench/studies/dctr_fidelity.py --variant=cpu= --variant=runs3=dctr_n_runs=3 --ladder_seeds=0,1,2

``--variant=label=field=value:...`` changes fields of SALAD's cpu-profile
config (bench/studies/compare_methods.py); ``label=`` runs the profile as is.
``--truth_fractions=0.25,0.5`` adds ladder arms whose reference is a random
fraction of the truth (0.25 = as many events as the data): how the IAD itself
depends on its reference's statistics, to set against the weighted
simulation's effective size (Kish, (sum w)^2 / sum w^2), which the settings
block reports per variant, in the whole SR and among the simulation events
the IAD's classifier finds most data-like (its top 1%).
``--drop_sb_signal`` removes the injected signal from the sideband data before
the DCTR training (a diagnostic, from truth labels): does the signal leaking
into the sidebands next to the SR, learnt by the DCTR as mis-modelling and
carried into the SR by the m_jj interpolation, cost SALAD?  (On the toy it
does not: bench/results/dctr_fidelity_sbsignal.md.)
``--sr_truth_dctr`` adds a diagnostic that no analysis could run: DCTR
trained in the SR itself on truth vs simulation, which removes the m_jj
interpolation and leaves the classifier's own limits.  Same data set as
bench/studies/compare_methods.py (N_sig, seed).  Writes bench/results/dctr_fidelity.md/.json.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time

import numpy as np
from absl import flags

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import (CPU_CLASSIFIER, RESULTS, TAIL_FRACTIONS, ints, machine, markdown_table, merge_rows,  # noqa: E402
                    run, seed_summary, separability, sr_classifier_run, with_changes, write_results)

from resad_tf import pipeline, runtime  # noqa: E402
from resad_tf.methods.classify import ClassifierOptions  # noqa: E402
from resad_tf.methods.dctr import DCTRReweighter  # noqa: E402
from resad_tf.methods.salad import Salad, SaladConfig  # noqa: E402

flags.DEFINE_multi_string("variant", ["cpu="], "label=field=value:field=value of SALAD's cpu-profile config "
                          "(repeatable; 'label=' for the profile as is)")
flags.DEFINE_integer("n_sig", 1000, "signal injected in the data (as bench/studies/compare_methods.py)")
flags.DEFINE_integer("seed", 0, "data seed")
flags.DEFINE_integer("dctr_seed", None, "DCTR training seed (default: --seed)")
flags.DEFINE_bool("baselines", True, "also run the truth-vs-truth floor, the bare simulation and the IAD arm")
flags.DEFINE_string("tag", "", "result file suffix: bench/results/dctr_fidelity<_tag>.md")
flags.DEFINE_string("sr", "3.3,3.7", "signal region, TeV")
flags.DEFINE_integer("toy_n_background", 1_000_000, "background events of the toy data (as the scripts)")
flags.DEFINE_list("ladder_seeds", ["0", "1", "2"], "SR-classifier seeds of the ladder (empty: skip it)")
flags.DEFINE_bool("fidelity", True, "run the truth-vs-weighted-simulation test")
flags.DEFINE_bool("sr_truth_dctr", False, "add the diagnostic DCTR trained in the SR on truth vs simulation")
flags.DEFINE_list("truth_fractions", [], "extra ladder arms: the IAD with this fraction of its truth reference")
flags.DEFINE_bool("drop_sb_signal", False, "diagnostic: remove the injected signal from the sideband data "
                  "before every variant's DCTR training (truth labels)")
flags.DEFINE_bool("rerender", False, "only rewrite the tag's markdown from its JSON")
flags.DEFINE_bool("merge", False, "keep the rows of earlier runs with other labels")
FLAGS = flags.FLAGS

LADDER_CLASSIFIER = ClassifierOptions(classifier="hgb", n_estimators=10)


def _dctr_seed() -> int:
    return FLAGS.seed if FLAGS.dctr_seed is None else FLAGS.dctr_seed


def reweightings(regions):
    """(label, SR simulation weights, held-out SB (data, simulation, weights) or None, settings) per variant."""
    out, configs = [], []
    dctr_regions = regions
    if FLAGS.drop_sb_signal:
        d = regions.data
        dctr_regions = dataclasses.replace(regions, data=d.select(~(regions.window.sb(d.mjj) & (d.label == 1))))
        print(f"dropped {len(d) - len(dctr_regions.data)} signal events from the sidebands", flush=True)
    for text in FLAGS.variant:
        label, _, rest = text.partition("=")
        cfg = with_changes(SaladConfig(**CPU_CLASSIFIER), rest.split(":"))
        configs.append(cfg)
        t0 = time.time()
        salad = Salad(cfg, seed=_dctr_seed(), verbose=False)
        w_sr = salad.reweight(dctr_regions)
        check = None
        if salad.dctr_ is not None:
            sim = salad.sb_sim_check_
            check = (salad.sb_data_check_.x, sim.x, sim.weight * salad.dctr_.weights(sim.xm()))
        minutes = round((time.time() - t0) / 60, 1)
        print(f"{label}: DCTR in {minutes} min", flush=True)
        out.append((label, salad.sr_sim_, w_sr, check,
                    dict(changes=rest + (" (sideband signal dropped)" if FLAGS.drop_sb_signal else ""),
                         dctr_minutes=minutes, dctr_events=salad.dctr_events_,
                         max_weight=cfg.max_weight, dctr_seed=_dctr_seed())))
    if FLAGS.sr_truth_dctr:
        sim = out[0][1]
        ref, cfg = regions.reference, configs[0]
        t0 = time.time()
        dctr = DCTRReweighter(cfg, seed=_dctr_seed(), max_weight=cfg.max_weight).fit(ref.xm(), sim.xm())
        out.append(("sr_truth (diagnostic)", sim, sim.weight * dctr.weights(sim.xm()), None,
                    dict(changes="DCTR fitted in the SR, truth vs simulation, with the first variant's settings",
                         dctr_minutes=round((time.time() - t0) / 60, 1), max_weight=cfg.max_weight,
                         dctr_seed=_dctr_seed())))
    return out


def fidelity(regions, variants) -> list[dict]:
    truth = regions.reference.x
    half = len(truth) // 2
    sim = variants[0][1]
    rows = []
    if FLAGS.baselines:
        rows.append(dict(label="truth vs truth", region="SR",
                         **separability(truth[:half], truth[half:2 * half], FLAGS.seed)))
        print(rows[-1], flush=True)
        rows.append(dict(label="simulation, no weights", region="SR",
                         **separability(truth, sim.x, FLAGS.seed, sim.weight)))
        print(rows[-1], flush=True)
    for label, sr_sim, w, check, _ in variants:
        rows.append(dict(label=label, region="SR", **separability(truth, sr_sim.x, FLAGS.seed, w)))
        print(rows[-1], flush=True)
        if check is not None:
            rows.append(dict(label=label, region="SB (held out)", **separability(check[0], check[1], FLAGS.seed,
                                                                                 check[2])))
            print(rows[-1], flush=True)
    return rows


def ladder(regions, variants, seeds) -> list[dict]:
    sr, test, ref = regions.sr, regions.test, regions.reference
    sim = variants[0][1]
    arms = []
    if FLAGS.baselines:
        arms = [("truth (IAD)", ref.x, ref.weight), ("simulation, no weights", sim.x, sim.weight)]
    for f in (float(v) for v in FLAGS.truth_fractions):
        keep = np.random.default_rng(FLAGS.seed + 11).random(len(ref)) < f
        arms.append((f"truth x {f:g} ({keep.sum() / len(sr):.1f}x the data)", ref.x[keep], ref.weight[keep]))
    arms += [(label, s.x, w) for label, s, w, _, _ in variants]
    rows = []
    for label, x0, w0 in arms:
        for seed in seeds:
            rows.append(dict(reference=label, **sr_classifier_run(LADDER_CLASSIFIER, sr, x0, w0, test, seed)))
            print(rows[-1], flush=True)
    return rows


def kish(w) -> float:
    """Effective number of events of a weighted sample, (sum w)^2 / sum w^2.

    >>> kish([1.0, 1.0, 1.0, 1.0]), kish([2.0, 0.0, 0.0, 0.0])
    (4.0, 1.0)
    """
    w = np.asarray(w, np.float64)
    return float(w.sum() ** 2 / np.sum(w ** 2))


def effective_statistics(regions, variants) -> dict:
    """Per variant: the weighted SR simulation's Kish size over the data's size, in the whole SR and in the
    IAD classifier's most data-like 1% of the simulation (where the SR classifier has to find the signal),
    with the truth's count there for comparison (both scaled to the truth's size); and the fraction of
    weights at the clip."""
    from resad_tf.methods.classify import Discriminator

    sr, ref = regions.sr, regions.reference
    # cross-fitted: the IAD trains on half the truth and counts the other half (its own training events
    # would score low and undercount the truth in its top region)
    train = np.random.default_rng(FLAGS.seed + 13).random(len(ref)) < 0.5
    iad = Discriminator(LADDER_CLASSIFIER, seed=0, verbose=False).fit(sr.x, ref.x[train], sr.weight,
                                                                     ref.weight[train])
    s_truth = iad.predict(ref.x[~train])
    out = {}
    for label, sim, w, _, settings in variants:
        s_sim = iad.predict(sim.x)
        cut = np.quantile(s_sim, 0.99)
        top = s_sim > cut
        n_truth_top = round(float(np.sum(s_truth > cut) * len(ref) / np.sum(~train)), 1)
        clip = settings.get("max_weight")
        out[label] = dict(kish_over_data=round(kish(w) / len(sr), 2),
                          top1pct_kish=round(kish(w[top]), 1), top1pct_raw=int(top.sum()),
                          top1pct_weighted=round(float(w[top].sum() * len(ref) / w.sum()), 1),
                          top1pct_truth=n_truth_top,
                          clipped_fraction=None if clip is None else float(np.mean(w >= clip)))
        print(label, out[label], flush=True)
    return out


def ladder_summary(rows) -> list[dict]:
    out = seed_summary(rows, lambda r: {"reference": r["reference"]})
    iad = next((r["max_sic"] for r in out if r["reference"] == "truth (IAD)"), None)
    for r in out:
        r["x_iad"] = r["max_sic"] / iad if iad else float("nan")
    return out


def render(rows, ladder_rows, settings, machine_text: str) -> str:
    """The markdown report of the fidelity rows, the ladder rows and each variant's settings."""
    ladder_rows = sorted(ladder_rows, key=lambda r: r["reference"] != "truth (IAD)")
    rows = sorted(rows, key=lambda r: r["label"] != "truth vs truth")
    dctr_seeds = sorted({str(s.get("dctr_seed", _dctr_seed())) for s in settings.values()})
    return (
        "# DCTR fidelity: true SR background vs SALAD's weighted simulation\n\n"
        f"Machine: {machine_text}. Toy, N_sig={FLAGS.n_sig} (data seed {FLAGS.seed}, DCTR seed "
        f"{', '.join(dctr_seeds)}, per variant in the settings below), "
        f"SR {FLAGS.sr} TeV; truth = the IAD's "
        "generator-truth SR background (pythia-like, 4x the data); simulation = the herwig-like sample "
        "(4x the data). HGB truth vs (weighted) simulation, 2-fold cross-fitted; excess_q = truth / weighted "
        "simulation above the score that keeps a fraction q of the simulation's weight.\n\n"
        + (markdown_table(rows, ["label", "region", "auc"] + [f"excess_{q:g}" for q in TAIL_FRACTIONS], ".4g")
           if rows else "(no fidelity rows: --nofidelity)")
        + ("\n\n## Ladder: SR classifier (10 HGB members) on the data vs each background estimate\n\n"
           "Median and IQR over classifier seeds; x_iad = max SIC / the IAD's.\n\n"
           + markdown_table(ladder_summary(ladder_rows), ["reference", "max_sic", "q25", "q75", "x_iad", "auc",
                                                          "seeds"])
           + "\n\nPer classifier seed:\n\n"
           + markdown_table(ladder_rows, ["reference", "classifier_seed", "auc", "max_sic", "seconds"])
           if ladder_rows else "")
        + "\n\nDCTR variants (SALAD's cpu profile "
        + f"{CPU_CLASSIFIER} with these changes):\n\n```\n"
        + "\n".join(f"{k}: {v}" for k, v in settings.items()) + "\n```\n"
    )


def main():
    name = "dctr_fidelity" + (f"_{FLAGS.tag}" if FLAGS.tag else "")
    if FLAGS.rerender:
        return rerender(name)
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":  # the MLP also runs on JAX
        runtime.configure()
    regions = pipeline.build_regions(pipeline.RunOptions(data="toy", sr=FLAGS.sr, n_sig=FLAGS.n_sig, seed=FLAGS.seed,
                                                         toy_n_background=FLAGS.toy_n_background, quiet=True),
                                     frozenset({"reference", "simulation"}))
    variants = reweightings(regions)
    rows = fidelity(regions, variants) if FLAGS.fidelity else []
    ladder_rows = ladder(regions, variants, ints("ladder_seeds")) if FLAGS.ladder_seeds else []
    stats = effective_statistics(regions, variants)
    settings = {label: {**s, **stats[label]} for label, _, _, _, s in variants}
    path = RESULTS / f"{name}.json"
    if FLAGS.merge and path.exists():
        old = json.loads(path.read_text())
        rows = merge_rows(old["rows"], rows, key=lambda r: r["label"])
        ladder_rows = merge_rows(old["ladder"], ladder_rows, key=lambda r: (r["reference"], r["classifier_seed"]))
        settings = {**old["settings"], **settings}
    print(write_results(name, render(rows, ladder_rows, settings, machine()),
                        {"rows": rows, "ladder": ladder_rows, "settings": settings, "machine": machine()}))


def rerender(name: str):
    """Rewrite <name>.md from its JSON (e.g. after merging the JSONs of separate runs by hand)."""
    old = json.loads((RESULTS / f"{name}.json").read_text())
    print(write_results(name, render(old["rows"], old["ladder"], old["settings"], old.get("machine", "unknown")),
                        old))


if __name__ == "__main__":
    run(main)
