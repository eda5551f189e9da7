"""The interface every anomaly-detection method implements.

A method is configured by a frozen ``Config`` dataclass (whose fields become
the script's flags and land in metrics.json), fitted on :class:`Regions`, and
scores events: higher = more signal-like.  Methods never read files, parse
flags or write results themselves; :mod:`resad_tf.cli` does that.
"""

from __future__ import annotations

import dataclasses
import pathlib
from typing import ClassVar

import numpy as np

from resad_tf.data import Events, Regions
from resad_tf.validation import check_options, rule


def option(default, help: str, *, ge=None, gt=None, le=None, lt=None, choices=None, **kwargs):
    """A Config field with a help text (shown by ``bin/<method> --help``) and its allowed values.

    ``ge``/``gt``/``le``/``lt`` bound a number (every entry of a tuple), ``choices`` lists the
    allowed values; :class:`Options` checks them when a Config is made, so a bad flag fails
    before any data is read, with one line naming it.
    """
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for list-valued options")
    allowed = rule(ge=ge, gt=gt, le=le, lt=lt, choices=choices)
    return dataclasses.field(default=default, metadata={"help": help, "rule": allowed}, **kwargs)


@dataclasses.dataclass(frozen=True)
class Options:
    """Base of every method Config: each field is checked against the values its ``option`` allows.

    Subclasses with checks across fields define ``__post_init__`` and call ``super().__post_init__()``.
    """

    def __post_init__(self):
        check_options(self)


@dataclasses.dataclass(frozen=True)
class NoConfig(Options):
    pass


class Method:
    """Base class: ``Method(config, seed=0).fit(regions).score(events)``."""

    name: ClassVar[str] = "method"
    Config: ClassVar[type] = NoConfig
    #: the samples the method needs besides the data, checked before it is fitted (Regions.check_needs):
    #: "reference" (pure-background SR sample), "signal" (pure-signal SR sample), "simulation"
    needs: ClassVar[frozenset] = frozenset()
    #: whether the method learns from the data outside the signal region (checked likewise)
    uses_sidebands: ClassVar[bool] = False

    def __init__(self, config=None, *, seed: int = 0, verbose: bool = True):
        self.config = config if config is not None else self.Config()
        self.seed = seed
        self.verbose = verbose

    def fit(self, regions: Regions) -> "Method":  # pragma: no cover - interface
        raise NotImplementedError

    def score(self, events: Events) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError

    def export(self, directory: pathlib.Path) -> None:
        """Write the trained model(s) so that collaborators can score new events."""

    @classmethod
    def load(cls, directory, config=None, seed: int = 0) -> "Method":
        """A scoring-ready method from what :meth:`export` wrote."""
        method = cls(config, seed=seed, verbose=False)
        method._restore(pathlib.Path(directory))
        return method

    def _restore(self, directory: pathlib.Path) -> None:  # pragma: no cover - interface
        raise NotImplementedError(f"{self.name} cannot be reloaded")

    def score_arrays(self, x, mjj) -> np.ndarray:
        """Score plain arrays (a method loaded with resad_tf.load_model knows its features)."""
        from resad_tf.saving import score_arrays

        return score_arrays(self, x, mjj)

    def diagnostics(self, directory: pathlib.Path) -> dict:
        """Extra plots/numbers next to metrics.json; returns numbers to merge into it."""
        return {}
