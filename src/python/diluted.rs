//! `_core.Diluted`: Hebbian weights on sparse, seeded, symmetric connectivity.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::convert::{matrix, pack, parallel, unpack, vector};
use super::queries;
use super::retrieve::{run, PySchedule};
use super::shared::Shared;
use crate::model::Diluted;

/// Pairs (E, 2) and integer weights (E,).
type Connectivity<'py> = (Bound<'py, PyArray2<i64>>, Bound<'py, PyArray1<i64>>);

/// A diluted Hebbian memory (compressed rows of exact integer weights).
///
/// `store` replaces the shared memory copy-on-write, so a retrieval running
/// in another thread keeps the weights it started with.
#[pyclass(frozen, name = "Diluted", module = "hopfield._core")]
pub struct PyDiluted {
    memory: Shared<Diluted>,
}

#[pymethods]
impl PyDiluted {
    #[new]
    fn new(
        py: Python<'_>,
        n: usize,
        threshold: PyReadonlyArray1<'_, f64>,
        dilution: f64,
        seed: u64,
    ) -> PyResult<Self> {
        let threshold = threshold.as_array().to_vec();
        let memory = parallel(py, None, || Diluted::new(n, dilution, seed, threshold))??;
        Ok(PyDiluted {
            memory: Shared::new(memory),
        })
    }

    /// Number of neurons.
    #[getter]
    fn n(&self) -> usize {
        self.memory.snapshot().n()
    }

    /// Number of stored patterns.
    #[getter]
    fn num_patterns(&self) -> usize {
        self.memory.snapshot().patterns().rows()
    }

    /// Bytes held by the memory.
    #[getter]
    fn nbytes(&self) -> usize {
        self.memory.snapshot().nbytes()
    }

    /// Number of directed connections (twice the symmetric pairs).
    #[getter]
    fn connections(&self) -> usize {
        self.memory.snapshot().connections()
    }

    /// Appends int8 (P, N) patterns and updates the connected weights.
    fn store(&self, patterns: PyReadonlyArray2<'_, i8>) -> PyResult<()> {
        let memory = self.memory.snapshot();
        let packed = pack(&patterns, "patterns", memory.n())?;
        self.memory.update(|m| m.store(&packed))?;
        Ok(())
    }

    /// The stored patterns, int8 (P, N).
    fn patterns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i8>>> {
        unpack(py, self.memory.snapshot().patterns())
    }

    /// The thresholds θ, float64 (N,).
    fn threshold<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        vector(py, self.memory.snapshot().threshold().to_vec())
    }

    /// The connections: int64 (E, 2) pairs (i, j), both directions, and
    /// the int64 (E,) integer weights N·W_ij.
    fn connectivity<'py>(&self, py: Python<'py>) -> PyResult<Connectivity<'py>> {
        let memory = self.memory.snapshot();
        let pairs: Vec<i64> = memory
            .pairs()
            .into_iter()
            .flat_map(|(i, j)| [i as i64, j as i64])
            .collect();
        let e = pairs.len() / 2;
        let values = memory.values().iter().map(|&v| v as i64).collect();
        Ok((matrix(py, pairs, e, 2)?, vector(py, values)))
    }

    /// Energies of int8 (B, N) states, float64 (B,).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        queries::energies(py, &*self.memory.snapshot(), &states)
    }

    /// Local fields of int8 (B, N) states, float64 (B, N).
    fn fields<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let memory = self.memory.snapshot();
        queries::fields(py, memory.n(), &states, |row, out| memory.fields(row, out))
    }

    /// Overlaps ξ^μ·s / N of int8 (B, N) states, float64 (B, P).
    fn overlaps<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        queries::overlaps(py, self.memory.snapshot().patterns(), &states)
    }

    /// Runs `schedule` from int8 (B, N) queries; returns a dict of arrays
    /// (see `retrieve::run`).
    fn retrieve<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'_, i8>,
        schedule: PyRef<'py, PySchedule>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let memory = self.memory.snapshot();
        run(py, &*memory, &queries, &schedule)
    }
}
