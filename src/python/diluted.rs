//! `_core.Diluted`: Hebbian weights on sparse, seeded, symmetric connectivity.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use super::convert::{matrix, pack, unpack, vector};
use super::options::{RetrieveOptions, SampleOptions};
use super::results::{Outcomes, PySampled};
use super::run::parallel;
use super::shared::Shared;
use super::spin;
use crate::model::Diluted;

/// Pairs (E, 2) and integer weights (E,).
type Connectivity<'py> = (Bound<'py, PyArray2<i64>>, Bound<'py, PyArray1<i64>>);

/// A diluted Hebbian memory (compressed rows of exact integer weights).
///
/// `store` replaces the shared memory copy-on-write, so a retrieval running
/// in another thread keeps the weights it started with.
#[pyclass(frozen, name = "Diluted", module = "hopfield._core")]
pub struct PyDiluted {
    model: Shared<Diluted>,
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
        let model = parallel(py, None, || Diluted::new(n, dilution, seed, threshold))??;
        Ok(PyDiluted {
            model: Shared::new(model),
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

    /// Number of directed connections (twice the symmetric pairs).
    #[getter]
    fn connections(&self) -> usize {
        self.model.snapshot().connections()
    }

    /// Appends int8 (P, N) patterns and updates the connected weights.
    fn store(&self, patterns: PyReadonlyArray2<'_, i8>) -> PyResult<()> {
        let n = self.model.snapshot().n();
        let packed = pack(&patterns, "patterns", n)?;
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

    /// The connections: int64 (E, 2) pairs (i, j), both directions, and
    /// the int64 (E,) integer weights N·W_ij.
    fn connectivity<'py>(&self, py: Python<'py>) -> PyResult<Connectivity<'py>> {
        let model = self.model.snapshot();
        let pairs: Vec<i64> = model
            .pairs()
            .into_iter()
            .flat_map(|(i, j)| [i as i64, j as i64])
            .collect();
        let e = pairs.len() / 2;
        let values = model.values().iter().map(|&v| v as i64).collect();
        Ok((matrix(py, pairs, e, 2)?, vector(py, values)))
    }

    /// Energies of int8 (B, N) states, float64 (B,).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        spin::energies(py, &*self.model.snapshot(), &states)
    }

    /// Local fields of int8 (B, N) states, float64 (B, N).
    fn fields<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let model = self.model.snapshot();
        spin::fields(py, model.n(), &states, |row, out| model.fields(row, out))
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
        spin::retrieve(
            py,
            &*self.model.snapshot(),
            &queries,
            &options,
            clamp.as_ref(),
        )
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
        spin::sample(py, &*self.model.snapshot(), &options, init, single, clamp)
    }
}
