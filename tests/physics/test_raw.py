import numpy as np
import pandas as pd
import pytest

from resad_tf.data.raw import iter_raw_chunks, n_raw_events, read_raw, write_raw
from resad_tf.errors import InputError


def test_chunks_equal_whole_file(tiny_path, tiny_raw):
    particles, labels = tiny_raw
    assert n_raw_events(tiny_path) == 1000 == len(particles)
    assert particles.shape == (1000, 700, 3) and labels.sum() == 93
    starts, parts, labs = zip(*iter_raw_chunks(tiny_path, chunksize=333, start=10, stop=900))
    assert starts == (10, 343, 676)
    np.testing.assert_array_equal(np.concatenate(parts), particles[10:900])
    np.testing.assert_array_equal(np.concatenate(labs), labels[10:900])


def test_units_are_tev_inside(tiny_path, tiny_raw):
    gev = pd.read_hdf(tiny_path, "df", start=0, stop=3).to_numpy()
    np.testing.assert_allclose(tiny_raw[0][:3, :, 0] * 1000, gev[:, 0:2100:3])
    np.testing.assert_array_equal(tiny_raw[0][:3, :, 1], gev[:, 1:2100:3])


@pytest.mark.parametrize("labelled", [True, False])
def test_write_read_round_trip(tmp_path, labelled):
    rng = np.random.default_rng(0)
    parts = rng.uniform(0.01, 2.0, size=(7, 5, 3))
    parts[:, 3:] = 0.0  # zero padding
    labels = rng.integers(0, 2, 7) if labelled else None
    write_raw(tmp_path / "raw.h5", parts, labels)
    back, back_labels = read_raw(tmp_path / "raw.h5", start=2)
    np.testing.assert_allclose(back, parts[2:], rtol=1e-12)
    if labelled:
        np.testing.assert_array_equal(back_labels, labels[2:])
    else:
        assert back_labels is None
    assert not list(tmp_path.glob("*.tmp"))


def test_table_format_streams_too(tmp_path):
    values = np.arange(2 * 7, dtype=float).reshape(2, 7)  # 2 particles + label
    values[:, -1] = [0, 1]
    pd.DataFrame(values).to_hdf(tmp_path / "t.h5", key="df", format="table")
    ((start, parts, labels),) = iter_raw_chunks(tmp_path / "t.h5", chunksize=5, start=1)
    assert start == 1 and parts.shape == (1, 2, 3) and labels.tolist() == [1]
    assert parts[0, 1, 0] == pytest.approx(10 / 1000)


def test_fixed_frame_with_mixed_dtypes_reads_through_pandas(tmp_path):
    """Several value blocks (float particles, int label): columns still come back in order."""
    frame = pd.DataFrame(np.arange(2 * 6, dtype=float).reshape(2, 6) + 1.0)
    frame[6] = np.array([1, 0], dtype=np.int64)
    frame.to_hdf(tmp_path / "mixed.h5", key="df", format="fixed")
    parts, labels = read_raw(tmp_path / "mixed.h5", start=1)
    assert labels.tolist() == [0]
    np.testing.assert_allclose(parts[0], [[7 / 1000, 8, 9], [10 / 1000, 11, 12]])


def test_bad_inputs_name_the_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        n_raw_events(tmp_path / "missing.h5")
    pd.DataFrame(np.zeros((2, 6))).to_hdf(tmp_path / "key.h5", key="events")
    with pytest.raises(InputError, match="no key 'df'"):
        read_raw(tmp_path / "key.h5")
    pd.DataFrame(np.zeros((2, 5))).to_hdf(tmp_path / "cols.h5", key="df")
    with pytest.raises(InputError, match="5 columns"):
        read_raw(tmp_path / "cols.h5")
    (tmp_path / "text.h5").write_text("not hdf5")
    with pytest.raises(InputError, match="text.h5"):
        n_raw_events(tmp_path / "text.h5")
