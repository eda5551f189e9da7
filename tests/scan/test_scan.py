import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from resad_tf.errors import InputError
from resad_tf.data import Window
from resad_tf.scan import CWoLaHGB, HuntSettings, Task, make_tasks, make_windows, run_scan, run_task, slurm_cluster

EFFS = (1.0, 0.1, 0.02)
FAST = CWoLaHGB(k=3, max_iter=30)


@pytest.fixture
def load(toy):
    return lambda n_sig, seed: toy(20_000, n_sig, seed, shift=2.5)


def _feature_scorer(events, window, seed):
    """Deterministic and instant: the sum of the two signal-like features."""
    return events.x[:, 0] + events.x[:, 1]


def _settings(method):
    return HuntSettings(method, efficiencies=EFFS)


def _z(records):
    return {r["id"]: r["z"] for r in records}


def test_make_windows():
    ws = make_windows(0.4, 0.1, (2.7, 5.5))
    assert len(ws) == 25 and (ws[0].lo, ws[-1].hi) == (2.7, 5.5)
    assert np.allclose(np.diff([w.lo for w in ws]), 0.1)
    with pytest.raises(InputError, match="narrower than one window"):
        make_windows(0.4, 0.1, (3.0, 3.2))
    with pytest.raises(InputError, match="must be positive"):
        make_windows(0.4, 0.0, (3.0, 4.0))


def test_scan_peaks_at_the_injected_resonance(tmp_path, load):
    windows = make_windows(0.4, 0.2, (2.9, 4.3))
    summary = run_scan(make_tasks(windows, [0], [400], "cwola-hgb"), load, FAST, _settings("cwola-hgb"),
                       tmp_path, quiet=True)
    assert summary.n_failed == 0 and summary.n_run == len(windows)
    best = max(summary.records, key=lambda r: max(z for z in r["z"] if z is not None))
    assert best["window"]["lo"] == pytest.approx(3.3) and best["window"]["hi"] == pytest.approx(3.7)
    assert max(z for z in best["z"] if z is not None) > 3
    assert best["n_signal_sr"] > 300  # the truth is recorded
    saved = json.loads((tmp_path / "scan.json").read_text())
    assert len(saved["records"]) == len(windows) and saved["n_failed"] == 0
    assert (tmp_path / "scan_significance.png").stat().st_size > 0


class _Flaky:
    """Scorer that logs every call and fails on one window (a crash mid-scan)."""

    def __init__(self, log, fail_lo=None):
        self.log, self.fail_lo = log, fail_lo

    def __call__(self, events, window, seed):
        with open(self.log, "a") as f:
            f.write(f"{window.lo}\n")
        if self.fail_lo is not None and abs(window.lo - self.fail_lo) < 1e-9:
            raise RuntimeError("boom in this window")
        return _feature_scorer(events, window, seed)


def test_failed_tasks_are_reported_and_resume_skips_finished_ones(tmp_path, load):
    tasks = make_tasks(make_windows(0.4, 0.2, (3.1, 4.1)), [0], [300], "feat")
    first = run_scan(tasks, load, _Flaky(tmp_path / "log1", fail_lo=3.3), _settings("feat"), tmp_path / "a", quiet=True)
    assert first.failed == ["feat_nsig300_seed0_3.300-3.700"] and first.n_failed == 1
    failed = json.loads((tmp_path / "a/tasks/feat_nsig300_seed0_3.300-3.700.failed.json").read_text())
    assert "boom in this window" in failed["traceback"]
    done = {p: p.stat().st_mtime_ns for p in (tmp_path / "a/tasks").glob("*[0-9].json")}
    assert len(done) == len(tasks) - 1

    second = run_scan(tasks, load, _Flaky(tmp_path / "log2"), _settings("feat"), tmp_path / "a", quiet=True)
    assert second.n_failed == 0 and second.n_skipped == len(tasks) - 1 and second.n_run == 1
    assert (tmp_path / "log2").read_text().split() == ["3.3"]  # only the failed window ran again
    assert all(p.stat().st_mtime_ns == t for p, t in done.items())  # finished tasks untouched
    assert not list((tmp_path / "a/tasks").glob("*.failed.json"))
    assert not [p for p in (tmp_path / "a").rglob(".*")]  # no temp files left behind

    clean = run_scan(tasks, load, _Flaky(tmp_path / "log3"), _settings("feat"), tmp_path / "b", quiet=True)
    assert _z(second.records) == _z(clean.records)


def test_resume_refuses_different_settings(tmp_path, load):
    tasks = make_tasks(make_windows(0.4, 0.4, (3.3, 3.7)), [0], [0], "feat")
    run_scan(tasks, load, _feature_scorer, _settings("feat"), tmp_path, quiet=True)
    with pytest.raises(InputError, match="different settings.*efficiencies"):
        run_scan(tasks, load, _feature_scorer, HuntSettings("feat", efficiencies=(1.0,)), tmp_path, quiet=True)


def test_resume_refuses_a_differently_configured_scorer(tmp_path, load):
    tasks = make_tasks(make_windows(0.4, 0.4, (3.3, 3.7)), [0], [0], "cwola-hgb")
    run_scan(tasks, load, FAST, _settings("cwola-hgb"), tmp_path, quiet=True)
    config = json.loads((tmp_path / "scan_config.json").read_text())
    assert config["scorer"] == {"name": "CWoLaHGB", "k": 3, "max_iter": 30, "decorrelate": True}
    with pytest.raises(InputError, match="different settings.*scorer"):
        run_scan(tasks, load, CWoLaHGB(k=3, max_iter=30, decorrelate=False), _settings("cwola-hgb"), tmp_path,
                 quiet=True)


def _sr_sb_rest(events, window):
    in_sr, in_sb = window.sr(events.mjj), window.sb(events.mjj)
    return in_sr, in_sb, ~(in_sr | in_sb)


def test_cwola_hgb_scores_sr_sidebands_and_the_rest_alike(toy):
    """Without signal, every event's score comes from one fold model: the same distribution everywhere
    (the mean of the fold models, used before for the rest, is narrower and carved a step at the sidebands)."""
    events = toy(30_000, 0, seed=5)
    window = Window(3.6, 4.0, 0.2)
    scores = FAST(events, window, seed=0)
    in_sr, in_sb, rest = _sr_sb_rest(events, window)
    assert rest.sum() > 5000
    for part in (in_sr, in_sb):
        assert stats.ks_2samp(scores[part], scores[rest]).pvalue > 1e-3
    assert np.std(scores[rest]) == pytest.approx(np.std(scores[in_sr | in_sb]), rel=0.1)


def test_decorrelation_stops_cwola_from_learning_the_mass(toy):
    """A feature that tracks m_jj lets SR-vs-sideband training learn m_jj; decorrelated, it does not."""
    events = toy(60_000, 0, seed=6)
    tracks_m = 0.5 * events.mjj + np.random.default_rng(0).normal(0, 0.1, len(events))
    events = events.with_features(np.column_stack([events.x[:, :3], tracks_m]), events.features)
    window = Window(3.1, 3.5, 0.2)
    in_sr, in_sb, _ = _sr_sb_rest(events, window)

    def sr_over_sb_efficiency(scorer):  # at a cut keeping 10% of the SR
        s = scorer(events, window, seed=0)
        return np.mean(s[in_sr] >= np.quantile(s[in_sr], 0.9)) / np.mean(s[in_sb] >= np.quantile(s[in_sr], 0.9))

    assert sr_over_sb_efficiency(CWoLaHGB(k=3, max_iter=30, decorrelate=False)) > 2
    assert sr_over_sb_efficiency(FAST) == pytest.approx(1, abs=0.2)


def test_window_local_fit_range(toy):
    settings = HuntSettings("feat", efficiencies=(1.0, 0.1), fit_range=(2.6, 6.0), fit_margin=0.6)
    assert settings.task_fit_range(Window(3.3, 3.7)) == (2.7, 4.3)
    assert settings.task_fit_range(Window(2.8, 3.2)) == (2.6, 3.8)  # clipped to the global range
    seen = []

    def scorer(events, window, seed):
        seen.append((events.mjj.min(), events.mjj.max()))
        return _feature_scorer(events, window, seed)

    record = run_task(Task(Window(3.3, 3.7), 0, 300, "feat"), toy(20_000, 300, seed=7), scorer, settings)
    hunt = record["bump_hunt"]
    assert hunt["fit_range"] == [2.7, 4.3] and 2.7 <= seen[0][0] and seen[0][1] < 4.3
    edges = np.array(hunt["edges"])
    assert edges[0] == 2.7 and edges[-1] == 4.3 and np.isclose(edges, 3.3).any() and np.isclose(edges, 3.7).any()
    assert record["n_events"] == sum(hunt["cuts"][0]["counts"])
    assert record["z"][1] > 3  # the injected signal passes the feature cut
    with pytest.raises(InputError, match="--fit_margin must be positive"):
        HuntSettings("feat", fit_margin=0.0)


def test_dask_local_cluster_matches_synchronous_run(tmp_path, load):
    tasks = make_tasks(make_windows(0.4, 0.2, (3.1, 3.9)), [0, 1], [300], "feat")
    sync = run_scan(tasks, load, _feature_scorer, _settings("feat"), tmp_path / "sync", quiet=True)
    dask = run_scan(tasks, load, _Flaky(tmp_path / "log", fail_lo=3.5), _settings("feat"), tmp_path / "dask",
                    cluster="local", n_workers=2, processes=False, quiet=True)
    assert dask.n_tasks == 6 and dask.failed == ["feat_nsig300_seed0_3.500-3.900", "feat_nsig300_seed1_3.500-3.900"]
    expected = {k: v for k, v in _z(sync.records).items() if "3.500-3.900" not in k}
    assert _z(dask.records) == expected


def test_slurm_job_script():
    cluster = slurm_cluster(queue="short", account="hep", walltime="01:30:00", cores=4, memory="8GB")
    try:
        script = cluster.job_script()
    finally:
        cluster.close()
    for line in ("#SBATCH -p short", "#SBATCH -A hep", "#SBATCH -t 01:30:00", "#SBATCH --cpus-per-task=4"):
        assert line in script, script
    assert "--nworkers 4" in script and "--nthreads 1" in script


def _run_cli(repo_root, *args):
    env = dict(os.environ, PYTHONPATH=str(repo_root), PYTHONWARNINGS="ignore")
    return subprocess.run([sys.executable, str(repo_root / "bin" / "scan"), *args], capture_output=True, text=True,
                          timeout=300, cwd=repo_root, env=env)


@pytest.mark.parametrize("args, message", [
    (["--window_width=-1"], "--window_width=-1 must be positive"),
    (["--efficiencies=1,abc"], "--efficiencies='abc' is not a float"),
    (["--scan_range=2.7,7"], "must lie strictly inside --fit_range"),
    (["--method=nope"], "unknown scan method 'nope'"),
    (["--cluster=moon"], "--cluster"),
    (["--fit_margin=-0.5"], "--fit_margin=-0.5 must be positive"),
])
def test_cli_bad_flags_exit_2_with_one_line(repo_root, tmp_path, args, message):
    r = _run_cli(repo_root, f"--output_dir={tmp_path / 'out'}", *args)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("scan:")]
    assert r.returncode == 2 and len(lines) == 1 and message in lines[0], r.stderr
    assert not (tmp_path / "out").exists()


def test_cli_end_to_end_and_resume(repo_root, tmp_path):
    args = [f"--output_dir={tmp_path}", "--data=toy", "--toy_n_background=20000", "--toy_n_signal=500",
            "--n_sig=100", "--seeds=3", "--fit_range=2.8,6.0", "--fit_margin=0.6",
            "--scan_range=3.1,3.9", "--window_width=0.4", "--step=0.4", "--efficiencies=1,0.1",
            "--cluster=none", "--quiet"]
    r = _run_cli(repo_root, *args)
    assert r.returncode == 0, r.stderr[-2000:]
    saved = json.loads((tmp_path / "scan.json").read_text())
    records = saved["records"]
    assert [r_["window"]["lo"] for r_ in records] == [3.1, 3.5] and all(len(r_["z"]) == 2 for r_ in records)
    assert [r_["bump_hunt"]["fit_range"] for r_ in records] == [[2.8, 4.1], [2.9, 4.5]]
    assert saved["settings"]["fit_margin"] == 0.6 and saved["settings"]["scorer"]["decorrelate"] is True
    again = _run_cli(repo_root, *args)
    assert again.returncode == 0 and "2 already done, 0 run" in again.stdout
    other = _run_cli(repo_root, *args, "--nodecorrelate")
    assert other.returncode == 2 and "different settings (scorer)" in other.stderr


def test_method_scorer_scores_every_event_out_of_fold():
    """A registered method as window scorer: each fold is scored by a model fitted without it."""
    from resad_tf.data import Window, load, ToySpec
    from resad_tf.scan.scorers import MethodScorer, get_scorer
    from resad_tf.errors import InputError

    events = load("toy", seed=5, toy=ToySpec(n_background=6000, n_signal=0), quiet=True)
    scorer = MethodScorer("cwola", (("classifier", "hgb"), ("n_estimators", 1), ("max_iter", 20), ("k_folds", 3)), k=3)
    s = scorer(events, Window(3.3, 3.7, 0.2), seed=0)
    assert s.shape == (len(events),) and np.all((s >= 0) & (s <= 1))
    decorrelated = dataclasses.replace(scorer, decorrelate=True)(events, Window(3.3, 3.7, 0.2), seed=0)
    assert decorrelated.shape == s.shape and not np.allclose(decorrelated, s)
    assert isinstance(get_scorer("cathode"), MethodScorer) and not get_scorer("cathode").decorrelate
    assert get_scorer("cathode", decorrelate=True).decorrelate and get_scorer("cwola-hgb").decorrelate
    with pytest.raises(InputError, match="cannot run in a scan"):
        MethodScorer("iad")(events, Window(3.3, 3.7), seed=0)
