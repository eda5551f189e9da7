"""Every registered method saves and loads through the one component protocol, with its trained options.

Each method is fitted on the shared toy regions with tiny, non-default
options; ``resad_tf.component.save`` -> ``load`` must give back the same class
with the same options and the same scores (up to float32 round-off), and an
unfitted method refuses to score or be saved.
"""

import dataclasses
import json

import numpy as np
import pytest

from resad_tf import component, methods
from resad_tf.errors import NotFittedError
from resad_tf.outputs import to_json

MLP = dict(classifier="mlp", hidden=(8,), epochs=2, batch_size=2048)
HGB = dict(classifier="hgb", n_estimators=1, max_iter=10)
FLOW = dict(n_blocks=1, flow_hidden=(8,), flow_epochs=1, flow_batch_size=2048, n_checkpoints=2)

#: method -> options of a quick fit (every field given here differs from its default)
TINY = {
    "supervised": MLP,
    "iad": HGB,
    "cwola": dict(HGB, k_folds=3, sideband_width=0.3),
    "salad": dict(MLP, dctr_classifier="hgb", n_estimators=1, max_iter=10, dctr_iterations=2, max_weight=10.0),
    "anode": dict(FLOW, weight_decay=1e-3),
    "cathode": dict(FLOW, **HGB, oversampling=2),
    "lacathode": dict(FLOW, **HGB, oversampling=2),
    "ranode": dict(FLOW, signal_blocks=1, signal_hidden=(8,), signal_fraction=0.01, signal_epochs=1,
                   signal_batch_size=2048),
    "autoencoder": dict(epochs=1, batch_size=2048, hidden=(8,)),
    "vae": dict(epochs=1, batch_size=2048, hidden=(8,), n_samples=2),
    "sparse_ae": dict(epochs=1, batch_size=64, filters=(4, 8), latent_dim=8, n_estimators=1, max_iter=10),
}


def test_every_registered_method_has_a_roundtrip_case():
    assert set(TINY) == set(methods.names())


@pytest.fixture(scope="module")
def jet_images():
    from resad_tf import data
    from resad_tf.methods.sparse_ae import load_constituents

    src = load_constituents("toy_constituents", n_background=1500, n_signal=300, seed=0, quiet=True)
    return src.images, data.make_regions(src.events, data.Window(3.3, 3.7), n_sig=200, seed=0)


@pytest.mark.parametrize("name", sorted(TINY))
def test_save_load_gives_the_trained_method(name, toy_regions, jet_images, tmp_path):
    cls = methods.get(name)
    config = cls.Config(**TINY[name])
    assert config != cls.Config()
    extra, regions = ({"images": jet_images[0]}, jet_images[1]) if name == "sparse_ae" else ({}, toy_regions)
    method = cls(config, seed=3, verbose=False, **extra)
    test = regions.test
    with pytest.raises(NotFittedError, match=f"{cls.__name__} is not fitted: call fit\\(\\) before score"):
        method.score(test)
    with pytest.raises(NotFittedError, match="before save"):
        component.save(method, tmp_path / "unfitted")
    method.fit(regions)

    loaded = component.load(component.save(method, tmp_path / "model", metrics={"auc": 0.5}))
    assert type(loaded) is cls and loaded.config == config and loaded.seed == 3  # the trained options
    assert loaded.features_ == regions.features and loaded.window_ == method.window_
    for key, value in extra.items():  # data the method was given, not part of the model
        setattr(loaded, key, value)
    np.testing.assert_allclose(loaded.score(test), method.score(test), rtol=1e-5, atol=1e-6)

    manifest = json.loads((tmp_path / "model" / "manifest.json").read_text())
    assert manifest["format"] == component.FORMAT and manifest["class"] == f"{cls.__module__}:{cls.__name__}"
    assert manifest["config"] == {"config": json.loads(to_json(dataclasses.asdict(config))), "seed": 3}
    assert manifest["features"] == list(regions.features) and manifest["metrics"] == {"auc": 0.5}
    assert manifest["files"] and all((tmp_path / "model" / f).is_file() for f in manifest["files"])
    assert not [p for p in (tmp_path / "model").rglob(".*")], "temporary files left behind"
    if name == "salad":  # a reloaded SALAD keeps its DCTR reweighter
        xm = toy_regions.simulation.xm()[:200]
        np.testing.assert_allclose(loaded.dctr_.weights(xm), method.dctr_.weights(xm), rtol=1e-6)
