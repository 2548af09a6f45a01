//! The continuous-time models, one file each. Every one implements the
//! engine's [`LeakyModel`](crate::engine::leaky::LeakyModel) and depends on
//! the engine's contract only, never on its driver
//! ([`flow`](crate::engine::flow)).
//!
//! * [`graded`]: the graded-response network (Hopfield 1984).

pub mod graded;

pub use graded::{Activation, Coupling, Graded};
