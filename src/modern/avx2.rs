//! AVX2 + FMA micro-kernels of the scores and the value accumulation; each
//! performs exactly the operations of its portable counterpart, so every
//! instruction-set level gives the same bits.
//!
//! * Scores: the canonical inner product keeps 16 lane sums (lane `i` sums
//!   features `k ≡ i (mod 16)`) and adds them in a fixed tree. A 256-bit
//!   register holds 8 lanes, so a key × query pair is computed as two halves
//!   (lanes 0–7, then 8–15), each an FMA chain in feature order per lane;
//!   the tree's first level adds the two halves lane by lane. Register
//!   blocking: [`KR`] keys × [`QC`] queries share every load, the queries
//!   packed by group ([`pack_groups`]), the keys in L2-sized sub-tiles;
//!   single queries take 4 keys with both halves in one pass.
//!   (A lane-outer kernel over packed key panels, as at AVX-512, was
//!   tried at AVX2: 6 keys × 16 queries per lane, L2-sized sub-tiles. It
//!   cut L2 misses tenfold but ran 5–20 % slower on two Zen cores at
//!   P = 10⁴–2·10⁴, so it was taken out.)
//!
//!   What limits it (Zen 3, one core, d = 1024): per step and half, 2 key
//!   and 6 query loads feed 12 FMAs (0.67 loads per FMA, 15 of the 16
//!   registers), the ratio of a 6 × 16 broadcast `sgemm` kernel; with the
//!   2 keys and 6 queries in L1 it runs at 83–88 GFLOP/s (peak about 96).
//!   On a tile, keys and packed queries on cache lines (`aligned.rs`), it
//!   runs at 70–75 GFLOP/s (60 when half the loads straddled two lines).
//!   Tried there, none faster beyond noise: depth blocks of 8–32 steps
//!   with both halves while the lines are in L1 (the partial sums carried
//!   through memory: the same chains), keys packed per pair with the two
//!   halves apart, software prefetch of the next pair (slower: it evicts
//!   the query group), sub-tiles of 48–384 KB.
//! * Values: `o[b][j] += Σ_{p ∈ list} w[b][p]·v[p][j]`, one FMA chain per
//!   `(b, j)` in list order, 8 columns per register, `B` queries sharing
//!   each value load, over a panel of `cols` columns.

#![allow(clippy::needless_range_loop)] // kernels index several register arrays

use super::aligned::Aligned;
use super::TILE;
use std::arch::x86_64::*;

/// Keys × queries of the score micro-kernel: 12 independent FMA chains
/// per half, enough to cover the FMA latency on two ports (with 8, a
/// 2 × 4 kernel sits exactly at the limit and stalls on any late load).
const KR: usize = 2;
pub const QC: usize = 6;
/// Bytes of keys per sub-tile of the score kernel (L2-resident).
const SUBTILE_BYTES: usize = 192 * 1024;

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

/// Where a micro-kernel finds the queries: row `c` of a step's 16
/// features at `q[c] + step·i` (`step` = 16 for rows in place, `16·QC`
/// for a packed group, see [`pack_groups`]).
#[derive(Clone, Copy)]
struct Queries<const C: usize> {
    q: [*const f32; C],
    step: usize,
}

/// One half (`half` = 0: lanes 0–7; 1: lanes 8–15) of the lane sums of
/// `R` keys × `C` queries.
///
/// # Safety
/// AVX2 and FMA; every key row holds `d` floats, every query row the
/// features below `d` of each step.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn half<const R: usize, const C: usize>(
    k: [*const f32; R],
    q: Queries<C>,
    d: usize,
    half: usize,
) -> [[__m256; C]; R] {
    let mut acc = [[_mm256_setzero_ps(); C]; R];
    let full = d / 16;
    let off = 8 * half;
    for i in 0..full {
        let at = 16 * i + off;
        let qat = q.step * i + off;
        let mut kv = [_mm256_setzero_ps(); R];
        for r in 0..R {
            // SAFETY: at + 8 <= 16·full <= d.
            kv[r] = unsafe { _mm256_loadu_ps(k[r].add(at)) };
        }
        for c in 0..C {
            // SAFETY: features 16·i + off.. of a whole step, below d.
            let qv = unsafe { _mm256_loadu_ps(q.q[c].add(qat)) };
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
        let qat = q.step * full + off;
        for c in 0..C {
            // SAFETY: masked lanes past d are not read.
            let qv = unsafe { _mm256_maskload_ps(q.q[c].add(qat), mask) };
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
/// As [`half`].
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn micro<const R: usize, const C: usize>(
    k: [*const f32; R],
    q: Queries<C>,
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

/// `R` keys × one query in one pass over the features: both halves of
/// the 16 lanes at once (`2R` FMA chains, each key's cache lines read
/// once), the same operations as [`micro`] per lane.
///
/// # Safety
/// AVX2 and FMA; every pointer row holds `d` floats.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn micro_row<const R: usize>(k: [*const f32; R], q: *const f32, d: usize) -> [f32; R] {
    let mut lo = [_mm256_setzero_ps(); R];
    let mut hi = [_mm256_setzero_ps(); R];
    let full = d / 16;
    for i in 0..full {
        let at = 16 * i;
        // SAFETY: at + 16 <= d.
        let (ql, qh) = unsafe { (_mm256_loadu_ps(q.add(at)), _mm256_loadu_ps(q.add(at + 8))) };
        for r in 0..R {
            // SAFETY: as above.
            let (kl, kh) = unsafe {
                (
                    _mm256_loadu_ps(k[r].add(at)),
                    _mm256_loadu_ps(k[r].add(at + 8)),
                )
            };
            lo[r] = _mm256_fmadd_ps(kl, ql, lo[r]);
            hi[r] = _mm256_fmadd_ps(kh, qh, hi[r]);
        }
    }
    // The remainder as in `half`: its features in the first lanes.
    let rest = d % 16;
    if rest > 0 {
        let at = 16 * full;
        let (ml, mh) = (
            first_lanes(rest.min(8)),
            first_lanes(rest.saturating_sub(8)),
        );
        // SAFETY: masked lanes past d are not read.
        let (ql, qh) = unsafe {
            (
                _mm256_maskload_ps(q.add(at), ml),
                _mm256_maskload_ps(q.add(at + 8), mh),
            )
        };
        for r in 0..R {
            // SAFETY: as above.
            let (kl, kh) = unsafe {
                (
                    _mm256_maskload_ps(k[r].add(at), ml),
                    _mm256_maskload_ps(k[r].add(at + 8), mh),
                )
            };
            lo[r] = _mm256_fmadd_ps(kl, ql, lo[r]);
            hi[r] = _mm256_fmadd_ps(kh, qh, hi[r]);
        }
    }
    std::array::from_fn(|r| reduce(lo[r], hi[r]))
}

/// `nq` queries (rows of `d`) packed for [`scores_packed_avx2`]: per group
/// of `QC` queries and per step of 16 features, the `QC` queries' 16
/// features side by side (zeros past `d`, and for the missing queries of a
/// last group).
/// A group is then one contiguous block: its rows no longer sit 4 KB apart
/// (at d = 1024), where they would all fall into the same L1 cache sets.
/// `None` when the memory cannot be had.
pub fn pack_groups(queries: &[f32], nq: usize, d: usize) -> Option<Aligned<f32>> {
    let steps = d.div_ceil(16);
    // On cache lines: every 32-byte load of a step stays within one line.
    let mut out = Aligned::zeros(nq.div_ceil(QC) * QC * steps * 16)?;
    for (c, q) in queries.chunks_exact(d).take(nq).enumerate() {
        let (g, x) = (c / QC, c % QC);
        for (i, part) in q.chunks(16).enumerate() {
            let at = ((g * steps + i) * QC + x) * 16;
            out[at..at + part.len()].copy_from_slice(part);
        }
    }
    Some(out)
}

/// The scores of `rows` keys and the query groups `group(c)` (`c` the
/// first query of a group of [`QC`], below `grouped`; a last group may be
/// padded past `nq`), then the queries `grouped..nq` one at a time (rows
/// in place).
///
/// # Safety
/// AVX2 and FMA; every key row holds `d` floats, every group's pointers
/// are valid as [`half`] says, `out` holds `nq` rows of `ld ≥ rows`.
#[target_feature(enable = "avx2,fma")]
#[inline]
#[allow(clippy::too_many_arguments)]
unsafe fn score_groups(
    keys: &[f32],
    rows: usize,
    grouped: usize,
    group: impl Fn(usize) -> Queries<QC>,
    singles: &[f32],
    nq: usize,
    d: usize,
    out: &mut [f32],
    ld: usize,
) {
    if rows == 0 {
        return;
    }
    let kp = keys.as_ptr();
    // Keys in sub-tiles that stay in the L2 cache while every query group
    // passes over them (a whole tile of keys, 768 KB at d = 1024, does not).
    let sub = (SUBTILE_BYTES / (4 * d.max(1)) / KR).max(1) * KR;
    let mut k0 = 0;
    while k0 < rows {
        let k1 = (k0 + sub).min(rows);
        let mut c = 0;
        while c < grouped {
            let q = group(c);
            let mut r = k0;
            while r < k1 {
                // Past the last key, repeat it: computed, never written.
                let k: [*const f32; KR] =
                    std::array::from_fn(|i| kp.wrapping_add((r + i).min(rows - 1) * d));
                // SAFETY: every key pointer is a whole row of d floats, the
                // queries as the caller says.
                let s = unsafe { micro::<KR, QC>(k, q, d) };
                for (i, row) in s.iter().enumerate().take((k1 - r).min(KR)) {
                    // A padded last group: its missing queries are not written.
                    for (j, &x) in row.iter().enumerate().take(nq - c) {
                        out[(c + j) * ld + r + i] = x;
                    }
                }
                r += KR;
            }
            c += QC;
        }
        while c < nq {
            let q = singles.as_ptr().wrapping_add((c - grouped) * d);
            let mut r = k0;
            while r < k1 {
                let k: [*const f32; 4] =
                    std::array::from_fn(|i| kp.wrapping_add((r + i).min(rows - 1) * d));
                // SAFETY: as above; `singles` holds the rows after `grouped`.
                let s = unsafe { micro_row::<4>(k, q, d) };
                for (i, &x) in s.iter().enumerate().take((k1 - r).min(4)) {
                    out[c * ld + r + i] = x;
                }
                r += 4;
            }
            c += 1;
        }
        k0 = k1;
    }
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
    let qp = queries.as_ptr();
    let grouped = nq - nq % QC;
    let group = |c: usize| Queries {
        q: std::array::from_fn(|i| qp.wrapping_add((c + i) * d)),
        step: 16,
    };
    // SAFETY: the rows are whole (checked above).
    unsafe {
        score_groups(
            keys,
            rows,
            grouped,
            group,
            &queries[grouped * d..],
            nq,
            d,
            out,
            ld,
        )
    };
}

/// [`scores_avx2`] of the `n` queries that [`pack_groups`] packed; same
/// bits.
///
/// # Safety
/// AVX2 and FMA; `keys` holds `rows` rows of `d`, `out` `n` rows of `ld`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn scores_packed_avx2(
    keys: &[f32],
    rows: usize,
    packed: &[f32],
    n: usize,
    d: usize,
    out: &mut [f32],
    ld: usize,
) {
    let steps = d.div_ceil(16);
    let grouped = n.div_ceil(QC) * QC;
    assert!(
        keys.len() >= rows * d
            && packed.len() >= grouped * steps * 16
            && out.len() >= (n.max(1) - 1) * ld + rows
    );
    let qp = packed.as_ptr();
    let group = |c: usize| Queries {
        q: std::array::from_fn(|i| qp.wrapping_add(c * steps * 16 + 16 * i)),
        step: 16 * QC,
    };
    // SAFETY: every group is whole (checked above).
    unsafe { score_groups(keys, rows, grouped, group, &[], n, d, out, ld) };
}

/// AVX2 version of `stream::accumulate` for `B` queries (weight rows of
/// stride [`TILE`]) and the first `cols` columns of the value rows (stride
/// `vs`; rows of `o` of stride `os`), `8·Z` columns at a time; same bits.
///
/// # Safety
/// AVX2 and FMA; sizes as in `accumulate`.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn accumulate_avx2<const B: usize, const Z: usize>(
    w: &[f32],
    list: &[u32],
    values: &[f32],
    vs: usize,
    cols: usize,
    os: usize,
    o: &mut [f64],
) {
    assert!(cols <= vs && cols <= os && w.len() >= B * TILE && o.len() >= (B - 1) * os + cols);
    assert!(list
        .iter()
        .all(|&p| (p as usize) < TILE && p as usize * vs + cols <= values.len()));
    let (vp, wp) = (values.as_ptr(), w.as_ptr());
    let mut j = 0;
    while j < cols {
        let width = (cols - j).min(8 * Z);
        let masks: [__m256i; Z] =
            std::array::from_fn(|z| first_lanes(width.saturating_sub(8 * z).min(8)));
        let mut acc = [[_mm256_setzero_ps(); Z]; B];
        // One sweep of the list, with plain loads when all `8·Z` columns are
        // there (`$full`), else masked ones.
        macro_rules! sweep {
            ($full:literal) => {
                for &p in list {
                    let p = p as usize;
                    let mut v = [_mm256_setzero_ps(); Z];
                    for z in 0..Z {
                        // SAFETY: columns j + 8z.. below `cols` of a listed row
                        // (masked lanes only past the last whole group of 8).
                        v[z] = unsafe {
                            let at = vp.add(p * vs + j + 8 * z);
                            if $full {
                                _mm256_loadu_ps(at)
                            } else {
                                _mm256_maskload_ps(at, masks[z])
                            }
                        };
                    }
                    for b in 0..B {
                        // SAFETY: b·TILE + p < B·TILE <= w.len() (checked above).
                        let wb = unsafe { _mm256_broadcast_ss(&*wp.add(b * TILE + p)) };
                        for z in 0..Z {
                            acc[b][z] = _mm256_fmadd_ps(wb, v[z], acc[b][z]);
                        }
                    }
                }
            };
        }
        if width == 8 * Z {
            sweep!(true);
        } else {
            sweep!(false);
        }
        for b in 0..B {
            for z in 0..Z {
                let n = width.saturating_sub(8 * z).min(8);
                if n == 0 {
                    break;
                }
                let row = &mut o[b * os + j + 8 * z..][..n];
                if n == 8 {
                    // The same float64 additions, four at a time.
                    let lo = _mm256_cvtps_pd(_mm256_castps256_ps128(acc[b][z]));
                    let hi = _mm256_cvtps_pd(_mm256_extractf128_ps(acc[b][z], 1));
                    // SAFETY: `row` holds 8 floats.
                    unsafe {
                        let p = row.as_mut_ptr();
                        _mm256_storeu_pd(p, _mm256_add_pd(_mm256_loadu_pd(p), lo));
                        _mm256_storeu_pd(p.add(4), _mm256_add_pd(_mm256_loadu_pd(p.add(4)), hi));
                    }
                    continue;
                }
                let mut lanes = [0.0f32; 8];
                // SAFETY: 8 floats.
                unsafe { _mm256_storeu_ps(lanes.as_mut_ptr(), acc[b][z]) };
                for (x, &a) in row.iter_mut().zip(&lanes) {
                    *x += a as f64;
                }
            }
        }
        j += width;
    }
}

const _: () = assert!(
    super::QUERY_BLOCK.is_multiple_of(QC),
    "a full block is whole groups of the score kernel"
);
