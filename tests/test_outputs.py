"""Outputs appear atomically: all or nothing."""

import json

import numpy as np
import pytest

from resad_tf import outputs
from resad_tf.errors import InputError


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
        with outputs.RunDirectory(tmp_path / "run", overwrite=True) as out:
            out.write_json("metrics.json", {"v": 2})
            raise RuntimeError("training diverged")
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_previous_results_are_replaced_only_with_overwrite(tmp_path):
    with outputs.RunDirectory(tmp_path / "run") as out:
        out.write_json("metrics.json", {"v": 1})
    with pytest.raises(InputError, match="previous run; pass --overwrite"):
        with outputs.RunDirectory(tmp_path / "run") as out:
            pytest.fail("a refused directory must not be entered")
    with outputs.RunDirectory(tmp_path / "run", overwrite=True) as out:
        out.write_json("metrics.json", {"v": 2})
    assert json.loads((tmp_path / "run" / "metrics.json").read_text()) == {"v": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["run"]


def test_an_empty_directory_is_used(tmp_path):
    (tmp_path / "run").mkdir()
    with outputs.RunDirectory(tmp_path / "run") as out:
        out.write_json("metrics.json", {"v": 1})
    assert [p.name for p in (tmp_path / "run").iterdir()] == ["metrics.json"]


@pytest.mark.parametrize("make, message", [
    (lambda p: p.write_text("my notes"), "is a file, not a directory"),
    (lambda p: (p.mkdir(), (p / "thesis.tex").write_text("x")), "not a results directory"),
])
def test_what_is_not_a_results_directory_is_never_replaced(tmp_path, make, message):
    """A user's file or directory survives even --overwrite: only directories with metrics.json are replaced."""
    make(tmp_path / "run")
    before = sorted(str(p) for p in tmp_path.rglob("*"))
    with pytest.raises(InputError, match=message):
        outputs.check_output_dir(tmp_path / "run", overwrite=True)
    with pytest.raises(InputError, match=message):
        with outputs.RunDirectory(tmp_path / "run", overwrite=True):
            pytest.fail("a refused directory must not be entered")
    assert sorted(str(p) for p in tmp_path.rglob("*")) == before


def test_output_below_a_file_or_unwritable_is_refused(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(InputError, match="f is a file, not a directory"):
        outputs.check_output_dir(tmp_path / "f" / "run")
    with pytest.raises(InputError, match="cannot create files in /proc/self"):
        outputs.check_output_dir("/proc/self/run")
    with pytest.raises(InputError, match="is a directory; name a file"):
        outputs.check_output_file(tmp_path, flag="--out")
    assert [p.name for p in tmp_path.iterdir()] == ["f"]


def test_write_json_atomic(tmp_path):
    p = outputs.write_json_atomic(tmp_path / "a" / "b.json", {"k": [np.int64(3)]})
    assert json.loads(p.read_text()) == {"k": [3]}
