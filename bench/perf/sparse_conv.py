"""Sparse (submanifold) vs dense convolutions on 40x40 3-channel jet images: speed and memory.

The same network, three 3x3 convolutions 3 -> 32 -> 32 -> 32 (ReLU), runs
forward + backward (gradients of a sum of squares w.r.t. the kernels) as

* dense: ``keras.layers.Conv2D(padding="same")`` on the (n, 40, 40, 3) grid;
* sparse: :class:`resad_tf.models.sparse.SubmanifoldConv2D` on the active pixels.

Two inputs: the constituent toy's jet images (about 99% empty) and random
images with 5% of the pixels active (95% sparsity).  Each case runs in a fresh
process; time = median of the timed steps after a warm-up (tf.function),
memory = peak resident memory of that process minus its memory before the first
step (ru_maxrss; includes TF's allocator caching, so it is an upper bound of the
activations and gradients).  CPU only; the box may be shared, so timings are
indicative.  Writes bench/results/sparse_conv.md.

    .venv/bin/python bench/perf/sparse_conv.py [--n_images=2048] [--steps=5]
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import subprocess
import sys
import time

from absl import flags

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import run, write_results  # noqa: E402

flags.DEFINE_integer("n_images", 2048, "images per batch")
flags.DEFINE_integer("steps", 5, "timed steps (the median is reported)")
flags.DEFINE_list("worker", None, "internal: KIND,MODE, measure one case in this process")
FLAGS = flags.FLAGS
NPIX, FILTERS = 40, (32, 32, 32)


def _images(kind: str, n_images: int):
    import numpy as np

    from resad_tf.models.sparse import SparseImageBatch

    if kind == "toy jets":
        from resad_tf.data.toy_constituents import generate_raw
        from resad_tf.physics.clustering import cluster_jets
        from resad_tf.physics.images import jet_images

        jets = cluster_jets(generate_raw(n_images // 2, 0, seed=0)[0])
        return SparseImageBatch.from_sparse_images(jet_images(jets.constituents, jets.counts.ravel(), npix=NPIX))
    rng = np.random.default_rng(0)
    active = rng.uniform(size=(n_images, NPIX, NPIX)) < 0.05
    coords = np.argwhere(active).astype(np.int64)
    return SparseImageBatch(coords, rng.exponential(size=(len(coords), 3)).astype(np.float32), n_images, NPIX)


def worker(kind: str, mode: str, n_images: int, steps: int) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from resad_tf.models.sparse import SubmanifoldConv2D

    batch = _images(kind, n_images)
    channels = (3, *FILTERS[:-1])
    if mode == "dense":
        layers = [keras.layers.Conv2D(f, 3, padding="same", activation="relu") for f in FILTERS]
        for layer, c in zip(layers, channels):
            layer.build((None, NPIX, NPIX, c))
        inputs = (tf.constant(batch.to_dense()),)
        net = lambda x: [x := layer(x) for layer in layers][-1]  # noqa: E731
    else:
        layers = [SubmanifoldConv2D(f, activation="relu") for f in FILTERS]
        for layer, c in zip(layers, channels):
            layer.build((None, c))
        inputs = (tf.constant(batch.features), tf.constant(batch.coords))
        net = lambda f, c: [f := layer(f, c) for layer in layers][-1]  # noqa: E731
    # layers built without running them: the RSS high-water mark below starts before any activation

    @tf.function
    def step(*args):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(net(*args)))
        return tape.gradient(loss, [w for layer in layers for w in layer.trainable_weights])

    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step(*inputs)  # trace + warm-up
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        [g.numpy() for g in step(*inputs)]
        times.append(time.perf_counter() - t0)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"kind": kind, "mode": mode, "n_images": batch.n_images, "sparsity": round(batch.sparsity, 4),
            "active": len(batch.coords), "seconds": float(np.median(times)), "peak_mb": (rss1 - rss0) / 1024}


def main():
    args = FLAGS
    if args.worker:
        print(json.dumps(worker(*args.worker, args.n_images, args.steps)))
        return
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    rows = []
    for kind in ("toy jets", "random 5%"):
        for mode in ("dense", "sparse"):
            out = subprocess.run([sys.executable, __file__, f"--worker={kind},{mode}", f"--n_images={args.n_images}",
                                  f"--steps={args.steps}"], capture_output=True, text=True, env=env, check=True)
            rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    lines = ["# Sparse vs dense convolutions (forward + backward)", "",
             f"Three 3x3 convolutions 3 -> {' -> '.join(map(str, FILTERS))} (ReLU) on {args.n_images} "
             f"{NPIX}x{NPIX} 3-channel images; CPU ({os.cpu_count()} cores, shared box), median of "
             f"{args.steps} steps after warm-up; memory = peak RSS growth of a fresh process during the steps.",
             "Produced by `bench/perf/sparse_conv.py`.", "",
             "| images | sparsity | active pixels | dense s/step | sparse s/step | speed-up | dense MB | sparse MB "
             "| memory ratio |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for kind in ("toy jets", "random 5%"):
        d, s = (next(r for r in rows if r["kind"] == kind and r["mode"] == m) for m in ("dense", "sparse"))
        lines.append(f"| {kind} | {d['sparsity']:.3f} | {d['active']} | {d['seconds']:.3f} | {s['seconds']:.3f} | "
                     f"{d['seconds'] / s['seconds']:.1f}x | {d['peak_mb']:.0f} | {s['peak_mb']:.0f} | "
                     f"{d['peak_mb'] / max(s['peak_mb'], 1):.1f}x |")
    write_results("sparse_conv", "\n".join(lines) + "\n", {"rows": rows, "n_images": args.n_images,
                                                          "steps": args.steps})
    print("\n".join(lines))


if __name__ == "__main__":
    run(main)
