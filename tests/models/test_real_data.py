"""On real LHCO signal-region events the tree kinds separate W' signal from QCD and agree."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from resad_tf.models import make_classifier


@pytest.mark.slow
def test_tree_kinds_separate_real_signal_and_agree(lhco_dir):
    data = np.load(lhco_dir / "cathode_sr" / "innerdata_test.npy")  # mjj, 4 features, label
    data = data[np.random.default_rng(0).permutation(len(data))[:16000]]
    x, y = data[:, 1:5], data[:, 5].astype(int)
    train, val, test = slice(0, 6000), slice(6000, 9000), slice(9000, None)
    auc = {}
    for kind in ("hgb", "xgb"):
        clf = make_classifier(kind, n_estimators=3, seed=1)
        clf.fit(x[train], y[train], x_val=x[val], y_val=y[val])
        auc[kind] = roc_auc_score(y[test], clf.predict(x[test]))
    # supervised on (mj1, dmj, tau21_1, tau21_2): the signal is well separated, and two
    # independent tree libraries reach the same (near-optimal) separation
    assert min(auc.values()) > 0.95
    assert auc["hgb"] == pytest.approx(auc["xgb"], abs=0.01)
