//! AVX-512 micro-kernels of the scores and the value accumulation; each
//! performs the same operations as its portable counterpart.

#![allow(clippy::needless_range_loop)] // kernels index several register arrays

use super::{LANE_ORDER, TILE};
use crate::spins::SpinMatrix;
use std::arch::x86_64::*;

/// The lanes of `v` summed in the order of [`super::scores::reduce16`].
#[target_feature(enable = "avx512f,avx512dq,avx512vl")]
#[inline]
fn reduce(v: __m512) -> f32 {
    let h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    let q = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    let p = _mm_add_ps(q, _mm_movehl_ps(q, q));
    _mm_cvtss_f32(_mm_add_ss(p, _mm_shuffle_ps(p, p, 1)))
}

/// `R` keys × `C` queries, lanes over the features (tail masked).
///
/// # Safety
/// AVX-512F/DQ; every pointer row holds `d` floats.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,fma")]
#[inline]
unsafe fn micro<const R: usize, const C: usize>(
    k: [*const f32; R],
    q: [*const f32; C],
    d: usize,
) -> [[f32; C]; R] {
    let mut acc = [[_mm512_setzero_ps(); C]; R];
    let full = d / 16;
    for i in 0..full {
        let mut kv = [_mm512_setzero_ps(); R];
        for r in 0..R {
            // SAFETY: 16·i + 16 <= d.
            kv[r] = unsafe { _mm512_loadu_ps(k[r].add(16 * i)) };
        }
        for c in 0..C {
            // SAFETY: as above.
            let qv = unsafe { _mm512_loadu_ps(q[c].add(16 * i)) };
            for r in 0..R {
                acc[r][c] = _mm512_fmadd_ps(kv[r], qv, acc[r][c]);
            }
        }
    }
    let rest = d % 16;
    if rest > 0 {
        let mask: __mmask16 = (1u16 << rest) - 1;
        let mut qv = [_mm512_setzero_ps(); C];
        for c in 0..C {
            // SAFETY: masked lanes past d are not read.
            qv[c] = unsafe { _mm512_maskz_loadu_ps(mask, q[c].add(16 * full)) };
        }
        for r in 0..R {
            // SAFETY: as above.
            let kv = unsafe { _mm512_maskz_loadu_ps(mask, k[r].add(16 * full)) };
            for c in 0..C {
                acc[r][c] = _mm512_fmadd_ps(kv, qv[c], acc[r][c]);
            }
        }
    }
    let mut out = [[0.0f32; C]; R];
    for r in 0..R {
        for c in 0..C {
            out[r][c] = reduce(acc[r][c]);
        }
    }
    out
}

/// The 4 keys × 6 queries micro-kernel with named accumulators (an
/// array of registers gets spilled); same operations as [`micro`].
///
/// # Safety
/// AVX-512F/DQ and FMA; every pointer row holds `d` floats.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,fma")]
#[inline]
unsafe fn micro46(k: [*const f32; 4], q: [*const f32; 6], d: usize) -> [[f32; 6]; 4] {
    let z = _mm512_setzero_ps();
    let (mut a00, mut a01, mut a02, mut a03, mut a04, mut a05) = (z, z, z, z, z, z);
    let (mut a10, mut a11, mut a12, mut a13, mut a14, mut a15) = (z, z, z, z, z, z);
    let (mut a20, mut a21, mut a22, mut a23, mut a24, mut a25) = (z, z, z, z, z, z);
    let (mut a30, mut a31, mut a32, mut a33, mut a34, mut a35) = (z, z, z, z, z, z);
    let full = d / 16;
    let rest = d % 16;
    let steps = full + usize::from(rest > 0);
    for i in 0..steps {
        let mask: __mmask16 = if i < full {
            u16::MAX
        } else {
            (1u16 << rest) - 1
        };
        let ld = |p: *const f32| -> __m512 {
            if i < full {
                // SAFETY: 16·i + 16 <= d.
                unsafe { _mm512_loadu_ps(p.add(16 * i)) }
            } else {
                // SAFETY: masked loads read lanes 16·i.. below d only.
                unsafe { _mm512_maskz_loadu_ps(mask, p.add(16 * i)) }
            }
        };
        let (k0, k1, k2, k3) = (ld(k[0]), ld(k[1]), ld(k[2]), ld(k[3]));
        let qv = ld(q[0]);
        a00 = _mm512_fmadd_ps(k0, qv, a00);
        a10 = _mm512_fmadd_ps(k1, qv, a10);
        a20 = _mm512_fmadd_ps(k2, qv, a20);
        a30 = _mm512_fmadd_ps(k3, qv, a30);
        let qv = ld(q[1]);
        a01 = _mm512_fmadd_ps(k0, qv, a01);
        a11 = _mm512_fmadd_ps(k1, qv, a11);
        a21 = _mm512_fmadd_ps(k2, qv, a21);
        a31 = _mm512_fmadd_ps(k3, qv, a31);
        let qv = ld(q[2]);
        a02 = _mm512_fmadd_ps(k0, qv, a02);
        a12 = _mm512_fmadd_ps(k1, qv, a12);
        a22 = _mm512_fmadd_ps(k2, qv, a22);
        a32 = _mm512_fmadd_ps(k3, qv, a32);
        let qv = ld(q[3]);
        a03 = _mm512_fmadd_ps(k0, qv, a03);
        a13 = _mm512_fmadd_ps(k1, qv, a13);
        a23 = _mm512_fmadd_ps(k2, qv, a23);
        a33 = _mm512_fmadd_ps(k3, qv, a33);
        let qv = ld(q[4]);
        a04 = _mm512_fmadd_ps(k0, qv, a04);
        a14 = _mm512_fmadd_ps(k1, qv, a14);
        a24 = _mm512_fmadd_ps(k2, qv, a24);
        a34 = _mm512_fmadd_ps(k3, qv, a34);
        let qv = ld(q[5]);
        a05 = _mm512_fmadd_ps(k0, qv, a05);
        a15 = _mm512_fmadd_ps(k1, qv, a15);
        a25 = _mm512_fmadd_ps(k2, qv, a25);
        a35 = _mm512_fmadd_ps(k3, qv, a35);
    }
    [
        [
            reduce(a00),
            reduce(a01),
            reduce(a02),
            reduce(a03),
            reduce(a04),
            reduce(a05),
        ],
        [
            reduce(a10),
            reduce(a11),
            reduce(a12),
            reduce(a13),
            reduce(a14),
            reduce(a15),
        ],
        [
            reduce(a20),
            reduce(a21),
            reduce(a22),
            reduce(a23),
            reduce(a24),
            reduce(a25),
        ],
        [
            reduce(a30),
            reduce(a31),
            reduce(a32),
            reduce(a33),
            reduce(a34),
            reduce(a35),
        ],
    ]
}

/// Keys × queries of the main micro-kernel.
const KG: usize = 4;
const QG: usize = 6;

/// AVX-512 version of [`super::scores::scores`]; same bits as `dot_lanes`.
///
/// # Safety
/// AVX-512F/DQ and FMA; slice sizes as in `scores`.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,fma")]
pub unsafe fn scores_avx512(
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
    let kp = keys.as_ptr();
    let qp = queries.as_ptr();
    let mut c = 0;
    while c + QG <= nq {
        let q: [*const f32; QG] = std::array::from_fn(|i| qp.wrapping_add((c + i) * d));
        let mut r = 0;
        while r < rows {
            // Past the last key, repeat it: computed, never written.
            let k: [*const f32; KG] =
                std::array::from_fn(|i| kp.wrapping_add((r + i).min(rows - 1) * d));
            // SAFETY: every pointer is a whole row of d floats.
            let s = unsafe { micro46(k, q, d) };
            for (i, row) in s.iter().enumerate().take((rows - r).min(KG)) {
                for (j, &x) in row.iter().enumerate() {
                    out[(c + j) * ld + r + i] = x;
                }
            }
            r += KG;
        }
        c += QG;
    }
    while c < nq {
        let q = [qp.wrapping_add(c * d)];
        let mut r = 0;
        while r < rows {
            let k: [*const f32; 8] =
                std::array::from_fn(|i| kp.wrapping_add((r + i).min(rows - 1) * d));
            // SAFETY: as above.
            let s = unsafe { micro::<8, 1>(k, q, d) };
            for (i, row) in s.iter().enumerate().take((rows - r).min(8)) {
                out[c * ld + r + i] = row[0];
            }
            r += 8;
        }
        c += 1;
    }
}

/// `d − 2·popcount(k xor q)` with vector popcount. The keys of the tile
/// are first packed in panels of 8 (word `w` of the 8 keys side by side),
/// so one vector holds the 8 running counts of a query against a panel
/// and no horizontal sums are needed; 4 queries share each panel load.
///
/// # Safety
/// AVX-512F/DQ/VPOPCNTDQ.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,avx512vpopcntdq")]
pub unsafe fn popcount_scores_avx512(
    keys: &SpinMatrix,
    start: usize,
    rows: usize,
    queries: &SpinMatrix,
    d: usize,
    out: &mut [f32],
    ld: usize,
) {
    let words = keys.words();
    let nq = queries.rows();
    let kw = &keys.as_words()[start * words..(start + rows) * words];
    let panels = rows.div_ceil(8);
    let mut packed = vec![0u64; panels * words * 8];
    for (r, key) in kw.chunks_exact(words).enumerate() {
        let base = (r / 8) * words * 8 + r % 8;
        for (w, &x) in key.iter().enumerate() {
            packed[base + 8 * w] = x;
        }
    }
    assert!(queries.as_words().len() >= nq * words && out.len() >= (nq.max(1) - 1) * ld + rows);
    let qp = queries.as_words().as_ptr();
    let dv = _mm512_set1_epi64(d as i64);
    let store = |out: &mut [f32], c: usize, p: usize, h: __m512i| {
        let n = (rows - 8 * p).min(8);
        let mask: __mmask8 = ((1u16 << n) - 1) as u8;
        // d − 2h, rounded to float32 like the portable `as f32`.
        let s = _mm512_sub_epi64(dv, _mm512_add_epi64(h, h));
        let f = _mm512_cvtepi64_ps(s);
        let at = c * ld + 8 * p;
        assert!(at + n <= out.len());
        // SAFETY: lanes below n lie within out (checked above).
        unsafe { _mm256_mask_storeu_ps(out.as_mut_ptr().add(at), mask, f) };
    };
    let mut c = 0;
    while c + 4 <= nq {
        for p in 0..panels {
            let kp = packed[p * words * 8..].as_ptr();
            let z = _mm512_setzero_si512();
            let (mut h0, mut h1, mut h2, mut h3) = (z, z, z, z);
            for w in 0..words {
                // SAFETY: panel p holds words·8 words; query rows c..c+4
                // hold `words` words each.
                unsafe {
                    let k = _mm512_loadu_si512(kp.add(8 * w) as *const _);
                    let q0 = _mm512_set1_epi64(*qp.add(c * words + w) as i64);
                    let q1 = _mm512_set1_epi64(*qp.add((c + 1) * words + w) as i64);
                    let q2 = _mm512_set1_epi64(*qp.add((c + 2) * words + w) as i64);
                    let q3 = _mm512_set1_epi64(*qp.add((c + 3) * words + w) as i64);
                    h0 = _mm512_add_epi64(h0, _mm512_popcnt_epi64(_mm512_xor_si512(k, q0)));
                    h1 = _mm512_add_epi64(h1, _mm512_popcnt_epi64(_mm512_xor_si512(k, q1)));
                    h2 = _mm512_add_epi64(h2, _mm512_popcnt_epi64(_mm512_xor_si512(k, q2)));
                    h3 = _mm512_add_epi64(h3, _mm512_popcnt_epi64(_mm512_xor_si512(k, q3)));
                }
            }
            store(out, c, p, h0);
            store(out, c + 1, p, h1);
            store(out, c + 2, p, h2);
            store(out, c + 3, p, h3);
        }
        c += 4;
    }
    while c < nq {
        for p in 0..panels {
            let kp = packed[p * words * 8..].as_ptr();
            let mut h = _mm512_setzero_si512();
            for w in 0..words {
                // SAFETY: as above.
                unsafe {
                    let k = _mm512_loadu_si512(kp.add(8 * w) as *const _);
                    let q = _mm512_set1_epi64(*qp.add(c * words + w) as i64);
                    h = _mm512_add_epi64(h, _mm512_popcnt_epi64(_mm512_xor_si512(k, q)));
                }
            }
            store(out, c, p, h);
        }
        c += 1;
    }
}

/// AVX-512 version of [`super::stream::accumulate`] for `B` queries and the
/// first `cols` columns of the value rows (stride `vs`; rows of `o` of stride `os`);
/// same bits.
///
/// # Safety
/// AVX-512F/DQ and FMA; sizes as in `accumulate`.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,fma")]
pub unsafe fn accumulate_avx512<const B: usize, const Z: usize>(
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
        let width = (cols - j).min(16 * Z);
        let masks: [__mmask16; Z] = std::array::from_fn(|z| {
            let lanes = width.saturating_sub(16 * z).min(16);
            ((1u32 << lanes) - 1) as u16
        });
        let mut acc = [[_mm512_setzero_ps(); Z]; B];
        for &p in list {
            let p = p as usize;
            let mut v = [_mm512_setzero_ps(); Z];
            for z in 0..Z {
                // SAFETY: masked lanes stay within the first `cols` of row p (checked above).
                v[z] = unsafe { _mm512_maskz_loadu_ps(masks[z], vp.add(p * vs + j + 16 * z)) };
            }
            for b in 0..B {
                // SAFETY: b·TILE + p < B·TILE <= w.len().
                let wb = _mm512_set1_ps(unsafe { *wp.add(b * TILE + p) });
                for z in 0..Z {
                    acc[b][z] = _mm512_fmadd_ps(wb, v[z], acc[b][z]);
                }
            }
        }
        for b in 0..B {
            for z in 0..Z {
                let lanes = width.saturating_sub(16 * z).min(16);
                if lanes == 0 {
                    break;
                }
                let at = b * os + j + 16 * z;
                let lo = _mm512_cvtps_pd(_mm512_castps512_ps256(acc[b][z]));
                let hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(acc[b][z], 1));
                let (m0, m1) = (
                    (1u32 << lanes.min(8)) - 1,
                    (1u32 << lanes.saturating_sub(8)) - 1,
                );
                // SAFETY: lanes below `lanes` lie within row b of o (at + lanes <= b·os + cols).
                unsafe {
                    let p = o.as_mut_ptr().add(at);
                    let x = _mm512_maskz_loadu_pd(m0 as u8, p);
                    _mm512_mask_storeu_pd(p, m0 as u8, _mm512_add_pd(x, lo));
                    if m1 != 0 {
                        let x = _mm512_maskz_loadu_pd(m1 as u8, p.add(8));
                        _mm512_mask_storeu_pd(p.add(8), m1 as u8, _mm512_add_pd(x, hi));
                    }
                }
            }
        }
        j += 16 * Z;
    }
}

/// Query vectors per group of the packed score kernel.
pub const NV: usize = 2;
/// Queries per group of the packed score kernel.
pub const QV: usize = 16 * NV;
/// Keys per micro-tile of the packed score kernel (2·14 accumulators).
const KR: usize = 14;
/// [`KR`] keys × [`QV`] packed queries, one lane at a time: lane `l` of
/// every inner product is its own fused multiply-add chain over the steps
/// (as in `dot_lanes`), the vectors running over the queries with the key
/// value broadcast; the 16 lane results are then summed in the tree of
/// `reduce16`. Same bits as `dot_lanes`, without horizontal sums.
///
/// # Safety
/// AVX-512F and FMA; every key pointer holds `d` floats, `qp` one packed
/// group (`16·steps·QV` floats).
#[target_feature(enable = "avx512f,avx512dq,avx512vl,fma")]
#[inline]
unsafe fn micro_lanes<const NV: usize, const KR: usize>(
    k: [*const f32; KR],
    qp: *const f32,
    d: usize,
) -> [[__m512; NV]; KR] {
    let qv = 16 * NV;
    let steps = d.div_ceil(16);
    let (full, rest) = (d / 16, d % 16);
    let z = _mm512_setzero_ps();
    let mut stack = [[[z; NV]; KR]; 5];
    for (n, &l) in LANE_ORDER.iter().enumerate() {
        let count = full + usize::from(l < rest);
        // SAFETY: lane l of the packed group lies within it.
        let base = unsafe { qp.add(l * steps * qv) };
        let mut acc = [[z; NV]; KR];
        for i in 0..count {
            // SAFETY: step i < steps of lane l; 16·i + l < d.
            unsafe {
                let mut q = [z; NV];
                for h in 0..NV {
                    q[h] = _mm512_loadu_ps(base.add(i * qv + 16 * h));
                }
                for j in 0..KR {
                    let b = _mm512_set1_ps(*k[j].add(16 * i + l));
                    for h in 0..NV {
                        acc[j][h] = _mm512_fmadd_ps(q[h], b, acc[j][h]);
                    }
                }
            }
        }
        // Binary-counter combination: item n is added to the partials of
        // the completed left subtrees (earlier item first).
        let mut level = 0;
        let mut m = n;
        while m & 1 == 1 {
            for j in 0..KR {
                for h in 0..NV {
                    acc[j][h] = _mm512_add_ps(stack[level][j][h], acc[j][h]);
                }
            }
            level += 1;
            m >>= 1;
        }
        stack[level] = acc;
    }
    stack[4]
}

/// Raw scores of `rows` keys against `nq` queries packed by
/// [`super::scores::pack_queries`]; same bits as `dot_lanes`. `scratch` (at least
/// `rows × groups·QV`) receives them key-major, then `out`
/// (`out[c·ld + r]`).
///
/// # Safety
/// AVX-512F/DQ and FMA.
#[target_feature(enable = "avx512f,avx512dq,avx512vl,fma")]
#[allow(clippy::too_many_arguments)]
pub unsafe fn scores_packed_avx512(
    keys: &[f32],
    rows: usize,
    qpack: &[f32],
    nq: usize,
    d: usize,
    scratch: &mut [f32],
    out: &mut [f32],
    ld: usize,
) {
    let qv = 16 * NV;
    let steps = d.div_ceil(16);
    let groups = nq.div_ceil(qv);
    let width = groups * qv;
    let gsize = 16 * steps * qv;
    assert!(
        rows > 0
            && keys.len() >= rows * d
            && qpack.len() >= groups * gsize
            && scratch.len() >= rows * width
            && out.len() >= (nq.max(1) - 1) * ld + rows
    );
    let kp = keys.as_ptr();
    let mut r = 0;
    while r < rows {
        // Past the last key, repeat it: computed, never written.
        let k: [*const f32; KR] =
            std::array::from_fn(|i| kp.wrapping_add((r + i).min(rows - 1) * d));
        let n = (rows - r).min(KR);
        for g in 0..groups {
            // SAFETY: every key pointer is a whole row; group g is within qpack.
            let s = unsafe { micro_lanes::<NV, KR>(k, qpack.as_ptr().add(g * gsize), d) };
            for j in 0..n {
                let at = (r + j) * width + g * qv;
                for h in 0..NV {
                    // SAFETY: at + qv <= rows·width <= scratch.len().
                    unsafe { _mm512_storeu_ps(scratch.as_mut_ptr().add(at + 16 * h), s[j][h]) };
                }
            }
        }
        r += KR;
    }
    for c in 0..nq {
        let row = &mut out[c * ld..c * ld + rows];
        for (r, x) in row.iter_mut().enumerate() {
            *x = scratch[r * width + c];
        }
    }
}
