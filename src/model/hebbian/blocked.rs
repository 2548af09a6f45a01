//! The register-blocked field kernel of 16-bit overlaps: the integer fields
//! `A_i = Σ_μ m_μ ξ^μ_i − P·s_i` of every neuron for up to four queries at
//! once, as a synchronous step needs them.
//!
//! The patterns are laid out by blocks of [`BLOCK`] neurons and pairs of
//! patterns ([`pair_layout`]): entry `(block, pair, j, e)` is `ξ^{2·pair+e}_i`
//! of neuron `i = BLOCK·block + j` (0 beyond `P` or `N`). A query's overlaps
//! are read as pairs `(m_{2q}, m_{2q+1})`, one 32-bit word, which `pmaddwd`
//! multiplies with the pair of patterns of eight neurons at once: no
//! horizontal sums, no padding of `P` beyond even, and each pattern pair of
//! a block is loaded once for four queries (4 queries × 16 neurons of
//! accumulators). All integer arithmetic, so every version gives the same
//! bits; the portable loop is the reference of the others.

/// Neurons per block (two 8-lane registers of 32-bit sums).
pub(crate) const BLOCK: usize = 16;

/// Most queries per kernel call.
pub(crate) const QUERIES: usize = 4;

/// The pattern-pair layout of `columns` (`n × stride` lanes by neuron,
/// entry `(i, μ)` = `ξ^μ_i`, zero for `μ ≥ p`): `⌈n/16⌉ · ⌈p/2⌉ · 32` lanes.
pub(crate) fn pair_layout(columns: &[i16], stride: usize, n: usize, p: usize) -> Vec<i16> {
    let pairs = p.div_ceil(2);
    let blocks = n.div_ceil(BLOCK);
    let mut out = vec![0i16; blocks * pairs * 2 * BLOCK];
    for (i, column) in columns.chunks_exact(stride).take(n).enumerate() {
        let (block, j) = (i / BLOCK, i % BLOCK);
        for mu in 0..p {
            out[((block * pairs + mu / 2) * BLOCK + j) * 2 + mu % 2] = column[mu];
        }
    }
    out
}

/// What a kernel call reads: the layout and `Q` queries' overlaps and
/// states.
pub(crate) struct Fields<'a, const Q: usize> {
    /// [`pair_layout`] of the patterns.
    pub layout: &'a [i16],
    pub n: usize,
    pub p: usize,
    /// Each query's overlaps, at least `2·⌈p/2⌉` lanes, zero beyond `p`.
    pub m: [&'a [i16]; Q],
    /// Each query's packed state.
    pub state: [&'a [u64]; Q],
    /// The thresholds θ, or `None` when all are zero.
    pub threshold: Option<&'a [f64]>,
}

/// Where a kernel call writes one query's results (each `n` long).
pub(crate) enum Out<'a> {
    /// The integer fields `A_i` and the drives, `A_i` as `f64` (zero
    /// thresholds) or `A_i / N − θ_i`, in the order of operations of the
    /// reference.
    Drives {
        fields: &'a mut [i64],
        drives: &'a mut [f64],
    },
    /// The integer fields alone, as 32-bit integers (exact: callers keep
    /// `p·(n + 1) ≤ i32::MAX`).
    Fields(&'a mut [i32]),
}

impl Out<'_> {
    /// Whether each output holds `n` values.
    fn fits(&self, n: usize) -> bool {
        match self {
            Out::Drives { fields, drives } => fields.len() == n && drives.len() == n,
            Out::Fields(fields) => fields.len() == n,
        }
    }
}

impl<const Q: usize> Fields<'_, Q> {
    /// Writes the fields and drives of every neuron of query `k` to
    /// `out[k]`. Callers keep `p·(n + 1) ≤ i32::MAX`, so that the 32-bit
    /// sums are exact.
    #[inline(always)]
    pub(crate) fn compute(&self, out: &mut [Out<'_>; Q]) {
        debug_assert!(self.p.saturating_mul(self.n + 1) <= i32::MAX as usize);
        debug_assert_eq!(
            self.layout.len(),
            self.n.div_ceil(BLOCK) * self.p.div_ceil(2) * 2 * BLOCK
        );
        // k indexes the overlaps, the states and the outputs at once.
        #[allow(clippy::needless_range_loop)]
        for k in 0..Q {
            assert!(self.m[k].len() >= 2 * self.p.div_ceil(2));
            assert!(out[k].fits(self.n));
            assert!(self.state[k].len() * 64 >= self.n);
        }
        if let Some(t) = self.threshold {
            assert!(t.len() == self.n);
        }
        #[cfg(target_arch = "x86_64")]
        {
            use crate::simd::{level, Level};
            if level() >= Level::Avx2 {
                // SAFETY: level() never exceeds the detected instruction
                // set (AVX-512 implies AVX2); the lengths are checked above.
                unsafe { x86::fields_avx2(self, out) };
                return;
            }
        }
        self.compute_portable(out);
    }

    /// The portable reference of [`compute`](Fields::compute).
    #[inline(always)]
    pub(crate) fn compute_portable(&self, out: &mut [Out<'_>; Q]) {
        let pairs = self.p.div_ceil(2);
        for (block, lanes) in self.layout.chunks_exact(pairs * 2 * BLOCK).enumerate() {
            let mut acc = [[0i32; BLOCK]; Q];
            for (pair, columns) in lanes.chunks_exact(2 * BLOCK).enumerate() {
                // k indexes the overlaps and the sums at once.
                #[allow(clippy::needless_range_loop)]
                for k in 0..Q {
                    let (m0, m1) = (self.m[k][2 * pair] as i32, self.m[k][2 * pair + 1] as i32);
                    for (a, c) in acc[k].iter_mut().zip(columns.chunks_exact(2)) {
                        let two = (c[0] as i32 * m0).wrapping_add(c[1] as i32 * m1);
                        *a = a.wrapping_add(two);
                    }
                }
            }
            for k in 0..Q {
                self.finish(&acc[k], k, block, &mut out[k]);
            }
        }
    }

    /// `A_i = sums[j] − P·s_i` and its drive for the neurons
    /// `i = 16·block + j < n`.
    #[inline(always)]
    fn finish(&self, sums: &[i32; BLOCK], k: usize, block: usize, out: &mut Out<'_>) {
        let first = block * BLOCK;
        let p = self.p as i64;
        // The 16 spins of the block (first is a multiple of 16; padding
        // bits beyond n are zero and their neurons are not written).
        let bits = (self.state[k][first / 64] >> (first % 64)) as u16;
        // -P·s_i: +P where the spin is −1 (bit clear), −P where +1.
        let field = |j: usize, s: i32| s as i64 + if (bits >> j) & 1 == 1 { -p } else { p };
        match out {
            Out::Drives { fields, drives } => {
                let fields = fields[first..].iter_mut();
                let drives = drives[first..].iter_mut();
                for (j, ((a, d), &s)) in fields.zip(drives).zip(sums).enumerate() {
                    *a = field(j, s);
                    *d = self.drive(*a, first + j);
                }
            }
            Out::Fields(fields) => {
                for (j, (a, &s)) in fields[first..].iter_mut().zip(sums).enumerate() {
                    *a = field(j, s) as i32;
                }
            }
        }
    }

    /// The drive of integer field `a` at neuron `i`.
    #[inline(always)]
    fn drive(&self, a: i64, i: usize) -> f64 {
        match self.threshold {
            None => a as f64,
            Some(t) => a as f64 / self.n as f64 - t[i],
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    // By the full path: the layer check reads `super` here as the parent.
    use crate::model::hebbian::blocked::{Fields, Out, BLOCK};
    use std::arch::x86_64::*;

    /// [`Fields::compute`] with AVX2.
    ///
    /// # Safety
    /// Needs AVX2; the lengths [`Fields::compute`] checks.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn fields_avx2<const Q: usize>(f: &Fields<'_, Q>, out: &mut [Out<'_>; Q]) {
        let pairs = f.p.div_ceil(2);
        let blocks = f.n.div_ceil(BLOCK);
        let layout = f.layout.as_ptr();
        let m = f.m.map(|m| m.as_ptr() as *const i32);
        for block in 0..blocks {
            let mut lo = [_mm256_setzero_si256(); Q];
            let mut hi = [_mm256_setzero_si256(); Q];
            // SAFETY: the layout holds `blocks · pairs · 32` lanes.
            let base = unsafe { layout.add(block * pairs * 2 * BLOCK) };
            for pair in 0..pairs {
                // SAFETY: pair < pairs, so both 16-lane loads are in bounds;
                // each m[k] holds at least 2·pairs lanes.
                unsafe {
                    let at = base.add(pair * 2 * BLOCK);
                    let c0 = _mm256_loadu_si256(at as *const __m256i);
                    let c1 = _mm256_loadu_si256(at.add(BLOCK) as *const __m256i);
                    for k in 0..Q {
                        let two = _mm256_set1_epi32(m[k].add(pair).read_unaligned());
                        lo[k] = _mm256_add_epi32(lo[k], _mm256_madd_epi16(c0, two));
                        hi[k] = _mm256_add_epi32(hi[k], _mm256_madd_epi16(c1, two));
                    }
                }
            }
            let first = block * BLOCK;
            for k in 0..Q {
                if first + BLOCK <= f.n {
                    // SAFETY: the caller's AVX2; the block's 16 neurons are
                    // below n.
                    unsafe { finish_avx2(f, lo[k], hi[k], k, first, &mut out[k]) };
                } else {
                    let mut sums = [0i32; BLOCK];
                    // SAFETY: `sums` holds 16 i32, two 8-lane stores.
                    unsafe {
                        _mm256_storeu_si256(sums.as_mut_ptr() as *mut __m256i, lo[k]);
                        _mm256_storeu_si256(sums.as_mut_ptr().add(8) as *mut __m256i, hi[k]);
                    }
                    f.finish(&sums, k, block, &mut out[k]);
                }
            }
        }
    }

    /// [`Fields::finish`] of a whole block in vector registers: the same
    /// integers, and the same `f64` operations lane by lane.
    ///
    /// # Safety
    /// Needs AVX2; `first + 16 ≤ n`.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn finish_avx2<const Q: usize>(
        f: &Fields<'_, Q>,
        lo: __m256i,
        hi: __m256i,
        k: usize,
        first: usize,
        out: &mut Out<'_>,
    ) {
        let bits = (f.state[k][first / 64] >> (first % 64)) as u16 as i32;
        let select = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
        let p = f.p as i32;
        let (plus, twice) = (_mm256_set1_epi32(p), _mm256_set1_epi32(2 * p));
        let halves = [lo, hi];
        let mut a = [_mm256_setzero_si256(); 2];
        for (h, (a, &sum)) in a.iter_mut().zip(&halves).enumerate() {
            let spins = _mm256_set1_epi32(bits >> (8 * h));
            let up = _mm256_cmpeq_epi32(_mm256_and_si256(spins, select), select);
            // −P·s: P, less 2P where the spin is +1; exact in 32 bits.
            let term = _mm256_sub_epi32(plus, _mm256_and_si256(up, twice));
            *a = _mm256_add_epi32(sum, term);
        }
        let (fields, drives) = match out {
            Out::Drives { fields, drives } => (
                &mut fields[first..first + BLOCK],
                &mut drives[first..first + BLOCK],
            ),
            Out::Fields(fields) => {
                let fields = &mut fields[first..first + BLOCK];
                for (h, &a) in a.iter().enumerate() {
                    // SAFETY: 8h + 8 ≤ 16 = the slice's length.
                    unsafe {
                        _mm256_storeu_si256(fields.as_mut_ptr().add(8 * h) as *mut __m256i, a)
                    };
                }
                return;
            }
        };
        let n = _mm256_set1_pd(f.n as f64);
        for (h, &a) in a.iter().enumerate() {
            for q in 0..2 {
                let four = if q == 0 {
                    _mm256_castsi256_si128(a)
                } else {
                    _mm256_extracti128_si256(a, 1)
                };
                let at = 8 * h + 4 * q;
                let wide = _mm256_cvtepi32_epi64(four);
                // Exact: every i32 is an f64.
                let mut d = _mm256_cvtepi32_pd(four);
                if let Some(t) = f.threshold {
                    // SAFETY: first + at + 4 ≤ n = t.len().
                    let t = unsafe { _mm256_loadu_pd(t.as_ptr().add(first + at)) };
                    d = _mm256_sub_pd(_mm256_div_pd(d, n), t);
                }
                // SAFETY: at + 4 ≤ 16 = the slices' length.
                unsafe {
                    _mm256_storeu_si256(fields.as_mut_ptr().add(at) as *mut __m256i, wide);
                    _mm256_storeu_pd(drives.as_mut_ptr().add(at), d);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Purpose};
    use crate::simd::{self, Level};

    fn spins_of(seed: u64, len: usize) -> Vec<i16> {
        let mut r = rng::stream(seed, 0, Purpose::Noise);
        (0..len)
            .map(|_| if rng::below(&mut r, 2) == 1 { 1 } else { -1 })
            .collect()
    }

    /// The kernel, at every level and for 1 to 4 queries, equals the plain
    /// double sum on sizes that fill no block or pair evenly.
    #[test]
    fn blocked_fields_equal_the_scalar_sum() {
        for (n, p) in [
            (1usize, 1usize),
            (5, 1),
            (15, 3),
            (16, 2),
            (17, 7),
            (63, 64),
            (100, 101),
            (130, 102),
            (1000, 33),
        ] {
            let stride = p.div_ceil(64) * 64;
            let xi = spins_of((n * 1000 + p) as u64, n * p);
            let mut columns = vec![0i16; n * stride];
            for i in 0..n {
                for mu in 0..p {
                    columns[i * stride + mu] = xi[mu * n + i];
                }
            }
            let layout = pair_layout(&columns, stride, n, p);
            let mut rows = Vec::new();
            let mut states = Vec::new();
            for q in 0..5u64 {
                let s = spins_of(77 + q, n);
                let mut m = vec![0i16; stride];
                for (mu, x) in m[..p].iter_mut().enumerate() {
                    // Overlaps of any size up to ±n, as the kernel may see.
                    *x = (0..n).map(|i| xi[mu * n + i] * s[i]).sum::<i16>();
                }
                let mut packed = vec![0u64; n.div_ceil(64)];
                for (i, &x) in s.iter().enumerate() {
                    packed[i / 64] |= ((x > 0) as u64) << (i % 64);
                }
                let expect: Vec<i64> = (0..n)
                    .map(|i| {
                        (0..p)
                            .map(|mu| m[mu] as i64 * xi[mu * n + i] as i64)
                            .sum::<i64>()
                            - p as i64 * s[i] as i64
                    })
                    .collect();
                rows.push((m, expect));
                states.push(packed);
            }
            for cap in [Level::Portable, Level::Popcnt, Level::Avx2, Level::Avx512] {
                let used = simd::set_level(cap);
                check::<1>(&layout, n, p, &rows, &states, used);
                check::<2>(&layout, n, p, &rows, &states, used);
                check::<3>(&layout, n, p, &rows, &states, used);
                check::<4>(&layout, n, p, &rows, &states, used);
            }
            simd::set_level(Level::Avx512);
        }
    }

    fn check<const Q: usize>(
        layout: &[i16],
        n: usize,
        p: usize,
        rows: &[(Vec<i16>, Vec<i64>)],
        states: &[Vec<u64>],
        used: Level,
    ) {
        let theta: Vec<f64> = (0..n).map(|i| (i % 5) as f64 * 0.37 - 0.5).collect();
        for threshold in [None, Some(theta.as_slice())] {
            // Queries 1.. so that the group is not the first Q in order.
            let f = Fields::<Q> {
                layout,
                n,
                p,
                m: std::array::from_fn(|k| rows[k + 1].0.as_slice()),
                state: std::array::from_fn(|k| states[k + 1].as_slice()),
                threshold,
            };
            let mut fields = vec![vec![-7i64; n]; Q];
            let mut drives = vec![vec![f64::NAN; n]; Q];
            let mut narrow = vec![vec![-7i32; n]; Q];
            {
                let mut pairs = fields.iter_mut().zip(drives.iter_mut());
                let mut outs: [Out<'_>; Q] = std::array::from_fn(|_| {
                    let (a, d) = pairs.next().unwrap();
                    Out::Drives {
                        fields: a,
                        drives: d,
                    }
                });
                f.compute(&mut outs);
                let mut rest = narrow.iter_mut();
                let mut outs: [Out<'_>; Q] =
                    std::array::from_fn(|_| Out::Fields(rest.next().unwrap()));
                f.compute(&mut outs);
            }
            for k in 0..Q {
                let what = format!("n={n} p={p} Q={Q} query {k} at {used:?}, {threshold:?}");
                let expect = &rows[k + 1].1;
                assert_eq!(&fields[k], expect, "{what}");
                let wide: Vec<i64> = narrow[k].iter().map(|&a| a as i64).collect();
                assert_eq!(&wide, expect, "{what}, 32-bit fields");
                for i in 0..n {
                    let d = match threshold {
                        None => expect[i] as f64,
                        Some(t) => expect[i] as f64 / n as f64 - t[i],
                    };
                    assert_eq!(drives[k][i].to_bits(), d.to_bits(), "{what}, neuron {i}");
                }
            }
        }
    }

    #[test]
    fn layout_interleaves_pattern_pairs() {
        // n = 2, p = 3: columns by neuron [ξ⁰ ξ¹ ξ²].
        let columns = [1i16, -1, 1, -1, -1, 1];
        let layout = pair_layout(&columns, 3, 2, 3);
        assert_eq!(layout.len(), 2 * 32);
        assert_eq!(&layout[..4], &[1, -1, -1, -1]);
        assert_eq!(&layout[32..36], &[1, 0, 1, 0]);
        assert!(layout[4..32].iter().chain(&layout[36..]).all(|&x| x == 0));
    }
}
