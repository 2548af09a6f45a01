//! Where parallel work runs. The bindings run large work on the library's
//! own pools ([`crate::engine::batch::with_threads`]); work too small to pay
//! for a hand-off to a pool (waking a worker and waiting for it to finish
//! costs tens of microseconds, more than one short query) runs on the
//! calling thread instead. Code reachable both ways asks [`in_pool`] and
//! iterates sequentially outside a pool, so that it never falls through to
//! rayon's global pool (which a forked child cannot use). Results are the
//! same either way: every unit of work is independent of where it runs.

/// Whether the current thread is a worker of a rayon pool.
#[inline]
pub fn in_pool() -> bool {
    rayon::current_thread_index().is_some()
}

/// The threads of the pool this thread works in; 1 outside a pool.
#[inline]
pub fn threads_here() -> usize {
    if in_pool() {
        rayon::current_num_threads()
    } else {
        1
    }
}
