//! Property tests of the bit-packing and the SIMD kernels: arbitrary shapes,
//! values and instruction-set levels against plain loops. Run by
//! `cargo test` (proptest, a few hundred cases each).

use proptest::prelude::*;

use crate::kernels::{dot4_i16, dot_i16, dot_i16_portable};
use crate::simd::{self, Level};
use crate::spins::{self, SpinMatrix};

const LEVELS: [Level; 4] = [Level::Portable, Level::Popcnt, Level::Avx2, Level::Avx512];

/// Runs `f` at every instruction-set level the CPU has (the cap is global;
/// results must not depend on it, so concurrent tests are unaffected).
fn at_every_level(mut f: impl FnMut(Level)) {
    let best = simd::detected();
    for level in LEVELS {
        f(simd::set_level(level));
    }
    simd::set_level(best);
}

fn spin_rows() -> impl Strategy<Value = (usize, usize, Vec<i8>)> {
    (0usize..5, 1usize..300).prop_flat_map(|(rows, n)| {
        (
            Just(rows),
            Just(n),
            prop::collection::vec(prop::sample::select(vec![-1i8, 1]), rows * n),
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn packing_round_trips_and_keeps_tails_zero((rows, n, values) in spin_rows()) {
        // Packing and unpacking are compiled per level: every level agrees.
        let mut packed = Vec::new();
        at_every_level(|_| {
            let m = SpinMatrix::from_spins(&values, rows, n).unwrap();
            packed.push((m.to_spins().unwrap(), m));
        });
        for (unpacked, m) in &packed {
            prop_assert_eq!(unpacked, &values);
            prop_assert_eq!(m, &packed[0].1);
        }
        let m = &packed[0].1;
        for r in 0..rows {
            let last = m.row(r)[m.words() - 1];
            if n % 64 != 0 {
                prop_assert_eq!(last >> (n % 64), 0, "tail bits of row {} are set", r);
            }
            for i in 0..n {
                prop_assert_eq!(spins::spin(m.row(r), i), values[r * n + i] as i32);
            }
        }
    }

    #[test]
    fn overlaps_and_flips_match_plain_loops(
        (rows, n, values) in spin_rows(),
        flips in prop::collection::vec(0usize..300, 0..10),
    ) {
        prop_assume!(rows >= 2);
        let mut m = SpinMatrix::from_spins(&values, rows, n).unwrap();
        let mut plain = values.clone();
        for &i in flips.iter().filter(|&&i| i < n) {
            spins::flip(m.row_mut(0), i);
            plain[i] = -plain[i];
        }
        let dot: i32 = (0..n).map(|i| plain[i] as i32 * plain[n + i] as i32).sum();
        let mut seen = Vec::new();
        at_every_level(|_| seen.push(spins::overlap(m.row(0), m.row(1), n)));
        prop_assert!(seen.iter().all(|&o| o == dot), "{:?} != {}", seen, dot);
        prop_assert_eq!(m.to_spins().unwrap()[..n].to_vec(), plain[..n].to_vec());
    }

    #[test]
    fn non_spin_values_are_errors_naming_the_first(
        (rows, n, mut values) in spin_rows(),
        at in any::<prop::sample::Index>(),
        bad in any::<i8>().prop_filter("not a spin", |v| *v != 1 && *v != -1),
    ) {
        prop_assume!(rows > 0);
        let k = at.index(values.len());
        values[k] = bad;
        let (r, i) = (k / n, k % n);
        let mut errors = Vec::new();
        at_every_level(|_| {
            errors.push(SpinMatrix::from_spins(&values, rows, n).unwrap_err().to_string())
        });
        for err in &errors {
            prop_assert!(err.contains(&bad.to_string()), "{}", err);
            prop_assert!(err.contains(&format!("({r}, {i})")), "{}", err);
        }
    }

    #[test]
    fn dot_kernels_equal_the_portable_loop_at_every_level(
        blocks in 0usize..8,
        extra in 0usize..40,
        seed in any::<u64>(),
    ) {
        // Lengths that are and are not multiples of the vector width;
        // entries of either sign and full 16-bit range (wrapping sums).
        let len = blocks * 32 + extra;
        let mut x = seed | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as i16
        };
        let b: Vec<i16> = (0..len).map(|_| next()).collect();
        let a: Vec<Vec<i16>> = (0..4).map(|_| (0..len).map(|_| next()).collect()).collect();
        let want: Vec<i32> = a.iter().map(|r| dot_i16_portable(r, &b)).collect();
        let mut ok = true;
        at_every_level(|_| {
            ok &= dot_i16(&a[0], &b) == want[0];
            ok &= dot4_i16([&a[0], &a[1], &a[2], &a[3]], &b).to_vec() == want;
        });
        prop_assert!(ok);
    }
}
