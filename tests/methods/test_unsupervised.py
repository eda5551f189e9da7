"""AE / VAE / sparse-conv AE methods find a strong injected signal; scripts run end to end; the search hook."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from resad_tf import component, data
from resad_tf.errors import InputError
from resad_tf.methods.autoencoder import VAE, Autoencoder, AutoencoderConfig, VAEConfig
from resad_tf.methods.sparse_ae import EVENT_ID, SparseAE, SparseAEConfig, load_constituents

REPO = pathlib.Path(__file__).resolve().parents[2]
FAST = dict(epochs=10, batch_size=512, learning_rate=3e-3, patience=3)


@pytest.mark.slow
def test_autoencoder_flags_the_injected_signal_and_exports(toy_regions, tmp_path):
    ae = Autoencoder(AutoencoderConfig(**FAST), seed=0, verbose=False).fit(toy_regions)
    test = toy_regions.test
    score = ae.score(test)
    assert roc_auc_score(test.label, score) > 0.6
    component.save(ae, tmp_path)
    import keras

    # without resad_tf: plain Keras and the standardization written in the manifest
    model = keras.saving.load_model(tmp_path / "autoencoder.keras")
    scaler = json.loads((tmp_path / "manifest.json").read_text())["state"]["scaler"]["state"]
    xs = ((test.x - scaler["mean"]) / scaler["scale"]).astype(np.float32)
    np.testing.assert_allclose(np.mean((xs - np.asarray(model(xs))) ** 2, axis=1), score, rtol=1e-4)
    np.testing.assert_allclose(component.load(tmp_path).score(test), score, rtol=1e-5)


@pytest.mark.slow
def test_vae_flags_the_injected_signal(toy_regions, tmp_path):
    vae = VAE(VAEConfig(**FAST), seed=0, verbose=False).fit(toy_regions)
    test = toy_regions.test
    score = vae.score(test)
    assert roc_auc_score(test.label, score) > 0.6
    rec, kl = vae.elbo_terms(test)
    assert kl.mean() > 0 and np.allclose(rec + kl, score)
    again = component.load(component.save(vae, tmp_path))
    assert again.config == vae.config
    np.testing.assert_allclose(again.score(test), score, rtol=1e-5)


def test_configs_reject_bad_options(toy_regions):
    with pytest.raises(InputError, match="train_on"):
        AutoencoderConfig(train_on="sidebands")
    with pytest.raises(InputError, match="vae_score"):
        VAEConfig(vae_score="nll")
    with pytest.raises(InputError, match="xgb_background"):
        SparseAEConfig(xgb_background="simulation")
    with pytest.raises(InputError, match="needs jet images"):
        SparseAE(SparseAEConfig(epochs=1)).fit(toy_regions)


@pytest.fixture(scope="module")
def constituent_regions():
    src = load_constituents("toy_constituents", n_background=5000, n_signal=1200, seed=3, quiet=True)
    return src, data.make_regions(src.events, data.Window(3.3, 3.7), n_sig=600, holdout=0.5, seed=0)


@pytest.mark.slow
def test_sparse_ae_bottleneck_xgboost_finds_the_signal(constituent_regions, tmp_path):
    src, regions = constituent_regions
    assert regions.features[-1] == EVENT_ID and src.images.sparsity > 0.9
    cfg = SparseAEConfig(epochs=3, batch_size=64, n_estimators=3, max_iter=100)
    method = SparseAE(cfg, images=src.images, seed=0, verbose=False).fit(regions)
    test = regions.test
    score = method.score(test)
    assert roc_auc_score(test.label, score) > 0.7
    again = component.load(component.save(method, tmp_path))
    assert again.config == cfg and again.images is None  # the images are data, not part of the model
    again.images = src.images
    np.testing.assert_allclose(again.score(test), score, rtol=1e-5)
    assert roc_auc_score(test.label, method.reconstruction_error(test)) > 0.55
    assert method.bottleneck(test.select(np.arange(3))).shape == (3, 2 * cfg.latent_dim)


def test_constituent_events_match_the_real_features_file(lhco_dir):
    """Real LHCO raw events: per-event m_jj equals the official v2 features, images hold the jets' pT."""
    raw = lhco_dir / "events_anomalydetection_tiny.h5"
    if not raw.exists():
        pytest.skip(f"{raw} not found")
    import pandas as pd

    from resad_tf.data.features import dijet_mass

    src = load_constituents(str(raw), max_events=200, quiet=True)
    reference = pd.read_hdf(lhco_dir / "rd_first100k.features.h5", "df", start=0, stop=200)
    np.testing.assert_allclose(src.events.mjj, dijet_mass(reference), rtol=1e-3)
    np.testing.assert_array_equal(src.events.x[:, -1], np.arange(200))
    image_pt = np.bincount(src.images.coords[:, 0], src.images.features[:, 0], minlength=400)
    jet_pt = np.hypot(reference["pxj1"], reference["pyj1"]) / 1000  # scalar sum >= vector pT
    assert np.all(image_pt[0::2] >= 0.98 * jet_pt) and np.median(image_pt[0::2] / jet_pt) < 1.1


def _script(name, tmp_path, *args):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    return subprocess.Popen([sys.executable, str(REPO / "bin" / name), f"--output_dir={tmp_path / name}",
                             "--quiet", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path, env=env)


@pytest.mark.slow
def test_scripts_run_end_to_end(tmp_path):
    small = ["--toy_n_background=10000", "--n_sig=500", "--toy_n_signal=1000", "--epochs=3"]
    runs = {
        "autoencoder": _script("autoencoder", tmp_path, *small),
        "vae": _script("vae", tmp_path, *small, "--n_samples=2"),
        "sparse_ae": _script("sparse_ae", tmp_path, "--data=toy_constituents", "--toy_n_background=2500",
                             "--toy_n_signal=800", "--n_sig=400", "--epochs=2", "--n_estimators=2",
                             "--max_iter=50"),
    }
    for name, proc in runs.items():
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, f"{name}: {err[-3000:]}"
        metrics = json.loads((tmp_path / name / "metrics.json").read_text())
        assert metrics["method"] == name and 0.0 <= metrics["auc"] <= 1.0
        assert (tmp_path / name / "model").is_dir()


def test_hpsearch_finds_a_minimum_or_says_how_to_install(monkeypatch):
    from resad_tf.methods import hpsearch

    space = {"x": (-3.0, 3.0), "n": (1, 4), "kind": ["a", "b"]}

    def objective(p):
        return (p["x"] - 1.0) ** 2 + (p["n"] - 2) ** 2 + (p["kind"] == "b")

    try:
        import optuna  # noqa: F401
    except ImportError:
        optuna = None
    if optuna is not None:
        result = hpsearch.search(objective, space, n_trials=40, seed=0)
        assert result.best_value < 0.3 and result.best_params["kind"] == "a" and result.best_params["n"] == 2
        assert len(result.trials) == 40
        assert hpsearch.search(objective, space, n_trials=5, seed=0).trials == result.trials[:5]
        with pytest.raises(InputError, match="low < high"):
            hpsearch.search(objective, {"x": (2.0, 1.0)}, n_trials=1)
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(InputError, match="pip install optuna"):
        hpsearch.search(objective, space, n_trials=1)


@pytest.mark.slow
def test_hpsearch_autoencoder_objective_is_a_validation_loss(toy_regions):
    pytest.importorskip("optuna")
    from resad_tf.methods import hpsearch

    objective = hpsearch.autoencoder_objective(toy_regions, AutoencoderConfig(epochs=2, batch_size=1024))
    result = hpsearch.search(objective, {"learning_rate": (1e-3, 1e-2, "log")}, n_trials=2, seed=0)
    assert 0 < result.best_value < 2 and len(result.trials) == 2
    with pytest.raises(InputError, match="autoencoder options"):
        objective({"no_such_option": 1})
