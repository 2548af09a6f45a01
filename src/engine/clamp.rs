//! Which neurons a run holds fixed (clamps): data, read by the drivers.
//!
//! A clamped neuron keeps its query value for the whole run and is never
//! updated; the others (the *free* neurons) evolve as without a clamp. The
//! drivers apply the mask themselves, so no model's field code knows of it:
//!
//! * asynchronous sweeps draw the same neuron order as without a clamp and
//!   skip the clamped neurons in it;
//! * a synchronous step computes every drive and flips only free neurons;
//! * a stochastic sweep draws the same order and uniforms and skips the
//!   clamped neurons' updates (their uniforms are drawn unused).
//!
//! "Converged" then means that no free neuron would flip: a fixed point of
//! the dynamics restricted to the free neurons. The energy reported is the
//! model's energy of the whole state; with the clamped neurons held it
//! differs from the energy of the free neurons (the terms that involve a
//! free neuron) by a constant, so it descends exactly as that one does.
//!
//! Masks are bit-packed like states (neuron `j` is bit `j % 64` of word
//! `j / 64`, tail bits zero), bit set = clamped.

/// The clamps of a batch of rows: none, one mask for every row, or one
/// mask per row.
#[derive(Debug, Clone, Copy, Default)]
pub enum Clamp<'a> {
    /// Every neuron is free.
    #[default]
    None,
    /// One packed mask (`words` words) for every row.
    Shared(&'a [u64]),
    /// One packed mask per row (`rows × words` words, row-major).
    PerRow(&'a [u64]),
}

impl<'a> Clamp<'a> {
    /// The mask of row `r` (`words` words each), `None` when nothing is
    /// clamped there.
    #[inline]
    pub fn row(&self, r: usize, words: usize) -> Option<&'a [u64]> {
        let mask = match *self {
            Clamp::None => return None,
            Clamp::Shared(m) => m,
            Clamp::PerRow(m) => &m[r * words..(r + 1) * words],
        };
        mask.iter().any(|&w| w != 0).then_some(mask)
    }

    /// The clamps of rows `start..start + count` of this batch.
    #[inline]
    pub fn rows(&self, start: usize, count: usize, words: usize) -> Clamp<'a> {
        match *self {
            Clamp::PerRow(m) => Clamp::PerRow(&m[start * words..(start + count) * words]),
            other => other,
        }
    }

    /// Whether any neuron of any row is clamped.
    pub fn is_none(&self) -> bool {
        matches!(self, Clamp::None)
    }
}

/// Whether neuron `i` is clamped in `mask`.
#[inline(always)]
pub fn is_clamped(mask: &[u64], i: usize) -> bool {
    (mask[i / 64] >> (i % 64)) & 1 == 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_and_slices_find_their_masks() {
        let masks = [0b101u64, 0, 0b10];
        let c = Clamp::PerRow(&masks);
        assert_eq!(c.row(0, 1), Some(&masks[0..1]));
        assert_eq!(c.row(1, 1), None, "an empty mask clamps nothing");
        assert_eq!(c.rows(1, 2, 1).row(1, 1), Some(&masks[2..3]));
        let shared = Clamp::Shared(&masks[2..3]);
        assert_eq!(shared.rows(5, 1, 1).row(0, 1), Some(&masks[2..3]));
        assert!(Clamp::None.row(0, 1).is_none() && Clamp::None.is_none());
        assert!(is_clamped(&masks, 0) && !is_clamped(&masks, 1) && is_clamped(&masks, 2));
    }
}
