//! The one error type of the core. It knows nothing of Python: the bindings
//! map each variant to a Python exception in a single place.

use std::fmt;

/// Everything the core can refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// An argument has the wrong shape or size (Python: `ValueError`).
    Shape(String),
    /// An argument has a value outside its domain (Python: `ValueError`).
    Value(String),
    /// An argument of the wrong kind (Python: `TypeError`). Only where
    /// values arrive untyped, in the bindings, is one made.
    Type(String),
    /// A request whose memory cannot be had (Python: `MemoryError`),
    /// raised before anything is allocated.
    Memory(String),
    /// A long computation stopped because its caller raised its cancel
    /// flag (see [`interrupted`]); Python: `KeyboardInterrupt`, though the
    /// bindings raise the signal's own exception.
    Interrupted,
}

impl Error {
    /// The same error, its message prefixed with `context` (say, the name
    /// of the argument it is about); the kind is kept.
    pub fn context(self, context: &str) -> Error {
        let prefix = |msg: String| format!("{context}: {msg}");
        match self {
            Error::Shape(msg) => Error::Shape(prefix(msg)),
            Error::Value(msg) => Error::Value(prefix(msg)),
            Error::Type(msg) => Error::Type(prefix(msg)),
            Error::Memory(msg) => Error::Memory(prefix(msg)),
            Error::Interrupted => Error::Interrupted,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape(msg) | Error::Value(msg) | Error::Type(msg) | Error::Memory(msg) => {
                f.write_str(msg)
            }
            Error::Interrupted => f.write_str("interrupted"),
        }
    }
}

impl std::error::Error for Error {}

/// Result alias of the core.
pub type Result<T> = std::result::Result<T, Error>;

/// `Err(Interrupted)` once `cancel` is raised. Long computations look at
/// their caller's flag between chunks of work (another thread raises it,
/// say on Ctrl-C), so they stop promptly without knowing of signals.
///
/// # Errors
/// `Interrupted` when the flag is raised.
pub fn interrupted(cancel: &std::sync::atomic::AtomicBool) -> Result<()> {
    if cancel.load(std::sync::atomic::Ordering::Relaxed) {
        Err(Error::Interrupted)
    } else {
        Ok(())
    }
}

/// A vector of `count` copies of `value`, or a `Memory` error naming
/// `what` when it cannot be allocated. Unlike `vec![value; count]`, a
/// failed allocation is an error the caller can report, not an abort.
///
/// A request larger than the memory the system reports available is
/// refused before allocating: on Linux a large allocation usually
/// succeeds (overcommit) and the process is killed only when the pages are
/// touched, which no caller could catch.
pub fn try_filled<T: Clone>(what: &str, count: usize, value: T) -> Result<Vec<T>> {
    let bytes = (count as u128) * (std::mem::size_of::<T>() as u128);
    let refuse = || {
        Error::Memory(format!(
            "{what} would need {bytes} bytes, more than can be allocated"
        ))
    };
    if bytes >= CHECKED_BYTES {
        if let Some(available) = available_bytes() {
            if bytes > available as u128 {
                return Err(Error::Memory(format!(
                    "{what} would need {bytes} bytes, but only {available} bytes of memory are available"
                )));
            }
        }
    }
    let mut v = Vec::new();
    v.try_reserve_exact(count).map_err(|_| refuse())?;
    v.resize(count, value);
    Ok(v)
}

/// Allocations from this size on are checked against the available memory
/// (smaller ones cannot hurt and are not worth reading `/proc` for).
const CHECKED_BYTES: u128 = 64 << 20;

/// Memory the system can still give this process (RAM the kernel reports
/// available plus free swap), where the platform says; `None` elsewhere.
pub fn available_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = info.lines().find(|l| l.starts_with(name))?;
        let kib: u64 = line[name.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        Some(kib.saturating_mul(1024))
    };
    Some(field("MemAvailable:")?.saturating_add(field("SwapFree:").unwrap_or(0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_allocations_are_errors() {
        assert!(matches!(
            try_filled("x", usize::MAX / 2, 0u64),
            Err(Error::Memory(_))
        ));
        assert!(matches!(
            try_filled("x", 1 << 50, 0u8),
            Err(Error::Memory(_))
        ));
        assert_eq!(try_filled("x", 3, 7u8).unwrap(), vec![7, 7, 7]);
        let kept = try_filled("x", usize::MAX / 2, 0u64)
            .unwrap_err()
            .context("patterns");
        assert!(matches!(&kept, Error::Memory(msg) if msg.starts_with("patterns: ")));
        if let Some(available) = available_bytes() {
            // More than is available, yet small enough that the allocator
            // itself might (overcommitting) have said yes.
            let count = (available as usize).saturating_add(1 << 30);
            match try_filled("y", count, 0u8) {
                Err(Error::Memory(msg)) => assert!(msg.contains("are available"), "{msg}"),
                other => panic!("expected a Memory error, got {:?}", other.map(|v| v.len())),
            }
        }
    }
}
