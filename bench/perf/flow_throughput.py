"""Training and sampling throughput of the literature-default background flow.

Model: 15 MADE blocks x 128 hidden units, affine (MAF), 4 features, 1-d context
(the ANODE/CATHODE background model).  Measures, on this machine:

* training samples/s of ``flows.train``'s epoch loop (16 optimiser steps per graph
  call) at batch 256, 1024, 4096, with and without XLA (``jit_compile``), after warm-up;
* end-to-end ``flows.train`` samples/s for two epochs of 65536 events at batch 256
  (includes tracing, shuffling, validation);
* sampling rate of ``flow.sample``;

each for every ``--intra_op_threads`` setting (default: 1, the scripts' default,
and 0, TensorFlow's own default of all cores), each setting in a fresh process.

Writes bench/results/flow_throughput.md and .json.  Run: ``python bench/perf/flow_throughput.py [--quick]``.
"""

from __future__ import annotations

import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import tensorflow as tf

from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import ints, machine, run, write_results  # noqa: E402

from resad_tf import runtime  # noqa: E402
from resad_tf.flows import ConditionalFlow, train  # noqa: E402
from resad_tf.flows.training import LearningRate, _make_epoch, _make_optimizer  # noqa: E402

flags.DEFINE_bool("quick", False, "short timing windows")
flags.DEFINE_list("intra_op_threads", ["1", "0"], "settings to compare, each in a fresh process "
                  "(0 = TensorFlow's default)")
flags.DEFINE_integer("child", None, "internal: measure one thread setting in this process")
FLAGS = flags.FLAGS


def default_flow(transform="affine"):
    return ConditionalFlow(dim=4, context_dim=1, n_blocks=15, hidden_units=(128,),
                           transform=transform, seed=0)


STEPS = 16  # optimizer steps per timed call of the epoch loop


def step_rate(batch: int, jit: bool, seconds: float, transform="affine"):
    """Steady-state training samples/s of ``flows.train``'s epoch loop (``STEPS`` steps per call) and
    the first-call (trace/compile) time."""
    flow = default_flow(transform)
    optimizer = _make_optimizer(flow.trainable_variables, LearningRate(1e-4))
    epoch = _make_epoch(flow, optimizer, 0.0, STEPS, batch, jit)
    rng = np.random.default_rng(0)
    n = STEPS * batch
    x = tf.constant(rng.normal(size=(n, 4)), tf.float32)
    c = tf.constant(rng.uniform(-1, 1, (n, 1)), tf.float32)
    w, perm = tf.ones([n]), tf.constant(rng.permutation(n))
    t0 = time.perf_counter()
    float(epoch(x, c, w, perm))
    first = time.perf_counter() - t0
    float(epoch(x, c, w, perm))
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        float(epoch(x, c, w, perm))
        calls += 1
    return n * calls / (time.perf_counter() - t0), first


def end_to_end_rate(n_events: int, batch: int):
    rng = np.random.default_rng(1)
    x, m = rng.normal(size=(n_events, 4)), rng.uniform(3.3, 3.7, n_events)
    flow = default_flow()
    t0 = time.perf_counter()
    train(flow, x, m, x_val=x[:4096], context_val=m[:4096], epochs=2, batch_size=batch,
          verbose=False)
    return 2 * n_events / (time.perf_counter() - t0)


def sample_rate(n: int):
    flow = default_flow()
    m = np.random.default_rng(2).uniform(3.3, 3.7, n)
    flow.sample(n, m, seed=0)  # trace
    t0 = time.perf_counter()
    flow.sample(n, m, seed=1).numpy()
    return n / (time.perf_counter() - t0)


def measure(seconds: float) -> list[dict]:
    """All rows of the table, with this process's thread settings."""
    rows = []

    def add(what, batch, mode, rate, first=""):
        rows.append(dict(what=what, batch=batch, mode=mode, rate=rate, first=first))
        print(rows[-1], flush=True)

    for batch in (256, 1024, 4096):
        for jit in (False, True):
            rate, first = step_rate(batch, jit, seconds)
            add("train loop, affine", batch, "XLA" if jit else "graph", rate, f"{first:.1f}")
    rate, first = step_rate(256, False, seconds, transform="rqs")
    add("train loop, rqs (8 bins)", 256, "graph", rate, f"{first:.1f}")
    add("flows.train, 2 epochs x 65536, affine", 256, "graph", end_to_end_rate(65536, 256), "incl.")
    add("flow.sample, affine", 100000, "graph", sample_rate(100_000))
    return rows


def main():
    seconds = 3.0 if FLAGS.quick else 10.0
    if FLAGS.child is not None:  # one thread setting, in its own process: print the rows as JSON
        runtime.configure(intra_op_threads=FLAGS.child)
        print("ROWS " + json.dumps(measure(seconds)))
        return
    desc = f"{machine()}; TensorFlow {tf.__version__}"
    rows = []
    for threads in ints("intra_op_threads"):
        cmd = [sys.executable, __file__, f"--child={threads}"] + (["--quick"] if FLAGS.quick else [])
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        child = json.loads(next(ln[5:] for ln in out.splitlines() if ln.startswith("ROWS ")))
        rows += [dict(r, threads=threads or f"default ({os.cpu_count()})") for r in child]
    table = [
        f"| {r['what']} | {r['batch']} | {r['mode']} | {r['threads']} | {r['rate']:,.0f} | {r['first']} |"
        for r in sorted(rows, key=lambda r: (r["what"], r["batch"], r["mode"]))
    ]
    text = "\n".join([
        "# Flow throughput: 15 MADE blocks x 128 hidden, 4 features, 1-d context",
        "",
        f"Date: {datetime.datetime.now().isoformat(timespec='minutes')}  ",
        f"Machine: {desc}  ",
        "Produced by `python bench/perf/flow_throughput.py`"
        + (" --quick" if FLAGS.quick else "") + "; samples/s are events per second.",
        "Target: >= 50,000 training samples/s at batch 256 on 2 cores.",
        "intra-op threads: threads one TensorFlow op may use (the scripts' `--intra_op_threads`, "
        "default 1); each setting runs in its own process.",
        "",
        "| what | batch / n | mode | intra-op threads | samples/s | first call (s) |",
        "| --- | --- | --- | --- | --- | --- |",
        *table,
        "",
    ])
    print(f"wrote {write_results('flow_throughput', text, {'machine': desc, 'rows': rows})}")


if __name__ == "__main__":
    run(main)
