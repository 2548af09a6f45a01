//! `_core.Weights`: the weight-matrix memory behind
//! `hopfield.HopfieldNetwork.from_weights` and the non-Hebbian rules.

use std::sync::{Arc, RwLock};

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::convert::{matrix, pack, parallel, vector};
use super::retrieve::{run, PySchedule};
use crate::batch;
use crate::error::Error;
use crate::model::Weights;

/// A weight-matrix memory: float32 weights on an exact grid, float64 thresholds.
///
/// Replacing the weights swaps the shared model copy-on-write, so a
/// retrieval running in another thread keeps the weights it started with.
#[pyclass(frozen, name = "Weights", module = "hopfield._core")]
pub struct PyWeights {
    model: RwLock<Arc<Weights>>,
}

impl PyWeights {
    fn snapshot(&self) -> Arc<Weights> {
        self.model.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Wraps a built model.
    pub fn wrap(model: Weights) -> Self {
        PyWeights {
            model: RwLock::new(Arc::new(model)),
        }
    }

    /// Replaces the model (copy-on-write: running retrievals keep theirs).
    pub fn replace(&self, model: Weights) {
        *self.model.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(model);
    }
}

/// A row-major copy of a square float32 matrix named `name`, refusing with
/// `MemoryError` (before copying) when it cannot be allocated.
pub fn square_f32(array: &PyReadonlyArray2<'_, f32>, name: &str) -> PyResult<(usize, Vec<f32>)> {
    let view = array.as_array();
    let (rows, cols) = view.dim();
    if rows != cols || rows == 0 {
        return Err(PyValueError::new_err(format!(
            "{name} must be a non-empty square (N, N) matrix, got shape ({rows}, {cols})"
        )));
    }
    let mut out: Vec<f32> = Vec::new();
    out.try_reserve_exact(rows * cols).map_err(|_| {
        Error::Memory(format!(
            "a copy of the {rows} × {cols} {name} would need {} bytes, more than can be allocated",
            (rows as u128) * (cols as u128) * 4
        ))
    })?;
    match view.as_slice() {
        Some(values) => out.extend_from_slice(values),
        None => out.extend(view.iter().copied()),
    }
    Ok((rows, out))
}

#[pymethods]
impl PyWeights {
    #[new]
    fn new(
        py: Python<'_>,
        weights: PyReadonlyArray2<'_, f32>,
        threshold: PyReadonlyArray1<'_, f64>,
    ) -> PyResult<Self> {
        let (n, w) = square_f32(&weights, "weights")?;
        let threshold = threshold.as_array().to_vec();
        let model = parallel(py, None, || Weights::new(n, w, threshold))??;
        Ok(PyWeights::wrap(model))
    }

    /// Number of neurons.
    #[getter]
    fn n(&self) -> usize {
        self.snapshot().n()
    }

    /// Bytes held by the memory.
    #[getter]
    fn nbytes(&self) -> usize {
        self.snapshot().nbytes()
    }

    /// Whether W equals its transpose (after rounding onto the grid).
    #[getter]
    fn symmetric(&self) -> bool {
        self.snapshot().is_symmetric()
    }

    /// Whether every diagonal weight is zero.
    #[getter]
    fn zero_diagonal(&self) -> bool {
        self.snapshot().has_zero_diagonal()
    }

    /// The grid exponent k: every stored weight is a multiple of 2**-k.
    #[getter]
    fn grid_exponent(&self) -> i32 {
        self.snapshot().grid_exponent()
    }

    /// The stored weights W (rounded onto the grid), float32 (N, N).
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let model = self.snapshot();
        let n = model.n();
        let w = parallel(py, None, || model.weights())??;
        matrix(py, w, n, n)
    }

    /// The thresholds θ, float64 (N,).
    fn threshold<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        vector(py, self.snapshot().threshold().to_vec())
    }

    /// Energies of int8 (B, N) states, float64 (B,); NaN for an asymmetric W.
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let model = self.snapshot();
        let states = pack(&states, "states", model.n())?;
        let out = parallel(py, None, || batch::energies(&*model, &states))??;
        Ok(vector(py, out))
    }

    /// Local fields h = W s − θ of int8 (B, N) states, float64 (B, N).
    fn fields<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let model = self.snapshot();
        let n = model.n();
        let states = pack(&states, "states", n)?;
        let out = parallel(py, None, || {
            batch::map_rows(&states, n, |row, out| model.fields(row, out))
        })??;
        matrix(py, out, states.rows(), n)
    }

    /// Runs `schedule` from int8 (B, N) queries; returns a dict of arrays
    /// (see `retrieve::run`).
    fn retrieve<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'_, i8>,
        schedule: PyRef<'py, PySchedule>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let model = self.snapshot();
        run(py, &*model, &queries, &schedule)
    }
}
