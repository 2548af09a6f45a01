//! Exact block products of ±1 patterns with integer weights: for a block of
//! queries `q`, `out[q][i] += Σ_μ w[q][μ]·ξ^μ_i`. This is the synchronous
//! step of the dense associative memory written as one matrix product
//! (see the dense model, `dense/polynomial.rs`): `w` holds each query's per-pattern gains, the
//! patterns are the ±1 matrix.
//!
//! # Why float32 is exact here
//!
//! The products run in float32 lanes (8 per AVX2 register, two FMA ports),
//! the narrowest lanes that hold the gains. The weights are integers, the
//! pattern entries ±1, so every product is exact; a running sum stays an
//! exact integer as long as its magnitude stays at most `2^24`. The patterns
//! are summed in chunks of [`CHUNK`], and the caller guarantees
//! `Σ_{μ ∈ chunk} |w[q][μ]| ≤ 2^24` for every chunk (terms it cannot fit go
//! through its own exact path): then no partial sum of a chunk exceeds
//! `2^24` in any order of summation, every chunk's sum is exact, and the
//! chunk sums are added to `out` in float64, exact while `out` stays below
//! `2^53` (the caller's bound too). The result is the exact integer, so it
//! does not depend on the instruction set, on fused or unfused
//! multiply-adds, or on how queries are grouped into blocks.
//!
//! # Blocking
//!
//! For each chunk of patterns and each panel of [`NR`] neurons, the panel's
//! signs are expanded once into float32 (a 16 KB table that stays in L1) and
//! used by every query of the block; a register tile of [`MR`] queries ×
//! [`NR`] neurons (12 AVX2 accumulators) runs over the chunk. The packed
//! patterns are read once per block, not once per query.

#![allow(clippy::needless_range_loop)] // kernels index several register arrays

use crate::spins::SpinMatrix;

/// Patterns per chunk: each chunk's sum is exact in float32.
pub const CHUNK: usize = 256;

/// The bound on `Σ_{μ ∈ chunk} |w[q][μ]|` (integers up to `2^24` are exact
/// in float32).
pub const CHUNK_LIMIT: i64 = 1 << 24;

/// A weight of magnitude at most this fits any chunk, whatever the others
/// hold (`CHUNK · TERM_LIMIT = 2^24`).
pub const TERM_LIMIT: i64 = CHUNK_LIMIT / CHUNK as i64;

/// Neurons per panel (two AVX2 registers of float32).
pub const NR: usize = 16;

/// Queries per register tile.
pub const MR: usize = 6;

/// `SIGNS[b][l]` = +1 when bit `l` of `b` is set, else −1.
const SIGNS: [[f32; 8]; 256] = {
    let mut t = [[-1.0f32; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let mut l = 0;
        while l < 8 {
            if (b >> l) & 1 == 1 {
                t[b][l] = 1.0;
            }
            l += 1;
        }
        b += 1;
    }
    t
};

/// The signs of one panel over one chunk: `v[16k + l] = ξ^{c0+k}_{j0+l}`
/// (neurons past `n` read the zero padding bits, −1, and are never used).
/// Sized for the longest chunk, `min(P, CHUNK)` patterns.
struct Panel(Vec<f32>);

impl Panel {
    #[inline(always)]
    fn expand(&mut self, patterns: &SpinMatrix, c0: usize, kc: usize, j0: usize) {
        let (words, word, shift) = (patterns.words(), j0 / 64, j0 % 64);
        let all = patterns.as_words();
        for (k, v) in self.0.chunks_exact_mut(NR).take(kc).enumerate() {
            let bits = (all[(c0 + k) * words + word] >> shift) as usize;
            v[..8].copy_from_slice(&SIGNS[bits & 0xFF]);
            v[8..].copy_from_slice(&SIGNS[(bits >> 8) & 0xFF]);
        }
    }
}

crate::simd::multiversion! {
    /// `out[q][i] += Σ_μ w[q][μ]·ξ^μ_i` for `μ < patterns.rows()`, exactly.
    ///
    /// Callers guarantee: the weights are integers; each `weights[q]` holds
    /// at least `patterns.rows()` of them; `Σ|w[q][μ]|` over each aligned
    /// chunk of [`CHUNK`] patterns is at most [`CHUNK_LIMIT`]; each
    /// `outs[q]` holds `patterns.n()` integers and stays below `2^53` in
    /// magnitude.
    ///
    /// # Panics
    /// When the slices are shorter than stated or the counts differ.
    pub fn add_signed_sums(patterns: &SpinMatrix, weights: &[&[f32]], outs: &mut [&mut [f64]]) -> ()
    => add_signed_sums_body
}

/// The body of [`add_signed_sums`], compiled once per level (the sign
/// expansion and the float64 accumulation are plain loops).
#[inline(always)]
fn add_signed_sums_body(patterns: &SpinMatrix, weights: &[&[f32]], outs: &mut [&mut [f64]]) {
    let (n, p) = (patterns.n(), patterns.rows());
    assert_eq!(weights.len(), outs.len(), "one output per query");
    assert!(weights.iter().all(|w| w.len() >= p), "a weight per pattern");
    assert!(outs.iter().all(|o| o.len() == n), "an output per neuron");
    let fast = avx2();
    let mut panel = Panel(vec![0.0; CHUNK.min(p) * NR]);
    for c0 in (0..p).step_by(CHUNK) {
        let kc = CHUNK.min(p - c0);
        for j0 in (0..n).step_by(NR) {
            let cols = NR.min(n - j0);
            panel.expand(patterns, c0, kc, j0);
            let mut q0 = 0;
            while q0 < weights.len() {
                let rows = MR.min(weights.len() - q0);
                let (w, o) = (&weights[q0..q0 + rows], &mut outs[q0..q0 + rows]);
                let at = Tile {
                    c0,
                    kc,
                    j0,
                    cols,
                    fast,
                };
                match rows {
                    6 => at.run::<6>(w, &panel, o),
                    5 => at.run::<5>(w, &panel, o),
                    4 => at.run::<4>(w, &panel, o),
                    3 => at.run::<3>(w, &panel, o),
                    2 => at.run::<2>(w, &panel, o),
                    _ => at.run::<1>(w, &panel, o),
                }
                q0 += rows;
            }
        }
    }
}

/// Whether the AVX2 + FMA tile may run.
fn avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::{level, Level};
        matches!(level(), Level::Avx2 | Level::Avx512)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Where a register tile sits: patterns `c0..c0+kc`, neurons `j0..j0+cols`.
#[derive(Clone, Copy)]
struct Tile {
    c0: usize,
    kc: usize,
    j0: usize,
    cols: usize,
    fast: bool,
}

impl Tile {
    /// One tile of `M` queries.
    #[inline(always)]
    fn run<const M: usize>(self, weights: &[&[f32]], panel: &Panel, outs: &mut [&mut [f64]]) {
        let sums = if self.fast {
            #[cfg(target_arch = "x86_64")]
            {
                let w: [*const f32; M] =
                    std::array::from_fn(|r| weights[r][self.c0..self.c0 + self.kc].as_ptr());
                // SAFETY: avx2() checked the level, which never exceeds the
                // detected CPU; each w[r] holds kc floats, the panel 16·kc.
                unsafe { x86::tile::<M>(w, panel.0.as_ptr(), self.kc) }
            }
            #[cfg(not(target_arch = "x86_64"))]
            {
                unreachable!("no fast tile off x86-64")
            }
        } else {
            portable_tile::<M>(weights, self.c0, self.kc, panel)
        };
        for (out, sum) in outs.iter_mut().zip(&sums) {
            for (o, &s) in out[self.j0..self.j0 + self.cols].iter_mut().zip(sum) {
                *o += s as f64;
            }
        }
    }
}

/// The tile in plain float32 (products exact, sums exact by the bound).
fn portable_tile<const M: usize>(
    weights: &[&[f32]],
    c0: usize,
    kc: usize,
    panel: &Panel,
) -> [[f32; NR]; M] {
    let mut acc = [[0f32; NR]; M];
    for (k, x) in panel.0.chunks_exact(NR).take(kc).enumerate() {
        for r in 0..M {
            let w = weights[r][c0 + k];
            for l in 0..NR {
                acc[r][l] += w * x[l];
            }
        }
    }
    acc
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use crate::model::signed_sums::{MR, NR};
    use std::arch::x86_64::*;

    /// `Σ_k w[r][k]·panel[16k + l]` for `r < M`, `l < 16`, `k < kc`: 2·M
    /// accumulators, two panel loads and `M` broadcasts per pattern.
    ///
    /// # Safety
    /// AVX2 and FMA; each `w[r]` holds `kc` floats and `panel` `16·kc`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn tile<const M: usize>(
        w: [*const f32; M],
        panel: *const f32,
        kc: usize,
    ) -> [[f32; NR]; M] {
        debug_assert!(M <= MR);
        let mut acc = [[_mm256_setzero_ps(); 2]; M];
        for k in 0..kc {
            // SAFETY: 16k + 16 <= 16·kc floats of the panel.
            let (x0, x1) = unsafe {
                (
                    _mm256_loadu_ps(panel.add(NR * k)),
                    _mm256_loadu_ps(panel.add(NR * k + 8)),
                )
            };
            for r in 0..M {
                // SAFETY: k < kc floats of w[r].
                let b = unsafe { _mm256_set1_ps(*w[r].add(k)) };
                acc[r][0] = _mm256_fmadd_ps(b, x0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(b, x1, acc[r][1]);
            }
        }
        let mut out = [[0f32; NR]; M];
        for r in 0..M {
            // SAFETY: each row of `out` holds 16 floats.
            unsafe {
                _mm256_storeu_ps(out[r].as_mut_ptr(), acc[r][0]);
                _mm256_storeu_ps(out[r].as_mut_ptr().add(8), acc[r][1]);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Purpose};
    use crate::simd::{self, Level};

    /// `Σ_μ w[q][μ]·ξ^μ_i` in i64, one term at a time.
    fn scalar(xs: &[i8], p: usize, n: usize, w: &[Vec<f32>]) -> Vec<Vec<f64>> {
        w.iter()
            .map(|wq| {
                (0..n)
                    .map(|i| {
                        (0..p)
                            .map(|mu| wq[mu] as i64 * xs[mu * n + i] as i64)
                            .sum::<i64>() as f64
                    })
                    .collect()
            })
            .collect()
    }

    /// Weights at the bound: each chunk's magnitudes sum to 2^24 (or just
    /// below), with single terms up to 2^24 where a chunk holds one term.
    fn weights(seed: u64, q: usize, p: usize) -> Vec<Vec<f32>> {
        let mut r = rng::stream(seed, 0, Purpose::Noise);
        (0..q)
            .map(|_| {
                let mut w = vec![0f32; p];
                for chunk in w.chunks_mut(CHUNK) {
                    let len = chunk.len() as i64;
                    let mut left = CHUNK_LIMIT;
                    for (k, v) in chunk.iter_mut().enumerate() {
                        let fair = left / (len - k as i64);
                        let x = rng::below(&mut r, (2 * fair + 1) as u32) as i64;
                        let x = x.min(left);
                        left -= x;
                        let sign = if rng::below(&mut r, 2) == 1 { 1 } else { -1 };
                        *v = (sign * x) as f32;
                    }
                }
                w
            })
            .collect()
    }

    #[test]
    fn every_level_equals_the_scalar_sums_on_awkward_sizes() {
        for (q, p, n) in [
            (1usize, 1usize, 1usize),
            (7, 255, 17),
            (6, 256, 64),
            (13, 257, 100),
            (5, 600, 130),
            (2, 3, 15),
        ] {
            let mut r = rng::stream((q * p * n) as u64, 0, Purpose::Noise);
            let xs: Vec<i8> = (0..p * n)
                .map(|_| if rng::below(&mut r, 2) == 1 { 1 } else { -1 })
                .collect();
            let pats = SpinMatrix::from_spins(&xs, p, n).unwrap();
            let w = weights(p as u64, q, p);
            let want = scalar(&xs, p, n, &w);
            let before = simd::level();
            for level in [Level::Portable, Level::Popcnt, Level::Avx2, Level::Avx512] {
                simd::set_level(level);
                let refs: Vec<&[f32]> = w.iter().map(|x| &x[..]).collect();
                let mut got = vec![vec![0.5f64; n]; q];
                let mut outs: Vec<&mut [f64]> = got.iter_mut().map(|x| &mut x[..]).collect();
                add_signed_sums(&pats, &refs, &mut outs);
                for (g, wq) in got.iter().zip(&want) {
                    let added: Vec<f64> = wq.iter().map(|x| x + 0.5).collect();
                    assert_eq!(g, &added, "{level:?} q={q} p={p} n={n}");
                }
            }
            simd::set_level(before);
        }
    }

    #[test]
    fn a_chunk_at_the_limit_is_exact() {
        // One full chunk of terms at TERM_LIMIT: its sum is exactly 2^24.
        let (p, n) = (CHUNK, 16);
        let xs = vec![1i8; p * n];
        let pats = SpinMatrix::from_spins(&xs, p, n).unwrap();
        let w: Vec<f32> = (0..p).map(|_| TERM_LIMIT as f32).collect();
        let mut out = vec![0f64; n];
        add_signed_sums(&pats, &[&w], &mut [&mut out]);
        assert!(out.iter().all(|&x| x == CHUNK_LIMIT as f64));
    }
}
