//! A safe, single-threaded float64 matrix product for the continuous-time
//! models (`matrixmultiply`'s packed, run-time-dispatched kernels).
//!
//! One element of the product is summed in the same order whatever the
//! number of rows of `a` (the kernel blocks `k` in fixed-size panels and
//! accumulates each panel in one register tile), so a row's result does not
//! depend on which other rows share its call: the callers split batches
//! over threads and keep results independent of the split.

/// A row-major matrix view: `rows × cols` values `data`, row `r` starting
/// at `r * stride`.
#[derive(Debug, Clone, Copy)]
pub struct Matrix<'a> {
    /// The values.
    pub data: &'a [f64],
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
}

/// Whether `b` is used as given or transposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `b` as given (`k × n`).
    Plain,
    /// `bᵀ` (`b` is `n × k`).
    Transposed,
}

/// `c ← α·a·op(b) + β·c`, `a` `m × k`, `op(b)` `k × n`, `c` `m × n`, all
/// row-major and contiguous. With `β = 0`, `c` is overwritten (NaN in `c`
/// does not propagate).
///
/// # Panics
/// When the slices are shorter than the shapes say (a bug of the caller,
/// never of user input: callers size them from the model).
pub fn gemm(alpha: f64, a: Matrix<'_>, b: Matrix<'_>, op: Op, beta: f64, c: &mut [f64]) {
    let (m, k) = (a.rows, a.cols);
    let (kb, n, rsb, csb) = match op {
        Op::Plain => (b.rows, b.cols, b.cols as isize, 1),
        Op::Transposed => (b.cols, b.rows, 1, b.cols as isize),
    };
    assert_eq!(k, kb, "inner dimensions differ");
    assert!(a.data.len() >= m * k && b.data.len() >= k * n && c.len() >= m * n);
    if m == 0 || n == 0 {
        return;
    }
    if beta == 0.0 {
        // matrixmultiply reads c when β = 0 only to scale it by zero; make
        // that well defined for uninitialised (NaN) scratch.
        c[..m * n].fill(0.0);
    }
    // SAFETY: the assertions above guarantee that every index the kernel
    // reads (`a`: m·k, `b`: k·n, strides as given) and writes (`c`: m·n,
    // row-major) lies inside the slices; `c` does not alias `a` or `b`
    // (it is a distinct `&mut`).
    unsafe {
        matrixmultiply::dgemm(
            m,
            k,
            n,
            alpha,
            a.data.as_ptr(),
            k as isize,
            1,
            b.data.as_ptr(),
            rsb,
            csb,
            beta,
            c.as_mut_ptr(),
            n as isize,
            1,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                c[i * n + j] = (0..k).map(|l| a[i * k + l] * b[l * n + j]).sum();
            }
        }
        c
    }

    fn values(len: usize, seed: u64) -> Vec<f64> {
        (0..len)
            .map(|i| (((i as u64 + 1) * 2654435761 + seed) % 1000) as f64 / 500.0 - 1.0)
            .collect()
    }

    #[test]
    fn products_match_the_naive_loop() {
        for &(m, k, n) in &[(1, 1, 1), (3, 5, 7), (17, 300, 9), (64, 65, 63)] {
            let a = values(m * k, 1);
            let b = values(k * n, 2);
            let want = naive(&a, &b, m, k, n);
            let mut c = vec![f64::NAN; m * n];
            let (am, bm) = (
                Matrix {
                    data: &a,
                    rows: m,
                    cols: k,
                },
                Matrix {
                    data: &b,
                    rows: k,
                    cols: n,
                },
            );
            gemm(1.0, am, bm, Op::Plain, 0.0, &mut c);
            for (x, y) in c.iter().zip(&want) {
                assert!((x - y).abs() < 1e-9, "{m}x{k}x{n}: {x} vs {y}");
            }
            // bᵀ stored as n × k.
            let mut bt = vec![0.0; k * n];
            for l in 0..k {
                for j in 0..n {
                    bt[j * k + l] = b[l * n + j];
                }
            }
            let btm = Matrix {
                data: &bt,
                rows: n,
                cols: k,
            };
            let mut c2 = vec![f64::NAN; m * n];
            gemm(1.0, am, btm, Op::Transposed, 0.0, &mut c2);
            for (x, y) in c2.iter().zip(&want) {
                assert!((x - y).abs() < 1e-9);
            }
        }
    }

    #[test]
    fn a_row_does_not_depend_on_the_other_rows() {
        let (m, k, n) = (37, 700, 29);
        let a = values(m * k, 3);
        let b = values(k * n, 4);
        let bm = Matrix {
            data: &b,
            rows: k,
            cols: n,
        };
        let mut whole = vec![0.0; m * n];
        gemm(
            1.0,
            Matrix {
                data: &a,
                rows: m,
                cols: k,
            },
            bm,
            Op::Plain,
            0.0,
            &mut whole,
        );
        for r in 0..m {
            let mut one = vec![0.0; n];
            let row = Matrix {
                data: &a[r * k..(r + 1) * k],
                rows: 1,
                cols: k,
            };
            gemm(1.0, row, bm, Op::Plain, 0.0, &mut one);
            assert_eq!(one, whole[r * n..(r + 1) * n], "row {r}");
        }
    }
}
