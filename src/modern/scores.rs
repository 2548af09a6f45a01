//! Score kernels: float inner products in a fixed lane order, and ±1
//! scores through XOR + popcount.

use super::aligned::Aligned;
use super::LANES;
use crate::spins::SpinMatrix;

/// The canonical sum of 16 lane partials: halves, quarters, pairs.
#[inline(always)]
pub(super) fn reduce16(l: &[f32; LANES]) -> f32 {
    let mut h = [0.0f32; 8];
    for i in 0..8 {
        h[i] = l[i] + l[i + 8];
    }
    let q = [h[0] + h[4], h[1] + h[5], h[2] + h[6], h[3] + h[7]];
    let p = [q[0] + q[2], q[1] + q[3]];
    p[0] + p[1]
}

/// `Σ_k a[k]·b[k]` in the canonical order: lane `i` sums `k ≡ i (mod 16)`
/// with fused multiply-adds, then [`reduce16`].
#[inline(always)]
pub fn dot_lanes(a: &[f32], b: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let mut ca = a.chunks_exact(LANES);
    let mut cb = b.chunks_exact(LANES);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for i in 0..LANES {
            acc[i] = x[i].mul_add(y[i], acc[i]);
        }
    }
    for (i, (x, y)) in ca.remainder().iter().zip(cb.remainder()).enumerate() {
        acc[i] = x.mul_add(*y, acc[i]);
    }
    reduce16(&acc)
}

/// Raw scores `out[c·ld + r] = k_r·q_c` of `rows` keys and `nq` queries.
#[inline(always)]
pub(super) fn scores(
    keys: &[f32],
    rows: usize,
    queries: &[f32],
    nq: usize,
    d: usize,
    out: &mut [f32],
    ld: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::level() == crate::simd::Level::Avx512 {
        // SAFETY: the level is never above what the CPU supports; the
        // slices hold `rows`/`nq` rows of `d` and `out` `nq` rows of `ld`.
        unsafe { super::x86::scores_avx512(keys, rows, queries, nq, d, out, ld) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if crate::simd::level() == crate::simd::Level::Avx2 {
        // SAFETY: as above (the AVX2 level includes FMA).
        unsafe { super::avx2::scores_avx2(keys, rows, queries, nq, d, out, ld) };
        return;
    }
    for c in 0..nq {
        let q = &queries[c * d..(c + 1) * d];
        for r in 0..rows {
            out[c * ld + r] = dot_lanes(&keys[r * d..(r + 1) * d], q);
        }
    }
}

/// `nq` queries (rows of `d`) packed for a lane-outer kernel with groups
/// of `qv` queries: for each group, lane `l` and step `i`, the `qv` values
/// `q[c][16 i + l]` side by side (zeros past `nq` and past `d`).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(super) fn pack_queries(
    queries: &[f32],
    nq: usize,
    d: usize,
    qv: usize,
) -> Option<Aligned<f32>> {
    let steps = d.div_ceil(LANES);
    let groups = nq.div_ceil(qv);
    let mut out = Aligned::zeros(groups * LANES * steps * qv)?;
    for (c, q) in queries.chunks_exact(d).take(nq).enumerate() {
        let (g, x) = (c / qv, c % qv);
        for (f, &v) in q.iter().enumerate() {
            let (i, l) = (f / LANES, f % LANES);
            out[((g * LANES + l) * steps + i) * qv + x] = v;
        }
    }
    Some(out)
}

/// The queries of a block packed for a kernel that reads them packed: the
/// first `n` queries, a multiple of its group or all of them.
pub(super) struct Packed {
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    data: Aligned<f32>,
    n: usize,
    width: usize,
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    kind: Kind,
}

/// Which kernel a [`Packed`] is for.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// AVX-512 lane-outer (`x86::scores_packed_avx512`, [`pack_queries`]).
    Lanes,
    /// AVX2 row kernel over query groups (`avx2::scores_packed_avx2`,
    /// `avx2::pack_groups`).
    Groups,
}

impl Packed {
    /// Floats of the key-major scratch a tile of [`TILE`](super::TILE) rows needs.
    pub(super) fn scratch_len(&self) -> usize {
        match self.kind {
            Kind::Lanes => super::TILE * self.width,
            Kind::Groups => 0,
        }
    }
}

/// The packed queries of a block, when a packed kernel will score them.
/// A last group less than half full is left to the row kernel (padding it
/// would waste more than the packed kernel gains).
pub(super) fn pack(queries: &[f32], nq: usize, d: usize) -> Option<Packed> {
    #[cfg(target_arch = "x86_64")]
    {
        let level = crate::simd::level();
        if level == crate::simd::Level::Avx512 {
            let qv = super::x86::QV;
            let n = if nq % qv >= qv / 2 { nq } else { nq - nq % qv };
            if n > 0 {
                return Some(Packed {
                    data: pack_queries(queries, n, d, qv)?,
                    n,
                    width: n.div_ceil(qv) * qv,
                    kind: Kind::Lanes,
                });
            }
        }
        if level == crate::simd::Level::Avx2 {
            // A last group of at least half the queries is padded: the row
            // kernel takes fewer.
            let qc = super::avx2::QC;
            let n = if nq % qc >= qc / 2 { nq } else { nq - nq % qc };
            if n > 0 {
                return Some(Packed {
                    data: super::avx2::pack_groups(queries, n, d)?,
                    n,
                    width: n,
                    kind: Kind::Groups,
                });
            }
        }
    }
    let _ = (queries, nq, d);
    None
}

/// [`scores`] of a tile, the first `packed.n` queries by the packed kernel.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
pub(super) fn scores_tile(
    keys: &[f32],
    rows: usize,
    queries: &[f32],
    nq: usize,
    d: usize,
    packed: Option<&Packed>,
    scratch: &mut [f32],
    out: &mut [f32],
    ld: usize,
) {
    let mut done = 0;
    #[cfg(target_arch = "x86_64")]
    if let Some(p) = packed {
        // SAFETY: `pack` built `p` only at the level of its kernel, which is
        // never above what the CPU supports; sizes are checked inside.
        unsafe {
            match p.kind {
                Kind::Lanes => {
                    super::x86::scores_packed_avx512(keys, rows, &p.data, p.n, d, scratch, out, ld)
                }
                Kind::Groups => {
                    super::avx2::scores_packed_avx2(keys, rows, &p.data, p.n, d, out, ld)
                }
            }
        }
        done = p.n;
    }
    let _ = (packed, &scratch);
    if done < nq {
        scores(
            keys,
            rows,
            &queries[done * d..],
            nq - done,
            d,
            &mut out[done * ld..],
            ld,
        );
    }
}

/// Scores `d − 2·hamming` of ±1 keys `start..start+rows` and ±1 queries.
#[inline(always)]
pub(super) fn popcount_scores(
    keys: &SpinMatrix,
    start: usize,
    rows: usize,
    queries: &SpinMatrix,
    d: usize,
    out: &mut [f32],
    ld: usize,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::level() == crate::simd::Level::Avx512 {
        // SAFETY: the level is never above what the CPU supports.
        unsafe { super::x86::popcount_scores_avx512(keys, start, rows, queries, d, out, ld) };
        return;
    }
    popcount_scores_rows(keys, start, rows, queries, d, out, ld);
}

#[inline(always)]
fn popcount_rows_body(
    keys: &SpinMatrix,
    start: usize,
    rows: usize,
    queries: &SpinMatrix,
    d: usize,
    out: &mut [f32],
    ld: usize,
) {
    for c in 0..queries.rows() {
        let q = queries.row(c);
        for r in 0..rows {
            out[c * ld + r] = crate::spins::overlap(keys.row(start + r), q, d) as f32;
        }
    }
}

crate::simd::multiversion! {
    /// The row-by-row popcount scores, compiled for each level (the caller
    /// is a closure without the level's features: without this, `popcnt`
    /// would be emulated in software).
    #[allow(clippy::too_many_arguments)]
    fn popcount_scores_rows(keys: &SpinMatrix, start: usize, rows: usize, queries: &SpinMatrix, d: usize, out: &mut [f32], ld: usize) -> ()
    => popcount_rows_body
}
