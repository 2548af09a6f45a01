//! The patterns of a dense memory laid out for retrieval: bit planes by
//! neuron, overlaps by XOR + popcount, and the sign convention of drives.

use std::borrow::Cow;
use std::sync::Arc;

use crate::error::{try_filled, Error, Result};
use crate::spins::{self, SpinMatrix};

/// The patterns as bit planes by neuron: word `i·pw + w` holds bit `μ % 64`
/// = [ξ^μ_i = +1] for μ in `64w..64w+64` (padding bits zero).
#[derive(Debug)]
pub(super) struct Layout {
    pub(super) patterns: Arc<SpinMatrix>,
    pub(super) n: usize,
    pub(super) p: usize,
    pub(super) pw: usize,
    pub(super) planes: Vec<u64>,
}

impl Layout {
    pub(super) fn new(patterns: &Arc<SpinMatrix>) -> Result<Self> {
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
    pub(super) fn nbytes(&self) -> usize {
        std::mem::size_of_val(&self.planes[..])
    }

    #[inline(always)]
    pub(super) fn plane(&self, i: usize) -> &[u64] {
        &self.planes[i * self.pw..(i + 1) * self.pw]
    }

    /// Length of the padded per-pattern arrays.
    pub(super) fn padded(&self) -> usize {
        self.pw * 64
    }

    /// `m_μ = ξ^μ·s` by XOR + popcount.
    #[inline(always)]
    pub(super) fn overlaps(&self, state: &[u64], m: &mut Vec<i32>) {
        m.clear();
        m.resize(self.p, 0);
        let words = self.patterns.words();
        overlaps_of(self.patterns.as_words(), words, self.n, state, m);
    }

    /// `m_μ += 2·new·ξ^μ_i` after neuron `i` flipped to `new`.
    #[inline(always)]
    pub(super) fn flip_overlaps(&self, m: &mut [i32], i: usize, new: i32) {
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
    pub(super) fn invert(spin: i32) -> u64 {
        if spin > 0 {
            0
        } else {
            !0
        }
    }

    /// The overlaps of the cache, or fresh ones when the cache is stale.
    pub(super) fn current<'c>(&self, m: &'c [i32], stale: bool, state: &[u64]) -> Cow<'c, [i32]> {
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
    pub(super) fn agrees(&self, i: usize, mu: usize, spin: i32) -> bool {
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
    pub(super) fn overlaps_of(patterns: &[u64], words: usize, n: usize, state: &[u64], m: &mut [i32]) -> ()
    => overlaps_body
}

/// `σ_i · D` as f64: nonzero integers stay nonzero, signs are exact.
#[inline(always)]
pub(super) fn signed(d: f64, spin: i32) -> f64 {
    if spin > 0 {
        d
    } else {
        -d
    }
}
