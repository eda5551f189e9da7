"""The scripts' contract: one clear line and exit status 2 on bad input; full outputs on success."""

import json
import os
import re
import subprocess
import sys

import pytest

from resad_tf import outputs

TF_NOISE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl)")


def user_env(**extra) -> dict:
    """The environment a user's shell gives a script: without what the Makefile and the test suite set
    (TF_CPP_MIN_LOG_LEVEL, PYTHONWARNINGS, ...), so the scripts' own quiet default is what is tested."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("TF_", "PYTHONWARNINGS", "KERAS_", "DASK_", "ABSL_"))}
    return dict(env, **extra)


def _run(repo_root, script, *args, timeout=600):
    return subprocess.run([sys.executable, str(repo_root / "bin" / script), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=repo_root, env=user_env(PYTHONPATH=str(repo_root)))


@pytest.mark.parametrize(
    "script, args, message",
    [  # tests/test_bad_input.py runs the whole catalogue in-process; these check a real process
        ("salad", ["--sr=3.7,3.3"], "signal region 3.7,3.3 TeV is impossible"),
        ("salad", ["--n_sig=100000", "--toy_n_background=2000", "--toy_n_signal=500", "--quiet"],
         "holds only 500 signal"),
        ("ranode", ["--sr=3.7,3.3"], "signal region 3.7,3.3 TeV is impossible"),  # imports TensorFlow at its top
    ],
)
def test_bad_input_exits_2_with_one_line(repo_root, tmp_path, script, args, message):
    """Exactly one line, also outside the Makefile: TensorFlow (imported before the check) prints nothing."""
    r = _run(repo_root, script, f"--output_dir={tmp_path / 'out'}", *args)
    assert r.returncode == 2, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith(f"{script}: error:") and message in lines[0], r.stderr
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # nothing half-written


def test_a_good_run_prints_only_its_own_lines(repo_root, tmp_path):
    """No TensorFlow C++ log (the cuInit error without a GPU, the oneDNN notice) and no warnings by default."""
    out = tmp_path / "out"
    r = _run(repo_root, "iad", f"--output_dir={out}", "--toy_n_background=5000", "--n_sig=300", "--classifier=mlp",
             "--epochs=1", "--hidden=8", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr == "", r.stderr
    m = json.loads((out / "metrics.json").read_text())
    assert r.stdout == f"iad: auc={m['auc']:.3f}, max_sic={m['max_sic']:.3f}; results in {out}/\n"


def test_verbosity_asks_for_the_tensorflow_log(repo_root, tmp_path):
    """--verbosity=0 (absl's flag) shows what the quiet default holds back: TensorFlow's start-up lines."""
    r = _run(repo_root, "salad", "--sr=3.7,3.3", "--verbosity=0", f"--output_dir={tmp_path / 'out'}")
    assert r.returncode == 2
    assert any(TF_NOISE.match(ln) for ln in r.stderr.splitlines()), r.stderr
    assert r.stderr.splitlines()[-1].startswith("salad: error: signal region 3.7,3.3")


def test_scan_prints_no_dask_logs(repo_root, tmp_path):
    """A local Dask cluster's INFO lines (scheduler, workers, "Receive client connection") are off by default."""
    r = _run(repo_root, "scan", f"--output_dir={tmp_path / 'scan'}", "--toy_n_background=20000", "--toy_n_signal=200",
             "--n_sig=100", "--fit_range=2.8,6.0", "--fit_margin=0.9", "--k=2", "--max_iter=10",
             "--scan_range=3.2,3.6", "--window_width=0.4", "--step=0.4", "--efficiencies=1,0.1", "--n_toys=0",
             "--cluster=local", "--n_workers=1", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stderr == "", r.stderr
    assert "0 failed" in r.stdout, r.stdout


def test_salad_script_end_to_end(repo_root, tmp_path):
    out = tmp_path / "salad"
    r = _run(repo_root, "salad", "--sr=3.3,3.7", f"--output_dir={out}", "--toy_n_background=30000",
             "--n_sig=1500", "--epochs=4", "--batch_size=512", "--hidden=32,32", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    for key in ("method", "auc", "max_sic", "sic_at_0_2", "sic_at_0_5", "n_sig_sr", "n_bkg_sr", "config",
                "seed", "versions", "numerics", "closure_chi2_ndf_sb_after"):
        assert key in m, key
    assert m["method"] == "salad" and m["config"]["hidden"] == [32, 32] and m["auc"] > 0.6
    scores = outputs.read_scores(out / "scores.h5")
    assert len(scores["score"]) == len(scores["label"]) == len(scores["mjj"]) == m["n_sig"] + m["n_bkg"]
    for png in ("roc_sic.png", "reweighting_sb_closure.png", "reweighting_sr.png"):
        assert (out / png).stat().st_size > 10_000
    assert list((out / "model").rglob("*.keras"))
