//! The classical quadratic energy over an explicit weight matrix (any rule,
//! or weights a user brings):
//!
//! `E(s) = −½ sᵀWs + θᵀs`, field `h_i = Σ_j W_ij s_j − θ_i` (the diagonal
//! included), update `s_i ← sign(h_i)`, ties keep the state.
//!
//! # Exact fields
//!
//! Weights are `f32`, rounded once, when the model is built, onto a common
//! fixed-point grid `2^−k`:
//!
//! `W'_ij = round_half_even(W_ij · 2^k) · 2^−k`, with
//! `k = min(149, 50 − ⌈log₂ N⌉ − e)` and `e` the exponent of the largest
//! `|W_ij|` (`max|W| < 2^e`, as `frexp` gives it).
//!
//! Then every `W'_ij` is still an `f32` (it never has more significant bits
//! than `W_ij`), every weight of magnitude at least `max|W|·2^(−26+⌈log₂N⌉)`
//! is unchanged, and every partial sum `Σ_{j∈J} ±W'_ij` is a multiple of
//! `2^−k` below `2^(50−k)` in magnitude: an `f64` holds it **exactly**. So
//! the sums `S_i = Σ_j W'_ij s_j` are exact whatever the order of summation:
//! a field kept incrementally (`S_i += 2 s_j' W'_ij` per flip) equals a
//! fresh dot product, a blocked product, or NumPy's BLAS `S @ W'.T` in
//! `float64`, bit for bit. The field is then `h_i = S_i − θ_i`, one rounded
//! subtraction whose sign is exact (a tie is `S_i == θ_i` exactly). The
//! NumPy reference (`hopfield.reference.quantize_weights`) does the same.
//!
//! # Energy and the diagonal
//!
//! `E(s with s_i = −1) − E(s with s_i = +1) = Σ_{j≠i} (W_ij + W_ji) s_j − 2θ_i`:
//! the diagonal does not enter the energy gap. For a symmetric `W` the
//! [`gap`](EnergyModel::gap) is therefore `2·(S_i − W_ii s_i − θ_i)`, which is
//! `2·h_i` when the diagonal is zero; the deterministic update keeps the
//! network's rule `sign(h_i)` (self-coupling included). A non-negative
//! diagonal keeps async descent monotone; a negative one does not.
//! An asymmetric `W` has no energy function: [`energy`](EnergyModel::energy)
//! is NaN, and the gap is `2·(S_i − W_ii s_i − θ_i)` by the same formula.
//!
//! # Speed
//!
//! A block's first sums come from lookup tables ([`super::subset_sums`]),
//! so blocks are large ([`EnergyModel::block_size`]). Weights that are small
//! integers times one common factor also keep an `i8` copy, and their caches
//! hold exact `i32` sums (`Small`): the same numbers, a quarter of the bytes
//! per flip. A check of every neuron at once
//! ([`EnergyModel::unstable_neurons`]) lets the async driver end a run
//! without its last, flipless sweep.

use super::subset_sums;
use crate::engine::energy::{EnergyModel, ASYNC_BLOCK, SYNC_BLOCK};
use crate::engine::schedule::Update;
use crate::error::{try_filled, Error, Result};
use crate::spins;

/// Largest `N` the model accepts (so that `N²` and the grid never overflow).
pub const MAX_N: usize = 1 << 31;

/// How far from an integer `w/α` may be for weights to be taken as
/// integers times `α` ([`Small`]): float32 rounding of `α·c` with
/// `|c| ≤ 127` moves it by less than `127·2⁻²³ ≈ 1.5·10⁻⁵`.
pub const COMMON_FACTOR_TOL: f64 = 1e-4;

/// `1/K` when `1/alpha` is within float32 rounding (`2⁻²⁰` relative) of an
/// integer `K`, else `alpha`.
fn exact_reciprocal(alpha: f64) -> f64 {
    let inv = 1.0 / alpha;
    let k = inv.round_ties_even();
    if k >= 1.0 && (inv - k).abs() <= k * RECIPROCAL_TOL {
        1.0 / k
    } else {
        alpha
    }
}

/// Relative distance of `1/α` from an integer `K` below which `α` is taken
/// as `1/K` (float32 rounding is `2⁻²⁴`).
pub const RECIPROCAL_TOL: f64 = 1.0 / (1u64 << 20) as f64;

/// Most neurons for which a large block's float sums come from tables
/// ([`subset_sums`]) rather than strips ([`strip_sums`]).
const SUBSET_MAX_N: usize = 4096;
/// Neurons per strip of [`strip_sums`]: each column piece read is this
/// long and contiguous (shorter runs left the reads waiting on memory).
const STRIP: usize = 4096;
/// Most queries per block (see [`EnergyModel::block_size`]).
const MAX_BLOCK: usize = 1024;
/// Most bytes of exact sums (or sync drives) a block holds at once.
const BLOCK_BYTES: usize = 16 << 20;

/// `2^k` as an `f64`, exact for `−1022 ≤ k ≤ 1023`.
#[inline]
fn pow2(k: i32) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

/// `⌈log₂ n⌉` for `n ≥ 1`.
#[inline]
fn ceil_log2(n: usize) -> i32 {
    (usize::BITS - (n - 1).leading_zeros()) as i32
}

/// The exponent `e` of `frexp(x)` for a finite `x > 0`: `2^(e−1) ≤ x < 2^e`.
#[inline]
fn frexp_exponent(x: f64) -> i32 {
    ((x.to_bits() >> 52) & 0x7ff) as i32 - 1022
}

/// The grid exponent `k` for weights of largest magnitude `max_abs`.
pub fn grid_exponent(n: usize, max_abs: f64) -> i32 {
    if max_abs == 0.0 {
        149
    } else {
        (50 - ceil_log2(n) - frexp_exponent(max_abs)).min(149)
    }
}

/// A weight matrix with thresholds: the energy model of every weight-matrix
/// network (Storkey, pseudo-inverse, covariance, user weights, Ising couplings).
///
/// Holds `4·N²` bytes of weights, stored by column (`Wᵀ` row-major) so that
/// the change of every field when neuron `j` flips is one contiguous row.
#[derive(Debug, Clone)]
pub struct Weights {
    n: usize,
    /// `cols[j·n + i] = W'_ij`.
    cols: Vec<f32>,
    /// `W'_ii`.
    diag: Vec<f64>,
    threshold: Vec<f64>,
    grid: i32,
    /// The weights as small integers, when they are (see [`Small`]).
    small: Option<Small>,
    symmetric: bool,
    zero_diagonal: bool,
    zero_threshold: bool,
}

/// Weights that are small integers times one power of two, `W'_ij = c_ij ·
/// scale` with `|c_ij| ≤ 127`: Hebbian weights `C/N`, clipped weights, ±J
/// couplings. Their sums are exact `i32`s in units of `scale`; a column is a
/// quarter of the bytes of the `f32` one (so the whole matrix stays in a
/// core's cache longer), and a flip updates sixteen sums per instruction.
#[derive(Debug, Clone)]
struct Small {
    /// `cols[j·n + i] = c_ij`.
    cols: Vec<i8>,
    scale: f64,
}

impl Small {
    /// The small form of grid weights (`cols`, multiples of `2^−grid`), if
    /// every integer fits in an `i8` and no sum of `n` of them overflows.
    fn of(cols: &[f32], n: usize, grid: i32) -> Option<Small> {
        let up = pow2(grid);
        // Every W'·2^grid is an integer below 2^50; drop their common
        // factors of two.
        let shift = cols
            .iter()
            .filter(|&&w| w != 0.0)
            .map(|&w| ((w as f64 * up) as i64).trailing_zeros())
            .min()
            .unwrap_or(0) as i32;
        let down = pow2(shift - grid);
        // An optimisation only: without the memory for it, go without.
        let mut small = try_filled("the small weights", cols.len(), 0i8).ok()?;
        let mut largest = 0i64;
        for (x, &w) in small.iter_mut().zip(cols) {
            let c = (w as f64 * up) as i64 >> shift;
            if !(-127..=127).contains(&c) {
                return None;
            }
            largest = largest.max(c.abs());
            *x = c as i8;
        }
        if (n as i64).checked_mul(largest)? >= i32::MAX as i64 {
            return None;
        }
        Some(Small {
            cols: small,
            scale: down,
        })
    }

    /// The small form of weights that are integers times a common factor
    /// `α` up to float rounding, `α` not a power of two (Hebbian weights
    /// `C/N` computed in floating point, for `N` not a power of two): with
    /// `m` the smallest non-zero `|w|`, the first `α = m/t` (`t = 1, 2, 3,
    /// 4`) for which every `w/α` is within [`COMMON_FACTOR_TOL`] of an
    /// integer `c` with `|c| ≤ 127`; `α` is snapped to `1/K` when `1/α` is
    /// within float32 rounding of an integer `K` (so `C/N` is `C·(1/N)`
    /// exactly). The model is then `α·c` exactly.
    fn common_factor(cols: &[f32], n: usize) -> Option<Small> {
        let m = cols
            .iter()
            .filter(|&&w| w != 0.0)
            .fold(f32::INFINITY, |m, &w| m.min(w.abs()));
        if !m.is_finite() {
            return None;
        }
        'divisor: for t in 1..=4 {
            let alpha = exact_reciprocal(m as f64 / t as f64);
            let mut small = try_filled("the small weights", cols.len(), 0i8).ok()?;
            let mut largest = 0i64;
            for (x, &w) in small.iter_mut().zip(cols) {
                let r = w as f64 / alpha;
                let c = r.round_ties_even();
                if (r - c).abs() > COMMON_FACTOR_TOL || c.abs() > 127.0 {
                    continue 'divisor;
                }
                largest = largest.max(c.abs() as i64);
                *x = c as i8;
            }
            if (n as i64).checked_mul(largest)? >= i32::MAX as i64 {
                return None;
            }
            return Some(Small {
                cols: small,
                scale: alpha,
            });
        }
        None
    }

    fn column(&self, j: usize, n: usize) -> &[i8] {
        &self.cols[j * n..(j + 1) * n]
    }
}

impl Weights {
    /// A model of `n` neurons from row-major weights `W` (`n·n` entries,
    /// `W_ij` at `i·n + j`) and thresholds θ (`n` entries). The weights are
    /// rounded onto the exact grid (see the module docs); nothing else
    /// changes them. An asymmetric matrix and a non-zero diagonal are
    /// accepted.
    ///
    /// # Errors
    /// `Value` when `n` is zero or too large, or a weight or threshold is not
    /// finite; `Shape` when the lengths are not `n·n` and `n`.
    pub fn new(n: usize, weights: Vec<f32>, threshold: Vec<f64>) -> Result<Self> {
        if n == 0 {
            return Err(Error::Value("n must be at least 1".into()));
        }
        if n > MAX_N {
            return Err(Error::Value(format!("n must be at most {MAX_N}, got {n}")));
        }
        if weights.len() != n * n {
            return Err(Error::Shape(format!(
                "weights must have n·n = {} entries (an {n} × {n} matrix), got {}",
                n * n,
                weights.len()
            )));
        }
        check_threshold(n, &threshold)?;
        if let Some(at) = weights.iter().position(|w| !w.is_finite()) {
            return Err(Error::Value(format!(
                "weights must be finite; found {} at [{}, {}]",
                weights[at],
                at / n,
                at % n
            )));
        }
        let mut cols = weights;
        let max_abs = cols.iter().fold(0.0f32, |m, w| m.max(w.abs())) as f64;
        let grid = grid_exponent(n, max_abs);
        let (up, down) = (pow2(grid), pow2(-grid));
        for w in cols.iter_mut() {
            *w = ((*w as f64 * up).round_ties_even() * down) as f32;
        }
        let mut symmetric = true;
        'outer: for i in 0..n {
            for j in 0..i {
                if cols[i * n + j] != cols[j * n + i] {
                    symmetric = false;
                    break 'outer;
                }
            }
        }
        if !symmetric {
            transpose_in_place(&mut cols, n);
        }
        let small = Small::of(&cols, n, grid).or_else(|| Small::common_factor(&cols, n));
        Ok(Self::assemble(n, cols, threshold, grid, symmetric, small))
    }

    /// The model of checked column-major weights `cols` and their
    /// small-integer form, if any: the diagonal and the flags derived once.
    fn assemble(
        n: usize,
        cols: Vec<f32>,
        threshold: Vec<f64>,
        grid: i32,
        symmetric: bool,
        small: Option<Small>,
    ) -> Self {
        // The diagonal of the model: α·c_ii when the weights are α·c.
        let diag: Vec<f64> = match &small {
            Some(sm) => (0..n)
                .map(|i| sm.cols[i * n + i] as f64 * sm.scale)
                .collect(),
            None => (0..n).map(|i| cols[i * n + i] as f64).collect(),
        };
        Weights {
            small,
            n,
            zero_diagonal: diag.iter().all(|&d| d == 0.0),
            diag,
            zero_threshold: threshold.iter().all(|&t| t == 0.0),
            threshold,
            grid,
            symmetric,
            cols,
        }
    }

    /// A symmetric model from row-major weights already on the grid
    /// `2^−grid` of their largest magnitude, as the learning rules write
    /// them ([`crate::rules`]): nothing is rounded. With `may_be_small`
    /// (the caller knows `max|w| ≤ 128·min|w ≠ 0|`) the small-integer form
    /// is looked for as [`new`](Self::new) does; otherwise the weights
    /// cannot have one and are not read again.
    ///
    /// # Errors
    /// As [`new`](Self::new) for the thresholds and the lengths.
    pub fn from_grid(
        n: usize,
        weights: Vec<f32>,
        threshold: Vec<f64>,
        grid: i32,
        may_be_small: bool,
    ) -> Result<Self> {
        check_square(n, weights.len())?;
        check_threshold(n, &threshold)?;
        debug_assert!(
            n > 256 || (0..n).all(|i| (0..i).all(|j| weights[i * n + j] == weights[j * n + i]))
        );
        let small = if may_be_small {
            Small::of(&weights, n, grid).or_else(|| Small::common_factor(&weights, n))
        } else {
            None
        };
        Ok(Self::assemble(n, weights, threshold, grid, true, small))
    }

    /// All-zero weights (a network before it learns) in `zeros`, which the
    /// caller allocated zeroed. Unlike [`from_grid`](Self::from_grid),
    /// nothing in the matrix is read, not even its diagonal: that would
    /// fault in one page per row of memory the system has not mapped yet
    /// (22–30 ms at N = 16,384), which a store then throws away.
    ///
    /// # Errors
    /// As [`new`](Self::new) for the thresholds and the lengths.
    pub fn zero(n: usize, zeros: Vec<f32>, threshold: Vec<f64>) -> Result<Self> {
        check_square(n, zeros.len())?;
        check_threshold(n, &threshold)?;
        debug_assert!(n > 256 || zeros.iter().all(|&w| w == 0.0));
        Ok(Weights {
            small: None,
            n,
            zero_diagonal: true,
            diag: vec![0.0; n],
            zero_threshold: threshold.iter().all(|&t| t == 0.0),
            threshold,
            grid: grid_exponent(n, 0.0),
            symmetric: true,
            cols: zeros,
        })
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The weights as stored (rounded onto the grid), row-major `W'`.
    ///
    /// # Errors
    /// `Memory` when a copy of `N²` floats cannot be allocated.
    pub fn weights(&self) -> Result<Vec<f32>> {
        let n = self.n;
        let mut w = try_filled(&format!("a {n} × {n} weight matrix"), n * n, 0.0f32)?;
        w.copy_from_slice(&self.cols);
        if !self.symmetric {
            transpose_in_place(&mut w, n);
        }
        Ok(w)
    }

    /// Column `j` of `W'` (`W'_ij` for every `i`).
    pub fn column(&self, j: usize) -> &[f32] {
        &self.cols[j * self.n..(j + 1) * self.n]
    }

    /// The thresholds θ.
    pub fn threshold(&self) -> &[f64] {
        &self.threshold
    }

    /// The grid exponent `k`: every stored weight is a multiple of `2^−k`.
    pub fn grid_exponent(&self) -> i32 {
        self.grid
    }

    /// Whether `W' = W'ᵀ` (exactly, after rounding).
    pub fn is_symmetric(&self) -> bool {
        self.symmetric
    }

    /// Whether every `W'_ii` is zero.
    pub fn has_zero_diagonal(&self) -> bool {
        self.zero_diagonal
    }

    /// Bytes held: the weights (and their small form), the diagonal and
    /// the thresholds.
    pub fn nbytes(&self) -> usize {
        self.cols.len() * 4 + self.small.as_ref().map_or(0, |s| s.cols.len()) + self.n * 16
    }

    /// Whether the weights are small integers times one power of two, and
    /// take the integer path.
    pub fn is_small(&self) -> bool {
        self.small.is_some()
    }

    /// The same model on the float path only.
    #[cfg(test)]
    fn without_small(mut self) -> Self {
        self.small = None;
        self
    }

    /// The exact sums `S = W's` of one state (`out.len() == n`); for
    /// weights `α·c` ([`Small`]), `α·(c s)` with `c s` exact.
    pub fn sums(&self, state: &[u64], out: &mut [f64]) {
        if let Some(small) = &self.small {
            let mut ints = vec![Vec::new()];
            self.fill_ints(small, &[state], &mut ints);
            for (o, &c) in out.iter_mut().zip(&ints[0]) {
                *o = c as f64 * small.scale;
            }
            return;
        }
        let mut sums = [Vec::new()];
        strip_sums(
            &self.cols,
            self.n,
            STRIP,
            &[signs(state, self.n)],
            &mut sums,
        );
        out.copy_from_slice(&sums[0]);
    }

    /// The fields `h = W's − θ` of one state.
    pub fn fields(&self, state: &[u64], out: &mut [f64]) {
        self.sums(state, out);
        for (h, &t) in out.iter_mut().zip(&self.threshold) {
            *h -= t;
        }
    }

    /// The exact sums of several states (`outs[r]` resized to `n`): by
    /// table lookup for a large block ([`subset_sums`]), else by the
    /// multiply-add product, all states in one pass over the matrix
    /// ([`strip_sums`]).
    #[inline(always)]
    fn fill_sums(&self, states: &[&[u64]], outs: &mut [Vec<f64>]) {
        let n = self.n;
        // The tables' tiles read the matrix in short pieces a row apart:
        // beyond a few thousand neurons (a matrix far larger than the cache)
        // that waits on memory, and the strips are faster at any block size
        // (N = 16,384, one thread: 65 ms per query in blocks of 15 against
        // 82–100 ms by tables in blocks of 16–32; equal at N = 4,096).
        if states.len() >= subset_sums::MIN_STATES && n <= SUBSET_MAX_N {
            subset_sums::subset_sums(&self.cols, n, states, outs);
            return;
        }
        let signs: Vec<Vec<f64>> = states.iter().map(|s| signs(s, n)).collect();
        strip_sums(&self.cols, n, STRIP, &signs, outs);
    }

    /// Exact sums of several states in units of `small.scale`, by table
    /// lookup for a large block, else one column at a time.
    #[inline(always)]
    fn fill_ints(&self, small: &Small, states: &[&[u64]], outs: &mut [Vec<i32>]) {
        let n = self.n;
        if states.len() >= subset_sums::MIN_STATES {
            subset_sums::subset_sums(&small.cols, n, states, outs);
            return;
        }
        for (state, out) in states.iter().zip(outs.iter_mut()) {
            out.clear();
            out.resize(n, 0);
            for j in 0..n {
                add_small_column(out, small.column(j, n), spins::spin(state, j), 0);
            }
        }
    }

    /// Recomputes the sums of `states` into their caches, nothing pending
    /// after.
    #[inline(always)]
    fn recompute(&self, states: &[&[u64]], caches: &mut [&mut WeightsCache]) {
        match &self.small {
            Some(small) => refill(
                caches,
                |c| &mut c.ints,
                |ints| self.fill_ints(small, states, ints),
            ),
            None => refill(caches, |c| &mut c.sums, |sums| self.fill_sums(states, sums)),
        }
        for c in caches.iter_mut() {
            c.valid = true;
            c.pending.clear();
        }
    }

    /// Exact `S_i` of one neuron, by a strided dot product (`O(N)`).
    fn sum_of(&self, state: &[u64], i: usize) -> f64 {
        let n = self.n;
        if let Some(small) = &self.small {
            let s: i32 = (0..n)
                .map(|j| small.cols[j * n + i] as i32 * spins::spin(state, j))
                .sum();
            return s as f64 * small.scale;
        }
        let mut s = 0.0f64;
        for j in 0..n {
            let w = self.cols[j * n + i] as f64;
            if spins::spin(state, j) > 0 {
                s += w;
            } else {
                s -= w;
            }
        }
        s
    }

    /// `S_i` of a settled cache.
    #[inline(always)]
    fn settled_sum(&self, cache: &WeightsCache, i: usize) -> f64 {
        match &self.small {
            Some(small) => cache.ints[i] as f64 * small.scale,
            None => cache.sums[i],
        }
    }

    /// `S_i` from the cache, whatever its state.
    #[inline(always)]
    fn cached_sum(&self, cache: &WeightsCache, state: &[u64], i: usize) -> f64 {
        if !cache.valid {
            return self.sum_of(state, i);
        }
        let n = self.n;
        if let Some(small) = &self.small {
            let mut s = cache.ints[i];
            for &(j, new) in &cache.pending {
                s += 2 * new as i32 * small.cols[j as usize * n + i] as i32;
            }
            return s as f64 * small.scale;
        }
        let mut s = cache.sums[i];
        for &(j, new) in &cache.pending {
            s += 2.0 * new as f64 * self.cols[j as usize * n + i] as f64;
        }
        s
    }

    /// Flips per step up to which pending flips are applied row by row
    /// rather than the fields recomputed by the blocked product.
    fn incremental_limit(&self) -> usize {
        (self.n / 4).max(1)
    }

    /// Makes the cache's sums exact for `state` with nothing pending.
    #[inline(always)]
    fn settle(&self, cache: &mut WeightsCache, state: &[u64]) {
        if cache.valid && cache.pending.len() > self.incremental_limit() {
            cache.valid = false;
        }
        if !cache.valid {
            self.recompute(&[state], &mut [cache]);
        } else if !cache.pending.is_empty() {
            let n = self.n;
            for &(j, new) in &cache.pending {
                match &self.small {
                    Some(small) => add_small_column(
                        &mut cache.ints,
                        small.column(j as usize, n),
                        new as i32,
                        1,
                    ),
                    None => add_column(&mut cache.sums, self.column(j as usize), 2.0 * new as f64),
                }
            }
            cache.pending.clear();
        }
    }

    #[inline(always)]
    fn drive_from_sum(&self, s: f64, i: usize) -> f64 {
        if self.zero_threshold {
            s
        } else {
            s - self.threshold[i]
        }
    }
}

/// `len` entries must make a non-empty `n × n` matrix with `n ≤ MAX_N`.
fn check_square(n: usize, len: usize) -> Result<()> {
    if n == 0 || n > MAX_N || len != n * n {
        return Err(Error::Shape(format!(
            "weights must be a non-empty n × n matrix with n ≤ {MAX_N}, got {len} entries for n = {n}"
        )));
    }
    Ok(())
}

fn check_threshold(n: usize, threshold: &[f64]) -> Result<()> {
    if threshold.len() != n {
        return Err(Error::Shape(format!(
            "threshold must have length n = {n}, got {}",
            threshold.len()
        )));
    }
    if let Some(i) = threshold.iter().position(|t| !t.is_finite()) {
        return Err(Error::Value(format!(
            "threshold must be finite; found {} at index {i}",
            threshold[i]
        )));
    }
    Ok(())
}

/// Transposes a row-major `n × n` matrix in place.
fn transpose_in_place(m: &mut [f32], n: usize) {
    for i in 0..n {
        for j in 0..i {
            m.swap(i * n + j, j * n + i);
        }
    }
}

/// The spins of a packed state as `±1.0`.
#[inline(always)]
fn signs(state: &[u64], n: usize) -> Vec<f64> {
    (0..n)
        .map(|j| if spins::spin(state, j) > 0 { 1.0 } else { -1.0 })
        .collect()
}

/// `sums += scale · column` (exact on the grid).
#[inline(always)]
fn add_column(sums: &mut [f64], column: &[f32], scale: f64) {
    for (s, &w) in sums.iter_mut().zip(column) {
        *s += scale * w as f64;
    }
}

/// Takes every cache's `buffer` out, lets `fill` write them all at once (a
/// block's sums), and puts them back.
#[inline(always)]
fn refill<L>(
    caches: &mut [&mut WeightsCache],
    buffer: fn(&mut WeightsCache) -> &mut Vec<L>,
    fill: impl FnOnce(&mut [Vec<L>]),
) {
    let mut buffers: Vec<Vec<L>> = caches
        .iter_mut()
        .map(|c| std::mem::take(buffer(c)))
        .collect();
    fill(&mut buffers);
    for (c, v) in caches.iter_mut().zip(buffers) {
        *buffer(c) = v;
    }
}

/// The bits of those of up to 64 neurons (spins `word`, drives `h`) that
/// disagree with their drive: branch-free, so that it vectorises.
#[inline(always)]
fn disagreeing(word: u64, h: impl Iterator<Item = f64>) -> u64 {
    let (mut plus, mut minus) = (0u64, 0u64);
    for (b, h) in h.enumerate() {
        plus |= ((h > 0.0) as u64) << b;
        minus |= ((h < 0.0) as u64) << b;
    }
    (plus & !word) | (minus & word)
}

/// `sums += sign · 2^shift · column` on small integer weights (exact: no
/// sum overflows, see [`Small::of`]); `sign` is ±1, `shift` 0 to add a
/// neuron's contribution and 1 to reverse it (a flip).
#[inline(always)]
fn add_small_column(sums: &mut [i32], column: &[i8], sign: i32, shift: u32) {
    // Two loops rather than a multiply: a vector multiply is slow.
    if sign > 0 {
        for (s, &c) in sums.iter_mut().zip(column) {
            *s += (c as i32) << shift;
        }
    } else {
        for (s, &c) in sums.iter_mut().zip(column) {
            *s -= (c as i32) << shift;
        }
    }
}

crate::simd::multiversion! {
    /// `outs[q] = W's_q` for the states `q` (their spins as `±1.0` in
    /// `signs[q]`; `outs[q]` resized to `n`), with `cols` the weights by
    /// column, in one pass over the matrix for all of them: a strip of four
    /// columns by `strip` neurons ([`STRIP`]) is widened to `f64` once, in L2, and
    /// added to every state's sums. (Four states per pass, as before, read a
    /// matrix of 1 GiB at N = 16,384 once per four queries.) Exact in any
    /// order: grid weights, whose partial sums an `f64` holds exactly.
    fn strip_sums(cols: &[f32], n: usize, strip: usize, signs: &[Vec<f64>], outs: &mut [Vec<f64>]) -> ()
    => strip_sums_body
}

#[inline(always)]
fn strip_sums_body(
    cols: &[f32],
    n: usize,
    strip: usize,
    signs: &[Vec<f64>],
    outs: &mut [Vec<f64>],
) {
    debug_assert_eq!(cols.len(), n * n);
    debug_assert_eq!(signs.len(), outs.len());
    for out in outs.iter_mut() {
        out.clear();
        out.resize(n, 0.0);
    }
    // Four widened column pieces (no longer than the matrix: a small one
    // is then not paying for a 128 KiB buffer); columns past `n` stay zero,
    // with sign 0.
    let strip = strip.min(n).max(1);
    let mut wide = vec![vec![0.0f64; strip]; 4];
    let spin = |sg: &[f64], j: usize| if j < n { sg[j] } else { 0.0 };
    let mut i0 = 0;
    while i0 < n {
        let i1 = (i0 + strip).min(n);
        let len = i1 - i0;
        let mut j = 0;
        while j < n {
            if let ([sg], [out]) = (signs, &mut outs[..]) {
                if j + 4 <= n {
                    // One state shares nothing: its columns are read as
                    // they are, without the widened copy.
                    let w = |k: usize| &cols[(j + k) * n + i0..(j + k) * n + i1];
                    let (a, b, c, d) = (sg[j], sg[j + 1], sg[j + 2], sg[j + 3]);
                    let terms = w(0).iter().zip(w(1)).zip(w(2)).zip(w(3));
                    for (o, (((&x0, &x1), &x2), &x3)) in out[i0..i1].iter_mut().zip(terms) {
                        *o += a * x0 as f64 + b * x1 as f64 + c * x2 as f64 + d * x3 as f64;
                    }
                    j += 4;
                    continue;
                }
            }
            for (k, piece) in wide.iter_mut().enumerate() {
                if j + k < n {
                    let col = &cols[(j + k) * n + i0..(j + k) * n + i1];
                    for (x, &w) in piece.iter_mut().zip(col) {
                        *x = w as f64;
                    }
                } else {
                    piece.fill(0.0);
                }
            }
            let [w0, w1, w2, w3] = &wide[..] else {
                unreachable!("four pieces")
            };
            let (w0, w1, w2, w3) = (&w0[..len], &w1[..len], &w2[..len], &w3[..len]);
            for (sg, out) in signs.iter().zip(outs.iter_mut()) {
                let (a, b, c, d) = (
                    spin(sg, j),
                    spin(sg, j + 1),
                    spin(sg, j + 2),
                    spin(sg, j + 3),
                );
                let out = &mut out[i0..i1];
                for t in 0..len {
                    out[t] += a * w0[t] + b * w1[t] + c * w2[t] + d * w3[t];
                }
            }
            j += 4;
        }
        i0 = i1;
    }
}

/// Per-query cache: the exact sums `S = W's`, once computed, and the flips
/// made since they were last brought up to date.
#[derive(Debug, Clone, Default)]
pub struct WeightsCache {
    /// `S`, when the weights have no small form.
    sums: Vec<f64>,
    /// `S / scale`, when they have one.
    ints: Vec<i32>,
    valid: bool,
    /// `(j, new spin)` of flips not yet applied to `sums`.
    pending: Vec<(u32, i8)>,
}

impl EnergyModel for Weights {
    type Cache = WeightsCache;

    fn n(&self) -> usize {
        self.n
    }

    /// Empty: the sums are computed when first needed, so that a
    /// synchronous block computes them together.
    #[inline(always)]
    fn cache(&self, _state: &[u64]) -> WeightsCache {
        WeightsCache::default()
    }

    /// Large blocks, async and sync alike, so that the tables of
    /// [`subset_sums`] pay off: each thread's share of the queries, at most
    /// `MAX_BLOCK` of them and at most `BLOCK_BYTES` of sums.
    #[inline(always)]
    fn block_size(&self, update: Update, rows: usize, threads: usize) -> usize {
        let default = match update {
            Update::Async => ASYNC_BLOCK,
            Update::Sync => SYNC_BLOCK,
        };
        let per_thread = rows.div_ceil(threads.max(1));
        let largest = MAX_BLOCK.min(BLOCK_BYTES / (8 * self.n)).max(1);
        // Equal blocks, so that the threads finish together.
        let blocks = per_thread.div_ceil(largest);
        per_thread.div_ceil(blocks.max(1)).max(default)
    }

    /// Computed: the async block's sums, by table lookup for a large block.
    #[inline(always)]
    fn caches(&self, states: &[&[u64]]) -> Vec<WeightsCache> {
        let mut caches = vec![WeightsCache::default(); states.len()];
        let mut refs: Vec<&mut WeightsCache> = caches.iter_mut().collect();
        self.recompute(states, &mut refs);
        caches
    }

    #[inline(always)]
    fn gap(&self, cache: &WeightsCache, state: &[u64], i: usize) -> f64 {
        let s = self.cached_sum(cache, state, i);
        let own = self.diag[i] * spins::spin(state, i) as f64;
        2.0 * ((s - own) - self.threshold[i])
    }

    /// Settles the cache (one column per flip since), then reads the sum:
    /// `O(1)` per stochastic update plus `O(N)` per flip.
    #[inline(always)]
    fn gap_mut(&self, cache: &mut WeightsCache, state: &[u64], i: usize) -> f64 {
        self.settle(cache, state);
        let own = self.diag[i] * spins::spin(state, i) as f64;
        2.0 * ((self.settled_sum(cache, i) - own) - self.threshold[i])
    }

    #[inline(always)]
    fn drive(&self, cache: &mut WeightsCache, state: &[u64], i: usize) -> f64 {
        self.settle(cache, state);
        self.drive_from_sum(self.settled_sum(cache, i), i)
    }

    /// Settles the cache and compares every drive with its spin, 64 at a
    /// time without branches.
    #[inline(always)]
    fn unstable_neurons(&self, cache: &mut WeightsCache, state: &[u64], mask: &mut [u64]) -> bool {
        self.settle(cache, state);
        let theta = self.threshold.chunks(64);
        match &self.small {
            Some(small) => {
                for (((s, t), &w), m) in cache.ints.chunks(64).zip(theta).zip(state).zip(mask) {
                    *m = disagreeing(
                        w,
                        s.iter().zip(t).map(|(&s, &t)| s as f64 * small.scale - t),
                    );
                }
            }
            None => {
                for (((s, t), &w), m) in cache.sums.chunks(64).zip(theta).zip(state).zip(mask) {
                    *m = disagreeing(w, s.iter().zip(t).map(|(&s, &t)| s - t));
                }
            }
        }
        true
    }

    #[inline(always)]
    fn flip(&self, cache: &mut WeightsCache, state: &mut [u64], i: usize) {
        spins::flip(state, i);
        if cache.valid {
            cache.pending.push((i as u32, spins::spin(state, i) as i8));
        }
    }

    #[inline(always)]
    fn energy(&self, cache: &WeightsCache, state: &[u64]) -> f64 {
        if !self.symmetric {
            return f64::NAN;
        }
        let copy;
        let settled = if cache.valid && cache.pending.is_empty() {
            cache
        } else {
            let mut c = cache.clone();
            self.settle(&mut c, state);
            copy = c;
            &copy
        };
        let mut theta_s = 0.0f64;
        if !self.zero_threshold {
            for (i, &t) in self.threshold.iter().enumerate() {
                theta_s += spins::spin(state, i) as f64 * t;
            }
        }
        let quad = match &self.small {
            // Exact in integers: Σ_i s_i S_i = 2·Σ_{s_i = +1} S_i − Σ_i S_i.
            Some(small) => {
                let (mut plus, mut all) = (0i64, 0i64);
                for (chunk, &word) in settled.ints.chunks(64).zip(state) {
                    for (b, &v) in chunk.iter().enumerate() {
                        all += v as i64;
                        plus += if (word >> b) & 1 == 1 { v as i64 } else { 0 };
                    }
                }
                (2 * plus - all) as f64 * small.scale
            }
            None => {
                let mut quad = 0.0f64;
                for (i, &s) in settled.sums.iter().enumerate() {
                    quad += spins::spin(state, i) as f64 * s;
                }
                quad
            }
        };
        -0.5 * quad + theta_s
    }

    #[inline(always)]
    fn drives(&self, cache: &mut WeightsCache, state: &[u64], out: &mut [f64]) {
        self.drives_many(&mut [cache], &[state], &mut [out]);
    }

    /// Caches with few pending flips take one column per flip; the others
    /// are recomputed together (by table lookup when there are many).
    #[inline(always)]
    fn drives_many(
        &self,
        caches: &mut [&mut WeightsCache],
        states: &[&[u64]],
        outs: &mut [&mut [f64]],
    ) {
        let limit = self.incremental_limit();
        let mut picked = Vec::new();
        let mut stale = Vec::new();
        for (cache, &state) in caches.iter_mut().zip(states) {
            if cache.valid && cache.pending.len() <= limit {
                self.settle(cache, state);
            } else {
                picked.push(state);
                stale.push(&mut **cache);
            }
        }
        if !stale.is_empty() {
            self.recompute(&picked, &mut stale);
        }
        for (cache, out) in caches.iter().zip(outs.iter_mut()) {
            for (i, g) in out.iter_mut().enumerate() {
                *g = self.drive_from_sum(self.settled_sum(cache, i), i);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    use crate::engine::batch;
    use crate::engine::schedule::{Order, Schedule, Temperature};
    use crate::rng::{self, Purpose};
    use crate::spins::SpinMatrix;

    fn random_f32(seed: u64, len: usize) -> Vec<f32> {
        let mut r = rng::stream(seed, 0, Purpose::Noise);
        (0..len)
            .map(|_| (rng::below(&mut r, 2001) as f32 - 1000.0) / 997.0)
            .collect()
    }

    fn random_spins(seed: u64, len: usize) -> Vec<i8> {
        let mut r = rng::stream(seed, 1, Purpose::Noise);
        (0..len)
            .map(|_| if rng::below(&mut r, 2) == 1 { 1 } else { -1 })
            .collect()
    }

    fn symmetric(n: usize, seed: u64, diag: bool) -> Vec<f32> {
        let mut w = random_f32(seed, n * n);
        for i in 0..n {
            for j in 0..i {
                w[j * n + i] = w[i * n + j];
            }
            if !diag {
                w[i * n + i] = 0.0;
            }
        }
        w
    }

    /// The fields by the definition, in f64, from the stored weights.
    fn naive_sums(w: &[f32], n: usize, s: &[i8]) -> Vec<f64> {
        (0..n)
            .map(|i| (0..n).map(|j| w[i * n + j] as f64 * s[j] as f64).sum())
            .collect()
    }

    #[test]
    fn grid_keeps_large_weights_and_makes_sums_exact() {
        let n = 100;
        let mut w = symmetric(n, 1, false);
        w[1] = 1e-14;
        w[n] = 1e-14;
        let m = Weights::new(n, w.clone(), vec![0.0; n]).unwrap();
        let stored = m.weights().unwrap();
        let k = m.grid_exponent();
        for (a, b) in w.iter().zip(&stored) {
            if a.abs() > 1e-3 {
                assert_eq!(a, b);
            }
            let scaled = *b as f64 * pow2(k);
            assert_eq!(scaled, scaled.round(), "not on the grid");
        }
        // The tiny weight is rounded to the grid (here: to zero).
        assert_eq!(stored[1], 0.0);
        assert!(m.is_symmetric() && m.has_zero_diagonal());
    }

    #[test]
    fn sums_are_order_independent_and_match_the_definition() {
        for n in [1usize, 7, 8, 63, 65, 130] {
            let w = symmetric(n, n as u64, true);
            let m = Weights::new(n, w, vec![0.0; n]).unwrap();
            let stored = m.weights().unwrap();
            let s = random_spins(n as u64, n);
            let packed = SpinMatrix::from_spins(&s, 1, n).unwrap();
            let mut got = vec![0.0; n];
            m.sums(packed.row(0), &mut got);
            let want = naive_sums(&stored, n, &s);
            assert_eq!(got, want, "n = {n}");
            // Reversed order gives the same, as does the strided single sum.
            for i in 0..n {
                let rev: f64 = (0..n)
                    .rev()
                    .map(|j| stored[i * n + j] as f64 * s[j] as f64)
                    .sum();
                assert_eq!(rev, got[i]);
                assert_eq!(m.sum_of(packed.row(0), i), got[i]);
            }
        }
    }

    /// Sums by strips, one state or many, with partial strips and a partial
    /// group of columns, equal the definition (asymmetric weights, so that
    /// rows and columns differ); so do a block's sums on either side of the
    /// tables' size limit.
    #[test]
    fn block_sums_by_strips_match_the_definition() {
        for (n, strip, states) in [
            (1usize, 1usize, 1usize),
            (5, 4, 3),
            (21, 8, 1),
            (22, 8, 17),
            (67, STRIP, 5),
        ] {
            let m = Weights::new(n, random_f32(n as u64, n * n), vec![0.0; n]).unwrap();
            let stored = m.weights().unwrap();
            let spins: Vec<i8> = random_spins(7, states * n);
            let packed = SpinMatrix::from_spins(&spins, states, n).unwrap();
            let signs: Vec<Vec<f64>> = (0..states).map(|q| signs(packed.row(q), n)).collect();
            let mut got = vec![vec![1.0; 3]; states]; // resized and overwritten
            strip_sums(&m.cols, n, strip, &signs, &mut got);
            let rows: Vec<&[u64]> = (0..states).map(|q| packed.row(q)).collect();
            let mut blocked = vec![Vec::new(); states];
            m.fill_sums(&rows, &mut blocked);
            for q in 0..states {
                let want = naive_sums(&stored, n, &spins[q * n..(q + 1) * n]);
                assert_eq!(
                    got[q], want,
                    "n = {n}, strip {strip}, state {q} of {states}"
                );
                assert_eq!(blocked[q], want, "n = {n}, state {q} of {states}");
            }
        }
    }

    #[test]
    fn incremental_fields_equal_fresh_ones() {
        let n = 70;
        let w = random_f32(3, n * n); // asymmetric, non-zero diagonal
        let theta: Vec<f64> = (0..n).map(|i| (i as f64 - 35.0) / 100.0).collect();
        let m = Weights::new(n, w, theta).unwrap();
        assert!(!m.is_symmetric());
        let mut state = SpinMatrix::from_spins(&random_spins(4, n), 1, n).unwrap();
        let mut cache = m.cache(state.row(0));
        let mut out = vec![0.0; n];
        m.drives(&mut cache, state.row(0), &mut out);
        for j in [0usize, 5, 69, 5, 33] {
            m.flip(&mut cache, state.row_mut(0), j);
            // Pending flips are seen by gap before they are applied.
            let mut fresh = m.cache(state.row(0));
            for i in [0usize, 31, 69] {
                assert_eq!(
                    m.gap(&cache, state.row(0), i),
                    m.gap(&fresh, state.row(0), i)
                );
                assert_eq!(
                    m.drive(&mut cache, state.row(0), i),
                    m.drive(&mut fresh, state.row(0), i)
                );
            }
        }
        let mut fields = vec![0.0; n];
        m.fields(state.row(0), &mut fields);
        m.drives(&mut cache, state.row(0), &mut out);
        assert_eq!(out, fields);
    }

    #[test]
    fn gap_is_the_energy_difference_with_a_diagonal() {
        let n = 40;
        let w = symmetric(n, 5, true);
        let theta: Vec<f64> = (0..n).map(|i| (i as f64) / 50.0 - 0.3).collect();
        let m = Weights::new(n, w, theta).unwrap();
        assert!(m.is_symmetric() && !m.has_zero_diagonal());
        let mut state = SpinMatrix::from_spins(&random_spins(6, n), 1, n).unwrap();
        for i in [0usize, 13, 39] {
            let c = m.cache(state.row(0));
            let e0 = m.energy(&c, state.row(0));
            let g = m.gap(&c, state.row(0), i);
            let s0 = spins::spin(state.row(0), i);
            let mut c = m.cache(state.row(0));
            m.flip(&mut c, state.row_mut(0), i);
            let e1 = m.energy(&c, state.row(0));
            let gap = if s0 > 0 { e1 - e0 } else { e0 - e1 };
            assert!((g - gap).abs() < 1e-9, "neuron {i}: {g} vs {gap}");
        }
    }

    #[test]
    fn asymmetric_weights_have_no_energy_and_round_trip() {
        let n = 9;
        let w = random_f32(8, n * n);
        let m = Weights::new(n, w.clone(), vec![0.0; n]).unwrap();
        assert!(!m.is_symmetric());
        assert!(m.energy(&m.cache(&[0]), &[0]).is_nan());
        assert_eq!(m.weights().unwrap(), w);
        assert_eq!(m.column(2)[4], w[4 * n + 2]);
    }

    #[test]
    fn blocked_sync_equals_one_query_at_a_time_and_async_descends() {
        let n = 90;
        let w = symmetric(n, 9, false);
        let m = Weights::new(n, w, vec![0.05; n]).unwrap();
        let b = 11;
        let queries = SpinMatrix::from_spins(&random_spins(10, b * n), b, n).unwrap();
        for update in [Update::Sync, Update::Async] {
            let schedule =
                Schedule::deterministic(update, Order::Random, NonZeroU32::new(30).unwrap(), 3)
                    .tracking_energy(true);
            let all = batch::retrieve(&m, &queries, 0, &schedule).unwrap();
            for r in 0..b {
                let row =
                    SpinMatrix::from_spins(&queries.to_spins().unwrap()[r * n..(r + 1) * n], 1, n)
                        .unwrap();
                let alone = batch::retrieve(&m, &row, r as u64, &schedule).unwrap();
                assert_eq!(alone.states.row(0), all.states.row(r));
                assert_eq!(alone.outcomes[0], all.outcomes[r]);
            }
            if update == Update::Async {
                for o in &all.outcomes {
                    assert!(o.converged);
                    for pair in o.trace.windows(2) {
                        assert!(pair[1] <= pair[0] + 1e-12, "energy rose: {:?}", o.trace);
                    }
                }
            }
        }
    }

    /// Small integers times `scale`, symmetric with zero diagonal.
    fn small_integers(n: usize, seed: u64, largest: u32, scale: f32) -> Vec<f32> {
        let mut r = rng::stream(seed, 2, Purpose::Noise);
        let mut w = vec![0.0f32; n * n];
        for i in 0..n {
            for j in 0..i {
                let c = rng::below(&mut r, 2 * largest + 1) as f32 - largest as f32;
                w[i * n + j] = c * scale;
                w[j * n + i] = c * scale;
            }
        }
        w
    }

    #[test]
    fn small_form_is_found_only_where_it_is_exact() {
        let n = 50;
        let m = Weights::new(n, small_integers(n, 1, 127, 1.0 / 1024.0), vec![0.0; n]).unwrap();
        assert!(m.is_small());
        // Odd factors stay in the integers: 3·c/1024 is (3c)·2^−10, |3c| ≤ 120.
        let m = Weights::new(n, small_integers(n, 1, 40, 3.0 / 1024.0), vec![0.0; n]).unwrap();
        assert!(m.is_small());
        assert!(
            !Weights::new(n, small_integers(n, 1, 128, 0.5), vec![0.0; n])
                .unwrap()
                .is_small()
        );
        assert!(!Weights::new(n, symmetric(n, 2, false), vec![0.0; n])
            .unwrap()
            .is_small());
        assert!(Weights::new(n, vec![0.0; n * n], vec![0.0; n])
            .unwrap()
            .is_small());
        // The small form's sums are the float path's, exactly.
        let m = Weights::new(n, small_integers(n, 3, 100, 0.25), vec![0.1; n]).unwrap();
        let f = m.clone().without_small();
        let s = SpinMatrix::from_spins(&random_spins(4, n), 1, n).unwrap();
        let (mut a, mut b) = (m.cache(s.row(0)), f.cache(s.row(0)));
        for i in 0..n {
            assert_eq!(m.drive(&mut a, s.row(0), i), f.drive(&mut b, s.row(0), i));
            assert_eq!(m.gap(&a, s.row(0), i), f.gap(&b, s.row(0), i));
        }
        assert_eq!(m.energy(&a, s.row(0)), f.energy(&b, s.row(0)));
    }

    #[test]
    fn unstable_neurons_are_those_whose_drive_disagrees() {
        let n = 130;
        let w = small_integers(n, 8, 60, 1.0 / 64.0);
        let theta: Vec<f64> = (0..n).map(|i| (i % 7) as f64 - 3.0).collect();
        let small = Weights::new(n, w, theta).unwrap();
        for m in [small.clone(), small.without_small()] {
            for seed in 0..5 {
                let mut state = SpinMatrix::from_spins(&random_spins(seed, n), 1, n).unwrap();
                let mut cache = m.cache(state.row(0));
                m.flip(&mut cache, state.row_mut(0), 3); // a pending flip
                let mut mask = vec![!0u64; 3];
                assert!(m.unstable_neurons(&mut cache, state.row(0), &mut mask));
                let mut any = false;
                for i in 0..n {
                    let h = m.drive(&mut cache, state.row(0), i);
                    let s = spins::spin(state.row(0), i);
                    let flips = (h > 0.0 && s < 0) || (h < 0.0 && s > 0);
                    assert_eq!((mask[i / 64] >> (i % 64)) & 1 == 1, flips, "neuron {i}");
                    any |= flips;
                }
                assert!(any, "the test needs unstable neurons");
                assert_eq!(mask[2] >> (n % 64), 0, "bits past n");
            }
        }
    }

    #[test]
    fn small_and_float_paths_retrieve_alike_in_large_blocks() {
        let n = 130;
        let b = 70; // blocks past subset_sums::MIN_STATES
        let queries = SpinMatrix::from_spins(&random_spins(5, b * n), b, n).unwrap();
        for theta in [0.0, 0.05] {
            let small =
                Weights::new(n, small_integers(n, 6, 90, 1.0 / 256.0), vec![theta; n]).unwrap();
            assert!(small.is_small());
            let float = small.clone().without_small();
            for update in [Update::Async, Update::Sync] {
                let schedule =
                    Schedule::deterministic(update, Order::Random, NonZeroU32::new(30).unwrap(), 3)
                        .tracking_energy(true);
                let x = batch::retrieve(&small, &queries, 0, &schedule).unwrap();
                let y = batch::retrieve(&float, &queries, 0, &schedule).unwrap();
                assert_eq!(x.states.as_words(), y.states.as_words());
                assert_eq!(x.outcomes, y.outcomes);
                // One query at a time (no tables) agrees with the blocks.
                for r in [0usize, 33, 69] {
                    let row = SpinMatrix::from_spins(
                        &queries.to_spins().unwrap()[r * n..(r + 1) * n],
                        1,
                        n,
                    )
                    .unwrap();
                    let alone = batch::retrieve(&small, &row, r as u64, &schedule).unwrap();
                    assert_eq!(alone.states.row(0), x.states.row(r));
                    assert_eq!(alone.outcomes[0], x.outcomes[r]);
                }
            }
            let glauber = Schedule::new(
                Update::Async,
                Order::Random,
                NonZeroU32::new(30).unwrap(),
                3,
                Temperature::Constant {
                    t: 0.4,
                    sweeps: NonZeroU32::new(3).unwrap(),
                },
                false,
            )
            .unwrap();
            let x = batch::retrieve(&small, &queries, 0, &glauber).unwrap();
            let y = batch::retrieve(&float, &queries, 0, &glauber).unwrap();
            assert_eq!(x.states.as_words(), y.states.as_words());
            assert_eq!(x.outcomes, y.outcomes);
        }
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(matches!(
            Weights::new(0, vec![], vec![]),
            Err(Error::Value(_))
        ));
        assert!(matches!(
            Weights::new(2, vec![0.0; 3], vec![0.0; 2]),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            Weights::new(2, vec![0.0, f32::NAN, 0.0, 0.0], vec![0.0; 2]),
            Err(Error::Value(_))
        ));
        assert!(matches!(
            Weights::new(2, vec![0.0; 4], vec![0.0, f64::INFINITY]),
            Err(Error::Value(_))
        ));
        assert!(matches!(
            Weights::new(2, vec![0.0; 4], vec![0.0]),
            Err(Error::Shape(_))
        ));
    }

    #[test]
    fn grid_exponent_edges() {
        assert_eq!(grid_exponent(1, 0.0), 149);
        assert_eq!(ceil_log2(1), 0);
        assert_eq!(ceil_log2(1024), 10);
        assert_eq!(ceil_log2(1025), 11);
        assert_eq!(frexp_exponent(1.0), 1);
        assert_eq!(frexp_exponent(0.75), 0);
        assert_eq!(grid_exponent(1024, 1.0), 39);
        // Huge weights still give an exact grid.
        let m = Weights::new(2, vec![0.0, 3e38, 3e38, 0.0], vec![0.0; 2]).unwrap();
        assert_eq!(m.weights().unwrap()[1], 3e38);
    }

    #[test]
    fn integers_times_a_common_factor_are_exact() {
        // Hebbian weights C/N computed in floating point, N not a power of two.
        let (n, p) = (45, 7);
        let s = random_spins(3, p * n);
        let mut c = vec![0i32; n * n];
        for mu in 0..p {
            for i in 0..n {
                for j in 0..n {
                    if i != j {
                        c[i * n + j] += (s[mu * n + i] * s[mu * n + j]) as i32;
                    }
                }
            }
        }
        let w: Vec<f32> = c.iter().map(|&x| (x as f64 / n as f64) as f32).collect();
        let m = Weights::new(n, w, vec![0.0; n]).unwrap();
        assert!(m.is_small());
        let state = random_spins(4, n);
        let packed = SpinMatrix::from_spins(&state, 1, n).unwrap();
        let mut out = vec![0.0; n];
        m.sums(packed.row(0), &mut out);
        let alpha = m.small.as_ref().unwrap().scale;
        for i in 0..n {
            let exact: i32 = (0..n).map(|j| c[i * n + j] * state[j] as i32).sum();
            assert_eq!(out[i], exact as f64 * alpha);
            assert_eq!(m.sum_of(packed.row(0), i), out[i]);
        }
        // Not integers up to rounding: the float path.
        let noisy: Vec<f32> = random_f32(5, n * n).iter().map(|x| x * 0.37).collect();
        assert!(!Weights::new(n, noisy, vec![0.0; n]).unwrap().is_small());
    }
}
