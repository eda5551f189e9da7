"""Errors that users can cause, and training faults.

Everything a user can get wrong (a missing file, a bad flag, an impossible
signal region) raises :class:`InputError` with a message that names the
culprit and, where possible, the fix.  ``resad_tf.cli`` turns it into one line
on stderr and exit status 2.  A training whose loss became NaN/inf and could
not recover raises :class:`TrainingDiverged`: not the user's input, but not a
bug either; the scripts report it in one line with exit status 1.  Anything
else is a bug and stays a traceback.
"""


class InputError(ValueError):
    """A problem with user input: files, flags, regions, configuration."""


class TrainingDiverged(RuntimeError):
    """A training's loss became NaN/inf and did not recover (retries exhausted)."""
