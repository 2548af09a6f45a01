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
    /// A request whose memory cannot be had (Python: `MemoryError`),
    /// raised before anything is allocated.
    Memory(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape(msg) | Error::Value(msg) | Error::Memory(msg) => f.write_str(msg),
        }
    }
}

impl std::error::Error for Error {}

/// Result alias of the core.
pub type Result<T> = std::result::Result<T, Error>;

/// Bytes needed for `count` items of `size` bytes, or a `Memory` error
/// naming `what` when that overflows or exceeds what a process can address.
pub fn checked_bytes(what: &str, count: usize, size: usize) -> Result<usize> {
    count
        .checked_mul(size)
        .filter(|&bytes| bytes <= isize::MAX as usize)
        .ok_or_else(|| {
            Error::Memory(format!(
                "{what} would need {count} × {size} bytes, more than can be allocated"
            ))
        })
}
