//! L-BFGS costs: the two-loop recursion (n = 2410, the 64-32-10 digits
//! network, m = 5 and 10), one whole minibatch step on digits, and the
//! memory bandwidth they are bound by (a triad, in L2 and in DRAM).
//!
//! Throughput of the two-loop is in bytes: it streams every stored pair
//! (s and y, 2 m n floats) twice, so `16 m n` bytes per call.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use sooth_core::*;
use sooth_tests::digits_train;
use std::hint::black_box;

/// A diagonal quadratic, to fill an L-BFGS history cheaply.
struct Diagonal(Vec<f32>);

impl Objective for Diagonal {
    fn loss_grad(&mut self, x: &[f32], grad: &mut [f32]) -> Result<f64, Error> {
        let mut f = 0.0f64;
        for ((g, &x), &d) in grad.iter_mut().zip(x).zip(&self.0) {
            *g = d * x;
            f += 0.5 * f64::from(d * x * x);
        }
        Ok(f)
    }
    fn loss(&mut self, x: &[f32]) -> Result<f64, Error> {
        Ok(x.iter()
            .zip(&self.0)
            .map(|(&x, &d)| 0.5 * f64::from(d * x * x))
            .sum())
    }
}

fn two_loop(c: &mut Criterion) {
    let n = 2410;
    let mut group = c.benchmark_group("lbfgs/two_loop");
    for m in [5usize, 10] {
        let mut storage = vec![0.0f32; Lbfgs::storage_len(n, m)];
        let mut lbfgs = Lbfgs::new(LbfgsConfig::new(m), n, &mut storage).unwrap();
        let mut objective = Diagonal((0..n).map(|i| 1.0 + (i % 97) as f32).collect());
        let mut x: Vec<f32> = (0..n)
            .map(|i| ((i * 7919) % 101) as f32 / 50.0 - 1.0)
            .collect();
        while lbfgs.pairs() < m {
            lbfgs.step(&mut x, &mut objective).unwrap();
        }
        let v: Vec<f32> = (0..n).map(|i| (i as f32).sin()).collect();
        let mut out = vec![0.0f32; n];
        group.throughput(Throughput::Bytes((16 * m * n) as u64));
        group.bench_function(BenchmarkId::new("n2410_m", m), |b| {
            b.iter(|| {
                lbfgs
                    .apply_inverse_hessian(black_box(&v), &mut out)
                    .unwrap()
            })
        });
    }
    group.finish();
}

/// The first 20 L-BFGS steps (m = 10, strong Wolfe, same-batch pairs) of
/// the 64-32-10 network from its initialization: a fixed, realistic amount
/// of work (the history fills up along the way, as in training). Per step:
/// divide by 20; the evaluations they take are printed once.
fn twenty_steps(c: &mut Criterion) {
    let (x, y) = digits_train();
    let data = SliceDataset::new(&x, &y, 64, 10).unwrap();
    let shape = Shape::new(&[64, 32, 10]).unwrap();
    let mlp = Mlp::new(shape, Activation::Relu);
    let n = shape.param_count();
    let mut group = c.benchmark_group("lbfgs/20_steps_64-32-10");
    group.sample_size(20);
    for batch in [64usize, 1347] {
        let mut init = vec![0.0f32; n];
        let (mut rng, sampler_rng) = seed_streams(1);
        mlp.init(&mut init, Init::HeUniform, &mut rng).unwrap();
        let mut indices = vec![0u32; data.len()];
        let mut sampler = Sampler::new(
            data.len(),
            batch,
            Sampling::Shuffle,
            LastBatch::Drop,
            sampler_rng,
            &mut indices,
        )
        .unwrap();
        let mut batches: Vec<Vec<u32>> = Vec::new();
        while batches.len() < 20 {
            sampler.start_epoch();
            while let Some(b) = sampler.next_batch() {
                batches.push(b.to_vec());
            }
        }
        let full = batch == data.len();
        let run = || {
            let mut params = init.clone();
            let mut work = vec![0.0f32; shape.workspace_len()];
            let mut storage = vec![0.0f32; Lbfgs::storage_len(n, 10)];
            let mut lbfgs = Lbfgs::new(LbfgsConfig::new(10), n, &mut storage).unwrap();
            let mut evaluations = 0;
            for b in &batches[..20] {
                let mut objective = BatchObjective {
                    mlp: &mlp,
                    data: &data,
                    batch: b,
                    work: &mut work,
                    unchanged: full,
                };
                evaluations += lbfgs.step(&mut params, &mut objective).unwrap().evaluations;
            }
            evaluations
        };
        println!("batch {batch}: 20 steps take {} evaluations", run());
        group.throughput(Throughput::Elements((20 * batch) as u64));
        group.bench_function(BenchmarkId::new("batch", batch), |b| b.iter(run));
    }
    group.finish();
}

/// `a[i] = b[i] + s c[i]`: 12 bytes per element moved (2 reads, 1 write).
fn triad(c: &mut Criterion) {
    let mut group = c.benchmark_group("memory/triad");
    for (label, len) in [
        ("l2_192KiB", 16 * 1024usize),
        ("dram_192MiB", 16 * 1024 * 1024),
    ] {
        let b: Vec<f32> = vec![1.0; len];
        let cc: Vec<f32> = vec![2.0; len];
        let mut a: Vec<f32> = vec![0.0; len];
        group.throughput(Throughput::Bytes((12 * len) as u64));
        group.bench_function(label, |bench| {
            bench.iter(|| {
                for ((a, &b), &c) in a.iter_mut().zip(&b).zip(&cc) {
                    *a = b + 0.5 * c;
                }
                black_box(&a);
            })
        });
    }
    group.finish();
}

criterion_group!(benches, two_loop, twenty_steps, triad);
criterion_main!(benches);
