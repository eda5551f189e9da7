"""Raw LHCO constituents -> the v2 jet-features file every method reads.

Per event: anti-kT R=1.0 jets (:mod:`resad_tf.physics.clustering`), the two
leading in pT kept, N-subjettiness tau_1..3 of each
(:mod:`resad_tf.physics.nsubjettiness`).  The output is the official "v2
features" layout: pandas HDF5, key ``df``, columns::

    pxj1 pyj1 pzj1 mj1 tau1j1 tau2j1 tau3j1 pxj2 pyj2 pzj2 mj2 tau1j2 tau2j2 tau3j2 label

in GeV, j1 = leading-pT jet, ``label`` only when the raw file has labels (R&D
file; the black boxes have none).  Row i is raw event i: an event with fewer
than two jets keeps its row, with every column of the missing jet(s) 0 (one
jet: mjj is that jet's mass, below any signal region; no jet: mjj = 0, which
the loaders refuse as unphysical, so drop such rows before use).

The raw file is streamed chunk by chunk, in parallel over ``workers``
processes (each reads its own rows).  Each finished chunk is written
atomically to ``.<output name>.parts/chunk_<start>-<stop>.h5`` next to the
output and skipped when it is already there, so an interrupted run resumes;
the parts are concatenated (atomically) into the output and then removed.
Memory per worker is ~100 kB x chunksize (1.1 GB peak RSS at the default 10k
events); the whole 1.1M-event R&D file with ``workers=2`` peaked at 2.4 GB for
the process tree (bench/results/prep_memory.md).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing
import os
import shutil
from dataclasses import dataclass

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from resad_tf.data.raw import GEV_PER_TEV, atomic_to_hdf, n_raw_events, read_raw
from resad_tf.errors import InputError
from resad_tf.outputs import check_output_file
from resad_tf.physics.clustering import cluster_jets
from resad_tf.physics.nsubjettiness import nsubjettiness

JET_COLUMNS = ("px", "py", "pz", "m", "tau1", "tau2", "tau3")
FEATURE_COLUMNS = tuple(f"{c}j{j}" for j in (1, 2) for c in JET_COLUMNS) + ("label",)


def jet_features(particles: np.ndarray, labels: np.ndarray | None = None, R: float = 1.0):
    """v2 features (GeV) of zero-padded ``particles`` (n, n_particles, 3; pT in TeV)."""
    jets = cluster_jets(particles, R=R, n_jets=2)
    taus = nsubjettiness(jets.constituents, jets.counts.ravel(), n_max=3, R0=R)
    per_jet = np.concatenate(
        [
            jets.p4[..., :3] * GEV_PER_TEV,
            jets.mass[..., None] * GEV_PER_TEV,
            taus.reshape(-1, 2, 3),
        ],
        axis=-1,
    )  # (n, 2, 7) in JET_COLUMNS order
    frame = pd.DataFrame(per_jet.reshape(len(per_jet), -1), columns=FEATURE_COLUMNS[:-1])
    if labels is not None:
        frame["label"] = np.asarray(labels, dtype=np.float64)
    return frame


def _process_chunk(raw_path: str, start: int, stop: int, part_path: str) -> int:
    """Worker: features of raw events start:stop written atomically to part_path."""
    particles, labels = read_raw(raw_path, start, stop)
    frame = jet_features(particles, labels)
    frame.index = np.arange(start, stop)
    atomic_to_hdf(frame, part_path, format="fixed")
    return stop - start


@dataclass(frozen=True)
class PrepareReport:
    output: str
    n_events: int
    chunks_computed: int
    chunks_reused: int


def prepare_lhco(
    input_path,
    output_path,
    chunksize: int = 10_000,
    workers: int = 1,
    start: int = 0,
    stop: int | None = None,
    keep_parts: bool = False,
    quiet: bool = False,
    overwrite: bool = False,
) -> PrepareReport:
    """Write the v2 features of raw events ``start:stop`` of ``input_path`` to ``output_path``.

    Row k of the output is raw event ``start + k`` (its index holds the raw
    event number).  ``keep_parts`` keeps the per-chunk files after the merge
    (otherwise they are removed once the output is written).  An existing
    ``output_path`` is replaced only with ``overwrite``.
    """
    input_path, output_path = os.fspath(input_path), os.fspath(output_path)
    if chunksize < 1 or workers < 1 or start < 0:
        raise InputError(f"need chunksize >= 1, workers >= 1 and start >= 0; got chunksize={chunksize}, "
                         f"workers={workers}, start={start}")
    n_total = n_raw_events(input_path)
    stop = n_total if stop is None else min(int(stop), n_total)
    if not start < stop:
        raise InputError(f"--start={start} is not below --stop={stop} ({input_path} has {n_total} events)")
    if os.path.abspath(output_path) == os.path.abspath(input_path):
        raise InputError(f"--output={output_path}: is the input file; choose another name")
    check_output_file(output_path, flag="--output", overwrite=overwrite)
    out_dir, out_name = os.path.split(os.path.abspath(output_path))
    if not os.path.isdir(out_dir):
        raise InputError(f"{output_path}: folder {out_dir} does not exist; create it first")
    parts_dir = os.path.join(out_dir, f".{out_name}.parts")
    new_parts_dir = not os.path.isdir(parts_dir)
    os.makedirs(parts_dir, exist_ok=True)
    chunks = [(lo, min(lo + chunksize, stop)) for lo in range(start, stop, chunksize)]
    parts = [os.path.join(parts_dir, f"chunk_{lo:09d}-{hi:09d}.h5") for lo, hi in chunks]
    todo = [(lo, hi, p) for (lo, hi), p in zip(chunks, parts) if not os.path.exists(p)]
    try:
        _compute(input_path, todo, chunks, start, stop, workers, quiet)
    except InputError:  # bad values in the raw file: resuming would not help, leave nothing behind
        if new_parts_dir:
            shutil.rmtree(parts_dir, ignore_errors=True)
        raise

    frame = pd.concat([pd.read_hdf(p, "df") for p in parts])
    atomic_to_hdf(frame, output_path, format="fixed", complevel=5, complib="blosc")
    if not keep_parts:
        shutil.rmtree(parts_dir)
    return PrepareReport(output_path, len(frame), len(todo), len(chunks) - len(todo))


def _compute(input_path, todo, chunks, start, stop, workers, quiet) -> None:
    """Compute the parts still to do, in this process or over ``workers`` processes."""
    progress = tqdm(total=stop - start, unit="ev", desc="prepare_lhco", disable=quiet)
    progress.update(sum(hi - lo for lo, hi in chunks) - sum(hi - lo for lo, hi, _ in todo))
    try:
        if workers == 1:
            for lo, hi, part in todo:
                progress.update(_process_chunk(input_path, lo, hi, part))
            return
        # spawn: workers must not inherit TensorFlow/OpenMP threads from the parent
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = [pool.submit(_process_chunk, input_path, lo, hi, p) for lo, hi, p in todo]
            for future in cf.as_completed(futures):
                progress.update(future.result())
    finally:
        progress.close()
