//! The options of `retrieve` and `sample`, parsed and checked once, here,
//! into typed objects: [`RetrieveOptions`] (the engine's [`Schedule`] and a
//! thread count) and [`SampleOptions`] (a [`Sampling`] plan, a thread count
//! and a number of chains). The Python package passes its users' keyword
//! arguments through unchanged; every layer below trusts these objects.
//!
//! Conversion of Python values is here ([`super::args`]); the rules on the
//! values themselves (finite temperatures, stochastic runs being
//! asynchronous) are the core's constructors', so each rule is checked in
//! one place.

use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::Arc;

use numpy::{PyArray1, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString, PyTuple};

use super::args;
use crate::engine::schedule::{Order, Sampling, Schedule, Temperature, Update};
use crate::error::{Error, Result};

/// Sweeps of a stochastic run when neither `sweeps` nor an array schedule says.
const DEFAULT_SWEEPS: NonZeroU32 = NonZeroU32::new(100).unwrap();

/// The validated options of a binary model's `retrieve`.
#[pyclass(frozen, name = "RetrieveOptions", module = "hopfield._core")]
pub struct RetrieveOptions {
    /// What the engine runs.
    pub schedule: Schedule,
    /// The pool to run it on (`None`: the default).
    pub threads: Option<NonZeroUsize>,
    /// The global index of the batch's first row: row `r` draws the streams
    /// of query `first_row + r`, so a batch cut into parts (one per machine)
    /// gives the rows the same results as the whole batch.
    pub first_row: u64,
}

fn update_of(value: &Bound<'_, PyAny>) -> Result<Update> {
    Ok([Update::Async, Update::Sync][args::choice(value, "update", &["async", "sync"])?])
}

fn order_of(value: &Bound<'_, PyAny>) -> Result<Order> {
    Ok(
        [Order::Random, Order::Sequential]
            [args::choice(value, "order", &["random", "sequential"])?],
    )
}

/// `sweeps` as a count of stochastic sweeps (`None`: the default).
fn sweeps_of(value: &Bound<'_, PyAny>) -> Result<Option<NonZeroU32>> {
    if value.is_none() {
        return Ok(None);
    }
    args::positive32(value, "sweeps").map(Some)
}

/// The temperature plan of `temperature`, `sweeps` and `schedule` (see
/// `RetrieveOptions.__new__`). The values are checked by [`Schedule::new`].
fn temperature_of(
    temperature: &Bound<'_, PyAny>,
    sweeps: &Bound<'_, PyAny>,
    schedule: &Bound<'_, PyAny>,
) -> Result<Temperature> {
    let count = sweeps_of(sweeps)?;
    let default = || count.unwrap_or(DEFAULT_SWEEPS);
    if !schedule.is_none() {
        let zero = args::real(temperature, "temperature").is_ok_and(|t| t == 0.0);
        if !zero {
            return Err(Error::Value(
                "give either temperature= or schedule=, not both".into(),
            ));
        }
        if let Some(annealing) = named_schedule(schedule, default())? {
            return Ok(annealing);
        }
        let ts = per_sweep(schedule)?;
        if let Some(count) = count {
            if count.get() as usize != ts.len() {
                return Err(Error::Value(format!(
                    "sweeps={count} disagrees with the schedule's {} temperatures \
                     (leave sweeps=None with an array schedule)",
                    ts.len()
                )));
            }
        }
        return Ok(Temperature::PerSweep(Arc::from(ts)));
    }
    let t = args::real(temperature, "temperature")?;
    if t == 0.0 {
        if count.is_some() {
            return Err(Error::Value(
                "sweeps= sets the length of a stochastic run (temperature > 0 or schedule=); \
                 deterministic runs stop on convergence, capped by max_sweeps"
                    .into(),
            ));
        }
        return Ok(Temperature::Zero);
    }
    Ok(Temperature::Constant {
        t,
        sweeps: default(),
    })
}

/// A `("geometric" | "linear", T0, T1)` schedule of `sweeps` sweeps;
/// `None` when `schedule` is no tuple or list starting with a string (then
/// it is an array of temperatures).
fn named_schedule(schedule: &Bound<'_, PyAny>, sweeps: NonZeroU32) -> Result<Option<Temperature>> {
    let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = schedule.cast::<PyTuple>() {
        t.iter().collect()
    } else if let Ok(l) = schedule.cast::<PyList>() {
        l.iter().collect()
    } else {
        return Ok(None);
    };
    let Some(kind) = items.first().and_then(|k| k.cast::<PyString>().ok()) else {
        return Ok(None);
    };
    let kind = kind.to_str().unwrap_or("");
    match (kind, &items[..]) {
        ("geometric", [_, t0, t1]) => Ok(Some(Temperature::Geometric {
            start: args::real(t0, "schedule's T0")?,
            end: args::real(t1, "schedule's T1")?,
            sweeps,
        })),
        ("linear", [_, t0, t1]) => Ok(Some(Temperature::Linear {
            start: args::real(t0, "schedule's T0")?,
            end: args::real(t1, "schedule's T1")?,
            sweeps,
        })),
        _ => {
            let got = schedule
                .repr()
                .map_or_else(|_| "?".to_string(), |r| r.to_string());
            Err(Error::Value(format!(
                "schedule must be ('geometric', T0, T1), ('linear', T0, T1) or a 1-D array \
                 of per-sweep temperatures; got {got}"
            )))
        }
    }
}

/// An array-like of per-sweep temperatures as float64 values.
fn per_sweep(schedule: &Bound<'_, PyAny>) -> Result<Vec<f64>> {
    let py = schedule.py();
    let numpy = py
        .import(intern!(py, "numpy"))
        .map_err(|e| Error::Value(e.to_string()))?;
    let raw = numpy
        .call_method1(intern!(py, "asarray"), (schedule,))
        .map_err(|_| Error::Type("schedule must be a tuple or an array of temperatures".into()))?;
    let dtype = raw
        .getattr(intern!(py, "dtype"))
        .map_err(|e| Error::Type(e.to_string()))?;
    let kind: String = dtype
        .getattr(intern!(py, "kind"))
        .and_then(|k| k.extract())
        .map_err(|e| Error::Type(e.to_string()))?;
    if !"iuf".contains(kind.as_str()) || kind.is_empty() {
        let name = dtype
            .str()
            .map_or_else(|_| "?".to_string(), |s| s.to_string());
        return Err(Error::Type(format!(
            "schedule must be an array of real temperatures, got dtype {name}"
        )));
    }
    let floats = raw
        .call_method1(intern!(py, "astype"), ("float64",))
        .map_err(|e| Error::Type(e.to_string()))?;
    let array: PyReadonlyArrayDyn<'_, f64> = floats
        .extract()
        .map_err(|_| Error::Type("schedule must be an array of real temperatures".into()))?;
    let shape = array.shape();
    if shape.len() != 1 || shape[0] == 0 {
        let dims = shape.iter().map(|d| d.to_string()).collect::<Vec<_>>();
        let shape = match dims.len() {
            1 => format!("({},)", dims[0]),
            _ => format!("({})", dims.join(", ")),
        };
        return Err(Error::Value(format!(
            "schedule must be a non-empty 1-D array (one temperature per sweep), got shape {shape}"
        )));
    }
    Ok(array.as_array().iter().copied().collect())
}

#[pymethods]
impl RetrieveOptions {
    /// Parses and checks `retrieve`'s options (see
    /// `hopfield.HopfieldNetwork.retrieve` for their meaning); raises
    /// `ValueError`/`TypeError` naming the offending argument. `seed=None`
    /// draws a fresh seed; `quench` ends stochastic runs in a descent;
    /// `first_row` is the global index of the batch's first row (its random
    /// streams are those of query `first_row + r`).
    #[new]
    #[pyo3(signature = (
        *, update, max_sweeps, order, seed, threads, track_energy,
        temperature, sweeps, schedule, quench = false, first_row = None
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        update: &Bound<'_, PyAny>,
        max_sweeps: &Bound<'_, PyAny>,
        order: &Bound<'_, PyAny>,
        seed: &Bound<'_, PyAny>,
        threads: &Bound<'_, PyAny>,
        track_energy: &Bound<'_, PyAny>,
        temperature: &Bound<'_, PyAny>,
        sweeps: &Bound<'_, PyAny>,
        schedule: &Bound<'_, PyAny>,
        quench: bool,
        first_row: Option<&Bound<'_, PyAny>>,
    ) -> Result<Self> {
        let temperature = temperature_of(temperature, sweeps, schedule)?;
        let update = update_of(update)?;
        let order = order_of(order)?;
        let max_sweeps = args::positive32(max_sweeps, "max_sweeps")?;
        let seed = args::seed(seed)?;
        let threads = args::threads(threads)?;
        let first_row = match first_row {
            Some(k) if !k.is_none() => args::count(k, "first_row", 0, 63)?,
            _ => 0,
        };
        let track_energy = track_energy
            .is_truthy()
            .map_err(|e| Error::Type(format!("track_energy: {e}")))?;
        let schedule = Schedule::new(update, order, max_sweeps, seed, temperature, quench)?
            .tracking_energy(track_energy);
        Ok(RetrieveOptions {
            schedule,
            threads,
            first_row,
        })
    }

    /// The seed every query's streams derive from (drawn when `seed=None`).
    #[getter]
    fn seed(&self) -> u64 {
        self.schedule.seed()
    }

    /// The global index of the batch's first row (0 unless given).
    #[getter]
    fn first_row(&self) -> u64 {
        self.first_row
    }

    /// The temperature of every stochastic sweep, float64 (sweeps,) (empty
    /// for deterministic descent).
    fn temperatures<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f64>> {
        PyArray1::from_vec(py, self.schedule.temperature().values())
    }

    fn __repr__(&self) -> String {
        format!(
            "{:?}, threads={:?}, first_row={}",
            self.schedule, self.threads, self.first_row
        )
    }
}

/// The validated options of `hopfield.sample`.
#[pyclass(frozen, name = "SampleOptions", module = "hopfield._core")]
pub struct SampleOptions {
    /// What the engine runs.
    pub plan: Sampling,
    /// The pool to run it on (`None`: the default).
    pub threads: Option<NonZeroUsize>,
    /// Number of chains, when given.
    pub chains: Option<NonZeroU32>,
}

#[pymethods]
impl SampleOptions {
    /// Parses and checks `sample`'s options (see `hopfield.sample`); raises
    /// `ValueError`/`TypeError` naming the offending argument.
    #[new]
    #[pyo3(signature = (
        *, temperature, n_samples, burn_in, thin, seed, order, threads, chains
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        temperature: &Bound<'_, PyAny>,
        n_samples: &Bound<'_, PyAny>,
        burn_in: &Bound<'_, PyAny>,
        thin: &Bound<'_, PyAny>,
        seed: &Bound<'_, PyAny>,
        order: &Bound<'_, PyAny>,
        threads: &Bound<'_, PyAny>,
        chains: &Bound<'_, PyAny>,
    ) -> Result<Self> {
        let n_samples = args::positive32(n_samples, "n_samples")?;
        let burn_in = args::count32(burn_in, "burn_in", 0)?;
        let thin = args::positive32(thin, "thin")?;
        let seed = args::seed(seed)?;
        let temperature = args::real(temperature, "temperature")?;
        let chains = match chains.is_none() {
            true => None,
            false => Some(args::positive32(chains, "chains")?),
        };
        let plan = Sampling::new(
            temperature,
            burn_in,
            n_samples,
            thin,
            order_of(order)?,
            seed,
        )?;
        Ok(SampleOptions {
            plan,
            threads: args::threads(threads)?,
            chains,
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "{:?}, threads={:?}, chains={:?}",
            self.plan, self.threads, self.chains
        )
    }
}
