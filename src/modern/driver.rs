//! The retrieval drivers: query blocks over rayon, the chunk stages of a
//! block, one step, iterated retrieval, energy and attention weights.

use rayon::prelude::*;

use super::scores::{pack, scores};
use super::stream::{chunk, Partial, Pass};
use super::{Beta, ModernHopfield, Retrieved, Steps, CHUNK, QUERY_BLOCK, STAGE, TILE};
use crate::error::{try_filled, Error, Result};
use crate::spins::SpinMatrix;

impl ModernHopfield {
    /// The softmax state of every query block (`values`: accumulate values).
    fn pass(&self, queries: &[f32], beta: f64, values: bool) -> Result<Vec<Partial>> {
        let skip = 20.0 + (self.rows as f64).ln();
        let run = |q: &[f32]| {
            let pass = Pass {
                queries: q,
                nb: q.len() / self.d,
                beta,
                skip,
                values,
            };
            self.block(&pass)
        };
        let size = self.block_rows(queries.len() / self.d) * self.d;
        // Outside a pool (a small call on the calling thread, see
        // `crate::par`) the blocks run in order here, never on rayon's
        // global pool; the results are the same.
        if crate::par::in_pool() {
            queries.par_chunks(size).map(run).collect()
        } else {
            queries.chunks(size).map(run).collect()
        }
    }

    /// Queries per block for a batch of `nq`: at most [`QUERY_BLOCK`], as
    /// many blocks as a multiple of the threads and as even as they come
    /// (1000 queries on 2 threads: 6 blocks of 168, not 5 of 192 and one of
    /// 40), a multiple of the score kernel's group when over one. A query's
    /// result does not depend on its block.
    fn block_rows(&self, nq: usize) -> usize {
        let threads = crate::par::threads_here();
        let blocks = nq.div_ceil(QUERY_BLOCK).div_ceil(threads) * threads;
        let rows = nq.div_ceil(blocks.max(1)).max(1);
        let unit = super::scores::block_unit();
        if rows > unit {
            (rows.div_ceil(unit) * unit).min(QUERY_BLOCK)
        } else {
            rows
        }
    }

    /// Whether one query's retrieval can use more than one thread: its
    /// patterns span several chunks (computed side by side in stages).
    /// With one chunk a single query gains nothing from a pool, and a
    /// binding runs it on the calling thread instead.
    pub fn splits_a_query(&self) -> bool {
        self.rows > CHUNK
    }

    fn block(&self, pass: &Pass<'_>) -> Result<Partial> {
        let chunks = self.rows.div_ceil(CHUNK);
        let width = if pass.values { self.dv } else { 0 };
        let qspins = self.block_spins(pass)?;
        let packed = match qspins {
            None => pack(pass.queries, pass.nb, self.d),
            Some(_) => None,
        };
        let run = |c: usize, floor: Option<&[f64]>| -> Result<Partial> {
            let mut part = Partial::new(pass.nb, width)?;
            let range = c * CHUNK..((c + 1) * CHUNK).min(self.rows);
            let (qspins, packed) = (qspins.as_ref(), packed.as_ref());
            chunk(self, pass, qspins, packed, range, floor, &mut part);
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
            let floor = state.as_ref().map(|s| s.m.clone());
            let parts: Vec<Result<Partial>> = if end - first == 1 || !crate::par::in_pool() {
                (first..end).map(|c| run(c, floor.as_deref())).collect()
            } else {
                (first..end)
                    .into_par_iter()
                    .map(|c| run(c, floor.as_deref()))
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
    /// when nothing is stored or a score would leave float32, `Memory`
    /// when the output cannot be allocated.
    pub fn step(&self, queries: &[f32], d: usize, beta: Beta) -> Result<Vec<f32>> {
        let nq = self.check_queries(queries, d, beta, "queries")?;
        let mut out = try_filled("the retrieved states", nq * self.dv, 0.0f32)?;
        self.step_into(queries, beta.get(), &mut out)?;
        Ok(out)
    }

    pub(super) fn step_into(&self, queries: &[f32], beta: f64, out: &mut [f32]) -> Result<()> {
        let parts = self.pass(queries, beta, true)?;
        let dv = self.dv;
        // Each part's own count of queries (the block size depends on the
        // level, which may change between two calls of `block_rows`).
        let mut at = 0;
        for part in &parts {
            let nb = part.m.len();
            let out = &mut out[at * dv..(at + nb) * dv];
            at += nb;
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
    /// of a hetero-associative memory, or `tol` is negative or NaN.
    pub fn retrieve(
        &self,
        queries: &[f32],
        d: usize,
        beta: Beta,
        steps: Steps,
    ) -> Result<Retrieved> {
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
        let mut states = try_filled("the retrieved states", nq * dv, 0.0f32)?;
        let mut steps_done = vec![0u32; nq];
        let mut converged = vec![false; nq];
        let mut current: Vec<f32> = queries.to_vec();
        let mut active: Vec<usize> = (0..nq).collect();
        let mut next = try_filled("the retrieved states", nq * dv, 0.0f32)?;
        for t in 1..=limit {
            let n_active = active.len();
            self.step_into(
                &current[..n_active * d],
                beta.get(),
                &mut next[..n_active * dv],
            )?;
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

    /// The online-softmax state of every row of `queries` (`(B, d)`
    /// row-major) over the stored patterns: per query the maximum `m` of
    /// `β k·q`, the sum `l` of `exp(β k·q − m)` and, row-major `(B, d_v)`,
    /// `o = Σ exp(β k·q − m) v`. States of disjoint sets of patterns merge
    /// exactly by log-sum-exp, as the tiles of one memory do; that is how a
    /// memory split over machines answers (`o / l` is the update).
    ///
    /// # Errors
    /// As [`step`](Self::step).
    pub fn softmax_state(
        &self,
        queries: &[f32],
        d: usize,
        beta: Beta,
    ) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        self.check_queries(queries, d, beta, "queries")?;
        let parts = self.pass(queries, beta.get(), true)?;
        let (mut m, mut l, mut o) = (Vec::new(), Vec::new(), Vec::new());
        for part in parts {
            m.extend_from_slice(&part.m);
            l.extend_from_slice(&part.l);
            o.extend_from_slice(&part.o);
        }
        Ok((m, l, o))
    }

    /// `E(ξ) = −β⁻¹ lse(β, Kξ) + ½ ξ·ξ + β⁻¹ log P + ½ M²` of every row of
    /// `states` (`(B, d)` row-major), computed in float64 from the float32
    /// keys and states ([`super::float64::energy_of_f32`]: exact products,
    /// float64 sums and softmax, no weight skipped), so that the energy
    /// is accurate to float64 rounding, not float32's.
    ///
    /// # Errors
    /// As [`step`](Self::step).
    pub fn energy(&self, states: &[f32], d: usize, beta: Beta) -> Result<Vec<f64>> {
        self.check_queries(states, d, beta, "states")?;
        Ok(super::float64::energy_of_f32(
            &self.keys,
            self.rows,
            d,
            self.max_norm_sq,
            states,
            beta.get(),
        ))
    }

    /// The softmax weights `softmax(β K q)` of every query, `(B, P)`
    /// row-major float64, from the same float32 scores as the update.
    ///
    /// # Errors
    /// As [`step`](Self::step); `Memory` when `B·P` weights cannot be had.
    pub fn attention(&self, queries: &[f32], d: usize, beta: Beta) -> Result<Vec<f64>> {
        let nq = self.check_queries(queries, d, beta, "queries")?;
        let beta = beta.get();
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
