//! The results that cross into Python, as typed objects: one class per kind
//! of call, its fields NumPy arrays. The Python package wraps them in its
//! public result types (`Retrieval`, `Samples`, `ModernRetrieval`).

use numpy::{PyArray1, PyArray2, PyArray3};
use pyo3::prelude::*;

use super::convert::{cube, matrix, unpack, vector};
use crate::engine::batch::BatchOutcome;
use crate::engine::glauber::Sampled;
use crate::engine::schedule::Outcome;
use crate::error::Error;
use crate::modern::Retrieved;
use crate::spins::unpack_row;

/// What a binary model's retrieval returned, one entry per query. The
/// arrays are built when asked for (each access builds a new one): a
/// one-query call reads [`Outcomes::first`] instead, and never pays for the
/// five batch arrays.
#[pyclass(frozen, name = "Outcomes", module = "hopfield._core")]
pub struct Outcomes {
    result: BatchOutcome,
    /// Whether the energy traces were recorded (`track_energy`).
    trace: bool,
}

impl Outcomes {
    /// The outcome of a batch (`trace`: the energy traces were recorded).
    pub fn new(result: BatchOutcome, trace: bool) -> Self {
        Outcomes { result, trace }
    }

    fn each<'py, T: numpy::Element>(
        &self,
        py: Python<'py>,
        field: impl Fn(&Outcome) -> T,
    ) -> Bound<'py, PyArray1<T>> {
        vector(py, self.result.outcomes.iter().map(field).collect())
    }
}

/// The first query's outcome as Python values: its state (a new int8
/// `(N,)` array), `converged`, `sweeps`, `energy`, `cycled` and its energy
/// trace (`(T,)`, or None).
type FirstOutcome<'py> = (
    Bound<'py, PyArray1<i8>>,
    bool,
    i64,
    f64,
    bool,
    Option<Bound<'py, PyArray1<f64>>>,
);

#[pymethods]
impl Outcomes {
    /// Final states, int8 (B, N).
    #[getter]
    fn states<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i8>>> {
        unpack(py, &self.result.states)
    }

    /// Whether each query converged, bool (B,).
    #[getter]
    fn converged<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        self.each(py, |o| o.converged)
    }

    /// Whether each (sync) query stopped on a 2-cycle, bool (B,).
    #[getter]
    fn cycled<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<bool>> {
        self.each(py, |o| o.cycled)
    }

    /// Sweeps run, int64 (B,).
    #[getter]
    fn sweeps<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<i64>> {
        self.each(py, |o| i64::from(o.sweeps))
    }

    /// Energy of each final state, float64 (B,).
    #[getter]
    fn energy<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        self.each(py, |o| o.energy)
    }

    /// With `track_energy`: float64 (B, T), NaN-padded; else None.
    #[getter]
    fn energy_trace<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray2<f64>>>> {
        if !self.trace {
            return Ok(None);
        }
        let (width, values) = self.result.trace_matrix();
        Ok(Some(matrix(py, values, self.result.outcomes.len(), width)?))
    }

    /// The first query's outcome as Python values (what a one-query call
    /// returns): no batch arrays are built.
    fn first<'py>(&self, py: Python<'py>) -> PyResult<FirstOutcome<'py>> {
        let states = &self.result.states;
        let first = self
            .result
            .outcomes
            .first()
            .ok_or_else(|| Error::Value("the retrieval has no query".into()))?;
        let mut row = vec![0i8; states.n()];
        unpack_row(states.row(0), &mut row);
        let trace = self.trace.then(|| PyArray1::from_slice(py, &first.trace));
        Ok((
            vector(py, row),
            first.converged,
            i64::from(first.sweeps),
            first.energy,
            first.cycled,
            trace,
        ))
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
