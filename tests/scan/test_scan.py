import dataclasses
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from resad_tf import methods
from resad_tf.data import Regions, Window
from resad_tf.errors import InputError
from resad_tf.scan import (
    Dataset,
    HuntSettings,
    Task,
    make_tasks,
    make_windows,
    run_scan,
    run_task,
    slurm_cluster,
)
from resad_tf.scan.options import method_config
from resad_tf.scan.scorers import MethodScorer, get_scorer, scorer_config

EFFS = (1.0, 0.1, 0.02)
FAST = get_scorer("cwola", k=3, max_iter=30, min_samples_leaf=20, sideband_width=0.3)
#: the smallest models of every method, for scans that only have to run
TINY = dict(max_iter=10, min_samples_leaf=20, n_blocks=1, flow_hidden=(8,), flow_epochs=1, n_checkpoints=1,
            signal_blocks=1, signal_hidden=(8,), signal_epochs=1, epochs=1)


@pytest.fixture
def load(toy):
    return lambda n_sig, seed: toy(20_000, n_sig, seed, shift=2.5)


class _Feature:
    """Deterministic and instant: the sum of the two signal-like features (a 'perfect' scorer)."""

    k = 3

    def __call__(self, data, window, seed, background=None):
        return data.events.x[:, 0] + data.events.x[:, 1]


def _settings(method, **kw):
    return HuntSettings(method, efficiencies=EFFS, fit_range=(2.6, 6.0), **kw)


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


def test_scan_finds_the_injected_resonance_with_local_and_global_significance(tmp_path, load):
    windows = make_windows(0.4, 0.2, (3.1, 4.5))
    summary = run_scan(make_tasks(windows, [0], [300], "cwola"), load, FAST, _settings("cwola"), tmp_path,
                       quiet=True, n_toys=20)
    assert summary.n_failed == 0 and summary.n_run == len(windows)
    (d,) = summary.datasets
    assert d["window"] == [3.3, 3.7] and d["z_local_max"] > 5
    assert d["n_toys"] == 20 and max(d["toy_max_z"]) < d["z_local_max"]
    assert d["p_global_gv"] < 1e-3 and d["z_global"] > 3 and d["method"] == "gross-vitells"
    assert d["z_global"] < d["z_local_max"]  # the look-elsewhere effect costs significance
    saved = json.loads((tmp_path / "scan.json").read_text())
    assert len(saved["records"]) == len(windows) and saved["datasets"][0]["z_global"] == d["z_global"]
    for name in ("significance", "toys_max_z", "fits"):
        assert (tmp_path / "plots" / f"{name}_nsig300_seed0.png").stat().st_size > 0


class _Flaky(_Feature):
    """A scorer that logs every call and fails on one window (a crash mid-scan)."""

    def __init__(self, log, fail_lo=None):
        self.log, self.fail_lo = log, fail_lo

    def __call__(self, data, window, seed, background=None):
        with open(self.log, "a") as f:
            f.write(f"{window.lo}\n")
        if self.fail_lo is not None and abs(window.lo - self.fail_lo) < 1e-9:
            raise RuntimeError("boom in this window")
        return super().__call__(data, window, seed)


def test_failed_tasks_are_reported_and_resume_gives_identical_results(tmp_path, load):
    tasks = make_tasks(make_windows(0.4, 0.2, (3.1, 4.1)), [0], [300], "feat")
    first = run_scan(tasks, load, _Flaky(tmp_path / "log1", fail_lo=3.3), _settings("feat"), tmp_path / "a",
                     quiet=True, n_toys=5)
    assert first.failed == ["feat_nsig300_seed0_3.300-3.700"] and first.n_failed == 1
    assert first.datasets == []  # a data set is summarised only when all its windows are done
    failed = json.loads((tmp_path / "a/tasks/feat_nsig300_seed0_3.300-3.700.failed.json").read_text())
    assert "boom in this window" in failed["traceback"]
    second = run_scan(tasks, load, _Flaky(tmp_path / "log2"), _settings("feat"), tmp_path / "a", quiet=True, n_toys=5)
    assert second.n_failed == 0 and second.n_run == 1 and second.n_skipped == 3
    assert (tmp_path / "log2").read_text().split() == ["3.3"]  # only the failed window ran again
    fresh = run_scan(tasks, load, _Feature(), _settings("feat"), tmp_path / "b", quiet=True, n_toys=5)
    assert _z(second.records) == _z(fresh.records)
    assert second.datasets == fresh.datasets  # the summary (toys included) is reproducible
    third = run_scan(tasks, load, _Flaky(tmp_path / "log3"), _settings("feat"), tmp_path / "a", quiet=True, n_toys=5)
    assert third.n_run == 0 and not (tmp_path / "log3").exists() and third.datasets == second.datasets


def test_resume_refuses_different_settings_or_scorer(tmp_path, load):
    tasks = make_tasks(make_windows(0.4, 0.4, (3.3, 3.7)), [0], [0], "cwola")
    run_scan(tasks, load, FAST, _settings("cwola"), tmp_path, quiet=True, n_toys=2)
    config = json.loads((tmp_path / "scan_config.json").read_text())
    assert config["scorer"]["method"] == "cwola" and config["scorer"]["k"] == 3 and config["n_toys"] == 2
    with pytest.raises(InputError, match="different settings.*efficiencies"):
        run_scan(tasks, load, FAST, HuntSettings("cwola", efficiencies=(1.0,), fit_range=(2.6, 6.0)), tmp_path,
                 quiet=True, n_toys=2)
    with pytest.raises(InputError, match="different settings.*scorer"):
        run_scan(tasks, load, dataclasses.replace(FAST, decorrelate=False), _settings("cwola"), tmp_path,
                 quiet=True, n_toys=2)


def test_decorrelation_is_fitted_once_per_fold_and_data_set_without_the_fold(toy):
    data = Dataset.make(toy(20_000, 0, seed=2), 3, seed=0)
    part = data.select(data.events.in_window(3.0, 4.0))
    z = part.decorrelated(1)
    assert z.shape == part.events.x.shape and part.transform(1) is data.transform(1)  # shared with the parent
    np.testing.assert_allclose(z, data.decorrelated(1)[data.events.in_window(3.0, 4.0)])
    from resad_tf.data.decorrelation import ConditionalQuantileTransform

    train = data.fold != 1
    cqt = ConditionalQuantileTransform(output="normal").fit(data.events.x[train], data.events.mjj[train])
    np.testing.assert_allclose(data.decorrelated(1), cqt.transform(data.events.x, data.events.mjj))
    import pickle

    assert pickle.loads(pickle.dumps(data))._transforms == {}  # Dask ships the events, not the cache


def _lhco_background(n, seed):
    from resad_tf.data import ToySpec, load

    events = load("toy", seed=seed, toy=ToySpec(n_background=n, n_signal=0), quiet=True)
    return events.select(events.in_window(2.8, 6.0))


def test_cut_efficiency_is_flat_in_mjj_on_background():
    """On the LHCO-like toy (jet masses grow with m_jj), a cut on the decorrelated scorer keeps the same
    fraction of the background at every m_jj; without decorrelation the SR-vs-sideband classifier learns m_jj."""
    events = _lhco_background(250_000, seed=11)
    data = Dataset.make(events, 3, seed=0)
    window = Window(3.3, 3.7)
    edges = np.array([2.8, 3.0, 3.2, 3.3, 3.5, 3.7, 3.8, 4.0, 4.3, 6.0])
    counts = np.histogram(events.mjj, edges)[0]

    def efficiency(scorer):
        from resad_tf.scan.tasks import calibrate_per_fold

        s = calibrate_per_fold(scorer(data, window, 0), data.fold, window.sr(events.mjj))
        return np.histogram(events.mjj[s >= 0.9], edges)[0] / counts

    eff = efficiency(FAST)
    pull = (eff - 0.1) / np.sqrt(0.1 * 0.9 / counts)
    assert np.all(np.abs(pull) < 4), (eff, pull)
    assert np.sum(pull**2) / len(pull) < 3
    raw = efficiency(dataclasses.replace(FAST, decorrelate=False))
    raw_pull = (raw - 0.1) / np.sqrt(0.1 * 0.9 / counts)
    assert np.sum(raw_pull**2) / len(pull) > 3 * max(np.sum(pull**2) / len(pull), 1)


def test_background_only_scans_follow_the_pseudo_experiments(tmp_path):
    """The largest local Z of real background-only scans (the ML scorer retrained on each of 6 independent
    LHCO-like samples) is distributed as in the pseudo-experiments the global significance relies on."""
    settings = HuntSettings("cwola", efficiencies=(0.1, 0.02), fit_range=(2.8, 6.0))
    windows = make_windows(0.4, 0.3, (3.2, 4.4))
    seeds = list(range(6))
    summary = run_scan(make_tasks(windows, seeds, [0], "cwola"), lambda n, s: _lhco_background(80_000, 100 + s),
                       FAST, settings, tmp_path, quiet=True, n_toys=40)
    assert summary.n_failed == 0 and len(summary.datasets) == len(seeds)
    real = np.array([d["z_local_max"] for d in summary.datasets])
    toys = np.concatenate([d["toy_max_z"] for d in summary.datasets])
    error = np.sqrt(np.var(toys) / len(real) + np.var(toys) / len(toys))
    assert abs(real.mean() - toys.mean()) < 3 * error, (real, toys.mean(), error)
    assert real.max() < 4  # no fake discovery
    assert min(d["p_global_gv"] for d in summary.datasets) > 1e-3


def test_window_local_fit_range(toy):
    settings = HuntSettings("feat", efficiencies=(1.0, 0.1), fit_range=(2.6, 6.0), fit_margin=0.6)
    assert settings.task_fit_range(Window(3.3, 3.7)) == (2.7, 4.3)
    assert settings.task_fit_range(Window(3.0, 3.4)) == (2.6, 4.0)  # clipped to the global range
    with pytest.raises(InputError, match="less than 3 bins of 0.1 TeV to fit beyond its fit gap"):
        settings.task_fit_range(Window(2.8, 3.2))
    seen = []

    class Scorer(_Feature):
        def __call__(self, data, window, seed, background=None):
            seen.append((data.events.mjj.min(), data.events.mjj.max()))
            return super().__call__(data, window, seed)

    data = Dataset.make(toy(20_000, 300, seed=7), 3, seed=0)
    record = run_task(Task(Window(3.3, 3.7), 0, 300, "feat"), data, Scorer(), settings)
    hunt = record["bump_hunt"]
    assert hunt["fit_range"] == [2.7, 4.3] and 2.7 <= seen[0][0] and seen[0][1] < 4.3
    edges = np.array(hunt["edges"])
    assert edges[0] == 2.7 and edges[-1] == 4.3 and np.isclose(edges, 3.3).any() and np.isclose(edges, 3.7).any()
    assert record["n_events"] == sum(hunt["cuts"][0]["counts"])
    assert record["z"][1] > 3  # the injected signal passes the feature cut
    with pytest.raises(InputError, match="--fit_margin=0.0 is out of range"):
        HuntSettings("feat", fit_margin=0.0)


def test_cathode_trains_one_background_per_fold_and_blinded_region(tmp_path, load):
    scorer = get_scorer("cathode", k=2, blind_width=0.8, n_blocks=1, flow_hidden=(8,), flow_epochs=1, n_checkpoints=1,
                        max_iter=20, min_samples_leaf=20)
    windows = make_windows(0.4, 0.2, (3.1, 4.1))
    regions = scorer.background_regions(windows)
    assert regions == [(3.1, 3.9), (3.5, 4.3)]
    assert all(any(r[0] <= w.lo and w.hi <= r[1] for r in regions) for w in windows)
    tasks = make_tasks(windows, [0], [300], "cathode")
    summary = run_scan(tasks, load, scorer, _settings("cathode"), tmp_path, quiet=True, n_toys=3)
    assert summary.n_failed == 0, summary.failed
    flows = sorted(p.name for p in (tmp_path / "background" / "nsig300_seed0").iterdir())
    assert flows == ["3.100-3.900_fold0", "3.100-3.900_fold1", "3.500-4.300_fold0", "3.500-4.300_fold1"]
    stamp = (tmp_path / "background/nsig300_seed0/3.100-3.900_fold0/manifest.json").stat().st_mtime_ns
    (tmp_path / "tasks" / f"{tasks[0].id}.json").unlink()
    run_scan(tasks, load, scorer, _settings("cathode"), tmp_path, quiet=True, n_toys=3)
    assert (tmp_path / "background/nsig300_seed0/3.100-3.900_fold0/manifest.json").stat().st_mtime_ns == stamp


def test_ranode_runs_on_the_amortized_background_flows(tmp_path, load):
    scorer = get_scorer("ranode", k=2, n_blocks=1, flow_hidden=(8,), flow_epochs=2, n_checkpoints=1, signal_blocks=1,
                        signal_hidden=(8,), signal_epochs=2, n_calibration=20_000)
    assert scorer.flatten and not scorer.decorrelate
    summary = run_scan(make_tasks(make_windows(0.4, 0.4, (3.3, 3.7)), [0], [300], "ranode"), load, scorer,
                       _settings("ranode"), tmp_path, quiet=True, n_toys=2)
    assert summary.n_failed == 0, summary.failed
    (record,) = summary.records
    assert record["n_signal_sr"] > 250 and len(record["z"]) == len(EFFS)
    assert sorted(p.name for p in (tmp_path / "background" / "nsig300_seed0").iterdir()) == [
        "3.300-4.100_fold0", "3.300-4.100_fold1"]


class _BrokenBackground(MethodScorer):
    def fit_background(self, data, f, region, seed):
        raise RuntimeError("the flow exploded")


def test_a_failed_background_model_fails_its_windows_not_the_scan(tmp_path, load):
    windows = make_windows(0.4, 0.2, (3.1, 3.7))
    summary = run_scan(make_tasks(windows, [0], [300], "cathode"), load, _BrokenBackground("cathode", method_config(methods.get("cathode")), k=2), _settings("cathode"),
                       tmp_path, quiet=True, n_toys=0)
    assert summary.n_failed == len(windows) and summary.datasets == []
    failed = json.loads((tmp_path / "tasks" / f"{summary.failed[0]}.failed.json").read_text())
    assert "the flow exploded" in failed["traceback"]


def test_dask_local_cluster_matches_synchronous_run(tmp_path, load):
    tasks = make_tasks(make_windows(0.4, 0.2, (3.1, 3.9)), [0, 1], [300], "feat")
    sync = run_scan(tasks, load, _Feature(), _settings("feat"), tmp_path / "sync", quiet=True, n_toys=0)
    dask = run_scan(tasks, load, _Flaky(tmp_path / "log", fail_lo=3.5), _settings("feat"), tmp_path / "dask",
                    cluster="local", n_workers=2, processes=False, quiet=True, n_toys=0)
    assert dask.n_tasks == 6 and dask.failed == ["feat_nsig300_seed0_3.500-3.900", "feat_nsig300_seed1_3.500-3.900"]
    expected = {k: v for k, v in _z(sync.records).items() if "3.500-3.900" not in k}
    assert _z(dask.records) == expected


def test_slurm_job_script():
    pytest.importorskip("dask_jobqueue")
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


def test_cli_end_to_end_and_resume(repo_root, tmp_path):
    args = [f"--output_dir={tmp_path}", "--data=toy", "--toy_n_background=60000", "--toy_n_signal=500",
            "--n_sig=100", "--seeds=3", "--fit_range=2.8,6.0", "--fit_margin=0.9", "--k=3", "--max_iter=30",
            "--scan_range=3.2,4.0", "--window_width=0.4", "--step=0.4", "--efficiencies=1,0.1",
            "--n_toys=3", "--cluster=none", "--quiet"]
    r = _run_cli(repo_root, *args)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "N_sig = 100, seed 3: max local Z" in r.stdout and "global Z" in r.stdout
    saved = json.loads((tmp_path / "scan.json").read_text())
    records = saved["records"]
    assert [r_["window"]["lo"] for r_ in records] == [3.2, 3.6] and all(len(r_["z"]) == 2 for r_ in records)
    assert [r_["bump_hunt"]["fit_range"] for r_ in records] == [[2.8, 4.5], [2.8, 4.9]]
    assert saved["settings"]["fit_margin"] == 0.9 and saved["settings"]["scorer"]["decorrelate"] is True
    assert saved["settings"]["data"].startswith("toy(n_background=60000, n_signal=500")
    again = _run_cli(repo_root, *args)
    assert again.returncode == 0 and "2 already done, 0 run" in again.stdout
    other = _run_cli(repo_root, *args, "--nodecorrelate")
    assert other.returncode == 2 and "different settings (scorer)" in other.stderr


def test_method_scorer_scores_every_event_out_of_fold():
    """A registered method as window scorer: each fold is scored by a model fitted without it."""
    from resad_tf.methods.cwola import CWoLaConfig

    events = _lhco_background(8000, seed=5)
    data = Dataset.make(events, 3, seed=0)
    cfg = CWoLaConfig(classifier="hgb", n_estimators=1, max_iter=20, k_folds=3, sideband_width=0.2)
    scorer = MethodScorer("cwola", cfg, k=3, decorrelate=False)
    window = Window(3.3, 3.7)
    s = scorer(data, window, seed=0)
    assert s.shape == (len(events),) and np.all((s >= 0) & (s <= 1))
    decorrelated = dataclasses.replace(scorer, decorrelate=True)(data, window, seed=0)
    assert decorrelated.shape == s.shape and not np.allclose(decorrelated, s)
    assert get_scorer("cathode").decorrelate and not get_scorer("anode").decorrelate and not get_scorer("anode").flatten
    assert get_scorer("ranode").flatten and not get_scorer("ranode").decorrelate
    with pytest.raises(InputError, match="has no option.*'oversampling'"):
        get_scorer("cwola", oversampling=3)
    with pytest.raises(InputError, match="--flatten needs a background density"):
        get_scorer("cwola", flatten=True)
    with pytest.raises(InputError, match="--method=lacathode evaluates its background density.*--nodecorrelate"):
        get_scorer("lacathode", decorrelate=True)


def _tiny(method) -> dict:
    names = {f.name for f in dataclasses.fields(methods.get(method).Config)}
    return {k: v for k, v in TINY.items() if k in names}


@pytest.mark.parametrize("method", methods.names())
def test_every_registered_method_runs_in_a_tiny_scan_or_is_refused(method, tmp_path, toy):
    """Methods that learn from the data alone run (the smallest models); the others are refused in one line."""
    cls = methods.get(method)
    if cls.needs or cls.inputs != "features":
        with pytest.raises(InputError, match=f"--method={method} (needs|scores)"):
            get_scorer(method)
        return
    scorer = get_scorer(method, k=2, n_calibration=5000, **_tiny(method))
    summary = run_scan(make_tasks([Window(3.3, 3.7)], [0], [100], method), lambda n, s: toy(8000, n, s), scorer,
                       _settings(method), tmp_path, quiet=True, n_toys=0)
    assert summary.n_failed == 0, summary.failed
    assert len(summary.records[0]["z"]) == len(EFFS)


@pytest.mark.parametrize("method", ["cwola", "cathode"])
def test_scan_scores_are_the_methods_fitted_on_the_training_folds(method, toy):
    """For one window and fold, the scan's scores are those of the method itself (bit for bit): fitted with the
    same seed on the other folds' (decorrelated) events as its Regions, with the fold's amortized background."""
    data = Dataset.make(toy(20_000, 300, seed=4), 2, seed=0)
    window, seed, f = Window(3.3, 3.7), 5, 1
    scorer = get_scorer(method, k=2, **_tiny(method))
    background = [scorer.fit_background(data, g, (3.1, 3.9), seed + g) for g in range(2)] \
        if scorer.takes_background else None
    scores = scorer(data, window, seed, background=background)
    events = data.events.with_features(data.decorrelated(f), data.events.features)
    model = methods.get(method)(scorer.config, seed=seed + f, verbose=False)
    model.fit(Regions(window=window, data=events.select(data.fold != f)),
              background=None if background is None else scorer.method_background(data, f, background[f]))
    np.testing.assert_array_equal(scores[data.fold == f], model.score(events.select(data.fold == f)))


def test_resume_identity_holds_only_the_options_a_scorer_uses():
    """bin/scan's flags for options the method lacks are dropped (method_options), so they leave its identity alone."""
    from resad_tf.scan.options import ScanOptions, method_options

    ranode = scorer_config(get_scorer("ranode"))
    flags = method_options({"max_iter": 5, "classifier": "xgb", "oversampling": 3}, methods.get("ranode"))
    assert flags == {} and scorer_config(ScanOptions(blind_width=0.8).scorer("ranode", flags)) == ranode
    assert ranode != scorer_config(get_scorer("ranode", signal_epochs=5))
    assert "max_iter" not in ranode["config"] and ranode["flatten"] and "n_calibration" in ranode
    cwola = scorer_config(get_scorer("cwola"))
    assert "blind_width" not in cwola and "n_calibration" not in cwola and "oversampling" not in cwola["config"]
    assert cwola != scorer_config(get_scorer("cwola", max_iter=5))
    assert cwola == scorer_config(get_scorer("cwola", epochs=5, hidden=(8,)))  # MLP options, unused by the trees
    assert "n_calibration" not in scorer_config(get_scorer("cathode")) and scorer_config(get_scorer("cathode"))[
        "blind_width"] == 0.8
