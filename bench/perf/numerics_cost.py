"""What the CPU-independent kernels cost in speed (resad_tf.runtime.pin_numerics, on by default).

Each setting runs in a fresh process (the kernels are chosen when the libraries load), the two
settings interleaved round by round so that a changing machine load hits both alike; the load
average is recorded with each run.  Measured per process, after warm-up:

* training samples/s of one step of the literature background flow (15 MADE blocks x 128, affine)
  at batch 256 (graph) and 1024 (XLA), and of a 6 x 64 spline flow (8 bins) at batch 1024 (graph);
* events/s of one epoch of the default Keras MLP (3 x 64, batch 128) on 100k events.

Writes bench/results/numerics_cost.md and .json.  Run: ``python bench/perf/numerics_cost.py [--rounds=3]``.
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import time

from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import machine, markdown_table, run, write_results  # noqa: E402

flags.DEFINE_integer("rounds", 3, "interleaved rounds (each: one process per setting)")
flags.DEFINE_float("seconds", 4.0, "timing window per measurement")
flags.DEFINE_string("child", None, "internal: measure in this process and print one JSON line")
FLAGS = flags.FLAGS

SETTINGS = {"pinned (default)": "1", "fast (RESAD_CPU_INDEPENDENT=0)": "0"}


def timed(fn, seconds: float) -> float:
    """Calls per second of ``fn`` after three warm-up calls."""
    for _ in range(3):
        fn()
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        fn()
        n += 1
    return n / (time.perf_counter() - t0)


def measure(seconds: float) -> dict:
    import numpy as np
    import tensorflow as tf

    from resad_tf import runtime
    from resad_tf.flows import ConditionalFlow
    from resad_tf.flows.training import _make_optimizer, _make_step
    from resad_tf.models.mlp import MLPClassifier

    runtime.configure()
    runtime.seed_everything(0)
    rng = np.random.default_rng(0)
    out = {}
    for name, blocks, hidden, transform, batch, jit in (
        ("flow step 15x128 affine, batch 256, graph", 15, 128, "affine", 256, False),
        ("flow step 15x128 affine, batch 1024, XLA", 15, 128, "affine", 1024, True),
        ("flow step 6x64 rqs, batch 1024, graph", 6, 64, "rqs", 1024, False),
    ):
        flow = ConditionalFlow(dim=4, context_dim=1, n_blocks=blocks, hidden_units=(hidden,),
                               transform=transform, seed=0)
        step = _make_step(flow, _make_optimizer(flow.trainable_variables, 1e-4), 0.0, jit)
        x = tf.constant(rng.normal(size=(batch, 4)), tf.float32)
        c = tf.constant(rng.uniform(-1, 1, (batch, 1)), tf.float32)
        w = tf.ones([batch])
        out[name] = batch * timed(lambda: float(step(x, c, w)), seconds)
    n = 100_000
    x, y = rng.normal(size=(n, 4)).astype("float32"), rng.integers(0, 2, n)
    MLPClassifier(epochs=1, patience=None).fit(x[:2000], y[:2000])  # warm-up: tracing
    t0 = time.perf_counter()
    MLPClassifier(epochs=2, patience=None).fit(x, y)
    out["MLP 3x64, batch 128, 2 epochs on 80k + validation"] = 2 * 0.8 * n / (time.perf_counter() - t0)
    return out


def main():
    if FLAGS.child:
        print("RESULT " + json.dumps(measure(FLAGS.seconds)), flush=True)
        return
    runs = []
    for r in range(FLAGS.rounds):
        for label, value in SETTINGS.items():
            env = dict(os.environ, RESAD_CPU_INDEPENDENT=value)
            for var in ("ONEDNN_MAX_CPU_ISA", "OPENBLAS_CORETYPE", "XLA_FLAGS"):
                env.pop(var, None)
            load = os.getloadavg()[0]
            text = subprocess.run([sys.executable, __file__, f"--child={label}", f"--seconds={FLAGS.seconds}"],
                                  env=env, stdout=subprocess.PIPE, text=True, check=True).stdout
            rates = json.loads(text.split("RESULT ", 1)[1])
            runs.append(dict(round=r, setting=label, load=f"{load:.2f}", **rates))
            print(runs[-1], flush=True)
    rows = []
    for what in [k for k in runs[0] if k not in ("round", "setting", "load")]:
        med = {s: statistics.median(x[what] for x in runs if x["setting"] == s) for s in SETTINGS}
        pinned, fast = med.values()
        rows.append({"what": what, **{s: f"{v:,.0f}" for s, v in med.items()},
                     "pinned / fast": f"{pinned / fast:.3f}"})
    loads = [float(x["load"]) for x in runs]
    text = (f"# Speed of the CPU-independent kernels\n\nMachine: {machine()}.  `python bench/perf/numerics_cost.py "
            f"--rounds={FLAGS.rounds}`: {FLAGS.rounds} interleaved rounds, one fresh process per setting and round, "
            f"one thread per op; medians, in samples (events) per second.  Load average at the runs' starts "
            f"{min(loads):.1f}-{max(loads):.1f}.\n\n"
            + markdown_table(rows, ["what", *SETTINGS, "pinned / fast"]) + "\n\nEvery run:\n\n"
            + markdown_table(runs, list(runs[0]), floatfmt=",.0f") + "\n")
    write_results("numerics_cost", text, {"rows": rows, "runs": runs})


if __name__ == "__main__":
    run(main)
