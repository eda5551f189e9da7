"""The one in-memory event container every part of resad_tf shares.

An :class:`Events` holds, for ``n`` events, the dijet invariant mass ``mjj``
(TeV), the feature matrix ``x`` (n, d) with its column names, optional truth
labels (1 = signal, 0 = background; ``None`` for real collision data) and
per-event weights.  It is deliberately a thin, immutable-by-convention wrapper
around numpy arrays: selections return new objects, nothing is modified in
place.

>>> import numpy as np
>>> ev = Events(mjj=np.array([3.0, 3.5, 4.0]), x=np.zeros((3, 2)),
...             features=("a", "b"), label=np.array([0, 1, 0]))
>>> len(ev), ev.n_signal, ev.select(ev.mjj > 3.2).mjj.tolist()
(3, 1, [3.5, 4.0])
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from resad_tf.errors import InputError
from resad_tf.validation import check_columns, rule

MJJ = rule(gt=0, what="the dijet mass in TeV; 0 when an event has fewer than two jets")


@dataclass(frozen=True, eq=False)
class Events:
    mjj: np.ndarray
    x: np.ndarray
    features: tuple[str, ...]
    label: np.ndarray | None = None
    weight: np.ndarray | None = field(default=None)
    source: str = "memory"

    def __post_init__(self):
        mjj = np.asarray(self.mjj, dtype=np.float64).reshape(-1)
        x = np.asarray(self.x, dtype=np.float64)
        if x.ndim == 1:
            x = x[:, None]
        n = len(mjj)
        if x.shape[0] != n:
            raise InputError(f"{self.source}: x has {x.shape[0]} rows but mjj has {n}")
        features = tuple(self.features)
        if len(features) != x.shape[1]:
            raise InputError(
                f"{self.source}: {x.shape[1]} feature columns but {len(features)} names {features}"
            )
        label = None if self.label is None else np.asarray(self.label).astype(np.int8).reshape(-1)
        if label is not None and len(label) != n:
            raise InputError(f"{self.source}: {len(label)} labels for {n} events")
        weight = (
            np.ones(n) if self.weight is None else np.asarray(self.weight, np.float64).reshape(-1)
        )
        if len(weight) != n:
            raise InputError(f"{self.source}: {len(weight)} weights for {n} events")
        object.__setattr__(self, "mjj", mjj)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "features", features)
        object.__setattr__(self, "label", label)
        object.__setattr__(self, "weight", weight)

    # ------------------------------------------------------------------ basics
    def __len__(self) -> int:
        return len(self.mjj)

    def __repr__(self) -> str:
        lab = "unlabelled" if self.label is None else f"{self.n_signal} signal"
        return f"Events(n={len(self)}, {lab}, features={list(self.features)}, source={self.source!r})"

    @property
    def has_labels(self) -> bool:
        return self.label is not None

    @property
    def n_signal(self) -> int:
        return 0 if self.label is None else int(np.sum(self.label == 1))

    @property
    def n_background(self) -> int:
        return len(self) if self.label is None else int(np.sum(self.label == 0))

    def require_labels(self, why: str) -> np.ndarray:
        """Return the labels, or raise an InputError explaining ``why`` they are needed."""
        if self.label is None:
            raise InputError(f"{self.source}: has no truth labels, which are needed {why}")
        return self.label

    # -------------------------------------------------------------- selections
    def select(self, mask_or_index) -> "Events":
        """A new Events with the rows picked by a boolean mask or an index array."""
        idx = np.asarray(mask_or_index)
        return Events(
            mjj=self.mjj[idx],
            x=self.x[idx],
            features=self.features,
            label=None if self.label is None else self.label[idx],
            weight=self.weight[idx],
            source=self.source,
        )

    def in_window(self, lo: float, hi: float) -> np.ndarray:
        """Boolean mask of events with lo <= mjj < hi (TeV)."""
        return (self.mjj >= lo) & (self.mjj < hi)

    def signal(self) -> "Events":
        return self.select(self.require_labels("to select signal") == 1)

    def background(self) -> "Events":
        return self.select(self.require_labels("to select background") == 0)

    def with_weight(self, weight: np.ndarray) -> "Events":
        return Events(self.mjj, self.x, self.features, self.label, weight, self.source)

    def with_features(self, x: np.ndarray, features) -> "Events":
        return Events(self.mjj, x, tuple(features), self.label, self.weight, self.source)

    def with_label(self, label) -> "Events":
        """A copy with every event labelled ``label`` (int) or with the given label array."""
        lab = np.full(len(self), label, np.int8) if np.isscalar(label) else label
        return Events(self.mjj, self.x, self.features, lab, self.weight, self.source)

    def shuffle(self, seed) -> "Events":
        rng = np.random.default_rng(seed)
        return self.select(rng.permutation(len(self)))

    def xm(self) -> np.ndarray:
        """Features with mjj appended as the last column, shape (n, d + 1)."""
        return np.column_stack([self.x, self.mjj])

    @staticmethod
    def concat(parts: list["Events"], source: str | None = None) -> "Events":
        """Stack several Events with the same features (labels kept only if all have them)."""
        parts = [p for p in parts if p is not None]
        if not parts:
            raise ValueError("concat needs at least one Events")
        feats = parts[0].features
        for p in parts[1:]:
            if p.features != feats:
                raise InputError(
                    f"cannot combine {p.source} (features {p.features}) with "
                    f"{parts[0].source} (features {feats})"
                )
        labels = [p.label for p in parts]
        return Events(
            mjj=np.concatenate([p.mjj for p in parts]),
            x=np.concatenate([p.x for p in parts]),
            features=feats,
            label=None if any(lab is None for lab in labels) else np.concatenate(labels),
            weight=np.concatenate([p.weight for p in parts]),
            source=source or parts[0].source,
        )

    def check_values(self) -> "Events":
        """Raise an InputError naming the first column with NaN/inf values, or an m_jj <= 0."""
        check_columns(self.mjj[:, None], ("m_jj",), {"m_jj": MJJ}, self.source)
        check_columns(self.x, self.features, {}, self.source)
        return self
