//! Stochastic (Glauber) dynamics on any [`EnergyModel`]: temperature
//! schedules, one chain's sweeps, and Boltzmann sampling.
//!
//! At temperature `T > 0` neuron `i` is set to +1 with probability
//! `1 / (1 + exp(−gap_i / T))`, `gap_i = E(s_i = −1) − E(s_i = +1)` (for a
//! quadratic energy `gap_i = 2 h_i`), whatever its current value (the heat
//! bath). A sweep visits every neuron once, asynchronously, in a fresh random
//! order per sweep (or 0..N). This chain leaves the Boltzmann distribution
//! `P(s) ∝ exp(−E(s)/T)` invariant. A sweep at `T = 0` is a deterministic
//! sweep (ties keep the state).
//!
//! Every update draws exactly one uniform `u` in `[0, 1)` from the query's
//! own [`Purpose::Accept`] stream, in update order (also at `T = 0`), and
//! the neuron becomes +1 iff `gap_i > T·ln(u / (1 − u))` ([`threshold`]):
//! `ln(u/(1−u))` is logistic, so this happens with probability exactly
//! `1 / (1 + exp(−gap_i / T))`. The thresholds depend on the uniforms only,
//! so a sweep computes them all before its first update, and the chain of
//! dependent work per update is the field and one comparison. The neuron
//! orders ([`crate::dynamics::sweep_orders`]) and the uniforms
//! ([`acceptance_uniforms`]) reproduce a run exactly.

use std::sync::Arc;

use crate::dynamics::{Order, Outcome, Schedule};
use crate::error::{Error, Result};
use crate::model::EnergyModel;
use crate::multiversion;
use crate::rng::{self, Purpose, Stream};
use crate::spins;

/// The temperature of every sweep of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Temperature {
    /// Deterministic descent (the engine's `T = 0` path, run to convergence).
    Zero,
    /// `sweeps` sweeps at temperature `t`.
    Constant {
        /// The temperature, `> 0`.
        t: f64,
        /// Number of sweeps.
        sweeps: u32,
    },
    /// `T_k = start · (end/start)^(k/(sweeps−1))`, `k = 0..sweeps` (both `> 0`).
    Geometric {
        /// Temperature of the first sweep.
        start: f64,
        /// Temperature of the last sweep.
        end: f64,
        /// Number of sweeps.
        sweeps: u32,
    },
    /// `T_k = start + (end − start)·k/(sweeps−1)` (both `≥ 0`).
    Linear {
        /// Temperature of the first sweep.
        start: f64,
        /// Temperature of the last sweep.
        end: f64,
        /// Number of sweeps.
        sweeps: u32,
    },
    /// One temperature per sweep, each `≥ 0`.
    PerSweep(Arc<[f64]>),
}

impl Temperature {
    /// Whether this is deterministic descent.
    pub fn is_zero(&self) -> bool {
        matches!(self, Temperature::Zero)
    }

    /// Number of stochastic sweeps (0 for [`Temperature::Zero`]).
    pub fn sweeps(&self) -> u32 {
        match self {
            Temperature::Zero => 0,
            Temperature::Constant { sweeps, .. }
            | Temperature::Geometric { sweeps, .. }
            | Temperature::Linear { sweeps, .. } => *sweeps,
            Temperature::PerSweep(ts) => ts.len() as u32,
        }
    }

    /// The temperature of sweep `k` (0-based, `k < sweeps()`).
    #[inline]
    pub fn at(&self, k: u32) -> f64 {
        let frac = |sweeps: u32| {
            if sweeps <= 1 {
                0.0
            } else {
                k as f64 / (sweeps - 1) as f64
            }
        };
        match self {
            Temperature::Zero => 0.0,
            Temperature::Constant { t, .. } => *t,
            Temperature::Geometric { start, end, sweeps } => {
                start * (end / start).powf(frac(*sweeps))
            }
            Temperature::Linear { start, end, sweeps } => start + (end - start) * frac(*sweeps),
            Temperature::PerSweep(ts) => ts[k as usize],
        }
    }

    /// All per-sweep temperatures.
    pub fn values(&self) -> Vec<f64> {
        (0..self.sweeps()).map(|k| self.at(k)).collect()
    }

    /// Checks the temperatures and the sweep count.
    ///
    /// # Errors
    /// `Value` naming what is wrong: a temperature that is negative or not
    /// finite, a geometric end point that is not positive, no sweeps, or
    /// more than `u32::MAX` of them.
    pub fn check(&self) -> Result<()> {
        let finite = |name: &str, t: f64, positive: bool| {
            if !t.is_finite() || t < 0.0 || (positive && t == 0.0) {
                let want = if positive { "> 0" } else { ">= 0" };
                Err(Error::Value(format!(
                    "{name} must be a finite temperature {want}, got {t}"
                )))
            } else {
                Ok(())
            }
        };
        match self {
            Temperature::Zero => return Ok(()),
            Temperature::Constant { t, .. } => finite("temperature", *t, true)?,
            Temperature::Geometric { start, end, .. } => {
                finite("the geometric schedule's start", *start, true)?;
                finite("the geometric schedule's end", *end, true)?;
            }
            Temperature::Linear { start, end, .. } => {
                finite("the linear schedule's start", *start, false)?;
                finite("the linear schedule's end", *end, false)?;
            }
            Temperature::PerSweep(ts) => {
                if ts.len() > u32::MAX as usize {
                    return Err(Error::Value(format!(
                        "a schedule may have at most {} sweeps, got {}",
                        u32::MAX,
                        ts.len()
                    )));
                }
                for (k, &t) in ts.iter().enumerate() {
                    finite(&format!("schedule[{k}]"), t, false)?;
                }
            }
        }
        if self.sweeps() == 0 {
            return Err(Error::Value(
                "a stochastic run needs at least 1 sweep".into(),
            ));
        }
        Ok(())
    }
}

/// The gap above which a neuron becomes +1 at temperature `t > 0` for the
/// uniform `u`: `t · ln(u / (1 − u))` (`−∞` for `u = 0`). For `u` uniform in
/// `[0, 1)`, `P(gap > threshold) = 1 / (1 + exp(−gap / t))`.
#[inline(always)]
pub fn threshold(u: f64, t: f64) -> f64 {
    t * (u / (1.0 - u)).ln()
}

/// The uniforms the acceptance decisions of query `query` under `seed` use
/// in its first `sweeps` stochastic sweeps (row-major `sweeps × n`): entry
/// `(t, k)` decides the `k`-th update of sweep `t` (the neuron
/// `sweep_orders(..)[t][k]`).
pub fn acceptance_uniforms(n: usize, sweeps: usize, seed: u64, query: u64) -> Vec<f64> {
    let mut stream = rng::stream(seed, query, Purpose::Accept);
    (0..n * sweeps).map(|_| rng::uniform(&mut stream)).collect()
}

/// `count` random states of `n` neurons (uniform ±1, bit-packed rows), row
/// `r` drawn from the [`Purpose::Noise`] stream of `(seed, first + r)`.
pub fn random_states(n: usize, count: usize, seed: u64, first: u64) -> Result<spins::SpinMatrix> {
    let mut states = spins::SpinMatrix::minus_ones(count, n)?;
    let words = states.words();
    for (r, row) in states.as_words_mut().chunks_exact_mut(words).enumerate() {
        let mut stream = rng::stream(seed, first + r as u64, Purpose::Noise);
        for w in row.iter_mut() {
            *w = rand_xoshiro::rand_core::Rng::next_u64(&mut stream);
        }
        if !n.is_multiple_of(64) {
            if let Some(last) = row.last_mut() {
                *last &= (1u64 << (n % 64)) - 1;
            }
        }
    }
    Ok(states)
}

/// One Markov chain (or one stochastic retrieval): its state, the model's
/// cache for it and its random streams. Sweeps continue the streams, so a
/// run split into several calls of [`sweep`](Chain::sweep) is the same run.
pub struct Chain<C> {
    /// The current state, bit-packed.
    pub state: Vec<u64>,
    pub(crate) cache: C,
    pub(crate) order_stream: Option<Stream>,
    pub(crate) accept: Stream,
    /// The current sweep's neuron order.
    pub(crate) order: Vec<u32>,
    /// [`threshold`]s of the current sweep's updates, in update order.
    thresholds: Vec<f64>,
}

impl<C: Send> Chain<C> {
    /// The chain of query (or chain) number `index` under `seed`, from `state`.
    pub fn new<M: EnergyModel<Cache = C>>(
        model: &M,
        state: Vec<u64>,
        index: u64,
        seed: u64,
        order: Order,
    ) -> Self {
        let cache = model.cache(&state);
        Self::with_cache(model, state, cache, index, seed, order)
    }

    /// The chains of consecutive packed rows (`words` words each), row `r`
    /// being chain `first + r`; their caches are built together
    /// ([`EnergyModel::caches`]). Inlined so that the caches are computed
    /// with the caller's instruction set.
    #[inline(always)]
    pub fn block<M: EnergyModel<Cache = C>>(
        model: &M,
        rows: &[u64],
        words: usize,
        first: u64,
        seed: u64,
        order: Order,
    ) -> Vec<Self> {
        let states: Vec<&[u64]> = rows.chunks_exact(words).collect();
        let caches = model.caches(&states);
        states
            .into_iter()
            .zip(caches)
            .enumerate()
            .map(|(r, (state, cache))| {
                Self::with_cache(model, state.to_vec(), cache, first + r as u64, seed, order)
            })
            .collect()
    }

    fn with_cache<M: EnergyModel<Cache = C>>(
        model: &M,
        state: Vec<u64>,
        cache: C,
        index: u64,
        seed: u64,
        order: Order,
    ) -> Self {
        Chain {
            state,
            cache,
            order_stream: match order {
                Order::Random => Some(rng::stream(seed, index, Purpose::Order)),
                Order::Sequential => None,
            },
            accept: rng::stream(seed, index, Purpose::Accept),
            order: (0..model.n() as u32).collect(),
            thresholds: vec![0.0; model.n()],
        }
    }

    /// Draws the neuron order of the next sweep (kept for sequential sweeps).
    #[inline(always)]
    pub(crate) fn next_order(&mut self) {
        if let Some(stream) = self.order_stream.as_mut() {
            rng::permutation(stream, &mut self.order);
        }
    }

    /// Draws the neuron order and the acceptance thresholds of the next
    /// sweep at temperature `t` (at `t = 0` the uniforms are drawn unused).
    #[inline(always)]
    fn next_sweep(&mut self, t: f64) {
        self.next_order();
        for z in self.thresholds.iter_mut() {
            let u = rng::uniform(&mut self.accept);
            *z = if t > 0.0 { threshold(u, t) } else { 0.0 };
        }
    }

    /// Makes update `k` of the current sweep (neuron `order[k]`) at
    /// temperature `t` (`t = 0`: deterministic); returns whether it changed.
    #[inline(always)]
    fn step<M: EnergyModel<Cache = C>>(&mut self, model: &M, k: usize, t: f64) -> bool {
        let i = self.order[k] as usize;
        let plus = spins::spin(&self.state, i) > 0;
        let up = if t > 0.0 {
            model.gap_mut(&mut self.cache, &self.state, i) > self.thresholds[k]
        } else {
            let g = model.drive(&mut self.cache, &self.state, i);
            g > 0.0 || (g == 0.0 && plus)
        };
        model.flip_if(&mut self.cache, &mut self.state, i, up != plus);
        up != plus
    }

    /// One sweep at temperature `t` (`t = 0`: deterministic); returns the
    /// number of neurons that changed.
    #[inline(always)]
    pub fn sweep_inline<M: EnergyModel<Cache = C>>(&mut self, model: &M, t: f64) -> usize {
        self.next_sweep(t);
        let mut flips = 0usize;
        for k in 0..self.order.len() {
            flips += self.step(model, k, t) as usize;
        }
        flips
    }

    /// [`sweep_inline`](Chain::sweep_inline) compiled for the best
    /// instruction set.
    pub fn sweep<M: EnergyModel<Cache = C>>(&mut self, model: &M, t: f64) -> usize {
        sweep_dispatch(model, self, t)
    }

    /// The energy of the current state.
    pub fn energy<M: EnergyModel<Cache = C>>(&self, model: &M) -> f64 {
        model.energy(&self.cache, &self.state)
    }

    /// Whether no neuron's drive disagrees with its state: a fixed point of
    /// deterministic (`T = 0`) dynamics (ties keep the state).
    pub fn is_fixed_point<M: EnergyModel<Cache = C>>(&mut self, model: &M) -> bool {
        (0..model.n()).all(|i| {
            let g = model.drive(&mut self.cache, &self.state, i);
            let spin = spins::spin(&self.state, i);
            !((g > 0.0 && spin < 0) || (g < 0.0 && spin > 0))
        })
    }
}

#[inline(always)]
fn sweep_body<M: EnergyModel>(model: &M, chain: &mut Chain<M::Cache>, t: f64) -> usize {
    chain.sweep_inline(model, t)
}

multiversion! {
    fn sweep_dispatch<M: EnergyModel>(model: &M, chain: &mut Chain<M::Cache>, t: f64) -> usize
    => sweep_body
}

/// Chains a thread advances together, their updates interleaved: one
/// update is a chain of dependent steps (field, acceptance, flip, next
/// field), and independent chains give the processor work to overlap
/// (measured on the development machine: a few percent faster than one
/// chain at a time, `examples/glauber_timing.rs`). Each chain's result is
/// what it would be alone.
pub const CHAIN_BLOCK: usize = 4;

/// One sweep of every chain of `chains` at temperature `t`, their updates
/// interleaved; adds each chain's flips to `flips`. `repeated`: the run
/// holds `t` for many sweeps (sampling, a constant temperature), so that a
/// model may precompute for it ([`EnergyModel::glauber_block`]).
#[inline(always)]
pub fn sweep_block_inline<M: EnergyModel>(
    model: &M,
    chains: &mut [Chain<M::Cache>],
    t: f64,
    repeated: bool,
    flips: &mut [usize],
) {
    if t > 0.0 && model.glauber_block(chains, t, repeated, flips) {
        return;
    }
    for chain in chains.iter_mut() {
        chain.next_sweep(t);
    }
    for k in 0..model.n() {
        for (chain, f) in chains.iter_mut().zip(flips.iter_mut()) {
            *f += chain.step(model, k, t) as usize;
        }
    }
}

multiversion! {
    /// [`sweep_block_inline`] compiled for the best instruction set.
    pub fn sweep_block<M: EnergyModel>(model: &M, chains: &mut [Chain<M::Cache>], t: f64, repeated: bool, flips: &mut [usize]) -> ()
    => sweep_block_inline
}

/// Runs a stochastic `schedule` in place on consecutive packed rows
/// (`words` words each, at most [`CHAIN_BLOCK`] of them, row `r` being
/// query `first + r`): the stochastic sweeps of `schedule.temperature`,
/// then with `schedule.quench` deterministic async sweeps (same streams)
/// until one flips nothing, at most `max_sweeps` of them.
///
/// Each outcome: `sweeps` run (stochastic + quench), `converged` = the
/// final state is a fixed point of deterministic dynamics, `energy` of the
/// final state, and the energy after every sweep when tracked.
#[inline(always)]
pub fn run_block_inline<M: EnergyModel>(
    model: &M,
    rows: &mut [u64],
    words: usize,
    first: u64,
    schedule: &Schedule,
) -> Vec<Outcome> {
    let track = schedule.track_energy;
    let mut chains = Chain::block(model, rows, words, first, schedule.seed, schedule.order);
    let mut traces: Vec<Vec<f64>> = chains
        .iter()
        .map(|c| {
            if track {
                vec![c.energy(model)]
            } else {
                Vec::new()
            }
        })
        .collect();
    let mut flips = vec![0usize; chains.len()];
    let temperature = &schedule.temperature;
    let repeated = matches!(temperature, Temperature::Constant { .. });
    for k in 0..temperature.sweeps() {
        sweep_block_inline(model, &mut chains, temperature.at(k), repeated, &mut flips);
        if track {
            for (trace, chain) in traces.iter_mut().zip(&chains) {
                trace.push(chain.energy(model));
            }
        }
    }
    let mut out = Vec::with_capacity(chains.len());
    for ((mut chain, mut trace), row) in chains
        .into_iter()
        .zip(traces)
        .zip(rows.chunks_exact_mut(words))
    {
        let mut sweeps = temperature.sweeps();
        if schedule.quench {
            for _ in 0..schedule.max_sweeps {
                sweeps += 1;
                let changed = chain.sweep_inline(model, 0.0);
                if track {
                    trace.push(chain.energy(model));
                }
                if changed == 0 {
                    break;
                }
            }
        }
        let converged = chain.is_fixed_point(model);
        row.copy_from_slice(&chain.state);
        out.push(Outcome {
            converged,
            cycled: false,
            sweeps,
            energy: chain.energy(model),
            trace,
        });
    }
    out
}

multiversion! {
    /// [`run_block_inline`] compiled for the best instruction set.
    pub fn descend_block<M: EnergyModel>(model: &M, rows: &mut [u64], words: usize, first: u64, schedule: &Schedule) -> Vec<Outcome>
    => run_block_inline
}

/// How to sample: `burn_in` sweeps, then `n_samples` samples, one every
/// `thin` sweeps (the first after sweep `burn_in + thin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sampling {
    /// Sweeps discarded before the first sample.
    pub burn_in: u32,
    /// Samples per chain.
    pub n_samples: u32,
    /// Sweeps between samples, at least 1.
    pub thin: u32,
}

impl Sampling {
    /// Checks the counts.
    ///
    /// # Errors
    /// `Value` when `n_samples` or `thin` is zero.
    pub fn check(&self) -> Result<()> {
        if self.n_samples == 0 {
            return Err(Error::Value("n_samples must be at least 1".into()));
        }
        if self.thin == 0 {
            return Err(Error::Value("thin must be at least 1".into()));
        }
        Ok(())
    }
}

/// Records samples `from..to` of a block of chains at temperature `t`,
/// one every `thin` sweeps. Chain `c`'s samples are rows `c·per_chain + j`
/// of `states` (packed, one chain state wide each) and entries of
/// `energies`. Burn-in is the caller's ([`sweep_block`]).
#[allow(clippy::too_many_arguments)]
pub fn sample_block<M: EnergyModel>(
    model: &M,
    chains: &mut [Chain<M::Cache>],
    t: f64,
    thin: u32,
    per_chain: usize,
    (from, to): (usize, usize),
    states: &mut [u64],
    energies: &mut [f64],
) {
    let mut flips = vec![0usize; chains.len()];
    for j in from..to {
        for _ in 0..thin {
            sweep_block(model, chains, t, true, &mut flips);
        }
        for (c, chain) in chains.iter().enumerate() {
            let words = chain.state.len();
            let row = c * per_chain + j;
            states[row * words..(row + 1) * words].copy_from_slice(&chain.state);
            energies[row] = chain.energy(model);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::batch;
    use crate::dynamics::{Schedule, Update};
    use crate::model::{Hebbian, HebbianKernel, Weights};
    use crate::spins::SpinMatrix;

    fn memory(p: usize, n: usize, seed: u64, theta: f64) -> Hebbian {
        let xs = random_states(n, p, seed, 0).unwrap();
        let mut h = Hebbian::new(n, vec![theta; n]).unwrap();
        h.store(&xs).unwrap();
        h
    }

    fn schedule(temperature: Temperature, quench: bool) -> Schedule {
        Schedule {
            update: Update::Async,
            order: Order::Random,
            max_sweeps: 100,
            seed: 3,
            track_energy: true,
            temperature,
            quench,
        }
    }

    #[test]
    fn thresholds_decide_as_the_logistic_probability() {
        // gap > t·ln(u/(1−u))  ⇔  u < 1/(1 + exp(−gap/t)), up to rounding within
        // a hair of the boundary.
        let t = 0.7;
        let mut disagree = 0;
        for a in 0..400 {
            let u = a as f64 / 400.0;
            for b in 0..400 {
                let gap = (b as f64 - 200.0) / 20.0;
                let by_threshold = gap > threshold(u, t);
                let by_probability = u < 1.0 / (1.0 + (-gap / t).exp());
                let logit = t * (u / (1.0 - u)).ln();
                if by_threshold != by_probability && (gap - logit).abs() > 1e-9 {
                    disagree += 1;
                }
            }
        }
        assert_eq!(disagree, 0);
        assert_eq!(threshold(0.0, t), f64::NEG_INFINITY);
        assert!(threshold(0.5, t).abs() < 1e-15);
    }

    #[test]
    fn schedules_give_their_end_points() {
        let g = Temperature::Geometric {
            start: 4.0,
            end: 0.25,
            sweeps: 5,
        };
        assert_eq!(g.values(), vec![4.0, 2.0, 1.0, 0.5, 0.25]);
        let l = Temperature::Linear {
            start: 2.0,
            end: 0.0,
            sweeps: 3,
        };
        assert_eq!(l.values(), vec![2.0, 1.0, 0.0]);
        assert_eq!(
            Temperature::Constant { t: 1.5, sweeps: 1 }.values(),
            vec![1.5]
        );
        assert!(Temperature::Constant { t: 0.0, sweeps: 1 }.check().is_err());
        assert!(Temperature::Constant { t: 1.0, sweeps: 0 }.check().is_err());
        assert!(Temperature::PerSweep(Arc::from(vec![1.0, f64::NAN]))
            .check()
            .is_err());
        assert!(Temperature::PerSweep(Arc::from(vec![1.0, -1.0]))
            .check()
            .is_err());
        assert!(Temperature::PerSweep(Arc::from(vec![1.0, 0.0]))
            .check()
            .is_ok());
        assert!(Temperature::Geometric {
            start: 1.0,
            end: 0.0,
            sweeps: 2
        }
        .check()
        .is_err());
    }

    #[test]
    fn random_states_keep_tail_bits_zero_and_differ() {
        let s = random_states(70, 3, 1, 0).unwrap();
        assert_ne!(s.row(0), s.row(1));
        assert_eq!(s.row(0)[1] >> 6, 0);
        let again = random_states(70, 1, 1, 2).unwrap();
        assert_eq!(again.row(0), s.row(2));
    }

    #[test]
    fn stochastic_runs_are_thread_and_split_independent() {
        let h = memory(8, 130, 1, 0.0);
        let k = HebbianKernel::<i16>::new(&h).unwrap();
        let queries = random_states(130, 11, 5, 0).unwrap();
        let s = schedule(
            Temperature::Geometric {
                start: 2.0,
                end: 0.05,
                sweeps: 20,
            },
            true,
        );
        let one = batch::with_threads(Some(1), || batch::retrieve(&k, &queries, 0, &s))
            .unwrap()
            .unwrap();
        let two = batch::with_threads(Some(2), || batch::retrieve(&k, &queries, 0, &s))
            .unwrap()
            .unwrap();
        assert_eq!(one.states, two.states);
        assert_eq!(one.outcomes, two.outcomes);
        let mut row = SpinMatrix::minus_ones(1, 130).unwrap();
        row.row_mut(0).copy_from_slice(queries.row(7));
        let alone = batch::retrieve(&k, &row, 7, &s).unwrap();
        assert_eq!(alone.states.row(0), one.states.row(7));
        assert_eq!(alone.outcomes[0], one.outcomes[7]);
        for o in &one.outcomes {
            // Quenched: a deterministic fixed point, and the trace ends at its energy.
            assert!(o.converged, "{o:?}");
            assert!(o.sweeps > 20);
            assert_eq!(o.trace.len(), o.sweeps as usize + 1);
            assert_eq!(*o.trace.last().unwrap(), o.energy);
        }
    }

    #[test]
    fn high_temperature_moves_and_low_temperature_settles() {
        let h = memory(3, 200, 2, 0.0);
        let k = HebbianKernel::<i16>::new(&h).unwrap();
        let patterns = h.patterns().clone();
        // Stored patterns barely move at T = 0.01 and scramble at T = 100.
        let cold = batch::retrieve(
            &k,
            &patterns,
            0,
            &schedule(Temperature::Constant { t: 0.01, sweeps: 5 }, false),
        )
        .unwrap();
        assert_eq!(cold.states, patterns);
        let hot = batch::retrieve(
            &k,
            &patterns,
            0,
            &schedule(
                Temperature::Constant {
                    t: 100.0,
                    sweeps: 5,
                },
                false,
            ),
        )
        .unwrap();
        for r in 0..3 {
            let m = spins::overlap(hot.states.row(r), patterns.row(r), 200).abs();
            assert!(m < 60, "overlap {m} after 5 sweeps at T = 100");
            assert!(!hot.outcomes[r].converged);
        }
    }

    #[test]
    fn zero_temperature_sweeps_are_the_deterministic_descent() {
        // A per-sweep schedule of zeros then a quench equals plain async descent
        // (same order stream, same decisions), apart from the sweep count.
        let h = memory(20, 150, 4, 0.1);
        let k = HebbianKernel::<i16>::new(&h).unwrap();
        let queries = random_states(150, 6, 9, 0).unwrap();
        let mut det = schedule(Temperature::Zero, false);
        det.max_sweeps = 50;
        let want = batch::retrieve(&k, &queries, 0, &det).unwrap();
        let zeros = schedule(Temperature::PerSweep(Arc::from(vec![0.0; 50])), false);
        let got = batch::retrieve(&k, &queries, 0, &zeros).unwrap();
        assert_eq!(got.states, want.states);
        for (g, w) in got.outcomes.iter().zip(&want.outcomes) {
            assert_eq!(g.energy, w.energy);
            assert_eq!(g.converged, w.converged);
        }
    }

    #[test]
    fn uniforms_are_those_the_chain_draws() {
        let u = acceptance_uniforms(10, 2, 5, 3);
        let mut s = rng::stream(5, 3, Purpose::Accept);
        assert_eq!(u[0], rng::uniform(&mut s));
        assert_eq!(u.len(), 20);
    }

    /// Exact Boltzmann probabilities of every state of a small model.
    fn exact(k: &HebbianKernel<'_, i16>, n: usize, t: f64) -> Vec<f64> {
        let states: Vec<f64> = (0..1u64 << n)
            .map(|bits| {
                let s = [bits];
                -k.energy(&k.cache(&s), &s) / t
            })
            .collect();
        let max = states.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = states.iter().map(|e| (e - max).exp()).collect();
        let z: f64 = w.iter().sum();
        w.iter().map(|x| x / z).collect()
    }

    #[test]
    fn samples_follow_the_boltzmann_distribution() {
        let n = 6;
        let h = memory(3, n, 8, 0.2);
        let k = HebbianKernel::<i16>::new(&h).unwrap();
        let t = 0.7;
        let p = exact(&k, n, t);
        let sampling = Sampling {
            burn_in: 20,
            n_samples: 4000,
            thin: 2,
        };
        let chains = 10u64;
        let mut counts = vec![0f64; 1 << n];
        for c in 0..chains {
            let start = random_states(n, 1, 1, c).unwrap();
            let mut chain = Chain::new(&k, start.row(0).to_vec(), c, 1, Order::Random);
            let mut states = vec![0u64; sampling.n_samples as usize];
            let mut energies = vec![0f64; sampling.n_samples as usize];
            for _ in 0..sampling.burn_in {
                chain.sweep(&k, t);
            }
            let per = sampling.n_samples as usize;
            sample_block(
                &k,
                std::slice::from_mut(&mut chain),
                t,
                sampling.thin,
                per,
                (0, per),
                &mut states,
                &mut energies,
            );
            for (s, e) in states.iter().zip(&energies) {
                counts[*s as usize] += 1.0;
                assert_eq!(*e, k.energy(&k.cache(&[*s]), &[*s]));
            }
        }
        let total: f64 = counts.iter().sum();
        let tv: f64 = 0.5
            * counts
                .iter()
                .zip(&p)
                .map(|(c, q)| (c / total - q).abs())
                .sum::<f64>();
        // 40 000 draws over 64 states: independent draws give E[TV] ≤ ½√(64/40000) = 0.02.
        assert!(tv < 0.05, "TV = {tv}");
    }

    fn couplings(n: usize, seed: u64) -> Weights {
        let mut r = rng::stream(seed, 0, Purpose::Noise);
        let mut w = vec![0f32; n * n];
        for i in 0..n {
            for j in 0..i {
                let x = (rng::below(&mut r, 33) as f32 - 16.0) / 16.0;
                w[i * n + j] = x;
                w[j * n + i] = x;
            }
        }
        let theta = (0..n).map(|i| (i % 5) as f64 / 10.0 - 0.2).collect();
        Weights::new(n, w, theta).unwrap()
    }

    #[test]
    fn weights_gap_mut_equals_gap_along_a_run() {
        let m = couplings(50, 1);
        let start = random_states(50, 1, 3, 0).unwrap();
        let mut chain = Chain::new(&m, start.row(0).to_vec(), 0, 9, Order::Random);
        for _ in 0..3 {
            chain.sweep(&m, 0.8);
            for i in [0usize, 17, 49] {
                let g = m.gap(&chain.cache, &chain.state, i);
                assert_eq!(m.gap_mut(&mut chain.cache, &chain.state, i), g);
            }
        }
    }

    #[test]
    fn weights_stochastic_runs_are_thread_and_split_independent() {
        let m = couplings(70, 2);
        let queries = random_states(70, 9, 4, 0).unwrap();
        let s = schedule(
            Temperature::Linear {
                start: 2.0,
                end: 0.0,
                sweeps: 15,
            },
            true,
        );
        let one = batch::with_threads(Some(1), || batch::retrieve(&m, &queries, 0, &s))
            .unwrap()
            .unwrap();
        let two = batch::with_threads(Some(2), || batch::retrieve(&m, &queries, 0, &s))
            .unwrap()
            .unwrap();
        assert_eq!(one.states, two.states);
        assert_eq!(one.outcomes, two.outcomes);
        let mut row = SpinMatrix::minus_ones(1, 70).unwrap();
        row.row_mut(0).copy_from_slice(queries.row(6));
        let alone = batch::retrieve(&m, &row, 6, &s).unwrap();
        assert_eq!(alone.states.row(0), one.states.row(6));
        assert_eq!(alone.outcomes[0], one.outcomes[6]);
        assert!(one.outcomes.iter().all(|o| o.converged));
    }

    #[test]
    fn weights_samples_follow_the_boltzmann_distribution() {
        let n = 6;
        let m = couplings(n, 5);
        let t = 1.5;
        let energies: Vec<f64> = (0..1u64 << n)
            .map(|bits| m.energy(&m.cache(&[bits]), &[bits]))
            .collect();
        let min = energies.iter().cloned().fold(f64::INFINITY, f64::min);
        let w: Vec<f64> = energies.iter().map(|e| (-(e - min) / t).exp()).collect();
        let z: f64 = w.iter().sum();
        let starts = random_states(n, 8, 1, 0).unwrap();
        let mut chains = Chain::block(&m, starts.as_words(), 1, 0, 2, Order::Random);
        let per = 5000;
        let mut flips = vec![0usize; chains.len()];
        for _ in 0..50 {
            sweep_block(&m, &mut chains, t, true, &mut flips);
        }
        let mut states = vec![0u64; chains.len() * per];
        let mut es = vec![0f64; chains.len() * per];
        for block in chains.chunks_mut(CHAIN_BLOCK).enumerate() {
            let (b, block) = block;
            let rows = b * CHAIN_BLOCK * per..(b * CHAIN_BLOCK + block.len()) * per;
            sample_block(
                &m,
                block,
                t,
                2,
                per,
                (0, per),
                &mut states[rows.clone()],
                &mut es[rows],
            );
        }
        let mut counts = vec![0f64; 1 << n];
        for (s, e) in states.iter().zip(&es) {
            counts[*s as usize] += 1.0;
            assert_eq!(*e, energies[*s as usize]);
        }
        let total = states.len() as f64;
        let tv: f64 = 0.5
            * counts
                .iter()
                .zip(&w)
                .map(|(c, q)| (c / total - q / z).abs())
                .sum::<f64>();
        // 40 000 thinned draws over 64 states: E[TV] ≤ ½√(64/40000) = 0.02 if independent.
        assert!(tv < 0.05, "TV = {tv}");
    }
}
