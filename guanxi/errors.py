"""The one base class for failures a user should see as a single line (never a traceback)."""


class GuanxiError(Exception):
    """A user-facing failure whose message is one line starting with the stage that raised it."""
