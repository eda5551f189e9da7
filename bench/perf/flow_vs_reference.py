"""End-to-end flow training samples/s: this toolkit (old and new loop) against sk_cathode, in one run.

Every contender trains the same data (``--n_train`` events per epoch, ``--n_val``
validation events, ``--epochs`` epochs; 4 correlated features whose mean and width
move with a 1-d context) from a fresh process, and is timed end to end: building the
model, tracing/compiling, every epoch's shuffling, steps, validation and checkpoint.
The contenders run interleaved (``--reps`` rounds of all of them), so a change in the
machine's load hits them alike; the table gives each one's median.

* ``sk_cathode``: the PyTorch reference, ``ConditionalNormalizingFlow(num_blocks=15,
  num_hidden=128, batch_norm=True, batch_size=256)`` with a ``save_path`` (it saves the
  model every epoch); its ``fit`` also evaluates the untrained loss on the training
  and validation sets first, which is timed separately and left out of its rate
  (the rate is the better one for it).  Runs in ``--peer_python`` (a virtualenv with
  torch; ../shared/peers/README.md) with ``--peer_threads`` intra-op threads (default 1, as
  the toolkit; on a loaded 2-core machine PyTorch's default of 2 ran 10x slower, 89 vs
  1,191 samples/s in one epoch of 20k events at load 8-10).
* ``resad <ref>``: ``flows.train`` of the toolkit at git ``--old_ref`` (the loop before
  the epoch-in-one-graph change), from ``git archive``;
* ``resad``: ``flows.train`` of this tree; both at the toolkit's default of one thread
  per op (``runtime.configure``), 15 x 128 affine MAF with batch norm.

Writes bench/results/flow_vs_reference.md and .json.  Run:
``python bench/perf/flow_vs_reference.py [--reps=2] [--configs=...]``.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = pathlib.Path(__file__).resolve()
PEERS = HERE.parents[3] / "shared" / "peers" / "sk_cathode"


def make_data(n: int, seed: int):
    """4 correlated features given a context m in [-1, 1] (float32)."""
    rng = np.random.default_rng(seed)
    m = rng.uniform(-1, 1, n).astype(np.float32)
    z = rng.normal(size=(n, 4))
    mix = np.array([[1, 0, 0, 0], [0.5, 1, 0, 0], [0, -0.3, 1, 0], [0.2, 0.2, 0.2, 1.0]])
    x = z @ mix.T * (1 + 0.3 * m[:, None]) + np.array([0.5, -0.5, 1.0, 0.0]) * m[:, None]
    return x.astype(np.float32), m


def sk_cathode_child(args: dict) -> dict:
    """The reference, in the peer virtualenv (numpy and torch only)."""
    sys.path.insert(0, str(PEERS))
    import torch

    if args.get("threads"):
        torch.set_num_threads(args["threads"])
    from sk_cathode.generative_models import conditional_normalizing_flow_torch as cnf

    n, nv, epochs, batch = args["n_train"], args["n_val"], args["epochs"], args["batch"]
    x, m = make_data(n + nv, 0)
    untrained = []  # the loss passes fit() runs before its first epoch
    loss_pass, train_epoch = cnf.compute_loss_over_batches, cnf.train_epoch
    started = []

    def timed_loss_pass(*a, **k):
        t0 = time.perf_counter()
        out = loss_pass(*a, **k)
        if not started:
            untrained.append(time.perf_counter() - t0)
        return out

    def marked_epoch(*a, **k):
        started.append(1)
        return train_epoch(*a, **k)

    cnf.compute_loss_over_batches, cnf.train_epoch = timed_loss_pass, marked_epoch
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        flow = cnf.ConditionalNormalizingFlow(save_path=tmp, num_inputs=4, num_cond_inputs=1, num_blocks=15,
                                              num_hidden=128, batch_norm=True, lr=1e-4, batch_size=batch,
                                              epochs=epochs, verbose=False)
        flow.fit(x[:n], m[:n, None], x[n:], m[n:, None])
        wall = time.perf_counter() - t0
    seconds = wall - sum(untrained)
    return dict(seconds=seconds, wall=wall, untrained_pass=sum(untrained), rate=epochs * n / seconds,
                version=f"torch {torch.__version__}, threads {torch.get_num_threads()}")


def resad_child(args: dict) -> dict:
    import tensorflow as tf

    from resad_tf import runtime
    from resad_tf.flows import ConditionalFlow, train

    runtime.configure()
    n, nv, epochs = args["n_train"], args["n_val"], args["epochs"]
    x, m = make_data(n + nv, 0)
    kw = dict(epochs=epochs, batch_size=args["batch"], learning_rate=args["lr"], jit_compile=args["jit"],
              verbose=False)
    if args.get("schedule", "constant") != "constant":
        kw.update(lr_schedule=args["schedule"], warmup_epochs=args.get("warmup", 0))
    t0 = time.perf_counter()
    flow = ConditionalFlow(dim=4, n_blocks=args["blocks"], hidden_units=(args["hidden"],),
                           batch_norm=args["batch_norm"], seed=0)
    h = train(flow, x[:n], m[:n], x_val=x[n:], context_val=m[n:], **kw)
    seconds = time.perf_counter() - t0
    return dict(seconds=seconds, rate=epochs * n / seconds, val_loss=h.val_loss,
                version=f"TensorFlow {tf.__version__}")


if __name__ == "__main__" and len(sys.argv) == 3 and sys.argv[1] == "--child_json":
    spec = json.loads(sys.argv[2])
    result = sk_cathode_child(spec) if spec["who"] == "sk_cathode" else resad_child(spec)
    print("RESULT " + json.dumps(result), flush=True)
    sys.exit(0)

# ------------------------------------------------------------------------------------------ parent
from absl import flags  # noqa: E402

sys.path.insert(0, str(HERE.parents[1]))  # bench/: common.py
from common import REPO, machine, run, write_results  # noqa: E402

flags.DEFINE_integer("n_train", 500_000, "training events per epoch")
flags.DEFINE_integer("n_val", 125_000, "validation events")
flags.DEFINE_integer("epochs", 2, "epochs per run")
flags.DEFINE_integer("reps", 2, "rounds of all contenders (interleaved)")
flags.DEFINE_string("old_ref", "main", "git ref of the toolkit's previous loop ('' to skip it)")
flags.DEFINE_string("peer_python", "/work/peer-venv/bin/python", "python with torch for sk_cathode ('' to skip)")
flags.DEFINE_integer("peer_threads", 1, "torch.set_num_threads for sk_cathode (0: PyTorch's default)")
flags.DEFINE_list("configs", ["256:0", "4096:1"], "this toolkit's runs, batch:xla; the first also runs at "
                  "--old_ref")
flags.DEFINE_integer("blocks", 15, "MADE blocks of this toolkit's flows (the reference: 15)")
flags.DEFINE_bool("batch_norm", True, "batch norm between this toolkit's blocks (the reference: on)")
flags.DEFINE_float("big_batch_lr", 2e-3, "peak learning rate of the runs at batch > 256 (cosine schedule)")
FLAGS = flags.FLAGS


def child(python: str, pythonpath: str, spec: dict) -> dict:
    env = dict(os.environ, PYTHONPATH=pythonpath, TF_CPP_MIN_LOG_LEVEL="2")
    load = os.getloadavg()[0]
    out = subprocess.run([python, str(HERE), "--child_json", json.dumps(spec)], capture_output=True, text=True,
                         env=env)
    if out.returncode:
        raise RuntimeError(f"{spec}: {out.stderr[-3000:]}")
    result = json.loads(next(ln[7:] for ln in out.stdout.splitlines() if ln.startswith("RESULT ")))
    return dict(result, load_before=load, load_after=os.getloadavg()[0])


def main():
    base = dict(n_train=FLAGS.n_train, n_val=FLAGS.n_val, epochs=FLAGS.epochs, blocks=15, hidden=128,
                batch_norm=True, lr=1e-4, jit=False, batch=256)
    ours = dict(blocks=FLAGS.blocks, batch_norm=FLAGS.batch_norm)
    contenders = []  # (label, python, pythonpath, spec)
    if FLAGS.peer_python:
        contenders.append(("sk_cathode, batch 256", FLAGS.peer_python, "",
                           dict(base, who="sk_cathode", threads=FLAGS.peer_threads)))
    old_tree = None
    for i, text in enumerate(FLAGS.configs):
        batch, xla = (int(v) for v in text.split(":"))
        spec = dict(base, who="resad", batch=batch, jit=bool(xla), **ours)
        if batch > 256:
            spec.update(lr=FLAGS.big_batch_lr, schedule="cosine", warmup=min(1.0, FLAGS.epochs / 2))
        what = f"batch {batch}" + (", XLA" if xla else "") + (", cosine lr" if batch > 256 else "")
        if i == 0 and FLAGS.old_ref:
            old_tree = tempfile.mkdtemp(prefix="resad-old-")
            subprocess.run(f"git -C {REPO} archive {FLAGS.old_ref} resad_tf | tar -x -C {old_tree}", shell=True,
                           check=True)
            commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", FLAGS.old_ref],
                                    capture_output=True, text=True, check=True).stdout.strip()
            contenders.append((f"resad_tf {FLAGS.old_ref} ({commit}), {what}", sys.executable, old_tree, spec))
        contenders.append((f"resad_tf (this tree), {what}", sys.executable, str(REPO), spec))
    results = {label: [] for label, *_ in contenders}
    for rep in range(FLAGS.reps):
        for label, python, path, spec in contenders:
            r = child(python, path, spec)
            results[label].append(r)
            print(rep, label, {k: v for k, v in r.items() if k != "val_loss"}, flush=True)
    ref_label = next((lb for lb in results if lb.startswith("sk_cathode")), None)
    ref = float(np.median([r["rate"] for r in results[ref_label]])) if ref_label else None
    rows = []
    for label, rs in results.items():
        rate = float(np.median([r["rate"] for r in rs]))
        rows.append(dict(what=label, rate=rate, rates=[round(r["rate"]) for r in rs],
                         seconds=float(np.median([r["seconds"] for r in rs])),
                         vs_ref=rate / ref if ref else None,
                         loads=[f"{r['load_before']:.1f}-{r['load_after']:.1f}" for r in rs],
                         val_loss=rs[0].get("val_loss"), version=rs[0]["version"]))
    cpu = subprocess.run("lscpu | grep -E 'Model name|^CPU\\(s\\)'", shell=True, capture_output=True,
                         text=True).stdout.split("\n")
    lines = [
        "# Flow training end to end: this toolkit vs the sk_cathode reference",
        "",
        f"Machine: {machine()}  ",
        "lscpu: " + "; ".join(" ".join(c.split()) for c in cpu if c) + "  ",
        f"Versions: {'; '.join(sorted({r['version'] for r in rows}))}  ",
        f"Produced by `python bench/perf/flow_vs_reference.py --n_train={FLAGS.n_train} --n_val={FLAGS.n_val} "
        f"--epochs={FLAGS.epochs} --reps={FLAGS.reps} --configs={','.join(FLAGS.configs)} "
        f"--peer_threads={FLAGS.peer_threads} --blocks={FLAGS.blocks} --{'' if FLAGS.batch_norm else 'no'}batch_norm "
        f"--big_batch_lr={FLAGS.big_batch_lr}`: each run a fresh "
        "process, the contenders interleaved round by round; samples/s = epochs x training events / wall time "
        "of the whole fit (model built, traced, every epoch's shuffle, steps, validation, checkpoint).  "
        f"Model: 15 MADE blocks x 128 hidden, affine, batch norm between blocks (this toolkit: {FLAGS.blocks} "
        f"blocks, batch norm {'on' if FLAGS.batch_norm else 'off'}), 4 features, 1-d context.  sk_cathode's rate leaves out the untrained-loss pass its fit() runs first.  Runs at batch "
        f"> 256: peak lr {FLAGS.big_batch_lr}, cosine decay, warm-up.  load: 1-min load average before-after "
        "each run (2 shared cores).",
        "",
        "| what | samples/s (median) | per run | s per run | vs sk_cathode | load |",
        "| --- | --- | --- | --- | --- | --- |",
        *[f"| {r['what']} | {r['rate']:,.0f} | {', '.join(f'{v:,}' for v in r['rates'])} | {r['seconds']:.0f} | "
          f"{'' if r['vs_ref'] is None else format(r['vs_ref'], '.2f') + 'x'} | {', '.join(r['loads'])} |"
          for r in rows],
        "",
    ]
    print(f"wrote {write_results('flow_vs_reference', chr(10).join(lines), {'rows': rows, 'raw': results})}")


if __name__ == "__main__":
    run(main)
