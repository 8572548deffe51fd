//! Loss and gradient of the 64-32-10 digits network, the inner loop of every
//! training run, and of a 784-128-64-10 network on synthetic MNIST-sized data.
//! Throughput is in samples; for FLOP/s multiply by the nominal (dense) flops
//! per sample, 2 per multiply-add: 64-32-10 10 112 (forward 4 736, weight
//! gradients 4 736, hidden delta 640); 784-128-64-10 454 400 (forward 218 368,
//! weight gradients 218 368, hidden deltas 17 664). ReLU-dead units make part
//! of the gradient work skippable, so the flops actually executed are fewer.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sooth_core::simd::{KernelSet, use_kernels};
use sooth_core::*;
use sooth_tests::digits_train;
use std::hint::black_box;

/// Benches `loss_grad` of a ReLU network of `widths` on `data` for each batch
/// size, with a spread-out batch, as a shuffled epoch would give.
fn bench_shape<D: Dataset>(c: &mut Criterion, widths: &[usize], data: &D, batches: &[usize]) {
    let shape = Shape::new(widths).unwrap();
    let mlp = Mlp::new(shape, Activation::Relu);
    let mut params = vec![0.0f32; shape.param_count()];
    let mut grad = vec![0.0f32; shape.param_count()];
    let mut work = vec![0.0f32; shape.workspace_len()];
    let (mut rng, _) = seed_streams(1);
    mlp.init(&mut params, Init::HeUniform, &mut rng).unwrap();
    let name = widths
        .iter()
        .map(|w| w.to_string())
        .collect::<Vec<_>>()
        .join("-");
    let mut group = c.benchmark_group(format!("loss_grad/{name}"));
    let n = data.len() as u32;
    // The kernels picked at run time (AVX-512 or AVX where the CPU has
    // them), AVX alone, then the portable ones (SSE2 on x86_64): the same
    // bits, for the timing.
    for (kernels, set) in [
        ("batch", KernelSet::Avx512),
        ("avx/batch", KernelSet::Avx),
        ("portable/batch", KernelSet::Portable),
    ] {
        if use_kernels(set) != set {
            continue;
        }
        for &batch in batches {
            let indices: Vec<u32> = (0..batch as u32).map(|i| (i * 997) % n).collect();
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_with_input(BenchmarkId::new(kernels, batch), &indices, |b, idx| {
                b.iter(|| {
                    mlp.loss_grad(black_box(&params), data, idx, &mut grad, &mut work)
                        .unwrap()
                })
            });
        }
    }
    use_kernels(KernelSet::Avx512);
    group.finish();
}

fn loss_grad(c: &mut Criterion) {
    let (x, y) = digits_train();
    let digits = SliceDataset::new(&x, &y, 64, 10).unwrap();
    bench_shape(c, &[64, 32, 10], &digits, &[32, 1347]);

    // MNIST-sized rows: a third exact zeros (like background pixels), the
    // rest uniform in [0, 1), from a fixed xorshift stream; 10 classes.
    let (samples, width) = (1024, 784);
    let mut state = 0x2545_f491u32;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let x: Vec<f32> = (0..samples * width)
        .map(|_| {
            let v = next();
            if v % 3 == 0 {
                0.0
            } else {
                (v >> 8) as f32 / 16_777_216.0
            }
        })
        .collect();
    let y: Vec<u16> = (0..samples).map(|_| (next() % 10) as u16).collect();
    let mnist_like = SliceDataset::new(&x, &y, width, 10).unwrap();
    bench_shape(c, &[784, 128, 64, 10], &mnist_like, &[32, 1024]);
}

criterion_group!(benches, loss_grad);
criterion_main!(benches);
