"""Exception types that the CLI turns into one-line errors with a non-zero exit."""


class XtgeoError(Exception):
    """Base class for every error that is the user's input, not a bug: shown as one line."""


class SceneError(XtgeoError):
    """A scene folder or GeoTIFF that cannot be used; the message names the file and the problem."""


class LabelError(XtgeoError):
    """A label or prediction file that breaks the xView3 schema; names the file, row and column."""


class ConfigError(XtgeoError):
    """A configuration with an unknown key, a wrong type or a bad value; names the key."""
