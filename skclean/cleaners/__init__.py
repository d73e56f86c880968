"""The estimators: one module per paper."""

from ._cincer import CincerCleaner
from ._detection import ClassBasedIFDetector, ModelBasedDetector

__all__ = ["CincerCleaner", "ClassBasedIFDetector", "ModelBasedDetector"]
