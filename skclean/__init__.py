"""skclean: find and fix wrong labels with influence functions and an annotator in the loop."""

from ._version import __version__
from .cleaners import ChefCleaner, CincerCleaner, ClassBasedIFDetector, ModelBasedDetector
from .oracles import ConsoleOracle, MajorityVoteOracle, SimulatedOracle

__all__ = [
    "ChefCleaner",
    "CincerCleaner",
    "ClassBasedIFDetector",
    "ConsoleOracle",
    "MajorityVoteOracle",
    "ModelBasedDetector",
    "SimulatedOracle",
    "__version__",
]
