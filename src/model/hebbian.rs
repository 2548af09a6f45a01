//! The classical Hopfield energy with Hebbian weights, factored through the
//! stored patterns so that no N×N matrix is ever needed:
//!
//! `W = (1/N) Σ_μ ξ^μ ξ^μᵀ` with `W_ii = 0`, `E(s) = −½ sᵀWs + θᵀs`,
//! `N·Σ_j W_ij s_j = Σ_μ m_μ ξ^μ_i − P·s_i` with overlaps `m_μ = ξ^μ·s`.
//!
//! All of that is exact integer arithmetic; only the final division by N
//! and the threshold are floating point, done in the same order as the
//! NumPy reference (`A / N − θ`), so ties are real and results bit-exact.

use super::EnergyModel;
use crate::error::{checked_bytes, Error, Result};
use crate::spins::{self, SpinMatrix};

/// A Hebbian memory: the stored patterns, bit-packed, and the thresholds.
/// This is all it holds (`P·N/8` bytes plus `8·N` for θ).
#[derive(Debug, Clone)]
pub struct Hebbian {
    patterns: SpinMatrix,
    threshold: Vec<f64>,
}

impl Hebbian {
    /// An empty memory of `n` neurons with thresholds `threshold` (length `n`).
    ///
    /// # Errors
    /// `Value` when `n` is zero or too large for exact 32-bit overlaps, or a
    /// threshold is not finite; `Shape` when `threshold.len() != n`.
    pub fn new(n: usize, threshold: Vec<f64>) -> Result<Self> {
        if n > i32::MAX as usize / 2 {
            return Err(Error::Value(format!("n must be at most {}, got {n}", i32::MAX / 2)));
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
        Ok(Hebbian { patterns, threshold })
    }

    /// Appends `patterns` to the memory (Hebbian learning is additive).
    ///
    /// # Errors
    /// `Shape` when the patterns do not have `n` neurons.
    pub fn store(&mut self, patterns: &SpinMatrix) -> Result<()> {
        if patterns.n() != self.n() {
            return Err(Error::Shape(format!(
                "patterns must have n = {} columns, got {}",
                self.n(),
                patterns.n()
            )));
        }
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

    /// Bytes held: the packed patterns and the thresholds.
    pub fn nbytes(&self) -> usize {
        self.patterns.nbytes() + self.threshold.len() * std::mem::size_of::<f64>()
    }

    /// The retrieval kernel: the patterns laid out by neuron for fast fields.
    /// Built per call, in `O(P·N)`; it is not kept by the memory.
    ///
    /// # Errors
    /// `Memory` when the transposed layout cannot be allocated.
    pub fn kernel(&self) -> Result<HebbianKernel<'_>> {
        HebbianKernel::new(self)
    }

    /// The materialised weights `W` (row-major N×N, zero diagonal).
    ///
    /// # Errors
    /// `Memory` when N×N doubles cannot be allocated.
    pub fn weights(&self) -> Result<Vec<f64>> {
        let n = self.n();
        let count = n
            .checked_mul(n)
            .ok_or_else(|| Error::Memory(format!("a {n} × {n} weight matrix cannot be allocated")))?;
        checked_bytes(&format!("a {n} × {n} weight matrix"), count, 8)?;
        let kernel = self.kernel()?;
        let mut w = vec![0.0; count];
        let mut row = vec![0i64; n];
        for (j, wj) in w.chunks_exact_mut(n).enumerate() {
            row.iter_mut().for_each(|x| *x = 0);
            kernel.add_weight_row(&mut row, j, 1);
            for (x, &r) in wj.iter_mut().zip(&row) {
                *x = r as f64 / n as f64;
            }
        }
        Ok(w)
    }
}

/// Per-query cache: overlaps with every pattern, and (for synchronous
/// steps) the integer fields with the flips made since they were computed.
#[derive(Debug, Clone)]
pub struct HebbianCache {
    /// `m_μ = ξ^μ·s`, padded with entries that are never read (see
    /// [`HebbianKernel::selected_sum`]).
    m: Vec<i32>,
    /// `Σ_μ m_μ` over the real patterns.
    sum_m: i64,
    /// `A_i = Σ_μ m_μ ξ^μ_i − P·s_i`, valid when `fields_valid`, once the
    /// flips in `pending` are applied.
    fields: Vec<i64>,
    fields_valid: bool,
    /// Flips not yet applied to `fields`: neuron and its new spin.
    pending: Vec<(u32, i32)>,
}

/// The Hebbian model laid out for retrieval. Implements [`EnergyModel`].
#[derive(Debug)]
pub struct HebbianKernel<'a> {
    memory: &'a Hebbian,
    n: usize,
    p: usize,
    /// `p` rounded up to a multiple of 64.
    p_pad: usize,
    /// `n × p_pad` selectors: −1 where `ξ^μ_i = +1`, 0 where it is −1 or μ is padding.
    select: Vec<i8>,
    /// `Σ_μ ξ^μ_i` per neuron: how `Σ m` moves when neuron i flips.
    column_sums: Vec<i64>,
    /// Patterns transposed into bit planes: word `w*n + i` holds bit
    /// `μ % 64` = [ξ^μ_i = +1] for μ in `64w..64w+64`. A weight is then
    /// `N·W_ij = P − 2·popcount(plane_i ⊕ plane_j)` summed over planes.
    planes: Vec<u64>,
    planes_per_neuron: usize,
    /// Patterns per 32-bit partial sum, so that sums never overflow.
    chunk: usize,
    zero_threshold: bool,
}

impl<'a> HebbianKernel<'a> {
    fn new(memory: &'a Hebbian) -> Result<Self> {
        let n = memory.n();
        let p = memory.patterns.rows();
        let p_pad = p.div_ceil(64).max(1) * 64;
        let pw = p.div_ceil(64).max(1);
        let select_len = n
            .checked_mul(p_pad)
            .ok_or_else(|| Error::Memory("the retrieval layout cannot be allocated".into()))?;
        checked_bytes("the retrieval layout of the patterns", select_len, 1)?;
        checked_bytes("the bit planes of the patterns", pw * n, 8)?;
        let mut select = vec![0i8; select_len];
        let mut planes = vec![0u64; pw * n];
        let mut column_sums = vec![-(p as i64); n];
        for mu in 0..p {
            let row = memory.patterns.row(mu);
            let (w, b) = (mu / 64, mu % 64);
            for i in 0..n {
                if spins::spin(row, i) > 0 {
                    select[i * p_pad + mu] = -1;
                    planes[w * n + i] |= 1u64 << b;
                    column_sums[i] += 2;
                }
            }
        }
        let per_chunk = (i32::MAX as usize / n.max(1)).max(1);
        let chunk = if per_chunk >= 64 { per_chunk / 64 * 64 } else { per_chunk };
        Ok(HebbianKernel {
            memory,
            n,
            p,
            p_pad,
            select,
            column_sums,
            planes,
            planes_per_neuron: pw,
            chunk,
            zero_threshold: memory.threshold.iter().all(|&t| t == 0.0),
        })
    }

    /// Number of stored patterns.
    pub fn num_patterns(&self) -> usize {
        self.p
    }

    /// `Σ_μ m_μ [ξ^μ_i = +1]` for the selector row of neuron `i`. Padding
    /// entries of `m` are masked out by a zero selector.
    #[inline(always)]
    fn selected_sum(&self, m: &[i32], i: usize) -> i64 {
        let select = &self.select[i * self.p_pad..(i + 1) * self.p_pad];
        if self.chunk >= self.p_pad {
            sum_selected_i32(m, select) as i64
        } else {
            m.chunks(self.chunk).zip(select.chunks(self.chunk)).map(|(a, s)| sum_selected_i32(a, s) as i64).sum()
        }
    }

    /// The integer field `A_i = Σ_μ m_μ ξ^μ_i − P·s_i`.
    #[inline(always)]
    fn integer_field(&self, cache: &HebbianCache, state: &[u64], i: usize) -> i64 {
        2 * self.selected_sum(&cache.m, i) - cache.sum_m - self.p as i64 * spins::spin(state, i) as i64
    }

    /// The field `h_i = A_i / N − θ_i`, in the reference's order of operations.
    #[inline(always)]
    fn field_from_integer(&self, a: i64, i: usize) -> f64 {
        a as f64 / self.n as f64 - self.memory.threshold[i]
    }

    /// Adds `scale · N·W_{:,j}` (zero diagonal) to `row`.
    #[inline(always)]
    fn add_weight_row(&self, row: &mut [i64], j: usize, scale: i64) {
        let n = self.n;
        let p = self.p as i64;
        for w in 0..self.planes_per_neuron {
            let plane = &self.planes[w * n..(w + 1) * n];
            let pj = plane[j];
            let first = w == 0;
            for (r, &pi) in row.iter_mut().zip(plane) {
                let d = 2 * (pi ^ pj).count_ones() as i64;
                *r += scale * (if first { p - d } else { -d });
            }
        }
        row[j] -= scale * p;
    }

    /// The fields `h` (length N) of a state.
    pub fn fields(&self, state: &[u64], out: &mut [f64]) {
        let cache = self.cache(state);
        for (i, h) in out.iter_mut().enumerate() {
            *h = self.field_from_integer(self.integer_field(&cache, state, i), i);
        }
    }

    /// The overlaps `ξ^μ·s` (length P) of a state.
    pub fn overlaps(&self, state: &[u64], out: &mut [i32]) {
        for (mu, o) in out.iter_mut().enumerate() {
            *o = spins::overlap(self.memory.patterns.row(mu), state, self.n);
        }
    }

    /// Flips beyond which a synchronous step recomputes fields from the
    /// overlaps instead of updating them one weight row at a time.
    fn incremental_limit(&self) -> usize {
        // A weight row costs ~planes_per_neuron popcounts per neuron; a full
        // recompute ~p_pad/16 vector adds per neuron.
        (self.p_pad / (4 * self.planes_per_neuron)).max(1)
    }
}

/// `Σ m_k & s_k` in 32 bits; the caller bounds the length so it cannot overflow.
#[inline(always)]
fn sum_selected_i32(m: &[i32], select: &[i8]) -> i32 {
    let mut acc = 0i32;
    for (&x, &s) in m.iter().zip(select) {
        acc = acc.wrapping_add(x & s as i32);
    }
    acc
}

impl EnergyModel for HebbianKernel<'_> {
    type Cache = HebbianCache;

    fn n(&self) -> usize {
        self.n
    }

    fn cache(&self, state: &[u64]) -> HebbianCache {
        let mut m = vec![0i32; self.p_pad];
        self.overlaps(state, &mut m[..self.p]);
        let sum_m = m[..self.p].iter().map(|&x| x as i64).sum();
        HebbianCache { m, sum_m, fields: Vec::new(), fields_valid: false, pending: Vec::new() }
    }

    #[inline]
    fn gap(&self, cache: &HebbianCache, state: &[u64], i: usize) -> f64 {
        2.0 * self.field_from_integer(self.integer_field(cache, state, i), i)
    }

    #[inline]
    fn flip(&self, cache: &mut HebbianCache, state: &mut [u64], i: usize) {
        spins::flip(state, i);
        let new = spins::spin(state, i);
        // m_μ += 2·new·ξ^μ_i. Padding entries drift but are never read.
        let d = 2 * new;
        let select = &self.select[i * self.p_pad..(i + 1) * self.p_pad];
        for (m, &s) in cache.m.iter_mut().zip(select) {
            let neg = !(s as i32);
            *m = m.wrapping_add((d ^ neg).wrapping_sub(neg));
        }
        cache.sum_m += d as i64 * self.column_sums[i];
        if cache.fields_valid {
            if cache.pending.len() < self.incremental_limit() {
                cache.pending.push((i as u32, new));
            } else {
                cache.fields_valid = false;
                cache.pending.clear();
            }
        }
    }

    fn energy(&self, cache: &HebbianCache, state: &[u64]) -> f64 {
        let squares: i128 = cache.m[..self.p].iter().map(|&x| (x as i128) * (x as i128)).sum();
        let integer = squares - (self.p as i128) * (self.n as i128);
        let mut e = -(integer as f64) / (2 * self.n) as f64;
        if !self.zero_threshold {
            let theta_s: f64 =
                self.memory.threshold.iter().enumerate().map(|(i, &t)| t * spins::spin(state, i) as f64).sum();
            e += theta_s;
        }
        e
    }

    fn gaps(&self, cache: &mut HebbianCache, state: &[u64], out: &mut [f64]) {
        if cache.fields_valid {
            let pending = std::mem::take(&mut cache.pending);
            for &(j, new) in &pending {
                self.add_weight_row(&mut cache.fields, j as usize, 2 * new as i64);
            }
            cache.pending = pending;
            cache.pending.clear();
        } else {
            cache.fields.resize(self.n, 0);
            for i in 0..self.n {
                cache.fields[i] = self.integer_field(cache, state, i);
            }
            cache.fields_valid = true;
            cache.pending.clear();
        }
        for (i, g) in out.iter_mut().enumerate() {
            *g = 2.0 * self.field_from_integer(cache.fields[i], i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn lcg_spins(seed: u64, len: usize) -> Vec<i8> {
        let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (0..len)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
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
        h.store(&SpinMatrix::from_spins(&xs, p, n).unwrap()).unwrap();
        (h, xs)
    }

    /// Fields from the explicit double sum.
    fn naive_integer_fields(xs: &[i8], p: usize, n: usize, s: &[i8]) -> Vec<i64> {
        (0..n)
            .map(|i| {
                (0..n)
                    .filter(|&j| j != i)
                    .map(|j| {
                        let w: i64 = (0..p).map(|mu| xs[mu * n + i] as i64 * xs[mu * n + j] as i64).sum();
                        w * s[j] as i64
                    })
                    .sum()
            })
            .collect()
    }

    #[test]
    fn fields_match_explicit_weights_for_awkward_sizes() {
        for (p, n) in [(1usize, 1usize), (3, 63), (5, 64), (70, 65), (7, 130)] {
            let (h, xs) = memory(p, n, (p * n) as u64);
            let k = h.kernel().unwrap();
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
        let k = h.kernel().unwrap();
        let mut state = SpinMatrix::from_spins(&lcg_spins(3, n), 1, n).unwrap();
        let mut cache = k.cache(state.row(0));
        let mut gaps = vec![0.0; n];
        k.gaps(&mut cache, state.row(0), &mut gaps);
        for j in [3usize, 150, 199] {
            k.flip(&mut cache, state.row_mut(0), j);
        }
        assert_eq!(cache.pending.len(), 3);
        k.gaps(&mut cache, state.row(0), &mut gaps);
        let fresh = k.cache(state.row(0));
        for (i, &g) in gaps.iter().enumerate() {
            assert_eq!(g, k.gap(&fresh, state.row(0), i), "neuron {i}");
        }
        assert_eq!(cache.m[..p], fresh.m[..p]);
        assert_eq!(cache.sum_m, fresh.sum_m);
    }

    #[test]
    fn energy_matches_quadratic_form_and_gap_matches_energy_difference() {
        let (p, n) = (4, 65);
        let (h, _) = memory(p, n, 11);
        let w = h.weights().unwrap();
        let k = h.kernel().unwrap();
        let s = lcg_spins(8, n);
        let mut state = SpinMatrix::from_spins(&s, 1, n).unwrap();
        let quad: f64 =
            (0..n).map(|i| (0..n).map(|j| w[i * n + j] * s[i] as f64 * s[j] as f64).sum::<f64>()).sum();
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
        for i in 0..n {
            assert_eq!(w[i * n + i], 0.0);
            for j in 0..n {
                let expect: i64 = if i == j { 0 } else { (0..p).map(|mu| (xs[mu * n + i] * xs[mu * n + j]) as i64).sum() };
                assert_eq!(w[i * n + j], expect as f64 / n as f64);
            }
        }
    }

    #[test]
    fn bad_construction_is_refused() {
        assert!(Hebbian::new(0, vec![]).is_err());
        assert!(matches!(Hebbian::new(3, vec![0.0; 2]), Err(Error::Shape(_))));
        assert!(matches!(Hebbian::new(2, vec![0.0, f64::NAN]), Err(Error::Value(_))));
        let mut h = Hebbian::new(3, vec![0.0; 3]).unwrap();
        assert!(h.store(&SpinMatrix::new(4).unwrap()).is_err());
        assert_eq!(h.nbytes(), 24);
    }
}
