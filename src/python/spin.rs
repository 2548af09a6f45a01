//! What every binary model's binding does the same way, written once for
//! any [`EnergyModel`]: retrieval, sampling, and the per-state queries
//! (energies, local fields, overlaps). Each packs its int8 (B, N) input,
//! runs on this process's pool with the GIL released, and returns NumPy
//! arrays or a typed result. A model's method is then one line.

use numpy::{PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;

use super::convert::{matrix, pack, vector};
use super::options::{RetrieveOptions, SampleOptions};
use super::results::{Outcomes, PySampled};
use super::run::{in_chunks, on_this_thread, parallel, thread_count, INLINE_ROWS};
use crate::engine::batch::{self, BatchOutcome};
use crate::engine::clamp::Clamp;
use crate::engine::energy::EnergyModel;
use crate::engine::glauber::{Sampler, Starts};
use crate::error::Error;
use crate::spins::SpinMatrix;

/// Runs `options` from every row of the int8 (B, N) `queries`, in
/// interruptible chunks (row `r`'s streams are keyed by `options.first_row
/// + r`, so chunks, here or across machines, change nothing).
///
/// The neurons at +1 in `clamp` (int8 ±1, one row or one per query) are
/// held at their query values.
pub fn retrieve<M: EnergyModel>(
    py: Python<'_>,
    model: &M,
    queries: &PyReadonlyArray2<'_, i8>,
    options: &RetrieveOptions,
    clamp: Option<&PyReadonlyArray2<'_, i8>>,
) -> PyResult<Outcomes> {
    let mut states = pack(queries, "queries", model.n())?;
    let (rows, words) = (states.rows(), states.words());
    let masks = match clamp {
        Some(c) => Some(pack(c, "clamp", model.n())?),
        None => None,
    };
    let clamp = clamp_of(masks.as_ref(), rows, "query")?;
    let (schedule, threads, base) = (&options.schedule, options.threads, options.first_row);
    let data = states.as_words_mut();
    let outcomes = if rows <= INLINE_ROWS {
        on_this_thread(py, || {
            batch::descend_rows_clamped(model, data, words, base, schedule, clamp)
        })
    } else {
        let first = 16 * thread_count(threads);
        let parts = in_chunks(py, threads, rows, (1, first), |r| {
            let block = &mut data[r.start * words..r.end * words];
            let clamp = clamp.rows(r.start, r.len(), words);
            batch::descend_rows_clamped(model, block, words, base + r.start as u64, schedule, clamp)
        })?;
        parts.into_iter().flatten().collect()
    };
    let result = BatchOutcome { states, outcomes };
    Ok(Outcomes::new(result, schedule.track_energy()))
}

/// The packed masks `masks` (one row, or one per `what` of `rows`) as the
/// drivers take them.
fn clamp_of<'a>(masks: Option<&'a SpinMatrix>, rows: usize, what: &str) -> PyResult<Clamp<'a>> {
    Ok(match masks {
        None => Clamp::None,
        Some(m) if m.rows() == 1 => Clamp::Shared(m.as_words()),
        Some(m) if m.rows() == rows => Clamp::PerRow(m.as_words()),
        Some(m) => {
            return Err(Error::Shape(format!(
                "clamp must have 1 row or one per {what} ({rows}), got {}",
                m.rows()
            ))
            .into())
        }
    })
}

/// Samples the Boltzmann distribution of `model` with `options`. The
/// chains start from `init` (int8 (B, N), one chain per row; with `single`
/// its one row for every chain) or, without it, from random states. The
/// neurons at +1 in `clamp` (int8 ±1, one row or one per chain) are held
/// at their starting values.
pub fn sample<M: EnergyModel>(
    py: Python<'_>,
    model: &M,
    options: &SampleOptions,
    init: Option<PyReadonlyArray2<'_, i8>>,
    single: bool,
    clamp: Option<PyReadonlyArray2<'_, i8>>,
) -> PyResult<PySampled> {
    let (plan, threads) = (options.plan, options.threads);
    let chains = options.chains.map(|c| c.get() as usize);
    let packed = match &init {
        Some(init) => Some(pack(init, "init", model.n())?),
        None => None,
    };
    let starts = match &packed {
        None => Starts::Random(chains.unwrap_or(1)),
        Some(rows) if single && rows.rows() == 1 => {
            Starts::Repeat(rows.row(0), chains.unwrap_or(1))
        }
        Some(rows) => {
            if let Some(c) = chains.filter(|&c| c != rows.rows()) {
                return Err(Error::Value(format!(
                    "chains={c} disagrees with init's {} rows",
                    rows.rows()
                ))
                .into());
            }
            Starts::Rows(rows)
        }
    };
    let count = match starts {
        Starts::Random(c) | Starts::Repeat(_, c) => c,
        Starts::Rows(rows) => rows.rows(),
    };
    if clamp.is_some() && matches!(starts, Starts::Random(_)) {
        return Err(Error::Value(
            "clamp needs init: the clamped neurons keep their starting values, \
             so give the starting states (a partial cue) with init="
                .into(),
        )
        .into());
    }
    let masks = match &clamp {
        Some(c) => Some(pack(c, "clamp", model.n())?),
        None => None,
    };
    let clamp = clamp_of(masks.as_ref(), count, "chain")?;
    let mut sampler = parallel(py, threads, || {
        Sampler::new(model, starts, plan).and_then(|s| s.clamped(clamp))
    })??;
    in_chunks(py, threads, plan.burn_in() as usize, (1, 1), |r| {
        sampler.burn(r.len() as u32)
    })?;
    in_chunks(py, threads, plan.n_samples() as usize, (1, 1), |r| {
        sampler.take(r.start as u32, r.end as u32)
    })?;
    let sampled = sampler.finish()?;
    PySampled::new(py, sampled, plan.n_samples() as usize)
}

/// Energies of int8 (B, N) `states` under `model`, float64 (B,).
pub fn energies<'py, M: EnergyModel>(
    py: Python<'py>,
    model: &M,
    states: &PyReadonlyArray2<'_, i8>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let states = pack(states, "states", model.n())?;
    let out = parallel(py, None, || batch::energies(model, &states))??;
    Ok(vector(py, out))
}

/// Local fields of int8 (B, N) `states`, float64 (B, N); `field(row, out)`
/// writes one packed row's N fields.
pub fn fields<'py>(
    py: Python<'py>,
    n: usize,
    states: &PyReadonlyArray2<'_, i8>,
    field: impl Fn(&[u64], &mut [f64]) + Sync + Send,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let states = pack(states, "states", n)?;
    let out = parallel(py, None, || batch::map_rows(&states, n, field))??;
    matrix(py, out, states.rows(), n)
}

/// Overlaps `ξ^μ·s / N` of int8 (B, N) `states` with packed `patterns`,
/// float64 (B, P).
pub fn overlaps<'py>(
    py: Python<'py>,
    patterns: &SpinMatrix,
    states: &PyReadonlyArray2<'_, i8>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let states = pack(states, "states", patterns.n())?;
    let out = parallel(py, None, || batch::overlap_matrix(&states, patterns))??;
    matrix(py, out, states.rows(), patterns.rows())
}
