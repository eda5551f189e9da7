"""The anomaly-detection methods, one module each, all on the :class:`~resad_tf.methods.base.Method` interface.

>>> from resad_tf import methods
>>> methods.get("salad").name
'salad'
"""

from __future__ import annotations

import importlib

from resad_tf.errors import InputError

_REGISTRY = {
    "supervised": "resad_tf.methods.iad:Supervised",
    "iad": "resad_tf.methods.iad:IdealizedAD",
    "cwola": "resad_tf.methods.cwola:CWoLa",
    "salad": "resad_tf.methods.salad:Salad",
    "anode": "resad_tf.methods.anode:ANODE",
    "cathode": "resad_tf.methods.cathode:CATHODE",
    "lacathode": "resad_tf.methods.cathode:LaCATHODE",
    "ranode": "resad_tf.methods.ranode:RANODE",
    "autoencoder": "resad_tf.methods.autoencoder:Autoencoder",
    "vae": "resad_tf.methods.autoencoder:VAE",
    "sparse_ae": "resad_tf.methods.sparse_ae:SparseAE",
}


def names() -> list[str]:
    return list(_REGISTRY)


def get(name: str):
    """The Method class registered under ``name``."""
    try:
        module, cls = _REGISTRY[name].split(":")
    except KeyError:
        raise InputError(f"unknown method '{name}'; choose one of {names()}") from None
    return getattr(importlib.import_module(module), cls)
