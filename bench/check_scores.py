#!/usr/bin/env python
"""Per-event score regression check: every method's script on tiny, seeded toy data, before vs after a change.

    python bench/check_scores.py --out=/tmp/ref --repo=/path/to/old/checkout   # the old code
    python bench/check_scores.py --out=/tmp/new                                 # this checkout
    python bench/check_scores.py --compare=/tmp/ref,/tmp/new

``--out`` calls ``bin/<method>`` of ``--repo`` (default: this checkout, with
that checkout's package first on the path) once per case below (seed 0, a
20k-event toy, networks and epochs shrunk to seconds) and keeps each run's
``scores.h5`` and ``metrics.json``.  ``--compare`` prints, per case, the
largest absolute score difference, the AUC and max SIC of both runs, and exits
1 when a case differs by more than float32 round-off (``--atol``).  The command
line is the one thing both versions share, so the check goes through it.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys
import time

from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # bench/: common.py
from common import REPO, run  # noqa: E402

flags.DEFINE_string("out", None, "run every case into this directory")
flags.DEFINE_string("repo", str(REPO), "the checkout whose bin/ scripts and package run the cases")
flags.DEFINE_list("cases", None, "a subset of the cases (default: all)")
flags.DEFINE_list("compare", None, "A,B: compare two --out directories")
flags.DEFINE_float("atol", 1e-5, "allowed |score difference| relative to max(|score|, 1)")
FLAGS = flags.FLAGS

TOY = ["--toy_n_background=20000", "--toy_n_signal=5000", "--n_sig=1000", "--seed=0", "--quiet"]
MLP = ["--epochs=3", "--hidden=16,16", "--batch_size=512"]
FLOW = ["--n_blocks=2", "--flow_hidden=16", "--flow_epochs=2", "--flow_batch_size=1024", "--n_checkpoints=2"]
HGB = ["--classifier=hgb", "--n_estimators=2", "--max_iter=20"]

#: case name -> (script, flags)
CASES = {
    "supervised": ("supervised", TOY + MLP + ["--toy_reference_factor=1"]),
    "iad": ("iad", TOY + MLP + ["--toy_reference_factor=1"]),
    "iad_hgb": ("iad", TOY + HGB + ["--toy_reference_factor=1"]),
    "iad_xgb": ("iad", TOY + ["--classifier=xgb", "--n_estimators=2", "--max_iter=20", "--toy_reference_factor=1"]),
    "cwola": ("cwola", TOY + MLP + ["--k_folds=3"]),
    "cwola_hgb": ("cwola", TOY + HGB + ["--k_folds=3"]),
    "salad": ("salad", TOY + MLP + ["--toy_simulation_factor=1"]),
    "salad_dctr2_hgb": ("salad", TOY + HGB + ["--toy_simulation_factor=1", "--dctr_iterations=2"]),
    "anode": ("anode", TOY + FLOW),
    "cathode": ("cathode", TOY + FLOW + MLP + ["--n_best_epochs=2"]),
    "lacathode": ("lacathode", TOY + FLOW + MLP + ["--n_best_epochs=2"]),
    "ranode": ("ranode", TOY + FLOW + ["--signal_blocks=1", "--signal_hidden=8", "--signal_epochs=2",
                                  "--signal_batch_size=1024"]),
    "autoencoder": ("autoencoder", TOY + ["--epochs=3", "--batch_size=512"]),
    "vae": ("vae", TOY + ["--epochs=3", "--batch_size=512"]),
    "sparse_ae": ("sparse_ae", ["--data=toy_constituents", "--toy_n_background=1500", "--toy_n_signal=600",
                                "--n_sig=300", "--seed=0", "--quiet", "--max_events=3000", "--epochs=1",
                                "--filters=4,8", "--latent_dim=8", "--n_estimators=2", "--max_iter=20"]),
}


def run_cases(out: pathlib.Path, repo: pathlib.Path, cases: list[str]) -> None:
    env = dict(os.environ, PYTHONPATH=str(repo), TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    out.mkdir(parents=True, exist_ok=True)
    for name in cases:
        script, flags = CASES[name]
        work = out / f".{name}"
        t0 = time.time()
        r = subprocess.run([sys.executable, str(repo / "bin" / script), f"--output_dir={work}", *flags],
                           capture_output=True, text=True, cwd=repo, env=env)
        if r.returncode != 0:
            print(f"{name}: exit {r.returncode}\n{r.stderr[-3000:]}", file=sys.stderr)
            continue
        (out / name).mkdir(exist_ok=True)
        for f in ("scores.h5", "metrics.json"):
            shutil.copy(work / f, out / name / f)
        shutil.rmtree(work)
        print(f"{name}: {time.time() - t0:.0f} s", flush=True)


def compare(a: pathlib.Path, b: pathlib.Path, atol: float) -> int:
    import numpy as np

    from resad_tf.outputs import read_scores

    bad = 0
    print(f"| case | n events | max abs score diff | AUC {a.name} | AUC {b.name} | max SIC {a.name} | max SIC {b.name} |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in CASES:
        if not (a / name).is_dir() or not (b / name).is_dir():
            print(f"| {name} | missing in {a if not (a / name).is_dir() else b} | | | | | |")
            bad += 1
            continue
        sa, sb = read_scores(a / name / "scores.h5"), read_scores(b / name / "scores.h5")
        ma, mb = (json.loads((d / name / "metrics.json").read_text()) for d in (a, b))
        same_events = all(np.array_equal(sa[k], sb[k]) for k in ("label", "mjj"))
        diff = float(np.max(np.abs(sa["score"] - sb["score"]))) if same_events else float("inf")
        scale = max(float(np.max(np.abs(sa["score"]))), 1.0)
        bad += diff > atol * scale
        print(f"| {name} | {len(sa['score'])} | {diff:.3g} | {ma['auc']:.6f} | {mb['auc']:.6f} | "
              f"{ma['max_sic']:.6f} | {mb['max_sic']:.6f} |")
    return 1 if bad else 0


def main() -> None:
    from resad_tf.errors import InputError

    unknown = sorted(set(FLAGS.cases or ()) - set(CASES))
    if unknown:
        raise InputError(f"--cases: unknown {unknown}; choose from {list(CASES)}")
    if FLAGS.compare:
        if len(FLAGS.compare) != 2:
            raise InputError(f"--compare needs two directories A,B, got {FLAGS.compare}")
        sys.exit(compare(*(pathlib.Path(d) for d in FLAGS.compare), FLAGS.atol))
    if not FLAGS.out:
        raise InputError("give --out=DIR (run the cases) or --compare=A,B")
    run_cases(pathlib.Path(FLAGS.out), pathlib.Path(FLAGS.repo).resolve(), FLAGS.cases or list(CASES))


if __name__ == "__main__":
    run(main)
