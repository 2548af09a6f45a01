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

/// A vector of `count` copies of `value`, or a `Memory` error naming
/// `what` when it cannot be allocated. Unlike `vec![value; count]`, a
/// failed allocation is an error the caller can report, not an abort.
pub fn try_filled<T: Clone>(what: &str, count: usize, value: T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(count).map_err(|_| {
        let bytes = (count as u128) * (std::mem::size_of::<T>() as u128);
        Error::Memory(format!(
            "{what} would need {bytes} bytes, more than can be allocated"
        ))
    })?;
    v.resize(count, value);
    Ok(v)
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
    }
}
