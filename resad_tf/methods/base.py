"""The interface every anomaly-detection method implements.

A method is configured by a frozen ``Config`` dataclass (an
:class:`~resad_tf.config.Options`, whose fields become the script's flags and
land in metrics.json), fitted on :class:`Regions`, and scores events: higher =
more signal-like.  Methods never read files, parse flags or write results
themselves; :mod:`resad_tf.pipeline` does that.

A method is a :class:`~resad_tf.component.Component`: :meth:`Method.fit`
checks the regions (the samples the method needs, :meth:`Regions.check_needs`),
records the features and window, then calls the subclass's ``_fit``.  A
density-based method (``takes_background``) can be handed a trained background
density, ``fit(regions, background=density)``: it then learns nothing from the
sidebands (regions without any are fine), which lets one density serve many
fits (the scan's amortized flows, studies that vary the injection);
:meth:`Method.score` refuses an unfitted method or events with other features,
then calls ``_score``.  Subclasses implement ``_fit``, ``_score`` and the two
state hooks (``_save_state`` / ``_load_state``).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from resad_tf.component import Component
from resad_tf.config import Options, from_dict
from resad_tf.data import Events, Regions
from resad_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class NoConfig(Options):
    pass


class Method(Component):
    """Base class: ``Method(config, seed=0).fit(regions).score(events)``."""

    name: ClassVar[str] = "method"
    Config: ClassVar[type] = NoConfig
    #: the samples the method needs besides the data, checked when it is fitted (Regions.check_needs):
    #: "reference" (pure-background SR sample), "signal" (pure-signal SR sample), "simulation"
    needs: ClassVar[frozenset] = frozenset()
    #: whether the method learns from the data outside the signal region (checked likewise)
    uses_sidebands: ClassVar[bool] = False
    #: what the method scores: "features" (the events' feature columns) or "jet images" (bound to the method)
    inputs: ClassVar[str] = "features"
    #: whether ``fit`` takes a trained background density p_bg(x | m) (a
    #: :class:`~resad_tf.methods.density.ConditionalDensity`) instead of learning one in the sidebands
    takes_background: ClassVar[bool] = False

    def __init__(self, config=None, *, seed: int = 0, verbose: bool = True):
        self.config = config if config is not None else self.Config()
        if not isinstance(self.config, self.Config):
            raise InputError(f"{self.name} takes a {self.Config.__name__}, got a {type(self.config).__name__}")
        self.seed = seed
        self.verbose = verbose

    @classmethod
    def from_config(cls, config: dict) -> "Method":
        return cls(from_dict(cls.Config, config["config"]), seed=config["seed"])

    # ------------------------------------------------------------------ interface
    def fit(self, regions: Regions, background=None) -> "Method":
        """Train on ``regions`` (the SR data, the sidebands and whatever ``needs`` names).

        ``background``: a trained background density for a method that ``takes_background``
        (its features must be the regions'); the method then uses it instead of learning one
        from the sidebands, and the regions need none.
        """
        if not isinstance(regions, Regions):
            raise InputError(f"{self.name}.fit takes Regions (resad_tf.data.make_regions), got {type(regions).__name__}")
        if background is not None:
            if not self.takes_background:
                raise InputError(f"{self.name} learns no background density and takes none (background=...)")
            if tuple(background.features_) != tuple(regions.features):
                raise InputError(f"the background density was trained on features {list(background.features_)}, "
                                 f"but the regions have {list(regions.features)}")
        sidebands = self.uses_sidebands and background is None
        regions.check_needs(self.needs | ({"sidebands"} if sidebands else set()), self.name)
        self.window_ = regions.window
        if self.takes_background:
            self._fit(regions, background)
        else:
            self._fit(regions)
        self.features_ = tuple(regions.features)
        return self

    def score(self, events: Events) -> np.ndarray:
        """One anomaly score per event, higher = more signal-like."""
        self.check_fitted("score()")
        if tuple(events.features) != self.features_:
            raise InputError(f"{events.source}: events with features {list(events.features)}, but {self.name} "
                             f"was fitted on {list(self.features_)}")
        return self._score(events)

    def score_arrays(self, x, mjj) -> np.ndarray:
        """Score plain arrays: ``x`` (n, len(features_)) in the order of ``features_``, ``mjj`` in TeV."""
        self.check_fitted("score_arrays()")
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.features_):
            raise InputError(f"x must have shape (n, {len(self.features_)}) for features {list(self.features_)}, "
                             f"got {x.shape}")
        return self.score(Events(mjj=mjj, x=x, features=self.features_, source="arrays"))

    @property
    def is_fitted(self) -> bool:
        return "features_" in vars(self)

    def diagnostics(self, directory) -> dict:
        """Extra plots/numbers next to metrics.json; returns numbers to merge into it."""
        return {}

    # ------------------------------------------------------------------ subclasses
    def _fit(self, regions: Regions, background=None) -> None:  # pragma: no cover - interface
        """Train; ``background`` is passed (None: learn one) only to methods that ``takes_background``."""
        raise NotImplementedError

    def _score(self, events: Events) -> np.ndarray:  # pragma: no cover - interface
        raise NotImplementedError
