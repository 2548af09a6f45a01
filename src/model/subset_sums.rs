//! Exact fields `S = W's` of many ±1 states at once by table lookup (the
//! "method of four Russians").
//!
//! A ±1 state is a bit string, so the contribution of four neurons
//! `4g … 4g+3` to every field is one of only 16 vectors: for each pattern
//! `p` of their spins, `T_g[p]_i = Σ_b (bit b of p ? +W_{i,4g+b} : −W_{i,4g+b})`.
//! Once the tables are built, a state's fields are `S_i = Σ_g T_g[p_g]_i`:
//! `N/4` vector additions per state instead of `N` multiply-adds, with no
//! conversion of the weights in the loop. Building a table costs one
//! addition per entry (`T[p | 2^b] = T[p] + 2W_b`), which a block of a few
//! dozen states pays back.
//!
//! Exact in both lane types: [`f64`] lanes add grid weights (see
//! [`super::weights`]), whose every partial sum an `f64` holds exactly, and
//! [`i32`] lanes add small integer weights whose sums cannot overflow. The
//! result therefore equals the multiply-add product bit for bit, whatever
//! the order.
//!
//! The work is tiled so that the tables in use stay in L1: `ROWS` fields
//! by one `u64` word of every state (`64 / BITS` tables) at a time, and
//! every table entry is aligned to a cache line.

use std::ops::{Add, Sub};

use crate::simd::multiversion;

/// Neurons per table: a table has `2^BITS` entries, one per pattern of
/// their spins. Four bits cost 16 entries per four neurons to build and
/// keep a tile's tables (one `u64` word of the states, 16 tables) in L1.
const BITS: usize = 4;
/// Entries per table.
const ENTRIES: usize = 1 << BITS;
/// Tables per `u64` word of a state.
const TABLES: usize = 64 / BITS;
/// Fields per tile: the accumulator of one state is `ROWS` lanes, held in
/// registers across the tile's tables.
const ROWS: usize = 32;

/// Blocks of at least this many states are worth the tables; smaller ones
/// use the multiply-add product.
pub const MIN_STATES: usize = 16;

/// The number type of the sums, and of the weights it adds exactly.
pub trait Lane: Copy + Default + Add<Output = Self> + Sub<Output = Self> + Send + Sync {
    /// The stored weight type.
    type Weight: Copy + Sync;
    /// A weight as a lane, exactly.
    fn from_weight(w: Self::Weight) -> Self;
}

impl Lane for f64 {
    type Weight = f32;
    #[inline(always)]
    fn from_weight(w: f32) -> f64 {
        w as f64
    }
}

impl Lane for i32 {
    type Weight = i8;
    #[inline(always)]
    fn from_weight(w: i8) -> i32 {
        w as i32
    }
}

/// One table entry: the contribution of four neurons to `ROWS` fields,
/// aligned so that no vector load of it straddles two cache lines.
#[derive(Clone, Copy)]
#[repr(align(64))]
struct Entry<L>([L; ROWS]);

impl<L: Lane> Entry<L> {
    const fn splat(x: L) -> Self {
        Entry([x; ROWS])
    }
}

#[inline(always)]
fn subset_sums_body<L: Lane>(cols: &[L::Weight], n: usize, states: &[&[u64]], outs: &mut [Vec<L>]) {
    debug_assert_eq!(cols.len(), n * n);
    debug_assert_eq!(states.len(), outs.len());
    let zero = Entry::splat(L::default());
    let words = n.div_ceil(64);
    // `index[q·words + w][g]`: the entry of table `g` (of word `w`) that
    // state `q` adds, as an offset into the word's tables. Computed once,
    // used by every tile of fields. Bits past `n` are zero (the packing
    // invariant); masking them keeps this so whatever the input.
    let mut index = vec![[0u8; TABLES]; states.len() * words];
    for (state, rows) in states.iter().zip(index.chunks_exact_mut(words)) {
        for (w, idx) in rows.iter_mut().enumerate() {
            let live = (n - 64 * w).min(64);
            let mask = if live == 64 {
                !0u64
            } else {
                (1u64 << live) - 1
            };
            let word = state[w] & mask;
            for (g, x) in idx.iter_mut().enumerate() {
                *x = (g * ENTRIES) as u8 | ((word >> (BITS * g)) as u8 & (ENTRIES as u8 - 1));
            }
        }
    }
    let mut tables = vec![zero; TABLES * ENTRIES];
    // The tile of every state's fields, contiguous so that it stays in
    // cache across the words.
    let mut tile = vec![zero; states.len()];
    for out in outs.iter_mut() {
        out.clear();
        out.resize(n, L::default());
    }
    for r0 in (0..n).step_by(ROWS) {
        let rows = ROWS.min(n - r0);
        tile.fill(zero);
        for w in 0..words {
            for (g, table) in tables.chunks_exact_mut(ENTRIES).enumerate() {
                // Past `n`: an empty table (entry 0 is zero, and is the one
                // every masked index picks).
                let first = (64 * w + BITS * g).min(n);
                let width = BITS.min(n - first);
                build_table(table, cols, n, first, width, r0, rows);
            }
            for (q, acc) in tile.iter_mut().enumerate() {
                add_word(acc, &tables, &index[q * words + w]);
            }
        }
        for (out, acc) in outs.iter_mut().zip(&tile) {
            out[r0..r0 + rows].copy_from_slice(&acc.0[..rows]);
        }
    }
}

/// `acc += Σ_g tables[index[g]]` over one word's tables, in four
/// independent partial sums: one chain of additions would wait on the
/// adder's latency at every table. Every trip count is a constant, so the
/// partial sums live in registers.
#[inline(always)]
fn add_word<L: Lane>(acc: &mut Entry<L>, tables: &[Entry<L>], index: &[u8; TABLES]) {
    let zero = Entry::splat(L::default());
    let (mut a, mut b, mut c, mut d) = (*acc, zero, zero, zero);
    for g in (0..TABLES).step_by(4) {
        let e = |k: usize| &tables[index[g + k] as usize].0;
        let (e0, e1, e2, e3) = (e(0), e(1), e(2), e(3));
        // One loop over the lanes: the vector unit's natural shape.
        for k in 0..ROWS {
            a.0[k] = a.0[k] + e0[k];
            b.0[k] = b.0[k] + e1[k];
            c.0[k] = c.0[k] + e2[k];
            d.0[k] = d.0[k] + e3[k];
        }
    }
    for k in 0..ROWS {
        acc.0[k] = (a.0[k] + b.0[k]) + (c.0[k] + d.0[k]);
    }
}

/// Fills the table of neurons `first … first+width−1` for fields
/// `r0 … r0+rows−1` (lanes past `rows` are zero): entry `p` is
/// `Σ_b ±W_{i,first+b}` with `+` where bit `b` of `p` is set. Entries from
/// `2^width` on are left as they are: masked indices never reach them.
#[inline(always)]
fn build_table<L: Lane>(
    table: &mut [Entry<L>],
    cols: &[L::Weight],
    n: usize,
    first: usize,
    width: usize,
    r0: usize,
    rows: usize,
) {
    let column = |b: usize| {
        let mut c = [L::default(); ROWS];
        let start = (first + b) * n + r0;
        for (c, &x) in c.iter_mut().zip(&cols[start..start + rows]) {
            *c = L::from_weight(x);
        }
        c
    };
    let mut base = [L::default(); ROWS];
    for b in 0..width {
        for (t, x) in base.iter_mut().zip(column(b)) {
            *t = *t - x;
        }
    }
    table[0] = Entry(base);
    // Entries [2^b, 2^(b+1)) are entries [0, 2^b) with neuron b turned to +1.
    for b in 0..width {
        let half = 1usize << b;
        let mut twice = column(b);
        for x in twice.iter_mut() {
            *x = *x + *x;
        }
        let (low, high) = table.split_at_mut(half);
        for (dst, src) in high[..half].iter_mut().zip(low.iter()) {
            for ((d, &s), &x) in dst.0.iter_mut().zip(&src.0).zip(&twice) {
                *d = s + x;
            }
        }
    }
}

multiversion! {
    /// `outs[q][i] = Σ_j cols[j·n + i]·s_q[j]` for every state `q` (packed
    /// ±1 rows of `n` neurons; `outs[q]` resized to `n`), with `cols` the
    /// transposed weights (`W_ij` at `j·n + i`), exact in the lane type.
    pub fn subset_sums<L: Lane>(cols: &[L::Weight], n: usize, states: &[&[u64]], outs: &mut [Vec<L>]) -> ()
    => subset_sums_body
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Purpose};
    use crate::simd::{self, Level};
    use crate::spins::SpinMatrix;

    fn naive(cols: &[i8], n: usize, s: &[i8]) -> Vec<i32> {
        (0..n)
            .map(|i| (0..n).map(|j| cols[j * n + i] as i32 * s[j] as i32).sum())
            .collect()
    }

    #[test]
    fn equals_the_definition_for_awkward_sizes_at_every_level() {
        for &n in &[1usize, 3, 4, 7, 8, 9, 15, 17, 31, 33, 63, 64, 65, 100, 130] {
            let mut r = rng::stream(n as u64, 0, Purpose::Noise);
            let ints: Vec<i8> = (0..n * n)
                .map(|_| (rng::below(&mut r, 255) as i32 - 127) as i8)
                .collect();
            // Small integers as floats: every sum is exact, so the integer
            // sum is the truth for both lane types.
            let floats: Vec<f32> = ints.iter().map(|&x| x as f32 / 64.0).collect();
            let q = 5;
            let spins: Vec<i8> = (0..q * n)
                .map(|_| if rng::below(&mut r, 2) == 1 { 1 } else { -1 })
                .collect();
            let m = SpinMatrix::from_spins(&spins, q, n).unwrap();
            let states: Vec<&[u64]> = (0..q).map(|k| m.row(k)).collect();
            for level in [Level::Portable, Level::Avx2, Level::Avx512] {
                simd::set_level(level);
                let mut got_i = vec![vec![7; 3]; q];
                let mut got_f = vec![vec![1.0; 3]; q];
                subset_sums(&ints, n, &states, &mut got_i);
                subset_sums(&floats, n, &states, &mut got_f);
                for k in 0..q {
                    let want = naive(&ints, n, &spins[k * n..(k + 1) * n]);
                    assert_eq!(got_i[k], want, "n={n}");
                    let want_f: Vec<f64> = want.iter().map(|&x| x as f64 / 64.0).collect();
                    assert_eq!(got_f[k], want_f, "n={n}");
                }
            }
            simd::set_level(Level::Avx512);
        }
    }
}
