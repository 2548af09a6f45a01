//! Array conversion between NumPy and the core: packing int8 ±1 arrays into
//! bit rows and back, and wrapping result vectors as arrays.

use numpy::ndarray::{Array2, Array3};
use numpy::{IntoPyArray, PyArray1, PyArray2, PyArray3, PyReadonlyArray2};
use pyo3::prelude::*;

use super::run::{on_this_thread, parallel, INLINE_BYTES};
use crate::engine::batch;
use crate::error::{Error, Result};
use crate::spins::SpinMatrix;

/// Packs a 2-D int8 array of ±1 (any memory layout) named `name`.
///
/// # Errors
/// `Shape` when it does not have `n` columns; the packing's own errors
/// (a value that is not ±1, memory) prefixed with `name`.
pub fn pack(array: &PyReadonlyArray2<'_, i8>, name: &str, n: usize) -> Result<SpinMatrix> {
    let view = array.as_array();
    let (rows, cols) = view.dim();
    if cols != n {
        return Err(Error::Shape(format!(
            "{name} must have n = {n} columns, got shape ({rows}, {cols})"
        )));
    }
    let contiguous;
    let values = match view.as_slice() {
        Some(values) => values,
        None => {
            contiguous = view.iter().copied().collect::<Vec<i8>>();
            &contiguous[..]
        }
    };
    let packed = if values.len() <= INLINE_BYTES {
        SpinMatrix::from_spins(values, rows, n)
    } else {
        batch::with_threads(None, || SpinMatrix::from_spins(values, rows, n))?
    };
    packed.map_err(|e| e.context(name))
}

/// A `(rows, n)` int8 array of the unpacked states.
pub fn unpack<'py>(py: Python<'py>, states: &SpinMatrix) -> PyResult<Bound<'py, PyArray2<i8>>> {
    let values = if states.rows().saturating_mul(states.n()) <= INLINE_BYTES {
        on_this_thread(py, || states.to_spins())?
    } else {
        parallel(py, None, || states.to_spins())??
    };
    matrix(py, values, states.rows(), states.n())
}

/// A `(rows, cols)` array from row-major values.
pub fn matrix<'py, T: numpy::Element>(
    py: Python<'py>,
    values: Vec<T>,
    rows: usize,
    cols: usize,
) -> PyResult<Bound<'py, PyArray2<T>>> {
    let array = Array2::from_shape_vec((rows, cols), values)
        .map_err(|e| Error::Shape(format!("a ({rows}, {cols}) result: {e}")))?;
    Ok(array.into_pyarray(py))
}

/// A `(a, b, c)` array from row-major values.
pub fn cube<'py, T: numpy::Element>(
    py: Python<'py>,
    values: Vec<T>,
    (a, b, c): (usize, usize, usize),
) -> PyResult<Bound<'py, PyArray3<T>>> {
    let array = Array3::from_shape_vec((a, b, c), values)
        .map_err(|e| Error::Shape(format!("a ({a}, {b}, {c}) result: {e}")))?;
    Ok(array.into_pyarray(py))
}

/// A 1-D array.
pub fn vector<'py, T: numpy::Element>(py: Python<'py>, values: Vec<T>) -> Bound<'py, PyArray1<T>> {
    values.into_pyarray(py)
}
