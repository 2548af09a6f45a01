//! A network of leaky integrate-and-fire neurons with exponential synaptic
//! currents over a dense weight matrix (see
//! [`lif`](crate::engine::lif) for the dynamics and units).

use crate::engine::lif::{Lif, SpikingModel};
use crate::error::{Error, Result};

/// `n` [`Lif`] neurons coupled by `W`, kept as the spike's jumps: row `j`
/// of `outgoing` is `w_ij/τ_s` over `i`, so that a spike of `j` adds one
/// contiguous row to the synaptic currents.
#[derive(Debug, Clone, PartialEq)]
pub struct Spiking {
    n: usize,
    lif: Lif,
    outgoing: Vec<f64>,
}

impl Spiking {
    /// The network over row-major `weights` (`n × n`, `w_ij` the weight
    /// from `j` to `i`).
    ///
    /// # Errors
    /// `Shape` when `weights` is not `n × n`; `Value` when `n` is 0 or a
    /// weight is not finite.
    pub fn new(n: usize, lif: Lif, weights: &[f64]) -> Result<Spiking> {
        if n == 0 {
            return Err(Error::Value("n must be at least 1".into()));
        }
        if weights.len() != n * n {
            return Err(Error::Shape(format!(
                "weights must have {n} x {n} values, got {}",
                weights.len()
            )));
        }
        if let Some(at) = weights.iter().position(|w| !w.is_finite()) {
            return Err(Error::Value(format!(
                "weights must be finite; found {} at ({}, {})",
                weights[at],
                at / n,
                at % n
            )));
        }
        let mut outgoing = vec![0.0; n * n];
        for i in 0..n {
            for j in 0..n {
                outgoing[j * n + i] = weights[i * n + j] / lif.tau_syn;
            }
        }
        Ok(Spiking { n, lif, outgoing })
    }
}

impl SpikingModel for Spiking {
    fn n(&self) -> usize {
        self.n
    }

    fn lif(&self) -> &Lif {
        &self.lif
    }

    fn outgoing(&self, j: usize) -> &[f64] {
        &self.outgoing[j * self.n..(j + 1) * self.n]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outgoing_rows_are_scaled_columns() {
        let lif = Lif::new(20.0, 4.0, 1.0, 0.0, 2.0, 0.0, 0.0).unwrap();
        let net = Spiking::new(2, lif, &[0.0, 8.0, -4.0, 0.0]).unwrap();
        assert_eq!(net.outgoing(0), &[0.0, -1.0]);
        assert_eq!(net.outgoing(1), &[2.0, 0.0]);
        assert!(Spiking::new(2, lif, &[0.0; 3]).is_err());
        assert!(Spiking::new(1, lif, &[f64::NAN]).is_err());
    }
}
