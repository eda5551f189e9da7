"""The shared interface: factory, manifest loading, input checks, class balancing."""

import doctest
import json

import numpy as np
import pytest

import resad_tf.models.base
import resad_tf.models.kfold
import resad_tf.models.trees
from resad_tf import component
from resad_tf.errors import InputError, NotFittedError
from resad_tf.models import MLPClassifier, TreeEnsembleClassifier, make_classifier
from resad_tf.models.base import balanced_weights, check_training_data


def test_factory_picks_by_flag():
    assert isinstance(make_classifier("mlp", epochs=3), MLPClassifier)
    for kind in ("hgb", "xgb"):
        clf = make_classifier(kind, n_estimators=2)
        assert isinstance(clf, TreeEnsembleClassifier) and clf.kind == kind
    with pytest.raises(InputError, match="unknown classifier kind 'bdt'"):
        make_classifier("bdt")
    with pytest.raises(InputError, match=r"no option\(s\) \['hidden'\]"):
        make_classifier("hgb", hidden=(3,))
    with pytest.raises(InputError, match="n_best_epochs must be >= 1"):
        make_classifier("mlp", n_best_epochs=0)
    with pytest.raises(InputError, match="validation_fraction"):
        make_classifier("hgb", validation_fraction=1.5)


def test_too_few_events_per_class_for_the_validation_split():
    """sklearn's 'least populated class has only 1 member' becomes one line naming the class and the need."""
    from resad_tf.models.base import validation_data

    x, y, w = np.zeros((40, 2)), np.r_[np.zeros(39), 1].astype(np.int8), np.ones(40)
    with pytest.raises(InputError, match=r"validation split \(val_fraction=0.2\) needs at least 2 events of each "
                                         r"class, but class 1 has 1"):
        validation_data(x, y, w, None, None, None, 0.2, seed=0)
    y[:2] = 1  # 3 of class 1: enough
    assert len(validation_data(x, y, w, None, None, None, 0.2, seed=0)[3]) == 8


def test_balanced_weights_equalise_classes():
    y = np.array([0, 0, 0, 1, 1])
    w = balanced_weights(y, np.array([1.0, 2.0, 1.0, 3.0, 1.0]))
    assert w[y == 0].sum() == pytest.approx(w[y == 1].sum()) and w.sum() == pytest.approx(5)
    np.testing.assert_allclose(w[y == 0] / w[y == 0][0], [1, 2, 1])  # shape within a class kept


@pytest.mark.parametrize(
    "x, y, w, match",
    [
        (np.zeros((4, 2)), [0, 1, 1], None, "4 rows but its labels have 3"),
        (np.zeros((4, 2)), [0, 1, 2, 1], None, "must be 0 or 1"),
        (np.zeros((4, 2)), [1, 1, 1, 1], None, r"got only \[1\]"),
        (np.zeros((4, 2)), [0, 1, 0, 1], [1, -1, 1, 1], "finite and >= 0"),
        (np.full((4, 2), np.nan), [0, 1, 0, 1], None, "NaN/inf values in column 0"),
        (np.zeros((4, 2, 2)), [0, 1, 0, 1], None, "2-d array"),
    ],
)
def test_bad_training_data_is_an_input_error(x, y, w, match):
    with pytest.raises(InputError, match=match):
        check_training_data(x, y, w)


def test_predict_needs_fit_and_right_width(tmp_path):
    clf = make_classifier("hgb", n_estimators=1, max_iter=5)
    with pytest.raises(NotFittedError, match="TreeEnsembleClassifier is not fitted: call fit"):
        clf.predict(np.zeros((2, 2)))
    with pytest.raises(NotFittedError, match="before save"):
        component.save(clf, tmp_path / "never-written")
    assert not (tmp_path / "never-written").exists()
    rng = np.random.default_rng(0)
    clf.fit(rng.normal(size=(100, 2)), np.tile([0, 1], 50))
    with pytest.raises(InputError, match="3 features but the classifier was trained on 2"):
        clf.predict(np.zeros((2, 3)))
    with pytest.raises(InputError, match="x_val given without y_val"):
        make_classifier("xgb", n_estimators=1).fit(np.zeros((10, 2)), np.tile([0, 1], 5), x_val=np.zeros((4, 2)))


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(InputError, match="no manifest.json"):
        component.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="not a resad_tf manifest"):
        component.load(tmp_path)
    rng = np.random.default_rng(0)
    clf = make_classifier("hgb", n_estimators=1, max_iter=5).fit(rng.normal(size=(100, 2)), np.tile([0, 1], 50))
    component.save(clf, tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["state"]["sklearn_version"] = "0.1"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(InputError, match="pickled with scikit-learn 0.1"):
        component.load(tmp_path)
    (tmp_path / "members.joblib").unlink()
    with pytest.raises(InputError, match=r"files listed in manifest.json are missing: \['members.joblib'\]"):
        component.load(tmp_path)


@pytest.mark.parametrize("module", [resad_tf.models.base, resad_tf.models.kfold, resad_tf.models.trees])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
