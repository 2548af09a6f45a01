//! How the bindings run work: on this process's thread pool, with the GIL
//! released, and, for long calls, in chunks with a check for Ctrl-C
//! between them.

use std::num::NonZeroUsize;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::engine::batch;
use crate::error::Result;

/// Runs `f` with the GIL released on this process's pool of `threads`
/// threads (`None`: the default size). Bindings run all parallel work
/// through here, never on rayon's global pool, so the library keeps
/// working in a forked child (see [`batch::with_threads`]).
pub fn parallel<T: Send>(
    py: Python<'_>,
    threads: Option<NonZeroUsize>,
    f: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    Ok(py.detach(|| batch::with_threads(threads, f))?)
}

/// Runs `f` with the GIL released on the calling thread, for work that uses
/// no pool (preparing a model's layout) or too little to pay for a hand-off
/// to one (a single query; see [`crate::par`]): code under `f` iterates
/// sequentially here.
pub fn on_this_thread<T: Send>(py: Python<'_>, f: impl FnOnce() -> T + Send) -> T {
    py.detach(f)
}

/// Rows (queries, or bytes of states to pack) up to which a call runs on
/// the calling thread ([`on_this_thread`]) rather than on a pool.
pub const INLINE_ROWS: usize = 1;
/// Bytes of ±1 values up to which packing or unpacking runs on the calling
/// thread.
pub const INLINE_BYTES: usize = 1 << 16;

/// How long one detached chunk should take before Ctrl-C is checked.
const CHUNK_TARGET: Duration = Duration::from_millis(50);

/// Runs `work` over `0..total` in consecutive chunks, each detached on the
/// pool of `threads` (see [`parallel`]), and checks for pending signals
/// between chunks, so that Ctrl-C raises `KeyboardInterrupt` promptly and
/// the work stops there. Returns each chunk's result, in order.
///
/// Chunk lengths are multiples of `granule` (the last may be shorter): the
/// first is `first` granules, and each next is scaled by how long the last
/// took, towards [`CHUNK_TARGET`] (by ½ to 4× a step). Callers key their
/// work by the global index (a query's random stream, a chain's sample
/// number), so the results do not depend on the chunks.
pub fn in_chunks<T: Send>(
    py: Python<'_>,
    threads: Option<NonZeroUsize>,
    total: usize,
    (granule, first): (usize, usize),
    mut work: impl FnMut(Range<usize>) -> T + Send,
) -> PyResult<Vec<T>> {
    let granule = granule.max(1);
    let mut granules = first.max(1);
    let mut out = Vec::new();
    let mut start = 0usize;
    while start < total {
        let end = start
            .saturating_add(granules.saturating_mul(granule))
            .min(total);
        let began = Instant::now();
        out.push(parallel(py, threads, || work(start..end))?);
        start = end;
        py.check_signals()?;
        let scale = CHUNK_TARGET.as_secs_f64() / began.elapsed().as_secs_f64().max(1e-6);
        granules = ((granules as f64 * scale.clamp(0.5, 4.0)) as usize).max(1);
    }
    Ok(out)
}

/// The number of threads a call on `threads` runs on.
pub fn thread_count(threads: Option<NonZeroUsize>) -> usize {
    threads.map_or_else(batch::default_threads, NonZeroUsize::get)
}

/// How often [`watched`] and [`interruptible`] look for pending signals.
const SIGNAL_POLL: Duration = Duration::from_millis(20);

/// Runs `work` on another thread, on this process's default pool, while
/// this thread keeps the GIL and checks for pending signals every
/// [`SIGNAL_POLL`]. On a signal's exception (Ctrl-C: `KeyboardInterrupt`)
/// it raises `cancel`, which `work` looks at between its chunks, waits
/// for `work` to return and raises that exception; whatever `work` built
/// is dropped.
///
/// For calls that must keep the GIL while they run (a store holding a
/// model's lock, see `Shared`), where [`in_chunks`] cannot be used.
pub fn watched<T: Send>(
    py: Python<'_>,
    cancel: &AtomicBool,
    work: impl FnOnce() -> Result<T> + Send,
) -> PyResult<T> {
    supervised(py, cancel, None, false, work)
}

/// Runs `work` on this process's pool of `threads` (see
/// [`batch::with_threads`]) as [`watched`] does, but the calling thread
/// waits with the GIL released, taking it only to check for signals:
/// for one long call (a whole batch) that looks at the flag it is given
/// between its chunks.
pub fn interruptible<T: Send>(
    py: Python<'_>,
    threads: Option<NonZeroUsize>,
    work: impl FnOnce(&AtomicBool) -> Result<T> + Send,
) -> PyResult<T> {
    let cancel = AtomicBool::new(false);
    supervised(py, &cancel, threads, true, || work(&cancel))
}

/// [`watched`] and [`interruptible`]: `work` on a helper thread, on the
/// pool of `threads`; this thread polls for signals every [`SIGNAL_POLL`]
/// (with the GIL released between polls when `release` is set) and is
/// woken as soon as `work` returns.
fn supervised<T: Send>(
    py: Python<'_>,
    cancel: &AtomicBool,
    threads: Option<NonZeroUsize>,
    release: bool,
    work: impl FnOnce() -> Result<T> + Send,
) -> PyResult<T> {
    let caller = std::thread::current();
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            let out = batch::with_threads(threads, work);
            // Wakes the caller now rather than at its next poll.
            caller.unpark();
            out
        });
        let mut signal: Option<PyErr> = None;
        while !worker.is_finished() {
            if release {
                py.detach(|| std::thread::park_timeout(SIGNAL_POLL));
            } else {
                std::thread::park_timeout(SIGNAL_POLL);
            }
            if signal.is_none() && !worker.is_finished() {
                if let Err(e) = py.check_signals() {
                    cancel.store(true, Ordering::Relaxed);
                    signal = Some(e);
                }
            }
        }
        let out = worker
            .join()
            .map_err(|_| pyo3::exceptions::PyRuntimeError::new_err("a worker thread panicked"))?;
        match signal {
            Some(e) => Err(e),
            None => Ok(out??),
        }
    })
}
