"""Readers: real files load, and every kind of bad file gives one clear InputError."""

import numpy as np
import pandas as pd
import pytest

from resad_tf import data
from resad_tf.data import formats
from resad_tf.errors import InputError


def _frame(n=50, seed=0):
    rng = np.random.default_rng(seed)
    cols = {c: rng.uniform(0.1, 1.0, n) * (1000 if c.startswith("p") or c.startswith("m") else 1)
            for c in formats.V2_COLUMNS[:-1]}
    cols["label"] = rng.integers(0, 2, n).astype(float)
    return pd.DataFrame(cols)


def test_real_features_file_counts(lhco_dir):
    ev = data.load(lhco_dir / "rd_first100k.features.h5")
    assert len(ev) == 100_000 and ev.n_signal == 9_059
    sr = ev.select(data.Window(3.3, 3.7).sr(ev.mjj))
    # the README's numbers for this file
    assert sr.n_background == 12_881 and sr.n_signal == 6_908
    assert ev.features == ("mj_light", "delta_mj", "tau21_light", "tau21_heavy")
    assert np.all(ev.x[:, 1] >= 0)  # heavy - light


def test_cathode_arrays_and_directory(lhco_dir):
    ev = data.load(lhco_dir / "cathode_sr" / "innerdata_train.npy")
    assert len(ev) == 60_000 and ev.n_signal == 395
    both = data.load(lhco_dir / "cathode_sr")  # a directory: the *_train/_val files only
    assert len(both) == 60_000


def test_write_read_roundtrip(tmp_path):
    df = _frame()
    path = formats.write_v2(df, tmp_path / "f.h5")
    back = formats.read_v2(path)
    pd.testing.assert_frame_equal(back, df[list(formats.V2_COLUMNS)])
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp file left


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda df: df.drop(columns=["tau2j1"]), "missing columns ['tau2j1']"),
        (lambda df: df.assign(extra=1.0), "unexpected columns ['extra']"),
        (lambda df: df.assign(mj1=np.where(np.arange(len(df)) == 3, np.nan, df.mj1)), "'mj1' has 1 NaN/inf"),
        (lambda df: df.assign(pxj2=np.inf), "'pxj2' has"),
        (lambda df: df.assign(label=2.0), "'label' (the truth label: 0 background, 1 signal) must be one of 0, 1"),
        (lambda df: df.assign(mj2=np.where(np.arange(len(df)) < 4, -30.0, df.mj2)), "'mj2'"),
        (lambda df: df.assign(tau1j1=df.tau1j1.astype(str)), "'tau1j1' holds text"),
        (lambda df: df.iloc[:0], "contains no events"),
    ],
)
def test_bad_v2_frames(tmp_path, mutate, message):
    path = tmp_path / "bad.h5"
    mutate(_frame()).to_hdf(path, key="df")
    with pytest.raises(InputError, match=str(path)) as err:
        data.load(path)
    assert message in str(err.value)


def test_rounded_masses_of_massless_jets_are_accepted(tmp_path):
    """The R&D file stores some massless jets as -2.2e-5 GeV (rounding of E^2 - p^2): not bad input."""
    df = _frame()
    df.loc[:3, "mj1"] = -2.2e-5
    formats.write_v2(df, tmp_path / "f.h5")
    assert len(data.load(tmp_path / "f.h5")) == 50
    df.loc[:3, "mj1"] = -1.0  # a negative mass beyond rounding is refused
    df.to_hdf(tmp_path / "g.h5", key="df")
    with pytest.raises(InputError, match=r"'mj1' .* must be >= -0.01, but 4 of 50 events"):
        data.load(tmp_path / "g.h5")


def test_bad_files(tmp_path):
    with pytest.raises(InputError, match="not found"):
        data.load(tmp_path / "nope.h5")
    _frame().to_hdf(tmp_path / "k.h5", key="events")
    with pytest.raises(InputError, match="no key 'df'.*events"):
        data.load(tmp_path / "k.h5")
    (tmp_path / "junk.h5").write_text("not hdf5")
    with pytest.raises(InputError, match="cannot be read as a pandas HDF5"):
        data.load(tmp_path / "junk.h5")
    (tmp_path / "x.csv").write_text("a,b")
    with pytest.raises(InputError, match="unknown format '.csv'"):
        data.load(tmp_path / "x.csv")
    np.save(tmp_path / "a.npy", np.zeros((10, 4)))
    with pytest.raises(InputError, match=r"shape \(10, 4\)"):
        data.load(tmp_path / "a.npy")
    arr = np.ones((10, 6)); arr[2, 3] = np.nan
    np.save(tmp_path / "b.npy", arr)
    with pytest.raises(InputError, match="'tau21_light' has 1 NaN/inf"):
        data.load(tmp_path / "b.npy")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no innerdata_"):
        data.load(tmp_path / "empty")


def test_raw_file_is_recognised(lhco_dir):
    with pytest.raises(InputError, match="raw constituents layout.*prepare_lhco"):
        data.load(lhco_dir / "events_anomalydetection_tiny.h5")


def test_blackbox_without_label(tmp_path):
    formats.write_v2(_frame().drop(columns=["label"]), tmp_path / "bb.h5")
    ev = data.load(tmp_path / "bb.h5")
    assert ev.label is None and len(ev) == 50
    with pytest.raises(InputError, match="no truth labels.*inject"):
        data.make_regions(ev, data.Window(0.1, 5.0), n_sig=10)
