//! `_core.Modern`: the memory behind `hopfield.ModernHopfield`, with its
//! inverse temperature and thread count (parsed here, once).

use std::num::NonZeroUsize;
use std::sync::RwLock;

use numpy::{PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;

use super::args;
use super::convert::{matrix, vector};
use super::results::ModernOutcomes;
use super::run::{in_chunks, on_this_thread, parallel, thread_count, INLINE_ROWS};
use super::shared::Shared;
use crate::error::{Error, Result};
use crate::modern::{Beta, Cue, ModernHopfield, Steps};

/// A modern Hopfield memory of float32 keys (and optional values), with
/// the β and the thread count it retrieves with.
///
/// `store` replaces the shared memory copy-on-write, so a retrieval running
/// in another thread keeps the patterns it started with.
#[pyclass(frozen, name = "Modern", module = "hopfield._core")]
pub struct PyModern {
    model: Shared<ModernHopfield>,
    beta: RwLock<Beta>,
    threads: Option<NonZeroUsize>,
}

/// A C-contiguous copy of a float32 matrix and its width.
fn rows_of(array: &PyReadonlyArray2<'_, f32>) -> (Vec<f32>, usize) {
    let view = array.as_array();
    let d = view.dim().1;
    let data = match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    };
    (data, d)
}

/// `value` as β.
pub(super) fn beta_of(value: &Bound<'_, PyAny>) -> Result<Beta> {
    Beta::new(args::real(value, "beta")?)
}

/// How many updates `steps`, `tol` and `max_steps` ask for.
pub(super) fn steps_of(
    steps: &Bound<'_, PyAny>,
    tol: &Bound<'_, PyAny>,
    max_steps: &Bound<'_, PyAny>,
) -> Result<Steps> {
    let steps = args::positive32(steps, "steps")?;
    let max_steps = args::positive32(max_steps, "max_steps")?;
    if tol.is_none() {
        return Ok(Steps::Fixed(steps));
    }
    let tol = args::real(tol, "tol").map_err(|_| {
        let got = tol
            .repr()
            .map_or_else(|_| "?".to_string(), |r| r.to_string());
        Error::Value(format!("tol must be a real number >= 0 or None, got {got}"))
    })?;
    if steps.get() != 1 {
        return Err(Error::Value("give steps or tol, not both".into()));
    }
    Ok(Steps::Until { tol, max_steps })
}

impl PyModern {
    fn beta(&self) -> Beta {
        *self.beta.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[pymethods]
impl PyModern {
    /// An empty memory retrieving with `beta` (a finite number > 0) on
    /// `threads` threads (None: all cores).
    #[new]
    #[pyo3(signature = (beta, threads))]
    fn new(beta: &Bound<'_, PyAny>, threads: &Bound<'_, PyAny>) -> Result<Self> {
        Ok(PyModern {
            model: Shared::new(ModernHopfield::new()),
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

    /// Whether every stored key is ±1 (scores take the popcount path).
    #[getter]
    fn binary(&self) -> bool {
        self.model.snapshot().is_binary()
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
                return Err(Error::Shape(format!(
                    "values must have one row per pattern: {rows} patterns, {vrows} value rows"
                ))
                .into());
            }
        }
        // With the GIL held (see `Shared`): releasing it while holding the
        // write lock could deadlock with a reader waiting for the lock.
        self.model
            .update(|m| m.store(&keys, rows, d, values.as_ref().map(|(v, dv)| (&v[..], *dv))))?;
        Ok(())
    }

    /// The stored keys, float32 (P, d).
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let m = self.model.snapshot();
        matrix(py, m.keys().to_vec(), m.rows(), m.d())
    }

    /// The stored values, float32 (P, d_v), or None without separate values.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyArray2<f32>>>> {
        let m = self.model.snapshot();
        m.values()
            .map(|v| matrix(py, v.to_vec(), m.rows(), m.dv()))
            .transpose()
    }

    /// Runs the dynamics from float32 (B, d) queries: `steps` updates, or
    /// with `tol` until an update moves a query by at most `tol` (at most
    /// `max_steps`). In interruptible chunks; a query's result does not
    /// depend on its chunk. `clamp` and `known` (bool (B, d), one row per
    /// query): coordinates reset to the query after every update, and
    /// coordinates the scores use (see `ModernHopfield::retrieve_cued`).
    #[pyo3(signature = (queries, *, steps, tol, max_steps, clamp = None, known = None))]
    #[allow(clippy::too_many_arguments)]
    fn retrieve(
        &self,
        py: Python<'_>,
        queries: PyReadonlyArray2<'_, f32>,
        steps: &Bound<'_, PyAny>,
        tol: &Bound<'_, PyAny>,
        max_steps: &Bound<'_, PyAny>,
        clamp: Option<PyReadonlyArray2<'_, bool>>,
        known: Option<PyReadonlyArray2<'_, bool>>,
    ) -> PyResult<ModernOutcomes> {
        let steps = steps_of(steps, tol, max_steps)?;
        let (model, beta, threads) = (self.model.snapshot(), self.beta(), self.threads);
        let (q, d) = rows_of(&queries);
        let rows = queries.as_array().dim().0;
        let clamp = clamp.map(|m| m.as_array().iter().copied().collect::<Vec<bool>>());
        let known = known.map(|m| m.as_array().iter().copied().collect::<Vec<bool>>());
        let cue = Cue {
            clamp: clamp.as_deref(),
            known: known.as_deref(),
        };
        let misfit = |m: Option<&[bool]>| m.is_some_and(|m| m.len() != q.len());
        // Checked once on the whole batch, so that errors name the right rows.
        if rows == 0
            || d != model.d()
            || model.rows() == 0
            || misfit(cue.clamp)
            || misfit(cue.known)
        {
            model.retrieve_cued(&q, d, beta, steps, cue)?;
        }
        // One query over one chunk of patterns has nothing to share with a
        // pool: the hand-off would cost more than a small retrieval.
        if rows <= INLINE_ROWS && !model.splits_a_query() {
            let part = on_this_thread(py, || model.retrieve_cued(&q, d, beta, steps, cue))?;
            return ModernOutcomes::new(py, vec![part], rows, model.dv());
        }
        let granule = thread_count(threads);
        let parts = in_chunks(py, threads, rows, (granule, 1), |r| {
            let span = r.start * d..r.end * d;
            let part = Cue {
                clamp: cue.clamp.map(|m| &m[span.clone()]),
                known: cue.known.map(|m| &m[span.clone()]),
            };
            model.retrieve_cued(&q[r.start * d..r.end * d], d, beta, steps, part)
        })?;
        let parts = parts.into_iter().collect::<Result<Vec<_>>>()?;
        ModernOutcomes::new(py, parts, rows, model.dv())
    }

    /// Energies of float32 (B, d) states, float64 (B,).
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, f32>,
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

    /// The online-softmax state of float32 (B, d) queries over the
    /// patterns: float64 `m` (B,), `l` (B,) and `o` (B, d_v), with
    /// `o / l` the update (see `ModernHopfield::softmax_state`).
    #[allow(clippy::type_complexity)]
    fn softmax_state<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'_, f32>,
    ) -> PyResult<(
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray2<f64>>,
    )> {
        let (model, beta) = (self.model.snapshot(), self.beta());
        let (q, d) = rows_of(&queries);
        let rows = queries.as_array().dim().0;
        let (m, l, o) = parallel(py, self.threads, || model.softmax_state(&q, d, beta))??;
        Ok((
            vector(py, m),
            vector(py, l),
            matrix(py, o, rows, model.dv())?,
        ))
    }

    /// Softmax weights of float32 (B, d) queries over the patterns, float64 (B, P).
    fn attention<'py>(
        &self,
        py: Python<'py>,
        queries: PyReadonlyArray2<'_, f32>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (model, beta) = (self.model.snapshot(), self.beta());
        let (q, d) = rows_of(&queries);
        let rows = queries.as_array().dim().0;
        let out = parallel(py, self.threads, || model.attention(&q, d, beta))??;
        matrix(py, out, rows, model.rows())
    }
}
