"""hopfield: fast associative memories for NumPy.

Classical Hopfield networks on bit-packed spins and modern (continuous)
Hopfield networks with a fused softmax kernel, in Rust, checked
against a pure-NumPy reference (:mod:`hopfield.reference`).
"""

from . import datasets, experiments, reference, theory
from ._core import __version__, detected_simd, simd_level
from .dense import DenseAssociativeMemory
from .images import binarize, to_image
from .ising import IsingProblem, MaxCut, Minimization, maxcut
from .modern import ModernHopfield, ModernRetrieval
from .network import HopfieldNetwork, sweep_orders
from .persist import load, save
from .results import Retrieval
from .sampling import Samples, acceptance_uniforms, sample
from .sequence import SequenceMemory, SequenceRecall
from .spins import LETTERS, as_spins, corrupt, letter_patterns, random_patterns, to_text

__all__ = [
    "LETTERS",
    "DenseAssociativeMemory",
    "HopfieldNetwork",
    "IsingProblem",
    "MaxCut",
    "Minimization",
    "ModernHopfield",
    "ModernRetrieval",
    "Retrieval",
    "Samples",
    "SequenceMemory",
    "SequenceRecall",
    "__version__",
    "acceptance_uniforms",
    "as_spins",
    "binarize",
    "corrupt",
    "datasets",
    "detected_simd",
    "experiments",
    "letter_patterns",
    "load",
    "random_patterns",
    "reference",
    "save",
    "maxcut",
    "sample",
    "simd_level",
    "sweep_orders",
    "theory",
    "to_image",
    "to_text",
]
