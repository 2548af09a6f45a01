//! # hopfield
//!
//! Fast associative memories. Stored patterns and states are bit-packed ±1
//! rows ([`spins::SpinMatrix`]); every binary model ([`model`]) is an energy
//! ([`engine::energy::EnergyModel`]) over which one dynamics engine
//! ([`engine`]) runs asynchronous or synchronous descent, stochastic
//! (Glauber) sweeps, annealing and sampling, for a batch of queries in
//! parallel ([`engine::batch`]). The continuous modern Hopfield network
//! ([`modern`]) is its own, GEMM-shaped kernel.
//!
//! The modules, from the bottom up: [`error`]; [`simd`], [`kernels`],
//! [`spins`], [`rng`], [`gemm`]; [`engine`]; [`model`], [`continuous`]; [`rules`]; [`modern`]. A
//! module imports only modules before it in that list.
//!
//! The core is plain Rust: the Python bindings live behind the `python`
//! feature in `src/python/`, so `cargo test` needs no interpreter.

pub mod continuous;
pub mod engine;
pub mod error;
pub mod gemm;
pub mod kernels;
pub mod model;
pub mod modern;
pub mod par;
pub mod rng;
pub mod rules;
pub mod simd;
pub mod spins;

#[cfg(test)]
mod layers;
#[cfg(test)]
mod proptests;

#[cfg(feature = "python")]
mod python;

pub use error::{Error, Result};
pub use spins::SpinMatrix;
