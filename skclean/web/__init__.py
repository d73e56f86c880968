"""Reviewing labels in the browser: :class:`WebOracle` (the ``web`` extra: Flask).

Read more in the :ref:`User Guide <web-review>`.
"""

from ._oracle import WebOracle

__all__ = ["WebOracle"]
