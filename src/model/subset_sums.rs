//! Exact fields `S = W's` of many ±1 states at once by table lookup (the
//! "method of four Russians").
//!
//! A ±1 state is a bit string, so the contribution of eight neurons
//! `8g … 8g+7` to every field is one of only 256 vectors: for each byte
//! value `p`, `T_g[p]_i = Σ_b (bit b of p ? +W_{i,8g+b} : −W_{i,8g+b})`.
//! Once the tables are built, a state's fields are `S_i = Σ_g T_g[byte_g]_i`:
//! `N/8` vector additions per state instead of `N` multiply-adds, with no
//! conversion from `f32` in the loop. Building a table costs one addition
//! per entry (`T[p | 2^b] = T[p] + 2W_b`), which a block of a few hundred
//! states pays back many times over.
//!
//! Every entry is a sum of at most eight grid weights and every accumulated
//! sum a partial sum of `±W'_ij`, which the weight grid (see
//! [`super::weights`]) makes exact in `f64`: the result equals the
//! multiply-add product bit for bit, whatever the order.
//!
//! The work is tiled so that the tables in use stay in L2: [`ROWS`] fields
//! (four 512-bit registers of `f64`) by [`GROUPS`] bytes (one `u64` word of
//! every state) at a time.

use crate::multiversion;

/// Fields per tile: the accumulator of one state is `ROWS` `f64`s, held in
/// registers across the tile's tables.
const ROWS: usize = 32;
/// Bytes of the state per tile: one `u64` word, so that a state's table
/// indices for a tile are one load.
const GROUPS: usize = 8;
/// Entries of one table (one per byte value).
const ENTRIES: usize = 256;

/// Blocks of at least this many states are worth the tables; smaller ones
/// use the multiply-add product.
pub const MIN_STATES: usize = 64;

#[inline(always)]
fn subset_sums_body(cols: &[f32], n: usize, states: &[&[u64]], outs: &mut [Vec<f64>]) {
    debug_assert_eq!(cols.len(), n * n);
    debug_assert_eq!(states.len(), outs.len());
    for out in outs.iter_mut() {
        out.clear();
        out.resize(n, 0.0);
    }
    let words = n.div_ceil(64);
    let mut tables = vec![0.0f64; GROUPS * ENTRIES * ROWS];
    let mut acc = [0.0f64; ROWS];
    for r0 in (0..n).step_by(ROWS) {
        let rows = ROWS.min(n - r0);
        for w in 0..words {
            let groups = GROUPS.min((n - 64 * w).div_ceil(8));
            for g in 0..groups {
                let first = 64 * w + 8 * g;
                let width = 8.min(n - first);
                let table = &mut tables[g * ENTRIES * ROWS..(g + 1) * ENTRIES * ROWS];
                build_table(table, cols, n, first, width, r0, rows);
            }
            // Bits past `n` are zero (the packing invariant); masking keeps
            // the indices inside the built entries whatever the input.
            let live = n - 64 * w;
            let mask = if live >= 64 { !0u64 } else { (1u64 << live) - 1 };
            for (state, out) in states.iter().zip(outs.iter_mut()) {
                let word = state[w] & mask;
                let out = &mut out[r0..r0 + rows];
                acc[..rows].copy_from_slice(out);
                for g in 0..groups {
                    let p = ((word >> (8 * g)) & 0xff) as usize;
                    let entry = &tables[(g * ENTRIES + p) * ROWS..(g * ENTRIES + p + 1) * ROWS];
                    for (a, &t) in acc.iter_mut().zip(entry) {
                        *a += t;
                    }
                }
                out.copy_from_slice(&acc[..rows]);
            }
        }
    }
}

/// Fills the table of neurons `first … first+width−1` for fields
/// `r0 … r0+rows−1` (entries past `rows` are zero): entry `p` is
/// `Σ_b ±W_{i,first+b}` with `+` where bit `b` of `p` is set.
#[inline(always)]
fn build_table(
    table: &mut [f64],
    cols: &[f32],
    n: usize,
    first: usize,
    width: usize,
    r0: usize,
    rows: usize,
) {
    let column = |b: usize| &cols[(first + b) * n + r0..(first + b) * n + r0 + rows];
    let base = &mut table[..ROWS];
    base.fill(0.0);
    for b in 0..width {
        for (t, &x) in base.iter_mut().zip(column(b)) {
            *t -= x as f64;
        }
    }
    // Entries [2^b, 2^(b+1)) are entries [0, 2^b) with neuron b turned to +1.
    for b in 0..width {
        let half = 1usize << b;
        let (low, high) = table.split_at_mut(half * ROWS);
        let col = column(b);
        for (dst, src) in high[..half * ROWS]
            .chunks_exact_mut(ROWS)
            .zip(low.chunks_exact(ROWS))
        {
            for ((d, &s), &x) in dst.iter_mut().zip(src).zip(col) {
                *d = s + 2.0 * x as f64;
            }
            if rows < ROWS {
                dst[rows..].fill(0.0);
            }
        }
    }
}

multiversion! {
    /// `outs[q][i] = Σ_j cols[j·n + i]·s_q[j]` for every state `q` (packed
    /// ±1 rows of `n` neurons; `outs[q]` resized to `n`), with `cols` the
    /// transposed weights (`W'_ij` at `j·n + i`) on the exact grid.
    pub fn subset_sums(cols: &[f32], n: usize, states: &[&[u64]], outs: &mut [Vec<f64>]) -> ()
    => subset_sums_body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Purpose};
    use crate::simd::{self, Level};
    use crate::spins::SpinMatrix;

    fn naive(cols: &[f32], n: usize, s: &[i8]) -> Vec<f64> {
        (0..n)
            .map(|i| (0..n).map(|j| cols[j * n + i] as f64 * s[j] as f64).sum())
            .collect()
    }

    #[test]
    fn equals_the_definition_for_awkward_sizes_at_every_level() {
        for &n in &[1usize, 7, 8, 9, 31, 33, 63, 64, 65, 100, 130] {
            let mut r = rng::stream(n as u64, 0, Purpose::Noise);
            // Small integers: every sum is exact, so the naive sum is the truth.
            let cols: Vec<f32> = (0..n * n)
                .map(|_| rng::below(&mut r, 17) as f32 - 8.0)
                .collect();
            let q = 5;
            let spins: Vec<i8> = (0..q * n)
                .map(|_| if rng::below(&mut r, 2) == 1 { 1 } else { -1 })
                .collect();
            let m = SpinMatrix::from_spins(&spins, q, n).unwrap();
            let states: Vec<&[u64]> = (0..q).map(|k| m.row(k)).collect();
            for level in [Level::Portable, Level::Avx2, Level::Avx512] {
                simd::set_level(level);
                let mut outs = vec![vec![1.0; 3]; q];
                subset_sums(&cols, n, &states, &mut outs);
                for k in 0..q {
                    assert_eq!(outs[k], naive(&cols, n, &spins[k * n..(k + 1) * n]), "n={n}");
                }
            }
            simd::set_level(Level::Avx512);
        }
    }
}
