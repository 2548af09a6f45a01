//! The binary energy models over bit-packed ±1 states, one file (or
//! folder) each. Every one implements the engine's
//! [`EnergyModel`](crate::engine::energy::EnergyModel) and depends on the
//! engine's data and contract only, never on a driver.
//!
//! * [`hebbian`]: the classical network with Hebbian weights, factored
//!   through the packed patterns (no N×N matrix), with its specialised
//!   Glauber sweep;
//! * [`weights`]: an explicit weight matrix on an exact grid (learning
//!   rules, `from_weights`, Ising problems, sequences), its first fields by
//!   [`subset_sums`];
//! * [`diluted`]: Hebbian weights on sparse, seeded, symmetric connectivity;
//! * [`dense`]: dense associative memories (polynomial and exponential),
//!   their decisions as [`masked`] sums, a synchronous block's as exact
//!   float32 [`signed_sums`].

pub mod dense;
pub mod diluted;
pub mod hebbian;
pub mod masked;
pub mod signed_sums;
pub mod subset_sums;
pub mod weights;

pub use dense::{Dense, Interaction, PreparedDense};
pub use diluted::Diluted;
pub use hebbian::{Hebbian, HebbianLanes, PreparedHebbian};
pub use weights::Weights;
