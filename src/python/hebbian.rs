//! `_core.Hebbian`: the Hebbian memory behind `hopfield.HopfieldNetwork`.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use super::convert::{matrix, pack, unpack, vector};
use super::options::{RetrieveOptions, SampleOptions};
use super::results::{Outcomes, PySampled};
use super::run::{on_this_thread, parallel};
use super::shared::Shared;
use super::spin;
use crate::model::{Hebbian, HebbianLanes};
use crate::with_hebbian_lanes;

/// A Hebbian memory of bit-packed patterns.
///
/// `store` replaces the shared memory copy-on-write, so a retrieval running
/// in another thread keeps the patterns it started with: no torn state.
#[pyclass(frozen, name = "Hebbian", module = "hopfield._core")]
pub struct PyHebbian {
    model: Shared<Hebbian>,
}

impl PyHebbian {
    /// The memory as it is now, prepared for the engine (GIL released).
    fn prepared<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&HebbianLanes<'_>) -> PyResult<R>,
    ) -> PyResult<R> {
        let model = self.model.snapshot();
        // Preparing is one sequential pass: no pool hand-off.
        let prepared = on_this_thread(py, || model.prepare())?;
        f(&prepared)
    }
}

#[pymethods]
impl PyHebbian {
    #[new]
    fn new(n: usize, threshold: PyReadonlyArray1<'_, f64>) -> PyResult<Self> {
        let threshold = threshold.as_array().to_vec();
        Ok(PyHebbian {
            model: Shared::new(Hebbian::new(n, threshold)?),
        })
    }

    /// Number of neurons.
    #[getter]
    fn n(&self) -> usize {
        self.model.snapshot().n()
    }

    /// Number of stored patterns.
    #[getter]
    fn num_patterns(&self) -> usize {
        self.model.snapshot().patterns().rows()
    }

    /// Bytes held by the memory, including caches built by retrieval (the
    /// kept layout, and the int8 weights once built).
    #[getter]
    fn nbytes(&self) -> usize {
        self.model.snapshot().nbytes()
    }

    /// Appends patterns, an int8 (P, N) array of ±1.
    fn store(&self, patterns: PyReadonlyArray2<'_, i8>) -> PyResult<()> {
        let n = self.model.snapshot().n();
        let packed = pack(&patterns, "patterns", n)?;
        // Copy-on-write: a retrieval holding a snapshot keeps its patterns.
        self.model.update(|m| m.store(&packed))?;
        Ok(())
    }

    /// The stored patterns, int8 (P, N).
    fn patterns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i8>>> {
        unpack(py, self.model.snapshot().patterns())
    }

    /// The thresholds θ, float64 (N,).
    fn threshold<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        vector(py, self.model.snapshot().threshold().to_vec())
    }

    /// The weight matrix W, float64 (N, N), zero diagonal.
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let model = self.model.snapshot();
        let n = model.n();
        let w = parallel(py, None, || model.weights())??;
        matrix(py, w, n, n)
    }

    /// Energies of int8 (B, N) states, float64 (B,).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.prepared(py, |p| {
            with_hebbian_lanes!(p, |k| spin::energies(py, k, &states))
        })
    }

    /// Local fields of int8 (B, N) states, float64 (B, N).
    fn fields<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let n = self.model.snapshot().n();
        self.prepared(py, |p| {
            with_hebbian_lanes!(p, |k| spin::fields(py, n, &states, |row, out| k
                .fields(row, out)))
        })
    }

    /// Overlaps ξ^μ·s / N of int8 (B, N) states, float64 (B, P).
    fn overlaps<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        spin::overlaps(py, self.model.snapshot().patterns(), &states)
    }

    /// Runs the validated `options` from int8 (B, N) queries; the neurons
    /// at +1 in `clamp` (int8 ±1, one row for every query or one per
    /// query) keep their query values.
    #[pyo3(signature = (queries, options, clamp = None))]
    fn retrieve(
        &self,
        py: Python<'_>,
        queries: PyReadonlyArray2<'_, i8>,
        options: PyRef<'_, RetrieveOptions>,
        clamp: Option<PyReadonlyArray2<'_, i8>>,
    ) -> PyResult<Outcomes> {
        self.prepared(py, |p| {
            with_hebbian_lanes!(p, |k| spin::retrieve(
                py,
                k,
                &queries,
                &options,
                clamp.as_ref()
            ))
        })
    }

    /// Samples the Boltzmann distribution with the validated `options`,
    /// chains from `init` (int8 (B, N); with `single` its one row for every
    /// chain) or from random states; the neurons at +1 in `clamp` (int8
    /// ±1, one row for every chain or one per chain) keep their starting
    /// values.
    #[pyo3(signature = (options, init = None, single = false, clamp = None))]
    fn sample(
        &self,
        py: Python<'_>,
        options: PyRef<'_, SampleOptions>,
        init: Option<PyReadonlyArray2<'_, i8>>,
        single: bool,
        clamp: Option<PyReadonlyArray2<'_, i8>>,
    ) -> PyResult<PySampled> {
        self.prepared(py, |p| {
            with_hebbian_lanes!(p, |k| spin::sample(py, k, &options, init, single, clamp))
        })
    }
}
