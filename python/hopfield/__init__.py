"""hopfield: fast associative memories for NumPy.

Classical Hopfield networks on bit-packed spins and modern (continuous)
Hopfield networks with a fused softmax kernel, in Rust, checked
against a pure-NumPy reference (:mod:`hopfield.reference`).

This module is the public face: it imports the library (the models, spins,
results, persistence), the reference and the lab (experiments, theory, data,
images, plots, command line; :mod:`hopfield.lab`) and hands their public names
on. Nothing inside the package imports it.
"""

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
from types import ModuleType

from . import reference
from ._core import __version__, detected_simd, simd_level
from .dense import DenseAssociativeMemory
from .graded import GradedHopfieldNetwork, GradedRetrieval
from .hidden import HiddenNeuronMemory, HiddenRetrieval
from .ising import IsingProblem, MaxCut, Minimization, maxcut
from .lab import datasets, experiments, images, theory
from .lab.images import binarize, to_image
from .lab.letters import LETTERS, letter_patterns
from .modern import ModernHopfield, ModernRetrieval
from .network import HopfieldNetwork, sweep_orders
from .persist import load, save
from .results import Retrieval
from .sampling import Samples, acceptance_uniforms, sample
from .sequence import SequenceMemory, SequenceRecall
from .spiking import SpikingHopfieldNetwork, SpikingRun
from .spins import as_spins, corrupt, random_patterns, to_text

# ``hopfield.plot`` is public too, but it needs matplotlib (optional), so it is
# imported only when asked for (``from hopfield import plot``) and left out of
# ``__all__``: ``from hopfield import *`` must work without matplotlib.
__all__ = [
    "LETTERS",
    "DenseAssociativeMemory",
    "GradedHopfieldNetwork",
    "GradedRetrieval",
    "HiddenNeuronMemory",
    "HiddenRetrieval",
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
    "SpikingHopfieldNetwork",
    "SpikingRun",
    "__version__",
    "acceptance_uniforms",
    "as_spins",
    "binarize",
    "corrupt",
    "datasets",
    "detected_simd",
    "experiments",
    "images",
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

# The old module paths. The lab's modules used to sit at the top of the package,
# and the README and users import them by those names in every form (``import
# hopfield.plot``, ``from hopfield.experiments import hamming_matrix``). This
# finder answers each old name with the lab module itself (one module object
# under two names), on first import, so that ``import hopfield`` still does not
# import matplotlib for ``hopfield.plot``.
#
# ``hopfield.distributed`` (the lab's Dask layer, which needs the optional dask)
# is answered the same way, on first import only, so ``import hopfield`` never
# imports dask.
_MOVED_TO_LAB = ("cli", "datasets", "distributed", "experiments", "images", "plot", "theory")


class _OldLabPath(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """``hopfield.<name>`` for the ``hopfield.lab.<name>`` in :data:`_MOVED_TO_LAB`."""

    def find_spec(
        self, fullname: str, path: object = None, target: object = None
    ) -> importlib.machinery.ModuleSpec | None:
        package, _, name = fullname.rpartition(".")
        if package != __name__ or name not in _MOVED_TO_LAB:
            return None
        return importlib.util.spec_from_loader(fullname, self)

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(f"{__name__}.lab.{spec.name.rpartition('.')[2]}")
        spec.loader_state = module.__spec__  # the import system sets __spec__ next
        return module

    def exec_module(self, module: ModuleType) -> None:
        spec = module.__spec__
        if spec is not None and isinstance(spec.loader_state, importlib.machinery.ModuleSpec):
            module.__spec__ = spec.loader_state  # the lab module keeps its own


sys.meta_path.append(_OldLabPath())
