//! Deterministic descent on any [`EnergyModel`]: the asynchronous and
//! synchronous drivers.
//!
//! * Asynchronous: a sweep updates every neuron once, each update seeing the
//!   previous ones, in a fresh random order per sweep (or 0..N). Converged
//!   means a whole sweep without a flip.
//! * Synchronous: every neuron from the same snapshot. Converged means a
//!   fixed point; a 2-cycle (`s_t = s_{t−2}`) is reported and stops the run.
//!
//! A neuron whose gap is exactly zero keeps its state. Clamped neurons
//! ([`Clamp`]) are never updated: async sweeps skip them in the order
//! they draw, sync steps flip only free neurons, and convergence is
//! counted on the free neurons. Each driver runs a
//! block of queries (the batch executor, [`super::batch`], hands out the
//! blocks); stochastic schedules run on the Glauber driver instead
//! ([`super::glauber`]).

use super::clamp::{is_clamped, Clamp};
use super::energy::EnergyModel;
use super::schedule::{Order, Outcome, Schedule};
use crate::rng::{self, Purpose};
use crate::simd::multiversion;
use crate::spins;

/// The neuron orders that query `query` uses for its first `sweeps` sweeps
/// under `seed` with [`Order::Random`] (row-major `sweeps × n`).
pub fn sweep_orders(n: usize, sweeps: usize, seed: u64, query: u64) -> Vec<u32> {
    let mut stream = rng::stream(seed, query, Purpose::Order);
    let mut out = vec![0u32; n * sweeps];
    for order in out.chunks_exact_mut(n.max(1)).take(sweeps) {
        rng::permutation(&mut stream, order);
    }
    out
}

#[inline(always)]
fn decide(gap: f64, spin: i32) -> bool {
    (gap > 0.0 && spin < 0) || (gap < 0.0 && spin > 0)
}

/// The neurons a synchronous step flips: those whose drive disagrees with
/// their state (ties keep it), clamped neurons excepted. Decided 64
/// neurons at a time as bit masks.
#[inline(always)]
fn collect_flips(drives: &[f64], state: &[u64], clamp: Option<&[u64]>, flips: &mut Vec<usize>) {
    flips.clear();
    for (w, (chunk, &word)) in drives.chunks(64).zip(state).enumerate() {
        let held = clamp.map_or(0, |c| c[w]);
        let (mut plus, mut minus) = (0u64, 0u64);
        for (b, &d) in chunk.iter().enumerate() {
            plus |= ((d > 0.0) as u64) << b;
            minus |= ((d < 0.0) as u64) << b;
        }
        let mut flip = ((plus & !word) | (minus & word)) & !held;
        while flip != 0 {
            flips.push(w * 64 + flip.trailing_zeros() as usize);
            flip &= flip - 1;
        }
    }
}

/// The neurons a synchronous step flips from the model's mask of those
/// whose drive disagrees with their state, clamped neurons excepted.
#[inline(always)]
fn collect_masked(mask: &[u64], clamp: Option<&[u64]>, flips: &mut Vec<usize>) {
    flips.clear();
    for (w, &word) in mask.iter().enumerate() {
        let mut flip = word & !clamp.map_or(0, |c| c[w]);
        while flip != 0 {
            flips.push(w * 64 + flip.trailing_zeros() as usize);
            flip &= flip - 1;
        }
    }
}

/// A sweep that starts with at most one neuron in `QUIET` unstable skips the
/// neurons that would keep their spin (see
/// [`EnergyModel::unstable_neurons`]).
const QUIET: usize = 32;

#[inline(always)]
fn async_block_body<M: EnergyModel>(
    model: &M,
    rows: &mut [u64],
    words: usize,
    first_query: u64,
    schedule: &Schedule,
    clamp: Clamp<'_>,
) -> Vec<Outcome> {
    let caches = {
        let states: Vec<&[u64]> = rows.chunks_exact(words).collect();
        model.descent_caches(&states)
    };
    // A plain loop, not an iterator chain: the closure of `map` would be
    // compiled as its own function without this version's target features.
    let mut outcomes = Vec::with_capacity(caches.len());
    for (r, (state, cache)) in rows.chunks_exact_mut(words).zip(caches).enumerate() {
        outcomes.push(run_async_from(
            model,
            cache,
            state,
            first_query + r as u64,
            schedule,
            clamp.row(r, words),
        ));
    }
    outcomes
}

multiversion! {
    /// Runs asynchronous dynamics in place for consecutive packed rows
    /// (`words` words each, a block of [`EnergyModel::block_size`] of them
    /// or fewer; row `r` is query `first_query + r`), their caches built
    /// together. Each row's result is what it would be in a block of its own.
    /// Row `r`'s clamped neurons (`clamp.row(r, words)`) are never updated.
    pub fn descend_async_block<M: EnergyModel>(model: &M, rows: &mut [u64], words: usize, first_query: u64, schedule: &Schedule, clamp: Clamp<'_>) -> Vec<Outcome>
    => async_block_body
}

#[inline(always)]
fn run_async_from<M: EnergyModel>(
    model: &M,
    mut cache: M::Cache,
    state: &mut [u64],
    query: u64,
    schedule: &Schedule,
    clamp: Option<&[u64]>,
) -> Outcome {
    let n = model.n();
    let mut trace = Vec::new();
    if schedule.track_energy() {
        trace.push(model.energy(&cache, state));
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut stream = match schedule.order() {
        Order::Random => Some(rng::stream(schedule.seed(), query, Purpose::Order)),
        Order::Sequential => None,
    };
    let mut sweeps = 0;
    let mut converged = false;
    let mut last_flips = None;
    let mut unstable = vec![0u64; state.len()];
    while sweeps < schedule.max_sweeps() {
        sweeps += 1;
        model.begin_sweep(&mut cache, last_flips);
        let masked = model.unstable_neurons(&mut cache, state, &mut unstable);
        if masked {
            hold(&mut unstable, clamp);
        }
        if masked && unstable.iter().all(|&w| w == 0) {
            // This sweep would flip nothing in any order, and is the last:
            // its order (the last draw from the stream) is not needed.
            if schedule.track_energy() {
                trace.push(model.energy(&cache, state));
            }
            converged = true;
            break;
        }
        if let Some(stream) = stream.as_mut() {
            rng::permutation(stream, &mut order);
        }
        // When few neurons are unstable, skip those that would keep their
        // spin (the mask is asked again after each flip, which costs O(N)).
        let skip = masked
            && unstable
                .iter()
                .map(|w| w.count_ones() as usize)
                .sum::<usize>()
                * QUIET
                <= n;
        let mut flips = 0usize;
        for &i in &order {
            let i = i as usize;
            if skip && (unstable[i / 64] >> (i % 64)) & 1 == 0 {
                continue;
            }
            if clamp.is_some_and(|c| is_clamped(c, i)) {
                continue;
            }
            if decide(model.drive(&mut cache, state, i), spins::spin(state, i)) {
                model.flip(&mut cache, state, i);
                flips += 1;
                if skip {
                    model.unstable_neurons(&mut cache, state, &mut unstable);
                    hold(&mut unstable, clamp);
                }
            }
        }
        last_flips = Some(flips);
        if schedule.track_energy() {
            trace.push(model.energy(&cache, state));
        }
        if flips == 0 {
            converged = true;
            break;
        }
    }
    let energy = model.energy(&cache, state);
    Outcome {
        converged,
        cycled: false,
        sweeps,
        energy,
        trace,
    }
}

/// Clears the clamped neurons' bits of an `unstable` mask: they never flip.
#[inline(always)]
fn hold(unstable: &mut [u64], clamp: Option<&[u64]>) {
    if let Some(c) = clamp {
        for (u, &c) in unstable.iter_mut().zip(c) {
            *u &= !c;
        }
    }
}

/// One query of a synchronous block.
struct SyncRun<C> {
    cache: C,
    drives: Vec<f64>,
    /// The neurons that disagree with their drive, where the model gives
    /// them as a mask ([`EnergyModel::disagreements_many`]).
    disagree: Vec<u64>,
    flips: Vec<usize>,
    /// `s_{t−1}` and `s_{t−2}`, to recognise a 2-cycle.
    before: Vec<u64>,
    older: Vec<u64>,
    sweeps: u32,
    converged: bool,
    cycled: bool,
    done: bool,
    trace: Vec<f64>,
}

#[inline(always)]
fn sync_block_body<M: EnergyModel>(
    model: &M,
    rows: &mut [u64],
    words: usize,
    schedule: &Schedule,
    clamp: Clamp<'_>,
) -> Vec<Outcome> {
    let n = model.n();
    // A plain loop (see async_block_body): the caches' overlaps are built
    // here, with this version's popcount.
    let mut runs: Vec<SyncRun<M::Cache>> = Vec::with_capacity(rows.len() / words.max(1));
    for state in rows.chunks_exact(words) {
        let cache = model.cache(state);
        let trace = if schedule.track_energy() {
            vec![model.energy(&cache, state)]
        } else {
            Vec::new()
        };
        runs.push(SyncRun {
            cache,
            drives: Vec::new(),
            disagree: vec![0; words],
            flips: Vec::new(),
            before: state.to_vec(),
            older: state.to_vec(),
            sweeps: 0,
            converged: false,
            cycled: false,
            done: false,
            trace,
        });
    }
    loop {
        // Drives (or the masks of disagreeing neurons) of every query still
        // running, from its current state.
        let mut caches = Vec::with_capacity(runs.len());
        let mut states = Vec::with_capacity(runs.len());
        let mut masks = Vec::with_capacity(runs.len());
        for (run, state) in runs.iter_mut().zip(rows.chunks_exact(words)) {
            if !run.done && run.sweeps < schedule.max_sweeps() {
                caches.push(&mut run.cache);
                states.push(state);
                masks.push(run.disagree.as_mut_slice());
            }
        }
        if states.is_empty() {
            break;
        }
        let masked = model.disagreements_many(&mut caches, &states, &mut masks);
        drop((caches, masks));
        if !masked {
            let mut caches = Vec::with_capacity(runs.len());
            let mut outs = Vec::with_capacity(runs.len());
            for run in runs.iter_mut() {
                if !run.done && run.sweeps < schedule.max_sweeps() {
                    run.drives.resize(n, 0.0);
                    caches.push(&mut run.cache);
                    outs.push(run.drives.as_mut_slice());
                }
            }
            model.drives_many(&mut caches, &states, &mut outs);
        }
        drop(states);
        for (r, (run, state)) in runs
            .iter_mut()
            .zip(rows.chunks_exact_mut(words))
            .enumerate()
        {
            if run.done || run.sweeps >= schedule.max_sweeps() {
                continue;
            }
            run.sweeps += 1;
            if masked {
                collect_masked(&run.disagree, clamp.row(r, words), &mut run.flips);
            } else {
                collect_flips(&run.drives, state, clamp.row(r, words), &mut run.flips);
            }
            if run.flips.is_empty() {
                run.converged = true;
                run.done = true;
                if schedule.track_energy() {
                    run.trace.push(model.energy(&run.cache, state));
                }
                continue;
            }
            run.before.copy_from_slice(state);
            for &i in &run.flips {
                model.flip(&mut run.cache, state, i);
            }
            if schedule.track_energy() {
                run.trace.push(model.energy(&run.cache, state));
            }
            if run.sweeps >= 2 && *state == *run.older {
                run.cycled = true;
                run.done = true;
                continue;
            }
            std::mem::swap(&mut run.older, &mut run.before);
        }
    }
    // A plain loop (see async_block_body).
    let mut outcomes = Vec::with_capacity(runs.len());
    for (run, state) in runs.into_iter().zip(rows.chunks_exact(words)) {
        outcomes.push(Outcome {
            converged: run.converged,
            cycled: run.cycled,
            sweeps: run.sweeps,
            energy: model.energy(&run.cache, state),
            trace: run.trace,
        });
    }
    outcomes
}

multiversion! {
    /// Runs synchronous dynamics in place for consecutive packed rows
    /// (`words` words each, a block of [`EnergyModel::block_size`] of them or
    /// fewer) in lockstep.
    /// Each row's result is what it would be alone; row `r`'s clamped
    /// neurons (`clamp.row(r, words)`) keep their values.
    pub fn descend_sync_block<M: EnergyModel>(model: &M, rows: &mut [u64], words: usize, schedule: &Schedule, clamp: Clamp<'_>) -> Vec<Outcome>
    => sync_block_body
}

#[cfg(test)]
mod tests {
    use std::num::{NonZeroU32, NonZeroUsize};

    use super::*;
    use crate::engine::batch;
    use crate::engine::schedule::Update;
    use crate::model::{Hebbian, PreparedHebbian};
    use crate::rng;
    use crate::spins::SpinMatrix;

    fn random_spins(seed: u64, len: usize) -> Vec<i8> {
        let mut r = rng::stream(seed, 0, Purpose::Noise);
        (0..len)
            .map(|_| if rng::below(&mut r, 2) == 1 { 1 } else { -1 })
            .collect()
    }

    fn memory(p: usize, n: usize, seed: u64) -> (Hebbian, Vec<i8>) {
        let xs = random_spins(seed, p * n);
        let mut h = Hebbian::new(n, vec![0.0; n]).unwrap();
        h.store(&SpinMatrix::from_spins(&xs, p, n).unwrap())
            .unwrap();
        (h, xs)
    }

    fn schedule(update: Update) -> Schedule {
        Schedule::deterministic(update, Order::Random, NonZeroU32::new(50).unwrap(), 7)
            .tracking_energy(true)
    }

    #[test]
    fn async_energy_never_increases_and_converges() {
        let (h, _) = memory(30, 200, 1);
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let queries = SpinMatrix::from_spins(&random_spins(2, 20 * 200), 20, 200).unwrap();
        let out = batch::retrieve(&k, &queries, 0, &schedule(Update::Async)).unwrap();
        for o in &out.outcomes {
            assert!(o.converged);
            assert_eq!(o.trace.len(), o.sweeps as usize + 1);
            for pair in o.trace.windows(2) {
                assert!(pair[1] <= pair[0], "energy rose: {:?}", o.trace);
            }
            assert_eq!(*o.trace.last().unwrap(), o.energy);
        }
    }

    #[test]
    fn stored_patterns_are_fixed_points_at_low_load() {
        let (h, xs) = memory(10, 400, 3);
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let patterns = SpinMatrix::from_spins(&xs, 10, 400).unwrap();
        for update in [Update::Async, Update::Sync] {
            let out = batch::retrieve(&k, &patterns, 0, &schedule(update)).unwrap();
            assert_eq!(out.states, patterns);
            assert!(out.outcomes.iter().all(|o| o.converged && o.sweeps == 1));
        }
    }

    #[test]
    fn sync_reports_a_two_cycle() {
        // One pattern (+1, +1): W = [[0, ½], [½, 0]]. From (+1, −1) each neuron
        // copies the other, so the state alternates (+1, −1) ↔ (−1, +1).
        let mut h = Hebbian::new(2, vec![0.0; 2]).unwrap();
        h.store(&SpinMatrix::from_spins(&[1, 1], 1, 2).unwrap())
            .unwrap();
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let q = SpinMatrix::from_spins(&[1, -1], 1, 2).unwrap();
        let out = batch::retrieve(&k, &q, 0, &schedule(Update::Sync)).unwrap();
        let o = &out.outcomes[0];
        assert!(o.cycled && !o.converged, "{o:?}");
        assert_eq!(o.sweeps, 2);
        assert_eq!(out.states, q);
    }

    #[test]
    fn results_do_not_depend_on_threads_blocks_or_lane_type() {
        let (h, xs) = memory(40, 300, 5);
        let narrow = PreparedHebbian::<i16>::new(&h).unwrap();
        let wide = PreparedHebbian::<i32>::new(&h).unwrap();
        // Queries: patterns with every 7th neuron flipped.
        let mut qs = Vec::new();
        for r in 0..19 {
            let mut row = xs[(r % 40) * 300..(r % 40 + 1) * 300].to_vec();
            for i in (r % 7..300).step_by(7) {
                row[i] = -row[i];
            }
            qs.extend(row);
        }
        let queries = SpinMatrix::from_spins(&qs, 19, 300).unwrap();
        for update in [Update::Async, Update::Sync] {
            let s = schedule(update);
            let one = batch::with_threads(NonZeroUsize::new(1), || {
                batch::retrieve(&narrow, &queries, 0, &s)
            })
            .unwrap()
            .unwrap();
            let two = batch::with_threads(NonZeroUsize::new(2), || {
                batch::retrieve(&narrow, &queries, 0, &s)
            })
            .unwrap()
            .unwrap();
            let w = batch::retrieve(&wide, &queries, 0, &s).unwrap();
            assert_eq!(one.states, two.states);
            assert_eq!(one.outcomes, two.outcomes);
            assert_eq!(one.states, w.states);
            assert_eq!(one.outcomes, w.outcomes);
            // Each row alone gives what it gave in the batch.
            for r in [0usize, 8, 18] {
                let row = SpinMatrix::from_spins(&qs[r * 300..(r + 1) * 300], 1, 300).unwrap();
                let alone = batch::retrieve(&narrow, &row, r as u64, &s).unwrap();
                assert_eq!(alone.states.row(0), one.states.row(r));
                assert_eq!(alone.outcomes[0], one.outcomes[r]);
            }
        }
    }

    #[test]
    fn clamped_neurons_keep_their_values_in_every_dynamics() {
        use crate::engine::clamp::Clamp;
        use crate::engine::schedule::Temperature;
        let n = 130;
        let (h, _) = memory(20, n, 9);
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let queries = SpinMatrix::from_spins(&random_spins(4, 6 * n), 6, n).unwrap();
        let held: Vec<i8> = (0..n).map(|i| if i % 3 == 0 { 1 } else { -1 }).collect();
        let mask = SpinMatrix::from_spins(&held, 1, n).unwrap();
        let none = SpinMatrix::minus_ones(1, n).unwrap();
        let glauber = Schedule::new(
            Update::Async,
            Order::Random,
            NonZeroU32::new(20).unwrap(),
            5,
            Temperature::Constant {
                t: 0.4,
                sweeps: NonZeroU32::new(4).unwrap(),
            },
            true,
        )
        .unwrap();
        for s in [schedule(Update::Async), schedule(Update::Sync), glauber] {
            let clamp = Clamp::Shared(mask.row(0));
            let out = batch::retrieve_clamped(&k, &queries, 0, &s, clamp).unwrap();
            let free = batch::retrieve(&k, &queries, 0, &s).unwrap();
            let empty = batch::retrieve_clamped(&k, &queries, 0, &s, Clamp::Shared(none.row(0)));
            let empty = empty.unwrap();
            assert_eq!(free.states, empty.states);
            assert_eq!(free.outcomes, empty.outcomes);
            assert_ne!(out.states, free.states);
            for r in 0..6 {
                for i in (0..n).step_by(3) {
                    let (a, b) = (out.states.row(r), queries.row(r));
                    assert_eq!(spins::spin(a, i), spins::spin(b, i));
                }
                // A row alone, with its own mask, gives what it gave in the batch.
                let row =
                    SpinMatrix::from_spins(&queries.to_spins().unwrap()[r * n..(r + 1) * n], 1, n)
                        .unwrap();
                let alone =
                    batch::retrieve_clamped(&k, &row, r as u64, &s, Clamp::PerRow(mask.row(0)))
                        .unwrap();
                assert_eq!(alone.states.row(0), out.states.row(r));
                assert_eq!(alone.outcomes[0], out.outcomes[r]);
            }
        }
        let bad = batch::retrieve_clamped(
            &k,
            &queries,
            0,
            &schedule(Update::Sync),
            Clamp::PerRow(mask.row(0)),
        );
        assert!(matches!(bad, Err(crate::error::Error::Shape(_))));
    }

    #[test]
    fn sweep_orders_match_what_async_uses() {
        let orders = sweep_orders(50, 3, 11, 4);
        assert_eq!(orders.len(), 150);
        let mut stream = rng::stream(11, 4, Purpose::Order);
        let mut first = vec![0u32; 50];
        rng::permutation(&mut stream, &mut first);
        assert_eq!(&orders[..50], &first[..]);
    }
}
