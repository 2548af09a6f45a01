//! `_core.Graded`: the graded-response network behind
//! `hopfield.GradedHopfieldNetwork` (immutable: the Python class builds a
//! new one when its patterns or parameters change).

use std::num::NonZeroUsize;

use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use super::args;
use super::flow::{options, run, FlowArrays};
use crate::continuous::{Activation, Coupling, Graded};
use crate::error::{Error, Result};

/// A graded-response network and the thread count it runs on.
#[pyclass(frozen, name = "Graded", module = "hopfield._core")]
pub struct PyGraded {
    model: Graded,
    threads: Option<NonZeroUsize>,
}

/// A C-contiguous copy of a float64 matrix: values, rows, columns.
fn rows_of(array: &PyReadonlyArray2<'_, f64>) -> (Vec<f64>, usize, usize) {
    let view = array.as_array();
    let (rows, cols) = view.dim();
    let data = match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    };
    (data, rows, cols)
}

#[pymethods]
impl PyGraded {
    /// A network of `n` neurons with Hebbian `patterns` (float64 `(P, n)`,
    /// kept factored) or dense `weights` (float64 `(n, n)`), gain, output
    /// function ("tanh" or "sigmoid"), time constant and input currents
    /// (float64 `(n,)`).
    #[new]
    #[pyo3(signature = (n, *, gain, activation, tau, input, patterns, weights, threads))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        n: usize,
        gain: &Bound<'_, PyAny>,
        activation: &Bound<'_, PyAny>,
        tau: &Bound<'_, PyAny>,
        input: PyReadonlyArray1<'_, f64>,
        patterns: Option<PyReadonlyArray2<'_, f64>>,
        weights: Option<PyReadonlyArray2<'_, f64>>,
        threads: &Bound<'_, PyAny>,
    ) -> Result<Self> {
        let activation = match args::choice(activation, "activation", &["tanh", "sigmoid"])? {
            0 => Activation::Tanh,
            _ => Activation::Sigmoid,
        };
        let coupling = match (patterns, weights) {
            (Some(p), None) => {
                let (data, rows, cols) = rows_of(&p);
                if cols != n {
                    return Err(Error::Shape(format!(
                        "patterns must have n = {n} columns, got shape ({rows}, {cols})"
                    )));
                }
                Coupling::hebbian(data, rows, n)?
            }
            (None, Some(w)) => {
                let (data, rows, cols) = rows_of(&w);
                if rows != n || cols != n {
                    return Err(Error::Shape(format!(
                        "weights must have shape ({n}, {n}), got ({rows}, {cols})"
                    )));
                }
                Coupling::dense(data, n)?
            }
            _ => return Err(Error::Value("give patterns or weights, not both".into())),
        };
        let input = input.as_array().iter().copied().collect();
        let model = Graded::new(
            n,
            coupling,
            args::real(gain, "gain")?,
            activation,
            args::real(tau, "tau")?,
            input,
        )?;
        Ok(PyGraded {
            model,
            threads: args::threads(threads)?,
        })
    }

    /// Number of neurons.
    #[getter]
    fn n(&self) -> usize {
        self.model.n()
    }

    /// The gain γ.
    #[getter]
    fn gain(&self) -> f64 {
        self.model.gain()
    }

    /// The time constant τ.
    #[getter]
    fn tau(&self) -> f64 {
        self.model.tau()
    }

    /// The same network at another gain.
    fn with_gain(&self, gain: &Bound<'_, PyAny>) -> Result<PyGraded> {
        Ok(PyGraded {
            model: self.model.with_gain(args::real(gain, "gain")?)?,
            threads: self.threads,
        })
    }

    /// Integrates float64 `(B, n)` potentials `u`: exponential-Euler steps
    /// of `dt`, at most `max_steps`, a state stopping once `max |du/dt|` is
    /// at most `tol`; the energy (and with `trajectory` the state) every
    /// `record` steps. The neurons True in `clamp` (bool `(1, n)` or
    /// `(B, n)`) keep their starting potentials; the rate is over the free
    /// ones.
    #[pyo3(signature = (states, *, dt, max_steps, tol, record, trajectory, clamp = None))]
    #[allow(clippy::too_many_arguments)]
    fn integrate<'py>(
        &self,
        py: Python<'py>,
        states: PyReadonlyArray2<'_, f64>,
        dt: &Bound<'_, PyAny>,
        max_steps: &Bound<'_, PyAny>,
        tol: &Bound<'_, PyAny>,
        record: &Bound<'_, PyAny>,
        trajectory: bool,
        clamp: Option<PyReadonlyArray2<'_, bool>>,
    ) -> PyResult<FlowArrays<'py>> {
        let record = if record.is_none() {
            None
        } else {
            Some(args::positive32(record, "record")?.get())
        };
        let opts = options(
            args::real(dt, "dt")?,
            args::count32(max_steps, "max_steps", 0)?,
            args::real(tol, "tol")?,
            record,
            trajectory,
        )?;
        let clamp = clamp.as_ref().map(|m| (m, self.model.n()));
        run(py, &self.model, &states, &opts, self.threads, clamp)
    }
}
