"""The estimators: one module per paper."""

from ._detection import ClassBasedIFDetector, ModelBasedDetector

__all__ = ["ClassBasedIFDetector", "ModelBasedDetector"]
