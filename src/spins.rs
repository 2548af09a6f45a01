//! Bit-packed ±1 states.
//!
//! Neuron `j` of a row is bit `j % 64` of word `j / 64` (LSB first); bit 1
//! means +1. Tail bits past `n` in the last word are always zero, so the
//! Hamming distance of two rows is a plain XOR + popcount over the words.

use rayon::prelude::*;

use crate::error::{try_filled, Error, Result};

/// Number of `u64` words that hold `n` neurons.
#[inline]
pub const fn words_for(n: usize) -> usize {
    n.div_ceil(64)
}

/// The spin (+1 or −1) of neuron `i` in a packed row.
#[inline(always)]
pub fn spin(row: &[u64], i: usize) -> i32 {
    if (row[i / 64] >> (i % 64)) & 1 == 1 {
        1
    } else {
        -1
    }
}

/// Flips neuron `i` of a packed row.
#[inline(always)]
pub fn flip(row: &mut [u64], i: usize) {
    row[i / 64] ^= 1u64 << (i % 64);
}

/// Number of differing neurons between two packed rows of equal length.
#[inline(always)]
pub fn hamming(a: &[u64], b: &[u64]) -> u32 {
    debug_assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x ^ y).count_ones()).sum()
}

/// Overlap `ξ·s` of two packed rows of `n` neurons: `n − 2·hamming`.
#[inline(always)]
pub fn overlap(a: &[u64], b: &[u64], n: usize) -> i32 {
    n as i32 - 2 * hamming(a, b) as i32
}

/// Transposes a 64×64 bit matrix in place: afterwards bit `c` of word `r`
/// is what bit `r` of word `c` was (recursive block swaps, six rounds).
pub fn transpose64(m: &mut [u64; 64]) {
    let mut width = 32;
    let mut mask: u64 = 0x0000_0000_ffff_ffff;
    while width != 0 {
        let mut k = 0;
        while k < 64 {
            for r in k..k + width {
                // Swap the high `width` bits of row r with the low ones of
                // row r + width.
                let t = ((m[r] >> width) ^ m[r + width]) & mask;
                m[r] ^= t << width;
                m[r + width] ^= t;
            }
            k += 2 * width;
        }
        width /= 2;
        mask ^= mask << width;
    }
}

crate::simd::multiversion! {
    /// Packs one row of ±1 values into `out` (`words_for(values.len())`
    /// words). Any value other than −1 and +1 is an error naming its
    /// position. (Compiled per instruction set: with AVX-512 a comparison
    /// gives 64 bits at once.)
    pub fn pack_row(values: &[i8], out: &mut [u64]) -> std::result::Result<(), (usize, i8)>
    => pack_row_body
}

crate::simd::multiversion! {
    /// Unpacks a row into ±1 values.
    pub fn unpack_row(row: &[u64], out: &mut [i8]) -> ()
    => unpack_row_body
}

#[inline(always)]
fn pack_row_body(values: &[i8], out: &mut [u64]) -> std::result::Result<(), (usize, i8)> {
    debug_assert_eq!(out.len(), words_for(values.len()));
    for (w, chunk) in values.chunks(64).enumerate() {
        let mut word = 0u64;
        let mut bad = false;
        for (b, &v) in chunk.iter().enumerate() {
            word |= ((v == 1) as u64) << b;
            bad |= v != 1 && v != -1;
        }
        if bad {
            let b = chunk.iter().position(|&v| v != 1 && v != -1).unwrap_or(0);
            return Err((w * 64 + b, chunk[b]));
        }
        out[w] = word;
    }
    Ok(())
}

#[inline(always)]
fn unpack_row_body(row: &[u64], out: &mut [i8]) {
    for (w, chunk) in out.chunks_mut(64).enumerate() {
        let word = row[w];
        for (b, v) in chunk.iter_mut().enumerate() {
            *v = if (word >> b) & 1 == 1 { 1 } else { -1 };
        }
    }
}

/// A matrix of ±1 rows of `n` neurons each, bit-packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpinMatrix {
    n: usize,
    words: usize,
    rows: usize,
    data: Vec<u64>,
}

impl SpinMatrix {
    /// Patterns to store in a model of `n` neurons must have `n` columns.
    ///
    /// # Errors
    /// `Shape` naming both sizes otherwise.
    pub fn check_n(&self, n: usize) -> Result<()> {
        if self.n() != n {
            return Err(Error::Shape(format!(
                "patterns must have n = {n} columns, got {}",
                self.n()
            )));
        }
        Ok(())
    }

    /// An empty matrix (no rows) of `n` neurons per row.
    ///
    /// # Errors
    /// `Value` when `n` is zero.
    pub fn new(n: usize) -> Result<Self> {
        if n == 0 {
            return Err(Error::Value("n must be at least 1".into()));
        }
        Ok(SpinMatrix {
            n,
            words: words_for(n),
            rows: 0,
            data: Vec::new(),
        })
    }

    /// `rows` rows of all −1.
    ///
    /// # Errors
    /// `Value` when `n` is zero, `Memory` when the size overflows.
    pub fn minus_ones(rows: usize, n: usize) -> Result<Self> {
        let mut m = SpinMatrix::new(n)?;
        let count = rows.checked_mul(m.words).ok_or_else(|| {
            Error::Memory(format!("{rows} rows of {n} neurons cannot be allocated"))
        })?;
        m.data = try_filled("the packed states", count, 0)?;
        m.rows = rows;
        Ok(m)
    }

    /// Packs a row-major `(rows, n)` array of ±1 values.
    ///
    /// # Errors
    /// `Shape` when `values.len() != rows * n`; `Value` naming the first
    /// entry that is not ±1.
    pub fn from_spins(values: &[i8], rows: usize, n: usize) -> Result<Self> {
        let mut m = SpinMatrix::minus_ones(rows, n)?;
        if values.len() != rows * n {
            return Err(Error::Shape(format!(
                "expected {rows} × {n} values, got {}",
                values.len()
            )));
        }
        if rows == 0 {
            return Ok(m);
        }
        // Rows pack independently; the first bad row (in order) is reported.
        let words = m.words;
        let bad = if crate::par::in_pool() {
            m.data
                .par_chunks_exact_mut(words)
                .zip(values.par_chunks_exact(n))
                .enumerate()
                .filter_map(|(r, (out, row))| pack_row(row, out).err().map(|(i, v)| (r, i, v)))
                .min_by_key(|&(r, i, _)| (r, i))
        } else {
            m.data
                .chunks_exact_mut(words)
                .zip(values.chunks_exact(n))
                .enumerate()
                .filter_map(|(r, (out, row))| pack_row(row, out).err().map(|(i, v)| (r, i, v)))
                .min_by_key(|&(r, i, _)| (r, i))
        };
        match bad {
            Some((r, i, v)) => Err(Error::Value(format!(
                "spins must be -1 or +1; found {v} at index ({r}, {i})"
            ))),
            None => Ok(m),
        }
    }

    /// Unpacks into a row-major `(rows, n)` vector of ±1.
    ///
    /// # Errors
    /// `Memory` when the `rows × n` bytes cannot be allocated.
    pub fn to_spins(&self) -> Result<Vec<i8>> {
        let mut out = try_filled("the unpacked states", self.rows * self.n, 0i8)?;
        self.write_spins(&mut out);
        Ok(out)
    }

    /// Unpacks into `out` (`rows * n` values).
    pub fn write_spins(&self, out: &mut [i8]) {
        if self.rows == 0 {
            return;
        }
        if crate::par::in_pool() {
            out.par_chunks_exact_mut(self.n)
                .zip(self.data.par_chunks_exact(self.words))
                .for_each(|(o, row)| unpack_row(row, o));
        } else {
            for (o, row) in out
                .chunks_exact_mut(self.n)
                .zip(self.data.chunks_exact(self.words))
            {
                unpack_row(row, o);
            }
        }
    }

    /// Neurons per row.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// `u64` words per row.
    pub fn words(&self) -> usize {
        self.words
    }

    /// Row `r` as packed words.
    #[inline]
    pub fn row(&self, r: usize) -> &[u64] {
        &self.data[r * self.words..(r + 1) * self.words]
    }

    /// Row `r` as mutable packed words. Callers keep the tail bits zero.
    #[inline]
    pub fn row_mut(&mut self, r: usize) -> &mut [u64] {
        &mut self.data[r * self.words..(r + 1) * self.words]
    }

    /// All words, row after row.
    pub fn as_words(&self) -> &[u64] {
        &self.data
    }

    /// All words, mutably, row after row. Callers keep the tail bits zero.
    pub fn as_words_mut(&mut self) -> &mut [u64] {
        &mut self.data
    }

    /// Appends the rows of `other`.
    ///
    /// # Errors
    /// `Shape` when the row lengths differ.
    pub fn append(&mut self, other: &SpinMatrix) -> Result<()> {
        if other.n != self.n {
            return Err(Error::Shape(format!(
                "rows of {} neurons cannot be appended to rows of {}",
                other.n, self.n
            )));
        }
        self.data.extend_from_slice(&other.data);
        self.rows += other.rows;
        Ok(())
    }

    /// Bytes held by the packed data.
    pub fn nbytes(&self) -> usize {
        self.data.len() * 8
    }

    /// Checks the padding invariant (tail bits zero) in debug builds.
    pub fn debug_check_tail(&self) {
        if cfg!(debug_assertions) && !self.n.is_multiple_of(64) {
            let mask = !0u64 << (self.n % 64);
            for r in 0..self.rows {
                debug_assert_eq!(
                    self.row(r)[self.words - 1] & mask,
                    0,
                    "tail bits of row {r} are set"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transpose64_moves_every_bit() {
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut m = [0u64; 64];
        for w in m.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *w = x;
        }
        let before = m;
        transpose64(&mut m);
        for (r, &row) in m.iter().enumerate() {
            for (c, &column) in before.iter().enumerate() {
                assert_eq!((row >> c) & 1, (column >> r) & 1, "r={r} c={c}");
            }
        }
    }

    fn random_spins(seed: u64, len: usize) -> Vec<i8> {
        let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                if x & 1 == 1 {
                    1
                } else {
                    -1
                }
            })
            .collect()
    }

    #[test]
    fn round_trip_and_tail_bits_for_awkward_sizes() {
        for n in [1usize, 63, 64, 65, 1000] {
            let rows = 3;
            let values = random_spins(n as u64, rows * n);
            let m = SpinMatrix::from_spins(&values, rows, n).unwrap();
            assert_eq!(m.words(), n.div_ceil(64));
            assert_eq!(m.to_spins().unwrap(), values, "n = {n}");
            if n % 64 != 0 {
                for r in 0..rows {
                    let last = m.row(r)[m.words() - 1];
                    assert_eq!(last >> (n % 64), 0, "tail bits leak at n = {n}");
                }
            }
        }
    }

    #[test]
    fn all_plus_ones_keep_tail_clear() {
        for n in [1usize, 63, 65, 1000] {
            let m = SpinMatrix::from_spins(&vec![1i8; n], 1, n).unwrap();
            assert_eq!(hamming(m.row(0), m.row(0)), 0);
            let minus = SpinMatrix::minus_ones(1, n).unwrap();
            assert_eq!(hamming(m.row(0), minus.row(0)) as usize, n, "n = {n}");
        }
    }

    #[test]
    fn overlap_matches_dot_product() {
        for n in [1usize, 63, 64, 65, 1000] {
            let a = random_spins(1 + n as u64, n);
            let b = random_spins(7 + n as u64, n);
            let dot: i32 = a.iter().zip(&b).map(|(&x, &y)| x as i32 * y as i32).sum();
            let pa = SpinMatrix::from_spins(&a, 1, n).unwrap();
            let pb = SpinMatrix::from_spins(&b, 1, n).unwrap();
            assert_eq!(overlap(pa.row(0), pb.row(0), n), dot, "n = {n}");
        }
    }

    #[test]
    fn spin_and_flip_agree_with_unpacked() {
        let n = 65;
        let v = random_spins(3, n);
        let mut m = SpinMatrix::from_spins(&v, 1, n).unwrap();
        for (i, &x) in v.iter().enumerate() {
            assert_eq!(spin(m.row(0), i), x as i32);
        }
        flip(m.row_mut(0), 64);
        assert_eq!(spin(m.row(0), 64), -(v[64] as i32));
        m.debug_check_tail();
    }

    #[test]
    fn bad_values_are_named() {
        let err = SpinMatrix::from_spins(&[1, -1, 0, 1], 2, 2).unwrap_err();
        assert_eq!(
            err,
            Error::Value("spins must be -1 or +1; found 0 at index (1, 0)".into())
        );
        assert!(SpinMatrix::new(0).is_err());
        assert!(matches!(
            SpinMatrix::from_spins(&[1, 1, 1], 2, 2),
            Err(Error::Shape(_))
        ));
    }

    #[test]
    fn append_checks_width() {
        let mut a = SpinMatrix::from_spins(&[1, -1], 1, 2).unwrap();
        let b = SpinMatrix::from_spins(&[-1, -1], 1, 2).unwrap();
        a.append(&b).unwrap();
        assert_eq!(a.rows(), 2);
        assert_eq!(a.to_spins().unwrap(), vec![1, -1, -1, -1]);
        assert!(a.append(&SpinMatrix::new(3).unwrap()).is_err());
    }
}
