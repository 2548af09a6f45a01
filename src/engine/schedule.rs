//! What a run is asked to do and what it reports: plain data, shared by the
//! drivers, the models and the bindings.
//!
//! A [`Schedule`] or a [`Sampling`] plan is checked once, when it is built,
//! so every one that exists is valid and the drivers take it on trust. The
//! invariants a type can carry are carried by types (`NonZeroU32` sweep
//! counts); the constructors check the rest (finite temperatures, stochastic
//! dynamics being asynchronous).

use std::num::NonZeroU32;
use std::sync::Arc;

use crate::error::{Error, Result};

/// Which neurons move together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Update {
    /// One neuron at a time.
    Async,
    /// All neurons from the same snapshot.
    Sync,
}

/// The neuron order of asynchronous sweeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// A fresh uniform permutation per sweep, from the query's own stream.
    Random,
    /// 0, 1, …, N−1 every sweep.
    Sequential,
}

/// The temperature of every sweep of a run.
#[derive(Debug, Clone, PartialEq)]
pub enum Temperature {
    /// Deterministic descent (run to convergence, at most `max_sweeps`).
    Zero,
    /// `sweeps` sweeps at temperature `t > 0`.
    Constant {
        /// The temperature.
        t: f64,
        /// Number of sweeps.
        sweeps: NonZeroU32,
    },
    /// `T_k = start · (end/start)^(k/(sweeps−1))`, `k = 0..sweeps` (both `> 0`).
    Geometric {
        /// Temperature of the first sweep.
        start: f64,
        /// Temperature of the last sweep.
        end: f64,
        /// Number of sweeps.
        sweeps: NonZeroU32,
    },
    /// `T_k = start + (end − start)·k/(sweeps−1)` (both `≥ 0`).
    Linear {
        /// Temperature of the first sweep.
        start: f64,
        /// Temperature of the last sweep.
        end: f64,
        /// Number of sweeps.
        sweeps: NonZeroU32,
    },
    /// One temperature per sweep, each `≥ 0`; at least one, fewer than 2³².
    PerSweep(Arc<[f64]>),
}

impl Temperature {
    /// Whether this is deterministic descent.
    pub fn is_zero(&self) -> bool {
        matches!(self, Temperature::Zero)
    }

    /// The temperature of a run that holds one (sampling, a constant
    /// temperature): worth precomputing for.
    pub fn held(&self) -> Option<f64> {
        match self {
            Temperature::Constant { t, .. } => Some(*t),
            _ => None,
        }
    }

    /// Number of stochastic sweeps (0 for [`Temperature::Zero`]).
    pub fn sweeps(&self) -> u32 {
        match self {
            Temperature::Zero => 0,
            Temperature::Constant { sweeps, .. }
            | Temperature::Geometric { sweeps, .. }
            | Temperature::Linear { sweeps, .. } => sweeps.get(),
            Temperature::PerSweep(ts) => ts.len() as u32,
        }
    }

    /// The temperature of sweep `k` (0-based, `k < sweeps()`).
    #[inline]
    pub fn at(&self, k: u32) -> f64 {
        let frac = |sweeps: NonZeroU32| {
            if sweeps.get() == 1 {
                0.0
            } else {
                k as f64 / (sweeps.get() - 1) as f64
            }
        };
        match self {
            Temperature::Zero => 0.0,
            Temperature::Constant { t, .. } => *t,
            Temperature::Geometric { start, end, sweeps } => {
                start * (end / start).powf(frac(*sweeps))
            }
            Temperature::Linear { start, end, sweeps } => start + (end - start) * frac(*sweeps),
            Temperature::PerSweep(ts) => ts[k as usize],
        }
    }

    /// All per-sweep temperatures.
    pub fn values(&self) -> Vec<f64> {
        (0..self.sweeps()).map(|k| self.at(k)).collect()
    }

    /// Checks the temperatures.
    ///
    /// # Errors
    /// `Value` naming what is wrong: a temperature that is negative or not
    /// finite, a constant or geometric one that is not positive, an empty
    /// per-sweep schedule or one of 2³² sweeps or more.
    fn check(&self) -> Result<()> {
        match self {
            Temperature::Zero => Ok(()),
            Temperature::Constant { t, .. } => {
                finite("temperature", *t, false)?;
                if *t == 0.0 {
                    return Err(Error::Value(
                        "a constant temperature must be > 0 (zero is deterministic descent)".into(),
                    ));
                }
                Ok(())
            }
            Temperature::Geometric { start, end, .. } => {
                finite("schedule's T0", *start, true)?;
                finite("schedule's T1", *end, true)
            }
            Temperature::Linear { start, end, .. } => {
                finite("schedule's T0", *start, false)?;
                finite("schedule's T1", *end, false)
            }
            Temperature::PerSweep(ts) => {
                if ts.is_empty() {
                    return Err(Error::Value(
                        "schedule must be a non-empty 1-D array (one temperature per sweep), \
                         got shape (0,)"
                            .into(),
                    ));
                }
                if ts.len() > u32::MAX as usize {
                    return Err(Error::Value(format!(
                        "schedule may have at most 2**32 - 1 sweeps, got {}",
                        ts.len()
                    )));
                }
                match ts.iter().position(|t| !t.is_finite() || *t < 0.0) {
                    Some(k) => Err(Error::Value(format!(
                        "schedule temperatures must be finite and >= 0; found {:?} at {k}",
                        ts[k]
                    ))),
                    None => Ok(()),
                }
            }
        }
    }
}

/// `Ok` when `t` is a finite temperature `>= 0` (`> 0` when `positive`).
fn finite(name: &str, t: f64, positive: bool) -> Result<()> {
    if t.is_finite() && t >= 0.0 && !(positive && t == 0.0) {
        return Ok(());
    }
    let want = if positive { "> 0" } else { ">= 0" };
    Err(Error::Value(format!(
        "{name} must be a finite temperature {want}, got {t:?}"
    )))
}

/// How to run a retrieval: checked when built (see [`Schedule::new`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    update: Update,
    order: Order,
    max_sweeps: NonZeroU32,
    seed: u64,
    track_energy: bool,
    temperature: Temperature,
    quench: bool,
}

impl Schedule {
    /// A run of `update` dynamics in `order` from the streams of `seed`.
    ///
    /// With [`Temperature::Zero`], deterministic descent of at most
    /// `max_sweeps` sweeps (async) or steps (sync). Otherwise the fixed
    /// number of stochastic (Glauber) sweeps of `temperature`, always
    /// asynchronous, followed with `quench` by deterministic async sweeps
    /// until one flips nothing (at most `max_sweeps`).
    ///
    /// # Errors
    /// `Value` when a temperature is invalid ([`Temperature`]'s rules), or a
    /// stochastic run asks for synchronous updates.
    pub fn new(
        update: Update,
        order: Order,
        max_sweeps: NonZeroU32,
        seed: u64,
        temperature: Temperature,
        quench: bool,
    ) -> Result<Self> {
        temperature.check()?;
        if !temperature.is_zero() && update == Update::Sync {
            return Err(Error::Value(
                "stochastic (temperature > 0 or schedule=) dynamics are asynchronous: \
                 use update='async', got update='sync'"
                    .into(),
            ));
        }
        Ok(Schedule {
            update,
            order,
            max_sweeps,
            seed,
            track_energy: false,
            temperature,
            quench,
        })
    }

    /// Deterministic descent (no temperature, no quench): always valid.
    pub fn deterministic(update: Update, order: Order, max_sweeps: NonZeroU32, seed: u64) -> Self {
        Schedule {
            update,
            order,
            max_sweeps,
            seed,
            track_energy: false,
            temperature: Temperature::Zero,
            quench: false,
        }
    }

    /// The same schedule, recording the energy after every sweep or not.
    pub fn tracking_energy(mut self, track: bool) -> Self {
        self.track_energy = track;
        self
    }

    /// Async or sync.
    pub fn update(&self) -> Update {
        self.update
    }

    /// Async neuron order.
    pub fn order(&self) -> Order {
        self.order
    }

    /// Most deterministic sweeps (async) or steps (sync), also the cap of a
    /// quench.
    pub fn max_sweeps(&self) -> u32 {
        self.max_sweeps.get()
    }

    /// The seed from which every query's streams derive.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Whether the energy is recorded after every sweep.
    pub fn track_energy(&self) -> bool {
        self.track_energy
    }

    /// The temperature of each stochastic sweep ([`Temperature::Zero`]:
    /// deterministic descent).
    pub fn temperature(&self) -> &Temperature {
        &self.temperature
    }

    /// Whether stochastic sweeps end in a deterministic descent.
    pub fn quench(&self) -> bool {
        self.quench
    }

    /// Whether the run is stochastic (a temperature other than zero).
    pub fn is_stochastic(&self) -> bool {
        !self.temperature.is_zero()
    }
}

/// How to sample the Boltzmann distribution at a held temperature: per
/// chain `burn_in` sweeps, then `n_samples` samples, one every `thin`
/// sweeps (the first after sweep `burn_in + thin`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    temperature: f64,
    burn_in: u32,
    n_samples: NonZeroU32,
    thin: NonZeroU32,
    order: Order,
    seed: u64,
}

impl Sampling {
    /// A sampling plan; chain `c` draws from the streams of `(seed, c)`.
    ///
    /// # Errors
    /// `Value` when `temperature` is not a finite number `> 0`.
    pub fn new(
        temperature: f64,
        burn_in: u32,
        n_samples: NonZeroU32,
        thin: NonZeroU32,
        order: Order,
        seed: u64,
    ) -> Result<Self> {
        if !(temperature.is_finite() && temperature > 0.0) {
            return Err(Error::Value(format!(
                "temperature must be a finite number > 0, got {temperature:?}"
            )));
        }
        Ok(Sampling {
            temperature,
            burn_in,
            n_samples,
            thin,
            order,
            seed,
        })
    }

    /// The temperature sampled at.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// Sweeps discarded before the first sample.
    pub fn burn_in(&self) -> u32 {
        self.burn_in
    }

    /// Samples per chain.
    pub fn n_samples(&self) -> u32 {
        self.n_samples.get()
    }

    /// Sweeps between samples.
    pub fn thin(&self) -> u32 {
        self.thin.get()
    }

    /// Neuron order of each sweep.
    pub fn order(&self) -> Order {
        self.order
    }

    /// The seed of every chain's streams.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// What happened to one query.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Reached a state that a further sweep leaves unchanged. For a
    /// stochastic run: the final state is a fixed point of deterministic
    /// dynamics (no neuron's gap disagrees with it).
    pub converged: bool,
    /// Sync only: stopped on a 2-cycle.
    pub cycled: bool,
    /// Sweeps (or sync steps) run, including the last, unchanged one. For a
    /// stochastic run: its fixed number of sweeps plus those of the quench.
    pub sweeps: u32,
    /// Energy of the final state.
    pub energy: f64,
    /// With `track_energy`: the initial energy, then one per sweep.
    pub trace: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sweeps(k: u32) -> NonZeroU32 {
        NonZeroU32::new(k).unwrap()
    }

    #[test]
    fn schedules_give_their_end_points() {
        let g = Temperature::Geometric {
            start: 4.0,
            end: 0.25,
            sweeps: sweeps(5),
        };
        assert_eq!(g.values(), vec![4.0, 2.0, 1.0, 0.5, 0.25]);
        let l = Temperature::Linear {
            start: 2.0,
            end: 0.0,
            sweeps: sweeps(3),
        };
        assert_eq!(l.values(), vec![2.0, 1.0, 0.0]);
        let c = Temperature::Constant {
            t: 1.5,
            sweeps: sweeps(1),
        };
        assert_eq!(c.values(), vec![1.5]);
        assert_eq!(c.held(), Some(1.5));
        assert_eq!(l.held(), None);
    }

    #[test]
    fn invalid_temperatures_are_refused_when_a_schedule_is_built() {
        let build = |temperature: Temperature| {
            Schedule::new(
                Update::Async,
                Order::Random,
                sweeps(10),
                0,
                temperature,
                false,
            )
        };
        let refused = [
            Temperature::Constant {
                t: 0.0,
                sweeps: sweeps(1),
            },
            Temperature::Constant {
                t: f64::INFINITY,
                sweeps: sweeps(1),
            },
            Temperature::PerSweep(Arc::from(vec![1.0, f64::NAN])),
            Temperature::PerSweep(Arc::from(vec![1.0, -1.0])),
            Temperature::PerSweep(Arc::from(Vec::new())),
            Temperature::Geometric {
                start: 1.0,
                end: 0.0,
                sweeps: sweeps(2),
            },
            Temperature::Linear {
                start: -1.0,
                end: 0.0,
                sweeps: sweeps(2),
            },
        ];
        for t in refused {
            assert!(matches!(build(t.clone()), Err(Error::Value(_))), "{t:?}");
        }
        assert!(build(Temperature::PerSweep(Arc::from(vec![1.0, 0.0]))).is_ok());
        let sync = Schedule::new(
            Update::Sync,
            Order::Random,
            sweeps(3),
            0,
            Temperature::Constant {
                t: 1.0,
                sweeps: sweeps(1),
            },
            false,
        );
        match sync {
            Err(Error::Value(msg)) => assert!(msg.contains("asynchronous"), "{msg}"),
            other => panic!("expected a Value error, got {other:?}"),
        }
    }

    #[test]
    fn sampling_needs_a_positive_temperature() {
        let plan = |t: f64| Sampling::new(t, 0, sweeps(1), sweeps(1), Order::Random, 0);
        assert!(plan(0.5).is_ok());
        for t in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(plan(t), Err(Error::Value(_))), "{t}");
        }
    }
}
