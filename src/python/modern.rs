//! `_core.Modern`: the memory behind `hopfield.ModernHopfield`, float32
//! or float64, with its inverse temperature and thread count (parsed here,
//! once). Every method is written once over the float type
//! ([`crate::modern::float::Float`]); the class holds one of the two
//! memories and dispatches to it.

use std::num::NonZeroUsize;
use std::sync::RwLock;

use numpy::{Element, PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;

use super::args;
use super::convert::{matrix, vector};
use super::results::ModernOutcomes;
use super::run::{in_chunks, interruptible, on_this_thread, parallel, thread_count, INLINE_ROWS};
use super::shared::Shared;
use crate::error::{Error, Result};
use crate::modern::float::Float;
use crate::modern::{Beta, Cue, ModernHopfield, Steps};

/// The memory of one float type.
enum Memory {
    F32(Shared<ModernHopfield<f32>>),
    F64(Shared<ModernHopfield<f64>>),
}

/// Runs `$body` with `$m` the class's memory (`&Shared<ModernHopfield<T>>`),
/// for its float type.
macro_rules! with_memory {
    ($self:expr, $m:ident => $body:expr) => {
        match &$self.model {
            Memory::F32($m) => $body,
            Memory::F64($m) => $body,
        }
    };
}

/// A modern Hopfield memory of float32 or float64 keys (and optional
/// values), with the β and the thread count it retrieves with.
///
/// `store` replaces the shared memory copy-on-write, so a retrieval running
/// in another thread keeps the patterns it started with.
#[pyclass(frozen, name = "Modern", module = "hopfield._core")]
pub struct PyModern {
    model: Memory,
    beta: RwLock<Beta>,
    threads: Option<NonZeroUsize>,
}

/// A C-contiguous copy of a matrix of `T` and its rows and width; `name`
/// for the error when `array` is not a 2-D array of `T`.
fn rows_of<T: Float + Element>(
    array: &Bound<'_, PyAny>,
    name: &str,
) -> Result<(Vec<T>, usize, usize)> {
    let array: PyReadonlyArray2<'_, T> = array
        .extract()
        .map_err(|_| Error::Type(format!("{name} must be a 2-D numpy array of {}", T::NAME)))?;
    let view = array.as_array();
    let (rows, d) = view.dim();
    let data = match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    };
    Ok((data, rows, d))
}

/// A row-major copy of a 2-D boolean mask.
fn mask_of(mask: Option<PyReadonlyArray2<'_, bool>>) -> Option<Vec<bool>> {
    mask.map(|m| m.as_array().iter().copied().collect())
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
    /// An empty memory of `dtype` ("float32" or "float64") retrieving with
    /// `beta` (a finite number > 0) on `threads` threads (None: all cores).
    #[new]
    #[pyo3(signature = (beta, threads, dtype = "float32"))]
    fn new(beta: &Bound<'_, PyAny>, threads: &Bound<'_, PyAny>, dtype: &str) -> Result<Self> {
        let model = match dtype {
            "float32" => Memory::F32(Shared::new(ModernHopfield::new())),
            "float64" => Memory::F64(Shared::new(ModernHopfield::new())),
            _ => {
                return Err(Error::Type(format!(
                    "dtype must be \"float32\" or \"float64\", got {dtype:?}"
                )))
            }
        };
        Ok(PyModern {
            model,
            beta: RwLock::new(beta_of(beta)?),
            threads: args::threads(threads)?,
        })
    }

    /// The float type of keys, values, queries and states: "float32" or "float64".
    #[getter]
    fn dtype(&self) -> &'static str {
        with_memory!(self, m => name_of(m))
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
        with_memory!(self, m => m.snapshot().d())
    }

    /// Value width (d without separate values).
    #[getter]
    fn value_dim(&self) -> usize {
        with_memory!(self, m => m.snapshot().dv())
    }

    /// Number of stored patterns.
    #[getter]
    fn num_patterns(&self) -> usize {
        with_memory!(self, m => m.snapshot().rows())
    }

    /// Whether separate values are stored (hetero-association).
    #[getter]
    fn hetero(&self) -> bool {
        with_memory!(self, m => m.snapshot().values().is_some())
    }

    /// Whether every stored key is ±1 (scores take the popcount path).
    #[getter]
    fn binary(&self) -> bool {
        with_memory!(self, m => m.snapshot().is_binary())
    }

    /// M² = max_μ ‖k_μ‖².
    #[getter]
    fn max_norm_sq(&self) -> f64 {
        with_memory!(self, m => m.snapshot().max_norm_sq())
    }

    /// Bytes held by the memory, including the 8-bit key codes that
    /// screening retrievals have made (kept until the next store).
    #[getter]
    fn nbytes(&self) -> usize {
        with_memory!(self, m => m.snapshot().nbytes())
    }

    /// Appends (P, d) keys and, for hetero-association, (P, d_v) values,
    /// both arrays of the memory's dtype.
    #[pyo3(signature = (patterns, values = None))]
    fn store(&self, patterns: &Bound<'_, PyAny>, values: Option<&Bound<'_, PyAny>>) -> Result<()> {
        with_memory!(self, m => store(m, patterns, values))
    }

    /// The stored keys, (P, d) of the memory's dtype.
    fn keys<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        with_memory!(self, m => {
            let m = m.snapshot();
            Ok(matrix(py, m.keys().to_vec(), m.rows(), m.d())?.into_any())
        })
    }

    /// The stored values, (P, d_v) of the memory's dtype, or None without
    /// separate values.
    fn values<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        with_memory!(self, m => {
            let m = m.snapshot();
            m.values()
                .map(|v| Ok(matrix(py, v.to_vec(), m.rows(), m.dv())?.into_any()))
                .transpose()
        })
    }

    /// Runs the dynamics from (B, d) queries of the memory's dtype: `steps`
    /// updates, or with `tol` until an update moves a query by at most
    /// `tol` (at most `max_steps`). In interruptible chunks; a query's
    /// result does not depend on its chunk. `clamp` and `known` (bool
    /// (B, d), one row per query): coordinates reset to the query after
    /// every update, and coordinates the scores use (see
    /// `ModernHopfield::retrieve_cued`).
    #[pyo3(signature = (queries, *, steps, tol, max_steps, clamp = None, known = None))]
    #[allow(clippy::too_many_arguments)]
    fn retrieve(
        &self,
        py: Python<'_>,
        queries: &Bound<'_, PyAny>,
        steps: &Bound<'_, PyAny>,
        tol: &Bound<'_, PyAny>,
        max_steps: &Bound<'_, PyAny>,
        clamp: Option<PyReadonlyArray2<'_, bool>>,
        known: Option<PyReadonlyArray2<'_, bool>>,
    ) -> PyResult<ModernOutcomes> {
        let steps = steps_of(steps, tol, max_steps)?;
        let (clamp, known) = (mask_of(clamp), mask_of(known));
        let cue = Cue {
            clamp: clamp.as_deref(),
            known: known.as_deref(),
        };
        let (beta, threads) = (self.beta(), self.threads);
        with_memory!(self, m => retrieve(py, m, queries, beta, threads, steps, cue))
    }

    /// Energies of (B, d) states of the memory's dtype, float64 (B,),
    /// computed in float64.
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (beta, threads) = (self.beta(), self.threads);
        with_memory!(self, m => energy(py, m, states, beta, threads))
    }

    /// The online-softmax state of (B, d) queries of the memory's dtype
    /// over the patterns: float64 `m` (B,), `l` (B,) and `o` (B, d_v), with
    /// `o / l` the update (see `ModernHopfield::softmax_state`).
    #[allow(clippy::type_complexity)]
    fn softmax_state<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'_, PyAny>,
    ) -> PyResult<(
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray1<f64>>,
        Bound<'py, PyArray2<f64>>,
    )> {
        let (beta, threads) = (self.beta(), self.threads);
        with_memory!(self, m => {
            let model = m.snapshot();
            let (q, rows, d) = rows_of(queries, "queries")?;
            let (ms, l, o) = parallel(py, threads, || model.softmax_state(&q, d, beta))??;
            Ok((vector(py, ms), vector(py, l), matrix(py, o, rows, model.dv())?))
        })
    }

    /// Softmax weights of (B, d) queries of the memory's dtype over the
    /// patterns, float64 (B, P).
    fn attention<'py>(
        &self,
        py: Python<'py>,
        queries: &Bound<'_, PyAny>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let (beta, threads) = (self.beta(), self.threads);
        with_memory!(self, m => {
            let model = m.snapshot();
            let (q, rows, d) = rows_of(queries, "queries")?;
            let out = parallel(py, threads, || model.attention(&q, d, beta))??;
            matrix(py, out, rows, model.rows())
        })
    }
}

/// The NumPy name of the memory's float type.
fn name_of<T: Float>(_: &Shared<ModernHopfield<T>>) -> &'static str {
    T::NAME
}

fn store<T: Float + Element>(
    model: &Shared<ModernHopfield<T>>,
    patterns: &Bound<'_, PyAny>,
    values: Option<&Bound<'_, PyAny>>,
) -> Result<()> {
    let (keys, rows, d) = rows_of(patterns, "patterns")?;
    let values = values.map(|v| rows_of(v, "values")).transpose()?;
    if let Some((_, vrows, _)) = &values {
        if *vrows != rows {
            return Err(Error::Shape(format!(
                "values must have one row per pattern: {rows} patterns, {vrows} value rows"
            )));
        }
    }
    // With the GIL held (see `Shared`): releasing it while holding the
    // write lock could deadlock with a reader waiting for the lock.
    model.update(|m| {
        m.store(
            &keys,
            rows,
            d,
            values.as_ref().map(|(v, _, dv)| (&v[..], *dv)),
        )
    })
}

fn retrieve<T: Float + Element>(
    py: Python<'_>,
    model: &Shared<ModernHopfield<T>>,
    queries: &Bound<'_, PyAny>,
    beta: Beta,
    threads: Option<NonZeroUsize>,
    steps: Steps,
    cue: Cue<'_>,
) -> PyResult<ModernOutcomes> {
    let model = model.snapshot();
    let (q, rows, d) = rows_of(queries, "queries")?;
    let misfit = |m: Option<&[bool]>| m.is_some_and(|m| m.len() != q.len());
    // Checked once on the whole batch, so that errors name the right rows.
    if rows == 0 || d != model.d() || model.rows() == 0 || misfit(cue.clamp) || misfit(cue.known) {
        model.retrieve_cued(&q, d, beta, steps, cue)?;
    }
    // One query over one chunk of patterns has nothing to share with a
    // pool: the hand-off would cost more than a small retrieval.
    if rows <= INLINE_ROWS && !model.splits_a_query() {
        let part = on_this_thread(py, || model.retrieve_cued(&q, d, beta, steps, cue))?;
        return ModernOutcomes::new(py, vec![part], rows, model.dv());
    }
    // A few queries (up to one per thread) are one short call.
    if rows <= thread_count(threads) {
        let part = parallel(py, threads, || model.retrieve_cued(&q, d, beta, steps, cue))??;
        return ModernOutcomes::new(py, vec![part], rows, model.dv());
    }
    // A batch runs whole, so that every thread gets full query blocks and
    // each block streams the keys once (calls of a few dozen queries
    // would stream them once per few dozen); the driver looks at the
    // cancel flag between chunk stages.
    let part = interruptible(py, threads, |cancel| {
        model.retrieve_cued_until(&q, d, beta, steps, cue, cancel)
    })?;
    ModernOutcomes::new(py, vec![part], rows, model.dv())
}

fn energy<'py, T: Float + Element>(
    py: Python<'py>,
    model: &Shared<ModernHopfield<T>>,
    states: &Bound<'_, PyAny>,
    beta: Beta,
    threads: Option<NonZeroUsize>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let model = model.snapshot();
    let (s, rows, d) = rows_of(states, "states")?;
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
