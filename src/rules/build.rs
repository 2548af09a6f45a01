//! Writing a learnt `N × N` weight matrix once, straight into the `f32`
//! weights of the model, from low-rank factors (`O(P·N)` numbers).
//!
//! Every rule's matrix is a product of rank `O(P)`:
//!
//! * [`Gram`]: `W_ij = Σ_μ y_μi y_μj` (pseudo-inverse, `Y = L⁻¹X`);
//! * [`Sym2`]: `W_ij = Σ_μ (x_μi u_μj + u_μi x_μj)` (Storkey);
//! * [`Counts`]: `W_ij = (C_ij − m(a_i + a_j) + P m²)·scale` with the exact
//!   integer overlaps `C_ij = Σ_μ ξ_μi ξ_μj` from bit-packed columns
//!   (covariance and Hebbian).
//!
//! Each entry is summed in `f64` in a fixed order from terms that are equal
//! for `(i, j)` and `(j, i)` (a fused multiply-add of an exact product, or
//! of two exact products, and `a + b == b + a`), so the matrix is exactly
//! symmetric without being mirrored, and each entry is the same whatever
//! the number of threads or the instruction set (`mul_add` is one rounding
//! everywhere). It is rounded once to `f32`.
//!
//! # The grid in one pass
//!
//! The model keeps its weights on the grid `2^−k` fixed by the largest
//! `|W_ij|` (see [`crate::model::Weights`]); only weights below
//! `max|W|·2^(⌈log₂N⌉−26)` move. The maximum is known only at the end, so
//! rows are written as plain `f32` while every weight below a bound
//! (a few times the grid's, estimated from the first rows) has its index
//! kept; when the final maximum confirms the estimate (the usual case),
//! only those are rounded onto the grid, else every weight is. Either
//! way the result equals rounding the whole `f32` matrix onto the grid.

use std::mem::MaybeUninit;
use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::error::{interrupted, Error, Result};
use crate::model::weights::grid_exponent;

/// Rows of one tile (computed together, sharing the loads of a column).
pub const R: usize = 4;
/// Columns of one tile (two AVX2 vectors of `f64`).
pub const L: usize = 8;
/// Columns of a panel: the factors of a panel stay in L2 while a task's
/// row blocks pass over it.
const PANEL: usize = 256;
/// Rows of one parallel task.
const TASK_ROWS: usize = 32;
/// How many binary orders of magnitude above the estimated grid bound a
/// weight is still kept as a candidate for rounding.
const MARGIN: i32 = 1;

/// A rank-`O(P)` matrix, computed a tile at a time.
pub trait Tiles: Sync {
    /// `W_ij` for the rows `rows` (each `< n`) and the columns `j..j + L`
    /// (columns `≥ n` may hold anything; they are not written).
    fn tile(&self, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]);
}

/// Factors padded with zeros to a multiple of [`L`] columns: `rank` rows of
/// `stride` values.
#[derive(Debug, Clone)]
pub struct Factors {
    values: Vec<f64>,
    rank: usize,
    stride: usize,
}

impl Factors {
    /// `rank` rows of `n` values each (row-major), padded.
    pub fn new(rows: &[f64], rank: usize, n: usize) -> Result<Factors> {
        let stride = n.div_ceil(L) * L;
        let mut values = crate::error::try_filled("the learnt factors", rank * stride, 0.0)?;
        for r in 0..rank {
            values[r * stride..r * stride + n].copy_from_slice(&rows[r * n..(r + 1) * n]);
        }
        Ok(Factors {
            values,
            rank,
            stride,
        })
    }

    #[inline(always)]
    fn at(&self, r: usize, j: usize) -> f64 {
        self.values[r * self.stride + j]
    }

    #[inline(always)]
    fn lanes(&self, r: usize, j: usize) -> &[f64; L] {
        let s = r * self.stride + j;
        self.values[s..s + L].try_into().expect("L lanes")
    }
}

/// `W_ij = Σ_μ y_μi y_μj`.
pub struct Gram(pub Factors);

impl Tiles for Gram {
    #[inline(always)]
    fn tile(&self, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]) {
        let y = &self.0;
        *acc = [[0.0; L]; R];
        for mu in 0..y.rank {
            let col = y.lanes(mu, j);
            for (r, &i) in rows.iter().enumerate() {
                let yi = y.at(mu, i);
                for l in 0..L {
                    // One rounding of the exact y_i·y_j + acc: the same for
                    // (i, j) and (j, i) (fused on every instruction set).
                    acc[r][l] = yi.mul_add(col[l], acc[r][l]);
                }
            }
        }
    }
}

/// `W_ij = Σ_μ (x_μi u_μj + u_μi x_μj)`.
pub struct Sym2 {
    /// The `x` factors.
    pub x: Factors,
    /// The `u` factors.
    pub u: Factors,
}

impl Tiles for Sym2 {
    #[inline(always)]
    fn tile(&self, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]) {
        *acc = [[0.0; L]; R];
        for mu in 0..self.x.rank {
            let (xc, uc) = (self.x.lanes(mu, j), self.u.lanes(mu, j));
            for (r, &i) in rows.iter().enumerate() {
                let (xi, ui) = (self.x.at(mu, i), self.u.at(mu, i));
                for l in 0..L {
                    // x = ±1, so both products are exact and the fused sum
                    // is one rounding of x_j u_i + x_i u_j: the same for
                    // (i, j) and (j, i).
                    acc[r][l] += xc[l].mul_add(ui, xi * uc[l]);
                }
            }
        }
    }
}

/// `W_ij = (C_ij − m(a_i + a_j) + P m²)·scale`, `C_ij = P − 2·popcount` of
/// the bit-packed columns `i` and `j` of the patterns.
pub struct Counts {
    /// `words` words per neuron (bit μ of neuron j: ξ_μj = +1), padded.
    bits: Vec<u64>,
    words: usize,
    /// `a_j = Σ_μ ξ_μj`, padded.
    sums: Vec<i64>,
    p: i64,
    m: f64,
    pm2: f64,
    scale: f64,
}

impl Counts {
    /// The counts of the patterns `x` (`P × N`), with mean spin `m` and
    /// the factor `scale`.
    pub fn new(x: &crate::spins::SpinMatrix, m: f64, scale: f64) -> Result<Counts> {
        let (p, n) = (x.rows(), x.n());
        let words = p.div_ceil(64).max(1);
        let padded = n.div_ceil(L) * L;
        let mut bits = crate::error::try_filled("the pattern columns", padded * words, 0u64)?;
        let mut sums = vec![0i64; padded];
        for mu in 0..p {
            let row = x.row(mu);
            for j in 0..n {
                let s = crate::spins::spin(row, j);
                sums[j] += s as i64;
                if s > 0 {
                    bits[j * words + mu / 64] |= 1 << (mu % 64);
                }
            }
        }
        Ok(Counts {
            bits,
            words,
            sums,
            p: p as i64,
            m,
            pm2: p as f64 * m * m,
            scale,
        })
    }
}

impl Tiles for Counts {
    #[inline(always)]
    fn tile(&self, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]) {
        let w = self.words;
        for (&i, out) in rows.iter().zip(acc.iter_mut()) {
            let bi = &self.bits[i * w..(i + 1) * w];
            for (l, x) in out.iter_mut().enumerate() {
                let bj = &self.bits[(j + l) * w..(j + l + 1) * w];
                let differ: u32 = bi.iter().zip(bj).map(|(a, b)| (a ^ b).count_ones()).sum();
                let c = (self.p - 2 * differ as i64) as f64;
                let a = (self.sums[i] + self.sums[j + l]) as f64;
                *x = ((c - self.m * a) + self.pm2) * self.scale;
            }
        }
    }
}

/// What a task reports: the largest `|w|` it wrote, whether every value
/// was finite, and the indices (in its rows) of its weights below the
/// candidate bound.
struct Written {
    max: f32,
    min: f32,
    finite: bool,
    candidates: Vec<usize>,
}

/// Writes rows `first..first + out.len() / n` of the matrix of `k`.
///
/// The bookkeeping of a tile (largest magnitude, finiteness, candidates)
/// runs lane by lane without branches, so that it vectorises; candidates
/// are rare and gathered only for a row of a tile that has one.
#[inline(always)]
fn write_rows_body<K: Tiles>(
    k: &K,
    n: usize,
    first: usize,
    out: &mut [MaybeUninit<f32>],
    zero_diagonal: bool,
    bound: f32,
) -> Written {
    let rows = out.len() / n;
    // About one weight in a hundred is a candidate: room for that up front.
    let mut candidates = Vec::with_capacity(out.len() / 64);
    let mut largest = [0.0f32; L];
    let mut smallest = [f32::INFINITY; L];
    let mut finite = [true; L];
    let mut acc = [[0.0f64; L]; R];
    let mut p0 = 0;
    while p0 < n {
        let p1 = (p0 + PANEL).min(n);
        let mut r0 = 0;
        while r0 < rows {
            let idx: [usize; R] = std::array::from_fn(|r| (first + r0 + r).min(n - 1));
            let live = (rows - r0).min(R);
            let mut j = p0;
            while j < p1 {
                k.tile(idx, j, &mut acc);
                let width = (p1 - j).min(L);
                for (r, a) in acc.iter_mut().enumerate().take(live) {
                    let i = first + r0 + r;
                    if zero_diagonal && i >= j && i < j + L {
                        a[i - j] = 0.0;
                    }
                    // Columns past `n` (a last tile) are not counted.
                    for x in a.iter_mut().skip(width) {
                        *x = 0.0;
                    }
                    let w: [f32; L] = std::array::from_fn(|l| a[l] as f32);
                    let mut any = false;
                    for l in 0..L {
                        let m = w[l].abs();
                        largest[l] = if m > largest[l] { m } else { largest[l] };
                        // Candidates may move on the grid: counted after.
                        let nonzero = if m >= bound && m > 0.0 {
                            m
                        } else {
                            f32::INFINITY
                        };
                        smallest[l] = if nonzero < smallest[l] {
                            nonzero
                        } else {
                            smallest[l]
                        };
                        finite[l] &= m <= f32::MAX;
                        any |= (m < bound) & (w[l] != 0.0);
                    }
                    let base = (r0 + r) * n + j;
                    if width == L {
                        for (o, &x) in out[base..base + L].iter_mut().zip(&w) {
                            o.write(x);
                        }
                    } else {
                        for (o, &x) in out[base..base + width].iter_mut().zip(&w) {
                            o.write(x);
                        }
                    }
                    if any {
                        for (l, &x) in w.iter().enumerate().take(width) {
                            if x.abs() < bound && x != 0.0 {
                                candidates.push(base + l);
                            }
                        }
                    }
                }
                j += L;
            }
            r0 += R;
        }
        p0 = p1;
    }
    Written {
        max: largest
            .iter()
            .fold(0.0f32, |m, &x| if x > m { x } else { m }),
        min: smallest
            .iter()
            .fold(f32::INFINITY, |m, &x| if x < m { x } else { m }),
        finite: finite.iter().all(|&f| f),
        candidates,
    }
}

crate::simd::multiversion! {
    /// [`write_rows_body`] for the best instruction set (same bits).
    fn write_rows<K: Tiles>(
        k: &K,
        n: usize,
        first: usize,
        out: &mut [MaybeUninit<f32>],
        zero_diagonal: bool,
        bound: f32
    ) -> Written => write_rows_body
}

/// `round_half_even(w·2^k)·2^−k`, the model's grid rounding.
#[inline(always)]
fn on_grid(w: f32, up: f64, down: f64) -> f32 {
    ((w as f64 * up).round_ties_even() * down) as f32
}

/// `2^e` for `|e| ≤ 1000`.
fn pow2(e: i32) -> f64 {
    f64::from_bits(((e + 1023) as u64) << 52)
}

/// Weights `|w|` below which the grid for a largest weight of `max` may move
/// a weight: `2^(e + ⌈log₂N⌉ − 26)`, `e` the exponent of `max`.
fn grid_bound(n: usize, max: f64) -> f64 {
    // k = 50 − c − e; a weight moves only if its ulp 2^(exp−24) < 2^−k.
    pow2((24 - grid_exponent(n, max)).clamp(-1000, 1000))
}

/// What [`write`] built: the row-major `f32` weights, their grid exponent
/// and their largest and smallest non-zero magnitudes.
pub struct Built {
    /// The weights.
    pub weights: Vec<f32>,
    /// The grid exponent `k`.
    pub grid: i32,
    /// `max |w|`.
    pub max: f32,
    /// The smallest non-zero `|w|` (infinite when all are zero), after the
    /// grid rounding (with `grid`; before it, and ignoring the weights below
    /// the candidate bound, without).
    pub min: f32,
}

/// The `n × n` matrix of `k`, rounded to `f32` and then (with `grid`)
/// onto the model's grid, with a zero diagonal if asked, and its grid
/// exponent. Looks at `cancel` between tasks.
///
/// # Errors
/// `Memory` when `N²` floats cannot be had; `Value` when a weight is not
/// finite in `f32`; `Interrupted` once `cancel` is raised.
pub fn write<K: Tiles>(
    k: &K,
    n: usize,
    zero_diagonal: bool,
    grid: bool,
    cancel: &AtomicBool,
) -> Result<Built> {
    let count = n
        .checked_mul(n)
        .ok_or_else(|| Error::Memory(format!("a {n} × {n} weight matrix cannot be allocated")))?;
    let mut w: Vec<f32> = Vec::new();
    w.try_reserve_exact(count).map_err(|_| {
        Error::Memory(format!(
            "a {n} × {n} float32 weight matrix would need {} bytes, more than can be allocated",
            count as u128 * 4
        ))
    })?;
    // The estimate: the largest weight of R rows spread over the matrix.
    let mut acc = [[0.0f64; L]; R];
    let first: [usize; R] = std::array::from_fn(|r| (r * n / R).min(n - 1));
    let mut estimate = 0.0f64;
    for j in (0..n).step_by(L) {
        k.tile(first, j, &mut acc);
        for (r, a) in acc.iter().enumerate() {
            for (l, &v) in a.iter().enumerate().take(n - j) {
                if !(zero_diagonal && first[r] == j + l) {
                    estimate = estimate.max((v as f32).abs() as f64);
                }
            }
        }
    }
    let bound = if grid {
        (grid_bound(n, estimate) * pow2(MARGIN)).min(f32::MAX as f64) as f32
    } else {
        0.0
    };
    let spare = &mut w.spare_capacity_mut()[..count];
    let parts: Vec<Result<Written>> = spare
        .par_chunks_mut(TASK_ROWS * n)
        .enumerate()
        .map(|(t, out)| {
            interrupted(cancel)?;
            Ok(write_rows(k, n, t * TASK_ROWS, out, zero_diagonal, bound))
        })
        .collect();
    let mut max = 0.0f32;
    let mut min = f32::INFINITY;
    let mut finite = true;
    let mut candidates = Vec::with_capacity(parts.len());
    for part in parts {
        let part = part?;
        max = max.max(part.max);
        min = min.min(part.min);
        finite &= part.finite;
        candidates.push(part.candidates);
    }
    // SAFETY: every task ran (none was interrupted), the tasks cover every
    // row, and each writes every column of its rows (the tiles step over
    // 0..n in every panel), so all `count` elements are initialised.
    unsafe { w.set_len(count) };
    if !finite {
        return Err(Error::Value(
            "the learnt weights do not fit in float32 (a weight is infinite or NaN); \
             store fewer patterns"
                .into(),
        ));
    }
    interrupted(cancel)?;
    let exponent = grid_exponent(n, max as f64);
    if !grid {
        return Ok(Built {
            weights: w,
            grid: exponent,
            max,
            min,
        });
    }
    let (up, down) = (pow2(exponent), pow2(-exponent));
    if grid_bound(n, max as f64) <= bound as f64 {
        // The estimate held: every weight the grid can move is a candidate.
        let moved = w
            .par_chunks_mut(TASK_ROWS * n)
            .zip(candidates)
            .map(|(rows, list)| {
                let mut least = f32::INFINITY;
                for at in list {
                    rows[at] = on_grid(rows[at], up, down);
                    if rows[at] != 0.0 {
                        least = least.min(rows[at].abs());
                    }
                }
                least
            })
            .reduce(|| f32::INFINITY, f32::min);
        min = min.min(moved);
    } else {
        w.par_iter_mut().for_each(|x| *x = on_grid(*x, up, down));
        min = w
            .par_iter()
            .filter(|x| **x != 0.0)
            .map(|x| x.abs())
            .reduce(|| f32::INFINITY, f32::min);
    }
    Ok(Built {
        weights: w,
        grid: exponent,
        max,
        min,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Weights;

    /// A symmetric matrix whose largest weights sit in rows the estimate
    /// does not look at (and whose small weights need the grid).
    struct Spiky;

    impl Tiles for Spiky {
        fn tile(&self, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]) {
            for (&i, out) in rows.iter().zip(acc.iter_mut()) {
                for (l, x) in out.iter_mut().enumerate() {
                    let c = j + l;
                    let (a, b) = (i.min(c), i.max(c));
                    *x = if (a, b) == (1, 2) {
                        3.0e3
                    } else {
                        ((a * 31 + b * 17) % 23) as f64 * 1.1e-7 + 1.0e-12 * a as f64
                    };
                }
            }
        }
    }

    /// n = 3: the estimate sees the spike (candidates only); n = 40, 77:
    /// it does not, and the whole matrix is rounded.
    #[test]
    fn both_grid_branches_equal_rounding_the_whole_matrix() {
        for n in [3, 40, 77] {
            let k = Spiky;
            let built = write(&k, n, false, true, &AtomicBool::new(false)).unwrap();
            let raw = write(&k, n, false, false, &AtomicBool::new(false))
                .unwrap()
                .weights;
            let want = Weights::new(n, raw, vec![0.0; n]).unwrap();
            assert_eq!(built.grid, want.grid_exponent(), "n = {n}");
            assert_eq!(built.weights, want.weights().unwrap(), "n = {n}");
            assert_eq!(built.max, 3.0e3);
        }
    }
}
