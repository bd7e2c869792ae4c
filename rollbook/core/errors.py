"""Errors that reach the operator as one line, not as a traceback."""


class UserError(Exception):
    """Bad input or a refused action: one line naming the problem and the fix; nothing changed."""


class StepFailed(AssertionError):
    """A Paso's check failed; the message says what was expected and what was found."""


class NotConfigured(Exception):
    """A check whose environment setting is empty: it has nothing to look at, so it is reported
    "no configurado" (the Paso skipped, a visible warning), never passed. The message names the
    setting."""
