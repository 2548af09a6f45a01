//! The contract of the spiking models: leaky integrate-and-fire neurons
//! with exponential synaptic currents,
//!
//! `τ_m du_i/dt = −u_i + s_i(t) + e_i(t)`,  `τ_s ds_i/dt = −s_i` between
//! spikes, and a spike of neuron `j` adds `w_ij/τ_s` to `s_i` (so each
//! spike delivers the charge `w_ij`: the kernel `ε(t) = e^{−t/τ_s}/τ_s`).
//!
//! A neuron fires when `u` reaches the threshold `ϑ` (or, with escape noise
//! of width `Δ`, with hazard `e^{(u−ϑ)/Δ}/τ_m`), is reset to `u_r` and held
//! there for the absolute refractory period. `e_i` is a constant bias plus,
//! while a cue lasts, the cue's current. Time is in the unit the caller
//! picks for `τ_m` (milliseconds by convention), potentials and currents
//! are dimensionless (unit membrane resistance, rest at 0).
//!
//! Data and a trait only: the driver is [`events`](super::events); models
//! depend on this file, never on the driver.

use crate::error::{Error, Result};

/// The neuron: time constants, threshold, reset, refractory period, escape
/// noise width and bias current (see the module docs), checked when built.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lif {
    /// Membrane time constant `τ_m`.
    pub tau: f64,
    /// Synaptic time constant `τ_s`.
    pub tau_syn: f64,
    /// Threshold `ϑ`.
    pub threshold: f64,
    /// Reset potential `u_r` (also the initial potential).
    pub reset: f64,
    /// Absolute refractory period.
    pub refractory: f64,
    /// Escape-noise width `Δ` (0: a hard threshold).
    pub noise: f64,
    /// Constant input current.
    pub bias: f64,
}

impl Lif {
    /// Checked parameters.
    ///
    /// # Errors
    /// `Value` when a time constant is not finite `> 0`, the refractory
    /// period or the noise not finite `>= 0`, the reset not finite and below
    /// the threshold, or the bias not finite.
    pub fn new(
        tau: f64,
        tau_syn: f64,
        threshold: f64,
        reset: f64,
        refractory: f64,
        noise: f64,
        bias: f64,
    ) -> Result<Lif> {
        for (value, name) in [(tau, "tau"), (tau_syn, "tau_syn")] {
            if !(value.is_finite() && value > 0.0) {
                return Err(Error::Value(format!(
                    "{name} must be a finite number > 0, got {value:?}"
                )));
            }
        }
        for (value, name) in [(refractory, "refractory"), (noise, "noise")] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(Error::Value(format!(
                    "{name} must be a finite number >= 0, got {value:?}"
                )));
            }
        }
        for (value, name) in [(threshold, "threshold"), (reset, "reset"), (bias, "bias")] {
            if !value.is_finite() {
                return Err(Error::Value(format!(
                    "{name} must be a finite number, got {value:?}"
                )));
            }
        }
        if reset >= threshold {
            return Err(Error::Value(format!(
                "reset must be below threshold = {threshold:?}, got {reset:?}"
            )));
        }
        Ok(Lif {
            tau,
            tau_syn,
            threshold,
            reset,
            refractory,
            noise,
            bias,
        })
    }

    /// The longest step: a tenth of the shorter time constant, so that the
    /// synaptic kernel is resolved and a neuron fires at most once in it.
    pub fn max_dt(&self) -> f64 {
        self.tau.min(self.tau_syn) / 10.0
    }
}

/// A network of [`Lif`] neurons (see the module docs).
pub trait SpikingModel: Sync {
    /// Number of neurons.
    fn n(&self) -> usize;

    /// The neurons' parameters.
    fn lif(&self) -> &Lif;

    /// The jumps of the synaptic currents of all `n` neurons when neuron
    /// `j` fires: `w_ij/τ_s` for `i = 0..n`.
    fn outgoing(&self, j: usize) -> &[f64];
}

/// What a simulation is asked to do: `steps` steps of `dt`, the cue's
/// current on for the first `cue_steps`, the spike counts read out against
/// the patterns every `bin_steps` steps, the refractory period and the
/// noise drawn with `seed`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpikeOptions {
    dt: f64,
    steps: u32,
    cue_steps: u32,
    bin_steps: u32,
    cue_current: f64,
    seed: u64,
}

impl SpikeOptions {
    /// Checked options for neurons `lif`.
    ///
    /// # Errors
    /// `Value` when `dt` is not finite `> 0` or above [`Lif::max_dt`],
    /// `bin_steps` is 0, or `cue_current` is not finite.
    pub fn new(
        lif: &Lif,
        dt: f64,
        steps: u32,
        cue_steps: u32,
        bin_steps: u32,
        cue_current: f64,
        seed: u64,
    ) -> Result<Self> {
        if !(dt.is_finite() && dt > 0.0) {
            return Err(Error::Value(format!(
                "dt must be a finite number > 0, got {dt:?}"
            )));
        }
        if dt > lif.max_dt() {
            return Err(Error::Value(format!(
                "dt must be at most min(tau, tau_syn)/10 = {:?}, got {dt:?}",
                lif.max_dt()
            )));
        }
        if bin_steps == 0 {
            return Err(Error::Value("bin must be at least one step".into()));
        }
        if !cue_current.is_finite() {
            return Err(Error::Value(format!(
                "cue_current must be a finite number, got {cue_current:?}"
            )));
        }
        Ok(SpikeOptions {
            dt,
            steps,
            cue_steps,
            bin_steps,
            cue_current,
            seed,
        })
    }

    /// The step.
    pub fn dt(&self) -> f64 {
        self.dt
    }

    /// Number of steps.
    pub fn steps(&self) -> u32 {
        self.steps
    }

    /// Steps with the cue's current on.
    pub fn cue_steps(&self) -> u32 {
        self.cue_steps
    }

    /// Steps per readout bin.
    pub fn bin_steps(&self) -> u32 {
        self.bin_steps
    }

    /// The current per unit of cue.
    pub fn cue_current(&self) -> f64 {
        self.cue_current
    }

    /// The seed of the escape noise.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Number of whole readout bins.
    pub fn bins(&self) -> usize {
        (self.steps / self.bin_steps) as usize
    }
}

/// Patterns to read the population's spike counts out against: each kept
/// centred, with its norm.
#[derive(Debug, Clone, PartialEq)]
pub struct Readout {
    n: usize,
    centred: Vec<f64>,
    norms: Vec<f64>,
}

impl Readout {
    /// The readout of `count` row-major patterns of `n` values.
    ///
    /// # Errors
    /// `Shape` when `patterns` is not `count × n` long; `Value` when a
    /// value is not finite.
    pub fn new(patterns: &[f64], count: usize, n: usize) -> Result<Readout> {
        if patterns.len() != count * n {
            return Err(Error::Shape(format!(
                "patterns must be {count} x {n} values, got {}",
                patterns.len()
            )));
        }
        if patterns.iter().any(|x| !x.is_finite()) {
            return Err(Error::Value("patterns must be finite".into()));
        }
        let mut centred = patterns.to_vec();
        let mut norms = Vec::with_capacity(count);
        for row in centred.chunks_exact_mut(n.max(1)).take(count) {
            let mean = row.iter().sum::<f64>() / n as f64;
            row.iter_mut().for_each(|x| *x -= mean);
            norms.push(row.iter().map(|x| x * x).sum::<f64>().sqrt());
        }
        Ok(Readout { n, centred, norms })
    }

    /// Number of patterns.
    pub fn count(&self) -> usize {
        self.norms.len()
    }

    /// Appends to `out` the correlation (Pearson, over neurons) of the
    /// spike `counts` with each pattern; 0 where either does not vary.
    pub fn overlaps(&self, counts: &[u32], out: &mut Vec<f64>) {
        let n = self.n;
        let mean = counts.iter().map(|&c| c as f64).sum::<f64>() / n.max(1) as f64;
        let spread = counts
            .iter()
            .map(|&c| (c as f64 - mean) * (c as f64 - mean))
            .sum::<f64>()
            .sqrt();
        for (row, &norm) in self.centred.chunks_exact(n.max(1)).zip(&self.norms) {
            if spread == 0.0 || norm == 0.0 {
                out.push(0.0);
            } else {
                let dot: f64 = row.iter().zip(counts).map(|(x, &c)| x * c as f64).sum();
                out.push(dot / (norm * spread));
            }
        }
    }
}

/// One cue's simulation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Simulated {
    /// Spikes in time order (neurons ascending within a step): the neuron
    /// and the step at whose end it fired (time `(step + 1)·dt`).
    pub spikes: Vec<(u32, u32)>,
    /// Overlaps, `bins × patterns` row-major (see [`Readout::overlaps`]).
    pub overlaps: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_checked() {
        assert!(Lif::new(20.0, 5.0, 1.0, 0.0, 2.0, 0.0, 0.0).is_ok());
        assert!(Lif::new(-1.0, 5.0, 1.0, 0.0, 2.0, 0.0, 0.0).is_err());
        assert!(Lif::new(20.0, f64::NAN, 1.0, 0.0, 2.0, 0.0, 0.0).is_err());
        assert!(Lif::new(20.0, 5.0, 1.0, 1.0, 2.0, 0.0, 0.0).is_err());
        assert!(Lif::new(20.0, 5.0, 1.0, 0.0, -2.0, 0.0, 0.0).is_err());
        let lif = Lif::new(20.0, 5.0, 1.0, 0.0, 2.0, 0.0, 0.0).unwrap();
        assert!(SpikeOptions::new(&lif, 0.5, 10, 1, 1, 1.0, 0).is_ok());
        assert!(SpikeOptions::new(&lif, 0.6, 10, 1, 1, 1.0, 0).is_err());
        assert!(SpikeOptions::new(&lif, 0.1, 10, 1, 0, 1.0, 0).is_err());
    }

    #[test]
    fn overlaps_are_correlations() {
        let r = Readout::new(&[1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 1.0, 1.0], 2, 4).unwrap();
        let mut out = Vec::new();
        r.overlaps(&[3, 3, 0, 0], &mut out);
        r.overlaps(&[0, 0, 0, 0], &mut out);
        assert!((out[0] - 1.0).abs() < 1e-12 && (out[1] + 1.0).abs() < 1e-12);
        assert_eq!(&out[2..], &[0.0, 0.0]);
    }
}
