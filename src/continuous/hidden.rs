//! The hidden-neuron memory (Krotov & Hopfield 2021, "Large Associative
//! Memory Problem in Neurobiology and Machine Learning"): `N` feature
//! neurons `x` and one hidden neuron `h_μ` per stored pattern `ξ_μ`,
//! coupled by two-body synapses `ξ`:
//!
//! `τ_f dx_i/dt = Σ_μ ξ_μi f_μ − x_i + I_i`,  `τ_h dh_μ/dt = Σ_i ξ_μi g_i − h_μ`,
//!
//! with `g = ∇L_x(x)` and `f = ∇L_h(h)` the gradients of the feature and
//! hidden Lagrangians. The energy
//!
//! `E = [Σ_i (x_i − I_i) g_i − L_x] + [Σ_μ h_μ f_μ − L_h] − Σ_μi f_μ ξ_μi g_i`
//!
//! never increases along the flow (both Lagrangians are convex). A state is
//! the row `[x | h]` (`N + P` values). Feature Lagrangians: `½Σx²`
//! (`g = x`), `(1/γ)Σ log cosh(γx)` (`g = tanh(γx)`) and layer norm
//! `Nγ √(σ² + ε)`, `σ² = Σ(x_i − x̄)²/N` (`g = γ(x − x̄)/√(σ² + ε)`);
//! hidden: log-sum-exp `(1/β) log Σ e^{βh}` (`f = softmax(βh)`: with
//! `g = x` the fixed points are the modern Hopfield network's), power
//! `(1/n) Σ h^n` (even `n`) and rectified power
//! `(1/n) Σ [h]₊^n` (`f = h^{n−1}`: the dense associative memory).

use crate::engine::leaky::LeakyModel;
use crate::error::{Error, Result};
use crate::gemm::{gemm, Matrix, Op};

/// The feature Lagrangian `L_x` (its gradient is the feature output `g`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FeatureLagrangian {
    /// `½ Σ x²`, `g = x`.
    Identity,
    /// `(1/γ) Σ log cosh(γx)`, `g = tanh(γx)`.
    Tanh {
        /// The gain `γ > 0`.
        gain: f64,
    },
    /// `Nγ √(σ² + ε)`, `σ² = Σ(x_i − x̄)²/N`: `g_i = γ (x_i − x̄)/√(σ² + ε)`,
    /// the layer norm.
    LayerNorm {
        /// The scale `γ > 0`.
        gamma: f64,
        /// The regulariser `ε > 0`.
        eps: f64,
    },
}

/// The hidden Lagrangian `L_h` (its gradient is the hidden output `f`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HiddenLagrangian {
    /// `(1/β) log Σ_μ e^{βh_μ}`, `f = softmax(βh)`.
    LogSumExp {
        /// The inverse temperature `β > 0`.
        beta: f64,
    },
    /// `(1/n) Σ h^n` (`n` even) or, rectified, `(1/n) Σ [h]₊^n`; `f = h^{n−1}`.
    Power {
        /// The degree `n ≥ 2`.
        degree: u32,
        /// Whether negative `h` gives zero.
        rectified: bool,
    },
}

/// A hidden-neuron memory (see the module docs).
#[derive(Debug, Clone)]
pub struct HiddenMemory {
    n: usize,
    count: usize,
    patterns: Vec<f64>,
    feature: FeatureLagrangian,
    hidden: HiddenLagrangian,
    taus: Vec<f64>,
    input: Vec<f64>,
}

fn positive(x: f64, name: &str) -> Result<()> {
    if x.is_finite() && x > 0.0 {
        Ok(())
    } else {
        Err(Error::Value(format!(
            "{name} must be a finite number > 0, got {x:?}"
        )))
    }
}

/// `log cosh y`, without overflow.
#[inline]
fn log_cosh(y: f64) -> f64 {
    let a = y.abs();
    a + (-2.0 * a).exp().ln_1p() - std::f64::consts::LN_2
}

impl FeatureLagrangian {
    fn check(self) -> Result<Self> {
        match self {
            FeatureLagrangian::Identity => {}
            FeatureLagrangian::Tanh { gain } => positive(gain, "gain")?,
            FeatureLagrangian::LayerNorm { gamma, eps } => {
                positive(gamma, "gamma")?;
                positive(eps, "eps")?;
            }
        }
        Ok(self)
    }

    /// `g = ∇L_x(x)` into `out`; returns `L_x(x)`.
    fn apply(self, x: &[f64], out: &mut [f64]) -> f64 {
        match self {
            FeatureLagrangian::Identity => {
                out.copy_from_slice(x);
                0.5 * x.iter().map(|v| v * v).sum::<f64>()
            }
            FeatureLagrangian::Tanh { gain } => {
                let mut l = 0.0;
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = (gain * v).tanh();
                    l += log_cosh(gain * v) / gain;
                }
                l
            }
            FeatureLagrangian::LayerNorm { gamma, eps } => {
                let n = x.len().max(1) as f64;
                let mean = x.iter().sum::<f64>() / n;
                let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
                let s = (var + eps).sqrt();
                for (o, &v) in out.iter_mut().zip(x) {
                    *o = gamma * (v - mean) / s;
                }
                gamma * n * s
            }
        }
    }
}

impl HiddenLagrangian {
    fn check(self) -> Result<Self> {
        match self {
            HiddenLagrangian::LogSumExp { beta } => positive(beta, "beta")?,
            HiddenLagrangian::Power { degree, rectified } => {
                if degree < 2 {
                    return Err(Error::Value(format!(
                        "degree must be at least 2, got {degree}"
                    )));
                }
                if !rectified && degree % 2 == 1 {
                    return Err(Error::Value(format!(
                        "an odd degree ({degree}) needs the rectified power \
                         (the plain power is not convex)"
                    )));
                }
            }
        }
        Ok(self)
    }

    /// `f = ∇L_h(h)` into `out`; returns `L_h(h)`.
    fn apply(self, h: &[f64], out: &mut [f64]) -> f64 {
        match self {
            HiddenLagrangian::LogSumExp { beta } => {
                let m = h.iter().fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                let mut sum = 0.0;
                for (o, &v) in out.iter_mut().zip(h) {
                    *o = (beta * (v - m)).exp();
                    sum += *o;
                }
                out.iter_mut().for_each(|o| *o /= sum);
                m + sum.ln() / beta
            }
            HiddenLagrangian::Power { degree, rectified } => {
                let mut l = 0.0;
                for (o, &v) in out.iter_mut().zip(h) {
                    let v = if rectified { v.max(0.0) } else { v };
                    let p = v.powi(degree as i32 - 1);
                    *o = p;
                    l += p * v;
                }
                l / degree as f64
            }
        }
    }
}

impl HiddenMemory {
    /// A memory of `count` row-major patterns of width `n`.
    ///
    /// # Errors
    /// `Shape` when `patterns` is not `count × n` or `input` not `n` long;
    /// `Value` for a non-finite value, a time constant or parameter that is
    /// not a finite number `> 0`, no pattern, or a power of degree below 2
    /// (or odd and not rectified).
    pub fn new(
        n: usize,
        patterns: Vec<f64>,
        count: usize,
        feature: FeatureLagrangian,
        hidden: HiddenLagrangian,
        (tau_f, tau_h): (f64, f64),
        input: Vec<f64>,
    ) -> Result<Self> {
        if count == 0 || n == 0 {
            return Err(Error::Value(
                "patterns is empty: store at least one pattern of at least one value".into(),
            ));
        }
        if patterns.len() != count.saturating_mul(n) {
            return Err(Error::Shape(format!(
                "patterns must be {count} rows of {n} values, got {} values",
                patterns.len()
            )));
        }
        if input.len() != n {
            return Err(Error::Shape(format!(
                "input must have n = {n} values, got {}",
                input.len()
            )));
        }
        for (values, name) in [(&patterns, "patterns"), (&input, "input")] {
            if let Some(at) = values.iter().position(|x| !x.is_finite()) {
                return Err(Error::Value(format!(
                    "{name} must be finite; found {} at index {at}",
                    values[at]
                )));
            }
        }
        positive(tau_f, "tau_f")?;
        positive(tau_h, "tau_h")?;
        let mut taus = vec![tau_f; n];
        taus.resize(n + count, tau_h);
        Ok(HiddenMemory {
            n,
            count,
            patterns,
            feature: feature.check()?,
            hidden: hidden.check()?,
            taus,
            input,
        })
    }

    /// Number of feature neurons.
    pub fn n(&self) -> usize {
        self.n
    }

    /// Number of hidden neurons (stored patterns).
    pub fn count(&self) -> usize {
        self.count
    }

    /// The stored patterns, row-major `count × n`.
    pub fn patterns(&self) -> &[f64] {
        &self.patterns
    }

    /// The hidden neurons at rest given the features: `h = Ξ g(x)` for
    /// `rows` row-major feature rows `x` (`rows × n`), `rows × P`. A row's
    /// result does not depend on the other rows.
    ///
    /// # Errors
    /// `Shape` when `features` is not `rows × n`; `Value` for a value that
    /// is not finite.
    pub fn rest(&self, features: &[f64], rows: usize) -> Result<Vec<f64>> {
        let n = self.n;
        if features.len() != rows.saturating_mul(n) {
            return Err(Error::Shape(format!(
                "features must be {rows} rows of {n} values, got {} values",
                features.len()
            )));
        }
        if let Some(at) = features.iter().position(|x| !x.is_finite()) {
            return Err(Error::Value(format!(
                "features must be finite; found {} at row {}, column {}",
                features[at],
                at / n,
                at % n
            )));
        }
        let mut g = vec![0.0; features.len()];
        for (x, g) in features.chunks_exact(n).zip(g.chunks_exact_mut(n)) {
            self.feature.apply(x, g);
        }
        let mut h = vec![0.0; rows * self.count];
        let gm = Matrix {
            data: &g,
            rows,
            cols: n,
        };
        gemm(1.0, gm, self.xi(), Op::Transposed, 0.0, &mut h);
        Ok(h)
    }

    fn xi(&self) -> Matrix<'_> {
        Matrix {
            data: &self.patterns,
            rows: self.count,
            cols: self.n,
        }
    }
}

impl LeakyModel for HiddenMemory {
    fn dim(&self) -> usize {
        self.n + self.count
    }

    fn taus(&self) -> &[f64] {
        &self.taus
    }

    /// The shorter time constant: a longer step holds a population's drive
    /// over more than its own time constant.
    fn max_dt(&self) -> f64 {
        self.taus.iter().fold(f64::INFINITY, |a, &b| a.min(b))
    }

    fn drive(&self, states: &[f64], rows: usize, out: &mut [f64]) {
        let (n, p, dim) = (self.n, self.count, self.n + self.count);
        let mut g = vec![0.0; rows * n];
        let mut f = vec![0.0; rows * p];
        for r in 0..rows {
            let s = &states[r * dim..(r + 1) * dim];
            self.feature.apply(&s[..n], &mut g[r * n..(r + 1) * n]);
            self.hidden.apply(&s[n..], &mut f[r * p..(r + 1) * p]);
        }
        // D_h = G Ξᵀ (rows × P), D_x = F Ξ + I (rows × N).
        let mut dh = vec![0.0; rows * p];
        let mut dx = vec![0.0; rows * n];
        let gm = Matrix {
            data: &g,
            rows,
            cols: n,
        };
        gemm(1.0, gm, self.xi(), Op::Transposed, 0.0, &mut dh);
        let fm = Matrix {
            data: &f,
            rows,
            cols: p,
        };
        gemm(1.0, fm, self.xi(), Op::Plain, 0.0, &mut dx);
        for r in 0..rows {
            let o = &mut out[r * dim..(r + 1) * dim];
            for ((o, &d), &i) in o[..n].iter_mut().zip(&dx[r * n..]).zip(&self.input) {
                *o = d + i;
            }
            o[n..].copy_from_slice(&dh[r * p..(r + 1) * p]);
        }
    }

    fn energy(&self, state: &[f64], drive: &[f64]) -> Option<f64> {
        let n = self.n;
        let (x, h) = state.split_at(n);
        let mut g = vec![0.0; n];
        let mut f = vec![0.0; self.count];
        let lx = self.feature.apply(x, &mut g);
        let lh = self.hidden.apply(h, &mut f);
        let mut e = -lx - lh;
        for ((&xi, &gi), &ii) in x.iter().zip(&g).zip(&self.input) {
            e += (xi - ii) * gi;
        }
        // drive_h = Ξ g, so Σ_μi f_μ ξ_μi g_i = f·drive_h.
        for ((&hm, &fm), &dm) in h.iter().zip(&f).zip(&drive[n..]) {
            e += hm * fm - fm * dm;
        }
        Some(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::flow::integrate;
    use crate::engine::leaky::FlowOptions;

    fn patterns(p: usize, n: usize) -> Vec<f64> {
        (0..p * n)
            .map(|i| {
                if (i * 7919 + i / 3) % 5 < 2 {
                    1.0
                } else {
                    -1.0
                }
            })
            .collect()
    }

    #[test]
    fn the_energy_descends_for_every_lagrangian() {
        let (p, n) = (5, 24);
        let features = [
            FeatureLagrangian::Identity,
            FeatureLagrangian::Tanh { gain: 2.0 },
            FeatureLagrangian::LayerNorm {
                gamma: 1.0,
                eps: 1e-3,
            },
        ];
        let hiddens = [
            HiddenLagrangian::LogSumExp { beta: 0.5 },
            HiddenLagrangian::Power {
                degree: 2,
                rectified: false,
            },
            HiddenLagrangian::Power {
                degree: 3,
                rectified: true,
            },
        ];
        for feature in features {
            for hidden in hiddens {
                if feature == FeatureLagrangian::Identity
                    && matches!(hidden, HiddenLagrangian::Power { .. })
                {
                    continue; // unbounded below: g = x grows without limit
                }
                let model = HiddenMemory::new(
                    n,
                    patterns(p, n),
                    p,
                    feature,
                    hidden,
                    (1.0, 0.5),
                    vec![0.0; n],
                )
                .unwrap();
                let u0: Vec<f64> = (0..2 * (n + p))
                    .map(|i| 0.3 * (i as f64 * 1.7).sin())
                    .collect();
                let opts = FlowOptions::new(0.005, 400, 1e-10, Some(1), false).unwrap();
                let out = integrate(&model, &u0, 2, &opts).unwrap();
                for o in &out.outcomes {
                    for w in o.trace.windows(2) {
                        assert!(
                            w[1] <= w[0] + 1e-9 * (1.0 + w[0].abs()),
                            "{feature:?} {hidden:?}: {} > {}",
                            w[1],
                            w[0]
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        let make = |feature, hidden, taus| {
            HiddenMemory::new(2, vec![1.0; 2], 1, feature, hidden, taus, vec![0.0; 2])
        };
        let lse = HiddenLagrangian::LogSumExp { beta: 1.0 };
        let id = FeatureLagrangian::Identity;
        assert!(make(id, lse, (1.0, 1.0)).is_ok());
        assert!(make(id, lse, (0.0, 1.0)).is_err());
        assert!(make(id, lse, (1.0, f64::NAN)).is_err());
        assert!(make(id, HiddenLagrangian::LogSumExp { beta: -1.0 }, (1.0, 1.0)).is_err());
        let odd = HiddenLagrangian::Power {
            degree: 3,
            rectified: false,
        };
        assert!(make(id, odd, (1.0, 1.0)).is_err());
        let ln = FeatureLagrangian::LayerNorm {
            gamma: 1.0,
            eps: 0.0,
        };
        assert!(make(ln, lse, (1.0, 1.0)).is_err());
        assert!(HiddenMemory::new(2, vec![], 0, id, lse, (1.0, 1.0), vec![0.0; 2]).is_err());
    }
}
