//! Stochastic (Glauber) dynamics on any [`EnergyModel`]: one chain's
//! sweeps, blocks of chains, stochastic retrieval (annealing with an
//! optional quench) and Boltzmann sampling.
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
//! the neuron becomes +1 iff `gap_i > T·ln(u / (1 − u))`
//! ([`threshold`](super::accept::threshold)): `ln(u/(1−u))` is logistic, so
//! this happens with probability exactly `1 / (1 + exp(−gap_i / T))`. The
//! thresholds depend on the uniforms only, so a sweep computes them all
//! before its first update ([`Chain`]), and the chain of dependent work per
//! update is the field and one comparison. The neuron orders
//! ([`sweep_orders`](super::descent::sweep_orders)) and the uniforms
//! ([`acceptance_uniforms`]) reproduce a run exactly.
//!
//! A chain with clamped neurons ([`Chain::clamped`]) draws the same orders
//! and uniforms and skips the clamped neurons' updates (their uniforms go
//! unused); its sweeps take the generic path, never a model's own.

use rayon::prelude::*;

use super::chain::Chain;
use super::clamp::{is_clamped, Clamp};
use super::energy::EnergyModel;
use super::schedule::{Order, Outcome, Sampling, Schedule};
use crate::error::{try_filled, Error, Result};
use crate::rng::{self, Purpose};
use crate::simd::multiversion;
use crate::spins::{self, SpinMatrix};

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
pub fn random_states(n: usize, count: usize, seed: u64, first: u64) -> Result<SpinMatrix> {
    let mut states = SpinMatrix::minus_ones(count, n)?;
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
        Chain::with_cache(state, cache, model.n(), index, seed, order)
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
                Chain::with_cache(
                    state.to_vec(),
                    cache,
                    model.n(),
                    first + r as u64,
                    seed,
                    order,
                )
            })
            .collect()
    }

    /// Makes update `k` of the current sweep (neuron `order[k]`) at
    /// temperature `t` (`t = 0`: deterministic); returns whether it changed.
    #[inline(always)]
    fn step<M: EnergyModel<Cache = C>>(&mut self, model: &M, k: usize, t: f64) -> bool {
        let i = self.order[k] as usize;
        if self.clamp.as_deref().is_some_and(|c| is_clamped(c, i)) {
            return false;
        }
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

    /// Whether no free neuron's drive disagrees with its state: a fixed
    /// point of deterministic (`T = 0`) dynamics (ties keep the state).
    pub fn is_fixed_point<M: EnergyModel<Cache = C>>(&mut self, model: &M) -> bool {
        let clamp = self.clamp.take();
        let fixed = (0..model.n()).all(|i| {
            if clamp.as_deref().is_some_and(|c| is_clamped(c, i)) {
                return true;
            }
            let g = model.drive(&mut self.cache, &self.state, i);
            let spin = spins::spin(&self.state, i);
            !((g > 0.0 && spin < 0) || (g < 0.0 && spin > 0))
        });
        self.clamp = clamp;
        fixed
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
    let free = chains.iter().all(|c| c.clamp.is_none());
    if t > 0.0 && free && model.glauber_block(chains, t, repeated, flips) {
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

/// The body of [`stochastic_block`].
#[inline(always)]
fn stochastic_block_body<M: EnergyModel>(
    model: &M,
    rows: &mut [u64],
    words: usize,
    first: u64,
    schedule: &Schedule,
    clamp: Clamp<'_>,
) -> Vec<Outcome> {
    let track = schedule.track_energy();
    let mut chains: Vec<_> =
        Chain::block(model, rows, words, first, schedule.seed(), schedule.order())
            .into_iter()
            .enumerate()
            .map(|(r, chain)| chain.clamped(clamp.row(r, words)))
            .collect();
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
    let temperature = schedule.temperature();
    let repeated = temperature.held().is_some();
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
        if schedule.quench() {
            for _ in 0..schedule.max_sweeps() {
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
    /// Runs a stochastic schedule in place on consecutive packed rows
    /// (`words` words each, at most [`CHAIN_BLOCK`] of them, row `r` being
    /// query `first + r`): the sweeps of the schedule's temperature, then
    /// with its quench deterministic async sweeps (same streams) until one
    /// flips nothing, at most `max_sweeps` of them.
    ///
    /// Each outcome: `sweeps` run (stochastic + quench), `converged` = the
    /// final state is a fixed point of deterministic dynamics, `energy` of
    /// the final state, and the energy after every sweep when tracked.
    /// Row `r`'s clamped neurons (`clamp.row(r, words)`) are never updated.
    pub fn stochastic_block<M: EnergyModel>(model: &M, rows: &mut [u64], words: usize, first: u64, schedule: &Schedule, clamp: Clamp<'_>) -> Vec<Outcome>
    => stochastic_block_body
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

/// Markov chains sampling a model's Boltzmann distribution, advanced in
/// stages (so that a caller can run them in pieces and stop between
/// pieces): [`burn`](Sampler::burn) the plan's burn-in sweeps, then
/// [`take`](Sampler::take) its samples, then [`finish`](Sampler::finish).
///
/// Chain `c` starts from row `c` of the starting states and draws from the
/// streams of `(seed, c)`; chains advance in blocks of [`CHAIN_BLOCK`] on
/// the current rayon pool. How the stages are split changes nothing.
pub struct Sampler<'m, M: EnergyModel> {
    model: &'m M,
    plan: Sampling,
    chains: Vec<Chain<M::Cache>>,
    /// Row `c·n_samples + j` is sample `j` of chain `c`.
    samples: SpinMatrix,
    energies: Vec<f64>,
}

/// What a [`Sampler`] recorded.
#[derive(Debug, Clone)]
pub struct Sampled {
    /// `chains × n_samples` states, chain-major.
    pub samples: SpinMatrix,
    /// Their energies.
    pub energies: Vec<f64>,
    /// Each chain's last state.
    pub finals: SpinMatrix,
    /// Their energies.
    pub final_energies: Vec<f64>,
}

/// Where the chains of a [`Sampler`] start.
#[derive(Debug, Clone, Copy)]
pub enum Starts<'a> {
    /// This many chains from uniformly random states, chain `c` drawn from
    /// the noise stream of `(seed, c)`.
    Random(usize),
    /// This many chains from one packed state.
    Repeat(&'a [u64], usize),
    /// One chain from each row.
    Rows(&'a SpinMatrix),
}

impl<'m, M: EnergyModel> Sampler<'m, M> {
    /// Chains from `starts`, with room for all their samples.
    ///
    /// # Errors
    /// `Shape` when the starting states do not have the model's `n`;
    /// `Memory` when the samples cannot be allocated (checked before
    /// anything of their size is).
    pub fn new(model: &'m M, starts: Starts<'_>, plan: Sampling) -> Result<Self> {
        let n = model.n();
        let count = match starts {
            Starts::Random(count) | Starts::Repeat(_, count) => count,
            Starts::Rows(rows) => rows.rows(),
        };
        let per_chain = plan.n_samples() as usize;
        let rows = count
            .checked_mul(per_chain)
            .filter(|r| {
                r.checked_mul(n)
                    .is_some_and(|b| b <= isize::MAX as usize / 2)
            })
            .ok_or_else(|| {
                Error::Memory(format!(
                    "{count} chains × {per_chain} samples × {n} neurons cannot be allocated"
                ))
            })?;
        let drawn;
        let starts = match starts {
            Starts::Random(count) => {
                drawn = random_states(n, count, plan.seed(), 0)?;
                &drawn
            }
            Starts::Repeat(row, count) => {
                let mut repeated = SpinMatrix::minus_ones(count, n)?;
                if row.len() != repeated.words() {
                    return Err(Error::Shape(format!(
                        "init must have n = {n} columns, got {} words",
                        row.len()
                    )));
                }
                for r in 0..count {
                    repeated.row_mut(r).copy_from_slice(row);
                }
                drawn = repeated;
                &drawn
            }
            Starts::Rows(rows) => rows,
        };
        if starts.n() != n {
            return Err(Error::Shape(format!(
                "init must have n = {n} columns, got {}",
                starts.n()
            )));
        }
        let samples = SpinMatrix::minus_ones(rows, n)?;
        let energies = try_filled("the sample energies", rows, 0.0f64)?;
        let words = starts.words();
        let (seed, order) = (plan.seed(), plan.order());
        let chains = starts
            .as_words()
            .par_chunks(words * CHAIN_BLOCK)
            .enumerate()
            .flat_map_iter(|(b, rows)| {
                Chain::block(model, rows, words, (b * CHAIN_BLOCK) as u64, seed, order)
            })
            .collect();
        Ok(Sampler {
            model,
            plan,
            chains,
            samples,
            energies,
        })
    }

    /// The same chains with the neurons of `clamp` held at their starting
    /// values (chain `c`'s mask is `clamp.row(c, ..)`, bit-packed like a
    /// state): they draw the same orders and uniforms and skip those
    /// neurons' updates (see [`Chain::clamped`]).
    ///
    /// # Errors
    /// `Shape` when a mask is not a state wide, or the per-chain masks are
    /// not one per chain.
    pub fn clamped(mut self, clamp: Clamp<'_>) -> Result<Self> {
        let n = self.model.n();
        let words = n.div_ceil(64);
        let (got, want) = match clamp {
            Clamp::None => (0, 0),
            Clamp::Shared(m) => (m.len(), words),
            Clamp::PerRow(m) => (m.len(), self.chains.len().saturating_mul(words)),
        };
        if got != want {
            return Err(Error::Shape(format!(
                "clamp must be {want} words ({words} per mask of {n} neurons), got {got}"
            )));
        }
        self.chains = self
            .chains
            .into_iter()
            .enumerate()
            .map(|(c, chain)| chain.clamped(clamp.row(c, words)))
            .collect();
        Ok(self)
    }

    /// Runs `sweeps` burn-in sweeps of every chain.
    pub fn burn(&mut self, sweeps: u32) {
        let (model, t) = (self.model, self.plan.temperature());
        self.chains.par_chunks_mut(CHAIN_BLOCK).for_each(|chains| {
            let mut flips = vec![0usize; chains.len()];
            for _ in 0..sweeps {
                sweep_block(model, chains, t, true, &mut flips);
            }
        });
    }

    /// Records samples `from..to` of every chain (`to <= n_samples`), each
    /// after `thin` more sweeps.
    pub fn take(&mut self, from: u32, to: u32) {
        let (model, plan) = (self.model, self.plan);
        let per_chain = plan.n_samples() as usize;
        let words = self.samples.words();
        self.chains
            .par_chunks_mut(CHAIN_BLOCK)
            .zip(
                self.samples
                    .as_words_mut()
                    .par_chunks_mut(CHAIN_BLOCK * per_chain * words),
            )
            .zip(self.energies.par_chunks_mut(CHAIN_BLOCK * per_chain))
            .for_each(|((chains, states), energies)| {
                sample_block(
                    model,
                    chains,
                    plan.temperature(),
                    plan.thin(),
                    per_chain,
                    (from as usize, to as usize),
                    states,
                    energies,
                )
            });
    }

    /// The samples and the chains' final states.
    ///
    /// # Errors
    /// `Memory` when the final states cannot be allocated.
    pub fn finish(self) -> Result<Sampled> {
        let mut finals = SpinMatrix::minus_ones(self.chains.len(), self.model.n())?;
        let words = finals.words();
        for (row, chain) in finals
            .as_words_mut()
            .chunks_exact_mut(words)
            .zip(&self.chains)
        {
            row.copy_from_slice(&chain.state);
        }
        let final_energies = self.chains.iter().map(|c| c.energy(self.model)).collect();
        Ok(Sampled {
            samples: self.samples,
            energies: self.energies,
            finals,
            final_energies,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::num::{NonZeroU32, NonZeroUsize};
    use std::sync::Arc;

    use super::*;
    use crate::engine::batch;
    use crate::engine::schedule::{Temperature, Update};
    use crate::model::{Hebbian, PreparedHebbian, Weights};
    use crate::spins::SpinMatrix;

    fn memory(p: usize, n: usize, seed: u64, theta: f64) -> Hebbian {
        let xs = random_states(n, p, seed, 0).unwrap();
        let mut h = Hebbian::new(n, vec![theta; n]).unwrap();
        h.store(&xs).unwrap();
        h
    }

    fn schedule(temperature: Temperature, quench: bool) -> Schedule {
        Schedule::new(
            Update::Async,
            Order::Random,
            NonZeroU32::new(100).unwrap(),
            3,
            temperature,
            quench,
        )
        .unwrap()
        .tracking_energy(true)
    }

    fn sweeps(k: u32) -> NonZeroU32 {
        NonZeroU32::new(k).unwrap()
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
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let queries = random_states(130, 11, 5, 0).unwrap();
        let s = schedule(
            Temperature::Geometric {
                start: 2.0,
                end: 0.05,
                sweeps: sweeps(20),
            },
            true,
        );
        let one = batch::with_threads(NonZeroUsize::new(1), || {
            batch::retrieve(&k, &queries, 0, &s)
        })
        .unwrap()
        .unwrap();
        let two = batch::with_threads(NonZeroUsize::new(2), || {
            batch::retrieve(&k, &queries, 0, &s)
        })
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
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let patterns = h.patterns().clone();
        // Stored patterns barely move at T = 0.01 and scramble at T = 100.
        let cold = batch::retrieve(
            &k,
            &patterns,
            0,
            &schedule(
                Temperature::Constant {
                    t: 0.01,
                    sweeps: sweeps(5),
                },
                false,
            ),
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
                    sweeps: sweeps(5),
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
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let queries = random_states(150, 6, 9, 0).unwrap();
        let det = Schedule::deterministic(Update::Async, Order::Random, sweeps(50), 3);
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
    fn exact(k: &PreparedHebbian<'_, i16>, n: usize, t: f64) -> Vec<f64> {
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
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let t = 0.7;
        let p = exact(&k, n, t);
        let (burn_in, n_samples, thin) = (20, 4000usize, 2);
        let chains = 10u64;
        let mut counts = vec![0f64; 1 << n];
        for c in 0..chains {
            let start = random_states(n, 1, 1, c).unwrap();
            let mut chain = Chain::new(&k, start.row(0).to_vec(), c, 1, Order::Random);
            let mut states = vec![0u64; n_samples];
            let mut energies = vec![0f64; n_samples];
            for _ in 0..burn_in {
                chain.sweep(&k, t);
            }
            sample_block(
                &k,
                std::slice::from_mut(&mut chain),
                t,
                thin,
                n_samples,
                (0, n_samples),
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
                sweeps: sweeps(15),
            },
            true,
        );
        let one = batch::with_threads(NonZeroUsize::new(1), || {
            batch::retrieve(&m, &queries, 0, &s)
        })
        .unwrap()
        .unwrap();
        let two = batch::with_threads(NonZeroUsize::new(2), || {
            batch::retrieve(&m, &queries, 0, &s)
        })
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

    #[test]
    fn sampling_in_stages_is_the_same_run() {
        let h = memory(5, 90, 3, 0.0);
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let starts = random_states(90, 6, 7, 0).unwrap();
        let plan = Sampling::new(0.8, 5, sweeps(7), sweeps(2), Order::Random, 11).unwrap();
        let mut whole = Sampler::new(&k, Starts::Rows(&starts), plan).unwrap();
        whole.burn(5);
        whole.take(0, 7);
        let whole = whole.finish().unwrap();
        let mut staged = Sampler::new(&k, Starts::Rows(&starts), plan).unwrap();
        staged.burn(2);
        staged.burn(3);
        for (from, to) in [(0, 1), (1, 4), (4, 7)] {
            staged.take(from, to);
        }
        let staged = staged.finish().unwrap();
        assert_eq!(whole.samples, staged.samples);
        assert_eq!(whole.energies, staged.energies);
        assert_eq!(whole.finals, staged.finals);
        assert_eq!(whole.final_energies, staged.final_energies);
        // The last sample of each chain is its final state.
        for c in 0..6 {
            assert_eq!(whole.samples.row(c * 7 + 6), whole.finals.row(c));
        }
        let wrong = random_states(91, 1, 7, 0).unwrap();
        assert!(matches!(
            Sampler::new(&k, Starts::Rows(&wrong), plan),
            Err(Error::Shape(_))
        ));
        // Random starts are those of `random_states`; repeated ones copies.
        let random = Sampler::new(&k, Starts::Random(3), plan).unwrap();
        assert_eq!(
            random.chains[2].state,
            random_states(90, 3, 11, 0).unwrap().row(2)
        );
        let repeat = Sampler::new(&k, Starts::Repeat(starts.row(4), 2), plan).unwrap();
        assert!(repeat.chains.iter().all(|c| c.state == starts.row(4)));
        let huge = Sampler::new(&k, Starts::Random(usize::MAX / 4), plan);
        assert!(matches!(huge, Err(Error::Memory(_))));
        // Clamped chains keep their held neurons in every sample.
        let masks: Vec<u64> = (0..6).flat_map(|c| [0xF0F0u64 << c, 0b11]).collect();
        let mut held = Sampler::new(&k, Starts::Rows(&starts), plan)
            .unwrap()
            .clamped(Clamp::PerRow(&masks))
            .unwrap();
        held.burn(5);
        held.take(0, 7);
        let held = held.finish().unwrap();
        for c in 0..6 {
            let m = &masks[2 * c..2 * c + 2];
            for j in 0..7 {
                let s = held.samples.row(c * 7 + j);
                for w in 0..2 {
                    assert_eq!(s[w] & m[w], starts.row(c)[w] & m[w], "chain {c}");
                }
            }
        }
        assert_ne!(held.samples, whole.samples);
        let empty = Sampler::new(&k, Starts::Rows(&starts), plan)
            .unwrap()
            .clamped(Clamp::Shared(&[0, 0]))
            .unwrap();
        assert!(empty.chains.iter().all(|c| c.clamp.is_none()));
        for bad in [Clamp::Shared(&[0]), Clamp::PerRow(&masks[..4])] {
            let sampler = Sampler::new(&k, Starts::Rows(&starts), plan).unwrap();
            assert!(matches!(sampler.clamped(bad), Err(Error::Shape(_))));
        }
    }
}
