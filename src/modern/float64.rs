//! The modern Hopfield network in float64: storage, scores, softmax and
//! value sums all in `f64`, for fixed points to `1e-12`; and the float64
//! energy of the float32 memory.
//!
//! The kernel has the structure of the float32 one (see the module docs of
//! [`super`]), written for `f64` with `matrixmultiply`'s `dgemm`
//! ([`crate::gemm`]):
//!
//! * queries in blocks of [`BLOCK`] rows (rayon splits the blocks);
//! * stored patterns in tiles of [`TILE`] rows, in order: the scores of a
//!   block against a tile are one `dgemm` (`B × TILE`), folded into an
//!   online softmax (running maximum `m` and sum `l` per query, the value
//!   accumulator rescaled when `m` grows), then the weighted values of the
//!   tile are a second `dgemm` (`B × d_v`) added into the accumulator;
//! * the `dgemm` sums each element in an order fixed by the inner
//!   dimension only, so a query's result depends on the query and the
//!   memory alone: not on the number of threads, nor on its batch.
//!
//! No weight is skipped (the float32 kernel's `e^−20` cut-off would end
//! precision at `1e-9`); the float32 memory's energy ([`energy_of_f32`])
//! runs the same kernel on its keys widened to `f64`, which is exact.

use rayon::prelude::*;

use super::{Beta, Steps, MAX_ABS, MAX_SCORE};
use crate::error::{try_filled, Error, Result};
use crate::gemm::{gemm, Matrix, Op};

/// Queries per block (the unit rayon schedules).
pub const BLOCK: usize = 64;
/// Stored patterns per tile.
pub const TILE: usize = 256;

/// A modern Hopfield memory of float64 keys and optional separate values.
#[derive(Debug, Clone, Default)]
pub struct ModernHopfield64 {
    d: usize,
    dv: usize,
    rows: usize,
    keys: Vec<f64>,
    values: Option<Vec<f64>>,
    max_norm_sq: f64,
}

/// Result of [`ModernHopfield64::retrieve`].
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieved64 {
    /// `(B, d_v)` final states.
    pub states: Vec<f64>,
    /// Updates applied to each query.
    pub steps: Vec<u32>,
    /// Whether the last update moved the query by at most the tolerance.
    pub converged: Vec<bool>,
}

/// The online-softmax state of a block: per query `m`, `l` and `o` (`d_v`).
struct Softmax {
    m: Vec<f64>,
    l: Vec<f64>,
    o: Vec<f64>,
}

/// `Σ x²` in `f64`.
fn norm_sq<T: Copy + Into<f64>>(row: &[T]) -> f64 {
    row.iter()
        .map(|&x| {
            let x: f64 = x.into();
            x * x
        })
        .sum()
}

/// The softmax state of `queries` (`nb × d`) against `rows` keys (`values`:
/// accumulate `o`, of width `dv`).
#[allow(clippy::too_many_arguments)]
fn block<T: Copy + Into<f64> + Sync>(
    keys: &[T],
    values: Option<&[T]>,
    rows: usize,
    d: usize,
    dv: usize,
    queries: &[f64],
    beta: f64,
) -> Softmax {
    let nb = queries.len() / d;
    let width = if values.is_some() { dv } else { 0 };
    let mut state = Softmax {
        m: vec![f64::NEG_INFINITY; nb],
        l: vec![0.0; nb],
        o: vec![0.0; nb * width],
    };
    let mut k = vec![0.0f64; TILE * d];
    let mut v = vec![0.0f64; TILE * width];
    let mut s = vec![0.0f64; nb * TILE];
    let mut add = vec![0.0f64; nb * width];
    for start in (0..rows).step_by(TILE) {
        let t = (rows - start).min(TILE);
        for (x, &y) in k.iter_mut().zip(&keys[start * d..(start + t) * d]) {
            *x = y.into();
        }
        let q = Matrix {
            data: queries,
            rows: nb,
            cols: d,
        };
        let kt = Matrix {
            data: &k[..t * d],
            rows: t,
            cols: d,
        };
        gemm(beta, q, kt, Op::Transposed, 0.0, &mut s[..nb * t]);
        for b in 0..nb {
            let row = &mut s[b * t..(b + 1) * t];
            let top = row.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let m = state.m[b].max(top);
            let rescale = (state.m[b] - m).exp();
            let mut sum = 0.0;
            for x in row.iter_mut() {
                *x = (*x - m).exp();
                sum += *x;
            }
            state.l[b] = state.l[b] * rescale + sum;
            state.m[b] = m;
            for o in &mut state.o[b * width..(b + 1) * width] {
                *o *= rescale;
            }
        }
        if let Some(values) = values {
            for (x, &y) in v.iter_mut().zip(&values[start * dv..(start + t) * dv]) {
                *x = y.into();
            }
            let w = Matrix {
                data: &s[..nb * t],
                rows: nb,
                cols: t,
            };
            let vt = Matrix {
                data: &v[..t * dv],
                rows: t,
                cols: dv,
            };
            gemm(1.0, w, vt, Op::Plain, 0.0, &mut add);
            for (o, &a) in state.o.iter_mut().zip(&add) {
                *o += a;
            }
        }
    }
    state
}

/// The softmax states of every block of `queries` (`(B, d)` row-major).
fn pass<T: Copy + Into<f64> + Sync>(
    keys: &[T],
    values: Option<&[T]>,
    rows: usize,
    d: usize,
    dv: usize,
    queries: &[f64],
    beta: f64,
) -> Vec<Softmax> {
    queries
        .par_chunks(BLOCK * d)
        .map(|q| block(keys, values, rows, d, dv, q, beta))
        .collect()
}

/// `E(ξ) = −β⁻¹ lse(β, Kξ) + ½ ξ·ξ + β⁻¹ log P + ½ M²` of every row of
/// `states` against `rows` keys, in `f64`.
fn energies<T: Copy + Into<f64> + Sync>(
    keys: &[T],
    rows: usize,
    d: usize,
    max_norm_sq: f64,
    states: &[f64],
    beta: f64,
) -> Vec<f64> {
    let log_p = (rows as f64).ln();
    let parts = pass(keys, None, rows, d, 0, states, beta);
    let mut out = Vec::with_capacity(states.len() / d);
    for (part, block) in parts.iter().zip(states.chunks(BLOCK * d)) {
        for (b, xi) in block.chunks_exact(d).enumerate() {
            let lse = part.m[b] + part.l[b].ln();
            out.push(-lse / beta + 0.5 * norm_sq(xi) + log_p / beta + 0.5 * max_norm_sq);
        }
    }
    out
}

/// The energy of float32 `states` against a float32 memory (`keys`,
/// `rows × d`, `max_norm_sq` = `M²`), computed in float64 throughout.
pub fn energy_of_f32(
    keys: &[f32],
    rows: usize,
    d: usize,
    max_norm_sq: f64,
    states: &[f32],
    beta: f64,
) -> Vec<f64> {
    let wide: Vec<f64> = states.iter().map(|&x| x as f64).collect();
    energies(keys, rows, d, max_norm_sq, &wide, beta)
}

fn check_finite(values: &[f64], d: usize, what: &str) -> Result<()> {
    if let Some(i) = values
        .iter()
        .position(|&x| !(x.is_finite() && x.abs() <= MAX_ABS))
    {
        return Err(Error::Value(format!(
            "{what} must be finite with magnitude at most 1e30; found {} at index ({}, {})",
            values[i],
            i / d,
            i % d
        )));
    }
    Ok(())
}

fn reserve(v: &mut Vec<f64>, more: usize, what: &str) -> Result<()> {
    v.try_reserve(more).map_err(|_| {
        Error::Memory(format!(
            "{what} would need {} more bytes, more than can be allocated",
            8 * more as u128
        ))
    })
}

impl ModernHopfield64 {
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
    pub fn keys(&self) -> &[f64] {
        &self.keys
    }

    /// Row-major `(P, d_v)` values, `None` for auto-association.
    pub fn values(&self) -> Option<&[f64]> {
        self.values.as_deref()
    }

    /// `M² = max_μ ‖k_μ‖²`.
    pub fn max_norm_sq(&self) -> f64 {
        self.max_norm_sq
    }

    /// Bytes held.
    pub fn nbytes(&self) -> usize {
        8 * (self.keys.len() + self.values.as_ref().map_or(0, Vec::len))
    }

    /// Appends `rows` keys of width `d` and, for hetero-association, their
    /// values, as [`ModernHopfield::store`](super::ModernHopfield::store).
    ///
    /// # Errors
    /// As [`ModernHopfield::store`](super::ModernHopfield::store).
    pub fn store(
        &mut self,
        keys: &[f64],
        rows: usize,
        d: usize,
        values: Option<(&[f64], usize)>,
    ) -> Result<()> {
        if d == 0 || rows == 0 || keys.len() != rows.saturating_mul(d) {
            return Err(Error::Shape(format!(
                "patterns must be a non-empty (P, d) matrix: expected {rows} × {d} values, got {}",
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
            if self.values.is_some() != values.is_some() {
                return Err(Error::Shape(
                    "values must be given with every store or with none \
                     (auto- or hetero-association)"
                        .into(),
                ));
            }
        }
        check_finite(keys, d, "patterns")?;
        if let Some((v, dv)) = values {
            if dv == 0 || (self.rows > 0 && dv != self.dv) || v.len() != rows.saturating_mul(dv) {
                return Err(Error::Shape(format!(
                    "values must have one row per pattern of d_v = {} columns, got {} values",
                    if self.rows > 0 { self.dv } else { dv },
                    v.len()
                )));
            }
            check_finite(v, dv, "values")?;
        }
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
        self.d = d;
        self.dv = values.map_or(d, |(_, dv)| dv);
        self.rows += rows;
        Ok(())
    }

    fn check_queries(&self, queries: &[f64], d: usize, beta: Beta, what: &str) -> Result<usize> {
        if self.rows == 0 {
            return Err(Error::Value(
                "no patterns stored: call store(patterns) first".into(),
            ));
        }
        if d != self.d || !queries.len().is_multiple_of(d) {
            return Err(Error::Shape(format!(
                "{what} must have d = {} columns, got {d} ({} values)",
                self.d,
                queries.len()
            )));
        }
        check_finite(queries, d, what)?;
        let qmax = queries.chunks_exact(d).map(norm_sq).fold(0.0, f64::max);
        let bound = beta.get() * (qmax * self.max_norm_sq).sqrt();
        if bound > MAX_SCORE {
            return Err(Error::Value(format!(
                "beta·‖pattern‖·‖{what}‖ reaches {bound:.3e}, beyond the scores' range; \
                 scale the inputs or lower beta"
            )));
        }
        Ok(queries.len() / d)
    }

    fn step_into(&self, queries: &[f64], beta: f64, out: &mut [f64]) {
        let values = self.values.as_deref().unwrap_or(&self.keys);
        let parts = pass(
            &self.keys,
            Some(values),
            self.rows,
            self.d,
            self.dv,
            queries,
            beta,
        );
        let dv = self.dv;
        for (part, out) in parts.iter().zip(out.chunks_mut(BLOCK * dv)) {
            for (b, row) in out.chunks_exact_mut(dv).enumerate() {
                let l = part.l[b];
                for (x, &o) in row.iter_mut().zip(&part.o[b * dv..(b + 1) * dv]) {
                    *x = o / l;
                }
            }
        }
    }

    /// One update `Vᵀ softmax(β K q)` of every row of `queries`.
    ///
    /// # Errors
    /// As [`ModernHopfield::step`](super::ModernHopfield::step).
    pub fn step(&self, queries: &[f64], d: usize, beta: Beta) -> Result<Vec<f64>> {
        let nq = self.check_queries(queries, d, beta, "queries")?;
        let mut out = try_filled("the retrieved states", nq * self.dv, 0.0f64)?;
        self.step_into(queries, beta.get(), &mut out);
        Ok(out)
    }

    /// Runs the dynamics from `queries`, each query on its own, as
    /// [`ModernHopfield::retrieve`](super::ModernHopfield::retrieve) (the
    /// default tolerance of a fixed number of steps is `1e-12·(1 + max|ξ|)`).
    ///
    /// # Errors
    /// As [`ModernHopfield::retrieve`](super::ModernHopfield::retrieve).
    pub fn retrieve(
        &self,
        queries: &[f64],
        d: usize,
        beta: Beta,
        steps: Steps,
    ) -> Result<Retrieved64> {
        let nq = self.check_queries(queries, d, beta, "queries")?;
        let (limit, tol) = match steps {
            Steps::Fixed(n) => (n.get(), None),
            Steps::Until { tol, max_steps } => {
                if tol.is_nan() || tol < 0.0 {
                    return Err(Error::Value(format!(
                        "tol must be a real number >= 0 or None, got {tol:?}"
                    )));
                }
                (max_steps.get(), Some(tol))
            }
        };
        if (limit > 1 || tol.is_some()) && self.values.is_some() {
            return Err(Error::Value(
                "iterating needs auto-association (keys = values): \
                 store patterns without values, or use steps=1"
                    .into(),
            ));
        }
        let dv = self.dv;
        let mut states = try_filled("the retrieved states", nq * dv, 0.0f64)?;
        let mut steps_done = vec![0u32; nq];
        let mut converged = vec![false; nq];
        let mut current: Vec<f64> = queries.to_vec();
        let mut active: Vec<usize> = (0..nq).collect();
        let mut next = try_filled("the retrieved states", nq * dv, 0.0f64)?;
        for t in 1..=limit {
            let n_active = active.len();
            self.step_into(
                &current[..n_active * d],
                beta.get(),
                &mut next[..n_active * dv],
            );
            let mut still = Vec::new();
            let mut gathered: Vec<f64> = Vec::new();
            for (i, &q) in active.iter().enumerate() {
                let new = &next[i * dv..(i + 1) * dv];
                let change = if dv == d {
                    new.iter()
                        .zip(&current[i * d..(i + 1) * d])
                        .map(|(a, b)| (a - b).abs())
                        .fold(0.0, f64::max)
                } else {
                    f64::INFINITY
                };
                let top = new.iter().map(|x| x.abs()).fold(0.0, f64::max);
                let ok = change <= tol.unwrap_or(1e-12 * (1.0 + top));
                states[q * dv..(q + 1) * dv].copy_from_slice(new);
                steps_done[q] = t;
                converged[q] = ok;
                if !(tol.is_some() && ok) && t < limit {
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
        Ok(Retrieved64 {
            states,
            steps: steps_done,
            converged,
        })
    }

    /// The energy of every row of `states`, in float64.
    ///
    /// # Errors
    /// As [`step`](Self::step).
    pub fn energy(&self, states: &[f64], d: usize, beta: Beta) -> Result<Vec<f64>> {
        self.check_queries(states, d, beta, "states")?;
        Ok(energies(
            &self.keys,
            self.rows,
            d,
            self.max_norm_sq,
            states,
            beta.get(),
        ))
    }

    /// The softmax weights `softmax(β K q)` of every query, `(B, P)`.
    ///
    /// # Errors
    /// As [`step`](Self::step); `Memory` when `B·P` weights cannot be had.
    pub fn attention(&self, queries: &[f64], d: usize, beta: Beta) -> Result<Vec<f64>> {
        let nq = self.check_queries(queries, d, beta, "queries")?;
        let p = self.rows;
        let total = nq.checked_mul(p).ok_or_else(|| {
            Error::Memory(format!(
                "attention weights of {nq} × {p} cannot be allocated"
            ))
        })?;
        let mut out = try_filled("the attention weights", total, 0.0f64)?;
        let beta = beta.get();
        out.par_chunks_mut(p)
            .zip(queries.par_chunks_exact(d))
            .for_each(|(row, q)| {
                for (o, k) in row.iter_mut().zip(self.keys.chunks_exact(d)) {
                    *o = beta * k.iter().zip(q).map(|(a, b)| a * b).sum::<f64>();
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    fn data(len: usize, seed: u64) -> Vec<f64> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0
            })
            .collect()
    }

    /// The update and energy by their definitions, one query at a time.
    fn naive(keys: &[f64], d: usize, q: &[f64], beta: f64) -> (Vec<f64>, f64) {
        let p = keys.len() / d;
        let s: Vec<f64> = keys
            .chunks_exact(d)
            .map(|k| beta * k.iter().zip(q).map(|(a, b)| a * b).sum::<f64>())
            .collect();
        let m = s.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let w: Vec<f64> = s.iter().map(|x| (x - m).exp()).collect();
        let l: f64 = w.iter().sum();
        let mut out = vec![0.0; d];
        for (k, &wk) in keys.chunks_exact(d).zip(&w) {
            for (o, &x) in out.iter_mut().zip(k) {
                *o += wk * x / l;
            }
        }
        let m2 = keys.chunks_exact(d).map(norm_sq).fold(0.0, f64::max);
        let e = -(m + l.ln()) / beta + 0.5 * norm_sq(q) + (p as f64).ln() / beta + 0.5 * m2;
        (out, e)
    }

    #[test]
    fn update_and_energy_equal_the_definitions_and_ignore_the_batch() {
        let (p, d) = (600, 7);
        let keys = data(p * d, 1);
        let queries = data(150 * d, 2);
        let mut net = ModernHopfield64::new();
        net.store(&keys[..300 * d], 300, d, None).unwrap();
        net.store(&keys[300 * d..], 300, d, None).unwrap();
        let beta = Beta::new(5.0).unwrap();
        let out = net.step(&queries, d, beta).unwrap();
        let e = net.energy(&queries, d, beta).unwrap();
        for (b, q) in queries.chunks_exact(d).enumerate() {
            let (want, we) = naive(&keys, d, q, 5.0);
            for (a, w) in out[b * d..(b + 1) * d].iter().zip(&want) {
                assert!((a - w).abs() < 1e-13, "{a} vs {w}");
            }
            assert!((e[b] - we).abs() < 1e-12 * (1.0 + we.abs()));
            // Alone, the query gets the same bits.
            assert_eq!(net.step(q, d, beta).unwrap(), &out[b * d..(b + 1) * d]);
        }
        let fixed = Steps::Fixed(NonZeroU32::new(2).unwrap());
        let r = net.retrieve(&queries, d, beta, fixed).unwrap();
        assert_eq!(r.steps, vec![2; 150]);
        let again = net.step(&out, d, beta).unwrap();
        assert_eq!(r.states, again);
    }

    #[test]
    fn the_f32_memory_energy_is_the_f64_energy_of_its_numbers() {
        let (p, d) = (300, 5);
        let keys = data(p * d, 3);
        let k32: Vec<f32> = keys.iter().map(|&x| x as f32).collect();
        let k64: Vec<f64> = k32.iter().map(|&x| x as f64).collect();
        let s32: Vec<f32> = data(4 * d, 4).iter().map(|&x| x as f32).collect();
        let s64: Vec<f64> = s32.iter().map(|&x| x as f64).collect();
        let mut net = ModernHopfield64::new();
        net.store(&k64, p, d, None).unwrap();
        let beta = Beta::new(2.0).unwrap();
        let want = net.energy(&s64, d, beta).unwrap();
        let got = energy_of_f32(&k32, p, d, net.max_norm_sq(), &s32, 2.0);
        assert_eq!(got, want);
        assert!(net.energy(&s64[..d - 1], d - 1, beta).is_err());
        assert!(net.store(&[f64::NAN; 5], 1, 5, None).is_err());
    }
}
