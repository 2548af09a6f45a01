//! The batch executor: runs the drivers for many queries on rayon, and owns
//! the thread pools every parallel call runs on.
//!
//! Each query is independent and draws from its own stream, keyed by its
//! index in the whole batch (`first_index + row`), so a batch split into
//! chunks, or run on any number of threads, gives the same results.

use std::num::NonZeroUsize;

use rayon::prelude::*;

use super::clamp::Clamp;
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

/// [`retrieve`] with the neurons of `clamp` held at their query values
/// (see [`super::clamp`]).
///
/// # Errors
/// `Shape` when the queries do not have the model's `n`, or the clamp is
/// not one mask (or one per query) of the queries' width.
pub fn retrieve_clamped<M: EnergyModel>(
    model: &M,
    queries: &SpinMatrix,
    first_index: u64,
    schedule: &Schedule,
    clamp: Clamp<'_>,
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
    let fits = match clamp {
        Clamp::None => true,
        Clamp::Shared(m) => m.len() == words,
        Clamp::PerRow(m) => m.len() == words * queries.rows(),
    };
    if !fits {
        return Err(Error::Shape(format!(
            "clamp must hold one mask of {words} words, or one per query"
        )));
    }
    let outcomes = descend_rows_clamped(
        model,
        states.as_words_mut(),
        words,
        first_index,
        schedule,
        clamp,
    );
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
    descend_rows_clamped(model, rows, words, first_index, schedule, Clamp::None)
}

/// [`descend_rows`] with the neurons of `clamp` (its rows matching
/// `rows`') held at their values. The caller has checked the widths.
pub fn descend_rows_clamped<M: EnergyModel>(
    model: &M,
    rows: &mut [u64],
    words: usize,
    first_index: u64,
    schedule: &Schedule,
    clamp: Clamp<'_>,
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
        let clamp = clamp.rows(b * size, block.len() / words.max(1), words);
        match schedule.update() {
            _ if schedule.is_stochastic() => {
                stochastic_block(model, block, words, first, schedule, clamp)
            }
            Update::Async => descend_async_block(model, block, words, first, schedule, clamp),
            Update::Sync => descend_sync_block(model, block, words, schedule, clamp),
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
    if width > 0 && crate::par::in_pool() {
        out.par_chunks_exact_mut(width)
            .enumerate()
            .for_each(|(r, o)| f(states.row(r), o));
    } else if width > 0 {
        for (r, o) in out.chunks_exact_mut(width).enumerate() {
            f(states.row(r), o);
        }
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
    let run = |(b, out): (usize, &mut [f64])| {
        let block: Vec<&[u64]> = (b * size..b * size + out.len())
            .map(|r| states.row(r))
            .collect();
        energies_block(model, &block, out);
    };
    if crate::par::in_pool() {
        out.par_chunks_mut(size).enumerate().for_each(run);
    } else {
        out.chunks_mut(size).enumerate().for_each(run);
    }
    Ok(out)
}

#[inline(always)]
fn energies_block_body<M: EnergyModel>(model: &M, block: &[&[u64]], out: &mut [f64]) {
    for ((e, cache), row) in out.iter_mut().zip(model.caches(block)).zip(block) {
        *e = model.energy(&cache, row);
    }
}

crate::simd::multiversion! {
    /// The energies of a block of rows, compiled for each level.
    fn energies_block<M: EnergyModel>(model: &M, block: &[&[u64]], out: &mut [f64]) -> ()
    => energies_block_body
}

/// Overlaps `ξ^μ·s / N` of every row of `states` with every row of
/// `patterns` (same `n`), row-major `(states.rows(), patterns.rows())`.
///
/// # Errors
/// `Memory` when the output cannot be allocated.
pub fn overlap_matrix(states: &SpinMatrix, patterns: &SpinMatrix) -> Result<Vec<f64>> {
    map_rows(states, patterns.rows(), |row, out: &mut [f64]| {
        overlaps_of_row(patterns, row, out)
    })
}

#[inline(always)]
fn overlaps_of_row_body(patterns: &SpinMatrix, row: &[u64], out: &mut [f64]) {
    let n = patterns.n();
    for (mu, o) in out.iter_mut().enumerate() {
        *o = spins::overlap(patterns.row(mu), row, n) as f64 / n as f64;
    }
}

crate::simd::multiversion! {
    /// One row's overlaps, compiled for each level (`popcnt` in hardware).
    fn overlaps_of_row(patterns: &SpinMatrix, row: &[u64], out: &mut [f64]) -> ()
    => overlaps_of_row_body
}

/// Runs `f` on this process's pool of `threads` threads (`None`: the
/// default size, see [`default_threads`]). Pools are kept and reused per
/// size, a few at a time (see [`POOLS_KEPT`]).
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
/// `Value` for more than [`max_threads`] threads, or when the pool cannot
/// be built.
pub fn with_threads<T: Send>(
    threads: Option<NonZeroUsize>,
    f: impl FnOnce() -> T + Send,
) -> Result<T> {
    let size = threads.map_or_else(default_threads, NonZeroUsize::get);
    Ok(pool(size)?.install(f))
}

/// The most threads one call may ask for: four per available core, and at
/// least [`MIN_THREAD_CAP`]. More would only add scheduling overhead, and a
/// huge count would spend minutes creating OS threads before any work.
pub fn max_threads() -> usize {
    cores().saturating_mul(4).max(MIN_THREAD_CAP)
}

/// The floor of [`max_threads`], so that small machines still accept the
/// thread counts a test of thread-independence would use.
pub const MIN_THREAD_CAP: usize = 16;

/// The pool size used when no thread count is given: `RAYON_NUM_THREADS`
/// when set to a positive integer (at most [`max_threads`]), else the
/// number of available cores.
pub fn default_threads() -> usize {
    std::env::var("RAYON_NUM_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&t| t > 0)
        .map(|t| t.min(max_threads()))
        .unwrap_or_else(cores)
}

/// The available cores. Read once: asking the system (cgroup files
/// included) costs more than a small call's whole work.
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// How many pools (of distinct sizes) are kept for reuse. When a call asks
/// for another size, the least recently used pool is released (its threads
/// end once the calls running on it return), so a program cycling through
/// many `threads=` values holds at most this many pools' threads, not one
/// pool per value ever used.
pub const POOLS_KEPT: usize = 4;

/// Kept pools, most recently used last.
type Pools = Vec<(usize, std::sync::Arc<rayon::ThreadPool>)>;

/// The kept pools and the process that built them.
static POOLS: std::sync::Mutex<Option<(u32, Pools)>> = std::sync::Mutex::new(None);

fn pool(threads: usize) -> Result<std::sync::Arc<rayon::ThreadPool>> {
    use std::sync::Arc;
    let cap = max_threads();
    if threads > cap {
        return Err(Error::Value(format!(
            "threads must be at most {cap} (4 per core, at least {MIN_THREAD_CAP}), got {threads}"
        )));
    }
    let pid = std::process::id();
    let mut guard = POOLS.lock().unwrap_or_else(|e| e.into_inner());
    if guard.as_ref().is_some_and(|(owner, _)| *owner != pid) {
        // Forked: the parent's pools have no threads here. Leak them.
        std::mem::forget(guard.take());
    }
    let (_, pools) = guard.get_or_insert_with(|| (pid, Pools::new()));
    if let Some(k) = pools.iter().position(|(size, _)| *size == threads) {
        let kept = pools.remove(k);
        let p = kept.1.clone();
        pools.push(kept);
        return Ok(p);
    }
    let p = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .thread_name(|i| format!("hopfield-{i}"))
            .build()
            .map_err(|e| Error::Value(format!("cannot start {threads} threads: {e}")))?,
    );
    if pools.len() >= POOLS_KEPT {
        // Dropping the last handle asks its threads to exit; a call still
        // running on it keeps it alive until it returns.
        pools.remove(0);
    }
    pools.push((threads, p.clone()));
    Ok(p)
}

#[cfg(test)]
mod pool_tests {
    use super::*;

    #[test]
    fn thread_counts_above_the_cap_are_refused_before_any_thread_starts() {
        let over = NonZeroUsize::new(max_threads() + 1).unwrap();
        let err = with_threads(Some(over), || ()).unwrap_err();
        assert!(matches!(&err, Error::Value(m) if m.contains("threads must be at most")));
        let huge = NonZeroUsize::new(usize::MAX).unwrap();
        assert!(with_threads(Some(huge), || ()).is_err());
        assert!(max_threads() >= MIN_THREAD_CAP);
    }

    #[test]
    fn only_a_few_pools_are_kept() {
        for t in 1..=POOLS_KEPT + 3 {
            let n = with_threads(NonZeroUsize::new(t), rayon::current_num_threads).unwrap();
            assert_eq!(n, t);
        }
        let kept = POOLS.lock().unwrap().as_ref().map_or(0, |(_, p)| p.len());
        assert!(kept <= POOLS_KEPT, "{kept} pools kept");
    }
}
