//! Times batch retrieval on the Rust side alone (no Python):
//! `cargo run --release --example retrieval_timing [n] [p] [batch]`.

use std::num::{NonZeroU32, NonZeroUsize};
use std::time::Instant;

use hopfield::engine::batch;
use hopfield::engine::schedule::{Order, Schedule, Update};
use hopfield::model::Hebbian;
use hopfield::rng::{self, Purpose};
use hopfield::SpinMatrix;

fn random_spins(seed: u64, len: usize) -> Vec<i8> {
    let mut r = rng::stream(seed, 0, Purpose::Noise);
    (0..len)
        .map(|_| if rng::below(&mut r, 2) == 1 { 1 } else { -1 })
        .collect()
}

fn at_most(sweeps: u32) -> NonZeroU32 {
    NonZeroU32::new(sweeps).expect("at least one sweep")
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    // A fourth argument runs one mode only, on one thread, once: 1 = async, 2 = sync
    // (0: nothing, the setup alone).
    let only = args.get(3).copied();
    let (n, p, b) = (
        *args.first().unwrap_or(&1024),
        *args.get(1).unwrap_or(&102),
        *args.get(2).unwrap_or(&10_000),
    );
    let xs = random_spins(1, p * n);
    let mut memory = Hebbian::new(n, vec![0.0; n]).unwrap();
    memory
        .store(&SpinMatrix::from_spins(&xs, p, n).unwrap())
        .unwrap();
    // Queries: pattern q % p with 10% of the bits flipped.
    let mut qs = Vec::with_capacity(b * n);
    let mut r = rng::stream(2, 0, Purpose::Noise);
    for q in 0..b {
        let mut row = xs[(q % p) * n..(q % p + 1) * n].to_vec();
        let mut order = vec![0u32; n];
        rng::permutation(&mut r, &mut order);
        for &i in &order[..n / 10] {
            row[i as usize] = -row[i as usize];
        }
        qs.extend(row);
    }
    let queries = SpinMatrix::from_spins(&qs, b, n).unwrap();
    let t = Instant::now();
    let prepared = match memory.prepare().unwrap() {
        hopfield::model::HebbianLanes::Narrow(k) => k,
        hopfield::model::HebbianLanes::Wide(_) => panic!("n too large for this example"),
    };
    println!(
        "level {}, memory prepared in {:?}",
        hopfield::simd::level().name(),
        t.elapsed()
    );
    if let Some(mode) = only {
        if mode == 0 {
            // The setup alone, to subtract from instruction counts.
            return;
        }
        let update = if mode == 1 {
            Update::Async
        } else {
            Update::Sync
        };
        let schedule = Schedule::deterministic(update, Order::Random, at_most(100), 3);
        let t = Instant::now();
        batch::with_threads(NonZeroUsize::new(1), || {
            batch::retrieve(&prepared, &queries, 0, &schedule)
        })
        .unwrap()
        .unwrap();
        println!(
            "{update:?}: {:.2} µs/query",
            t.elapsed().as_secs_f64() / b as f64 * 1e6
        );
        return;
    }
    // Pure sweep cost: stored patterns with a sequential order (few flips).
    let fixed = SpinMatrix::from_spins(&xs, p, n).unwrap();
    for order in [Order::Sequential, Order::Random] {
        let schedule = Schedule::deterministic(Update::Async, order, at_most(1), 3);
        let t = Instant::now();
        let reps = 20;
        for _ in 0..reps {
            batch::with_threads(NonZeroUsize::new(1), || {
                batch::retrieve(&prepared, &fixed, 0, &schedule)
            })
            .unwrap()
            .unwrap();
        }
        let per = t.elapsed().as_secs_f64() / (reps * p * n) as f64;
        println!("one sweep {order:?}: {:.2} ns/neuron", per * 1e9);
    }
    for update in [Update::Async, Update::Sync] {
        for threads in [1usize, 2] {
            let schedule = Schedule::deterministic(update, Order::Random, at_most(100), 3);
            let mut best = f64::MAX;
            let mut sweeps = 0.0;
            for _ in 0..3 {
                let t = Instant::now();
                let out = batch::with_threads(NonZeroUsize::new(threads), || {
                    batch::retrieve(&prepared, &queries, 0, &schedule)
                })
                .unwrap()
                .unwrap();
                best = best.min(t.elapsed().as_secs_f64());
                sweeps = out.outcomes.iter().map(|o| o.sweeps as f64).sum::<f64>() / b as f64;
            }
            println!(
                "{update:?} threads={threads}: {:.2} µs/query, {sweeps:.2} sweeps",
                best / b as f64 * 1e6
            );
        }
    }
}
