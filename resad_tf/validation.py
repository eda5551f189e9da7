"""Validation at the boundary, declared once: the allowed values of options and of data columns.

A :class:`Rule` says which values an option or a data column may hold: a
numeric :class:`Range` and/or a tuple of choices.  Options declare theirs
where they are defined (``option(100, "epochs", ge=1)``, :func:`resad_tf.config.option`,
in a method's Config and in the run options of :mod:`resad_tf.pipeline`); file
formats declare one per column (:mod:`resad_tf.data.formats`).  The ``check_*`` functions here
apply them and raise :class:`~resad_tf.errors.InputError` with one line that
names the option or the file and column, what is wrong and the fix.  The
column checks are vectorised: a million-event file costs milliseconds.

>>> Range(gt=0, lt=1), Range(ge=1), Range(ge=0, le=2**32 - 1)
(in (0, 1), >= 1, in [0, 4294967295])
>>> check_option("holdout", 1.0, Rule(Range(gt=0, lt=1)), default=0.5)
Traceback (most recent call last):
...
resad_tf.errors.InputError: --holdout=1.0 is out of range: must be in (0, 1) (default 0.5)
>>> check_option("classifier", "svm", Rule(choices=("mlp", "hgb")))
Traceback (most recent call last):
...
resad_tf.errors.InputError: --classifier='svm': choose one of ('mlp', 'hgb')
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping, Sequence

import numpy as np

from resad_tf.errors import InputError

_MISSING = dataclasses.MISSING


def _number(v) -> str:
    return str(v) if isinstance(v, (int, np.integer)) else f"{v:g}"


@dataclasses.dataclass(frozen=True)
class Range:
    """An interval of allowed numbers: ``ge``/``gt`` (>=, >) below, ``le``/``lt`` (<=, <) above."""

    ge: float | None = None
    gt: float | None = None
    le: float | None = None
    lt: float | None = None

    def __post_init__(self):
        if self.ge is not None and self.gt is not None or self.le is not None and self.lt is not None:
            raise TypeError("give at most one lower (ge or gt) and one upper (le or lt) bound")

    def __repr__(self) -> str:
        lo = ("[", self.ge) if self.ge is not None else ("(", self.gt) if self.gt is not None else None
        hi = ("]", self.le) if self.le is not None else (")", self.lt) if self.lt is not None else None
        if lo and hi:
            return f"in {lo[0]}{_number(lo[1])}, {_number(hi[1])}{hi[0]}"
        if lo:
            return f"{'>=' if lo[0] == '[' else '>'} {_number(lo[1])}"
        if hi:
            return f"{'<=' if hi[0] == ']' else '<'} {_number(hi[1])}"
        return "any number"

    __str__ = __repr__

    def contains(self, values) -> np.ndarray:
        """Element-wise: inside the range (NaN is not)."""
        v = np.asarray(values, dtype=np.float64)
        ok = ~np.isnan(v)
        if self.ge is not None:
            ok &= v >= self.ge
        if self.gt is not None:
            ok &= v > self.gt
        if self.le is not None:
            ok &= v <= self.le
        if self.lt is not None:
            ok &= v < self.lt
        return ok


@dataclasses.dataclass(frozen=True)
class Rule:
    """What an option or a column may hold: a range, a set of choices, or both (both must hold)."""

    range: Range | None = None
    choices: tuple | None = None
    what: str = ""  # what the values are, for messages about data columns ("a jet mass in GeV")

    def __str__(self) -> str:
        parts = ([f"one of {', '.join(_number(c) for c in self.choices)}"] if self.choices else []) + (
            [str(self.range)] if self.range else [])
        return " and ".join(parts) or "anything"

    def contains(self, values) -> np.ndarray:
        v = np.asarray(values)
        ok = np.ones(v.shape, bool)
        if self.choices is not None:
            ok &= np.isin(v, self.choices)
        if self.range is not None:
            ok &= self.range.contains(v)
        return ok


def rule(*, ge=None, gt=None, le=None, lt=None, choices=None, what: str = "") -> Rule:
    """A :class:`Rule` from keyword bounds (the ``option(...)`` and column-table spelling)."""
    bounds = dict(ge=ge, gt=gt, le=le, lt=lt)
    rng = Range(**bounds) if any(b is not None for b in bounds.values()) else None
    return Rule(rng, None if choices is None else tuple(choices), what)


def declared(field: dataclasses.Field) -> Rule:
    """The rule a dataclass field declares in its metadata (``option(..., ge=1)``); empty if none."""
    return field.metadata.get("rule", Rule())


# ----------------------------------------------------------------------------- options
def _shown(value) -> str:
    return ",".join(str(v) for v in value) if isinstance(value, (tuple, list)) else str(value)


def check_option(name: str, value, rule: Rule, default=_MISSING) -> None:
    """Raise an InputError unless ``value`` (or every element of a tuple) satisfies ``rule``.

    A tuple with a range needs at least one element.  ``None`` (an unset
    optional option) and booleans are not checked.
    """
    if value is None or isinstance(value, bool) or (not rule.range and not rule.choices):
        return
    if rule.choices is not None and not isinstance(value, (tuple, list)):
        if value not in rule.choices:
            raise InputError(f"--{name}={value!r}: choose one of {rule.choices}")
    if rule.range is None:
        return
    elements = value if isinstance(value, (tuple, list)) else (value,)
    if not elements:
        raise InputError(f"--{name} is empty: give at least one value, each {rule.range}")
    if not all(rule.range.contains(float(v)) for v in elements):
        hint = "" if default is _MISSING or default is None else f" (default {_shown(default)})"
        every = "every entry " if isinstance(value, (tuple, list)) else ""
        raise InputError(f"--{name}={_shown(value)} is out of range: {every}must be {rule.range}{hint}")


def check_options(obj) -> None:
    """Check every field of the dataclass ``obj`` against the rule it declares (:func:`declared`)."""
    for field in dataclasses.fields(obj):
        check_option(field.name, getattr(obj, field.name), declared(field), field.default)


# ----------------------------------------------------------------------------- data columns
def check_numeric(dtypes: Mapping[str, Any], source: str) -> None:
    """Raise an InputError naming the first column whose dtype is not numeric (text, objects, dates)."""
    for name, dtype in dtypes.items():
        dtype = np.dtype(dtype) if not hasattr(dtype, "kind") else dtype
        if dtype.kind not in "biuf":
            kind = "text" if dtype.kind in "OSU" else f"values of dtype {dtype}"
            raise InputError(
                f"{source}: column '{name}' holds {kind} (dtype {dtype}), not numbers; "
                "store it as numbers (e.g. pandas.to_numeric or array.astype(float)) and retry"
            )


def check_columns(values: np.ndarray, names: Sequence[str], rules: Mapping[str, Rule], source: str,
                  unit: str = "events") -> None:
    """Finite values in every column of ``values`` (n, k), and each column inside its rule.

    One vectorised pass per concern; the message names the first bad column,
    how many of the rows (``unit``) are bad and an example value.
    """
    finite = np.isfinite(values)
    if not finite.all():
        col = int(np.argmin(finite.all(axis=0)))
        raise InputError(
            f"{source}: column '{names[col]}' has {int((~finite[:, col]).sum())} NaN/inf values; "
            "clean the file or drop those events"
        )
    for j, name in enumerate(names):
        r = rules.get(name)
        if r is None:
            continue
        bad = ~r.contains(values[:, j])
        if bad.any():
            what = f" ({r.what})" if r.what else ""
            rows = np.flatnonzero(bad)
            shown = ", ".join(str(i) for i in rows[:5]) + (", ..." if len(rows) > 5 else "")
            raise InputError(
                f"{source}: column '{name}'{what} must be {r}, but {len(rows)} of {len(values)} {unit} "
                f"are not (rows {shown}; e.g. {_number(values[rows[0], j])}); fix or drop those events"
            )


def check_distinct(rows: np.ndarray, source: str, min_fraction: float = 0.9) -> None:
    """Raise an InputError if fewer than ``min_fraction`` of the events (rows) are distinct.

    Collision events are continuous measurements: two identical rows are (nearly) never
    physics.  A file made mostly of copies (rows repeated by a concatenation or np.tile)
    gives classifiers events they have memorised and meaningless scores (an AUC of 1.000).

    >>> check_distinct(np.tile([[1.0, 2.0], [3.0, 4.0]], (10, 1)), "f.h5", min_fraction=0.5)
    Traceback (most recent call last):
    ...
    resad_tf.errors.InputError: f.h5: only 2 of its 20 events (10%) are distinct, the rest are exact copies; \
collision events are (nearly) never identical, so this file was made by repeating rows: keep one of each \
(pandas drop_duplicates) and retry (at least 50% must be distinct)
    """
    import pandas as pd

    n = len(rows)
    if n == 0:
        return
    distinct = n - int(pd.DataFrame(rows).duplicated().sum())
    if distinct < min_fraction * n:
        raise InputError(
            f"{source}: only {distinct} of its {n} events ({100 * distinct / n:.2g}%) are distinct, the rest are "
            "exact copies; collision events are (nearly) never identical, so this file was made by repeating "
            f"rows: keep one of each (pandas drop_duplicates) and retry (at least {min_fraction:.0%} must be distinct)"
        )


def check_class_counts(y, needed: int, what: str, classes: Mapping[int, str] | None = None,
                       fix: str = "use more events (a larger file, a wider --sr) or fewer splits") -> None:
    """Raise an InputError unless each class (0 and 1) of ``y`` has at least ``needed`` events.

    ``what`` says which split needs them; ``classes`` names the classes, ``fix`` the remedy.

    >>> check_class_counts([0, 0, 0, 1], 2, "the validation split", {1: "signal-region data"})
    Traceback (most recent call last):
    ...
    resad_tf.errors.InputError: the validation split needs at least 2 events of each class, but class 1 \
(signal-region data) has 1; use more events (a larger file, a wider --sr) or fewer splits
    """
    y = np.asarray(y).reshape(-1)
    names = classes or {}
    for cls in (0, 1):
        n = int(np.sum(y == cls))
        if n < needed:
            label = f"class {cls}" + (f" ({names[cls]})" if cls in names else "")
            raise InputError(
                f"{what} needs at least {needed} event{'s' if needed != 1 else ''} of each class, "
                f"but {label} has {n}; {fix}"
            )
