//! Unit tests of the drivers over both float types: the float64 memory
//! against the definitions, across batches, threads and chunk stages, its
//! popcount path against its float path; partial cues (`clamp`, `known`)
//! in float32 and float64; the energy of a float32 memory as the float64
//! energy of its numbers.

use std::num::{NonZeroU32, NonZeroUsize};

use super::*;
use crate::engine::batch::with_threads;

fn b(beta: f64) -> Beta {
    Beta::new(beta).unwrap()
}

fn fixed(n: u32) -> Steps {
    Steps::Fixed(NonZeroU32::new(n).unwrap())
}

/// `len` uniform numbers in `[−1, 1)` from the stream of `seed`.
fn data(len: usize, seed: u64) -> Vec<f64> {
    let mut rng = crate::rng::stream(seed, 0, crate::rng::Purpose::Noise);
    (0..len)
        .map(|_| 2.0 * crate::rng::uniform(&mut rng) - 1.0)
        .collect()
}

fn signs(len: usize, seed: u64) -> Vec<f64> {
    data(len, seed)
        .iter()
        .map(|&x| if x < 0.0 { -1.0 } else { 1.0 })
        .collect()
}

/// The update and energy by their definitions, one query at a time.
fn naive(keys: &[f64], d: usize, q: &[f64], beta: f64) -> (Vec<f64>, f64) {
    let p = keys.len() / d;
    let s: Vec<f64> = keys
        .chunks_exact(d)
        .map(|k| beta * k.iter().zip(q).map(|(a, b)| a * b).sum::<f64>())
        .collect();
    let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let w: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
    let l: f64 = w.iter().sum();
    let mut out = vec![0.0; d];
    for (k, &wk) in keys.chunks_exact(d).zip(&w) {
        for (o, &x) in out.iter_mut().zip(k) {
            *o += wk * x / l;
        }
    }
    let norm = |r: &[f64]| r.iter().map(|x| x * x).sum::<f64>();
    let m2 = keys.chunks_exact(d).map(norm).fold(0.0, f64::max);
    let e = -(m + l.ln()) / beta + 0.5 * norm(q) + (p as f64).ln() / beta + 0.5 * m2;
    (out, e)
}

fn assert_close(got: &[f64], want: &[f64], tol: f64) {
    for (i, (a, w)) in got.iter().zip(want).enumerate() {
        assert!((a - w).abs() <= tol * (1.0 + w.abs()), "{i}: {a} vs {w}");
    }
}

#[test]
fn float64_update_and_energy_equal_the_definitions_and_ignore_the_batch() {
    // More than one chunk: the chunk stages run for float64 too.
    let (p, d) = (CHUNK + 600, 7);
    let keys = data(p * d, 1);
    let queries = data(150 * d, 2);
    let mut net = ModernHopfield64::new();
    net.store(&keys[..300 * d], 300, d, None).unwrap();
    net.store(&keys[300 * d..], p - 300, d, None).unwrap();
    let beta = b(5.0);
    let out = net.step(&queries, d, beta).unwrap();
    let e = net.energy(&queries, d, beta).unwrap();
    for (c, q) in queries.chunks_exact(d).enumerate() {
        let (want, we) = naive(&keys, d, q, 5.0);
        assert_close(&out[c * d..(c + 1) * d], &want, 1e-13);
        assert!((e[c] - we).abs() < 1e-12 * (1.0 + we.abs()));
        // Alone, the query gets the same bits.
        assert_eq!(net.step(q, d, beta).unwrap(), &out[c * d..(c + 1) * d]);
    }
    let one = with_threads(NonZeroUsize::new(1), || {
        net.step(&queries, d, beta).unwrap()
    })
    .unwrap();
    assert_eq!(one, out);
    let r = net.retrieve(&queries, d, beta, fixed(2)).unwrap();
    assert_eq!(r.steps, vec![2; 150]);
    assert_eq!(r.states, net.step(&out, d, beta).unwrap());
    assert_eq!(net.nbytes(), 8 * p * d);
    assert!(!net.is_binary());
}

#[test]
fn float64_attention_and_softmax_state_match_the_definitions() {
    let (p, d, dv) = (500, 6, 3);
    let keys = data(p * d, 3);
    let values = data(p * dv, 4);
    let q = data(5 * d, 5);
    let mut net = ModernHopfield64::new();
    net.store(&keys, p, d, Some((&values, dv))).unwrap();
    let a = net.attention(&q, d, b(2.0)).unwrap();
    let (m, l, o) = net.softmax_state(&q, d, b(2.0)).unwrap();
    let step = net.step(&q, d, b(2.0)).unwrap();
    for (c, qc) in q.chunks_exact(d).enumerate() {
        let s: Vec<f64> = keys
            .chunks_exact(d)
            .map(|k| 2.0 * k.iter().zip(qc).map(|(x, y)| x * y).sum::<f64>())
            .collect();
        let top = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = s.iter().map(|x| (x - top).exp()).sum();
        let want: Vec<f64> = s.iter().map(|x| (x - top).exp() / sum).collect();
        assert_close(&a[c * p..(c + 1) * p], &want, 1e-13);
        assert!((m[c] - top).abs() <= 1e-13 * (1.0 + top.abs()));
        let update: Vec<f64> = (0..dv)
            .map(|j| (0..p).map(|r| want[r] * values[r * dv + j]).sum())
            .collect();
        assert_close(&step[c * dv..(c + 1) * dv], &update, 1e-13);
        let merged: Vec<f64> = o[c * dv..(c + 1) * dv].iter().map(|x| x / l[c]).collect();
        assert_eq!(merged, &step[c * dv..(c + 1) * dv]);
    }
}

#[test]
fn float64_popcount_path_equals_its_float_path() {
    for (p, d, nq) in [(CHUNK + 300, 130, 70), (37, 100, 6), (13, 1, 5)] {
        let k = signs(p * d, 6);
        let q = signs(nq * d, 7);
        let mut binary = ModernHopfield64::new();
        binary.store(&k, p, d, None).unwrap();
        assert!(binary.is_binary());
        assert_eq!(
            binary.nbytes(),
            8 * p * d + binary.spins.as_ref().unwrap().nbytes()
        );
        let mut float = binary.clone();
        float.spins = None;
        for beta in [0.01, 0.1, 2.0] {
            let want = float.step(&q, d, b(beta)).unwrap();
            assert_eq!(binary.step(&q, d, b(beta)).unwrap(), want);
            assert_eq!(
                binary.softmax_state(&q, d, b(beta)).unwrap(),
                float.softmax_state(&q, d, b(beta)).unwrap()
            );
            let best = crate::simd::level();
            crate::simd::set_level(crate::simd::Level::Portable);
            let portable = binary.step(&q, d, b(beta)).unwrap();
            crate::simd::set_level(best);
            assert_eq!(portable, want);
        }
    }
    // A key that is not ±1 ends the popcount path; ±1 keys after it do not
    // bring it back.
    let mut m = ModernHopfield64::new();
    m.store(&[1.0, -1.0], 1, 2, None).unwrap();
    assert!(m.is_binary());
    m.store(&[0.5, -1.0], 1, 2, None).unwrap();
    m.store(&[1.0, 1.0], 1, 2, None).unwrap();
    assert!(!m.is_binary());
}

#[test]
fn the_f32_memory_energy_is_the_f64_energy_of_its_numbers() {
    let (p, d) = (300, 5);
    let keys = data(p * d, 3);
    let k32: Vec<f32> = keys.iter().map(|&x| x as f32).collect();
    let k64: Vec<f64> = k32.iter().map(|&x| x as f64).collect();
    let s32: Vec<f32> = data(4 * d, 4).iter().map(|&x| x as f32).collect();
    let s64: Vec<f64> = s32.iter().map(|&x| x as f64).collect();
    let mut wide = ModernHopfield64::new();
    wide.store(&k64, p, d, None).unwrap();
    let mut narrow = ModernHopfield::new();
    narrow.store(&k32, p, d, None).unwrap();
    let beta = b(2.0);
    let want = wide.energy(&s64, d, beta).unwrap();
    assert_eq!(narrow.energy(&s32, d, beta).unwrap(), want);
    for (c, s) in s64.chunks_exact(d).enumerate() {
        assert!((want[c] - naive(&k64, d, s, 2.0).1).abs() < 1e-12 * (1.0 + want[c].abs()));
    }
    assert!(wide.energy(&s64[..d - 1], d - 1, beta).is_err());
    assert!(wide.store(&[f64::NAN; 5], 1, 5, None).is_err());
}

/// The memory of `T` holding six small keys of width 8.
fn small<T: float::Float>() -> (ModernHopfield<T>, Vec<T>) {
    let keys: Vec<T> = (0..6 * 8)
        .map(|i| T::from_f64(((i * 7 % 11) as f64 - 5.0) / 5.0))
        .collect();
    let mut m = ModernHopfield::new();
    m.store(&keys, 6, 8, None).unwrap();
    (m, keys)
}

fn clamped_coordinates_keep_the_query<T: float::Float>() {
    let (m, keys) = small::<T>();
    let beta = b(2.0);
    let q: Vec<T> = keys[8..16]
        .iter()
        .map(|&x| T::from_f64(x.into() * 0.5))
        .collect();
    let steps = fixed(3);
    let plain = m.retrieve(&q, 8, beta, steps).unwrap();
    let none = m.retrieve_cued(&q, 8, beta, steps, Cue::default()).unwrap();
    assert_eq!(plain, none);
    let mask: Vec<bool> = (0..8).map(|i| i < 3).collect();
    let clamp = Cue {
        clamp: Some(&mask),
        known: None,
    };
    let held = m.retrieve_cued(&q, 8, beta, steps, clamp).unwrap();
    assert_eq!(&held.states[..3], &q[..3]);
    assert_ne!(&held.states[3..], &q[3..]);
    // Known coordinates only: an unknown one's value changes nothing.
    let mut other = q.clone();
    other[7] = T::from_f64(100.0);
    let known = Cue {
        clamp: None,
        known: Some(&mask),
    };
    let a = m.retrieve_cued(&q, 8, beta, fixed(1), known).unwrap();
    let c = m.retrieve_cued(&other, 8, beta, fixed(1), known).unwrap();
    assert_eq!(a.states, c.states);
    // ... and it is the plain update of the query with those zeroed.
    let zeroed: Vec<T> = q
        .iter()
        .zip(&mask)
        .map(|(&x, &k)| if k { x } else { T::default() })
        .collect();
    assert_eq!(a.states, m.step(&zeroed, 8, beta).unwrap());
    let short = Cue {
        clamp: Some(&mask[..4]),
        known: None,
    };
    assert!(m.retrieve_cued(&q, 8, beta, steps, short).is_err());
}

#[test]
fn clamped_coordinates_keep_the_query_and_no_mask_is_plain_retrieval() {
    clamped_coordinates_keep_the_query::<f32>();
    clamped_coordinates_keep_the_query::<f64>();
}

/// Clamp and known together in float64: each step is the definition's
/// update of the state with its unknown coordinates zeroed, then the clamped
/// ones reset; converging per query, whatever the batch or threads.
#[test]
fn float64_partial_cues_follow_the_definition_per_query() {
    let (p, d, nq) = (400, 12, 30);
    let keys = data(p * d, 8);
    let q = data(nq * d, 9);
    let mask: Vec<bool> = data(nq * d, 10).iter().map(|&x| x < 0.2).collect();
    let mut m = ModernHopfield64::new();
    m.store(&keys, p, d, None).unwrap();
    let cue = Cue {
        clamp: Some(&mask),
        known: Some(&mask),
    };
    let r = m.retrieve_cued(&q, d, b(3.0), fixed(4), cue).unwrap();
    for c in 0..nq {
        let (cue_row, held) = (&q[c * d..(c + 1) * d], &mask[c * d..(c + 1) * d]);
        let mut x = cue_row.to_vec();
        for _ in 0..4 {
            let scored: Vec<f64> = x
                .iter()
                .zip(held)
                .map(|(&v, &k)| if k { v } else { 0.0 })
                .collect();
            x = naive(&keys, d, &scored, 3.0).0;
            for ((v, &c0), &h) in x.iter_mut().zip(cue_row).zip(held) {
                if h {
                    *v = c0;
                }
            }
        }
        assert_close(&r.states[c * d..(c + 1) * d], &x, 1e-12);
    }
    let until = Steps::Until {
        tol: 1e-13,
        max_steps: NonZeroU32::new(300).unwrap(),
    };
    let all = m.retrieve_cued(&q, d, b(3.0), until, cue).unwrap();
    let one = with_threads(NonZeroUsize::new(1), || {
        m.retrieve_cued(&q, d, b(3.0), until, cue).unwrap()
    })
    .unwrap();
    assert_eq!(all, one);
    for c in [0, 7, nq - 1] {
        let span = c * d..(c + 1) * d;
        let alone = Cue {
            clamp: Some(&mask[span.clone()]),
            known: Some(&mask[span.clone()]),
        };
        let r = m
            .retrieve_cued(&q[span.clone()], d, b(3.0), until, alone)
            .unwrap();
        assert_eq!(r.states, &all.states[span]);
        assert_eq!(r.steps[0], all.steps[c]);
    }
    assert!(all.converged.iter().all(|&c| c));
}

#[test]
fn cues_on_a_hetero_memory_are_refused_but_known_steps_once() {
    let mut m = ModernHopfield64::new();
    m.store(&data(4 * 3, 1), 4, 3, Some((&data(4 * 2, 2), 2)))
        .unwrap();
    let q = data(3, 3);
    let mask = [true, false, true];
    let clamp = Cue {
        clamp: Some(&mask),
        known: None,
    };
    let err = m.retrieve_cued(&q, 3, b(1.0), fixed(1), clamp).unwrap_err();
    assert!(err.to_string().contains("auto-association"), "{err}");
    let known = Cue {
        clamp: None,
        known: Some(&mask),
    };
    let r = m.retrieve_cued(&q, 3, b(1.0), fixed(1), known).unwrap();
    assert_eq!(r.states.len(), 2);
    assert!(m.retrieve_cued(&q, 3, b(1.0), fixed(2), known).is_err());
}
