#!/usr/bin/env python
"""The physics comparison table: every method on the same data, max SIC median and IQR over seeds.

    python bench/studies/compare_methods.py --data=toy --n_sigs=1000,500,300 --seeds=0,1,2 --profile=cpu
    python bench/studies/compare_methods.py --data=../shared/data/lhco/rd_first100k.features.h5 --n_sigs=300

For each (N_sig, seed) the data set is built once and every method is trained
on it and evaluated on the same held-out signal-region test set.  Profiles:
``literature`` uses each method's configs/<method>.flags setup (hours on a
laptop CPU); ``cpu`` shrinks the networks and epochs to fit a 2-core machine
(the settings are written into the result).  Writes
bench/results/compare_<tag>.md/.json and significance_improvement_<tag>.png
(SIC vs the SR's S/sqrt(B)).  Runs land in runs/bench/<tag>/.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import sys
import time

from absl import flags

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import (CPU_CLASSIFIER, CPU_FLOW, RESULTS, define_seeds, flagfile_config, ints,  # noqa: E402
                    machine, markdown_table, merge_rows, parse_variant, run, seed_summary, seeds,
                    significance_plot, write_results)

from resad_tf import methods, pipeline, runtime  # noqa: E402

flags.DEFINE_string("data", "toy", "toy or a labelled v2 features .h5")
flags.DEFINE_list("methods", ["supervised", "iad", "cathode", "lacathode", "anode", "ranode", "cwola", "salad",
                             "vae", "autoencoder"],
                  "methods to compare")
flags.DEFINE_list("n_sigs", ["1000"], "injected signal counts")
define_seeds()
flags.DEFINE_enum("profile", "cpu", ["cpu", "literature"], "network sizes and epochs")
flags.DEFINE_string("tag", None, "name of the result files (default: <data>_<profile>)")
flags.DEFINE_float("holdout", 0.5, "background fraction held out for test/reference")
flags.DEFINE_bool("merge", False, "add these runs to the existing results of the tag (same method, n_sig "
                  "and seed are replaced)")
flags.DEFINE_integer("flow_epochs", 20, "cpu profile: flow epochs (small data sets need more)")
flags.DEFINE_integer("flow_batch_size", 1024, "cpu profile: flow batch size")
flags.DEFINE_multi_string("variant", [], "extra runs 'label=method:field=value:field=value', e.g. "
                          "'salad_dctr_hgb=salad:dctr_classifier=hgb:n_estimators=5' (the method's profile "
                          "config with these fields changed); repeat the flag for more")
FLAGS = flags.FLAGS

CPU_PROFILE = {
    "supervised": CPU_CLASSIFIER, "iad": CPU_CLASSIFIER, "salad": CPU_CLASSIFIER,
    "cwola": dict(CPU_CLASSIFIER, k_folds=5),
    "cathode": dict(CPU_CLASSIFIER, **CPU_FLOW), "lacathode": dict(CPU_CLASSIFIER, **CPU_FLOW),
    "anode": CPU_FLOW,
    "ranode": dict(CPU_FLOW, signal_blocks=4, signal_hidden=(64,), signal_epochs=20, signal_batch_size=1024),
    "autoencoder": dict(epochs=30, batch_size=1024), "vae": dict(epochs=30, batch_size=1024),
}


def config_for(cls):
    if FLAGS.profile == "literature":
        return flagfile_config(cls)
    cfg = cls.Config(**CPU_PROFILE[cls.name])
    if "flow_epochs" in CPU_PROFILE[cls.name]:
        cfg = dataclasses.replace(cfg, flow_epochs=FLAGS.flow_epochs, flow_batch_size=FLAGS.flow_batch_size)
    if "signal_epochs" in CPU_PROFILE[cls.name]:  # R-ANODE's signal flow trains as long as the background flow
        cfg = dataclasses.replace(cfg, signal_epochs=FLAGS.flow_epochs, signal_batch_size=FLAGS.flow_batch_size)
    return cfg


def main():
    runtime.configure()  # one thread per op: the scripts' default (see bench/results/flow_throughput.md)
    tag = FLAGS.tag or f"{'toy' if FLAGS.data == 'toy' else 'real'}_{FLAGS.profile}"
    classes = [methods.get(m) for m in FLAGS.methods]
    variants = [parse_variant(v, config_for) for v in FLAGS.variant]
    needs = frozenset().union(*(c.needs for c in classes), *(cls.needs for _, cls, _ in variants))
    rows = []
    for n_sig in ints("n_sigs"):
        for seed in seeds():
            opts = pipeline.RunOptions(data=FLAGS.data, n_sig=n_sig, seed=seed, holdout=FLAGS.holdout, quiet=True)
            regions = pipeline.build_regions(opts, needs)
            runs = [(c.name, c, config_for(c)) for c in classes]
            if "salad" in FLAGS.methods:  # the ablation: the same simulation without DCTR weights
                salad = methods.get("salad")
                runs.append(("salad_noreweight", salad, dataclasses.replace(config_for(salad), reweight=False)))
            runs += variants
            for label, cls, cfg in runs:
                t0 = time.time()
                out = f"runs/bench/{tag}/{label}_nsig{n_sig}_seed{seed}"
                r = pipeline.run(cls, cfg, dataclasses.replace(opts, output_dir=out, overwrite=True), data=regions)
                rows.append(dict(method=label, n_sig=n_sig, seed=seed, auc=r["auc"], max_sic=r["max_sic"],
                                 s_over_sqrt_b=r["regions"]["s_over_sqrt_b_sr"], n_sig_sr=r["n_sig_sr"],
                                 seconds=round(time.time() - t0)))
                print(rows[-1], flush=True)
    settings = {c.name: dataclasses.asdict(config_for(c)) for c in classes}
    settings.update({label: dataclasses.asdict(cfg) for label, _, cfg in variants})
    previous = RESULTS / f"compare_{tag}.json"
    if FLAGS.merge and previous.exists():
        old = json.loads(previous.read_text())
        rows = merge_rows(old["runs"], rows, key=lambda r: (r["method"], r["n_sig"], r["seed"]))
        settings = {**old["settings"], **settings}
    flows = f" (flows {FLAGS.flow_epochs} epochs at batch {FLAGS.flow_batch_size})" if FLAGS.profile == "cpu" else ""
    report(rows, settings, tag, f"Data: {FLAGS.data}; profile: {FLAGS.profile}{flows}; machine: {machine()}.")


def report(rows: list[dict], settings: dict, tag: str, header: str) -> None:
    """Write compare_<tag>.md/.json and the plot from the per-run rows."""
    summary = seed_summary(rows, lambda r: {"n_sig": r["n_sig"], "method": r["method"]})
    method_order = {m: i for i, m in enumerate(dict.fromkeys(r["method"] for r in rows))}
    summary.sort(key=lambda s: (-s["n_sig"], method_order[s["method"]]))  # largest N_sig first
    seconds = collections.Counter()
    for r in rows:
        seconds[r["n_sig"], r["method"]] += r["seconds"]
    for s in summary:
        s["minutes"] = round(seconds[s["n_sig"], s["method"]] / 60, 1)
    plot = significance_plot(rows, RESULTS / f"significance_improvement_{tag}.png")
    text = (f"# Method comparison: {tag}\n\n{header}\n"
            f"Max SIC ignores FPR resting on fewer than 50 test background events. Median and IQR over seeds.\n\n"
            + markdown_table(summary, ["n_sig", "method", "max_sic", "q25", "q75", "auc", "seeds", "minutes"])
            + f"\n\n![significance improvement]({plot.name})\n\nPer run:\n\n"
            + markdown_table(rows, ["method", "n_sig", "seed", "auc", "max_sic", "n_sig_sr", "s_over_sqrt_b", "seconds"])
            + "\n\nSettings per method:\n\n```\n" + "\n".join(f"{k}: {v}" for k, v in settings.items()) + "\n```\n")
    print(write_results(f"compare_{tag}", text,
                        {"header": header, "summary": summary, "runs": rows, "settings": settings}))


def replot(tag: str) -> None:
    """Redraw the tables and the plot of a tag from its JSON results."""
    saved = json.loads((RESULTS / f"compare_{tag}.json").read_text())
    report(saved["runs"], saved["settings"], tag, saved.get("header", f"Machine: {machine()}."))


if __name__ == "__main__":
    run(main)
