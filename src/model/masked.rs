//! Masked sums: `Σ_μ h_μ` over the patterns `μ` whose bit is set in a
//! bit-packed mask. This is the innermost loop of the dense associative
//! memory: one neuron's decision is one masked sum over the patterns, with
//! the mask taken straight from the neuron's bit plane of the patterns.
//!
//! Integer arithmetic only, so every version equals the portable loop
//! exactly; callers bound the values so that no partial sum overflows.

/// `Σ h[64w + b]` over the set bits `b` of `mask[w] ^ invert`, for
/// `h.len() == 64 · mask.len()`.
#[inline(always)]
pub fn sum_i64(h: &[i64], mask: &[u64], invert: u64) -> i64 {
    debug_assert_eq!(h.len(), mask.len() * 64);
    #[cfg(target_arch = "x86_64")]
    {
        use crate::simd::{level, Level};
        if h.len() == mask.len() * 64 {
            match level() {
                // SAFETY: level() never exceeds the detected instruction set,
                // and h holds 64 values per mask word.
                Level::Avx512 => return unsafe { x86::sum_i64_avx512(h, mask, invert) },
                // SAFETY: as above.
                Level::Avx2 => return unsafe { x86::sum_i64_avx2(h, mask, invert) },
                _ => {}
            }
        }
    }
    sum_i64_portable(h, mask, invert)
}

/// The portable reference of [`sum_i64`].
#[inline(always)]
pub fn sum_i64_portable(h: &[i64], mask: &[u64], invert: u64) -> i64 {
    let mut acc = 0i64;
    for (hw, &bits) in h.chunks_exact(64).zip(mask) {
        let bits = bits ^ invert;
        for (k, &x) in hw.iter().enumerate() {
            acc = acc.wrapping_add(x & (((bits >> k) & 1) as i64).wrapping_neg());
        }
    }
    acc
}

/// [`sum_i64`] in 128-bit arithmetic (for polynomial energies whose terms
/// do not fit 64 bits); a plain loop over the set bits.
#[inline(always)]
pub fn sum_i128(h: &[i128], mask: &[u64], invert: u64) -> i128 {
    let mut acc = 0i128;
    for (w, &bits) in mask.iter().enumerate() {
        let mut bits = bits ^ invert;
        while bits != 0 {
            acc += h[64 * w + bits.trailing_zeros() as usize];
            bits &= bits - 1;
        }
    }
    acc
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// # Safety
    /// Needs AVX-512 F; `h.len() == 64 · mask.len()`.
    #[target_feature(enable = "avx512f")]
    #[inline]
    pub unsafe fn sum_i64_avx512(h: &[i64], mask: &[u64], invert: u64) -> i64 {
        // Eight accumulators, one per 8-lane slice of a 64-pattern word, so
        // the masked adds of a word are independent of each other.
        let mut acc = [_mm512_setzero_si512(); 8];
        let ph = h.as_ptr();
        for (w, &bits) in mask.iter().enumerate() {
            let bits = bits ^ invert;
            for (j, a) in acc.iter_mut().enumerate() {
                // SAFETY: 64w + 8j + 8 <= 64 · mask.len() == h.len().
                let v = unsafe { _mm512_loadu_si512(ph.add(64 * w + 8 * j) as *const _) };
                *a = _mm512_mask_add_epi64(*a, (bits >> (8 * j)) as u8, *a, v);
            }
        }
        let s01 = _mm512_add_epi64(acc[0], acc[1]);
        let s23 = _mm512_add_epi64(acc[2], acc[3]);
        let s45 = _mm512_add_epi64(acc[4], acc[5]);
        let s67 = _mm512_add_epi64(acc[6], acc[7]);
        let s = _mm512_add_epi64(_mm512_add_epi64(s01, s23), _mm512_add_epi64(s45, s67));
        _mm512_reduce_add_epi64(s)
    }

    /// # Safety
    /// Needs AVX2; `h.len() == 64 · mask.len()`.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub unsafe fn sum_i64_avx2(h: &[i64], mask: &[u64], invert: u64) -> i64 {
        let lanes = _mm256_set_epi64x(8, 4, 2, 1);
        let mut acc = [_mm256_setzero_si256(); 4];
        let ph = h.as_ptr();
        for (w, &bits) in mask.iter().enumerate() {
            let bits = bits ^ invert;
            for g in 0..16 {
                // Lane l of the group takes bit 4g + l.
                let b = _mm256_set1_epi64x(((bits >> (4 * g)) & 0xF) as i64);
                let keep = _mm256_cmpeq_epi64(_mm256_and_si256(b, lanes), lanes);
                // SAFETY: 64w + 4g + 4 <= 64 · mask.len() == h.len().
                let v = unsafe { _mm256_loadu_si256(ph.add(64 * w + 4 * g) as *const _) };
                let a = &mut acc[g % 4];
                *a = _mm256_add_epi64(*a, _mm256_and_si256(v, keep));
            }
        }
        let s = _mm256_add_epi64(
            _mm256_add_epi64(acc[0], acc[1]),
            _mm256_add_epi64(acc[2], acc[3]),
        );
        let mut out = [0i64; 4];
        // SAFETY: `out` holds exactly four i64.
        unsafe { _mm256_storeu_si256(out.as_mut_ptr() as *mut __m256i, s) };
        out.iter().fold(0i64, |x, &y| x.wrapping_add(y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{self, Level};

    #[test]
    fn every_level_equals_the_portable_sum() {
        let mut x = 12345u64;
        let mut next = || {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            x
        };
        for words in [1usize, 2, 5] {
            let h: Vec<i64> = (0..64 * words)
                .map(|_| (next() >> 20) as i64 - (1 << 43))
                .collect();
            let mask: Vec<u64> = (0..words).map(|_| next()).collect();
            for invert in [0u64, !0] {
                let want = sum_i64_portable(&h, &mask, invert);
                let naive: i64 = (0..64 * words)
                    .filter(|&k| ((mask[k / 64] ^ invert) >> (k % 64)) & 1 == 1)
                    .map(|k| h[k])
                    .sum();
                assert_eq!(want, naive);
                let wide: Vec<i128> = h.iter().map(|&v| v as i128).collect();
                assert_eq!(sum_i128(&wide, &mask, invert), naive as i128);
                for level in [Level::Portable, Level::Popcnt, Level::Avx2, Level::Avx512] {
                    let before = simd::level();
                    simd::set_level(level);
                    assert_eq!(sum_i64(&h, &mask, invert), want, "{level:?}");
                    simd::set_level(before);
                }
            }
        }
    }
}
