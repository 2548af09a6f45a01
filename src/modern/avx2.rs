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
//! * Scores of groups of [`QV`] queries (a block's queries packed once by
//!   `scores::pack_queries`): the *lane-outer* kernel. One lane of [`KP`]
//!   keys × [`QV`] queries at a time, each lane its own FMA chain over its
//!   features with the key value broadcast and the vectors running over
//!   the queries (the outer-product form of a GEMM micro-kernel, 12
//!   accumulators), then the 16 lane results summed in the tree of
//!   `reduce16`: the same operations as `dot_lanes`, without horizontal
//!   sums. The keys of a tile are packed, a sub-tile at a time, in panels
//!   of [`KP`] (lane-major, so every load is contiguous); a sub-tile's
//!   panels stay in L2 while every query group of the block passes over
//!   them, so neither operand streams from L3 once per micro-tile.
//! * Values: `o[b][j] += Σ_{p ∈ list} w[b][p]·v[p][j]`, one FMA chain per
//!   `(b, j)` in list order, 8 columns per register, `B` queries sharing
//!   each value load.

#![allow(clippy::needless_range_loop)] // kernels index several register arrays

use super::{LANES, LANE_ORDER, TILE};
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

/// Query vectors per group of the lane-outer kernel.
const NV: usize = 2;
/// Queries per group of the lane-outer kernel.
pub const QV: usize = 8 * NV;
/// Keys per packed panel: `KP × NV` = 12 accumulators, with the two query
/// vectors and a broadcast key value 15 of the 16 registers.
const KP: usize = 6;
/// Bytes of packed key panels kept in L2 while the query groups of a block
/// pass over them: about a third of a 512 KB L2, which leaves room for the
/// query group streaming through (64 KB at d = 1024).
const SUBTILE_BYTES: usize = 192 << 10;

/// Keys per sub-tile at width `d`: whole panels, at least one, at most a tile.
fn subtile_keys(d: usize) -> usize {
    let per_key = 4 * LANES * d.div_ceil(LANES);
    (SUBTILE_BYTES / per_key / KP * KP).clamp(KP, TILE.div_ceil(KP) * KP)
}

/// Floats of the scratch [`scores_packed_avx2`] needs at width `d` (the
/// packed panels of one sub-tile).
pub fn scratch_len(d: usize) -> usize {
    subtile_keys(d) * LANES * d.div_ceil(LANES)
}

/// Packs the `n ≤ KP` keys of `keys` (rows of `d`) into one panel: for
/// lane `l` and step `i`, the [`KP`] values `k[j][16 i + l]` side by side
/// (zeros for keys past `n`; positions past `d` are never read).
fn pack_panel(keys: &[f32], n: usize, d: usize, steps: usize, out: &mut [f32]) {
    if n < KP {
        out.fill(0.0);
    }
    for (j, k) in keys.chunks_exact(d).take(n).enumerate() {
        let mut blocks = k.chunks_exact(LANES);
        for (i, blk) in (&mut blocks).enumerate() {
            for (l, &v) in blk.iter().enumerate() {
                out[(l * steps + i) * KP + j] = v;
            }
        }
        let i = d / LANES;
        for (l, &v) in blocks.remainder().iter().enumerate() {
            out[(l * steps + i) * KP + j] = v;
        }
    }
}

/// [`KP`] packed keys × [`QV`] packed queries, one lane at a time in
/// [`LANE_ORDER`], each lane an FMA chain over its `d/16` (or one more)
/// steps as in `dot_lanes`, the lane results combined like a binary counter,
/// which performs the tree of `reduce16`. Returns the scores, vectors over
/// the group's queries.
///
/// # Safety
/// AVX2 and FMA; `kp` is one packed panel (`16·steps·KP` floats), `qp` one
/// packed query group (`16·steps·QV` floats), `steps = ⌈d/16⌉`, `rest = d % 16`.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn micro_lanes(
    kp: *const f32,
    qp: *const f32,
    steps: usize,
    rest: usize,
) -> [[__m256; NV]; KP] {
    let full = steps - usize::from(rest > 0);
    let z = _mm256_setzero_ps();
    let mut stack = [[[z; NV]; KP]; 5];
    for (n, &l) in LANE_ORDER.iter().enumerate() {
        let count = full + usize::from(l < rest);
        // SAFETY: lane l of the panel and of the group lie within them.
        let (kb, qb) = unsafe { (kp.add(l * steps * KP), qp.add(l * steps * QV)) };
        let mut acc = [[z; NV]; KP];
        for i in 0..count {
            // SAFETY: step i < steps of lane l.
            unsafe {
                let mut q = [z; NV];
                for h in 0..NV {
                    q[h] = _mm256_loadu_ps(qb.add(i * QV + 8 * h));
                }
                for j in 0..KP {
                    let b = _mm256_broadcast_ss(&*kb.add(i * KP + j));
                    for h in 0..NV {
                        acc[j][h] = _mm256_fmadd_ps(q[h], b, acc[j][h]);
                    }
                }
            }
        }
        // Item n is added to the partials of the completed left subtrees
        // (earlier item first).
        let mut level = 0;
        let mut m = n;
        while m & 1 == 1 {
            for j in 0..KP {
                for h in 0..NV {
                    acc[j][h] = _mm256_add_ps(stack[level][j][h], acc[j][h]);
                }
            }
            level += 1;
            m >>= 1;
        }
        stack[level] = acc;
    }
    stack[4]
}

/// Raw scores `out[c·ld + r]` of `rows` keys against the `nq` queries
/// packed by `scores::pack_queries` in groups of [`QV`]; same bits as
/// `dot_lanes`. The keys are packed into `scratch` ([`scratch_len`] floats)
/// a sub-tile at a time; every query group then passes over its panels.
///
/// # Safety
/// AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn scores_packed_avx2(
    keys: &[f32],
    rows: usize,
    qpack: &[f32],
    nq: usize,
    d: usize,
    scratch: &mut [f32],
    out: &mut [f32],
    ld: usize,
) {
    let steps = d.div_ceil(LANES);
    let rest = d % LANES;
    let groups = nq.div_ceil(QV);
    let gsize = LANES * steps * QV;
    let psize = LANES * steps * KP;
    let sub = subtile_keys(d);
    assert!(
        rows > 0
            && keys.len() >= rows * d
            && qpack.len() >= groups * gsize
            && scratch.len() >= sub * LANES * steps
            && out.len() >= (nq.max(1) - 1) * ld + rows
    );
    let mut first = 0;
    while first < rows {
        let n = (rows - first).min(sub);
        let panels = n.div_ceil(KP);
        for (p, panel) in scratch.chunks_exact_mut(psize).take(panels).enumerate() {
            let r = first + p * KP;
            let m = (first + n - r).min(KP);
            pack_panel(&keys[r * d..(r + m) * d], m, d, steps, panel);
        }
        for g in 0..groups {
            for p in 0..panels {
                let r = first + p * KP;
                let m = (first + n - r).min(KP);
                // SAFETY: panel p lies within the scratch, group g within qpack.
                let s = unsafe {
                    micro_lanes(
                        scratch.as_ptr().add(p * psize),
                        qpack.as_ptr().add(g * gsize),
                        steps,
                        rest,
                    )
                };
                for h in 0..NV {
                    let c0 = g * QV + 8 * h;
                    if c0 >= nq {
                        break;
                    }
                    let cols = (nq - c0).min(8);
                    for (j, key) in s.iter().enumerate().take(m) {
                        let mut lanes = [0.0f32; 8];
                        // SAFETY: 8 floats.
                        unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), key[h]) };
                        for (x, &v) in lanes.iter().enumerate().take(cols) {
                            out[(c0 + x) * ld + r + j] = v;
                        }
                    }
                }
            }
        }
        first += n;
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
