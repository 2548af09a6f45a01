//! The PyO3 layer: converts and validates arguments, releases the GIL around
//! the work, maps core errors to Python exceptions. No maths lives here.
//!
//! From the bottom up: [`errors`] (the one map from core errors to Python
//! exceptions), [`args`] (Python values to Rust values), [`run`] (the GIL
//! released, the pool, Ctrl-C between chunks), [`convert`] (NumPy arrays),
//! [`shared`] (a model shared by Python threads), [`options`] (the typed,
//! validated options of a call), [`results`] (typed results), [`spin`] (what
//! every binary model's binding does), [`flow`] (what every continuous-time model's binding does), then one file per class and
//! [`streams`] (the random streams, for exact replay).

mod args;
mod convert;
mod dense;
mod diluted;
mod errors;
mod flow;
mod graded;
mod hebbian;
mod hidden;
mod modern;
mod options;
mod results;
mod run;
mod shared;
mod spiking;
mod spin;
mod streams;
mod weights;

use pyo3::prelude::*;

use crate::error::{Error, Result};
use crate::simd::{self, Level};

/// The name of the instruction set the kernels use now.
#[pyfunction]
fn simd_level() -> &'static str {
    simd::level().name()
}

/// The best instruction set this CPU supports.
#[pyfunction]
fn detected_simd() -> &'static str {
    simd::detected().name()
}

/// Caps the instruction set the kernels use (never above the detected one);
/// returns the level now in force.
#[pyfunction]
fn set_simd_level(name: &str) -> Result<&'static str> {
    let cap = match name {
        "portable" => Level::Portable,
        "popcnt" => Level::Popcnt,
        "avx2" => Level::Avx2,
        "avx512" => Level::Avx512,
        other => {
            return Err(Error::Value(format!(
                "level must be 'portable', 'popcnt', 'avx2' or 'avx512', got {other:?}"
            )))
        }
    };
    Ok(simd::set_level(cap).name())
}

/// Bytes of memory the system can still give this process (available RAM
/// plus free swap), or None where the platform does not say.
#[pyfunction]
fn available_memory() -> Option<u64> {
    crate::error::available_bytes()
}

/// The most threads a call may run on (`threads=` above it is a
/// `ValueError`): 4 per available core, at least 16.
#[pyfunction]
fn max_threads() -> usize {
    crate::engine::batch::max_threads()
}

/// Overlaps `ξ^μ·s / N` of int8 (B, N) states with int8 (P, N) patterns,
/// float64 (B, P), by XOR + popcount on packed rows.
#[pyfunction]
fn overlap_matrix<'py>(
    py: Python<'py>,
    states: numpy::PyReadonlyArray2<'_, i8>,
    patterns: numpy::PyReadonlyArray2<'_, i8>,
) -> PyResult<Bound<'py, numpy::PyArray2<f64>>> {
    let n = patterns.as_array().dim().1;
    let patterns = convert::pack(&patterns, "patterns", n)?;
    spin::overlaps(py, &patterns, &states)
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("MAX_N", crate::model::hebbian::MAX_N)?;
    m.add_class::<hebbian::PyHebbian>()?;
    m.add_class::<dense::PyDense>()?;
    m.add_class::<diluted::PyDiluted>()?;
    m.add_class::<weights::PyWeights>()?;
    m.add_class::<modern::PyModern>()?;
    m.add_class::<graded::PyGraded>()?;
    m.add_class::<hidden::PyHidden>()?;
    m.add_class::<spiking::PySpiking>()?;
    m.add_class::<options::RetrieveOptions>()?;
    m.add_class::<options::SampleOptions>()?;
    m.add_class::<results::Outcomes>()?;
    m.add_class::<results::PySampled>()?;
    m.add_class::<results::ModernOutcomes>()?;
    m.add_function(wrap_pyfunction!(weights::sequence_weights, m)?)?;
    m.add_function(wrap_pyfunction!(streams::sweep_orders, m)?)?;
    m.add_function(wrap_pyfunction!(streams::acceptance_uniforms, m)?)?;
    m.add_function(wrap_pyfunction!(streams::random_states, m)?)?;
    m.add_function(wrap_pyfunction!(overlap_matrix, m)?)?;
    m.add_function(wrap_pyfunction!(available_memory, m)?)?;
    m.add_function(wrap_pyfunction!(max_threads, m)?)?;
    m.add_function(wrap_pyfunction!(simd_level, m)?)?;
    m.add_function(wrap_pyfunction!(detected_simd, m)?)?;
    m.add_function(wrap_pyfunction!(set_simd_level, m)?)?;
    Ok(())
}
