//! The continuous modern Hopfield network (Ramsauer et al. 2020).
//!
//! Keys `K` (`P × d`) and values `V` (`P × d_v`, the keys themselves for
//! auto-association) are float32 rows. One update of a query `q` is
//! `Vᵀ softmax(β K q)`; with `V = K` that is `ξ ← Xᵀ softmax(β X ξ)`, the
//! descent on `E(ξ) = −β⁻¹ lse(β, Xξ) + ½ ξ·ξ + β⁻¹ log P + ½ M²`.
//!
//! # The kernel
//!
//! Queries are taken in blocks of [`QUERY_BLOCK`] rows (rayon splits the
//! blocks); the stored patterns in chunks of [`CHUNK`] rows, each streamed in
//! tiles of [`TILE`] rows with an *online softmax*: a running maximum `m`
//! and sum `l` per query, the float64 value accumulator rescaled whenever `m`
//! grows. So the `(B, P)` score matrix never exists, only a
//! `QUERY_BLOCK × TILE` tile. Chunks are folded in order, so a query's result
//! depends on the query and the memory only: not on the number of threads,
//! nor on which other queries share its batch.
//!
//! * Scores: every inner product is summed in 16 float32 lanes (fused
//!   multiply-add, the lanes strided over the features), then the lanes are
//!   added in a fixed tree. The AVX-512 micro-kernels (4 keys × 6 queries,
//!   8 keys × 1 query) and the portable loop perform exactly these operations,
//!   so every instruction-set level gives the same bits.
//! * ±1 keys and queries (when every stored key is ±1) take a popcount path:
//!   `k·q = d − 2·popcount(k xor q)` on bit-packed rows, exact, and equal to
//!   the float score, so the result does not depend on which path ran.
//! * Weights: `w = exp(β s − m)` with the exponent formed in float64. A
//!   weight below `exp(−T)`, `T = 20 + ln P`, is set to zero (it changes the
//!   result by less than `e^−20` relative), measured against the largest
//!   maximum known so far: chunks run in stages of 1, 2, 4, then 8 chunks
//!   side by side, each stage against the maximum of the earlier ones (a
//!   schedule fixed by `P`, so still thread-independent); a block of 16 scores that are
//!   all that small is skipped without computing `exp`, and a stored pattern
//!   whose weights are zero for a group of queries is left out of their value
//!   accumulation. At a retrieval β almost every weight is such, so the
//!   second product mostly vanishes.
//! * Values: `Σ_p w_p v_p` in float32 within a tile (fused multiply-add,
//!   in pattern order), added into float64 accumulators between tiles; the
//!   final division by `l` is float64.

use rayon::prelude::*;

use crate::error::{try_filled, Error, Result};
use crate::spins::SpinMatrix;

/// Queries per block (the unit rayon schedules).
pub const QUERY_BLOCK: usize = 192;
/// Stored patterns per tile (the unit of the online softmax).
pub const TILE: usize = 192;
/// Stored patterns per chunk (partial softmaxes folded in order).
pub const CHUNK: usize = 16 * TILE;
/// Most chunks computed side by side in one stage of a block.
const STAGE: usize = 8;
/// Largest magnitude a stored or queried value may have.
pub const MAX_ABS: f64 = 1e30;
/// Largest `β·‖k‖·‖q‖` a score may reach (float32 stays finite).
const MAX_SCORE: f64 = 1e36;
/// Float32 lanes of one inner product.
const LANES: usize = 16;

/// A modern Hopfield memory: float32 keys, optional separate values.
#[derive(Debug, Clone, Default)]
pub struct ModernHopfield {
    d: usize,
    dv: usize,
    rows: usize,
    keys: Vec<f32>,
    values: Option<Vec<f32>>,
    /// Bit-packed keys while every stored key is ±1.
    spins: Option<SpinMatrix>,
    max_norm_sq: f64,
}

/// How many updates [`ModernHopfield::retrieve`] runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Steps {
    /// Exactly this many updates.
    Fixed(u32),
    /// Until a query's update moves it by at most `tol` (max-abs), each
    /// query on its own, at most `max_steps` updates.
    Until { tol: f64, max_steps: u32 },
}

/// Result of [`ModernHopfield::retrieve`]: row-major states and per-query
/// bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieved {
    /// `(B, d_v)` final states.
    pub states: Vec<f32>,
    /// Updates applied to each query.
    pub steps: Vec<u32>,
    /// Whether the last update moved the query by at most the tolerance
    /// (`tol`, or `1e-6·(1 + max|ξ|)` for a fixed number of steps).
    pub converged: Vec<bool>,
}

/// Per-query softmax state of one block: running max `m` (of `β s`), sum
/// `l` of `exp(β s − m)` and, when values are wanted, `Σ exp(β s − m) v`.
struct Partial {
    m: Vec<f64>,
    l: Vec<f64>,
    o: Vec<f64>,
}

impl Partial {
    fn new(nb: usize, width: usize) -> Result<Partial> {
        Ok(Partial {
            m: vec![f64::NEG_INFINITY; nb],
            l: vec![0.0; nb],
            o: try_filled("the value accumulators", nb * width, 0.0)?,
        })
    }

    /// Folds `other` (the softmax of later patterns) into `self`.
    fn merge(&mut self, other: &Partial, width: usize) {
        for b in 0..self.m.len() {
            let m = self.m[b].max(other.m[b]);
            let a = scale(self.m[b], m);
            let c = scale(other.m[b], m);
            self.m[b] = m;
            self.l[b] = a * self.l[b] + c * other.l[b];
            if width > 0 {
                let (o, p) = (
                    &mut self.o[b * width..(b + 1) * width],
                    &other.o[b * width..(b + 1) * width],
                );
                for (x, y) in o.iter_mut().zip(p) {
                    *x = a * *x + c * *y;
                }
            }
        }
    }
}

/// `exp(from − to)` for `from ≤ to`, 0 for an empty state (`from = −∞`).
#[inline]
fn scale(from: f64, to: f64) -> f64 {
    if from == f64::NEG_INFINITY {
        0.0
    } else {
        (from - to).exp()
    }
}

/// What a pass over the patterns computes.
#[derive(Clone, Copy)]
struct Pass<'a> {
    queries: &'a [f32],
    nb: usize,
    beta: f64,
    skip: f64,
    values: bool,
}

impl ModernHopfield {
    /// An empty memory; the first [`store`](Self::store) fixes the widths.
    pub fn new() -> Self {
        Self::default()
    }

    /// Key width `d` (0 before the first store).
    pub fn d(&self) -> usize {
        self.d
    }

    /// Value width (`d` for auto-association).
    pub fn dv(&self) -> usize {
        self.dv
    }

    /// Number of stored patterns `P`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row-major `(P, d)` keys.
    pub fn keys(&self) -> &[f32] {
        &self.keys
    }

    /// Row-major `(P, d_v)` values, `None` for auto-association.
    pub fn values(&self) -> Option<&[f32]> {
        self.values.as_deref()
    }

    /// Whether every stored key is ±1 (scores then take the popcount path).
    pub fn is_binary(&self) -> bool {
        self.spins.is_some()
    }

    /// `M² = max_μ ‖k_μ‖²`.
    pub fn max_norm_sq(&self) -> f64 {
        self.max_norm_sq
    }

    /// Bytes held.
    pub fn nbytes(&self) -> usize {
        4 * (self.keys.len() + self.values.as_ref().map_or(0, Vec::len))
            + self.spins.as_ref().map_or(0, SpinMatrix::nbytes)
    }

    fn value_rows(&self) -> &[f32] {
        self.values.as_deref().unwrap_or(&self.keys)
    }

    /// Appends `rows` keys of width `d` and, for hetero-association, their
    /// values (`(rows, d_v)` row-major). The first call fixes `d`, `d_v` and
    /// whether values are kept.
    ///
    /// # Errors
    /// `Shape` on a width or length mismatch, on values given to an
    /// auto-associative memory or missing from a hetero-associative one;
    /// `Value` on a non-finite or too large entry; `Memory` when the
    /// storage cannot grow.
    pub fn store(
        &mut self,
        keys: &[f32],
        rows: usize,
        d: usize,
        values: Option<(&[f32], usize)>,
    ) -> Result<()> {
        if d == 0 {
            return Err(Error::Shape(
                "patterns must have at least one column".into(),
            ));
        }
        if rows == 0 {
            return Err(Error::Shape(
                "patterns is empty: expected at least one row".into(),
            ));
        }
        if keys.len() != rows.saturating_mul(d) {
            return Err(Error::Shape(format!(
                "patterns: expected {rows} × {d} values, got {}",
                keys.len()
            )));
        }
        if self.rows > 0 {
            if d != self.d {
                return Err(Error::Shape(format!(
                    "patterns must have d = {} columns like the stored ones, got {d}",
                    self.d
                )));
            }
            match (&self.values, values) {
                (None, Some(_)) => {
                    return Err(Error::Shape(
                        "values given, but the stored patterns have none (auto-association)".into(),
                    ))
                }
                (Some(_), None) => {
                    return Err(Error::Shape(
                        "values missing: the stored patterns have values (hetero-association)"
                            .into(),
                    ))
                }
                _ => {}
            }
        }
        check_finite(keys, d, "patterns")?;
        if let Some((v, dv)) = values {
            if dv == 0 {
                return Err(Error::Shape("values must have at least one column".into()));
            }
            if self.rows > 0 && dv != self.dv {
                return Err(Error::Shape(format!(
                    "values must have d_v = {} columns like the stored ones, got {dv}",
                    self.dv
                )));
            }
            if v.len() != rows.saturating_mul(dv) {
                return Err(Error::Shape(format!(
                    "values must have one row per pattern: expected {rows} rows of {dv}, got {} values",
                    v.len()
                )));
            }
            check_finite(v, dv, "values")?;
        }
        let binary = keys.iter().all(|&x| x == 1.0 || x == -1.0);
        let new_spins = if binary && (self.rows == 0 || self.spins.is_some()) {
            let s: Vec<i8> = keys.iter().map(|&x| x as i8).collect();
            Some(SpinMatrix::from_spins(&s, rows, d)?)
        } else {
            None
        };
        // Reserve everything first so that a failure leaves the memory as it was.
        reserve(&mut self.keys, keys.len(), "the stored patterns")?;
        if let Some((v, _)) = values {
            let mut stored = self.values.take().unwrap_or_default();
            let ok = reserve(&mut stored, v.len(), "the stored values");
            self.values = Some(stored);
            ok?;
        }
        self.keys.extend_from_slice(keys);
        if let (Some(vals), Some((v, _))) = (self.values.as_mut(), values) {
            vals.extend_from_slice(v);
        }
        for row in keys.chunks_exact(d) {
            self.max_norm_sq = self.max_norm_sq.max(norm_sq(row));
        }
        self.spins = match (self.spins.take(), new_spins) {
            (Some(mut old), Some(new)) => {
                old.append(&new)?;
                Some(old)
            }
            (None, Some(new)) if self.rows == 0 => Some(new),
            _ => None,
        };
        self.d = d;
        self.dv = values.map_or(d, |(_, dv)| dv);
        self.rows += rows;
        Ok(())
    }

    fn check_queries(&self, queries: &[f32], d: usize, beta: f64, what: &str) -> Result<usize> {
        if self.rows == 0 {
            return Err(Error::Value(
                "no patterns stored: call store(patterns) first".into(),
            ));
        }
        if !(beta.is_finite() && beta > 0.0) {
            return Err(Error::Value(format!(
                "beta must be a finite number > 0, got {beta}"
            )));
        }
        if d != self.d {
            return Err(Error::Shape(format!(
                "{what} must have d = {} columns, got {d}",
                self.d
            )));
        }
        if !queries.len().is_multiple_of(d) {
            return Err(Error::Shape(format!(
                "{what}: length {} is not a multiple of d = {d}",
                queries.len()
            )));
        }
        check_finite(queries, d, what)?;
        let qmax = queries.chunks_exact(d).map(norm_sq).fold(0.0, f64::max);
        let bound = beta * (qmax * self.max_norm_sq).sqrt();
        if bound > MAX_SCORE {
            return Err(Error::Value(format!(
                "beta·‖pattern‖·‖{what}‖ reaches {bound:.3e}, beyond float32 scores; \
                 scale the inputs or lower beta"
            )));
        }
        Ok(queries.len() / d)
    }

    /// The softmax state of every query block (`values`: accumulate values).
    fn pass(&self, queries: &[f32], beta: f64, values: bool) -> Result<Vec<Partial>> {
        let skip = 20.0 + (self.rows as f64).ln();
        queries
            .par_chunks(QUERY_BLOCK * self.d)
            .map(|q| {
                let pass = Pass {
                    queries: q,
                    nb: q.len() / self.d,
                    beta,
                    skip,
                    values,
                };
                self.block(&pass)
            })
            .collect()
    }

    fn block(&self, pass: &Pass<'_>) -> Result<Partial> {
        let chunks = self.rows.div_ceil(CHUNK);
        let width = if pass.values { self.dv } else { 0 };
        let qspins = self.block_spins(pass)?;
        let run = |c: usize, floor: &[f64]| -> Result<Partial> {
            let mut part = Partial::new(pass.nb, width)?;
            let range = c * CHUNK..((c + 1) * CHUNK).min(self.rows);
            chunk(self, pass, qspins.as_ref(), range, floor, &mut part);
            Ok(part)
        };
        // Stages of 1, 2, 4, then STAGE chunks: the chunks of a stage run side
        // by side and skip weights against the maximum of all earlier stages.
        // The schedule depends on P only, so results do not depend on threads.
        let mut state: Option<Partial> = None;
        let mut first = 0;
        let mut size = 1;
        while first < chunks {
            let end = (first + size).min(chunks);
            let floor = state
                .as_ref()
                .map_or_else(|| vec![f64::NEG_INFINITY; pass.nb], |s| s.m.clone());
            let parts: Vec<Result<Partial>> = if end - first == 1 {
                vec![run(first, &floor)]
            } else {
                (first..end)
                    .into_par_iter()
                    .map(|c| run(c, &floor))
                    .collect()
            };
            for part in parts {
                let part = part?;
                match state.as_mut() {
                    None => state = Some(part),
                    Some(s) => s.merge(&part, width),
                }
            }
            first = end;
            size = (size * 2).min(STAGE);
        }
        state.ok_or_else(|| Error::Value("no patterns stored".into()))
    }

    /// Bit-packed queries of a block when they and every key are ±1.
    fn block_spins(&self, pass: &Pass<'_>) -> Result<Option<SpinMatrix>> {
        if self.spins.is_none() || !pass.queries.iter().all(|&x| x == 1.0 || x == -1.0) {
            return Ok(None);
        }
        let s: Vec<i8> = pass.queries.iter().map(|&x| x as i8).collect();
        SpinMatrix::from_spins(&s, pass.nb, self.d).map(Some)
    }

    /// One update of every row of `queries` (`(B, d)` row-major):
    /// `Vᵀ softmax(β K q)`, `(B, d_v)`.
    ///
    /// # Errors
    /// `Value`/`Shape` on bad input (see [`store`](Self::store)), `Value`
    /// when nothing is stored or `beta` is not finite and positive, `Memory`
    /// when the output cannot be allocated.
    pub fn step(&self, queries: &[f32], d: usize, beta: f64) -> Result<Vec<f32>> {
        let nq = self.check_queries(queries, d, beta, "queries")?;
        let mut out = try_filled("the retrieved states", nq * self.dv, 0.0f32)?;
        self.step_into(queries, beta, &mut out)?;
        Ok(out)
    }

    fn step_into(&self, queries: &[f32], beta: f64, out: &mut [f32]) -> Result<()> {
        let parts = self.pass(queries, beta, true)?;
        let dv = self.dv;
        for (part, out) in parts.iter().zip(out.chunks_mut(QUERY_BLOCK * dv)) {
            for (b, row) in out.chunks_exact_mut(dv).enumerate() {
                let l = part.l[b];
                for (x, &o) in row.iter_mut().zip(&part.o[b * dv..(b + 1) * dv]) {
                    *x = (o / l) as f32;
                }
            }
        }
        Ok(())
    }

    /// Runs the dynamics from `queries` (`(B, d)` row-major). Each query
    /// iterates on its own, so its result does not depend on the batch.
    ///
    /// # Errors
    /// As [`step`](Self::step); `Value` when more than one update is asked
    /// of a hetero-associative memory, or `max_steps` is 0, or `tol` is
    /// negative or NaN.
    pub fn retrieve(
        &self,
        queries: &[f32],
        d: usize,
        beta: f64,
        steps: Steps,
    ) -> Result<Retrieved> {
        let nq = self.check_queries(queries, d, beta, "queries")?;
        let (limit, tol) = match steps {
            Steps::Fixed(n) => (n, None),
            Steps::Until { tol, max_steps } => {
                if tol.is_nan() || tol < 0.0 {
                    return Err(Error::Value(format!("tol must be >= 0, got {tol}")));
                }
                (max_steps, Some(tol))
            }
        };
        if limit == 0 {
            return Err(Error::Value(
                "the number of steps must be at least 1".into(),
            ));
        }
        if (limit > 1 || tol.is_some()) && self.values.is_some() {
            return Err(Error::Value(
                "iterating needs auto-association (keys = values): \
                 store patterns without values, or use steps=1"
                    .into(),
            ));
        }
        let dv = self.dv;
        let mut states = try_filled("the retrieved states", nq * dv, 0.0f32)?;
        let mut steps_done = vec![0u32; nq];
        let mut converged = vec![false; nq];
        let mut current: Vec<f32> = queries.to_vec();
        let mut active: Vec<usize> = (0..nq).collect();
        let mut next = try_filled("the retrieved states", nq * dv, 0.0f32)?;
        for t in 1..=limit {
            let n_active = active.len();
            self.step_into(&current[..n_active * d], beta, &mut next[..n_active * dv])?;
            let mut still = Vec::new();
            let mut gathered: Vec<f32> = Vec::new();
            for (i, &q) in active.iter().enumerate() {
                let new = &next[i * dv..(i + 1) * dv];
                let change = if dv == d {
                    new.iter()
                        .zip(&current[i * d..(i + 1) * d])
                        .map(|(a, b)| (a - b).abs() as f64)
                        .fold(0.0, f64::max)
                } else {
                    f64::INFINITY
                };
                let top = new.iter().map(|x| x.abs() as f64).fold(0.0, f64::max);
                let ok = change <= tol.unwrap_or(1e-6 * (1.0 + top));
                states[q * dv..(q + 1) * dv].copy_from_slice(new);
                steps_done[q] = t;
                converged[q] = ok;
                let stop = match tol {
                    Some(_) => ok,
                    None => false,
                };
                if !stop && t < limit {
                    still.push(q);
                    gathered.extend_from_slice(new);
                }
            }
            if still.is_empty() {
                break;
            }
            active = still;
            current = gathered;
        }
        Ok(Retrieved {
            states,
            steps: steps_done,
            converged,
        })
    }

    /// `E(ξ) = −β⁻¹ lse(β, Kξ) + ½ ξ·ξ + β⁻¹ log P + ½ M²` of every row of
    /// `states` (`(B, d)` row-major).
    ///
    /// # Errors
    /// As [`step`](Self::step).
    pub fn energy(&self, states: &[f32], d: usize, beta: f64) -> Result<Vec<f64>> {
        self.check_queries(states, d, beta, "states")?;
        let parts = self.pass(states, beta, false)?;
        let log_p = (self.rows as f64).ln();
        let mut out = Vec::with_capacity(states.len() / d);
        for (part, rows) in parts.iter().zip(states.chunks(QUERY_BLOCK * d)) {
            for (b, xi) in rows.chunks_exact(d).enumerate() {
                let lse = part.m[b] + part.l[b].ln();
                out.push(-lse / beta + 0.5 * norm_sq(xi) + log_p / beta + 0.5 * self.max_norm_sq);
            }
        }
        Ok(out)
    }

    /// The softmax weights `softmax(β K q)` of every query, `(B, P)`
    /// row-major float64, from the same float32 scores as the update.
    ///
    /// # Errors
    /// As [`step`](Self::step); `Memory` when `B·P` weights cannot be had.
    pub fn attention(&self, queries: &[f32], d: usize, beta: f64) -> Result<Vec<f64>> {
        let nq = self.check_queries(queries, d, beta, "queries")?;
        let p = self.rows;
        let total = nq.checked_mul(p).ok_or_else(|| {
            Error::Memory(format!(
                "attention weights of {nq} × {p} cannot be allocated"
            ))
        })?;
        let mut out = try_filled("the attention weights", total, 0.0f64)?;
        out.par_chunks_mut(p)
            .zip(queries.par_chunks_exact(d))
            .for_each(|(row, q)| {
                let mut s = vec![0.0f32; TILE];
                for start in (0..p).step_by(TILE) {
                    let rows = (p - start).min(TILE);
                    scores(
                        &self.keys[start * d..(start + rows) * d],
                        rows,
                        q,
                        1,
                        d,
                        &mut s,
                        TILE,
                    );
                    for (o, &x) in row[start..start + rows].iter_mut().zip(&s) {
                        *o = x as f64 * beta;
                    }
                }
                let m = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                let mut sum = 0.0;
                for x in row.iter_mut() {
                    *x = (*x - m).exp();
                    sum += *x;
                }
                for x in row.iter_mut() {
                    *x /= sum;
                }
            });
        Ok(out)
    }
}

fn reserve(v: &mut Vec<f32>, more: usize, what: &str) -> Result<()> {
    v.try_reserve(more).map_err(|_| {
        Error::Memory(format!(
            "{what} would need {} more bytes, more than can be allocated",
            4 * more as u128
        ))
    })
}

fn norm_sq(row: &[f32]) -> f64 {
    row.iter().map(|&x| x as f64 * x as f64).sum()
}

fn check_finite(values: &[f32], d: usize, what: &str) -> Result<()> {
    if let Some(i) = values
        .iter()
        .position(|&x| !(x.is_finite() && (x.abs() as f64) <= MAX_ABS))
    {
        let x = values[i];
        let why = if x.is_finite() {
            "magnitude above 1e30"
        } else {
            "not finite"
        };
        return Err(Error::Value(format!(
            "{what} must be finite with magnitude at most 1e30; found {x} ({why}) at index ({}, {})",
            i / d,
            i % d
        )));
    }
    Ok(())
}

crate::multiversion! {
    /// Streams the patterns `range` through the online softmax of one block.
    fn chunk(
        mem: &ModernHopfield,
        pass: &Pass<'_>,
        qspins: Option<&SpinMatrix>,
        range: std::ops::Range<usize>,
        floor: &[f64],
        part: &mut Partial,
    ) -> () => chunk_body
}

#[inline(always)]
fn chunk_body(
    mem: &ModernHopfield,
    pass: &Pass<'_>,
    qspins: Option<&SpinMatrix>,
    range: std::ops::Range<usize>,
    floor: &[f64],
    part: &mut Partial,
) {
    let (d, dv, nb) = (mem.d, mem.dv, pass.nb);
    let mut tile = vec![0.0f32; nb * TILE];
    let groups = value_groups(nb);
    let mut lists: Vec<Vec<u32>> = vec![Vec::with_capacity(TILE); groups.len()];
    let mut any = vec![false; nb];
    let values = mem.value_rows();
    let mut start = range.start;
    while start < range.end {
        let rows = (range.end - start).min(TILE);
        match (qspins, mem.spins.as_ref()) {
            (Some(q), Some(k)) => popcount_scores(k, start, rows, q, d, &mut tile, TILE),
            _ => scores(
                &mem.keys[start * d..(start + rows) * d],
                rows,
                pass.queries,
                nb,
                d,
                &mut tile,
                TILE,
            ),
        }
        for b in 0..nb {
            let o = if pass.values {
                &mut part.o[b * dv..(b + 1) * dv]
            } else {
                &mut []
            };
            any[b] = softmax_row(
                &mut tile[b * TILE..b * TILE + rows],
                pass.beta,
                pass.skip,
                floor[b],
                &mut part.m[b],
                &mut part.l[b],
                o,
            );
        }
        if pass.values {
            for (g, list) in groups.iter().zip(lists.iter_mut()) {
                list.clear();
                if !any[g.clone()].iter().any(|&a| a) {
                    continue;
                }
                for p in 0..rows {
                    if g.clone().any(|b| tile[b * TILE + p] != 0.0) {
                        list.push(p as u32);
                    }
                }
                accumulate(
                    &tile[g.start * TILE..],
                    g.len(),
                    list,
                    &values[start * dv..(start + rows) * dv],
                    dv,
                    &mut part.o[g.start * dv..g.end * dv],
                );
            }
        }
        start += rows;
    }
}

/// Queries per group of the value accumulation.
const GROUP: usize = 12;

/// Query groups of the value accumulation: [`GROUP`] at a time, then singles.
fn value_groups(nb: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut b = 0;
    while b + GROUP <= nb {
        out.push(b..b + GROUP);
        b += GROUP;
    }
    while b < nb {
        out.push(b..b + 1);
        b += 1;
    }
    out
}

/// Online-softmax update of one query with the raw scores `s` of a tile:
/// rescales `o` and `l` when the maximum grows, overwrites `s` with the
/// weights `exp(β s − m)` (0 below `exp(−skip)` relative to `max(m, floor)`,
/// `floor` a lower bound of the final maximum), adds them to `l`.
/// Returns whether any weight is nonzero.
#[inline(always)]
fn softmax_row(
    s: &mut [f32],
    beta: f64,
    skip: f64,
    floor: f64,
    m: &mut f64,
    l: &mut f64,
    o: &mut [f64],
) -> bool {
    let smax = s.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let tm = smax as f64 * beta;
    if tm > *m {
        let c = scale(*m, tm);
        *l *= c;
        for x in o.iter_mut() {
            *x *= c;
        }
        *m = tm;
    }
    let m = *m;
    // Weights are relative to m; a weight is dropped when it is below
    // exp(−skip) relative to `top` (≤ the final maximum), a lower bound
    // known from earlier stages.
    let top = m.max(floor);
    // A conservative threshold on the raw scores: a block entirely below it
    // would fail the exact test `β s − m >= −skip` element by element.
    let thr = (top - skip) / beta;
    let thr = thr - 1e-9 * (thr.abs() + 1.0);
    let t32 = thr as f32;
    let t32 = if t32 as f64 > thr {
        t32 - t32.abs() * 1e-6 - f32::MIN_POSITIVE
    } else {
        t32
    };
    let mut sums = [0.0f64; LANES];
    let mut nonzero = false;
    let mut blocks = s.chunks_exact_mut(LANES);
    for blk in &mut blocks {
        if blk.iter().all(|&x| x < t32) {
            blk.fill(0.0);
            continue;
        }
        nonzero = true;
        for (x, sum) in blk.iter_mut().zip(sums.iter_mut()) {
            let w = weight(*x as f64 * beta - m, skip - (top - m));
            *x = w;
            *sum += w as f64;
        }
    }
    for (x, sum) in blocks.into_remainder().iter_mut().zip(sums.iter_mut()) {
        let w = weight(*x as f64 * beta - m, skip - (top - m));
        *x = w;
        nonzero |= w != 0.0;
        *sum += w as f64;
    }
    let mut h = [0.0f64; 8];
    for i in 0..8 {
        h[i] = sums[i] + sums[i + 8];
    }
    *l += ((h[0] + h[4]) + (h[2] + h[6])) + ((h[1] + h[5]) + (h[3] + h[7]));
    nonzero
}

/// `exp(z)` for `−skip ≤ z ≤ 0` as float32, 0 below `−skip`. The range
/// reduction is float64, the polynomial float32 (fused multiply-adds), so
/// every instruction-set level gives the same bits.
#[inline(always)]
fn weight(z: f64, skip: f64) -> f32 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2: f64 = std::f64::consts::LN_2;
    const MAGIC: f64 = 6755399441055744.0; // 1.5·2^52: rounds to nearest
    let zc = z.max(-100.0);
    let t = zc * LOG2E + MAGIC;
    let k = t - MAGIC;
    // k sits in the low bits of t: an integer shift, no float-to-int conversion.
    let ki = t.to_bits() as i64 - MAGIC.to_bits() as i64;
    let r = (zc - k * LN2) as f32;
    let mut p = 1.0f32 / 5040.0;
    p = p.mul_add(r, 1.0 / 720.0);
    p = p.mul_add(r, 1.0 / 120.0);
    p = p.mul_add(r, 1.0 / 24.0);
    p = p.mul_add(r, 1.0 / 6.0);
    p = p.mul_add(r, 0.5);
    p = p.mul_add(r, 1.0);
    p = p.mul_add(r, 1.0);
    // 2^k as f64 (exact for k ≥ −1022), the product rounded once to f32.
    let two_k = f64::from_bits(((ki + 1023) as u64) << 52);
    let w = (p as f64 * two_k) as f32;
    if z >= -skip {
        w
    } else {
        0.0
    }
}

/// The canonical sum of 16 lane partials: halves, quarters, pairs.
#[inline(always)]
fn reduce16(l: &[f32; LANES]) -> f32 {
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
fn scores(
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
        unsafe { x86::scores_avx512(keys, rows, queries, nq, d, out, ld) };
        return;
    }
    for c in 0..nq {
        let q = &queries[c * d..(c + 1) * d];
        for r in 0..rows {
            out[c * ld + r] = dot_lanes(&keys[r * d..(r + 1) * d], q);
        }
    }
}

/// Scores `d − 2·hamming` of ±1 keys `start..start+rows` and ±1 queries.
#[inline(always)]
fn popcount_scores(
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
        unsafe { x86::popcount_scores_avx512(keys, start, rows, queries, d, out, ld) };
        return;
    }
    for c in 0..queries.rows() {
        let q = queries.row(c);
        for r in 0..rows {
            out[c * ld + r] = crate::spins::overlap(keys.row(start + r), q, d) as f32;
        }
    }
}

/// `o[b][j] += Σ_{p ∈ list} w[b][p]·v[p][j]` for `nb` queries (weights
/// row stride [`TILE`]), summed in float32 in list order, then added.
#[inline(always)]
fn accumulate(w: &[f32], nb: usize, list: &[u32], values: &[f32], dv: usize, o: &mut [f64]) {
    if list.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if crate::simd::level() == crate::simd::Level::Avx512 && (nb == GROUP || nb == 1) {
        // SAFETY: the level is never above what the CPU supports; `w` holds
        // `nb` rows of TILE, `values` the listed rows of `dv`, `o` `nb × dv`.
        unsafe {
            if nb == GROUP {
                x86::accumulate_avx512::<GROUP, 2>(w, list, values, dv, o)
            } else {
                x86::accumulate_avx512::<1, 4>(w, list, values, dv, o)
            }
        };
        return;
    }
    for b in 0..nb {
        let wb = &w[b * TILE..];
        for j in 0..dv {
            let mut acc = 0.0f32;
            for &p in list {
                acc = wb[p as usize].mul_add(values[p as usize * dv + j], acc);
            }
            o[b * dv + j] += acc as f64;
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[allow(clippy::needless_range_loop)] // kernels index several register arrays
mod x86 {
    use super::{SpinMatrix, TILE};
    use std::arch::x86_64::*;

    /// The lanes of `v` summed in the order of [`super::reduce16`].
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
            // SAFETY: masked loads read lanes 16·i.. below d only.
            let (k0, k1, k2, k3) = unsafe {
                (
                    _mm512_maskz_loadu_ps(mask, k[0].add(16 * i)),
                    _mm512_maskz_loadu_ps(mask, k[1].add(16 * i)),
                    _mm512_maskz_loadu_ps(mask, k[2].add(16 * i)),
                    _mm512_maskz_loadu_ps(mask, k[3].add(16 * i)),
                )
            };
            // SAFETY: as above.
            let qv = unsafe { _mm512_maskz_loadu_ps(mask, q[0].add(16 * i)) };
            a00 = _mm512_fmadd_ps(k0, qv, a00);
            a10 = _mm512_fmadd_ps(k1, qv, a10);
            a20 = _mm512_fmadd_ps(k2, qv, a20);
            a30 = _mm512_fmadd_ps(k3, qv, a30);
            // SAFETY: as above.
            let qv = unsafe { _mm512_maskz_loadu_ps(mask, q[1].add(16 * i)) };
            a01 = _mm512_fmadd_ps(k0, qv, a01);
            a11 = _mm512_fmadd_ps(k1, qv, a11);
            a21 = _mm512_fmadd_ps(k2, qv, a21);
            a31 = _mm512_fmadd_ps(k3, qv, a31);
            // SAFETY: as above.
            let qv = unsafe { _mm512_maskz_loadu_ps(mask, q[2].add(16 * i)) };
            a02 = _mm512_fmadd_ps(k0, qv, a02);
            a12 = _mm512_fmadd_ps(k1, qv, a12);
            a22 = _mm512_fmadd_ps(k2, qv, a22);
            a32 = _mm512_fmadd_ps(k3, qv, a32);
            // SAFETY: as above.
            let qv = unsafe { _mm512_maskz_loadu_ps(mask, q[3].add(16 * i)) };
            a03 = _mm512_fmadd_ps(k0, qv, a03);
            a13 = _mm512_fmadd_ps(k1, qv, a13);
            a23 = _mm512_fmadd_ps(k2, qv, a23);
            a33 = _mm512_fmadd_ps(k3, qv, a33);
            // SAFETY: as above.
            let qv = unsafe { _mm512_maskz_loadu_ps(mask, q[4].add(16 * i)) };
            a04 = _mm512_fmadd_ps(k0, qv, a04);
            a14 = _mm512_fmadd_ps(k1, qv, a14);
            a24 = _mm512_fmadd_ps(k2, qv, a24);
            a34 = _mm512_fmadd_ps(k3, qv, a34);
            // SAFETY: as above.
            let qv = unsafe { _mm512_maskz_loadu_ps(mask, q[5].add(16 * i)) };
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

    /// AVX-512 version of [`super::scores`]; same bits as `dot_lanes`.
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

    /// AVX-512 version of [`super::accumulate`] for `B` queries; same bits.
    ///
    /// # Safety
    /// AVX-512F and FMA; sizes as in `accumulate`.
    #[target_feature(enable = "avx512f,avx512vl,fma")]
    pub unsafe fn accumulate_avx512<const B: usize, const Z: usize>(
        w: &[f32],
        list: &[u32],
        values: &[f32],
        dv: usize,
        o: &mut [f64],
    ) {
        assert!(w.len() >= B * TILE && o.len() >= B * dv);
        assert!(list
            .iter()
            .all(|&p| (p as usize) < TILE && (p as usize + 1) * dv <= values.len()));
        let (vp, wp) = (values.as_ptr(), w.as_ptr());
        let mut j = 0;
        while j < dv {
            let width = (dv - j).min(16 * Z);
            let masks: [__mmask16; Z] = std::array::from_fn(|z| {
                let lanes = width.saturating_sub(16 * z).min(16);
                ((1u32 << lanes) - 1) as u16
            });
            let mut acc = [[_mm512_setzero_ps(); Z]; B];
            for &p in list {
                let p = p as usize;
                let mut v = [_mm512_setzero_ps(); Z];
                for z in 0..Z {
                    // SAFETY: masked lanes stay within row p (checked above).
                    v[z] = unsafe { _mm512_maskz_loadu_ps(masks[z], vp.add(p * dv + j + 16 * z)) };
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
                let mut tmp = [[0.0f32; 16]; Z];
                for z in 0..Z {
                    // SAFETY: tmp[z] holds 16 floats.
                    unsafe { _mm512_storeu_ps(tmp[z].as_mut_ptr(), acc[b][z]) };
                }
                let flat = tmp.as_flattened();
                for (x, &t) in o[b * dv + j..b * dv + j + width].iter_mut().zip(flat) {
                    *x += t as f64;
                }
            }
            j += 16 * Z;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simd::{set_level, Level};

    fn lcg(seed: u64, len: usize) -> Vec<f32> {
        let mut s = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Naive float64 `Vᵀ softmax(β K q)`.
    fn naive(k: &[f32], v: &[f32], d: usize, dv: usize, q: &[f32], beta: f64) -> Vec<f64> {
        let p = k.len() / d;
        let s: Vec<f64> = (0..p)
            .map(|r| {
                beta * (0..d)
                    .map(|i| k[r * d + i] as f64 * q[i] as f64)
                    .sum::<f64>()
            })
            .collect();
        let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
        let l: f64 = w.iter().sum();
        (0..dv)
            .map(|j| (0..p).map(|r| w[r] * v[r * dv + j] as f64).sum::<f64>() / l)
            .collect()
    }

    fn close(a: &[f32], b: &[f64], tol: f64) {
        for (i, (&x, &y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x as f64 - y).abs() <= tol * (1.0 + y.abs()),
                "index {i}: {x} vs {y}"
            );
        }
    }

    #[test]
    fn step_matches_naive_softmax() {
        for &(p, d, dv, nq) in &[
            (1, 1, 1, 1),
            (5, 3, 2, 7),
            (200, 17, 33, 13),
            (3100, 40, 70, 9),
        ] {
            let k = lcg(1, p * d);
            let v = lcg(2, p * dv);
            let q = lcg(3, nq * d);
            let mut mem = ModernHopfield::new();
            mem.store(&k, p, d, Some((&v, dv))).unwrap();
            for beta in [0.1, 1.0, 8.0] {
                let out = mem.step(&q, d, beta).unwrap();
                for c in 0..nq {
                    let want = naive(&k, &v, d, dv, &q[c * d..(c + 1) * d], beta);
                    close(&out[c * dv..(c + 1) * dv], &want, 1e-5);
                }
            }
        }
    }

    #[test]
    fn levels_batches_and_threads_agree_bit_for_bit() {
        let (p, d) = (CHUNK + 500, 37);
        let k = lcg(4, p * d);
        let q = lcg(5, 200 * d);
        let mut mem = ModernHopfield::new();
        mem.store(&k, p, d, None).unwrap();
        let base = mem.step(&q, d, 3.0).unwrap();
        let single: Vec<f32> = (0..200)
            .flat_map(|c| mem.step(&q[c * d..(c + 1) * d], d, 3.0).unwrap())
            .collect();
        assert_eq!(base, single);
        let one = crate::batch::with_threads(Some(1), || mem.step(&q, d, 3.0).unwrap()).unwrap();
        assert_eq!(base, one);
        let best = crate::simd::level();
        set_level(Level::Portable);
        let portable = mem.step(&q, d, 3.0).unwrap();
        set_level(best);
        assert_eq!(base, portable);
    }

    #[test]
    fn popcount_path_equals_float_path() {
        for (p, d, nq) in [(700, 512, 9), (37, 100, 6), (13, 1, 5)] {
            popcount_case(p, d, nq);
        }
    }

    fn popcount_case(p: usize, d: usize, nq: usize) {
        let k: Vec<f32> = lcg(6, p * d)
            .iter()
            .map(|&x| if x < 0.0 { -1.0 } else { 1.0 })
            .collect();
        let q: Vec<f32> = lcg(7, nq * d)
            .iter()
            .map(|&x| if x < 0.0 { -1.0 } else { 1.0 })
            .collect();
        let mut binary = ModernHopfield::new();
        binary.store(&k, p, d, None).unwrap();
        assert!(binary.is_binary());
        let mut float = ModernHopfield::new();
        float.store(&k, p, d, None).unwrap();
        float.spins = None;
        for beta in [0.01, 0.1, 2.0] {
            assert_eq!(
                binary.step(&q, d, beta).unwrap(),
                float.step(&q, d, beta).unwrap()
            );
            assert_eq!(
                binary.energy(&q, d, beta).unwrap(),
                float.energy(&q, d, beta).unwrap()
            );
            let best = crate::simd::level();
            set_level(Level::Portable);
            let portable = binary.step(&q, d, beta).unwrap();
            set_level(best);
            assert_eq!(binary.step(&q, d, beta).unwrap(), portable);
        }
    }

    #[test]
    fn extreme_inputs_stay_finite() {
        let d = 8;
        let mut mem = ModernHopfield::new();
        mem.store(&[0.0; 24], 3, d, None).unwrap(); // all-equal scores
        let out = mem.step(&[0.0; 8], d, 1e4).unwrap();
        assert!(out.iter().all(|x| *x == 0.0));
        mem.store(&lcg(8, 40 * d), 40, d, None).unwrap();
        let q = lcg(9, 3 * d);
        let out = mem.step(&q, d, 1e4).unwrap();
        assert!(out.iter().all(|x| x.is_finite()));
        assert!(mem
            .energy(&q, d, 1e4)
            .unwrap()
            .iter()
            .all(|x| x.is_finite()));
        assert!(matches!(mem.step(&q, d, 0.0), Err(Error::Value(_))));
        assert!(matches!(mem.step(&q, d, f64::NAN), Err(Error::Value(_))));
        assert!(matches!(
            mem.step(&[f32::NAN; 8], d, 1.0),
            Err(Error::Value(_))
        ));
        assert!(matches!(mem.step(&q, 3, 1.0), Err(Error::Shape(_))));
    }

    #[test]
    fn energy_decreases_along_updates() {
        let (p, d) = (50, 16);
        let k = lcg(10, p * d);
        let mut mem = ModernHopfield::new();
        mem.store(&k, p, d, None).unwrap();
        let mut q = lcg(11, 5 * d);
        for beta in [0.5, 4.0, 30.0] {
            let mut e = mem.energy(&q, d, beta).unwrap();
            for _ in 0..5 {
                q = mem.step(&q, d, beta).unwrap();
                let next = mem.energy(&q, d, beta).unwrap();
                for (a, b) in e.iter().zip(&next) {
                    assert!(*b <= *a + 1e-5 * (1.0 + a.abs()), "{b} > {a}");
                }
                e = next;
            }
        }
    }

    #[test]
    fn iteration_stops_per_query() {
        let (p, d) = (20, 8);
        let mut mem = ModernHopfield::new();
        mem.store(&lcg(12, p * d), p, d, None).unwrap();
        let q = lcg(13, 4 * d);
        let r = mem
            .retrieve(
                &q,
                d,
                50.0,
                Steps::Until {
                    tol: 1e-6,
                    max_steps: 50,
                },
            )
            .unwrap();
        assert!(r.converged.iter().all(|&c| c));
        for c in 0..4 {
            let alone = mem
                .retrieve(
                    &q[c * d..(c + 1) * d],
                    d,
                    50.0,
                    Steps::Until {
                        tol: 1e-6,
                        max_steps: 50,
                    },
                )
                .unwrap();
            assert_eq!(alone.states, r.states[c * d..(c + 1) * d]);
            assert_eq!(alone.steps[0], r.steps[c]);
        }
    }
}
