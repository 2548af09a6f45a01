//! Rigorous score bounds from 8-bit codes, so that a tile computes exact
//! float32 scores only for the keys whose weight can be nonzero.
//!
//! A query `q` is coded as `q̃ = s_q·(u − 64)` with `u` bytes in `1..=127`,
//! a key `k` as `k̃ = s_k·c` with `c` signed bytes in `−127..=127`; `q̃·k̃`
//! is then an exact integer sum times `s_q·s_k`, which AVX2 computes with
//! `vpmaddubsw`/`vpmaddwd` at more than twice the float32 FMA rate (no
//! pair sum can saturate: `2·127·127 < 2¹⁵`). The exact score `q·k` is
//! within `‖q − q̃‖·‖k‖ + ‖q̃‖·‖k − k̃‖` of `q̃·k̃`, and the float32 score the
//! kernels compute (16 lanes of `⌈d/16⌉` fused multiply-adds, then a tree of
//! 4 additions) within `γ_n·‖q‖·‖k‖` of `q·k`, `n = ⌈d/16⌉ + 4`. Every
//! norm is rounded up and the bounds are widened by more than the float64
//! rounding of their own arithmetic, so `lo ≤ s ≤ hi` holds for the float32
//! score `s`.
//!
//! How the stream uses them (`stream.rs`): a weight is zero exactly when
//! `β s < top − T` (`top` the larger of the running maximum and the floor,
//! see `softmax_row`). `top` is at least `max(floor, β·max lo)`, so a key
//! whose `β·hi` is below that minus `T` (and a margin for float64
//! rounding) has a zero weight under the unchanged rule: its exact score is
//! not needed, and a score far below the threshold stands in for it. Every
//! other key is scored exactly (`scores::dot_lanes`, the same bits as the
//! tile kernels), so the result keeps its bits.

use std::sync::atomic::{AtomicUsize, Ordering};

pub(super) use super::codes::{code_keys, code_queries, CodeCache, KeyCodes, QueryCodes};
use super::codes::{OFFSET, STEP};
use super::scores::dot_lanes;
use super::TILE;

/// Widest key this screening takes (the integer sums stay far inside `i32`).
pub(super) const MAX_D: usize = 1 << 16;
/// A score far below any threshold: it stands in for a key whose weight is
/// known to be zero (every test against it fails, and it never becomes a
/// maximum while an exact score is present).
pub(super) const SKIPPED: f32 = f32::MIN;

/// The key codes one call screens with: the memory's [`CodeCache`], filled
/// as tiles are needed, and whether screening still pays in this call.
pub struct CallCodes<'a> {
    cache: &'a CodeCache,
    keys: &'a [f32],
    rows: usize,
    d: usize,
    /// Tiles of the call screened and tiles that needed the tile kernel
    /// after all (bounds too loose, weights mostly nonzero), so that a call
    /// where screening does not pay stops trying (and stops coding). Which
    /// tiles screen never changes a result, so the counts may race.
    screened: AtomicUsize,
    dense: AtomicUsize,
}

impl<'a> CallCodes<'a> {
    /// A call's view of `cache`, the codes of `rows` keys `keys` of width `d`.
    pub(super) fn new(cache: &'a CodeCache, keys: &'a [f32], rows: usize, d: usize) -> Self {
        CallCodes {
            cache,
            keys,
            rows,
            d,
            screened: AtomicUsize::new(0),
            dense: AtomicUsize::new(0),
        }
    }

    /// The codes of the tile of keys from `start` (a multiple of [`TILE`]),
    /// coded now if no call has yet; `None` when they cannot be allocated.
    pub(super) fn tile(&self, start: usize) -> Option<&'a KeyCodes> {
        let t = start / TILE;
        debug_assert_eq!(start % TILE, 0, "tiles start at multiples of TILE");
        let cell = self.cache.cell(t)?;
        cell.get_or_init(|| {
            let rows = (self.rows - start).min(TILE);
            let d = self.d;
            let mut codes = KeyCodes::with_capacity(rows * d.div_ceil(STEP) * STEP)?;
            code_keys(
                &self.keys[start * d..(start + rows) * d],
                rows,
                d,
                &mut codes,
            );
            Some(codes)
        })
        .as_ref()
    }

    /// Whether screening still pays in this call: at most a few tiles
    /// more needed the tile kernel than were screened.
    pub(super) fn pays(&self) -> bool {
        self.dense.load(Ordering::Relaxed) <= self.screened.load(Ordering::Relaxed) + 8
    }

    /// Counts a tile: screened (`true`) or scored by the tile kernel.
    pub(super) fn tally(&self, screened: bool) {
        let count = if screened {
            &self.screened
        } else {
            &self.dense
        };
        count.fetch_add(1, Ordering::Relaxed);
    }
}

/// The bounds of one query against a tile of coded keys.
pub(super) struct Bounds<'a> {
    q: &'a QueryCodes,
    k: &'a KeyCodes,
    /// `γ_n` of the float32 score (see the module docs).
    gamma: f64,
}

impl<'a> Bounds<'a> {
    #[inline(always)]
    pub(super) fn new(q: &'a QueryCodes, k: &'a KeyCodes, d: usize) -> Bounds<'a> {
        let n = d.div_ceil(super::LANES) as f64 + 4.0;
        let u = f64::powi(2.0, -24);
        Bounds {
            q,
            k,
            gamma: 2.0 * n * u,
        }
    }

    /// Upper bounds of the float32 scores of query `b` and the first
    /// `hi.len()` keys, from their integer code products `dots`, written
    /// rounded up to float32 into `hi`; returns a lower bound of the
    /// largest of these scores. `lo ≤ s ≤ hi` with `lo = mid − e`,
    /// `hi = mid + e`, `mid = q̃·k̃`, `e` the bound of the module docs
    /// widened past the float64 rounding of these few operations.
    #[inline(always)]
    pub(super) fn row(&self, b: usize, first: usize, dots: &[i32], hi: &mut [f32]) -> f64 {
        let (q, k) = (self.q, self.k);
        let (qs, qe, qn) = (q.scale[b], q.err[b], q.norm[b]);
        // e = ‖q − q̃‖·‖k‖ + ‖q̃‖·‖k − k̃‖ + γ·‖q‖·‖k‖, ‖q̃‖ ≤ ‖q‖ + ‖q − q̃‖.
        let (a, c) = (qe + self.gamma * qn, qn + qe);
        let mut top = f64::NEG_INFINITY;
        for (r, (h, &dot)) in hi.iter_mut().zip(dots).enumerate() {
            let r = first + r;
            let int = dot as f64 - (OFFSET * k.sum[r]) as f64;
            let mid = qs * k.scale[r] * int;
            let e = a * k.norm[r] + c * k.err[r];
            // The absolute term covers underflow in the float32 chains,
            // flushed or not.
            let e = e * (1.0 + 1e-9) + 1e-12 * mid.abs() + 1e-30;
            let up = mid + e;
            // Raised by more than float32's rounding (2⁻²⁴ relative, 2⁻¹⁵⁰
            // absolute), so that the rounded value is still at least `up`.
            *h = (up + up.abs() * 2.4e-7 + 1e-44) as f32;
            let lo = mid - e;
            top = if lo > top { lo } else { top };
        }
        top
    }
}

/// `out[b·ld + r] = Σ u_b·c_r` (the integer code products) of `nb` coded
/// queries and `rows` coded keys.
#[inline(always)]
pub(super) fn code_dots(
    q: &QueryCodes,
    (k, first): (&KeyCodes, usize),
    nb: usize,
    rows: usize,
    out: &mut [i32],
    ld: usize,
) {
    let dp = q.dp;
    assert_eq!(k.dp, dp, "queries and keys coded at different widths");
    let kc = &k.codes[first * dp..(first + rows) * dp];
    #[cfg(target_arch = "x86_64")]
    if crate::simd::level() >= crate::simd::Level::Avx2 {
        // SAFETY: the level is never above what the CPU supports (AVX-512
        // includes AVX2); sizes are checked inside.
        unsafe { dots_avx2(q, kc, nb, rows, out, ld) };
        return;
    }
    for b in 0..nb {
        let u = &q.codes[b * dp..(b + 1) * dp];
        for r in 0..rows {
            let c = &kc[r * dp..(r + 1) * dp];
            out[b * ld + r] = u.iter().zip(c).map(|(&x, &y)| x as i32 * y as i32).sum();
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn dots_avx2(q: &QueryCodes, k: &[i8], nb: usize, rows: usize, out: &mut [i32], ld: usize) {
    let dp = q.dp;
    assert!(q.codes.len() >= nb * dp && k.len() >= rows * dp);
    assert!(nb == 0 || rows == 0 || out.len() >= (nb - 1) * ld + rows);
    let mut b = 0;
    while b < nb {
        let qc = (nb - b).min(3);
        let mut r = 0;
        while r < rows {
            let kr = (rows - r).min(4);
            match (kr, qc) {
                (4, 3) => block::<4, 3>(q, k, b, r, out, ld),
                (_, 3) => (0..kr).for_each(|i| block::<1, 3>(q, k, b, r + i, out, ld)),
                (4, _) => (0..qc).for_each(|j| block::<4, 1>(q, k, b + j, r, out, ld)),
                _ => (0..qc)
                    .for_each(|j| (0..kr).for_each(|i| block::<1, 1>(q, k, b + j, r + i, out, ld))),
            }
            r += kr;
        }
        b += qc;
    }
}

/// `KR` keys from `r` × `QC` queries from `b`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
unsafe fn block<const KR: usize, const QC: usize>(
    q: &QueryCodes,
    k: &[i8],
    b: usize,
    r: usize,
    out: &mut [i32],
    ld: usize,
) {
    use std::arch::x86_64::*;
    let dp = q.dp;
    let ones = _mm256_set1_epi16(1);
    let mut acc = [[_mm256_setzero_si256(); QC]; KR];
    let (qp, kp) = (q.codes.as_ptr(), k.as_ptr());
    let mut f = 0;
    while f < dp {
        // SAFETY (loads): f + 32 ≤ dp and the rows are within the codes
        // (checked by the caller).
        let qv: [__m256i; QC] =
            std::array::from_fn(|c| _mm256_loadu_si256(qp.add((b + c) * dp + f) as *const __m256i));
        for (i, row) in acc.iter_mut().enumerate() {
            let kv = _mm256_loadu_si256(kp.add((r + i) * dp + f) as *const __m256i);
            for (a, &x) in row.iter_mut().zip(&qv) {
                let pairs = _mm256_maddubs_epi16(x, kv);
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(pairs, ones));
            }
        }
        f += STEP;
    }
    for (i, row) in acc.iter().enumerate() {
        for (c, &a) in row.iter().enumerate() {
            let h = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
            let h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0b01_00_11_10));
            let h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0b10_11_00_01));
            out[(b + c) * ld + r + i] = _mm_cvtsi128_si32(h);
        }
    }
}

/// The exact float32 score of key row `k` and query row `q`, as every
/// tile kernel computes it.
#[inline(always)]
pub(super) fn exact(k: &[f32], q: &[f32]) -> f32 {
    dot_lanes(k, q)
}
