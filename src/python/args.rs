//! Python values to Rust values, for options that arrive untyped (keyword
//! arguments of `retrieve`, `sample`, ...). Each function names the
//! argument in its error and says what was expected, with the messages the
//! Python package documents; errors are core [`Error`]s, so they reach
//! Python through the one error map.

use std::num::{NonZeroU32, NonZeroUsize};

use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt, PyString};

use crate::engine::batch;
use crate::error::{Error, Result};

/// The type name of `value`, as Python's `type(value).__name__`.
pub fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "object".to_string(), |n| n.to_string())
}

/// Whether `value` is a Python or NumPy boolean (which Python would accept
/// as the integer 0 or 1, and these options refuse).
fn is_bool(value: &Bound<'_, PyAny>) -> bool {
    value.is_instance_of::<PyBool>() || type_name(value).starts_with("bool")
}

/// An integer argument's decimal digits, for messages: formatted only when
/// a message needs them (a call's valid options never pay for `str()`).
struct Digits<'py>(Bound<'py, PyAny>);

impl Digits<'_> {
    fn negative(&self) -> bool {
        self.to_string().starts_with('-')
    }
}

impl std::fmt::Display for Digits<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0.str() {
            Ok(s) => write!(f, "{s}"),
            Err(_) => write!(f, "?"),
        }
    }
}

/// `value` as an integer (anything with `__index__`, not a bool), with its
/// decimal digits for messages; `None` in the number when it does not fit
/// 128 bits. `expected` completes "must be" ("an integer", ...).
fn integer<'py>(
    value: &Bound<'py, PyAny>,
    name: &str,
    expected: &str,
) -> Result<(Option<i128>, Digits<'py>)> {
    // A plain Python int (the common case) is neither a bool nor in need of
    // `__index__`.
    if value.is_exact_instance_of::<PyInt>() {
        return Ok((value.extract::<i128>().ok(), Digits(value.clone())));
    }
    if is_bool(value) {
        return Err(Error::Type(format!("{name} must be {expected}, not bool")));
    }
    let index = value
        .call_method0(intern!(value.py(), "__index__"))
        .map_err(|_| {
            Error::Type(format!(
                "{name} must be {expected}, got {}",
                type_name(value)
            ))
        })?;
    Ok((index.extract::<i128>().ok(), Digits(index)))
}

/// `value` as an integer of at least `min` and below `2**bits`.
///
/// # Errors
/// `Type` for a bool or a non-integer; `Value` below `min` or from
/// `2**bits` on.
pub fn count(value: &Bound<'_, PyAny>, name: &str, min: u64, bits: u32) -> Result<u64> {
    let (number, digits) = integer(value, name, "an integer")?;
    match number {
        Some(v) if v < min as i128 => Err(Error::Value(format!(
            "{name} must be at least {min}, got {digits}"
        ))),
        Some(v) if v < 1i128 << bits => Ok(v as u64),
        // Beyond 128 bits: a huge negative or a huge positive number.
        None if digits.negative() => Err(Error::Value(format!(
            "{name} must be at least {min}, got {digits}"
        ))),
        _ => Err(Error::Value(format!(
            "{name} must be below 2**{bits}, got {digits}"
        ))),
    }
}

/// `value` as a `u32` count of at least `min`.
///
/// # Errors
/// As [`count`].
pub fn count32(value: &Bound<'_, PyAny>, name: &str, min: u64) -> Result<u32> {
    Ok(count(value, name, min, 32)? as u32)
}

/// `value` as a count of at least 1 below `2**32`.
///
/// # Errors
/// As [`count`].
pub fn positive32(value: &Bound<'_, PyAny>, name: &str) -> Result<NonZeroU32> {
    NonZeroU32::new(count32(value, name, 1)?)
        .ok_or_else(|| Error::Value(format!("{name} must be at least 1, got 0")))
}

/// A seed in `[0, 2**64)`; `None` draws a fresh one from the operating
/// system (through Python's `secrets`).
///
/// # Errors
/// `Type` for a bool or a non-integer; `Value` outside the range.
pub fn seed(value: &Bound<'_, PyAny>) -> Result<u64> {
    if value.is_none() {
        return Ok(fresh_seed());
    }
    let (number, digits) = integer(value, "seed", "an integer or None")?;
    match number {
        Some(v) if (0..1i128 << 64).contains(&v) => Ok(v as u64),
        _ => Err(Error::Value(format!(
            "seed must be in [0, 2**64), got {digits}"
        ))),
    }
}

/// A fresh seed for `seed=None`, without a system call per draw: std's
/// `RandomState` keys come from the operating system once per thread and
/// change with every `RandomState::new()`, so hashing a process-wide counter
/// with a new one gives unpredictable, distinct 64-bit values (a one-query
/// call would otherwise spend about 2 µs asking the OS through `secrets`).
fn fresh_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static DRAWS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u64(DRAWS.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// A thread count: `None` (the default pool) or from 1 to
/// [`batch::max_threads`] (4 per core, at least 16).
///
/// # Errors
/// `Type` for a bool or a non-integer; `Value` below 1 or above the cap.
pub fn threads(value: &Bound<'_, PyAny>) -> Result<Option<NonZeroUsize>> {
    if value.is_none() {
        return Ok(None);
    }
    let cap = batch::max_threads();
    let (number, digits) = integer(value, "threads", "an integer or None")?;
    match number {
        Some(v) if (1..=cap as i128).contains(&v) => Ok(NonZeroUsize::new(v as usize)),
        Some(v) if v < 1 => Err(Error::Value(format!(
            "threads must be at least 1, got {digits}"
        ))),
        None if digits.negative() => Err(Error::Value(format!(
            "threads must be at least 1, got {digits}"
        ))),
        _ => Err(Error::Value(format!(
            "threads must be at most {cap} (4 per core, at least {}), got {digits}",
            batch::MIN_THREAD_CAP
        ))),
    }
}

/// `value` as a real number (an int or a float, NumPy's too; not a bool).
///
/// # Errors
/// `Type` for anything else; `Value` for an integer too large for a float.
pub fn real(value: &Bound<'_, PyAny>, name: &str) -> Result<f64> {
    if is_bool(value) {
        return Err(Error::Type(format!(
            "{name} must be a real number, got bool"
        )));
    }
    value
        .extract::<f64>()
        .map_err(|_| match integer(value, name, "a real number") {
            Ok((_, digits)) => Error::Value(format!(
                "{name} must be a finite real number, got {digits} (beyond float64)"
            )),
            Err(_) => Error::Type(format!(
                "{name} must be a real number, got {}",
                type_name(value)
            )),
        })
}

/// Which of `options` the string `value` is (its index).
///
/// # Errors
/// `Value` for anything else, listing the options.
pub fn choice(value: &Bound<'_, PyAny>, name: &str, options: &[&str]) -> Result<usize> {
    let found = value
        .cast::<PyString>()
        .ok()
        .and_then(|s| s.to_str().ok().map(str::to_owned))
        .and_then(|s| options.iter().position(|o| *o == s));
    found.ok_or_else(|| {
        let expected = options
            .iter()
            .map(|o| format!("'{o}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let got = value
            .repr()
            .map_or_else(|_| "?".to_string(), |r| r.to_string());
        Error::Value(format!("{name} must be one of {expected}; got {got}"))
    })
}
