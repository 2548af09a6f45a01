//! The graded-response network (Hopfield 1984): continuous neurons,
//!
//! `τ du_i/dt = −u_i + Σ_j W_ij V_j + I_i`,  `V_j = g(u_j)`,
//!
//! `g(u) = tanh(γu)` (outputs in (−1, 1)) or `g(u) = 1/(1 + e^{−γu})`
//! (outputs in (0, 1)), with gain `γ`. For symmetric `W` the energy
//!
//! `E(V) = −½ Σ_ij W_ij V_i V_j − Σ_i I_i V_i + Σ_i ∫_0^{V_i} g⁻¹(v) dv`
//!
//! never increases along the flow. The integral is
//! `(1/2γ)[(1+V) ln(1+V) + (1−V) ln(1−V)]` for tanh and
//! `(1/γ)[V ln V + (1−V) ln(1−V)]` for the sigmoid (`0 ln 0 = 0`).
//!
//! Weights are either Hebbian, kept factored (`W = XᵀX/N` without its
//! diagonal, `X` the `P × N` patterns: a field costs `2PN`, not `N²`), or a
//! dense `N × N` matrix. A [`LeakyModel`]: the driver is
//! [`crate::engine::flow`].

use crate::engine::leaky::LeakyModel;
use crate::error::{Error, Result};
use crate::gemm::{gemm, Matrix, Op};

/// The output function `g`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    /// `tanh(γu)`, outputs in (−1, 1).
    Tanh,
    /// `1/(1 + e^{−γu})`, outputs in (0, 1).
    Sigmoid,
}

/// Where the weights come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Coupling {
    /// `W = XᵀX/N` without its diagonal, kept as the `P × N` patterns `X`.
    Hebbian {
        /// The patterns, row-major.
        patterns: Vec<f64>,
        /// Number of patterns.
        count: usize,
        /// `W`'s diagonal before it is removed: `Σ_μ x_μi² / N`.
        diagonal: Vec<f64>,
    },
    /// A dense `N × N` matrix, row-major (`W_ij` at `i·N + j`).
    Dense(Vec<f64>),
}

/// A graded-response network (see the module docs).
#[derive(Debug, Clone)]
pub struct Graded {
    n: usize,
    coupling: Coupling,
    gain: f64,
    activation: Activation,
    taus: Vec<f64>,
    input: Vec<f64>,
}

/// `Value` unless `x` is a finite number `> 0`.
fn positive(x: f64, name: &str) -> Result<f64> {
    if x.is_finite() && x > 0.0 {
        Ok(x)
    } else {
        Err(Error::Value(format!(
            "{name} must be a finite number > 0, got {x:?}"
        )))
    }
}

/// `Value` unless every entry of `values` is finite.
fn finite(values: &[f64], name: &str) -> Result<()> {
    match values.iter().position(|x| !x.is_finite()) {
        None => Ok(()),
        Some(at) => Err(Error::Value(format!(
            "{name} must be finite; found {} at index {at}",
            values[at]
        ))),
    }
}

impl Coupling {
    /// Hebbian coupling from `count` row-major patterns of width `n`.
    ///
    /// # Errors
    /// `Shape` when `patterns` is not `count × n`; `Value` when an entry is
    /// not finite.
    pub fn hebbian(patterns: Vec<f64>, count: usize, n: usize) -> Result<Coupling> {
        if patterns.len() != count.saturating_mul(n) {
            return Err(Error::Shape(format!(
                "patterns must be {count} rows of {n} values, got {} values",
                patterns.len()
            )));
        }
        finite(&patterns, "patterns")?;
        let mut diagonal = vec![0.0; n];
        for row in patterns.chunks_exact(n.max(1)) {
            for (d, &x) in diagonal.iter_mut().zip(row) {
                *d += x * x;
            }
        }
        diagonal.iter_mut().for_each(|d| *d /= n as f64);
        Ok(Coupling::Hebbian {
            patterns,
            count,
            diagonal,
        })
    }

    /// Dense coupling from a row-major `n × n` matrix.
    ///
    /// # Errors
    /// `Shape` when `weights` is not `n × n`; `Value` when an entry is not
    /// finite.
    pub fn dense(weights: Vec<f64>, n: usize) -> Result<Coupling> {
        if weights.len() != n.saturating_mul(n) {
            return Err(Error::Shape(format!(
                "weights must be {n} × {n}, got {} values",
                weights.len()
            )));
        }
        finite(&weights, "weights")?;
        Ok(Coupling::Dense(weights))
    }
}

impl Graded {
    /// A network of `n` neurons.
    ///
    /// # Errors
    /// `Value` when `gain` or `tau` is not a finite number `> 0`, or an
    /// input is not finite; `Shape` when `input` does not have `n` values
    /// or the coupling another width.
    pub fn new(
        n: usize,
        coupling: Coupling,
        gain: f64,
        activation: Activation,
        tau: f64,
        input: Vec<f64>,
    ) -> Result<Self> {
        positive(gain, "gain")?;
        positive(tau, "tau")?;
        if input.len() != n {
            return Err(Error::Shape(format!(
                "input must have n = {n} values, got {}",
                input.len()
            )));
        }
        finite(&input, "input")?;
        let width = match &coupling {
            Coupling::Hebbian {
                patterns, count, ..
            } => patterns.len().checked_div(*count).unwrap_or(n),
            Coupling::Dense(w) => (w.len() as f64).sqrt() as usize,
        };
        if width != n {
            return Err(Error::Shape(format!(
                "the weights are for {width} neurons, not n = {n}"
            )));
        }
        Ok(Graded {
            n,
            coupling,
            gain,
            activation,
            taus: vec![tau; n],
            input,
        })
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The gain `γ`.
    pub fn gain(&self) -> f64 {
        self.gain
    }

    /// The output function.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// The time constant `τ`.
    pub fn tau(&self) -> f64 {
        self.taus.first().copied().unwrap_or(1.0)
    }

    /// The input currents `I`.
    pub fn input(&self) -> &[f64] {
        &self.input
    }

    /// The coupling.
    pub fn coupling(&self) -> &Coupling {
        &self.coupling
    }

    /// The same network at another gain.
    ///
    /// # Errors
    /// `Value` when `gain` is not a finite number `> 0`.
    pub fn with_gain(&self, gain: f64) -> Result<Graded> {
        positive(gain, "gain")?;
        Ok(Graded {
            gain,
            ..self.clone()
        })
    }

    /// `V = g(u)` of one value.
    #[inline]
    pub fn output(&self, u: f64) -> f64 {
        match self.activation {
            Activation::Tanh => (self.gain * u).tanh(),
            Activation::Sigmoid => 1.0 / (1.0 + (-self.gain * u).exp()),
        }
    }

    /// `∫_0^V g⁻¹(v) dv` (see the module docs).
    #[inline]
    fn integral(&self, v: f64) -> f64 {
        let xlogx = |x: f64| if x > 0.0 { x * x.ln() } else { 0.0 };
        match self.activation {
            Activation::Tanh => (xlogx(1.0 + v) + xlogx(1.0 - v)) / (2.0 * self.gain),
            Activation::Sigmoid => (xlogx(v) + xlogx(1.0 - v)) / self.gain,
        }
    }

    /// `W V` for `rows` row-major outputs `v`, into `out`.
    fn fields(&self, v: &[f64], rows: usize, out: &mut [f64]) {
        let n = self.n;
        let vm = Matrix {
            data: v,
            rows,
            cols: n,
        };
        match &self.coupling {
            Coupling::Hebbian {
                patterns,
                count,
                diagonal,
            } => {
                let x = Matrix {
                    data: patterns,
                    rows: *count,
                    cols: n,
                };
                // m = V Xᵀ (rows × P), then W V = m X / N − diag ⊙ V.
                let mut m = vec![0.0; rows * count];
                gemm(1.0, vm, x, Op::Transposed, 0.0, &mut m);
                let mm = Matrix {
                    data: &m,
                    rows,
                    cols: *count,
                };
                gemm(1.0 / n as f64, mm, x, Op::Plain, 0.0, out);
                for (o, vr) in out.chunks_exact_mut(n).zip(v.chunks_exact(n)) {
                    for ((o, &x), &d) in o.iter_mut().zip(vr).zip(diagonal) {
                        *o -= d * x;
                    }
                }
            }
            Coupling::Dense(w) => {
                let wm = Matrix {
                    data: w,
                    rows: n,
                    cols: n,
                };
                gemm(1.0, vm, wm, Op::Transposed, 0.0, out);
            }
        }
    }
}

impl LeakyModel for Graded {
    fn dim(&self) -> usize {
        self.n
    }

    fn taus(&self) -> &[f64] {
        &self.taus
    }

    /// A step longer than `τ` is refused: beyond it the step no longer
    /// follows the flow (the drive is held for most of a time constant).
    fn max_dt(&self) -> f64 {
        self.tau()
    }

    fn drive(&self, states: &[f64], rows: usize, out: &mut [f64]) {
        let v: Vec<f64> = states.iter().map(|&u| self.output(u)).collect();
        self.fields(&v, rows, out);
        for o in out.chunks_exact_mut(self.n) {
            for (o, &i) in o.iter_mut().zip(&self.input) {
                *o += i;
            }
        }
    }

    fn energy(&self, state: &[f64], drive: &[f64]) -> Option<f64> {
        // drive = W V + I, so −½ V·W V − I·V = −½ V·(drive + I).
        let mut e = 0.0;
        for ((&u, &d), &i) in state.iter().zip(drive).zip(&self.input) {
            let v = self.output(u);
            e += -0.5 * v * (d + i) + self.integral(v);
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
    fn hebbian_and_dense_couplings_agree() {
        let (p, n) = (3, 10);
        let x = patterns(p, n);
        let mut w = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                if i != j {
                    w[i * n + j] =
                        (0..p).map(|m| x[m * n + i] * x[m * n + j]).sum::<f64>() / n as f64;
                }
            }
        }
        let input: Vec<f64> = (0..n).map(|i| i as f64 * 0.01).collect();
        let a = Graded::new(
            n,
            Coupling::hebbian(x, p, n).unwrap(),
            2.0,
            Activation::Tanh,
            1.0,
            input.clone(),
        )
        .unwrap();
        let b = Graded::new(
            n,
            Coupling::dense(w, n).unwrap(),
            2.0,
            Activation::Tanh,
            1.0,
            input,
        )
        .unwrap();
        let u: Vec<f64> = (0..2 * n).map(|i| (i as f64 * 0.37).sin()).collect();
        let (mut da, mut db) = (vec![0.0; 2 * n], vec![0.0; 2 * n]);
        a.drive(&u, 2, &mut da);
        b.drive(&u, 2, &mut db);
        for (x, y) in da.iter().zip(&db) {
            assert!((x - y).abs() < 1e-12);
        }
    }

    #[test]
    fn the_energy_descends_along_the_flow() {
        let (p, n) = (4, 40);
        for activation in [Activation::Tanh, Activation::Sigmoid] {
            let model = Graded::new(
                n,
                Coupling::hebbian(patterns(p, n), p, n).unwrap(),
                5.0,
                activation,
                1.0,
                vec![0.05; n],
            )
            .unwrap();
            let u0: Vec<f64> = (0..3 * n).map(|i| 0.3 * (i as f64 * 1.3).cos()).collect();
            let opts = FlowOptions::new(0.05, 400, 1e-9, Some(1), false).unwrap();
            let out = integrate(&model, &u0, 3, &opts).unwrap();
            for o in &out.outcomes {
                assert!(o.trace.len() > 5);
                for w in o.trace.windows(2) {
                    assert!(w[1] <= w[0] + 1e-12, "{activation:?}: {} > {}", w[1], w[0]);
                }
            }
        }
    }

    #[test]
    fn bad_parameters_are_refused() {
        let c = || Coupling::dense(vec![0.0; 4], 2).unwrap();
        assert!(Graded::new(2, c(), 0.0, Activation::Tanh, 1.0, vec![0.0; 2]).is_err());
        assert!(Graded::new(2, c(), 1.0, Activation::Tanh, -1.0, vec![0.0; 2]).is_err());
        assert!(Graded::new(2, c(), 1.0, Activation::Tanh, 1.0, vec![0.0; 3]).is_err());
        assert!(Graded::new(3, c(), 1.0, Activation::Tanh, 1.0, vec![0.0; 3]).is_err());
        assert!(Coupling::dense(vec![f64::NAN; 4], 2).is_err());
        assert!(Coupling::hebbian(vec![1.0; 5], 2, 3).is_err());
    }
}
