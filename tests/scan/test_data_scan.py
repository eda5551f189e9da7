"""The scan on a data file's own composition (``--n_sig=-1``): how a physicist runs the search.

Every other scan test injects signal into a toy (``n_sig >= 0``); these run the data's own
composition end to end, pseudo-experiments included, as a file written by ``bin/make_dataset``
and as the real LHCO R&D events (where ../shared is present).
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from resad_tf.scan import HuntSettings, make_tasks, make_windows, run_scan
from resad_tf.scan.tasks import OWN_COMPOSITION, dataset_name, derived_seeds

SCAN_ARGS = ["--seeds=0", "--fit_range=2.8,6.0", "--fit_margin=0.9", "--k=3", "--max_iter=30",
             "--scan_range=3.2,4.0", "--window_width=0.4", "--step=0.4", "--efficiencies=1,0.1", "--n_toys=3",
             "--cluster=none", "--quiet"]


def _run(repo_root, script, *args):
    env = dict(os.environ, PYTHONPATH=str(repo_root), PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, str(repo_root / "bin" / script), *args], capture_output=True, text=True,
                          timeout=600, cwd=repo_root, env=env)


class _Feature:
    """Instant scorer: the sum of the two signal-like features."""

    k = 3

    def __call__(self, data, window, seed, background=None):
        return data.events.x[:, 0] + data.events.x[:, 1]


def test_seeds_are_valid_and_distinct_for_every_injection_and_purpose():
    keys = [(OWN_COMPOSITION, 0), (0, 0), (1000, 0), (OWN_COMPOSITION, 1)]
    first = [np.random.default_rng(derived_seeds(key, "toys", 1)[0]).integers(2**62) for key in keys]
    assert len(set(first)) == len(keys)  # seed 0 with n_sig = -1 used to give negative seeds: a crash
    streams = derived_seeds((OWN_COMPOSITION, 0), "toys", 50)
    assert len({np.random.default_rng(s).integers(2**62) for s in streams}) == 50
    assert [dataset_name(k) for k in keys[:2]] == ["data_seed0", "nsig0_seed0"]


def test_scan_of_the_data_own_composition_gets_its_global_significance(tmp_path, toy):
    """In process, instant scorer: the pseudo-experiments run for n_sig = -1 and seed 0."""
    windows = make_windows(0.4, 0.4, (3.2, 4.0))
    settings = HuntSettings("feature", efficiencies=(1.0, 0.1), fit_range=(2.6, 6.0))
    summary = run_scan(make_tasks(windows, [0], [OWN_COMPOSITION], "feature"),
                       lambda n_sig, seed: toy(20_000, 150, seed, shift=2.5), _Feature(), settings, tmp_path,
                       cluster="none", quiet=True, n_toys=4)
    assert summary.n_failed == 0 and len(summary.datasets) == 1
    d = summary.datasets[0]
    assert d["dataset"] == "data_seed0" and d["n_sig"] == OWN_COMPOSITION and d["n_toys"] == 4
    assert np.isfinite(d["z_global"]) and d["window"] == [3.2, 3.6]
    assert (tmp_path / "summary" / "data_seed0.json").is_file()
    assert (tmp_path / "plots" / "significance_data_seed0.png").is_file()
    assert not list(tmp_path.rglob("*nsig-1*"))


@pytest.mark.slow
def test_cli_scan_of_a_generated_file_with_its_own_composition(repo_root, tmp_path):
    """docs/scan.md's real-data example at reduced size: bin/make_dataset's v2 file, then bin/scan --n_sig=-1."""
    data = tmp_path / "events.features.h5"
    made = _run(repo_root, "make_dataset", f"--out={data}", "--n_background=60000", "--n_signal=300", "--seed=2",
                "--quiet")
    assert made.returncode == 0, made.stderr[-2000:]
    out = tmp_path / "scan"
    r = _run(repo_root, "scan", f"--output_dir={out}", f"--data={data}", "--n_sig=-1", *SCAN_ARGS)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "data, seed 0: max local Z" in r.stdout and "global Z" in r.stdout
    summary = json.loads((out / "summary" / "data_seed0.json").read_text())
    assert summary["n_toys"] == 3 and np.isfinite(summary["z_global"])
    records = json.loads((out / "scan.json").read_text())["records"]
    assert {rec["dataset"] for rec in records} == {"data_seed0"}
    assert (out / "plots" / "significance_data_seed0.png").is_file() and not list(out.rglob("*nsig-1*"))
    again = _run(repo_root, "scan", f"--output_dir={out}", f"--data={data}", "--n_sig=-1", *SCAN_ARGS)
    assert again.returncode == 0 and "2 already done, 0 run" in again.stdout


@pytest.mark.slow
def test_cli_scan_of_real_lhco_events(repo_root, tmp_path, lhco_dir):
    """The first 100k R&D events: with 1,000 of its signal events injected into its 90,941 background events
    (S/sqrt(B) ~ 6 in the SR before a cut, on 1/10 of the R&D background) the window holding the W'(3.5 TeV)
    has the largest local significance, above 3 after the 10 % cut (4.5 when written); as they are
    (9,059 signal, 30 % of the SR) the signal's m_jj tails spoil every sideband fit, and the scan says so."""
    data = f"--data={lhco_dir / 'rd_first100k.features.h5'}"
    r = _run(repo_root, "scan", f"--output_dir={tmp_path / 'injected'}", data, "--n_sig=1000", *SCAN_ARGS)
    assert r.returncode == 0, r.stderr[-2000:]
    summary = json.loads((tmp_path / "injected" / "summary" / "nsig1000_seed0.json").read_text())
    assert summary["window"] == [3.2, 3.6] and summary["z_local_max"] > 3 and np.isfinite(summary["z_global"])
    r = _run(repo_root, "scan", f"--output_dir={tmp_path / 'own'}", data, "--n_sig=-1", *SCAN_ARGS)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "data, seed 0: no local significance: the background fit was flagged" in r.stdout
    summary = json.loads((tmp_path / "own" / "summary" / "data_seed0.json").read_text())
    assert summary["window"] is None and max(summary["n_signal_sr"]) > 5000
