//! Retrieval from a partial cue: coordinates held at the query's values
//! (`clamp`) and coordinates the scores look at (`known`), applied by the
//! driver around the unchanged update ([`ModernHopfield::step_into`]).
//!
//! * `known`: each update scores on the known coordinates only: the state
//!   is given to the scores with its unknown coordinates set to zero, so
//!   `k·ξ` sums over the known ones and an unknown coordinate contributes
//!   nothing, whatever its value.
//! * `clamp`: after each update the clamped coordinates are reset to the
//!   query's values (an auto-associative memory only). The change that
//!   decides convergence is then counted on the free coordinates (the
//!   clamped ones do not move).

use super::{Beta, Cue, ModernHopfield, Retrieved, Steps};
use crate::error::{try_filled, Error, Result};

impl ModernHopfield {
    /// [`retrieve`](Self::retrieve) from a partial cue (see the module
    /// docs). Each query iterates on its own, so its result does not depend
    /// on the batch.
    ///
    /// # Errors
    /// As [`retrieve`](Self::retrieve); `Shape` when a mask is not `(B, d)`;
    /// `Value` for a clamp on a hetero-associative memory.
    pub fn retrieve_cued(
        &self,
        queries: &[f32],
        d: usize,
        beta: Beta,
        steps: Steps,
        cue: Cue<'_>,
    ) -> Result<Retrieved> {
        if cue.clamp.is_none() && cue.known.is_none() {
            return self.retrieve(queries, d, beta, steps);
        }
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
        let dv = self.dv();
        if self.values.is_some() && (cue.clamp.is_some() || limit > 1 || tol.is_some()) {
            return Err(Error::Value(
                "clamp and iterating need auto-association (keys = values): \
                 store patterns without values, or use steps=1 and known= only"
                    .into(),
            ));
        }
        let mut states = try_filled("the retrieved states", nq * dv, 0.0f32)?;
        let mut steps_done = vec![0u32; nq];
        let mut converged = vec![false; nq];
        let mut current: Vec<f32> = queries.to_vec();
        let mut active: Vec<usize> = (0..nq).collect();
        let mut next = try_filled("the retrieved states", nq * dv, 0.0f32)?;
        let mut scored = try_filled("the scored states", nq * d, 0.0f32)?;
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
                            *s = if k { x } else { 0.0 };
                        }
                    }
                    &scored[..n_active * d]
                }
            };
            self.step_into(input, beta.get(), &mut next[..n_active * dv])?;
            let mut still = Vec::new();
            let mut gathered: Vec<f32> = Vec::new();
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
}

#[cfg(test)]
mod tests {
    use std::num::NonZeroU32;

    use super::*;

    fn memory() -> (ModernHopfield, Vec<f32>) {
        let keys: Vec<f32> = (0..6 * 8)
            .map(|i| ((i * 7 % 11) as f32 - 5.0) / 5.0)
            .collect();
        let mut m = ModernHopfield::new();
        m.store(&keys, 6, 8, None).unwrap();
        (m, keys)
    }

    #[test]
    fn clamped_coordinates_keep_the_query_and_no_mask_is_plain_retrieval() {
        let (m, keys) = memory();
        let beta = Beta::new(2.0).unwrap();
        let q: Vec<f32> = keys[8..16].iter().map(|x| x * 0.5).collect();
        let steps = Steps::Fixed(NonZeroU32::new(3).unwrap());
        let plain = m.retrieve(&q, 8, beta, steps).unwrap();
        let none = m.retrieve_cued(&q, 8, beta, steps, Cue::default()).unwrap();
        assert_eq!(plain.states, none.states);
        let clamp: Vec<bool> = (0..8).map(|i| i < 3).collect();
        let cue = Cue {
            clamp: Some(&clamp),
            known: None,
        };
        let held = m.retrieve_cued(&q, 8, beta, steps, cue).unwrap();
        assert_eq!(&held.states[..3], &q[..3]);
        assert_ne!(&held.states[3..], &q[3..]);
        // Known coordinates only: an unknown one's value changes nothing.
        let mut other = q.clone();
        other[7] = 100.0;
        let known = Cue {
            clamp: None,
            known: Some(&clamp),
        };
        let one = Steps::Fixed(NonZeroU32::new(1).unwrap());
        let a = m.retrieve_cued(&q, 8, beta, one, known).unwrap();
        let b = m.retrieve_cued(&other, 8, beta, one, known).unwrap();
        assert_eq!(a.states, b.states);
        assert!(m
            .retrieve_cued(
                &q,
                8,
                beta,
                steps,
                Cue {
                    clamp: Some(&clamp[..4]),
                    known: None
                }
            )
            .is_err());
    }
}
