"""Outputs appear atomically: all or nothing."""

import json

import numpy as np
import pytest

from resad_tf import outputs


def test_run_directory_publishes_on_success(tmp_path):
    with outputs.RunDirectory(tmp_path / "run") as out:
        out.write_json("metrics.json", {"auc": np.float32(0.5), "x": float("nan"), "inf": float("inf")})
        out.write_scores(score=np.arange(5.0), label=np.array([0, 1, 0, 1, 0]), mjj=None)
        assert not (tmp_path / "run").exists()  # nothing visible before the end
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == {"auc": 0.5, "x": None, "inf": "inf"}
    back = outputs.read_scores(tmp_path / "run" / "scores.h5")
    assert set(back) == {"score", "label"} and back["score"].tolist() == [0, 1, 2, 3, 4]
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_failure_leaves_previous_results(tmp_path):
    with outputs.RunDirectory(tmp_path / "run") as out:
        out.write_json("metrics.json", {"v": 1})
    with pytest.raises(RuntimeError):
        with outputs.RunDirectory(tmp_path / "run") as out:
            out.write_json("metrics.json", {"v": 2})
            raise RuntimeError("training diverged")
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_write_json_atomic(tmp_path):
    p = outputs.write_json_atomic(tmp_path / "a" / "b.json", {"k": [np.int64(3)]})
    assert json.loads(p.read_text()) == {"k": [3]}
