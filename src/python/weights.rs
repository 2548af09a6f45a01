//! `_core.Weights`: the weight-matrix memory behind
//! `hopfield.HopfieldNetwork.from_weights` and the non-Hebbian rules.

use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use numpy::{PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use super::convert::{matrix, pack, unpack, vector};
use super::options::{RetrieveOptions, SampleOptions};
use super::results::{Outcomes, PySampled};
use super::run::{parallel, watched};
use super::shared::Shared;
use super::spin;
use crate::engine::batch;
use crate::error::{Error, Result};
use crate::model::Weights;
use crate::rules::{Learner, Rule};

/// Stores estimated to take at least this many multiply-adds (a few
/// tens of milliseconds) run watched for Ctrl-C (see [`watched`]); shorter
/// ones run directly, without a watcher thread.
const WATCHED_WORK: f64 = 1e8;

/// A weight-matrix memory: float32 weights on an exact grid, float64 thresholds.
///
/// Replacing the weights swaps the shared model copy-on-write, so a
/// retrieval running in another thread keeps the weights it started with.
#[pyclass(frozen, name = "Weights", module = "hopfield._core")]
pub struct PyWeights {
    model: Shared<Weights>,
    /// The learning rule's state; `None` for weights a user brought.
    learner: Option<Mutex<Learner>>,
}

impl PyWeights {
    /// Wraps a built model.
    pub fn wrap(model: Weights) -> Self {
        PyWeights {
            model: Shared::new(model),
            learner: None,
        }
    }

    fn learner(&self) -> Result<std::sync::MutexGuard<'_, Learner>> {
        let learner = self.learner.as_ref().ok_or_else(|| {
            Error::Value(
                "these weights were given, not learnt: there is no rule to store with".into(),
            )
        })?;
        Ok(learner.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Replaces the model (copy-on-write: running retrievals keep theirs).
    pub fn replace(&self, model: Weights) {
        self.model.replace(model);
    }
}

/// A row-major copy of a square float32 matrix named `name`, refusing with
/// `MemoryError` (before copying) when it cannot be allocated.
pub fn square_f32(array: &PyReadonlyArray2<'_, f32>, name: &str) -> Result<(usize, Vec<f32>)> {
    let view = array.as_array();
    let (rows, cols) = view.dim();
    if rows != cols || rows == 0 {
        return Err(Error::Shape(format!(
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

    /// An empty memory learning by `rule` ("storkey", "pseudoinverse" or
    /// "covariance"; `activity` for covariance, `zero_diagonal` for the
    /// pseudo-inverse), with thresholds θ.
    #[staticmethod]
    #[pyo3(signature = (n, threshold, rule, *, zero_diagonal = true, activity = None, dilution = None, seed = 0))]
    #[allow(clippy::too_many_arguments)]
    fn learning(
        py: Python<'_>,
        n: usize,
        threshold: PyReadonlyArray1<'_, f64>,
        rule: &str,
        zero_diagonal: bool,
        activity: Option<f64>,
        dilution: Option<f64>,
        seed: u64,
    ) -> PyResult<Self> {
        let rule =
            match (rule, activity) {
                ("storkey", None) => Rule::Storkey,
                ("pseudoinverse", None) => Rule::PseudoInverse { zero_diagonal },
                ("covariance", Some(activity)) => Rule::Covariance { activity },
                ("covariance", None) => return Err(Error::Value(
                    "rule 'covariance' needs activity, the fraction of +1 entries in the patterns"
                        .into(),
                )
                .into()),
                ("storkey" | "pseudoinverse", Some(_)) => {
                    return Err(
                        Error::Value("activity is only used by rule 'covariance'".into()).into(),
                    )
                }
                (other, _) => {
                    return Err(Error::Value(format!(
                        "rule must be 'storkey', 'pseudoinverse' or 'covariance', got {other:?}"
                    ))
                    .into())
                }
            };
        let threshold = threshold.as_array().to_vec();
        let (learner, model) = parallel(py, None, || -> crate::Result<_> {
            let mut learner = Learner::new(n, rule)?;
            if let Some(c) = dilution {
                learner.dilute(c, seed)?;
            }
            let model = learner.model(threshold)?;
            Ok((learner, model))
        })??;
        Ok(PyWeights {
            model: Shared::new(model),
            learner: Some(Mutex::new(learner)),
        })
    }

    /// Raises MemoryError when the N × N matrices of a learnt network of
    /// `n` neurons cannot be allocated (nothing is kept).
    #[staticmethod]
    fn check_size(n: usize) -> PyResult<()> {
        Ok(Learner::check_size(n, Rule::Storkey)?)
    }

    /// Learns int8 (P, N) patterns by the rule (appending; the
    /// pseudo-inverse recomputes from all patterns). On error nothing changes.
    ///
    /// Runs with the GIL held (see `Shared`): releasing it while holding the
    /// learner's lock could deadlock with another thread waiting for it.
    ///
    /// A long store (Storkey, covariance, pseudo-inverse at large N) runs
    /// on a worker while this thread watches for Ctrl-C: on a signal the
    /// rule stops between chunks, the exception is raised and the memory
    /// is as it was before the call.
    fn store(&self, py: Python<'_>, patterns: PyReadonlyArray2<'_, i8>) -> PyResult<()> {
        let n = self.model.snapshot().n();
        let packed = pack(&patterns, "patterns", n)?;
        let mut learner = self.learner()?;
        let threshold = self.model.snapshot().threshold().to_vec();
        let mut next = learner.clone();
        let cancel = AtomicBool::new(false);
        let long = next.store_work(packed.rows()) >= WATCHED_WORK;
        let learn = || -> Result<Weights> {
            next.store_until(&packed, &cancel)?;
            next.model_until(threshold, &cancel)
        };
        let model = if long {
            watched(py, &cancel, learn)?
        } else {
            batch::with_threads(None, learn)??
        };
        *learner = next;
        self.replace(model);
        Ok(())
    }

    /// Number of stored patterns (0 for given weights).
    #[getter]
    fn num_patterns(&self) -> PyResult<usize> {
        Ok(match &self.learner {
            Some(_) => self.learner()?.patterns().rows(),
            None => 0,
        })
    }

    /// The stored patterns, int8 (P, N) ((0, N) for given weights).
    fn patterns<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<i8>>> {
        match &self.learner {
            Some(_) => {
                let patterns = self.learner()?.patterns().clone();
                unpack(py, &patterns)
            }
            None => matrix(py, Vec::<i8>::new(), 0, self.model.snapshot().n()),
        }
    }

    /// Number of neurons.
    #[getter]
    fn n(&self) -> usize {
        self.model.snapshot().n()
    }

    /// Bytes held by the memory.
    #[getter]
    fn nbytes(&self) -> PyResult<usize> {
        let learnt = match &self.learner {
            Some(_) => self.learner()?.nbytes(),
            None => 0,
        };
        Ok(self.model.snapshot().nbytes() + learnt)
    }

    /// Whether W equals its transpose (after rounding onto the grid).
    #[getter]
    fn symmetric(&self) -> bool {
        self.model.snapshot().is_symmetric()
    }

    /// Whether every diagonal weight is zero.
    #[getter]
    fn zero_diagonal(&self) -> bool {
        self.model.snapshot().has_zero_diagonal()
    }

    /// The grid exponent k: every stored weight is a multiple of 2**-k.
    #[getter]
    fn grid_exponent(&self) -> i32 {
        self.model.snapshot().grid_exponent()
    }

    /// The stored weights W (rounded onto the grid), float32 (N, N).
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let model = self.model.snapshot();
        let n = model.n();
        let w = parallel(py, None, || model.weights())??;
        matrix(py, w, n, n)
    }

    /// The thresholds θ, float64 (N,).
    fn threshold<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        vector(py, self.model.snapshot().threshold().to_vec())
    }

    /// Energies of int8 (B, N) states, float64 (B,); NaN for an asymmetric W.
    fn energy<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        spin::energies(py, &*self.model.snapshot(), &states)
    }

    /// Local fields h = W s − θ of int8 (B, N) states, float64 (B, N).
    fn fields<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, i8>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let model = self.model.snapshot();
        spin::fields(py, model.n(), &states, |row, out| model.fields(row, out))
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

/// Weights of the sequence rule W = (1/N) Σ ξ^{μ+1} ξ^μᵀ over int8 (L_k, N)
/// sequences (cyclic: each sequence's last item leads to its first),
/// float32 (N, N).
#[pyfunction]
pub fn sequence_weights<'py>(
    py: Python<'py>,
    n: usize,
    sequences: Vec<PyReadonlyArray2<'py, i8>>,
    cyclic: bool,
) -> PyResult<Bound<'py, PyArray2<f32>>> {
    let packed = sequences
        .iter()
        .map(|s| pack(s, "sequences", n))
        .collect::<Result<Vec<_>>>()?;
    let w = parallel(py, None, || {
        crate::rules::sequence_weights(n, &packed, cyclic)
    })??;
    matrix(py, w, n, n)
}
