//! `_core.Hidden`: the hidden-neuron memory behind
//! `hopfield.HiddenNeuronMemory` (immutable: the Python class builds a new
//! one when its patterns change).

use std::num::NonZeroUsize;

use numpy::{PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;

use numpy::PyArray2;

use super::args;
use super::convert::matrix;
use super::flow::{options, run, FlowArrays};
use super::run::parallel;
use crate::continuous::{FeatureLagrangian, HiddenLagrangian, HiddenMemory};
use crate::error::{Error, Result};

/// A hidden-neuron memory and the thread count it runs on.
#[pyclass(frozen, name = "Hidden", module = "hopfield._core")]
pub struct PyHidden {
    model: HiddenMemory,
    threads: Option<NonZeroUsize>,
}

#[pymethods]
impl PyHidden {
    /// A memory of float64 `(P, n)` patterns with the feature Lagrangian
    /// `feature` ("identity", "tanh" with `gain`, "layernorm" with `gamma`
    /// and `eps`), the hidden Lagrangian `hidden` ("lse" with `beta`,
    /// "power" or "rectified" with `degree`), time constants and float64
    /// `(n,)` input currents.
    #[new]
    #[pyo3(signature = (patterns, *, feature, hidden, gain, gamma, eps, beta, degree, tau_f, tau_h, input, threads))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        patterns: PyReadonlyArray2<'_, f64>,
        feature: &Bound<'_, PyAny>,
        hidden: &Bound<'_, PyAny>,
        gain: &Bound<'_, PyAny>,
        gamma: &Bound<'_, PyAny>,
        eps: &Bound<'_, PyAny>,
        beta: &Bound<'_, PyAny>,
        degree: &Bound<'_, PyAny>,
        tau_f: &Bound<'_, PyAny>,
        tau_h: &Bound<'_, PyAny>,
        input: PyReadonlyArray1<'_, f64>,
        threads: &Bound<'_, PyAny>,
    ) -> Result<Self> {
        let feature = match args::choice(feature, "feature", &["identity", "tanh", "layernorm"])? {
            0 => FeatureLagrangian::Identity,
            1 => FeatureLagrangian::Tanh {
                gain: args::real(gain, "gain")?,
            },
            _ => FeatureLagrangian::LayerNorm {
                gamma: args::real(gamma, "gamma")?,
                eps: args::real(eps, "eps")?,
            },
        };
        let hidden = match args::choice(hidden, "hidden", &["lse", "power", "rectified"])? {
            0 => HiddenLagrangian::LogSumExp {
                beta: args::real(beta, "beta")?,
            },
            k => HiddenLagrangian::Power {
                degree: args::count32(degree, "degree", 2)?,
                rectified: k == 2,
            },
        };
        let view = patterns.as_array();
        let (count, n) = view.dim();
        let data: Vec<f64> = match view.as_slice() {
            Some(s) => s.to_vec(),
            None => view.iter().copied().collect(),
        };
        let input: Vec<f64> = input.as_array().iter().copied().collect();
        if input.len() != n {
            return Err(Error::Shape(format!(
                "input must have n = {n} values, got {}",
                input.len()
            )));
        }
        let taus = (args::real(tau_f, "tau_f")?, args::real(tau_h, "tau_h")?);
        Ok(PyHidden {
            model: HiddenMemory::new(n, data, count, feature, hidden, taus, input)?,
            threads: args::threads(threads)?,
        })
    }

    /// Number of feature neurons.
    #[getter]
    fn n(&self) -> usize {
        self.model.n()
    }

    /// Number of hidden neurons (stored patterns).
    #[getter]
    fn num_patterns(&self) -> usize {
        self.model.count()
    }

    /// The hidden neurons at rest given float64 `(B, n)` features:
    /// `h = Ξ g(x)`, float64 `(B, P)`; a row's result does not depend on
    /// the other rows.
    fn rest_hidden<'py>(
        &self,
        py: Python<'py>,
        features: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Bound<'py, PyArray2<f64>>> {
        let view = features.as_array();
        let (rows, cols) = view.dim();
        if cols != self.model.n() {
            return Err(Error::Shape(format!(
                "features must have n = {} columns, got shape ({rows}, {cols})",
                self.model.n()
            ))
            .into());
        }
        let x: Vec<f64> = view.iter().copied().collect();
        let h = parallel(py, self.threads, || self.model.rest(&x, rows))??;
        matrix(py, h, rows, self.model.count())
    }

    /// Integrates float64 `(B, n + P)` states `[x | h]` (see
    /// `_core.Graded.integrate` for the options). `clamp` (bool `(1, n)` or
    /// `(B, n)`) holds feature neurons only; the hidden ones are free.
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
