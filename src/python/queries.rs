//! The per-state queries every binary model's binding shares: energies,
//! local fields and overlaps of an int8 (B, N) batch. Each packs the
//! states, runs on this process's pool with the GIL released, and returns a
//! new NumPy array.

use numpy::{PyArray1, PyArray2, PyReadonlyArray2};
use pyo3::prelude::*;

use super::convert::{matrix, pack, parallel, vector};
use crate::batch;
use crate::model::EnergyModel;
use crate::spins::SpinMatrix;

/// Energies of int8 (B, N) `states` under `model`, float64 (B,).
pub fn energies<'py, M: EnergyModel>(
    py: Python<'py>,
    model: &M,
    states: &PyReadonlyArray2<'_, i8>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let states = pack(states, "states", model.n())?;
    let out = parallel(py, None, || batch::energies(model, &states))??;
    Ok(vector(py, out))
}

/// Local fields of int8 (B, N) `states`, float64 (B, N); `field(row, out)`
/// writes one packed row's N fields.
pub fn fields<'py>(
    py: Python<'py>,
    n: usize,
    states: &PyReadonlyArray2<'_, i8>,
    field: impl Fn(&[u64], &mut [f64]) + Sync + Send,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let states = pack(states, "states", n)?;
    let out = parallel(py, None, || batch::map_rows(&states, n, field))??;
    matrix(py, out, states.rows(), n)
}

/// Overlaps `ξ^μ·s / N` of int8 (B, N) `states` with packed `patterns`,
/// float64 (B, P).
pub fn overlaps<'py>(
    py: Python<'py>,
    patterns: &SpinMatrix,
    states: &PyReadonlyArray2<'_, i8>,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let states = pack(states, "states", patterns.n())?;
    let out = parallel(py, None, || batch::overlap_matrix(&states, patterns))??;
    matrix(py, out, states.rows(), patterns.rows())
}
