//! AVX2 + FMA micro-kernels of the scores and the value accumulation; each
//! performs exactly the operations of its portable counterpart, so every
//! instruction-set level gives the same bits.
//!
//! * Scores: the canonical inner product keeps 16 lane sums (lane `i` sums
//!   features `k ≡ i (mod 16)`) and adds them in a fixed tree. A 256-bit
//!   register holds 8 lanes, so a key × query pair is computed as two halves
//!   (lanes 0–7, then 8–15), each an FMA chain in feature order per lane;
//!   the tree's first level adds the two halves lane by lane. Register
//!   blocking: [`KR`] keys × [`QC`] queries share every load.
//!   (A lane-outer kernel over packed key panels, as at AVX-512, was
//!   tried at AVX2: 6 keys × 16 queries per lane, L2-sized sub-tiles. It
//!   cut L2 misses tenfold but ran 5–20 % slower on two Zen cores at
//!   P = 10⁴–2·10⁴, so it was taken out.)
//! * Values: `o[b][j] += Σ_{p ∈ list} w[b][p]·v[p][j]`, one FMA chain per
//!   `(b, j)` in list order, 8 columns per register, `B` queries sharing
//!   each value load.

#![allow(clippy::needless_range_loop)] // kernels index several register arrays

use super::TILE;
use std::arch::x86_64::*;

/// Keys × queries of the score micro-kernel.
const KR: usize = 2;
const QC: usize = 4;

/// Mask of the first `count` of 8 lanes (`count` ≤ 8).
#[target_feature(enable = "avx2")]
#[inline]
fn first_lanes(count: usize) -> __m256i {
    let idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    _mm256_cmpgt_epi32(_mm256_set1_epi32(count as i32), idx)
}

/// The 16 lanes (low half `lo`, high half `hi`) summed in the order of
/// [`super::scores::reduce16`].
#[target_feature(enable = "avx2")]
#[inline]
fn reduce(lo: __m256, hi: __m256) -> f32 {
    let h = _mm256_add_ps(lo, hi);
    let q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    let p = _mm_add_ps(q, _mm_movehl_ps(q, q));
    _mm_cvtss_f32(_mm_add_ss(p, _mm_shuffle_ps(p, p, 1)))
}

/// One half (`half` = 0: lanes 0–7; 1: lanes 8–15) of the lane sums of
/// `R` keys × `C` queries.
///
/// # Safety
/// AVX2 and FMA; every pointer row holds `d` floats.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn half<const R: usize, const C: usize>(
    k: [*const f32; R],
    q: [*const f32; C],
    d: usize,
    half: usize,
) -> [[__m256; C]; R] {
    let mut acc = [[_mm256_setzero_ps(); C]; R];
    let full = d / 16;
    let off = 8 * half;
    for i in 0..full {
        let at = 16 * i + off;
        let mut kv = [_mm256_setzero_ps(); R];
        for r in 0..R {
            // SAFETY: at + 8 <= 16·full <= d.
            kv[r] = unsafe { _mm256_loadu_ps(k[r].add(at)) };
        }
        for c in 0..C {
            // SAFETY: as above.
            let qv = unsafe { _mm256_loadu_ps(q[c].add(at)) };
            for r in 0..R {
                acc[r][c] = _mm256_fmadd_ps(kv[r], qv, acc[r][c]);
            }
        }
    }
    // The remainder's features go to the first lanes, after the full chunks
    // (as in `dot_lanes`); masked lanes load 0 and keep their sums.
    let count = (d % 16).saturating_sub(off).min(8);
    if count > 0 {
        let mask = first_lanes(count);
        let at = 16 * full + off;
        for c in 0..C {
            // SAFETY: masked lanes past d are not read.
            let qv = unsafe { _mm256_maskload_ps(q[c].add(at), mask) };
            for r in 0..R {
                // SAFETY: as above.
                let kv = unsafe { _mm256_maskload_ps(k[r].add(at), mask) };
                acc[r][c] = _mm256_fmadd_ps(kv, qv, acc[r][c]);
            }
        }
    }
    acc
}

/// `R` keys × `C` queries of canonical inner products.
///
/// # Safety
/// AVX2 and FMA; every pointer row holds `d` floats.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn micro<const R: usize, const C: usize>(
    k: [*const f32; R],
    q: [*const f32; C],
    d: usize,
) -> [[f32; C]; R] {
    // SAFETY: forwarded.
    let lo = unsafe { half::<R, C>(k, q, d, 0) };
    // SAFETY: forwarded.
    let hi = unsafe { half::<R, C>(k, q, d, 1) };
    let mut out = [[0.0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            out[r][c] = reduce(lo[r][c], hi[r][c]);
        }
    }
    out
}

/// AVX2 version of [`super::scores::scores`]; same bits as `dot_lanes`.
///
/// # Safety
/// AVX2 and FMA; slice sizes as in `scores`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn scores_avx2(
    keys: &[f32],
    rows: usize,
    queries: &[f32],
    nq: usize,
    d: usize,
    out: &mut [f32],
    ld: usize,
) {
    assert!(
        keys.len() >= rows * d
            && queries.len() >= nq * d
            && out.len() >= (nq.max(1) - 1) * ld + rows
    );
    if rows == 0 {
        return;
    }
    let kp = keys.as_ptr();
    let qp = queries.as_ptr();
    let mut c = 0;
    while c + QC <= nq {
        let q: [*const f32; QC] = std::array::from_fn(|i| qp.wrapping_add((c + i) * d));
        let mut r = 0;
        while r < rows {
            // Past the last key, repeat it: computed, never written.
            let k: [*const f32; KR] =
                std::array::from_fn(|i| kp.wrapping_add((r + i).min(rows - 1) * d));
            // SAFETY: every pointer is a whole row of d floats.
            let s = unsafe { micro::<KR, QC>(k, q, d) };
            for (i, row) in s.iter().enumerate().take((rows - r).min(KR)) {
                for (j, &x) in row.iter().enumerate() {
                    out[(c + j) * ld + r + i] = x;
                }
            }
            r += KR;
        }
        c += QC;
    }
    while c < nq {
        let q = [qp.wrapping_add(c * d)];
        let mut r = 0;
        while r < rows {
            let k: [*const f32; 4] =
                std::array::from_fn(|i| kp.wrapping_add((r + i).min(rows - 1) * d));
            // SAFETY: as above.
            let s = unsafe { micro::<4, 1>(k, q, d) };
            for (i, row) in s.iter().enumerate().take((rows - r).min(4)) {
                out[c * ld + r + i] = row[0];
            }
            r += 4;
        }
        c += 1;
    }
}

/// AVX2 version of `stream::accumulate` for `B` queries (weight rows of
/// stride [`TILE`]), `8·Z` columns at a time; same bits.
///
/// # Safety
/// AVX2 and FMA; sizes as in `accumulate`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn accumulate_avx2<const B: usize, const Z: usize>(
    w: &[f32],
    list: &[u32],
    values: &[f32],
    dv: usize,
    o: &mut [f64],
) {
    assert!(w.len() >= B * TILE && o.len() >= B * dv);
    assert!(list
        .iter()
        .all(|&p| (p as usize) < TILE && (p as usize + 1) * dv <= values.len()));
    let (vp, wp) = (values.as_ptr(), w.as_ptr());
    let mut j = 0;
    while j < dv {
        let width = (dv - j).min(8 * Z);
        let masks: [__m256i; Z] =
            std::array::from_fn(|z| first_lanes(width.saturating_sub(8 * z).min(8)));
        let mut acc = [[_mm256_setzero_ps(); Z]; B];
        for &p in list {
            let p = p as usize;
            let mut v = [_mm256_setzero_ps(); Z];
            for z in 0..Z {
                // SAFETY: masked lanes are columns below dv of a listed row.
                v[z] = unsafe { _mm256_maskload_ps(vp.add(p * dv + j + 8 * z), masks[z]) };
            }
            for b in 0..B {
                // SAFETY: b·TILE + p < B·TILE <= w.len() (checked above).
                let wb = unsafe { _mm256_broadcast_ss(&*wp.add(b * TILE + p)) };
                for z in 0..Z {
                    acc[b][z] = _mm256_fmadd_ps(wb, v[z], acc[b][z]);
                }
            }
        }
        for b in 0..B {
            for z in 0..Z {
                let cols = width.saturating_sub(8 * z).min(8);
                if cols == 0 {
                    break;
                }
                let mut lanes = [0.0f32; 8];
                // SAFETY: 8 floats.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[b][z]) };
                for (x, &a) in o[b * dv + j + 8 * z..][..cols].iter_mut().zip(&lanes) {
                    *x += a as f64;
                }
            }
        }
        j += width;
    }
}
