"""Options as frozen dataclasses: declared once, with help, turned into flags and JSON.

Every set of options resad_tf takes (the run options of :mod:`resad_tf.pipeline`,
each method's ``Config``, the shared classifier and flow options) is a frozen
:class:`Options` dataclass whose fields are declared with :func:`option`: a
default, a help text that says what the option does, and the values it allows
(``ge``/``gt``/``le``/``lt`` bounds, ``choices``).  :class:`Options` checks them
when an instance is made (:func:`resad_tf.validation.check_options`), so a bad
flag or argument fails before any data is read, with one line naming it.
:mod:`resad_tf.cli` makes one absl flag per field; :func:`to_dict` /
:func:`from_dict` carry the values through metrics.json and model manifests.

>>> import dataclasses
>>> @dataclasses.dataclass(frozen=True)
... class Demo(Options):
...     hidden: tuple[int, ...] = option((64, 64), "hidden layer sizes", ge=1)
...     rate: float = option(1e-3, "learning rate", gt=0)
>>> from_dict(Demo, {"hidden": [8], "rate": 0.1, "not_an_option": 1})
Demo(hidden=(8,), rate=0.1)
>>> help_text(Demo, "rate")
'learning rate'
>>> Demo(rate=0.0)
Traceback (most recent call last):
...
resad_tf.errors.InputError: --rate=0.0 is out of range: must be > 0 (default 0.001)
"""

from __future__ import annotations

import dataclasses
import types
import typing

from resad_tf.validation import check_options, rule

#: the upper bound of the options that count training epochs or iterations: beyond it a typo
#: (--epochs=9223372036854775808) would start a training that never ends
MAX_ITERATIONS = 100_000


def option(default, help: str, *, ge=None, gt=None, le=None, lt=None, choices=None, **kwargs):
    """A dataclass field with a help text (shown by ``bin/<script> --help``) and its allowed values.

    ``ge``/``gt``/``le``/``lt`` bound a number (every entry of a tuple), ``choices``
    lists the allowed values; :class:`Options` checks them when an instance is made.
    """
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for list-valued options")
    allowed = rule(ge=ge, gt=gt, le=le, lt=lt, choices=choices)
    return dataclasses.field(default=default, metadata={"help": help, "rule": allowed}, **kwargs)


@dataclasses.dataclass(frozen=True)
class Options:
    """Base of every option dataclass: each field is checked against the values its :func:`option` allows.

    Subclasses with checks across fields define ``__post_init__`` and call ``super().__post_init__()``.
    """

    def __post_init__(self):
        check_options(self)


def help_text(cls, name: str) -> str:
    """The help text of option ``name`` of the dataclass ``cls`` (its name when it has none)."""
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    return field.metadata.get("help", name)


def kind(cls, name: str) -> type:
    """The value type of option ``name``: bool, int, float, str or tuple (``X | None`` gives X)."""
    t = typing.get_type_hints(cls)[name]
    origin = typing.get_origin(t)
    if origin in (tuple, list):
        return tuple
    if origin in (typing.Union, types.UnionType):
        t = next(a for a in typing.get_args(t) if a is not type(None))
    return t if t in (bool, int, float, str) else str


def element_type(cls, name: str) -> type:
    """The element type of the tuple-valued option ``name`` (str when unannotated)."""
    args = typing.get_args(typing.get_type_hints(cls)[name])
    return args[0] if args else str


def to_dict(config) -> dict:
    """The options as a plain dict (tuples stay tuples; JSON writers turn them into lists)."""
    return dataclasses.asdict(config)


def from_dict(cls, values: dict):
    """``cls`` from its JSON form: lists back to tuples; keys that are not options are ignored."""
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {}
    for k, v in values.items():
        if k in names:
            kwargs[k] = tuple(v) if kind(cls, k) is tuple and v is not None else v
    return cls(**kwargs)


def project(cls, config):
    """The options of ``cls`` taken from ``config`` (an instance of ``cls`` or of a subclass of it).

    A method's Config extends the shared classifier or flow options; the
    components it builds keep only the part they use.
    """
    if type(config) is cls:
        return config
    return cls(**{f.name: getattr(config, f.name) for f in dataclasses.fields(cls)})
