"""The README and docs say what the code does: every default they quote is read from the text and
compared with the code's.

Each claim is a pattern with one group, the quoted value, and the default it states.  A claim whose
pattern no longer matches fails too: rewording a quoted default means updating its claim here, so a
default cannot drift away from its documentation unnoticed (as "3-5 parameters by F-test" once did).
"""

import dataclasses
import pathlib
import re

import pytest

from resad_tf.pipeline import RunOptions
from resad_tf.scan.options import METHOD_DEFAULTS, ScanOptions
from resad_tf.scan.tasks import HuntSettings

REPO = pathlib.Path(__file__).resolve().parents[1]


def _default(cls, name):
    field = {f.name: f for f in dataclasses.fields(cls)}[name]
    return field.default if field.default is not dataclasses.MISSING else field.default_factory()


def _numbers(text):
    return tuple(float(v) for v in re.findall(r"[0-9.]+", text))


def _first(value):
    return value[0] if isinstance(value, tuple) else value


def _windows():
    return len(ScanOptions().windows())


# (file, pattern with one group, parse the group, the code's value)
CLAIMS = [
    ("README.md", r"the dijet fit outside the window \(the most of 3-5 parameters that fit the sidebands, "
                  r"`--n_params=(\w+)`\)", str, lambda: _default(HuntSettings, "n_params")),
    ("README.md", r"`bin/scan` is the search itself: (\d+) signal regions", int, _windows),
    ("README.md", r"signal regions of ([0-9.]+) TeV", float, lambda: _default(ScanOptions, "window_width")),
    ("README.md", r"signal regions of [0-9.]+ TeV from ([0-9.]+ to [0-9.]+) TeV", _numbers,
     lambda: _default(ScanOptions, "scan_range")),
    ("README.md", r"every event of the ([0-9.]+-[0-9.]+)\s+TeV fit range", _numbers,
     lambda: _default(HuntSettings, "fit_range")),
    ("README.md", r"scored out of sample \((\d+) folds", int, lambda: _default(ScanOptions, "k")),
    ("README.md", r"cuts keeping ([0-9./]+) % of\s+each SR", lambda s: tuple(float(v) / 100 for v in s.split("/")),
     lambda: _default(HuntSettings, "efficiencies")),
    ("README.md", r"`--intra_op_threads`\s+\(default (\d+)", int, lambda: _default(RunOptions, "intra_op_threads")),
    ("docs/scan.md", r"`--fit_range`, default ([0-9.]+-[0-9.]+) TeV", _numbers,
     lambda: _default(HuntSettings, "fit_range")),
    ("docs/scan.md", r"`--k`\s+folds \(default (\d+)\)", int, lambda: _default(ScanOptions, "k")),
    ("docs/scan.md", r"`--efficiencies`, default ([0-9., ]+?) of the SR", _numbers,
     lambda: _default(HuntSettings, "efficiencies")),
    ("docs/scan.md", r"`--fit_gap` \(([0-9.]+) TeV", float, lambda: _default(HuntSettings, "fit_gap")),
    ("docs/scan.md", r"`--n_params=(\w+)` \(default\)", str, lambda: _default(HuntSettings, "n_params")),
    ("docs/scan.md", r"`--ftest_alpha` \(([0-9.]+)\)", float, lambda: _default(HuntSettings, "ftest_alpha")),
    ("docs/scan.md", r"`--blind_width` TeV, overlapping", None, None),
    *[("docs/scan.md", rf"--{name}=([^`\s]+)", parse, (lambda name=name: _first(METHOD_DEFAULTS[name])))
      for name, parse in (("max_iter", int), ("tree_learning_rate", float), ("min_samples_leaf", int),
                          ("l2_regularization", float), ("k_folds", int), ("oversampling", int), ("n_blocks", int),
                          ("flow_hidden", int), ("flow_epochs", int), ("flow_batch_size", int),
                          ("n_checkpoints", int))],
    ("docs/scan.md", r"`--sideband_width` TeV \(([0-9.]+)\)", float, lambda: METHOD_DEFAULTS["sideband_width"]),
    ("docs/scan.md", r"`--sideband_gap` TeV\s+\(([0-9.]+)\)", float, lambda: METHOD_DEFAULTS["sideband_gap"]),
]


@pytest.mark.parametrize("path, pattern, parse, code", CLAIMS, ids=[f"{c[0]}:{c[1][:40]}" for c in CLAIMS])
def test_quoted_defaults_match_the_code(path, pattern, parse, code):
    text = (REPO / path).read_text()
    match = re.search(pattern, text)
    assert match, f"{path} no longer says {pattern!r}: update the claim in tests/test_docs.py with the docs"
    if parse is None:  # the flag is named; its value is quoted by another claim
        return
    quoted = parse(match.group(1))
    expected = code()
    if isinstance(expected, tuple):
        expected = tuple(float(v) for v in expected)
    assert quoted == expected, f"{path} quotes {match.group(0)!r}, but the code's default is {expected!r}"
