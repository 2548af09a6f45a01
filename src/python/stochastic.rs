//! Boltzmann sampling for every binary model (reached through the shared
//! `retrieve::run` when the schedule carries a sampling plan), and the
//! random streams exposed so that the NumPy reference can replay a run.

use std::time::{Duration, Instant};

use numpy::PyReadonlyArray2;
use pyo3::exceptions::{PyMemoryError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use rayon::prelude::*;

use super::convert::{matrix, pack, parallel, unpack, vector};
use super::retrieve::PySchedule;
use crate::error::try_filled;
use crate::model::EnergyModel;
use crate::spins::SpinMatrix;
use crate::stochastic::{self, Chain, Sampling, Temperature, CHAIN_BLOCK};

/// How long one detached chunk should take before Ctrl-C is checked.
const CHUNK_TARGET: Duration = Duration::from_millis(50);

/// Calls `f(from, to)` over `0..total` in chunks, each detached (on the
/// schedule's pool), checking signals between chunks; chunk lengths adapt
/// to take about 50 ms and do not change the result.
fn chunked(
    py: Python<'_>,
    total: u32,
    threads: Option<usize>,
    mut f: impl FnMut(u32, u32) + Send,
) -> PyResult<()> {
    let mut done = 0u32;
    let mut step = 1u32;
    while done < total {
        let to = done.saturating_add(step).min(total);
        let began = Instant::now();
        parallel(py, threads, || f(done, to))?;
        done = to;
        py.check_signals()?;
        let scale = CHUNK_TARGET.as_secs_f64() / began.elapsed().as_secs_f64().max(1e-6);
        step = ((step as f64 * scale.clamp(0.5, 4.0)) as u32).max(1);
    }
    Ok(())
}

/// Runs one Markov chain per row of `init` at the schedule's constant
/// temperature and returns a dict: `samples` (int8 (B·S, N), chain-major),
/// `sample_energy` (float64 (B·S,)), `states` (final, int8 (B, N)) and
/// `energy` (final, float64 (B,)). Chain `c` draws from the streams of
/// `(seed, c)`, so results do not depend on threads or chunking.
pub fn sample<'py, M: EnergyModel>(
    py: Python<'py>,
    model: &M,
    init: &PyReadonlyArray2<'_, i8>,
    plan: &PySchedule,
    sampling: Sampling,
) -> PyResult<Bound<'py, PyDict>> {
    let schedule = &plan.schedule;
    let t = match schedule.temperature {
        Temperature::Constant { t, .. } => t,
        _ => {
            return Err(PyValueError::new_err(
                "sampling needs a constant temperature > 0",
            ))
        }
    };
    let n = model.n();
    let starts = pack(init, "init", n)?;
    let chains = starts.rows();
    let per_chain = sampling.n_samples as usize;
    let rows = chains
        .checked_mul(per_chain)
        .ok_or_else(|| PyMemoryError::new_err("the requested samples cannot be allocated"))?;
    let too_big = rows
        .checked_mul(n)
        .is_none_or(|b| b > isize::MAX as usize / 2);
    if too_big {
        return Err(PyMemoryError::new_err(format!(
            "{chains} chains × {per_chain} samples × {n} neurons cannot be allocated"
        )));
    }
    let mut samples = SpinMatrix::minus_ones(rows, n)?;
    let mut energies = try_filled("the sample energies", rows, 0.0f64)?;
    let words = samples.words();
    let (seed, order) = (schedule.seed, schedule.order);
    let threads = plan.threads;
    let mut runs: Vec<Chain<M::Cache>> = parallel(py, threads, || {
        starts
            .as_words()
            .par_chunks(words * CHAIN_BLOCK)
            .enumerate()
            .flat_map_iter(|(b, rows)| {
                let first = (b * CHAIN_BLOCK) as u64;
                Chain::block(model, rows, words, first, seed, order)
            })
            .collect()
    })?;
    let block = CHAIN_BLOCK;
    chunked(py, sampling.burn_in, threads, |from, to| {
        runs.par_chunks_mut(block).for_each(|chains| {
            let mut flips = vec![0usize; chains.len()];
            for _ in from..to {
                stochastic::sweep_block(model, chains, t, true, &mut flips);
            }
        })
    })?;
    let data = samples.as_words_mut();
    chunked(py, sampling.n_samples, threads, |from, to| {
        runs.par_chunks_mut(block)
            .zip(data.par_chunks_mut(block * per_chain * words))
            .zip(energies.par_chunks_mut(block * per_chain))
            .for_each(|((chains, s), e)| {
                stochastic::sample_block(
                    model,
                    chains,
                    t,
                    sampling.thin,
                    per_chain,
                    (from as usize, to as usize),
                    s,
                    e,
                )
            })
    })?;
    let mut finals = SpinMatrix::minus_ones(chains, n)?;
    for (row, chain) in finals.as_words_mut().chunks_exact_mut(words).zip(&runs) {
        row.copy_from_slice(&chain.state);
    }
    let final_energy: Vec<f64> = runs.iter().map(|c| c.energy(model)).collect();
    let mut values = try_filled("the samples as int8", rows * n, 0i8)?;
    parallel(py, None, || samples.write_spins(&mut values))?;
    let dict = PyDict::new(py);
    dict.set_item("samples", matrix(py, values, rows, n)?)?;
    dict.set_item("sample_energy", vector(py, energies))?;
    dict.set_item("states", unpack(py, &finals)?)?;
    dict.set_item("energy", vector(py, final_energy))?;
    Ok(dict)
}

fn checked_total(parts: &[usize]) -> PyResult<usize> {
    parts
        .iter()
        .try_fold(1usize, |acc, &x| acc.checked_mul(x))
        .filter(|&x| x <= (isize::MAX as usize) / 8)
        .ok_or_else(|| PyMemoryError::new_err("the requested array cannot be allocated"))
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
) -> PyResult<Bound<'py, numpy::PyArray3<f64>>> {
    let total = checked_total(&[n, sweeps, count])?;
    let mut out = Vec::with_capacity(total);
    for q in 0..count as u64 {
        out.extend(stochastic::acceptance_uniforms(n, sweeps, seed, first + q));
    }
    let array = numpy::ndarray::Array3::from_shape_vec((count, sweeps, n), out)
        .map_err(|e| PyValueError::new_err(e.to_string()))?;
    Ok(numpy::IntoPyArray::into_pyarray(array, py))
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
) -> PyResult<Bound<'py, numpy::PyArray2<i8>>> {
    checked_total(&[n, count])?;
    let states = parallel(py, None, || {
        stochastic::random_states(n, count, seed, first)
    })??;
    unpack(py, &states)
}
