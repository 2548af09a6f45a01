//! The continuous modern Hopfield network (Ramsauer et al. 2020).
//!
//! Keys `K` (`P × d`) and values `V` (`P × d_v`, the keys themselves for
//! auto-association) are float32 rows (float64 in a [`ModernHopfield64`],
//! see below). One update of a query `q` is
//! `Vᵀ softmax(β K q)`; with `V = K` that is `ξ ← Xᵀ softmax(β X ξ)`, the
//! descent on `E(ξ) = −β⁻¹ lse(β, Xξ) + ½ ξ·ξ + β⁻¹ log P + ½ M²`.
//!
//! # The float32 kernel
//!
//! Queries are taken in blocks of [`QUERY_BLOCK`] rows, fewer for a batch
//! too small to give every thread a full block (rayon splits the blocks);
//! the stored patterns in chunks of [`CHUNK`] rows, each streamed in
//! tiles of [`TILE`] rows with an *online softmax*: a running maximum `m`
//! and sum `l` per query, the float64 value accumulator rescaled whenever `m`
//! grows. So the `(B, P)` score matrix never exists, only a
//! `QUERY_BLOCK × TILE` tile. Chunks are folded in order, so a query's result
//! depends on the query and the memory only: not on the number of threads,
//! nor on which other queries share its batch.
//!
//! * Scores: every inner product is summed in 16 float32 lanes (fused
//!   multiply-add, the lanes strided over the features), then the lanes are
//!   added in a fixed tree. The AVX-512 kernels and the portable loop perform
//!   exactly these operations, so every instruction-set level gives the same
//!   bits. At AVX-512, for groups of 32 queries the block's queries are
//!   packed once and the kernel runs *lane-outer*: one lane of 14 keys × 32
//!   queries at a time, each lane its own FMA chain with the key value
//!   broadcast, the 16 lane results then summed in the same tree (no
//!   horizontal sums, and enough independent chains to keep both FMA ports
//!   busy). Each lane is a depth panel: only the tree's partials live
//!   between lanes, never 16 partials per pair. At AVX2 the block's
//!   queries are packed once in groups of 6 (each step's 16 features of
//!   the 6 queries side by side, so that a group's rows do not alias in
//!   the L1 cache at d = 1024) and a 2 keys × 6 queries row kernel (12 FMA
//!   chains per lane half) runs over sub-tiles of keys that stay in L2; a
//!   last group at least half full is padded. The remaining queries take
//!   the row kernels (AVX-512: 4 keys × 6 queries, 8 keys × 1 query;
//!   AVX2: 4 keys × 1 query, both lane halves in one pass).
//! * ±1 keys and queries (when every stored key is ±1) take a popcount path:
//!   `k·q = d − 2·popcount(k xor q)` on bit-packed rows, exact, and equal to
//!   the float score, so the result does not depend on which path ran.
//! * Weights: `w = exp(β s − m)` with the exponent formed in float64. A
//!   weight below `exp(−T)`, `T = 20 + ln P`, is set to zero (it changes the
//!   result by less than `e^−20` relative), measured against the largest
//!   maximum known so far: chunks run in stages of 1, 2, 4, then 8 chunks
//!   side by side, each stage against the maximum of the earlier ones (a
//!   schedule fixed by `P`, so still thread-independent); the first chunk,
//!   with no earlier stage, is scored whole before its softmax, against its
//!   own maximum; a block of 16 scores that are
//!   all that small is skipped without computing `exp`, and a stored pattern
//!   whose weight is zero for a query is left out of its value sums. At a
//!   retrieval β almost every weight is such, so the second product mostly
//!   vanishes. (At β = 1/√d with noisy copies of stored patterns it does
//!   not: at P = 10⁴ about 470 weights per query stay above the threshold,
//!   2,300 at P = 2·10⁴.)
//! * Screening (`screen.rs`): a call of at least 256 queries at the AVX2
//!   level screens with the keys coded in bytes, a tile at a time as the
//!   call first needs it (kept with the memory until the next store, so
//!   that later calls do not code again, and a call that stops screening
//!   after its first chunk codes only that chunk); each block codes its
//!   queries and bounds every score of a tile rigorously from the 8-bit
//!   code products
//!   (`vpmaddubsw`, over twice the float32 FMA rate), then computes exact
//!   float32 scores only for the keys whose weight can be nonzero under
//!   the rule above (upper bound not below the best lower bound minus `T`):
//!   every other key's weight is zero anyway, so the result keeps its bits.
//!   A tile where more than 1 in 32 scores are needed takes the tile kernel
//!   instead, and a call where that keeps happening stops screening.
//! * Values: `Σ_p w_p v_p` in float32 within a tile (fused multiply-add,
//!   in pattern order), added into float64 accumulators between tiles; the
//!   final division by `l` is float64. Each query sums its own nonzero
//!   weights, over panels of 128 value columns (copied side by side when
//!   the block reads them more than twice over); a group of 12 queries
//!   whose weights are mostly nonzero (spread-out attention) sums the
//!   union of theirs together, sharing every value load. A zero weight
//!   adds `0·v`, which changes nothing, so the grouping does not change
//!   the bits.
//! * One query (up to 4) per call in a pool scores each chunk's tiles side
//!   by side on the pool's threads before the softmax runs over them in
//!   order, so that both threads read keys in every chunk stage.
//!
//! # Files
//!
//! * `float.rs`: the float types a memory stores ([`float::Float`]: `f32`
//!   by default, `f64`) and the kernels that differ between them; all the
//!   rest is written once over `T: Float`:
//! * `store.rs`: storing patterns and checking inputs;
//! * `driver.rs`: the retrieval drivers (query blocks, chunk stages, steps
//!   with an optional partial cue (`clamp`, `known`), energy, attention);
//! * `stream.rs`: the float32 streaming online softmax and value accumulation;
//! * `scores.rs`: the float32 score kernels (float lanes, ±1 popcount);
//! * `codes.rs`: the 8-bit codes of the screening and the memory's cache
//!   of key codes;
//! * `screen.rs`: the score bounds of the screening;
//! * `aligned.rs`: the storage of keys, values and packed queries, on
//!   64-byte cache lines (no 32-byte load straddles two lines);
//! * `x86.rs`: their AVX-512 micro-kernels;
//! * `avx2.rs`: their AVX2 + FMA micro-kernels (same bits);
//! * `float64.rs`: the float64 kernel (`dgemm` score tiles, exact `exp`,
//!   `dgemm` value sums, ±1 popcount scores), which also computes the
//!   energy of either memory in float64.
//!
//! # Float64 storage
//!
//! A [`ModernHopfield64`] (`ModernHopfield<f64>`) stores float64 keys and
//! runs the same drivers: query blocks of at most 64 rows, the chunk
//! stages, the same steps and cues. Within a chunk its kernel scores a
//! block against a tile of 256 keys with one `dgemm`, folds the tile into
//! the online softmax with the exact `exp` and no weight skipped (the
//! float32 kernel's `e^−20` cut-off would end precision at `1e-9`), and
//! adds the weighted values with a second `dgemm`. The `dgemm` sums each
//! element in an order fixed by the inner dimension only, so results do
//! not depend on threads or batches either. ±1 keys and queries take the
//! popcount path here too (`β·(d − 2·hamming)`, exact: the `dgemm` of ±1
//! numbers sums exact integers, so both paths give the same bits).

mod aligned;
#[cfg(target_arch = "x86_64")]
mod avx2;
mod codes;
mod driver;
pub mod float;
mod float64;
mod scores;
mod screen;
mod store;
mod stream;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests64;
#[cfg(target_arch = "x86_64")]
mod x86;

use std::num::NonZeroU32;

use crate::error::{Error, Result};
use crate::spins::SpinMatrix;
use aligned::Aligned;

/// Most queries per block (the unit rayon schedules).
pub const QUERY_BLOCK: usize = 192;
/// Stored patterns per tile (the unit of the online softmax).
pub const TILE: usize = 192;
/// Stored patterns per chunk (partial softmaxes folded in order).
pub const CHUNK: usize = 16 * TILE;
/// Most chunks computed side by side in one stage of a block.
const STAGE: usize = 8;
/// Largest magnitude a stored or queried value may have.
pub const MAX_ABS: f64 = 1e30;
/// Largest `β·‖k‖·‖q‖` a score may reach (float32 stays finite).
const MAX_SCORE: f64 = 1e36;
/// Float32 lanes of one inner product.
const LANES: usize = 16;
/// The lanes in the order of the `scores::reduce16` tree: taking them in
/// this order and combining like a binary counter (a lane with the partial
/// of its left sibling, …) performs exactly that tree. The lane-outer
/// kernels finish one lane of many inner products at a time in this order.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const LANE_ORDER: [usize; LANES] = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15];

/// A modern Hopfield memory: keys of `T` (float32 by default, or float64,
/// see [`float::Float`]), optional separate values.
#[derive(Debug, Clone)]
pub struct ModernHopfield<T = f32> {
    d: usize,
    dv: usize,
    rows: usize,
    keys: Aligned<T>,
    values: Option<Aligned<T>>,
    /// Bit-packed keys while every stored key is ±1.
    spins: Option<SpinMatrix>,
    max_norm_sq: f64,
    /// The keys' 8-bit codes of the score screening, made as calls need
    /// them (float32 only; emptied by every store).
    codes: codes::CodeCache,
}

/// A modern Hopfield memory of float64 keys (and values): fixed points to
/// `1e-12` (see the module docs).
pub type ModernHopfield64 = ModernHopfield<f64>;

impl<T> Default for ModernHopfield<T> {
    fn default() -> Self {
        ModernHopfield {
            d: 0,
            dv: 0,
            rows: 0,
            keys: Aligned::default(),
            values: None,
            spins: None,
            max_norm_sq: 0.0,
            codes: codes::CodeCache::default(),
        }
    }
}

/// The inverse temperature `β`: a finite number `> 0`, checked when made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Beta(f64);

impl Beta {
    /// `beta` as an inverse temperature.
    ///
    /// # Errors
    /// `Value` when `beta` is not a finite number `> 0`.
    pub fn new(beta: f64) -> Result<Beta> {
        if beta.is_finite() && beta > 0.0 {
            Ok(Beta(beta))
        } else {
            Err(Error::Value(format!(
                "beta must be a finite number > 0, got {beta:?}"
            )))
        }
    }

    /// The number.
    pub fn get(self) -> f64 {
        self.0
    }
}

/// How many updates [`ModernHopfield::retrieve`] runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Steps {
    /// Exactly this many updates.
    Fixed(NonZeroU32),
    /// Until a query's update moves it by at most `tol` (max-abs, `>= 0`),
    /// each query on its own, at most `max_steps` updates.
    Until { tol: f64, max_steps: NonZeroU32 },
}

/// The masks of a partial cue ([`ModernHopfield::retrieve_cued`]), one row
/// of `d` per query (row-major `(B, d)`, true = held / known); `None`: no
/// such mask.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cue<'a> {
    /// Coordinates reset to the query after every update.
    pub clamp: Option<&'a [bool]>,
    /// Coordinates the scores use (the others count as zero).
    pub known: Option<&'a [bool]>,
}

/// Result of [`ModernHopfield::retrieve`]: row-major states (of the
/// memory's float type) and per-query bookkeeping.
#[derive(Debug, Clone, PartialEq)]
pub struct Retrieved<T = f32> {
    /// `(B, d_v)` final states.
    pub states: Vec<T>,
    /// Updates applied to each query.
    pub steps: Vec<u32>,
    /// Whether the last update moved the query by at most the tolerance
    /// (`tol`, or for a fixed number of steps `1e-6·(1 + max|ξ|)` in
    /// float32, `1e-12·(1 + max|ξ|)` in float64).
    pub converged: Vec<bool>,
}

impl<T: aligned::Plain> ModernHopfield<T> {
    /// An empty memory; the first [`store`](Self::store) fixes the widths.
    pub fn new() -> Self {
        Self::default()
    }

    /// Key width `d` (0 before the first store).
    pub fn d(&self) -> usize {
        self.d
    }

    /// Value width (`d` for auto-association).
    pub fn dv(&self) -> usize {
        self.dv
    }

    /// Number of stored patterns `P`.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Row-major `(P, d)` keys.
    pub fn keys(&self) -> &[T] {
        &self.keys
    }

    /// Row-major `(P, d_v)` values, `None` for auto-association.
    pub fn values(&self) -> Option<&[T]> {
        self.values.as_deref()
    }

    /// Whether every stored key is ±1 (scores then take the popcount path).
    pub fn is_binary(&self) -> bool {
        self.spins.is_some()
    }

    /// `M² = max_μ ‖k_μ‖²`.
    pub fn max_norm_sq(&self) -> f64 {
        self.max_norm_sq
    }

    /// Bytes held: keys, values, the bit-packed ±1 keys, and the 8-bit
    /// key codes that screening calls have made so far (float32, calls of
    /// 256+ queries: at most about a quarter of the keys' bytes, plus 28
    /// bytes per key).
    pub fn nbytes(&self) -> usize {
        self.keys.nbytes()
            + self.values.as_ref().map_or(0, Aligned::nbytes)
            + self.codes.nbytes()
            + self.spins.as_ref().map_or(0, SpinMatrix::nbytes)
    }

    pub(super) fn value_rows(&self) -> &[T] {
        self.values.as_deref().unwrap_or(&self.keys)
    }
}
