"""The same seed gives the same scores; the resolved configuration lands next to the result."""

import json

import numpy as np

from resad_tf import outputs, pipeline
from resad_tf.methods.iad import IADConfig, IdealizedAD


def _run(tmp_path, name, seed):
    opts = pipeline.RunOptions(toy_n_background=20_000, n_sig=800, seed=seed, quiet=True,
                               output_dir=str(tmp_path / name))
    cfg = IADConfig(hidden=(16, 16), epochs=3, batch_size=256)
    pipeline.run(IdealizedAD, cfg, opts)
    return outputs.read_scores(tmp_path / name / "scores.h5"), json.loads((tmp_path / name / "metrics.json").read_text())


def test_same_seed_same_scores(tmp_path):
    a, meta = _run(tmp_path, "a", seed=3)
    b, _ = _run(tmp_path, "b", seed=3)
    c, _ = _run(tmp_path, "c", seed=4)
    np.testing.assert_array_equal(a["score"], b["score"])
    np.testing.assert_array_equal(a["mjj"], b["mjj"])
    assert not np.array_equal(a["mjj"], c["mjj"])
    # the resolved config and options are saved with the result and with the model
    assert meta["config"]["hidden"] == [16, 16] and meta["options"]["seed"] == 3
    manifest = json.loads((tmp_path / "a" / "model" / "manifest.json").read_text())
    assert manifest["config"] == {"config": meta["config"], "seed": 3}
    # on the toy, the IAD's reference is the generator's truth, 4x the data's background
    assert 3.5 < meta["regions"]["n_reference"] / meta["regions"]["n_bkg_sr"] < 4.5
    assert manifest["features"] == ["mj_light", "delta_mj", "tau21_light", "tau21_heavy"]
