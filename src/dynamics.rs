//! Deterministic descent on any [`EnergyModel`], one query at a time.
//!
//! * Asynchronous: a sweep updates every neuron once, each update seeing the
//!   previous ones, in a fresh random order per sweep (or 0..N). Converged
//!   means a whole sweep without a flip.
//! * Synchronous: every neuron from the same snapshot. Converged means a
//!   fixed point; a 2-cycle (`s_t = s_{t−2}`) is reported and stops the run.
//!
//! A neuron whose gap is exactly zero keeps its state.

use crate::model::EnergyModel;
use crate::multiversion;
use crate::rng::{self, Purpose};
use crate::spins;

/// Which neurons move together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// One neuron at a time.
    Async,
    /// All neurons from the same snapshot.
    Sync,
}

/// The neuron order of asynchronous sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// A fresh uniform permutation per sweep, from the query's own stream.
    Random,
    /// 0, 1, …, N−1 every sweep.
    Sequential,
}

/// How to run a retrieval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Async or sync.
    pub update: Update,
    /// Async neuron order.
    pub order: Order,
    /// Most sweeps (async) or steps (sync) to run; at least 1.
    pub max_sweeps: u32,
    /// The seed from which every query's streams derive.
    pub seed: u64,
    /// Record the energy after every sweep.
    pub track_energy: bool,
}

/// What happened to one query.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Reached a state that a further sweep leaves unchanged.
    pub converged: bool,
    /// Sync only: stopped on a 2-cycle.
    pub cycled: bool,
    /// Sweeps (or sync steps) run, including the last, unchanged one.
    pub sweeps: u32,
    /// Energy of the final state.
    pub energy: f64,
    /// With `track_energy`: the initial energy, then one per sweep.
    pub trace: Vec<f64>,
}

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

#[inline(always)]
fn descend_body<M: EnergyModel>(
    model: &M,
    state: &mut [u64],
    query: u64,
    schedule: &Schedule,
) -> Outcome {
    match schedule.update {
        Update::Async => run_async(model, state, query, schedule),
        Update::Sync => run_sync(model, state, schedule),
    }
}

multiversion! {
    /// Runs `schedule` from `state` (query number `query` of the batch, which
    /// picks its random stream), leaving the final state in `state`.
    pub fn descend<M: EnergyModel>(model: &M, state: &mut [u64], query: u64, schedule: &Schedule) -> Outcome
    => descend_body
}

#[inline(always)]
fn run_async<M: EnergyModel>(
    model: &M,
    state: &mut [u64],
    query: u64,
    schedule: &Schedule,
) -> Outcome {
    let n = model.n();
    let mut cache = model.cache(state);
    let mut trace = Vec::new();
    if schedule.track_energy {
        trace.push(model.energy(&cache, state));
    }
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut stream = match schedule.order {
        Order::Random => Some(rng::stream(schedule.seed, query, Purpose::Order)),
        Order::Sequential => None,
    };
    let mut sweeps = 0;
    let mut converged = false;
    while sweeps < schedule.max_sweeps {
        sweeps += 1;
        if let Some(stream) = stream.as_mut() {
            rng::permutation(stream, &mut order);
        }
        let mut flipped = false;
        for &i in &order {
            let i = i as usize;
            if decide(model.drive(&cache, state, i), spins::spin(state, i)) {
                model.flip(&mut cache, state, i);
                flipped = true;
            }
        }
        if schedule.track_energy {
            trace.push(model.energy(&cache, state));
        }
        if !flipped {
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

#[inline(always)]
fn run_sync<M: EnergyModel>(model: &M, state: &mut [u64], schedule: &Schedule) -> Outcome {
    let n = model.n();
    let mut cache = model.cache(state);
    let mut trace = Vec::new();
    if schedule.track_energy {
        trace.push(model.energy(&cache, state));
    }
    let mut gaps = vec![0.0; n];
    let mut flips: Vec<usize> = Vec::new();
    // s_{t−2}, to recognise a 2-cycle.
    let mut older = state.to_vec();
    let mut before = state.to_vec();
    let (mut sweeps, mut converged, mut cycled) = (0, false, false);
    while sweeps < schedule.max_sweeps {
        sweeps += 1;
        model.drives(&mut cache, state, &mut gaps);
        flips.clear();
        flips.extend((0..n).filter(|&i| decide(gaps[i], spins::spin(state, i))));
        if flips.is_empty() {
            converged = true;
            if schedule.track_energy {
                trace.push(model.energy(&cache, state));
            }
            break;
        }
        before.copy_from_slice(state);
        for &i in &flips {
            model.flip(&mut cache, state, i);
        }
        if schedule.track_energy {
            trace.push(model.energy(&cache, state));
        }
        if sweeps >= 2 && state == older.as_slice() {
            cycled = true;
            break;
        }
        std::mem::swap(&mut older, &mut before);
    }
    let energy = model.energy(&cache, state);
    Outcome {
        converged,
        cycled,
        sweeps,
        energy,
        trace,
    }
}
