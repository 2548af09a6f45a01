//! The interaction function `F` of a dense memory and the exact integer
//! powers of the polynomial one.

use crate::error::{Error, Result};

/// The interaction function `F` of a dense memory.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Interaction {
    /// `F(x) = x^degree`; rectified: `F(x) = 0` for `x < 0`.
    Polynomial {
        /// The power, at least 1.
        degree: u32,
        /// Whether negative overlaps contribute nothing.
        rectified: bool,
    },
    /// `F(x) = exp(beta·x)`, `beta > 0`.
    Exponential {
        /// The inverse temperature, positive and finite.
        beta: f64,
    },
}

impl Interaction {
    pub(super) fn check(self) -> Result<()> {
        match self {
            Interaction::Polynomial { degree: 0, .. } => {
                Err(Error::Value("degree must be at least 1, got 0".into()))
            }
            Interaction::Exponential { beta } if !(beta.is_finite() && beta > 0.0) => Err(
                Error::Value(format!("beta must be positive and finite, got {beta}")),
            ),
            _ => Ok(()),
        }
    }
}

/// `F(x)` of the polynomial interaction, `None` when it overflows `i128`.
#[inline]
pub(super) fn poly(x: i64, degree: u32, rectified: bool) -> Option<i128> {
    if rectified && x < 0 {
        Some(0)
    } else {
        (x as i128).checked_pow(degree)
    }
}

/// A bound on every per-pattern term the polynomial model adds (`h`, `b`
/// and `F`): `5(n+2)^degree`.
pub(super) fn poly_unit(n: usize, degree: u32) -> Option<i128> {
    (n as i128 + 2).checked_pow(degree)?.checked_mul(5)
}
