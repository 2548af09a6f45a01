//! The classical Hopfield energy with Hebbian weights, factored through the
//! stored patterns so that no N×N matrix is ever needed:
//!
//! `W = (1/N) Σ_μ ξ^μ ξ^μᵀ` with `W_ii = 0`, `E(s) = −½ sᵀWs + θᵀs`,
//! `N·Σ_j W_ij s_j = Σ_μ m_μ ξ^μ_i − P·s_i` with overlaps `m_μ = ξ^μ·s`.
//!
//! All of that is exact integer arithmetic; only the final division by N
//! and the threshold are floating point, done in the same order as the
//! NumPy reference (`A / N − θ`), so ties are real and results bit-exact.

//!
//! Files: this one holds the memory ([`Hebbian`]) and its layout for the
//! engine ([`PreparedHebbian`]); `glauber.rs` the specialised Glauber sweep
//! of that layout; `energy.rs` the [`EnergyModel`](crate::engine::energy::EnergyModel)
//! implementation, which uses both.

mod blocked;
mod energy;
mod glauber;
mod rows;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{try_filled, Error, Result};
use crate::spins::{self, SpinMatrix};

/// The largest number of neurons: overlaps and fields stay exact in 32 bits.
pub const MAX_N: usize = i32::MAX as usize / 2;

/// A Hebbian memory: the stored patterns, bit-packed, and the thresholds
/// (`P·N/8` bytes plus `8·N` for θ), and the retrieval layout of the last
/// [`prepare`](Hebbian::prepare), kept for the next one.
#[derive(Debug)]
pub struct Hebbian {
    patterns: SpinMatrix,
    threshold: Vec<f64>,
    /// The layout of the last `prepare`, with the patterns it was built
    /// from. It is used again only where those equal the patterns now
    /// (checked word by word), so no change to the memory, by any method,
    /// can leave a stale layout in use.
    prepared: Mutex<Option<KeptLayout>>,
}

/// A retrieval layout kept by the memory, and its key.
#[derive(Debug, Clone)]
struct KeptLayout {
    patterns: SpinMatrix,
    layout: SharedLayout,
}

/// A layout of either lane type.
#[derive(Debug, Clone)]
enum SharedLayout {
    Narrow(Arc<Layout<i16>>),
    Wide(Arc<Layout<i32>>),
}

impl Clone for Hebbian {
    fn clone(&self) -> Self {
        Hebbian {
            patterns: self.patterns.clone(),
            threshold: self.threshold.clone(),
            prepared: Mutex::new(self.kept().clone()),
        }
    }
}

impl Hebbian {
    /// An empty memory of `n` neurons with thresholds `threshold` (length `n`).
    ///
    /// # Errors
    /// `Value` when `n` is zero or too large for exact 32-bit overlaps, or a
    /// threshold is not finite; `Shape` when `threshold.len() != n`.
    pub fn new(n: usize, threshold: Vec<f64>) -> Result<Self> {
        if n > MAX_N {
            return Err(Error::Value(format!("n must be at most {MAX_N}, got {n}")));
        }
        let patterns = SpinMatrix::new(n)?;
        if threshold.len() != n {
            return Err(Error::Shape(format!(
                "threshold must have length n = {n}, got {}",
                threshold.len()
            )));
        }
        if let Some(i) = threshold.iter().position(|t| !t.is_finite()) {
            return Err(Error::Value(format!(
                "threshold must be finite; found {} at index {i}",
                threshold[i]
            )));
        }
        Ok(Hebbian {
            patterns,
            threshold,
            prepared: Mutex::new(None),
        })
    }

    /// The kept layout (a poisoned lock only means a panic elsewhere while
    /// it was held; the slot is then either the old layout or empty).
    fn kept(&self) -> std::sync::MutexGuard<'_, Option<KeptLayout>> {
        self.prepared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends `patterns` to the memory (Hebbian learning is additive).
    ///
    /// # Errors
    /// `Shape` when the patterns do not have `n` neurons.
    pub fn store(&mut self, patterns: &SpinMatrix) -> Result<()> {
        patterns.check_n(self.n())?;
        *self.prepared.get_mut().unwrap_or_else(|e| e.into_inner()) = None;
        self.patterns.append(patterns)
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.patterns.n()
    }

    /// The stored patterns.
    pub fn patterns(&self) -> &SpinMatrix {
        &self.patterns
    }

    /// The thresholds θ.
    pub fn threshold(&self) -> &[f64] {
        &self.threshold
    }

    /// Bytes held: the packed patterns and the thresholds, and the caches
    /// built by retrieval: the kept layout of the last
    /// [`prepare`](Hebbian::prepare) (with the copy of the patterns it was
    /// built from) and its byte weights, once built.
    pub fn nbytes(&self) -> usize {
        let kept = self.kept().as_ref().map_or(0, |k| {
            k.patterns.nbytes()
                + match &k.layout {
                    SharedLayout::Narrow(l) => l.nbytes(),
                    SharedLayout::Wide(l) => l.nbytes(),
                }
        });
        self.patterns.nbytes() + self.threshold.len() * std::mem::size_of::<f64>() + kept
    }

    /// The memory prepared for the engine: the patterns laid out by neuron
    /// for fast fields, with the narrowest overlap lanes that fit. Built in
    /// `O(P·N)` and kept: the next call reuses it while the patterns are
    /// the same (compared word by word, `O(P·N/64)`).
    ///
    /// # Errors
    /// `Memory` when the transposed layout cannot be allocated.
    pub fn prepare(&self) -> Result<HebbianLanes<'_>> {
        let layout = {
            let mut kept = self.kept();
            match kept.as_ref() {
                Some(k) if k.patterns == self.patterns => k.layout.clone(),
                _ => {
                    let layout = if self.n() <= i16::MAX as usize {
                        SharedLayout::Narrow(Arc::new(Layout::new(&self.patterns)?))
                    } else {
                        SharedLayout::Wide(Arc::new(Layout::new(&self.patterns)?))
                    };
                    *kept = Some(KeptLayout {
                        patterns: self.patterns.clone(),
                        layout: layout.clone(),
                    });
                    layout
                }
            }
        };
        Ok(match layout {
            SharedLayout::Narrow(l) => HebbianLanes::Narrow(PreparedHebbian::on(self, l)),
            SharedLayout::Wide(l) => HebbianLanes::Wide(PreparedHebbian::on(self, l)),
        })
    }

    /// The materialised weights `W` (row-major N×N, zero diagonal).
    ///
    /// # Errors
    /// `Memory` when N×N doubles cannot be allocated.
    pub fn weights(&self) -> Result<Vec<f64>> {
        let n = self.n();
        let count = n.checked_mul(n).ok_or_else(|| {
            Error::Memory(format!("a {n} × {n} weight matrix cannot be allocated"))
        })?;

        // Weight rows come from the bit planes; the lane type does not matter.
        let prepared = PreparedHebbian::<i32>::new(self)?;
        let mut w = try_filled(&format!("a {n} × {n} weight matrix"), count, 0.0)?;
        let mut row = vec![0i64; n];
        let mut scratch = Vec::new();
        for (j, wj) in w.chunks_exact_mut(n).enumerate() {
            row.iter_mut().for_each(|x| *x = 0);
            prepared.add_weight_row(&mut row, &mut scratch, j, 1);
            for (x, &r) in wj.iter_mut().zip(&row) {
                *x = (r / 2) as f64 / n as f64;
            }
        }
        Ok(w)
    }
}

/// The integer type of overlaps and pattern columns of a prepared memory: `i16`
/// while `|ξ·s| ≤ N` fits (N ≤ 32767), which lets the field's dot product
/// run as `pmaddwd` (32 lanes per AVX-512 instruction); `i32` beyond.
pub trait Lane: Copy + Default + Send + Sync + std::fmt::Debug + 'static {
    /// Largest `n` whose overlaps fit.
    const MAX_N: usize;
    /// Truncating conversion (callers keep values in range).
    fn from_i32(x: i32) -> Self;
    /// Widening conversion.
    fn to_i32(self) -> i32;
    /// `Σ a_k·b_k` in wrapping 32-bit arithmetic.
    #[inline(always)]
    fn dot(a: &[Self], b: &[Self]) -> i32 {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| x.to_i32().wrapping_mul(y.to_i32()))
            .fold(0i32, i32::wrapping_add)
    }
    /// Four [`dot`](Lane::dot)s sharing `b`.
    #[inline(always)]
    fn dot4(a: [&[Self]; 4], b: &[Self]) -> [i32; 4] {
        a.map(|x| Self::dot(x, b))
    }
    /// The lanes as `i16`, where they are (the register-blocked field
    /// kernel multiplies 16-bit pairs).
    #[inline(always)]
    fn as_i16(_lanes: &[Self]) -> Option<&[i16]> {
        None
    }
}

impl Lane for i16 {
    const MAX_N: usize = i16::MAX as usize;
    #[inline(always)]
    fn from_i32(x: i32) -> Self {
        x as i16
    }
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self as i32
    }
    #[inline(always)]
    fn dot(a: &[Self], b: &[Self]) -> i32 {
        crate::kernels::dot_i16(a, b)
    }
    #[inline(always)]
    fn dot4(a: [&[Self]; 4], b: &[Self]) -> [i32; 4] {
        crate::kernels::dot4_i16(a, b)
    }
    #[inline(always)]
    fn as_i16(lanes: &[Self]) -> Option<&[i16]> {
        Some(lanes)
    }
}

impl Lane for i32 {
    const MAX_N: usize = i32::MAX as usize;
    #[inline(always)]
    fn from_i32(x: i32) -> Self {
        x
    }
    #[inline(always)]
    fn to_i32(self) -> i32 {
        self
    }
}

/// `a += d·b` elementwise.
#[inline(always)]
fn add_scaled<L: Lane>(a: &mut [L], b: &[L], d: i32) {
    for (x, &y) in a.iter_mut().zip(b) {
        *x = L::from_i32(x.to_i32().wrapping_add(d.wrapping_mul(y.to_i32())));
    }
}

/// Per-query cache: overlaps with every pattern and, once flips become
/// rare, every integer field.
///
/// Fields cost a dot product over the patterns each; a flip changes every
/// field by one weight row (`O(N·P/64)` popcounts). So while flips are many,
/// fields are computed from the overlaps when needed; when they are few,
/// all fields are kept exact and updated row by row, and a sweep that
/// flips nothing costs N reads instead of N dot products.
#[derive(Debug, Clone)]
pub struct HebbianCache<L> {
    /// `m_μ = ξ^μ·s`, zero-padded to a multiple of 64 patterns; out of date
    /// where `m_stale`.
    m: Vec<L>,
    /// Whether `m` lags the state: a flip of a query whose fields are kept
    /// by byte-weight rows (`dense_valid`) leaves the overlaps alone. Async
    /// runs then need them only for the energy, which follows from the
    /// exact fields (`Σ_i s_i·A_i = Σ_μ m_μ² − P·N`); a sync step needs
    /// them only where it computes the fields afresh after many flips, and
    /// one count from the state costs less than a column update per flip.
    /// Whatever needs them counts them afresh.
    m_stale: bool,
    /// `A_i = Σ_μ m_μ ξ^μ_i − P·s_i`: exact for every neuron when
    /// `fields_valid`; while `recording`, exact for the neurons visited in
    /// the current async sweep.
    fields: Vec<i64>,
    fields_valid: bool,
    recording: bool,
    /// Weight-row updates left before tracking the fields stops paying.
    budget: usize,
    /// Synchronous use: flips are applied to `fields` at the next step, so
    /// that a step with too many flips wastes no weight rows.
    pending: Vec<(u32, i32)>,
    /// Scratch for one weight row's Hamming distances.
    scratch: Vec<u32>,
    /// Scratch for the drives of the blocked kernel (async sweeps).
    drives: Vec<f64>,
    /// Whether this async sweep's driver holds a mask of unstable neurons
    /// from [`unstable_neurons`](crate::engine::energy::EnergyModel::unstable_neurons),
    /// so that each later call must answer.
    masking: bool,
    /// Whether this query keeps its fields by rows of the byte weights
    /// (`rows.rs`; decided when the cache is built, where they exist).
    /// The fields above then serve as scratch only: `dense` holds them.
    weighted: bool,
    /// The integer fields of every neuron, exact when `dense_valid`
    /// (byte-weight tracking), here where they do not fit `narrow`.
    dense: Vec<i32>,
    dense_valid: bool,
    /// The same fields as 16-bit integers, where `in_narrow` (`dense` is
    /// then the kernel's scratch): a row costs half as much.
    narrow: Vec<i16>,
    in_narrow: bool,
    /// Rows `narrow` can take before its fields might leave 16 bits
    /// ([`rows::headroom`] at the last count of the largest field).
    headroom: usize,
    /// Synchronous use: flips wait in `pending` for the next step.
    deferred: bool,
}

/// The patterns laid out for retrieval, with overlaps held as `L`: owned,
/// so that the memory can keep it between calls ([`Hebbian::prepare`]).
#[derive(Debug)]
pub struct Layout<L> {
    n: usize,
    p: usize,
    /// `p` rounded up to a multiple of 64.
    p_pad: usize,
    /// The patterns by neuron, `n × p_pad`: entry `(i, μ)` is `ξ^μ_i`, and 0
    /// for padding μ ≥ p (so padding never contributes).
    columns: Vec<L>,
    /// Patterns transposed into bit planes: word `w*n + i` holds bit
    /// `μ % 64` = [ξ^μ_i = +1] for μ in `64w..64w+64`. A weight is then
    /// `N·W_ij = P − 2·popcount(plane_i ⊕ plane_j)` summed over planes.
    planes: Vec<u64>,
    planes_per_neuron: usize,
    /// Patterns per 32-bit partial sum, so that sums never overflow.
    chunk: usize,
    /// Whether one partial sum covers all patterns (the usual case).
    single_chunk: bool,
    /// The patterns in the pattern-pair layout of the register-blocked
    /// field kernel (`blocked.rs`); empty where it does not apply (32-bit
    /// lanes, or `P·N` beyond exact 32-bit sums).
    pairs: Vec<i16>,
    /// The integer weights `N·W` as bytes (`rows.rs`), built once the
    /// layout has served [`rows::AFTER`] queries, where they fit.
    weights: OnceLock<Vec<i8>>,
    /// Queries served so far (counted up to [`rows::AFTER`]).
    served: AtomicUsize,
    /// Queries after which the byte weights are built (`usize::MAX`:
    /// never).
    weights_after: usize,
}

/// The Hebbian model laid out for retrieval: the memory's thresholds and
/// its [`Layout`] (whose fields it reads as its own). Implements the
/// engine's `EnergyModel` (in `energy.rs`). Built by [`Hebbian::prepare`].
#[derive(Debug)]
pub struct PreparedHebbian<'a, L> {
    memory: &'a Hebbian,
    layout: Arc<Layout<L>>,
    zero_threshold: bool,
}

impl<L> std::ops::Deref for PreparedHebbian<'_, L> {
    type Target = Layout<L>;
    fn deref(&self) -> &Layout<L> {
        &self.layout
    }
}

/// A prepared Hebbian memory with the narrowest lane type that fits `n`.
#[derive(Debug)]
pub enum HebbianLanes<'a> {
    /// `n ≤ 32767`.
    Narrow(PreparedHebbian<'a, i16>),
    /// Larger `n`.
    Wide(PreparedHebbian<'a, i32>),
}

/// Runs `$body` with `$k` bound to the [`PreparedHebbian`] inside a
/// [`HebbianLanes`] (static dispatch: the body is compiled once per lane type).
#[macro_export]
macro_rules! with_hebbian_lanes {
    ($lanes:expr, |$k:ident| $body:expr) => {
        match $lanes {
            $crate::model::hebbian::HebbianLanes::Narrow($k) => $body,
            $crate::model::hebbian::HebbianLanes::Wide($k) => $body,
        }
    };
}

impl<L: Lane> Layout<L> {
    /// Bytes held: the columns, bit planes and pair layout, and the byte
    /// weights once built.
    fn nbytes(&self) -> usize {
        self.columns.len() * std::mem::size_of::<L>()
            + self.planes.len() * std::mem::size_of::<u64>()
            + self.pairs.len() * std::mem::size_of::<i16>()
            + self.weights.get().map_or(0, Vec::len)
    }

    /// Lays out `patterns` for retrieval with lane type `L`.
    ///
    /// # Errors
    /// `Value` when `n` exceeds `L::MAX_N`; `Memory` when the layout cannot
    /// be allocated.
    fn new(patterns: &SpinMatrix) -> Result<Self> {
        let n = patterns.n();
        if n > L::MAX_N {
            return Err(Error::Value(format!(
                "n = {n} is too large for these overlap lanes"
            )));
        }
        let p = patterns.rows();
        let pw = p.div_ceil(64).max(1);
        let p_pad = pw * 64;
        let columns_len = n
            .checked_mul(p_pad)
            .ok_or_else(|| Error::Memory("the retrieval layout cannot be allocated".into()))?;
        let mut columns = try_filled(
            "the retrieval layout of the patterns",
            columns_len,
            L::default(),
        )?;
        let mut planes = try_filled("the bit planes of the patterns", pw * n, 0u64)?;
        // Planes by 64×64 bit blocks (patterns × neurons) transposed, then
        // the ±1 columns from the planes: both written in order.
        let mut block = [0u64; 64];
        for w in 0..pw {
            for wi in 0..n.div_ceil(64) {
                for (b, x) in block.iter_mut().enumerate() {
                    let mu = 64 * w + b;
                    *x = if mu < p { patterns.row(mu)[wi] } else { 0 };
                }
                spins::transpose64(&mut block);
                let neurons = (n - 64 * wi).min(64);
                planes[w * n + 64 * wi..w * n + 64 * wi + neurons]
                    .copy_from_slice(&block[..neurons]);
            }
        }
        let (plus, minus) = (L::from_i32(1), L::from_i32(-1));
        for (i, column) in columns.chunks_exact_mut(p_pad).enumerate() {
            for (w, lanes) in column.chunks_exact_mut(64).enumerate() {
                let bits = planes[w * n + i];
                let valid = (p - (64 * w).min(p)).min(64);
                for (b, x) in lanes[..valid].iter_mut().enumerate() {
                    *x = if (bits >> b) & 1 == 1 { plus } else { minus };
                }
            }
        }
        let pairs = match L::as_i16(&columns) {
            Some(columns) if p.saturating_mul(n + 1) <= i32::MAX as usize => {
                blocked::pair_layout(columns, p_pad, n, p)
            }
            _ => Vec::new(),
        };
        let per_chunk = (i32::MAX as usize / n.max(1)).max(1);
        let chunk = if per_chunk >= 64 {
            per_chunk / 64 * 64
        } else {
            per_chunk
        };
        let weights_after = if rows::fit(n, p) && !pairs.is_empty() {
            rows::AFTER
        } else {
            usize::MAX
        };
        Ok(Layout {
            n,
            p,
            p_pad,
            columns,
            planes,
            planes_per_neuron: pw,
            chunk,
            single_chunk: chunk >= p_pad,
            pairs,
            weights: OnceLock::new(),
            served: AtomicUsize::new(0),
            weights_after,
        })
    }
}

impl<'a, L: Lane> PreparedHebbian<'a, L> {
    /// Lays out `memory` for retrieval with lane type `L`, afresh
    /// ([`Hebbian::prepare`] picks the narrowest that fits, and keeps it).
    ///
    /// # Errors
    /// `Value` when `n` exceeds `L::MAX_N`; `Memory` when the layout cannot
    /// be allocated.
    pub fn new(memory: &'a Hebbian) -> Result<Self> {
        Ok(Self::on(memory, Arc::new(Layout::new(&memory.patterns)?)))
    }

    /// `memory` with a layout of its patterns.
    fn on(memory: &'a Hebbian, layout: Arc<Layout<L>>) -> Self {
        PreparedHebbian {
            memory,
            layout,
            zero_threshold: memory.threshold.iter().all(|&t| t == 0.0),
        }
    }

    /// The byte weights from the first query on, or never (`false`), where
    /// they fit; for tests that hold the two ways of tracking fields to the
    /// same results. Only on a layout of its own.
    #[cfg(test)]
    pub(crate) fn weights_from_start(mut self, on: bool) -> Self {
        let layout = Arc::get_mut(&mut self.layout).expect("a layout of its own");
        if !on {
            layout.weights_after = usize::MAX;
        } else if layout.weights_after != usize::MAX {
            layout.weights_after = 0;
        }
        self
    }

    /// The byte weights where they are built (see [`Layout::weights`]);
    /// counts the query it is asked for and builds them when due.
    #[inline(always)]
    fn weights_for_query(&self) -> bool {
        if self.weights_after == usize::MAX {
            return false;
        }
        if let Some(w) = self.weights.get() {
            return !w.is_empty();
        }
        let served = self.served.fetch_add(1, Ordering::Relaxed);
        if served < self.weights_after {
            return false;
        }
        // Empty where the bytes could not be allocated: never used then.
        let w = self
            .weights
            .get_or_init(|| rows::build(&self.planes, self.n, self.p).unwrap_or_default());
        !w.is_empty()
    }

    /// The byte weights; only after [`weights_for_query`] said they exist.
    #[inline(always)]
    fn weight_rows(&self) -> &[i8] {
        self.weights.get().map_or(&[], |w| w.as_slice())
    }

    /// Number of stored patterns.
    pub fn num_patterns(&self) -> usize {
        self.p
    }

    #[inline(always)]
    fn column(&self, i: usize) -> &[L] {
        &self.columns[i * self.p_pad..(i + 1) * self.p_pad]
    }

    /// `Σ_μ m_μ ξ^μ_i`.
    #[inline(always)]
    fn projected(&self, m: &[L], i: usize) -> i64 {
        let column = self.column(i);
        if self.single_chunk {
            L::dot(m, column) as i64
        } else {
            m.chunks(self.chunk)
                .zip(column.chunks(self.chunk))
                .map(|(a, c)| L::dot(a, c) as i64)
                .sum()
        }
    }

    /// The integer field `A_i = Σ_μ m_μ ξ^μ_i − P·s_i` (overlaps up to date).
    #[inline(always)]
    fn integer_field(&self, cache: &HebbianCache<L>, state: &[u64], i: usize) -> i64 {
        debug_assert!(!cache.m_stale);
        self.projected(&cache.m, i) - self.p as i64 * spins::spin(state, i) as i64
    }

    /// The field `h_i = A_i / N − θ_i`, in the reference's order of operations.
    #[inline(always)]
    fn field_from_integer(&self, a: i64, i: usize) -> f64 {
        a as f64 / self.n as f64 - self.memory.threshold[i]
    }

    /// [`EnergyModel::drive`] from the integer field.
    #[inline(always)]
    fn drive_from_integer(&self, a: i64, i: usize) -> f64 {
        if self.zero_threshold {
            a as f64
        } else {
            self.field_from_integer(a, i)
        }
    }

    /// Adds `sign · 2·N·W_{:,j}` (zero diagonal) to `row`, `sign` = ±1:
    /// the change of every integer field when neuron j flips to `sign`.
    /// `hamming` is scratch of any content, resized to N.
    #[inline(always)]
    fn add_weight_row(&self, row: &mut [i64], hamming: &mut Vec<u32>, j: usize, sign: i32) {
        let n = self.n;
        // 2·N·W_ij = 2·(P − 2·hamming(plane_i, plane_j)), hamming over all planes.
        // The first plane sets every distance, so the scratch is never
        // cleared (a 4·N-byte memset per row, once a sizeable cost).
        hamming.resize(n, 0);
        for w in 0..self.planes_per_neuron {
            let plane = &self.planes[w * n..(w + 1) * n];
            let pj = plane[j];
            if w == 0 {
                for (h, &pi) in hamming.iter_mut().zip(plane) {
                    *h = (pi ^ pj).count_ones();
                }
            } else {
                for (h, &pi) in hamming.iter_mut().zip(plane) {
                    *h += (pi ^ pj).count_ones();
                }
            }
        }
        let two_p = 2 * self.p as i64;
        if sign > 0 {
            for (r, &h) in row.iter_mut().zip(hamming.iter()) {
                *r += two_p - 4 * h as i64;
            }
        } else {
            for (r, &h) in row.iter_mut().zip(hamming.iter()) {
                *r -= two_p - 4 * h as i64;
            }
        }
        row[j] -= sign as i64 * two_p;
    }

    /// The integer fields and drives of every neuron of the queries with
    /// overlaps `m` and states `state` (one to [`blocked::QUERIES`] of
    /// them) into `fields` and `drives`, by the register-blocked kernel.
    /// False, having done nothing, where the kernel does not apply.
    #[inline(always)]
    fn blocked_fields(
        &self,
        m: &[&[L]],
        state: &[&[u64]],
        fields: &mut [Vec<i64>],
        drives: &mut [&mut [f64]],
    ) -> bool {
        if self.pairs.is_empty() {
            return false;
        }
        let mut lanes: [&[i16]; blocked::QUERIES] = [&[]; blocked::QUERIES];
        for (l, m) in lanes.iter_mut().zip(m) {
            match L::as_i16(m) {
                Some(m) => *l = m,
                None => return false,
            }
        }
        match m.len() {
            1 => self.blocked::<1>(&lanes, state, fields, drives),
            2 => self.blocked::<2>(&lanes, state, fields, drives),
            3 => self.blocked::<3>(&lanes, state, fields, drives),
            4 => self.blocked::<4>(&lanes, state, fields, drives),
            _ => return false,
        }
        true
    }

    /// The integer fields of every neuron of the queries with overlaps `m`
    /// and states `state` (one to [`blocked::QUERIES`]) into `fields` as
    /// 32-bit integers, by the register-blocked kernel. False, having done
    /// nothing, where the kernel does not apply.
    #[inline(always)]
    fn blocked_dense(&self, m: &[&[L]], state: &[&[u64]], fields: &mut [Vec<i32>]) -> bool {
        if self.pairs.is_empty() || m.is_empty() || m.len() > blocked::QUERIES {
            return false;
        }
        let mut lanes: [&[i16]; blocked::QUERIES] = [&[]; blocked::QUERIES];
        for (l, m) in lanes.iter_mut().zip(m) {
            match L::as_i16(m) {
                Some(m) => *l = m,
                None => return false,
            }
        }
        for f in fields.iter_mut() {
            f.resize(self.n, 0);
        }
        let mut rest = fields
            .iter_mut()
            .map(|f| blocked::Out::Fields(f.as_mut_slice()));
        macro_rules! run {
            ($q:literal) => {{
                let outs: [blocked::Out<'_>; $q] = std::array::from_fn(|_| match rest.next() {
                    Some(out) => out,
                    None => unreachable!("one output per query"),
                });
                self.kernel::<$q>(&lanes, state, outs);
            }};
        }
        match m.len() {
            1 => run!(1),
            2 => run!(2),
            3 => run!(3),
            _ => run!(4),
        }
        true
    }

    #[inline(always)]
    fn kernel<const Q: usize>(
        &self,
        m: &[&[i16]],
        state: &[&[u64]],
        mut outs: [blocked::Out<'_>; Q],
    ) {
        blocked::Fields::<Q> {
            layout: &self.pairs,
            n: self.n,
            p: self.p,
            m: std::array::from_fn(|k| m[k]),
            state: std::array::from_fn(|k| state[k]),
            threshold: None,
        }
        .compute(&mut outs);
    }

    #[inline(always)]
    fn blocked<const Q: usize>(
        &self,
        m: &[&[i16]],
        state: &[&[u64]],
        fields: &mut [Vec<i64>],
        drives: &mut [&mut [f64]],
    ) {
        let kernel = blocked::Fields::<Q> {
            layout: &self.pairs,
            n: self.n,
            p: self.p,
            m: std::array::from_fn(|k| m[k]),
            state: std::array::from_fn(|k| state[k]),
            threshold: if self.zero_threshold {
                None
            } else {
                Some(&self.memory.threshold)
            },
        };
        let mut rest = fields.iter_mut().zip(drives.iter_mut());
        let mut outs: [blocked::Out<'_>; Q] = std::array::from_fn(|_| match rest.next() {
            Some((a, d)) => blocked::Out::Drives {
                fields: a.as_mut_slice(),
                drives: d,
            },
            None => unreachable!("one output per query"),
        });
        kernel.compute(&mut outs);
    }

    /// The overlaps of `state` into `m` (zero-padded).
    #[inline(always)]
    fn count_overlaps(&self, m: &mut [L], state: &[u64]) {
        for (mu, o) in m[..self.p].iter_mut().enumerate() {
            *o = L::from_i32(spins::overlap(self.memory.patterns.row(mu), state, self.n));
        }
    }

    /// The overlaps of `cache` up to date with `state` (see
    /// [`HebbianCache::m_stale`]).
    #[inline(always)]
    fn fresh_overlaps(&self, cache: &mut HebbianCache<L>, state: &[u64]) {
        if cache.m_stale {
            self.count_overlaps(&mut cache.m, state);
            cache.m_stale = false;
        }
    }

    /// Brings tracked fields up to date with the flips made since.
    #[inline(always)]
    fn apply_pending(&self, cache: &mut HebbianCache<L>) {
        if !cache.pending.is_empty() {
            let pending = std::mem::take(&mut cache.pending);
            for &(j, new) in &pending {
                self.add_weight_row(&mut cache.fields, &mut cache.scratch, j as usize, new);
            }
            cache.pending = pending;
            cache.pending.clear();
        }
    }

    /// Row `j` of the byte weights (only for a `weighted` cache).
    #[inline(always)]
    fn weight_row(&self, j: usize) -> &[i8] {
        &self.weight_rows()[j * self.n..(j + 1) * self.n]
    }

    /// Flips since the last synchronous step up to which byte-weight rows
    /// bring the fields up to date; beyond, the blocked kernel computes
    /// them afresh. The kernel costs about `N·P/4` instructions per query,
    /// a row added to 32-bit fields about `N/2`: break-even near `P/2`.
    /// Rows added together to 16-bit fields cost about `N/8` instructions
    /// each, but measured no faster than the kernel at ~P flips (at N =
    /// 1024, P = 102: the rows stream 1 KiB each from the `N²` bytes, beyond
    /// the L2 cache), so the limit stays where it was.
    fn rows_limit(&self) -> usize {
        (self.p / 2).max(1)
    }

    /// Flips per sweep (or sync step) up to which exact fields are kept by
    /// weight-row updates rather than recomputed from the overlaps.
    fn incremental_limit(&self) -> usize {
        // A weight row costs ~planes_per_neuron popcounts per neuron; a full
        // recompute ~p_pad/32 vector multiply-adds per neuron.
        (self.p_pad / (4 * self.planes_per_neuron)).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::energy::EnergyModel;

    pub(crate) fn lcg_spins(seed: u64, len: usize) -> Vec<i8> {
        let mut x = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                if (x >> 33) & 1 == 1 {
                    1
                } else {
                    -1
                }
            })
            .collect()
    }

    fn memory(p: usize, n: usize, seed: u64) -> (Hebbian, Vec<i8>) {
        let xs = lcg_spins(seed, p * n);
        let mut h = Hebbian::new(n, vec![0.0; n]).unwrap();
        h.store(&SpinMatrix::from_spins(&xs, p, n).unwrap())
            .unwrap();
        (h, xs)
    }

    /// The integer Hebbian weights `Σ_μ ξ^μ_i ξ^μ_j`, zero diagonal,
    /// row-major `n × n`, from the explicit sum.
    fn explicit_weights(xs: &[i8], p: usize, n: usize) -> Vec<i64> {
        (0..n * n)
            .map(|ij| {
                let (i, j) = (ij / n, ij % n);
                match i == j {
                    true => 0,
                    false => (0..p)
                        .map(|mu| xs[mu * n + i] as i64 * xs[mu * n + j] as i64)
                        .sum(),
                }
            })
            .collect()
    }

    /// An async run by a plain loop over the explicit integer weights `w`
    /// (zero thresholds) from `start`, in the orders of query `query` under
    /// `seed`: the final spins, the sweeps and the energy.
    fn explicit_async(
        w: &[i64],
        start: &[i8],
        sweeps: u32,
        seed: u64,
        query: u64,
    ) -> (Vec<i8>, u32, f64) {
        use crate::engine::descent::sweep_orders;
        let n = start.len();
        let mut s = start.to_vec();
        let orders = sweep_orders(n, sweeps as usize, seed, query);
        let mut done = 0;
        for order in orders.chunks_exact(n) {
            done += 1;
            let mut flips = 0;
            for &i in order {
                let i = i as usize;
                let a: i64 = (0..n).map(|j| w[i * n + j] * s[j] as i64).sum();
                if (a > 0 && s[i] < 0) || (a < 0 && s[i] > 0) {
                    s[i] = -s[i];
                    flips += 1;
                }
            }
            if flips == 0 {
                break;
            }
        }
        let energy = explicit_energy(w, &s);
        (s, done, energy)
    }

    /// `E = −½·Σ_ij W_ij s_i s_j` of integer weights `w` (`W = w/N`), in
    /// the order of operations of the model (zero thresholds).
    fn explicit_energy(w: &[i64], s: &[i8]) -> f64 {
        let n = s.len();
        let integer: i64 = (0..n)
            .map(|i| s[i] as i64 * (0..n).map(|j| w[i * n + j] * s[j] as i64).sum::<i64>())
            .sum();
        -(integer as f64) / (2 * n) as f64
    }

    /// Fields from the explicit double sum.
    fn naive_integer_fields(xs: &[i8], p: usize, n: usize, s: &[i8]) -> Vec<i64> {
        let w = explicit_weights(xs, p, n);
        (0..n)
            .map(|i| (0..n).map(|j| w[i * n + j] * s[j] as i64).sum())
            .collect()
    }

    #[test]
    fn fields_match_explicit_weights_for_awkward_sizes() {
        for (p, n) in [(1usize, 1usize), (3, 63), (5, 64), (70, 65), (7, 130)] {
            let (h, xs) = memory(p, n, (p * n) as u64);
            let k = PreparedHebbian::<i16>::new(&h).unwrap();
            let s = lcg_spins(99, n);
            let state = SpinMatrix::from_spins(&s, 1, n).unwrap();
            let naive = naive_integer_fields(&xs, p, n, &s);
            let mut fields = vec![0.0; n];
            k.fields(state.row(0), &mut fields);
            for i in 0..n {
                assert_eq!(fields[i], naive[i] as f64 / n as f64, "p={p} n={n} i={i}");
            }
        }
    }

    #[test]
    fn incremental_sync_fields_equal_recomputed() {
        let (p, n) = (70, 200);
        let (h, _) = memory(p, n, 5);
        let k = PreparedHebbian::<i32>::new(&h).unwrap();
        let mut state = SpinMatrix::from_spins(&lcg_spins(3, n), 1, n).unwrap();
        let mut cache = k.cache(state.row(0));
        let mut gaps = vec![0.0; n];
        k.drives(&mut cache, state.row(0), &mut gaps);
        for j in [3usize, 150, 199] {
            k.flip(&mut cache, state.row_mut(0), j);
        }
        assert!(cache.fields_valid, "three flips are within the budget");
        k.drives(&mut cache, state.row(0), &mut gaps);
        let mut fresh = k.cache(state.row(0));
        for (i, &g) in gaps.iter().enumerate() {
            assert_eq!(g, k.drive(&mut fresh, state.row(0), i), "neuron {i}");
        }
        assert_eq!(cache.m, fresh.m);
    }

    #[test]
    fn tracked_async_fields_stay_exact() {
        let (p, n) = (70, 130);
        let (h, _) = memory(p, n, 9);
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let mut state = SpinMatrix::from_spins(&lcg_spins(4, n), 1, n).unwrap();
        let mut cache = k.cache(state.row(0));
        // A recorded sweep with two flips in it, then a sweep reading fields.
        k.begin_sweep(&mut cache, Some(0));
        for i in 0..n {
            k.drive(&mut cache, state.row(0), i);
            if i == 40 || i == 90 {
                k.flip(&mut cache, state.row_mut(0), i + 20);
            }
        }
        k.begin_sweep(&mut cache, Some(2));
        assert!(cache.fields_valid);
        k.flip(&mut cache, state.row_mut(0), 7);
        let fresh = k.cache(state.row(0));
        for i in 0..n {
            let expect = k.drive_from_integer(k.integer_field(&fresh, state.row(0), i), i);
            assert_eq!(k.drive(&mut cache, state.row(0), i), expect, "neuron {i}");
        }
    }

    #[test]
    fn energy_matches_quadratic_form_and_gap_matches_energy_difference() {
        let (p, n) = (4, 65);
        let (h, _) = memory(p, n, 11);
        let w = h.weights().unwrap();
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let s = lcg_spins(8, n);
        let mut state = SpinMatrix::from_spins(&s, 1, n).unwrap();
        let quad: f64 = (0..n)
            .map(|i| {
                (0..n)
                    .map(|j| w[i * n + j] * s[i] as f64 * s[j] as f64)
                    .sum::<f64>()
            })
            .sum();
        let cache = k.cache(state.row(0));
        let e = k.energy(&cache, state.row(0));
        assert!((e - (-0.5 * quad)).abs() < 1e-9, "{e} vs {}", -0.5 * quad);
        for i in [0usize, 17, 64] {
            let mut c = k.cache(state.row(0));
            let e0 = k.energy(&c, state.row(0));
            let g = k.gap(&c, state.row(0), i);
            let s0 = spins::spin(state.row(0), i) as f64;
            k.flip(&mut c, state.row_mut(0), i);
            let e1 = k.energy(&c, state.row(0));
            // gap = E(−1) − E(+1)
            let gap = if s0 > 0.0 { e1 - e0 } else { e0 - e1 };
            assert!((g - gap).abs() < 1e-9, "neuron {i}: {g} vs {gap}");
        }
    }

    #[test]
    fn weights_are_symmetric_hebbian() {
        let (p, n) = (3, 10);
        let (h, xs) = memory(p, n, 2);
        let w = h.weights().unwrap();
        let expect = explicit_weights(&xs, p, n);
        for i in 0..n {
            assert_eq!(w[i * n + i], 0.0);
            for j in 0..n {
                assert_eq!(w[i * n + j], expect[i * n + j] as f64 / n as f64);
            }
        }
    }

    /// Async runs (which take fields from the blocked kernel and skip
    /// stable neurons) equal a plain loop over the explicit weights in the
    /// same orders: random starts flip many neurons late, corrupted
    /// patterns few; both lane types, every instruction-set level.
    #[test]
    fn async_runs_equal_explicit_weights() {
        use crate::engine::batch;
        use crate::engine::schedule::{Order, Schedule, Update};
        use crate::simd::{self, Level};
        use std::num::NonZeroU32;
        for (p, n) in [
            (1usize, 17usize),
            (7, 100),
            (30, 257),
            (101, 300),
            (50, 1000),
        ] {
            let (h, xs) = memory(p, n, (p + n) as u64);
            let mut qs = lcg_spins(5, 12 * n);
            for (i, x) in qs[..3 * n].iter_mut().enumerate() {
                // Three corrupted patterns, nine random states.
                let r = i / n;
                *x = if i % 9 == 0 { -1 } else { 1 } * xs[(r % p) * n + i % n];
            }
            let queries = SpinMatrix::from_spins(&qs, 12, n).unwrap();
            let sweeps = 30;
            let schedule = Schedule::deterministic(
                Update::Async,
                Order::Random,
                NonZeroU32::new(sweeps).unwrap(),
                4,
            );
            let w = explicit_weights(&xs, p, n);
            for cap in [Level::Portable, Level::Avx2, Level::Avx512] {
                let used = simd::set_level(cap);
                let narrow = PreparedHebbian::<i16>::new(&h).unwrap();
                let wide = PreparedHebbian::<i32>::new(&h).unwrap();
                let by_rows = PreparedHebbian::<i16>::new(&h)
                    .unwrap()
                    .weights_from_start(true);
                let got = [
                    batch::retrieve(&narrow, &queries, 0, &schedule).unwrap(),
                    batch::retrieve(&wide, &queries, 0, &schedule).unwrap(),
                    batch::retrieve(&by_rows, &queries, 0, &schedule).unwrap(),
                ];
                for q in 0..12 {
                    let (s, done, energy) =
                        explicit_async(&w, &qs[q * n..(q + 1) * n], sweeps, 4, q as u64);
                    let expect = SpinMatrix::from_spins(&s, 1, n).unwrap();
                    for out in &got {
                        let what = format!("p={p} n={n} query {q} at {used:?}");
                        assert_eq!(out.states.row(q), expect.row(0), "{what}");
                        assert_eq!(out.outcomes[q].sweeps, done, "{what}");
                        assert_eq!(out.outcomes[q].energy, energy, "{what}");
                    }
                }
            }
            simd::set_level(Level::Avx512);
        }
    }

    /// Synchronous runs equal a plain loop over the explicit weights, with
    /// and without thresholds, whether fields are kept by byte-weight rows
    /// (from the first query on), by bit-plane rows, or not at all; at
    /// every instruction-set level.
    #[test]
    fn sync_runs_equal_explicit_weights() {
        use crate::engine::batch;
        use crate::engine::schedule::{Order, Schedule, Update};
        use crate::simd::{self, Level};
        use std::num::NonZeroU32;
        for (p, n, theta) in [
            (1usize, 17usize, 0.0),
            (7, 100, 0.0),
            (30, 257, 0.01),
            (101, 300, 0.0),
            (127, 200, 0.0),
            (50, 1000, 0.0),
            (60, 1000, -0.003),
        ] {
            let xs = lcg_spins((3 * p + n) as u64, p * n);
            let threshold: Vec<f64> = (0..n).map(|i| theta * (i % 7) as f64).collect();
            let mut h = Hebbian::new(n, threshold.clone()).unwrap();
            h.store(&SpinMatrix::from_spins(&xs, p, n).unwrap())
                .unwrap();
            let rows = 14;
            let mut qs = lcg_spins(6, rows * n);
            for (i, x) in qs[..8 * n].iter_mut().enumerate() {
                // Eight corrupted patterns (few flips after the first step),
                // six random states (many).
                let r = i / n;
                *x = if i % (5 + r) == 0 { -1 } else { 1 } * xs[(r % p) * n + i % n];
            }
            let queries = SpinMatrix::from_spins(&qs, rows, n).unwrap();
            let sweeps = 40;
            let schedule = Schedule::deterministic(
                Update::Sync,
                Order::Sequential,
                NonZeroU32::new(sweeps).unwrap(),
                1,
            );
            let w = explicit_weights(&xs, p, n);
            let mut expect = Vec::new();
            for q in 0..rows {
                let mut s = qs[q * n..(q + 1) * n].to_vec();
                let (mut older, mut steps, mut end) = (s.clone(), 0, (false, false));
                while steps < sweeps {
                    steps += 1;
                    let next: Vec<i8> = (0..n)
                        .map(|i| {
                            let a: i64 = (0..n).map(|j| w[i * n + j] * s[j] as i64).sum();
                            let d = a as f64 / n as f64 - threshold[i];
                            if d > 0.0 {
                                1
                            } else if d < 0.0 {
                                -1
                            } else {
                                s[i]
                            }
                        })
                        .collect();
                    if next == s {
                        end = (true, false);
                        break;
                    }
                    if steps >= 2 && next == older {
                        s = next;
                        end = (false, true);
                        break;
                    }
                    older = std::mem::replace(&mut s, next);
                }
                let energy = (theta == 0.0).then(|| explicit_energy(&w, &s));
                expect.push((s, steps, end, energy));
            }
            for cap in [Level::Portable, Level::Avx2, Level::Avx512] {
                let used = simd::set_level(cap);
                let models = [
                    PreparedHebbian::<i16>::new(&h).unwrap(),
                    PreparedHebbian::<i16>::new(&h)
                        .unwrap()
                        .weights_from_start(true),
                ];
                let wide = PreparedHebbian::<i32>::new(&h).unwrap();
                let mut got: Vec<_> = models
                    .iter()
                    .map(|k| batch::retrieve(k, &queries, 0, &schedule).unwrap())
                    .collect();
                got.push(batch::retrieve(&wide, &queries, 0, &schedule).unwrap());
                for (q, (s, steps, (converged, cycled), energy)) in expect.iter().enumerate() {
                    let want = SpinMatrix::from_spins(s, 1, n).unwrap();
                    for (v, out) in got.iter().enumerate() {
                        let what = format!("p={p} n={n} θ={theta} query {q} model {v} at {used:?}");
                        assert_eq!(out.states.row(q), want.row(0), "{what}");
                        let o = &out.outcomes[q];
                        assert_eq!(
                            (o.sweeps, o.converged, o.cycled),
                            (*steps, *converged, *cycled),
                            "{what}"
                        );
                        if let Some(e) = energy {
                            assert_eq!(o.energy, *e, "{what}");
                        }
                    }
                }
            }
            simd::set_level(Level::Avx512);
        }
    }

    /// Patterns near one another (each a copy of one base pattern with
    /// `noise` of its bits flipped), so that fields grow large; and queries
    /// of the base pattern with `flipped` of its bits flipped.
    fn correlated(
        p: usize,
        n: usize,
        noise: u64,
        rows: usize,
        flipped: u64,
    ) -> (Hebbian, Vec<i8>, Vec<i8>) {
        let base = lcg_spins(17, n);
        let noisy = |seed: u64, count: usize, every: u64| -> Vec<i8> {
            let r = lcg_spins(seed, count * n);
            (0..count * n)
                .map(|k| {
                    let hash = (k as u64 + seed).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58;
                    let flip = hash < every && r[k] > 0;
                    base[k % n] * if flip { -1 } else { 1 }
                })
                .collect()
        };
        let xs = noisy(5, p, noise);
        let mut h = Hebbian::new(n, vec![0.0; n]).unwrap();
        h.store(&SpinMatrix::from_spins(&xs, p, n).unwrap())
            .unwrap();
        (h, xs, noisy(9, rows, flipped))
    }

    /// 16-bit tracked fields stay exact through flips that use up their
    /// headroom (recounted from the fields) and widen to 32 bits where the
    /// fields outgrow 16 bits; the overlaps left stale by async flips are
    /// counted afresh when a flip needs them, and the energy and gaps
    /// follow from the fields meanwhile.
    #[test]
    fn narrow_fields_recount_and_widen_exactly() {
        let p = 127;
        let (mut recounted, mut widened) = (false, false);
        for (n, noise) in [(300, 1), (360, 8)] {
            let (h, xs, qs) = correlated(p, n, noise, 1, 24);
            let w = explicit_weights(&xs, p, n);
            let k = PreparedHebbian::<i16>::new(&h)
                .unwrap()
                .weights_from_start(true);
            let mut state = SpinMatrix::from_spins(&qs, 1, n).unwrap();
            let mut cache = k.descent_caches(&[state.row(0)]).pop().unwrap();
            assert!(cache.weighted && cache.dense_valid && cache.in_narrow);
            let mut s = qs.clone();
            let base = lcg_spins(17, n);
            // Flip every bit that differs from the base pattern back, then a
            // few away again: fields grow towards P·N, beyond 16 bits.
            let back: Vec<usize> = (0..n).filter(|&i| s[i] != base[i]).collect();
            assert!(back.len() > 40, "{} bits differ", back.len());
            for &i in back.iter().chain(&[3, 250, 7]) {
                let room = cache.headroom;
                k.flip(&mut cache, state.row_mut(0), i);
                s[i] = -s[i];
                recounted |= cache.in_narrow && room == 0;
                widened |= !cache.in_narrow;
                for j in 0..n {
                    let a: i64 = (0..n).map(|l| w[j * n + l] * s[l] as i64).sum();
                    let what = format!("n={n} neuron {j} after {i}");
                    assert_eq!(PreparedHebbian::dense_field(&cache, j), a, "{what}");
                    assert_eq!(k.gap(&cache, state.row(0), j), 2.0 * a as f64 / n as f64);
                }
                assert!(cache.m_stale);
                assert_eq!(k.energy(&cache, state.row(0)), explicit_energy(&w, &s));
            }
            // A synchronous flip waits; the energy and gaps come from the
            // state then, and the overlaps are counted afresh when the
            // fields are.
            cache.deferred = true;
            k.flip(&mut cache, state.row_mut(0), 11);
            s[11] = -s[11];
            assert_eq!(cache.pending, vec![(11, s[11] as i32)]);
            assert!(cache.m_stale);
            assert_eq!(k.energy(&cache, state.row(0)), explicit_energy(&w, &s));
            let a: i64 = (0..n).map(|l| w[5 * n + l] * s[l] as i64).sum();
            assert_eq!(k.gap(&cache, state.row(0), 5), 2.0 * a as f64 / n as f64);
            k.refresh_dense(&mut [&mut cache], &[state.row(0)]);
            assert!(!cache.m_stale && cache.pending.is_empty());
            assert_eq!(cache.m, k.cache(state.row(0)).m);
            assert_eq!(PreparedHebbian::dense_field(&cache, 5), a);
        }
        assert!(
            recounted && widened,
            "recounted {recounted}, widened {widened}"
        );
    }

    /// Async and sync runs of queries whose fields outgrow 16 bits equal
    /// plain loops over the explicit weights (states, sweeps, energies).
    #[test]
    fn runs_with_large_fields_equal_explicit_weights() {
        use crate::engine::batch;
        use crate::engine::schedule::{Order, Schedule, Update};
        use std::num::NonZeroU32;
        for (p, n, flipped) in [(127usize, 250usize, 20u64), (127, 300, 24), (100, 260, 30)] {
            let rows = 6;
            let (h, xs, qs) = correlated(p, n, 2, rows, flipped);
            let w = explicit_weights(&xs, p, n);
            let queries = SpinMatrix::from_spins(&qs, rows, n).unwrap();
            let k = PreparedHebbian::<i16>::new(&h)
                .unwrap()
                .weights_from_start(true);
            let sweeps = NonZeroU32::new(20).unwrap();
            let schedule = Schedule::deterministic(Update::Async, Order::Random, sweeps, 6);
            let out = batch::retrieve(&k, &queries, 0, &schedule).unwrap();
            for q in 0..rows {
                let (s, done, energy) =
                    explicit_async(&w, &qs[q * n..(q + 1) * n], 20, 6, q as u64);
                let what = format!("async p={p} n={n} query {q}");
                let expect = SpinMatrix::from_spins(&s, 1, n).unwrap();
                assert_eq!(out.states.row(q), expect.row(0), "{what}");
                assert_eq!(
                    (out.outcomes[q].sweeps, out.outcomes[q].energy),
                    (done, energy),
                    "{what}"
                );
            }
            let schedule = Schedule::deterministic(Update::Sync, Order::Sequential, sweeps, 6);
            let out = batch::retrieve(&k, &queries, 0, &schedule).unwrap();
            for q in 0..rows {
                let mut s = qs[q * n..(q + 1) * n].to_vec();
                let mut steps = 0;
                loop {
                    steps += 1;
                    let next: Vec<i8> = (0..n)
                        .map(|i| {
                            let a: i64 = (0..n).map(|j| w[i * n + j] * s[j] as i64).sum();
                            if a > 0 {
                                1
                            } else if a < 0 {
                                -1
                            } else {
                                s[i]
                            }
                        })
                        .collect();
                    if next == s || steps == 20 {
                        s = next;
                        break;
                    }
                    s = next;
                }
                let what = format!("sync p={p} n={n} query {q}");
                let expect = SpinMatrix::from_spins(&s, 1, n).unwrap();
                assert_eq!(out.states.row(q), expect.row(0), "{what}");
                assert!(out.outcomes[q].converged, "{what}");
                assert_eq!(
                    (out.outcomes[q].sweeps, out.outcomes[q].energy),
                    (steps, explicit_energy(&w, &s)),
                    "{what}"
                );
            }
        }
    }

    /// The byte weights are built only where they fit, after the queries
    /// the layout waits for, and a query served before keeps the other way.
    #[test]
    fn byte_weights_wait_for_enough_queries() {
        let (h, _) = memory(20, 100, 4);
        let k = PreparedHebbian::<i16>::new(&h).unwrap();
        let state = SpinMatrix::from_spins(&lcg_spins(1, 100), 1, 100).unwrap();
        for _ in 0..rows::AFTER {
            assert!(!k.cache(state.row(0)).weighted);
        }
        assert!(k.cache(state.row(0)).weighted);
        assert_eq!(k.weight_rows().len(), 100 * 100);
        let off = PreparedHebbian::<i16>::new(&h)
            .unwrap()
            .weights_from_start(false);
        assert!(!off.cache(state.row(0)).weighted);
        // 128 patterns do not fit bytes; 32-bit lanes have no blocked kernel.
        let (big, _) = memory(128, 100, 4);
        let k = PreparedHebbian::<i16>::new(&big)
            .unwrap()
            .weights_from_start(true);
        assert!(!k.cache(state.row(0)).weighted);
        let wide = PreparedHebbian::<i32>::new(&h)
            .unwrap()
            .weights_from_start(true);
        assert!(!wide.cache(state.row(0)).weighted);
    }

    /// The memory keeps its layout between calls, and builds it afresh once
    /// its patterns change (by any method; clones share it safely).
    #[test]
    fn prepare_keeps_the_layout_while_the_patterns_stay() {
        let (mut h, xs) = memory(10, 70, 3);
        let layout = |h: &Hebbian| match h.prepare().unwrap() {
            HebbianLanes::Narrow(k) => k.layout.clone(),
            HebbianLanes::Wide(_) => unreachable!("n = 70"),
        };
        let first = layout(&h);
        assert!(Arc::ptr_eq(&first, &layout(&h)));
        let copy = h.clone();
        assert!(Arc::ptr_eq(&first, &layout(&copy)));
        h.store(&SpinMatrix::from_spins(&xs[..70], 1, 70).unwrap())
            .unwrap();
        let second = layout(&h);
        assert!(!Arc::ptr_eq(&first, &second));
        assert_eq!(second.p, 11);
        assert!(
            Arc::ptr_eq(&first, &layout(&copy)),
            "the clone keeps its own"
        );
        // Patterns changed behind the kept layout's back: not reused.
        h.patterns = copy.patterns.clone();
        let third = layout(&h);
        assert!(!Arc::ptr_eq(&second, &third));
        assert_eq!(third.p, 10);
        assert_eq!(third.planes, first.planes);
    }

    #[test]
    fn bad_construction_is_refused() {
        assert!(Hebbian::new(0, vec![]).is_err());
        assert!(matches!(
            Hebbian::new(3, vec![0.0; 2]),
            Err(Error::Shape(_))
        ));
        assert!(matches!(
            Hebbian::new(2, vec![0.0, f64::NAN]),
            Err(Error::Value(_))
        ));
        let mut h = Hebbian::new(3, vec![0.0; 3]).unwrap();
        assert!(h.store(&SpinMatrix::new(4).unwrap()).is_err());
        assert_eq!(h.nbytes(), 24);
    }

    /// `nbytes` counts the kept layout once a retrieval prepared one, and
    /// its byte weights once built; a store drops both.
    #[test]
    fn nbytes_counts_the_kept_layout_and_byte_weights() {
        let (p, n) = (10usize, 100usize);
        let (mut h, xs) = memory(p, n, 6);
        let own = h.patterns.nbytes() + 8 * n;
        assert_eq!(own, p * 2 * 8 + 8 * n);
        assert_eq!(h.nbytes(), own);
        let k = match h.prepare().unwrap() {
            HebbianLanes::Narrow(k) => k,
            HebbianLanes::Wide(_) => unreachable!("n = 100"),
        };
        // A copy of the patterns, the i16 columns (64 lanes per neuron),
        // one bit plane per neuron, the pair layout (7 blocks × 5 pairs × 32).
        let layout = p * 2 * 8 + n * 64 * 2 + n * 8 + 7 * 5 * 32 * 2;
        assert_eq!(h.nbytes(), own + layout);
        let state = SpinMatrix::from_spins(&xs[..n], 1, n).unwrap();
        for _ in 0..=rows::AFTER {
            k.cache(state.row(0));
        }
        assert_eq!(k.weight_rows().len(), n * n);
        assert_eq!(h.nbytes(), own + layout + n * n);
        drop(k);
        h.store(&SpinMatrix::from_spins(&xs[..n], 1, n).unwrap())
            .unwrap();
        assert_eq!(h.nbytes(), own + 2 * 8);
    }
}
