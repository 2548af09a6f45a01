//! The 8-bit codes of the score screening (`screen.rs`): rows of queries
//! or keys coded in bytes with their scales and error norms, and the
//! memory's cache of key codes, made a tile at a time. A leaf module:
//! the memory (`mod.rs`) holds a [`CodeCache`].

use std::sync::OnceLock;

/// Bytes per code step: features are padded to a multiple of this.
pub(super) const STEP: usize = 32;
/// The query codes' offset (`u = round(q / s_q) + 64`).
pub(super) const OFFSET: i32 = 64;

/// `x` rounded to the nearest integer (ties to even) for `|x| < 2⁵¹`,
/// without a library call at any level.
#[inline(always)]
fn round(x: f64) -> f64 {
    const MAGIC: f64 = 6755399441055744.0; // 1.5·2^52
    (x + MAGIC) - MAGIC
}

/// Codes of a set of rows (queries or keys), rows padded to `dp` bytes.
pub struct Codes<B> {
    pub(super) dp: usize,
    pub(super) codes: Vec<B>,
    /// `s`: the row's value per code unit.
    pub(super) scale: Vec<f64>,
    /// Upper bound of `‖x − x̃‖`.
    pub(super) err: Vec<f64>,
    /// Upper bound of `‖x‖`.
    pub(super) norm: Vec<f64>,
    /// Keys: the sum of the codes (for the query offset); queries: unused.
    pub(super) sum: Vec<i32>,
}

impl<B: Copy> Codes<B> {
    pub(super) fn new() -> Codes<B> {
        Codes {
            dp: 0,
            codes: Vec::new(),
            scale: Vec::new(),
            err: Vec::new(),
            norm: Vec::new(),
            sum: Vec::new(),
        }
    }

    /// Codes `rows` rows of `x` (width `d`) with `levels` code steps on
    /// each side of zero, `to` turning a code plus `offset` into a byte.
    /// Written to vectorize (lane partial sums, no library rounding).
    #[inline(always)]
    fn fill(
        &mut self,
        x: &[f32],
        rows: usize,
        d: usize,
        levels: f64,
        offset: i32,
        to: fn(i32) -> B,
    ) {
        let dp = d.div_ceil(STEP) * STEP;
        self.dp = dp;
        self.codes.clear();
        self.codes.resize(rows * dp, to(offset));
        for v in [&mut self.scale, &mut self.err, &mut self.norm] {
            v.clear();
            v.reserve_exact(rows);
        }
        self.sum.clear();
        self.sum.reserve_exact(rows);
        for (r, row) in x.chunks_exact(d).take(rows).enumerate() {
            let mut lanes = [0.0f32; 16];
            let mut blocks = row.chunks_exact(16);
            for blk in &mut blocks {
                for (m, &v) in lanes.iter_mut().zip(blk) {
                    let a = v.abs();
                    *m = if a > *m { a } else { *m };
                }
            }
            let top = blocks
                .remainder()
                .iter()
                .map(|v| v.abs())
                .chain(lanes)
                .fold(0.0f32, |m, a| if a > m { a } else { m }) as f64;
            let s = top / levels;
            let inv = if s > 0.0 { 1.0 / s } else { 0.0 };
            let out = &mut self.codes[r * dp..r * dp + d];
            let (mut e2, mut n2, mut sum) = ([0.0f64; 4], [0.0f64; 4], 0i32);
            let mut code = |o: &mut B, v: f32, l: usize| {
                let v = v as f64;
                let c = round(v * inv);
                let c = if c > levels {
                    levels
                } else if c < -levels {
                    -levels
                } else {
                    c
                };
                let diff = v - s * c;
                e2[l] += diff * diff;
                n2[l] += v * v;
                sum += c as i32;
                *o = to(c as i32 + offset);
            };
            let mut oc = out.chunks_exact_mut(4);
            let mut vc = row.chunks_exact(4);
            for (o, v) in (&mut oc).zip(&mut vc) {
                for l in 0..4 {
                    code(&mut o[l], v[l], l);
                }
            }
            for (o, &v) in oc.into_remainder().iter_mut().zip(vc.remainder()) {
                code(o, v, 0);
            }
            let (e2, n2) = (
                (e2[0] + e2[1]) + (e2[2] + e2[3]),
                (n2[0] + n2[1]) + (n2[2] + n2[3]),
            );
            // Rounded up past the float64 rounding of the sums (relative
            // error far below 1e-9 for any width this takes).
            self.scale.push(s);
            self.err
                .push(e2.sqrt() * (1.0 + 1e-9) + 1e-12 * n2.sqrt() + 1e-300);
            self.norm.push(n2.sqrt() * (1.0 + 1e-9) + 1e-300);
            self.sum.push(sum);
        }
    }

    /// Empty codes with room for `bytes` codes, `None` when that much
    /// memory cannot be had.
    pub(super) fn with_capacity(bytes: usize) -> Option<Codes<B>> {
        let mut codes = Vec::new();
        codes.try_reserve_exact(bytes).ok()?;
        Some(Codes {
            codes,
            ..Codes::new()
        })
    }
}

impl<B> Codes<B> {
    /// Bytes held (codes and per-row numbers).
    fn nbytes(&self) -> usize {
        std::mem::size_of::<B>() * self.codes.capacity()
            + 8 * (self.scale.capacity() + self.err.capacity() + self.norm.capacity())
            + 4 * self.sum.capacity()
    }
}

/// Query codes: unsigned bytes `1..=127` (`u − 64` the signed code).
pub(super) type QueryCodes = Codes<u8>;
/// Key codes: signed bytes `−127..=127`.
pub type KeyCodes = Codes<i8>;

/// The codes of a memory's keys, made tile by tile (`TILE` keys) the
/// first time a screening call needs them and kept with the memory (until
/// the next store), so that later calls do not code the keys again and a
/// call that stops screening early codes only the tiles it bounded.
#[derive(Default)]
pub struct CodeCache {
    /// Per tile: not coded yet, coded, or `None` when the codes could not
    /// be allocated (that tile is not screened).
    tiles: Vec<OnceLock<Option<KeyCodes>>>,
}

impl CodeCache {
    /// An empty cache for `rows` keys in tiles of `tile`.
    pub(super) fn new(rows: usize, tile: usize) -> CodeCache {
        CodeCache {
            tiles: (0..rows.div_ceil(tile)).map(|_| OnceLock::new()).collect(),
        }
    }

    /// The cell of tile `t` (`None` past the last tile).
    pub(super) fn cell(&self, t: usize) -> Option<&OnceLock<Option<KeyCodes>>> {
        self.tiles.get(t)
    }

    /// Bytes of the codes made so far.
    pub(super) fn nbytes(&self) -> usize {
        self.tiles
            .iter()
            .filter_map(|t| t.get().and_then(Option::as_ref))
            .map(Codes::nbytes)
            .sum()
    }
}

impl Clone for CodeCache {
    fn clone(&self) -> Self {
        CodeCache {
            tiles: self
                .tiles
                .iter()
                .map(|t| match t.get() {
                    Some(codes) => OnceLock::from(codes.clone()),
                    None => OnceLock::new(),
                })
                .collect(),
        }
    }
}

impl Clone for Codes<i8> {
    fn clone(&self) -> Self {
        Codes {
            dp: self.dp,
            codes: self.codes.clone(),
            scale: self.scale.clone(),
            err: self.err.clone(),
            norm: self.norm.clone(),
            sum: self.sum.clone(),
        }
    }
}

impl std::fmt::Debug for CodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let coded = self.tiles.iter().filter(|t| t.get().is_some()).count();
        write!(f, "CodeCache({coded} of {} tiles coded)", self.tiles.len())
    }
}

/// Codes `nb` queries of width `d`.
#[inline(always)]
pub(super) fn code_queries(q: &[f32], nb: usize, d: usize, out: &mut QueryCodes) {
    out.fill(q, nb, d, 63.0, OFFSET, |c| c as u8);
}

#[inline(always)]
fn code_keys_body(k: &[f32], rows: usize, d: usize, out: &mut KeyCodes) {
    out.fill(k, rows, d, 127.0, 0, |c| c as i8);
}

crate::simd::multiversion! {
    /// Codes `rows` keys of width `d`.
    pub(super) fn code_keys(k: &[f32], rows: usize, d: usize, out: &mut KeyCodes) -> () => code_keys_body
}
