//! Exact Glauber acceptance for integer fields, without a logarithm per
//! update.
//!
//! A stochastic update sets the neuron to +1 iff `gap > t·ln(u/(1−u))`
//! ([`threshold`]), `u = r·2⁻⁵³` for the 53-bit integer `r` of the accept
//! stream. When the gap is `2·a/n` for an integer `a` (the Hebbian model
//! with zero thresholds), the decision for a given `a` is a function of `r`
//! alone, and an increasing threshold in `r` up to rounding: +1 for every `r`
//! below a bound `lo(a)`, −1 for every `r` from a bound `hi(a)` on, and in
//! the window `lo ≤ r < hi` (a few `r` out of 2⁵³ around the logistic
//! boundary) the rule itself is evaluated. So the decisions are those of the
//! rule, bit for bit, and an update costs a table read and a comparison.
//!
//! The bounds are proven, not estimated: the computed threshold `F̂(u)`
//! differs from the exact `F(u) = t·ln(u/(1−u))` by less than
//! `E = t·2⁻³⁰` (the rounding of `u/(1−u)`, of the product, and a logarithm
//! accurate to 2¹⁴ ulp would all fit), and `F` increases. If
//! `F̂(u(lo−1)) < g − 2E` then every `r < lo` has `F̂ < g` (accepted); if
//! `F̂(u(hi)) > g + 2E` then every `r ≥ hi` has `F̂ > g` (rejected). Each
//! entry is computed the first time its `a` occurs, by checking candidate
//! bounds from the logistic function and widening them until they pass.
//! Entries are atomics, so one table serves every thread; racing writers
//! store identical values.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

/// The gap above which a neuron becomes +1 at temperature `t > 0` for the
/// uniform `u`: `t · ln(u / (1 − u))` (`−∞` for `u = 0`). For `u` uniform in
/// `[0, 1)`, `P(gap > threshold) = 1 / (1 + exp(−gap / t))`: the Glauber
/// (heat-bath) rule, decided by one comparison.
#[inline(always)]
pub fn threshold(u: f64, t: f64) -> f64 {
    t * (u / (1.0 - u)).ln()
}

/// `2⁵³`: uniforms are `r·2⁻⁵³` for integers `0 ≤ r < 2⁵³`.
pub const ONE: u64 = 1 << 53;

/// The bounds are kept in units of `2^COARSE` (`2⁵³ >> 38 = 2¹⁵` fits 16 bits).
const COARSE: u32 = 38;

/// Most entries on either side of `a = 0`; beyond, `a` is clamped (exactly:
/// see [`AcceptTable::accept`]).
const MAX_HALF: i64 = 1 << 18;

/// The uniform of the 53-bit integer `r`, as [`crate::rng::uniform`] makes it.
#[inline(always)]
pub fn uniform_of(r: u64) -> f64 {
    r as f64 * (1.0 / (1u64 << 53) as f64)
}

/// The exact acceptance rule for integer fields `a` at temperature `t`,
/// gap `2·(a/n)` (see the module documentation).
#[derive(Debug)]
pub struct AcceptTable {
    t: f64,
    n: f64,
    half: i64,
    /// Entry `a + half`: the bounds in units of 2³⁸ (`r >> 38` is 15 bits),
    /// `⌊lo/2³⁸⌋ | ⌈hi/2³⁸⌉ << 16`; 0 while not computed (a computed `hi`
    /// is at least 1). Four bytes an entry keep the entries in use in the
    /// first-level cache; a draw in the coarse window (about 2⁻¹⁴ of them)
    /// evaluates the rule.
    entries: Vec<AtomicU32>,
    /// The bound `E` on the rounding of the computed threshold.
    error: f64,
}

impl AcceptTable {
    /// The table for temperature `t > 0`, `n` neurons and fields `|a| ≤
    /// reach` (larger fields are still decided exactly, only slower).
    pub fn new(t: f64, n: usize, reach: u64) -> Self {
        assert!(t > 0.0 && t.is_finite(), "temperature {t}");
        let half = Self::new_half(t, n, reach);
        let len = 2 * half as usize + 1;
        Self {
            t,
            n: n as f64,
            half,
            entries: zeroed(len),
            error: t * (-30f64).exp2() + (-1060f64).exp2(),
        }
    }

    /// Entries on either side of `a = 0`: up to where every decision is
    /// certain (beyond `|gap| = 37.5·t`, as `|F̂| < 36.8·t`), at most `reach`.
    fn new_half(t: f64, n: usize, reach: u64) -> i64 {
        let certain = (37.5 * t * n as f64 / 2.0).ceil() + 1.0;
        (certain.min(reach as f64).min(MAX_HALF as f64) as i64).max(1)
    }

    /// The temperature.
    pub fn temperature(&self) -> f64 {
        self.t
    }

    /// The gap of the integer field `a`, as the Hebbian model computes it.
    #[inline(always)]
    pub fn gap(&self, a: i64) -> f64 {
        2.0 * (a as f64 / self.n - 0.0)
    }

    /// The rule itself: `gap(a) > t·ln(u/(1−u))`.
    #[inline(always)]
    pub fn exact(&self, a: i64, r: u64) -> bool {
        self.gap(a) > threshold(uniform_of(r), self.t)
    }

    /// Whether the neuron with integer field `a` becomes +1 for the 53-bit
    /// draw `r`: exactly [`exact`](AcceptTable::exact).
    ///
    /// A clamped `a > half` uses the bounds of `half`, whose `hi` is 2⁵³:
    /// accepting below its `lo` stays right for a larger gap. A clamped
    /// `a < −half` uses those of `−half`, whose `lo` is 1 (only `r = 0`,
    /// threshold −∞): rejecting from its `hi` on stays right for a smaller
    /// gap. In the window the rule is evaluated with the real `a`.
    #[inline(always)]
    pub fn accept(&self, a: i64, r: u64) -> bool {
        let k = (a.clamp(-self.half, self.half) + self.half) as usize;
        debug_assert!(k < self.entries.len());
        // SAFETY: the clamp keeps k in 0..=2·half, and there are 2·half + 1
        // entries.
        let mut entry = unsafe { self.entries.get_unchecked(k) }.load(Ordering::Relaxed);
        if entry == 0 {
            entry = self.fill(k);
        }
        let (lo, hi) = (entry & 0xffff, entry >> 16);
        let q = (r >> COARSE) as u32;
        if q.wrapping_sub(lo) < hi - lo {
            return self.exact(a, r);
        }
        q < lo
    }

    /// The exact bounds `(lo, hi)` behind entry `k`, for tests.
    #[cfg(test)]
    fn coarse(&self, k: usize) -> (u64, u64) {
        let e = self.entries[k].load(Ordering::Relaxed) as u64;
        ((e & 0xffff) << COARSE, (e >> 16) << COARSE)
    }

    /// Computes, stores and returns the bounds of entry `k`.
    #[cold]
    #[inline(never)]
    fn fill(&self, k: usize) -> u32 {
        let a = k as i64 - self.half;
        let (lo, hi) = self.bounds_of(a);
        let lo = if k == 0 { 1 } else { lo };
        let hi = if k as i64 == 2 * self.half { ONE } else { hi };
        // r >> 38 < lo >> 38 implies r < lo; r >> 38 ≥ ⌈hi / 2³⁸⌉ implies r ≥ hi.
        let lo = (lo >> COARSE) as u32;
        let hi = (hi.div_ceil(1 << COARSE) as u32).max(lo).max(1);
        let entry = lo | hi << 16;
        self.entries[k].store(entry, Ordering::Relaxed);
        entry
    }

    /// Proven bounds `(lo, hi)` for the field `a`: `r < lo` accepts, `r ≥ hi`
    /// rejects, `1 ≤ lo ≤ hi ≤ 2⁵³`.
    fn bounds_of(&self, a: i64) -> (u64, u64) {
        let (t, g, e) = (self.t, self.gap(a), self.error);
        let f = |r: u64| threshold(uniform_of(r), t);
        // The logistic boundary u* = 1/(1 + exp(−g/t)), and a window around
        // it that the rounding slack 2E moves it by (in units of r).
        let sigma = 1.0 / (1.0 + (-g / t).exp());
        let centre = sigma * ONE as f64;
        let mut width = 4.0 * (e / t) * sigma * (1.0 - sigma) * ONE as f64 + 2.0;
        let lo = loop {
            let c = (centre - width).floor();
            if c <= 1.0 {
                break 1;
            }
            let lo = (c as u64).min(ONE);
            if f(lo - 1) < g - 2.0 * e {
                break lo;
            }
            width *= 2.0;
        };
        let mut width = 4.0 * (e / t) * sigma * (1.0 - sigma) * ONE as f64 + 2.0;
        let hi = loop {
            let c = (centre + width).ceil();
            if c >= ONE as f64 {
                break ONE;
            }
            let hi = (c as u64).max(1);
            if f(hi) > g + 2.0 * e {
                break hi;
            }
            width *= 2.0;
        };
        (lo, hi.max(lo))
    }
}

/// `len` zero atomics from zeroed memory (pages the system maps on first
/// use), so that a table costs only the entries a run reaches.
fn zeroed(len: usize) -> Vec<AtomicU32> {
    let mut zeros = std::mem::ManuallyDrop::new(vec![0u32; len]);
    let (ptr, len, capacity) = (zeros.as_mut_ptr(), zeros.len(), zeros.capacity());
    // SAFETY: AtomicU32 has the size, alignment and bit validity of u32, and
    // the allocation is handed over whole (pointer, length, capacity).
    unsafe { Vec::from_raw_parts(ptr as *mut AtomicU32, len, capacity) }
}

/// The tables of recent runs, most recent last: a table depends only on
/// `(t, n, reach)`, so repeated runs at one temperature share their entries.
static RECENT: Mutex<Vec<Arc<AcceptTable>>> = Mutex::new(Vec::new());

/// How many tables [`table`] keeps: enough for the temperatures of a
/// short annealing schedule, whose chain blocks each go through them all.
const KEEP: usize = 16;

/// The (shared) table for `(t, n, reach)`.
pub fn table(t: f64, n: usize, reach: u64) -> Arc<AcceptTable> {
    let mut recent = RECENT.lock().unwrap_or_else(|e| e.into_inner());
    let same = |x: &Arc<AcceptTable>| {
        x.t.to_bits() == t.to_bits()
            && x.n == n as f64
            && x.half == AcceptTable::new_half(t, n, reach)
    };
    if let Some(k) = recent.iter().position(same) {
        let found = recent.remove(k);
        recent.push(found.clone());
        return found;
    }
    let made = Arc::new(AcceptTable::new(t, n, reach));
    if recent.len() == KEEP {
        recent.remove(0);
    }
    recent.push(made.clone());
    made
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{self, Purpose};
    use rand_xoshiro::rand_core::Rng;

    fn check(t: f64, n: usize, reach: u64, a: i64, r: u64, table: &AcceptTable) {
        assert_eq!(
            table.accept(a, r),
            table.exact(a, r),
            "t={t} n={n} reach={reach} a={a} r={r}"
        );
    }

    #[test]
    fn decisions_equal_the_logarithm_rule() {
        let mut s = rng::stream(1, 0, Purpose::Noise);
        for &(t, n, reach) in &[
            (0.5, 1024usize, 104_550u64),
            (0.01, 100, 1_000),
            (3.0, 65, 4_000),
            (1e6, 1024, 104_550),
            (1e-300, 10, 100),
            (0.5, 1024, 50),
        ] {
            let table = AcceptTable::new(t, n, reach);
            let span = reach as i64 + 20;
            for _ in 0..20_000 {
                let a = (s.next_u64() % (2 * span as u64 + 1)) as i64 - span;
                let r = s.next_u64() >> 11;
                check(t, n, reach, a, r, &table);
                // The boundaries of the entry, where the rule is evaluated.
                let k = (a.clamp(-table.half, table.half) + table.half) as usize;
                let (clo, chi) = table.coarse(k);
                assert!(clo <= chi && (1 << COARSE..=ONE).contains(&chi));
                let (lo, hi) = table.bounds_of(a);
                assert!(1 <= lo && lo <= hi && hi <= ONE);
                for x in [lo, hi, clo, chi] {
                    for r in [x.saturating_sub(1), x, x + 1] {
                        check(t, n, reach, a, r.min(ONE - 1), &table);
                    }
                }
                for r in [0, 1, 2, ONE / 2, ONE - 2, ONE - 1] {
                    check(t, n, reach, a, r, &table);
                }
            }
        }
    }

    #[test]
    fn decisions_match_near_the_logistic_boundary() {
        // Draws right at u* = 1/(1 + exp(−g/t)), where the bounds meet.
        let (t, n) = (0.5, 1024);
        let table = AcceptTable::new(t, n, 104_550);
        for a in -3000..3000i64 {
            let g = table.gap(a);
            let centre = (ONE as f64 / (1.0 + (-g / t).exp())) as u64;
            for d in -3i64..=3 {
                let r = (centre as i64 + d).clamp(0, ONE as i64 - 1) as u64;
                check(t, n, 0, a, r, &table);
            }
        }
    }

    #[test]
    fn windows_are_narrow_and_tables_are_shared() {
        let table = AcceptTable::new(0.5, 1024, 104_550);
        for a in [-5000i64, -100, 0, 1, 700] {
            let (lo, hi) = table.bounds_of(a);
            assert!(hi - lo < 1 << 28, "a={a}: window {}", hi - lo);
            table.accept(a, 0);
            let (lo, hi) = table.coarse((a + table.half) as usize);
            assert!(hi - lo <= 2 << COARSE, "a={a}: coarse window {}", hi - lo);
        }
        let x = table_for_test(0.25);
        let y = table_for_test(0.25);
        assert!(Arc::ptr_eq(&x, &y));
        assert!(!Arc::ptr_eq(&x, &table_for_test(0.3)));
    }

    #[test]
    fn thresholds_decide_as_the_logistic_probability() {
        // gap > t·ln(u/(1−u))  ⇔  u < 1/(1 + exp(−gap/t)), up to rounding within
        // a hair of the boundary.
        let t = 0.7;
        let mut disagree = 0;
        for a in 0..400 {
            let u = a as f64 / 400.0;
            for b in 0..400 {
                let gap = (b as f64 - 200.0) / 20.0;
                let by_threshold = gap > threshold(u, t);
                let by_probability = u < 1.0 / (1.0 + (-gap / t).exp());
                let logit = t * (u / (1.0 - u)).ln();
                if by_threshold != by_probability && (gap - logit).abs() > 1e-9 {
                    disagree += 1;
                }
            }
        }
        assert_eq!(disagree, 0);
        assert_eq!(threshold(0.0, t), f64::NEG_INFINITY);
        assert!(threshold(0.5, t).abs() < 1e-15);
    }

    fn table_for_test(t: f64) -> Arc<AcceptTable> {
        table(t, 777, 5_000)
    }
}
