//! The network's unit tests: the passes against a plain one-sample-at-a-time
//! implementation of the module's contract, shapes, the cross-entropy.

use super::evaluate::argmax;
use super::loss::cross_entropy;
use super::*;
extern crate std;
use crate::data::SliceDataset;
use crate::kernels::{axpy, dot};
use std::vec;
use std::vec::Vec;

/// [`cross_entropy`] of one sample (the loss as computed, in `f32`).
fn ce1(z: &mut [f32], label: usize, delta: bool) -> f32 {
    cross_entropy(z, z.len(), &[label], delta) as f32
}

/// The loss and gradient contract, written out one sample at a time:
/// every pre-activation is `dot(W_o, a) + b_o` ([`dot`]'s own order is
/// tested in `kernels`), every gradient element adds its per-sample terms
/// in batch order, skipping zero deltas, and every hidden delta adds the
/// rows of `W` in row order from `+0`, skipping zero deltas. Returns the
/// mean cross-entropy (without the L2 term, which `grad` includes).
fn reference_loss_grad(
    mlp: &Mlp,
    params: &[f32],
    x: &[f32],
    y: &[u16],
    batch: &[u32],
    grad: &mut [f32],
) -> f64 {
    let shape = mlp.shape();
    let widths = shape.widths();
    let layers = shape.layers();
    grad.fill(0.0);
    let mut total = 0.0f64;
    for &index in batch {
        let index = index as usize;
        let mut acts: Vec<Vec<f32>> = vec![x[index * widths[0]..][..widths[0]].to_vec()];
        for l in 0..layers {
            let layer = shape.layer(l);
            let a = &acts[l];
            let mut z: Vec<f32> = (0..layer.rows)
                .map(|o| {
                    let w = &params[layer.weights + o * layer.cols..][..layer.cols];
                    dot(w, a) + params[layer.biases + o]
                })
                .collect();
            if l + 1 < layers {
                for v in &mut z {
                    *v = match mlp.activation() {
                        Activation::Relu => {
                            if *v < 0.0 {
                                0.0
                            } else {
                                *v
                            }
                        }
                        Activation::Tanh => libm::tanhf(*v),
                    };
                }
            }
            acts.push(z);
        }
        let mut delta = acts[layers].clone();
        total += f64::from(ce1(&mut delta, usize::from(y[index]), true));
        for l in (0..layers).rev() {
            let layer = shape.layer(l);
            for o in 0..layer.rows {
                grad[layer.biases + o] += delta[o];
                if delta[o] != 0.0 {
                    let g = &mut grad[layer.weights + o * layer.cols..][..layer.cols];
                    axpy(g, delta[o], &acts[l]);
                }
            }
            if l == 0 {
                break;
            }
            let mut below = vec![0.0f32; layer.cols];
            for o in 0..layer.rows {
                if delta[o] != 0.0 {
                    let w = &params[layer.weights + o * layer.cols..][..layer.cols];
                    axpy(&mut below, delta[o], w);
                }
            }
            for (d, &a) in below.iter_mut().zip(&acts[l]) {
                *d = match mlp.activation() {
                    Activation::Relu => {
                        if a > 0.0 {
                            *d
                        } else {
                            0.0
                        }
                    }
                    Activation::Tanh => *d * (1.0 - a * a),
                };
            }
            delta = below;
        }
    }
    crate::kernels::scale(grad, 1.0 / batch.len() as f32);
    mlp.decay(params, Some(grad));
    total / batch.len() as f64
}

/// Same bits, or both NaN: Rust leaves the sign and payload of a NaN
/// result unspecified (LLVM may swap the operands of `+`, and x86 returns
/// the first NaN operand), so only NaN-ness is part of the contract.
fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
}

fn xorshift(state: &mut u32) -> f32 {
    *state ^= *state << 13;
    *state ^= *state >> 17;
    *state ^= *state << 5;
    (*state >> 8) as f32 / 16_777_216.0
}

/// `loss_grad`, `loss` and `evaluate` against [`reference_loss_grad`],
/// bit for bit, over shapes whose widths hit every kernel path (row
/// groups of 4, 2, 1; chunks and tails of 8 and 16), both activations,
/// with and without L2, batch sizes around the block size, and
/// parameters that make some activations infinite or NaN (where zero
/// terms must be skipped).
#[test]
fn passes_match_the_reference_bit_for_bit() {
    // [70, 66, 5] has rows wider than DENSE_MAX_WIDTH: gathered terms
    // with finite values.
    let shapes: [&[usize]; 7] = [
        &[64, 32, 10],
        &[70, 66, 5],
        &[13, 7, 3],
        &[5, 9, 11, 17, 2],
        &[33, 2],
        &[20, 37, 23, 6],
        &[1, 1, 2],
    ];
    let mut checked = 0;
    for (n, widths) in shapes.iter().enumerate() {
        let shape = Shape::new(widths).unwrap();
        let (inputs, classes) = (shape.inputs(), shape.outputs());
        let samples = 41;
        let mut state = 0x9e37_79b9 ^ n as u32;
        // Many exact zeros, as in pixel data.
        let x: Vec<f32> = (0..samples * inputs)
            .map(|_| {
                let u = xorshift(&mut state);
                if u < 0.3 { 0.0 } else { u - 0.4 }
            })
            .collect();
        let y: Vec<u16> = (0..samples)
            .map(|_| (xorshift(&mut state) * classes as f32) as u16 % classes as u16)
            .collect();
        let data = SliceDataset::new(&x, &y, inputs, classes).unwrap();
        for activation in [Activation::Relu, Activation::Tanh] {
            for l2 in [0.0f32, 1e-3] {
                for extreme in [None, Some(1e30f32), Some(f32::NAN)] {
                    let mlp = Mlp::new(shape, activation).with_l2(l2).unwrap();
                    let mut params = vec![0.0f32; shape.param_count()];
                    let (mut rng, _) = crate::train::seed_streams(n as u64);
                    mlp.init(&mut params, activation.default_init(), &mut rng)
                        .unwrap();
                    for (i, p) in params.iter_mut().enumerate() {
                        if i % 5 == 0 {
                            *p += 0.05 * (i % 7) as f32 - 0.1;
                        }
                    }
                    if let Some(v) = extreme {
                        // One large weight into the first layer's output 0
                        // and one into the last layer.
                        params[0] = v;
                        let last = shape.layer(shape.layers() - 1);
                        params[last.weights] = -v;
                    }
                    let mut work = vec![0.0f32; shape.workspace_len()];
                    let mut grad = vec![0.0f32; shape.param_count()];
                    let mut expected = vec![0.0f32; shape.param_count()];
                    for len in [1usize, 3, 7, 8, 9, 16, 17, 41] {
                        let batch: Vec<u32> = (0..len as u32)
                            .map(|i| (i * 7 + 3) % samples as u32)
                            .collect();
                        let loss = mlp
                            .loss_grad(&params, &data, &batch, &mut grad, &mut work)
                            .unwrap();
                        let want =
                            reference_loss_grad(&mlp, &params, &x, &y, &batch, &mut expected)
                                + mlp.decay(&params, None);
                        let context = std::format!(
                            "{widths:?} {activation:?} l2 {l2} {extreme:?} batch {len}"
                        );
                        assert!(same(loss, want), "loss {loss} != {want}, {context}");
                        for (i, (&g, &e)) in grad.iter().zip(&expected).enumerate() {
                            let (g, e) = (f64::from(g), f64::from(e));
                            assert!(same(g, e), "grad[{i}] {g} != {e}, {context}");
                        }
                        let loss_only = mlp.loss(&params, &data, &batch, &mut work).unwrap();
                        assert!(
                            same(loss_only, want),
                            "loss() {loss_only} != {want}, {context}"
                        );
                        checked += 1;
                    }
                    let all: Vec<u32> = (0..samples as u32).collect();
                    let eval = mlp.evaluate(&params, &data, &mut work).unwrap();
                    let want = reference_loss_grad(&mlp, &params, &x, &y, &all, &mut expected);
                    assert!(same(eval.loss, want), "evaluate {widths:?}");
                }
            }
        }
    }
    assert_eq!(checked, 7 * 2 * 2 * 3 * 8);
}

#[test]
fn shapes_are_validated() {
    assert_eq!(Shape::new(&[3]), Err(Error::InvalidShape));
    assert_eq!(Shape::new(&[3, 0, 2]), Err(Error::InvalidShape));
    assert_eq!(Shape::new(&[3, 1]), Err(Error::InvalidShape));
    assert_eq!(Shape::new(&[1; 9]), Err(Error::InvalidShape));
    // Sizes that would overflow are refused, not wrapped.
    assert_eq!(Shape::new(&[usize::MAX, 2]), Err(Error::InvalidShape));
    assert_eq!(Shape::new(&[1 << 40, 1 << 40, 2]), Err(Error::InvalidShape));
    assert_eq!(Shape::new(&[4, usize::MAX / 8]), Err(Error::InvalidShape));
    let s = Shape::new(&[784, 128, 64, 10]).unwrap();
    assert_eq!(
        s.param_count(),
        784 * 128 + 128 + 128 * 64 + 64 + 64 * 10 + 10
    );
    assert_eq!(
        s.layer(1),
        LayerLayout {
            rows: 64,
            cols: 128,
            weights: 784 * 128 + 128,
            biases: 784 * 128 + 128 + 128 * 64
        }
    );
    assert_eq!(s.workspace_len(), BLOCK * (784 + 2 * 128 + 2 * 64 + 10));
}

/// A block whose logits do not fit the exponentials' buffer (rows taken
/// one at a time, in pieces) gives each sample's loss and deltas as
/// computed alone; negligible, tied and huge logits included.
#[test]
fn cross_entropy_of_a_large_block_equals_one_sample_at_a_time() {
    for classes in [3usize, 10, 33, 300] {
        let count = LOSS_GROUP;
        let mut z: Vec<f32> = (0..count * classes)
            .map(|i| match i % 13 {
                0 => -60.0,
                1 => 7.5,
                _ => ((i * 37) % 101) as f32 * 0.37 - 20.0,
            })
            .collect();
        let labels: Vec<usize> = (0..count).map(|s| (s * 7) % classes).collect();
        let mut alone = z.clone();
        let expected: f64 = alone
            .chunks_exact_mut(classes)
            .zip(&labels)
            .map(|(row, &label)| f64::from(ce1(row, label, true)))
            .sum();
        let total = cross_entropy(&mut z, classes, &labels, true);
        assert_eq!(total.to_bits(), expected.to_bits(), "{classes} classes");
        for (i, (a, b)) in z.iter().zip(&alone).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{classes} classes, value {i}");
        }
    }
}

#[test]
fn cross_entropy_is_stable_for_large_logits() {
    let mut z = [1000.0f32, 0.0, -1000.0];
    assert_eq!(ce1(&mut z, 0, false), 0.0);
    let mut z = [1000.0f32, 0.0, -1000.0];
    assert_eq!(ce1(&mut z, 1, true), 1000.0);
    assert_eq!(z, [1.0, -1.0, 0.0]);
    let mut z = [f32::INFINITY, 0.0];
    assert!(ce1(&mut z, 1, false).is_nan());
    let mut z = [0.0, f32::NAN];
    assert!(ce1(&mut z, 0, false).is_nan());
}

#[test]
fn cross_entropy_of_uniform_logits_is_ln_classes() {
    let mut z = [0.5f32; 10];
    let l = ce1(&mut z, 3, false);
    assert!((l - libm::logf(10.0)).abs() < 1e-6);
}

#[test]
fn argmax_prefers_first_and_ignores_nan() {
    assert_eq!(argmax(&[1.0, 3.0, 3.0]), 1);
    assert_eq!(argmax(&[1.0, f32::NAN, 0.5]), 0);
}

/// `probabilities` against values computed by hand: a linear 2-3 network
/// with `W = [[1, 0], [0, 1], [0, 0]]`, `b = 0`, so the outputs are
/// `[x0, x1, 0]`.
#[test]
fn probabilities_are_the_softmax_of_the_outputs() {
    let mlp = Mlp::new(Shape::new(&[2, 3]).unwrap(), Activation::Relu);
    let params = [1.0f32, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0];
    let mut work = vec![0.0f32; mlp.shape().workspace_len()];
    let mut p = [0.0f32; 3];
    // softmax([1, 2, 0]) = [e^-1, 1, e^-2] / (1 + e^-1 + e^-2).
    let class = mlp
        .probabilities(&params, &[1.0, 2.0], &mut p, &mut work)
        .unwrap();
    assert_eq!(class, 1);
    let want = [0.244_728_47f32, 0.665_240_96, 0.090_030_57];
    for (j, (&got, &want)) in p.iter().zip(&want).enumerate() {
        assert!((got - want).abs() < 1e-6, "p[{j}] = {got}, want {want}");
    }
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    // Equal outputs: exactly 1 * (1/3) each; ties go to the first class.
    let class = mlp
        .probabilities(&params, &[0.0, 0.0], &mut p, &mut work)
        .unwrap();
    assert_eq!((class, p), (0, [1.0 / 3.0; 3]));
    // A huge output does not overflow: the others are negligible, exactly 0.
    let class = mlp
        .probabilities(&params, &[1000.0, -5.0], &mut p, &mut work)
        .unwrap();
    assert_eq!((class, p), (0, [1.0, 0.0, 0.0]));
    // Wrong buffer lengths are errors, and name the buffer.
    assert_eq!(
        mlp.probabilities(&params, &[1.0, 2.0], &mut [0.0; 2], &mut work),
        Err(Error::BufferLength {
            buffer: crate::error::Buffer::Probabilities,
            expected: 3,
            actual: 2
        })
    );
    assert_eq!(
        mlp.probabilities(&params, &[1.0], &mut p, &mut work),
        Err(Error::BufferLength {
            buffer: crate::error::Buffer::Features,
            expected: 2,
            actual: 1
        })
    );
    assert!(matches!(
        mlp.probabilities(&params[..8], &[1.0, 2.0], &mut p, &mut work),
        Err(Error::BufferLength { .. })
    ));
}

/// On a deeper network with random parameters, the class `probabilities`
/// returns is `predict`'s and the arg-max of the probabilities, and they
/// sum to 1.
#[test]
fn probabilities_agree_with_predict() {
    for activation in [Activation::Relu, Activation::Tanh] {
        let mlp = Mlp::new(Shape::new(&[5, 7, 4]).unwrap(), activation);
        let mut state = 0x2545_f491u32;
        let params: Vec<f32> = (0..mlp.shape().param_count())
            .map(|_| xorshift(&mut state) * 4.0 - 2.0)
            .collect();
        let mut work = vec![0.0f32; mlp.shape().workspace_len()];
        let mut p = [0.0f32; 4];
        for _ in 0..50 {
            let x: Vec<f32> = (0..5).map(|_| xorshift(&mut state) * 6.0 - 3.0).collect();
            let class = mlp.probabilities(&params, &x, &mut p, &mut work).unwrap();
            assert_eq!(class, mlp.predict(&params, &x, &mut work).unwrap());
            assert_eq!(class, argmax(&p));
            assert!(p.iter().all(|&v| (0.0..=1.0).contains(&v)));
            assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6, "{p:?}");
        }
    }
}
