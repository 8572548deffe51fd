//! `sooth-perf run SHAPE BATCH CALLS [relu|tanh]`: `CALLS` loss+gradient passes
//! (for callgrind: instructions per call = total / CALLS).
//! `sooth-perf hashes`: bit fingerprints of loss, gradient, evaluation over
//! many shapes, activations, batch sizes, to compare two builds.
//! `sooth-perf kernels SHAPE BATCH`: the AVX and the portable kernels timed
//! in alternation (best of 20 rounds each), with their gradients' hashes.
//! `SOOTH_KERNELS=portable` runs any command on the portable kernels.

use sooth_core::simd::{KernelSet, use_kernels};
use sooth_core::*;

const LEVELS: &[u8] = include_bytes!("../../../data/digits/train-levels.u8");
const LABELS: &[u8] = include_bytes!("../../../data/digits/train-labels.u8");

fn xorshift(x: &mut u32) -> u32 {
    *x ^= *x << 13;
    *x ^= *x >> 17;
    *x ^= *x << 5;
    *x
}

/// Digits for 64 inputs and 10 classes; synthetic data otherwise.
fn data_for(widths: &[usize], n: usize, seed: u32) -> (Vec<f32>, Vec<u16>) {
    let (inputs, classes) = (widths[0], *widths.last().unwrap());
    if inputs == 64 && classes == 10 && n <= LABELS.len() {
        return (
            LEVELS.iter().map(|&q| f32::from(q) * 0.0625).collect(),
            LABELS.iter().map(|&y| u16::from(y)).collect(),
        );
    }
    let mut s = seed | 1;
    let x = (0..n * inputs)
        .map(|_| {
            let v = xorshift(&mut s);
            // Sparse-ish non-negative inputs like pixels, some negatives.
            if v.is_multiple_of(3) {
                0.0
            } else {
                (v >> 8) as f32 / 16_777_216.0 - 0.2
            }
        })
        .collect();
    let y = (0..n)
        .map(|_| (xorshift(&mut s) % classes as u32) as u16)
        .collect();
    (x, y)
}

/// The SSE2 throughput of separate multiplies and adds (no FMA): seven
/// independent chains of 4-wide `mulps` and seven of `addps`, enough to cover
/// the 4-cycle latency on both FP ports. Best of 7 rounds.
fn peak() {
    let rounds = 200_000_000u64;
    let mut best = 0.0f64;
    for _ in 0..7 {
        let m = std::hint::black_box([1.000_000_1f32; 4]);
        let c = std::hint::black_box([1e-7f32; 4]);
        let mut a = std::hint::black_box([[1.0f32; 4]; 7]);
        let mut b = std::hint::black_box([[0.0f32; 4]; 7]);
        let t = std::time::Instant::now();
        for _ in 0..rounds {
            for k in 0..7 {
                for l in 0..4 {
                    a[k][l] *= m[l];
                    b[k][l] += c[l];
                }
            }
        }
        let s = t.elapsed().as_secs_f64();
        std::hint::black_box((a, b));
        best = best.max((rounds * 7 * 2 * 4) as f64 / s / 1e9);
    }
    println!("{best:.2} GFLOP/s (separate mulps/addps, 1 core)");
}

/// The AVX throughput of separate multiplies and adds (no FMA), as [`peak`]
/// with 8-wide `vmulps` and `vaddps`. Best of 7 rounds.
fn peak_avx() {
    #[cfg(target_arch = "x86_64")]
    {
        if !std::arch::is_x86_feature_detected!("avx") {
            println!("no AVX on this CPU");
            return;
        }
        #[target_feature(enable = "avx")]
        fn rounds_avx(rounds: u64) -> f64 {
            let m = std::hint::black_box([1.000_000_1f32; 8]);
            let c = std::hint::black_box([1e-7f32; 8]);
            let mut a = std::hint::black_box([[1.0f32; 8]; 7]);
            let mut b = std::hint::black_box([[0.0f32; 8]; 7]);
            let t = std::time::Instant::now();
            for _ in 0..rounds {
                for k in 0..7 {
                    for l in 0..8 {
                        a[k][l] *= m[l];
                        b[k][l] += c[l];
                    }
                }
            }
            let s = t.elapsed().as_secs_f64();
            std::hint::black_box((a, b));
            s
        }
        let rounds = 100_000_000u64;
        let mut best = 0.0f64;
        for _ in 0..7 {
            // SAFETY: AVX was detected above.
            let s = unsafe { rounds_avx(rounds) };
            best = best.max((rounds * 7 * 2 * 8) as f64 / s / 1e9);
        }
        println!("{best:.2} GFLOP/s (separate vmulps/vaddps, 1 core)");
    }
}

/// The AVX-512 throughput of separate multiplies and adds (no FMA), as
/// [`peak`] with 16-wide `vmulps` and `vaddps` on zmm registers (written
/// with intrinsics: LLVM keeps auto-vectorised loops at 256 bits). Best of 7.
fn peak_avx512() {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm512_add_ps, _mm512_mul_ps, _mm512_set1_ps};
        if !std::arch::is_x86_feature_detected!("avx512f") {
            println!("no AVX-512 on this CPU");
            return;
        }
        #[target_feature(enable = "avx512f")]
        fn rounds_avx512(rounds: u64) -> f64 {
            let m = _mm512_set1_ps(std::hint::black_box(1.000_000_1f32));
            let c = _mm512_set1_ps(std::hint::black_box(1e-7f32));
            let mut a = [_mm512_set1_ps(std::hint::black_box(1.0)); 7];
            let mut b = [_mm512_set1_ps(std::hint::black_box(0.0)); 7];
            let t = std::time::Instant::now();
            for _ in 0..rounds {
                for k in 0..7 {
                    a[k] = _mm512_mul_ps(a[k], m);
                    b[k] = _mm512_add_ps(b[k], c);
                }
            }
            let s = t.elapsed().as_secs_f64();
            std::hint::black_box((a, b));
            s
        }
        let rounds = 50_000_000u64;
        let mut best = 0.0f64;
        for _ in 0..7 {
            // SAFETY: AVX-512F was detected above.
            let s = unsafe { rounds_avx512(rounds) };
            best = best.max((rounds * 7 * 2 * 16) as f64 / s / 1e9);
        }
        println!("{best:.2} GFLOP/s (separate vmulps/vaddps on zmm, 1 core)");
    }
}

/// `loss_grad` of a ReLU network of `widths` on `batch` samples, timed on
/// the AVX and on the portable kernels in alternation: best of 20 rounds
/// each (so that other work on the machine hits both alike), and a hash
/// of each gradient, which must agree.
fn kernels(widths: &[usize], batch: usize) {
    let (x, y) = data_for(widths, batch.max(1024), 7);
    let data = SliceDataset::new(&x, &y, widths[0], *widths.last().unwrap()).unwrap();
    let shape = Shape::new(widths).unwrap();
    let mlp = Mlp::new(shape, Activation::Relu);
    let mut params = vec![0.0f32; shape.param_count()];
    let mut grad = vec![0.0f32; shape.param_count()];
    let mut work = vec![0.0f32; shape.workspace_len()];
    let (mut rng, _) = seed_streams(1);
    mlp.init(&mut params, Init::HeUniform, &mut rng).unwrap();
    let n = data.len() as u32;
    let batch = batch.min(n as usize);
    let idx: Vec<u32> = (0..batch as u32).map(|i| (i * 997) % n).collect();
    // Nominal (dense) flops, 2 per multiply-add: forward, weight gradients,
    // and the deltas of the hidden layers (10 112 per sample for 64-32-10).
    let weights: Vec<usize> = widths.windows(2).map(|w| w[0] * w[1]).collect();
    let total: usize = weights.iter().sum();
    let flops = (2 * (2 * total + (total - weights[0])) * batch) as f64;
    // Enough calls per round that switching kernels (cold branch
    // predictors) does not show.
    let reps = (100_000_000 / (shape.param_count() * batch)).max(5);
    const SETS: [(KernelSet, &str); 3] = [
        (KernelSet::Avx512, "avx512"),
        (KernelSet::Avx, "avx"),
        (KernelSet::Portable, "portable"),
    ];
    let mut best = [f64::MAX; 3];
    let mut hashes = [0u64; 3];
    for _ in 0..20 {
        for (k, &(set, _)) in SETS.iter().enumerate() {
            if use_kernels(set) != set {
                continue;
            }
            let t = std::time::Instant::now();
            for _ in 0..reps {
                mlp.loss_grad(
                    std::hint::black_box(&params),
                    &data,
                    &idx,
                    &mut grad,
                    &mut work,
                )
                .unwrap();
            }
            best[k] = best[k].min(t.elapsed().as_secs_f64() / reps as f64);
            hashes[k] = param_hash(&grad);
        }
    }
    use_kernels(KernelSet::Avx512);
    for (k, (_, name)) in SETS.iter().enumerate() {
        if best[k] < f64::MAX {
            println!(
                "{name:>8}: {:9.2} us per call, {:6.2} nominal GFLOP/s, gradient hash {:016x}, {:.2}x portable",
                best[k] * 1e6,
                flops / best[k] / 1e9,
                hashes[k],
                best[2] / best[k]
            );
        }
    }
    let ran: Vec<u64> = (0..3).filter(|&k| best[k] < f64::MAX).map(|k| hashes[k]).collect();
    println!("same bits: {}", ran.windows(2).all(|h| h[0] == h[1]));
}

/// The clock, from a chain of dependent scalar additions (4 cycles each on
/// Skylake-SP / Cascade Lake). Best of 5 rounds.
fn freq() {
    let n = 400_000_000u64;
    let d = std::hint::black_box(1e-30f32);
    let mut best = 0.0f64;
    for _ in 0..5 {
        let mut x = std::hint::black_box(1.0f32);
        let t = std::time::Instant::now();
        for _ in 0..n {
            x += d;
        }
        let s = t.elapsed().as_secs_f64();
        std::hint::black_box(x);
        best = best.max(4.0 * n as f64 / s / 1e9);
    }
    println!("{best:.2} GHz (4-cycle addss latency)");
}

fn parse_shape(s: &str) -> Vec<usize> {
    s.split('-').map(|w| w.parse().unwrap()).collect()
}

fn fnv(h: &mut u64, bits: u64) {
    for b in bits.to_le_bytes() {
        *h ^= u64::from(b);
        *h = h.wrapping_mul(0x100_0000_01b3);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match std::env::var("SOOTH_KERNELS").as_deref() {
        Ok("portable") => {
            use_kernels(KernelSet::Portable);
        }
        Ok("avx") => {
            use_kernels(KernelSet::Avx);
        }
        _ => {}
    }
    match args.get(1).map(String::as_str) {
        Some("run") => {
            let widths = parse_shape(&args[2]);
            let batch: usize = args[3].parse().unwrap();
            let calls: usize = args[4].parse().unwrap();
            let act = match args.get(5).map(String::as_str) {
                Some("tanh") => Activation::Tanh,
                _ => Activation::Relu,
            };
            let mode = args.get(6).map(String::as_str).unwrap_or("grad");
            let n = 1347.max(batch);
            let (x, y) = data_for(&widths, n, 7);
            let n = y.len();
            let data = SliceDataset::new(&x, &y, widths[0], *widths.last().unwrap()).unwrap();
            let shape = Shape::new(&widths).unwrap();
            let mlp = Mlp::new(shape, act);
            let mut params = vec![0.0f32; shape.param_count()];
            let mut grad = vec![0.0f32; shape.param_count()];
            let mut work = vec![0.0f32; shape.workspace_len()];
            let (mut rng, _) = seed_streams(1);
            mlp.init(&mut params, act.default_init(), &mut rng).unwrap();
            let stride = std::env::var("STRIDE").map_or(997, |s| s.parse().unwrap());
            let period = std::env::var("PERIOD").map_or(batch as u32, |s| s.parse().unwrap());
            let idx: Vec<u32> = (0..batch as u32)
                .map(|i| ((i % period) * stride) % n as u32)
                .collect();
            let mut acc = 0.0;
            if mode == "sparsity" {
                let (l0, cols) = (shape.layer(0), widths[0]);
                let (mut active, mut total) = (0usize, 0usize);
                for &i in &idx {
                    let x = &x[i as usize * cols..(i as usize + 1) * cols];
                    for o in 0..l0.rows {
                        let w = &params[l0.weights + o * cols..l0.weights + (o + 1) * cols];
                        let z: f32 = w.iter().zip(x).map(|(a, b)| a * b).sum::<f32>()
                            + params[l0.biases + o];
                        active += usize::from(z > 0.0);
                        total += 1;
                    }
                }
                println!(
                    "first hidden layer: {:.1}% active",
                    100.0 * active as f64 / total as f64
                );
                return;
            }
            if mode == "time" || mode == "time_loss" {
                // Best of ROUNDS (default 7) rounds of `calls` calls: the least
                // disturbed by other load (short rounds, many of them, on a busy
                // machine).
                let rounds = std::env::var("ROUNDS").map_or(7, |s| s.parse().unwrap());
                let mut best = f64::INFINITY;
                for _ in 0..rounds {
                    let t = std::time::Instant::now();
                    for _ in 0..calls {
                        acc += if mode == "time" {
                            mlp.loss_grad(&params, &data, &idx, &mut grad, &mut work)
                                .unwrap()
                        } else {
                            mlp.loss(&params, &data, &idx, &mut work).unwrap()
                        };
                    }
                    best = best.min(t.elapsed().as_secs_f64() / calls as f64);
                }
                println!(
                    "{:.1} us per call, {:.1} ns per sample ({acc})",
                    best * 1e6,
                    best * 1e9 / batch as f64
                );
                return;
            }
            for _ in 0..calls {
                acc += match mode {
                    "loss" => mlp.loss(&params, &data, &idx, &mut work).unwrap(),
                    _ => mlp
                        .loss_grad(&params, &data, &idx, &mut grad, &mut work)
                        .unwrap(),
                };
            }
            println!("{acc} {:#018x}", param_hash(&grad));
        }
        Some("peak") => {
            peak();
            peak_avx();
            peak_avx512();
        }
        Some("kernels") => {
            let widths: Vec<usize> = args
                .get(2)
                .map_or("64-32-10", String::as_str)
                .split('-')
                .map(|w| w.parse().expect("SHAPE like 64-32-10"))
                .collect();
            let batch = args.get(3).map_or(32, |b| b.parse().expect("BATCH"));
            kernels(&widths, batch);
        }
        Some("freq") => freq(),
        Some("hashes") => {
            let shapes: &[&[usize]] = &[
                &[64, 32, 10],
                &[64, 16, 10],
                &[784, 128, 64, 10],
                &[13, 7, 3],
                &[5, 9, 11, 17, 2],
                &[8, 8, 8, 2],
                &[100, 50, 25, 12, 6, 4, 3, 2],
                &[1, 1, 2],
                &[33, 2],
                &[64, 37, 23, 10],
            ];
            let mut all = 0xcbf2_9ce4_8422_2325u64;
            for widths in shapes {
                for act in [Activation::Relu, Activation::Tanh] {
                    for l2 in [0.0f32, 1e-3] {
                        let (x, y) = data_for(widths, 300, widths.len() as u32 * 31 + 5);
                        let data =
                            SliceDataset::new(&x, &y, widths[0], *widths.last().unwrap()).unwrap();
                        let shape = Shape::new(widths).unwrap();
                        let mlp = Mlp::new(shape, act).with_l2(l2).unwrap();
                        let mut params = vec![0.0f32; shape.param_count()];
                        let mut grad = vec![0.0f32; shape.param_count()];
                        let mut work = vec![0.0f32; shape.workspace_len()];
                        let (mut rng, _) = seed_streams(3);
                        mlp.init(&mut params, act.default_init(), &mut rng).unwrap();
                        // Non-zero biases too, so no bias is special.
                        for (i, p) in params.iter_mut().enumerate() {
                            if i % 7 == 0 {
                                *p += 0.01 * (i % 5) as f32 - 0.02;
                            }
                        }
                        let mut h = 0xcbf2_9ce4_8422_2325u64;
                        let n = y.len() as u32;
                        for batch in [
                            1usize, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 300,
                        ] {
                            let idx: Vec<u32> =
                                (0..batch as u32).map(|i| (i * 97 + 3) % n).collect();
                            let l = mlp
                                .loss_grad(&params, &data, &idx, &mut grad, &mut work)
                                .unwrap();
                            fnv(&mut h, l.to_bits());
                            fnv(&mut h, param_hash(&grad));
                            for &g in &grad {
                                fnv(&mut h, u64::from(g.to_bits()));
                            }
                            let l2 = mlp.loss(&params, &data, &idx, &mut work).unwrap();
                            fnv(&mut h, l2.to_bits());
                        }
                        let e = mlp.evaluate(&params, &data, &mut work).unwrap();
                        fnv(&mut h, e.loss.to_bits());
                        fnv(&mut h, u64::from(e.correct));
                        let mut f = vec![0.0f32; widths[0]];
                        f.copy_from_slice(&x[..widths[0]]);
                        fnv(&mut h, mlp.predict(&params, &f, &mut work).unwrap() as u64);
                        println!("{widths:?} {act:?} l2={l2}: {h:#018x}");
                        fnv(&mut all, h);
                    }
                }
            }
            println!("all: {all:#018x}");
        }
        _ => eprintln!(
            "usage: sooth-perf run SHAPE BATCH CALLS [relu|tanh] [grad|loss] | hashes | peak | freq | kernels [SHAPE] [BATCH]"
        ),
    }
}
