"""The scripts' contract: one clear line and exit status 2 on bad input; full outputs on success."""

import json
import os
import re
import subprocess
import sys

import pytest

from resad_tf import outputs

TF_NOISE = re.compile(r"^([IWEF]\d{4} |WARNING: All log messages before absl)")


def _run(repo_root, script, *args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, str(repo_root / "bin" / script), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=repo_root, env=env)


@pytest.mark.parametrize(
    "args, message",
    [  # tests/test_bad_input.py runs the whole catalogue in-process; these check a real process
        (["--sr=3.7,3.3"], "signal region 3.7,3.3 TeV is impossible"),
        (["--n_sig=100000", "--toy_n_background=2000", "--toy_n_signal=500", "--quiet"], "holds only 500 signal"),
    ],
)
def test_bad_input_exits_2_with_one_line(repo_root, tmp_path, args, message):
    r = _run(repo_root, "salad", f"--output_dir={tmp_path / 'out'}", *args)
    assert r.returncode == 2, r.stderr
    # TensorFlow's C++ start-up chatter (if TF was imported) cannot be silenced; ours is one line
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not TF_NOISE.match(ln)]
    assert len(lines) == 1 and lines[0].startswith("salad: error:") and message in lines[0], r.stderr
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]  # nothing half-written


def test_salad_script_end_to_end(repo_root, tmp_path):
    out = tmp_path / "salad"
    r = _run(repo_root, "salad", "--sr=3.3,3.7", f"--output_dir={out}", "--toy_n_background=30000",
             "--n_sig=1500", "--epochs=4", "--batch_size=512", "--hidden=32,32", "--quiet")
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((out / "metrics.json").read_text())
    for key in ("method", "auc", "max_sic", "sic_at_0_2", "sic_at_0_5", "n_sig_sr", "n_bkg_sr", "config",
                "seed", "versions", "closure_chi2_ndf_sb_after"):
        assert key in m, key
    assert m["method"] == "salad" and m["config"]["hidden"] == [32, 32] and m["auc"] > 0.6
    scores = outputs.read_scores(out / "scores.h5")
    assert len(scores["score"]) == len(scores["label"]) == len(scores["mjj"]) == m["n_sig"] + m["n_bkg"]
    for png in ("roc_sic.png", "reweighting_sb_closure.png", "reweighting_sr.png"):
        assert (out / png).stat().st_size > 10_000
    assert list((out / "model").rglob("*.keras"))
