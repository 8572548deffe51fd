//! Every layer and activation's gradient against central finite differences
//! of an independent f64 reference implementation of the same network.
//!
//! Tolerance: |g_core - g_fd| <= 2e-6 + 2e-4 |g_fd| per element, where g_core
//! is the core's f32 gradient and g_fd the f64 central difference (h = 1e-6).
//! f32 rounding in the forward/backward pass is ~1e-7 relative per operation;
//! the finite difference itself is accurate to ~1e-9.

use rand_core::Rng;
use sooth_core::*;

struct Reference<'a> {
    widths: &'a [usize],
    activation: Activation,
    l2: f64,
}

impl Reference<'_> {
    fn loss(&self, p: &[f64], xs: &[Vec<f64>], ys: &[usize]) -> f64 {
        let layers = self.widths.len() - 1;
        let mut total = 0.0;
        for (x, &y) in xs.iter().zip(ys) {
            let mut a = x.clone();
            let mut off = 0;
            for l in 0..layers {
                let (rows, cols) = (self.widths[l + 1], self.widths[l]);
                let w = &p[off..off + rows * cols];
                let b = &p[off + rows * cols..off + rows * cols + rows];
                off += rows * cols + rows;
                let mut z: Vec<f64> = (0..rows)
                    .map(|o| b[o] + (0..cols).map(|i| w[o * cols + i] * a[i]).sum::<f64>())
                    .collect();
                if l + 1 < layers {
                    for v in &mut z {
                        *v = match self.activation {
                            Activation::Relu => v.max(0.0),
                            Activation::Tanh => v.tanh(),
                        };
                    }
                }
                a = z;
            }
            let m = a.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            let lse = m + a.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
            total += lse - a[y];
        }
        let mut decay = 0.0;
        let mut off = 0;
        for l in 0..layers {
            let (rows, cols) = (self.widths[l + 1], self.widths[l]);
            decay += p[off..off + rows * cols].iter().map(|w| w * w).sum::<f64>();
            off += rows * cols + rows;
        }
        total / xs.len() as f64 + 0.5 * self.l2 * decay
    }
}

fn uniform(rng: &mut impl Rng, lo: f32, hi: f32) -> f32 {
    lo + (hi - lo) * ((rng.next_u32() >> 8) as f32 / (1u32 << 24) as f32)
}

fn check(widths: &[usize], activation: Activation, l2: f32, seed: u64) {
    let shape = Shape::new(widths).unwrap();
    let mlp = Mlp::new(shape, activation).with_l2(l2).unwrap();
    let (inputs, classes) = (shape.inputs(), shape.outputs());
    let (mut rng, _) = seed_streams(seed);
    let samples = 13;
    let features: Vec<f32> = (0..samples * inputs)
        .map(|_| uniform(&mut rng, -1.0, 1.0))
        .collect();
    let labels: Vec<u16> = (0..samples).map(|i| (i % classes) as u16).collect();
    let data = SliceDataset::new(&features, &labels, inputs, classes).unwrap();
    let mut params = vec![0.0f32; shape.param_count()];
    mlp.init(&mut params, activation.default_init(), &mut rng)
        .unwrap();
    // Non-zero biases, so their gradients are exercised away from 0.
    for l in 0..shape.layers() {
        let layer = shape.layer(l);
        for b in &mut params[layer.biases..layer.biases + layer.rows] {
            *b = uniform(&mut rng, -0.3, 0.3);
        }
    }
    // 11 indices (a partial block after 8), with a repeat.
    let batch: Vec<u32> = vec![3, 0, 7, 12, 5, 5, 1, 9, 11, 2, 8];
    let mut grad = vec![0.0f32; params.len()];
    let mut work = vec![0.0f32; shape.workspace_len()];
    let loss = mlp
        .loss_grad(&params, &data, &batch, &mut grad, &mut work)
        .unwrap();

    let reference = Reference {
        widths,
        activation,
        l2: f64::from(l2),
    };
    let xs: Vec<Vec<f64>> = batch
        .iter()
        .map(|&i| {
            let i = i as usize;
            features[i * inputs..(i + 1) * inputs]
                .iter()
                .map(|&v| f64::from(v))
                .collect()
        })
        .collect();
    let ys: Vec<usize> = batch.iter().map(|&i| labels[i as usize] as usize).collect();
    let p64: Vec<f64> = params.iter().map(|&v| f64::from(v)).collect();
    let ref_loss = reference.loss(&p64, &xs, &ys);
    assert!(
        (loss - ref_loss).abs() <= 1e-6 * (1.0 + ref_loss.abs()),
        "loss {loss} vs reference {ref_loss}"
    );

    let h = 1e-6;
    let mut worst = 0.0f64;
    for i in 0..params.len() {
        let mut p = p64.clone();
        p[i] += h;
        let up = reference.loss(&p, &xs, &ys);
        p[i] -= 2.0 * h;
        let down = reference.loss(&p, &xs, &ys);
        let fd = (up - down) / (2.0 * h);
        let g = f64::from(grad[i]);
        let err = (g - fd).abs();
        worst = worst.max(err / (2e-6 + 2e-4 * fd.abs()));
        assert!(
            err <= 2e-6 + 2e-4 * fd.abs(),
            "{widths:?} {activation:?} l2={l2}: parameter {i}: core {g} vs finite difference {fd}"
        );
    }
    assert!(worst > 0.0, "the comparison must have measured something");

    // The loss-only pass gives the same bits as the loss of the gradient pass.
    let loss_only = mlp.loss(&params, &data, &batch, &mut work).unwrap();
    assert_eq!(loss_only.to_bits(), loss.to_bits());
}

#[test]
fn no_hidden_layer() {
    check(&[5, 3], Activation::Relu, 0.0, 1);
}

#[test]
fn one_hidden_relu() {
    check(&[6, 7, 4], Activation::Relu, 0.0, 2);
}

#[test]
fn one_hidden_tanh() {
    check(&[6, 7, 4], Activation::Tanh, 0.0, 3);
}

#[test]
fn two_hidden_relu_with_l2() {
    check(&[5, 9, 6, 3], Activation::Relu, 0.01, 4);
}

#[test]
fn two_hidden_tanh_with_l2() {
    check(&[5, 9, 6, 3], Activation::Tanh, 0.05, 5);
}

#[test]
fn three_hidden_tanh() {
    check(&[4, 5, 5, 5, 2], Activation::Tanh, 0.0, 6);
}

#[test]
fn evaluation_agrees_with_the_loss_over_all_samples() {
    let shape = Shape::new(&[3, 4, 3]).unwrap();
    let mlp = Mlp::new(shape, Activation::Relu);
    let features: Vec<f32> = (0..30).map(|i| (i as f32 * 0.37).sin()).collect();
    let labels: Vec<u16> = (0..10).map(|i| (i % 3) as u16).collect();
    let data = SliceDataset::new(&features, &labels, 3, 3).unwrap();
    let mut params = vec![0.0f32; shape.param_count()];
    let (mut rng, _) = seed_streams(9);
    mlp.init(&mut params, Init::HeUniform, &mut rng).unwrap();
    let mut work = vec![0.0f32; shape.workspace_len()];
    let all: Vec<u32> = (0..10).collect();
    let loss = mlp.loss(&params, &data, &all, &mut work).unwrap();
    let eval = mlp.evaluate(&params, &data, &mut work).unwrap();
    assert_eq!(eval.loss.to_bits(), loss.to_bits());
    assert_eq!(eval.total, 10);
    let mut correct = 0;
    for i in 0..10 {
        let x = &features[i * 3..i * 3 + 3];
        if mlp.predict(&params, x, &mut work).unwrap() == labels[i] as usize {
            correct += 1;
        }
    }
    assert_eq!(eval.correct, correct);
}
