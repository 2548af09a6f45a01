//! Array conversion between NumPy and the core, and the chunked driver that
//! keeps long runs interruptible.

use std::time::{Duration, Instant};

use numpy::ndarray::Array2;
use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;

use crate::batch;
use crate::dynamics::{Outcome, Schedule};
use crate::model::EnergyModel;
use crate::spins::SpinMatrix;

/// Packs a 2-D int8 array of ±1 (any memory layout) named `name`.
pub fn pack(array: &PyReadonlyArray2<'_, i8>, name: &str, n: usize) -> PyResult<SpinMatrix> {
    let view = array.as_array();
    let (rows, cols) = view.dim();
    if cols != n {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
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
    let packed = batch::with_threads(None, || SpinMatrix::from_spins(values, rows, n))?;
    packed.map_err(|e| pyo3::exceptions::PyValueError::new_err(format!("{name}: {e}")))
}

/// A `(rows, n)` int8 array of the unpacked states.
pub fn unpack<'py>(py: Python<'py>, states: &SpinMatrix) -> PyResult<Bound<'py, PyArray2<i8>>> {
    let values = parallel(py, None, || states.to_spins())??;
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
        .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
    Ok(array.into_pyarray(py))
}

/// A 1-D array.
pub fn vector<'py, T: numpy::Element>(py: Python<'py>, values: Vec<T>) -> Bound<'py, PyArray1<T>> {
    values.into_pyarray(py)
}

/// Runs `f` with the GIL released on this process's pool of `threads`
/// threads (`None`: all cores). Bindings run all parallel work through
/// here, never on rayon's global pool, so the library keeps working in a
/// forked child (see [`batch::with_threads`]).
pub fn parallel<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    Ok(py.detach(|| batch::with_threads(threads, f))?)
}

/// How long one detached chunk should take before Ctrl-C is checked.
const CHUNK_TARGET: Duration = Duration::from_millis(50);

/// Runs `schedule` over all rows of `states` in place, in chunks: each chunk
/// runs with the GIL released; between chunks pending signals are checked,
/// so Ctrl-C raises `KeyboardInterrupt` promptly. Chunk sizes adapt to take
/// about 50 ms; results do not depend on them (streams are keyed by row).
pub fn descend_interruptible<M: EnergyModel>(
    py: Python<'_>,
    model: &M,
    states: &mut SpinMatrix,
    schedule: &Schedule,
    threads: Option<usize>,
) -> PyResult<Vec<Outcome>> {
    let rows = states.rows();
    let words = states.words();
    let mut outcomes = Vec::with_capacity(rows);
    let mut start = 0usize;
    let mut chunk = 16usize * threads.unwrap_or_else(batch::default_threads).max(1);
    let data = states.as_words_mut();
    while start < rows {
        let end = (start + chunk).min(rows);
        let slice = &mut data[start * words..end * words];
        let began = Instant::now();
        let part = parallel(py, threads, || {
            batch::descend_rows(model, slice, words, start as u64, schedule)
        })?;
        let took = began.elapsed();
        outcomes.extend(part);
        start = end;
        py.check_signals()?;
        let scale = CHUNK_TARGET.as_secs_f64() / took.as_secs_f64().max(1e-6);
        chunk = ((chunk as f64 * scale.clamp(0.5, 4.0)) as usize).max(1);
    }
    Ok(outcomes)
}
