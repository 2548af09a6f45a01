//! `_core.Spiking`: the network of leaky integrate-and-fire neurons behind
//! `hopfield.SpikingHopfieldNetwork` (immutable: the Python class builds a
//! new one when its weights or parameters change).

use std::num::NonZeroUsize;

use numpy::{PyArray1, PyArray3, PyReadonlyArray2};
use pyo3::prelude::*;

use super::args;
use super::convert::{cube, vector};
use super::run::{in_chunks, thread_count};
use crate::continuous::Spiking;
use crate::engine::events::simulate;
use crate::engine::lif::{Lif, Readout, SpikeOptions, SpikingModel};
use crate::error::{Error, Result};

/// Spikes (cue index, neuron, step; time order within a cue) and the
/// overlaps `(B, bins, P)`.
pub type SpikeArrays<'py> = (
    Bound<'py, PyArray1<u64>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray1<u32>>,
    Bound<'py, PyArray3<f64>>,
);

/// A spiking network and the thread count it runs on.
#[pyclass(frozen, name = "Spiking", module = "hopfield._core")]
pub struct PySpiking {
    model: Spiking,
    threads: Option<NonZeroUsize>,
}

/// A C-contiguous copy of a float64 matrix: values, rows, columns.
fn rows_of(array: &PyReadonlyArray2<'_, f64>) -> (Vec<f64>, usize, usize) {
    let view = array.as_array();
    let (rows, cols) = view.dim();
    let data = match view.as_slice() {
        Some(s) => s.to_vec(),
        None => view.iter().copied().collect(),
    };
    (data, rows, cols)
}

#[pymethods]
impl PySpiking {
    /// `n` LIF neurons over float64 `(n, n)` weights (`w_ij` from `j` to `i`).
    #[new]
    #[pyo3(signature = (n, *, weights, tau, tau_syn, threshold, reset, refractory, noise, bias, threads))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        n: usize,
        weights: PyReadonlyArray2<'_, f64>,
        tau: &Bound<'_, PyAny>,
        tau_syn: &Bound<'_, PyAny>,
        threshold: &Bound<'_, PyAny>,
        reset: &Bound<'_, PyAny>,
        refractory: &Bound<'_, PyAny>,
        noise: &Bound<'_, PyAny>,
        bias: &Bound<'_, PyAny>,
        threads: &Bound<'_, PyAny>,
    ) -> Result<Self> {
        let lif = Lif::new(
            args::real(tau, "tau")?,
            args::real(tau_syn, "tau_syn")?,
            args::real(threshold, "threshold")?,
            args::real(reset, "reset")?,
            args::real(refractory, "refractory")?,
            args::real(noise, "noise")?,
            args::real(bias, "bias")?,
        )?;
        let (data, rows, cols) = rows_of(&weights);
        if rows != n || cols != n {
            return Err(Error::Shape(format!(
                "weights must have shape ({n}, {n}), got ({rows}, {cols})"
            )));
        }
        Ok(PySpiking {
            model: Spiking::new(n, lif, &data)?,
            threads: args::threads(threads)?,
        })
    }

    /// Simulates float64 `(B, n)` cues: `steps` steps of `dt`, the cue's
    /// current (`cue_current` per unit) on for `cue_steps`, the spike counts
    /// correlated with float64 `(P, n)` `patterns` every `bin_steps`, the
    /// escape noise of cue `b` from the stream of `(seed, b)`.
    #[pyo3(signature = (cues, patterns, *, dt, steps, cue_steps, bin_steps, cue_current, seed))]
    #[allow(clippy::too_many_arguments)]
    fn simulate<'py>(
        &self,
        py: Python<'py>,
        cues: PyReadonlyArray2<'_, f64>,
        patterns: PyReadonlyArray2<'_, f64>,
        dt: &Bound<'_, PyAny>,
        steps: &Bound<'_, PyAny>,
        cue_steps: &Bound<'_, PyAny>,
        bin_steps: &Bound<'_, PyAny>,
        cue_current: &Bound<'_, PyAny>,
        seed: &Bound<'_, PyAny>,
    ) -> PyResult<SpikeArrays<'py>> {
        let n = self.model.n();
        let opts = SpikeOptions::new(
            self.model.lif(),
            args::real(dt, "dt")?,
            args::count32(steps, "steps", 0)?,
            args::count32(cue_steps, "cue_steps", 0)?,
            args::positive32(bin_steps, "bin_steps")?.get(),
            args::real(cue_current, "cue_current")?,
            args::seed(seed)?,
        )?;
        let (cues, rows, cols) = rows_of(&cues);
        if cols != n {
            return Err(Error::Shape(format!(
                "cues must have {n} columns, got shape ({rows}, {cols})"
            ))
            .into());
        }
        if let Some(at) = cues.iter().position(|x| !x.is_finite()) {
            return Err(Error::Value(format!(
                "cues must be finite; found {} at row {}, column {}",
                cues[at],
                at / n,
                at % n
            ))
            .into());
        }
        let (patterns, count, width) = rows_of(&patterns);
        if width != n {
            return Err(Error::Shape(format!(
                "patterns must have {n} columns, got shape ({count}, {width})"
            ))
            .into());
        }
        let readout = Readout::new(&patterns, count, n)?;
        let model = &self.model;
        let parts = in_chunks(
            py,
            self.threads,
            rows,
            (thread_count(self.threads), 1),
            |r| {
                simulate(
                    model,
                    &readout,
                    &cues[r.start * n..r.end * n],
                    r.len(),
                    r.start as u64,
                    &opts,
                )
            },
        )?;
        let (mut cue, mut neuron, mut step) = (Vec::new(), Vec::new(), Vec::new());
        let mut overlaps = Vec::with_capacity(rows * opts.bins() * count);
        for (b, run) in parts.into_iter().flatten().enumerate() {
            for (j, k) in run.spikes {
                cue.push(b as u64);
                neuron.push(j);
                step.push(k);
            }
            overlaps.extend_from_slice(&run.overlaps);
        }
        Ok((
            vector(py, cue),
            vector(py, neuron),
            vector(py, step),
            cube(py, overlaps, (rows, opts.bins(), count))?,
        ))
    }
}
