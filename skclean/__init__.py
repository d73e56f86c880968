"""skclean: find and fix wrong labels with influence functions and an annotator in the loop."""

from ._version import __version__
from .cleaners import (
    ChefCleaner,
    CincerCleaner,
    ClassBasedIFDetector,
    ModelBasedDetector,
    ReviewCleaner,
    cross_fit_scores,
)
from .display import CleaningCurveDisplay, DetectionDisplay, InfluenceDisplay, QuestionDisplay
from .oracles import BudgetedOracle, ConsoleOracle, MajorityVoteOracle, SimulatedOracle

__all__ = [
    "BudgetedOracle",
    "ChefCleaner",
    "CincerCleaner",
    "ClassBasedIFDetector",
    "CleaningCurveDisplay",
    "ConsoleOracle",
    "DetectionDisplay",
    "InfluenceDisplay",
    "MajorityVoteOracle",
    "ModelBasedDetector",
    "QuestionDisplay",
    "ReviewCleaner",
    "SimulatedOracle",
    "__version__",
    "cross_fit_scores",
]
