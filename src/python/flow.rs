//! What every continuous-time model's binding does: integrate a float64
//! batch of states on the pool, in interruptible chunks of rows, and hand
//! back the results as arrays.

use std::num::NonZeroUsize;

use numpy::{PyArray1, PyArray2, PyArray3, PyReadonlyArray2};
use pyo3::prelude::*;

use super::convert::{cube, matrix, vector};
use super::run::{in_chunks, thread_count};
use crate::engine::flow::{check_step, integrate, Flowed, FLOW_BLOCK};
use crate::engine::leaky::{FlowOptions, LeakyModel};
use crate::error::{Error, Result};

/// Final states `(B, dim)`, steps `(B,)`, converged `(B,)`, final rate
/// `(B,)`, final energy `(B,)`, the energy trace `(B, T)` (None without a
/// stride) and the trajectory `(B, T, dim)` (None unless asked for).
pub type FlowArrays<'py> = (
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<bool>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Option<Bound<'py, PyArray2<f64>>>,
    Option<Bound<'py, PyArray3<f64>>>,
);

/// The options of a call, checked.
pub fn options(
    dt: f64,
    max_steps: u32,
    tol: f64,
    record: Option<u32>,
    trajectory: bool,
) -> Result<FlowOptions> {
    FlowOptions::new(dt, max_steps, tol, record, trajectory)
}

/// Integrates the rows of `states` under `model` (see
/// [`crate::engine::flow::integrate`]) in chunks with Ctrl-C checked
/// between them; a row's result does not depend on its chunk.
pub fn run<'py, M: LeakyModel>(
    py: Python<'py>,
    model: &M,
    states: &PyReadonlyArray2<'_, f64>,
    opts: &FlowOptions,
    threads: Option<NonZeroUsize>,
) -> PyResult<FlowArrays<'py>> {
    let view = states.as_array();
    let (rows, cols) = view.dim();
    let dim = model.dim();
    if cols != dim {
        return Err(Error::Shape(format!(
            "states must have {dim} columns, got shape ({rows}, {cols})"
        ))
        .into());
    }
    let values: Vec<f64> = match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    };
    check_step(model, opts)?;
    // Checked whole, so that an error names the row in the whole batch.
    if let Some(at) = values.iter().position(|x| !x.is_finite()) {
        return Err(Error::Value(format!(
            "states must be finite; found {} at row {}, column {}",
            values[at],
            at / dim.max(1),
            at % dim.max(1)
        ))
        .into());
    }
    let granule = thread_count(threads) * FLOW_BLOCK;
    let parts = in_chunks(py, threads, rows, (granule, 1), |r| {
        integrate(model, &values[r.start * dim..r.end * dim], r.len(), opts)
    })?;
    let parts = parts.into_iter().collect::<Result<Vec<Flowed>>>()?;
    let records = opts.records();
    let mut out_states = Vec::with_capacity(values.len());
    let mut steps = Vec::with_capacity(rows);
    let mut converged = Vec::with_capacity(rows);
    let mut rate = Vec::with_capacity(rows);
    let mut energy = Vec::with_capacity(rows);
    let mut trace = Vec::new();
    let mut trajectory = Vec::new();
    for part in parts {
        out_states.extend_from_slice(&part.states);
        trajectory.extend_from_slice(&part.trajectory);
        for o in part.outcomes {
            steps.push(o.steps);
            converged.push(o.converged);
            rate.push(o.rate);
            energy.push(o.energy);
            if opts.stride().is_some() {
                let start = trace.len();
                trace.extend_from_slice(&o.trace);
                trace.resize(start + records, f64::NAN);
            }
        }
    }
    let trace = match opts.stride() {
        Some(_) => Some(matrix(py, trace, rows, records)?),
        None => None,
    };
    let trajectory = if opts.trajectory() {
        Some(cube(py, trajectory, (rows, records, dim))?)
    } else {
        None
    };
    Ok((
        matrix(py, out_states, rows, dim)?,
        vector(py, steps),
        vector(py, converged),
        vector(py, rate),
        vector(py, energy),
        trace,
        trajectory,
    ))
}
