"""The estimators: one module each."""

from ._chef import ChefCleaner
from ._cincer import CincerCleaner
from ._cross_fit import cross_fit_scores
from ._detection import ClassBasedIFDetector
from ._model_based import ModelBasedDetector
from ._review import ReviewCleaner

__all__ = ["ChefCleaner", "CincerCleaner", "ClassBasedIFDetector", "ModelBasedDetector",
           "ReviewCleaner", "cross_fit_scores"]
