"""Model exchange: every trained method is saved with a manifest and loads back in one call.

``save_model`` writes the method's own files (Keras ``.keras`` classifiers,
flow SavedModels, tree-model files) plus ``manifest.json``: the method, the
features it expects, the signal region, its configuration, the seed, the
package versions and the metrics of the run.  A collaborator scores new events
with::

    model = resad_tf.load_model("runs/cathode/model")
    scores = model.score_arrays(x, mjj)      # x: (n, len(model.features_)), mjj in TeV

or without resad_tf, with plain Keras (``keras.saving.load_model`` on the
``.keras`` files) or TensorFlow (``tf.saved_model.load`` on a ``flow``
directory); ``manifest.json`` says which preprocessing goes in front.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import typing

import numpy as np

from resad_tf.data import Events
from resad_tf.errors import InputError
from resad_tf.outputs import to_json

FORMAT = "resad_tf.model/1"
MANIFEST = "manifest.json"


def save_model(method, directory, *, features, window, metrics: dict | None = None) -> pathlib.Path:
    """Export ``method`` into ``directory`` with its manifest (written last)."""
    from resad_tf import runtime

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    method.export(directory)
    manifest = {
        "format": FORMAT,
        "method": method.name,
        "features": list(features),
        "sr": [window.lo, window.hi],
        "config": dataclasses.asdict(method.config),
        "seed": method.seed,
        "versions": runtime.versions(),
        "metrics": {k: v for k, v in (metrics or {}).items() if isinstance(v, (int, float))},
    }
    (directory / MANIFEST).write_text(to_json(manifest) + "\n")
    return directory


def config_from_dict(config_cls, values: dict):
    """A Config dataclass from its JSON form (lists back to tuples)."""
    hints = typing.get_type_hints(config_cls)
    known = {f.name for f in dataclasses.fields(config_cls)}
    kwargs = {}
    for k, v in values.items():
        if k in known:
            kwargs[k] = tuple(v) if typing.get_origin(hints[k]) is tuple and v is not None else v
    return config_cls(**kwargs)


def load_model(directory):
    """The method saved in ``directory``, ready to ``score(events)`` / ``score_arrays(x, mjj)``."""
    from resad_tf import methods

    directory = pathlib.Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise InputError(f"{directory}: no {MANIFEST}; is this the model/ directory of a resad_tf run?")
    try:
        manifest = json.loads(path.read_text())
        fmt, name = manifest["format"], manifest["method"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise InputError(f"{path}: not a resad_tf model manifest ({exc!r})") from None
    if fmt != FORMAT:
        raise InputError(f"{path}: model format {fmt!r}; this resad_tf reads {FORMAT!r}")
    cls = methods.get(name)
    model = cls.load(directory, config_from_dict(cls.Config, manifest["config"]), seed=manifest.get("seed", 0))
    model.manifest = manifest
    model.features_ = tuple(manifest["features"])
    return model


def score_arrays(model, x, mjj) -> np.ndarray:
    """Score plain arrays with a loaded model (features in the manifest's order, masses in TeV)."""
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or x.shape[1] != len(model.features_):
        raise InputError(f"x must have shape (n, {len(model.features_)}) for features {list(model.features_)}, "
                         f"got {x.shape}")
    return model.score(Events(mjj=mjj, x=x, features=model.features_, source="arrays"))
