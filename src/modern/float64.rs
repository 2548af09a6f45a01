//! The float64 kernel: one chunk of stored patterns streamed through the
//! online softmax of a block of float64 queries, every number in `f64`.
//!
//! The keys of a tile of [`TILE`] rows are scored against the block with
//! one `dgemm` ([`crate::gemm`]), `β` as its factor (or, for ±1 keys and
//! queries, by popcount: `β·(d − 2·hamming)`, the same number: the `dgemm`
//! of ±1 values sums exact integers); the tile is folded into the online
//! softmax (running maximum `m` and sum `l` per query, the value
//! accumulator rescaled when `m` grows) with the exact `exp` and no weight
//! skipped; the weighted values of the tile are a second `dgemm` added
//! into the accumulator. The `dgemm` sums each element in an order fixed by
//! the inner dimension only, so a query's result depends on the query and
//! the memory alone.
//!
//! The keys may be float32 (widened exactly): that is how the energy of
//! either memory is computed in float64 (see `driver.rs`).

use std::ops::Range;

use super::stream::Partial;
use crate::gemm::{gemm, Matrix, Op};
use crate::spins::SpinMatrix;

/// Queries per block (the unit rayon schedules).
pub const BLOCK: usize = 64;
/// Stored patterns per tile.
pub const TILE: usize = 256;

/// A pass of a block of float64 queries over keys of `K` (`f32` or `f64`).
pub(super) struct Stream<'a, K> {
    /// `P × d` row-major keys.
    pub(super) keys: &'a [K],
    /// `P × dv` row-major values to accumulate, or none.
    pub(super) values: Option<&'a [K]>,
    /// The bit-packed keys and queries, when both are ±1.
    pub(super) spins: Option<(&'a SpinMatrix, &'a SpinMatrix)>,
    pub(super) d: usize,
    pub(super) dv: usize,
    /// `nb × d` row-major queries.
    pub(super) queries: &'a [f64],
    pub(super) beta: f64,
}

impl<K: Copy + Into<f64>> Stream<'_, K> {
    /// Folds the patterns `range` into `part`, tile by tile in order.
    pub(super) fn chunk(&self, range: Range<usize>, part: &mut Partial) {
        let (d, dv, beta) = (self.d, self.dv, self.beta);
        let nb = self.queries.len() / d;
        let width = if self.values.is_some() { dv } else { 0 };
        let mut k = vec![0.0f64; if self.spins.is_some() { 0 } else { TILE * d }];
        let mut v = vec![0.0f64; TILE * width];
        let mut s = vec![0.0f64; nb * TILE];
        let mut add = vec![0.0f64; nb * width];
        for start in range.clone().step_by(TILE) {
            let t = (range.end - start).min(TILE);
            let s = &mut s[..nb * t];
            match self.spins {
                Some((keys, queries)) => popcount_scores(keys, start, t, queries, d, beta, s),
                None => {
                    for (x, &y) in k.iter_mut().zip(&self.keys[start * d..(start + t) * d]) {
                        *x = y.into();
                    }
                    let (q, kt) = (view(self.queries, nb, d), view(&k[..t * d], t, d));
                    gemm(beta, q, kt, Op::Transposed, 0.0, s);
                }
            }
            for (b, row) in s.chunks_exact_mut(t).enumerate() {
                let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let m = part.m[b].max(top);
                let rescale = (part.m[b] - m).exp();
                let mut sum = 0.0;
                for x in row.iter_mut() {
                    *x = (*x - m).exp();
                    sum += *x;
                }
                part.l[b] = part.l[b] * rescale + sum;
                part.m[b] = m;
                for o in &mut part.o[b * width..(b + 1) * width] {
                    *o *= rescale;
                }
            }
            if let Some(values) = self.values {
                for (x, &y) in v.iter_mut().zip(&values[start * dv..(start + t) * dv]) {
                    *x = y.into();
                }
                let (w, vt) = (view(s, nb, t), view(&v[..t * dv], t, dv));
                gemm(1.0, w, vt, Op::Plain, 0.0, &mut add);
                for (o, &a) in part.o.iter_mut().zip(&add) {
                    *o += a;
                }
            }
        }
    }
}

/// `data` as a row-major `rows × cols` matrix.
fn view(data: &[f64], rows: usize, cols: usize) -> Matrix<'_> {
    Matrix { data, rows, cols }
}

#[inline(always)]
fn popcount_body(
    keys: &SpinMatrix,
    start: usize,
    rows: usize,
    queries: &SpinMatrix,
    d: usize,
    beta: f64,
    out: &mut [f64],
) {
    for (c, row) in out.chunks_exact_mut(rows).enumerate() {
        let q = queries.row(c);
        for (r, o) in row.iter_mut().enumerate() {
            *o = beta * crate::spins::overlap(keys.row(start + r), q, d) as f64;
        }
    }
}

crate::simd::multiversion! {
    /// `out[c·rows + r] = β·(k_{start+r}·q_c)` of ±1 keys and queries by
    /// popcount, compiled for each level (so that `popcnt` is an instruction).
    fn popcount_scores(keys: &SpinMatrix, start: usize, rows: usize, queries: &SpinMatrix, d: usize, beta: f64, out: &mut [f64]) -> ()
    => popcount_body
}
