"""hopfield: fast associative memories for NumPy.

Classical Hopfield networks on bit-packed spins and modern (continuous)
Hopfield networks with a fused softmax kernel, in Rust, checked
against a pure-NumPy reference (:mod:`hopfield.reference`).
"""

from . import reference
from ._core import __version__, detected_simd, simd_level
from .modern import ModernHopfield, ModernRetrieval
from .network import HopfieldNetwork, sweep_orders
from .results import Retrieval
from .sequence import SequenceMemory, SequenceRecall
from .spins import LETTERS, as_spins, corrupt, letter_patterns, random_patterns, to_text

__all__ = [
    "LETTERS",
    "HopfieldNetwork",
    "ModernHopfield",
    "ModernRetrieval",
    "Retrieval",
    "SequenceMemory",
    "SequenceRecall",
    "__version__",
    "as_spins",
    "corrupt",
    "detected_simd",
    "letter_patterns",
    "random_patterns",
    "reference",
    "simd_level",
    "sweep_orders",
    "to_text",
]
