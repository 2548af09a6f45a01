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
//! The fields stay exact in 32 bits: `|A_i| ≤ P·N ≤ 127·2048`. Usually they
//! are far smaller, and then are kept as 16-bit integers, which halves the
//! cost of a row: a flip moves a field by at most `2P`, so the fields stay
//! within 16 bits while `max|A| + 2P·rows ≤ 32767` (the *headroom*, counted
//! down by the caller and recounted from the exact fields when it runs out;
//! fields that outgrow 16 bits go back to 32). A synchronous step adds the
//! rows of all its flips at once ([`add_rows16`]), each field loaded once.

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

/// The largest field magnitude that 16-bit tracked fields hold.
pub(crate) const NARROW_MAX: usize = i16::MAX as usize;

/// Rows of `p` patterns that fields of largest magnitude `max` can take
/// and stay within 16 bits: `⌊(32767 − max) / 2p⌋` (each row moves a field
/// by `2·|N·W_ij| ≤ 2p`), 0 where `max` is beyond.
#[inline(always)]
pub(crate) fn headroom(max: usize, p: usize) -> usize {
    NARROW_MAX.saturating_sub(max) / (2 * p.max(1))
}

/// `fields += 2·sign·row` (`sign` = ±1) in 16 bits. Wrapping arithmetic:
/// the result is exact where it fits 16 bits, which the caller's headroom
/// guarantees.
#[inline(always)]
pub(crate) fn add_row16(fields: &mut [i16], row: &[i8], sign: i32) {
    if sign > 0 {
        for (a, &w) in fields.iter_mut().zip(row) {
            *a = a.wrapping_add(2 * w as i16);
        }
    } else {
        for (a, &w) in fields.iter_mut().zip(row) {
            *a = a.wrapping_sub(2 * w as i16);
        }
    }
}

/// Neurons per chunk of [`add_rows16`]: eight 16-lane registers of sums.
const CHUNK: usize = 128;

/// `fields += 2·Σ sign·row_j` over the flips `(j, sign)` (rows of the
/// `n × n` byte weights `weights`), in 16 bits: chunk by chunk, the rows'
/// sum is gathered in registers and each field loaded and stored once.
/// Wrapping arithmetic, exact where the results fit 16 bits (the caller's
/// headroom); partial sums may wrap on the way without harm (modular sums).
#[inline(always)]
pub(crate) fn add_rows16(fields: &mut [i16], weights: &[i8], n: usize, flips: &[(u32, i32)]) {
    if let [(j, sign)] = flips {
        let j = *j as usize;
        add_row16(fields, &weights[j * n..(j + 1) * n], *sign);
        return;
    }
    let full = n / CHUNK * CHUNK;
    for (c, f) in fields[..full].chunks_exact_mut(CHUNK).enumerate() {
        let first = c * CHUNK;
        let mut sum = [0i16; CHUNK];
        for &(j, sign) in flips {
            let at = j as usize * n + first;
            let row: &[i8; CHUNK] = match weights[at..at + CHUNK].try_into() {
                Ok(row) => row,
                Err(_) => unreachable!("a whole chunk"),
            };
            if sign > 0 {
                for (s, &w) in sum.iter_mut().zip(row) {
                    *s = s.wrapping_add(w as i16);
                }
            } else {
                for (s, &w) in sum.iter_mut().zip(row) {
                    *s = s.wrapping_sub(w as i16);
                }
            }
        }
        for (a, &s) in f.iter_mut().zip(&sum) {
            *a = a.wrapping_add(s.wrapping_mul(2));
        }
    }
    for &(j, sign) in flips {
        let j = j as usize;
        add_row16(
            &mut fields[full..],
            &weights[j * n + full..(j + 1) * n],
            sign,
        );
    }
}

/// `Σ_i s_i·A_i` of the fields `fields` at the packed spins `state`:
/// `2·Σ_{s_i = +1} A_i − Σ_i A_i`.
#[inline(always)]
pub(crate) fn spin_sum<T: Copy + Into<i32>>(fields: &[T], state: &[u64]) -> i64 {
    let all: i64 = fields.iter().map(|&a| a.into() as i64).sum();
    let mut plus = 0i64;
    for (chunk, &spins) in fields.chunks(64).zip(state) {
        let mut bits = spins;
        while bits != 0 {
            plus += chunk[bits.trailing_zeros() as usize].into() as i64;
            bits &= bits - 1;
        }
    }
    2 * plus - all
}

/// [`spin_sum`] of 16-bit fields.
#[inline(always)]
pub(crate) fn spin_sum16(fields: &[i16], state: &[u64]) -> i64 {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::{level, Level};
        if level() >= Level::Avx2 {
            // SAFETY: level() never exceeds the detected instruction set.
            return unsafe { x86::spin_sum16_avx2(fields, state) };
        }
    }
    spin_sum(fields, state)
}

/// The largest `|A_i|` of 16-bit fields.
#[inline(always)]
pub(crate) fn max_abs16(fields: &[i16]) -> usize {
    fields.iter().map(|a| a.unsigned_abs()).max().unwrap_or(0) as usize
}

/// The largest `|A_i|` of 32-bit fields.
#[inline(always)]
pub(crate) fn max_abs32(fields: &[i32]) -> usize {
    fields.iter().map(|a| a.unsigned_abs()).max().unwrap_or(0) as usize
}

/// [`disagree`] of 16-bit fields.
#[inline(always)]
pub(crate) fn disagree16(fields: &[i16], state: &[u64], mask: &mut [u64]) {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::{level, Level};
        if level() >= Level::Avx2 {
            // SAFETY: level() never exceeds the detected instruction set.
            unsafe { x86::disagree16_avx2(fields, state, mask) };
            return;
        }
    }
    disagree_portable(fields, state, mask);
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
fn disagree_portable<T: Copy + Into<i32>>(fields: &[T], state: &[u64], mask: &mut [u64]) {
    for ((word, &spins), chunk) in mask.iter_mut().zip(state).zip(fields.chunks(64)) {
        *word = disagree_word(chunk, spins);
    }
}

/// [`disagree`] of one word's neurons (up to 64).
#[inline(always)]
fn disagree_word<T: Copy + Into<i32>>(chunk: &[T], spins: u64) -> u64 {
    let (mut plus, mut minus) = (0u64, 0u64);
    for (b, &a) in chunk.iter().enumerate() {
        let a: i32 = a.into();
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

    /// [`disagree16`](crate::model::hebbian::rows::disagree16) with AVX2:
    /// the signs of 16 fields per compare, two compares packed to bytes in
    /// neuron order and gathered by `movemask`.
    ///
    /// # Safety
    /// Needs AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn disagree16_avx2(fields: &[i16], state: &[u64], mask: &mut [u64]) {
        for ((word, &spins), chunk) in mask.iter_mut().zip(state).zip(fields.chunks(64)) {
            if chunk.len() < 64 {
                *word = disagree_word(chunk, spins);
                continue;
            }
            // SAFETY: the chunk holds 64 fields, 32 from each start.
            let (up0, down0) = unsafe { signs32(chunk.as_ptr()) };
            let (up1, down1) = unsafe { signs32(chunk.as_ptr().add(32)) };
            let (plus, minus) = (up0 | up1 << 32, down0 | down1 << 32);
            *word = (plus & !spins) | (minus & spins);
        }
    }

    /// [`spin_sum16`](crate::model::hebbian::rows::spin_sum16) with AVX2:
    /// 16 fields at a time negated where their spin is −1 (`psignw`; no
    /// field is −32768) and summed in 32-bit lanes (exact: `N ≤ 2048`
    /// fields of at most 32767).
    ///
    /// # Safety
    /// Needs AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn spin_sum16_avx2(fields: &[i16], state: &[u64]) -> i64 {
        let select = _mm256_setr_epi16(
            1,
            2,
            4,
            8,
            16,
            32,
            64,
            128,
            256,
            512,
            1024,
            2048,
            4096,
            8192,
            16384,
            i16::MIN,
        );
        let (zero, ones) = (_mm256_setzero_si256(), _mm256_set1_epi16(1));
        let mut acc = _mm256_setzero_si256();
        let full = fields.len() / 16;
        for g in 0..full {
            let bits = (state[g / 4] >> (16 * (g % 4))) as u16 as i16;
            let minus = _mm256_cmpeq_epi16(_mm256_and_si256(_mm256_set1_epi16(bits), select), zero);
            // −1 where the spin is −1, +1 where it is +1.
            let sign = _mm256_or_si256(minus, ones);
            // SAFETY: 16g + 16 ≤ fields.len().
            let a = unsafe { _mm256_loadu_si256(fields.as_ptr().add(16 * g) as *const __m256i) };
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_sign_epi16(a, sign), ones));
        }
        let mut lanes = [0i32; 8];
        // SAFETY: eight i32.
        unsafe { _mm256_storeu_si256(lanes.as_mut_ptr() as *mut __m256i, acc) };
        let mut sum: i64 = lanes.iter().map(|&x| x as i64).sum();
        for i in 16 * full..fields.len() {
            let plus = (state[i / 64] >> (i % 64)) & 1 == 1;
            sum += if plus {
                fields[i] as i64
            } else {
                -(fields[i] as i64)
            };
        }
        sum
    }

    /// The neurons among the 32 16-bit fields at `at` whose field is
    /// positive, and those whose field is negative, as bits in neuron order.
    ///
    /// # Safety
    /// Needs AVX2; 32 fields readable from `at`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn signs32(at: *const i16) -> (u64, u64) {
        let zero = _mm256_setzero_si256();
        // SAFETY: the caller's 32 fields.
        let (a, b) = unsafe {
            (
                _mm256_loadu_si256(at as *const __m256i),
                _mm256_loadu_si256(at.add(16) as *const __m256i),
            )
        };
        // packs interleaves the 128-bit halves ([a0-7 b0-7 a8-15 b8-15] as
        // bytes); the permute puts them back in neuron order.
        let up = _mm256_packs_epi16(_mm256_cmpgt_epi16(a, zero), _mm256_cmpgt_epi16(b, zero));
        let down = _mm256_packs_epi16(_mm256_cmpgt_epi16(zero, a), _mm256_cmpgt_epi16(zero, b));
        let up = _mm256_permute4x64_epi64(up, 0b11_01_10_00);
        let down = _mm256_permute4x64_epi64(down, 0b11_01_10_00);
        (
            _mm256_movemask_epi8(up) as u32 as u64,
            _mm256_movemask_epi8(down) as u32 as u64,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{self, Level};

    #[test]
    fn disagreements_equal_the_sign_test_at_every_level() {
        for n in [1usize, 63, 64, 65, 200, 1024] {
            // Small values around zero, and large ones near the 16-bit ends.
            let fields: Vec<i32> = (0..n)
                .map(|i| ((i * 7919) % 11) as i32 - 5)
                .map(|a| if a.abs() == 4 { a * 8191 } else { a })
                .collect();
            let narrow: Vec<i16> = fields.iter().map(|&a| a as i16).collect();
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
                let mut mask = vec![u64::MAX; state.len()];
                disagree16(&narrow, &state, &mut mask);
                assert_eq!(mask, expect, "n={n} at {used:?}, 16-bit fields");
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

    /// The rows of many flips added at once in 16 bits equal the rows added
    /// one by one in 32 bits, at every level, where the results fit (the
    /// partial sums may wrap on the way).
    #[test]
    fn rows_added_together_equal_rows_added_alone() {
        for n in [1usize, 63, 64, 130, 1024] {
            let weights: Vec<i8> = (0..n * n)
                .map(|k| ((k * 2654435761) % 255) as i32 - 127)
                .map(|w| w as i8)
                .collect();
            let start: Vec<i32> = (0..n).map(|i| (i as i32 * 37) % 4001 - 2000).collect();
            for count in [1usize, 2, 5, 70, 200] {
                let flips: Vec<(u32, i32)> = (0..count)
                    .map(|k| (((k * 7919) % n) as u32, if k % 3 == 0 { -1 } else { 1 }))
                    .collect();
                let mut expect = start.clone();
                for &(j, sign) in &flips {
                    let j = j as usize;
                    add_row(&mut expect, &weights[j * n..(j + 1) * n], sign);
                }
                for cap in [Level::Portable, Level::Avx2, Level::Avx512] {
                    let used = simd::set_level(cap);
                    let mut narrow: Vec<i16> = start.iter().map(|&a| a as i16).collect();
                    add_rows16(&mut narrow, &weights, n, &flips);
                    for (i, (&got, &want)) in narrow.iter().zip(&expect).enumerate() {
                        if want.unsigned_abs() as usize <= NARROW_MAX {
                            assert_eq!(got as i32, want, "n={n} {count} rows at {used:?}, {i}");
                        }
                    }
                    assert_eq!(
                        max_abs16(&narrow),
                        max_abs32(&narrow.iter().map(|&a| a as i32).collect::<Vec<_>>())
                    );
                }
                simd::set_level(Level::Avx512);
            }
        }
        assert_eq!(headroom(32767 - 204, 102), 1);
        // The spin sums of 16- and 32-bit fields equal the plain sum.
        for n in [1usize, 15, 16, 17, 64, 100, 1024, 2048] {
            let fields: Vec<i32> = (0..n)
                .map(|i| ((i * 7919) % 65535) as i32 - 32767)
                .collect();
            let narrow: Vec<i16> = fields.iter().map(|&a| a as i16).collect();
            let mut state: Vec<u64> = (0..n.div_ceil(64))
                .map(|w| 0x9E37_79B9_7F4A_7C15u64.rotate_left(3 * w as u32))
                .collect();
            if n % 64 != 0 {
                // Packed states keep their padding bits clear.
                *state.last_mut().unwrap() &= (1u64 << (n % 64)) - 1;
            }
            let expect: i64 = (0..n)
                .map(|i| match (state[i / 64] >> (i % 64)) & 1 {
                    1 => fields[i] as i64,
                    _ => -(fields[i] as i64),
                })
                .sum();
            assert_eq!(spin_sum(&fields, &state), expect, "n={n}");
            for cap in [Level::Portable, Level::Avx2, Level::Avx512] {
                let used = simd::set_level(cap);
                assert_eq!(spin_sum16(&narrow, &state), expect, "n={n} at {used:?}");
            }
            simd::set_level(Level::Avx512);
        }
        assert_eq!(headroom(32767 - 203, 102), 0);
        assert_eq!(headroom(40000, 102), 0);
    }
}
