"""Errors that reach the operator as one line, not as a traceback."""


class UserError(Exception):
    """Bad input or a refused action: one line naming the problem and the fix; nothing changed."""


class StepFailed(AssertionError):
    """A Paso's check failed; the message says what was expected and what was found."""
