"""Matplotlib displays, in scikit-learn's ``*Display`` style.

Each display's constructor stores the data to draw; its ``from_*``
classmethods compute that data (from a fitted estimator or from
predictions) and call :meth:`plot`, which draws on an Axes and keeps the
artists (``ax_``, ``figure_``, ...).
"""

from ._cleaning_curve import CleaningCurveDisplay, cleaning_curve
from ._detection import DetectionDisplay, precision_at
from ._influence import InfluenceDisplay
from ._question import QuestionDisplay

__all__ = [
    "CleaningCurveDisplay",
    "DetectionDisplay",
    "InfluenceDisplay",
    "QuestionDisplay",
    "cleaning_curve",
    "precision_at",
]
