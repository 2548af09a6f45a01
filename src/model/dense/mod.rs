//! Dense associative memory (Krotov & Hopfield 2016; Demircigil et al. 2017):
//! `E(σ) = −Σ_μ F(ξ^μ·σ)` over bit-packed patterns, with a polynomial
//! `F(x) = x^d` (rectified: `0` for `x < 0`) or an exponential
//! `F(x) = exp(βx)` interaction.
//!
//! # The decision
//!
//! With the overlaps `m_μ = ξ^μ·σ` and `t_μ = ξ^μ_i σ_i` (+1 where pattern
//! `μ` agrees with the state at neuron `i`), flipping neuron `i` changes the
//! overlaps to `m_μ − 2t_μ`, so
//!
//! `ΔE_i = E(flipped) − E(σ) = Σ_{t=+1} a(m_μ) − Σ_{t=−1} b(m_μ)`,
//! `a(m) = F(m) − F(m−2)`, `b(m) = F(m+2) − F(m)`,
//!
//! and `ΔE_i = Σ_{t=+1} (a+b)(m_μ) − Σ_μ b(m_μ)`: one sum over the agreeing
//! patterns of a per-query array `h_μ = (a+b)(m_μ)`, masked by neuron `i`'s
//! bit plane of the patterns, minus a per-query total. This is exactly the
//! issue's comparison of `Σ_μ F(±ξ^μ_i + Σ_{j≠i} ξ^μ_j σ_j)`. A neuron flips
//! when `ΔE_i < 0`; `ΔE_i = 0` keeps the state. The gap of the engine is
//! `E(−1) − E(+1) = σ_i ΔE_i`.
//!
//! The per-query cache holds `m`, `h` and the total; a flip changes every
//! overlap by ±2 and rebuilds `h` from a table (O(P)); a decision is one
//! masked sum (O(P) adds, 8 lanes per AVX-512 instruction). The exponential
//! near a stored pattern has only a few nonzero terms, and then sums over
//! those alone, in steps, visits and flips (see `exponential.rs`).
//!
//! **Polynomial**: every quantity is an exact integer. The model adds in
//! `i64` when `P · 5(N+2)^d < 2^63` and in `i128` otherwise; a memory for
//! which `P · 5(N+2)^d ≥ 2^127` is refused (construction and `store`), there
//! is no wider fallback.
//!
//! **Exponential**: the decision is made in fixed point in a max-shifted
//! frame. With `M = max_μ m_μ` and the shift `c = M + 1` when some pattern
//! of overlap `M` disagrees with `σ_i` at `i` (else `c = M − 1`),
//!
//! `D_i = Σ_{t=+1} ⌊2^S e^{β(m_μ−1−c)}⌋ − Σ_{t=−1} ⌊2^S e^{β(m_μ+1−c)}⌋`,
//!
//! which is `2^S e^{−βc}/(2 sinh β) · ΔE_i` up to truncation. The largest
//! term of the larger side is exactly `2^S` (a term with exponent 0 exists
//! on that side by the choice of `c`), so decisions are made to a relative
//! precision of `P·2^−S` of the dominant term whatever `β·N` is, with no
//! overflow; terms below `2^−S` of it vanish. `S = min(52, 62 − bits(P))`
//! keeps every sum below `2^63`. The sums are exact integers, so they do not
//! depend on the order of summation: ties (`D_i = 0`) are exact and keep
//! the state, and the NumPy reference, which uses the same table
//! `⌊2^S e^{−2βu}⌋` (from the C library's `exp`), makes the same decisions.
//! The energy is reported as `−(1/β) log Σ_μ exp(β m_μ)`.
//!
//! # Files
//!
//! This file holds the memory ([`Dense`]) and its prepared form
//! ([`PreparedDense`]); below it, `interaction.rs` (`F` and its exact
//! integer powers), `layout.rs` (bit planes by neuron, overlaps by XOR +
//! popcount), and the two prepared models, `polynomial.rs` and
//! `exponential.rs`, which implement the engine's `EnergyModel`.

mod exponential;
mod interaction;
mod layout;
mod polynomial;
#[cfg(test)]
mod tests;

use std::sync::{Arc, OnceLock};

use crate::error::{Error, Result};
use crate::spins::SpinMatrix;
use interaction::poly_unit;

pub use exponential::{fixed_point_bits, ExponentialCache, PreparedExponential};
pub use interaction::Interaction;
pub use polynomial::{Acc, PolynomialCache, PreparedPolynomial};

/// The largest number of neurons (overlaps stay exact in 32 bits).
pub const MAX_N: usize = super::hebbian::MAX_N;

/// A dense associative memory: the stored patterns, bit-packed
/// (`P·⌈N/64⌉·8` bytes), the interaction and, once a retrieval has asked for
/// it, the memory prepared for the engine (as many bytes again, plus tables
/// of `O(N)`): preparing costs `O(P·N)`, as much as a one-query retrieval
/// or more, so it is kept until the patterns change.
#[derive(Debug)]
pub struct Dense {
    /// Shared with the prepared memory, which reads the rows.
    patterns: Arc<SpinMatrix>,
    interaction: Interaction,
    prepared: OnceLock<PreparedDense>,
}

impl Clone for Dense {
    /// The same memory, with nothing prepared yet (a clone is made to be
    /// changed).
    fn clone(&self) -> Self {
        Dense {
            patterns: Arc::clone(&self.patterns),
            interaction: self.interaction,
            prepared: OnceLock::new(),
        }
    }
}

impl Dense {
    /// An empty memory of `n` neurons.
    ///
    /// # Errors
    /// `Value` when `n` is zero or above [`MAX_N`], the degree is zero, beta
    /// is not positive and finite, or one pattern of a polynomial of this
    /// degree would already overflow exact 128-bit arithmetic.
    pub fn new(n: usize, interaction: Interaction) -> Result<Self> {
        if n > MAX_N {
            return Err(Error::Value(format!("n must be at most {MAX_N}, got {n}")));
        }
        interaction.check()?;
        let memory = Dense {
            patterns: Arc::new(SpinMatrix::new(n)?),
            interaction,
            prepared: OnceLock::new(),
        };
        memory.check_count(1)?;
        Ok(memory)
    }

    /// Refuses `p` patterns when a polynomial's exact sums could overflow.
    fn check_count(&self, p: usize) -> Result<()> {
        if let Interaction::Polynomial { degree, .. } = self.interaction {
            let n = self.n();
            let fits = poly_unit(n, degree)
                .and_then(|u| u.checked_mul(p as i128))
                .is_some();
            if !fits {
                return Err(Error::Value(format!(
                    "degree {degree} with n = {n} and {p} pattern(s) overflows exact 128-bit \
                     arithmetic (needs P·5·(n+2)^degree < 2^127); use a lower degree, fewer \
                     patterns or interaction='exponential'"
                )));
            }
        }
        Ok(())
    }

    /// Appends `patterns` to the memory.
    ///
    /// # Errors
    /// `Shape` when the patterns do not have `n` neurons; `Value` when the
    /// total number of patterns would overflow a polynomial's exact sums.
    pub fn store(&mut self, patterns: &SpinMatrix) -> Result<()> {
        patterns.check_n(self.n())?;
        self.check_count(self.patterns.rows() + patterns.rows())?;
        // Dropped first, so that the rows are copied only when a snapshot
        // still reads them.
        self.prepared = OnceLock::new();
        Arc::make_mut(&mut self.patterns).append(patterns)
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.patterns.n()
    }

    /// The stored patterns.
    pub fn patterns(&self) -> &SpinMatrix {
        &self.patterns
    }

    /// The interaction.
    pub fn interaction(&self) -> Interaction {
        self.interaction
    }

    /// Bytes held: the packed patterns and, once built, the prepared memory.
    pub fn nbytes(&self) -> usize {
        let prepared = self.prepared.get().map_or(0, PreparedDense::nbytes);
        self.patterns.nbytes() + prepared
    }

    /// The memory prepared for the engine, built by the first call
    /// ([`Dense::prepare`]) and kept until the patterns change. Threads that
    /// race on the first call may each build it; one is kept, and all are
    /// equal.
    ///
    /// # Errors
    /// `Memory` when the layout cannot be allocated.
    pub fn prepared(&self) -> Result<&PreparedDense> {
        if let Some(prepared) = self.prepared.get() {
            return Ok(prepared);
        }
        let built = self.prepare()?;
        Ok(self.prepared.get_or_init(|| built))
    }

    /// A new copy of the memory prepared for the engine (bit planes and
    /// tables, `O(P·N)`): `i64` polynomial sums when they fit, else `i128`.
    /// [`Dense::prepared`] keeps one; tests take their own to switch paths.
    ///
    /// # Errors
    /// `Memory` when the layout cannot be allocated.
    pub fn prepare(&self) -> Result<PreparedDense> {
        match self.interaction {
            Interaction::Polynomial { degree, .. } => {
                let p = self.patterns.rows().max(1) as i128;
                let narrow = poly_unit(self.n(), degree)
                    .and_then(|u| u.checked_mul(p))
                    .is_some_and(|x| x <= i64::MAX as i128);
                if narrow {
                    Ok(PreparedDense::Narrow(PreparedPolynomial::new(
                        &self.patterns,
                        self.interaction,
                    )?))
                } else {
                    Ok(PreparedDense::Wide(PreparedPolynomial::new(
                        &self.patterns,
                        self.interaction,
                    )?))
                }
            }
            Interaction::Exponential { .. } => Ok(PreparedDense::Exponential(
                PreparedExponential::new(&self.patterns, self.interaction)?,
            )),
        }
    }
}

/// A prepared dense memory, of the concrete type that fits it.
#[derive(Debug)]
pub enum PreparedDense {
    /// Polynomial, exact in `i64`.
    Narrow(PreparedPolynomial<i64>),
    /// Polynomial, exact in `i128`.
    Wide(PreparedPolynomial<i128>),
    /// Exponential, fixed point in `i64`.
    Exponential(PreparedExponential),
}

impl PreparedDense {
    /// Bytes held beyond the patterns: bit planes and tables.
    pub fn nbytes(&self) -> usize {
        match self {
            PreparedDense::Narrow(k) => k.nbytes(),
            PreparedDense::Wide(k) => k.nbytes(),
            PreparedDense::Exponential(k) => k.nbytes(),
        }
    }
}

/// Runs `$body` with `$k` bound to the concrete prepared model inside a
/// [`PreparedDense`] (static dispatch).
#[macro_export]
macro_rules! with_prepared_dense {
    ($prepared:expr, |$k:ident| $body:expr) => {
        match $prepared {
            $crate::model::dense::PreparedDense::Narrow($k) => $body,
            $crate::model::dense::PreparedDense::Wide($k) => $body,
            $crate::model::dense::PreparedDense::Exponential($k) => $body,
        }
    };
}
