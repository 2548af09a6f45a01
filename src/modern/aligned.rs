//! Float rows that start on a 64-byte boundary.
//!
//! The AVX2 kernels load 32 bytes at a time along key, value and packed
//! query rows. A large `Vec` from the system allocator starts 16 bytes
//! past a page boundary (glibc's header of a mapped block), so half of
//! those loads would straddle two cache lines, each a second L1 access:
//! on two Zen 3 cores the score tile ran at about 60 GFLOP/s from such
//! rows and at about 70 from aligned ones. [`Aligned`] keeps its floats
//! in 64-byte lines, so that row 0 starts a cache line (and every row
//! does when the width is a multiple of 16 floats).

use std::fmt;
use std::ops::{Deref, DerefMut};

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

/// The element types an [`Aligned`] holds: `f32` and `f64` (sealed), whose
/// every bit pattern is a value.
pub trait Plain: sealed::Sealed + Copy {}
impl Plain for f32 {}
impl Plain for f64 {}

/// One cache line of storage.
#[derive(Clone, Copy)]
#[repr(C, align(64))]
struct Line([u8; 64]);

const ZERO: Line = Line([0; 64]);

/// A growable run of `T` (float32 or float64) starting on a cache line.
#[derive(Clone)]
pub struct Aligned<T> {
    lines: Vec<Line>,
    len: usize,
    _t: std::marker::PhantomData<T>,
}

impl<T> Default for Aligned<T> {
    fn default() -> Self {
        Aligned {
            lines: Vec::new(),
            len: 0,
            _t: std::marker::PhantomData,
        }
    }
}

impl<T: Plain> Aligned<T> {
    const PER_LINE: usize = 64 / std::mem::size_of::<T>();

    /// `len` zeros (`None` when that much memory cannot be had).
    pub(super) fn zeros(len: usize) -> Option<Aligned<T>> {
        let mut out = Aligned::default();
        out.try_reserve(len).ok()?;
        out.lines.resize(len.div_ceil(Self::PER_LINE), ZERO);
        out.len = len;
        Some(out)
    }

    /// Room for `more` further elements, or the allocation error.
    pub(super) fn try_reserve(
        &mut self,
        more: usize,
    ) -> Result<(), std::collections::TryReserveError> {
        let need = self.len.saturating_add(more).div_ceil(Self::PER_LINE);
        self.lines
            .try_reserve(need.saturating_sub(self.lines.len()))
    }

    /// Appends `x` (after [`try_reserve`](Self::try_reserve), it does not
    /// allocate).
    pub(super) fn extend_from_slice(&mut self, x: &[T]) {
        let start = self.len;
        let len = start + x.len();
        self.lines.resize(len.div_ceil(Self::PER_LINE), ZERO);
        self.len = len;
        self[start..].copy_from_slice(x);
    }

    /// Bytes held.
    pub(super) fn nbytes(&self) -> usize {
        self.len * std::mem::size_of::<T>()
    }
}

impl<T: Plain> Deref for Aligned<T> {
    type Target = [T];

    fn deref(&self) -> &[T] {
        // SAFETY: the lines hold at least `len` elements of `T` (f32 or f64:
        // every bit pattern is a value, alignment 64 ≥ theirs), initialized
        // (zeros or copied floats).
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr().cast::<T>(), self.len) }
    }
}

impl<T: Plain> DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, borrowed mutably through `self`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr().cast::<T>(), self.len) }
    }
}

impl<T> fmt::Debug for Aligned<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Aligned({} elements)", self.len)
    }
}
