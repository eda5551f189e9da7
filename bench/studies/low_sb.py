#!/usr/bin/env python
"""Low signal strength: the weakly supervised methods against the IAD at N_sig = 1000 down to 225.

    python bench/studies/low_sb.py --seeds=0,1,2,3,4 --n_sigs=1000,600,500,300,225
    python bench/studies/low_sb.py --data=../shared/data/lhco/rd_first100k.features.h5 --tag=rd100k \\
        --n_sigs=220,130,110,66,50 --flow_n_sig=220
    python bench/studies/low_sb.py --report --tag=toy        # tables from the stored runs only

For each data seed one background flow p_bg(x | m_jj) is trained on the
sidebands of the ``--flow_n_sig`` injection (the largest: the most signal in
the sidebands) and handed to CATHODE, LaCATHODE and R-ANODE at every N_sig of
that seed (``method.fit(regions, background=density)``): the injections
differ only by the signal events, a few hundred among ~850k sideband
background events, and the flow is the costly step.  Every classifier and
signal model is trained per (N_sig, seed); the IAD and the supervised bound
use the methods' own ``fit``.  CATHODE, LaCATHODE and R-ANODE run as
configs/<method>_cpu.flags, the others with their defaults; ``--variant`` adds
others ('label=method:field=value:...').

Each run is stored as it finishes (runs/bench/low_sb/<tag>/rows/), so an
interrupted study resumes where it stopped and two processes (different
seeds) can share a tag; the flags the runs of a tag must share (STUDY_FLAGS)
are recorded with its first run, a run with others is refused, and
``--report`` describes the table by the recorded ones.  Writes bench/results/low_sb_<tag>.md/.json: per
(N_sig, method) the median and IQR over seeds of max SIC (FPR floor:
``--min_bkg`` test background events), the median of the per-seed ratio to
the IAD, AUC and wall time.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import sys
import time

import numpy as np
from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import (REPO, RESULTS, TAIL_FRACTIONS, define_seeds, flagfile_config, ints,  # noqa: E402
                    machine, markdown_table, parse_variant, run, seeds, separability, significance_plot,
                    write_results)

from resad_tf import methods, metrics, pipeline, runtime  # noqa: E402
from resad_tf.errors import InputError  # noqa: E402

flags.DEFINE_string("data", "toy", "toy or a labelled v2 features .h5")
flags.DEFINE_list("methods", ["supervised", "iad", "cathode", "lacathode", "ranode"], "methods (defaults)")
flags.DEFINE_multi_string("variant", [], "extra runs 'label=method:field=value:...' (the method's config in "
                          "this study with these fields changed); repeat the flag for more")
flags.DEFINE_list("n_sigs", ["1000", "600", "500", "300", "225"], "injected signal counts")
define_seeds(("0", "1", "2", "3", "4"))
flags.DEFINE_integer("flow_n_sig", 1000, "the injection whose sidebands train each seed's background flow")
flags.DEFINE_string("tag", None, "name of the results (default: toy or real)")
flags.DEFINE_integer("min_bkg", 50, "max SIC ignores FPR resting on fewer test background events")
flags.DEFINE_bool("report", False, "only write the tables from the stored runs")
flags.DEFINE_bool("diagnose", False, "instead of training methods: how far the SR data stand out from the true "
                  "background and from the flow's samples, and the samples from the truth (common.separability), "
                  "per seed and N_sig")
flags.DEFINE_integer("toy_n_background", None, "toy background events (default: the toolkit's; smaller for a "
                     "trial run, with --flow_epochs and a --tag of its own)")
flags.DEFINE_integer("flow_epochs", None, "override the flow profile's epochs (trial runs)")
FLAGS = flags.FLAGS

FLOW_METHODS = ("cathode", "lacathode", "ranode")


def config_for(cls):
    """The method's Config: configs/<method>_cpu.flags where there is one (the flow methods), else the
    defaults."""
    cfg = flagfile_config(cls, "_cpu") if cls.name in FLOW_METHODS else cls.Config()
    if FLAGS.flow_epochs and cls.name in FLOW_METHODS:
        cfg = dataclasses.replace(cfg, flow_epochs=FLAGS.flow_epochs)
    if FLAGS.flow_epochs and cls.name == "ranode":
        cfg = dataclasses.replace(cfg, signal_epochs=FLAGS.flow_epochs)
    return cfg


def flow_options(cfg) -> dict:
    from resad_tf.methods.density import FlowOptions

    return {f.name: getattr(cfg, f.name) for f in dataclasses.fields(FlowOptions)}


def flow_key(cfg) -> str:
    """Runs whose flow options agree share the seed's background flow."""
    import hashlib

    return hashlib.sha1(json.dumps(flow_options(cfg), sort_keys=True).encode()).hexdigest()[:8]


def runs_to_do() -> list[tuple[str, type, object]]:
    return ([(name, methods.get(name), config_for(methods.get(name))) for name in FLAGS.methods]
            + [parse_variant(text, config_for) for text in FLAGS.variant])


def workdir() -> pathlib.Path:
    return REPO / "runs" / "bench" / "low_sb" / tag()


def tag() -> str:
    return FLAGS.tag or ("toy" if FLAGS.data == "toy" else "real")


#: the flags every run of one tag must share: they are recorded with its first run (study.json) and the
#: report describes the table by them
STUDY_FLAGS = ("data", "flow_n_sig", "min_bkg", "toy_n_background", "flow_epochs")


def study(record: bool) -> dict:
    """This tag's study settings: those recorded in its work directory, else the flags (recorded when
    ``record``).  A run (``record``) whose flags differ from the recorded ones is refused: its rows
    would not belong in the same table."""
    path = workdir() / "study.json"
    current = {name: FLAGS[name].value for name in STUDY_FLAGS}
    if not path.exists():
        if record:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(current))
        return current
    saved = json.loads(path.read_text())
    changed = {k: (saved.get(k), v) for k, v in current.items() if saved.get(k) != v}
    if record and changed:
        raise InputError(f"--tag={tag()} holds runs with other settings (recorded, given): {changed}; "
                         f"use those flags or another --tag")
    return saved


def options(n_sig: int, seed: int) -> pipeline.RunOptions:
    extra = {} if FLAGS.toy_n_background is None else dict(toy_n_background=FLAGS.toy_n_background)
    return pipeline.RunOptions(data=FLAGS.data, n_sig=n_sig, seed=seed, quiet=True, **extra)


def background_flow(seed: int, cfg):
    """The seed's background density for ``cfg``'s flow options: loaded from the work directory, else
    trained on the sidebands of the --flow_n_sig injection and stored there."""
    from resad_tf.component import load, save
    from resad_tf.methods.density import ConditionalDensity

    directory = workdir() / "flows" / f"{flow_key(cfg)}_seed{seed}"
    if (directory / "manifest.json").exists():
        return load(directory), json.loads((directory.parent / f"{directory.name}.json").read_text())
    regions = pipeline.build_regions(options(FLAGS.flow_n_sig, seed))
    sb = regions.require_sidebands("the background flow")
    t0 = time.time()
    density = ConditionalDensity(cfg, seed=seed, verbose=True).fit(sb)
    info = dict(seed=seed, key=flow_key(cfg), n_sig=FLAGS.flow_n_sig, n_sideband=len(sb),
                seconds=round(time.time() - t0), flow=flow_options(cfg))
    save(density, directory)
    (directory.parent / f"{directory.name}.json").write_text(json.dumps(info))
    return density, info


def fit(label, cls, cfg, regions, seed, background):
    method = cls(cfg, seed=seed, verbose=False)
    return method.fit(regions, background=background if cls.name in FLOW_METHODS else None)


def diagnose() -> None:
    """Per seed and N_sig, HGB separabilities (2-fold cross-fitted) of three pairs of SR samples:

    * data vs truth: what the IAD sees, the signal alone;
    * data vs samples: what CATHODE sees, the signal plus the flow's residual;
    * truth vs samples: the flow's residual alone (truth subsampled to the data's size).

    excess_q: the first sample's fraction above the cut that keeps a fraction q of the second, over q.
    """
    out_dir = workdir() / "diagnostics"
    out_dir.mkdir(parents=True, exist_ok=True)
    cfg = config_for(methods.get("cathode"))
    for seed in seeds():
        for n_sig in ints("n_sigs"):
            path = out_dir / f"nsig{n_sig}_seed{seed}.json"
            if path.exists():
                continue
            density, _ = background_flow(seed, cfg)
            regions = pipeline.build_regions(options(n_sig, seed), frozenset({"reference"}))
            sr, truth = regions.sr, regions.reference
            samples = methods.get("cathode")(cfg, seed=seed).synthetic_background(sr, regions.window, density).x
            rng = np.random.default_rng(seed)
            truth_n = truth.x[rng.choice(len(truth), len(sr), replace=False)]
            rows = []
            for pair, (a, b) in {"data vs truth": (sr.x, truth.x), "data vs samples": (sr.x, samples),
                                 "truth vs samples": (truth_n, samples)}.items():
                rows.append(dict(seed=seed, n_sig=n_sig, pair=pair, s_over_b=sr.n_signal / sr.n_background,
                                 **separability(a, b, seed)))
                print(rows[-1], flush=True)
            path.write_text(json.dumps(rows))


def main():
    runtime.configure()
    if FLAGS.diagnose:
        study(record=True)
        diagnose()
        return
    todo = runs_to_do()
    rows_dir = workdir() / "rows"
    rows_dir.mkdir(parents=True, exist_ok=True)
    if not FLAGS.report:
        study(record=True)
        needs = frozenset().union(*(cls.needs for _, cls, _ in todo))
        for seed in seeds():
            flows = {}  # flow key -> (density, info), trained or loaded when a run first needs it
            for n_sig in ints("n_sigs"):
                pending = [r for r in todo if not (rows_dir / f"{r[0]}_nsig{n_sig}_seed{seed}.json").exists()]
                if not pending:
                    continue
                regions = pipeline.build_regions(options(n_sig, seed), needs)
                for label, cls, cfg in pending:
                    background = info = None
                    if cls.name in FLOW_METHODS:
                        key = flow_key(cfg)
                        if key not in flows:
                            flows[key] = background_flow(seed, cfg)
                        background, info = flows[key]
                    t0 = time.time()
                    method = fit(label, cls, cfg, regions, seed, background)
                    score = method.score(regions.test)
                    s = metrics.summarize(regions.test.label, score, min_bkg=FLAGS.min_bkg)
                    row = dict(method=label, n_sig=n_sig, seed=seed, auc=s.auc, max_sic=s.max_sic,
                               n_sig_sr=regions.sr.n_signal,
                               s_over_sqrt_b=regions.summary()["s_over_sqrt_b_sr"],
                               seconds=round(time.time() - t0),
                               flow_seconds=info["seconds"] if info else 0,
                               config=dataclasses.asdict(cfg))
                    if cls.name == "ranode":
                        row["signal_fraction"] = method.w_
                    (rows_dir / f"{label}_nsig{n_sig}_seed{seed}.json").write_text(json.dumps(row))
                    print({k: v for k, v in row.items() if k != "config"}, flush=True)
    report(sorted((json.loads(p.read_text()) for p in rows_dir.glob("*.json")),
                  key=lambda r: (-r["n_sig"], r["seed"])))


def report(rows: list[dict]) -> None:
    if not rows:
        print(f"no stored runs in {workdir() / 'rows'}")
        return
    iad = {(r["n_sig"], r["seed"]): r["max_sic"] for r in rows if r["method"] == "iad"}
    first = ["supervised", "iad", "cathode", "lacathode", "ranode"]
    labels = sorted({r["method"] for r in rows}, key=lambda m: (first.index(m) if m in first else len(first), m))
    summary = []
    for n_sig in sorted({r["n_sig"] for r in rows}, reverse=True):
        for label in labels:
            rr = [r for r in rows if r["n_sig"] == n_sig and r["method"] == label]
            if not rr:
                continue
            ms = metrics.median_iqr([r["max_sic"] for r in rr])
            ratios = [r["max_sic"] / iad[n_sig, r["seed"]] for r in rr if (n_sig, r["seed"]) in iad]
            summary.append(dict(
                n_sig=n_sig, method=label, max_sic=ms["median"], q25=ms["q25"], q75=ms["q75"],
                vs_iad=float(np.median(ratios)) if ratios else "", auc=float(np.median([r["auc"] for r in rr])),
                s_over_sqrt_b=float(np.median([r["s_over_sqrt_b"] for r in rr])), seeds=len(rr),
                minutes=round(float(np.median([r["seconds"] for r in rr])) / 60, 1)))
    flows = [json.loads(p.read_text()) for p in sorted((workdir() / "flows").glob("*.json"))]
    settings = {r["method"]: r["config"] for r in rows}
    diag = [r for p in sorted((workdir() / "diagnostics").glob("*.json")) for r in json.loads(p.read_text())]
    excess = [f"excess_{q:g}" for q in TAIL_FRACTIONS]
    diagnostics = ("\n\nWhere the data stand out (--diagnose; HGB, 2-fold cross-fitted): excess_q = the first "
                   "sample's fraction above the score that keeps a fraction q of the second, divided by q. "
                   "truth = pure SR background, samples = the background flow's (as CATHODE draws them).\n\n"
                   + markdown_table(diag, ["n_sig", "seed", "pair", "s_over_b", "auc", *excess])) if diag else ""
    settings_of = study(record=False)
    header = (f"Data: {settings_of['data']}; CATHODE, LaCATHODE and R-ANODE as configs/<method>_cpu.flags, the others "
              f"with their defaults. One background flow per data seed (and flow setup), trained on the "
              f"sidebands of the N_sig={settings_of['flow_n_sig']} injection and shared by the flow methods at every "
              f"N_sig of that seed. Machine: {machine()}.\n"
              f"Max SIC ignores FPR resting on fewer than {settings_of['min_bkg']} test background events. "
              f"Median and IQR over data seeds; vs_iad: median over seeds of max SIC / the IAD's on the same data set; minutes: "
              f"median wall time of one run (the classifier or signal model; the shared flow is listed below).")
    plot = significance_plot(rows, RESULTS / f"significance_improvement_low_sb_{tag()}.png")
    text = (f"# Low signal strength: {tag()}\n\n{header}\n\n"
            + markdown_table(summary, ["n_sig", "method", "max_sic", "q25", "q75", "vs_iad", "auc",
                                       "s_over_sqrt_b", "seeds", "minutes"])
            + f"\n\n![significance improvement]({plot.name})"
            + diagnostics
            + "\n\nBackground flows (one per data seed):\n\n"
            + markdown_table(flows, ["key", "seed", "n_sig", "n_sideband", "seconds"])
            + "\n\nPer run:\n\n"
            + markdown_table(rows, ["method", "n_sig", "seed", "auc", "max_sic", "n_sig_sr", "s_over_sqrt_b",
                                    "seconds"])
            + "\n\nSettings per method:\n\n```\n" + "\n".join(f"{k}: {v}" for k, v in settings.items()) + "\n```\n")
    print(write_results(f"low_sb_{tag()}", text, {"header": header, "summary": summary, "flows": flows,
                                                  "runs": rows}))


if __name__ == "__main__":
    run(main)
