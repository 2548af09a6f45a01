//! Hand-vectorised kernels for the innermost loops, with a portable loop
//! that every version must equal exactly (integer arithmetic only).
//!
//! Each public function checks [`simd::level`](crate::simd::level) (an
//! atomic load) and calls the matching `#[target_feature]` body; inside the
//! multiversioned drivers those bodies are inlined.

/// `Σ a_k·b_k` of two equally long `i16` slices in wrapping 32-bit
/// arithmetic. Callers bound the length so that the exact sum fits.
#[inline(always)]
pub fn dot_i16(a: &[i16], b: &[i16]) -> i32 {
    debug_assert_eq!(a.len(), b.len());
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::{level, Level};
        if a.len().is_multiple_of(32) && a.len() == b.len() {
            match level() {
                // SAFETY: level() never exceeds the detected instruction set,
                // and the lengths are equal multiples of 32.
                Level::Avx512 => return unsafe { x86::dot_i16_avx512(a, b) },
                // SAFETY: as above.
                Level::Avx2 => return unsafe { x86::dot_i16_avx2(a, b) },
                _ => {}
            }
        }
    }
    dot_i16_portable(a, b)
}

/// The portable reference of [`dot_i16`].
#[inline(always)]
pub fn dot_i16_portable(a: &[i16], b: &[i16]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as i32).wrapping_mul(y as i32))
        .fold(0i32, i32::wrapping_add)
}

/// Four dot products `Σ a_q[k]·b[k]` sharing `b` (each `a_q` as long as
/// `b`), in wrapping 32-bit arithmetic: `b` is loaded once for all four.
#[inline(always)]
pub fn dot4_i16(a: [&[i16]; 4], b: &[i16]) -> [i32; 4] {
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::{level, Level};
        if b.len().is_multiple_of(32) && a.iter().all(|x| x.len() == b.len()) {
            match level() {
                // SAFETY: level() never exceeds the detected instruction set,
                // and the lengths are equal multiples of 32.
                Level::Avx512 => return unsafe { x86::dot4_i16_avx512(a, b) },
                // SAFETY: as above.
                Level::Avx2 => return unsafe { x86::dot4_i16_avx2(a, b) },
                _ => {}
            }
        }
    }
    a.map(|x| dot_i16_portable(x, b))
}

#[cfg(target_arch = "x86_64")]
pub(crate) mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// Needs AVX-512 BW; `a.len() == b.len()`, a multiple of 32.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub unsafe fn dot_i16_avx512(a: &[i16], b: &[i16]) -> i32 {
        let mut acc0 = _mm512_setzero_si512();
        let mut acc1 = _mm512_setzero_si512();
        let chunks = a.len() / 32;
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut k = 0;
        while k + 1 < chunks {
            // SAFETY: k + 1 < chunks, so both 32-lane loads are in bounds.
            let (x0, y0, x1, y1) = unsafe {
                (
                    _mm512_loadu_si512(pa.add(32 * k) as *const _),
                    _mm512_loadu_si512(pb.add(32 * k) as *const _),
                    _mm512_loadu_si512(pa.add(32 * k + 32) as *const _),
                    _mm512_loadu_si512(pb.add(32 * k + 32) as *const _),
                )
            };
            acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(x0, y0));
            acc1 = _mm512_add_epi32(acc1, _mm512_madd_epi16(x1, y1));
            k += 2;
        }
        if k < chunks {
            // SAFETY: k < chunks.
            let (x, y) = unsafe {
                (
                    _mm512_loadu_si512(pa.add(32 * k) as *const _),
                    _mm512_loadu_si512(pb.add(32 * k) as *const _),
                )
            };
            acc0 = _mm512_add_epi32(acc0, _mm512_madd_epi16(x, y));
        }
        _mm512_reduce_add_epi32(_mm512_add_epi32(acc0, acc1))
    }

    /// # Safety
    /// Needs AVX-512 BW; every `a[q].len() == b.len()`, a multiple of 32.
    #[target_feature(enable = "avx512f,avx512bw")]
    #[inline]
    pub unsafe fn dot4_i16_avx512(a: [&[i16]; 4], b: &[i16]) -> [i32; 4] {
        let mut acc = [_mm512_setzero_si512(); 4];
        let pb = b.as_ptr();
        for k in (0..b.len()).step_by(32) {
            // SAFETY: k + 32 <= b.len() == a[q].len().
            let y = unsafe { _mm512_loadu_si512(pb.add(k) as *const _) };
            for q in 0..4 {
                // SAFETY: as above.
                let x = unsafe { _mm512_loadu_si512(a[q].as_ptr().add(k) as *const _) };
                acc[q] = _mm512_add_epi32(acc[q], _mm512_madd_epi16(x, y));
            }
        }
        reduce4_avx512(acc)
    }

    /// The four horizontal sums of `acc`, sharing the shuffles.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub(crate) fn reduce4_avx512(acc: [__m512i; 4]) -> [i32; 4] {
        // Interleave and add pairwise until each 128-bit lane holds partial
        // sums of [acc0, acc1, acc2, acc3], then add the four lanes.
        let t0 = _mm512_add_epi32(
            _mm512_unpacklo_epi32(acc[0], acc[1]),
            _mm512_unpackhi_epi32(acc[0], acc[1]),
        );
        let t1 = _mm512_add_epi32(
            _mm512_unpacklo_epi32(acc[2], acc[3]),
            _mm512_unpackhi_epi32(acc[2], acc[3]),
        );
        let u = _mm512_add_epi32(_mm512_unpacklo_epi64(t0, t1), _mm512_unpackhi_epi64(t0, t1));
        let halves = _mm256_add_epi32(_mm512_castsi512_si256(u), _mm512_extracti64x4_epi64(u, 1));
        let quarter = _mm_add_epi32(
            _mm256_castsi256_si128(halves),
            _mm256_extracti128_si256(halves, 1),
        );
        let mut out = [0i32; 4];
        // SAFETY: `out` holds exactly four i32.
        unsafe { _mm_storeu_si128(out.as_mut_ptr() as *mut __m128i, quarter) };
        out
    }

    /// # Safety
    /// Needs AVX2; every `a[q].len() == b.len()`, a multiple of 16.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn dot4_i16_avx2(a: [&[i16]; 4], b: &[i16]) -> [i32; 4] {
        let mut acc = [_mm256_setzero_si256(); 4];
        let pb = b.as_ptr();
        for k in (0..b.len()).step_by(16) {
            // SAFETY: k + 16 <= b.len() == a[q].len().
            let y = unsafe { _mm256_loadu_si256(pb.add(k) as *const _) };
            for q in 0..4 {
                // SAFETY: as above.
                let x = unsafe { _mm256_loadu_si256(a[q].as_ptr().add(k) as *const _) };
                acc[q] = _mm256_add_epi32(acc[q], _mm256_madd_epi16(x, y));
            }
        }
        acc.map(|v| hsum_avx2(v))
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn hsum_avx2(acc: __m256i) -> i32 {
        let sum = _mm_add_epi32(
            _mm256_castsi256_si128(acc),
            _mm256_extracti128_si256(acc, 1),
        );
        let sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0b01_00_11_10));
        let sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0b10_11_00_01));
        _mm_cvtsi128_si32(sum)
    }

    /// # Safety
    /// Needs AVX2; `a.len() == b.len()`, a multiple of 16.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn dot_i16_avx2(a: &[i16], b: &[i16]) -> i32 {
        let mut acc0 = _mm256_setzero_si256();
        let mut acc1 = _mm256_setzero_si256();
        let chunks = a.len() / 16;
        let (pa, pb) = (a.as_ptr(), b.as_ptr());
        let mut k = 0;
        while k + 1 < chunks {
            // SAFETY: k + 1 < chunks, so both 16-lane loads are in bounds.
            let (x0, y0, x1, y1) = unsafe {
                (
                    _mm256_loadu_si256(pa.add(16 * k) as *const _),
                    _mm256_loadu_si256(pb.add(16 * k) as *const _),
                    _mm256_loadu_si256(pa.add(16 * k + 16) as *const _),
                    _mm256_loadu_si256(pb.add(16 * k + 16) as *const _),
                )
            };
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x0, y0));
            acc1 = _mm256_add_epi32(acc1, _mm256_madd_epi16(x1, y1));
            k += 2;
        }
        if k < chunks {
            // SAFETY: k < chunks.
            let (x, y) = unsafe {
                (
                    _mm256_loadu_si256(pa.add(16 * k) as *const _),
                    _mm256_loadu_si256(pb.add(16 * k) as *const _),
                )
            };
            acc0 = _mm256_add_epi32(acc0, _mm256_madd_epi16(x, y));
        }
        let acc = _mm256_add_epi32(acc0, acc1);
        let sum = _mm_add_epi32(
            _mm256_castsi256_si128(acc),
            _mm256_extracti128_si256(acc, 1),
        );
        let sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0b01_00_11_10));
        let sum = _mm_add_epi32(sum, _mm_shuffle_epi32(sum, 0b10_11_00_01));
        _mm_cvtsi128_si32(sum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Purpose};
    use crate::simd::{self, Level};

    fn values(seed: u64, len: usize, bound: u32) -> Vec<i16> {
        let mut r = rng::stream(seed, 0, Purpose::Noise);
        (0..len)
            .map(|_| (rng::below(&mut r, 2 * bound + 1) as i32 - bound as i32) as i16)
            .collect()
    }

    #[test]
    fn every_level_equals_the_portable_dot() {
        for len in [32usize, 64, 96, 128, 1024] {
            let a = values(len as u64, len, 20_000);
            let b = values(len as u64 + 1, len, 1);
            let expect = dot_i16_portable(&a, &b);
            for cap in [Level::Portable, Level::Popcnt, Level::Avx2, Level::Avx512] {
                let used = simd::set_level(cap);
                assert_eq!(dot_i16(&a, &b), expect, "len {len} at {used:?}");
                let others = [
                    values(1, len, 300),
                    values(2, len, 9),
                    a.clone(),
                    values(3, len, 32_767),
                ];
                let four = dot4_i16([&others[0], &others[1], &others[2], &others[3]], &b);
                for q in 0..4 {
                    assert_eq!(
                        four[q],
                        dot_i16_portable(&others[q], &b),
                        "dot4 {q}, len {len} at {used:?}"
                    );
                }
            }
        }
        simd::set_level(Level::Avx512);
    }
}
