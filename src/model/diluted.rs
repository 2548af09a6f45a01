//! Hebbian weights on diluted, symmetric connectivity, stored sparsely.
//!
//! Each pair `i < j` is connected with probability `c` (drawn once, from
//! `seed`, row by row with geometric skips: `O(connections)` time), and the
//! connection is symmetric. The weights are the exact Hebbian integers of
//! the connected pairs, `N·W_ij = Σ_μ ξ^μ_i ξ^μ_j` (zero elsewhere and on the
//! diagonal), held as `i32` in compressed rows. Fields are exact integers
//! `A_i = N·Σ_j W_ij s_j`, kept per query and updated in `O(degree)` per
//! flip; `h_i = A_i / N − θ_i` in the Hebbian model's order of operations,
//! so at `c = 1` every decision equals the dense Hebbian network's.

use rayon::prelude::*;

use crate::engine::energy::EnergyModel;
use crate::error::{Error, Result};
use crate::rng::{self, Purpose};
use crate::spins::{self, SpinMatrix};

/// A key mixed into the seed so that the connectivity stream differs from
/// every query stream of the same seed.
const CONNECTIVITY_KEY: u64 = 0xD11A_7E0C_0111_EC75;

/// Diluted Hebbian memory: patterns, thresholds and the sparse weights.
#[derive(Debug, Clone)]
pub struct Diluted {
    n: usize,
    dilution: f64,
    seed: u64,
    patterns: SpinMatrix,
    threshold: Vec<f64>,
    zero_threshold: bool,
    /// Row `i` holds `cols[start[i]..start[i+1]]` (sorted) and their weights.
    start: Vec<usize>,
    cols: Vec<u32>,
    values: Vec<i32>,
}

impl Diluted {
    /// An empty memory of `n` neurons with connection probability
    /// `dilution` in `(0, 1]`, drawn from `seed`.
    ///
    /// # Errors
    /// `Value` for `n = 0` or above `u32::MAX`, a dilution outside (0, 1] or
    /// a non-finite threshold; `Shape` for a threshold of the wrong length;
    /// `Memory` when the connections cannot be allocated.
    pub fn new(n: usize, dilution: f64, seed: u64, threshold: Vec<f64>) -> Result<Self> {
        if n == 0 || n > u32::MAX as usize {
            return Err(Error::Value(format!(
                "n must be between 1 and {}, got {n}",
                u32::MAX
            )));
        }
        if !(dilution > 0.0 && dilution <= 1.0) {
            return Err(Error::Value(format!(
                "dilution must be in (0, 1], got {dilution}"
            )));
        }
        if threshold.len() != n {
            return Err(Error::Shape(format!(
                "threshold must have length n = {n}, got {}",
                threshold.len()
            )));
        }
        if let Some(i) = threshold.iter().position(|t| !t.is_finite()) {
            return Err(Error::Value(format!(
                "threshold must be finite; found {} at index {i}",
                threshold[i]
            )));
        }
        let expected = dilution * n as f64 * (n as f64 - 1.0);
        let total = physical_bytes();
        if expected * 8.0 > total {
            return Err(Error::Memory(format!(
                "about {expected:.0} connections ({:.0} bytes) do not fit in memory",
                expected * 8.0
            )));
        }
        let (start, cols) = connectivity(n, dilution, seed)?;
        let values = vec![0i32; cols.len()];
        Ok(Diluted {
            n,
            dilution,
            seed,
            patterns: SpinMatrix::new(n)?,
            zero_threshold: threshold.iter().all(|&t| t == 0.0),
            threshold,
            start,
            cols,
            values,
        })
    }

    /// Appends patterns and updates the connected weights (`O(connections·P/64)`).
    ///
    /// # Errors
    /// `Shape` when the width is not `n`.
    pub fn store(&mut self, patterns: &SpinMatrix) -> Result<()> {
        patterns.check_n(self.n)?;
        self.patterns.append(patterns)?;
        let (n, p) = (self.n, self.patterns.rows());
        // Bit planes: plane[w·n + i] holds bit μ%64 of pattern μ = 64w + …
        let pw = p.div_ceil(64);
        let mut planes = vec![0u64; pw * n];
        for mu in 0..p {
            let row = self.patterns.row(mu);
            for i in 0..n {
                if spins::spin(row, i) > 0 {
                    planes[(mu / 64) * n + i] |= 1u64 << (mu % 64);
                }
            }
        }
        let start = &self.start;
        let cols = &self.cols;
        let mut values = std::mem::take(&mut self.values);
        let mut rows: Vec<&mut [i32]> = Vec::with_capacity(n);
        let mut rest = values.as_mut_slice();
        for i in 0..n {
            let (head, tail) = rest.split_at_mut(start[i + 1] - start[i]);
            rows.push(head);
            rest = tail;
        }
        rows.par_iter_mut().enumerate().for_each(|(i, vals)| {
            for (v, &j) in vals.iter_mut().zip(&cols[start[i]..start[i + 1]]) {
                let mut h = 0u32;
                for w in 0..pw {
                    h += (planes[w * n + i] ^ planes[w * n + j as usize]).count_ones();
                }
                *v = p as i32 - 2 * h as i32;
            }
        });
        self.values = values;
        Ok(())
    }

    /// Number of neurons.
    pub fn n(&self) -> usize {
        self.n
    }

    /// The connection probability.
    pub fn dilution(&self) -> f64 {
        self.dilution
    }

    /// The connectivity seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The stored patterns.
    pub fn patterns(&self) -> &SpinMatrix {
        &self.patterns
    }

    /// The thresholds.
    pub fn threshold(&self) -> &[f64] {
        &self.threshold
    }

    /// Number of directed connections (twice the symmetric pairs).
    pub fn connections(&self) -> usize {
        self.cols.len()
    }

    /// The connections as `(i, j)` pairs, row by row (both directions).
    pub fn pairs(&self) -> Vec<(u32, u32)> {
        (0..self.n)
            .flat_map(|i| {
                self.cols[self.start[i]..self.start[i + 1]]
                    .iter()
                    .map(move |&j| (i as u32, j))
            })
            .collect()
    }

    /// The integer weights `N·W_ij` of [`pairs`](Diluted::pairs), in order.
    pub fn values(&self) -> &[i32] {
        &self.values
    }

    /// Bytes held.
    pub fn nbytes(&self) -> usize {
        self.patterns.nbytes()
            + self.threshold.len() * 8
            + self.start.len() * 8
            + self.cols.len() * 4
            + self.values.len() * 4
    }

    /// The integer fields `A = N·W s` of one state.
    pub fn integer_fields(&self, state: &[u64], out: &mut [i64]) {
        for (i, a) in out.iter_mut().enumerate() {
            let mut s = 0i64;
            for (&j, &v) in self.cols[self.start[i]..self.start[i + 1]]
                .iter()
                .zip(&self.values[self.start[i]..self.start[i + 1]])
            {
                s += (v * spins::spin(state, j as usize)) as i64;
            }
            *a = s;
        }
    }

    /// The fields `h = A/N − θ` of one state.
    pub fn fields(&self, state: &[u64], out: &mut [f64]) {
        let mut a = vec![0i64; self.n];
        self.integer_fields(state, &mut a);
        for ((h, &x), &t) in out.iter_mut().zip(&a).zip(&self.threshold) {
            *h = x as f64 / self.n as f64 - t;
        }
    }

    #[inline(always)]
    fn drive_from(&self, a: i64, i: usize) -> f64 {
        if self.zero_threshold {
            a as f64
        } else {
            a as f64 / self.n as f64 - self.threshold[i]
        }
    }
}

fn physical_bytes() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<f64>().ok()
        })
        .map_or(f64::INFINITY, |kb| kb * 1024.0)
}

/// Symmetric random connectivity in compressed rows: for each `i`, the
/// `j > i` are drawn by geometric skips from row `i`'s own stream, then the
/// pairs are mirrored and every row sorted.
///
/// # Errors
/// `Memory` when the connections cannot be allocated.
pub fn connectivity(n: usize, c: f64, seed: u64) -> Result<(Vec<usize>, Vec<u32>)> {
    let upper: Vec<Vec<u32>> = (0..n)
        .into_par_iter()
        .map(|i| {
            let mut out = Vec::new();
            if c >= 1.0 {
                out.extend((i + 1..n).map(|j| j as u32));
                return out;
            }
            let mut r = rng::stream(seed ^ CONNECTIVITY_KEY, i as u64, Purpose::Noise);
            // For c below ~1e-16, 1 − c rounds to 1 and its logarithm to 0:
            // the skips would never advance. ln_1p keeps such a c (graphs
            // of larger c stay exactly those drawn before from a seed).
            let mut log_q = (1.0 - c).ln();
            if log_q == 0.0 {
                log_q = (-c).ln_1p();
            }
            if log_q >= 0.0 {
                return out;
            }
            let mut j = i as f64;
            loop {
                let u = 1.0 - rng::uniform(&mut r); // (0, 1]
                j += (u.ln() / log_q).floor() + 1.0;
                if j >= n as f64 {
                    break;
                }
                out.push(j as u32);
            }
            out
        })
        .collect();
    let mut degree = vec![0usize; n];
    for (i, row) in upper.iter().enumerate() {
        degree[i] += row.len();
        for &j in row {
            degree[j as usize] += 1;
        }
    }
    let mut start = vec![0usize; n + 1];
    for i in 0..n {
        start[i + 1] = start[i] + degree[i];
    }
    let mut cols = Vec::new();
    cols.try_reserve_exact(start[n])
        .map_err(|_| Error::Memory(format!("{} connections cannot be allocated", start[n])))?;
    cols.resize(start[n], 0u32);
    let mut fill = start.clone();
    for (i, row) in upper.iter().enumerate() {
        for &j in row {
            cols[fill[i]] = j;
            fill[i] += 1;
            cols[fill[j as usize]] = i as u32;
            fill[j as usize] += 1;
        }
    }
    for i in 0..n {
        cols[start[i]..start[i + 1]].sort_unstable();
    }
    Ok((start, cols))
}

/// Per-query cache: exact integer fields.
#[derive(Debug, Clone)]
pub struct DilutedCache {
    fields: Vec<i64>,
}

impl EnergyModel for Diluted {
    type Cache = DilutedCache;

    fn n(&self) -> usize {
        self.n
    }

    fn cache(&self, state: &[u64]) -> DilutedCache {
        let mut fields = vec![0i64; self.n];
        self.integer_fields(state, &mut fields);
        DilutedCache { fields }
    }

    #[inline(always)]
    fn gap(&self, cache: &DilutedCache, _state: &[u64], i: usize) -> f64 {
        2.0 * (cache.fields[i] as f64 / self.n as f64 - self.threshold[i])
    }

    #[inline(always)]
    fn drive(&self, cache: &mut DilutedCache, _state: &[u64], i: usize) -> f64 {
        self.drive_from(cache.fields[i], i)
    }

    #[inline(always)]
    fn flip(&self, cache: &mut DilutedCache, state: &mut [u64], j: usize) {
        spins::flip(state, j);
        let d = 2 * spins::spin(state, j) as i64;
        let (a, b) = (self.start[j], self.start[j + 1]);
        for (&i, &v) in self.cols[a..b].iter().zip(&self.values[a..b]) {
            cache.fields[i as usize] += d * v as i64;
        }
    }

    fn energy(&self, cache: &DilutedCache, state: &[u64]) -> f64 {
        let mut integer = 0i128;
        let mut theta_s = 0.0;
        for (i, (&a, &t)) in cache.fields.iter().zip(&self.threshold).enumerate() {
            let s = spins::spin(state, i);
            integer += (a * s as i64) as i128;
            theta_s += t * s as f64;
        }
        -(integer as f64) / (2 * self.n) as f64 + theta_s
    }

    #[inline(always)]
    fn drives(&self, cache: &mut DilutedCache, _state: &[u64], out: &mut [f64]) {
        for (i, (g, &a)) in out.iter_mut().zip(&cache.fields).enumerate() {
            *g = self.drive_from(a, i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dilution_below_the_float_resolution_of_one_ends() {
        // 1 − c rounds to 1 for these; the graph is (almost surely) empty.
        for c in [1e-17, 1e-300, f64::MIN_POSITIVE, 5e-324] {
            let (start, cols) = connectivity(1000, c, 0).unwrap();
            assert_eq!(start.len(), 1001);
            assert!(cols.len() <= 2, "c = {c}: {} connections", cols.len());
        }
        let d = Diluted::new(1000, 1e-17, 0, vec![0.0; 1000]).unwrap();
        assert!(d.pairs().is_empty());
    }

    #[test]
    fn connectivity_is_symmetric_seeded_and_has_the_right_density() {
        let n = 2000;
        let d = Diluted::new(n, 0.05, 3, vec![0.0; n]).unwrap();
        let pairs = d.pairs();
        let set: std::collections::HashSet<(u32, u32)> = pairs.iter().copied().collect();
        assert!(pairs.iter().all(|&(i, j)| i != j && set.contains(&(j, i))));
        let density = pairs.len() as f64 / (n * (n - 1)) as f64;
        assert!((density - 0.05).abs() < 0.002, "{density}");
        let again = Diluted::new(n, 0.05, 3, vec![0.0; n]).unwrap();
        assert_eq!(again.pairs(), pairs);
        assert_ne!(
            Diluted::new(n, 0.05, 4, vec![0.0; n]).unwrap().pairs(),
            pairs
        );
        assert!(Diluted::new(n, 0.0, 1, vec![0.0; n]).is_err());
        assert!(Diluted::new(n, 1.5, 1, vec![0.0; n]).is_err());
    }

    #[test]
    fn full_connectivity_is_the_hebbian_network() {
        let n = 130;
        let mut r = rng::stream(1, 0, Purpose::Noise);
        let v: Vec<i8> = (0..7 * n)
            .map(|_| if rng::below(&mut r, 2) == 1 { 1 } else { -1 })
            .collect();
        let x = SpinMatrix::from_spins(&v, 7, n).unwrap();
        let mut d = Diluted::new(n, 1.0, 0, vec![0.0; n]).unwrap();
        d.store(&x).unwrap();
        let mut h = crate::model::Hebbian::new(n, vec![0.0; n]).unwrap();
        h.store(&x).unwrap();
        let w = h.weights().unwrap();
        for (&(i, j), &val) in d.pairs().iter().zip(d.values()) {
            assert_eq!(val as f64 / n as f64, w[i as usize * n + j as usize]);
        }
        assert_eq!(d.connections(), n * (n - 1));
    }
}
