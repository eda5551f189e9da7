#!/usr/bin/env python
"""Flow fidelity: can a classifier tell the background flow's samples from true background?

CATHODE's classifier separates SR data from flow samples.  Any corner of
feature space where the flow under-populates the true background looks to it
exactly like signal, so the flow's mis-modelling caps CATHODE below the
idealized detector (IAD), whose reference is true background.  On the toy the
truth is available: this bench generates fresh background (a seed no method
trained on), samples the flow at the same m_jj values (so only x | m is
tested), and trains a gradient-boosted classifier truth vs samples with 2-fold
cross-fitting, separately in the sidebands (where the flow was trained: fit
quality) and in the SR (interpolation).  It reports

* AUC (0.5 = indistinguishable) and the same classifier on truth vs truth,
  the statistical floor;
* the tail excess: the ratio truth/samples above the score that keeps 1% and
  0.1% of the samples, i.e. how much more true background sits in the most
  "signal-like" corner than the flow predicts (1 = none).  At N_sig=1000 the
  SR's S/B is 0.55%; an IAD-quality cut at FPR 1e-3 raises it to ~1, so a
  tail excess of 1.3 at 0.1% is already a fake signal of a third of the real one.

    python bench/studies/flow_fidelity.py --model=lit=runs/bench/literature/cathode_seed0/model \\
        --train=affine_cpu= --train=rqs_cpu=transform=rqs

``--model`` loads saved backgrounds (the model/ of a bin/cathode run, or a saved density);
``--train=label=field=value:...`` trains the cpu-profile flow with the changes
on the SB of the same toy data set as bench/studies/compare_methods.py (N_sig, seed).
Writes bench/results/flow_fidelity.md/.json and flow_fidelity_<label>.png
(SR feature ratios truth/samples).

``--ladder_seeds=0,1,2`` adds what each step from the IAD to CATHODE costs:
the same classifier trained on the SR data against (1) the IAD's
generator-truth reference, (2) each density's samples at the reference's own
m_jj values, (3) its samples at m_jj drawn from the KDE of the SR data, as
CATHODE does (4x the SR data), best epoch or checkpoint mixture, all scored
on one test set (``--ladder_arms`` picks the steps).
"""

from __future__ import annotations

import dataclasses
import sys
import time

from absl import flags

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import (CPU_CLASSIFIER, CPU_FLOW, RESULTS, TAIL_FRACTIONS, ints, machine, markdown_table,  # noqa: E402
                    merge_rows, run, seed_summary, separability, sr_classifier_run, with_changes,
                    write_results)

from resad_tf import component, data, pipeline, plots, runtime  # noqa: E402
from resad_tf.errors import InputError  # noqa: E402
from resad_tf.methods.density import ConditionalDensity, FlowOptions  # noqa: E402

flags.DEFINE_multi_string("model", [], "label=DIR of an exported background density (repeatable)")
flags.DEFINE_multi_string("train", [], "label=field=value:field=value: train the cpu-profile flow with these "
                          "changes (repeatable; 'label=' for the profile as is)")
flags.DEFINE_integer("n_sig", 1000, "signal injected in the training data (as bench/studies/compare_methods.py)")
flags.DEFINE_integer("seed", 0, "data and training seed")
flags.DEFINE_integer("toy_n_background", 1_000_000, "background events of the training toy (as the scripts)")
flags.DEFINE_integer("n_truth", 1_000_000, "fresh generator background events for the comparison")
flags.DEFINE_string("sr", "3.3,3.7", "signal region, TeV")
flags.DEFINE_bool("ensemble_sampling", True, "also evaluate sampling from the checkpoint mixture")
flags.DEFINE_bool("merge", False, "keep the rows of earlier runs with other labels")
flags.DEFINE_list("ladder_seeds", [], "classifier seeds of the IAD -> CATHODE ladder (empty: skip it)")
flags.DEFINE_list("ladder_arms", ["truth", "truth_m", "kde_m", "mixture_kde_m"],
                  "background estimates of the ladder: truth, truth_m, kde_m, mixture_kde_m, truncated_kde_m, "
                  "mixture_truncated_kde_m")
flags.DEFINE_enum("ladder_classifier", "mlp", ["mlp", "hgb"], "ladder classifier: the cpu-profile MLP or an "
                  "HGB ensemble (10 members; steadier max SIC from seed to seed)")
flags.DEFINE_bool("fidelity", True, "run the truth-vs-samples classifier test")
FLAGS = flags.FLAGS


def parse_train(text: str):
    """'label=field=value:field=value' -> (label, FlowOptions of the cpu profile with the changes)."""
    label, _, rest = text.partition("=")
    return label, with_changes(FlowOptions(**CPU_FLOW), rest.split(":"))


ARMS = {
    "truth": "truth (IAD)",
    "truth_m": "best epoch at the truth's m_jj",
    "kde_m": "best epoch at KDE m_jj",
    "mixture_kde_m": "checkpoint mixture at KDE m_jj (CATHODE)",
    "truncated_kde_m": "best epoch at truncated-KDE m_jj (before the edge fix)",
    "mixture_truncated_kde_m": "checkpoint mixture at truncated-KDE m_jj",
}


def ladder(densities, seeds, arms, regions) -> list[dict]:
    """Max SIC of one classifier setup trained on SR data vs each background estimate (``arms``)."""
    from resad_tf.flows import MjjDensity
    from resad_tf.methods.classify import ClassifierOptions

    sr, ref, test = regions.sr, regions.reference, regions.test
    window = (regions.window.lo, regions.window.hi)
    kde_mjj = MjjDensity(window).fit(sr.mjj).sample(4 * len(sr), seed=FLAGS.seed)
    truncated_mjj = MjjDensity(window, reflect=False).fit(sr.mjj).sample(4 * len(sr), seed=FLAGS.seed)
    recipes = {  # arm -> (masses, sample from the checkpoint mixture)
        "truth_m": (ref.mjj, False), "kde_m": (kde_mjj, False), "mixture_kde_m": (kde_mjj, True),
        "truncated_kde_m": (truncated_mjj, False), "mixture_truncated_kde_m": (truncated_mjj, True),
    }
    backgrounds = [("-", "truth", ref.x)] if "truth" in arms else []
    for label, density in densities:
        for arm in (a for a in arms if a != "truth"):
            mjj, ensemble = recipes[arm]
            backgrounds.append((label, arm, density.sample(mjj, seed=FLAGS.seed + 2, ensemble=ensemble)))
    cfg = (ClassifierOptions(**CPU_CLASSIFIER) if FLAGS.ladder_classifier == "mlp"
           else ClassifierOptions(classifier="hgb", n_estimators=10))
    rows = []
    for label, arm, background in backgrounds:
        for seed in seeds:
            run = sr_classifier_run(cfg, sr, background, None, test, seed)
            rows.append(dict(density=label, reference=ARMS[arm], classifier=FLAGS.ladder_classifier,
                             n_reference=len(background), **run))
            print(rows[-1], flush=True)
    return rows


def ladder_summary(rows) -> list[dict]:
    return seed_summary(rows, lambda r: {"classifier": r.get("classifier", "mlp"), "density": r["density"],
                                         "reference": r["reference"]})


def fidelity(densities) -> list[dict]:
    """Truth vs samples at the truth's m_jj, in the SR and the sidebands, for every density."""
    window = data.Window.parse(FLAGS.sr)
    spec = data.ToySpec(n_background=FLAGS.n_truth, n_signal=0)
    truth = data.load("toy", seed=10_000 + FLAGS.seed, toy=spec, quiet=True)
    regions_truth = {"SR": truth.select(window.sr(truth.mjj)), "SB": truth.select(window.sb(truth.mjj))}
    rows = []
    # the floor: two independent halves of the truth
    for region, ev in regions_truth.items():
        half = len(ev) // 2
        rows.append(dict(label="truth vs truth", region=region, n=half,
                         **separability(ev.x[:half], ev.x[half:2 * half], FLAGS.seed)))
        print(rows[-1], flush=True)
    for label, density in densities:
        modes = [("best epoch", False)] + ([("checkpoint mixture", True)] if FLAGS.ensemble_sampling
                                           and len(density.checkpoints_) > 1 else [])
        for mode, ensemble in modes:
            sampled = {}
            for region, ev in regions_truth.items():
                x = density.sample(ev.mjj, seed=FLAGS.seed + 7, ensemble=ensemble)
                sampled[region] = x
                rows.append(dict(label=label, sampling=mode, region=region, n=len(ev),
                                 **separability(ev.x, x, FLAGS.seed)))
                print(rows[-1], flush=True)
            if not ensemble:
                plots.ratio_panels((sampled["SR"], None), {"true background": (regions_truth["SR"].x, None)},
                                   regions_truth["SR"].features, RESULTS / f"flow_fidelity_{label}.png",
                                   reference_label=f"{label} samples",
                                   title=f"SR: true background / {label} samples at the same m_jj")
    return rows


def background_density(path) -> ConditionalDensity:
    """The background density saved in ``path``: a saved density, or the ``background_`` of a saved method."""
    saved = component.load(path)
    density = saved if isinstance(saved, ConditionalDensity) else getattr(saved, "background_", None)
    if not isinstance(density, ConditionalDensity):
        raise InputError(f"--model={path}: {type(saved).__name__} has no background density")
    return density


def main():
    runtime.configure()
    loaded = [m.partition("=")[::2] for m in FLAGS.model]
    densities = [(label, background_density(path)) for label, path in loaded]
    train_specs = [parse_train(t) for t in FLAGS.train]
    regions = None
    if train_specs or FLAGS.ladder_seeds:  # the data set of bench/studies/compare_methods.py (and bin/<method>)
        opts = pipeline.RunOptions(data="toy", sr=FLAGS.sr, n_sig=FLAGS.n_sig, seed=FLAGS.seed,
                                   toy_n_background=FLAGS.toy_n_background, quiet=True)
        regions = pipeline.build_regions(opts, frozenset({"reference"}) if FLAGS.ladder_seeds else frozenset())
    settings = {label: {"loaded_from": path} for label, path in loaded}
    for label, opts in train_specs:
        t0 = time.time()
        sb = regions.require_sidebands("flow_fidelity")
        densities.append((label, ConditionalDensity(opts, seed=FLAGS.seed, verbose=True).fit(sb)))
        settings[label] = dict(dataclasses.asdict(opts), train_minutes=round((time.time() - t0) / 60, 1))
        print(f"{label}: trained in {settings[label]['train_minutes']} min", flush=True)

    rows = fidelity(densities) if FLAGS.fidelity else []
    ladder_rows = (ladder(densities, ints("ladder_seeds"), FLAGS.ladder_arms, regions)
                   if FLAGS.ladder_seeds else [])
    path = RESULTS / "flow_fidelity.json"
    if FLAGS.merge and path.exists():
        import json

        old = json.loads(path.read_text())
        rows = merge_rows(old["rows"], rows, key=lambda r: r["label"])
        settings = {**old["settings"], **settings}
        ladder_rows = merge_rows(old.get("ladder", []), ladder_rows, key=lambda r: (
            r.get("classifier", "mlp"), r["density"], r["reference"], r["classifier_seed"]))
    rows.sort(key=lambda r: r["label"] != "truth vs truth")  # the floor first
    columns = ["label", "sampling", "region", "n", "auc"] + [f"excess_{q:g}" for q in TAIL_FRACTIONS]
    text = (
        "# Flow fidelity: true background vs background-flow samples\n\n"
        f"Machine: {machine()}. Toy, N_sig={FLAGS.n_sig} training data (seed {FLAGS.seed}); truth = "
        f"{FLAGS.n_truth} fresh generator background events (seed {10_000 + FLAGS.seed}), flow sampled at the "
        "same m_jj. HGB classifier truth vs samples, 2-fold cross-fitted.\n"
        "excess_q = (truth fraction) / (sample fraction) above the score that keeps a fraction q of the "
        "samples: 1 = the flow populates the most truth-like corner correctly.\n\n"
        + markdown_table(rows, columns, floatfmt=".4g")
        + (f"\n\n## IAD -> CATHODE ladder\n\n"
           f"One classifier setup (mlp: the cpu profile {CPU_CLASSIFIER}; hgb: 10 HGB members) trained on "
           f"the SR data (N_sig={FLAGS.n_sig}, "
           f"seed {FLAGS.seed}) against each background estimate, scored on the same held-out test set; "
           "median and IQR over classifier seeds.\n\n"
           + markdown_table(ladder_summary(ladder_rows), ["classifier", "density", "reference", "max_sic", "q25",
                                                          "q75", "auc",
                                                          "seeds"])
           + "\n\nPer classifier seed:\n\n"
           + markdown_table(ladder_rows, ["classifier", "density", "reference", "n_reference", "classifier_seed", "auc",
                                          "max_sic", "seconds"]) if ladder_rows else "")
        + "\n\nDensities (loaded, or trained here: the cpu profile with changes):\n\n```\n"
        + "\n".join(f"{k}: {v}" for k, v in settings.items()) + "\n```\n"
    )
    print(write_results("flow_fidelity", text, {"rows": rows, "ladder": ladder_rows, "settings": settings}))


if __name__ == "__main__":
    run(main)
