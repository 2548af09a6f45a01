//! How the bindings run work: on this process's thread pool, with the GIL
//! released, and, for long calls, in chunks with a check for Ctrl-C
//! between them.

use std::num::NonZeroUsize;
use std::ops::Range;
use std::time::{Duration, Instant};

use pyo3::prelude::*;

use crate::engine::batch;

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
