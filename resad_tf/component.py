"""One protocol for everything resad_tf fits, and the one way to save and load it.

A :class:`Component` is a method, a classifier, a density, a scaler, the DCTR
reweighter: anything with ``fit``.  It follows scikit-learn's conventions:

* options are constructor arguments, stored under their own names
  (:meth:`Component.get_config` returns them: the *trained* options);
* ``fit`` validates its input and sets the learned state, in attributes with
  a trailing underscore;
* using the learned state before ``fit`` raises
  :class:`~resad_tf.errors.NotFittedError` (:meth:`Component.check_fitted`);
* two hooks, :meth:`Component._save_state` and :meth:`Component._load_state`,
  write and read the learned state.

:func:`save` writes a fitted component into a directory and :func:`load`
rebuilds it from there, whatever the component.  A component made of others
(SALAD: a signal-region classifier and a DCTR reweighter, each a scaler plus
a classifier) saves each part with :func:`save_part` into a subdirectory and
keeps the part's entry in its own state, so one ``manifest.json`` describes
the whole tree::

    {
      "format": "resad_tf.component/1",
      "resad_tf_version": "0.1.0",
      "class": "resad_tf.methods.salad:Salad",          # what load() rebuilds
      "config": {"config": {...}, "seed": 0},            # the trained options
      "state": {"discriminator": {"class": ..., "config": ..., "state": ...}, "dctr": {...}},
      "features": ["mj_light", ...],                     # components that know their inputs
      "window": {"lo": 3.3, "hi": 3.7, "sb_width": null},
      "files": ["dctr/step_0/classifier/run0_epoch2.keras", ...],
      "versions": {"tensorflow": ..., ...},
      "metrics": {...}                                   # what the caller of save() added
    }

The files are in each library's own format (Keras ``.keras``, TensorFlow
SavedModel flows, XGBoost JSON, joblib for scikit-learn's HGB), so
collaborators without resad_tf can use them; small learned arrays (scaler
parameters) sit in the manifest itself.

>>> import tempfile
>>> import numpy as np
>>> from resad_tf.data import LogitScaler
>>> scaler = LogitScaler(margin=0.05).fit(np.random.default_rng(0).uniform(size=(100, 2)))
>>> directory = save(scaler, tempfile.mkdtemp())
>>> again = load(directory)
>>> again.get_config() == {"margin": 0.05, "logit": True}, bool(np.all(again.mean_ == scaler.mean_))
(True, True)
>>> LogitScaler().transform(np.zeros((1, 2)))
Traceback (most recent call last):
...
resad_tf.errors.NotFittedError: LogitScaler is not fitted: call fit() before transform()
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import pathlib
import typing
from typing import ClassVar

from resad_tf.errors import InputError, NotFittedError

FORMAT = "resad_tf.component/1"
MANIFEST = "manifest.json"
_RESERVED = ("format", "resad_tf_version", "class", "config", "state", "features", "window", "files", "versions")


class Component:
    """Base class of everything resad_tf fits (see the module docstring for the conventions)."""

    #: constructor arguments that say how to run, not what was trained: not saved, defaults on load
    transient: ClassVar[tuple[str, ...]] = ("verbose",)

    # ------------------------------------------------------------------ options
    @classmethod
    def _option_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters.values()
        return [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]

    def get_config(self) -> dict:
        """The constructor arguments this component was made with (those in ``transient`` left out)."""
        return {name: getattr(self, name) for name in self._option_names() if name not in self.transient}

    @classmethod
    def from_config(cls, config: dict) -> "Component":
        """A new, unfitted component from :meth:`get_config`'s JSON form (dicts back to option dataclasses)."""
        from resad_tf import config as options

        hints = typing.get_type_hints(cls.__init__)
        kwargs = {}
        for name, value in config.items():
            t = hints.get(name)
            if isinstance(value, dict) and isinstance(t, type) and dataclasses.is_dataclass(t):
                value = options.from_dict(t, value)
            elif isinstance(value, list):
                value = tuple(value)
            kwargs[name] = value
        return cls(**kwargs)

    # ----------------------------------------------------------- fitted state
    @property
    def is_fitted(self) -> bool:
        """Whether ``fit`` has set learned state (attributes with a trailing underscore)."""
        return any(k.endswith("_") and not k.startswith("_") for k in vars(self))

    def check_fitted(self, action: str) -> None:
        """Raise NotFittedError unless fitted; ``action`` names what needed it (e.g. ``"score()"``)."""
        if not self.is_fitted:
            raise NotFittedError(f"{type(self).__name__} is not fitted: call fit() before {action}")

    # ---------------------------------------------------------------- hooks
    def _save_state(self, directory: pathlib.Path) -> dict:
        """Write the learned state's files into ``directory`` (create it if needed); return the rest
        of the state (JSON-able; nested parts as :func:`save_part` entries)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be saved")

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        """Restore the learned attributes from ``directory`` and ``state`` (what :meth:`_save_state` wrote)."""
        raise NotImplementedError(f"{type(self).__name__} cannot be loaded")


# ---------------------------------------------------------------------- save / load
def class_path(cls) -> str:
    return f"{cls.__module__}:{cls.__qualname__}"


def _component_class(path: str, where) -> type:
    module, _, name = str(path).partition(":")
    if not module.startswith("resad_tf.") or not name:
        raise InputError(f"{where}: class {path!r} is not a resad_tf component")
    try:
        cls = importlib.import_module(module)
        for part in name.split("."):
            cls = getattr(cls, part)
    except (ImportError, AttributeError):
        raise InputError(f"{where}: class {path!r} does not exist in this resad_tf; "
                         "was the model saved by another version?") from None
    if not (isinstance(cls, type) and issubclass(cls, Component)):
        raise InputError(f"{where}: {path!r} is not a resad_tf component")
    return cls


def _encode(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, dict):
        return {k: _encode(v) for k, v in value.items()}
    return value


def save_part(component: Component, directory) -> dict:
    """Write ``component``'s files into ``directory``; return its manifest entry.

    For a component's ``_save_state`` to save the components it is made of;
    :func:`save` is this plus the manifest file.
    """
    component.check_fitted("save()")
    directory = pathlib.Path(directory)
    entry = {"class": class_path(type(component)), "config": _encode(component.get_config()),
             "state": component._save_state(directory)}
    if getattr(component, "features_", None) is not None:
        entry["features"] = list(component.features_)
    if getattr(component, "window_", None) is not None:
        entry["window"] = dataclasses.asdict(component.window_)
    return entry


def load_part(entry: dict, directory) -> Component:
    """The component that :func:`save_part` wrote into ``directory`` as ``entry``."""
    from resad_tf.data import Window

    directory = pathlib.Path(directory)
    cls = _component_class(entry["class"], directory)
    component = cls.from_config(entry["config"])
    component._load_state(directory, entry["state"])
    if "features" in entry:
        component.features_ = tuple(entry["features"])
    if "window" in entry:
        component.window_ = Window(**entry["window"])
    return component


def save(component: Component, directory, **info) -> pathlib.Path:
    """Write a fitted ``component`` into ``directory``: its files, then ``manifest.json``.

    ``info`` adds JSON-able entries to the manifest (the pipeline adds the
    run's ``metrics``).  The manifest is written last and atomically, so a
    directory with a manifest is complete.
    """
    from resad_tf import __version__, runtime
    from resad_tf.outputs import write_json_atomic

    clash = sorted(set(info) & set(_RESERVED))
    if clash:
        raise ValueError(f"save(): {clash} are manifest fields of their own")
    component.check_fitted("save()")  # before anything is written
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / MANIFEST).unlink(missing_ok=True)  # an older save there is no longer complete
    manifest = {"format": FORMAT, "resad_tf_version": __version__, **save_part(component, directory)}
    manifest["files"] = sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())
    manifest["versions"] = runtime.versions()
    manifest.update(info)
    write_json_atomic(directory / MANIFEST, manifest)
    return directory


def read_manifest(directory) -> dict:
    """The manifest of a directory written by :func:`save` (InputError if there is none or it is not one)."""
    directory = pathlib.Path(directory)
    path = directory / MANIFEST
    if not path.is_file():
        raise InputError(f"{directory}: no {MANIFEST}; point to a directory written by resad_tf "
                         "(e.g. the model/ directory of a run)")
    try:
        manifest = json.loads(path.read_text())
        fmt = manifest["format"]
        for key in ("class", "config", "state", "files"):
            manifest[key]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise InputError(f"{path}: not a resad_tf manifest ({exc!r})") from None
    if fmt != FORMAT:
        raise InputError(f"{path}: format {fmt!r}; this resad_tf reads {FORMAT!r} (retrain, or load it with "
                         f"resad_tf {manifest.get('resad_tf_version', 'of that time')})")
    return manifest


def load(directory) -> Component:
    """Rebuild the component saved in ``directory`` by :func:`save`, with its trained options."""
    directory = pathlib.Path(directory)
    manifest = read_manifest(directory)
    missing = [f for f in manifest["files"] if not (directory / f).is_file()]
    if missing:
        raise InputError(f"{directory}: files listed in {MANIFEST} are missing: {missing[:5]}")
    return load_part(manifest, directory)
