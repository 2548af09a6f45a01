//! `_core.Hebbian`: the Hebbian memory behind `hopfield.HopfieldNetwork`.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::convert::{matrix, pack, parallel, unpack, vector};
use super::queries;
use super::retrieve::{run, PySchedule};
use super::shared::Shared;
use crate::dynamics;
use crate::model::Hebbian;

/// A Hebbian memory of bit-packed patterns.
///
/// `store` replaces the shared memory copy-on-write, so a retrieval running
/// in another thread keeps the patterns it started with: no torn state.
#[pyclass(frozen, name = "Hebbian", module = "hopfield._core")]
pub struct PyHebbian {
    memory: Shared<Hebbian>,
}

#[pymethods]
impl PyHebbian {
    #[new]
    fn new(n: usize, threshold: PyReadonlyArray1<'_, f64>) -> PyResult<Self> {
        let threshold = threshold.as_array().to_vec();
        Ok(PyHebbian {
            memory: Shared::new(Hebbian::new(n, threshold)?),
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

    /// Appends patterns, an int8 (P, N) array of ±1.
    fn store(&self, patterns: PyReadonlyArray2<'_, i8>) -> PyResult<()> {
        let n = self.memory.snapshot().n();
        let packed = pack(&patterns, "patterns", n)?;
        // Copy-on-write: a retrieval holding a snapshot keeps its patterns.
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

    /// The weight matrix W, float64 (N, N), zero diagonal.
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let memory = self.memory.snapshot();
        let n = memory.n();
        let w = parallel(py, None, || memory.weights())??;
        matrix(py, w, n, n)
    }

    /// Energies of int8 (B, N) states, float64 (B,).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let memory = self.memory.snapshot();
        let kernel = parallel(py, None, || memory.kernel())??;
        crate::with_kernel!(kernel, |k| queries::energies(py, &k, &states))
    }

    /// Local fields of int8 (B, N) states, float64 (B, N).
    fn fields<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let memory = self.memory.snapshot();
        let kernel = parallel(py, None, || memory.kernel())??;
        crate::with_kernel!(kernel, |k| queries::fields(
            py,
            memory.n(),
            &states,
            |row, out| { k.fields(row, out) }
        ))
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
        crate::with_kernel!(kernel, |k| run(py, &k, &queries, &schedule))
    }
}

/// The neuron orders that `order="random"` uses: int64 (count, sweeps, n),
/// entry `[q, t]` the order of sweep t+1 of query `first + q` under `seed`.
#[pyfunction]
#[pyo3(signature = (n, sweeps, seed, count = 1, first = 0))]
pub fn sweep_orders<'py>(
    py: Python<'py>,
    n: usize,
    sweeps: usize,
    seed: u64,
    count: usize,
    first: u64,
) -> PyResult<Bound<'py, numpy::PyArray3<i64>>> {
    let total = n
        .checked_mul(sweeps)
        .and_then(|x| x.checked_mul(count))
        .unwrap_or(usize::MAX);
    let mut out = crate::error::try_filled("the requested orders", total, 0i64)?;
    if total > 0 {
        for (q, block) in out.chunks_exact_mut(n * sweeps).enumerate() {
            let orders = dynamics::sweep_orders(n, sweeps, seed, first + q as u64);
            for (o, i) in block.iter_mut().zip(orders) {
                *o = i as i64;
            }
        }
    }
    let array = numpy::ndarray::Array3::from_shape_vec((count, sweeps, n), out)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(numpy::IntoPyArray::into_pyarray(array, py))
}
