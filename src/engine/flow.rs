//! The continuous-time driver: integrates `τ_i du_i/dt = −u_i + D_i(u)`
//! (a [`LeakyModel`]) for a batch of initial states, in parallel over
//! blocks of rows.
//!
//! # The step
//!
//! Exponential Euler: the leak is integrated exactly over a step with the
//! drive held, `u ← D + e^{−dt/τ}(u − D)`. It is stable for every `dt`
//! (each step is a convex combination of the state and the drive, and the
//! models' drives are bounded), and for `dt → 0` it follows the flow; the
//! models bound `dt` by where their energy is proved to descend
//! ([`LeakyModel::max_dt`]).
//!
//! # Determinism
//!
//! The drive of a block of rows is one matrix product per block; a row's
//! result depends on the row only (see [`crate::gemm`]), so a state's run
//! does not depend on the number of threads, on the block it lands in, or
//! on how a caller splits the batch. A row that has stopped is left out of
//! the following products (its neighbours' results do not change).
//!
//! # Clamps
//!
//! [`integrate_clamped`] holds components of a row at their starting values
//! (a partial cue, see [`super::clamp`]): the drive is computed as without
//! a clamp, and then a held component's drive is taken to be its value, so
//! that its rate `|D_i − u_i|/τ_i` is zero and the step leaves it exactly as
//! it is. The rate that decides convergence is then the free components'.
//! The energy is the model's energy of the whole state from the drive as
//! computed (for a model whose energy is a sum over components plus the
//! couplings, it differs from the energy of the free components by a
//! constant).

use rayon::prelude::*;

use super::clamp::Clamp;
use super::leaky::{FlowOptions, FlowOutcome, LeakyModel};
use crate::error::{try_filled, Error, Result};

/// Most rows integrated together (one matrix product per step): enough that
/// packing the weights or patterns for the product, once per block and
/// step, costs little next to the product itself.
pub const FLOW_BLOCK: usize = 256;

/// The final states, each state's outcome and, on request, the recorded
/// trajectory.
#[derive(Debug, Clone)]
pub struct Flowed {
    /// Final states, `rows × dim` row-major.
    pub states: Vec<f64>,
    /// One outcome per state, in order.
    pub outcomes: Vec<FlowOutcome>,
    /// With a trajectory: `rows × records × dim`, NaN at the recording
    /// points after a state stopped; empty otherwise.
    pub trajectory: Vec<f64>,
    /// Recording points per state ([`FlowOptions::records`]).
    pub records: usize,
}

/// Checks that `model` can be integrated with `options`.
///
/// # Errors
/// `Value` when `dt` exceeds the model's bound.
pub fn check_step<M: LeakyModel>(model: &M, options: &FlowOptions) -> Result<()> {
    let bound = model.max_dt();
    if options.dt() > bound {
        return Err(Error::Value(format!(
            "dt must be at most {bound} (the model's stability bound), got {}",
            options.dt()
        )));
    }
    Ok(())
}

/// Integrates every row of `initial` (`rows × dim`, row-major) on the
/// current rayon pool.
///
/// # Errors
/// `Shape` when `initial` is not `rows × dim`; `Value` when it holds a
/// value that is not finite or `dt` exceeds the model's bound; `Memory`
/// when the results cannot be allocated.
pub fn integrate<M: LeakyModel>(
    model: &M,
    initial: &[f64],
    rows: usize,
    options: &FlowOptions,
) -> Result<Flowed> {
    integrate_clamped(model, initial, rows, options, Clamp::None)
}

/// Words of a packed clamp mask over `dim` components.
pub fn clamp_words(dim: usize) -> usize {
    dim.div_ceil(64)
}

/// [`integrate`] with the components set in `clamp` (bit-packed masks of
/// [`clamp_words`]`(dim)` words, one shared or one per row) held at their
/// starting values (see the module docs).
///
/// # Errors
/// As [`integrate`]; `Shape` also when a mask does not have
/// [`clamp_words`]`(dim)` words (or the per-row masks are not one per row).
pub fn integrate_clamped<M: LeakyModel>(
    model: &M,
    initial: &[f64],
    rows: usize,
    options: &FlowOptions,
    clamp: Clamp<'_>,
) -> Result<Flowed> {
    let dim = model.dim();
    let words = clamp_words(dim);
    let (got, want) = match clamp {
        Clamp::None => (0, 0),
        Clamp::Shared(m) => (m.len(), words),
        Clamp::PerRow(m) => (m.len(), rows.saturating_mul(words)),
    };
    if got != want {
        return Err(Error::Shape(format!(
            "clamp must be {want} words ({} per mask of {dim} components), got {got}",
            words
        )));
    }
    if initial.len() != rows.saturating_mul(dim) {
        return Err(Error::Shape(format!(
            "states must be {rows} rows of {dim} values, got {} values",
            initial.len()
        )));
    }
    if let Some(at) = initial.iter().position(|x| !x.is_finite()) {
        return Err(Error::Value(format!(
            "states must be finite; found {} at row {}, column {}",
            initial[at],
            at / dim.max(1),
            at % dim.max(1)
        )));
    }
    check_step(model, options)?;
    let records = options.records();
    let mut states = try_filled("the final states", initial.len(), 0.0f64)?;
    states.copy_from_slice(initial);
    let width = if options.trajectory() {
        records.saturating_mul(dim)
    } else {
        0
    };
    let mut trajectory = try_filled("the trajectory", rows.saturating_mul(width), f64::NAN)?;
    let decay: Vec<f64> = model
        .taus()
        .iter()
        .map(|tau| (-options.dt() / tau).exp())
        .collect();
    let rate_scale: Vec<f64> = model.taus().iter().map(|tau| 1.0 / tau).collect();
    let block = FLOW_BLOCK
        .min(rows.div_ceil(rayon::current_num_threads().max(1)))
        .max(1);
    let mut outcomes = Vec::with_capacity(rows);
    if rows > 0 && dim > 0 {
        let steps = Steps {
            decay: &decay,
            rate_scale: &rate_scale,
            options,
            width,
        };
        // The clamps of the block that starts at chunk `b`.
        let masks = |b: usize, len: usize| clamp.rows(b * block, len / dim, words);
        let parts: Vec<Vec<FlowOutcome>> = if width > 0 {
            states
                .par_chunks_mut(block * dim)
                .zip(trajectory.par_chunks_mut(block * width))
                .enumerate()
                .map(|(b, (s, t))| run_block(model, s, Some(t), &steps, masks(b, s.len())))
                .collect()
        } else {
            states
                .par_chunks_mut(block * dim)
                .enumerate()
                .map(|(b, s)| run_block(model, s, None, &steps, masks(b, s.len())))
                .collect()
        };
        outcomes.extend(parts.into_iter().flatten());
    } else {
        // No component: every state is its own fixed point.
        outcomes.extend((0..rows).map(|_| FlowOutcome {
            steps: 0,
            converged: true,
            rate: 0.0,
            energy: f64::NAN,
            trace: Vec::new(),
        }));
    }
    Ok(Flowed {
        states,
        outcomes,
        trajectory,
        records,
    })
}

/// What every block's steps share.
struct Steps<'a> {
    decay: &'a [f64],
    rate_scale: &'a [f64],
    options: &'a FlowOptions,
    /// Trajectory values per state (0: none recorded).
    width: usize,
}

/// Runs the consecutive states of `block` in place, row `r` holding the
/// components of `clamp.row(r, ..)`; returns their outcomes.
fn run_block<M: LeakyModel>(
    model: &M,
    block: &mut [f64],
    mut trajectory: Option<&mut [f64]>,
    steps: &Steps<'_>,
    clamp: Clamp<'_>,
) -> Vec<FlowOutcome> {
    let dim = model.dim();
    let words = clamp_words(dim);
    let rows = block.len() / dim;
    let options = steps.options;
    let mut outcomes: Vec<FlowOutcome> = (0..rows)
        .map(|_| FlowOutcome {
            steps: 0,
            converged: false,
            rate: f64::NAN,
            energy: f64::NAN,
            trace: Vec::new(),
        })
        .collect();
    let mut active: Vec<usize> = (0..rows).collect();
    let mut gathered = vec![0.0f64; block.len()];
    let mut drive = vec![0.0f64; block.len()];
    // A held row's drive with its held components replaced by their values.
    let mut held_drive = vec![0.0f64; if clamp.is_none() { 0 } else { dim }];
    for step in 0..=options.max_steps() {
        if active.is_empty() {
            break;
        }
        let k = active.len();
        for (slot, &row) in active.iter().enumerate() {
            gathered[slot * dim..(slot + 1) * dim]
                .copy_from_slice(&block[row * dim..(row + 1) * dim]);
        }
        model.drive(&gathered[..k * dim], k, &mut drive[..k * dim]);
        let record = options.stride().map(|s| step % s == 0).unwrap_or(false);
        let mut kept = 0;
        for slot in 0..k {
            let row = active[slot];
            let u = &mut block[row * dim..(row + 1) * dim];
            let d = &drive[slot * dim..(slot + 1) * dim];
            // What moves the state: the drive, or with a clamp the drive
            // with the held components at their values (zero rate there).
            let flow: &[f64] = match clamp.row(row, words) {
                None => d,
                Some(mask) => {
                    hold(&mut held_drive, u, d, mask);
                    &held_drive
                }
            };
            let rate = rate_of(u, flow, steps.rate_scale);
            let outcome = &mut outcomes[row];
            if record {
                let e = model.energy(u, d).unwrap_or(f64::NAN);
                outcome.trace.push(e);
                if let Some(t) = trajectory.as_deref_mut() {
                    let at =
                        row * steps.width + (step / options.stride().unwrap_or(1)) as usize * dim;
                    t[at..at + dim].copy_from_slice(u);
                }
            }
            if rate <= options.tol() || step == options.max_steps() {
                outcome.steps = step;
                outcome.converged = rate <= options.tol();
                outcome.rate = rate;
                outcome.energy = model.energy(u, d).unwrap_or(f64::NAN);
            } else {
                leak_step(u, flow, steps.decay);
                active[kept] = row;
                kept += 1;
            }
        }
        active.truncate(kept);
    }
    outcomes
}

/// `out ← d` with the components set in `mask` replaced by `u`'s: there
/// the rate is zero and [`leak_step`] gives `u_i + a·0 = u_i` exactly.
/// Word by word: a mask word of all free (or all held) neurons is one copy.
#[inline]
fn hold(out: &mut [f64], u: &[f64], d: &[f64], mask: &[u64]) {
    let chunks = out.chunks_mut(64).zip(u.chunks(64).zip(d.chunks(64)));
    for (&bits, (o, (x, y))) in mask.iter().zip(chunks) {
        match bits {
            0 => o.copy_from_slice(y),
            u64::MAX => o.copy_from_slice(x),
            _ => {
                // A select on the bit patterns (exact, and without a branch
                // to mispredict on a random mask).
                for (j, (o, (&x, &y))) in o.iter_mut().zip(x.iter().zip(y)).enumerate() {
                    let take = 0u64.wrapping_sub((bits >> j) & 1);
                    *o = f64::from_bits((x.to_bits() & take) | (y.to_bits() & !take));
                }
            }
        }
    }
}

/// `max_i |D_i − u_i| / τ_i`: the largest `|du_i/dt|`.
#[inline]
fn rate_of(u: &[f64], d: &[f64], rate_scale: &[f64]) -> f64 {
    let mut worst = 0.0f64;
    for ((&x, &y), &s) in u.iter().zip(d).zip(rate_scale) {
        worst = worst.max((y - x).abs() * s);
    }
    worst
}

/// `u ← D + e^{−dt/τ}(u − D)`: the leak integrated exactly, the drive held.
#[inline]
fn leak_step(u: &mut [f64], d: &[f64], decay: &[f64]) {
    for ((x, &y), &a) in u.iter_mut().zip(d).zip(decay) {
        *x = y + a * (*x - y);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `D(u) = c` (a constant): `u(t) = c + (u0 − c) e^{−t/τ}` exactly;
    /// energy `½ Σ (u − c)²`.
    struct Constant {
        target: Vec<f64>,
        taus: Vec<f64>,
    }

    impl LeakyModel for Constant {
        fn dim(&self) -> usize {
            self.target.len()
        }
        fn taus(&self) -> &[f64] {
            &self.taus
        }
        fn max_dt(&self) -> f64 {
            10.0
        }
        fn drive(&self, _states: &[f64], rows: usize, out: &mut [f64]) {
            for r in 0..rows {
                out[r * self.dim()..(r + 1) * self.dim()].copy_from_slice(&self.target);
            }
        }
        fn energy(&self, state: &[f64], drive: &[f64]) -> Option<f64> {
            Some(
                0.5 * state
                    .iter()
                    .zip(drive)
                    .map(|(x, y)| (x - y).powi(2))
                    .sum::<f64>(),
            )
        }
    }

    #[test]
    fn the_leak_is_integrated_exactly() {
        let model = Constant {
            target: vec![1.0, -2.0],
            taus: vec![1.0, 0.5],
        };
        let opts = FlowOptions::new(0.1, 30, 0.0, Some(10), true).unwrap();
        let out = integrate(&model, &[0.0, 0.0], 1, &opts).unwrap();
        let t: f64 = 3.0;
        let want = [1.0 - (-t).exp(), -2.0 + 2.0 * (-t / 0.5).exp()];
        for (x, y) in out.states.iter().zip(want) {
            assert!((x - y).abs() < 1e-12, "{x} vs {y}");
        }
        assert_eq!(out.outcomes[0].steps, 30);
        assert!(!out.outcomes[0].converged);
        assert_eq!(out.records, 4);
        assert_eq!(out.outcomes[0].trace.len(), 4);
        assert!(out.outcomes[0].trace.windows(2).all(|w| w[1] < w[0]));
        assert_eq!(&out.trajectory[..2], &[0.0, 0.0]);
    }

    #[test]
    fn a_state_stops_at_the_tolerance_and_rows_are_independent() {
        let model = Constant {
            target: vec![1.0],
            taus: vec![1.0],
        };
        let opts = FlowOptions::new(0.5, 1000, 1e-3, Some(1), false).unwrap();
        let init: Vec<f64> = (0..200).map(|i| i as f64 / 10.0).collect();
        let all = integrate(&model, &init, 200, &opts).unwrap();
        for (r, &x0) in init.iter().enumerate() {
            let one = integrate(&model, &[x0], 1, &opts).unwrap();
            assert_eq!(one.states[0], all.states[r]);
            assert_eq!(one.outcomes[0], all.outcomes[r]);
            let o = &one.outcomes[0];
            assert!(o.converged && o.rate <= 1e-3);
        }
        // u0 = 1 is the fixed point: stops at once.
        assert_eq!(all.outcomes[10].steps, 0);
    }

    /// `D(u) = W u` for a symmetric coupling of two components: a held
    /// component stays, the free one relaxes to its drive from the held one.
    struct Pair;

    impl LeakyModel for Pair {
        fn dim(&self) -> usize {
            2
        }
        fn taus(&self) -> &[f64] {
            &[1.0, 1.0]
        }
        fn max_dt(&self) -> f64 {
            1.0
        }
        fn drive(&self, states: &[f64], rows: usize, out: &mut [f64]) {
            for r in 0..rows {
                out[2 * r] = 0.5 * states[2 * r + 1];
                out[2 * r + 1] = 0.5 * states[2 * r];
            }
        }
        fn energy(&self, state: &[f64], _drive: &[f64]) -> Option<f64> {
            Some(0.5 * (state[0] * state[0] + state[1] * state[1]) - 0.5 * state[0] * state[1])
        }
    }

    #[test]
    fn clamped_components_keep_their_values_and_rows_are_independent() {
        let opts = FlowOptions::new(0.25, 2000, 1e-10, Some(5), true).unwrap();
        let init: Vec<f64> = (0..2 * 300).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
        // Row r holds component r % 3 (2: none held).
        let masks: Vec<u64> = (0..300).map(|r| [1u64, 2, 0][r % 3]).collect();
        let all = integrate_clamped(&Pair, &init, 300, &opts, Clamp::PerRow(&masks)).unwrap();
        for r in 0..300 {
            let (u0, u) = (&init[2 * r..2 * r + 2], &all.states[2 * r..2 * r + 2]);
            let o = &all.outcomes[r];
            assert!(o.converged, "row {r}");
            match r % 3 {
                0 => {
                    assert_eq!(u[0], u0[0]);
                    assert!((u[1] - 0.5 * u0[0]).abs() < 1e-9);
                }
                1 => {
                    assert_eq!(u[1], u0[1]);
                    assert!((u[0] - 0.5 * u0[1]).abs() < 1e-9);
                }
                _ => assert!(u[0].abs() < 1e-9 && u[1].abs() < 1e-9),
            }
            // The trajectory holds the clamped component at every record.
            let t = &all.trajectory[r * all.records * 2..(r + 1) * all.records * 2];
            for rec in t.chunks_exact(2).take(o.steps as usize / 5 + 1) {
                if r % 3 < 2 {
                    assert_eq!(rec[r % 3], u0[r % 3]);
                }
            }
            // The energy descends along the clamped flow.
            assert!(o.trace.windows(2).all(|w| w[1] <= w[0] + 1e-12));
            // Alone, with its own mask shared, the row runs the same.
            let one =
                integrate_clamped(&Pair, u0, 1, &opts, Clamp::Shared(&masks[r..r + 1])).unwrap();
            assert_eq!(one.states, u);
            assert_eq!(one.outcomes[0], *o);
        }
        // An empty mask is no clamp.
        let free = integrate(&Pair, &init[..2], 1, &opts).unwrap();
        let empty = integrate_clamped(&Pair, &init[..2], 1, &opts, Clamp::Shared(&[0])).unwrap();
        assert_eq!(free.states, empty.states);
        assert_eq!(free.outcomes, empty.outcomes);
        // Masks of the wrong size are refused.
        for bad in [Clamp::Shared(&[0, 0]), Clamp::PerRow(&[1])] {
            assert!(matches!(
                integrate_clamped(&Pair, &init[..4], 2, &opts, bad),
                Err(Error::Shape(_))
            ));
        }
    }

    #[test]
    fn hold_replaces_exactly_the_masked_components() {
        let u: Vec<f64> = (0..130).map(|i| i as f64).collect();
        let d: Vec<f64> = (0..130).map(|i| -(i as f64) - 0.5).collect();
        for mask in [
            [u64::MAX, 0, 0b10],
            [0, u64::MAX, 0],
            [0x8000_0000_0000_0001, 5, 0],
        ] {
            let mut out = vec![0.0; 130];
            hold(&mut out, &u, &d, &mask);
            for i in 0..130 {
                let held = (mask[i / 64] >> (i % 64)) & 1 == 1;
                assert_eq!(out[i], if held { u[i] } else { d[i] }, "{i}");
            }
        }
    }

    #[test]
    fn bad_input_is_refused() {
        let model = Constant {
            target: vec![1.0],
            taus: vec![1.0],
        };
        let opts = FlowOptions::new(0.5, 10, 0.0, None, false).unwrap();
        assert!(matches!(
            integrate(&model, &[0.0, 1.0], 1, &opts),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            integrate(&model, &[f64::NAN], 1, &opts),
            Err(Error::Value(_))
        ));
        let big = FlowOptions::new(20.0, 10, 0.0, None, false).unwrap();
        assert!(matches!(
            integrate(&model, &[0.0], 1, &big),
            Err(Error::Value(_))
        ));
        assert!(FlowOptions::new(0.0, 1, 0.0, None, false).is_err());
        assert!(FlowOptions::new(f64::NAN, 1, 0.0, None, false).is_err());
        assert!(FlowOptions::new(0.1, 1, -1.0, None, false).is_err());
        assert!(FlowOptions::new(0.1, 1, 0.0, Some(0), false).is_err());
        assert!(FlowOptions::new(0.1, 1, 0.0, None, true).is_err());
    }
}
