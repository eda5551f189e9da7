"""The errors resad_tf raises on purpose, and what the scripts make of them.

* :class:`InputError`: the user's input is wrong (a missing or malformed file, a
  bad flag, an impossible signal region); the message names the culprit and,
  where possible, the fix.  Scripts print it as one line and exit with status 2.
* :class:`TrainingDiverged`: a training loop met a NaN/inf loss it could not
  recover from; the message says which model diverged and what to try.
  Scripts print one line and exit with status 1.
* :class:`NotFittedError`: a fitted component was used (``score``, ``save``)
  before ``fit``.  Scripts print one line and exit with status 1.

All three derive from :class:`ResadError`, so ``except ResadError`` catches
everything resad_tf raises deliberately; anything else is a bug and stays a
traceback.

>>> try:
...     raise TrainingDiverged("MLP training diverged; try a smaller learning_rate")
... except ResadError as err:
...     print(type(err).__name__, exit_status(err))
TrainingDiverged 1
"""


class ResadError(Exception):
    """Base class of the errors resad_tf raises deliberately (not bugs)."""


class InputError(ResadError, ValueError):
    """A problem with user input: files, flags, regions, configuration."""


class TrainingDiverged(ResadError, RuntimeError):
    """Training met a non-finite (NaN/inf) loss and could not recover."""


class NotFittedError(ResadError, AttributeError):
    """A fitted component's learned state was used before ``fit()`` (or a failed ``fit()``)."""


def exit_status(error: BaseException) -> int | None:
    """The exit status a script ends with for ``error``: 2 for user input, 1 for other resad_tf
    errors, None for anything else (a bug: let the traceback through)."""
    if isinstance(error, InputError):
        return 2
    if isinstance(error, ResadError):
        return 1
    return None
