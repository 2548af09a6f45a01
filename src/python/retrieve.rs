//! The one retrieval path every binary model's binding shares: a frozen
//! `_core.Schedule` built (and validated) once in Python, and [`run`], which
//! descends a batch interruptibly and returns the result dict. A model's
//! `retrieve` method is then three lines, and options added to the schedule
//! reach every model at once.

use numpy::PyReadonlyArray2;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use super::convert::{descend_interruptible, matrix, pack, unpack, vector};
use crate::batch::BatchOutcome;
use crate::dynamics::{Order, Schedule, Update};
use crate::model::EnergyModel;

/// How to run a retrieval: the validated options of `retrieve`.
#[pyclass(frozen, name = "Schedule", module = "hopfield._core")]
pub struct PySchedule {
    pub schedule: Schedule,
    pub threads: Option<usize>,
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
    #[pyo3(signature = (*, update, order, max_sweeps, seed, threads, track_energy))]
    fn new(
        update: &str,
        order: &str,
        max_sweeps: u32,
        seed: u64,
        threads: Option<usize>,
        track_energy: bool,
    ) -> PyResult<Self> {
        if max_sweeps == 0 {
            return Err(PyValueError::new_err("max_sweeps must be at least 1"));
        }
        if threads == Some(0) {
            return Err(PyValueError::new_err(
                "threads must be at least 1 (or None for all cores)",
            ));
        }
        Ok(PySchedule {
            schedule: Schedule {
                update: parse_update(update)?,
                order: parse_order(order)?,
                max_sweeps,
                seed,
                track_energy,
            },
            threads,
        })
    }

    fn __repr__(&self) -> String {
        format!("{:?} threads={:?}", self.schedule, self.threads)
    }
}

/// Runs `schedule` from every row of `queries` on `model` and returns the
/// dict `hopfield` wraps in a `Retrieval`: `states` (int8 (B, N)),
/// `converged`, `cycled` (bool (B,)), `sweeps` (int64 (B,)), `energy`
/// (float64 (B,)) and, when tracked, `energy_trace` (float64 (B, T)).
pub fn run<'py, M: EnergyModel>(
    py: Python<'py>,
    model: &M,
    queries: &PyReadonlyArray2<'_, i8>,
    schedule: &PySchedule,
) -> PyResult<Bound<'py, PyDict>> {
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
