//! Dense associative memory (Krotov & Hopfield 2016; Demircigil et al. 2017):
//! `E(σ) = −Σ_μ F(ξ^μ·σ)` over bit-packed patterns, with a polynomial
//! `F(x) = x^d` (rectified: `0` for `x < 0`) or an exponential
//! `F(x) = exp(βx)` interaction.
//!
//! # The decision
//!
//! With the overlaps `m_μ = ξ^μ·σ` and `t_μ = ξ^μ_i σ_i` (+1 where pattern
//! `μ` agrees with the state at neuron `i`), flipping neuron `i` changes the
//! overlaps to `m_μ − 2t_μ`, so
//!
//! `ΔE_i = E(flipped) − E(σ) = Σ_{t=+1} a(m_μ) − Σ_{t=−1} b(m_μ)`,
//! `a(m) = F(m) − F(m−2)`, `b(m) = F(m+2) − F(m)`,
//!
//! and `ΔE_i = Σ_{t=+1} (a+b)(m_μ) − Σ_μ b(m_μ)`: one sum over the agreeing
//! patterns of a per-query array `h_μ = (a+b)(m_μ)`, masked by neuron `i`'s
//! bit plane of the patterns, minus a per-query total. This is exactly the
//! issue's comparison of `Σ_μ F(±ξ^μ_i + Σ_{j≠i} ξ^μ_j σ_j)`. A neuron flips
//! when `ΔE_i < 0`; `ΔE_i = 0` keeps the state. The gap of the engine is
//! `E(−1) − E(+1) = σ_i ΔE_i`.
//!
//! The per-query cache holds `m`, `h` and the total; a flip changes every
//! overlap by ±2 and rebuilds `h` from a table (O(P)); a decision is one
//! masked sum (O(P) adds, 8 lanes per AVX-512 instruction).
//!
//! **Polynomial**: every quantity is an exact integer. The model adds in
//! `i64` when `P · 5(N+2)^d < 2^63` and in `i128` otherwise; a memory for
//! which `P · 5(N+2)^d ≥ 2^127` is refused (construction and `store`), there
//! is no wider fallback.
//!
//! **Exponential**: the decision is made in fixed point in a max-shifted
//! frame. With `M = max_μ m_μ` and the shift `c = M + 1` when some pattern
//! of overlap `M` disagrees with `σ_i` at `i` (else `c = M − 1`),
//!
//! `D_i = Σ_{t=+1} ⌊2^S e^{β(m_μ−1−c)}⌋ − Σ_{t=−1} ⌊2^S e^{β(m_μ+1−c)}⌋`,
//!
//! which is `2^S e^{−βc}/(2 sinh β) · ΔE_i` up to truncation. The largest
//! term of the larger side is exactly `2^S` (a term with exponent 0 exists
//! on that side by the choice of `c`), so decisions are made to a relative
//! precision of `P·2^−S` of the dominant term whatever `β·N` is, with no
//! overflow; terms below `2^−S` of it vanish. `S = min(52, 62 − bits(P))`
//! keeps every sum below `2^63`. The sums are exact integers, so they do not
//! depend on the order of summation: ties (`D_i = 0`) are exact and keep
//! the state, and the NumPy reference, which uses the same table
//! `⌊2^S e^{−2βu}⌋` (from the C library's `exp`), makes the same decisions.
//! The energy is reported as `−(1/β) log Σ_μ exp(β m_μ)`.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use super::masked;
use super::signed_sums::{self, CHUNK, CHUNK_LIMIT, TERM_LIMIT};
use crate::engine::energy::{EnergyModel, SYNC_BLOCK};
use crate::engine::schedule::Update;
use crate::error::{try_filled, Error, Result};
use crate::spins::{self, SpinMatrix};

/// Sums of `|h|` below this are exact integers in float64 (the blocked
/// synchronous step of the polynomial).
const F64_EXACT: i128 = 1 << 53;

/// Most queries per synchronous block of the float32 block product: the
/// expanded signs of a chunk are shared by the block, and each query keeps
/// `16·P` bytes of cache.
const MAX_SYNC_BLOCK: usize = 48;

/// The largest number of neurons (overlaps stay exact in 32 bits).
pub const MAX_N: usize = super::hebbian::MAX_N;

/// The interaction function `F` of a dense memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Interaction {
    /// `F(x) = x^degree`; rectified: `F(x) = 0` for `x < 0`.
    Polynomial {
        /// The power, at least 1.
        degree: u32,
        /// Whether negative overlaps contribute nothing.
        rectified: bool,
    },
    /// `F(x) = exp(beta·x)`, `beta > 0`.
    Exponential {
        /// The inverse temperature, positive and finite.
        beta: f64,
    },
}

impl Interaction {
    fn check(self) -> Result<()> {
        match self {
            Interaction::Polynomial { degree: 0, .. } => {
                Err(Error::Value("degree must be at least 1, got 0".into()))
            }
            Interaction::Exponential { beta } if !(beta.is_finite() && beta > 0.0) => Err(
                Error::Value(format!("beta must be positive and finite, got {beta}")),
            ),
            _ => Ok(()),
        }
    }
}

/// `F(x)` of the polynomial interaction, `None` when it overflows `i128`.
#[inline]
fn poly(x: i64, degree: u32, rectified: bool) -> Option<i128> {
    if rectified && x < 0 {
        Some(0)
    } else {
        (x as i128).checked_pow(degree)
    }
}

/// A bound on every per-pattern term the polynomial model adds (`h`, `b`
/// and `F`): `5(n+2)^degree`.
fn poly_unit(n: usize, degree: u32) -> Option<i128> {
    (n as i128 + 2).checked_pow(degree)?.checked_mul(5)
}

/// A dense associative memory: the stored patterns, bit-packed
/// (`P·⌈N/64⌉·8` bytes), the interaction and, once a retrieval has asked for
/// it, the memory prepared for the engine (as many bytes again, plus tables
/// of `O(N)`): preparing costs `O(P·N)`, as much as a one-query retrieval
/// or more, so it is kept until the patterns change.
#[derive(Debug)]
pub struct Dense {
    /// Shared with the prepared memory, which reads the rows.
    patterns: Arc<SpinMatrix>,
    interaction: Interaction,
    prepared: OnceLock<PreparedDense>,
}

impl Clone for Dense {
    /// The same memory, with nothing prepared yet (a clone is made to be
    /// changed).
    fn clone(&self) -> Self {
        Dense {
            patterns: Arc::clone(&self.patterns),
            interaction: self.interaction,
            prepared: OnceLock::new(),
        }
    }
}

impl Dense {
    /// An empty memory of `n` neurons.
    ///
    /// # Errors
    /// `Value` when `n` is zero or above [`MAX_N`], the degree is zero, beta
    /// is not positive and finite, or one pattern of a polynomial of this
    /// degree would already overflow exact 128-bit arithmetic.
    pub fn new(n: usize, interaction: Interaction) -> Result<Self> {
        if n > MAX_N {
            return Err(Error::Value(format!("n must be at most {MAX_N}, got {n}")));
        }
        interaction.check()?;
        let memory = Dense {
            patterns: Arc::new(SpinMatrix::new(n)?),
            interaction,
            prepared: OnceLock::new(),
        };
        memory.check_count(1)?;
        Ok(memory)
    }

    /// Refuses `p` patterns when a polynomial's exact sums could overflow.
    fn check_count(&self, p: usize) -> Result<()> {
        if let Interaction::Polynomial { degree, .. } = self.interaction {
            let n = self.n();
            let fits = poly_unit(n, degree)
                .and_then(|u| u.checked_mul(p as i128))
                .is_some();
            if !fits {
                return Err(Error::Value(format!(
                    "degree {degree} with n = {n} and {p} pattern(s) overflows exact 128-bit \
                     arithmetic (needs P·5·(n+2)^degree < 2^127); use a lower degree, fewer \
                     patterns or interaction='exponential'"
                )));
            }
        }
        Ok(())
    }

    /// Appends `patterns` to the memory.
    ///
    /// # Errors
    /// `Shape` when the patterns do not have `n` neurons; `Value` when the
    /// total number of patterns would overflow a polynomial's exact sums.
    pub fn store(&mut self, patterns: &SpinMatrix) -> Result<()> {
        if patterns.n() != self.n() {
            return Err(Error::Shape(format!(
                "patterns must have n = {} columns, got {}",
                self.n(),
                patterns.n()
            )));
        }
        self.check_count(self.patterns.rows() + patterns.rows())?;
        // Dropped first, so that the rows are copied only when a snapshot
        // still reads them.
        self.prepared = OnceLock::new();
        Arc::make_mut(&mut self.patterns).append(patterns)
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.patterns.n()
    }

    /// The stored patterns.
    pub fn patterns(&self) -> &SpinMatrix {
        &self.patterns
    }

    /// The interaction.
    pub fn interaction(&self) -> Interaction {
        self.interaction
    }

    /// Bytes held: the packed patterns and, once built, the prepared memory.
    pub fn nbytes(&self) -> usize {
        let prepared = self.prepared.get().map_or(0, PreparedDense::nbytes);
        self.patterns.nbytes() + prepared
    }

    /// The memory prepared for the engine, built by the first call
    /// ([`Dense::prepare`]) and kept until the patterns change. Threads that
    /// race on the first call may each build it; one is kept, and all are
    /// equal.
    ///
    /// # Errors
    /// `Memory` when the layout cannot be allocated.
    pub fn prepared(&self) -> Result<&PreparedDense> {
        if let Some(prepared) = self.prepared.get() {
            return Ok(prepared);
        }
        let built = self.prepare()?;
        Ok(self.prepared.get_or_init(|| built))
    }

    /// A new copy of the memory prepared for the engine (bit planes and
    /// tables, `O(P·N)`): `i64` polynomial sums when they fit, else `i128`.
    /// [`Dense::prepared`] keeps one; tests take their own to switch paths.
    ///
    /// # Errors
    /// `Memory` when the layout cannot be allocated.
    pub fn prepare(&self) -> Result<PreparedDense> {
        match self.interaction {
            Interaction::Polynomial { degree, .. } => {
                let p = self.patterns.rows().max(1) as i128;
                let narrow = poly_unit(self.n(), degree)
                    .and_then(|u| u.checked_mul(p))
                    .is_some_and(|x| x <= i64::MAX as i128);
                if narrow {
                    Ok(PreparedDense::Narrow(PreparedPolynomial::new(self)?))
                } else {
                    Ok(PreparedDense::Wide(PreparedPolynomial::new(self)?))
                }
            }
            Interaction::Exponential { .. } => {
                Ok(PreparedDense::Exponential(PreparedExponential::new(self)?))
            }
        }
    }
}

/// A prepared dense memory, of the concrete type that fits it.
#[derive(Debug)]
pub enum PreparedDense {
    /// Polynomial, exact in `i64`.
    Narrow(PreparedPolynomial<i64>),
    /// Polynomial, exact in `i128`.
    Wide(PreparedPolynomial<i128>),
    /// Exponential, fixed point in `i64`.
    Exponential(PreparedExponential),
}

impl PreparedDense {
    /// Bytes held beyond the patterns: bit planes and tables.
    pub fn nbytes(&self) -> usize {
        match self {
            PreparedDense::Narrow(k) => k.nbytes(),
            PreparedDense::Wide(k) => k.nbytes(),
            PreparedDense::Exponential(k) => k.nbytes(),
        }
    }
}

/// Runs `$body` with `$k` bound to the concrete prepared model inside a
/// [`PreparedDense`] (static dispatch).
#[macro_export]
macro_rules! with_prepared_dense {
    ($prepared:expr, |$k:ident| $body:expr) => {
        match $prepared {
            $crate::model::dense::PreparedDense::Narrow($k) => $body,
            $crate::model::dense::PreparedDense::Wide($k) => $body,
            $crate::model::dense::PreparedDense::Exponential($k) => $body,
        }
    };
}

/// The patterns as bit planes by neuron: word `i·pw + w` holds bit `μ % 64`
/// = [ξ^μ_i = +1] for μ in `64w..64w+64` (padding bits zero).
#[derive(Debug)]
struct Layout {
    patterns: Arc<SpinMatrix>,
    n: usize,
    p: usize,
    pw: usize,
    planes: Vec<u64>,
}

impl Layout {
    fn new(patterns: &Arc<SpinMatrix>) -> Result<Self> {
        let (n, p) = (patterns.n(), patterns.rows());
        let pw = p.div_ceil(64).max(1);
        let len = n
            .checked_mul(pw)
            .ok_or_else(|| Error::Memory("the bit planes of the patterns".into()))?;
        let mut planes = try_filled("the bit planes of the patterns", len, 0u64)?;
        for mu in 0..p {
            let (w, bit) = (mu / 64, 1u64 << (mu % 64));
            for (k, &word) in patterns.row(mu).iter().enumerate() {
                let mut word = word;
                while word != 0 {
                    let i = 64 * k + word.trailing_zeros() as usize;
                    planes[i * pw + w] |= bit;
                    word &= word - 1;
                }
            }
        }
        Ok(Layout {
            patterns: Arc::clone(patterns),
            n,
            p,
            pw,
            planes,
        })
    }

    /// Bytes of the bit planes.
    fn nbytes(&self) -> usize {
        std::mem::size_of_val(&self.planes[..])
    }

    #[inline(always)]
    fn plane(&self, i: usize) -> &[u64] {
        &self.planes[i * self.pw..(i + 1) * self.pw]
    }

    /// Length of the padded per-pattern arrays.
    fn padded(&self) -> usize {
        self.pw * 64
    }

    /// `m_μ = ξ^μ·s` by XOR + popcount.
    #[inline(always)]
    fn overlaps(&self, state: &[u64], m: &mut Vec<i32>) {
        m.clear();
        m.resize(self.p, 0);
        let words = self.patterns.words();
        overlaps_of(self.patterns.as_words(), words, self.n, state, m);
    }

    /// `m_μ += 2·new·ξ^μ_i` after neuron `i` flipped to `new`.
    #[inline(always)]
    fn flip_overlaps(&self, m: &mut [i32], i: usize, new: i32) {
        let two = 2 * new;
        for (chunk, &bits) in m.chunks_mut(64).zip(self.plane(i)) {
            for (k, x) in chunk.iter_mut().enumerate() {
                let xi = 2 * ((bits >> k) & 1) as i32 - 1;
                *x += two * xi;
            }
        }
    }

    /// Patterns agreeing with `spin` at neuron `i` are the set bits of
    /// `plane(i) ^ invert(spin)`.
    #[inline(always)]
    fn invert(spin: i32) -> u64 {
        if spin > 0 {
            0
        } else {
            !0
        }
    }

    /// The overlaps of the cache, or fresh ones when the cache is stale.
    fn current<'c>(&self, m: &'c [i32], stale: bool, state: &[u64]) -> Cow<'c, [i32]> {
        if stale {
            let mut fresh = Vec::with_capacity(self.p);
            self.overlaps(state, &mut fresh);
            Cow::Owned(fresh)
        } else {
            Cow::Borrowed(m)
        }
    }

    /// Whether pattern `mu` agrees with `spin` at neuron `i`.
    #[inline(always)]
    fn agrees(&self, i: usize, mu: usize, spin: i32) -> bool {
        ((self.planes[i * self.pw + mu / 64] >> (mu % 64)) & 1 == 1) == (spin > 0)
    }
}

#[inline(always)]
fn overlaps_body(patterns: &[u64], words: usize, n: usize, state: &[u64], m: &mut [i32]) {
    for (x, row) in m.iter_mut().zip(patterns.chunks_exact(words)) {
        *x = spins::overlap(row, state, n);
    }
}

crate::simd::multiversion! {
    /// `m_μ = ξ^μ·s` for the packed `patterns` (`words` words a row): a
    /// function of its own, so that the popcounts are compiled for the
    /// level (an iterator adapter's body would not be).
    fn overlaps_of(patterns: &[u64], words: usize, n: usize, state: &[u64], m: &mut [i32]) -> ()
    => overlaps_body
}

/// The integer type of polynomial sums.
pub trait Acc: Copy + Default + PartialEq + Send + Sync + std::fmt::Debug + 'static {
    /// The largest value.
    const MAX: i128;
    /// Conversion from a value known to fit.
    fn from_i128(x: i128) -> Self;
    /// Widening conversion.
    fn to_i128(self) -> i128;
    /// `self + other` (callers keep sums in range).
    fn add(self, other: Self) -> Self;
    /// `Σ h_μ` over the set bits of `mask ^ invert`.
    fn masked_sum(h: &[Self], mask: &[u64], invert: u64) -> Self;
}

impl Acc for i64 {
    const MAX: i128 = i64::MAX as i128;
    #[inline(always)]
    fn from_i128(x: i128) -> Self {
        x as i64
    }
    #[inline(always)]
    fn to_i128(self) -> i128 {
        self as i128
    }
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self.wrapping_add(other)
    }
    #[inline(always)]
    fn masked_sum(h: &[Self], mask: &[u64], invert: u64) -> Self {
        masked::sum_i64(h, mask, invert)
    }
}

impl Acc for i128 {
    const MAX: i128 = i128::MAX;
    #[inline(always)]
    fn from_i128(x: i128) -> Self {
        x
    }
    #[inline(always)]
    fn to_i128(self) -> i128 {
        self
    }
    #[inline(always)]
    fn add(self, other: Self) -> Self {
        self + other
    }
    #[inline(always)]
    fn masked_sum(h: &[Self], mask: &[u64], invert: u64) -> Self {
        masked::sum_i128(h, mask, invert)
    }
}

/// `σ_i · D` as f64: nonzero integers stay nonzero, signs are exact.
#[inline(always)]
fn signed(d: f64, spin: i32) -> f64 {
    if spin > 0 {
        d
    } else {
        -d
    }
}

/// The polynomial interaction laid out for retrieval, with sums in `L`.
#[derive(Debug)]
pub struct PreparedPolynomial<L> {
    layout: Layout,
    /// By `v = (m + n)/2`: `h = F(m+2) − F(m−2)`, `b = F(m+2) − F(m)`, `F(m)`.
    h_tab: Vec<L>,
    b_tab: Vec<L>,
    f_tab: Vec<i128>,
    /// Whether `P · 5(N+2)^d < 2^53`: a synchronous block then takes its
    /// sums from the exact float32 block product ([`signed_sums`]).
    blocked: bool,
    blockable: bool,
}

/// Per-query cache of the prepared polynomial.
#[derive(Debug, Clone)]
pub struct PolynomialCache<L> {
    /// `m_μ = ξ^μ·s`.
    m: Vec<i32>,
    /// `h_μ = F(m_μ+2) − F(m_μ−2)`, zero-padded to a multiple of 64.
    h: Vec<L>,
    /// `Σ_μ F(m_μ+2) − F(m_μ)`.
    tb: L,
    /// Async use: flips update `m` and `h` at once. Sync use: flips only
    /// mark the cache stale and the next step recomputes the overlaps.
    eager: bool,
    stale: bool,
    /// The blocked synchronous step's float32 weights: `h`, except the
    /// terms listed in `sparse` (zero here), which a chunk could not hold
    /// exactly; and `Σ_μ h_μ`.
    w: Vec<f32>,
    sparse: Vec<u32>,
    h_total: i64,
}

impl<L: Acc> PreparedPolynomial<L> {
    /// Lays out a polynomial `memory` for retrieval with sums in `L`.
    ///
    /// # Errors
    /// `Value` when the memory is not polynomial or its sums do not fit `L`;
    /// `Memory` when the layout cannot be allocated.
    pub fn new(memory: &Dense) -> Result<Self> {
        let Interaction::Polynomial { degree, rectified } = memory.interaction else {
            return Err(Error::Value("not a polynomial memory".into()));
        };
        let n = memory.n();
        let p = memory.patterns.rows().max(1) as i128;
        let limit = L::MAX;
        let fits = poly_unit(n, degree)
            .and_then(|u| u.checked_mul(p))
            .is_some_and(|x| x <= limit);
        if !fits {
            return Err(Error::Value(format!(
                "degree {degree} with n = {n} does not fit these sums"
            )));
        }
        let blocked = poly_unit(n, degree)
            .and_then(|u| u.checked_mul(p))
            .is_some_and(|x| x < F64_EXACT);
        // F at every overlap the tables need, −n−2..=n+2 in steps of 2,
        // each computed once (this runs on every call).
        let f: Vec<i128> = (0..=n as i64 + 2)
            .map(|v| poly(2 * v - n as i64 - 2, degree, rectified).unwrap_or(0))
            .collect();
        let mut h_tab = Vec::with_capacity(n + 1);
        let mut b_tab = Vec::with_capacity(n + 1);
        let mut f_tab = Vec::with_capacity(n + 1);
        // Overlap m = 2v − n sits at f[v + 1]; m ± 2 at f[v + 1 ± 1].
        for v in 0..=n {
            h_tab.push(L::from_i128(f[v + 2] - f[v]));
            b_tab.push(L::from_i128(f[v + 2] - f[v + 1]));
            f_tab.push(f[v + 1]);
        }
        Ok(PreparedPolynomial {
            layout: Layout::new(&memory.patterns)?,
            h_tab,
            b_tab,
            f_tab,
            blocked,
            blockable: blocked,
        })
    }

    /// Bytes held beyond the patterns: bit planes and tables.
    pub fn nbytes(&self) -> usize {
        self.layout.nbytes()
            + std::mem::size_of_val(&self.h_tab[..])
            + std::mem::size_of_val(&self.b_tab[..])
            + std::mem::size_of_val(&self.f_tab[..])
    }

    /// Whether synchronous blocks use the float32 block product.
    pub fn blocked(&self) -> bool {
        self.blocked
    }

    /// Switches the float32 block product off (`false`) or back on where
    /// it is exact: tests compare both paths.
    pub fn set_blocked(&mut self, on: bool) {
        self.blocked = on && self.blockable;
    }

    /// The float32 weights of `cache` (its `h` must be current): each
    /// chunk of [`CHUNK`] patterns whose `Σ|h|` exceeds `2^24` moves its
    /// terms above [`TERM_LIMIT`] to the exact sparse list, so that every
    /// chunk's float32 sum is exact.
    fn fill_weights(&self, cache: &mut PolynomialCache<L>) {
        let p = self.layout.p;
        cache.w.resize(p, 0.0);
        cache.sparse.clear();
        let mut total = 0i64;
        for (c, (hs, ws)) in cache.h[..p]
            .chunks(CHUNK)
            .zip(cache.w.chunks_mut(CHUNK))
            .enumerate()
        {
            let mut size = 0i64;
            for (w, &h) in ws.iter_mut().zip(hs) {
                let h = h.to_i128() as i64;
                total += h;
                size += h.abs();
                *w = h as f32;
            }
            if size > CHUNK_LIMIT {
                for (k, (w, &h)) in ws.iter_mut().zip(hs).enumerate() {
                    if (h.to_i128() as i64).abs() > TERM_LIMIT {
                        *w = 0.0;
                        cache.sparse.push((c * CHUNK + k) as u32);
                    }
                }
            }
        }
        cache.h_total = total;
    }

    /// A synchronous step of a block by the exact float32 block product:
    /// `G_i = Σ_μ h_μ ξ^μ_i`, then `Σ_{t=+1} h = (Σh + σ_i G_i)/2`.
    #[inline(always)]
    fn drives_blocked(
        &self,
        caches: &mut [&mut PolynomialCache<L>],
        states: &[&[u64]],
        outs: &mut [&mut [f64]],
    ) {
        for (cache, &state) in caches.iter_mut().zip(states) {
            cache.eager = false;
            self.refresh(cache, state);
            self.fill_weights(cache);
        }
        for out in outs.iter_mut() {
            out.fill(0.0);
        }
        let weights: Vec<&[f32]> = caches.iter().map(|c| &c.w[..]).collect();
        signed_sums::add_signed_sums(&self.layout.patterns, &weights, outs);
        for ((cache, &state), out) in caches.iter().zip(states).zip(outs.iter_mut()) {
            for &mu in &cache.sparse {
                let h = cache.h[mu as usize].to_i128() as f64;
                let row = self.layout.patterns.row(mu as usize);
                for (chunk, &bits) in out.chunks_mut(64).zip(row) {
                    for (b, o) in chunk.iter_mut().enumerate() {
                        *o += if (bits >> b) & 1 == 1 { h } else { -h };
                    }
                }
            }
            let (total, tb) = (cache.h_total, cache.tb.to_i128() as i64);
            for (chunk, &word) in out.chunks_mut(64).zip(state) {
                for (b, o) in chunk.iter_mut().enumerate() {
                    let g = *o as i64;
                    let spin = if (word >> b) & 1 == 1 { 1 } else { -1 };
                    // Σ_μ h_μ (1 + σ ξ^μ_i) is twice the agreeing sum.
                    let delta = (total + spin * g) / 2 - tb;
                    *o = signed(delta as f64, spin as i32);
                }
            }
        }
    }

    #[inline(always)]
    fn index(&self, m: i32) -> usize {
        ((m + self.layout.n as i32) / 2) as usize
    }

    #[inline(always)]
    fn rebuild(&self, cache: &mut PolynomialCache<L>) {
        let n = self.layout.n;
        // Slices of known length: the index is clamped into them, so the
        // loop has no bounds checks and vectorises (gathers).
        let (h_tab, b_tab) = (&self.h_tab[..=n], &self.b_tab[..=n]);
        let mut tb = L::default();
        for (h, &m) in cache.h.iter_mut().zip(&cache.m) {
            let v = (((m + n as i32) >> 1) as u32 as usize).min(n);
            *h = h_tab[v];
            tb = tb.add(b_tab[v]);
        }
        cache.tb = tb;
    }

    /// `ΔE_i` exactly (the sign decides).
    #[inline(always)]
    fn delta(&self, cache: &PolynomialCache<L>, spin: i32, i: usize) -> i128 {
        let sum = L::masked_sum(&cache.h, self.layout.plane(i), Layout::invert(spin));
        sum.to_i128() - cache.tb.to_i128()
    }

    #[inline(always)]
    fn refresh(&self, cache: &mut PolynomialCache<L>, state: &[u64]) {
        if cache.stale {
            self.layout.overlaps(state, &mut cache.m);
            self.rebuild(cache);
            cache.stale = false;
        }
    }
}

impl<L: Acc> EnergyModel for PreparedPolynomial<L> {
    type Cache = PolynomialCache<L>;

    fn n(&self) -> usize {
        self.layout.n
    }

    /// Large synchronous blocks for the float32 block product, which reads
    /// the patterns once per block: each thread's share of the queries in
    /// equal blocks of at most [`MAX_SYNC_BLOCK`].
    #[inline(always)]
    fn block_size(&self, update: Update, rows: usize, threads: usize) -> usize {
        match update {
            Update::Sync if self.blocked => {
                let per_thread = rows.div_ceil(threads.max(1));
                let blocks = per_thread.div_ceil(MAX_SYNC_BLOCK).max(1);
                per_thread.div_ceil(blocks).max(SYNC_BLOCK)
            }
            Update::Sync => SYNC_BLOCK,
            Update::Async => crate::engine::energy::ASYNC_BLOCK,
        }
    }

    #[inline(always)]
    fn cache(&self, state: &[u64]) -> PolynomialCache<L> {
        let mut cache = PolynomialCache {
            m: Vec::with_capacity(self.layout.p),
            h: vec![L::default(); self.layout.padded()],
            tb: L::default(),
            eager: true,
            stale: false,
            w: Vec::new(),
            sparse: Vec::new(),
            h_total: 0,
        };
        self.layout.overlaps(state, &mut cache.m);
        self.rebuild(&mut cache);
        cache
    }

    /// `σ_i ΔE_i`, computed pattern by pattern from the energy terms in
    /// exact integers and rounded once.
    #[inline(always)]
    fn gap(&self, cache: &PolynomialCache<L>, state: &[u64], i: usize) -> f64 {
        let m = self.layout.current(&cache.m, cache.stale, state);
        let spin = spins::spin(state, i);
        let delta: i128 = m
            .iter()
            .enumerate()
            .map(|(mu, &x)| {
                let t = if self.layout.agrees(i, mu, spin) {
                    1
                } else {
                    -1
                };
                self.f_tab[self.index(x)] - self.f_tab[self.index(x - 2 * t)]
            })
            .sum();
        (spin as i128 * delta) as f64
    }

    #[inline(always)]
    fn drive(&self, cache: &mut PolynomialCache<L>, state: &[u64], i: usize) -> f64 {
        self.refresh(cache, state);
        let spin = spins::spin(state, i);
        signed(self.delta(cache, spin, i) as f64, spin)
    }

    #[inline(always)]
    fn flip(&self, cache: &mut PolynomialCache<L>, state: &mut [u64], i: usize) {
        spins::flip(state, i);
        if cache.eager && !cache.stale {
            self.layout
                .flip_overlaps(&mut cache.m, i, spins::spin(state, i));
            self.rebuild(cache);
        } else {
            cache.stale = true;
        }
    }

    fn energy(&self, cache: &PolynomialCache<L>, state: &[u64]) -> f64 {
        let m = self.layout.current(&cache.m, cache.stale, state);
        let total: i128 = m.iter().map(|&x| self.f_tab[self.index(x)]).sum();
        (-total) as f64
    }

    #[inline(always)]
    fn drives(&self, cache: &mut PolynomialCache<L>, state: &[u64], out: &mut [f64]) {
        self.drives_many(&mut [cache], &[state], &mut [out]);
    }

    /// A synchronous step: stale queries get fresh overlaps by XOR +
    /// popcount, then the block's exact float32 product where it is exact
    /// ([`PreparedPolynomial::blocked`]), else every neuron's masked sum
    /// over its bit plane. Both give the same integers.
    #[inline(always)]
    fn drives_many(
        &self,
        caches: &mut [&mut PolynomialCache<L>],
        states: &[&[u64]],
        outs: &mut [&mut [f64]],
    ) {
        if self.blocked {
            return self.drives_blocked(caches, states, outs);
        }
        for ((cache, &state), out) in caches.iter_mut().zip(states).zip(outs.iter_mut()) {
            cache.eager = false;
            self.refresh(cache, state);
            for (w, (chunk, &word)) in out.chunks_mut(64).zip(state).enumerate() {
                for (b, o) in chunk.iter_mut().enumerate() {
                    let spin = if (word >> b) & 1 == 1 { 1 } else { -1 };
                    *o = signed(self.delta(cache, spin, 64 * w + b) as f64, spin);
                }
            }
        }
    }
}

/// The exponential interaction laid out for retrieval.
#[derive(Debug)]
pub struct PreparedExponential {
    layout: Layout,
    beta: f64,
    /// `T[u] = ⌊2^S e^{−2βu}⌋` for `u = 0..=n+1`.
    fixed: Vec<i64>,
    /// By `u = 0..=n`: `T[u] + T[u+1]`, `T[u] + T[u−1]` (`T[0]` at 0) and
    /// `T[u−1]` (0 at 0): the per-pattern terms of the two frames.
    high_tab: Vec<i64>,
    low_tab: Vec<i64>,
    before_tab: Vec<i64>,
    /// `e^{−βj}` for `j = 0..=2n`, for energies and gaps.
    decay: Vec<f64>,
    /// The largest `u` whose `high` or `low` term is nonzero: a pattern's
    /// terms are nonzero exactly when `(M − m)/2 ≤ reach` (`T` never
    /// increases with `u`).
    reach: usize,
    /// Whether steps and visits may sum over the nonzero terms only (see
    /// [`PreparedExponential::sparse_drives`] and
    /// [`sparse_delta`](PreparedExponential::sparse_delta)); tests switch
    /// it off.
    sparse_sums: bool,
}

/// Per-query cache of the prepared exponential.
#[derive(Debug, Clone)]
pub struct ExponentialCache {
    /// `m_μ = ξ^μ·s`.
    m: Vec<i32>,
    /// Frame `c = M + 1`: `h = T[u] + T[u+1]` with `u = (M − m)/2` and
    /// `T[u] = ⌊2^S e^{−2βu}⌋`, and `Σ_μ T[u_μ]`.
    high: Vec<i64>,
    high_total: i64,
    /// Frame `c = M − 1`: `h = T[u] + T[u−1]` (`T[0]` at `u = 0`) and
    /// `Σ_{u ≥ 1} T[u−1]`.
    low: Vec<i64>,
    low_total: i64,
    /// Bit set for the patterns of overlap `M`.
    top: Vec<u64>,
    /// The patterns whose `high` or `low` term is nonzero, in order, when
    /// they are at most one in [`SPARSE_SHARE`] (`sparse`): every other
    /// pattern adds 0 to every sum. While `sparse`, only these entries of
    /// `high`, `low` and `top` are kept current.
    nonzero: Vec<u32>,
    sparse: bool,
    eager: bool,
    stale: bool,
}

/// Steps and visits of the exponential sum over the nonzero terms only
/// while they are at most one in this many patterns.
const SPARSE_SHARE: usize = 8;

/// The fixed-point scale `S` for `p` patterns: `min(52, 62 − bits(p))`, so
/// that `2p·2^S < 2^63`.
pub fn fixed_point_bits(p: usize) -> u32 {
    let bits = usize::BITS - p.leading_zeros();
    52u32.min(62 - bits.min(62))
}

impl PreparedExponential {
    /// Lays out an exponential `memory` for retrieval.
    ///
    /// # Errors
    /// `Value` when the memory is not exponential; `Memory` when the layout
    /// cannot be allocated.
    pub fn new(memory: &Dense) -> Result<Self> {
        let Interaction::Exponential { beta } = memory.interaction else {
            return Err(Error::Value("not an exponential memory".into()));
        };
        let n = memory.n();
        let scale = 2f64.powi(fixed_point_bits(memory.patterns.rows()) as i32);
        let fixed: Vec<i64> = (0..=n + 1)
            .map(|u| ((-2.0 * beta * u as f64).exp() * scale) as i64)
            .collect();
        let before_tab: Vec<i64> = (0..=n)
            .map(|u| if u == 0 { 0 } else { fixed[u - 1] })
            .collect();
        let high_tab: Vec<i64> = (0..=n).map(|u| fixed[u] + fixed[u + 1]).collect();
        let low_tab: Vec<i64> = (0..=n).map(|u| fixed[u] + before_tab[u]).collect();
        let decay = (0..=2 * n).map(|j| (-beta * j as f64).exp()).collect();
        let reach = (0..=n)
            .rev()
            .find(|&u| high_tab[u] | low_tab[u] != 0)
            .unwrap_or(0);
        Ok(PreparedExponential {
            layout: Layout::new(&memory.patterns)?,
            beta,
            fixed,
            high_tab,
            low_tab,
            before_tab,
            decay,
            reach,
            sparse_sums: true,
        })
    }

    /// Bytes held beyond the patterns: bit planes and tables.
    pub fn nbytes(&self) -> usize {
        let tables = [&self.fixed, &self.high_tab, &self.low_tab, &self.before_tab];
        self.layout.nbytes()
            + tables
                .iter()
                .map(|t| std::mem::size_of_val(&t[..]))
                .sum::<usize>()
            + std::mem::size_of_val(&self.decay[..])
    }

    /// All drives of `state` from the patterns whose fixed-point terms are
    /// nonzero, when they are at most one in [`SPARSE_SHARE`] of the
    /// patterns (else `false`, and `out` is untouched).
    ///
    /// Terms below `2^−S` of the dominant one are zero in the fixed point
    /// (`T[u] = 0` for `2βu > S ln 2`). Near a stored pattern at a large
    /// `β·N`, almost all of them are: at `β = 0.05`, `N = 1024`, a query
    /// with 10 % of its spins flipped has about one nonzero term. The sums
    /// are the same integers as the masked sums of
    /// [`delta`](Self::delta), added in another order, so the drives are
    /// identical: `D_i` adds `high` (or `low`) over the nonzero patterns
    /// that agree with `σ_i`, and the frame is `high` exactly where a
    /// pattern of overlap `M` (always nonzero, `T[0] = 2^S`) disagrees.
    #[inline(always)]
    fn sparse_drives(&self, cache: &ExponentialCache, state: &[u64], out: &mut [f64]) -> bool {
        if !cache.sparse {
            return false;
        }
        let n = self.layout.n;
        let mut high_sums = vec![0i64; n];
        let mut low_sums = vec![0i64; n];
        let mut top_disagrees = vec![0u64; state.len()];
        for &mu in &cache.nonzero {
            let mu = mu as usize;
            let row = self.layout.patterns.row(mu);
            let top = (cache.top[mu / 64] >> (mu % 64)) & 1 == 1;
            let (h, l) = (cache.high[mu], cache.low[mu]);
            for (w, ((hs, ls), (&x, &s))) in high_sums
                .chunks_mut(64)
                .zip(low_sums.chunks_mut(64))
                .zip(row.iter().zip(state))
                .enumerate()
            {
                if top {
                    top_disagrees[w] |= x ^ s;
                }
                let agree = !(x ^ s);
                for (b, (hi, lo)) in hs.iter_mut().zip(ls.iter_mut()).enumerate() {
                    let keep = (((agree >> b) & 1) as i64).wrapping_neg();
                    *hi = hi.wrapping_add(h & keep);
                    *lo = lo.wrapping_add(l & keep);
                }
            }
        }
        for (w, (chunk, &word)) in out.chunks_mut(64).zip(state).enumerate() {
            for (b, o) in chunk.iter_mut().enumerate() {
                let i = 64 * w + b;
                let spin = if (word >> b) & 1 == 1 { 1 } else { -1 };
                let d = if (top_disagrees[w] >> b) & 1 == 1 {
                    high_sums[i].wrapping_sub(cache.high_total)
                } else {
                    low_sums[i].wrapping_sub(cache.low_total)
                };
                *o = signed(d as f64, spin);
            }
        }
        true
    }

    #[inline(always)]
    fn rebuild(&self, cache: &mut ExponentialCache) {
        let top = cache.m.iter().copied().max().unwrap_or(0);
        let n = self.layout.n;
        let (high, low) = (&self.high_tab[..=n], &self.low_tab[..=n]);
        let (fixed, before) = (&self.fixed[..=n], &self.before_tab[..=n]);
        let (mut high_total, mut low_total) = (0i64, 0i64);
        let limit = self.layout.p / SPARSE_SHARE;
        cache.nonzero.clear();
        for (mu, ((h, l), &m)) in cache
            .high
            .iter_mut()
            .zip(cache.low.iter_mut())
            .zip(&cache.m)
            .enumerate()
        {
            let u = (((top - m) >> 1) as u32 as usize).min(n);
            *h = high[u];
            *l = low[u];
            high_total += fixed[u];
            low_total += before[u];
            if (*h | *l) != 0 && cache.nonzero.len() <= limit {
                cache.nonzero.push(mu as u32);
            }
        }
        cache.sparse = cache.nonzero.len() <= limit;
        for (word, chunk) in cache.top.iter_mut().zip(cache.m.chunks(64)) {
            let mut bits = 0u64;
            for (k, &m) in chunk.iter().enumerate() {
                bits |= ((m == top) as u64) << k;
            }
            *word = bits;
        }
        cache.high_total = high_total;
        cache.low_total = low_total;
    }

    /// [`rebuild`](Self::rebuild) of a cache that was sparse: only the new
    /// nonzero terms are written, so a flip costs a pass over the overlaps
    /// instead of P table lookups.
    /// Falls back to the full rebuild when the terms are no longer few.
    #[inline(always)]
    fn rebuild_sparse(&self, cache: &mut ExponentialCache) {
        debug_assert!(cache.sparse);
        // Entries outside `nonzero` are left as they are: the sparse sums
        // never read them, and the full rebuild writes every entry.
        cache.nonzero.clear();
        let top = cache.m.iter().copied().max().unwrap_or(0);
        // u = (top − m)/2 ≤ reach, i.e. m ≥ top − 2·reach (same parity).
        let floor = top.saturating_sub((2 * self.reach).min(i32::MAX as usize) as i32);
        let limit = self.layout.p / SPARSE_SHARE;
        for (w, chunk) in cache.m.chunks(64).enumerate() {
            let mut bits = 0u64;
            for (k, &m) in chunk.iter().enumerate() {
                bits |= ((m >= floor) as u64) << k;
            }
            while bits != 0 {
                if cache.nonzero.len() == limit {
                    return self.rebuild(cache);
                }
                cache
                    .nonzero
                    .push((64 * w + bits.trailing_zeros() as usize) as u32);
                bits &= bits - 1;
            }
        }
        let n = self.layout.n;
        let (mut high_total, mut low_total) = (0i64, 0i64);
        for &mu in &cache.nonzero {
            let mu = mu as usize;
            let m = cache.m[mu];
            let u = (((top - m) >> 1) as u32 as usize).min(n);
            cache.high[mu] = self.high_tab[u];
            cache.low[mu] = self.low_tab[u];
            high_total += self.fixed[u];
            low_total += self.before_tab[u];
            let bit = 1u64 << (mu % 64);
            cache.top[mu / 64] = (cache.top[mu / 64] & !bit) | (bit * (m == top) as u64);
        }
        cache.high_total = high_total;
        cache.low_total = low_total;
    }

    #[inline(always)]
    fn refresh(&self, cache: &mut ExponentialCache, state: &[u64]) {
        if cache.stale {
            self.layout.overlaps(state, &mut cache.m);
            self.rebuild(cache);
            cache.stale = false;
        }
    }

    /// `D_i` (see the module docs): the sign of `ΔE_i`, in fixed point.
    #[inline(always)]
    fn delta(&self, cache: &ExponentialCache, spin: i32, i: usize) -> i64 {
        if cache.sparse && self.sparse_sums {
            return self.sparse_delta(cache, spin, i);
        }
        let plane = self.layout.plane(i);
        let invert = Layout::invert(spin);
        let high = cache
            .top
            .iter()
            .zip(plane)
            .any(|(&t, &x)| t & !(x ^ invert) != 0);
        if high {
            masked::sum_i64(&cache.high, plane, invert) - cache.high_total
        } else {
            masked::sum_i64(&cache.low, plane, invert) - cache.low_total
        }
    }

    /// [`delta`](Self::delta) over the nonzero terms only: the same
    /// integers added in another order (every other term is 0), in
    /// O(nonzero) instead of O(P) per visit.
    #[inline(always)]
    fn sparse_delta(&self, cache: &ExponentialCache, spin: i32, i: usize) -> i64 {
        let (mut high, mut high_sum, mut low_sum) = (false, 0i64, 0i64);
        for &mu in &cache.nonzero {
            let mu = mu as usize;
            if self.layout.agrees(i, mu, spin) {
                high_sum = high_sum.wrapping_add(cache.high[mu]);
                low_sum = low_sum.wrapping_add(cache.low[mu]);
            } else if (cache.top[mu / 64] >> (mu % 64)) & 1 == 1 {
                high = true;
            }
        }
        if high {
            high_sum.wrapping_sub(cache.high_total)
        } else {
            low_sum.wrapping_sub(cache.low_total)
        }
    }

    /// `log Σ_μ e^{β m_μ}` of overlaps `m` with maximum `top`, divided by β.
    #[inline(always)]
    fn log_sum(&self, m: impl Iterator<Item = i32>, top: i32) -> f64 {
        let z: f64 = m.map(|x| self.decay[(top - x) as usize]).sum();
        top as f64 + z.ln() / self.beta
    }
}

impl EnergyModel for PreparedExponential {
    type Cache = ExponentialCache;

    fn n(&self) -> usize {
        self.layout.n
    }

    #[inline(always)]
    fn cache(&self, state: &[u64]) -> ExponentialCache {
        let padded = self.layout.padded();
        let mut cache = ExponentialCache {
            m: Vec::with_capacity(self.layout.p),
            high: vec![0; padded],
            high_total: 0,
            low: vec![0; padded],
            low_total: 0,
            top: vec![0; self.layout.pw],
            nonzero: Vec::new(),
            sparse: false,
            eager: true,
            stale: false,
        };
        self.layout.overlaps(state, &mut cache.m);
        self.rebuild(&mut cache);
        cache
    }

    /// `E(−1) − E(+1)` of the reported energy `−(1/β) log Σ_μ e^{β m_μ}`,
    /// with both sums max-shifted (finite for any β·N). It is 0 exactly when
    /// the decision is a tie, and is set to 0 in the (near-tie) case where
    /// rounding would give it the sign opposite to the decision.
    #[inline(always)]
    fn gap(&self, cache: &ExponentialCache, state: &[u64], i: usize) -> f64 {
        if self.layout.p == 0 {
            return 0.0;
        }
        let spin = spins::spin(state, i);
        let (m, d) = if cache.stale {
            let mut fresh = self.cache(state);
            fresh.eager = false;
            let d = self.delta(&fresh, spin, i);
            (Cow::Owned(std::mem::take(&mut fresh.m)), d)
        } else {
            (Cow::Borrowed(&cache.m[..]), self.delta(cache, spin, i))
        };
        if d == 0 {
            return 0.0;
        }
        let flipped = |(mu, &x): (usize, &i32)| {
            if self.layout.agrees(i, mu, spin) {
                x - 2
            } else {
                x + 2
            }
        };
        let top = m.iter().copied().max().unwrap_or(0);
        let top_flipped = m.iter().enumerate().map(flipped).max().unwrap_or(0);
        let now = self.log_sum(m.iter().copied(), top);
        let after = self.log_sum(m.iter().enumerate().map(flipped), top_flipped);
        // ΔE = E(flipped) − E(now) = −after + now.
        let g = signed(now - after, spin);
        if (g > 0.0) == (signed(d as f64, spin) > 0.0) && g != 0.0 {
            g
        } else {
            0.0
        }
    }

    #[inline(always)]
    fn drive(&self, cache: &mut ExponentialCache, state: &[u64], i: usize) -> f64 {
        self.refresh(cache, state);
        let spin = spins::spin(state, i);
        signed(self.delta(cache, spin, i) as f64, spin)
    }

    #[inline(always)]
    fn flip(&self, cache: &mut ExponentialCache, state: &mut [u64], i: usize) {
        spins::flip(state, i);
        if cache.eager && !cache.stale {
            self.layout
                .flip_overlaps(&mut cache.m, i, spins::spin(state, i));
            if cache.sparse && self.sparse_sums {
                self.rebuild_sparse(cache);
            } else {
                self.rebuild(cache);
            }
        } else {
            cache.stale = true;
        }
    }

    /// `−(1/β) log Σ_μ e^{β m_μ}` (`+∞` with no patterns).
    fn energy(&self, cache: &ExponentialCache, state: &[u64]) -> f64 {
        if self.layout.p == 0 {
            return f64::INFINITY;
        }
        let m = self.layout.current(&cache.m, cache.stale, state);
        let top = m.iter().copied().max().unwrap_or(0);
        -self.log_sum(m.iter().copied(), top)
    }

    #[inline(always)]
    fn drives(&self, cache: &mut ExponentialCache, state: &[u64], out: &mut [f64]) {
        self.drives_many(&mut [cache], &[state], &mut [out]);
    }

    /// A synchronous step: stale queries get fresh overlaps by XOR +
    /// popcount, then the sums over the nonzero terms where they are few
    /// ([`PreparedExponential::sparse_drives`]), else every neuron's masked
    /// sum over its bit plane. Both give the same integers.
    #[inline(always)]
    fn drives_many(
        &self,
        caches: &mut [&mut ExponentialCache],
        states: &[&[u64]],
        outs: &mut [&mut [f64]],
    ) {
        for ((cache, &state), out) in caches.iter_mut().zip(states).zip(outs.iter_mut()) {
            cache.eager = false;
            self.refresh(cache, state);
            if self.sparse_sums && self.sparse_drives(cache, state, out) {
                continue;
            }
            for (w, (chunk, &word)) in out.chunks_mut(64).zip(state).enumerate() {
                for (b, o) in chunk.iter_mut().enumerate() {
                    let spin = if (word >> b) & 1 == 1 { 1 } else { -1 };
                    *o = signed(self.delta(cache, spin, 64 * w + b) as f64, spin);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::num::NonZeroU32;

    use crate::engine::batch;
    use crate::engine::schedule::{Order, Schedule, Update};
    use crate::model::{Hebbian, PreparedHebbian};
    use crate::rng::{self, Purpose};

    fn random_spins(seed: u64, len: usize) -> Vec<i8> {
        let mut r = rng::stream(seed, 0, Purpose::Noise);
        (0..len)
            .map(|_| if rng::below(&mut r, 2) == 1 { 1 } else { -1 })
            .collect()
    }

    fn memory(p: usize, n: usize, seed: u64, interaction: Interaction) -> (Dense, Vec<i8>) {
        let xs = random_spins(seed, p * n);
        let mut d = Dense::new(n, interaction).unwrap();
        d.store(&SpinMatrix::from_spins(&xs, p, n).unwrap())
            .unwrap();
        (d, xs)
    }

    /// `−Σ_μ F(ξ^μ·s)` by the definition, in f64.
    fn naive_energy(xs: &[i8], p: usize, n: usize, s: &[i8], f: &dyn Fn(i64) -> f64) -> f64 {
        -(0..p)
            .map(|mu| {
                let m: i64 = (0..n).map(|j| (xs[mu * n + j] * s[j]) as i64).sum();
                f(m)
            })
            .sum::<f64>()
    }

    fn check_gaps<M: EnergyModel>(k: &M, n: usize, s: &[i8], energy: &dyn Fn(&[i8]) -> f64) {
        let state = SpinMatrix::from_spins(s, 1, n).unwrap();
        let mut cache = k.cache(state.row(0));
        for i in 0..n {
            let mut plus = s.to_vec();
            plus[i] = 1;
            let mut minus = s.to_vec();
            minus[i] = -1;
            let want = energy(&minus) - energy(&plus);
            let gap = k.gap(&cache, state.row(0), i);
            let drive = k.drive(&mut cache, state.row(0), i);
            assert!(
                (gap - want).abs() <= 1e-9 * want.abs().max(1.0),
                "neuron {i}: gap {gap} vs {want}"
            );
            let sign = |x: f64| (x > 0.0) as i32 - (x < 0.0) as i32;
            assert_eq!(sign(drive), sign(gap), "neuron {i}");
            assert!(gap.is_finite());
        }
    }

    #[test]
    fn polynomial_gaps_are_energy_differences() {
        for (degree, rectified) in [(1, false), (2, true), (3, false), (3, true), (5, true)] {
            for (p, n) in [(3usize, 1usize), (7, 63), (70, 65), (5, 130)] {
                let inter = Interaction::Polynomial { degree, rectified };
                let (d, xs) = memory(p, n, (p * n) as u64 + degree as u64, inter);
                let f = move |m: i64| poly(m, degree, rectified).unwrap() as f64;
                let s = random_spins(99, n);
                let energy = |s: &[i8]| naive_energy(&xs, p, n, s, &f);
                with_prepared_dense!(d.prepare().unwrap(), |k| {
                    let state = SpinMatrix::from_spins(&s, 1, n).unwrap();
                    let c = k.cache(state.row(0));
                    assert_eq!(k.energy(&c, state.row(0)), energy(&s));
                    check_gaps(&k, n, &s, &energy);
                });
                let wide = PreparedPolynomial::<i128>::new(&d).unwrap();
                check_gaps(&wide, n, &s, &energy);
            }
        }
    }

    #[test]
    fn exponential_gaps_match_log_sum_exp_energy_even_at_large_beta() {
        for beta in [0.05, 1.0, 40.0] {
            let (p, n) = (50usize, 100usize);
            let (d, xs) = memory(p, n, 3, Interaction::Exponential { beta });
            let energy = |s: &[i8]| {
                let ms: Vec<f64> = (0..p)
                    .map(|mu| (0..n).map(|j| (xs[mu * n + j] * s[j]) as f64).sum())
                    .collect();
                let top = ms.iter().cloned().fold(f64::MIN, f64::max);
                -top - ms
                    .iter()
                    .map(|m| (beta * (m - top)).exp())
                    .sum::<f64>()
                    .ln()
                    / beta
            };
            // A corrupted pattern, so that decisions are not all near-ties.
            let mut s = xs[..n].to_vec();
            for v in s.iter_mut().step_by(9) {
                *v = -*v;
            }
            let k = PreparedExponential::new(&d).unwrap();
            check_gaps(&k, n, &s, &energy);
        }
    }

    #[test]
    fn degree_two_follows_the_hebbian_network() {
        let (p, n) = (30usize, 200usize);
        let inter = Interaction::Polynomial {
            degree: 2,
            rectified: false,
        };
        let (d, xs) = memory(p, n, 5, inter);
        let mut h = Hebbian::new(n, vec![0.0; n]).unwrap();
        h.store(&SpinMatrix::from_spins(&xs, p, n).unwrap())
            .unwrap();
        let hk = PreparedHebbian::<i32>::new(&h).unwrap();
        let queries = SpinMatrix::from_spins(&random_spins(6, 20 * n), 20, n).unwrap();
        for update in [Update::Async, Update::Sync] {
            let s = Schedule::deterministic(update, Order::Random, NonZeroU32::new(30).unwrap(), 4);
            let a = with_prepared_dense!(d.prepare().unwrap(), |k| batch::retrieve(
                &k, &queries, 0, &s
            ))
            .unwrap();
            let b = batch::retrieve(&hk, &queries, 0, &s).unwrap();
            assert_eq!(a.states, b.states, "{update:?}");
            for (x, y) in a.outcomes.iter().zip(&b.outcomes) {
                assert_eq!(
                    (x.sweeps, x.converged, x.cycled),
                    (y.sweeps, y.converged, y.cycled)
                );
            }
        }
    }

    #[test]
    fn async_energy_never_increases_and_sync_equals_single_rows() {
        for inter in [
            Interaction::Polynomial {
                degree: 3,
                rectified: true,
            },
            Interaction::Exponential { beta: 0.5 },
        ] {
            let (p, n) = (200usize, 100usize);
            let (d, _) = memory(p, n, 8, inter);
            let queries = SpinMatrix::from_spins(&random_spins(9, 12 * n), 12, n).unwrap();
            with_prepared_dense!(d.prepare().unwrap(), |k| {
                let at_most = NonZeroU32::new(50).unwrap();
                let s = Schedule::deterministic(Update::Async, Order::Random, at_most, 1)
                    .tracking_energy(true);
                let out = batch::retrieve(&k, &queries, 0, &s).unwrap();
                for o in &out.outcomes {
                    assert!(o.converged);
                    for pair in o.trace.windows(2) {
                        assert!(pair[1] <= pair[0], "{inter:?}: energy rose: {:?}", o.trace);
                    }
                }
                let s = Schedule::deterministic(Update::Sync, Order::Random, at_most, 1)
                    .tracking_energy(true);
                let all = batch::retrieve(&k, &queries, 0, &s).unwrap();
                for r in [0usize, 5, 11] {
                    let row = SpinMatrix::from_spins(
                        &queries.to_spins().unwrap()[r * n..(r + 1) * n],
                        1,
                        n,
                    )
                    .unwrap();
                    let alone = batch::retrieve(&k, &row, r as u64, &s).unwrap();
                    assert_eq!(alone.states.row(0), all.states.row(r));
                    assert_eq!(alone.outcomes[0], all.outcomes[r]);
                }
            });
        }
    }

    #[test]
    fn stale_sync_caches_give_fresh_gaps_drives_and_energies() {
        let n = 70;
        for inter in [
            Interaction::Polynomial {
                degree: 4,
                rectified: false,
            },
            Interaction::Exponential { beta: 2.0 },
        ] {
            let (d, _) = memory(90, n, 12, inter);
            with_prepared_dense!(d.prepare().unwrap(), |k| {
                let mut state = SpinMatrix::from_spins(&random_spins(13, n), 1, n).unwrap();
                let mut cache = k.cache(state.row(0));
                let mut out = vec![0.0; n];
                k.drives(&mut cache, state.row(0), &mut out);
                for j in [0usize, 5, 69] {
                    k.flip(&mut cache, state.row_mut(0), j);
                }
                let mut fresh = k.cache(state.row(0));
                assert_eq!(
                    k.energy(&cache, state.row(0)),
                    k.energy(&fresh, state.row(0))
                );
                for i in 0..n {
                    let g = k.gap(&cache, state.row(0), i);
                    assert_eq!(g, k.gap(&fresh, state.row(0), i), "{inter:?} neuron {i}");
                }
                let mut again = vec![0.0; n];
                k.drives(&mut cache, state.row(0), &mut again);
                for (i, &x) in again.iter().enumerate() {
                    assert_eq!(
                        x,
                        k.drive(&mut fresh, state.row(0), i),
                        "{inter:?} neuron {i}"
                    );
                }
            });
        }
    }

    /// The drives of a synchronous block of `states`, by `k`'s current path.
    fn block_drives<L: Acc>(k: &PreparedPolynomial<L>, states: &SpinMatrix) -> Vec<f64> {
        let n = states.n();
        let mut caches: Vec<_> = (0..states.rows()).map(|r| k.cache(states.row(r))).collect();
        let mut out = vec![f64::NAN; states.rows() * n];
        let mut refs: Vec<&mut PolynomialCache<L>> = caches.iter_mut().collect();
        let rows: Vec<&[u64]> = (0..states.rows()).map(|r| states.row(r)).collect();
        let mut outs: Vec<&mut [f64]> = out.chunks_mut(n).collect();
        k.drives_many(&mut refs, &rows, &mut outs);
        out
    }

    #[test]
    fn blocked_sync_equals_the_masked_sums_at_every_level_on_awkward_sizes() {
        use crate::simd::{self, Level};
        for (degree, rectified, p, n) in [
            (3, true, 1usize, 1usize),
            (3, false, 257, 17),
            (2, false, 300, 65),
            (4, false, 600, 200),
            (5, true, 130, 130),
            (1, false, 70, 64),
            (3, true, 513, 100),
        ] {
            let inter = Interaction::Polynomial { degree, rectified };
            let (d, xs) = memory(p, n, (7 * p + n) as u64, inter);
            // Stored patterns (the largest gains), corrupted ones and noise.
            let rows = 13;
            let mut qs = random_spins(p as u64 + 1, rows * n);
            for r in 0..rows {
                let mu = (5 * r) % p;
                if r % 3 < 2 {
                    qs[r * n..(r + 1) * n].copy_from_slice(&xs[mu * n..(mu + 1) * n]);
                }
                if r % 3 == 1 {
                    for v in qs[r * n..(r + 1) * n].iter_mut().step_by(7) {
                        *v = -*v;
                    }
                }
            }
            let states = SpinMatrix::from_spins(&qs, rows, n).unwrap();
            let mut k = PreparedPolynomial::<i64>::new(&d).unwrap();
            assert!(k.blocked(), "degree {degree} n {n} p {p}");
            let before = simd::level();
            for level in [Level::Portable, Level::Popcnt, Level::Avx2, Level::Avx512] {
                simd::set_level(level);
                k.set_blocked(false);
                let want = block_drives(&k, &states);
                k.set_blocked(true);
                let got = block_drives(&k, &states);
                assert_eq!(got, want, "{level:?} degree {degree} p {p} n {n}");
                let s = Schedule::deterministic(
                    Update::Sync,
                    Order::Random,
                    NonZeroU32::new(30).unwrap(),
                    1,
                );
                let a = batch::retrieve(&k, &states, 0, &s).unwrap();
                k.set_blocked(false);
                let b = batch::retrieve(&k, &states, 0, &s).unwrap();
                assert_eq!(a.states, b.states, "{level:?} degree {degree}");
                assert_eq!(a.outcomes, b.outcomes, "{level:?} degree {degree}");
            }
            simd::set_level(before);
        }
    }

    #[test]
    fn sparse_exponential_sums_equal_the_masked_sums_on_awkward_sizes() {
        let mut sparse_seen = 0;
        for beta in [0.05, 0.5, 3.0] {
            for (p, n) in [(9usize, 1usize), (70, 65), (300, 130), (513, 200)] {
                let (d, xs) = memory(p, n, (3 * p + n) as u64, Interaction::Exponential { beta });
                let rows = 12;
                let mut qs = random_spins(p as u64 + 5, rows * n);
                for r in 0..rows {
                    let mu = (7 * r) % p;
                    if r % 3 < 2 {
                        qs[r * n..(r + 1) * n].copy_from_slice(&xs[mu * n..(mu + 1) * n]);
                    }
                    if r % 3 == 1 {
                        for v in qs[r * n..(r + 1) * n].iter_mut().step_by(5) {
                            *v = -*v;
                        }
                    }
                }
                let states = SpinMatrix::from_spins(&qs, rows, n).unwrap();
                let mut k = PreparedExponential::new(&d).unwrap();
                for r in 0..rows {
                    let cache = k.cache(states.row(r));
                    let mut got = vec![f64::NAN; n];
                    if k.sparse_drives(&cache, states.row(r), &mut got) {
                        sparse_seen += 1;
                        let spin = |i| spins::spin(states.row(r), i);
                        let visit = |k: &PreparedExponential| -> Vec<f64> {
                            (0..n)
                                .map(|i| signed(k.delta(&cache, spin(i), i) as f64, spin(i)))
                                .collect()
                        };
                        // One visit at a time over the nonzero terms, then
                        // over every pattern's masked sum.
                        assert_eq!(got, visit(&k), "beta {beta} p {p} n {n} row {r}");
                        k.sparse_sums = false;
                        assert_eq!(got, visit(&k), "beta {beta} p {p} n {n} row {r}");
                        k.sparse_sums = true;
                    }
                }
                for update in [Update::Sync, Update::Async] {
                    let s = Schedule::deterministic(
                        update,
                        Order::Random,
                        NonZeroU32::new(30).unwrap(),
                        1,
                    );
                    k.sparse_sums = true;
                    let a = batch::retrieve(&k, &states, 0, &s).unwrap();
                    k.sparse_sums = false;
                    let b = batch::retrieve(&k, &states, 0, &s).unwrap();
                    let at = format!("{update:?} beta {beta} p {p} n {n}");
                    assert_eq!(a.states, b.states, "{at}");
                    assert_eq!(a.outcomes, b.outcomes, "{at}");
                }
            }
        }
        assert!(sparse_seen >= 20, "the sparse path ran {sparse_seen} times");
    }

    /// After every flip of an async descent, the incrementally kept sparse
    /// cache holds what a cache built afresh from the state holds, also
    /// when another pattern takes the top (queries half one pattern, half
    /// another).
    #[test]
    fn sparse_flips_keep_the_cache_of_a_fresh_build() {
        let (mut top_changes, mut sparse_flips) = (0, 0);
        for beta in [0.3, 1.0, 3.0] {
            let (p, n) = (80usize, 150usize);
            let (d, xs) = memory(
                p,
                n,
                40 + (10.0 * beta) as u64,
                Interaction::Exponential { beta },
            );
            let k = PreparedExponential::new(&d).unwrap();
            for r in 0..20 {
                let (a, b) = (r % p, (r + 1 + r / 3) % p);
                let mut s: Vec<i8> = (0..n)
                    .map(|j| {
                        if j < n / 2 + r % 7 {
                            xs[a * n + j]
                        } else {
                            xs[b * n + j]
                        }
                    })
                    .collect();
                for v in s.iter_mut().skip(r).step_by(11) {
                    *v = -*v;
                }
                let mut state = SpinMatrix::from_spins(&s, 1, n).unwrap();
                let mut cache = k.cache(state.row(0));
                for sweep in 0..4 {
                    for i in (0..n).map(|i| (i * 37 + sweep * 11 + r) % n) {
                        let was_top = cache.top.clone();
                        let sparse = cache.sparse;
                        let drive = k.drive(&mut cache, state.row(0), i);
                        if drive >= 0.0 {
                            continue;
                        }
                        k.flip(&mut cache, state.as_words_mut(), i);
                        let fresh = k.cache(state.row(0));
                        assert_eq!(cache.m, fresh.m);
                        assert_eq!(cache.sparse, fresh.sparse, "beta {beta} row {r}");
                        assert_eq!(cache.nonzero, fresh.nonzero, "beta {beta} row {r}");
                        assert_eq!(cache.high_total, fresh.high_total);
                        assert_eq!(cache.low_total, fresh.low_total);
                        for &mu in &fresh.nonzero {
                            let mu = mu as usize;
                            assert_eq!(cache.high[mu], fresh.high[mu]);
                            assert_eq!(cache.low[mu], fresh.low[mu]);
                            let bit = |t: &[u64]| (t[mu / 64] >> (mu % 64)) & 1;
                            assert_eq!(bit(&cache.top), bit(&fresh.top), "beta {beta} row {r}");
                        }
                        if sparse && fresh.sparse {
                            sparse_flips += 1;
                            top_changes += (was_top != fresh.top) as usize;
                        }
                    }
                }
            }
        }
        assert!(sparse_flips >= 100, "{sparse_flips} sparse flips");
        assert!(top_changes >= 5, "the top changed {top_changes} times");
    }

    #[test]
    fn large_gains_take_the_exact_sparse_path() {
        // x^4 at n = 200: a stored pattern's gain is about 16·200^3 > 2^24,
        // more than one float32 chunk holds.
        let inter = Interaction::Polynomial {
            degree: 4,
            rectified: false,
        };
        let (p, n) = (600usize, 200usize);
        let (d, xs) = memory(p, n, 21, inter);
        let k = PreparedPolynomial::<i64>::new(&d).unwrap();
        let state = SpinMatrix::from_spins(&xs[3 * n..4 * n], 1, n).unwrap();
        let mut cache = k.cache(state.row(0));
        k.fill_weights(&mut cache);
        assert!(cache.sparse.contains(&3), "{:?}", cache.sparse);
        for chunk in cache.w.chunks(CHUNK) {
            let size: f64 = chunk.iter().map(|w| w.abs() as f64).sum();
            assert!(size <= CHUNK_LIMIT as f64);
        }
        // Beyond 2^53 the block product is not exact and is not used.
        let (big, _) = memory(
            100,
            1000,
            22,
            Interaction::Polynomial {
                degree: 5,
                rectified: false,
            },
        );
        let mut k = PreparedPolynomial::<i64>::new(&big).unwrap();
        assert!(!k.blocked());
        k.set_blocked(true);
        assert!(!k.blocked());
    }

    #[test]
    fn bad_construction_and_overflow_are_refused() {
        let poly = |degree| Interaction::Polynomial {
            degree,
            rectified: true,
        };
        assert!(Dense::new(0, poly(3)).is_err());
        assert!(Dense::new(10, poly(0)).is_err());
        for beta in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(Dense::new(10, Interaction::Exponential { beta }).is_err());
        }
        // (1000+2)^13 · 5 > 2^127: refused at once.
        assert!(matches!(Dense::new(1000, poly(13)), Err(Error::Value(_))));
        // (1000+2)^12 · 5 ≈ 5.1e36 fits once but not 40 times (2^127 ≈ 1.7e38).
        let mut d = Dense::new(1000, poly(12)).unwrap();
        let one = SpinMatrix::from_spins(&random_spins(1, 1000 * 20), 20, 1000).unwrap();
        d.store(&one).unwrap();
        assert!(matches!(d.store(&one), Err(Error::Value(_))));
        assert_eq!(d.patterns().rows(), 20, "a refused store changes nothing");
        assert!(matches!(d.prepare().unwrap(), PreparedDense::Wide(_)));
        let small = Dense::new(100, poly(3)).unwrap();
        assert!(matches!(small.prepare().unwrap(), PreparedDense::Narrow(_)));
        assert!(d.store(&SpinMatrix::new(7).unwrap()).is_err());
        assert_eq!(fixed_point_bits(0), 52);
        assert_eq!(fixed_point_bits(4096), 49);
    }
}
