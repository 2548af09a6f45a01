//! The spiking driver: a [`SpikingModel`] simulated on a time grid of `dt`,
//! one cue per task, rayon over cues.
//!
//! Between spikes the dynamics are linear, so a step integrates the leak
//! and the decaying synaptic current exactly (no discretisation error in
//! the subthreshold path; spike times are on the grid, at the end of the
//! step in which the threshold is reached). Spikes are events: a neuron
//! that fires adds its outgoing row to the synaptic currents, so the
//! recurrent input costs `O(spikes · n)` per step instead of a matrix-vector
//! product. The per-step work is one fused pass over the neurons.
//!
//! Escape noise draws one uniform per neuron and step from the cue's own
//! stream (`(seed, cue index, Accept)`), in neuron order, so a cue's spikes
//! depend on its index and the seed only, never on threads or batch split.

use rayon::prelude::*;

use super::lif::{Readout, Simulated, SpikeOptions, SpikingModel};
use crate::rng::{self, Purpose};

/// The exact one-step propagators of the linear dynamics (module docs of
/// [`lif`](super::lif)): over a step `u ← leak·u + coupling·s + input·e`,
/// `s ← decay·s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Propagators {
    /// `e^{−dt/τ_m}`.
    pub leak: f64,
    /// `τ_s/(τ_s − τ_m)·(e^{−dt/τ_s} − e^{−dt/τ_m})` (`dt/τ_m·e^{−dt/τ_m}` when equal).
    pub coupling: f64,
    /// `1 − e^{−dt/τ_m}`.
    pub input: f64,
    /// `e^{−dt/τ_s}`.
    pub decay: f64,
    /// The refractory period in whole steps (rounded).
    pub refractory_steps: u32,
}

/// The propagators of a step `dt` for neurons `lif`.
pub fn propagators(lif: &super::lif::Lif, dt: f64) -> Propagators {
    let leak = (-dt / lif.tau).exp();
    let decay = (-dt / lif.tau_syn).exp();
    let coupling = if lif.tau_syn == lif.tau {
        dt / lif.tau * leak
    } else {
        lif.tau_syn / (lif.tau_syn - lif.tau) * (decay - leak)
    };
    Propagators {
        leak,
        coupling,
        input: -(-dt / lif.tau).exp_m1(),
        decay,
        refractory_steps: (lif.refractory / dt).round().min(u32::MAX as f64) as u32,
    }
}

/// The constants of the noise-free step: the propagators, threshold, reset
/// and the refractory period in steps (as a float, so that the step's
/// pass over the neurons is all float64 and vectorises).
#[derive(Clone, Copy)]
struct Hard {
    p: Propagators,
    threshold: f64,
    reset: f64,
    wait: f64,
}

/// One noise-free step of every neuron, branch-free: the exact
/// subthreshold update, refractory neurons held (`wait` counts their steps
/// left), the others fire at the threshold (`fired[i] = 1`, reset, `wait`
/// set). Returns nothing; the caller scans `fired`.
#[inline(always)]
fn hard_step_body(
    u: &mut [f64],
    s: &mut [f64],
    wait: &mut [f64],
    input: &[f64],
    fired: &mut [u8],
    c: &Hard,
) {
    let n = u.len();
    let (s, wait, input, fired) = (&mut s[..n], &mut wait[..n], &input[..n], &mut fired[..n]);
    for i in 0..n {
        let v = u[i] * c.p.leak + s[i] * c.p.coupling + input[i] * c.p.input;
        s[i] *= c.p.decay;
        let w = wait[i];
        let free = w <= 0.0;
        let fire = free & (v >= c.threshold);
        u[i] = if fire {
            c.reset
        } else if free {
            v
        } else {
            u[i]
        };
        wait[i] = if fire { c.wait } else { (w - 1.0).max(0.0) };
        fired[i] = fire as u8;
    }
}

crate::simd::multiversion! {
    fn hard_step(u: &mut [f64], s: &mut [f64], wait: &mut [f64], input: &[f64], fired: &mut [u8], c: &Hard) -> ()
    => hard_step_body
}

/// `s += row`, vectorised.
#[inline(always)]
fn deliver_body(s: &mut [f64], row: &[f64]) {
    for (si, &w) in s.iter_mut().zip(row) {
        *si += w;
    }
}

crate::simd::multiversion! {
    fn deliver(s: &mut [f64], row: &[f64]) -> ()
    => deliver_body
}

/// Appends to `out` the indices `i` with `flags[i] != 0`, ascending
/// (eight flags per word test).
fn flagged(flags: &[u8], out: &mut Vec<usize>) {
    let mut chunks = flags.chunks_exact(8);
    for (k, chunk) in chunks.by_ref().enumerate() {
        let word = u64::from_ne_bytes(chunk.try_into().unwrap_or([0; 8]));
        if word != 0 {
            out.extend((0..8).filter(|&b| chunk[b] != 0).map(|b| 8 * k + b));
        }
    }
    let base = flags.len() - chunks.remainder().len();
    out.extend(
        chunks
            .remainder()
            .iter()
            .enumerate()
            .filter(|(_, &f)| f != 0)
            .map(|(b, _)| base + b),
    );
}

/// Simulates cue `index` (its `n` values scale the cue's current) from
/// rest (`u = u_r`, no synaptic current, nobody refractory).
pub fn simulate_one<M: SpikingModel>(
    model: &M,
    readout: &Readout,
    cue: &[f64],
    index: u64,
    opts: &SpikeOptions,
) -> Simulated {
    let n = model.n();
    let lif = *model.lif();
    let p = propagators(&lif, opts.dt());
    let hard = Hard {
        p,
        threshold: lif.threshold,
        reset: lif.reset,
        wait: p.refractory_steps as f64,
    };
    let cue_input: Vec<f64> = cue
        .iter()
        .map(|&c| lif.bias + opts.cue_current() * c)
        .collect();
    let free_input = vec![lif.bias; n];
    let mut u = vec![lif.reset; n];
    let mut s = vec![0.0f64; n];
    let mut wait = vec![0.0f64; n];
    let mut flags = vec![0u8; n];
    let mut counts = vec![0u32; n];
    let mut fired: Vec<usize> = Vec::new();
    let noisy = lif.noise > 0.0;
    let mut uniforms = vec![0.0f64; if noisy { n } else { 0 }];
    let mut stream = rng::stream(opts.seed(), index, Purpose::Accept);
    let hazard = opts.dt() / lif.tau;
    let mut out = Simulated {
        spikes: Vec::new(),
        overlaps: Vec::with_capacity(opts.bins() * readout.count()),
    };
    for step in 0..opts.steps() {
        let input = if step < opts.cue_steps() {
            &cue_input
        } else {
            &free_input
        };
        fired.clear();
        if noisy {
            uniforms
                .iter_mut()
                .for_each(|x| *x = rng::uniform(&mut stream));
            for i in 0..n {
                let v = u[i] * p.leak + s[i] * p.coupling + input[i] * p.input;
                s[i] *= p.decay;
                if wait[i] > 0.0 {
                    wait[i] -= 1.0;
                    continue;
                }
                let rate = hazard * ((v - lif.threshold) / lif.noise).exp();
                if uniforms[i] < -(-rate).exp_m1() {
                    u[i] = lif.reset;
                    wait[i] = hard.wait;
                    fired.push(i);
                } else {
                    u[i] = v;
                }
            }
        } else {
            hard_step(&mut u, &mut s, &mut wait, input, &mut flags, &hard);
            flagged(&flags, &mut fired);
        }
        for &j in &fired {
            deliver(&mut s, model.outgoing(j));
            counts[j] += 1;
            out.spikes.push((j as u32, step));
        }
        if (step + 1) % opts.bin_steps() == 0 {
            readout.overlaps(&counts, &mut out.overlaps);
            counts.fill(0);
        }
    }
    out
}

/// Simulates `rows` cues (row-major, `rows × n`), cue `r` with index
/// `first + r`, in parallel on the current rayon pool.
pub fn simulate<M: SpikingModel>(
    model: &M,
    readout: &Readout,
    cues: &[f64],
    rows: usize,
    first: u64,
    opts: &SpikeOptions,
) -> Vec<Simulated> {
    let n = model.n();
    (0..rows)
        .into_par_iter()
        .map(|r| {
            simulate_one(
                model,
                readout,
                &cues[r * n..(r + 1) * n],
                first + r as u64,
                opts,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::lif::Lif;

    /// Uncoupled neurons (for the driver's own tests).
    struct Uncoupled {
        lif: Lif,
        zeros: Vec<f64>,
    }

    impl SpikingModel for Uncoupled {
        fn n(&self) -> usize {
            self.zeros.len()
        }
        fn lif(&self) -> &Lif {
            &self.lif
        }
        fn outgoing(&self, _j: usize) -> &[f64] {
            &self.zeros
        }
    }

    #[test]
    fn constant_input_fires_at_the_lif_rate() {
        let lif = Lif::new(20.0, 5.0, 1.0, 0.0, 2.0, 0.0, 0.0).unwrap();
        let model = Uncoupled {
            lif,
            zeros: vec![0.0],
        };
        let dt = 0.01;
        let opts = SpikeOptions::new(&lif, dt, 200_000, 200_000, 1000, 1.5, 0).unwrap();
        let readout = Readout::new(&[], 0, 1).unwrap();
        let out = simulate_one(&model, &readout, &[1.0], 0, &opts);
        let times: Vec<f64> = out.spikes.iter().map(|s| (s.1 + 1) as f64 * dt).collect();
        let rate = (times.len() - 1) as f64 / (times[times.len() - 1] - times[0]);
        let analytic = 1.0 / (2.0 + 20.0 * (1.5f64 / 0.5).ln());
        assert!((rate / analytic - 1.0).abs() < 0.01, "{rate} vs {analytic}");
    }

    #[test]
    fn exact_propagators_match_a_fine_euler_integration() {
        let lif = Lif::new(20.0, 5.0, 1.0, 0.0, 2.0, 0.0, 0.0).unwrap();
        let p = propagators(&lif, 0.5);
        let (mut u, mut s) = (0.3f64, 2.0f64);
        let h = 1e-5;
        for _ in 0..50_000 {
            u += h / 20.0 * (-u + s + 0.7);
            s -= h / 5.0 * s;
        }
        let exact = 0.3 * p.leak + 2.0 * p.coupling + 0.7 * p.input;
        assert!((u - exact).abs() < 1e-5, "{u} vs {exact}");
        assert!((s - 2.0 * p.decay).abs() < 1e-5);
    }

    #[test]
    fn noisy_cues_depend_on_their_index_only() {
        let lif = Lif::new(10.0, 5.0, 1.0, 0.0, 1.0, 0.2, 0.8).unwrap();
        let model = Uncoupled {
            lif,
            zeros: vec![0.0; 8],
        };
        let opts = SpikeOptions::new(&lif, 0.1, 500, 0, 50, 0.0, 9).unwrap();
        let readout = Readout::new(&[], 0, 8).unwrap();
        let cues = vec![0.0; 8 * 3];
        let all = simulate(&model, &readout, &cues, 3, 0, &opts);
        let last = simulate(&model, &readout, &cues[16..], 1, 2, &opts);
        assert_eq!(all[2], last[0]);
        assert_ne!(all[0], all[1]);
        assert!(!all[0].spikes.is_empty());
    }
}
