//! `_core.Modern64`: the float64 memory behind
//! `hopfield.ModernHopfield(..., dtype=numpy.float64)`.

use std::num::NonZeroUsize;
use std::sync::RwLock;

use numpy::{PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;

use super::args;
use super::convert::{matrix, vector};
use super::modern::{beta_of, steps_of};
use super::run::{in_chunks, parallel, thread_count};
use super::shared::Shared;
use crate::error::{Error, Result};
use crate::modern::float64::{ModernHopfield64, Retrieved64};
use crate::modern::Beta;

/// A modern Hopfield memory of float64 keys (and optional values), with
/// the β and the thread count it retrieves with.
#[pyclass(frozen, name = "Modern64", module = "hopfield._core")]
pub struct PyModern64 {
    model: Shared<ModernHopfield64>,
    beta: RwLock<Beta>,
    threads: Option<NonZeroUsize>,
}

/// A C-contiguous copy of a float64 matrix and its width.
fn rows_of(array: &PyReadonlyArray2<'_, f64>) -> (Vec<f64>, usize) {
    let view = array.as_array();
    let d = view.dim().1;
    let data = match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    };
    (data, d)
}

impl PyModern64 {
    fn beta(&self) -> Beta {
        *self.beta.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// Final states float64 (B, d_v), steps int64 (B,), converged bool (B,).
type Outcome<'py> = (
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<i64>>,
    Bound<'py, PyArray1<bool>>,
);

#[pymethods]
impl PyModern64 {
    /// An empty memory retrieving with `beta` (a finite number > 0) on
    /// `threads` threads (None: all cores).
    #[new]
    #[pyo3(signature = (beta, threads))]
    fn new(beta: &Bound<'_, PyAny>, threads: &Bound<'_, PyAny>) -> Result<Self> {
        Ok(PyModern64 {
            model: Shared::new(ModernHopfield64::new()),
            beta: RwLock::new(beta_of(beta)?),
            threads: args::threads(threads)?,
        })
    }

    /// Inverse temperature β (settable: a finite number > 0).
    #[getter(beta)]
    fn get_beta(&self) -> f64 {
        self.beta().get()
    }

    #[setter(beta)]
    fn set_beta(&self, value: &Bound<'_, PyAny>) -> Result<()> {
        let beta = beta_of(value)?;
        *self.beta.write().unwrap_or_else(|e| e.into_inner()) = beta;
        Ok(())
    }

    /// Threads for the work (None: all cores).
    #[getter]
    fn threads(&self) -> Option<usize> {
        self.threads.map(NonZeroUsize::get)
    }

    /// Key width d (0 before the first store).
    #[getter]
    fn dim(&self) -> usize {
        self.model.snapshot().d()
    }

    /// Value width (d without separate values).
    #[getter]
    fn value_dim(&self) -> usize {
        self.model.snapshot().dv()
    }

    /// Number of stored patterns.
    #[getter]
    fn num_patterns(&self) -> usize {
        self.model.snapshot().rows()
    }

    /// Whether separate values are stored (hetero-association).
    #[getter]
    fn hetero(&self) -> bool {
        self.model.snapshot().values().is_some()
    }

    /// False: the float64 memory has no popcount path.
    #[getter]
    fn binary(&self) -> bool {
        false
    }

    /// M² = max_μ ‖k_μ‖².
    #[getter]
    fn max_norm_sq(&self) -> f64 {
        self.model.snapshot().max_norm_sq()
    }

    /// Bytes held by the memory.
    #[getter]
    fn nbytes(&self) -> usize {
        self.model.snapshot().nbytes()
    }

    /// Appends float64 (P, d) keys and, for hetero-association, float64 (P, d_v) values.
    #[pyo3(signature = (patterns, values = None))]
    fn store(
        &self,
        patterns: PyReadonlyArray2<'_, f64>,
        values: Option<PyReadonlyArray2<'_, f64>>,
    ) -> PyResult<()> {
        let rows = patterns.as_array().dim().0;
        let (keys, d) = rows_of(&patterns);
        let values = values.as_ref().map(rows_of);
        if let Some((v, dv)) = &values {
            let vrows = if *dv == 0 { 0 } else { v.len() / dv };
            if vrows != rows {
                return Err(Error::Shape(format!(
                    "values must have one row per pattern: {rows} patterns, {vrows} value rows"
                ))
                .into());
            }
        }
        // With the GIL held (see `Shared`).
        self.model
            .update(|m| m.store(&keys, rows, d, values.as_ref().map(|(v, dv)| (&v[..], *dv))))?;
        Ok(())
    }

    /// The stored keys, float64 (P, d).
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let m = self.model.snapshot();
        matrix(py, m.keys().to_vec(), m.rows(), m.d())
    }

    /// The stored values, float64 (P, d_v), or None without separate values.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray2<f64>>>> {
        let m = self.model.snapshot();
        m.values()
            .map(|v| matrix(py, v.to_vec(), m.rows(), m.dv()))
            .transpose()
    }

    /// Runs the dynamics from float64 (B, d) queries, as `Modern.retrieve`;
    /// returns (states, steps, converged).
    #[pyo3(signature = (queries, *, steps, tol, max_steps))]
    fn retrieve<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'_, f64>,
        steps: &Bound<'_, PyAny>,
        tol: &Bound<'_, PyAny>,
        max_steps: &Bound<'_, PyAny>,
    ) -> PyResult<Outcome<'py>> {
        let steps = steps_of(steps, tol, max_steps)?;
        let (model, beta, threads) = (self.model.snapshot(), self.beta(), self.threads);
        let (q, d) = rows_of(&queries);
        let rows = queries.as_array().dim().0;
        if rows == 0 || d != model.d() || model.rows() == 0 {
            model.retrieve(&q, d, beta, steps)?;
        }
        let granule = thread_count(threads);
        let parts = in_chunks(py, threads, rows, (granule, 1), |r| {
            model.retrieve(&q[r.start * d..r.end * d], d, beta, steps)
        })?;
        let parts: Vec<Retrieved64> = parts.into_iter().collect::<Result<Vec<_>>>()?;
        let mut states = Vec::with_capacity(rows * model.dv());
        let mut done = Vec::with_capacity(rows);
        let mut converged = Vec::with_capacity(rows);
        for p in parts {
            states.extend_from_slice(&p.states);
            done.extend(p.steps.iter().map(|&s| s as i64));
            converged.extend_from_slice(&p.converged);
        }
        Ok((
            matrix(py, states, rows, model.dv())?,
            vector(py, done),
            vector(py, converged),
        ))
    }

    /// Energies of float64 (B, d) states, float64 (B,).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (model, beta, threads) = (self.model.snapshot(), self.beta(), self.threads);
        let (s, d) = rows_of(&states);
        let rows = states.as_array().dim().0;
        if rows == 0 || d != model.d() || model.rows() == 0 {
            model.energy(&s, d, beta)?;
        }
        let granule = thread_count(threads);
        let parts = in_chunks(py, threads, rows, (granule, 1), |r| {
            model.energy(&s[r.start * d..r.end * d], d, beta)
        })?;
        let parts = parts.into_iter().collect::<Result<Vec<_>>>()?;
        Ok(vector(py, parts.concat()))
    }

    /// Softmax weights of float64 (B, d) queries over the patterns, float64 (B, P).
    fn attention<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (model, beta) = (self.model.snapshot(), self.beta());
        let (q, d) = rows_of(&queries);
        let rows = queries.as_array().dim().0;
        let out = parallel(py, self.threads, || model.attention(&q, d, beta))??;
        matrix(py, out, rows, model.rows())
    }
}
