"""Export a trained flow as a TensorFlow SavedModel, and load it back.

The export needs nothing but TensorFlow to use::

    m = tf.saved_model.load(directory)
    m.log_prob(x, context)          # (n,)      x: float32 (n, dim), context: (n, context_dim)
    m.inverse(x, context)           # (n, dim)  data -> latent
    m.forward(z, context)           # (n, dim)  latent -> data
    m.sample(context, seed)         # (n, dim)  one x per context row; seed: int64 scalar

The same four are serving signatures (``m.signatures["log_prob"]``).  Call
them on at most ~16k rows at a time: one call on n rows holds n x hidden
floats per MADE pass (:func:`resad_tf.flows.inputs.chunked` explains why);
:class:`LoadedFlow` does the chunking for you.  The
constructor arguments are in ``flow_config.json`` beside ``saved_model.pb``.
:func:`load` wraps the export in a :class:`LoadedFlow` that takes numpy input
like :class:`~resad_tf.flows.ConditionalFlow` does.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import tensorflow as tf

from resad_tf.errors import InputError
from resad_tf.flows.inputs import as_context, as_features, chunked, seed_pair

CONFIG_FILE = "flow_config.json"


def _export_module(flow) -> tf.Module:
    x_spec = tf.TensorSpec([None, flow.dim], tf.float32, name="x")
    z_spec = tf.TensorSpec([None, flow.dim], tf.float32, name="z")
    c_spec = tf.TensorSpec([None, flow.context_dim], tf.float32, name="context")
    seed_spec = tf.TensorSpec([], tf.int64, name="seed")

    def sample(context, seed):
        z = tf.random.stateless_normal(
            [tf.shape(context)[0], flow.dim], seed=tf.stack([seed, tf.constant(0, tf.int64)])
        )
        return flow._forward(z, context)

    module = tf.Module()
    module.flow_variables = list(flow.variables)  # tracked, so the functions' captures are saved
    module.log_prob = tf.function(lambda x, context: flow.log_prob_tensor(x, context), [x_spec, c_spec])
    module.inverse = tf.function(lambda x, context: flow._inverse(x, context), [x_spec, c_spec])
    module.forward = tf.function(lambda z, context: flow._forward(z, context), [z_spec, c_spec])
    module.sample = tf.function(sample, [c_spec, seed_spec])
    return module


def export(flow, directory) -> str:
    """Write ``flow`` as a SavedModel (+ config JSON) to ``directory``, atomically.

    An existing export in ``directory`` is replaced; any other existing
    directory is refused.
    """
    directory = os.path.abspath(os.fspath(directory))
    if os.path.exists(directory) and not os.path.exists(os.path.join(directory, CONFIG_FILE)):
        raise InputError(f"{directory} exists and is not a flow export; choose a new directory")
    parent = os.path.dirname(directory)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".flow_export_", dir=parent)
    try:
        module = _export_module(flow)
        signatures = {name: getattr(module, name) for name in ("log_prob", "inverse", "forward",
                                                              "sample")}
        tf.saved_model.save(module, tmp, signatures=signatures)
        with open(os.path.join(tmp, CONFIG_FILE), "w") as f:
            json.dump(flow.get_config(), f, indent=2)
        if os.path.exists(directory):
            shutil.rmtree(directory)
        os.replace(tmp, directory)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return directory


class LoadedFlow:
    """A flow read back from :func:`export`: the ConditionalFlow methods, TensorFlow only."""

    def __init__(self, directory):
        directory = os.fspath(directory)
        config_path = os.path.join(directory, CONFIG_FILE)
        if not os.path.isfile(config_path):
            raise InputError(f"{directory} is not a flow export (no {CONFIG_FILE}); "
                             "write one with resad_tf.flows.export")
        with open(config_path) as f:
            self.config = json.load(f)
        self.dim, self.context_dim = self.config["dim"], self.config["context_dim"]
        self.module = tf.saved_model.load(directory)

    def _inputs(self, x, context):
        x = as_features(x, self.dim)
        return x, as_context(context, x.shape[0], self.context_dim)

    def log_prob(self, x, context) -> tf.Tensor:
        return chunked(self.module.log_prob, *self._inputs(x, context))

    def inverse(self, x, context) -> tf.Tensor:
        return chunked(self.module.inverse, *self._inputs(x, context))

    def forward(self, z, context) -> tf.Tensor:
        return chunked(self.module.forward, *self._inputs(z, context))

    def sample(self, n: int, context, seed=None) -> tf.Tensor:
        """One x per context row; the same int seed gives the same draw as the original flow."""
        c = as_context(context, int(n), self.context_dim)
        return self.module.sample(c, seed_pair(seed)[0])

    def get_config(self) -> dict:
        return dict(self.config)


def load(directory) -> LoadedFlow:
    """Load an export written by :func:`export`."""
    return LoadedFlow(directory)
