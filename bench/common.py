"""The shared library of the benchmark scripts: command line, seeds, result tables, the cpu profile.

bench/perf/ measures speed and memory (throughput, scaling, timing),
bench/studies/ physics reach (method comparisons, fidelity studies, the toy's
calibration).  Every script starts with::

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # bench/: this library
    from common import ...

and ends with ``common.run(main)``: absl flags (``--help`` lists them), a bad
flag or input one line and exit status 2, as the toolkit's own scripts
(:func:`resad_tf.cli.run_script`).  Results go to bench/results/<name>.md and
.json (:func:`write_results`; ``RESAD_BENCH_RESULTS=DIR`` writes them to DIR
instead, for trial runs that must not replace the recorded ones).
"""

from __future__ import annotations

import dataclasses
import datetime
import os
import pathlib
import platform

from absl import flags

from resad_tf.errors import InputError
from resad_tf.outputs import atomic_path, write_json_atomic

BENCH = pathlib.Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = pathlib.Path(os.environ.get("RESAD_BENCH_RESULTS", BENCH / "results"))
LHCO = pathlib.Path(os.environ.get("RESAD_LHCO_DIR", REPO.parent / "shared" / "data" / "lhco"))
FLAGS = flags.FLAGS


# ----------------------------------------------------------------------------- command line
def run(main) -> None:
    """Parse the flags and call ``main()``; bad input gives one line and exit status 2 (bugs stay tracebacks)."""
    from resad_tf import cli

    RESULTS.mkdir(parents=True, exist_ok=True)  # scripts save plots there before their tables
    cli.run_script(main)


def ints(name: str) -> list[int]:
    """The list flag ``--name`` as integers (InputError naming the flag otherwise)."""
    values = FLAGS[name].value or []
    try:
        return [int(v) for v in values]
    except ValueError:
        raise InputError(f"--{name}={','.join(values)}: expected comma-separated integers") from None


def define_seeds(default=("0",), help: str = "seeds, comma-separated (each a data set and a training)") -> None:
    """The ``--seeds`` flag of the scripts that repeat a study over seeds (read it with :func:`seeds`)."""
    flags.DEFINE_list("seeds", list(default), help)


def seeds() -> list[int]:
    return ints("seeds")

# The "cpu" profile of the benches: networks and epochs shrunk to fit a 2-core machine.
CPU_CLASSIFIER = dict(batch_size=512, epochs=40, patience=0, n_best_epochs=5)
CPU_FLOW = dict(n_blocks=6, flow_hidden=(64,), flow_epochs=20, flow_batch_size=1024, flow_learning_rate=1e-3,
                n_checkpoints=5)


def with_changes(config, assignments):
    """``config`` (a dataclass) with 'field=value' strings applied, each value parsed as the field's type.

    >>> from resad_tf.methods.density import FlowOptions
    >>> with_changes(FlowOptions(), ["transform=rqs", "flow_hidden=64,64", "batch_norm=true"]).flow_hidden
    (64, 64)
    """
    changes = {}
    for item in filter(None, assignments):
        key, _, value = item.partition("=")
        default = getattr(config, key)  # AttributeError names a field the config does not have
        changes[key] = (tuple(type(default[0])(v) for v in value.split(",")) if isinstance(default, tuple)
                        else value.lower() in ("1", "true") if isinstance(default, bool)
                        else type(default)(value))
    return dataclasses.replace(config, **changes)


def flagfile_config(cls, profile: str = ""):
    """The Config of configs/<method><profile>.flags (e.g. profile "_cpu"): its '--field=value', '--field'
    and '--nofield' lines that name Config fields, applied to the defaults (other flags, e.g. the shared
    --sr, are left to the caller)."""
    fields = {f.name for f in dataclasses.fields(cls.Config)}
    path = REPO / "configs" / f"{cls.name}{profile}.flags"
    if not path.exists():
        raise InputError(f"no flagfile {path.relative_to(REPO)} for {cls.name}")
    items = []
    for line in path.read_text().splitlines():
        if not line.startswith("--"):
            continue
        item = line[2:].strip()
        if "=" not in item:  # absl's bare boolean forms
            item = f"{item[2:]}=false" if item.startswith("no") and item[2:] in fields else f"{item}=true"
        items.append(item)
    return with_changes(cls.Config(), [item for item in items if item.split("=", 1)[0] in fields])


def parse_variant(text: str, config_for):
    """A ``--variant`` flag's 'label=method:field=value:...' -> (label, method class, config): the study's
    ``config_for(cls)`` with those fields changed."""
    from resad_tf import methods

    label, _, rest = text.partition("=")
    name, *assignments = rest.split(":")
    cls = methods.get(name)
    return label, cls, with_changes(config_for(cls), assignments)


TAIL_FRACTIONS = (0.01, 0.001)


def separability(truth, other, seed: int, other_weight=None) -> dict:
    """2-fold cross-fitted HGB truth (1) vs ``other`` (0, optionally weighted): AUC and tail excesses.

    excess_q = (truth fraction) / (other's weighted fraction) above the score that keeps a fraction q of
    ``other``'s weight: 1 = ``other`` populates the most truth-like corner as the truth does.
    """
    import numpy as np
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from resad_tf import metrics

    x = np.concatenate([truth, other])
    y = np.concatenate([np.ones(len(truth)), np.zeros(len(other))])
    w_other = np.ones(len(other)) if other_weight is None else np.asarray(other_weight, np.float64)
    # classes balanced in weight, as every classifier of the toolkit trains
    w = np.concatenate([np.full(len(truth), w_other.sum() / len(truth)), w_other])
    clf = HistGradientBoostingClassifier(max_iter=200, early_stopping=True, validation_fraction=0.2,
                                         random_state=seed)
    folds = StratifiedKFold(2, shuffle=True, random_state=seed)
    s = cross_val_predict(clf, x, y, cv=folds, method="predict_proba", params={"sample_weight": w})[:, 1]
    out = {"auc": metrics.auc(y, s, w)}
    s_truth, s_other = s[y == 1], s[y == 0]
    order = np.argsort(s_other)
    cum = np.cumsum(w_other[order]) / w_other.sum()
    for q in TAIL_FRACTIONS:
        cut = s_other[order][min(np.searchsorted(cum, 1 - q), len(order) - 1)]
        above = s_other > cut
        n_t, w_o = int((s_truth > cut).sum()), w_other[above].sum()
        n_o_eff = w_o**2 / max((w_other[above] ** 2).sum(), 1e-300)  # effective count of the weighted tail
        ratio = (n_t / len(s_truth)) / max(w_o / w_other.sum(), 1e-12)
        err = ratio * np.sqrt(1 / max(n_t, 1) + 1 / max(n_o_eff, 1))
        out[f"excess_{q:g}"] = f"{ratio:.2f} ± {err:.2f}"
    return out


def merge_rows(old: list[dict], new: list[dict], key) -> list[dict]:
    """The ``old`` rows whose ``key(row)`` no ``new`` row has, then ``new`` (a rerun replaces its result).

    >>> merge_rows([{"m": "a", "v": 1}, {"m": "b", "v": 2}], [{"m": "b", "v": 3}], key=lambda r: r["m"])
    [{'m': 'a', 'v': 1}, {'m': 'b', 'v': 3}]
    """
    taken = {key(r) for r in new}
    return [r for r in old if key(r) not in taken] + list(new)


def seed_summary(rows: list[dict], group) -> list[dict]:
    """One row per group of runs (``group(row)``: a dict of the grouping fields, in first-seen order) with
    the median and IQR of their max SIC, the median AUC and the number of runs."""
    from resad_tf import metrics

    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(tuple(group(r).items()), []).append(r)
    out = []
    for fields, rr in groups.items():
        ms = metrics.median_iqr([r["max_sic"] for r in rr])
        out.append(dict(fields, max_sic=ms["median"], q25=ms["q25"], q75=ms["q75"],
                        auc=metrics.median_iqr([r["auc"] for r in rr])["median"], seeds=len(rr)))
    return out


def sr_classifier_run(options, sr, background, background_weight, test, seed: int) -> dict:
    """One ladder step: train ``options``' classifier on the SR data vs ``background``; AUC and max SIC on
    ``test`` (the IAD -> method ladders of flow_fidelity.py and dctr_fidelity.py)."""
    import time

    from resad_tf import metrics
    from resad_tf.methods.classify import Discriminator

    t0 = time.time()
    disc = Discriminator(options, seed=seed, verbose=False).fit(sr.x, background, sr.weight, background_weight)
    s = disc.predict(test.x)
    return dict(classifier_seed=seed, auc=metrics.auc(test.label, s), max_sic=metrics.max_sic(test.label, s),
                seconds=round(time.time() - t0))


def significance_plot(rows: list[dict], path: pathlib.Path) -> pathlib.Path:
    """Significance after the best cut vs before it: per method and N_sig the median over seeds, IQR bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from resad_tf.plots import hep_style

    hep_style()
    fig, ax = plt.subplots(figsize=(9, 6))
    markers = ["o", "s", "^", "v", "D", "P", "X", "*", "<", ">"]
    colors = [plt.cm.tab10(i) for i in range(10)] + [plt.cm.Dark2(i) for i in range(8)]  # methods 11+ dashed
    names = [n for n in dict.fromkeys(r["method"] for r in rows)
             if all(sum(r["method"] == n and r["n_sig"] == k for r in rows) >= 2
                    for k in {r["n_sig"] for r in rows if r["method"] == n})]
    for i, name in enumerate(names):
        points = []
        for n_sig in sorted({r["n_sig"] for r in rows if r["method"] == name}):
            rr = [r for r in rows if r["method"] == name and r["n_sig"] == n_sig]
            after = np.array([r["max_sic"] * r["s_over_sqrt_b"] for r in rr])
            points.append((np.median([r["s_over_sqrt_b"] for r in rr]), *np.percentile(after, [50, 25, 75])))
        x, y, lo, hi = np.array(points).T
        ax.errorbar(x, y, yerr=[y - lo, hi - y], color=colors[i % len(colors)], marker=markers[i % 10],
                    ls="-" if i < 10 else "--", capsize=3, label=name)
    ax.set_xlabel("S/√B in the SR before the cut", fontsize="medium")
    ax.set_ylabel("S/√B after the best cut\n(max SIC × S/√B)", fontsize="medium")
    ax.set_xlim(0, 1.15 * max(r["s_over_sqrt_b"] for r in rows))
    ax.set_ylim(bottom=0)
    ax.axline((0, 0), slope=1, color="k", ls=":", marker="", label="no cut")
    ax.legend(fontsize="x-small", loc="upper left", bbox_to_anchor=(1.02, 1.0),
              title="median, IQR over seeds\n(one-seed variants left out)", title_fontsize="x-small")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def machine() -> str:
    """CPU model, cores, the load when the bench started (the machines are shared), Python, date."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if "model name" in line)
    except (OSError, StopIteration):
        pass
    load = f", load {os.getloadavg()[0]:.1f} at start" if hasattr(os, "getloadavg") else ""
    return f"{cpu}, {os.cpu_count()} cores{load}, Python {platform.python_version()}, {datetime.date.today()}"


def markdown_table(rows: list[dict], columns: list[str], floatfmt: str = ".3g") -> str:
    def fmt(v):
        return format(v, floatfmt) if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(columns) + " |", "| " + " | ".join("---" for _ in columns) + " |"]
    lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines)


def write_results(name: str, text: str, data) -> pathlib.Path:
    RESULTS.mkdir(exist_ok=True)
    md = RESULTS / f"{name}.md"
    with atomic_path(md) as tmp:
        tmp.write_text(text)
    write_json_atomic(RESULTS / f"{name}.json", data)
    return md
