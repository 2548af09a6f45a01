//! The random streams of a run, exposed so that the NumPy reference can
//! replay it exactly: the neuron orders of `order="random"`, the uniforms
//! of the Glauber decisions, and the default random starting states.

use numpy::{PyArray2, PyArray3};
use pyo3::prelude::*;

use super::convert::{cube, unpack};
use super::run::parallel;
use crate::engine::descent;
use crate::engine::glauber;
use crate::error::{try_filled, Error, Result};

/// `parts` multiplied, refused with `MemoryError` (before allocating) when
/// the product of 8-byte entries cannot be addressed.
fn checked_total(parts: &[usize]) -> Result<usize> {
    parts
        .iter()
        .try_fold(1usize, |acc, &x| acc.checked_mul(x))
        .filter(|&x| x <= (isize::MAX as usize) / 8)
        .ok_or_else(|| Error::Memory("the requested array cannot be allocated".into()))
}

/// Refuses `count` queries from `first` on whose indices pass `2**64`
/// (they would wrap around to query 0).
fn checked_queries(first: u64, count: usize) -> Result<()> {
    if (first as u128) + (count as u128) > 1u128 << 64 {
        return Err(Error::Value(format!(
            "first + count must be at most 2**64, got {}",
            (first as u128) + (count as u128)
        )));
    }
    Ok(())
}

/// The neuron orders that `order="random"` uses: int64 (count, sweeps, n),
/// entry `[q, t]` the order of sweep t+1 of query `first + q` under `seed`.
#[pyfunction]
#[pyo3(signature = (n, sweeps, seed, count = 1, first = 0))]
pub fn sweep_orders<'py>(
    py: Python<'py>,
    n: usize,
    sweeps: usize,
    seed: u64,
    count: usize,
    first: u64,
) -> PyResult<Bound<'py, PyArray3<i64>>> {
    checked_queries(first, count)?;
    let total = checked_total(&[n, sweeps, count])?;
    let mut out = try_filled("the requested orders", total, 0i64)?;
    if total > 0 {
        for (q, block) in out.chunks_exact_mut(n * sweeps).enumerate() {
            let orders = descent::sweep_orders(n, sweeps, seed, first + q as u64);
            for (o, i) in block.iter_mut().zip(orders) {
                *o = i as i64;
            }
        }
    }
    cube(py, out, (count, sweeps, n))
}

/// The uniforms of the acceptance decisions of stochastic runs:
/// float64 (count, sweeps, n), entry `[q, t, k]` decides the k-th update
/// (neuron `sweep_orders(...)[q, t, k]`) of sweep t+1 of query `first + q`.
#[pyfunction]
#[pyo3(signature = (n, sweeps, seed, count = 1, first = 0))]
pub fn acceptance_uniforms<'py>(
    py: Python<'py>,
    n: usize,
    sweeps: usize,
    seed: u64,
    count: usize,
    first: u64,
) -> PyResult<Bound<'py, PyArray3<f64>>> {
    checked_queries(first, count)?;
    let total = checked_total(&[n, sweeps, count])?;
    // Checked against the memory available: a plain reservation of an
    // impossible size aborts the process.
    let mut out = try_filled("the requested uniforms", total, 0.0f64)?;
    out.clear();
    for q in 0..count as u64 {
        out.extend(glauber::acceptance_uniforms(n, sweeps, seed, first + q));
    }
    cube(py, out, (count, sweeps, n))
}

/// Uniformly random states, int8 (count, n); row r from the stream of
/// `(seed, first + r)` (the default starting points of chains and restarts).
#[pyfunction]
#[pyo3(signature = (n, count, seed, first = 0))]
pub fn random_states<'py>(
    py: Python<'py>,
    n: usize,
    count: usize,
    seed: u64,
    first: u64,
) -> PyResult<Bound<'py, PyArray2<i8>>> {
    checked_queries(first, count)?;
    checked_total(&[n, count])?;
    let states = parallel(py, None, || glauber::random_states(n, count, seed, first))??;
    unpack(py, &states)
}
