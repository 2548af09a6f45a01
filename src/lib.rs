//! # hopfield
//!
//! Fast associative memories. Stored patterns and states are bit-packed ±1
//! rows ([`spins::SpinMatrix`]); every binary model is an energy
//! ([`model::EnergyModel`]) over which one dynamics engine
//! ([`dynamics`]) runs asynchronous or synchronous descent, for a batch of
//! queries in parallel ([`batch`]).
//!
//! The core is plain Rust: the Python bindings live behind the `python`
//! feature in `src/python/`, so `cargo test` needs no interpreter.

pub mod accept;
pub mod batch;
pub mod dynamics;
pub mod error;
pub mod kernels;
pub mod model;
pub mod modern;
pub mod rng;
pub mod rules;
pub mod simd;
pub mod spins;
pub mod stochastic;

#[cfg(test)]
mod proptests;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
pub use spins::SpinMatrix;
