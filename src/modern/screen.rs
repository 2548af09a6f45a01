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
use std::sync::OnceLock;

use super::scores::dot_lanes;
use super::TILE;

/// Widest key this screening takes (the integer sums stay far inside `i32`).
pub(super) const MAX_D: usize = 1 << 16;
/// Bytes per code step: features are padded to a multiple of this.
const STEP: usize = 32;
/// The query codes' offset (`u = round(q / s_q) + 64`).
const OFFSET: i32 = 64;

/// A score far below any threshold: it stands in for a key whose weight is
/// known to be zero (every test against it fails, and it never becomes a
/// maximum while an exact score is present).
pub(super) const SKIPPED: f32 = f32::MIN;

/// `x` rounded to the nearest integer (ties to even) for `|x| < 2⁵¹`,
/// without a library call at any level.
#[inline(always)]
fn round(x: f64) -> f64 {
    const MAGIC: f64 = 6755399441055744.0; // 1.5·2^52
    (x + MAGIC) - MAGIC
}

/// Codes of a set of rows (queries or keys), rows padded to `dp` bytes.
pub struct Codes<B> {
    pub(super) dp: usize,
    pub(super) codes: Vec<B>,
    /// `s`: the row's value per code unit.
    scale: Vec<f64>,
    /// Upper bound of `‖x − x̃‖`.
    err: Vec<f64>,
    /// Upper bound of `‖x‖`.
    norm: Vec<f64>,
    /// Keys: the sum of the codes (for the query offset); queries: unused.
    sum: Vec<i32>,
}

impl<B: Copy> Codes<B> {
    pub(super) fn new() -> Codes<B> {
        Codes {
            dp: 0,
            codes: Vec::new(),
            scale: Vec::new(),
            err: Vec::new(),
            norm: Vec::new(),
            sum: Vec::new(),
        }
    }

    /// Codes `rows` rows of `x` (width `d`) with `levels` code steps on
    /// each side of zero, `to` turning a code plus `offset` into a byte.
    /// Written to vectorize (lane partial sums, no library rounding).
    #[inline(always)]
    fn fill(
        &mut self,
        x: &[f32],
        rows: usize,
        d: usize,
        levels: f64,
        offset: i32,
        to: fn(i32) -> B,
    ) {
        let dp = d.div_ceil(STEP) * STEP;
        self.dp = dp;
        self.codes.clear();
        self.codes.resize(rows * dp, to(offset));
        for v in [&mut self.scale, &mut self.err, &mut self.norm] {
            v.clear();
            v.reserve_exact(rows);
        }
        self.sum.clear();
        self.sum.reserve_exact(rows);
        for (r, row) in x.chunks_exact(d).take(rows).enumerate() {
            let mut lanes = [0.0f32; 16];
            let mut blocks = row.chunks_exact(16);
            for blk in &mut blocks {
                for (m, &v) in lanes.iter_mut().zip(blk) {
                    let a = v.abs();
                    *m = if a > *m { a } else { *m };
                }
            }
            let top = blocks
                .remainder()
                .iter()
                .map(|v| v.abs())
                .chain(lanes)
                .fold(0.0f32, |m, a| if a > m { a } else { m }) as f64;
            let s = top / levels;
            let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
            let out = &mut self.codes[r * dp..r * dp + d];
            let (mut e2, mut n2, mut sum) = ([0.0f64; 4], [0.0f64; 4], 0i32);
            let mut code = |o: &mut B, v: f32, l: usize| {
                let v = v as f64;
                let c = round(v * inv);
                let c = if c > levels {
                    levels
                } else if c < -levels {
                    -levels
                } else {
                    c
                };
                let diff = v - s * c;
                e2[l] += diff * diff;
                n2[l] += v * v;
                sum += c as i32;
                *o = to(c as i32 + offset);
            };
            let mut oc = out.chunks_exact_mut(4);
            let mut vc = row.chunks_exact(4);
            for (o, v) in (&mut oc).zip(&mut vc) {
                for l in 0..4 {
                    code(&mut o[l], v[l], l);
                }
            }
            for (o, &v) in oc.into_remainder().iter_mut().zip(vc.remainder()) {
                code(o, v, 0);
            }
            let (e2, n2) = (
                (e2[0] + e2[1]) + (e2[2] + e2[3]),
                (n2[0] + n2[1]) + (n2[2] + n2[3]),
            );
            // Rounded up past the float64 rounding of the sums (relative
            // error far below 1e-9 for any width this takes).
            self.scale.push(s);
            self.err
                .push(e2.sqrt() * (1.0 + 1e-9) + 1e-12 * n2.sqrt() + 1e-300);
            self.norm.push(n2.sqrt() * (1.0 + 1e-9) + 1e-300);
            self.sum.push(sum);
        }
    }

    /// Empty codes with room for `bytes` codes, `None` when that much
    /// memory cannot be had.
    pub(super) fn with_capacity(bytes: usize) -> Option<Codes<B>> {
        let mut codes = Vec::new();
        codes.try_reserve_exact(bytes).ok()?;
        Some(Codes {
            codes,
            ..Codes::new()
        })
    }
}

impl<B> Codes<B> {
    /// Bytes held (codes and per-row numbers).
    fn nbytes(&self) -> usize {
        std::mem::size_of::<B>() * self.codes.capacity()
            + 8 * (self.scale.capacity() + self.err.capacity() + self.norm.capacity())
            + 4 * self.sum.capacity()
    }
}

/// Query codes: unsigned bytes `1..=127` (`u − 64` the signed code).
pub(super) type QueryCodes = Codes<u8>;
/// Key codes: signed bytes `−127..=127`.
pub type KeyCodes = Codes<i8>;

/// The codes of a memory's keys, made tile by tile ([`TILE`] keys) the
/// first time a screening call needs them and kept with the memory (until
/// the next store), so that later calls do not code the keys again and a
/// call that stops screening early codes only the tiles it bounded.
#[derive(Default)]
pub struct CodeCache {
    /// Per tile: not coded yet, coded, or `None` when the codes could not
    /// be allocated (that tile is not screened).
    tiles: Vec<OnceLock<Option<KeyCodes>>>,
}

impl CodeCache {
    /// An empty cache for `rows` keys.
    pub(super) fn new(rows: usize) -> CodeCache {
        CodeCache {
            tiles: (0..rows.div_ceil(TILE)).map(|_| OnceLock::new()).collect(),
        }
    }

    /// Bytes of the codes made so far.
    pub(super) fn nbytes(&self) -> usize {
        self.tiles
            .iter()
            .filter_map(|t| t.get().and_then(Option::as_ref))
            .map(Codes::nbytes)
            .sum()
    }
}

impl Clone for CodeCache {
    fn clone(&self) -> Self {
        CodeCache {
            tiles: self
                .tiles
                .iter()
                .map(|t| match t.get() {
                    Some(codes) => OnceLock::from(codes.clone()),
                    None => OnceLock::new(),
                })
                .collect(),
        }
    }
}

impl Clone for Codes<i8> {
    fn clone(&self) -> Self {
        Codes {
            dp: self.dp,
            codes: self.codes.clone(),
            scale: self.scale.clone(),
            err: self.err.clone(),
            norm: self.norm.clone(),
            sum: self.sum.clone(),
        }
    }
}

impl std::fmt::Debug for CodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let coded = self.tiles.iter().filter(|t| t.get().is_some()).count();
        write!(f, "CodeCache({coded} of {} tiles coded)", self.tiles.len())
    }
}

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
        let cell = self.cache.tiles.get(t)?;
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

/// Codes `nb` queries of width `d`.
#[inline(always)]
pub(super) fn code_queries(q: &[f32], nb: usize, d: usize, out: &mut QueryCodes) {
    out.fill(q, nb, d, 63.0, OFFSET, |c| c as u8);
}

#[inline(always)]
fn code_keys_body(k: &[f32], rows: usize, d: usize, out: &mut KeyCodes) {
    out.fill(k, rows, d, 127.0, 0, |c| c as i8);
}

crate::simd::multiversion! {
    /// Codes `rows` keys of width `d`.
    pub(super) fn code_keys(k: &[f32], rows: usize, d: usize, out: &mut KeyCodes) -> () => code_keys_body
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
