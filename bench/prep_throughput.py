"""Throughput of raw constituents -> v2 features (clustering + N-subjettiness).

Measures, per core (CPU time of one process, so other load on the machine does
not count), events/s for anti-kT clustering, N-subjettiness (one-pass and plain
kT axes) and the whole per-chunk job (read + cluster + tau + write), on the
real tiny LHCO file (tiled to the chunk size) and on the constituent toy; and
the peak RSS of one worker processing a 10k-event chunk.

    .venv/bin/python bench/prep_throughput.py [--chunk 10000]

Writes bench/results/prep_throughput.md.
"""

import argparse
import json
import os
import pathlib
import platform
import resource
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TINY = (
    pathlib.Path(os.environ.get("RESAD_LHCO_DIR", REPO.parent / "shared" / "data" / "lhco"))
    / "events_anomalydetection_tiny.h5"
)


def measure(particles):
    """CPU seconds per stage for one chunk."""
    from resad_tf.physics.clustering import cluster_jets
    from resad_tf.physics.nsubjettiness import nsubjettiness

    t0 = time.process_time()
    jets = cluster_jets(particles)
    t1 = time.process_time()
    nsubjettiness(jets.constituents, jets.counts.ravel(), axes="onepass_kt")
    t2 = time.process_time()
    nsubjettiness(jets.constituents, jets.counts.ravel(), axes="kt")
    t3 = time.process_time()
    return {
        "cluster": t1 - t0,
        "tau_onepass": t2 - t1,
        "tau_kt": t3 - t2,
        "mean_particles": float((particles[..., 0] > 0).sum(1).mean()),
    }


def make_raw(kind, n, path):
    """Write an n-event raw file: the real tiny file tiled, or the toy (10% signal)."""
    import numpy as np

    from resad_tf.data.raw import read_raw, write_raw
    from resad_tf.data.toy_constituents import generate_raw

    if kind == "real":
        particles, labels = read_raw(TINY)
        reps = -(-n // len(particles))
        particles, labels = np.tile(particles, (reps, 1, 1))[:n], np.tile(labels, reps)[:n]
    else:
        particles, labels = generate_raw(n - n // 10, n // 10, seed=0)
    write_raw(path, particles, labels)


def worker(raw, stage):
    """In a fresh process: time the stages, or run one prepare_lhco chunk; print JSON."""
    from resad_tf.data.raw import n_raw_events, read_raw
    from resad_tf.physics.prepare import prepare_lhco

    if stage == "stages":
        out = measure(read_raw(raw)[0])
    else:
        t0 = time.process_time()
        prepare_lhco(raw, raw + ".features.h5", chunksize=n_raw_events(raw), quiet=True)
        out = {
            "end_to_end": time.process_time() - t0,
            "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6,
        }
    print(json.dumps(out))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunk", type=int, default=10_000)
    parser.add_argument("--worker", nargs=2, metavar=("RAW", "STAGE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(*args.worker)
    rows = {}
    for kind in ("real", "toy"):
        if kind == "real" and not TINY.exists():
            continue
        rows[kind] = {}
        with tempfile.TemporaryDirectory() as tmp:
            raw = os.path.join(tmp, "raw.h5")
            make_raw(kind, args.chunk, raw)
            for stage in ("stages", "prepare"):
                out = subprocess.run(
                    [sys.executable, __file__, "--worker", raw, stage],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout
                rows[kind].update(json.loads(out.strip().splitlines()[-1]))
    n = args.chunk
    lines = [
        "# prep_throughput: raw constituents -> v2 features",
        "",
        f"Chunk of {n} events in one process; events/s per core = events / CPU seconds "
        f"(`time.process_time`). Machine: {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, shared with other jobs. Target: >= 3000 events/s/core.",
        "",
        "| sample | particles/event | cluster | tau (one-pass kT, default) | tau (kT) | end to end (read+cluster+tau+write) | peak RSS of the worker |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for kind, r in rows.items():
        rate = lambda s: f"{n / r[s]:,.0f} ev/s"  # noqa: E731
        lines.append(
            f"| {'LHCO R&D (tiny file tiled)' if kind == 'real' else 'constituent toy'} | "
            f"{r['mean_particles']:.0f} | {rate('cluster')} | {rate('tau_onepass')} | "
            f"{rate('tau_kt')} | {rate('end_to_end')} | {r['peak_rss_gb']:.2f} GB |"
        )
    if "real" in rows:
        r = rows["real"]
        per_core = n / r["end_to_end"]
        lines += [
            "",
            f"Whole 1.1M-event R&D file at this rate: {1.1e6 / per_core / 60:.0f} core-minutes "
            f"(e.g. `--workers=2`: ~{1.1e6 / per_core / 120:.0f} min); memory ~ workers x "
            f"{r['peak_rss_gb']:.1f} GB at --chunksize={n}.",
        ]
    path = REPO / "bench" / "results" / "prep_throughput.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n")
    os.replace(tmp, path)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
