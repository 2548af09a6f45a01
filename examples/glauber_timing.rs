//! Times stochastic sweeps of the Hebbian model on one thread, at several
//! temperatures (what the acceptance rule costs against the field).
//!
//! `cargo run --release --example glauber_timing`

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::time::Instant;

use hopfield::engine::batch;
use hopfield::engine::clamp::Clamp;
use hopfield::engine::glauber::{random_states, stochastic_block, CHAIN_BLOCK};
use hopfield::engine::schedule::{Order, Schedule, Temperature, Update};
use hopfield::model::Hebbian;

fn main() {
    let (n, p, chains) = (1024usize, 102usize, 64usize);
    let sweeps = NonZeroU32::new(3).unwrap();
    let mut memory = Hebbian::new(n, vec![0.0; n]).unwrap();
    memory.store(&random_states(n, p, 1, 0).unwrap()).unwrap();
    let starts = random_states(n, chains, 2, 0).unwrap();
    let prepared = memory.prepare().unwrap();
    let cases = [
        (
            "T = 0 (deterministic sweeps)",
            Temperature::PerSweep(Arc::from(vec![0.0; sweeps.get() as usize])),
        ),
        (
            "T = 0.01 (mostly certain)",
            Temperature::Constant { t: 0.01, sweeps },
        ),
        ("T = 0.5", Temperature::Constant { t: 0.5, sweeps }),
        (
            "T = 1e6 (every update random)",
            Temperature::Constant { t: 1e6, sweeps },
        ),
    ];
    // Optional arguments: the case number and "block" or "alone" (to count
    // cycles of one configuration under `perf stat`).
    let args: Vec<String> = std::env::args().collect();
    let only: Option<usize> = args.get(1).and_then(|a| a.parse().ok());
    let mode = args.get(2).cloned().unwrap_or_default();
    for (c, (name, temperature)) in cases.into_iter().enumerate() {
        if only.is_some_and(|o| o != c) {
            continue;
        }
        let schedule = Schedule::new(
            Update::Async,
            Order::Random,
            NonZeroU32::MIN,
            3,
            temperature,
            false,
        )
        .unwrap();
        let (mut blocked, mut alone) = (f64::MAX, f64::MAX);
        for _ in 0..10 {
            if mode != "alone" {
                let t = Instant::now();
                let out = hopfield::with_hebbian_lanes!(&prepared, |k| batch::with_threads(
                    NonZeroUsize::new(1),
                    || { batch::retrieve(k, &starts, 0, &schedule) }
                ))
                .unwrap()
                .unwrap();
                std::hint::black_box(out);
                blocked = blocked.min(t.elapsed().as_secs_f64());
            }
            if mode == "block" {
                continue;
            }
            let t = Instant::now();
            let mut states = starts.clone();
            let words = states.words();
            for (r, row) in states.as_words_mut().chunks_exact_mut(words).enumerate() {
                hopfield::with_hebbian_lanes!(&prepared, |k| {
                    std::hint::black_box(stochastic_block(
                        k,
                        row,
                        words,
                        r as u64,
                        &schedule,
                        Clamp::None,
                    ));
                });
            }
            alone = alone.min(t.elapsed().as_secs_f64());
        }
        let updates = (chains * n * sweeps.get() as usize) as f64;
        println!(
            "{name:<32} {:6.1} ns per update in blocks of {CHAIN_BLOCK} chains, {:6.1} one chain at a time (one thread)",
            blocked / updates * 1e9,
            alone / updates * 1e9
        );
    }
}
