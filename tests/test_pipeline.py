"""The run pipeline: options declared once, derived-sample seeds, pluggable data sources, the scan's loader."""

import dataclasses
import os
import subprocess
import sys

import numpy as np
import pytest

from resad_tf import config, data, pipeline
from resad_tf.errors import InputError
from resad_tf.methods.iad import IADConfig, IdealizedAD

TINY_IAD = IADConfig(classifier="hgb", n_estimators=1, max_iter=10)


def test_run_options_are_declared_once_with_help():
    """Every option has a help text; the scripts' flags are made from the fields (checked in --help)."""
    fields = dataclasses.fields(pipeline.RunOptions)
    assert all(config.help_text(pipeline.RunOptions, f.name) != f.name for f in fields)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "bin/iad", "--help"], capture_output=True, text=True, env=env, timeout=120,
                       cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    for f in fields + dataclasses.fields(IADConfig):
        assert f"--{f.name}" in r.stdout or f"--[no]{f.name}" in r.stdout, f.name
    assert "threads one TensorFlow op may use" in r.stdout


def test_derived_samples_have_their_own_seeds():
    offsets = pipeline.SAMPLE_SEED_OFFSETS
    assert len(set(offsets.values())) == len(offsets) and offsets["data"] == 0
    opts = pipeline.RunOptions(seed=7)
    assert [pipeline.sample_seed(opts, s) for s in ("data", "simulation", "background")] == [7, 8, 10]


def test_load_dataset_is_the_scan_loader():
    """One (N_sig, seed) of a scan: the toy generated with that seed, N_sig signal injected, nothing held out."""
    opts = pipeline.RunOptions(toy_n_background=3000, toy_n_signal=400)
    ev = pipeline.load_dataset(opts, n_sig=100, seed=2)
    assert ev.n_background == 3000 and ev.n_signal == 100
    again = pipeline.load_dataset(opts, n_sig=100, seed=2)
    np.testing.assert_array_equal(ev.x, again.x)
    assert not np.array_equal(pipeline.load_dataset(opts, 100, seed=3).mjj, ev.mjj)
    natural = pipeline.load_dataset(opts, n_sig=-1, seed=2)
    assert natural.n_signal == 400
    noisy = pipeline.load_dataset(dataclasses.replace(opts, noise_features=2), n_sig=100, seed=2)
    assert noisy.features[-2:] == ("noise_0", "noise_1")
    with pytest.raises(InputError, match="--data=/nope.h5: file or directory not found"):
        pipeline.load_dataset(dataclasses.replace(opts, data="/nope.h5"), 0, 0)


class TaggedIAD(IdealizedAD):
    """An IAD that takes one more constructor argument, to see a data source's method_inputs arrive."""

    name = "tagged_iad"

    def __init__(self, config=None, *, tag=None, seed=0, verbose=True):
        super().__init__(config, seed=seed, verbose=verbose)
        self.tag = tag


def test_a_data_source_plugs_into_the_pipeline(tmp_path):
    seen = {}

    def source(opts, method_cls, cfg):
        seen.update(method=method_cls, config=cfg)
        return pipeline.RunData(pipeline.build_regions(opts, method_cls.needs), method_inputs={"tag": "from the source"})

    opts = pipeline.RunOptions(toy_n_background=5000, toy_n_signal=2000, n_sig=500, quiet=True,
                               toy_reference_factor=1, output_dir=str(tmp_path / "run"))
    result = pipeline.run(TaggedIAD, TINY_IAD, opts, source=source)
    assert seen == {"method": TaggedIAD, "config": TINY_IAD}
    assert result["method"] == "tagged_iad" and 0 <= result["auc"] <= 1
    assert (tmp_path / "run" / "model" / "manifest.json").is_file()
    # the same regions handed in directly give the same scores
    regions = pipeline.build_regions(opts, IdealizedAD.needs)
    again = pipeline.run(IdealizedAD, TINY_IAD, dataclasses.replace(opts, output_dir=str(tmp_path / "again")),
                         data=regions)
    assert again["auc"] == result["auc"]


def test_a_method_names_the_sample_it_misses():
    events = data.load("toy", toy=data.ToySpec(3000, 300), quiet=True)
    with pytest.raises(InputError, match="iad needs a pure-background SR sample: pass --background=PATH"):
        IdealizedAD(TINY_IAD).fit(data.Regions(window=data.Window(3.3, 3.7), data=events))
    with pytest.raises(InputError, match="takes Regions"):
        IdealizedAD(TINY_IAD).fit(events)
