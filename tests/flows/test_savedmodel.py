"""export()/load(): a SavedModel that plain TensorFlow reproduces exactly."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

from resad_tf.errors import InputError
from resad_tf.flows import ConditionalFlow, export, load


@pytest.fixture(scope="module")
def exported(tmp_path_factory, make_perturbed):
    flow = make_perturbed(ConditionalFlow(dim=3, context_dim=2, n_blocks=2, hidden_units=(8,),
                                     batch_norm=True), 0.3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype(np.float32)
    c = rng.normal(size=(20, 2)).astype(np.float32)
    directory = export(flow, tmp_path_factory.mktemp("flows") / "bkg")
    return flow, x, c, directory


def test_plain_tensorflow_reproduces_the_flow(exported):
    flow, x, c, directory = exported
    m = tf.saved_model.load(directory)
    np.testing.assert_array_equal(m.log_prob(x, c), flow.log_prob(x, c))
    np.testing.assert_array_equal(m.inverse(x, c), flow.inverse(x, c))
    np.testing.assert_array_equal(m.forward(x, c), flow.forward(x, c))
    np.testing.assert_array_equal(m.sample(c, tf.constant(7, tf.int64)),
                                  flow.sample(20, c, seed=7))
    out = m.signatures["log_prob"](x=tf.constant(x), context=tf.constant(c))
    np.testing.assert_array_equal(list(out.values())[0], flow.log_prob(x, c))
    with open(os.path.join(directory, "flow_config.json")) as f:
        assert json.load(f) == flow.get_config()


def test_loads_in_a_process_without_resad_tf(exported, tmp_path):
    flow, x, c, directory = exported
    np.savez(tmp_path / "io.npz", x=x, c=c, lp=flow.log_prob(x, c).numpy())
    script = textwrap.dedent(f"""
        import sys
        sys.path = [p for p in sys.path if p not in ("", {os.getcwd()!r})]
        import numpy as np, tensorflow as tf
        d = np.load({str(tmp_path / "io.npz")!r})
        m = tf.saved_model.load({directory!r})
        assert np.array_equal(m.log_prob(d["x"], d["c"]).numpy(), d["lp"])
        assert not any(k.startswith(("resad_tf", "tensorflow_probability", "tf_keras"))
                       for k in sys.modules), "loading needed more than TensorFlow"
        print("OK")
    """)
    env = dict(os.environ, PYTHONPATH="", TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert result.stdout.strip().endswith("OK"), result.stderr[-2000:]


def test_load_wrapper_takes_numpy_like_the_flow(exported):
    flow, x, c, directory = exported
    loaded = load(directory)
    assert loaded.get_config() == flow.get_config()
    np.testing.assert_array_equal(loaded.log_prob(x.astype(np.float64), c),
                                  flow.log_prob(x, c))
    np.testing.assert_array_equal(loaded.sample(20, c, seed=3), flow.sample(20, c, seed=3))
    with pytest.raises(InputError, match="context"):
        loaded.log_prob(x, c[:, :1])


def test_export_replaces_an_export_but_refuses_other_directories(exported, tmp_path):
    flow, x, c, directory = exported
    assert export(flow, directory) == directory  # overwrite an earlier export
    (tmp_path / "notes.txt").write_text("precious")
    with pytest.raises(InputError, match="not a flow export"):
        export(flow, tmp_path)
    with pytest.raises(InputError, match="not a flow export"):
        load(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "precious"
