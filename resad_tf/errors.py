"""Errors that users can cause.

Everything a user can get wrong (a missing file, a bad flag, an impossible
signal region) raises :class:`InputError` with a message that names the
culprit and, where possible, the fix.  ``resad_tf.cli`` turns it into one line
on stderr and exit status 2.  Anything else is a bug and stays a traceback.
"""


class InputError(ValueError):
    """A problem with user input: files, flags, regions, configuration."""
