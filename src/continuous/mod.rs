//! The continuous-time models, one file each. Every one implements the
//! engine's [`LeakyModel`](crate::engine::leaky::LeakyModel) and depends on
//! the engine's contract only, never on its driver
//! ([`flow`](crate::engine::flow)).
//!
//! * [`graded`]: the graded-response network (Hopfield 1984);
//! * [`hidden`]: the hidden-neuron memory (Krotov & Hopfield 2021).

pub mod graded;
pub mod hidden;

pub use graded::{Activation, Coupling, Graded};
pub use hidden::{FeatureLagrangian, HiddenLagrangian, HiddenMemory};
