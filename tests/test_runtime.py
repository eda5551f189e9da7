"""runtime.configure: thread pools and device visibility, set before TensorFlow starts."""

import os
import subprocess
import sys
import textwrap

import pytest

from resad_tf import runtime
from resad_tf.errors import InputError


def test_configure_sets_threads_and_hides_gpus_in_a_fresh_process():
    code = textwrap.dedent("""
        import os
        from resad_tf import runtime
        runtime.configure(intra_op_threads=1, inter_op_threads=2, device="cpu")
        import tensorflow as tf
        tf.constant(1.0) + 1.0  # the runtime starts with these settings
        print(tf.config.threading.get_intra_op_parallelism_threads(),
              tf.config.threading.get_inter_op_parallelism_threads(),
              len(tf.config.get_visible_devices("GPU")),
              os.environ["TF_NUM_INTRAOP_THREADS"], os.environ["TF_NUM_INTEROP_THREADS"])
    """)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_NUM_INTRAOP_THREADS", None)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() == ["1", "2", "0", "1", "2"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(device="tpu"), "device='tpu'"),
    (dict(intra_op_threads=-1), "intra_op_threads=-1"),
])
def test_configure_rejects_bad_values(kwargs, message):
    with pytest.raises(InputError, match=message):
        runtime.configure(**kwargs)


def test_configure_after_tensorflow_started_says_so():
    import tensorflow as tf

    tf.constant(1.0) + 1.0  # this test process has a running TensorFlow
    current = tf.config.threading.get_intra_op_parallelism_threads()
    with pytest.raises(InputError, match="before TensorFlow's first computation"):
        runtime.configure(intra_op_threads=current + 3)
