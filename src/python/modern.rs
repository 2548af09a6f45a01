//! `_core.Modern`: the memory behind `hopfield.ModernHopfield`.

use std::time::{Duration, Instant};

use numpy::{PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::convert::{matrix, parallel, vector};
use super::shared::Shared;
use crate::modern::{ModernHopfield, Steps, QUERY_BLOCK};

/// A modern Hopfield memory of float32 keys (and optional values).
///
/// `store` replaces the shared memory copy-on-write, so a retrieval running
/// in another thread keeps the patterns it started with.
#[pyclass(frozen, name = "Modern", module = "hopfield._core")]
pub struct PyModern {
    memory: Shared<ModernHopfield>,
}

/// A C-contiguous copy (or borrow) of a float32 matrix and its width.
fn rows_of(array: &PyReadonlyArray2<'_, f32>) -> (Vec<f32>, usize) {
    let view = array.as_array();
    let d = view.dim().1;
    let data = match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    };
    (data, d)
}

fn check_threads(threads: Option<usize>) -> PyResult<()> {
    if threads == Some(0) {
        return Err(PyValueError::new_err(
            "threads must be at least 1 (or None for all cores)",
        ));
    }
    Ok(())
}

/// How long one detached chunk of queries should take before Ctrl-C is checked.
const CHUNK_TARGET: Duration = Duration::from_millis(100);

/// Runs `f` over row chunks of `rows` rows (each query's result does not
/// depend on its batch), detached, checking signals between chunks.
fn chunked<T: Send>(
    py: Python<'_>,
    rows: usize,
    threads: Option<usize>,
    f: impl Fn(std::ops::Range<usize>) -> crate::Result<T> + Sync,
) -> PyResult<Vec<T>> {
    let unit = QUERY_BLOCK * threads.unwrap_or_else(crate::batch::default_threads).max(1);
    let mut units = 1usize;
    let mut start = 0;
    let mut out = Vec::new();
    while start < rows {
        let end = (start + units * unit).min(rows);
        let began = Instant::now();
        let part = parallel(py, threads, || f(start..end))??;
        out.push(part);
        start = end;
        py.check_signals()?;
        let scale = CHUNK_TARGET.as_secs_f64() / began.elapsed().as_secs_f64().max(1e-6);
        units = ((units as f64 * scale.clamp(0.5, 4.0)) as usize).max(1);
    }
    Ok(out)
}

#[pymethods]
impl PyModern {
    #[new]
    fn new() -> Self {
        PyModern {
            memory: Shared::new(ModernHopfield::new()),
        }
    }

    /// Key width d (0 before the first store).
    #[getter]
    fn dim(&self) -> usize {
        self.memory.snapshot().d()
    }

    /// Value width (d without separate values).
    #[getter]
    fn value_dim(&self) -> usize {
        self.memory.snapshot().dv()
    }

    /// Number of stored patterns.
    #[getter]
    fn num_patterns(&self) -> usize {
        self.memory.snapshot().rows()
    }

    /// Whether separate values are stored (hetero-association).
    #[getter]
    fn hetero(&self) -> bool {
        self.memory.snapshot().values().is_some()
    }

    /// Whether every stored key is ±1 (scores take the popcount path).
    #[getter]
    fn binary(&self) -> bool {
        self.memory.snapshot().is_binary()
    }

    /// M² = max_μ ‖k_μ‖².
    #[getter]
    fn max_norm_sq(&self) -> f64 {
        self.memory.snapshot().max_norm_sq()
    }

    /// Bytes held by the memory.
    #[getter]
    fn nbytes(&self) -> usize {
        self.memory.snapshot().nbytes()
    }

    /// Appends float32 (P, d) keys and, for hetero-association, float32 (P, d_v) values.
    #[pyo3(signature = (patterns, values = None))]
    fn store(
        &self,
        patterns: PyReadonlyArray2<'_, f32>,
        values: Option<PyReadonlyArray2<'_, f32>>,
    ) -> PyResult<()> {
        let rows = patterns.as_array().dim().0;
        let (keys, d) = rows_of(&patterns);
        let values = values.as_ref().map(rows_of);
        if let Some((v, dv)) = &values {
            let vrows = if *dv == 0 { 0 } else { v.len() / dv };
            if vrows != rows {
                return Err(PyValueError::new_err(format!(
                    "values must have one row per pattern: {rows} patterns, {vrows} value rows"
                )));
            }
        }
        // With the GIL held (see `Shared`): releasing it while holding the
        // write lock could deadlock with a reader waiting for the lock.
        self.memory
            .update(|m| m.store(&keys, rows, d, values.as_ref().map(|(v, dv)| (&v[..], *dv))))?;
        Ok(())
    }

    /// The stored keys, float32 (P, d).
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let m = self.memory.snapshot();
        matrix(py, m.keys().to_vec(), m.rows(), m.d())
    }

    /// The stored values, float32 (P, d_v), or None without separate values.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray2<f32>>>> {
        let m = self.memory.snapshot();
        m.values()
            .map(|v| matrix(py, v.to_vec(), m.rows(), m.dv()))
            .transpose()
    }

    /// Runs the dynamics from float32 (B, d) queries; returns a dict of arrays.
    #[pyo3(signature = (queries, *, beta, steps, tol, max_steps, threads))]
    #[allow(clippy::too_many_arguments)]
    fn retrieve<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'_, f32>,
        beta: f64,
        steps: u32,
        tol: Option<f64>,
        max_steps: u32,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyDict>> {
        check_threads(threads)?;
        let memory = self.memory.snapshot();
        let (q, d) = rows_of(&queries);
        let rows = queries.as_array().dim().0;
        let schedule = match tol {
            None => Steps::Fixed(steps),
            Some(tol) => Steps::Until { tol, max_steps },
        };
        // Validate once on the whole batch, so errors name the right rows.
        if rows == 0 || d != memory.d() || memory.rows() == 0 {
            memory.retrieve(&q, d, beta, schedule)?;
        }
        let parts = chunked(py, rows, threads, |r| {
            memory.retrieve(&q[r.start * d..r.end * d], d, beta, schedule)
        })?;
        let dv = memory.dv();
        let mut states = Vec::with_capacity(rows * dv);
        let mut steps_done = Vec::with_capacity(rows);
        let mut converged = Vec::with_capacity(rows);
        for p in parts {
            states.extend_from_slice(&p.states);
            steps_done.extend(p.steps.iter().map(|&s| s as i64));
            converged.extend_from_slice(&p.converged);
        }
        let dict = PyDict::new(py);
        dict.set_item("states", matrix(py, states, rows, dv)?)?;
        dict.set_item("steps", vector(py, steps_done))?;
        dict.set_item("converged", vector(py, converged))?;
        Ok(dict)
    }

    /// Energies of float32 (B, d) states, float64 (B,).
    #[pyo3(signature = (states, *, beta, threads))]
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, f32>,
        beta: f64,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        check_threads(threads)?;
        let memory = self.memory.snapshot();
        let (s, d) = rows_of(&states);
        let rows = states.as_array().dim().0;
        if rows == 0 || d != memory.d() || memory.rows() == 0 {
            memory.energy(&s, d, beta)?;
        }
        let parts = chunked(py, rows, threads, |r| {
            memory.energy(&s[r.start * d..r.end * d], d, beta)
        })?;
        Ok(vector(py, parts.concat()))
    }

    /// Softmax weights of float32 (B, d) queries over the patterns, float64 (B, P).
    #[pyo3(signature = (queries, *, beta, threads))]
    fn attention<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'_, f32>,
        beta: f64,
        threads: Option<usize>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        check_threads(threads)?;
        let memory = self.memory.snapshot();
        let (q, d) = rows_of(&queries);
        let rows = queries.as_array().dim().0;
        let out = parallel(py, threads, || memory.attention(&q, d, beta))??;
        matrix(py, out, rows, memory.rows())
    }
}
