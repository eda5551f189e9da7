"""Windows, injection and splits: counts add up, nothing leaks, bad regions are refused."""

import numpy as np
import pytest

from resad_tf.data import Events, Window, inject, make_regions, train_val_split
from resad_tf.errors import InputError


def _pool(n_bkg=20_000, n_sig=2_000, seed=0):
    rng = np.random.default_rng(seed)
    mjj = np.r_[2.6 + rng.exponential(0.7, n_bkg), rng.normal(3.5, 0.1, n_sig)]
    x = np.c_[np.r_[rng.normal(0, 1, n_bkg), rng.normal(2, 1, n_sig)], np.arange(n_bkg + n_sig)]
    return Events(mjj, x, ("f", "event_id"), label=np.r_[np.zeros(n_bkg), np.ones(n_sig)], source="pool")


def test_window_masks_partition():
    w = Window(3.3, 3.7, sb_width=0.2)
    m = np.array([3.0, 3.1, 3.2, 3.3, 3.5, 3.7, 3.8, 3.95, 4.0])
    assert w.sr(m).tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0]
    assert w.sb_low(m).tolist() == [0, 1, 1, 0, 0, 0, 0, 0, 0]
    assert w.sb_high(m).tolist() == [0, 0, 0, 0, 0, 1, 1, 0, 0]
    full = Window(3.3, 3.7)
    assert np.all(full.sr(m) ^ full.sb(m))


@pytest.mark.parametrize("text", ["3.7,3.3", "abc", "3.3", "3.3,3.5,3.7", "-1,2", "nan,3"])
def test_bad_sr_flags(text):
    with pytest.raises(InputError, match="--sr|signal region"):
        Window.parse(text)


def test_impossible_regions():
    pool = _pool()
    with pytest.raises(InputError, match="outside the m_jj range"):
        make_regions(pool, Window(20.0, 21.0))
    gap = pool.select((pool.mjj < 3.0) | (pool.mjj > 4.0))
    with pytest.raises(InputError, match="holds no event"):
        make_regions(gap, Window(3.3, 3.7))


def test_samples_too_small_to_split_are_refused():
    """Fewer than MIN_EVENTS data events in the SR, a test set without signal, a method's missing samples."""
    pool = _pool(n_bkg=40, n_sig=4)
    with pytest.raises(InputError, match=r"the signal region 3.3,3.7 TeV holds \d data events, but at least 10"):
        make_regions(pool, Window(3.3, 3.7), n_sig=None)
    big = _pool()
    with pytest.raises(InputError, match="evaluation set .* needs at least 1 event of each class, but class 1"):
        make_regions(big, Window(3.3, 3.7), n_sig=big.n_signal)  # every signal event injected: none left to test
    r = make_regions(big, Window(3.3, 3.7), n_sig=100)
    assert r.check_needs({"sidebands", "reference", "signal"}, "m") is r
    with pytest.raises(InputError, match="m needs a simulated sample: pass --simulation=PATH"):
        r.check_needs({"simulation"}, "m")
    sr_only = make_regions(big.select(Window(3.3, 3.7).sr(big.mjj)), Window(3.3, 3.7), n_sig=100)
    with pytest.raises(InputError, match="m learns from the sidebands, but pool has no event outside"):
        sr_only.check_needs({"sidebands"}, "m")
    few = make_regions(big, Window(3.3, 3.7), n_sig=100, reference=big.background().select(np.arange(5)))
    with pytest.raises(InputError, match="m needs a pure-background SR sample of at least 10 events, but pool gives"):
        few.check_needs({"reference"}, "m")


def test_injection_counts_and_leftover():
    pool = _pool()
    data, left = inject(pool, 300, seed=1)
    assert data.n_signal == 300 and data.n_background == pool.n_background
    assert left.n_signal == pool.n_signal - 300 and left.n_background == 0
    assert set(data.x[:, 1]).isdisjoint(left.x[:, 1])
    with pytest.raises(InputError, match="holds only 2000 signal"):
        inject(pool, 5000, seed=1)


def test_make_regions_no_leak_and_reproducible():
    pool, w = _pool(), Window(3.3, 3.7)
    r = make_regions(pool, w, n_sig=500, holdout=0.4, seed=3)
    assert r.data.n_signal == 500
    ids = lambda ev: set(ev.x[:, 1].astype(int))  # noqa: E731
    assert ids(r.data).isdisjoint(ids(r.test)) and ids(r.data).isdisjoint(ids(r.reference))
    assert ids(r.test).isdisjoint(ids(r.reference)) and ids(r.test).isdisjoint(ids(r.signal))
    assert r.signal.n_background == 0 and abs(r.signal.n_signal - r.test.n_signal) <= 1
    assert r.reference.n_signal == 0 and np.all(w.sr(r.test.mjj)) and np.all(w.sr(r.reference.mjj))
    # the held-out background is taken uniformly in mjj: the data keep ~60% in SR and SB alike
    sr_frac = r.sr.n_background / pool.select(w.sr(pool.mjj)).n_background
    sb_frac = r.sb.n_background / pool.select(w.sb(pool.mjj)).n_background
    assert abs(sr_frac - 0.6) < 0.03 and abs(sb_frac - 0.6) < 0.02
    again = make_regions(pool, w, n_sig=500, holdout=0.4, seed=3)
    np.testing.assert_array_equal(r.data.x, again.data.x)
    other = make_regions(pool, w, n_sig=500, holdout=0.4, seed=4)
    assert not np.array_equal(r.data.x[:, 1], other.data.x[:, 1])
    s = r.summary()
    assert s["n_sig_sr"] + s["n_bkg_sr"] == s["n_sr"] and s["n_sig_injected"] == 500


def test_external_test_set_means_no_holdout():
    pool, w = _pool(), Window(3.3, 3.7)
    r = make_regions(pool, w, n_sig=100, test=_pool(seed=9))
    assert r.data.n_background == pool.n_background
    assert np.all(w.sr(r.test.mjj)) and r.reference is None


def test_train_val_split():
    ev = _pool()
    tr, va = train_val_split(ev, 0.25, seed=0)
    assert len(va) == round(0.25 * len(ev)) and len(tr) + len(va) == len(ev)
    assert set(tr.x[:, 1]).isdisjoint(va.x[:, 1])
    with pytest.raises(InputError):
        train_val_split(ev, 1.5, seed=0)
