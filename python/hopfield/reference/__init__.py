r"""Pure-NumPy reference of every model, one module per model.

This package is the oracle that the Rust kernels are tested against, and the
speed baseline that the benchmarks measure them against. It depends on NumPy
and the standard library only (no other part of :mod:`hopfield`), and each
module follows its model's arithmetic literally so that results can be
compared bit for bit:

* :mod:`~hopfield.reference.hebbian`: the classical Hebbian network (weights,
  fields, energy, fixed points, asynchronous and synchronous retrieval);
* :mod:`~hopfield.reference.weights`: networks over an explicit weight matrix,
  the learning rules (Storkey, pseudo-inverse, covariance) and sequences;
* :mod:`~hopfield.reference.dense`: the dense associative memory;
* :mod:`~hopfield.reference.modern`: the modern (continuous) Hopfield network;
* :mod:`~hopfield.reference.graded`: the graded-response network (Hopfield 1984);
* :mod:`~hopfield.reference.hidden`: the hidden-neuron memory (Krotov & Hopfield 2021);
* :mod:`~hopfield.reference.spiking`: the spiking (leaky integrate-and-fire) network;
* :mod:`~hopfield.reference.glauber`: stochastic (Glauber) dynamics and the
  Boltzmann distribution;
* :mod:`~hopfield.reference.ising`: Ising energies, QUBO and max-cut;
* :mod:`~hopfield.reference.measures`: the experiments' measurements.

This module only hands their names on: ``hopfield.reference.retrieve_sync`` is
:func:`hopfield.reference.hebbian.retrieve_sync`.

Notation and conventions
------------------------
* ``X``: stored patterns, ``(P, N)`` ``int8`` of ±1 (row ``μ`` is ``ξ^μ``).
* ``S``: states, ``(B, N)`` ``int8`` of ±1, or one state ``(N,)``; functions
  that take a batch also take a single state and then drop the batch axis.
* ``theta``: thresholds ``θ``, ``float64`` ``(N,)``; a scalar broadcasts.

Weights (Hebbian rule, zero diagonal)::

    W = (1/N) Σ_μ ξ^μ ξ^μᵀ,   W_ii = 0

Local field ``h = W s − θ`` and energy ``E = −½ sᵀ W s + θ·s``, computed from
exact integers (see :mod:`~hopfield.reference.hebbian`).

Update rule of neuron ``i``: ``s_i ← +1`` if ``h_i > 0``, ``−1`` if
``h_i < 0``, and unchanged if ``h_i == 0`` (ties keep the state).

Nothing here validates its input beyond what NumPy does: pass ±1 ``int8``
arrays of consistent shapes.
"""

from ._common import AsyncResult, SyncResult
from .dense import (
    dense_energy,
    dense_fixed_point_bits,
    dense_fixed_table,
    dense_retrieve_async,
    dense_retrieve_async_batched,
    dense_retrieve_sync,
)
from .glauber import (
    all_states,
    boltzmann_distribution,
    glauber_dense,
    glauber_hebbian,
    total_variation,
)
from .graded import graded_drive, graded_energy, graded_integrate, graded_output
from .hebbian import (
    FLOAT32_EXACT_LIMIT,
    INT32_LIMIT,
    energy,
    fields,
    hebbian_weights,
    integer_weights,
    is_fixed_point,
    overlaps,
    retrieve_async,
    retrieve_async_batched,
    retrieve_sync,
)
from .hidden import (
    hidden_drive,
    hidden_energy,
    hidden_features,
    hidden_hiddens,
    hidden_integrate,
)
from .ising import cut_value, ising_energy, maxcut_brute_force, qubo_to_ising, qubo_value
from .measures import CapacityPoint, capacity_point, hamming_matrix, similarity_matrix
from .modern import modern_attention, modern_energy, modern_retrieve, modern_update
from .spiking import (
    SpikingRun,
    lif_propagators,
    lif_rate,
    rate_overlaps,
    sparse_covariance_weights,
    spiking_simulate,
)
from .weights import (
    COMMON_FACTOR_TOL,
    WeightsAsyncResult,
    WeightsSyncResult,
    common_factor,
    covariance_weights,
    exact_form,
    grid_exponent,
    pseudoinverse_weights,
    quantize_weights,
    sequence_recall,
    sequence_weights,
    storkey_weights,
    weight_energy,
    weight_fields,
    weights_retrieve_async,
    weights_retrieve_async_batched,
    weights_retrieve_sync,
)

__all__ = [
    # _common: the result types of retrieval
    "AsyncResult",
    "SyncResult",
    # hebbian
    "FLOAT32_EXACT_LIMIT",
    "INT32_LIMIT",
    "energy",
    "fields",
    "hebbian_weights",
    "integer_weights",
    "is_fixed_point",
    "overlaps",
    "retrieve_async",
    "retrieve_async_batched",
    "retrieve_sync",
    # weights
    "COMMON_FACTOR_TOL",
    "WeightsAsyncResult",
    "WeightsSyncResult",
    "common_factor",
    "covariance_weights",
    "exact_form",
    "grid_exponent",
    "pseudoinverse_weights",
    "quantize_weights",
    "sequence_recall",
    "sequence_weights",
    "storkey_weights",
    "weight_energy",
    "weight_fields",
    "weights_retrieve_async",
    "weights_retrieve_async_batched",
    "weights_retrieve_sync",
    # dense
    "dense_energy",
    "dense_fixed_point_bits",
    "dense_fixed_table",
    "dense_retrieve_async",
    "dense_retrieve_async_batched",
    "dense_retrieve_sync",
    # modern
    "modern_attention",
    "modern_energy",
    "modern_retrieve",
    "modern_update",
    # graded
    "graded_drive",
    "graded_energy",
    "graded_integrate",
    "graded_output",
    # hidden
    "hidden_drive",
    "hidden_energy",
    "hidden_features",
    "hidden_hiddens",
    "hidden_integrate",
    # spiking
    "SpikingRun",
    "lif_propagators",
    "lif_rate",
    "rate_overlaps",
    "sparse_covariance_weights",
    "spiking_simulate",
    # glauber
    "all_states",
    "boltzmann_distribution",
    "glauber_dense",
    "glauber_hebbian",
    "total_variation",
    # ising
    "cut_value",
    "ising_energy",
    "maxcut_brute_force",
    "qubo_to_ising",
    "qubo_value",
    # measures
    "CapacityPoint",
    "capacity_point",
    "hamming_matrix",
    "similarity_matrix",
]
