//! Learning rules that produce weight matrices (everything but Hebbian,
//! which stays pattern-factored in [`model::hebbian`](crate::model::hebbian)).
//!
//! Patterns `ξ^μ ∈ {−1, +1}^N` are the rows of `X` (`P × N`). All weights are
//! computed in `f64`, symmetric by construction (only `i ≤ j` is computed,
//! then mirrored), then handed to [`Weights`] as `f32`.
//!
//! * **Storkey** (Storkey 1997), incremental, zero diagonal. For each new
//!   pattern ξ, with `H = Wξ` (so that `h_ij = Σ_{k≠i,j} W_ik ξ_k = H_i − W_ij ξ_j`):
//!   `W_ij += (ξ_i ξ_j − ξ_i h_ji − h_ij ξ_j) / N
//!          = (ξ_i ξ_j − ξ_i H_j − H_i ξ_j + 2 W_ij) / N` for `i ≠ j`.
//! * **Pseudo-inverse** (projection rule): `W = Xᵀ (X Xᵀ)⁻¹ X`, the
//!   orthogonal projector onto the span of the patterns, so every stored
//!   pattern satisfies `Wξ = ξ` exactly (with the diagonal). The Gram matrix
//!   `X Xᵀ` (exact integers) is factored by Cholesky in `f64`; linearly
//!   dependent patterns are refused with an error naming the first pattern
//!   that depends on the earlier ones. The diagonal is zeroed by default.
//!   `store` recomputes from all patterns.
//! * **Covariance** (Tsodyks & Feigel'man 1988) for biased patterns whose
//!   fraction of +1 entries is the activity `a`; with the mean spin `m = 2a − 1`:
//!   `W_ij = Σ_μ (ξ_i^μ − m)(ξ_j^μ − m) / (N (1 − m²))`, `W_ii = 0`.
//!   A stored pattern then sees the signal `ξ_i − m` (`2(1−a)` on active,
//!   `−2a` on inactive units): the threshold `θ = −m = 1 − 2a` sits halfway
//!   and makes sparse patterns stable. With `a = ½` this is Hebbian.

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use crate::error::{interrupted, try_filled, Error, Result};
use crate::model::Weights;
use crate::spins::{self, SpinMatrix};

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

/// The state of a rule: the stored patterns and, for the incremental rules,
/// the `f64` weights so far (row-major `N × N`).
#[derive(Debug, Clone)]
pub struct Learner {
    n: usize,
    rule: Rule,
    patterns: SpinMatrix,
    master: Vec<f64>,
    /// Diluted connectivity (compressed rows of the kept pairs), if any.
    mask: Option<(Vec<usize>, Vec<u32>)>,
}

/// `n·n` checked, as a `Memory` error naming `what`.
fn square(n: usize, what: &str) -> Result<usize> {
    n.checked_mul(n)
        .filter(|&c| c <= isize::MAX as usize / 8)
        .ok_or_else(|| Error::Memory(format!("{what} of {n} × {n} cannot be allocated")))
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
        let count = square(n, "a weight matrix")?;
        let master = match rule {
            Rule::PseudoInverse { .. } => Vec::new(),
            _ => try_filled(&format!("a {n} × {n} float64 weight matrix"), count, 0.0)?,
        };
        Ok(Learner {
            n,
            rule,
            patterns: SpinMatrix::new(n)?,
            master,
            mask: None,
        })
    }

    /// Checks, without keeping anything, that the matrices a learner of `n`
    /// neurons by `rule` builds can be allocated (`f64` and `f32` `N × N`):
    /// the address space is reserved and released, no page is touched.
    ///
    /// # Errors
    /// `Memory` naming the size when they cannot.
    pub fn check_size(n: usize, rule: Rule) -> Result<()> {
        let count = square(n, "a weight matrix")?;
        let bytes = count.checked_mul(12).ok_or_else(|| {
            Error::Memory(format!("{n} × {n} weight matrices cannot be allocated"))
        })?;
        if let Some(total) = physical_memory() {
            if bytes as u128 > total {
                return Err(Error::Memory(format!(
                    "rule {rule:?} with n = {n} needs {n} × {n} weight matrices ({bytes} bytes: \
                     float64 while learning, float32 to retrieve), more than this machine's \
                     {total} bytes of memory and swap"
                )));
            }
        }
        let mut probe: Vec<u8> = Vec::new();
        probe.try_reserve_exact(bytes).map_err(|_| {
            Error::Memory(format!(
                "rule {rule:?} with n = {n} needs {n} × {n} weight matrices ({bytes} bytes: float64 \
                 while learning, float32 to retrieve), more than can be allocated"
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

    /// Bytes held (patterns and the `f64` weights of incremental rules).
    pub fn nbytes(&self) -> usize {
        self.patterns.nbytes() + self.master.len() * 8
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
        match self.rule {
            Rule::PseudoInverse { .. } => n * n * p + p * p * (n / 32.0 + p),
            _ => n * n * (rows as f64 + 1.0),
        }
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
        if patterns.n() != self.n {
            return Err(Error::Shape(format!(
                "patterns must have n = {} columns, got {}",
                self.n,
                patterns.n()
            )));
        }
        match self.rule {
            Rule::Storkey => {
                for r in 0..patterns.rows() {
                    interrupted(cancel)?;
                    storkey_step(self.n, &mut self.master, patterns.row(r));
                }
            }
            Rule::Covariance { activity } => {
                let m = 2.0 * activity - 1.0;
                let per_pattern = self.n * self.n / 2 + 1;
                in_chunks(patterns.rows(), per_pattern, cancel, |rows| {
                    covariance_add(self.n, &mut self.master, patterns, rows, m);
                })?;
                mirror_upper(&mut self.master, self.n);
            }
            Rule::PseudoInverse { .. } => {
                let mut all = self.patterns.clone();
                all.append(patterns)?;
                // Checks independence before anything is kept.
                gram_cholesky(&all, cancel)?;
            }
        }
        self.patterns.append(patterns)
    }

    /// The weights as `f64`, row-major `N × N`.
    ///
    /// # Errors
    /// `Memory` when they cannot be allocated; `Value` (pseudo-inverse) when
    /// the stored patterns are dependent (never after a successful store).
    pub fn weights(&self) -> Result<Vec<f64>> {
        self.weights_until(&AtomicBool::new(false))
    }

    /// As [`weights`](Learner::weights), looking at `cancel` between chunks.
    ///
    /// # Errors
    /// As [`weights`](Learner::weights); `Interrupted` once `cancel` is raised.
    pub fn weights_until(&self, cancel: &AtomicBool) -> Result<Vec<f64>> {
        match self.rule {
            Rule::PseudoInverse { zero_diagonal } => {
                pseudoinverse_until(&self.patterns, zero_diagonal, cancel)
            }
            Rule::Covariance { activity } => {
                let m = 2.0 * activity - 1.0;
                let scale = 1.0 / (self.n as f64 * (1.0 - m * m));
                let mut w = try_filled(
                    &format!("a {0} × {0} weight matrix", self.n),
                    self.master.len(),
                    0.0,
                )?;
                for (x, &a) in w.iter_mut().zip(&self.master) {
                    *x = a * scale;
                }
                Ok(w)
            }
            Rule::Storkey => {
                let mut w = try_filled(
                    &format!("a {0} × {0} weight matrix", self.n),
                    self.master.len(),
                    0.0,
                )?;
                w.copy_from_slice(&self.master);
                Ok(w)
            }
        }
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

    /// As [`model`](Learner::model), looking at `cancel` between chunks.
    ///
    /// # Errors
    /// As [`model`](Learner::model); `Interrupted` once `cancel` is raised.
    pub fn model_until(&self, threshold: Vec<f64>, cancel: &AtomicBool) -> Result<Weights> {
        let w = self.weights_until(cancel)?;
        interrupted(cancel)?;
        let mut w32 = try_filled(
            &format!("a {0} × {0} float32 weight matrix", self.n),
            w.len(),
            0.0f32,
        )?;
        match &self.mask {
            None => {
                for (a, &b) in w32.iter_mut().zip(&w) {
                    *a = b as f32;
                }
            }
            Some((start, cols)) => {
                let n = self.n;
                for i in 0..n {
                    for &j in &cols[start[i]..start[i + 1]] {
                        let k = i * n + j as usize;
                        w32[k] = w[k] as f32;
                    }
                }
            }
        }
        drop(w);
        Weights::new(self.n, w32, threshold)
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

/// Copies the upper triangle of a row-major `n × n` matrix onto the lower.
fn mirror_upper(w: &mut [f64], n: usize) {
    for i in 0..n {
        for j in 0..i {
            w[i * n + j] = w[j * n + i];
        }
    }
}

/// One Storkey update of `w` (symmetric, zero diagonal) by the pattern `row`.
fn storkey_step(n: usize, w: &mut [f64], row: &[u64]) {
    let xi = signs(row, n);
    let h: Vec<f64> = w
        .par_chunks_exact(n)
        .map(|wi| wi.iter().zip(&xi).map(|(a, b)| a * b).sum())
        .collect();
    let inv_n = 1.0 / n as f64;
    w.par_chunks_exact_mut(n).enumerate().for_each(|(i, wi)| {
        for j in i + 1..n {
            let d = xi[i] * xi[j] - xi[i] * h[j] - h[i] * xi[j] + 2.0 * wi[j];
            wi[j] += d * inv_n;
        }
    });
    mirror_upper(w, n);
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

/// Adds `Σ_μ (ξ_i − m)(ξ_j − m)` over the patterns `rows` of `patterns`
/// to the upper triangle of `acc` (the caller mirrors it).
fn covariance_add(n: usize, acc: &mut [f64], patterns: &SpinMatrix, rows: Range<usize>, m: f64) {
    let centred: Vec<Vec<f64>> = rows
        .map(|r| {
            signs(patterns.row(r), n)
                .into_iter()
                .map(|x| x - m)
                .collect()
        })
        .collect();
    acc.par_chunks_exact_mut(n).enumerate().for_each(|(i, ai)| {
        for c in &centred {
            let ci = c[i];
            for j in i + 1..n {
                ai[j] += ci * c[j];
            }
        }
    });
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

/// `W = Xᵀ (X Xᵀ)⁻¹ X` (row-major `N × N`), diagonal zeroed if asked.
///
/// # Errors
/// As `gram_cholesky`; `Memory` when `N × N` cannot be allocated.
pub fn pseudoinverse(x: &SpinMatrix, zero_diagonal: bool) -> Result<Vec<f64>> {
    pseudoinverse_until(x, zero_diagonal, &AtomicBool::new(false))
}

/// As [`pseudoinverse`], looking at `cancel` between chunks of work.
///
/// # Errors
/// As [`pseudoinverse`]; `Interrupted` once `cancel` is raised.
pub fn pseudoinverse_until(
    x: &SpinMatrix,
    zero_diagonal: bool,
    cancel: &AtomicBool,
) -> Result<Vec<f64>> {
    let (p, n) = (x.rows(), x.n());
    let count = square(n, "a weight matrix")?;
    let mut w = try_filled(&format!("a {n} × {n} weight matrix"), count, 0.0f64)?;
    if p == 0 {
        return Ok(w);
    }
    let l = gram_cholesky(x, cancel)?;
    // Columns of X (n × p): xt[j][μ] = ξ^μ_j.
    let xs: Vec<Vec<f64>> = (0..p).map(|r| signs(x.row(r), n)).collect();
    let xt: Vec<f64> = (0..n)
        .flat_map(|j| xs.iter().map(move |row| row[j]))
        .collect();
    // C = G⁻¹ X, column by column: C_j = L⁻ᵀ L⁻¹ x_j, stored as ct[j][μ].
    let mut ct = xt.clone();
    in_chunks(n, p * p + 1, cancel, |cols| {
        ct[cols.start * p..cols.end * p]
            .par_chunks_exact_mut(p)
            .for_each(|c| solve_gram(&l, p, c));
    })?;
    // W_ij = Σ_μ ξ^μ_i C_μj for i ≤ j, then mirrored.
    in_chunks(n, n * p / 2 + 1, cancel, |rows| {
        let first = rows.start;
        w[rows.start * n..rows.end * n]
            .par_chunks_exact_mut(n)
            .enumerate()
            .for_each(|(k, wi)| {
                let i = first + k;
                let xi = &xt[i * p..(i + 1) * p];
                for j in i..n {
                    let cj = &ct[j * p..(j + 1) * p];
                    wi[j] = xi.iter().zip(cj).map(|(a, b)| a * b).sum();
                }
            });
    })?;
    mirror_upper(&mut w, n);
    if zero_diagonal {
        for i in 0..n {
            w[i * n + i] = 0.0;
        }
    }
    Ok(w)
}

/// Solves `L Lᵀ c = c` in place (`l` the `p × p` Cholesky factor).
fn solve_gram(l: &[f64], p: usize, c: &mut [f64]) {
    for a in 0..p {
        let mut s = c[a];
        for k in 0..a {
            s -= l[a * p + k] * c[k];
        }
        c[a] = s / l[a * p + a];
    }
    for a in (0..p).rev() {
        let mut s = c[a];
        for k in a + 1..p {
            s -= l[k * p + a] * c[k];
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
    fn chunks_cover_the_range_in_order_and_split_covariance_exactly() {
        let mut seen = Vec::new();
        in_chunks(10, CHUNK_WORK / 3, &AtomicBool::new(false), |r| {
            seen.push(r)
        })
        .unwrap();
        assert_eq!(seen, vec![0..3, 3..6, 6..9, 9..10]);
        let n = 50;
        let x = random_patterns(7, n, 2);
        let m = 2.0 * 0.3 - 1.0;
        let (mut split, mut one) = (vec![0.0; n * n], vec![0.0; n * n]);
        covariance_add(n, &mut split, &x, 0..3, m);
        covariance_add(n, &mut split, &x, 3..7, m);
        covariance_add(n, &mut one, &x, 0..7, m);
        assert!(split == one);
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
}
