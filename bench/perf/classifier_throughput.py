#!/usr/bin/env python
"""Training throughput of the toolkit's Keras MLP classifier, per batch size, on whatever device Keras uses.

    python bench/perf/classifier_throughput.py --tag=cpu
    KERAS_BACKEND=jax python bench/perf/classifier_throughput.py --tag=gpu_jax   # on a GPU node

The MLP (resad_tf.models.mlp.MLPClassifier, 3 x 64 ReLU, Adam, class-balanced
BCE) is written in backend-neutral Keras 3, so the same code trains on the
TensorFlow backend (the toolkit's default) or on JAX.  Data: two shifted 5-d
Gaussians (4 features + m_jj), the size of a CATHODE SR training set; the AUC
on held-out events checks that every setting learned the same thing.
Throughput = training events x epochs / wall seconds of ``fit`` (compilation
included, amortised over the epochs).  Writes
bench/results/classifier_throughput_<tag>.md/.json.
"""

from __future__ import annotations

import sys
import time

import numpy as np
from absl import flags

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parents[1]))  # bench/: common.py
from common import machine, markdown_table, run, write_results  # noqa: E402

from resad_tf import metrics  # noqa: E402
from resad_tf.models.mlp import MLPClassifier  # noqa: E402

flags.DEFINE_integer("n_events", 400_000, "training events (half per class), 20% of them for validation")
flags.DEFINE_integer("epochs", 5, "epochs per fit")
flags.DEFINE_list("batch_sizes", ["128", "512", "4096"], "batch sizes")
flags.DEFINE_string("tag", "cpu", "result file suffix")
FLAGS = flags.FLAGS


def toy(n: int, seed: int):
    rng = np.random.default_rng(seed)
    y = np.repeat([0.0, 1.0], n // 2)
    x = rng.normal(size=(len(y), 5)) + 0.5 * y[:, None] * np.array([1.0, -0.5, 0.3, 0.0, 0.0])
    return x, y


def main():
    import keras

    x, y = toy(FLAGS.n_events, 0)
    x_test, y_test = toy(200_000, 1)
    devices = [str(d) for d in _devices()]
    rows = []
    for batch in (int(b) for b in FLAGS.batch_sizes):
        clf = MLPClassifier(batch_size=batch, epochs=FLAGS.epochs, patience=None, seed=0)
        t0 = time.perf_counter()
        clf.fit(x, y)
        seconds = time.perf_counter() - t0
        rows.append(dict(backend=keras.backend.backend(), batch_size=batch, epochs=FLAGS.epochs,
                         events_per_s=round(0.8 * len(x) * FLAGS.epochs / seconds),
                         seconds=round(seconds, 1), auc=round(metrics.auc(y_test, clf.predict(x_test)), 4)))
        print(rows[-1], flush=True)
    text = (f"# MLP classifier training throughput ({FLAGS.tag})\n\nMachine: {machine()}; Keras {keras.__version__}, "
            f"backend {keras.backend.backend()}, devices {devices}.\n{0.8 * len(x):.0f} training events, "
            f"3 x 64 MLP, {FLAGS.epochs} epochs per fit (compilation included).\n\n"
            + markdown_table(rows, ["backend", "batch_size", "epochs", "events_per_s", "seconds", "auc"]) + "\n")
    print(write_results(f"classifier_throughput_{FLAGS.tag}", text, {"rows": rows, "devices": devices}))


def _devices():
    import keras

    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.devices()
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_logical_devices()]
    return [backend]


if __name__ == "__main__":
    run(main)
