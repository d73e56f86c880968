"""The estimators: one module per paper."""

from ._chef import ChefCleaner
from ._cincer import CincerCleaner
from ._detection import ClassBasedIFDetector, ModelBasedDetector

__all__ = ["ChefCleaner", "CincerCleaner", "ClassBasedIFDetector", "ModelBasedDetector"]
