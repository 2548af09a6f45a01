//! The exponential interaction `F(x) = exp(βx)` laid out for retrieval:
//! fixed-point decisions in a max-shifted frame (see the module above).

use std::borrow::Cow;
use std::sync::Arc;

use super::interaction::Interaction;
use super::layout::{signed, Layout};
use crate::engine::energy::EnergyModel;
use crate::error::{Error, Result};
use crate::model::masked;
use crate::spins::{self, SpinMatrix};

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
    pub(super) sparse_sums: bool,
}

/// Per-query cache of the prepared exponential.
#[derive(Debug, Clone)]
pub struct ExponentialCache {
    /// `m_μ = ξ^μ·s`.
    pub(super) m: Vec<i32>,
    /// Frame `c = M + 1`: `h = T[u] + T[u+1]` with `u = (M − m)/2` and
    /// `T[u] = ⌊2^S e^{−2βu}⌋`, and `Σ_μ T[u_μ]`.
    pub(super) high: Vec<i64>,
    pub(super) high_total: i64,
    /// Frame `c = M − 1`: `h = T[u] + T[u−1]` (`T[0]` at `u = 0`) and
    /// `Σ_{u ≥ 1} T[u−1]`.
    pub(super) low: Vec<i64>,
    pub(super) low_total: i64,
    /// Bit set for the patterns of overlap `M`.
    pub(super) top: Vec<u64>,
    /// The patterns whose `high` or `low` term is nonzero, in order, when
    /// they are at most one in [`SPARSE_SHARE`] (`sparse`): every other
    /// pattern adds 0 to every sum. While `sparse`, only these entries of
    /// `high`, `low` and `top` are kept current.
    pub(super) nonzero: Vec<u32>,
    pub(super) sparse: bool,
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
    pub fn new(patterns: &Arc<SpinMatrix>, interaction: Interaction) -> Result<Self> {
        let Interaction::Exponential { beta } = interaction else {
            return Err(Error::Value("not an exponential memory".into()));
        };
        let n = patterns.n();
        let scale = 2f64.powi(fixed_point_bits(patterns.rows()) as i32);
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
            layout: Layout::new(patterns)?,
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
    pub(super) fn sparse_drives(
        &self,
        cache: &ExponentialCache,
        state: &[u64],
        out: &mut [f64],
    ) -> bool {
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
    pub(super) fn delta(&self, cache: &ExponentialCache, spin: i32, i: usize) -> i64 {
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
