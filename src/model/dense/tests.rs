//! Tests of the dense memory: energies, gaps and decisions against plain
//! sums, every path of both interactions against the others.

use super::interaction::poly;
use super::layout::signed;
use super::*;
use std::num::NonZeroU32;

use crate::engine::batch;
use crate::engine::energy::EnergyModel;
use crate::engine::schedule::{Order, Schedule, Update};
use crate::model::signed_sums::{CHUNK, CHUNK_LIMIT};
use crate::model::{Hebbian, PreparedHebbian};
use crate::rng::{self, Purpose};
use crate::spins::{self, SpinMatrix};
use crate::with_prepared_dense;

fn random_spins(seed: u64, len: usize) -> Vec<i8> {
    let mut r = rng::stream(seed, 0, Purpose::Noise);
    (0..len)
        .map(|_| if rng::below(&mut r, 2) == 1 { 1 } else { -1 })
        .collect()
}

fn memory(p: usize, n: usize, seed: u64, interaction: Interaction) -> (Dense, Vec<i8>) {
    let xs = random_spins(seed, p * n);
    let mut d = Dense::new(n, interaction).unwrap();
    d.store(&SpinMatrix::from_spins(&xs, p, n).unwrap())
        .unwrap();
    (d, xs)
}

/// `−Σ_μ F(ξ^μ·s)` by the definition, in f64.
fn naive_energy(xs: &[i8], p: usize, n: usize, s: &[i8], f: &dyn Fn(i64) -> f64) -> f64 {
    -(0..p)
        .map(|mu| {
            let m: i64 = (0..n).map(|j| (xs[mu * n + j] * s[j]) as i64).sum();
            f(m)
        })
        .sum::<f64>()
}

fn check_gaps<M: EnergyModel>(k: &M, n: usize, s: &[i8], energy: &dyn Fn(&[i8]) -> f64) {
    let state = SpinMatrix::from_spins(s, 1, n).unwrap();
    let mut cache = k.cache(state.row(0));
    for i in 0..n {
        let mut plus = s.to_vec();
        plus[i] = 1;
        let mut minus = s.to_vec();
        minus[i] = -1;
        let want = energy(&minus) - energy(&plus);
        let gap = k.gap(&cache, state.row(0), i);
        let drive = k.drive(&mut cache, state.row(0), i);
        assert!(
            (gap - want).abs() <= 1e-9 * want.abs().max(1.0),
            "neuron {i}: gap {gap} vs {want}"
        );
        let sign = |x: f64| (x > 0.0) as i32 - (x < 0.0) as i32;
        assert_eq!(sign(drive), sign(gap), "neuron {i}");
        assert!(gap.is_finite());
    }
}

#[test]
fn polynomial_gaps_are_energy_differences() {
    for (degree, rectified) in [(1, false), (2, true), (3, false), (3, true), (5, true)] {
        for (p, n) in [(3usize, 1usize), (7, 63), (70, 65), (5, 130)] {
            let inter = Interaction::Polynomial { degree, rectified };
            let (d, xs) = memory(p, n, (p * n) as u64 + degree as u64, inter);
            let f = move |m: i64| poly(m, degree, rectified).unwrap() as f64;
            let s = random_spins(99, n);
            let energy = |s: &[i8]| naive_energy(&xs, p, n, s, &f);
            with_prepared_dense!(d.prepare().unwrap(), |k| {
                let state = SpinMatrix::from_spins(&s, 1, n).unwrap();
                let c = k.cache(state.row(0));
                assert_eq!(k.energy(&c, state.row(0)), energy(&s));
                check_gaps(&k, n, &s, &energy);
            });
            let wide = PreparedPolynomial::<i128>::new(&d.patterns, d.interaction).unwrap();
            check_gaps(&wide, n, &s, &energy);
        }
    }
}

#[test]
fn exponential_gaps_match_log_sum_exp_energy_even_at_large_beta() {
    for beta in [0.05, 1.0, 40.0] {
        let (p, n) = (50usize, 100usize);
        let (d, xs) = memory(p, n, 3, Interaction::Exponential { beta });
        let energy = |s: &[i8]| {
            let ms: Vec<f64> = (0..p)
                .map(|mu| (0..n).map(|j| (xs[mu * n + j] * s[j]) as f64).sum())
                .collect();
            let top = ms.iter().cloned().fold(f64::MIN, f64::max);
            -top - ms
                .iter()
                .map(|m| (beta * (m - top)).exp())
                .sum::<f64>()
                .ln()
                / beta
        };
        // A corrupted pattern, so that decisions are not all near-ties.
        let mut s = xs[..n].to_vec();
        for v in s.iter_mut().step_by(9) {
            *v = -*v;
        }
        let k = PreparedExponential::new(&d.patterns, d.interaction).unwrap();
        check_gaps(&k, n, &s, &energy);
    }
}

#[test]
fn degree_two_follows_the_hebbian_network() {
    let (p, n) = (30usize, 200usize);
    let inter = Interaction::Polynomial {
        degree: 2,
        rectified: false,
    };
    let (d, xs) = memory(p, n, 5, inter);
    let mut h = Hebbian::new(n, vec![0.0; n]).unwrap();
    h.store(&SpinMatrix::from_spins(&xs, p, n).unwrap())
        .unwrap();
    let hk = PreparedHebbian::<i32>::new(&h).unwrap();
    let queries = SpinMatrix::from_spins(&random_spins(6, 20 * n), 20, n).unwrap();
    for update in [Update::Async, Update::Sync] {
        let s = Schedule::deterministic(update, Order::Random, NonZeroU32::new(30).unwrap(), 4);
        let a = with_prepared_dense!(d.prepare().unwrap(), |k| batch::retrieve(
            &k, &queries, 0, &s
        ))
        .unwrap();
        let b = batch::retrieve(&hk, &queries, 0, &s).unwrap();
        assert_eq!(a.states, b.states, "{update:?}");
        for (x, y) in a.outcomes.iter().zip(&b.outcomes) {
            assert_eq!(
                (x.sweeps, x.converged, x.cycled),
                (y.sweeps, y.converged, y.cycled)
            );
        }
    }
}

#[test]
fn async_energy_never_increases_and_sync_equals_single_rows() {
    for inter in [
        Interaction::Polynomial {
            degree: 3,
            rectified: true,
        },
        Interaction::Exponential { beta: 0.5 },
    ] {
        let (p, n) = (200usize, 100usize);
        let (d, _) = memory(p, n, 8, inter);
        let queries = SpinMatrix::from_spins(&random_spins(9, 12 * n), 12, n).unwrap();
        with_prepared_dense!(d.prepare().unwrap(), |k| {
            let at_most = NonZeroU32::new(50).unwrap();
            let s = Schedule::deterministic(Update::Async, Order::Random, at_most, 1)
                .tracking_energy(true);
            let out = batch::retrieve(&k, &queries, 0, &s).unwrap();
            for o in &out.outcomes {
                assert!(o.converged);
                for pair in o.trace.windows(2) {
                    assert!(pair[1] <= pair[0], "{inter:?}: energy rose: {:?}", o.trace);
                }
            }
            let s = Schedule::deterministic(Update::Sync, Order::Random, at_most, 1)
                .tracking_energy(true);
            let all = batch::retrieve(&k, &queries, 0, &s).unwrap();
            for r in [0usize, 5, 11] {
                let row =
                    SpinMatrix::from_spins(&queries.to_spins().unwrap()[r * n..(r + 1) * n], 1, n)
                        .unwrap();
                let alone = batch::retrieve(&k, &row, r as u64, &s).unwrap();
                assert_eq!(alone.states.row(0), all.states.row(r));
                assert_eq!(alone.outcomes[0], all.outcomes[r]);
            }
        });
    }
}

#[test]
fn stale_sync_caches_give_fresh_gaps_drives_and_energies() {
    let n = 70;
    for inter in [
        Interaction::Polynomial {
            degree: 4,
            rectified: false,
        },
        Interaction::Exponential { beta: 2.0 },
    ] {
        let (d, _) = memory(90, n, 12, inter);
        with_prepared_dense!(d.prepare().unwrap(), |k| {
            let mut state = SpinMatrix::from_spins(&random_spins(13, n), 1, n).unwrap();
            let mut cache = k.cache(state.row(0));
            let mut out = vec![0.0; n];
            k.drives(&mut cache, state.row(0), &mut out);
            for j in [0usize, 5, 69] {
                k.flip(&mut cache, state.row_mut(0), j);
            }
            let mut fresh = k.cache(state.row(0));
            assert_eq!(
                k.energy(&cache, state.row(0)),
                k.energy(&fresh, state.row(0))
            );
            for i in 0..n {
                let g = k.gap(&cache, state.row(0), i);
                assert_eq!(g, k.gap(&fresh, state.row(0), i), "{inter:?} neuron {i}");
            }
            let mut again = vec![0.0; n];
            k.drives(&mut cache, state.row(0), &mut again);
            for (i, &x) in again.iter().enumerate() {
                assert_eq!(
                    x,
                    k.drive(&mut fresh, state.row(0), i),
                    "{inter:?} neuron {i}"
                );
            }
        });
    }
}

/// The drives of a synchronous block of `states`, by `k`'s current path.
fn block_drives<L: Acc>(k: &PreparedPolynomial<L>, states: &SpinMatrix) -> Vec<f64> {
    let n = states.n();
    let mut caches: Vec<_> = (0..states.rows()).map(|r| k.cache(states.row(r))).collect();
    let mut out = vec![f64::NAN; states.rows() * n];
    let mut refs: Vec<&mut PolynomialCache<L>> = caches.iter_mut().collect();
    let rows: Vec<&[u64]> = (0..states.rows()).map(|r| states.row(r)).collect();
    let mut outs: Vec<&mut [f64]> = out.chunks_mut(n).collect();
    k.drives_many(&mut refs, &rows, &mut outs);
    out
}

#[test]
fn blocked_sync_equals_the_masked_sums_at_every_level_on_awkward_sizes() {
    use crate::simd::{self, Level};
    for (degree, rectified, p, n) in [
        (3, true, 1usize, 1usize),
        (3, false, 257, 17),
        (2, false, 300, 65),
        (4, false, 600, 200),
        (5, true, 130, 130),
        (1, false, 70, 64),
        (3, true, 513, 100),
    ] {
        let inter = Interaction::Polynomial { degree, rectified };
        let (d, xs) = memory(p, n, (7 * p + n) as u64, inter);
        // Stored patterns (the largest gains), corrupted ones and noise.
        let rows = 13;
        let mut qs = random_spins(p as u64 + 1, rows * n);
        for r in 0..rows {
            let mu = (5 * r) % p;
            if r % 3 < 2 {
                qs[r * n..(r + 1) * n].copy_from_slice(&xs[mu * n..(mu + 1) * n]);
            }
            if r % 3 == 1 {
                for v in qs[r * n..(r + 1) * n].iter_mut().step_by(7) {
                    *v = -*v;
                }
            }
        }
        let states = SpinMatrix::from_spins(&qs, rows, n).unwrap();
        let mut k = PreparedPolynomial::<i64>::new(&d.patterns, d.interaction).unwrap();
        assert!(k.blocked(), "degree {degree} n {n} p {p}");
        let before = simd::level();
        for level in [Level::Portable, Level::Popcnt, Level::Avx2, Level::Avx512] {
            simd::set_level(level);
            k.set_blocked(false);
            let want = block_drives(&k, &states);
            k.set_blocked(true);
            let got = block_drives(&k, &states);
            assert_eq!(got, want, "{level:?} degree {degree} p {p} n {n}");
            let s = Schedule::deterministic(
                Update::Sync,
                Order::Random,
                NonZeroU32::new(30).unwrap(),
                1,
            );
            let a = batch::retrieve(&k, &states, 0, &s).unwrap();
            k.set_blocked(false);
            let b = batch::retrieve(&k, &states, 0, &s).unwrap();
            assert_eq!(a.states, b.states, "{level:?} degree {degree}");
            assert_eq!(a.outcomes, b.outcomes, "{level:?} degree {degree}");
        }
        simd::set_level(before);
    }
}

#[test]
fn sparse_exponential_sums_equal_the_masked_sums_on_awkward_sizes() {
    let mut sparse_seen = 0;
    for beta in [0.05, 0.5, 3.0] {
        for (p, n) in [(9usize, 1usize), (70, 65), (300, 130), (513, 200)] {
            let (d, xs) = memory(p, n, (3 * p + n) as u64, Interaction::Exponential { beta });
            let rows = 12;
            let mut qs = random_spins(p as u64 + 5, rows * n);
            for r in 0..rows {
                let mu = (7 * r) % p;
                if r % 3 < 2 {
                    qs[r * n..(r + 1) * n].copy_from_slice(&xs[mu * n..(mu + 1) * n]);
                }
                if r % 3 == 1 {
                    for v in qs[r * n..(r + 1) * n].iter_mut().step_by(5) {
                        *v = -*v;
                    }
                }
            }
            let states = SpinMatrix::from_spins(&qs, rows, n).unwrap();
            let mut k = PreparedExponential::new(&d.patterns, d.interaction).unwrap();
            for r in 0..rows {
                let cache = k.cache(states.row(r));
                let mut got = vec![f64::NAN; n];
                if k.sparse_drives(&cache, states.row(r), &mut got) {
                    sparse_seen += 1;
                    let spin = |i| spins::spin(states.row(r), i);
                    let visit = |k: &PreparedExponential| -> Vec<f64> {
                        (0..n)
                            .map(|i| signed(k.delta(&cache, spin(i), i) as f64, spin(i)))
                            .collect()
                    };
                    // One visit at a time over the nonzero terms, then
                    // over every pattern's masked sum.
                    assert_eq!(got, visit(&k), "beta {beta} p {p} n {n} row {r}");
                    k.sparse_sums = false;
                    assert_eq!(got, visit(&k), "beta {beta} p {p} n {n} row {r}");
                    k.sparse_sums = true;
                }
            }
            for update in [Update::Sync, Update::Async] {
                let s =
                    Schedule::deterministic(update, Order::Random, NonZeroU32::new(30).unwrap(), 1);
                k.sparse_sums = true;
                let a = batch::retrieve(&k, &states, 0, &s).unwrap();
                k.sparse_sums = false;
                let b = batch::retrieve(&k, &states, 0, &s).unwrap();
                let at = format!("{update:?} beta {beta} p {p} n {n}");
                assert_eq!(a.states, b.states, "{at}");
                assert_eq!(a.outcomes, b.outcomes, "{at}");
            }
        }
    }
    assert!(sparse_seen >= 20, "the sparse path ran {sparse_seen} times");
}

/// After every flip of an async descent, the incrementally kept sparse
/// cache holds what a cache built afresh from the state holds, also
/// when another pattern takes the top (queries half one pattern, half
/// another).
#[test]
fn sparse_flips_keep_the_cache_of_a_fresh_build() {
    let (mut top_changes, mut sparse_flips) = (0, 0);
    for beta in [0.3, 1.0, 3.0] {
        let (p, n) = (80usize, 150usize);
        let (d, xs) = memory(
            p,
            n,
            40 + (10.0 * beta) as u64,
            Interaction::Exponential { beta },
        );
        let k = PreparedExponential::new(&d.patterns, d.interaction).unwrap();
        for r in 0..20 {
            let (a, b) = (r % p, (r + 1 + r / 3) % p);
            let mut s: Vec<i8> = (0..n)
                .map(|j| {
                    if j < n / 2 + r % 7 {
                        xs[a * n + j]
                    } else {
                        xs[b * n + j]
                    }
                })
                .collect();
            for v in s.iter_mut().skip(r).step_by(11) {
                *v = -*v;
            }
            let mut state = SpinMatrix::from_spins(&s, 1, n).unwrap();
            let mut cache = k.cache(state.row(0));
            for sweep in 0..4 {
                for i in (0..n).map(|i| (i * 37 + sweep * 11 + r) % n) {
                    let was_top = cache.top.clone();
                    let sparse = cache.sparse;
                    let drive = k.drive(&mut cache, state.row(0), i);
                    if drive >= 0.0 {
                        continue;
                    }
                    k.flip(&mut cache, state.as_words_mut(), i);
                    let fresh = k.cache(state.row(0));
                    assert_eq!(cache.m, fresh.m);
                    assert_eq!(cache.sparse, fresh.sparse, "beta {beta} row {r}");
                    assert_eq!(cache.nonzero, fresh.nonzero, "beta {beta} row {r}");
                    assert_eq!(cache.high_total, fresh.high_total);
                    assert_eq!(cache.low_total, fresh.low_total);
                    for &mu in &fresh.nonzero {
                        let mu = mu as usize;
                        assert_eq!(cache.high[mu], fresh.high[mu]);
                        assert_eq!(cache.low[mu], fresh.low[mu]);
                        let bit = |t: &[u64]| (t[mu / 64] >> (mu % 64)) & 1;
                        assert_eq!(bit(&cache.top), bit(&fresh.top), "beta {beta} row {r}");
                    }
                    if sparse && fresh.sparse {
                        sparse_flips += 1;
                        top_changes += (was_top != fresh.top) as usize;
                    }
                }
            }
        }
    }
    assert!(sparse_flips >= 100, "{sparse_flips} sparse flips");
    assert!(top_changes >= 5, "the top changed {top_changes} times");
}

#[test]
fn large_gains_take_the_exact_sparse_path() {
    // x^4 at n = 200: a stored pattern's gain is about 16·200^3 > 2^24,
    // more than one float32 chunk holds.
    let inter = Interaction::Polynomial {
        degree: 4,
        rectified: false,
    };
    let (p, n) = (600usize, 200usize);
    let (d, xs) = memory(p, n, 21, inter);
    let k = PreparedPolynomial::<i64>::new(&d.patterns, d.interaction).unwrap();
    let state = SpinMatrix::from_spins(&xs[3 * n..4 * n], 1, n).unwrap();
    let mut cache = k.cache(state.row(0));
    k.fill_weights(&mut cache);
    assert!(cache.sparse.contains(&3), "{:?}", cache.sparse);
    for chunk in cache.w.chunks(CHUNK) {
        let size: f64 = chunk.iter().map(|w| w.abs() as f64).sum();
        assert!(size <= CHUNK_LIMIT as f64);
    }
    // Beyond 2^53 the block product is not exact and is not used.
    let (big, _) = memory(
        100,
        1000,
        22,
        Interaction::Polynomial {
            degree: 5,
            rectified: false,
        },
    );
    let mut k = PreparedPolynomial::<i64>::new(&big.patterns, big.interaction).unwrap();
    assert!(!k.blocked());
    k.set_blocked(true);
    assert!(!k.blocked());
}

#[test]
fn bad_construction_and_overflow_are_refused() {
    let poly = |degree| Interaction::Polynomial {
        degree,
        rectified: true,
    };
    assert!(Dense::new(0, poly(3)).is_err());
    assert!(Dense::new(10, poly(0)).is_err());
    for beta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(Dense::new(10, Interaction::Exponential { beta }).is_err());
    }
    // (1000+2)^13 · 5 > 2^127: refused at once.
    assert!(matches!(Dense::new(1000, poly(13)), Err(Error::Value(_))));
    // (1000+2)^12 · 5 ≈ 5.1e36 fits once but not 40 times (2^127 ≈ 1.7e38).
    let mut d = Dense::new(1000, poly(12)).unwrap();
    let one = SpinMatrix::from_spins(&random_spins(1, 1000 * 20), 20, 1000).unwrap();
    d.store(&one).unwrap();
    assert!(matches!(d.store(&one), Err(Error::Value(_))));
    assert_eq!(d.patterns().rows(), 20, "a refused store changes nothing");
    assert!(matches!(d.prepare().unwrap(), PreparedDense::Wide(_)));
    let small = Dense::new(100, poly(3)).unwrap();
    assert!(matches!(small.prepare().unwrap(), PreparedDense::Narrow(_)));
    assert!(d.store(&SpinMatrix::new(7).unwrap()).is_err());
    assert_eq!(fixed_point_bits(0), 52);
    assert_eq!(fixed_point_bits(4096), 49);
}
