//! Exact fields tracked through flips by rows of the integer weights held
//! as bytes.
//!
//! With at most 127 patterns every integer weight `N·W_ij = Σ_μ ξ^μ_i ξ^μ_j`
//! fits a byte, so the N×N weights take `N²` bytes. A flip of neuron `j`
//! to `s` then changes every integer field by `2·s·N·W_ij`: one row of
//! bytes added to 32-bit fields, `N/8` vector additions, where the bit
//! planes need `N·⌈P/64⌉` popcounts. With the fields kept exact this way,
//! an asynchronous sweep reads each decision instead of computing a dot
//! product, and a synchronous step with few flips costs a few rows instead
//! of a full field computation.
//!
//! The fields stay exact in 32 bits: `|A_i| ≤ P·N ≤ 127·2048`.

use crate::error::{try_filled, Result};

/// Most neurons for the byte weights: `N²` bytes stay within 4 MiB, near
/// the cache, where streaming a row stays cheap.
pub(crate) const MAX_N: usize = 2048;

/// Queries a layout serves before it builds the byte weights (about the
/// cost of 20 synchronous queries at N = 1024), so that a call with a few
/// queries never pays for them.
pub(crate) const AFTER: usize = 64;

/// Whether the integer weights of `p` patterns fit bytes and `n` neurons
/// the size limit.
pub(crate) fn fit(n: usize, p: usize) -> bool {
    (1..=i8::MAX as usize).contains(&p) && n <= MAX_N
}

/// The integer weights `N·W` (row-major N×N, zero diagonal) as bytes, from
/// the bit planes of the patterns (`planes.len() / n` words per neuron,
/// padding bits zero): `N·W_ij = P − 2·Σ_w popcount(plane_i ⊕ plane_j)`.
///
/// # Errors
/// `Memory` when `N²` bytes cannot be allocated.
pub(crate) fn build(planes: &[u64], n: usize, p: usize) -> Result<Vec<i8>> {
    debug_assert!(fit(n, p));
    let mut w = try_filled("the byte weights", n * n, 0i8)?;
    build_rows(planes, n, p, &mut w);
    Ok(w)
}

#[inline(always)]
fn build_body(planes: &[u64], n: usize, p: usize, w: &mut [i8]) {
    let words = planes.len() / n.max(1);
    let mut hamming = vec![0u32; n];
    for (j, row) in w.chunks_exact_mut(n).enumerate() {
        for (k, plane) in planes.chunks_exact(n).take(words).enumerate() {
            let pj = plane[j];
            if k == 0 {
                for (h, &pi) in hamming.iter_mut().zip(plane) {
                    *h = (pi ^ pj).count_ones();
                }
            } else {
                for (h, &pi) in hamming.iter_mut().zip(plane) {
                    *h += (pi ^ pj).count_ones();
                }
            }
        }
        for (x, &h) in row.iter_mut().zip(&hamming) {
            *x = (p as i32 - 2 * h as i32) as i8;
        }
        row[j] = 0;
    }
}

crate::simd::multiversion! {
    /// The rows of [`build`], compiled for each level (popcounts).
    fn build_rows(planes: &[u64], n: usize, p: usize, w: &mut [i8]) -> ()
    => build_body
}

/// `fields += 2·sign·row` (`sign` = ±1): the change of every integer field
/// when the neuron of `row` flips to `sign`.
#[inline(always)]
pub(crate) fn add_row(fields: &mut [i32], row: &[i8], sign: i32) {
    if sign > 0 {
        for (a, &w) in fields.iter_mut().zip(row) {
            *a += 2 * w as i32;
        }
    } else {
        for (a, &w) in fields.iter_mut().zip(row) {
            *a -= 2 * w as i32;
        }
    }
}

/// The neurons whose integer field disagrees with their spin, as a bit
/// mask (`mask.len()` = `state.len()` words, `fields` one per neuron):
/// `A_i > 0` at a −1 spin or `A_i < 0` at a +1 spin. Zero thresholds only.
#[inline(always)]
pub(crate) fn disagree(fields: &[i32], state: &[u64], mask: &mut [u64]) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::{level, Level};
        if level() >= Level::Avx2 {
            // SAFETY: level() never exceeds the detected instruction set.
            unsafe { x86::disagree_avx2(fields, state, mask) };
            return;
        }
    }
    disagree_portable(fields, state, mask);
}

/// The portable reference of [`disagree`].
#[inline(always)]
fn disagree_portable(fields: &[i32], state: &[u64], mask: &mut [u64]) {
    for ((word, &spins), chunk) in mask.iter_mut().zip(state).zip(fields.chunks(64)) {
        *word = disagree_word(chunk, spins);
    }
}

/// [`disagree`] of one word's neurons (up to 64).
#[inline(always)]
fn disagree_word(chunk: &[i32], spins: u64) -> u64 {
    let (mut plus, mut minus) = (0u64, 0u64);
    for (b, &a) in chunk.iter().enumerate() {
        plus |= ((a > 0) as u64) << b;
        minus |= ((a < 0) as u64) << b;
    }
    (plus & !spins) | (minus & spins)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    // By the full path: the layer check reads `super` here as the parent.
    use crate::model::hebbian::rows::disagree_word;
    use std::arch::x86_64::*;

    /// [`disagree`](crate::model::hebbian::rows::disagree) with AVX2: the
    /// signs of eight fields per compare, gathered by `movemask`.
    ///
    /// # Safety
    /// Needs AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn disagree_avx2(fields: &[i32], state: &[u64], mask: &mut [u64]) {
        let zero = _mm256_setzero_si256();
        for ((word, &spins), chunk) in mask.iter_mut().zip(state).zip(fields.chunks(64)) {
            if chunk.len() < 64 {
                *word = disagree_word(chunk, spins);
                continue;
            }
            let (mut plus, mut minus) = (0u64, 0u64);
            for k in 0..8 {
                // SAFETY: the chunk holds 64 fields; 8k + 8 ≤ 64.
                let a = unsafe { _mm256_loadu_si256(chunk.as_ptr().add(8 * k) as *const __m256i) };
                let up = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(a, zero)));
                let down = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(zero, a)));
                plus |= (up as u32 as u64) << (8 * k);
                minus |= (down as u32 as u64) << (8 * k);
            }
            *word = (plus & !spins) | (minus & spins);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{self, Level};

    #[test]
    fn disagreements_equal_the_sign_test_at_every_level() {
        for n in [1usize, 63, 64, 65, 200, 1024] {
            let fields: Vec<i32> = (0..n).map(|i| ((i * 7919) % 11) as i32 - 5).collect();
            let mut state: Vec<u64> = (0..n.div_ceil(64))
                .map(|w| 0x9E37_79B9_7F4A_7C15u64.rotate_left(w as u32))
                .collect();
            if n % 64 != 0 {
                *state.last_mut().unwrap() &= (1u64 << (n % 64)) - 1;
            }
            let mut expect = vec![0u64; state.len()];
            for i in 0..n {
                let plus = (state[i / 64] >> (i % 64)) & 1 == 1;
                let a = fields[i];
                if (a > 0 && !plus) || (a < 0 && plus) {
                    expect[i / 64] |= 1 << (i % 64);
                }
            }
            for cap in [Level::Portable, Level::Avx2, Level::Avx512] {
                let used = simd::set_level(cap);
                let mut mask = vec![u64::MAX; state.len()];
                disagree(&fields, &state, &mut mask);
                assert_eq!(mask, expect, "n={n} at {used:?}");
            }
            simd::set_level(Level::Avx512);
        }
    }

    #[test]
    fn byte_weights_are_the_integer_hebbian_weights() {
        let (n, p) = (70usize, 5usize);
        let xi: Vec<i32> = (0..p * n)
            .map(|k| if (k * 2654435761) % 7 < 3 { 1 } else { -1 })
            .collect();
        // Planes: bit μ of word i = [ξ^μ_i = +1].
        let planes: Vec<u64> = (0..n)
            .map(|i| (0..p).map(|mu| ((xi[mu * n + i] > 0) as u64) << mu).sum())
            .collect();
        let w = build(&planes, n, p).unwrap();
        for i in 0..n {
            for j in 0..n {
                let expect: i32 = if i == j {
                    0
                } else {
                    (0..p).map(|mu| xi[mu * n + i] * xi[mu * n + j]).sum()
                };
                assert_eq!(w[i * n + j] as i32, expect, "({i}, {j})");
            }
        }
        let mut fields = vec![3i32; n];
        add_row(&mut fields, &w[2 * n..3 * n], -1);
        assert_eq!(fields[5], 3 - 2 * w[2 * n + 5] as i32);
    }
}
