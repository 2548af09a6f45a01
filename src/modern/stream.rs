//! The streaming online softmax over tiles of stored patterns and the
//! value accumulation of the nonzero weights.

use rayon::prelude::*;

use super::scores::{popcount_scores, scores_tile, Packed};
use super::screen::{self, Bounds, CallCodes, QueryCodes, SKIPPED};
use super::{ModernHopfield, LANES, TILE};
use crate::error::{try_filled, Result};
use crate::spins::SpinMatrix;

/// What a pass over the patterns computes.
#[derive(Clone, Copy)]
pub(super) struct Pass<'a> {
    pub(super) queries: &'a [f32],
    pub(super) nb: usize,
    pub(super) beta: f64,
    pub(super) skip: f64,
    pub(super) values: bool,
}

/// Per-query softmax state of one block: running max `m` (of `β s`), sum
/// `l` of `exp(β s − m)` and, when values are wanted, `Σ exp(β s − m) v`.
pub(super) struct Partial {
    pub(super) m: Vec<f64>,
    pub(super) l: Vec<f64>,
    pub(super) o: Vec<f64>,
}

impl Partial {
    pub(super) fn new(nb: usize, width: usize) -> Result<Partial> {
        Ok(Partial {
            m: vec![f64::NEG_INFINITY; nb],
            l: vec![0.0; nb],
            o: try_filled("the value accumulators", nb * width, 0.0)?,
        })
    }

    /// Folds `other` (the softmax of later patterns) into `self`.
    pub(super) fn merge(&mut self, other: &Partial, width: usize) {
        for b in 0..self.m.len() {
            let m = self.m[b].max(other.m[b]);
            let a = scale(self.m[b], m);
            let c = scale(other.m[b], m);
            self.m[b] = m;
            self.l[b] = a * self.l[b] + c * other.l[b];
            // Nothing to add and nothing to rescale (`other.o` is zero when
            // its sum is): the same values, without touching the rows.
            if width > 0 && !(other.l[b] == 0.0 && a == 1.0) {
                let (o, p) = (
                    &mut self.o[b * width..(b + 1) * width],
                    &other.o[b * width..(b + 1) * width],
                );
                for (x, y) in o.iter_mut().zip(p) {
                    *x = a * *x + c * *y;
                }
            }
        }
    }
}

/// `exp(from − to)` for `from ≤ to`, 0 for an empty state (`from = −∞`).
#[inline]
fn scale(from: f64, to: f64) -> f64 {
    if from == f64::NEG_INFINITY {
        0.0
    } else {
        (from - to).exp()
    }
}

crate::simd::multiversion! {
    /// Streams the patterns `range` through the online softmax of one block.
    pub(super) fn chunk(
        mem: &ModernHopfield,
        pass: &Pass<'_>,
        qspins: Option<&SpinMatrix>,
        kernels: (Option<&Packed>, Option<&CallCodes<'_>>),
        range: std::ops::Range<usize>,
        floor: Option<&[f64]>,
        part: &mut Partial,
    ) -> () => chunk_body
}

#[inline(always)]
fn chunk_body(
    mem: &ModernHopfield,
    pass: &Pass<'_>,
    qspins: Option<&SpinMatrix>,
    (packed, codes): (Option<&Packed>, Option<&CallCodes<'_>>),
    range: std::ops::Range<usize>,
    floor: Option<&[f64]>,
    part: &mut Partial,
) {
    let (d, dv, nb) = (mem.d, mem.dv, pass.nb);
    let scratch_len = packed.map_or(0, Packed::scratch_len);
    let score = |start: usize, rows: usize, out: &mut [f32], scratch: &mut [f32]| match (
        qspins,
        mem.spins.as_ref(),
    ) {
        (Some(q), Some(k)) => popcount_scores(k, start, rows, q, d, out, TILE),
        _ => scores_tile(
            &mem.keys[start * d..(start + rows) * d],
            rows,
            pass.queries,
            nb,
            d,
            packed,
            scratch,
            out,
            TILE,
        ),
    };
    let tiles = range.len().div_ceil(TILE);
    let size = nb * TILE;
    // Without a floor (the first stage) score the whole chunk first and take
    // its maximum as the floor, so that weights are skipped against it from
    // the first tile on rather than against a running maximum that a later
    // tile may still raise by far. A few queries (one per call) also score
    // the whole chunk first, its tiles side by side on the pool's threads:
    // they only read keys, so two threads read them at twice the rate; the
    // softmax then runs in tile order as always, on the same scores.
    let few = nb <= FEW && tiles > 1 && crate::par::in_pool();
    let prescan = floor.is_none() || few;
    let mut held = vec![0.0f32; if prescan { tiles } else { 1 } * size];
    let mut scratch = vec![0.0f32; scratch_len];
    let popcount = qspins.is_some() && mem.spins.is_some();
    let mut screen = codes
        .filter(|k| !popcount && !few && screens(nb, d) && k.pays())
        .map(|k| Screen::new(pass.queries, nb, d, k));
    let tile_keys = |t: usize| {
        let start = range.start + t * TILE;
        let rows = (range.end - start).min(TILE);
        (start, rows, &mem.keys[start * d..(start + rows) * d])
    };
    if prescan {
        let score_tile = |t: usize, buf: &mut [f32], scratch: &mut [f32]| {
            let start = range.start + t * TILE;
            score(start, (range.end - start).min(TILE), buf, scratch);
        };
        if few {
            held.par_chunks_mut(size).enumerate().for_each(|(t, buf)| {
                score_tile(t, buf, &mut vec![0.0f32; scratch_len]);
            });
        } else if let Some(sc) = screen
            .as_mut()
            .filter(|s| tiles > 0 && (0..tiles).all(|t| s.k.tile(tile_keys(t).0).is_some()))
        {
            // Bounds of every tile first: the threshold comes from all of
            // them (the chunk's maximum is the floor of its own softmax).
            let mut lo = vec![f64::NEG_INFINITY; nb];
            for (t, buf) in held.chunks_exact_mut(size).enumerate() {
                let (start, rows, _) = tile_keys(t);
                sc.bound(start, rows, buf, &mut lo);
            }
            let tops = Screen::tops(&lo, None, pass.beta);
            let mut dense = 0;
            for (t, buf) in held.chunks_exact_mut(size).enumerate() {
                let (_, rows, keys) = tile_keys(t);
                let screened = sc.resolve(keys, rows, buf, &tops, pass);
                sc.k.tally(screened);
                if !screened {
                    score_tile(t, buf, &mut scratch);
                    dense += 1;
                }
            }
            // Mostly nonzero weights: the tile kernel in the rest of the chunk.
            if 2 * dense > tiles {
                screen = None;
            }
        } else {
            for (t, buf) in held.chunks_exact_mut(size).enumerate() {
                score_tile(t, buf, &mut scratch);
            }
        }
    }
    let mut own = Vec::new();
    let floor = match floor {
        Some(f) => f,
        None => {
            own.resize(nb, f64::NEG_INFINITY);
            for (t, buf) in held.chunks_exact(size).enumerate() {
                let rows = (range.end - range.start - t * TILE).min(TILE);
                for (b, f) in own.iter_mut().enumerate() {
                    let top = max_of(&buf[b * TILE..b * TILE + rows]) as f64 * pass.beta;
                    *f = f.max(top);
                }
            }
            &own[..]
        }
    };
    let mut lists = ValueLists::new(nb);
    let mut panel = Vec::with_capacity(TILE * PANEL);
    let mut any = vec![false; nb];
    let values = mem.value_rows();
    for t in 0..tiles {
        let start = range.start + t * TILE;
        let rows = (range.end - start).min(TILE);
        let tile = if prescan {
            &mut held[t * size..(t + 1) * size]
        } else {
            let keys = &mem.keys[start * d..(start + rows) * d];
            // Not a closure: a closure would not inherit the level's features.
            let screened = match screen.as_mut().filter(|s| s.k.tile(start).is_some()) {
                Some(sc) => {
                    let mut lo = vec![f64::NEG_INFINITY; nb];
                    sc.bound(start, rows, &mut held, &mut lo);
                    let tops = Screen::tops(&lo, Some(floor), pass.beta);
                    let screened = sc.resolve(keys, rows, &mut held, &tops, pass);
                    sc.k.tally(screened);
                    screened
                }
                None => false,
            };
            if !screened {
                // Mostly nonzero weights: no more screening in this chunk.
                screen = None;
                score(start, rows, &mut held, &mut scratch);
            }
            &mut held[..]
        };
        for b in 0..nb {
            let o = if pass.values {
                &mut part.o[b * dv..(b + 1) * dv]
            } else {
                &mut []
            };
            any[b] = softmax_row(
                &mut tile[b * TILE..b * TILE + rows],
                pass.beta,
                pass.skip,
                floor[b],
                &mut part.m[b],
                &mut part.l[b],
                o,
            );
        }
        if pass.values {
            lists.fill(tile, rows, &any);
            value_sums(
                tile,
                &lists,
                &values[start * dv..(start + rows) * dv],
                dv,
                &mut panel,
                &mut part.o,
            );
        }
    }
}

/// Fewest queries in a block that screen their scores (see [`Screen`]).
const SCREEN_MIN: usize = 8;
/// A tile screens its scores when at most 1 in `DENSE` of them is needed:
/// an exact score of a screened tile, its key row read for one query,
/// costs about ten of the tile kernel's, and the bounds about half a tile.
const DENSE: usize = 32;

/// Whether a block of `nb` queries of width `d` screens its scores: a
/// level with the 8-bit kernel, enough queries to share the key codes.
pub(super) fn screens(nb: usize, d: usize) -> bool {
    nb >= SCREEN_MIN && d <= screen::MAX_D && crate::simd::level() >= crate::simd::Level::Avx2
}

/// Score screening of one block (see `screen.rs`): the block's query
/// codes, the call's key codes, a tile's code products.
struct Screen<'a, 'k> {
    queries: &'a [f32],
    nb: usize,
    d: usize,
    q: QueryCodes,
    k: &'a CallCodes<'k>,
    dots: Vec<i32>,
}

impl<'a, 'k> Screen<'a, 'k> {
    #[inline(always)]
    fn new(queries: &'a [f32], nb: usize, d: usize, k: &'a CallCodes<'k>) -> Self {
        let mut q = QueryCodes::new();
        screen::code_queries(queries, nb, d, &mut q);
        Screen {
            queries,
            nb,
            d,
            q,
            k,
            dots: vec![0; nb * TILE],
        }
    }

    /// Writes into `out` (row stride [`TILE`]) an upper bound of every
    /// score of the tile's `rows` keys from `start` (float32, rounded up),
    /// and raises `lo[b]` to a lower bound of query `b`'s largest score
    /// there. The tile's codes must be there (`self.k.tile(start)` is
    /// `Some`: the callers check it).
    #[inline(always)]
    fn bound(&mut self, start: usize, rows: usize, out: &mut [f32], lo: &mut [f64]) {
        let Some(k) = self.k.tile(start) else {
            unreachable!("bound called on a tile without codes")
        };
        screen::code_dots(&self.q, (k, 0), self.nb, rows, &mut self.dots, TILE);
        let bounds = Bounds::new(&self.q, k, self.d);
        for (b, low) in lo.iter_mut().enumerate() {
            let span = b * TILE..b * TILE + rows;
            let top = bounds.row(b, 0, &self.dots[span.clone()], &mut out[span]);
            *low = low.max(top);
        }
    }

    /// Lower bounds of each query's `top` in `softmax_row` (the larger of
    /// its running maximum and its floor, in `β·score` units): the floor,
    /// and `β` times the largest lower bound `lo` of a score seen.
    #[inline(always)]
    fn tops(lo: &[f64], floor: Option<&[f64]>, beta: f64) -> Vec<f64> {
        let floor = |b: usize| floor.map_or(f64::NEG_INFINITY, |f| f[b]);
        lo.iter()
            .enumerate()
            .map(|(b, &l)| floor(b).max(l * beta))
            .collect()
    }

    /// The threshold on `β·hi` for a query whose `top` is at least `top`
    /// (see [`tops`](Self::tops)): a key whose bound is below it has a
    /// zero weight.
    #[inline(always)]
    fn limit(top: f64, pass: &Pass<'_>) -> f64 {
        // Generous against the float64 rounding of this and of the test in
        // `softmax_row` (a few units in the last place of these magnitudes).
        top - pass.skip - 1e-9 * (top.abs() + pass.skip) - 1e-300
    }

    /// Whether key bound `hi` (raw) must be scored exactly against `limit`.
    #[inline(always)]
    fn needed(hi: f32, limit: f64, beta: f64) -> bool {
        let h = hi as f64 * beta;
        h + 1e-9 * h.abs() >= limit
    }

    /// How many scores of a bounded tile must be computed exactly.
    #[inline(always)]
    fn count(&self, rows: usize, bounds: &[f32], tops: &[f64], pass: &Pass<'_>) -> usize {
        let mut n = 0;
        for (b, &top) in tops.iter().enumerate() {
            let limit = Self::limit(top, pass);
            n += bounds[b * TILE..b * TILE + rows]
                .iter()
                .filter(|&&h| Self::needed(h, limit, pass.beta))
                .count();
        }
        n
    }

    /// Replaces the bounds in `tile` by the exact scores where needed and
    /// [`SKIPPED`] elsewhere; `false` (tile untouched) when more than 1 in
    /// [`DENSE`] are needed: the tile kernel is faster then.
    #[inline(always)]
    fn resolve(
        &self,
        keys: &[f32],
        rows: usize,
        tile: &mut [f32],
        tops: &[f64],
        pass: &Pass<'_>,
    ) -> bool {
        if self.count(rows, tile, tops, pass) * DENSE > self.nb * rows {
            return false;
        }
        let d = self.d;
        for (b, &top) in tops.iter().enumerate() {
            let limit = Self::limit(top, pass);
            let q = &self.queries[b * d..(b + 1) * d];
            for (r, x) in tile[b * TILE..b * TILE + rows].iter_mut().enumerate() {
                *x = if Self::needed(*x, limit, pass.beta) {
                    screen::exact(&keys[r * d..(r + 1) * d], q)
                } else {
                    SKIPPED
                };
            }
        }
        true
    }
}

/// Columns of the value rows that every query's sums take before the next
/// ones: a panel of `TILE × PANEL` floats (96 KB) stays in the L2 cache
/// while all the block's queries pass over it, instead of each query
/// reading the whole tile (768 KB at `d_v` = 1024) from further away.
const PANEL: usize = 128;

/// The patterns of a tile that each query's value sums take: per query
/// the patterns of nonzero weight, and per full group of [`GROUP`]
/// queries whose weights are mostly nonzero (spread-out attention) the
/// union of theirs, which the group's kernel takes together, sharing every
/// value load. A pattern of zero weight adds `0·v` to the query's chain,
/// which changes nothing, so either way every query gets the same bits.
struct ValueLists {
    groups: Vec<std::ops::Range<usize>>,
    own: Vec<Vec<u32>>,
    union: Vec<Vec<u32>>,
    /// Whether group `g` runs as a group (its union list) or query by query.
    together: Vec<bool>,
    /// Value rows the sums read (a group's union once per set of four).
    reads: usize,
}

impl ValueLists {
    fn new(nb: usize) -> ValueLists {
        let groups = value_groups(nb);
        let n = groups.len();
        ValueLists {
            groups,
            own: vec![Vec::with_capacity(TILE); nb],
            union: vec![Vec::with_capacity(TILE); n],
            together: vec![false; n],
            reads: 0,
        }
    }

    /// The lists of a tile of weights (`nb` rows of stride [`TILE`], `rows`
    /// used); `any[b]`: whether query `b` has a nonzero weight.
    fn fill(&mut self, tile: &[f32], rows: usize, any: &[bool]) {
        for (b, list) in self.own.iter_mut().enumerate() {
            list.clear();
            if any[b] {
                let w = &tile[b * TILE..b * TILE + rows];
                list.extend((0..rows as u32).filter(|&p| w[p as usize] != 0.0));
            }
        }
        for (g, range) in self.groups.iter().enumerate() {
            let list = &mut self.union[g];
            list.clear();
            self.together[g] = false;
            if range.len() < GROUP {
                continue;
            }
            let total: usize = self.own[range.clone()].iter().map(Vec::len).sum();
            // Cheap bound first: the union has at least the longest list.
            let longest = self.own[range.clone()].iter().map(Vec::len).max();
            if total == 0 || 2 * total <= GROUP * longest.unwrap_or(0) {
                continue;
            }
            list.extend(
                (0..rows as u32)
                    .filter(|&p| range.clone().any(|b| tile[b * TILE + p as usize] != 0.0)),
            );
            // Together when more than half of the group's weights over the
            // union are nonzero: the group kernel then does at most twice
            // the multiply-adds of single queries, on a quarter of the loads.
            self.together[g] = 2 * total > GROUP * list.len();
        }
        self.reads = 0;
        for (g, range) in self.groups.iter().enumerate() {
            self.reads += if self.together[g] {
                self.union[g].len() * GROUP / 4
            } else {
                self.own[range.clone()].iter().map(Vec::len).sum()
            };
        }
    }
}

/// `o[b] += Σ_p w[b][p]·v[p]` over the lists of a tile, a panel of
/// [`PANEL`] value columns at a time. When the sums read the tile's rows
/// more than twice over, each panel is first copied into `panel`, rows side
/// by side: the rows of a tile sit `4·d_v` bytes apart (4 KB at `d_v` =
/// 1024), where a panel of them would fall into a few L1 cache sets and
/// span one page per row.
fn value_sums(
    tile: &[f32],
    lists: &ValueLists,
    values: &[f32],
    dv: usize,
    panel: &mut Vec<f32>,
    o: &mut [f64],
) {
    let rows = values.len() / dv.max(1);
    // The copy reads every row once: worth it when the sums read them more
    // often (a few queries, one per call, read a few rows each: no copy).
    let copy = lists.reads >= 2 * rows;
    let mut j = 0;
    while j < dv {
        let cols = (dv - j).min(PANEL);
        let (v, vs) = if copy {
            panel.clear();
            for p in 0..rows {
                panel.extend_from_slice(&values[p * dv + j..p * dv + j + cols]);
            }
            (&panel[..], cols)
        } else {
            (&values[j..], dv)
        };
        for (g, range) in lists.groups.iter().enumerate() {
            if lists.together[g] {
                accumulate(
                    &tile[range.start * TILE..],
                    range.len(),
                    &lists.union[g],
                    v,
                    vs,
                    cols,
                    dv,
                    &mut o[range.start * dv + j..],
                );
                continue;
            }
            for b in range.clone() {
                accumulate(
                    &tile[b * TILE..],
                    1,
                    &lists.own[b],
                    v,
                    vs,
                    cols,
                    dv,
                    &mut o[b * dv + j..],
                );
            }
        }
        j += cols;
    }
}

/// At most this many queries in a block score a chunk's tiles side by side.
const FEW: usize = 4;

/// Queries per group of the value accumulation.
pub(super) const GROUP: usize = 12;
const _: () = assert!(
    GROUP.is_multiple_of(4),
    "the AVX2 accumulation takes groups as sets of four"
);

/// Query groups of the value accumulation: [`GROUP`] at a time, then singles.
fn value_groups(nb: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut b = 0;
    while b + GROUP <= nb {
        out.push(b..b + GROUP);
        b += GROUP;
    }
    while b < nb {
        out.push(b..b + 1);
        b += 1;
    }
    out
}

/// Online-softmax update of one query with the raw scores `s` of a tile:
/// rescales `o` and `l` when the maximum grows, overwrites `s` with the
/// weights `exp(β s − m)` (0 below `exp(−skip)` relative to `max(m, floor)`,
/// `floor` a lower bound of the final maximum), adds them to `l`.
/// Returns whether any weight is nonzero.
#[inline(always)]
fn softmax_row(
    s: &mut [f32],
    beta: f64,
    skip: f64,
    floor: f64,
    m: &mut f64,
    l: &mut f64,
    o: &mut [f64],
) -> bool {
    let smax = max_of(s);
    let tm = smax as f64 * beta;
    if tm > *m {
        let c = scale(*m, tm);
        // With no weight summed yet `o` is still zero: leave it untouched.
        if *l != 0.0 {
            *l *= c;
            for x in o.iter_mut() {
                *x *= c;
            }
        }
        *m = tm;
    }
    let m = *m;
    // Weights are relative to m; a weight is dropped when it is below
    // exp(−skip) relative to `top` (≤ the final maximum), a lower bound
    // known from earlier stages.
    let top = m.max(floor);
    // A conservative threshold on the raw scores: a block entirely below it
    // would fail the exact test `β s − m >= −skip` element by element.
    let thr = (top - skip) / beta;
    let thr = thr - 1e-9 * (thr.abs() + 1.0);
    let t32 = thr as f32;
    let t32 = if t32 as f64 > thr {
        t32 - t32.abs() * 1e-6 - f32::MIN_POSITIVE
    } else {
        t32
    };
    if smax < t32 {
        // Every block would be skipped and every remaining weight is 0
        // (the threshold is conservative): the same result, without the tests.
        s.fill(0.0);
        return false;
    }
    let mut sums = [0.0f64; LANES];
    let mut nonzero = false;
    let mut blocks = s.chunks_exact_mut(LANES);
    for blk in &mut blocks {
        // Not `all`: its early exit keeps the compare scalar.
        if !blk.iter().fold(false, |hit, &x| hit | (x >= t32)) {
            blk.fill(0.0);
            continue;
        }
        nonzero = true;
        for (x, sum) in blk.iter_mut().zip(sums.iter_mut()) {
            let w = weight(*x as f64 * beta - m, skip - (top - m));
            *x = w;
            *sum += w as f64;
        }
    }
    for (x, sum) in blocks.into_remainder().iter_mut().zip(sums.iter_mut()) {
        let w = weight(*x as f64 * beta - m, skip - (top - m));
        *x = w;
        nonzero |= w != 0.0;
        *sum += w as f64;
    }
    let mut h = [0.0f64; 8];
    for i in 0..8 {
        h[i] = sums[i] + sums[i + 8];
    }
    *l += ((h[0] + h[4]) + (h[2] + h[6])) + ((h[1] + h[5]) + (h[3] + h[7]));
    nonzero
}

/// The largest of `s` (finite scores), in [`LANES`] running maxima so that
/// it vectorizes (a fold of `f32::max` is a serial chain).
#[inline(always)]
fn max_of(s: &[f32]) -> f32 {
    let mut lanes = [f32::NEG_INFINITY; LANES];
    let mut blocks = s.chunks_exact(LANES);
    for blk in &mut blocks {
        for (m, &x) in lanes.iter_mut().zip(blk) {
            *m = if x > *m { x } else { *m };
        }
    }
    let mut m = f32::NEG_INFINITY;
    for &x in blocks.remainder().iter().chain(&lanes) {
        m = if x > m { x } else { m };
    }
    m
}

/// `exp(z)` for `−skip ≤ z ≤ 0` as float32, 0 below `−skip`. The range
/// reduction is float64, the polynomial float32 (fused multiply-adds), so
/// every instruction-set level gives the same bits.
#[inline(always)]
fn weight(z: f64, skip: f64) -> f32 {
    const LOG2E: f64 = std::f64::consts::LOG2_E;
    const LN2: f64 = std::f64::consts::LN_2;
    const MAGIC: f64 = 6755399441055744.0; // 1.5·2^52: rounds to nearest
    let zc = z.max(-100.0);
    let t = zc * LOG2E + MAGIC;
    let k = t - MAGIC;
    // k sits in the low bits of t: an integer shift, no float-to-int conversion.
    let ki = t.to_bits() as i64 - MAGIC.to_bits() as i64;
    let r = (zc - k * LN2) as f32;
    let mut p = 1.0f32 / 5040.0;
    p = p.mul_add(r, 1.0 / 720.0);
    p = p.mul_add(r, 1.0 / 120.0);
    p = p.mul_add(r, 1.0 / 24.0);
    p = p.mul_add(r, 1.0 / 6.0);
    p = p.mul_add(r, 0.5);
    p = p.mul_add(r, 1.0);
    p = p.mul_add(r, 1.0);
    // 2^k as f64 (exact for k ≥ −1022), the product rounded once to f32.
    let two_k = f64::from_bits(((ki + 1023) as u64) << 52);
    let w = (p as f64 * two_k) as f32;
    if z >= -skip {
        w
    } else {
        0.0
    }
}

/// `o[b][j] += Σ_{p ∈ list} w[b][p]·v[p][j]` for `nb` queries (weights
/// row stride [`TILE`]) and the first `cols` columns (value rows of stride
/// `vs`, rows of `o` of stride `os`), summed in float32 in list order, then
/// added.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn accumulate(
    w: &[f32],
    nb: usize,
    list: &[u32],
    values: &[f32],
    vs: usize,
    cols: usize,
    os: usize,
    o: &mut [f64],
) {
    if list.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if crate::simd::level() == crate::simd::Level::Avx512 && (nb == GROUP || nb == 1) {
        // SAFETY: the level is never above what the CPU supports; `w` holds
        // `nb` rows of TILE, `values` the listed rows' first `cols` columns
        // (stride `vs`), `o` `nb` rows of stride `os` (sizes checked inside).
        unsafe {
            if nb == GROUP {
                super::x86::accumulate_avx512::<GROUP, 2>(w, list, values, vs, cols, os, o)
            } else {
                super::x86::accumulate_avx512::<1, 4>(w, list, values, vs, cols, os, o)
            }
        };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if crate::simd::level() == crate::simd::Level::Avx2 && (nb == GROUP || nb == 1) {
        // SAFETY: as above (the AVX2 level includes FMA); a group runs as
        // three sets of four queries, each with its own weight rows and outputs.
        unsafe {
            if nb == GROUP {
                for s in 0..GROUP / 4 {
                    super::avx2::accumulate_avx2::<4, 3>(
                        &w[4 * s * TILE..],
                        list,
                        values,
                        vs,
                        cols,
                        os,
                        &mut o[4 * s * os..],
                    );
                }
            } else {
                super::avx2::accumulate_avx2::<1, 8>(w, list, values, vs, cols, os, o)
            }
        };
        return;
    }
    for b in 0..nb {
        let wb = &w[b * TILE..];
        for j in 0..cols {
            let mut acc = 0.0f32;
            for &p in list {
                acc = wb[p as usize].mul_add(values[p as usize * vs + j], acc);
            }
            o[b * os + j] += acc as f64;
        }
    }
}
