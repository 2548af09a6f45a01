//! The results that cross into Python, as typed objects: one class per kind
//! of call, its fields NumPy arrays. The Python package wraps them in its
//! public result types (`Retrieval`, `Samples`, `ModernRetrieval`).

use numpy::{PyArray1, PyArray2, PyArray3};
use pyo3::prelude::*;

use super::convert::{cube, matrix, unpack, vector};
use crate::engine::batch::BatchOutcome;
use crate::engine::glauber::Sampled;
use crate::modern::Retrieved;

/// What a binary model's retrieval returned, one entry per query.
#[pyclass(frozen, name = "Outcomes", module = "hopfield._core")]
pub struct Outcomes {
    /// Final states, int8 (B, N).
    #[pyo3(get)]
    states: Py<PyArray2<i8>>,
    /// Whether each query converged, bool (B,).
    #[pyo3(get)]
    converged: Py<PyArray1<bool>>,
    /// Whether each (sync) query stopped on a 2-cycle, bool (B,).
    #[pyo3(get)]
    cycled: Py<PyArray1<bool>>,
    /// Sweeps run, int64 (B,).
    #[pyo3(get)]
    sweeps: Py<PyArray1<i64>>,
    /// Energy of each final state, float64 (B,).
    #[pyo3(get)]
    energy: Py<PyArray1<f64>>,
    /// With `track_energy`: float64 (B, T), NaN-padded; else None.
    #[pyo3(get)]
    energy_trace: Option<Py<PyArray2<f64>>>,
}

impl Outcomes {
    /// The arrays of a batch's outcome (`trace`: include the energy traces).
    pub fn new(py: Python<'_>, result: &BatchOutcome, trace: bool) -> PyResult<Self> {
        let o = &result.outcomes;
        let energy_trace = match trace {
            true => {
                let (width, values) = result.trace_matrix();
                Some(matrix(py, values, o.len(), width)?.unbind())
            }
            false => None,
        };
        Ok(Outcomes {
            states: unpack(py, &result.states)?.unbind(),
            converged: vector(py, o.iter().map(|x| x.converged).collect()).unbind(),
            cycled: vector(py, o.iter().map(|x| x.cycled).collect()).unbind(),
            sweeps: vector(py, o.iter().map(|x| x.sweeps as i64).collect()).unbind(),
            energy: vector(py, o.iter().map(|x| x.energy).collect()).unbind(),
            energy_trace,
        })
    }
}

/// What sampling recorded, chain by chain.
#[pyclass(frozen, name = "Sampled", module = "hopfield._core")]
pub struct PySampled {
    /// The samples, int8 (chains, n_samples, N).
    #[pyo3(get)]
    samples: Py<PyArray3<i8>>,
    /// Their energies, float64 (chains, n_samples).
    #[pyo3(get)]
    sample_energy: Py<PyArray2<f64>>,
    /// Each chain's last state, int8 (chains, N).
    #[pyo3(get)]
    final_states: Py<PyArray2<i8>>,
    /// Their energies, float64 (chains,).
    #[pyo3(get)]
    final_energy: Py<PyArray1<f64>>,
}

impl PySampled {
    /// The arrays of `sampled`, `chains × per_chain` samples.
    pub fn new(py: Python<'_>, sampled: Sampled, per_chain: usize) -> PyResult<Self> {
        let chains = sampled.finals.rows();
        let n = sampled.finals.n();
        let values = super::run::parallel(py, None, || sampled.samples.to_spins())??;
        Ok(PySampled {
            samples: cube(py, values, (chains, per_chain, n))?.unbind(),
            sample_energy: matrix(py, sampled.energies, chains, per_chain)?.unbind(),
            final_states: unpack(py, &sampled.finals)?.unbind(),
            final_energy: vector(py, sampled.final_energies).unbind(),
        })
    }
}

/// What the modern network's retrieval returned, one entry per query.
#[pyclass(frozen, name = "ModernOutcomes", module = "hopfield._core")]
pub struct ModernOutcomes {
    /// Final states, (B, d_v) of the memory's dtype (float32 or float64).
    #[pyo3(get)]
    states: Py<PyAny>,
    /// Updates applied to each query, int64 (B,).
    #[pyo3(get)]
    steps: Py<PyArray1<i64>>,
    /// Whether each query's last update moved it by at most the tolerance,
    /// bool (B,).
    #[pyo3(get)]
    converged: Py<PyArray1<bool>>,
}

impl ModernOutcomes {
    /// The arrays of `rows` queries' results of width `width`, retrieved in parts.
    pub fn new<T: numpy::Element + Copy>(
        py: Python<'_>,
        parts: Vec<Retrieved<T>>,
        rows: usize,
        width: usize,
    ) -> PyResult<Self> {
        let mut states = Vec::with_capacity(rows * width);
        let mut steps = Vec::with_capacity(rows);
        let mut converged = Vec::with_capacity(rows);
        for p in parts {
            states.extend_from_slice(&p.states);
            steps.extend(p.steps.iter().map(|&s| s as i64));
            converged.extend_from_slice(&p.converged);
        }
        Ok(ModernOutcomes {
            states: matrix(py, states, rows, width)?.into_any().unbind(),
            steps: vector(py, steps).unbind(),
            converged: vector(py, converged).unbind(),
        })
    }
}
