//! `_core.Dense`: the dense associative memory behind
//! `hopfield.DenseAssociativeMemory`.

use numpy::{PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::convert::{pack, parallel, unpack};
use super::queries;
use super::retrieve::{run, PySchedule};
use super::shared::Shared;
use crate::model::{Dense, Interaction};

/// A dense associative memory of bit-packed patterns.
///
/// `store` replaces the shared memory copy-on-write, so a retrieval running
/// in another thread keeps the patterns it started with: no torn state.
#[pyclass(frozen, name = "Dense", module = "hopfield._core")]
pub struct PyDense {
    memory: Shared<Dense>,
}

#[pymethods]
impl PyDense {
    #[new]
    #[pyo3(signature = (n, *, interaction, degree, rectified, beta))]
    fn new(n: usize, interaction: &str, degree: u32, rectified: bool, beta: f64) -> PyResult<Self> {
        let interaction = match interaction {
            "polynomial" => Interaction::Polynomial { degree, rectified },
            "exponential" => Interaction::Exponential { beta },
            other => {
                return Err(PyValueError::new_err(format!(
                    "interaction must be 'polynomial' or 'exponential', got {other:?}"
                )))
            }
        };
        Ok(PyDense {
            memory: Shared::new(Dense::new(n, interaction)?),
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

    /// The fixed-point scale S of exponential decisions with the patterns
    /// stored now (2^S is the largest term).
    #[getter]
    fn fixed_point_bits(&self) -> u32 {
        crate::model::dense::fixed_point_bits(self.memory.snapshot().patterns().rows())
    }

    /// Appends patterns, an int8 (P, N) array of ±1.
    fn store(&self, patterns: PyReadonlyArray2<'_, i8>) -> PyResult<()> {
        let n = self.memory.snapshot().n();
        let packed = pack(&patterns, "patterns", n)?;
        // Copy-on-write (`store` checks before it changes anything).
        self.memory.update(|m| m.store(&packed))?;
        Ok(())
    }

    /// The stored patterns, int8 (P, N).
    fn patterns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i8>>> {
        unpack(py, self.memory.snapshot().patterns())
    }

    /// Energies of int8 (B, N) states, float64 (B,).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let memory = self.memory.snapshot();
        let kernel = parallel(py, None, || memory.kernel())??;
        crate::with_dense_kernel!(kernel, |k| queries::energies(py, &k, &states))
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
        let kernel = parallel(py, None, || memory.kernel())??;
        crate::with_dense_kernel!(kernel, |k| run(py, &k, &queries, &schedule))
    }
}
