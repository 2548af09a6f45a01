//! The one retrieval path every binary model's binding shares: a frozen
//! `_core.Schedule` built (and validated) once in Python, and [`run`], which
//! descends a batch interruptibly and returns the result dict. A model's
//! `retrieve` method is then three lines, and options added to the schedule
//! reach every model at once.
//!
//! The same path runs stochastic retrieval, annealing with a quench
//! (minimisation) and, when the schedule carries a sampling plan, Boltzmann
//! sampling (`super::stochastic::sample`): every model whose binding calls
//! [`run`] gets all of them.

use std::sync::Arc;

use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::convert::{descend_interruptible, matrix, pack, unpack, vector};
use crate::batch::BatchOutcome;
use crate::dynamics::{Order, Schedule, Temperature, Update};
use crate::model::EnergyModel;
use crate::stochastic::Sampling;

/// How to run a retrieval: the validated options of `retrieve`.
#[pyclass(frozen, name = "Schedule", module = "hopfield._core")]
pub struct PySchedule {
    pub schedule: Schedule,
    pub threads: Option<usize>,
    /// Set by `hopfield.sample`: record samples instead of retrieving.
    pub sampling: Option<Sampling>,
}

fn parse_temperature(
    kind: &str,
    t0: f64,
    t1: f64,
    sweeps: u32,
    temperatures: Option<PyReadonlyArray1<'_, f64>>,
) -> PyResult<Temperature> {
    let temperature = match kind {
        "zero" => Temperature::Zero,
        "constant" => Temperature::Constant { t: t0, sweeps },
        "geometric" => Temperature::Geometric {
            start: t0,
            end: t1,
            sweeps,
        },
        "linear" => Temperature::Linear {
            start: t0,
            end: t1,
            sweeps,
        },
        "array" => {
            let ts = temperatures.ok_or_else(|| {
                PyValueError::new_err("kind='array' needs the temperatures array")
            })?;
            Temperature::PerSweep(Arc::from(ts.as_array().to_vec()))
        }
        other => {
            return Err(PyValueError::new_err(format!(
                "kind must be 'zero', 'constant', 'geometric', 'linear' or 'array', got {other:?}"
            )))
        }
    };
    temperature.check()?;
    Ok(temperature)
}

fn parse_update(update: &str) -> PyResult<Update> {
    match update {
        "async" => Ok(Update::Async),
        "sync" => Ok(Update::Sync),
        other => Err(PyValueError::new_err(format!(
            "update must be 'async' or 'sync', got {other:?}"
        ))),
    }
}

fn parse_order(order: &str) -> PyResult<Order> {
    match order {
        "random" => Ok(Order::Random),
        "sequential" => Ok(Order::Sequential),
        other => Err(PyValueError::new_err(format!(
            "order must be 'random' or 'sequential', got {other:?}"
        ))),
    }
}

#[pymethods]
impl PySchedule {
    #[new]
    #[pyo3(signature = (
        *, update, order, max_sweeps, seed, threads, track_energy,
        kind = "zero", t0 = 0.0, t1 = 0.0, sweeps = 0, temperatures = None,
        quench = false, sampling = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        update: &str,
        order: &str,
        max_sweeps: u32,
        seed: u64,
        threads: Option<usize>,
        track_energy: bool,
        kind: &str,
        t0: f64,
        t1: f64,
        sweeps: u32,
        temperatures: Option<PyReadonlyArray1<'_, f64>>,
        quench: bool,
        sampling: Option<(u32, u32, u32)>,
    ) -> PyResult<Self> {
        if max_sweeps == 0 {
            return Err(PyValueError::new_err("max_sweeps must be at least 1"));
        }
        if threads == Some(0) {
            return Err(PyValueError::new_err(
                "threads must be at least 1 (or None for all cores)",
            ));
        }
        let schedule = Schedule {
            update: parse_update(update)?,
            order: parse_order(order)?,
            max_sweeps,
            seed,
            track_energy,
            temperature: parse_temperature(kind, t0, t1, sweeps, temperatures)?,
            quench,
        };
        crate::batch::check_schedule(&schedule)?;
        let sampling = sampling.map(|(burn_in, n_samples, thin)| Sampling {
            burn_in,
            n_samples,
            thin,
        });
        if let Some(s) = &sampling {
            s.check()?;
            if !matches!(schedule.temperature, Temperature::Constant { .. }) {
                return Err(PyValueError::new_err(
                    "sampling needs a constant temperature > 0",
                ));
            }
        }
        Ok(PySchedule {
            schedule,
            threads,
            sampling,
        })
    }

    /// The temperature of every stochastic sweep, float64 (sweeps,) (empty
    /// for deterministic descent).
    fn temperatures<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        vector(py, self.schedule.temperature.values())
    }

    fn __repr__(&self) -> String {
        format!("{:?} threads={:?}", self.schedule, self.threads)
    }
}

/// Runs `schedule` from every row of `queries` on `model` and returns the
/// dict `hopfield` wraps in a `Retrieval`: `states` (int8 (B, N)),
/// `converged`, `cycled` (bool (B,)), `sweeps` (int64 (B,)), `energy`
/// (float64 (B,)) and, when tracked, `energy_trace` (float64 (B, T)).
/// With a sampling plan, the queries are the chains' starting states and
/// the dict is that of [`super::stochastic::sample`].
pub fn run<'py, M: EnergyModel>(
    py: Python<'py>,
    model: &M,
    queries: &PyReadonlyArray2<'_, i8>,
    schedule: &PySchedule,
) -> PyResult<Bound<'py, PyDict>> {
    if let Some(sampling) = schedule.sampling {
        return super::stochastic::sample(py, model, queries, schedule, sampling);
    }
    let mut states = pack(queries, "queries", model.n())?;
    let outcomes =
        descend_interruptible(py, model, &mut states, &schedule.schedule, schedule.threads)?;
    let result = BatchOutcome { states, outcomes };
    let dict = PyDict::new(py);
    dict.set_item("states", unpack(py, &result.states)?)?;
    let o = &result.outcomes;
    dict.set_item(
        "converged",
        vector(py, o.iter().map(|x| x.converged).collect()),
    )?;
    dict.set_item("cycled", vector(py, o.iter().map(|x| x.cycled).collect()))?;
    dict.set_item(
        "sweeps",
        vector(py, o.iter().map(|x| x.sweeps as i64).collect()),
    )?;
    dict.set_item("energy", vector(py, o.iter().map(|x| x.energy).collect()))?;
    if schedule.schedule.track_energy {
        let (width, trace) = result.trace_matrix();
        dict.set_item("energy_trace", matrix(py, trace, o.len(), width)?)?;
    }
    Ok(dict)
}
