//! The kernels' unit tests: each kernel against its contract (a plain
//! loop in the stated order), and the AVX versions against the portable
//! bodies, bit for bit.

extern crate std;

use super::elementwise::{NEGLIGIBLE, adam_update_portable, sqrt_add};
use super::exp::{
    SOFTMAX_ROWS, SOFTMAX_WIDTH, exp_moderate, expf_moderate_one, softmax_rows_portable,
};
use super::reduce::{LANES, affine, affine_many_portable, dot_many};
use super::terms::{
    Portable, add_outer_nonzero_portable, axpy_rows, axpy4, linear_combination,
    linear_combinations_portable,
};
use super::*;
use std::vec;
use std::vec::Vec;

fn sequential_lane_dot(a: &[f32], b: &[f32]) -> f32 {
    // The contract, written out the slow way.
    let n = a.len();
    let full = n - n % LANES;
    let mut lanes = [0.0f32; LANES];
    for i in 0..full {
        lanes[i % LANES] += a[i] * b[i];
    }
    let mut s = ((lanes[0] + lanes[4]) + (lanes[2] + lanes[6]))
        + ((lanes[1] + lanes[5]) + (lanes[3] + lanes[7]));
    for i in full..n {
        s += a[i] * b[i];
    }
    s
}

fn data(n: usize, seed: u32) -> [f32; 67] {
    let mut out = [0.0f32; 67];
    let mut x = seed.wrapping_mul(2654435761).wrapping_add(12345);
    for v in out.iter_mut().take(n) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        *v = (x >> 8) as f32 / (1u32 << 24) as f32 - 0.5;
    }
    out
}

/// [`exp_moderate`] (in slices of 13: the AVX kernel's vectors and its
/// tail) and [`expf_moderate_one`] against libm over every `step`-th `f32`
/// in `[-44, 0]`, and around the ends of the reduction's ranges.
fn check_exp(step: usize) {
    let mut values = std::vec::Vec::new();
    values.extend(
        (0x8000_0000u32..=(-44.0f32).to_bits())
            .step_by(step)
            .map(f32::from_bits),
    );
    for edge in [0x3900_0000u32, 0x3eb1_7218, 0x3f85_1592] {
        for bits in edge - 2..=edge + 2 {
            values.extend([f32::from_bits(bits), -f32::from_bits(bits)]);
        }
    }
    values.extend([0.0, -0.0, 1.0, 5.5, 80.0, -80.0, -86.9, f32::NAN, -f32::NAN]);
    for chunk in values.chunks(13) {
        let mut e = [0.0f32; 13];
        let e = &mut e[..chunk.len()];
        e.copy_from_slice(chunk);
        exp_moderate(e);
        for (&x, &e) in chunk.iter().zip(e.iter()) {
            let expected = libm::expf(x).to_bits();
            assert_eq!(e.to_bits(), expected, "x = {x:e} ({:#010x})", x.to_bits());
            assert_eq!(expf_moderate_one(x).to_bits(), expected, "one, x = {x:e}");
        }
    }
}

#[test]
fn exp_moderate_equals_libm_bit_for_bit() {
    check_exp(4099);
}

/// Every `f32` in `[-44, 0]` (1.1e9 values, about a minute in release):
/// `cargo test --release -p sooth-core --lib -- --ignored exp_moderate`.
#[test]
#[ignore]
fn exp_moderate_equals_libm_exhaustively() {
    check_exp(1);
}

/// The portable kernels and the dispatched ones (AVX where the CPU has
/// it; the other tests check those against their contracts) agree bit
/// for bit, over shapes that exercise every block and tail.
#[test]
fn portable_kernels_equal_the_dispatched_ones() {
    // Each wider kernel set this CPU has, against the portable kernels
    // (the other tests then see the best set again: all give the same
    // bits, so a test running meanwhile is not affected).
    for set in [KernelSet::Avx512, KernelSet::Avx] {
        if use_kernels(set) == set {
            dispatched_equal_portable();
        }
    }
    use_kernels(KernelSet::Avx512);
}

fn dispatched_equal_portable() {
    let values = |n: usize, seed: u32| -> std::vec::Vec<f32> {
        (0..n)
            .map(|i| {
                let v = data(67, seed + (i / 67) as u32)[i % 67];
                // Every fifth value a zero (dead units' coefficients).
                if i % 5 == 2 { 0.0 } else { v }
            })
            .collect()
    };
    for (rows, cols, count) in [
        (32, 64, 8),
        (10, 32, 8),
        (11, 67, 5),
        (3, 9, 1),
        (13, 35, 11),
        // Vectors in fours and pairs and a single one, rows past a block
        // of 64 (the gradient's masks), a chunk tail.
        (70, 20, 7),
        (5, 130, 19),
        // More samples than a group of the AVX gradient kernel.
        (9, 72, 70),
    ] {
        let (w, b, x) = (
            values(rows * cols, 1),
            values(rows, 20),
            values(count * cols, 30),
        );
        let mut fast = std::vec![0.0f32; count * rows];
        let mut portable = fast.clone();
        affine_many(&w, &b, &x, cols, &mut fast);
        affine_many_portable(&w, &b, &x, cols, &mut portable);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<std::vec::Vec<_>>();
        assert_eq!(
            bits(&fast),
            bits(&portable),
            "affine {rows}x{cols}, {count}"
        );

        let d = values(count * rows, 40);
        let mut fast = values(rows * cols, 50);
        let mut portable = fast.clone();
        add_outer_nonzero(&mut fast, &d, &x, cols);
        add_outer_nonzero_portable::<false, _>(Portable, &mut portable, &d, &x, cols);
        assert_eq!(bits(&fast), bits(&portable), "outer {rows}x{cols}, {count}");

        let mut fast = std::vec![1.0f32; count * cols];
        let mut portable = fast.clone();
        linear_combinations(&mut fast, &d, &w, rows);
        linear_combinations_portable(Portable, &mut portable, &d, &w, rows);
        assert_eq!(
            bits(&fast),
            bits(&portable),
            "combinations {rows}x{cols}, {count}"
        );
    }
}

#[test]
fn sqrt_add_equals_libm_bit_for_bit() {
    let mut x: std::vec::Vec<f32> = (0..1000u32)
        .map(|i| f32::from_bits(i.wrapping_mul(0x9e37_79b9) >> 1))
        .collect();
    x.extend([
        0.0,
        -0.0,
        1.0,
        4.0,
        2.0,
        f32::MIN_POSITIVE,
        1e-40,
        f32::INFINITY,
        -1.0,
        f32::NAN,
    ]);
    for a in [0.0f32, 1e-8, 3.5] {
        let mut y = std::vec![0.0f32; x.len()];
        sqrt_add(&mut y, &x, a);
        for (&xi, &yi) in x.iter().zip(&y) {
            let expected = libm::sqrtf(xi) + a;
            assert!(
                yi.to_bits() == expected.to_bits() || (yi.is_nan() && expected.is_nan()),
                "sqrt({xi:e}) + {a}: {yi:e} vs {expected:e}"
            );
        }
    }
}

#[test]
fn dot_follows_its_documented_order() {
    for n in 0..67 {
        let a = data(n, 1);
        let b = data(n, 2);
        assert_eq!(
            dot(&a[..n], &b[..n]).to_bits(),
            sequential_lane_dot(&a[..n], &b[..n]).to_bits(),
            "n = {n}"
        );
    }
}

#[test]
fn dot_many_equals_dot_bit_for_bit() {
    let w = data(61, 3);
    let mut xs = [0.0f32; 7 * 67];
    for s in 0..7 {
        xs[s * 67..(s + 1) * 67].copy_from_slice(&data(67, 10 + s as u32));
    }
    for n in [0usize, 1, 7, 8, 9, 31, 61] {
        let mut out = [0.0f32; 7];
        dot_many(&w[..n], &xs, 67, &mut out);
        for s in 0..7 {
            assert_eq!(out[s].to_bits(), dot(&w[..n], &xs[s * 67..]).to_bits());
        }
    }
}

#[test]
fn affine_equals_dot_plus_bias_bit_for_bit() {
    // Every row count exercises the 4-, 2- and 1-row paths; every column
    // count the chunk loop and the tail.
    let mut w = [0.0f32; 11 * 67];
    for r in 0..11 {
        w[r * 67..(r + 1) * 67].copy_from_slice(&data(67, 30 + r as u32));
    }
    let b = data(11, 4);
    let x = data(67, 5);
    for cols in [0usize, 1, 7, 8, 9, 16, 31, 64, 67] {
        for rows in 0..=11 {
            let mut out = [0.0f32; 11];
            affine(&w, &x[..cols], &b, &mut out[..rows]);
            for o in 0..rows {
                let expected = dot(&w[o * cols..(o + 1) * cols], &x[..cols]) + b[o];
                assert_eq!(
                    out[o].to_bits(),
                    expected.to_bits(),
                    "{rows}x{cols} row {o}"
                );
            }
        }
    }
}

#[test]
fn axpy_n_equals_axpys_in_order_bit_for_bit() {
    fn check<const N: usize>(n: usize) {
        let xs: [[f32; 67]; N] = core::array::from_fn(|j| data(67, 40 + j as u32));
        let a: [f32; N] = core::array::from_fn(|j| (j as f32 - 2.5) * 0.37);
        let mut y1 = data(n, 6);
        let mut y2 = y1;
        for j in 0..N {
            axpy(&mut y1[..n], a[j], &xs[j]);
        }
        axpy_n(&mut y2[..n], a, core::array::from_fn(|j| &xs[j][..]));
        for i in 0..n {
            assert_eq!(
                y1[i].to_bits(),
                y2[i].to_bits(),
                "N = {N}, n = {n}, i = {i}"
            );
        }
    }
    for n in [0usize, 1, 3, 4, 8, 17, 61, 67] {
        check::<1>(n);
        check::<2>(n);
        check::<3>(n);
        check::<5>(n);
        check::<8>(n);
    }
}

#[test]
fn affine_many_equals_affine_per_vector() {
    let mut w = [0.0f32; 7 * 19];
    for r in 0..7 {
        w[r * 19..(r + 1) * 19].copy_from_slice(&data(19, 50 + r as u32)[..19]);
    }
    let b = data(7, 8);
    let mut x = [0.0f32; 5 * 19];
    for s in 0..5 {
        x[s * 19..(s + 1) * 19].copy_from_slice(&data(19, 60 + s as u32)[..19]);
    }
    let mut out = [0.0f32; 5 * 7];
    affine_many(&w, &b[..7], &x, 19, &mut out);
    for s in 0..5 {
        let mut one = [0.0f32; 7];
        affine(&w, &x[s * 19..(s + 1) * 19], &b, &mut one);
        for o in 0..7 {
            assert_eq!(out[s * 7 + o].to_bits(), one[o].to_bits(), "s {s} o {o}");
        }
    }
}

#[test]
fn rows_combinations_equal_axpys_in_order() {
    // 11 terms: a pass of 8, of 2 and of 1; 37 columns: two tiles and a tail.
    let mut x = [0.0f32; 11 * 37];
    for j in 0..11 {
        x[j * 37..(j + 1) * 37].copy_from_slice(&data(37, 70 + j as u32)[..37]);
    }
    let a = data(11, 9);
    for terms in [0usize, 1, 2, 3, 8, 11] {
        let mut expected = data(37, 10);
        let mut y = expected;
        for j in 0..terms {
            axpy(&mut expected[..37], a[j], &x[j * 37..]);
        }
        axpy_rows(&mut y[..37], &a[..terms], &x);
        let mut z = data(37, 11);
        linear_combination(&mut z[..37], &a[..terms], &x);
        let mut zero = [0.0f32; 37];
        for j in 0..terms {
            axpy(&mut zero, a[j], &x[j * 37..]);
        }
        for i in 0..37 {
            assert_eq!(
                y[i].to_bits(),
                expected[i].to_bits(),
                "{terms} terms, i {i}"
            );
            assert_eq!(z[i].to_bits(), zero[i].to_bits(), "{terms} terms, i {i}");
        }
    }
}

#[test]
fn linear_combinations_equal_one_per_vector() {
    // 3 vectors of 37 values, 11 terms each.
    let mut x = [0.0f32; 11 * 37];
    for j in 0..11 {
        x[j * 37..(j + 1) * 37].copy_from_slice(&data(37, 90 + j as u32)[..37]);
    }
    let a = data(33, 12);
    let mut y = [1.0f32; 3 * 37];
    linear_combinations(&mut y, &a[..33], &x, 11);
    for s in 0..3 {
        let mut one = [2.0f32; 37];
        linear_combination(&mut one, &a[s * 11..(s + 1) * 11], &x);
        for i in 0..37 {
            assert_eq!(y[s * 37 + i].to_bits(), one[i].to_bits(), "s {s} i {i}");
        }
    }
}

#[test]
fn add_outer_nonzero_equals_axpys_of_nonzero_terms() {
    // 40 samples (groups of 8 or 32 and a remainder), 13 rows (blocks of
    // 8 and a remainder), 67 columns (64 in registers and a tail of 3);
    // every third coefficient +0 or -0 (both skipped), and one sample
    // holding an infinity whose zero coefficients must keep it out.
    let (samples, rows, cols) = (40, 13, 67);
    let mut x = [0.0f32; 40 * 67];
    for s in 0..samples {
        x[s * cols..(s + 1) * cols].copy_from_slice(&data(cols, 80 + s as u32)[..cols]);
    }
    x[4 * cols + 6] = f32::INFINITY;
    let mut d = [0.0f32; 40 * 13];
    for (i, v) in d.iter_mut().enumerate() {
        *v = if i % 6 == 0 || i / rows == 4 {
            0.0
        } else if i % 6 == 3 {
            -0.0
        } else {
            (i as f32 - 60.0) * 0.013
        };
    }
    let mut g = [0.0f32; 13 * 67];
    for (i, v) in g.iter_mut().enumerate() {
        *v = (i % 17) as f32 * 0.1 - 0.8;
    }
    let mut expected = g;
    for s in 0..samples {
        for o in 0..rows {
            let c = d[s * rows + o];
            if c != 0.0 {
                axpy(&mut expected[o * cols..(o + 1) * cols], c, &x[s * cols..]);
            }
        }
    }
    add_outer_nonzero(&mut g, &d, &x, cols);
    for i in 0..rows * cols {
        assert!(g[i].is_finite(), "i {i}");
        assert_eq!(g[i].to_bits(), expected[i].to_bits(), "i {i}");
    }
}

#[test]
fn axpy4_equals_four_axpys_bit_for_bit() {
    for n in [0usize, 3, 8, 17, 61] {
        let xs: [[f32; 67]; 4] = core::array::from_fn(|j| data(67, 20 + j as u32));
        let a = [0.3f32, -1.7, 2.5e-3, 11.0];
        let mut y1 = data(n, 5);
        let mut y2 = y1;
        for j in 0..4 {
            axpy(&mut y1[..n], a[j], &xs[j]);
        }
        axpy4(&mut y2[..n], a, [&xs[0], &xs[1], &xs[2], &xs[3]]);
        for i in 0..n {
            assert_eq!(y1[i].to_bits(), y2[i].to_bits());
        }
    }
}

#[test]
fn negligible_values_flush_to_zero() {
    assert_eq!(flush_negligible(1e-31), 0.0);
    assert_eq!(flush_negligible(-1e-31), 0.0);
    assert_eq!(flush_negligible(1e-29), 1e-29);
    assert_eq!(flush_negligible(-3.5), -3.5);
    assert!(flush_negligible(f32::NAN).is_nan());
    assert!(NEGLIGIBLE.is_normal() && NEGLIGIBLE == 2f32.powi(-100));
}

#[test]
fn dot_of_known_vectors() {
    let a: [f32; 10] = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
    assert_eq!(dot(&a, &a), 385.0);
    assert_eq!(sum_squares(&a[..3]), 14.0);
}

#[test]
fn finiteness_and_norms() {
    let mut a = [1.0f32, -3.0, 2.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 7.0];
    assert!(all_finite(&a));
    assert_eq!(norm_inf(&a), 7.0);
    a[9] = f32::INFINITY;
    assert!(!all_finite(&a));
    a[9] = 0.0;
    a[2] = f32::NAN;
    assert!(!all_finite(&a));
    assert!(norm_inf(&a).is_nan());
    a[2] = f32::NEG_INFINITY;
    assert!(!all_finite(&a));
    assert_eq!(norm_inf(&a), f32::INFINITY);
    // A NaN wins wherever it is, and whatever its sign and payload.
    a[0] = -f32::NAN;
    assert!(norm_inf(&a).is_nan());
    assert_eq!(norm_inf(&[]), 0.0);
    assert_eq!(norm_inf(&[-0.0, -1.5e-45]).to_bits(), 1.5e-45f32.to_bits());
    assert_eq!(norm_inf(&[-0.0; 20]).to_bits(), 0);
    // The lanes and the tail (20 = 2 x 8 + 4), against the order of the
    // magnitudes' bits (NaNs above infinity), with each special value in
    // each position.
    let reference = |a: &[f32]| {
        let m = a
            .iter()
            .map(|x| x.to_bits() & 0x7fff_ffff)
            .max()
            .unwrap_or(0);
        if m > 0x7f80_0000 {
            f32::NAN
        } else {
            f32::from_bits(m)
        }
    };
    let base = data(20, 9);
    for special in [
        f32::NAN,
        -f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -1e30,
        3e-42,
    ] {
        for at in 0..20 {
            let mut a = base;
            a[at] = special;
            a[(at + 7) % 20] = f32::INFINITY * (at % 3) as f32; // inf or NaN, now and then
            let (got, want) = (norm_inf(&a[..20]), reference(&a[..20]));
            assert!(got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()));
        }
    }
}

#[test]
fn elementwise_kernels() {
    let mut y = [1.0f32, 2.0, 3.0];
    axpy(&mut y, 2.0, &[1.0, 1.0, -1.0]);
    assert_eq!(y, [3.0, 4.0, 1.0]);
    scale(&mut y, 0.5);
    assert_eq!(y, [1.5, 2.0, 0.5]);
    let mut z = [0.0f32; 3];
    along(&mut z, &y, -2.0, &[1.0, 0.0, 1.0]);
    assert_eq!(z, [-0.5, 2.0, -1.5]);
    sub(&mut z, &[1.0, 1.0, 1.0], &y);
    assert_eq!(z, [-0.5, -1.0, 0.5]);
    negate(&mut y, &[1.0, -2.0, 0.0]);
    assert_eq!(y, [-1.0, 2.0, -0.0]);
}

/// The SIMD softmax kernel gives the portable rows' bits (maxima,
/// exponentials, normalised or not, and sums) with NaN, infinities,
/// signed zeros, ties, negligible and huge logits, on every row count
/// and width it takes; beyond them it declines and changes nothing.
#[test]
fn softmax_kernel_equals_the_scalar_rows_bit_for_bit() {
    let specials = [
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
        -60.0,
        7.5,
        7.5,
        1e30,
        -0.0,
        0.0,
        -1e30,
    ];
    // Any NaN matches any NaN: Rust leaves NaN payloads unspecified
    // (LLVM may swap the operands of a product of two NaNs).
    let bits = |v: &[f32]| {
        v.iter()
            .map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() })
            .collect::<Vec<_>>()
    };
    let mut taken = 0;
    for width in 1..=SOFTMAX_WIDTH + 1 {
        for count in 1..=SOFTMAX_ROWS + 1 {
            for (normalize, variant) in [(false, 0), (true, 0), (false, 1), (true, 2), (true, 3)] {
                let z: Vec<f32> = (0..count * width)
                    .map(|i| {
                        let h = (i * 2_654_435_761 + variant * 97) % 1000;
                        if variant > 0 && h < 60 {
                            specials[h % specials.len()]
                        } else {
                            h as f32 * 0.093 - 40.0
                        }
                    })
                    .collect();
                let (mut a, mut b) = (z.clone(), z.clone());
                let (mut ma, mut sa) = (vec![0.0f32; count], vec![0.0f32; count]);
                let (mut mb, mut sb) = (vec![0.0f32; count], vec![0.0f32; count]);
                let floor = -44.0;
                if arch::softmax_rows(&mut a, width, &mut ma, &mut sa, floor, normalize).is_none() {
                    assert_eq!(bits(&a), bits(&z), "declined, yet changed z");
                    continue;
                }
                taken += 1;
                softmax_rows_portable(&mut b, width, &mut mb, &mut sb, floor, normalize);
                let case = (width, count, normalize, variant);
                assert_eq!(bits(&a), bits(&b), "values {case:?}");
                assert_eq!(bits(&ma), bits(&mb), "maxima {case:?}");
                assert_eq!(bits(&sa), bits(&sb), "sums {case:?}");
            }
        }
    }
    let expected = if kernels_in_use() == KernelSet::Portable {
        0
    } else {
        SOFTMAX_WIDTH * SOFTMAX_ROWS * 5
    };
    assert_eq!(taken, expected);
}

/// The one-pass update (where a SIMD kernel has it) gives the three
/// passes' bits in every output, and the same non-finite flag, with
/// moments at the flush threshold, signed zeros, a gradient whose
/// square overflows, NaN and infinities, on lengths with and without
/// a tail. Any NaN matches any NaN (Rust leaves payloads unspecified).
#[test]
fn one_pass_update_equals_the_passes_bit_for_bit() {
    let specials = [
        0.0,
        -0.0,
        NEGLIGIBLE,
        -0.5 * NEGLIGIBLE,
        3.0 * NEGLIGIBLE,
        1e30,
        -2e19,
        f32::MAX,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let bits = |v: &[f32]| -> Vec<u32> {
        v.iter()
            .map(|x| if x.is_nan() { u32::MAX } else { x.to_bits() })
            .collect()
    };
    let mut state = 0x9e37_79b9u32;
    let mut next = |special: bool| -> f32 {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        if special && state.is_multiple_of(5) {
            specials[(state >> 8) as usize % specials.len()]
        } else {
            (state >> 8) as f32 / (1u32 << 24) as f32 * 4.0 - 2.0
        }
    };
    let (mut fused_runs, mut flagged) = (0, 0);
    for n in [1usize, 7, 8, 9, 23, 64, 67] {
        for with_specials in [false, true] {
            // Each side's gradient, moments and last good point.
            let state = || [vec![0.0f32; n], vec![0.0; n], vec![0.0; n], vec![0.0; n]];
            let (mut a, mut b) = (state(), state());
            let mut x = vec![0.0f32; n];
            for (i, xi) in x.iter_mut().enumerate() {
                let (g, m, v) = (
                    next(with_specials),
                    next(with_specials),
                    next(with_specials).abs(),
                );
                (a[0][i], a[1][i], a[2][i]) = (g, m, v);
                (b[0][i], b[1][i], b[2][i]) = (g, m, v);
                *xi = next(with_specials);
            }
            if with_specials {
                // Moments that decay below the flush threshold.
                let edge = [
                    (0.0, 0.5 * NEGLIGIBLE, NEGLIGIBLE),
                    (-0.0, -NEGLIGIBLE, 0.5 * NEGLIGIBLE),
                    (NEGLIGIBLE, NEGLIGIBLE, 1.05 * NEGLIGIBLE),
                ];
                for (i, &(g, m, v)) in edge.iter().enumerate().take(n) {
                    (a[0][i], a[1][i], a[2][i]) = (g, m, v);
                    (b[0][i], b[1][i], b[2][i]) = (g, m, v);
                }
            }
            let (mut xa, mut xb) = (x.clone(), x);
            let (b1, b2, eps_hat, step) = (0.9, 0.999, 3e-9, 0.03);
            let [ga, ma, va, la] = &mut a;
            let fused = arch::adam_update(AdamUpdate {
                x: &mut xa,
                last_good: la,
                m: ma,
                v: va,
                grad: ga,
                b1,
                b2,
                eps_hat,
                step,
            });
            let Ok(flag_a) = fused else {
                assert_eq!(kernels_in_use(), KernelSet::Portable);
                return;
            };
            fused_runs += 1;
            let [gb, mb, vb, lb] = &mut b;
            let flag_b = adam_update_portable(AdamUpdate {
                x: &mut xb,
                last_good: lb,
                m: mb,
                v: vb,
                grad: gb,
                b1,
                b2,
                eps_hat,
                step,
            });
            assert_eq!(flag_a != 0, flag_b != 0, "flag, n {n}");
            flagged += usize::from(flag_a != 0);
            assert_eq!(bits(&xa), bits(&xb), "x, n {n}");
            assert_eq!(bits(&a[3]), bits(&b[3]), "last good, n {n}");
            assert_eq!(bits(&a[1]), bits(&b[1]), "m, n {n}");
            assert_eq!(bits(&a[2]), bits(&b[2]), "v, n {n}");
        }
    }
    assert_eq!(fused_runs, 14);
    // Some cases with specials flag a non-finite step, none without.
    assert!((1..=7).contains(&flagged), "{flagged} flagged");
}
