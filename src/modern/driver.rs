//! The retrieval drivers, written once for both float types: query blocks
//! over rayon, the chunk stages of a block, one step, iterated retrieval
//! with an optional partial cue, energy and attention weights. What
//! differs between float32 and float64 is the kernel a chunk runs
//! ([`Float::chunk`]).
//!
//! A partial cue (`clamp`, `known`, see [`Cue`]) is applied around the
//! unchanged update:
//!
//! * `known`: each update scores on the known coordinates only: the state
//!   is given to the scores with its unknown coordinates set to zero, so
//!   `k·ξ` sums over the known ones and an unknown coordinate contributes
//!   nothing, whatever its value.
//! * `clamp`: after each update the clamped coordinates are reset to the
//!   query's values (an auto-associative memory only). The change that
//!   decides convergence is then counted on the free coordinates (the
//!   clamped ones do not move).

use std::ops::Range;
use std::sync::atomic::AtomicBool;

use rayon::prelude::*;

use super::float::{Block, Chunk, Float};
use super::float64::{Stream, BLOCK as WIDE_BLOCK};
use super::store::spins_of;
use super::stream::Partial;
use super::{Beta, Cue, ModernHopfield, Retrieved, Steps, CHUNK, STAGE};
use crate::error::{interrupted, try_filled, Error, Result};

impl<T: Float> ModernHopfield<T> {
    /// The softmax state of every query block (`values`: accumulate values);
    /// `Interrupted` once `cancel` is raised (looked at between chunk stages).
    fn pass(
        &self,
        queries: &[T],
        beta: f64,
        values: bool,
        cancel: &AtomicBool,
    ) -> Result<Vec<Partial>> {
        let skip = 20.0 + (self.rows as f64).ln();
        let d = self.d;
        let width = if values { self.dv } else { 0 };
        let codes = T::code_keys(self, queries.len() / d);
        let prepare = |q: &[T]| -> Result<_> {
            let nb = q.len() / d;
            let spins = match self.spins {
                Some(_) => spins_of(q, nb, d)?,
                None => None,
            };
            Ok(T::prepare(q, nb, d, spins))
        };
        let chunk = |q: &[T], prepared: &_, range, floor: Option<&[f64]>, part: &mut Partial| {
            let block = Block {
                queries: q,
                nb: q.len() / d,
                beta,
                skip,
                values,
                prepared,
                codes: codes.as_ref(),
            };
            T::chunk(self, &block, Chunk { range, floor, part });
        };
        self.blocks(queries, (T::BLOCK, CHUNK), width, cancel, prepare, chunk)
    }

    /// The softmax state of every block of `queries` (`(B, d)` row-major):
    /// blocks of at most `most` rows over rayon, each block's chunks of
    /// `chunk_rows` patterns in stages, a chunk streamed by `chunk` (after
    /// `prepare` of the block) into a state of value width `width`;
    /// `Interrupted` once `cancel` is raised (looked at between stages).
    fn blocks<Q: Sync, P: Sync>(
        &self,
        queries: &[Q],
        (most, chunk_rows): (usize, usize),
        width: usize,
        cancel: &AtomicBool,
        prepare: impl Fn(&[Q]) -> Result<P> + Sync,
        chunk: impl Fn(&[Q], &P, Range<usize>, Option<&[f64]>, &mut Partial) + Sync,
    ) -> Result<Vec<Partial>> {
        let run = |q: &[Q]| {
            let prepared = prepare(q)?;
            let rows = (q.len() / self.d, chunk_rows);
            self.block(rows, width, cancel, |range, floor, part| {
                chunk(q, &prepared, range, floor, part)
            })
        };
        let size = block_rows(queries.len() / self.d, most) * self.d;
        // Outside a pool (a small call on the calling thread, see
        // `crate::par`) the blocks run in order here, never on rayon's
        // global pool; the results are the same.
        if crate::par::in_pool() {
            queries.par_chunks(size).map(run).collect()
        } else {
            queries.chunks(size).map(run).collect()
        }
    }

    /// Whether one query's retrieval can use more than one thread: its
    /// patterns span several chunks (computed side by side in stages).
    /// With one chunk a single query gains nothing from a pool, and a
    /// binding runs it on the calling thread instead.
    pub fn splits_a_query(&self) -> bool {
        self.rows > CHUNK
    }

    /// The softmax state of one block of `nb` queries, its chunks of
    /// `chunk_rows` patterns streamed by `run`; `Interrupted` once `cancel`
    /// is raised (looked at before each stage).
    fn block(
        &self,
        (nb, chunk_rows): (usize, usize),
        width: usize,
        cancel: &AtomicBool,
        run: impl Fn(Range<usize>, Option<&[f64]>, &mut Partial) + Sync,
    ) -> Result<Partial> {
        let chunks = self.rows.div_ceil(chunk_rows);
        let run = |c: usize, floor: Option<&[f64]>| -> Result<Partial> {
            let mut part = Partial::new(nb, width)?;
            let range = c * chunk_rows..((c + 1) * chunk_rows).min(self.rows);
            run(range, floor, &mut part);
            Ok(part)
        };
        // Stages of 1, 2, 4, then STAGE chunks: the chunks of a stage run side
        // by side and skip weights against the maximum of all earlier stages.
        // The schedule depends on P only, so results do not depend on threads.
        let mut state: Option<Partial> = None;
        let mut first = 0;
        let mut size = 1;
        while first < chunks {
            interrupted(cancel)?;
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

    /// One update of every row of `queries` (`(B, d)` row-major):
    /// `Vᵀ softmax(β K q)`, `(B, d_v)`.
    ///
    /// # Errors
    /// `Value`/`Shape` on bad input (see [`store`](Self::store)), `Value`
    /// when nothing is stored or a score would leave float32, `Memory`
    /// when the output cannot be allocated.
    pub fn step(&self, queries: &[T], d: usize, beta: Beta) -> Result<Vec<T>> {
        let nq = self.check_queries(queries, d, beta, "queries")?;
        let mut out = try_filled("the retrieved states", nq * self.dv, T::default())?;
        self.step_into(queries, beta.get(), &mut out, &AtomicBool::new(false))?;
        Ok(out)
    }

    fn step_into(
        &self,
        queries: &[T],
        beta: f64,
        out: &mut [T],
        cancel: &AtomicBool,
    ) -> Result<()> {
        let parts = self.pass(queries, beta, true, cancel)?;
        let dv = self.dv;
        let mut rest = out;
        for part in &parts {
            let (out, next) = std::mem::take(&mut rest).split_at_mut(part.l.len() * dv);
            rest = next;
            for (b, row) in out.chunks_exact_mut(dv).enumerate() {
                let l = part.l[b];
                for (x, &o) in row.iter_mut().zip(&part.o[b * dv..(b + 1) * dv]) {
                    *x = T::from_f64(o / l);
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
        queries: &[T],
        d: usize,
        beta: Beta,
        steps: Steps,
    ) -> Result<Retrieved<T>> {
        self.retrieve_cued(queries, d, beta, steps, Cue::default())
    }

    /// [`retrieve`](Self::retrieve) from a partial cue (see the module
    /// docs); without masks it is `retrieve`. Each query iterates on its
    /// own, so its result does not depend on the batch.
    ///
    /// # Errors
    /// As [`retrieve`](Self::retrieve); `Shape` when a mask is not `(B, d)`;
    /// `Value` for a clamp on a hetero-associative memory.
    pub fn retrieve_cued(
        &self,
        queries: &[T],
        d: usize,
        beta: Beta,
        steps: Steps,
        cue: Cue<'_>,
    ) -> Result<Retrieved<T>> {
        self.retrieve_cued_until(queries, d, beta, steps, cue, &AtomicBool::new(false))
    }

    /// [`retrieve_cued`](Self::retrieve_cued), looking at `cancel` between
    /// chunk stages of every query block: a caller raises it (say, on
    /// Ctrl-C, from another thread) to stop a long retrieval promptly.
    ///
    /// # Errors
    /// As [`retrieve_cued`](Self::retrieve_cued); `Interrupted` once
    /// `cancel` is raised.
    pub fn retrieve_cued_until(
        &self,
        queries: &[T],
        d: usize,
        beta: Beta,
        steps: Steps,
        cue: Cue<'_>,
        cancel: &AtomicBool,
    ) -> Result<Retrieved<T>> {
        let nq = self.check_queries(queries, d, beta, "queries")?;
        for (name, mask) in [("clamp", cue.clamp), ("known", cue.known)] {
            if mask.is_some_and(|m| m.len() != nq * d) {
                return Err(Error::Shape(format!(
                    "{name} must be a ({nq}, {d}) mask, one row per query"
                )));
            }
        }
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
        if self.values.is_some() {
            if cue.clamp.is_some() {
                return Err(Error::Value(
                    "clamp and iterating need auto-association (keys = values): \
                     store patterns without values, or use steps=1 and known= only"
                        .into(),
                ));
            }
            if limit > 1 || tol.is_some() {
                return Err(Error::Value(
                    "iterating needs auto-association (keys = values): \
                     store patterns without values, or use steps=1"
                        .into(),
                ));
            }
        }
        let dv = self.dv;
        let zero = T::default();
        let mut states = try_filled("the retrieved states", nq * dv, zero)?;
        let mut steps_done = vec![0u32; nq];
        let mut converged = vec![false; nq];
        let mut current: Vec<T> = queries.to_vec();
        let mut active: Vec<usize> = (0..nq).collect();
        let mut next = try_filled("the retrieved states", nq * dv, zero)?;
        let scored_len = if cue.known.is_some() { nq * d } else { 0 };
        let mut scored = try_filled("the scored states", scored_len, zero)?;
        for t in 1..=limit {
            let n_active = active.len();
            let input = match cue.known {
                None => &current[..n_active * d],
                Some(known) => {
                    for (i, &q) in active.iter().enumerate() {
                        let mask = &known[q * d..(q + 1) * d];
                        for ((s, &x), &k) in scored[i * d..(i + 1) * d]
                            .iter_mut()
                            .zip(&current[i * d..(i + 1) * d])
                            .zip(mask)
                        {
                            *s = if k { x } else { zero };
                        }
                    }
                    &scored[..n_active * d]
                }
            };
            self.step_into(input, beta.get(), &mut next[..n_active * dv], cancel)?;
            let mut still = Vec::new();
            let mut gathered: Vec<T> = Vec::new();
            for (i, &q) in active.iter().enumerate() {
                let new = &mut next[i * dv..(i + 1) * dv];
                if let Some(clamp) = cue.clamp {
                    let held = &clamp[q * d..(q + 1) * d];
                    let cue = &queries[q * d..(q + 1) * d];
                    for ((x, &c), &h) in new.iter_mut().zip(cue).zip(held) {
                        if h {
                            *x = c;
                        }
                    }
                }
                let change = if dv == d {
                    new.iter()
                        .zip(&current[i * d..(i + 1) * d])
                        .map(|(&a, &b)| T::change(a, b))
                        .fold(0.0, f64::max)
                } else {
                    f64::INFINITY
                };
                let top = new
                    .iter()
                    .map(|&x| Into::<f64>::into(x).abs())
                    .fold(0.0, f64::max);
                let ok = change <= tol.unwrap_or(T::TOL * (1.0 + top));
                states[q * dv..(q + 1) * dv].copy_from_slice(new);
                steps_done[q] = t;
                converged[q] = ok;
                let stop = tol.is_some() && ok;
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
        queries: &[T],
        d: usize,
        beta: Beta,
    ) -> Result<(Vec<f64>, Vec<f64>, Vec<f64>)> {
        self.check_queries(queries, d, beta, "queries")?;
        let parts = self.pass(queries, beta.get(), true, &AtomicBool::new(false))?;
        let (mut m, mut l, mut o) = (Vec::new(), Vec::new(), Vec::new());
        for part in parts {
            m.extend_from_slice(&part.m);
            l.extend_from_slice(&part.l);
            o.extend_from_slice(&part.o);
        }
        Ok((m, l, o))
    }

    /// `E(ξ) = −β⁻¹ lse(β, Kξ) + ½ ξ·ξ + β⁻¹ log P + ½ M²` of every row of
    /// `states` (`(B, d)` row-major), computed in float64 whatever `T`: the
    /// float64 kernel on the keys and states widened (exact products,
    /// float64 sums and softmax, no weight skipped), so that the energy is
    /// accurate to float64 rounding, not float32's.
    ///
    /// # Errors
    /// As [`step`](Self::step).
    pub fn energy(&self, states: &[T], d: usize, beta: Beta) -> Result<Vec<f64>> {
        self.check_queries(states, d, beta, "states")?;
        let beta = beta.get();
        let wide: Vec<f64> = states.iter().map(|&x| x.into()).collect();
        let chunk = |q: &[f64], _: &(), range, _: Option<&[f64]>, part: &mut Partial| {
            let stream = Stream {
                keys: &self.keys,
                values: None,
                spins: None,
                d,
                dv: 0,
                queries: q,
                beta,
            };
            stream.chunk(range, part);
        };
        // All patterns as one chunk: one float64 log-sum-exp in pattern
        // order (no stage merges), the same bits for either float type.
        let whole = (WIDE_BLOCK, self.rows);
        let never = AtomicBool::new(false);
        let parts = self.blocks(&wide, whole, 0, &never, |_| Ok(()), chunk)?;
        let log_p = (self.rows as f64).ln();
        let mut out = Vec::with_capacity(wide.len() / d);
        let mut rest = &wide[..];
        for part in &parts {
            let (states, next) = rest.split_at(part.l.len() * d);
            rest = next;
            for (b, xi) in states.chunks_exact(d).enumerate() {
                let lse = part.m[b] + part.l[b].ln();
                out.push(
                    -lse / beta
                        + 0.5 * super::store::norm_sq(xi)
                        + log_p / beta
                        + 0.5 * self.max_norm_sq,
                );
            }
        }
        Ok(out)
    }

    /// The softmax weights `softmax(β K q)` of every query, `(B, P)`
    /// row-major float64, from the same scores as the update.
    ///
    /// # Errors
    /// As [`step`](Self::step); `Memory` when `B·P` weights cannot be had.
    pub fn attention(&self, queries: &[T], d: usize, beta: Beta) -> Result<Vec<f64>> {
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
                T::attention_scores(&self.keys, q, beta, row);
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

/// Queries per block for a batch of `nq`: at most `most`, as evenly as the
/// pool's threads share them: the number of blocks is rounded up to a
/// multiple of the threads and the rows spread evenly over them (1000
/// queries on 2 threads: 6 blocks of 167 and a last of 165, not 5 of 192
/// and one of 40 that leaves a thread idle). A query's result does not
/// depend on its block.
pub(super) fn block_rows(nq: usize, most: usize) -> usize {
    let threads = crate::par::threads_here().max(1);
    let blocks = nq.div_ceil(most.max(1)).div_ceil(threads) * threads;
    nq.div_ceil(blocks.max(1)).clamp(1, most.max(1))
}
