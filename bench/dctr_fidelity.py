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

    python bench/dctr_fidelity.py --variant=cpu= --variant=runs3=dctr_n_runs=3 --ladder_seeds=0,1,2

``--variant=label=field=value:...`` changes fields of SALAD's cpu-profile
config (bench/compare_methods.py); ``label=`` runs the profile as is.
``--sr_truth_dctr`` adds a diagnostic that no analysis could run: DCTR
trained in the SR itself on truth vs simulation, which removes the m_jj
interpolation and leaves the classifier's own limits.  Same data set as
bench/compare_methods.py (N_sig, seed).  Writes bench/results/dctr_fidelity.md/.json.
"""

from __future__ import annotations

import json
import os
import sys
import time

from absl import app, flags

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import (CPU_CLASSIFIER, RESULTS, TAIL_FRACTIONS, machine, markdown_table,  # noqa: E402
                    merge_rows, seed_summary, separability, sr_classifier_run, with_changes,
                    write_results)

from resad_tf import cli, runtime  # noqa: E402
from resad_tf.methods.classify import ClassifierOptions  # noqa: E402
from resad_tf.methods.dctr import DCTRReweighter  # noqa: E402
from resad_tf.methods.salad import Salad, SaladConfig  # noqa: E402

flags.DEFINE_multi_string("variant", ["cpu="], "label=field=value:field=value of SALAD's cpu-profile config "
                          "(repeatable; 'label=' for the profile as is)")
flags.DEFINE_integer("n_sig", 1000, "signal injected in the data (as bench/compare_methods.py)")
flags.DEFINE_integer("seed", 0, "data seed")
flags.DEFINE_integer("dctr_seed", None, "DCTR training seed (default: --seed)")
flags.DEFINE_bool("baselines", True, "also run the truth-vs-truth floor, the bare simulation and the IAD arm")
flags.DEFINE_string("tag", "", "result file suffix: bench/results/dctr_fidelity<_tag>.md")
flags.DEFINE_string("sr", "3.3,3.7", "signal region, TeV")
flags.DEFINE_integer("toy_n_background", 1_000_000, "background events of the toy data (as the scripts)")
flags.DEFINE_list("ladder_seeds", ["0", "1", "2"], "SR-classifier seeds of the ladder (empty: skip it)")
flags.DEFINE_bool("fidelity", True, "run the truth-vs-weighted-simulation test")
flags.DEFINE_bool("sr_truth_dctr", False, "add the diagnostic DCTR trained in the SR on truth vs simulation")
flags.DEFINE_bool("merge", False, "keep the rows of earlier runs with other labels")
FLAGS = flags.FLAGS

LADDER_CLASSIFIER = ClassifierOptions(classifier="hgb", n_estimators=10)


def _dctr_seed() -> int:
    return FLAGS.seed if FLAGS.dctr_seed is None else FLAGS.dctr_seed


def reweightings(regions):
    """(label, SR simulation weights, held-out SB (data, simulation, weights) or None, settings) per variant."""
    out, configs = [], []
    for text in FLAGS.variant:
        label, _, rest = text.partition("=")
        cfg = with_changes(SaladConfig(**CPU_CLASSIFIER), rest.split(":"))
        configs.append(cfg)
        t0 = time.time()
        salad = Salad(cfg, seed=_dctr_seed(), verbose=False)
        w_sr = salad.reweight(regions)
        check = None
        if salad.dctr_ is not None:
            sim = salad.sb_sim_check_
            check = (salad.sb_data_check_.x, sim.x, sim.weight * salad.dctr_.weights(sim.xm()))
        minutes = round((time.time() - t0) / 60, 1)
        print(f"{label}: DCTR in {minutes} min", flush=True)
        out.append((label, salad.sr_sim_, w_sr, check,
                    dict(changes=rest, dctr_minutes=minutes, dctr_events=salad.dctr_events_)))
    if FLAGS.sr_truth_dctr:
        sim = out[0][1]
        ref, cfg = regions.reference, configs[0]
        t0 = time.time()
        dctr = DCTRReweighter(cfg, seed=_dctr_seed(), max_weight=cfg.max_weight).fit(ref.xm(), sim.xm())
        out.append(("sr_truth (diagnostic)", sim, sim.weight * dctr.weights(sim.xm()), None,
                    dict(changes="DCTR fitted in the SR, truth vs simulation, with the first variant's settings",
                         dctr_minutes=round((time.time() - t0) / 60, 1))))
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
    arms += [(label, s.x, w) for label, s, w, _, _ in variants]
    rows = []
    for label, x0, w0 in arms:
        for seed in seeds:
            rows.append(dict(reference=label, **sr_classifier_run(LADDER_CLASSIFIER, sr, x0, w0, test, seed)))
            print(rows[-1], flush=True)
    return rows


def ladder_summary(rows) -> list[dict]:
    out = seed_summary(rows, lambda r: {"reference": r["reference"]})
    iad = next((r["max_sic"] for r in out if r["reference"] == "truth (IAD)"), None)
    for r in out:
        r["x_iad"] = r["max_sic"] / iad if iad else float("nan")
    return out


def main(argv):
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":  # the MLP also runs on JAX
        runtime.configure()
    regions = cli.build_regions(cli.RunOptions(data="toy", sr=FLAGS.sr, n_sig=FLAGS.n_sig, seed=FLAGS.seed,
                                               toy_n_background=FLAGS.toy_n_background, quiet=True),
                                frozenset({"reference", "simulation"}))
    variants = reweightings(regions)
    rows = fidelity(regions, variants) if FLAGS.fidelity else []
    ladder_rows = ladder(regions, variants, [int(s) for s in FLAGS.ladder_seeds]) if FLAGS.ladder_seeds else []
    settings = {label: s for label, _, _, _, s in variants}
    name = "dctr_fidelity" + (f"_{FLAGS.tag}" if FLAGS.tag else "")
    path = RESULTS / f"{name}.json"
    if FLAGS.merge and path.exists():
        old = json.loads(path.read_text())
        rows = merge_rows(old["rows"], rows, key=lambda r: r["label"])
        ladder_rows = merge_rows(old["ladder"], ladder_rows, key=lambda r: (r["reference"], r["classifier_seed"]))
        settings = {**old["settings"], **settings}
    ladder_rows.sort(key=lambda r: r["reference"] != "truth (IAD)")
    rows.sort(key=lambda r: r["label"] != "truth vs truth")
    text = (
        "# DCTR fidelity: true SR background vs SALAD's weighted simulation\n\n"
        f"Machine: {machine()}. Toy, N_sig={FLAGS.n_sig} (data seed {FLAGS.seed}, DCTR seed {_dctr_seed()}), "
        f"SR {FLAGS.sr} TeV; truth = the IAD's "
        "generator-truth SR background (pythia-like, 4x the data); simulation = the herwig-like sample "
        "(4x the data). HGB truth vs (weighted) simulation, 2-fold cross-fitted; excess_q = truth / weighted "
        "simulation above the score that keeps a fraction q of the simulation's weight.\n\n"
        + markdown_table(rows, ["label", "region", "auc"] + [f"excess_{q:g}" for q in TAIL_FRACTIONS], ".4g")
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
    print(write_results(name, text, {"rows": rows, "ladder": ladder_rows, "settings": settings}))


if __name__ == "__main__":
    app.run(main)
