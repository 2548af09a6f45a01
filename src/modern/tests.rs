//! Unit tests of the kernel: against a naive softmax, across levels,
//! batches and threads, popcount against float, extreme inputs.

use std::num::NonZeroU32;

use super::*;
use crate::error::Error;
use crate::simd::{set_level, Level};

fn b(beta: f64) -> Beta {
    Beta::new(beta).unwrap()
}

fn lcg(seed: u64, len: usize) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..len)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
        })
        .collect()
}

/// Naive float64 `Vᵀ softmax(β K q)`.
fn naive(k: &[f32], v: &[f32], d: usize, dv: usize, q: &[f32], beta: f64) -> Vec<f64> {
    let p = k.len() / d;
    let s: Vec<f64> = (0..p)
        .map(|r| {
            beta * (0..d)
                .map(|i| k[r * d + i] as f64 * q[i] as f64)
                .sum::<f64>()
        })
        .collect();
    let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
    let l: f64 = w.iter().sum();
    (0..dv)
        .map(|j| (0..p).map(|r| w[r] * v[r * dv + j] as f64).sum::<f64>() / l)
        .collect()
}

fn close(a: &[f32], b: &[f64], tol: f64) {
    for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x as f64 - y).abs() <= tol * (1.0 + y.abs()),
            "index {i}: {x} vs {y}"
        );
    }
}

#[test]
fn step_matches_naive_softmax() {
    for &(p, d, dv, nq) in &[
        (1, 1, 1, 1),
        (5, 3, 2, 7),
        (200, 17, 33, 13),
        (3100, 40, 70, 9),
    ] {
        let k = lcg(1, p * d);
        let v = lcg(2, p * dv);
        let q = lcg(3, nq * d);
        let mut mem = ModernHopfield::new();
        mem.store(&k, p, d, Some((&v, dv))).unwrap();
        for beta in [0.1, 1.0, 8.0] {
            let out = mem.step(&q, d, b(beta)).unwrap();
            for c in 0..nq {
                let want = naive(&k, &v, d, dv, &q[c * d..(c + 1) * d], beta);
                close(&out[c * dv..(c + 1) * dv], &want, 1e-5);
            }
        }
    }
}

#[test]
fn levels_batches_and_threads_agree_bit_for_bit() {
    let (p, d) = (CHUNK + 500, 37);
    let k = lcg(4, p * d);
    let q = lcg(5, 200 * d);
    let mut mem = ModernHopfield::new();
    mem.store(&k, p, d, None).unwrap();
    let base = mem.step(&q, d, b(3.0)).unwrap();
    let single: Vec<f32> = (0..200)
        .flat_map(|c| mem.step(&q[c * d..(c + 1) * d], d, b(3.0)).unwrap())
        .collect();
    assert_eq!(base, single);
    // One query at a time inside a pool: each chunk's tiles are scored side
    // by side on the pool's threads before its softmax.
    let pooled: Vec<f32> =
        crate::engine::batch::with_threads(std::num::NonZeroUsize::new(2), || {
            (0..20)
                .flat_map(|c| mem.step(&q[c * d..(c + 1) * d], d, b(3.0)).unwrap())
                .collect()
        })
        .unwrap();
    assert_eq!(base[..20 * d], pooled);
    let one = crate::engine::batch::with_threads(std::num::NonZeroUsize::new(1), || {
        mem.step(&q, d, b(3.0)).unwrap()
    })
    .unwrap();
    assert_eq!(base, one);
    let best = crate::simd::level();
    set_level(Level::Portable);
    let portable = mem.step(&q, d, b(3.0)).unwrap();
    set_level(best);
    assert_eq!(base, portable);
}

#[test]
fn popcount_path_equals_float_path() {
    for (p, d, nq) in [(700, 512, 9), (37, 100, 6), (13, 1, 5)] {
        popcount_case(p, d, nq);
    }
}

fn popcount_case(p: usize, d: usize, nq: usize) {
    let k: Vec<f32> = lcg(6, p * d)
        .iter()
        .map(|&x| if x < 0.0 { -1.0 } else { 1.0 })
        .collect();
    let q: Vec<f32> = lcg(7, nq * d)
        .iter()
        .map(|&x| if x < 0.0 { -1.0 } else { 1.0 })
        .collect();
    let mut binary = ModernHopfield::new();
    binary.store(&k, p, d, None).unwrap();
    assert!(binary.is_binary());
    let mut float = ModernHopfield::new();
    float.store(&k, p, d, None).unwrap();
    float.spins = None;
    for beta in [0.01, 0.1, 2.0] {
        assert_eq!(
            binary.step(&q, d, b(beta)).unwrap(),
            float.step(&q, d, b(beta)).unwrap()
        );
        assert_eq!(
            binary.energy(&q, d, b(beta)).unwrap(),
            float.energy(&q, d, b(beta)).unwrap()
        );
        let best = crate::simd::level();
        set_level(Level::Portable);
        let portable = binary.step(&q, d, b(beta)).unwrap();
        set_level(best);
        assert_eq!(binary.step(&q, d, b(beta)).unwrap(), portable);
    }
}

#[test]
fn extreme_inputs_stay_finite() {
    let d = 8;
    let mut mem = ModernHopfield::new();
    mem.store(&[0.0; 24], 3, d, None).unwrap(); // all-equal scores
    let out = mem.step(&[0.0; 8], d, b(1e4)).unwrap();
    assert!(out.iter().all(|x| *x == 0.0));
    mem.store(&lcg(8, 40 * d), 40, d, None).unwrap();
    let q = lcg(9, 3 * d);
    let out = mem.step(&q, d, b(1e4)).unwrap();
    assert!(out.iter().all(|x| x.is_finite()));
    assert!(mem
        .energy(&q, d, b(1e4))
        .unwrap()
        .iter()
        .all(|x| x.is_finite()));
    for beta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        assert!(matches!(Beta::new(beta), Err(Error::Value(_))), "{beta}");
    }
    assert!(matches!(
        mem.step(&[f32::NAN; 8], d, b(1.0)),
        Err(Error::Value(_))
    ));
    assert!(matches!(mem.step(&q, 3, b(1.0)), Err(Error::Shape(_))));
}

#[test]
fn energy_decreases_along_updates() {
    let (p, d) = (50, 16);
    let k = lcg(10, p * d);
    let mut mem = ModernHopfield::new();
    mem.store(&k, p, d, None).unwrap();
    let mut q = lcg(11, 5 * d);
    for beta in [0.5, 4.0, 30.0] {
        let mut e = mem.energy(&q, d, b(beta)).unwrap();
        for _ in 0..5 {
            q = mem.step(&q, d, b(beta)).unwrap();
            let next = mem.energy(&q, d, b(beta)).unwrap();
            for (a, b) in e.iter().zip(&next) {
                assert!(*b <= *a + 1e-5 * (1.0 + a.abs()), "{b} > {a}");
            }
            e = next;
        }
    }
}

#[test]
fn iteration_stops_per_query() {
    let (p, d) = (20, 8);
    let mut mem = ModernHopfield::new();
    mem.store(&lcg(12, p * d), p, d, None).unwrap();
    let q = lcg(13, 4 * d);
    let r = mem
        .retrieve(
            &q,
            d,
            b(50.0),
            Steps::Until {
                tol: 1e-6,
                max_steps: NonZeroU32::new(50).unwrap(),
            },
        )
        .unwrap();
    assert!(r.converged.iter().all(|&c| c));
    for c in 0..4 {
        let alone = mem
            .retrieve(
                &q[c * d..(c + 1) * d],
                d,
                b(50.0),
                Steps::Until {
                    tol: 1e-6,
                    max_steps: NonZeroU32::new(50).unwrap(),
                },
            )
            .unwrap();
        assert_eq!(alone.states, r.states[c * d..(c + 1) * d]);
        assert_eq!(alone.steps[0], r.steps[c]);
    }
}

/// The lane-outer packed kernel (AVX-512) against the portable inner
/// products, bit for bit: ragged key tiles, padded query groups, `d` not a
/// multiple of 16.
#[test]
fn packed_scores_match_dot_lanes() {
    for &(rows, nq, d) in &[
        (1, 16, 1),
        (13, 20, 17),
        (29, 32, 16),
        (TILE, 81, 37),
        (50, 200, 512),
    ] {
        let k = lcg(11, rows * d);
        let q = lcg(12, nq * d);
        let packed = super::scores::pack(&q, nq, d);
        let mut scratch = vec![0.0f32; packed.as_ref().map_or(0, |p| p.scratch_len())];
        let mut out = vec![f32::NAN; nq * TILE];
        super::scores::scores_tile(
            &k,
            rows,
            &q,
            nq,
            d,
            packed.as_ref(),
            &mut scratch,
            &mut out,
            TILE,
        );
        for c in 0..nq {
            for r in 0..rows {
                let want = super::scores::dot_lanes(&k[r * d..(r + 1) * d], &q[c * d..(c + 1) * d]);
                assert_eq!(
                    out[c * TILE + r].to_bits(),
                    want.to_bits(),
                    "rows {rows} nq {nq} d {d}: ({c}, {r})"
                );
            }
        }
    }
}

#[test]
fn softmax_states_of_two_halves_merge_into_the_whole() {
    let (p, d, dv, nq) = (3100, 24, 9, 11);
    let (k, v, q) = (lcg(4, p * d), lcg(5, p * dv), lcg(6, nq * d));
    let split = 1234;
    let mut whole = ModernHopfield::new();
    whole.store(&k, p, d, Some((&v, dv))).unwrap();
    let (mut first, mut second) = (ModernHopfield::new(), ModernHopfield::new());
    first
        .store(&k[..split * d], split, d, Some((&v[..split * dv], dv)))
        .unwrap();
    second
        .store(&k[split * d..], p - split, d, Some((&v[split * dv..], dv)))
        .unwrap();
    let beta = b(2.0);
    let (m1, l1, o1) = first.softmax_state(&q, d, beta).unwrap();
    let (m2, l2, o2) = second.softmax_state(&q, d, beta).unwrap();
    let (mw, lw, _) = whole.softmax_state(&q, d, beta).unwrap();
    let step = whole.step(&q, d, beta).unwrap();
    for c in 0..nq {
        let m = m1[c].max(m2[c]);
        let (a1, a2) = ((m1[c] - m).exp(), (m2[c] - m).exp());
        let l = a1 * l1[c] + a2 * l2[c];
        assert!((m - mw[c]).abs() <= 1e-12 * (1.0 + m.abs()));
        // Each pass skips weights below exp(-20 - ln P) of its own floor, so
        // the sums may differ by the skipped mass: at most exp(-20) ≈ 2e-9 of l.
        assert!((l - lw[c]).abs() <= 1e-8 * lw[c], "{l} vs {}", lw[c]);
        let merged: Vec<f64> = (0..dv)
            .map(|j| (a1 * o1[c * dv + j] + a2 * o2[c * dv + j]) / l)
            .collect();
        close(&step[c * dv..(c + 1) * dv], &merged, 1e-6);
    }
    assert_eq!(o1.len(), nq * dv);
}

/// The packed kernels at awkward sizes, bit for bit against `dot_lanes`:
/// `d` not a multiple of 16 (and below 16), one key, partial key panels,
/// a tile spanning several L2 sub-tiles (large `d`), query counts around
/// the group size (padded groups, row-kernel leftovers).
#[test]
fn packed_scores_match_dot_lanes_at_awkward_sizes() {
    for &(rows, nq, d) in &[
        (1, 8, 1),
        (1, 9, 15),
        (5, 16, 33),
        (6, 17, 16),
        (7, 24, 31),
        (25, 31, 1000),
        (50, 40, 2000),
        (TILE, 12, 2001),
        (TILE - 1, 33, 600),
    ] {
        let k = lcg(13, rows * d);
        let q = lcg(14, nq * d);
        let packed = super::scores::pack(&q, nq, d);
        let mut scratch = vec![0.0f32; packed.as_ref().map_or(0, |p| p.scratch_len())];
        let mut out = vec![f32::NAN; nq * TILE];
        super::scores::scores_tile(
            &k,
            rows,
            &q,
            nq,
            d,
            packed.as_ref(),
            &mut scratch,
            &mut out,
            TILE,
        );
        for c in 0..nq {
            for r in 0..rows {
                let want = super::scores::dot_lanes(&k[r * d..(r + 1) * d], &q[c * d..(c + 1) * d]);
                assert_eq!(
                    out[c * TILE + r].to_bits(),
                    want.to_bits(),
                    "rows {rows} nq {nq} d {d}: ({c}, {r})"
                );
            }
        }
        // Nothing is written past the tile's keys.
        for c in 0..nq {
            assert!(out[c * TILE + rows..(c + 1) * TILE]
                .iter()
                .all(|x| x.is_nan()));
        }
    }
}

/// Batches of 1 to 5 queries (row kernels only) and one of 40 (packed
/// groups and leftovers) give the rows of the whole batch, bit for bit, at
/// every level and on one thread, and match the naive softmax; one stored
/// pattern, patterns spanning several key panels, sub-tiles and chunks.
#[test]
fn small_batches_and_awkward_memories_agree() {
    for &(p, d, beta) in &[
        (1, 19, 0.5),
        (13, 1, 2.0),
        (200, 600, 0.05),
        (CHUNK + 7, 23, 1.0),
    ] {
        let k = lcg(15, p * d);
        let nq = 40;
        let q = lcg(16, nq * d);
        let mut mem = ModernHopfield::new();
        mem.store(&k, p, d, None).unwrap();
        let whole = mem.step(&q, d, b(beta)).unwrap();
        for c in 0..nq.min(3) {
            let want = naive(&k, &k, d, d, &q[c * d..(c + 1) * d], beta);
            close(&whole[c * d..(c + 1) * d], &want, 1e-5);
        }
        for nb in 1..=5 {
            for start in [0, nq - nb] {
                let part = mem
                    .step(&q[start * d..(start + nb) * d], d, b(beta))
                    .unwrap();
                assert_eq!(
                    part,
                    whole[start * d..(start + nb) * d],
                    "p {p} d {d}: {nb} queries from {start}"
                );
            }
        }
        let one = crate::engine::batch::with_threads(std::num::NonZeroUsize::new(1), || {
            mem.step(&q, d, b(beta)).unwrap()
        })
        .unwrap();
        assert_eq!(one, whole, "p {p} d {d}: one thread");
        // Three threads: blocks of 14, 14 and 12 queries, each a padded group.
        let three = crate::engine::batch::with_threads(std::num::NonZeroUsize::new(3), || {
            mem.step(&q, d, b(beta)).unwrap()
        })
        .unwrap();
        assert_eq!(three, whole, "p {p} d {d}: three threads");
        let best = crate::simd::level();
        set_level(Level::Portable);
        let portable = mem.step(&q, d, b(beta)).unwrap();
        set_level(best);
        assert_eq!(portable, whole, "p {p} d {d}: portable level");
    }
}

#[test]
fn blocks_share_a_batch_evenly_over_threads() {
    let two = std::num::NonZeroUsize::new(2);
    let rows = |nq| crate::engine::batch::with_threads(two, || driver::block_rows(nq, 192));
    // 1000 queries: six blocks (five of 167, one of 165), three per thread.
    assert_eq!(rows(1000).unwrap(), 167);
    assert_eq!(rows(10).unwrap(), 5);
    assert_eq!(rows(1).unwrap(), 1);
    assert_eq!(rows(384).unwrap(), 192);
    assert_eq!(rows(385).unwrap(), 97);
    assert_eq!(driver::block_rows(0, 192), 1);
    // Results do not depend on the blocks: 400 queries on two threads
    // (blocks of 134, 134, 132) equal each query alone.
    let (p, d) = (300, 29);
    let k = lcg(21, p * d);
    let q = lcg(22, 400 * d);
    let mut mem = ModernHopfield::new();
    mem.store(&k, p, d, None).unwrap();
    let whole = crate::engine::batch::with_threads(two, || mem.step(&q, d, b(0.7)).unwrap());
    let whole = whole.unwrap();
    for c in [0, 133, 134, 267, 268, 399] {
        let alone = mem.step(&q[c * d..(c + 1) * d], d, b(0.7)).unwrap();
        assert_eq!(alone, whole[c * d..(c + 1) * d], "query {c}");
    }
}

#[test]
fn a_raised_cancel_flag_interrupts_a_retrieval() {
    use std::sync::atomic::AtomicBool;
    let (p, d) = (CHUNK + 100, 16);
    let k = lcg(23, p * d);
    let q = lcg(24, 30 * d);
    let mut mem = ModernHopfield::new();
    mem.store(&k, p, d, None).unwrap();
    let steps = Steps::Fixed(NonZeroU32::new(2).unwrap());
    let cue = Cue::default();
    let raised = AtomicBool::new(true);
    let err = mem
        .retrieve_cued_until(&q, d, b(1.0), steps, cue, &raised)
        .unwrap_err();
    assert!(matches!(err, Error::Interrupted), "{err:?}");
    let lowered = AtomicBool::new(false);
    let r = mem
        .retrieve_cued_until(&q, d, b(1.0), steps, cue, &lowered)
        .unwrap();
    assert_eq!(r, mem.retrieve(&q, d, b(1.0), steps).unwrap());
}

/// Rows of awkward magnitudes for the screening bounds: zeros, one large
/// entry among small ones, tiny and huge scales.
fn awkward_rows(seed: u64, rows: usize, d: usize) -> Vec<f32> {
    let mut x = lcg(seed, rows * d);
    for (r, row) in x.chunks_exact_mut(d).enumerate() {
        match r % 6 {
            0 => row.fill(0.0),
            1 => row[r % d] = 1e3,
            2 => row.iter_mut().for_each(|v| *v *= 1e-20),
            // Large, yet every score stays a finite float32 (as stored
            // and queried values must: see `MAX_SCORE`).
            3 => row.iter_mut().for_each(|v| *v *= 1e15),
            _ => {}
        }
    }
    x
}

#[test]
fn screening_bounds_hold_every_exact_score() {
    use super::screen::{code_dots, code_keys, code_queries, exact, Bounds, KeyCodes, QueryCodes};
    for d in [1, 7, 32, 33, 100, 1024] {
        let (nb, rows) = (11, 13);
        let q = awkward_rows(30 + d as u64, nb, d);
        let k = awkward_rows(31 + d as u64, rows, d);
        let (mut qc, mut kc) = (QueryCodes::new(), KeyCodes::new());
        code_queries(&q, nb, d, &mut qc);
        code_keys(&k, rows, d, &mut kc);
        let mut dots = vec![0i32; nb * rows];
        code_dots(&qc, (&kc, 0), nb, rows, &mut dots, rows);
        // From a later key on: the same products.
        let mut later = vec![0i32; nb * rows];
        code_dots(&qc, (&kc, 5), nb, rows - 5, &mut later, rows);
        for b in 0..nb {
            assert_eq!(
                later[b * rows..b * rows + rows - 5],
                dots[b * rows + 5..(b + 1) * rows]
            );
        }
        let best = crate::simd::level();
        set_level(Level::Portable);
        let mut portable = vec![0i32; nb * rows];
        code_dots(&qc, (&kc, 0), nb, rows, &mut portable, rows);
        set_level(best);
        assert_eq!(dots, portable, "d {d}: code products differ between levels");
        let bounds = Bounds::new(&qc, &kc, d);
        for b in 0..nb {
            let mut hi = vec![0.0f32; rows];
            let lo = bounds.row(b, 0, &dots[b * rows..(b + 1) * rows], &mut hi);
            let s: Vec<f32> = (0..rows)
                .map(|r| exact(&k[r * d..(r + 1) * d], &q[b * d..(b + 1) * d]))
                .collect();
            let top = s.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            assert!(
                lo <= top,
                "d {d} query {b}: lower bound {lo} above the largest {top}"
            );
            for r in 0..rows {
                assert!(
                    s[r] <= hi[r],
                    "d {d} query {b} key {r}: {} above {}",
                    s[r],
                    hi[r]
                );
            }
            // Tight for ordinary rows: a zero query or key scores 0 exactly.
            if b % 6 == 0 {
                assert!(
                    hi.iter().all(|&h| h.abs() < 1e-20),
                    "d {d}: zero query {hi:?}"
                );
            }
        }
    }
}

/// Stored Gaussian-like patterns and noisy copies of them as queries.
fn copies(p: usize, d: usize, nq: usize) -> (Vec<f32>, Vec<f32>) {
    let k = lcg(40, p * d);
    let noise = lcg(41, nq * d);
    let q = (0..nq * d)
        .map(|i| k[(i / d * 7 % p) * d + i % d] + 0.2 * noise[i])
        .collect();
    (k, q)
}

#[test]
fn screening_is_tight_at_a_retrieval_beta() {
    use super::screen::{code_dots, code_keys, code_queries, Bounds, KeyCodes, QueryCodes};
    // β = 1 at d = 256 (entries uniform in ±1): the own score is about 85,
    // the others' largest about 15, far below 85 − (20 + ln P); the bounds
    // are within about 1 of the scores, so only the own key is needed.
    let (p, d, nb, beta) = (TILE, 256, 16, 1.0);
    let (k, q) = copies(p, d, nb);
    let (mut qc, mut kc) = (QueryCodes::new(), KeyCodes::new());
    code_queries(&q, nb, d, &mut qc);
    code_keys(&k, p, d, &mut kc);
    let mut dots = vec![0i32; nb * p];
    code_dots(&qc, (&kc, 0), nb, p, &mut dots, p);
    let bounds = Bounds::new(&qc, &kc, d);
    let skip = 20.0 + (p as f64).ln();
    let mut needed = 0;
    for b in 0..nb {
        let mut hi = vec![0.0f32; p];
        let top = bounds.row(b, 0, &dots[b * p..(b + 1) * p], &mut hi) * beta;
        needed += hi
            .iter()
            .filter(|&&h| h as f64 * beta >= top - skip)
            .count();
    }
    assert!(needed <= 2 * nb, "{needed} of {} scores needed", nb * p);
}

#[test]
fn screened_scores_keep_the_bits() {
    // One chunk (the prescan path) and several (later stages screen tile by
    // tile against the floor), at retrieval β (screened) and at a β where
    // most weights stay (the tile kernel): the screening level against the
    // portable one, which never screens.
    for &(p, d, beta) in &[
        (3 * TILE + 50, 96, 1.0),
        (CHUNK + 2 * TILE + 7, 64, 1.5),
        (CHUNK + 300, 64, 0.02),
        (2 * CHUNK + 5, 33, 2.5),
    ] {
        // Enough queries for a call to screen (at least 256).
        let (k, q) = copies(p, d, 300);
        let mut mem = ModernHopfield::new();
        mem.store(&k, p, d, None).unwrap();
        let best = crate::simd::level();
        if best >= Level::Avx2 {
            let codes = <f32 as float::Float>::code_keys(&mem, 300);
            assert!(
                codes.is_some(),
                "p {p} d {d}: a call of 300 queries screens"
            );
        }
        let fast = mem.step(&q, d, b(beta)).unwrap();
        let (m, l, o) = mem.softmax_state(&q, d, b(beta)).unwrap();
        set_level(Level::Portable);
        let portable = mem.step(&q, d, b(beta)).unwrap();
        let state = mem.softmax_state(&q, d, b(beta)).unwrap();
        set_level(best);
        assert_eq!(fast, portable, "p {p} d {d} beta {beta}");
        assert_eq!((m, l, o), state, "p {p} d {d} beta {beta}: softmax state");
        for c in [0, 17, 299] {
            let want = naive(&k, &k, d, d, &q[c * d..(c + 1) * d], beta);
            close(&fast[c * d..(c + 1) * d], &want, 1e-5);
        }
    }
}

#[test]
fn screening_codes_are_made_as_calls_need_them_and_kept() {
    // (Other tests cap the global SIMD level for a while, so what is
    // asserted here does not depend on the level a call runs at.)
    let d = 64;
    let keys_bytes = |mem: &ModernHopfield| 4 * mem.rows() * d;
    let p = 2 * CHUNK + 5;
    let (k, q) = copies(p, d, 300);
    let mut mem = ModernHopfield::new();
    mem.store(&k, p, d, None).unwrap();
    assert_eq!(mem.nbytes(), keys_bytes(&mem));
    assert_eq!(mem.keys().as_ptr() as usize % 64, 0, "keys on cache lines");
    // A tile is coded the first time a call asks for it and kept: a later
    // call gets the same codes, and nbytes counts them (a byte per feature,
    // d = 64 being two code steps, and 28 bytes of per-key numbers).
    let call = screen::CallCodes::new(&mem.codes, &mem.keys, p, d);
    let first = call.tile(TILE).unwrap() as *const screen::KeyCodes;
    assert_eq!(mem.nbytes(), keys_bytes(&mem) + TILE * (d + 28));
    let last = call.tile(p / TILE * TILE).unwrap();
    assert_eq!(
        mem.nbytes(),
        keys_bytes(&mem) + (TILE + p % TILE) * (d + 28)
    );
    let again = screen::CallCodes::new(&mem.codes, &mem.keys, p, d);
    assert!(std::ptr::eq(first, again.tile(TILE).unwrap()), "codes kept");
    let mut fresh = screen::KeyCodes::new();
    screen::code_keys(&k[TILE * d..2 * TILE * d], TILE, d, &mut fresh);
    assert_eq!(again.tile(TILE).unwrap().codes, fresh.codes);
    assert_eq!(last.codes.len(), (p % TILE) * d);
    // Retrieval β: calls screen and keep what they code; the same bits
    // from cached codes (and the portable level, which never screens, is
    // compared with elsewhere).
    let a = mem.step(&q, d, b(4.0)).unwrap();
    let coded = mem.nbytes() - keys_bytes(&mem);
    assert!(coded <= p * (d + 28));
    assert_eq!(
        mem.step(&q, d, b(4.0)).unwrap(),
        a,
        "cached codes change nothing"
    );
    // A store empties them (new keys, new tiles).
    mem.store(&k[..3 * d], 3, d, None).unwrap();
    assert_eq!(mem.nbytes(), keys_bytes(&mem));
    assert_eq!(mem.keys().as_ptr() as usize % 64, 0, "keys on cache lines");
    // A β where most weights stay: the first chunk's tiles are coded and
    // bounded, screening does not pay there, and the call stops: the later
    // chunks' keys are never coded.
    let p = 4 * CHUNK;
    let (k, q) = copies(p, d, 300);
    let mut mem = ModernHopfield::new();
    mem.store(&k, p, d, None).unwrap();
    let dense = mem.step(&q, d, b(0.02)).unwrap();
    let coded = mem.nbytes() - keys_bytes(&mem);
    assert!(
        coded <= CHUNK * (d + 28),
        "{coded} bytes coded: more than the first chunk"
    );
    for c in [0, 150, 299] {
        let want = naive(&k, &k, d, d, &q[c * d..(c + 1) * d], 0.02);
        close(&dense[c * d..(c + 1) * d], &want, 1e-5);
    }
}
