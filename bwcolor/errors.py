"""Exceptions whose message is meant for the user: one line, naming the cause."""


class BwcolorError(Exception):
    """Base class for errors bwcolor reports to the user without a traceback."""


class ImageError(BwcolorError):
    """One input image cannot be read or one output image cannot be written."""


class ModelError(BwcolorError):
    """A model or checkpoint cannot be created or loaded."""


class UsageError(BwcolorError):
    """Options or paths that cannot work together (exit code 2)."""
