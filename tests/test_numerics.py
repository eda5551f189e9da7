"""CPU-independent numerics (issue 27): the same seed gives bit-identical scores on another x86-64 CPU.

Another CPU is emulated on this one: ``ONEDNN_MAX_CPU_ISA=AVX2``, ``XLA_FLAGS=--xla_cpu_max_isa=AVX2``
and ``OPENBLAS_CORETYPE=Haswell`` (an AVX2 machine's oneDNN, XLA and OpenBLAS kernels).  The libraries
read these when they load, so each setting runs in a fresh process: tiny SALAD, CATHODE,
R-ANODE (XLA-compiled flows) and IAD runs, one hash of each method's scores.  Without the pinning in
:func:`resad_tf.runtime.pin_numerics` (``RESAD_CPU_INDEPENDENT=0``) the AVX-512 machines that run this
suite give other hashes under the AVX2 emulation (measured: README, Reproducibility).
"""

import json
import os
import platform
import subprocess
import sys
import textwrap

import pytest

from resad_tf import runtime

pytestmark = pytest.mark.skipif(platform.machine().lower() not in ("x86_64", "amd64"),
                                reason="the kernel pinning is for x86-64 CPUs")

CHILD = textwrap.dedent("""
    import hashlib, json, sys, tempfile
    from resad_tf import runtime
    runtime.configure()
    import numpy as np, threadpoolctl
    from resad_tf import outputs, pipeline
    from resad_tf.methods.cathode import CATHODE
    from resad_tf.methods.iad import IdealizedAD
    from resad_tf.methods.ranode import RANODE
    from resad_tf.methods.salad import Salad

    flow = dict(n_blocks=1, flow_hidden=(8,), flow_epochs=1, flow_batch_size=256, n_checkpoints=1)
    mlp = dict(hidden=(8, 8), epochs=1, batch_size=256)
    runs = {
        "salad": (Salad, dict(mlp, n_best_epochs=1)),
        "cathode": (CATHODE, dict(flow, transform="rqs", n_bins=4, oversampling=1, classifier="mlp",
                                  n_best_epochs=1, **mlp)),
        "ranode": (RANODE, dict(flow, flow_jit=True, signal_blocks=1, signal_hidden=(8,), signal_epochs=1,
                                signal_batch_size=256)),
        "iad": (IdealizedAD, dict(mlp, classifier="mlp")),
    }
    out = {"openblas": [i.get("architecture") for i in threadpoolctl.threadpool_info()
                        if i["internal_api"] == "openblas"]}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (cls, kw) in runs.items():
            opts = pipeline.RunOptions(toy_n_background=8000, n_sig=400, seed=2, quiet=True,
                                       output_dir=f"{tmp}/{name}", toy_reference_factor=1,
                                       toy_simulation_factor=1)
            pipeline.run(cls, cls.Config(**kw), opts)
            s = np.ascontiguousarray(outputs.read_scores(f"{tmp}/{name}/scores.h5")["score"], np.float64)
            out[name] = hashlib.sha256(s.tobytes()).hexdigest()
    print("RESULT", json.dumps(out))
""")

#: the emulated machine: an AVX2 CPU's oneDNN, XLA and OpenBLAS kernels (on top of an environment without
#: the pinned variables).  One process for all three: each is a separate library's choice, and two processes
#: in parallel keep the test at about half a minute on 2 cores.
AVX2_MACHINE = {"ONEDNN_MAX_CPU_ISA": "AVX2", "XLA_FLAGS": "--xla_cpu_max_isa=AVX2", "OPENBLAS_CORETYPE": "Haswell"}


def _clean_env(**extra):
    """os.environ without what runtime's import set in this process (the child must pin by itself)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("ONEDNN_MAX_CPU_ISA", "OPENBLAS_CORETYPE", "XLA_FLAGS", runtime.CPU_INDEPENDENT_VAR)}
    return dict(env, TF_CPP_MIN_LOG_LEVEL="3", **extra)


def _start(env):
    return subprocess.Popen([sys.executable, "-c", CHILD], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _result(proc):
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.split("RESULT ", 1)[1])


def test_scores_identical_under_an_emulated_avx2_cpu():
    this_cpu, avx2 = _start(_clean_env()), _start(_clean_env(**AVX2_MACHINE))  # in parallel
    reference, emulated = _result(this_cpu), _result(avx2)
    assert emulated == reference, f"AVX2 machine: {emulated} != this CPU's {reference}"
    if reference["openblas"]:
        assert set(reference["openblas"]) == {"Haswell"}  # pinned by default


def _pinned_env(code, **env):
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env(**env),
                       timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


SHOW = ("import json, os; import resad_tf.runtime; print(json.dumps({k: os.environ.get(k) for k in "
        "('ONEDNN_MAX_CPU_ISA', 'OPENBLAS_CORETYPE', 'XLA_FLAGS')}))")


def test_pinned_on_import_kept_when_set_and_opt_out():
    env = _pinned_env(SHOW)
    assert env["ONEDNN_MAX_CPU_ISA"] == "AVX2" and "--xla_cpu_max_isa=AVX2" in env["XLA_FLAGS"]
    assert env["OPENBLAS_CORETYPE"] in ("Haswell", None)  # None: a CPU without AVX2/FMA
    # what the environment sets is kept; other XLA flags stay
    env = _pinned_env(SHOW, ONEDNN_MAX_CPU_ISA="AVX", XLA_FLAGS="--xla_cpu_enable_fast_math=false")
    assert env["ONEDNN_MAX_CPU_ISA"] == "AVX"
    assert env["XLA_FLAGS"] == "--xla_cpu_enable_fast_math=false --xla_cpu_max_isa=AVX2"
    # the opt-out: each library's own choice for the CPU
    assert _pinned_env(SHOW, RESAD_CPU_INDEPENDENT="0") == {
        "ONEDNN_MAX_CPU_ISA": None, "OPENBLAS_CORETYPE": None, "XLA_FLAGS": None}
