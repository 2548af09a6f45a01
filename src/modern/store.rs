//! Storing patterns and checking inputs.

use super::float::Float;
use super::{Aligned, Beta, ModernHopfield, MAX_ABS, MAX_SCORE};
use crate::error::{Error, Result};
use crate::spins::SpinMatrix;

impl<T: Float> ModernHopfield<T> {
    /// Appends `rows` keys of width `d` and, for hetero-association, their
    /// values (`(rows, d_v)` row-major). The first call fixes `d`, `d_v` and
    /// whether values are kept.
    ///
    /// # Errors
    /// `Shape` on a width or length mismatch, on values given to an
    /// auto-associative memory or missing from a hetero-associative one;
    /// `Value` on a non-finite or too large entry; `Memory` when the
    /// storage cannot grow.
    pub fn store(
        &mut self,
        keys: &[T],
        rows: usize,
        d: usize,
        values: Option<(&[T], usize)>,
    ) -> Result<()> {
        if d == 0 {
            return Err(Error::Shape(
                "patterns must have at least one column".into(),
            ));
        }
        if rows == 0 {
            return Err(Error::Shape(
                "patterns is empty: expected at least one row".into(),
            ));
        }
        if keys.len() != rows.saturating_mul(d) {
            return Err(Error::Shape(format!(
                "patterns: expected {rows} × {d} values, got {}",
                keys.len()
            )));
        }
        if self.rows > 0 {
            if d != self.d {
                return Err(Error::Shape(format!(
                    "patterns must have d = {} columns like the stored ones, got {d}",
                    self.d
                )));
            }
            match (&self.values, values) {
                (None, Some(_)) => {
                    return Err(Error::Shape(
                        "values given, but the stored patterns have none (auto-association)".into(),
                    ))
                }
                (Some(_), None) => {
                    return Err(Error::Shape(
                        "values missing: the stored patterns have values (hetero-association)"
                            .into(),
                    ))
                }
                _ => {}
            }
        }
        check_finite(keys, d, "patterns")?;
        if let Some((v, dv)) = values {
            if dv == 0 {
                return Err(Error::Shape("values must have at least one column".into()));
            }
            if self.rows > 0 && dv != self.dv {
                return Err(Error::Shape(format!(
                    "values must have d_v = {} columns like the stored ones, got {dv}",
                    self.dv
                )));
            }
            if v.len() != rows.saturating_mul(dv) {
                return Err(Error::Shape(format!(
                    "values must have one row per pattern: expected {rows} rows of {dv}, got {} values",
                    v.len()
                )));
            }
            check_finite(v, dv, "values")?;
        }
        let new_spins = if self.rows == 0 || self.spins.is_some() {
            spins_of(keys, rows, d)?
        } else {
            None
        };
        // Reserve everything first so that a failure leaves the memory as it was.
        reserve(&mut self.keys, keys.len(), "the stored patterns")?;
        if let Some((v, _)) = values {
            let mut stored = self.values.take().unwrap_or_default();
            let ok = reserve(&mut stored, v.len(), "the stored values");
            self.values = Some(stored);
            ok?;
        }
        self.keys.extend_from_slice(keys);
        if let (Some(vals), Some((v, _))) = (self.values.as_mut(), values) {
            vals.extend_from_slice(v);
        }
        for row in keys.chunks_exact(d) {
            self.max_norm_sq = self.max_norm_sq.max(norm_sq(row));
        }
        self.spins = match (self.spins.take(), new_spins) {
            (Some(mut old), Some(new)) => {
                old.append(&new)?;
                Some(old)
            }
            (None, Some(new)) if self.rows == 0 => Some(new),
            _ => None,
        };
        self.d = d;
        self.dv = values.map_or(d, |(_, dv)| dv);
        self.rows += rows;
        // New keys, new tiles: the screening codes are made again as needed.
        self.codes = super::codes::CodeCache::new(self.rows, super::TILE);
        Ok(())
    }

    pub(super) fn check_queries(
        &self,
        queries: &[T],
        d: usize,
        beta: Beta,
        what: &str,
    ) -> Result<usize> {
        if self.rows == 0 {
            return Err(Error::Value(
                "no patterns stored: call store(patterns) first".into(),
            ));
        }
        if d != self.d {
            return Err(Error::Shape(format!(
                "{what} must have d = {} columns, got {d}",
                self.d
            )));
        }
        if !queries.len().is_multiple_of(d) {
            return Err(Error::Shape(format!(
                "{what}: length {} is not a multiple of d = {d}",
                queries.len()
            )));
        }
        check_finite(queries, d, what)?;
        let qmax = queries.chunks_exact(d).map(norm_sq).fold(0.0, f64::max);
        let bound = beta.get() * (qmax * self.max_norm_sq).sqrt();
        if bound > MAX_SCORE {
            return Err(Error::Value(format!(
                "beta·‖pattern‖·‖{what}‖ reaches {bound:.3e}, beyond {} scores; \
                 scale the inputs or lower beta",
                T::NAME
            )));
        }
        Ok(queries.len() / d)
    }
}

/// `rows` rows of `d` bit-packed, when every value is ±1.
pub(super) fn spins_of<T: Float>(
    values: &[T],
    rows: usize,
    d: usize,
) -> Result<Option<SpinMatrix>> {
    if !values.iter().all(|&x| {
        let x: f64 = x.into();
        x == 1.0 || x == -1.0
    }) {
        return Ok(None);
    }
    let s: Vec<i8> = values.iter().map(|&x| Into::<f64>::into(x) as i8).collect();
    SpinMatrix::from_spins(&s, rows, d).map(Some)
}

fn reserve<T: Float>(v: &mut Aligned<T>, more: usize, what: &str) -> Result<()> {
    v.try_reserve(more).map_err(|_| {
        Error::Memory(format!(
            "{what} would need {} more bytes, more than can be allocated",
            std::mem::size_of::<T>() as u128 * more as u128
        ))
    })
}

/// `Σ x²` in float64.
pub(super) fn norm_sq<T: Into<f64> + Copy>(row: &[T]) -> f64 {
    row.iter()
        .map(|&x| {
            let x: f64 = x.into();
            x * x
        })
        .sum()
}

fn check_finite<T: Float>(values: &[T], d: usize, what: &str) -> Result<()> {
    if let Some(i) = values.iter().position(|&x| {
        let x: f64 = x.into();
        !(x.is_finite() && x.abs() <= MAX_ABS)
    }) {
        let x = values[i];
        let why = if Into::<f64>::into(x).is_finite() {
            "magnitude above 1e30"
        } else {
            "not finite"
        };
        return Err(Error::Value(format!(
            "{what} must be finite with magnitude at most 1e30; found {x} ({why}) at index ({}, {})",
            i / d,
            i % d
        )));
    }
    Ok(())
}
