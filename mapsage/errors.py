"""The one exception type users see: a problem they can fix, described in plain words."""


class MapSageError(Exception):
    """A user-fixable problem. The message names the value or path, what was expected and the fix.

    The CLIs print it without a traceback (``--debug`` shows one); the notebook shows it as the
    failing cell's error.
    """


class ParamError(MapSageError, ValueError):
    """A training parameter has an unknown name, a wrong type or a value out of range."""
