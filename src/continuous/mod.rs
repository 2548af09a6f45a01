//! The continuous-time models, one file each. Each implements a contract
//! of the engine ([`LeakyModel`](crate::engine::leaky::LeakyModel), or
//! [`SpikingModel`](crate::engine::lif::SpikingModel) for spiking neurons)
//! and depends on the contracts only, never on a driver
//! ([`flow`](crate::engine::flow), [`events`](crate::engine::events)).
//!
//! * [`graded`]: the graded-response network (Hopfield 1984);
//! * [`hidden`]: the hidden-neuron memory (Krotov & Hopfield 2021);
//! * [`spiking`]: leaky integrate-and-fire neurons.

pub mod graded;
pub mod hidden;
pub mod spiking;

pub use graded::{Activation, Coupling, Graded};
pub use hidden::{FeatureLagrangian, HiddenLagrangian, HiddenMemory};
pub use spiking::Spiking;
