//! `_core.Dense`: the dense associative memory behind
//! `hopfield.DenseAssociativeMemory`.

use numpy::{PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;

use super::convert::{pack, unpack};
use super::options::{RetrieveOptions, SampleOptions};
use super::results::{Outcomes, PySampled};
use super::run::on_this_thread;
use super::shared::Shared;
use super::spin;
use crate::error::Error;
use crate::model::dense::fixed_point_bits;
use crate::model::{Dense, Interaction, PreparedDense};
use crate::with_prepared_dense;

/// A dense associative memory of bit-packed patterns.
///
/// `store` replaces the shared memory copy-on-write, so a retrieval running
/// in another thread keeps the patterns it started with: no torn state.
#[pyclass(frozen, name = "Dense", module = "hopfield._core")]
pub struct PyDense {
    model: Shared<Dense>,
}

impl PyDense {
    /// The memory as it is now, prepared for the engine (GIL released).
    fn prepared<R>(
        &self,
        py: Python<'_>,
        f: impl FnOnce(&PreparedDense) -> PyResult<R>,
    ) -> PyResult<R> {
        let model = self.model.snapshot();
        // Preparing is one sequential pass (no pool hand-off), made by the
        // first call and kept by the memory until its patterns change.
        let prepared = on_this_thread(py, || model.prepared())?;
        f(prepared)
    }
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
                return Err(Error::Value(format!(
                    "interaction must be 'polynomial' or 'exponential', got {other:?}"
                ))
                .into())
            }
        };
        Ok(PyDense {
            model: Shared::new(Dense::new(n, interaction)?),
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

    /// Bytes held by the memory.
    #[getter]
    fn nbytes(&self) -> usize {
        self.model.snapshot().nbytes()
    }

    /// The fixed-point scale S of exponential decisions with the patterns
    /// stored now (2^S is the largest term).
    #[getter]
    fn fixed_point_bits(&self) -> u32 {
        fixed_point_bits(self.model.snapshot().patterns().rows())
    }

    /// Appends patterns, an int8 (P, N) array of ±1.
    fn store(&self, patterns: PyReadonlyArray2<'_, i8>) -> PyResult<()> {
        let n = self.model.snapshot().n();
        let packed = pack(&patterns, "patterns", n)?;
        // Copy-on-write (`store` checks before it changes anything).
        self.model.update(|m| m.store(&packed))?;
        Ok(())
    }

    /// The stored patterns, int8 (P, N).
    fn patterns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i8>>> {
        unpack(py, self.model.snapshot().patterns())
    }

    /// Energies of int8 (B, N) states, float64 (B,).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        self.prepared(py, |p| {
            with_prepared_dense!(p, |k| spin::energies(py, k, &states))
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
            with_prepared_dense!(p, |k| spin::retrieve(
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
            with_prepared_dense!(p, |k| spin::sample(py, k, &options, init, single, clamp))
        })
    }
}
