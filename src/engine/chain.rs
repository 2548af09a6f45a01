//! One Markov chain (or one stochastic retrieval) as data: its state, the
//! model's cache for it, and its random streams.
//!
//! Sweeps continue the streams, so a run split into several calls is the
//! same run. The chain draws its own randomness here (the neuron order and
//! the acceptance thresholds of each sweep); what a sweep does with the
//! model is the Glauber driver's ([`super::glauber`]) or a model's own
//! specialised sweep ([`EnergyModel::glauber_block`](super::energy::EnergyModel::glauber_block)).

use super::accept::threshold;
use super::schedule::Order;
use crate::rng::{self, Purpose, Stream};

/// One chain's state, cache and streams.
pub struct Chain<C> {
    /// The current state, bit-packed.
    pub state: Vec<u64>,
    pub(crate) cache: C,
    pub(crate) order_stream: Option<Stream>,
    pub(crate) accept: Stream,
    /// The current sweep's neuron order.
    pub(crate) order: Vec<u32>,
    /// [`threshold`]s of the current sweep's updates, in update order.
    pub(crate) thresholds: Vec<f64>,
    /// The neurons held at their values (bit-packed, bit set = clamped;
    /// see [`super::clamp`]), `None` when every neuron is free.
    pub(crate) clamp: Option<Vec<u64>>,
}

impl<C> Chain<C> {
    /// The chain of query (or chain) number `index` under `seed`, from
    /// `state` (of `n` neurons) whose cache is `cache`.
    pub fn with_cache(
        state: Vec<u64>,
        cache: C,
        n: usize,
        index: u64,
        seed: u64,
        order: Order,
    ) -> Self {
        Chain {
            state,
            cache,
            order_stream: match order {
                Order::Random => Some(rng::stream(seed, index, Purpose::Order)),
                Order::Sequential => None,
            },
            accept: rng::stream(seed, index, Purpose::Accept),
            order: (0..n as u32).collect(),
            thresholds: vec![0.0; n],
            clamp: None,
        }
    }

    /// The same chain with the neurons of `mask` (bit-packed, bit set =
    /// clamped; `None`: none) held at their values: its sweeps draw the
    /// same orders and uniforms and skip those neurons' updates.
    pub fn clamped(mut self, mask: Option<&[u64]>) -> Self {
        self.clamp = mask.map(<[u64]>::to_vec);
        self
    }

    /// Draws the neuron order of the next sweep (kept for sequential sweeps).
    #[inline(always)]
    pub(crate) fn next_order(&mut self) {
        if let Some(stream) = self.order_stream.as_mut() {
            rng::permutation(stream, &mut self.order);
        }
    }

    /// Draws the neuron order and the acceptance thresholds of the next
    /// sweep at temperature `t` (at `t = 0` the uniforms are drawn unused).
    #[inline(always)]
    pub(crate) fn next_sweep(&mut self, t: f64) {
        self.next_order();
        for z in self.thresholds.iter_mut() {
            let u = rng::uniform(&mut self.accept);
            *z = if t > 0.0 { threshold(u, t) } else { 0.0 };
        }
    }
}
