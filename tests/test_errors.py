"""The error classes and what the scripts make of them: exit 2 for user input, 1 for other resad_tf errors."""

import doctest
import os
import subprocess
import sys

import numpy as np
import pytest

import resad_tf.errors
from resad_tf.errors import InputError, NotFittedError, ResadError, TrainingDiverged, exit_status


def test_hierarchy():
    for cls in (InputError, TrainingDiverged, NotFittedError):
        assert issubclass(cls, ResadError)
    assert issubclass(InputError, ValueError)  # callers that caught ValueError keep working
    assert not issubclass(TrainingDiverged, InputError)  # a NaN loss is not the user's input
    assert [exit_status(e("x")) for e in (InputError, TrainingDiverged, NotFittedError)] == [2, 1, 1]
    assert exit_status(ZeroDivisionError()) is None
    assert doctest.testmod(resad_tf.errors).failed == 0


def test_mlp_divergence_is_training_diverged():
    """A NaN loss in every epoch of the classifier training loop says what diverged and what to try."""
    from resad_tf.models import make_classifier

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(200, 2)), np.tile([0, 1], 100)
    clf = make_classifier("mlp", hidden=(4,), epochs=2, learning_rate=1e30, seed=0)
    with pytest.raises(TrainingDiverged, match="MLP classifier training diverged.*smaller learning_rate"):
        clf.fit(x * 1e30, y)


def test_score_before_fit_is_not_fitted():
    from resad_tf.data import LogitScaler, StandardScaler
    from resad_tf.methods.classify import ClassifierOptions, Discriminator
    from resad_tf.methods.dctr import DCTRReweighter
    from resad_tf.methods.density import ConditionalDensity, FlowOptions

    x = np.zeros((3, 2))
    for call in (lambda: LogitScaler().transform(x), lambda: StandardScaler().transform(x),
                 lambda: Discriminator(ClassifierOptions()).predict(x),
                 lambda: DCTRReweighter(ClassifierOptions()).weights(x),
                 lambda: ConditionalDensity(FlowOptions()).sample(np.ones(3), seed=0)):
        with pytest.raises(NotFittedError, match="is not fitted: call fit"):
            call()


SCRIPT = """
import os
from resad_tf import cli
from resad_tf.errors import InputError, NotFittedError, TrainingDiverged

def main():
    raise {"input": InputError("--data=x.h5: file not found"), "diverged": TrainingDiverged("flow training diverged"),
           "unfitted": NotFittedError("CWoLa is not fitted"), "bug": ZeroDivisionError("a bug")}[os.environ["RAISE"]]

cli.run_script(main)
"""


def _run(tmp_path, kind):
    (tmp_path / "prog.py").write_text(SCRIPT)
    return subprocess.run([sys.executable, str(tmp_path / "prog.py")], capture_output=True, text=True,
                          env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", RAISE=kind), timeout=120)


@pytest.mark.parametrize("kind, status, line", [
    ("input", 2, "prog.py: error: --data=x.h5: file not found"),
    ("diverged", 1, "prog.py: error: flow training diverged"),
    ("unfitted", 1, "prog.py: error: CWoLa is not fitted"),
])
def test_scripts_map_errors_to_one_line_and_an_exit_status(tmp_path, kind, status, line):
    r = _run(tmp_path, kind)
    assert r.returncode == status and r.stderr.strip() == line, r.stderr


def test_a_bug_stays_a_traceback(tmp_path):
    r = _run(tmp_path, "bug")
    assert r.returncode == 1 and "Traceback" in r.stderr and "ZeroDivisionError: a bug" in r.stderr
