//! Storkey's rule in low-rank form: `O(P·N)` numbers instead of the `N × N`
//! matrix, so that learning costs `O(P²·N)` and the matrix is written once.
//!
//! One step, with `H = Wξ` and `g = ξ ∘ H` (`ξ_i² = 1`), is
//!
//! `W ← (1 + 2/N)·W + offdiag(R)/N`,  `R_ij = ξ_iξ_j − ξ_iH_j − H_iξ_j
//!   = ξ_iξ_j(1 − g_i − g_j) = v_iξ_j + ξ_iv_j`,  `v = ξ ∘ (½ − g)`,
//!
//! the update of the module docs of [`crate::rules`] with the diagonal kept
//! at zero. After `q` patterns therefore
//!
//! `W_q = Σ_{ν<q} w_ν^(q) offdiag(v^ν ξ^νᵀ + ξ^ν v^νᵀ)`,  `w_ν^(q) = (1 + 2/N)^(q−1−ν) / N`,
//!
//! and the field of the next pattern is, with `o_ν = ξ^ν·ξ` and
//! `p_ν = v^ν·ξ` (and `R_ii = 2 ξ_i v_i`),
//!
//! `H_i = Σ_ν w_ν (v^ν_i o_ν + ξ^ν_i p_ν − 2 ξ^ν_i v^ν_i ξ_i)`.
//!
//! Only the `v^ν` are kept. Each is computed from the earlier ones in a
//! fixed order, so storing in one call or in several gives the same bits.
//! The matrix is then the symmetric rank-`2P` product
//! [`Sym2`](super::build::Sym2) with `u^ν = w_ν^(P) v^ν`.

use rayon::prelude::*;

use super::build::{Factors, Sym2};
use crate::error::{try_filled, Result};
use crate::spins::{self, SpinMatrix};

/// The learnt state of Storkey's rule.
#[derive(Debug, Clone)]
pub struct Storkey {
    n: usize,
    /// `v^ν`, row-major `P × N`.
    v: Vec<f64>,
}

impl Storkey {
    /// Nothing learnt, `n` neurons.
    pub fn new(n: usize) -> Self {
        Storkey { n, v: Vec::new() }
    }

    /// Bytes held (`8·P·N`).
    pub fn nbytes(&self) -> usize {
        self.v.len() * 8
    }

    /// `w_ν^(q)` for `ν < q`: `(1 + 2/N)^(q−1−ν) / N`, by repeated products
    /// (the same numbers whatever was stored in which call).
    fn step_weights(&self, q: usize) -> Vec<f64> {
        let ratio = 1.0 + 2.0 / self.n as f64;
        let mut powers = Vec::with_capacity(q);
        let mut x = 1.0 / self.n as f64;
        for _ in 0..q {
            powers.push(x);
            x *= ratio;
        }
        // powers[k] = ratio^k / N; pattern ν gets k = q − 1 − ν.
        powers.reverse();
        powers
    }

    /// Learns the pattern `row` after the `q` packed rows `learnt` (the
    /// patterns learnt so far, in order).
    pub fn push(&mut self, learnt: &[&[u64]], row: &[u64]) -> Result<()> {
        let n = self.n;
        let q = self.v.len() / n;
        debug_assert_eq!(learnt.len(), q);
        let xi: Vec<f64> = (0..n).map(|j| spins::spin(row, j) as f64).collect();
        let w = self.step_weights(q);
        let o: Vec<f64> = (0..q)
            .map(|nu| spins::overlap(learnt[nu], row, n) as f64)
            .collect();
        let p: Vec<f64> = self
            .v
            .par_chunks_exact(n)
            .map(|v| v.iter().zip(&xi).map(|(a, b)| a * b).sum())
            .collect();
        let mut next = try_filled("a Storkey factor", n, 0.0f64)?;
        let v = &self.v;
        next.par_chunks_mut(1024).enumerate().for_each(|(c, out)| {
            for (k, vi) in out.iter_mut().enumerate() {
                let i = c * 1024 + k;
                let mut h = 0.0;
                for nu in 0..q {
                    let x = spins::spin(learnt[nu], i) as f64;
                    let a = v[nu * n + i];
                    h += w[nu] * (a * o[nu] + x * p[nu] - 2.0 * x * a * xi[i]);
                }
                let g = xi[i] * h;
                *vi = xi[i] * (0.5 - g);
            }
        });
        self.v
            .try_reserve(n)
            .map_err(|_| crate::error::Error::Memory(format!("a Storkey factor of {n} values")))?;
        self.v.extend_from_slice(&next);
        Ok(())
    }

    /// The matrix of the patterns learnt (`learnt`, the same rows as were
    /// pushed) as tiles.
    pub fn tiles(&self, learnt: &SpinMatrix) -> Result<Sym2> {
        let n = self.n;
        let q = self.v.len() / n;
        let w = self.step_weights(q);
        let mut x = try_filled("the Storkey factors", q * n, 0.0f64)?;
        let mut u = try_filled("the Storkey factors", q * n, 0.0f64)?;
        for nu in 0..q {
            let row = learnt.row(nu);
            for j in 0..n {
                x[nu * n + j] = spins::spin(row, j) as f64;
                u[nu * n + j] = w[nu] * self.v[nu * n + j];
            }
        }
        Ok(Sym2::new(Factors::new(&x, q, n)?, Factors::new(&u, q, n)?))
    }
}
