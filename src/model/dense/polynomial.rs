//! The polynomial interaction `F(x) = x^d` (rectified or not) laid out for
//! retrieval: exact integer sums in `i64` or `i128`.

use std::sync::Arc;

use super::interaction::{poly, poly_unit, Interaction};
use super::layout::{signed, Layout};
use crate::engine::energy::{EnergyModel, SYNC_BLOCK};
use crate::engine::schedule::Update;
use crate::error::{Error, Result};
use crate::model::masked;
use crate::model::signed_sums::{self, CHUNK, CHUNK_LIMIT, TERM_LIMIT};
use crate::spins::{self, SpinMatrix};

/// Sums of `|h|` below this are exact integers in float64 (the blocked
/// synchronous step of the polynomial).
const F64_EXACT: i128 = 1 << 53;

/// Most queries per synchronous block of the float32 block product: the
/// expanded signs of a chunk are shared by the block, and each query keeps
/// `16·P` bytes of cache.
const MAX_SYNC_BLOCK: usize = 48;

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
    pub(super) w: Vec<f32>,
    pub(super) sparse: Vec<u32>,
    h_total: i64,
}

impl<L: Acc> PreparedPolynomial<L> {
    /// Lays out a polynomial `memory` for retrieval with sums in `L`.
    ///
    /// # Errors
    /// `Value` when the memory is not polynomial or its sums do not fit `L`;
    /// `Memory` when the layout cannot be allocated.
    pub fn new(patterns: &Arc<SpinMatrix>, interaction: Interaction) -> Result<Self> {
        let Interaction::Polynomial { degree, rectified } = interaction else {
            return Err(Error::Value("not a polynomial memory".into()));
        };
        let n = patterns.n();
        let p = patterns.rows().max(1) as i128;
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
            layout: Layout::new(patterns)?,
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
    pub(super) fn fill_weights(&self, cache: &mut PolynomialCache<L>) {
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
