"""skclean: find and fix wrong labels with influence functions and an annotator in the loop."""

from ._version import __version__

__all__ = ["__version__"]
