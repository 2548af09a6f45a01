//! Writing a learnt `N × N` weight matrix once, straight into the `f32`
//! weights of the model, from low-rank factors (`O(P·N)` numbers).
//!
//! Every rule's matrix is a product of rank `O(P)`:
//!
//! * [`Gram`]: `W_ij = Σ_μ y_μi y_μj` (pseudo-inverse, `Y = L⁻¹X`);
//! * [`Sym2`]: `W_ij = Σ_μ (x_μi u_μj + u_μi x_μj)` (Storkey);
//! * [`Counts`]: `W_ij = (C_ij − m(a_i + a_j) + P m²)·scale` with the exact
//!   integer overlaps `C_ij = Σ_μ ξ_μi ξ_μj` (covariance and Hebbian).
//!
//! Each entry is summed in `f64` in a fixed order from terms that are equal
//! for `(i, j)` and `(j, i)` (a fused multiply-add of an exact product, or
//! of two exact products, and `a + b == b + a`), so the matrix is exactly
//! symmetric, and each entry is the same whatever the number of threads or
//! the instruction set (`mul_add` is one rounding everywhere; the AVX2
//! kernels do the same operations in the same order as [`Tiles::tile`]).
//! It is rounded once to `f32`.
//!
//! # Triangle and mirror
//!
//! The matrix is written in square blocks of [`B`] × [`B`]: a task owns a
//! block row `bi` and computes the blocks `(bi, bj)`, `bj ≥ bi`, of the
//! upper triangle (a diagonal block whole), writes them in place and copies
//! each off-diagonal one transposed to `(bj, bi)`. By the symmetry above the
//! copy holds the very bits the lower triangle would have been computed to,
//! at half the arithmetic. Every weight is written by exactly one task.
//!
//! # The grid in one pass
//!
//! The model keeps its weights on the grid `2^−k` fixed by the largest
//! `|W_ij|` (see [`crate::model::Weights`]); only weights below
//! `max|W|·2^(⌈log₂N⌉−26)` move. The maximum is known only at the end, so
//! blocks are written as plain `f32` while every weight below a bound
//! (a few times the grid's, estimated from rows spread over the matrix)
//! has its index kept; when the final maximum confirms the estimate (the
//! usual case), only those are rounded onto the grid, else every weight
//! is. Either way the result equals rounding the whole `f32` matrix onto
//! the grid. The largest and smallest magnitudes and finiteness are kept
//! in registers while the blocks are written.

use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::error::{interrupted, Error, Result};
use crate::model::weights::grid_exponent;

/// Rows of one tile (computed together, sharing the loads of a column).
pub const R: usize = 4;
/// Columns of one tile (two AVX2 vectors of `f64`).
pub const L: usize = 8;
/// Side of the square blocks the matrix is written in (a multiple of
/// [`R`] and [`L`]): the factors of a block row and a block column stay
/// in L1, and a block is still in cache when it is copied transposed.
const B: usize = 64;
/// How many binary orders of magnitude above the estimated grid bound a
/// weight is still kept as a candidate for rounding.
const MARGIN: i32 = 1;
/// Largest `P` for which [`Counts`] sums the overlaps as `±1` products in
/// `f64` (exact) on AVX2; above it the bit-packed popcounts are cheaper.
const COUNTS_AS_PRODUCTS: usize = 64;

/// A rank-`O(P)` matrix, computed a tile at a time.
pub trait Tiles: Sync {
    /// `W_ij` for the rows `rows` (each `< n`) and the columns `j..j + L`
    /// (columns `≥ n` may hold anything; they are not written).
    fn tile(&self, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]);

    /// [`tile`](Tiles::tile) with AVX2 and FMA: the same bits (the same
    /// operations in the same order, a vector at a time).
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn tile_avx2(&self, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]) {
        self.tile(rows, j, acc)
    }

    /// Bounds `b_i`, one per row `i < n`, such that every weight the tiles
    /// compute (in `f64`, before the rounding to `f32`) has
    /// `|W_ij| ≤ pair_bound(b_i, b_j)·(1 + 2⁻³⁰)` (the factor covers the
    /// `f64` rounding errors of at most [`MAX_BOUNDED_RANK`] terms); `None`
    /// when there are none. They let [`write`] skip the candidate lists
    /// wherever the largest weight cannot be.
    fn row_bounds(&self, _n: usize) -> Option<Vec<f64>> {
        None
    }

    /// The bound of `|W_ij|` from the row bounds of `i` and `j` (or from
    /// their largest values over two blocks of rows).
    fn pair_bound(&self, _a: f64, _b: f64) -> f64 {
        f64::INFINITY
    }
}

/// The largest rank for which the row bounds' factor `1 + 2⁻³⁰` covers the
/// `f64` rounding errors (a sum of `P` terms is off by at most about
/// `P·2⁻⁵³` of the sum of their magnitudes).
pub const MAX_BOUNDED_RANK: usize = 1 << 20;

/// `rank` rows of `n` factors, stored by panels of [`L`] columns (padded
/// with zeros): the `rank × L` values of a panel are contiguous, so a tile
/// reads its columns, and the values of its rows, from consecutive memory
/// (rows of `N` values each would put every factor of a column in the same
/// L1 set at `N = 16,384`).
#[derive(Debug, Clone)]
pub struct Factors {
    values: Vec<f64>,
    rank: usize,
}

impl Factors {
    /// `rank` rows of `n` values each (row-major), by panels.
    pub fn new(rows: &[f64], rank: usize, n: usize) -> Result<Factors> {
        let padded = n.div_ceil(L) * L;
        let mut values = crate::error::try_filled("the learnt factors", rank * padded, 0.0)?;
        for r in 0..rank {
            for (j, &v) in rows[r * n..(r + 1) * n].iter().enumerate() {
                values[(j / L) * rank * L + r * L + j % L] = v;
            }
        }
        Ok(Factors { values, rank })
    }

    /// Where factor `r` of column `j` is.
    #[inline(always)]
    fn offset(&self, r: usize, j: usize) -> usize {
        (j / L) * self.rank * L + r * L + j % L
    }

    #[inline(always)]
    fn at(&self, r: usize, j: usize) -> f64 {
        self.values[self.offset(r, j)]
    }

    /// Factor `r` of the columns `j..j + L` (`j` a multiple of `L`).
    #[inline(always)]
    fn lanes(&self, r: usize, j: usize) -> &[f64; L] {
        debug_assert_eq!(j % L, 0);
        let s = self.offset(r, j);
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

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn tile_avx2(&self, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]) {
        // SAFETY: the caller guarantees AVX2 and FMA.
        unsafe { avx2::gram(&self.0, rows, j, acc) }
    }

    /// `b_i = Σ_μ y_μi²`: `|W_ij| ≤ √(b_i b_j)` (Cauchy–Schwarz).
    fn row_bounds(&self, n: usize) -> Option<Vec<f64>> {
        let y = &self.0;
        if y.rank > MAX_BOUNDED_RANK {
            return None;
        }
        let mut b = vec![0.0f64; n];
        for mu in 0..y.rank {
            for (i, v) in b.iter_mut().enumerate() {
                *v += y.at(mu, i) * y.at(mu, i);
            }
        }
        Some(b)
    }

    fn pair_bound(&self, a: f64, b: f64) -> f64 {
        (a * b).sqrt()
    }
}

/// `W_ij = Σ_μ (x_μi u_μj + u_μi x_μj)`.
pub struct Sym2 {
    /// The `x` factors (`±1`).
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

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn tile_avx2(&self, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]) {
        // SAFETY: the caller guarantees AVX2 and FMA.
        unsafe { avx2::sym2(&self.x, &self.u, rows, j, acc) }
    }

    /// `b_i = Σ_μ |u_μi|`: `|W_ij| ≤ b_i + b_j` (`x = ±1`).
    fn row_bounds(&self, n: usize) -> Option<Vec<f64>> {
        if self.u.rank > MAX_BOUNDED_RANK {
            return None;
        }
        let mut b = vec![0.0f64; n];
        for mu in 0..self.u.rank {
            for (i, v) in b.iter_mut().enumerate() {
                *v += self.u.at(mu, i).abs();
            }
        }
        Some(b)
    }

    fn pair_bound(&self, a: f64, b: f64) -> f64 {
        a + b
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
    /// For `P ≤ COUNTS_AS_PRODUCTS`: the patterns as `±1.0` and the `a_j`
    /// as `f64`, for the AVX2 kernel (`C_ij` summed exactly in `f64`).
    spins: Option<(Factors, Vec<f64>)>,
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
        let spins = if p <= COUNTS_AS_PRODUCTS && crate::simd::level() >= crate::simd::Level::Avx2 {
            let mut rows = crate::error::try_filled("the pattern factors", p * n, 0.0f64)?;
            for mu in 0..p {
                let row = x.row(mu);
                for (j, v) in rows[mu * n..(mu + 1) * n].iter_mut().enumerate() {
                    *v = crate::spins::spin(row, j) as f64;
                }
            }
            Some((
                Factors::new(&rows, p, n)?,
                sums.iter().map(|&a| a as f64).collect(),
            ))
        } else {
            None
        };
        Ok(Counts {
            bits,
            words,
            sums,
            spins,
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

    #[cfg(target_arch = "x86_64")]
    #[inline(always)]
    unsafe fn tile_avx2(&self, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]) {
        match &self.spins {
            // SAFETY: the caller guarantees AVX2 and FMA.
            Some((x, a)) => unsafe {
                avx2::counts(x, a, [self.m, self.pm2, self.scale], rows, j, acc)
            },
            None => self.tile(rows, j, acc),
        }
    }

    /// `b_i = Σ_μ (ξ_μi − m)² = P(1 + m²) − 2m·a_i`: `W_ij` is
    /// `scale·Σ_μ (ξ_μi − m)(ξ_μj − m)`, so `|W_ij| ≤ |scale|·√(b_i b_j)`,
    /// plus the rounding errors of the formula (a few units of `2⁻⁵³` of
    /// `P(1 + |m|)²·|scale|`, covered by `2⁻⁴⁰` of it).
    fn row_bounds(&self, n: usize) -> Option<Vec<f64>> {
        if self.p as usize > MAX_BOUNDED_RANK {
            return None;
        }
        let p = self.p as f64;
        Some(
            self.sums[..n]
                .iter()
                .map(|&a| (p * (1.0 + self.m * self.m) - 2.0 * self.m * a as f64).max(0.0))
                .collect(),
        )
    }

    fn pair_bound(&self, a: f64, b: f64) -> f64 {
        let top = self.p as f64 * (1.0 + self.m.abs()).powi(2);
        self.scale.abs() * ((a * b).sqrt() + top * pow2(-40))
    }
}

/// The AVX2 + FMA kernels: each does the operations of the scalar
/// [`Tiles::tile`] it stands for, in the same order, four lanes at a time.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use crate::rules::build::{Factors, L, R};
    use std::arch::x86_64::*;

    /// [`Gram`](crate::rules::build::Gram): `acc = fma(y_i, y_j, acc)` over μ, from zero.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) unsafe fn gram(y: &Factors, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]) {
        let mut a = [[_mm256_setzero_pd(); 2]; R];
        let base = y.values.as_ptr();
        // Reads below, rank·L apart from these, lie in the padded panels
        // (rows < n, j < n a multiple of L).
        let col = base.wrapping_add(y.offset(0, j));
        let row = rows.map(|i| base.wrapping_add(y.offset(0, i)));
        for mu in 0..y.rank {
            // SAFETY: in the panels (see above).
            let (c0, c1) = unsafe {
                (
                    _mm256_loadu_pd(col.add(mu * L)),
                    _mm256_loadu_pd(col.add(mu * L + 4)),
                )
            };
            for r in 0..R {
                // SAFETY: in the panels (see above).
                let yi = unsafe { _mm256_broadcast_sd(&*row[r].add(mu * L)) };
                a[r][0] = _mm256_fmadd_pd(yi, c0, a[r][0]);
                a[r][1] = _mm256_fmadd_pd(yi, c1, a[r][1]);
            }
        }
        store(&a, acc);
    }

    /// [`Sym2`](crate::rules::build::Sym2): `acc += fma(x_j, u_i, x_i·u_j)` over μ, from
    /// zero. The fused sum is one rounding of the exact `x_j u_i + x_i u_j`
    /// (both products exact as `x = ±1`), here as `fma(x_i, u_j, x_j·u_i)`
    /// with `x_j·u_i` taken by flipping the sign of `u_i`: the same value,
    /// and the same sign of a zero (negative only when both terms are).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) unsafe fn sym2(
        x: &Factors,
        u: &Factors,
        rows: [usize; R],
        j: usize,
        acc: &mut [[f64; L]; R],
    ) {
        let mut a = [[_mm256_setzero_pd(); 2]; R];
        let sign = _mm256_set1_pd(-0.0);
        let (xb, ub) = (x.values.as_ptr(), u.values.as_ptr());
        // Reads below, rank·L apart from these, lie in the padded panels
        // (rows < n, j < n a multiple of L; x and u have the same shape).
        let (xcol, ucol) = (
            xb.wrapping_add(x.offset(0, j)),
            ub.wrapping_add(u.offset(0, j)),
        );
        let xrow = rows.map(|i| xb.wrapping_add(x.offset(0, i)));
        let urow = rows.map(|i| ub.wrapping_add(u.offset(0, i)));
        for mu in 0..x.rank {
            let at = mu * L;
            // SAFETY: in the panels (see above).
            let (s0, s1, u0, u1) = unsafe {
                (
                    _mm256_and_pd(_mm256_loadu_pd(xcol.add(at)), sign),
                    _mm256_and_pd(_mm256_loadu_pd(xcol.add(at + 4)), sign),
                    _mm256_loadu_pd(ucol.add(at)),
                    _mm256_loadu_pd(ucol.add(at + 4)),
                )
            };
            for r in 0..R {
                // SAFETY: in the panels (see above).
                let (xi, ui) = unsafe {
                    (
                        _mm256_broadcast_sd(&*xrow[r].add(at)),
                        _mm256_broadcast_sd(&*urow[r].add(at)),
                    )
                };
                let t0 = _mm256_fmadd_pd(xi, u0, _mm256_xor_pd(ui, s0));
                let t1 = _mm256_fmadd_pd(xi, u1, _mm256_xor_pd(ui, s1));
                a[r][0] = _mm256_add_pd(a[r][0], t0);
                a[r][1] = _mm256_add_pd(a[r][1], t1);
            }
        }
        store(&a, acc);
    }

    /// [`Counts`](crate::rules::build::Counts) from `±1` factors: `C_ij` as the exact sum
    /// `fma(x_i, x_j, C)` (integers below 2⁵³), then
    /// `((C − m·a) + P m²)·scale` with `a = a_i + a_j` (exact), the scalar
    /// expression's roundings in its order. `k = [m, P m², scale]`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) unsafe fn counts(
        x: &Factors,
        sums: &[f64],
        k: [f64; 3],
        rows: [usize; R],
        j: usize,
        acc: &mut [[f64; L]; R],
    ) {
        let mut c = [[_mm256_setzero_pd(); 2]; R];
        let base = x.values.as_ptr();
        // Reads below, rank·L apart from these, lie in the padded panels
        // (rows < n, j < n a multiple of L).
        let col = base.wrapping_add(x.offset(0, j));
        let row = rows.map(|i| base.wrapping_add(x.offset(0, i)));
        for mu in 0..x.rank {
            // SAFETY: in the panels (see above).
            let (c0, c1) = unsafe {
                (
                    _mm256_loadu_pd(col.add(mu * L)),
                    _mm256_loadu_pd(col.add(mu * L + 4)),
                )
            };
            for r in 0..R {
                // SAFETY: in the panels (see above).
                let xi = unsafe { _mm256_broadcast_sd(&*row[r].add(mu * L)) };
                c[r][0] = _mm256_fmadd_pd(xi, c0, c[r][0]);
                c[r][1] = _mm256_fmadd_pd(xi, c1, c[r][1]);
            }
        }
        let (m, pm2, scale) = (
            _mm256_set1_pd(k[0]),
            _mm256_set1_pd(k[1]),
            _mm256_set1_pd(k[2]),
        );
        // SAFETY: sums is padded to a multiple of L, j + L ≤ its length.
        let (a0, a1) = unsafe {
            (
                _mm256_loadu_pd(sums.as_ptr().add(j)),
                _mm256_loadu_pd(sums.as_ptr().add(j + 4)),
            )
        };
        for r in 0..R {
            let ai = _mm256_set1_pd(sums[rows[r]]);
            for (v, aj) in [a0, a1].into_iter().enumerate() {
                let a = _mm256_add_pd(ai, aj);
                let t = _mm256_sub_pd(c[r][v], _mm256_mul_pd(m, a));
                c[r][v] = _mm256_mul_pd(_mm256_add_pd(t, pm2), scale);
            }
        }
        store(&c, acc);
    }

    #[target_feature(enable = "avx2")]
    #[inline]
    fn store(a: &[[__m256d; 2]; R], acc: &mut [[f64; L]; R]) {
        for (v, out) in a.iter().zip(acc.iter_mut()) {
            // SAFETY: out holds L = 8 values.
            unsafe {
                _mm256_storeu_pd(out.as_mut_ptr(), v[0]);
                _mm256_storeu_pd(out.as_mut_ptr().add(4), v[1]);
            }
        }
    }

    /// The largest `|w|`, the smallest `|w| ≥ lo`, whether every `|w|` is
    /// at most `f32::MAX`, lane by lane.
    pub(super) struct Book {
        pub largest: __m256,
        pub smallest: __m256,
        pub finite: __m256,
    }

    impl Book {
        #[target_feature(enable = "avx2")]
        #[inline]
        pub(super) fn new() -> Book {
            Book {
                largest: _mm256_setzero_ps(),
                smallest: _mm256_set1_ps(f32::INFINITY),
                finite: _mm256_castsi256_ps(_mm256_set1_epi32(-1)),
            }
        }

        /// Reduces the lanes: `(largest, smallest, finite)`.
        #[target_feature(enable = "avx2")]
        #[inline]
        pub(super) fn lanes(&self) -> (f32, f32, bool) {
            let mut big = [0.0f32; 8];
            let mut small = [0.0f32; 8];
            // SAFETY: 8 lanes each.
            unsafe {
                _mm256_storeu_ps(big.as_mut_ptr(), self.largest);
                _mm256_storeu_ps(small.as_mut_ptr(), self.smallest);
            }
            (
                big.iter().fold(0.0f32, |m, &x| if x > m { x } else { m }),
                small
                    .iter()
                    .fold(f32::INFINITY, |m, &x| if x < m { x } else { m }),
                _mm256_movemask_ps(self.finite) == 0xff,
            )
        }
    }

    /// Rounds the `R × L` tile `acc` to `f32` (and, with `grid`, onto the
    /// grid: `round_ties_even(w·2^k)·2^−k` as [`on_grid`](crate::rules::build::on_grid)),
    /// stores row `r` at `out + r·n`, and notes it in `book` (the largest
    /// and finiteness before the grid, the smallest after); returns a mask
    /// of the lanes below `bound` and not zero (bit `8r + l`), the
    /// candidates.
    ///
    /// # Safety
    /// `out + r·n .. + L` must be writable for every `r < R`.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn finish(
        acc: &[[f64; L]; R],
        out: *mut f32,
        n: usize,
        book: &mut Book,
        bound: __m256,
        lo: __m256,
        grid: Option<(__m256d, __m256d)>,
    ) -> u32 {
        let abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(i32::MAX));
        let (max, zero, inf) = (
            _mm256_set1_ps(f32::MAX),
            _mm256_setzero_ps(),
            _mm256_set1_ps(f32::INFINITY),
        );
        let mut below = 0u32;
        for (r, a) in acc.iter().enumerate() {
            // SAFETY: a holds 8 values.
            let w = unsafe {
                let lo4 = _mm256_cvtpd_ps(_mm256_loadu_pd(a.as_ptr()));
                let hi4 = _mm256_cvtpd_ps(_mm256_loadu_pd(a.as_ptr().add(4)));
                _mm256_set_m128(hi4, lo4)
            };
            let on = match grid {
                Some((up, down)) => {
                    let round = |x: __m256d| {
                        _mm256_mul_pd(
                            _mm256_round_pd::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                                _mm256_mul_pd(x, up),
                            ),
                            down,
                        )
                    };
                    let lo8 = round(_mm256_cvtps_pd(_mm256_castps256_ps128(w)));
                    let hi8 = round(_mm256_cvtps_pd(_mm256_extractf128_ps::<1>(w)));
                    _mm256_set_m128(_mm256_cvtpd_ps(hi8), _mm256_cvtpd_ps(lo8))
                }
                None => w,
            };
            // SAFETY: the caller vouches for out.
            unsafe { _mm256_storeu_ps(out.add(r * n), on) };
            let m = _mm256_and_ps(w, abs_mask);
            // max(m, largest) keeps `largest` when m is NaN, as the scalar
            // `if m > largest`.
            book.largest = _mm256_max_ps(m, book.largest);
            book.finite = _mm256_and_ps(book.finite, _mm256_cmp_ps::<_CMP_LE_OQ>(m, max));
            let m_on = _mm256_and_ps(on, abs_mask);
            let kept = _mm256_cmp_ps::<_CMP_GE_OQ>(m_on, lo);
            book.smallest = _mm256_min_ps(_mm256_blendv_ps(inf, m_on, kept), book.smallest);
            let cand = _mm256_and_ps(
                _mm256_cmp_ps::<_CMP_LT_OQ>(m, bound),
                _mm256_cmp_ps::<_CMP_GT_OQ>(m, zero),
            );
            below |= (_mm256_movemask_ps(cand) as u32) << (8 * r);
        }
        below
    }

    /// Copies the 8 × 8 block at `src` (rows `n` apart) transposed to `dst`.
    ///
    /// # Safety
    /// Both 8 × 8 blocks must be in bounds, `dst` writable.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn transpose8(src: *const f32, dst: *mut f32, n: usize) {
        // SAFETY: the caller vouches for both blocks.
        unsafe {
            let r: [__m256; 8] = std::array::from_fn(|k| _mm256_loadu_ps(src.add(k * n)));
            let t0 = _mm256_unpacklo_ps(r[0], r[1]);
            let t1 = _mm256_unpackhi_ps(r[0], r[1]);
            let t2 = _mm256_unpacklo_ps(r[2], r[3]);
            let t3 = _mm256_unpackhi_ps(r[2], r[3]);
            let t4 = _mm256_unpacklo_ps(r[4], r[5]);
            let t5 = _mm256_unpackhi_ps(r[4], r[5]);
            let t6 = _mm256_unpacklo_ps(r[6], r[7]);
            let t7 = _mm256_unpackhi_ps(r[6], r[7]);
            let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
            let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
            let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
            let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
            let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
            let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
            let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
            let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
            let o = [
                _mm256_permute2f128_ps::<0x20>(u0, u4),
                _mm256_permute2f128_ps::<0x20>(u1, u5),
                _mm256_permute2f128_ps::<0x20>(u2, u6),
                _mm256_permute2f128_ps::<0x20>(u3, u7),
                _mm256_permute2f128_ps::<0x31>(u0, u4),
                _mm256_permute2f128_ps::<0x31>(u1, u5),
                _mm256_permute2f128_ps::<0x31>(u2, u6),
                _mm256_permute2f128_ps::<0x31>(u3, u7),
            ];
            for (k, v) in o.iter().enumerate() {
                _mm256_storeu_ps(dst.add(k * n), *v);
            }
        }
    }
}

/// The row-major `N × N` output, shared by the tasks: each writes only
/// its own block row and the mirror of it (see the module docs).
#[derive(Clone, Copy)]
struct Out {
    ptr: *mut f32,
    n: usize,
}

// SAFETY: tasks write disjoint elements through it (each weight belongs to
// exactly one task) and read only what they wrote themselves.
unsafe impl Send for Out {}
// SAFETY: as above.
unsafe impl Sync for Out {}

impl Out {
    /// Writes `w_ij`.
    ///
    /// # Safety
    /// `i, j < n`, and no other task touches `(i, j)`.
    #[inline(always)]
    unsafe fn set(self, i: usize, j: usize, w: f32) {
        // SAFETY: in bounds by the caller's word.
        unsafe { self.ptr.add(i * self.n + j).write(w) }
    }

    /// Rounds element `at` (`i·n + j`) onto the grid; returns it.
    ///
    /// # Safety
    /// `at < n²`, written, and no other task touches it.
    #[inline(always)]
    unsafe fn round(self, at: usize, up: f64, down: f64) -> f32 {
        // SAFETY: the caller's word.
        unsafe {
            let p = self.ptr.add(at);
            *p = on_grid(*p, up, down);
            *p
        }
    }

    /// Reads `w_ij` (written by this task).
    ///
    /// # Safety
    /// As [`set`](Out::set), and `(i, j)` was written.
    #[inline(always)]
    unsafe fn get(self, i: usize, j: usize) -> f32 {
        // SAFETY: as above.
        unsafe { self.ptr.add(i * self.n + j).read() }
    }
}

/// What a task reports: the largest `|w|` it wrote, the smallest `|w|` not
/// below the candidate bound and not zero, whether every value was finite,
/// and the indices (`i·n + j`) of its weights below the bound (candidates).
struct Written {
    max: f32,
    min: f32,
    finite: bool,
    candidates: Vec<usize>,
}

impl Written {
    fn new() -> Written {
        Written {
            max: 0.0,
            min: f32::INFINITY,
            finite: true,
            candidates: Vec::new(),
        }
    }

    /// Notes the weight `w`, stored rounded onto the grid as `on`.
    #[inline(always)]
    fn note_rounded(&mut self, w: f32, on: f32) {
        let m = w.abs();
        if m > self.max {
            self.max = m;
        }
        if on != 0.0 && on.abs() < self.min {
            self.min = on.abs();
        }
        self.finite &= m <= f32::MAX;
    }

    /// Notes the weight `w` at `(i, j)` (and, with `mirror`, at `(j, i)`).
    #[inline(always)]
    fn note(&mut self, w: f32, i: usize, j: usize, n: usize, bound: f32, mirror: bool) {
        let m = w.abs();
        if m > self.max {
            self.max = m;
        }
        // Candidates may move on the grid: counted after.
        if m >= bound && m > 0.0 && m < self.min {
            self.min = m;
        }
        self.finite &= m <= f32::MAX;
        if m < bound && w != 0.0 {
            self.candidates.push(i * n + j);
            if mirror {
                self.candidates.push(j * n + i);
            }
        }
    }
}

/// `1 + 2⁻³⁰`, the factor of [`Tiles::row_bounds`].
const SLACK: f64 = 1.0 + 1.0 / (1u64 << 30) as f64;

/// Which blocks a pass over the matrix writes, and how.
#[derive(Clone, Copy)]
struct Pass<'a> {
    /// The largest row bound of each block of rows (`None`: no bounds, so
    /// every block is suspect).
    blocks: Option<&'a [f64]>,
    /// A block is suspect (may hold a weight this large) unless its bound
    /// is below this.
    threshold: f64,
    /// Write the suspect blocks (`true`) or the others.
    suspect: bool,
    /// Weights (not zero) below this are kept as candidates.
    bound: f32,
    /// `(2^k, 2^−k)`: round onto the grid `2^−k` as the block is written.
    grid: Option<(f64, f64)>,
}

impl Pass<'_> {
    /// Whether this pass writes block `(bi, bj)`.
    #[inline(always)]
    fn takes<K: Tiles>(&self, k: &K, bi: usize, bj: usize) -> bool {
        let suspect = match self.blocks {
            // A NaN bound is suspect too.
            Some(b) => (k.pair_bound(b[bi], b[bj]) * SLACK)
                .partial_cmp(&self.threshold)
                .is_none_or(|o| o.is_ge()),
            None => true,
        };
        suspect == self.suspect
    }
}

/// Rounds the tile at rows `rows[..live]` and columns `j..j + width` to
/// `f32` and writes it (zeroing `(i, i)` with `zero_diagonal`), lane by
/// lane: tiles on the diagonal or an edge, and everything without AVX2.
///
/// # Safety
/// The tile is this task's, in bounds.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn finish_scalar(
    acc: &[[f64; L]; R],
    out: Out,
    rows: [usize; R],
    live: usize,
    j: usize,
    width: usize,
    zero_diagonal: bool,
    pass: Pass,
    mirror: bool,
    book: &mut Written,
) {
    for (&i, a) in rows.iter().zip(acc).take(live) {
        for (l, &v) in a.iter().enumerate().take(width) {
            let w = if zero_diagonal && i == j + l {
                0.0
            } else {
                v as f32
            };
            match pass.grid {
                Some((up, down)) => {
                    let on = on_grid(w, up, down);
                    // SAFETY: the caller's word.
                    unsafe { out.set(i, j + l, on) };
                    book.note_rounded(w, on);
                }
                None => {
                    // SAFETY: the caller's word.
                    unsafe { out.set(i, j + l, w) };
                    book.note(w, i, j + l, out.n, pass.bound, mirror);
                }
            }
        }
    }
}

/// Copies rows `i0..i1`, columns `j0..j1` (written) transposed to rows
/// `j0..j1`, columns `i0..i1`.
///
/// # Safety
/// Both blocks are this task's, in bounds.
#[inline(always)]
unsafe fn mirror_block(out: Out, i0: usize, i1: usize, j0: usize, j1: usize, avx2: bool) {
    let mut i = i0;
    while i < i1 {
        let mut j = j0;
        while j < j1 {
            if avx2 && i + 8 <= i1 && j + 8 <= j1 {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: AVX2 is the caller's word; the 8 × 8 blocks are in
                // bounds and this task's.
                unsafe {
                    avx2::transpose8(
                        out.ptr.add(i * out.n + j),
                        out.ptr.add(j * out.n + i),
                        out.n,
                    )
                };
            } else {
                for a in i..(i + 8).min(i1) {
                    for b in j..(j + 8).min(j1) {
                        // SAFETY: the caller's word.
                        unsafe { out.set(b, a, out.get(a, b)) };
                    }
                }
            }
            j += 8;
        }
        i += 8;
    }
}

/// Writes the blocks `(bi, bj)`, `bj ≥ bi`, that `pass` takes (see the
/// module docs) lane by lane: for CPUs without AVX2 and FMA (the same bits
/// as [`block_row_avx2`]).
///
/// # Safety
/// Block row `bi` and its mirror are this task's; `n ≥ 1`.
#[inline(always)]
unsafe fn block_row_body<K: Tiles>(
    k: &K,
    out: Out,
    bi: usize,
    zero_diagonal: bool,
    pass: Pass,
) -> Written {
    let n = out.n;
    let mut book = Written::new();
    let mut acc = [[0.0f64; L]; R];
    let (i0, i1) = (bi * B, ((bi + 1) * B).min(n));
    for j0 in (i0..n).step_by(B) {
        if !pass.takes(k, bi, j0 / B) {
            continue;
        }
        let j1 = (j0 + B).min(n);
        let mirror = j0 != i0;
        for r0 in (i0..i1).step_by(R) {
            let rows: [usize; R] = std::array::from_fn(|r| (r0 + r).min(n - 1));
            let live = (i1 - r0).min(R);
            for j in (j0..j1).step_by(L) {
                k.tile(rows, j, &mut acc);
                let width = (j1 - j).min(L);
                // SAFETY: the caller's word.
                unsafe {
                    finish_scalar(
                        &acc,
                        out,
                        rows,
                        live,
                        j,
                        width,
                        zero_diagonal,
                        pass,
                        mirror,
                        &mut book,
                    )
                };
            }
        }
        if mirror {
            // SAFETY: the caller's word.
            unsafe { mirror_block(out, i0, i1, j0, j1, false) };
        }
    }
    book
}

crate::simd::multiversion! {
    /// [`block_row_body`] for the best instruction set below AVX2 (same bits).
    fn block_row_any<K: Tiles>(
        k: &K,
        out: Out,
        bi: usize,
        zero_diagonal: bool,
        pass: Pass
    ) -> Written => block_row_safe
}

/// [`block_row_body`], for the multiversion macro.
#[inline(always)]
fn block_row_safe<K: Tiles>(
    k: &K,
    out: Out,
    bi: usize,
    zero_diagonal: bool,
    pass: Pass,
) -> Written {
    // SAFETY: only called by `write_block_row`, whose caller vouches.
    unsafe { block_row_body(k, out, bi, zero_diagonal, pass) }
}

/// [`block_row_body`] with the AVX2 kernels: whole tiles off the diagonal
/// are rounded, stored and noted eight lanes at a time.
///
/// # Safety
/// As [`block_row_body`], and the CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_row_avx2<K: Tiles>(
    k: &K,
    out: Out,
    bi: usize,
    zero_diagonal: bool,
    pass: Pass,
) -> Written {
    use std::arch::x86_64::{_mm256_set1_pd, _mm256_set1_ps};
    let n = out.n;
    let mut book = Written::new();
    let mut lanes = avx2::Book::new();
    let vbound = _mm256_set1_ps(pass.bound);
    // |w| ≥ lo ⇔ |w| ≥ bound and w ≠ 0 (lo = bound, or the least subnormal).
    let vlo = _mm256_set1_ps(pass.bound.max(f32::from_bits(1)));
    let grid = pass
        .grid
        .map(|(up, down)| (_mm256_set1_pd(up), _mm256_set1_pd(down)));
    let mut acc = [[0.0f64; L]; R];
    let (i0, i1) = (bi * B, ((bi + 1) * B).min(n));
    for j0 in (i0..n).step_by(B) {
        if !pass.takes(k, bi, j0 / B) {
            continue;
        }
        let j1 = (j0 + B).min(n);
        let mirror = j0 != i0;
        for r0 in (i0..i1).step_by(R) {
            let rows: [usize; R] = std::array::from_fn(|r| (r0 + r).min(n - 1));
            let live = (i1 - r0).min(R);
            for j in (j0..j1).step_by(L) {
                // SAFETY: AVX2 and FMA are the caller's word.
                unsafe { k.tile_avx2(rows, j, &mut acc) };
                let width = (j1 - j).min(L);
                let on_diagonal = zero_diagonal && r0 < j + L && j < r0 + R;
                if live == R && width == L && !on_diagonal {
                    // SAFETY: rows r0..r0 + R, columns j..j + L are in
                    // bounds and this task's.
                    let below = unsafe {
                        avx2::finish(
                            &acc,
                            out.ptr.add(r0 * n + j),
                            n,
                            &mut lanes,
                            vbound,
                            vlo,
                            grid,
                        )
                    };
                    if below != 0 {
                        for bit in 0..R * L {
                            if below >> bit & 1 == 1 {
                                let (i, c) = (r0 + bit / L, j + bit % L);
                                book.candidates.push(i * n + c);
                                if mirror {
                                    book.candidates.push(c * n + i);
                                }
                            }
                        }
                    }
                } else {
                    // SAFETY: the caller's word.
                    unsafe {
                        finish_scalar(
                            &acc,
                            out,
                            rows,
                            live,
                            j,
                            width,
                            zero_diagonal,
                            pass,
                            mirror,
                            &mut book,
                        )
                    };
                }
            }
        }
        if mirror {
            // SAFETY: the caller's word; AVX2 is there.
            unsafe { mirror_block(out, i0, i1, j0, j1, true) };
        }
    }
    let (max, min, finite) = lanes.lanes();
    if max > book.max {
        book.max = max;
    }
    if min < book.min {
        book.min = min;
    }
    book.finite &= finite;
    book
}

/// Writes the blocks of block row `bi` that `pass` takes, with the best
/// kernels the CPU has.
///
/// # Safety
/// Block row `bi` and its mirror are this task's; `n ≥ 1`.
unsafe fn write_block_row<K: Tiles>(
    k: &K,
    out: Out,
    bi: usize,
    zero_diagonal: bool,
    pass: Pass,
) -> Written {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::level() >= crate::simd::Level::Avx2 {
        // SAFETY: level() never exceeds what the CPU supports; the rest is
        // the caller's word.
        return unsafe { block_row_avx2(k, out, bi, zero_diagonal, pass) };
    }
    block_row_any(k, out, bi, zero_diagonal, pass)
}

/// One pass over every block row (in parallel): what was written, with the
/// candidates of each task apart. Stops with `Interrupted` once `cancel`
/// is raised.
fn run_pass<K: Tiles>(
    k: &K,
    out: Out,
    zero_diagonal: bool,
    pass: Pass,
    cancel: &AtomicBool,
) -> Result<(Written, Vec<Vec<usize>>)> {
    let parts: Vec<Result<Written>> = (0..out.n.div_ceil(B))
        .into_par_iter()
        .map(|bi| {
            interrupted(cancel)?;
            // SAFETY: each block row (and its mirror) goes to one task, the
            // output holds n² values, and n ≥ 1 (there is a block row).
            Ok(unsafe { write_block_row(k, out, bi, zero_diagonal, pass) })
        })
        .collect();
    let mut all = Written::new();
    let mut lists = Vec::with_capacity(parts.len());
    for part in parts {
        let part = part?;
        all.max = all.max.max(part.max);
        all.min = all.min.min(part.min);
        all.finite &= part.finite;
        if !part.candidates.is_empty() {
            lists.push(part.candidates);
        }
    }
    Ok((all, lists))
}

/// Asks the kernel to back the `bytes` at `ptr` with transparent huge
/// pages where it can (as NumPy does for large arrays): a fresh 1 GiB
/// matrix then takes 512 page faults instead of 262,144. Only advice; the
/// memory is the same either way.
#[cfg(target_os = "linux")]
fn advise_huge_pages(ptr: *mut f32, bytes: usize) {
    extern "C" {
        fn madvise(
            addr: *mut std::ffi::c_void,
            len: usize,
            advice: std::ffi::c_int,
        ) -> std::ffi::c_int;
    }
    const MADV_HUGEPAGE: std::ffi::c_int = 14;
    const HUGE: usize = 1 << 21;
    let start = (ptr as usize).next_multiple_of(HUGE);
    let end = (ptr as usize + bytes) / HUGE * HUGE;
    if end > start {
        // SAFETY: [start, end) lies inside the allocation at ptr, which
        // holds no data yet; the advice changes no contents, and a failure
        // (no THP support) changes nothing.
        unsafe { madvise(start as *mut std::ffi::c_void, end - start, MADV_HUGEPAGE) };
    }
}

#[cfg(not(target_os = "linux"))]
fn advise_huge_pages(_ptr: *mut f32, _bytes: usize) {}

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
    write_bounded(k, n, zero_diagonal, grid, cancel, true)
}

/// [`write`], using the row bounds of `k` (when `bounded`) to round most
/// blocks onto the grid as they are written:
///
/// 1. the largest weight of `R` rows spread over the matrix, `estimate`,
///    is in the binade `[2^(e−1), 2^e)`; a block whose bound is below `2^e`
///    (less an `f32` step) holds no weight in a higher binade;
/// 2. the other ("suspect") blocks are written first, as plain `f32`,
///    keeping candidates for the grid as before; with them the binade of
///    the largest weight, and so the grid, is known exactly;
/// 3. the blocks left are written rounded onto that grid (no candidates);
/// 4. the candidates of step 2 are rounded (or, if the estimate was too
///    far off, every weight: rounding a weight already on the grid keeps
///    it).
///
/// Should the bounds ever fail (the grid of the largest weight differs from
/// the one of step 2), everything is written again without them.
fn write_bounded<K: Tiles>(
    k: &K,
    n: usize,
    zero_diagonal: bool,
    grid: bool,
    cancel: &AtomicBool,
    bounded: bool,
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
    advise_huge_pages(w.as_mut_ptr(), count * 4);
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
    // The largest row bound of each block of rows, and the top of the
    // estimate's binade less an f32 step (NaN or infinite estimates and
    // bounds leave every block suspect).
    let blocks: Option<Vec<f64>> = if grid && bounded && estimate > 0.0 && estimate.is_finite() {
        k.row_bounds(n).map(|b| {
            b.chunks(B)
                .map(|c| {
                    c.iter().fold(
                        0.0f64,
                        |m, &x| {
                            if x.is_nan() {
                                f64::INFINITY
                            } else {
                                m.max(x)
                            }
                        },
                    )
                })
                .collect()
        })
    } else {
        None
    };
    let binade = ((estimate.to_bits() >> 52) & 0x7ff) as i32 - 1022;
    let threshold = pow2(binade.clamp(-1000, 1000)) * (1.0 - pow2(-23));
    let out = Out {
        ptr: w.as_mut_ptr(),
        n,
    };
    let suspect = Pass {
        blocks: blocks.as_deref(),
        threshold,
        suspect: true,
        bound,
        grid: None,
    };
    let (first_pass, candidates) = run_pass(k, out, zero_diagonal, suspect, cancel)?;
    let (mut max, mut min, mut finite) = (first_pass.max, first_pass.min, first_pass.finite);
    if !finite {
        return Err(not_finite());
    }
    // With the suspect blocks written, the binade of the largest weight
    // is known: the others hold none above 2^binade.
    let exponent = grid_exponent(n, max.max(estimate as f32) as f64);
    let (up, down) = (pow2(exponent), pow2(-exponent));
    if blocks.is_some() {
        interrupted(cancel)?;
        let rest = Pass {
            suspect: false,
            bound: 0.0,
            grid: Some((up, down)),
            ..suspect
        };
        let (second, _) = run_pass(k, out, zero_diagonal, rest, cancel)?;
        max = max.max(second.max);
        min = min.min(second.min);
        finite &= second.finite;
    }
    // SAFETY: both passes ran to the end (neither was interrupted), and
    // between them they took every block of the upper triangle, each
    // written with its mirror, so all `count` elements are initialised.
    unsafe { w.set_len(count) };
    if !finite {
        return Err(not_finite());
    }
    interrupted(cancel)?;
    let exponent_of_max = grid_exponent(n, max as f64);
    if !grid {
        return Ok(Built {
            weights: w,
            grid: exponent_of_max,
            max,
            min,
        });
    }
    if exponent_of_max != exponent {
        // The bounds failed (they cannot, short of a bug): start again
        // without them.
        debug_assert!(false, "row bounds below the largest weight");
        drop(w);
        return write_bounded(k, n, zero_diagonal, grid, cancel, false);
    }
    if grid_bound(n, max as f64) <= bound as f64 {
        // The estimate held: every weight of the suspect blocks the grid
        // can move is a candidate.
        let out = Out {
            ptr: w.as_mut_ptr(),
            n,
        };
        let moved = candidates
            .par_iter()
            .map(|list| {
                let mut least = f32::INFINITY;
                for &at in list {
                    // SAFETY: `at < n²`, and each index is in one list only
                    // (each weight was written by one task), so no two
                    // tasks touch the same element.
                    let x = unsafe { out.round(at, up, down) };
                    if x != 0.0 {
                        least = least.min(x.abs());
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

/// The error for weights that do not fit in `f32`.
fn not_finite() -> Error {
    Error::Value(
        "the learnt weights do not fit in float32 (a weight is infinite or NaN); \
         store fewer patterns"
            .into(),
    )
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

    /// `rank × n` factors `±c·(1 + δ)`, `δ ∈ [0, 10⁻³)` seeded, with column
    /// `hot` 1.6 times larger (and, with `unit`, `c = 1` and no `δ`).
    fn factors(rank: usize, n: usize, c: f64, hot: usize, unit: bool, seed: u64) -> Vec<f64> {
        use crate::rng::{self, Purpose};
        let mut r = rng::stream(seed, 0, Purpose::Noise);
        let mut v = Vec::with_capacity(rank * n);
        for _ in 0..rank {
            for j in 0..n {
                let sign = if rng::below(&mut r, 2) == 1 {
                    1.0
                } else {
                    -1.0
                };
                let delta = rng::below(&mut r, 1000) as f64 * 1e-6;
                v.push(match (unit, j == hot) {
                    (true, _) => sign,
                    (false, true) => sign * c * (1.0 + delta) * 1.6,
                    (false, false) => sign * c * (1.0 + delta),
                });
            }
        }
        v
    }

    /// How many blocks of the upper triangle are suspect.
    fn suspect_blocks<K: Tiles>(k: &K, n: usize, zero_diagonal: bool) -> usize {
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
        let blocks: Vec<f64> = k
            .row_bounds(n)
            .unwrap()
            .chunks(B)
            .map(|c| c.iter().fold(0.0f64, |m, &x| m.max(x)))
            .collect();
        let binade = ((estimate.to_bits() >> 52) & 0x7ff) as i32 - 1022;
        let pass = Pass {
            blocks: Some(&blocks),
            threshold: pow2(binade) * (1.0 - pow2(-23)),
            suspect: true,
            bound: 0.0,
            grid: None,
        };
        let nb = n.div_ceil(B);
        (0..nb)
            .map(|a| (a..nb).filter(|&b| pass.takes(k, a, b)).count())
            .sum()
    }

    /// The bounds hold for every weight, and the matrix written (both
    /// passes, the AVX2 kernels and the lane-by-lane ones) equals the one
    /// written without bounds and the whole `f32` matrix rounded onto the
    /// grid (`Weights::new`).
    fn check_all_ways<K: Tiles>(k: &K, n: usize, zero_diagonal: bool, mixed: bool, what: &str) {
        let none = AtomicBool::new(false);
        let bounds = k.row_bounds(n).unwrap();
        let mut acc = [[0.0f64; L]; R];
        for i0 in (0..n).step_by(R) {
            let rows: [usize; R] = std::array::from_fn(|r| (i0 + r).min(n - 1));
            for j in (0..n).step_by(L) {
                k.tile(rows, j, &mut acc);
                for (r, a) in acc.iter().enumerate().take(n - i0) {
                    for (l, &v) in a.iter().enumerate().take(n - j) {
                        let b = k.pair_bound(bounds[i0 + r], bounds[j + l]);
                        assert!(v.abs() <= b * SLACK, "{what}: |W| = {v} above {b}");
                    }
                }
            }
        }
        let suspect = suspect_blocks(k, n, zero_diagonal);
        let all = n.div_ceil(B) * (n.div_ceil(B) + 1) / 2;
        if mixed {
            assert!(suspect > 0 && suspect < all, "{what}: {suspect} of {all}");
        }
        let raw = write_bounded(k, n, zero_diagonal, false, &none, false)
            .unwrap()
            .weights;
        let want = Weights::new(n, raw, vec![0.0; n]).unwrap();
        let unbounded = write_bounded(k, n, zero_diagonal, true, &none, false).unwrap();
        let before = crate::simd::level();
        for level in [crate::simd::Level::Portable, crate::simd::Level::Avx2] {
            crate::simd::set_level(level);
            let built = write(k, n, zero_diagonal, true, &none).unwrap();
            assert_eq!(built.grid, want.grid_exponent(), "{what}");
            assert!(built.weights == want.weights().unwrap(), "{what} {level:?}");
            assert!(built.weights == unbounded.weights, "{what} {level:?}");
            assert_eq!(
                (built.max, built.min),
                (unbounded.max, unbounded.min),
                "{what} {level:?}"
            );
        }
        crate::simd::set_level(before);
    }

    /// Blocks below the estimate's binade are rounded as they are written,
    /// the others (here those of a column 1.6 times larger, which holds the
    /// largest weight, in a higher binade) keep candidates: the result is
    /// the same, for every kind of tiles, size and diagonal.
    #[test]
    fn rounding_in_place_where_bounded_equals_rounding_the_whole_matrix() {
        for n in [200, 301] {
            let (p, hot) = (6, 170);
            let c = (0.75f64 / p as f64).sqrt();
            let y = Gram(Factors::new(&factors(p, n, c, hot, false, 1), p, n).unwrap());
            check_all_ways(&y, n, true, true, "gram");
            check_all_ways(&y, n, false, true, "gram, diagonal kept");
            let s = Sym2 {
                x: Factors::new(&factors(p, n, 1.0, hot, true, 2), p, n).unwrap(),
                u: Factors::new(&factors(p, n, 0.0625, hot, false, 3), p, n).unwrap(),
            };
            check_all_ways(&s, n, true, true, "sym2");
            let spins: Vec<i8> = factors(p, n, 1.0, hot, true, 4)
                .iter()
                .map(|&v| v as i8)
                .collect();
            let x = crate::spins::SpinMatrix::from_spins(&spins, p, n).unwrap();
            for m in [0.0, -0.4] {
                let k = Counts::new(&x, m, 1.0 / (n as f64 * (1.0 - m * m))).unwrap();
                check_all_ways(&k, n, true, false, "counts");
            }
        }
    }
}
