//! The one map from core errors to Python exceptions. Every error the
//! bindings raise is a core [`Error`] converted here, so an error keeps its
//! kind on its way out (a `MemoryError` stays a `MemoryError`).

use pyo3::exceptions::{PyKeyboardInterrupt, PyMemoryError, PyTypeError, PyValueError};
use pyo3::PyErr;

use crate::error::Error;

impl From<Error> for PyErr {
    fn from(err: Error) -> PyErr {
        match err {
            Error::Shape(msg) | Error::Value(msg) => PyValueError::new_err(msg),
            Error::Type(msg) => PyTypeError::new_err(msg),
            Error::Memory(msg) => PyMemoryError::new_err(msg),
            Error::Interrupted => PyKeyboardInterrupt::new_err("interrupted"),
        }
    }
}
