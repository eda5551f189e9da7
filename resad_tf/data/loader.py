"""One entry point from "what the user typed after --data" to :class:`Events`.

``load("toy")`` runs the embedded LHCO-like generator; a ``.h5`` path is read
as LHCO v2 features; a ``.npy`` file or a directory of ``innerdata_*`` /
``outerdata_*`` arrays as CATHODE-style arrays.
"""

from __future__ import annotations

import pathlib
from dataclasses import dataclass

from resad_tf.data import features, formats
from resad_tf.data.events import Events
from resad_tf.errors import InputError
from resad_tf.validation import check_distinct


@dataclass(frozen=True)
class ToySpec:
    """What ``--data=toy`` generates (see :mod:`resad_tf.data.toy`)."""

    n_background: int = 1_000_000
    n_signal: int = 50_000  # the signal pool that --n_sig draws from; the rest feeds the test set
    background: str = "pythia"
    signal_masses: tuple[float, float, float] = (3.5, 0.5, 0.1)  # m_W', m_X, m_Y in TeV
    correlated: bool = False

    def frame(self, seed: int, quiet: bool = False):
        from resad_tf.data import toy

        return toy.generate(
            self.n_background,
            self.n_signal,
            seed=seed,
            background=self.background,
            signal=toy.SignalModel(*self.signal_masses),
            correlated=self.correlated,
            quiet=quiet,
        )


def load(spec, *, feature_set: str = "standard", seed: int = 0, toy: ToySpec | None = None,
         quiet: bool = False, flag: str = "--data") -> Events:
    """Load events from ``"toy"``, a v2 features ``.h5``, a ``.npy`` or a directory of arrays.

    ``flag`` names the option the path came from, for error messages.  A file is refused
    when most of its events are copies of each other (:func:`resad_tf.validation.check_distinct`).
    """
    if str(spec) == "toy":
        toy = toy or ToySpec()
        return features.from_v2(toy.frame(seed, quiet), feature_set, source=f"toy({toy.background}, seed={seed})")
    path = pathlib.Path(spec)
    if not path.exists():
        raise InputError(f"{flag}={spec}: file or directory not found (use --data=toy for the generator)")
    if path.is_dir() or path.suffix == ".npy":
        arr = formats.read_cathode(path)
        check_distinct(arr, str(path))
        return features.from_cathode(arr, feature_set, source=str(path))
    if path.suffix in (".h5", ".hdf5", ".hdf"):
        df = formats.read_v2(path)
        check_distinct(df.to_numpy(), str(path))
        return features.from_v2(df, feature_set, source=str(path))
    raise InputError(
        f"{flag}={spec}: unknown format '{path.suffix}'; expected an LHCO v2 features .h5, "
        "a CATHODE .npy (or a directory of them), or 'toy'"
    )
