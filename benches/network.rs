//! Loss and gradient of the 64-32-10 digits network: the inner loop of every
//! training run. Throughput is in samples; multiply by 10 112 flops per
//! sample (forward 4 736, weight gradients 4 736, hidden delta 640) for FLOP/s.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sooth_core::*;
use sooth_tests::digits_train;
use std::hint::black_box;

fn loss_grad(c: &mut Criterion) {
    let (x, y) = digits_train();
    let data = SliceDataset::new(&x, &y, 64, 10).unwrap();
    let shape = Shape::new(&[64, 32, 10]).unwrap();
    let mlp = Mlp::new(shape, Activation::Relu);
    let mut params = vec![0.0f32; shape.param_count()];
    let mut grad = vec![0.0f32; shape.param_count()];
    let mut work = vec![0.0f32; shape.workspace_len()];
    let (mut rng, _) = seed_streams(1);
    mlp.init(&mut params, Init::HeUniform, &mut rng).unwrap();
    let mut group = c.benchmark_group("loss_grad/64-32-10");
    for batch in [32usize, 1347] {
        // A spread-out batch, as a shuffled epoch would give.
        let indices: Vec<u32> = (0..batch as u32).map(|i| (i * 997) % 1347).collect();
        group.throughput(Throughput::Elements(batch as u64));
        group.bench_with_input(BenchmarkId::new("batch", batch), &indices, |b, idx| {
            b.iter(|| {
                mlp.loss_grad(black_box(&params), &data, idx, &mut grad, &mut work)
                    .unwrap()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, loss_grad);
criterion_main!(benches);
