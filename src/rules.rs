//! Learning rules that produce weight matrices (everything but Hebbian,
//! which stays pattern-factored in [`model::hebbian`](crate::model::hebbian)).
//!
//! Patterns `ξ^μ ∈ {−1, +1}^N` are the rows of `X` (`P × N`). A rule keeps
//! the patterns and `O(P·N)` numbers, never an `N × N` matrix of its own:
//! every rule's matrix is a product of rank `O(P)`, written once, straight
//! into the model's `f32` weights ([`build`]), exactly symmetric, each
//! entry summed in `f64` and rounded once.
//!
//! * **Storkey** (Storkey 1997), incremental, zero diagonal. For each new
//!   pattern ξ, with `H = Wξ` (so that `h_ij = Σ_{k≠i,j} W_ik ξ_k = H_i − W_ij ξ_j`):
//!   `W_ij += (ξ_i ξ_j − ξ_i h_ji − h_ij ξ_j) / N
//!          = (ξ_i ξ_j − ξ_i H_j − H_i ξ_j + 2 W_ij) / N` for `i ≠ j`.
//!   Kept in low-rank form ([`storkey`]): `O(P²·N)` to learn, rank `2P`.
//! * **Pseudo-inverse** (projection rule): `W = Xᵀ (X Xᵀ)⁻¹ X`, the
//!   orthogonal projector onto the span of the patterns, so every stored
//!   pattern satisfies `Wξ = ξ` exactly (with the diagonal). The Gram matrix
//!   `X Xᵀ = L Lᵀ` (exact integers) is factored by Cholesky in `f64`, and
//!   `W = Yᵀ Y` with `Y = L⁻¹ X`; linearly dependent patterns are refused
//!   with an error naming the first pattern that depends on the earlier
//!   ones. The diagonal is zeroed by default.
//! * **Covariance** (Tsodyks & Feigel'man 1988) for biased patterns whose
//!   fraction of +1 entries is the activity `a`; with the mean spin `m = 2a − 1`:
//!   `W_ij = Σ_μ (ξ_i^μ − m)(ξ_j^μ − m) / (N (1 − m²))`, `W_ii = 0`.
//!   A stored pattern then sees the signal `ξ_i − m` (`2(1−a)` on active,
//!   `−2a` on inactive units): the threshold `θ = −m = 1 − 2a` sits halfway
//!   and makes sparse patterns stable. With `a = ½` this is Hebbian.
//!   Written as `(C_ij − m(a_i + a_j) + P m²) / (N (1 − m²))` from the exact
//!   integer overlaps `C_ij` and column sums `a_i`.
//!
//! The weights agree with the `f64` formulas of the NumPy reference to a
//! few `f64` rounding errors before the one rounding to `f32` (so the
//! stored `f32` weights are the reference's, or one `f32` step away).

mod build;
mod storkey;

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::error::{interrupted, try_filled, Error, Result};
use crate::model::Weights;
use crate::spins::{self, SpinMatrix};

pub use build::{Counts, Factors, Gram, Sym2, Tiles};

/// A learning rule with its parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Rule {
    /// Storkey's incremental rule.
    Storkey,
    /// The projection rule; `zero_diagonal` zeroes `W_ii` after projecting.
    PseudoInverse {
        /// Zero the diagonal (the default).
        zero_diagonal: bool,
    },
    /// The covariance rule for patterns of activity `activity` (in (0, 1)).
    Covariance {
        /// Fraction of +1 entries the patterns are expected to have.
        activity: f64,
    },
}

/// The state of a rule: the stored patterns and, for Storkey, its
/// low-rank factors (`8·P·N` bytes).
#[derive(Debug, Clone)]
pub struct Learner {
    n: usize,
    rule: Rule,
    patterns: SpinMatrix,
    storkey: storkey::Storkey,
    /// Diluted connectivity (compressed rows of the kept pairs), if any.
    mask: Option<(Vec<usize>, Vec<u32>)>,
}

/// `n·n` checked, as a `Memory` error naming `what`.
fn square(n: usize, what: &str) -> Result<usize> {
    n.checked_mul(n)
        .filter(|&c| c <= isize::MAX as usize / 8)
        .ok_or_else(|| Error::Memory(format!("{what} of {n} × {n} cannot be allocated")))
}

/// A rule's matrix as tiles.
enum Matrix {
    Gram(Gram),
    Sym2(Sym2),
    Counts(Counts),
}

impl Learner {
    /// An empty memory of `n` neurons learning by `rule`.
    ///
    /// # Errors
    /// `Value` for `n = 0` or an activity outside (0, 1); `Memory` when the
    /// `N × N` weights cannot be allocated.
    pub fn new(n: usize, rule: Rule) -> Result<Self> {
        if n == 0 {
            return Err(Error::Value("n must be at least 1".into()));
        }
        Self::check_size(n, rule)?;
        if n > crate::model::weights::MAX_N {
            return Err(Error::Value(format!(
                "n must be at most {}, got {n}",
                crate::model::weights::MAX_N
            )));
        }
        if let Rule::Covariance { activity } = rule {
            if !(activity > 0.0 && activity < 1.0) {
                return Err(Error::Value(format!(
                    "activity must be strictly between 0 and 1, got {activity}"
                )));
            }
        }
        square(n, "a weight matrix")?;
        Ok(Learner {
            n,
            rule,
            patterns: SpinMatrix::new(n)?,
            storkey: storkey::Storkey::new(n),
            mask: None,
        })
    }

    /// Checks, without keeping anything, that the matrices a learner of `n`
    /// neurons by `rule` builds can be allocated (two `f32` `N × N`: the
    /// model's weights, and the new ones while a store runs): the address
    /// space is reserved and released, no page is touched.
    ///
    /// # Errors
    /// `Memory` naming the size when they cannot.
    pub fn check_size(n: usize, rule: Rule) -> Result<()> {
        let count = square(n, "a weight matrix")?;
        let bytes = count.checked_mul(8).ok_or_else(|| {
            Error::Memory(format!("{n} × {n} weight matrices cannot be allocated"))
        })?;
        if let Some(total) = physical_memory() {
            if bytes as u128 > total {
                return Err(Error::Memory(format!(
                    "rule {rule:?} with n = {n} needs two {n} × {n} float32 weight matrices \
                     while storing ({bytes} bytes), more than this machine's {total} bytes of \
                     memory and swap"
                )));
            }
        }
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(bytes).map_err(|_| {
            Error::Memory(format!(
                "rule {rule:?} with n = {n} needs two {n} × {n} float32 weight matrices while \
                 storing ({bytes} bytes), more than can be allocated"
            ))
        })?;
        Ok(())
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The rule.
    pub fn rule(&self) -> Rule {
        self.rule
    }

    /// The patterns stored so far.
    pub fn patterns(&self) -> &SpinMatrix {
        &self.patterns
    }

    /// Bytes held: the packed patterns and Storkey's factors (`O(P·N)`).
    pub fn nbytes(&self) -> usize {
        self.patterns.nbytes() + self.storkey.nbytes()
    }

    /// Learns `patterns` (appended to the stored ones). On error nothing
    /// changes.
    ///
    /// # Errors
    /// `Shape` when the width is not `n`; `Value` when the pseudo-inverse
    /// patterns are linearly dependent; `Memory` when scratch space cannot
    /// be allocated.
    pub fn store(&mut self, patterns: &SpinMatrix) -> Result<()> {
        self.store_until(patterns, &AtomicBool::new(false))
    }

    /// Roughly how many multiply-adds storing `rows` more patterns and
    /// building the model takes (to decide whether a caller should watch
    /// for Ctrl-C while it runs).
    pub fn store_work(&self, rows: usize) -> f64 {
        let (n, p) = (self.n as f64, (self.patterns.rows() + rows) as f64);
        n * n * (p + 1.0) + p * p * n
    }

    /// As [`store`](Learner::store), looking at `cancel` between chunks of
    /// work (a pattern for Storkey, about [`CHUNK_WORK`] multiply-adds
    /// otherwise).
    ///
    /// # Errors
    /// As [`store`](Learner::store), and `Interrupted` once `cancel` is
    /// raised; then the learner is left part-way: store on a clone and keep
    /// it only on success.
    pub fn store_until(&mut self, patterns: &SpinMatrix, cancel: &AtomicBool) -> Result<()> {
        patterns.check_n(self.n)?;
        interrupted(cancel)?;
        match self.rule {
            Rule::Storkey => {
                let mut rows: Vec<&[u64]> = (0..self.patterns.rows())
                    .map(|r| self.patterns.row(r))
                    .collect();
                for r in 0..patterns.rows() {
                    interrupted(cancel)?;
                    self.storkey.push(&rows, patterns.row(r))?;
                    rows.push(patterns.row(r));
                }
            }
            Rule::Covariance { .. } => {}
            Rule::PseudoInverse { .. } => {
                let mut all = self.patterns.clone();
                all.append(patterns)?;
                // Checks independence before anything is kept.
                gram_cholesky(&all, cancel)?;
            }
        }
        self.patterns.append(patterns)
    }

    /// The rule's matrix of the stored patterns, as tiles.
    fn matrix(&self, cancel: &AtomicBool) -> Result<Matrix> {
        Ok(match self.rule {
            Rule::Storkey => Matrix::Sym2(self.storkey.tiles(&self.patterns)?),
            Rule::PseudoInverse { .. } => Matrix::Gram(projection(&self.patterns, cancel)?),
            Rule::Covariance { activity } => {
                let m = 2.0 * activity - 1.0;
                let scale = 1.0 / (self.n as f64 * (1.0 - m * m));
                Matrix::Counts(Counts::new(&self.patterns, m, scale)?)
            }
        })
    }

    /// Whether the rule zeroes the diagonal.
    fn zero_diagonal(&self) -> bool {
        match self.rule {
            Rule::PseudoInverse { zero_diagonal } => zero_diagonal,
            _ => true,
        }
    }

    /// The weights as `f64`, row-major `N × N` (for tests and small
    /// networks: the model never builds them).
    ///
    /// # Errors
    /// `Memory` when they cannot be allocated; `Value` (pseudo-inverse) when
    /// the stored patterns are dependent (never after a successful store).
    pub fn weights(&self) -> Result<Vec<f64>> {
        let n = self.n;
        let count = square(n, "a weight matrix")?;
        let mut w = try_filled(&format!("a {n} × {n} weight matrix"), count, 0.0f64)?;
        match self.matrix(&AtomicBool::new(false))? {
            Matrix::Gram(k) => dense(&k, n, &mut w),
            Matrix::Sym2(k) => dense(&k, n, &mut w),
            Matrix::Counts(k) => dense(&k, n, &mut w),
        }
        if self.zero_diagonal() {
            for i in 0..n {
                w[i * n + i] = 0.0;
            }
        }
        Ok(w)
    }

    /// Keeps only the connections of a seeded symmetric random graph with
    /// connection probability `dilution` (the same graph as
    /// [`Diluted`](crate::model::Diluted) draws from `seed`): every other
    /// weight of the learnt matrix is set to zero when the model is built.
    /// The rule itself learns on the full matrix.
    ///
    /// # Errors
    /// `Value` for a dilution outside (0, 1]; `Memory` as for the graph.
    pub fn dilute(&mut self, dilution: f64, seed: u64) -> Result<()> {
        if !(dilution > 0.0 && dilution <= 1.0) {
            return Err(Error::Value(format!(
                "dilution must be in (0, 1], got {dilution}"
            )));
        }
        self.mask = Some(crate::model::diluted::connectivity(self.n, dilution, seed)?);
        Ok(())
    }

    /// The energy model of the weights learnt so far, with thresholds θ.
    ///
    /// # Errors
    /// As [`weights`](Learner::weights) and [`Weights::new`].
    pub fn model(&self, threshold: Vec<f64>) -> Result<Weights> {
        self.model_until(threshold, &AtomicBool::new(false))
    }

    /// As [`model`](Learner::model), looking at `cancel` between chunks:
    /// the `f32` matrix is written once, from the rule's factors.
    ///
    /// # Errors
    /// As [`model`](Learner::model); `Interrupted` once `cancel` is raised.
    pub fn model_until(&self, threshold: Vec<f64>, cancel: &AtomicBool) -> Result<Weights> {
        let n = self.n;
        let zero = self.zero_diagonal();
        // A diluted matrix takes its grid from the kept weights only.
        let grid = self.mask.is_none();
        if grid && self.patterns.rows() == 0 {
            // Nothing learnt: zero weights (what `build::write` would give,
            // with the grid of a zero maximum), as pages the system hands
            // out zeroed, so that a new network costs nothing until a store
            // replaces them.
            let count = square(n, "a weight matrix")?;
            return Weights::zero(n, zeros(count)?, threshold);
        }
        let built = match self.matrix(cancel)? {
            Matrix::Gram(t) => build::write(&t, n, zero, grid, cancel)?,
            Matrix::Sym2(t) => build::write(&t, n, zero, grid, cancel)?,
            Matrix::Counts(t) => build::write(&t, n, zero, grid, cancel)?,
        };
        interrupted(cancel)?;
        let mut w = built.weights;
        match &self.mask {
            None => {
                // Small integers times one factor need max/min ≤ 127: only
                // then is the (rare) integer form looked for.
                let may_be_small = built.max > 0.0 && built.max as f64 <= 128.0 * built.min as f64;
                Weights::from_grid(n, w, threshold, built.grid, may_be_small)
            }
            Some((start, cols)) => {
                w.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
                    let mut kept = vec![false; n];
                    for &j in &cols[start[i]..start[i + 1]] {
                        kept[j as usize] = true;
                    }
                    for (x, keep) in row.iter_mut().zip(kept) {
                        if !keep {
                            *x = 0.0;
                        }
                    }
                });
                Weights::new(n, w, threshold)
            }
        }
    }
}

/// `count` zeros, allocated zeroed: the system hands out pages of zeros,
/// so nothing is touched until it is written.
///
/// # Errors
/// `Memory` when they cannot be allocated.
fn zeros(count: usize) -> Result<Vec<f32>> {
    if count == 0 {
        return Ok(Vec::new());
    }
    let refuse = || Error::Memory(format!("{count} zero weights cannot be allocated"));
    let layout = std::alloc::Layout::array::<f32>(count).map_err(|_| refuse())?;
    // SAFETY: the layout has a non-zero size.
    let ptr = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<f32>();
    if ptr.is_null() {
        return Err(refuse());
    }
    // SAFETY: ptr comes from the global allocator with the layout of
    // `count` f32 (so capacity `count`), and all `count` elements are
    // initialised: all-zero bits are 0.0.
    Ok(unsafe { Vec::from_raw_parts(ptr, count, count) })
}

/// Fills the row-major `n × n` `out` from tiles (no rounding to `f32`).
fn dense<K: Tiles>(k: &K, n: usize, out: &mut [f64]) {
    let mut acc = [[0.0; build::L]; build::R];
    for i0 in (0..n).step_by(build::R) {
        let rows: [usize; build::R] = std::array::from_fn(|r| (i0 + r).min(n - 1));
        for j in (0..n).step_by(build::L) {
            k.tile(rows, j, &mut acc);
            for (r, a) in acc.iter().enumerate().take(n - i0) {
                for (l, &v) in a.iter().enumerate().take(n - j) {
                    out[(i0 + r) * n + j + l] = v;
                }
            }
        }
    }
}

/// Physical memory plus swap in bytes, where the system says (Linux).
fn physical_memory() -> Option<u128> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u128> {
        let line = info.lines().find(|l| l.starts_with(name))?;
        let kb: u128 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    };
    Some(field("MemTotal:")? + field("SwapTotal:").unwrap_or(0))
}

/// The spins of a packed row as `±1.0`.
fn signs(row: &[u64], n: usize) -> Vec<f64> {
    (0..n)
        .map(|j| spins::spin(row, j) as f64)
        .collect::<Vec<f64>>()
}

/// How many multiply-adds a long rule does between two looks at its
/// cancel flag (tens of milliseconds on one core).
pub const CHUNK_WORK: usize = 1 << 26;

/// Runs `work` over `0..total` in consecutive ranges of about
/// [`CHUNK_WORK`] / `per_item` items, looking at `cancel` before each.
///
/// # Errors
/// `Interrupted` once `cancel` is raised.
fn in_chunks(
    total: usize,
    per_item: usize,
    cancel: &AtomicBool,
    mut work: impl FnMut(Range<usize>),
) -> Result<()> {
    let step = (CHUNK_WORK / per_item.max(1)).max(1);
    let mut start = 0;
    while start < total {
        interrupted(cancel)?;
        let end = start.saturating_add(step).min(total);
        work(start..end);
        start = end;
    }
    interrupted(cancel)
}
/// The Cholesky factor `L` (row-major `P × P`, lower) of the Gram matrix
/// `X Xᵀ` of the rows of `x`.
///
/// # Errors
/// `Value` naming the first pattern that is (numerically) a linear
/// combination of the earlier ones.
fn gram_cholesky(x: &SpinMatrix, cancel: &AtomicBool) -> Result<Vec<f64>> {
    let (p, n) = (x.rows(), x.n());
    let count = p
        .checked_mul(p)
        .ok_or_else(|| Error::Memory(format!("a {p} × {p} Gram matrix cannot be allocated")))?;
    let mut l = try_filled(&format!("a {p} × {p} Gram matrix"), count, 0.0f64)?;
    let words = n.div_ceil(64);
    in_chunks(p, p * words / 2 + 1, cancel, |rows| {
        let first = rows.start;
        l[rows.start * p..rows.end * p]
            .par_chunks_exact_mut(p)
            .enumerate()
            .for_each(|(k, la)| {
                let a = first + k;
                for (b, g) in la.iter_mut().enumerate().take(a + 1) {
                    *g = spins::overlap(x.row(a), x.row(b), n) as f64;
                }
            });
    })?;
    // A pivot below this is a dependence (G_aa = N; rounding is ~P·N·ε).
    let tol = 1e-9 * n as f64 * (p.max(1) as f64);
    // Row a costs about a²/2 multiply-adds.
    let mut work = 0usize;
    for a in 0..p {
        work += a * a / 2 + 1;
        if work >= CHUNK_WORK {
            interrupted(cancel)?;
            work = 0;
        }
        for b in 0..=a {
            let mut s = l[a * p + b];
            for k in 0..b {
                s -= l[a * p + k] * l[b * p + k];
            }
            if a == b {
                if s <= tol {
                    return Err(Error::Value(format!(
                        "patterns are linearly dependent: pattern {a} (0-based, in storing order) \
                         is a combination of the earlier ones, so X Xᵀ is singular and the \
                         pseudo-inverse rule is undefined; drop it (or duplicates) and store again"
                    )));
                }
                l[a * p + a] = s.sqrt();
            } else {
                l[a * p + b] = s / l[b * p + b];
            }
        }
    }
    Ok(l)
}

/// The factor `Y = L⁻¹ X` of the projector `W = Xᵀ(XXᵀ)⁻¹X = YᵀY`, with
/// `L` the Cholesky factor of `XXᵀ`, as tiles.
///
/// # Errors
/// As `gram_cholesky`; `Interrupted` once `cancel` is raised.
fn projection(x: &SpinMatrix, cancel: &AtomicBool) -> Result<Gram> {
    let (p, n) = (x.rows(), x.n());
    let l = gram_cholesky(x, cancel)?;
    // Columns of X (n × p): xt[j·p + μ] = ξ^μ_j, solved in place.
    let xs: Vec<Vec<f64>> = (0..p).map(|r| signs(x.row(r), n)).collect();
    let mut yt = try_filled("the projection factors", n * p, 0.0f64)?;
    in_chunks(n, p * p / 2 + 1, cancel, |cols| {
        yt[cols.start * p..cols.end * p]
            .par_chunks_exact_mut(p.max(1))
            .enumerate()
            .for_each(|(k, c)| {
                let j = cols.start + k;
                for (mu, v) in c.iter_mut().enumerate() {
                    *v = xs[mu][j];
                }
                forward(&l, p, c);
            });
    })?;
    let mut y = try_filled("the projection factors", n * p, 0.0f64)?;
    for j in 0..n {
        for mu in 0..p {
            y[mu * n + j] = yt[j * p + mu];
        }
    }
    Ok(Gram(Factors::new(&y, p, n)?))
}

/// `W = Xᵀ (X Xᵀ)⁻¹ X` (row-major `N × N`, `f64`), diagonal zeroed if
/// asked (for tests and small networks).
///
/// # Errors
/// As `gram_cholesky`; `Memory` when `N × N` cannot be allocated.
pub fn pseudoinverse(x: &SpinMatrix, zero_diagonal: bool) -> Result<Vec<f64>> {
    let n = x.n();
    let count = square(n, "a weight matrix")?;
    let mut w = try_filled(&format!("a {n} × {n} weight matrix"), count, 0.0f64)?;
    if x.rows() > 0 {
        dense(&projection(x, &AtomicBool::new(false))?, n, &mut w);
    }
    if zero_diagonal {
        for i in 0..n {
            w[i * n + i] = 0.0;
        }
    }
    Ok(w)
}

/// Solves `L c = c` in place (`l` the `p × p` Cholesky factor).
fn forward(l: &[f64], p: usize, c: &mut [f64]) {
    for a in 0..p {
        let mut s = c[a];
        for k in 0..a {
            s -= l[a * p + k] * c[k];
        }
        c[a] = s / l[a * p + a];
    }
}

/// The sequence rule `W = (1/N) Σ_μ ξ^{μ+1} ξ^μᵀ` over the transitions of
/// each sequence (`sequences[k]` is a `L_k × N` matrix; with `cyclic`, the
/// last item of each sequence also leads back to its first). Row-major
/// `N × N`, asymmetric, as `f32` of the exact integer count divided by N.
///
/// # Errors
/// `Shape` when the sequences do not all have `n` neurons; `Memory` when
/// `N × N` cannot be allocated.
pub fn sequence_weights(n: usize, sequences: &[SpinMatrix], cyclic: bool) -> Result<Vec<f32>> {
    let count = square(n, "a weight matrix")?;
    let mut transitions: Vec<(&[u64], &[u64])> = Vec::new();
    for seq in sequences {
        if seq.n() != n {
            return Err(Error::Shape(format!(
                "sequences must have n = {n} columns, got {}",
                seq.n()
            )));
        }
        let l = seq.rows();
        for r in 0..l.saturating_sub(1) {
            transitions.push((seq.row(r), seq.row(r + 1)));
        }
        if cyclic && l >= 1 {
            transitions.push((seq.row(l - 1), seq.row(0)));
        }
    }
    let mut c = try_filled(&format!("a {n} × {n} weight matrix"), count, 0i32)?;
    let from: Vec<Vec<i32>> = transitions
        .iter()
        .map(|(a, _)| (0..n).map(|j| spins::spin(a, j)).collect())
        .collect();
    c.par_chunks_exact_mut(n).enumerate().for_each(|(i, ci)| {
        for ((_, b), a) in transitions.iter().zip(&from) {
            let bi = spins::spin(b, i);
            for (x, &aj) in ci.iter_mut().zip(a) {
                *x += bi * aj;
            }
        }
    });
    let inv = n as f64;
    Ok(c.into_iter().map(|x| (x as f64 / inv) as f32).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::energy::EnergyModel;
    use crate::rng::{self, Purpose};

    #[test]
    fn a_raised_cancel_flag_stops_every_rule() {
        let n = 40;
        let x = random_patterns(5, n, 1);
        let raised = AtomicBool::new(true);
        for rule in [
            Rule::Storkey,
            Rule::Covariance { activity: 0.5 },
            Rule::PseudoInverse {
                zero_diagonal: true,
            },
        ] {
            let mut l = Learner::new(n, rule).unwrap();
            assert_eq!(l.store_until(&x, &raised), Err(Error::Interrupted));
            let mut l = Learner::new(n, rule).unwrap();
            l.store(&x).unwrap();
            assert!(matches!(
                l.model_until(vec![0.0; n], &raised),
                Err(Error::Interrupted)
            ));
            assert!(l.store_work(3) > 0.0);
        }
    }

    #[test]
    fn chunks_cover_the_range_in_order_and_split_stores_learn_the_same_bits() {
        let mut seen = Vec::new();
        in_chunks(10, CHUNK_WORK / 3, &AtomicBool::new(false), |r| {
            seen.push(r)
        })
        .unwrap();
        assert_eq!(seen, vec![0..3, 3..6, 6..9, 9..10]);
        let n = 50;
        let x = random_patterns(7, n, 2);
        let s = x.to_spins().unwrap();
        let (a, b) = (
            SpinMatrix::from_spins(&s[..3 * n], 3, n).unwrap(),
            SpinMatrix::from_spins(&s[3 * n..], 4, n).unwrap(),
        );
        for rule in [Rule::Storkey, Rule::Covariance { activity: 0.3 }] {
            let mut split = Learner::new(n, rule).unwrap();
            split.store(&a).unwrap();
            split.store(&b).unwrap();
            let mut one = Learner::new(n, rule).unwrap();
            one.store(&x).unwrap();
            assert!(split.weights().unwrap() == one.weights().unwrap());
            let (ms, mo) = (
                split.model(vec![0.0; n]).unwrap(),
                one.model(vec![0.0; n]).unwrap(),
            );
            assert_eq!(ms.weights().unwrap(), mo.weights().unwrap());
        }
    }

    /// The low-rank Storkey weights against the dense update of the
    /// module docs, run step by step in `f64`.
    #[test]
    fn storkey_factors_equal_the_dense_update() {
        for (n, p) in [(7, 3), (30, 9), (64, 40), (12, 40)] {
            let x = random_patterns(p, n, 5);
            let mut w = vec![0.0f64; n * n];
            for r in 0..p {
                let xi = signs(x.row(r), n);
                let h: Vec<f64> = (0..n)
                    .map(|i| (0..n).map(|j| w[i * n + j] * xi[j]).sum())
                    .collect();
                let mut next = w.clone();
                for i in 0..n {
                    for j in 0..n {
                        next[i * n + j] = if i == j {
                            0.0
                        } else {
                            w[i * n + j]
                                + (xi[i] * xi[j] - xi[i] * h[j] - h[i] * xi[j] + 2.0 * w[i * n + j])
                                    / n as f64
                        };
                    }
                }
                w = next;
            }
            let mut l = Learner::new(n, Rule::Storkey).unwrap();
            l.store(&x).unwrap();
            let got = l.weights().unwrap();
            let top = w.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            for (a, b) in got.iter().zip(&w) {
                assert!((a - b).abs() <= 1e-12 * top, "n = {n}, p = {p}: {a} vs {b}");
            }
            for i in 0..n {
                for j in 0..n {
                    assert_eq!(got[i * n + j], got[j * n + i]);
                }
            }
        }
    }

    /// The one-pass grid rounding equals rounding the whole `f32` matrix
    /// (`Weights::new`), whichever branch it takes.
    #[test]
    fn written_weights_equal_the_rounded_matrix() {
        for (n, p) in [(5, 2), (33, 7), (300, 20)] {
            let x = random_patterns(p, n, 8);
            for rule in [
                Rule::Storkey,
                Rule::PseudoInverse {
                    zero_diagonal: false,
                },
                Rule::Covariance { activity: 0.3 },
            ] {
                let mut l = Learner::new(n, rule).unwrap();
                l.store(&x).unwrap();
                let w32: Vec<f32> = l.weights().unwrap().iter().map(|&v| v as f32).collect();
                let want = Weights::new(n, w32, vec![0.0; n]).unwrap();
                let got = l.model(vec![0.0; n]).unwrap();
                assert_eq!(got.weights().unwrap(), want.weights().unwrap(), "{rule:?}");
                assert_eq!(got.grid_exponent(), want.grid_exponent());
                assert!(got.is_symmetric());
            }
        }
    }

    fn random_patterns(p: usize, n: usize, seed: u64) -> SpinMatrix {
        let mut r = rng::stream(seed, 0, Purpose::Noise);
        let v: Vec<i8> = (0..p * n)
            .map(|_| if rng::below(&mut r, 2) == 1 { 1 } else { -1 })
            .collect();
        SpinMatrix::from_spins(&v, p, n).unwrap()
    }

    #[test]
    fn pseudoinverse_projects_onto_the_patterns() {
        let (p, n) = (12, 50);
        let x = random_patterns(p, n, 1);
        let w = pseudoinverse(&x, false).unwrap();
        for r in 0..p {
            let xi = signs(x.row(r), n);
            for i in 0..n {
                let wx: f64 = (0..n).map(|j| w[i * n + j] * xi[j]).sum();
                assert!((wx - xi[i]).abs() < 1e-9, "W ξ != ξ at {r}, {i}: {wx}");
            }
        }
        // Symmetric and idempotent-ish: trace = rank = P.
        let trace: f64 = (0..n).map(|i| w[i * n + i]).sum();
        assert!((trace - p as f64).abs() < 1e-9);
        let z = pseudoinverse(&x, true).unwrap();
        assert!((0..n).all(|i| z[i * n + i] == 0.0));
    }

    #[test]
    fn dependent_patterns_are_refused_without_changing_the_memory() {
        let n = 20;
        let x = random_patterns(3, n, 2);
        let mut l = Learner::new(
            n,
            Rule::PseudoInverse {
                zero_diagonal: true,
            },
        )
        .unwrap();
        l.store(&x).unwrap();
        let again = SpinMatrix::from_spins(&x.to_spins().unwrap()[n..2 * n], 1, n).unwrap();
        let err = l.store(&again).unwrap_err();
        assert!(
            matches!(&err, Error::Value(m) if m.contains("pattern 3")),
            "{err:?}"
        );
        assert_eq!(l.patterns().rows(), 3);
        // A negated pattern is dependent too.
        let neg: Vec<i8> = x.to_spins().unwrap()[..n].iter().map(|v| -v).collect();
        assert!(l
            .store(&SpinMatrix::from_spins(&neg, 1, n).unwrap())
            .is_err());
        assert!(l.weights().unwrap().iter().all(|w| w.is_finite()));
    }

    #[test]
    fn storkey_is_symmetric_with_zero_diagonal_and_one_pattern_is_hebbian() {
        let n = 30;
        let x = random_patterns(5, n, 3);
        let mut l = Learner::new(n, Rule::Storkey).unwrap();
        l.store(&SpinMatrix::from_spins(&x.to_spins().unwrap()[..n], 1, n).unwrap())
            .unwrap();
        let w = l.weights().unwrap();
        let xi = signs(x.row(0), n);
        for i in 0..n {
            for j in 0..n {
                let want = if i == j {
                    0.0
                } else {
                    xi[i] * xi[j] / n as f64
                };
                assert_eq!(w[i * n + j], want);
            }
        }
        l.store(&x).unwrap();
        let w = l.weights().unwrap();
        for i in 0..n {
            assert_eq!(w[i * n + i], 0.0);
            for j in 0..n {
                assert_eq!(w[i * n + j], w[j * n + i]);
            }
        }
        let model = l.model(vec![0.0; n]).unwrap();
        assert!(model.is_symmetric() && model.has_zero_diagonal());
        assert_eq!(model.n(), n);
    }

    #[test]
    fn covariance_at_half_activity_is_hebbian() {
        let n = 40;
        let x = random_patterns(6, n, 4);
        let mut l = Learner::new(n, Rule::Covariance { activity: 0.5 }).unwrap();
        l.store(&x).unwrap();
        let w = l.weights().unwrap();
        let s = x.to_spins().unwrap();
        for i in 0..n {
            for j in 0..n {
                let c: i64 = if i == j {
                    0
                } else {
                    (0..6).map(|m| (s[m * n + i] * s[m * n + j]) as i64).sum()
                };
                assert!((w[i * n + j] - c as f64 / n as f64).abs() < 1e-15);
            }
        }
        assert!(Learner::new(n, Rule::Covariance { activity: 1.0 }).is_err());
        assert!(Learner::new(n, Rule::Covariance { activity: f64::NAN }).is_err());
    }

    #[test]
    fn sequence_weights_map_each_item_to_the_next() {
        let n = 200;
        let x = random_patterns(5, n, 9);
        let w = sequence_weights(n, std::slice::from_ref(&x), true).unwrap();
        let s = x.to_spins().unwrap();
        for mu in 0..5 {
            let next = (mu + 1) % 5;
            for i in 0..n {
                let h: f64 = (0..n)
                    .map(|j| w[i * n + j] as f64 * s[mu * n + j] as f64)
                    .sum();
                assert_eq!(h.signum() as i8, s[next * n + i], "item {mu}, neuron {i}");
            }
        }
        let other = random_patterns(2, n + 1, 1);
        assert!(sequence_weights(n, &[other], false).is_err());
    }

    /// A learner with nothing stored hands out zero weights without
    /// writing them: the same model as writing a rank-0 matrix.
    #[test]
    fn an_empty_learner_has_the_written_zero_model() {
        for n in [1, 9, 130] {
            for rule in [
                Rule::Storkey,
                Rule::PseudoInverse {
                    zero_diagonal: false,
                },
                Rule::Covariance { activity: 0.3 },
            ] {
                let got = Learner::new(n, rule).unwrap().model(vec![0.5; n]).unwrap();
                let none = Gram(Factors::new(&[], 0, n).unwrap());
                let built = build::write(&none, n, true, true, &AtomicBool::new(false)).unwrap();
                let want =
                    Weights::from_grid(n, built.weights, vec![0.5; n], built.grid, false).unwrap();
                assert_eq!(got.weights().unwrap(), want.weights().unwrap());
                assert!(got.weights().unwrap().iter().all(|&w| w == 0.0));
                assert_eq!(got.grid_exponent(), want.grid_exponent());
                assert_eq!(got.is_small(), want.is_small());
                assert_eq!(got.has_zero_diagonal(), want.has_zero_diagonal());
                assert_eq!(got.nbytes(), want.nbytes());
                // Every field, the diagonal and flags included.
                assert_eq!(format!("{got:?}"), format!("{want:?}"));
            }
        }
    }

    #[test]
    fn impossible_sizes_are_memory_errors() {
        assert!(matches!(
            Learner::new(1 << 31, Rule::Storkey),
            Err(Error::Memory(_))
        ));
        let m = Learner::new(10, Rule::Storkey)
            .unwrap()
            .model(vec![0.0; 10]);
        let m = m.unwrap();
        assert_eq!(m.energy(&m.cache(&[0]), &[0]), 0.0);
    }

    #[test]
    fn learnt_weights_that_are_integers_times_a_factor_take_the_integer_form() {
        let (n, p) = (80, 10);
        let x = random_patterns(p, n, 6);
        let mut l = Learner::new(n, Rule::Covariance { activity: 0.3 }).unwrap();
        l.store(&x).unwrap();
        let model = l.model(vec![0.0; n]).unwrap();
        let again = Weights::new(n, model.weights().unwrap(), vec![0.0; n]).unwrap();
        assert_eq!(model.is_small(), again.is_small());
        assert!(model.is_small());
        let mut l = Learner::new(n, Rule::Storkey).unwrap();
        l.store(&x).unwrap();
        assert!(!l.model(vec![0.0; n]).unwrap().is_small());
    }
}
