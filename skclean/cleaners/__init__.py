"""The estimators: one module each."""

from ._chef import ChefCleaner
from ._cincer import CincerCleaner
from ._detection import ClassBasedIFDetector
from ._model_based import ModelBasedDetector

__all__ = ["ChefCleaner", "CincerCleaner", "ClassBasedIFDetector", "ModelBasedDetector"]
