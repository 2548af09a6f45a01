//! The contract between the engine and the energy models.
//!
//! The drivers ([`super::descent`], [`super::glauber`]) need three things
//! of a model, and nothing else: the energy gap of each neuron (which value
//! it prefers, and by how much), how its per-query cache changes when a
//! neuron flips, and the energy. Every binary model implements
//! [`EnergyModel`] and so runs on the same drivers: asynchronous and
//! synchronous descent, stochastic (Glauber) sweeps, annealing and Boltzmann
//! sampling. The optional methods let a model share work across a block of
//! queries ([`caches`](EnergyModel::caches),
//! [`drives_many`](EnergyModel::drives_many)), skip stable neurons
//! ([`unstable_neurons`](EnergyModel::unstable_neurons)) or bring its own
//! specialised Glauber sweep ([`glauber_block`](EnergyModel::glauber_block)),
//! each giving exactly what the generic path gives.
//!
//! This file sits below the drivers: it knows the schedule's data and the
//! chain's, never a driver.

use super::chain::Chain;
use super::schedule::Update;

/// Queries whose async caches are built together ([`EnergyModel::caches`]),
/// unless the model asks for another block size.
pub const ASYNC_BLOCK: usize = 4;

/// Queries a synchronous block advances in lockstep, so that models can
/// share the pattern data of one neuron across the block's field sums.
pub const SYNC_BLOCK: usize = 8;

/// A binary energy model `E(s)` over states of `n()` neurons.
///
/// The drivers are compiled once per instruction-set level (see
/// `simd::multiversion!`); mark `gap` and `flip`
/// `#[inline(always)]` so that they are compiled into each version.
///
/// Implementations keep whatever per-query data makes a single-neuron step
/// cheap in `Cache` (overlaps for pattern-factored models, fields for weight
/// matrices) and update it in [`flip`](EnergyModel::flip).
pub trait EnergyModel: Sync {
    /// Per-query data kept between single-neuron updates.
    type Cache: Send;

    /// Number of neurons.
    fn n(&self) -> usize;

    /// The cache for `state`.
    fn cache(&self, state: &[u64]) -> Self::Cache;

    /// The caches of several states at once (a block of async queries).
    /// Models override it to share work across the block; each cache must
    /// equal what [`cache`](EnergyModel::cache) gives alone.
    #[inline(always)]
    fn caches(&self, states: &[&[u64]]) -> Vec<Self::Cache> {
        // A loop rather than `collect`, whose out-of-line body would not
        // be compiled for the caller's instruction set.
        let mut caches = Vec::with_capacity(states.len());
        for s in states {
            caches.push(self.cache(s));
        }
        caches
    }

    /// The caches of a block of queries about to run asynchronous descent:
    /// what [`caches`](EnergyModel::caches) gives, but a model may also
    /// compute here, for the whole block at once, what every query's first
    /// sweep is sure to need (such as all its fields). Kept apart from
    /// `caches`, which energies and stochastic runs use too, so that those
    /// never pay for it. Each cache must behave exactly as `cache`'s alone.
    #[inline(always)]
    fn descent_caches(&self, states: &[&[u64]]) -> Vec<Self::Cache> {
        self.caches(states)
    }

    /// How many of `rows` queries, run on `threads` threads, a block of
    /// `update` dynamics should hold: an async block builds its caches
    /// together ([`caches`](EnergyModel::caches)), a sync block computes its
    /// drives together ([`drives_many`](EnergyModel::drives_many)). Models
    /// whose blocks share work across many queries ask for more than the
    /// defaults, [`ASYNC_BLOCK`] and [`SYNC_BLOCK`].
    #[inline(always)]
    fn block_size(&self, update: Update, _rows: usize, _threads: usize) -> usize {
        match update {
            Update::Async => ASYNC_BLOCK,
            Update::Sync => SYNC_BLOCK,
        }
    }

    /// `E(s with s_i = −1) − E(s with s_i = +1)`: positive when neuron `i`
    /// prefers +1, negative when it prefers −1, exactly zero on a tie (the
    /// neuron then keeps its state). Models with exact arithmetic compute
    /// it exactly before converting, so the sign is exact.
    fn gap(&self, cache: &Self::Cache, state: &[u64], i: usize) -> f64;

    /// [`gap`](EnergyModel::gap) for a stochastic update, which needs the
    /// value and not only the sign: the same number, but models may bring
    /// their cache up to date first (as `drive` may) so that it is cheap.
    #[inline(always)]
    fn gap_mut(&self, cache: &mut Self::Cache, state: &[u64], i: usize) -> f64 {
        self.gap(cache, state, i)
    }

    /// A number with exactly the sign of [`gap`](EnergyModel::gap) (zero on
    /// ties), for deterministic decisions. Defaults to the gap itself;
    /// models override it when the sign is cheaper than the value, and may
    /// keep what they computed in the cache.
    #[inline(always)]
    fn drive(&self, cache: &mut Self::Cache, state: &[u64], i: usize) -> f64 {
        self.gap(cache, state, i)
    }

    /// Called before every asynchronous sweep with the number of flips of
    /// the previous sweep (`None` before the first), so that a model can
    /// change how it keeps its cache once flips become rare.
    #[inline(always)]
    fn begin_sweep(&self, _cache: &mut Self::Cache, _last_flips: Option<usize>) {}

    /// Marks in `mask` (one bit per neuron, `state.len()` words) the
    /// neurons that a deterministic update would flip now: those whose
    /// drive disagrees with their spin. Returns `false`, leaving `mask`
    /// alone, when the model has no check faster than the decisions
    /// themselves (the default).
    ///
    /// The async driver uses it twice. A sweep from a fixed point (no bit
    /// set) flips nothing whatever its order, so the run ends without drawing
    /// that order. In a sweep that starts with few bits set, a neuron whose
    /// bit is clear would keep its spin until the next flip, so the driver
    /// skips it, and asks again after each flip.
    #[inline(always)]
    fn unstable_neurons(
        &self,
        _cache: &mut Self::Cache,
        _state: &[u64],
        _mask: &mut [u64],
    ) -> bool {
        false
    }

    /// Flips neuron `i` of `state` and brings `cache` up to date.
    fn flip(&self, cache: &mut Self::Cache, state: &mut [u64], i: usize);

    /// [`flip`](EnergyModel::flip) when `flip` is true, else nothing. The
    /// stochastic driver calls this, since its flips are random: models
    /// whose flip is cheap may do it without a branch (a flip by zero when
    /// `flip` is false), which spares a mispredicted branch per random flip.
    #[inline(always)]
    fn flip_if(&self, cache: &mut Self::Cache, state: &mut [u64], i: usize, flip: bool) {
        if flip {
            self.flip(cache, state, i);
        }
    }

    /// One stochastic sweep at temperature `t > 0` of every chain of a
    /// block, by a model's own specialised code: exactly what the generic
    /// sweep ([`sweep_block`](super::glauber::sweep_block)) does, same streams, same
    /// decisions, flips added to `flips`. Returns false (having done
    /// nothing) where the model has none for this case. `repeated`: the
    /// run holds `t` for many sweeps, worth precomputing for.
    #[inline(always)]
    fn glauber_block(
        &self,
        _chains: &mut [Chain<Self::Cache>],
        _t: f64,
        _repeated: bool,
        _flips: &mut [usize],
    ) -> bool {
        false
    }

    /// The energy of `state`.
    fn energy(&self, cache: &Self::Cache, state: &[u64]) -> f64;

    /// All drives of `state` at once, for a synchronous step. Models may
    /// keep fields in the cache and update them incrementally from the flips
    /// made since the previous call.
    #[inline(always)]
    fn drives(&self, cache: &mut Self::Cache, state: &[u64], out: &mut [f64]) {
        for (i, g) in out.iter_mut().enumerate() {
            *g = self.drive(cache, state, i);
        }
    }

    /// For a synchronous step of several queries: each query's neurons
    /// whose drive disagrees with their spin (what
    /// [`drives_many`](EnergyModel::drives_many) and the sign test would
    /// give: ties keep their spin), as bit masks of `state.len()` words.
    /// Returns `false`, having done nothing, where the model has no faster
    /// way than the drives (the default); the caches are then as they were.
    #[inline(always)]
    fn disagreements_many(
        &self,
        _caches: &mut [&mut Self::Cache],
        _states: &[&[u64]],
        _masks: &mut [&mut [u64]],
    ) -> bool {
        false
    }

    /// [`drives`](EnergyModel::drives) for several queries at once (a
    /// synchronous block). Models override it to share work across the
    /// block; each output must equal what `drives` gives alone.
    #[inline(always)]
    fn drives_many(
        &self,
        caches: &mut [&mut Self::Cache],
        states: &[&[u64]],
        outs: &mut [&mut [f64]],
    ) {
        for ((cache, state), out) in caches.iter_mut().zip(states).zip(outs.iter_mut()) {
            self.drives(cache, state, out);
        }
    }
}
