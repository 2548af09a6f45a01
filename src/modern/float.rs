//! The float types a modern memory stores, `f32` (the default) and `f64`,
//! and the kernels that differ between them: how a block of queries is
//! prepared, how one chunk of stored patterns is streamed through the
//! online softmax (score tile, weights, value accumulation), and the
//! scores of the attention weights. Storing, checking, query blocks, chunk
//! stages, steps, partial cues, energy and attention are written once over
//! `T: Float` (`store.rs`, `driver.rs`).

use std::fmt::{Debug, Display};
use std::ops::Range;

use super::aligned::Plain;
use super::scores::{pack, scores, Packed};
use super::screen::CallCodes;
use super::stream::{chunk as stream_chunk, screens, Partial, Pass};
use super::{float64, ModernHopfield, TILE};
use crate::spins::SpinMatrix;

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// What a block of queries prepares once for all its chunks.
pub struct Prepared {
    /// The block's queries bit-packed, when they and every key are ±1.
    pub(super) spins: Option<SpinMatrix>,
    /// The block's queries packed for the float32 lane-outer kernel.
    pub(super) packed: Option<Packed>,
}

/// One block of queries as a kernel sees it.
pub struct Block<'a, T> {
    /// `nb × d` row-major queries.
    pub(super) queries: &'a [T],
    pub(super) nb: usize,
    pub(super) beta: f64,
    /// Weights below `exp(−skip)` of the maximum may be dropped (float32).
    pub(super) skip: f64,
    /// Whether to accumulate values.
    pub(super) values: bool,
    pub(super) prepared: &'a Prepared,
    /// The call's key codes, when its blocks screen their scores.
    pub(super) codes: Option<&'a CallCodes<'a>>,
}

/// One chunk of stored patterns and the softmax state it folds into.
pub struct Chunk<'a> {
    /// The patterns.
    pub(super) range: Range<usize>,
    /// A lower bound of each query's final maximum, from earlier stages.
    pub(super) floor: Option<&'a [f64]>,
    pub(super) part: &'a mut Partial,
}

/// A float type a [`ModernHopfield`] can store: `f32` or `f64` (sealed).
pub trait Float:
    sealed::Sealed + Plain + Default + PartialEq + Into<f64> + Send + Sync + Debug + Display
{
    /// Its NumPy name, for messages.
    const NAME: &'static str;
    /// The relative tolerance of convergence after a fixed number of steps:
    /// an update moved a query by at most `TOL·(1 + max|ξ|)`.
    const TOL: f64;
    /// Most queries per block (the unit rayon schedules).
    const BLOCK: usize;

    /// `x` rounded to this type.
    fn from_f64(x: f64) -> Self;

    /// `|a − b|` as the type computes it, widened.
    fn change(a: Self, b: Self) -> f64;

    /// What a block of `nb` queries of width `d` prepares (`spins`: the
    /// block bit-packed when it and every key are ±1).
    #[doc(hidden)]
    fn prepare(queries: &[Self], nb: usize, d: usize, spins: Option<SpinMatrix>) -> Prepared;

    /// The stored keys' codes for score screening (`screen.rs`: coded as
    /// the call's tiles need them, kept with the memory), when a call of
    /// `nq` queries screens (float32 at a level with the 8-bit kernel).
    #[doc(hidden)]
    fn code_keys(mem: &ModernHopfield<Self>, nq: usize) -> Option<CallCodes<'_>>;

    /// Streams one chunk of stored patterns through the online softmax of
    /// one block (weights may be dropped against the chunk's floor where
    /// the type's kernel does that).
    #[doc(hidden)]
    fn chunk(mem: &ModernHopfield<Self>, block: &Block<'_, Self>, chunk: Chunk<'_>);

    /// `out[r] = β k_r·q` of the first `out.len()` keys (rows of `q.len()`)
    /// and one query, as the update scores them.
    fn attention_scores(keys: &[Self], q: &[Self], beta: f64, out: &mut [f64]);
}

/// Fewest queries in a call that screens its scores.
const SCREEN_CALL_MIN: usize = 256;
/// Most bytes of key codes a call makes for screening.
const CODES_MAX: usize = 1 << 28;

impl Float for f32 {
    const NAME: &'static str = "float32";
    const TOL: f64 = 1e-6;
    const BLOCK: usize = super::QUERY_BLOCK;

    fn from_f64(x: f64) -> Self {
        x as f32
    }

    fn change(a: Self, b: Self) -> f64 {
        (a - b).abs() as f64
    }

    fn prepare(queries: &[Self], nb: usize, d: usize, spins: Option<SpinMatrix>) -> Prepared {
        // Popcount scores need no packed floats.
        let packed = match spins {
            None => pack(queries, nb, d),
            Some(_) => None,
        };
        Prepared { spins, packed }
    }

    fn code_keys(mem: &ModernHopfield<Self>, nq: usize) -> Option<CallCodes<'_>> {
        // Coding a key costs about what scoring it costs 30 queries; the
        // screening saves about half the scoring: worth it from a few
        // hundred queries per call (and the codes are kept for later
        // calls). The codes (a byte per feature) are not made when they
        // would not fit in `CODES_MAX` bytes.
        let bytes = mem.rows.saturating_mul(mem.d.div_ceil(32) * 32);
        if nq < SCREEN_CALL_MIN || bytes > CODES_MAX || mem.spins.is_some() {
            return None;
        }
        if !screens(nq.min(super::QUERY_BLOCK), mem.d) {
            return None;
        }
        Some(CallCodes::new(&mem.codes, &mem.keys, mem.rows, mem.d))
    }

    fn chunk(mem: &ModernHopfield<Self>, block: &Block<'_, Self>, chunk: Chunk<'_>) {
        let pass = Pass {
            queries: block.queries,
            nb: block.nb,
            beta: block.beta,
            skip: block.skip,
            values: block.values,
        };
        let p = block.prepared;
        let (spins, packed) = (p.spins.as_ref(), p.packed.as_ref());
        stream_chunk(
            mem,
            &pass,
            spins,
            (packed, block.codes),
            chunk.range,
            chunk.floor,
            chunk.part,
        );
    }

    fn attention_scores(keys: &[Self], q: &[Self], beta: f64, out: &mut [f64]) {
        let (rows, d) = (out.len(), q.len());
        let mut s = vec![0.0f32; TILE];
        for start in (0..rows).step_by(TILE) {
            let n = (rows - start).min(TILE);
            scores(&keys[start * d..(start + n) * d], n, q, 1, d, &mut s, TILE);
            for (o, &x) in out[start..start + n].iter_mut().zip(&s) {
                *o = x as f64 * beta;
            }
        }
    }
}

impl Float for f64 {
    const NAME: &'static str = "float64";
    const TOL: f64 = 1e-12;
    const BLOCK: usize = float64::BLOCK;

    fn from_f64(x: f64) -> Self {
        x
    }

    fn change(a: Self, b: Self) -> f64 {
        (a - b).abs()
    }

    fn prepare(_: &[Self], _: usize, _: usize, spins: Option<SpinMatrix>) -> Prepared {
        Prepared {
            spins,
            packed: None,
        }
    }

    fn code_keys(_: &ModernHopfield<Self>, _: usize) -> Option<CallCodes<'_>> {
        None
    }

    fn chunk(mem: &ModernHopfield<Self>, block: &Block<'_, Self>, chunk: Chunk<'_>) {
        let spins = match (&mem.spins, &block.prepared.spins) {
            (Some(k), Some(q)) => Some((k, q)),
            _ => None,
        };
        let stream = float64::Stream {
            keys: &mem.keys,
            values: block.values.then(|| mem.value_rows()),
            spins,
            d: mem.d,
            dv: mem.dv,
            queries: block.queries,
            beta: block.beta,
        };
        stream.chunk(chunk.range, chunk.part);
    }

    fn attention_scores(keys: &[Self], q: &[Self], beta: f64, out: &mut [f64]) {
        let d = q.len();
        for (o, k) in out.iter_mut().zip(keys.chunks_exact(d)) {
            *o = beta * k.iter().zip(q).map(|(a, b)| a * b).sum::<f64>();
        }
    }
}
