import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from resad_tf.data.raw import write_raw
from resad_tf.data.toy_constituents import generate_raw
from resad_tf.errors import InputError
from resad_tf.physics.prepare import FEATURE_COLUMNS, prepare_lhco


def test_end_to_end_on_real_events_and_resume(tiny_path, reference_jets, tmp_path):
    out = tmp_path / "features.h5"
    first = prepare_lhco(tiny_path, out, chunksize=400, keep_parts=True, quiet=True)
    assert (first.n_events, first.chunks_computed, first.chunks_reused) == (1000, 3, 0)
    df = pd.read_hdf(out, "df")
    assert tuple(df.columns) == FEATURE_COLUMNS and len(df) == 1000
    np.testing.assert_array_equal(df.index, np.arange(1000))  # row i = raw event i
    for col in ("mj1", "mj2", "pxj1", "pzj2"):
        assert np.mean(np.abs(df[col] - reference_jets[col]) < 1.0) > 0.99
    np.testing.assert_array_equal(df.label, reference_jets.label)
    # resume: existing chunks are reused, a missing one is recomputed
    parts = sorted((tmp_path / ".features.h5.parts").glob("chunk_*.h5"))
    assert len(parts) == 3
    os.remove(parts[1])
    again = prepare_lhco(tiny_path, out, chunksize=400, quiet=True, overwrite=True)  # the output exists
    assert (again.chunks_computed, again.chunks_reused) == (1, 2)
    pd.testing.assert_frame_equal(pd.read_hdf(out, "df"), df)
    assert not (tmp_path / ".features.h5.parts").exists()


def test_parallel_workers_and_unlabelled_toy(tmp_path):
    particles, _ = generate_raw(150, 50, seed=5)
    particles[7] = 0.0  # an empty event keeps its row, filled with zeros
    write_raw(tmp_path / "bb.h5", particles)  # black-box layout: no label column
    serial = prepare_lhco(tmp_path / "bb.h5", tmp_path / "a.h5", chunksize=60, start=5, quiet=True)
    parallel = prepare_lhco(
        tmp_path / "bb.h5", tmp_path / "b.h5", chunksize=60, start=5, workers=2, quiet=True
    )
    assert serial.n_events == parallel.n_events == 195
    a, b = pd.read_hdf(serial.output, "df"), pd.read_hdf(parallel.output, "df")
    pd.testing.assert_frame_equal(a, b)
    assert "label" not in a.columns and a.index[0] == 5
    assert np.all(a.loc[7] == 0) and np.all(a.drop(index=7).mj1 > 0)


def test_bad_arguments(tiny_path, tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        prepare_lhco(tiny_path, tmp_path / "no" / "f.h5", quiet=True)
    with pytest.raises(InputError, match="start"):
        prepare_lhco(tiny_path, tmp_path / "f.h5", start=1000, quiet=True)


def test_command_line(tiny_path, tmp_path, repo_root):
    env = dict(os.environ, PYTHONPATH=str(repo_root))
    cmd = [
        sys.executable,
        str(repo_root / "bin" / "prepare_lhco"),
        f"--input={tiny_path}",
        f"--output={tmp_path / 'f.h5'}",
        "--stop=100",
        "--chunksize=50",
        "--quiet",
    ]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(pd.read_hdf(tmp_path / "f.h5", "df")) == 100
    bad = subprocess.run(
        cmd[:2] + ["--input=/nonexistent.h5", f"--output={tmp_path / 'g.h5'}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "nonexistent.h5" in bad.stderr
