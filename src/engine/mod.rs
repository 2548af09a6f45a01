//! The dynamics engine, in one place.
//!
//! From the bottom up (a file imports only files above it in this list):
//!
//! * [`schedule`]: what a run is asked to do and what it reports (update,
//!   order, temperature, schedule, sampling plan, outcome): data, checked
//!   when built;
//! * [`accept`]: the Glauber acceptance rule and its exact integer table;
//! * [`chain`]: one Markov chain's state, cache and random streams (data);
//! * [`clamp`]: which neurons a run holds at their query values (data);
//! * [`energy`]: the [`EnergyModel`](energy::EnergyModel) trait, the
//!   contract every binary model implements (models depend on the files
//!   above, never on a driver);
//! * [`leaky`]: the [`LeakyModel`](leaky::LeakyModel) trait and the
//!   options and outcome of continuous-time runs (data and a contract);
//! * [`lif`]: the [`SpikingModel`](lif::SpikingModel) trait, the neuron
//!   parameters, options, readout and outcome of spiking runs (data and a
//!   contract);
//! * [`descent`]: deterministic asynchronous and synchronous drivers;
//! * [`glauber`]: stochastic drivers (annealing, quench, sampling);
//! * [`batch`]: the rayon batch executor and the thread pools;
//! * [`flow`]: the continuous-time driver (exponential Euler over blocks
//!   of states);
//! * [`events`]: the spiking driver (exact integration between spikes,
//!   spikes delivered as events).

pub mod accept;
pub mod batch;
pub mod chain;
pub mod clamp;
pub mod descent;
pub mod energy;
pub mod events;
pub mod flow;
pub mod glauber;
pub mod leaky;
pub mod lif;
pub mod schedule;
