//! The batch executor: runs the drivers for many queries on rayon, and owns
//! the thread pools every parallel call runs on.
//!
//! Each query is independent and draws from its own stream, keyed by its
//! index in the whole batch (`first_index + row`), so a batch split into
//! chunks, or run on any number of threads, gives the same results.

use std::num::NonZeroUsize;

use rayon::prelude::*;

use super::descent::{descend_async_block, descend_sync_block};
use super::energy::EnergyModel;
use super::glauber::{stochastic_block, CHAIN_BLOCK};
use super::schedule::{Outcome, Schedule, Update};
use crate::error::{try_filled, Error, Result};
use crate::spins::{self, SpinMatrix};

/// Results of a batch, one entry per query.
#[derive(Debug, Clone)]
pub struct BatchOutcome {
    /// Final states.
    pub states: SpinMatrix,
    /// Per-query outcomes, in order.
    pub outcomes: Vec<Outcome>,
}

impl BatchOutcome {
    /// The energy traces as a row-major `(rows, width)` matrix padded with
    /// NaN after each query stopped, `width` = longest trace.
    pub fn trace_matrix(&self) -> (usize, Vec<f64>) {
        let width = self
            .outcomes
            .iter()
            .map(|o| o.trace.len())
            .max()
            .unwrap_or(0);
        let mut out = vec![f64::NAN; width * self.outcomes.len()];
        for (row, o) in out.chunks_exact_mut(width.max(1)).zip(&self.outcomes) {
            row[..o.trace.len()].copy_from_slice(&o.trace);
        }
        (width, out)
    }
}

/// Runs `schedule` for every row of `queries` on the current rayon pool.
/// Row `r` is query number `first_index + r` for the random streams.
///
/// # Errors
/// `Shape` when the queries do not have the model's `n`.
pub fn retrieve<M: EnergyModel>(
    model: &M,
    queries: &SpinMatrix,
    first_index: u64,
    schedule: &Schedule,
) -> Result<BatchOutcome> {
    if queries.n() != model.n() {
        return Err(Error::Shape(format!(
            "queries must have n = {} columns, got {}",
            model.n(),
            queries.n()
        )));
    }
    let mut states = queries.clone();
    let words = states.words();
    let outcomes = descend_rows(model, states.as_words_mut(), words, first_index, schedule);
    Ok(BatchOutcome { states, outcomes })
}

/// Runs `schedule` in place on consecutive packed rows (`words` words each)
/// on the current rayon pool; row `r` is query number `first_index + r`.
/// The caller has checked the width.
pub fn descend_rows<M: EnergyModel>(
    model: &M,
    rows: &mut [u64],
    words: usize,
    first_index: u64,
    schedule: &Schedule,
) -> Vec<Outcome> {
    // Blocks of chains interleave their updates (see glauber::CHAIN_BLOCK);
    // blocks of rows build their caches together, each row keeping its own
    // stream (sync needs none).
    let size = if schedule.is_stochastic() {
        CHAIN_BLOCK
    } else {
        block_size(model, schedule.update(), rows.len(), words)
    };
    let run = |(b, block): (usize, &mut [u64])| {
        let first = first_index + (b * size) as u64;
        match schedule.update() {
            _ if schedule.is_stochastic() => stochastic_block(model, block, words, first, schedule),
            Update::Async => descend_async_block(model, block, words, first, schedule),
            Update::Sync => descend_sync_block(model, block, words, schedule),
        }
    };
    if crate::par::in_pool() {
        rows.par_chunks_mut(words * size)
            .enumerate()
            .flat_map_iter(run)
            .collect()
    } else {
        rows.chunks_mut(words * size)
            .enumerate()
            .flat_map(run)
            .collect()
    }
}

/// The model's block size for `words`-word rows on the current pool.
fn block_size<M: EnergyModel>(model: &M, update: Update, len: usize, words: usize) -> usize {
    let count = len / words.max(1);
    model
        .block_size(update, count, crate::par::threads_here())
        .max(1)
}

/// Applies `f` to every row of `states` in parallel, each writing its own
/// `width` outputs; returns them row-major.
///
/// # Errors
/// `Memory` when the output cannot be allocated.
pub fn map_rows<T, F>(states: &SpinMatrix, width: usize, f: F) -> Result<Vec<T>>
where
    T: Default + Clone + Send,
    F: Fn(&[u64], &mut [T]) + Sync,
{
    let count = states.rows().saturating_mul(width);
    let mut out = try_filled("the result", count, T::default())?;
    if width > 0 {
        out.par_chunks_exact_mut(width)
            .enumerate()
            .for_each(|(r, o)| f(states.row(r), o));
    }
    Ok(out)
}

/// The energy of every row of `states`.
///
/// # Errors
/// `Memory` when the output cannot be allocated.
pub fn energies<M: EnergyModel>(model: &M, states: &SpinMatrix) -> Result<Vec<f64>> {
    let rows = states.rows();
    let mut out = try_filled("the result", rows, 0.0f64)?;
    // Caches in blocks, as async retrieval builds them: models that share
    // work across a block (a weight matrix's lookup tables) compute them
    // together.
    let size = model
        .block_size(Update::Async, rows, rayon::current_num_threads())
        .max(1);
    out.par_chunks_mut(size).enumerate().for_each(|(b, out)| {
        let block: Vec<&[u64]> = (b * size..b * size + out.len())
            .map(|r| states.row(r))
            .collect();
        for ((e, cache), row) in out.iter_mut().zip(model.caches(&block)).zip(&block) {
            *e = model.energy(&cache, row);
        }
    });
    Ok(out)
}

/// Overlaps `ξ^μ·s / N` of every row of `states` with every row of
/// `patterns` (same `n`), row-major `(states.rows(), patterns.rows())`.
///
/// # Errors
/// `Memory` when the output cannot be allocated.
pub fn overlap_matrix(states: &SpinMatrix, patterns: &SpinMatrix) -> Result<Vec<f64>> {
    let n = patterns.n();
    map_rows(states, patterns.rows(), |row, out: &mut [f64]| {
        for (mu, o) in out.iter_mut().enumerate() {
            *o = spins::overlap(patterns.row(mu), row, n) as f64 / n as f64;
        }
    })
}

/// Runs `f` on this process's pool of `threads` threads (`None`: the
/// default size, see [`default_threads`]). Pools are kept and reused per
/// size.
///
/// Every entry point of the Python bindings runs its parallel work through
/// here, never on rayon's global pool: a process forked after using the
/// library (`multiprocessing`'s default on Linux) inherits pools whose
/// worker threads do not exist in it, and the first parallel call there
/// would wait forever. Pools are therefore keyed by process id: a forked
/// child finds its parent's pools stale, abandons them (without dropping:
/// their threads and locks belong to the parent) and builds its own.
///
/// # Errors
/// `Value` when the pool cannot be built.
pub fn with_threads<T: Send>(
    threads: Option<NonZeroUsize>,
    f: impl FnOnce() -> T + Send,
) -> Result<T> {
    let size = threads.map_or_else(default_threads, NonZeroUsize::get);
    Ok(pool(size)?.install(f))
}

/// The pool size used when no thread count is given: `RAYON_NUM_THREADS`
/// when set to a positive integer, else the number of available cores.
pub fn default_threads() -> usize {
    // The cores are read once: asking the system (cgroup files included)
    // costs more than a small call's whole work.
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&t| t > 0)
        .unwrap_or_else(|| {
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        })
}

type Pools = std::collections::HashMap<usize, std::sync::Arc<rayon::ThreadPool>>;

fn pool(threads: usize) -> Result<std::sync::Arc<rayon::ThreadPool>> {
    use std::sync::{Arc, Mutex};
    static POOLS: Mutex<Option<(u32, Pools)>> = Mutex::new(None);
    let pid = std::process::id();
    let mut guard = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_some_and(|(owner, _)| *owner != pid) {
        // Forked: the parent's pools have no threads here. Leak them.
        std::mem::forget(guard.take());
    }
    let (_, pools) = guard.get_or_insert_with(|| (pid, Pools::new()));
    if let Some(p) = pools.get(&threads) {
        return Ok(p.clone());
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("hopfield-{i}"))
            .build()
            .map_err(|e| Error::Value(format!("cannot start {threads} threads: {e}")))?,
    );
    pools.insert(threads, p.clone());
    Ok(p)
}
