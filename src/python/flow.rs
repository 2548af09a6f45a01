//! What every continuous-time model's binding does: integrate a float64
//! batch of states on the pool, in interruptible chunks of rows, and hand
//! back the results as arrays.

use std::num::NonZeroUsize;

use numpy::{PyArray1, PyArray2, PyArray3, PyReadonlyArray2};
use pyo3::prelude::*;

use super::convert::{cube, matrix, vector};
use super::run::{in_chunks, thread_count};
use crate::engine::clamp::Clamp;
use crate::engine::flow::{check_step, clamp_words, integrate_clamped, Flowed, FLOW_BLOCK};
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

/// Bool clamp masks `(1, cols)` or `(rows, cols)` (True = held) over the
/// first `cols` of `dim` components, bit-packed
/// ([`clamp_words`]`(dim)` words per mask, the components from `cols` on
/// free); `None` when no component is held.
fn packed_masks(
    mask: &PyReadonlyArray2<'_, bool>,
    cols: usize,
    rows: usize,
    dim: usize,
) -> Result<Option<(Vec<u64>, bool)>> {
    let view = mask.as_array();
    let (count, width) = view.dim();
    if width != cols || (count != 1 && count != rows) {
        return Err(Error::Shape(format!(
            "clamp must have shape (1, {cols}) or ({rows}, {cols}), got ({count}, {width})"
        )));
    }
    let words = clamp_words(dim);
    let mut packed = vec![0u64; count * words];
    let mut any = false;
    for (r, row) in view.outer_iter().enumerate() {
        for (i, &held) in row.iter().enumerate() {
            if held {
                packed[r * words + i / 64] |= 1 << (i % 64);
                any = true;
            }
        }
    }
    Ok(any.then_some((packed, count == 1)))
}

/// Integrates the rows of `states` under `model` (see
/// [`crate::engine::flow::integrate_clamped`]) in chunks with Ctrl-C
/// checked between them; a row's result does not depend on its chunk.
/// `clamp`: bool masks `(1, cols)` or `(B, cols)` holding components among
/// the first `cols` at their starting values.
pub fn run<'py, M: LeakyModel>(
    py: Python<'py>,
    model: &M,
    states: &PyReadonlyArray2<'_, f64>,
    opts: &FlowOptions,
    threads: Option<NonZeroUsize>,
    clamp: Option<(&PyReadonlyArray2<'_, bool>, usize)>,
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
    let masks = match clamp {
        Some((mask, width)) => packed_masks(mask, width, rows, dim)?,
        None => None,
    };
    let words = clamp_words(dim);
    let clamp = match &masks {
        None => Clamp::None,
        Some((m, true)) => Clamp::Shared(m),
        Some((m, false)) => Clamp::PerRow(m),
    };
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
        let held = clamp.rows(r.start, r.len(), words);
        integrate_clamped(
            model,
            &values[r.start * dim..r.end * dim],
            r.len(),
            opts,
            held,
        )
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
