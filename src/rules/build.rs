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
//! # Bands
//!
//! The matrix is written in bands of [`B`] rows, in parallel, each band
//! start to end, in square blocks of [`B`] × [`B`] (the factors of a block
//! row and a block column stay in L1). Every band is computed whole,
//! although the matrix is symmetric: the system zeroes a fresh page of the
//! matrix when it is first touched, and a band's pages are still in cache
//! when they are filled. Computing one triangle and copying it to the other
//! halves the arithmetic but costs more in memory (see [`write_bands`]).
//! Every weight is written by exactly one task.
//!
//! # The grid first, then one pass
//!
//! The model keeps its weights on the grid `2^−k` fixed by the largest
//! `|W_ij|` (see [`crate::model::Weights`]). The grid is found before
//! anything is written ([`exponent`]): the largest weight of rows spread
//! over the matrix gives its binade; row bounds of each rule clear most
//! blocks of holding a larger one, and the largest weight of the few
//! others is computed (not written). Then every weight is rounded onto the
//! grid as it is written, so the result equals rounding the whole `f32`
//! matrix onto the grid, in one pass over memory. (When most blocks may
//! hold the largest weight, the matrix is written as plain `f32` and
//! rounded after: a second pass over memory, cheaper than computing them
//! twice.) The largest and smallest
//! magnitudes are kept in registers while the blocks are written; the
//! largest confirms the grid.

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

    /// Whether a weight costs so much arithmetic that computing only one
    /// triangle pays for the slower memory traffic of writing each block
    /// to both its places (see [`write_bands`]).
    fn heavy(&self) -> bool {
        true
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

    /// Above rank 24 (measured near the break-even at `N = 16,384`).
    fn heavy(&self) -> bool {
        self.0.rank > 24
    }
}

/// `W_ij = Σ_μ (x_μi u_μj + u_μi x_μj)`.
pub struct Sym2 {
    /// The `x` factors (`±1`).
    x: Factors,
    /// The `u` factors.
    u: Factors,
    /// The sign bits of the `x` factors (`±0.0`), for the AVX2 kernel.
    signs: Factors,
}

impl Sym2 {
    /// The matrix of the factors `x` (`±1`) and `u`, of the same shape.
    pub fn new(x: Factors, u: Factors) -> Sym2 {
        debug_assert_eq!((x.rank, x.values.len()), (u.rank, u.values.len()));
        let signs = Factors {
            values: x
                .values
                .iter()
                .map(|v| f64::from_bits(v.to_bits() & (1 << 63)))
                .collect(),
            rank: x.rank,
        };
        Sym2 { x, u, signs }
    }
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
        unsafe { avx2::sym2(&self.x, &self.u, &self.signs, rows, j, acc) }
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

    /// Above rank 16 (at rank 14 both ways cost the same at `N = 16,384`).
    fn heavy(&self) -> bool {
        self.x.rank > 16
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
    /// For `P ≤ COUNTS_AS_PRODUCTS`: the patterns as `±1.0` in `f32` (laid
    /// out as [`Factors`]) and the `a_j` as `f64`, for the AVX2 kernel
    /// (`C_ij` summed exactly in `f32`: integers of at most 64).
    spins: Option<(Vec<f32>, Vec<f64>)>,
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
            let panels = Factors::new(&rows, p, n)?;
            Some((
                panels.values.iter().map(|&v| v as f32).collect(),
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
                avx2::counts(
                    x,
                    self.p as usize,
                    a,
                    [self.m, self.pm2, self.scale],
                    rows,
                    j,
                    acc,
                )
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

    /// Without the AVX2 kernel (popcounts) or above 40 patterns.
    fn heavy(&self) -> bool {
        self.spins.is_none() || self.p > 40
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
    /// with `x_j·u_i` taken by flipping the sign of `u_i` by that of `x_j`
    /// (`signs`): the same value, and the same sign of a zero (negative
    /// only when both terms are).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) unsafe fn sym2(
        x: &Factors,
        u: &Factors,
        signs: &Factors,
        rows: [usize; R],
        j: usize,
        acc: &mut [[f64; L]; R],
    ) {
        let mut a = [[_mm256_setzero_pd(); 2]; R];
        let (xb, ub, sb) = (x.values.as_ptr(), u.values.as_ptr(), signs.values.as_ptr());
        // Reads below, rank·L apart from these, lie in the padded panels
        // (rows < n, j < n a multiple of L; x, u and the signs of x have
        // the same shape).
        let (scol, ucol) = (
            sb.wrapping_add(signs.offset(0, j)),
            ub.wrapping_add(u.offset(0, j)),
        );
        let xrow = rows.map(|i| xb.wrapping_add(x.offset(0, i)));
        let urow = rows.map(|i| ub.wrapping_add(u.offset(0, i)));
        for mu in 0..x.rank {
            let at = mu * L;
            // SAFETY: in the panels (see above).
            let (s0, s1, u0, u1) = unsafe {
                (
                    _mm256_loadu_pd(scol.add(at)),
                    _mm256_loadu_pd(scol.add(at + 4)),
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

    /// [`Counts`](crate::rules::build::Counts) from `±1` factors (`f32`, `rank`
    /// of them, laid out as [`Factors`]): `C_ij` as the exact sum
    /// `fma(x_i, x_j, C)` in `f32` (integers of at most 64, eight columns a
    /// vector), then in `f64` `((C − m·a) + P m²)·scale` with
    /// `a = a_i + a_j` (exact), the scalar expression's roundings in its
    /// order. `k = [m, P m², scale]`.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    pub(super) unsafe fn counts(
        x: &[f32],
        rank: usize,
        sums: &[f64],
        k: [f64; 3],
        rows: [usize; R],
        j: usize,
        acc: &mut [[f64; L]; R],
    ) {
        let mut sum = [_mm256_setzero_ps(); R];
        let base = x.as_ptr();
        let offset = |i: usize| (i / L) * rank * L + i % L;
        // Reads below, rank·L apart from these, lie in the padded panels
        // (rows < n, j < n a multiple of L).
        let col = base.wrapping_add(offset(j));
        let row = rows.map(|i| base.wrapping_add(offset(i)));
        for mu in 0..rank {
            // SAFETY: in the panels (see above).
            let c = unsafe { _mm256_loadu_ps(col.add(mu * L)) };
            for r in 0..R {
                // SAFETY: in the panels (see above).
                let xi = unsafe { _mm256_broadcast_ss(&*row[r].add(mu * L)) };
                sum[r] = _mm256_fmadd_ps(xi, c, sum[r]);
            }
        }
        let mut c: [[__m256d; 2]; R] = sum.map(|s| {
            [
                _mm256_cvtps_pd(_mm256_castps256_ps128(s)),
                _mm256_cvtps_pd(_mm256_extractf128_ps::<1>(s)),
            ]
        });
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

    /// The largest `|w|` and the smallest `|w|` not zero, lane by lane, as
    /// the bits of `|w|` (which order non-negative floats as integers, with
    /// infinity and then NaN above every finite value); the smallest less
    /// one, wrapping (so that zero comes last).
    pub(super) struct Book {
        pub largest: __m256i,
        pub smallest: __m256i,
    }

    impl Book {
        #[target_feature(enable = "avx2")]
        #[inline]
        pub(super) fn new() -> Book {
            Book {
                largest: _mm256_setzero_si256(),
                smallest: _mm256_set1_epi32(-1),
            }
        }

        /// Reduces the lanes: `(largest, smallest, finite)`: the largest
        /// `|w|` (infinite when not all are finite), the smallest `|w|` not
        /// zero (infinite when there is none), whether every `|w|` is at
        /// most `f32::MAX`.
        #[target_feature(enable = "avx2")]
        #[inline]
        pub(super) fn lanes(&self) -> (f32, f32, bool) {
            let mut big = [0u32; 8];
            let mut small = [0u32; 8];
            // SAFETY: 8 lanes each.
            unsafe {
                _mm256_storeu_si256(big.as_mut_ptr().cast(), self.largest);
                _mm256_storeu_si256(small.as_mut_ptr().cast(), self.smallest);
            }
            let big = big.into_iter().max().unwrap_or(0);
            let small = small.into_iter().min().unwrap_or(u32::MAX).wrapping_add(1);
            let finite = big <= f32::MAX.to_bits();
            (
                if finite {
                    f32::from_bits(big)
                } else {
                    f32::INFINITY
                },
                if small == 0 {
                    f32::INFINITY
                } else {
                    f32::from_bits(small)
                },
                finite,
            )
        }
    }

    /// How [`finish`] rounds: to `f32` only, or onto the grid
    /// `round_ties_even(w·2^k)·2^−k` (as [`on_grid`](crate::rules::build::on_grid)) in
    /// `f32` (`Single(2^k, 2^−k)`, exact for `0 ≤ k ≤ 126`: see
    /// [`Grid`](crate::rules::build::Grid)) or in `f64` (`Double`).
    #[derive(Clone, Copy)]
    pub(super) enum Round {
        None,
        Single(__m256, __m256),
        Double(__m256d, __m256d),
    }

    impl Round {
        #[target_feature(enable = "avx2")]
        #[inline]
        pub(super) fn of(grid: Option<crate::rules::build::Grid>) -> Round {
            match grid {
                None => Round::None,
                Some(g) if g.single => {
                    Round::Single(_mm256_set1_ps(g.up as f32), _mm256_set1_ps(g.down as f32))
                }
                Some(g) => Round::Double(_mm256_set1_pd(g.up), _mm256_set1_pd(g.down)),
            }
        }
    }

    /// Rounds the `R × L` tile `acc` to `f32` (and onto the grid, as
    /// `round` says), stores row `r` at `out + r·stride`, and notes it in
    /// `book` (the largest before the grid, the smallest after).
    ///
    /// # Safety
    /// `out + r·stride .. + L` must be writable for every `r < R`.
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(super) unsafe fn finish(
        acc: &[[f64; L]; R],
        out: *mut f32,
        stride: usize,
        book: &mut Book,
        round: Round,
    ) {
        let (abs_mask, one) = (_mm256_set1_epi32(i32::MAX), _mm256_set1_epi32(1));
        for (r, a) in acc.iter().enumerate() {
            // SAFETY: a holds 8 values.
            let w = unsafe {
                let lo4 = _mm256_cvtpd_ps(_mm256_loadu_pd(a.as_ptr()));
                let hi4 = _mm256_cvtpd_ps(_mm256_loadu_pd(a.as_ptr().add(4)));
                _mm256_set_m128(hi4, lo4)
            };
            let on = match round {
                Round::None => w,
                Round::Single(up, down) => _mm256_mul_ps(
                    _mm256_round_ps::<{ _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC }>(
                        _mm256_mul_ps(w, up),
                    ),
                    down,
                ),
                Round::Double(up, down) => {
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
            };
            // SAFETY: the caller vouches for out.
            unsafe { _mm256_storeu_ps(out.add(r * stride), on) };
            let m = _mm256_and_si256(_mm256_castps_si256(w), abs_mask);
            book.largest = _mm256_max_epi32(m, book.largest);
            let m_on = _mm256_and_si256(_mm256_castps_si256(on), abs_mask);
            book.smallest = _mm256_min_epu32(_mm256_sub_epi32(m_on, one), book.smallest);
        }
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

/// Where the rows `i0..` and columns `j0..` of the matrix go: `w_ij` at
/// `ptr + (i − i0)·stride + (j − j0)`. Either the row-major `N × N` output
/// (`i0 = j0 = 0`, `stride = n`), shared by the tasks of [`write_bands`],
/// or a task's own scratch block.
#[derive(Clone, Copy)]
struct Out {
    ptr: *mut f32,
    stride: usize,
    i0: usize,
    j0: usize,
}

// SAFETY: tasks write disjoint elements through it (each weight belongs to
// exactly one task) and read only what they wrote themselves or what
// another task wrote before it said so (see `write_bands`).
unsafe impl Send for Out {}
// SAFETY: as above.
unsafe impl Sync for Out {}

impl Out {
    /// The matrix `ptr`, row-major `n × n`.
    fn matrix(ptr: *mut f32, n: usize) -> Out {
        Out {
            ptr,
            stride: n,
            i0: 0,
            j0: 0,
        }
    }

    /// Where `w_ij` goes (`i ≥ i0`, `j ≥ j0`).
    #[inline(always)]
    fn at(self, i: usize, j: usize) -> *mut f32 {
        self.ptr
            .wrapping_add((i - self.i0) * self.stride + (j - self.j0))
    }

    /// Writes `w_ij`.
    ///
    /// # Safety
    /// `(i, j)` is in bounds, and no other task touches it.
    #[inline(always)]
    unsafe fn set(self, i: usize, j: usize, w: f32) {
        // SAFETY: the caller's word.
        unsafe { self.at(i, j).write(w) }
    }
}

/// What was written: the largest `|w|` (before the grid), the smallest
/// `|w|` not zero (after it), whether every value was finite.
#[derive(Clone, Copy)]
struct Written {
    max: f32,
    min: f32,
    finite: bool,
}

impl Written {
    fn new() -> Written {
        Written {
            max: 0.0,
            min: f32::INFINITY,
            finite: true,
        }
    }

    /// Notes the weight `w`, stored (rounded onto the grid) as `on`.
    #[inline(always)]
    fn note(&mut self, w: f32, on: f32) {
        let m = w.abs();
        if m > self.max {
            self.max = m;
        }
        if on != 0.0 && on.abs() < self.min {
            self.min = on.abs();
        }
        self.finite &= m <= f32::MAX;
    }

    /// Both notes together.
    fn merged(self, other: Written) -> Written {
        Written {
            max: self.max.max(other.max),
            min: self.min.min(other.min),
            finite: self.finite && other.finite,
        }
    }
}

/// The grid `2^−k` the weights are rounded onto as they are written:
/// `round_ties_even(w·2^k)·2^−k`, in `f64` ([`on_grid`]) or, with `single`,
/// in `f32`, which is the same value when `0 ≤ k ≤ 126`: `w·2^k` is exact
/// (`|w·2^k| < 2^50` for every `|w|` up to the largest, by the choice of
/// `k`), so is its rounding to an integer `m`, and `m·2^−k` is a multiple of
/// `2^−149` with at most 24 significant bits, an `f32`.
#[derive(Clone, Copy)]
struct Grid {
    up: f64,
    down: f64,
    single: bool,
}

impl Grid {
    fn new(k: i32) -> Grid {
        Grid {
            up: pow2(k),
            down: pow2(-k),
            single: (0..=126).contains(&k),
        }
    }
}

/// `1 + 2⁻³⁰`, the factor of [`Tiles::row_bounds`].
const SLACK: f64 = 1.0 + 1.0 / (1u64 << 30) as f64;

/// Where and how a block is written: the output, whether `(i, i)` is
/// zeroed, and the grid the weights are rounded onto (none: `f32` only).
#[derive(Clone, Copy)]
struct Dest {
    out: Out,
    zero_diagonal: bool,
    grid: Option<Grid>,
}

impl Dest {
    /// Rounds the tile at rows `rows[..live]` and columns `j..j + width`
    /// to `f32` (and onto the grid), writes it (zeroing `(i, i)` if asked)
    /// and notes it in `book`, lane by lane: tiles on the diagonal or an
    /// edge, and everything without AVX2.
    ///
    /// # Safety
    /// The tile is this task's, in bounds of `out`.
    #[inline(always)]
    unsafe fn lanes(
        self,
        acc: &[[f64; L]; R],
        rows: [usize; R],
        live: usize,
        j: usize,
        width: usize,
        book: &mut Written,
    ) {
        for (&i, a) in rows.iter().zip(acc).take(live) {
            for (l, &v) in a.iter().enumerate().take(width) {
                let w = if self.zero_diagonal && i == j + l {
                    0.0
                } else {
                    v as f32
                };
                let on = match self.grid {
                    Some(g) => on_grid(w, g.up, g.down),
                    None => w,
                };
                // SAFETY: the caller's word.
                unsafe { self.out.set(i, j + l, on) };
                book.note(w, on);
            }
        }
    }
}

/// Copies rows `i0..i1`, columns `j0..j1` (written) transposed to rows
/// `j0..j1`, columns `i0..i1`.
///
/// # Safety
/// Both blocks are this task's, in bounds of `out`, the first written.
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
                    avx2::transpose8(out.at(i, j), out.at(j, i), out.stride)
                };
            } else {
                for a in i..(i + 8).min(i1) {
                    for b in j..(j + 8).min(j1) {
                        // SAFETY: the caller's word.
                        unsafe { out.set(b, a, out.at(a, b).read()) };
                    }
                }
            }
            j += 8;
        }
        i += 8;
    }
}

/// The micro-kernels of a block: how a tile is computed, and how a whole
/// tile (all `R × L` weights in the block, none on a zeroed diagonal) is
/// written. Both kinds give the same bits.
trait Micro {
    /// The tile of `k` at the rows `rows` and the columns `j..j + L`.
    ///
    /// # Safety
    /// The CPU supports what the kernel uses.
    unsafe fn tile<K: Tiles>(&self, k: &K, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]);

    /// Writes the whole tile `acc` to `at` (rows `stride` apart) and notes
    /// it, or returns `false` to have it written lane by lane
    /// ([`Dest::lanes`]).
    ///
    /// # Safety
    /// As [`tile`](Micro::tile); `at + r·stride .. + L` is writable, and
    /// this task's, for every `r < R`.
    unsafe fn whole(&mut self, acc: &[[f64; L]; R], at: *mut f32, stride: usize) -> bool;

    /// What the whole tiles held.
    fn written(&self) -> Written;
}

/// Lane by lane, for CPUs without AVX2 and FMA.
struct Lanes;

impl Micro for Lanes {
    #[inline(always)]
    unsafe fn tile<K: Tiles>(&self, k: &K, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]) {
        k.tile(rows, j, acc)
    }

    #[inline(always)]
    unsafe fn whole(&mut self, _acc: &[[f64; L]; R], _at: *mut f32, _stride: usize) -> bool {
        false
    }

    fn written(&self) -> Written {
        Written::new()
    }
}

/// The AVX2 kernels: whole tiles rounded, stored and noted eight lanes at
/// a time.
#[cfg(target_arch = "x86_64")]
struct Avx2 {
    book: avx2::Book,
    round: avx2::Round,
}

#[cfg(target_arch = "x86_64")]
impl Micro for Avx2 {
    #[inline(always)]
    unsafe fn tile<K: Tiles>(&self, k: &K, rows: [usize; R], j: usize, acc: &mut [[f64; L]; R]) {
        // SAFETY: AVX2 and FMA are the caller's word.
        unsafe { k.tile_avx2(rows, j, acc) }
    }

    #[inline(always)]
    unsafe fn whole(&mut self, acc: &[[f64; L]; R], at: *mut f32, stride: usize) -> bool {
        // SAFETY: the caller's word.
        unsafe { avx2::finish(acc, at, stride, &mut self.book, self.round) };
        true
    }

    fn written(&self) -> Written {
        // SAFETY: a Book exists only where AVX2 does (made in block_avx2).
        let (max, min, finite) = unsafe { self.book.lanes() };
        Written { max, min, finite }
    }
}

/// Writes rows `rows.0..rows.1`, columns `cols.0..cols.1` of the `n × n`
/// matrix of `k` to `dest` (see [`write_block`]) with the micro-kernels
/// `micro`, a tile of `R × L` at a time.
///
/// # Safety
/// As [`write_block`], and the CPU supports what `micro` uses.
#[inline(always)]
unsafe fn block_body<K: Tiles, M: Micro>(
    k: &K,
    micro: &mut M,
    dest: Dest,
    n: usize,
    rows: (usize, usize),
    cols: (usize, usize),
) -> Written {
    let mut book = Written::new();
    let mut acc = [[0.0f64; L]; R];
    let ((i0, i1), (j0, j1)) = (rows, cols);
    for r0 in (i0..i1).step_by(R) {
        let rows: [usize; R] = std::array::from_fn(|r| (r0 + r).min(n - 1));
        let live = (i1 - r0).min(R);
        for j in (j0..j1).step_by(L) {
            // SAFETY: the caller's word.
            unsafe { micro.tile(k, rows, j, &mut acc) };
            let width = (j1 - j).min(L);
            let on_diagonal = dest.zero_diagonal && r0 < j + L && j < r0 + R;
            // SAFETY: a whole tile (rows r0..r0 + R, columns j..j + L) is
            // in bounds of the output and this task's; the rest is the
            // caller's word.
            unsafe {
                if !(live == R
                    && width == L
                    && !on_diagonal
                    && micro.whole(&acc, dest.out.at(r0, j), dest.out.stride))
                {
                    dest.lanes(&acc, rows, live, j, width, &mut book);
                }
            }
        }
    }
    book.merged(micro.written())
}

crate::simd::multiversion! {
    /// [`block_body`] lane by lane, for the best instruction set below
    /// AVX2 (the same bits).
    fn block_any<K: Tiles>(
        k: &K,
        dest: Dest,
        n: usize,
        rows: (usize, usize),
        cols: (usize, usize)
    ) -> Written => block_safe
}

/// [`block_body`] lane by lane, for the multiversion macro.
#[inline(always)]
fn block_safe<K: Tiles>(
    k: &K,
    dest: Dest,
    n: usize,
    rows: (usize, usize),
    cols: (usize, usize),
) -> Written {
    // SAFETY: only called by `write_block`, whose caller vouches; the
    // lane-by-lane kernels need nothing of the CPU.
    unsafe { block_body(k, &mut Lanes, dest, n, rows, cols) }
}

/// [`block_body`] with the AVX2 kernels.
///
/// # Safety
/// As [`write_block`], and the CPU supports AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn block_avx2<K: Tiles>(
    k: &K,
    dest: Dest,
    n: usize,
    rows: (usize, usize),
    cols: (usize, usize),
) -> Written {
    let mut micro = Avx2 {
        book: avx2::Book::new(),
        round: avx2::Round::of(dest.grid),
    };
    // SAFETY: the caller's word.
    unsafe { block_body(k, &mut micro, dest, n, rows, cols) }
}

/// Writes rows `rows.0..rows.1`, columns `cols.0..cols.1` of the `n × n`
/// matrix of `k`, rounded to `f32` (and onto the grid), `(i, i)` zeroed if
/// asked, to `dest`, with the best kernels the CPU has.
///
/// # Safety
/// `rows.0 < rows.1 ≤ n`, `cols.0 < cols.1 ≤ n`, and the block is in bounds
/// of the output and this task's.
unsafe fn write_block<K: Tiles>(
    k: &K,
    dest: Dest,
    n: usize,
    rows: (usize, usize),
    cols: (usize, usize),
) -> Written {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::level() >= crate::simd::Level::Avx2 {
        // SAFETY: level() never exceeds what the CPU supports; the rest is
        // the caller's word.
        return unsafe { block_avx2(k, dest, n, rows, cols) };
    }
    block_any(k, dest, n, rows, cols)
}

/// Rows `bi·B .. (bi + 1)·B` (or `n`).
fn band(bi: usize, n: usize) -> (usize, usize) {
    (bi * B, ((bi + 1) * B).min(n))
}

/// Writes the whole `n × n` matrix of `k` into `out` (rounded onto `grid`),
/// a band of [`B`] rows at a time, in parallel, in blocks from the left.
///
/// Unless `k` is [`heavy`](Tiles::heavy), each band is computed whole,
/// although the matrix is symmetric, and written start to end: the system
/// zeroes a fresh page of the matrix when it is first touched, and a
/// band's pages are still in the cache when they are filled. Computing only
/// the blocks `(bi, bj ≥ bi)` and copying each transposed to `(bj, bi)`
/// halves the arithmetic, but touches every page of the matrix in the first
/// tasks, so that every later write reads its line back from memory first
/// (about as costly, at `N = 16,384`, as Storkey's arithmetic at rank 14;
/// copying the blocks above a band later costs as much, reading short rows
/// far apart). For heavy tiles (high rank) the triangle is written so. By
/// the symmetry of the sums (module docs) the copy holds the very bits the
/// other triangle would have been computed to; either way every weight is
/// written by exactly one task.
///
/// Stops with `Interrupted` between bands once `cancel` is raised.
fn write_bands<K: Tiles>(
    k: &K,
    out: Out,
    n: usize,
    zero_diagonal: bool,
    grid: Option<Grid>,
    cancel: &AtomicBool,
) -> Result<Written> {
    let (triangle, avx2) = (k.heavy(), crate::simd::level() >= crate::simd::Level::Avx2);
    let dest = Dest {
        out,
        zero_diagonal,
        grid,
    };
    (0..n.div_ceil(B))
        .into_par_iter()
        .map(|bi| {
            interrupted(cancel)?;
            let mut book = Written::new();
            let (i0, i1) = band(bi, n);
            let first = if triangle { i0 } else { 0 };
            for j0 in (first..n).step_by(B) {
                let (j0, j1) = band(j0 / B, n);
                // SAFETY: the block is in bounds, and this task's (band bi,
                // and with the triangle the mirror of its blocks from the
                // diagonal on, are written by its task only).
                let part = unsafe { write_block(k, dest, n, (i0, i1), (j0, j1)) };
                book = book.merged(part);
                if triangle && j0 != i0 {
                    // SAFETY: as above; the block was just written.
                    unsafe { mirror_block(out, i0, i1, j0, j1, avx2) };
                }
            }
            Ok(book)
        })
        .try_reduce(Written::new, |a, b| Ok(a.merged(b)))
}

/// The largest `|w|` (before the grid; and whether all are finite) of the
/// blocks `(bi, bj)` of `blocks`, computed into a scratch block per task and
/// not kept. Stops with `Interrupted` once `cancel` is raised.
fn blocks_max<K: Tiles>(
    k: &K,
    n: usize,
    zero_diagonal: bool,
    blocks: &[(usize, usize)],
    cancel: &AtomicBool,
) -> Result<Written> {
    blocks
        .par_iter()
        .map_init(
            || vec![0.0f32; B * B],
            |scratch, &(bi, bj)| {
                interrupted(cancel)?;
                let (rows, cols) = (band(bi, n), band(bj, n));
                let out = Out {
                    ptr: scratch.as_mut_ptr(),
                    stride: B,
                    i0: rows.0,
                    j0: cols.0,
                };
                // SAFETY: the block fits the scratch (B × B), which is this
                // task's.
                let dest = Dest {
                    out,
                    zero_diagonal,
                    grid: None,
                };
                Ok(unsafe { write_block(k, dest, n, rows, cols) })
            },
        )
        .try_reduce(Written::new, |a, b| Ok(a.merged(b)))
}

/// The blocks `(bi, bj ≥ bi)` of the upper triangle that may hold a weight
/// of `|w| ≥ threshold`, by the row bounds of `k` (their largest value
/// over each band, `bounds`); all of them without bounds.
fn suspects<K: Tiles>(
    k: &K,
    n: usize,
    bounds: Option<&[f64]>,
    threshold: f64,
) -> Vec<(usize, usize)> {
    let bands = n.div_ceil(B);
    let mut out = Vec::new();
    for bi in 0..bands {
        for bj in bi..bands {
            let suspect = match bounds {
                // A NaN bound is suspect too.
                Some(b) => (k.pair_bound(b[bi], b[bj]) * SLACK)
                    .partial_cmp(&threshold)
                    .is_none_or(|o| o.is_ge()),
                None => true,
            };
            if suspect {
                out.push((bi, bj));
            }
        }
    }
    out
}

/// The largest `|w|` (as `f32`, the diagonal left out with
/// `zero_diagonal`) of `R` rows spread over the `n × n` matrix of `k`.
fn estimate<K: Tiles>(k: &K, n: usize, zero_diagonal: bool) -> f64 {
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
    estimate
}

/// The largest row bound of `k` over each band (NaN ones as infinite).
fn band_bounds<K: Tiles>(k: &K, n: usize) -> Option<Vec<f64>> {
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
}

/// The top of the binade `[2^(e−1), 2^e)` of `estimate`, less an `f32`
/// step: no weight of a block whose bound is below it is in a higher
/// binade.
fn binade_top(estimate: f64) -> f64 {
    let binade = ((estimate.to_bits() >> 52) & 0x7ff) as i32 - 1022;
    pow2(binade.clamp(-1000, 1000)) * (1.0 - pow2(-23))
}

/// The grid exponent of the `n × n` matrix of `k` (see the module docs),
/// from the largest weight of `R` rows spread over the matrix
/// ([`estimate`]), the row bounds (when `bounded`) and the blocks that may
/// hold a larger weight, computed but not written:
///
/// * the estimate lies in the binade `[2^(e−1), 2^e)`; a block whose bound
///   is below `2^e` (less an `f32` step) holds no weight in a higher binade;
/// * the largest weight of the others ("suspect" blocks; usually none, or
///   a few) is computed; with the estimate it has the binade, and so the
///   grid exponent, of the largest weight of all.
///
/// `None` when more than a quarter of the blocks are suspect (always
/// without bounds, or without a finite, non-zero estimate): computing them
/// twice would cost more than rounding the matrix once it is written.
///
/// # Errors
/// `Value` when a weight computed is not finite in `f32`; `Interrupted`
/// once `cancel` is raised.
fn exponent<K: Tiles>(
    k: &K,
    n: usize,
    zero_diagonal: bool,
    bounded: bool,
    cancel: &AtomicBool,
) -> Result<Option<i32>> {
    let estimate = estimate(k, n, zero_diagonal);
    let bounds = if bounded && estimate > 0.0 && estimate.is_finite() {
        band_bounds(k, n)
    } else {
        None
    };
    let blocks = suspects(k, n, bounds.as_deref(), binade_top(estimate));
    let all = n.div_ceil(B) * (n.div_ceil(B) + 1) / 2;
    if bounds.is_none() || 4 * blocks.len() > all {
        return Ok(None);
    }
    let suspect = blocks_max(k, n, zero_diagonal, &blocks, cancel)?;
    if !suspect.finite {
        return Err(not_finite());
    }
    Ok(Some(grid_exponent(
        n,
        suspect.max.max(estimate as f32) as f64,
    )))
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

crate::simd::multiversion! {
    /// [`round_onto`] for the best instruction set (a rounding instruction
    /// rather than a call per weight).
    fn round_all(part: &mut [f32], grid: Grid) -> f32 => round_onto
}

/// Rounds `part` onto `grid` ([`on_grid`]); returns the smallest `|w|` not
/// zero after.
#[inline(always)]
fn round_onto(part: &mut [f32], grid: Grid) -> f32 {
    let mut least = f32::INFINITY;
    for x in part {
        *x = on_grid(*x, grid.up, grid.down);
        if *x != 0.0 {
            least = least.min(x.abs());
        }
    }
    least
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
    /// grid rounding (with `grid`).
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

/// [`write`], finding the grid first ([`exponent`], from the row bounds of
/// `k` when `bounded`) and then writing every weight once, already on it
/// ([`write_bands`]); or, when most blocks may hold the largest weight
/// (high rank, or no bounds), writing them as plain `f32` and rounding the
/// matrix onto the grid of the largest weight after. Should the bounds ever
/// fail (the grid of the largest weight written differs from the one
/// found), everything is written again without them.
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
    let exponent = if grid {
        exponent(k, n, zero_diagonal, bounded, cancel)?
    } else {
        None
    };
    interrupted(cancel)?;
    let out = Out::matrix(w.as_mut_ptr(), n);
    let book = write_bands(k, out, n, zero_diagonal, exponent.map(Grid::new), cancel)?;
    // SAFETY: write_bands returned Ok, so every band was written (whole,
    // or its blocks from the diagonal on and their mirror); all `count`
    // elements are initialised.
    unsafe { w.set_len(count) };
    if !book.finite {
        return Err(not_finite());
    }
    let of_max = grid_exponent(n, book.max as f64);
    let min = match exponent {
        Some(e) if e != of_max => {
            // The bounds failed (they cannot, short of a bug): start again
            // without them.
            debug_assert!(false, "row bounds below the largest weight");
            drop(w);
            return write_bounded(k, n, zero_diagonal, grid, cancel, false);
        }
        Some(_) => book.min,
        None if !grid => book.min,
        None => {
            // Written as plain f32 (most blocks may hold the largest
            // weight): rounded onto its grid now.
            interrupted(cancel)?;
            let g = Grid::new(of_max);
            w.par_chunks_mut(1 << 16)
                .map(|part| round_all(part, g))
                .reduce(|| f32::INFINITY, f32::min)
        }
    };
    Ok(Built {
        weights: w,
        grid: of_max,
        max: book.max,
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
        let top = binade_top(estimate(k, n, zero_diagonal));
        suspects(k, n, band_bounds(k, n).as_deref(), top).len()
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

    /// The grid is found from the blocks the bounds do not clear (here
    /// those of a column 1.6 times larger, which holds the largest weight,
    /// in a higher binade than the estimate) and every weight is rounded as
    /// it is written: the result is that of rounding the whole matrix, for
    /// every kind of tiles, size and diagonal.
    #[test]
    fn rounding_in_place_where_bounded_equals_rounding_the_whole_matrix() {
        for n in [200, 301] {
            let (p, hot) = (6, 170);
            let c = (0.75f64 / p as f64).sqrt();
            let y = Gram(Factors::new(&factors(p, n, c, hot, false, 1), p, n).unwrap());
            check_all_ways(&y, n, true, true, "gram");
            check_all_ways(&y, n, false, true, "gram, diagonal kept");
            let s = Sym2::new(
                Factors::new(&factors(p, n, 1.0, hot, true, 2), p, n).unwrap(),
                Factors::new(&factors(p, n, 0.0625, hot, false, 3), p, n).unwrap(),
            );
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

    /// Weights so large that the grid exponent is negative, or so small
    /// that it is above 126, are rounded in `f64` by the AVX2 kernels (in
    /// `f32` in between): the same bits as the whole matrix rounded.
    #[test]
    fn every_grid_exponent_rounds_as_the_whole_matrix() {
        let (n, p, hot) = (150, 5, 40);
        for (c, grids) in [(28, i32::MIN..0), (-36, 0..127), (-46, 127..i32::MAX)] {
            let y = Gram(Factors::new(&factors(p, n, 2f64.powi(c), hot, false, 5), p, n).unwrap());
            let built = write(&y, n, true, true, &AtomicBool::new(false)).unwrap();
            assert!(
                grids.contains(&built.grid),
                "c = 2^{c}: grid {}",
                built.grid
            );
            check_all_ways(&y, n, true, true, "gram, scaled");
        }
        let spins: Vec<i8> = factors(p, n, 1.0, hot, true, 6)
            .iter()
            .map(|&v| v as i8)
            .collect();
        let x = crate::spins::SpinMatrix::from_spins(&spins, p, n).unwrap();
        for (scale, grids) in [(60, i32::MIN..0), (-90, 127..i32::MAX)] {
            let k = Counts::new(&x, -0.2, 2f64.powi(scale)).unwrap();
            let built = write(&k, n, true, true, &AtomicBool::new(false)).unwrap();
            assert!(
                grids.contains(&built.grid),
                "scale 2^{scale}: grid {}",
                built.grid
            );
            check_all_ways(&k, n, true, false, "counts, scaled");
        }
    }

    /// The weights are the same bits whatever the number of threads.
    #[test]
    fn the_weights_do_not_depend_on_the_number_of_threads() {
        let (n, p) = (333, 7);
        let y = Gram(Factors::new(&factors(p, n, 0.3, 100, false, 7), p, n).unwrap());
        let s = Sym2::new(
            Factors::new(&factors(p, n, 1.0, 100, true, 8), p, n).unwrap(),
            Factors::new(&factors(p, n, 0.01, 100, false, 9), p, n).unwrap(),
        );
        let none = AtomicBool::new(false);
        let on = |threads: usize| {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            pool.install(|| {
                (
                    write(&y, n, false, true, &none).unwrap().weights,
                    write(&s, n, true, true, &none).unwrap().weights,
                )
            })
        };
        let one = on(1);
        for threads in [2, 3] {
            assert!(on(threads) == one, "{threads} threads");
        }
    }
}
