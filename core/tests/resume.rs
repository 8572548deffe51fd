//! The optimizers keep their whole state in the caller's storage: an
//! optimizer dropped mid-run and re-created over the same storage (or over a
//! copy of it, as after saving and restoring it) with `resume` continues bit
//! for bit as the uninterrupted run does.

use sooth_core::*;

/// 40 samples, 3 features, 3 classes, from a fixed integer generator.
fn data() -> (Vec<f32>, Vec<u8>) {
    let mut state = 0x2545_f491u32;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut x = Vec::new();
    let mut y = Vec::new();
    for _ in 0..40 {
        let row: Vec<f32> = (0..3)
            .map(|_| (next() >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0)
            .collect();
        y.push(if row[0] + row[1] > 0.3 {
            0
        } else if row[2] > 0.0 {
            1
        } else {
            2
        });
        x.extend(row);
    }
    (x, y)
}

const SHAPE: Shape = match Shape::new(&[3, 6, 3]) {
    Ok(s) => s,
    Err(_) => panic!(),
};

/// The configurations under test: every optimizer, and L-BFGS with its ring
/// wrapping (m = 3), naive pairs (a pair pending across steps), an Armijo
/// line search, inner iterations and damping.
fn configs() -> Vec<OptimizerConfig> {
    let lbfgs = LbfgsConfig::new(3);
    vec![
        OptimizerConfig::Sgd(SgdConfig {
            momentum: 0.9,
            ..SgdConfig::new(0.2)
        }),
        OptimizerConfig::Sgd(SgdConfig {
            momentum: 0.5,
            nesterov: true,
            weight_decay: 1e-3,
            ..SgdConfig::new(0.2)
        }),
        OptimizerConfig::Adam(AdamConfig::new(0.05)),
        OptimizerConfig::Cg(CgConfig::new(CgFormula::PolakRibierePlus, 0.5)),
        OptimizerConfig::Cg(CgConfig::new(CgFormula::FletcherReeves, 0.5)),
        OptimizerConfig::Lbfgs(lbfgs),
        OptimizerConfig::Lbfgs(LbfgsConfig {
            mode: CurvatureMode::Naive,
            ..lbfgs
        }),
        OptimizerConfig::Lbfgs(LbfgsConfig {
            line_search: LineSearch::Armijo(Armijo::DEFAULT),
            inner_iterations: 2,
            damping: true,
            ..LbfgsConfig::new(4)
        }),
        // 16-bit pairs (their rows hold the parked gradient across a
        // pending step in naive mode).
        OptimizerConfig::Lbfgs(LbfgsConfig {
            pair_precision: PairPrecision::Bf16,
            ..lbfgs
        }),
        OptimizerConfig::Lbfgs(LbfgsConfig {
            mode: CurvatureMode::Naive,
            pair_precision: PairPrecision::F16,
            ..lbfgs
        }),
        OptimizerConfig::Lbfgs(LbfgsConfig {
            line_search: LineSearch::Armijo(Armijo::DEFAULT),
            inner_iterations: 2,
            damping: true,
            pair_precision: PairPrecision::Bf16,
            ..LbfgsConfig::new(4)
        }),
    ]
}

/// What a run ends with, as bits: the parameters, the whole storage, and
/// every step's loss.
#[derive(Debug, PartialEq)]
struct Bits {
    params: Vec<u32>,
    storage: Vec<u32>,
    losses: Vec<u64>,
}

const STEPS: usize = 14;

/// `STEPS` steps of `config` on minibatches of 8 (a different batch each
/// step) or on the full batch; with `pause_at`, the optimizer is dropped
/// after that many steps, its storage copied to a new buffer (save and
/// restore), and the run continues over the copy with `resume`, or with
/// `build` (afresh) if `fresh`.
fn run(config: OptimizerConfig, full_batch: bool, pause_at: Option<usize>, fresh: bool) -> Bits {
    let (x, y) = data();
    let data = SliceDataset::new(&x, &y, 3, 3).unwrap();
    let mlp = Mlp::new(SHAPE, Activation::Tanh);
    let n = SHAPE.param_count();
    let mut params = vec![0.0f32; n];
    let (mut init_rng, _) = seed_streams(5);
    mlp.init(&mut params, Init::GlorotUniform, &mut init_rng)
        .unwrap();
    let mut work = vec![0.0f32; SHAPE.workspace_len()];
    let mut storage = vec![0.0f32; config.storage_len(n)];
    let all: Vec<u32> = (0..40).collect();
    let mut losses = Vec::new();
    let mut step = |optimizer: &mut AnyOptimizer<'_>, k: usize, params: &mut [f32]| {
        let batch: Vec<u32> = if full_batch {
            all.clone()
        } else {
            (0..8).map(|j| ((k * 11 + j * 5) % 40) as u32).collect()
        };
        let mut objective = BatchObjective {
            mlp: &mlp,
            data: &data,
            batch: &batch,
            work: &mut work,
            unchanged: full_batch,
        };
        let report = optimizer.step(params, &mut objective).unwrap();
        losses.push(report.loss.to_bits());
    };
    let pause = pause_at.unwrap_or(STEPS);
    {
        let mut optimizer = config.build(n, &mut storage).unwrap();
        for k in 0..pause {
            step(&mut optimizer, k, &mut params);
        }
    }
    if pause < STEPS {
        let mut restored = storage.clone();
        storage.fill(f32::NAN);
        {
            let mut optimizer = if fresh {
                config.build(n, &mut restored).unwrap()
            } else {
                config.resume(n, &mut restored).unwrap()
            };
            for k in pause..STEPS {
                step(&mut optimizer, k, &mut params);
            }
        }
        storage = restored;
    }
    Bits {
        params: params.iter().map(|v| v.to_bits()).collect(),
        storage: storage.iter().map(|v| v.to_bits()).collect(),
        losses,
    }
}

#[test]
fn every_optimizer_resumes_bit_for_bit_from_its_storage() {
    for config in configs() {
        for full_batch in [false, true] {
            let whole = run(config, full_batch, None, false);
            assert!(
                whole.losses.iter().all(|&l| f64::from_bits(l).is_finite()),
                "{config:?}: {whole:?}"
            );
            for pause in [1, 2, 5, 9] {
                let resumed = run(config, full_batch, Some(pause), false);
                assert_eq!(
                    resumed, whole,
                    "{config:?}, full batch {full_batch}, paused after {pause} steps"
                );
            }
        }
    }
}

/// The test above can fail: for the optimizers with a memory (momentum,
/// moments, a direction, curvature pairs), starting afresh over the same
/// storage mid-run gives other bits than resuming.
#[test]
fn starting_afresh_mid_run_gives_other_bits() {
    for config in configs() {
        let whole = run(config, false, None, false);
        let fresh = run(config, false, Some(5), true);
        assert_eq!(fresh.losses[..5], whole.losses[..5], "{config:?}");
        assert_ne!(fresh.params, whole.params, "{config:?}");
    }
}

#[test]
fn resume_refuses_storage_without_such_a_state() {
    let n = SHAPE.param_count();
    for config in configs() {
        // Never written: all zeros.
        let mut zeros = vec![0.0f32; config.storage_len(n)];
        assert!(
            matches!(config.resume(n, &mut zeros), Err(Error::Format { .. })),
            "{config:?}"
        );
        // Written for another n.
        let mut other = vec![0.0f32; config.storage_len(n + 1)];
        config.build(n + 1, &mut other).unwrap();
        assert!(
            matches!(config.resume(n, &mut other), Err(Error::Format { .. })),
            "{config:?}"
        );
        // Too short.
        let mut short = vec![0.0f32; config.storage_len(n) - 1];
        assert!(matches!(
            config.resume(n, &mut short),
            Err(Error::BufferLength {
                buffer: Buffer::OptimizerState,
                ..
            })
        ));
        // Its own state: fine.
        let mut own = vec![0.0f32; config.storage_len(n)];
        config.build(n, &mut own).unwrap();
        assert!(config.resume(n, &mut own).is_ok(), "{config:?}");
    }
    // Another optimizer's state of the same length.
    let sgd = OptimizerConfig::Sgd(SgdConfig::new(0.1));
    let adam = OptimizerConfig::Adam(AdamConfig::new(0.1));
    let cg = OptimizerConfig::Cg(CgConfig::new(CgFormula::FletcherReeves, 0.1));
    let mut storage = vec![0.0f32; adam.storage_len(n)];
    cg.build(n, &mut storage).unwrap();
    assert_eq!(
        adam.resume(n, &mut storage).err(),
        Some(Error::Format {
            offset: 4 * 4 * n,
            expected: "an Adam state header"
        })
    );
    let mut storage = vec![0.0f32; Sgd::storage_len(n)];
    sgd.build(n, &mut storage).unwrap();
    assert!(sgd.resume(n, &mut storage).is_ok());
    // L-BFGS with another history length.
    let mut storage = vec![0.0f32; Lbfgs::storage_len(n, 4)];
    Lbfgs::new(LbfgsConfig::new(3), n, &mut storage).unwrap();
    assert!(matches!(
        Lbfgs::resume(LbfgsConfig::new(4), n, &mut storage),
        Err(Error::Format { .. })
    ));
    // A header word out of range: the ring's oldest slot.
    let mut storage = vec![0.0f32; Lbfgs::storage_len(n, 3)];
    Lbfgs::new(LbfgsConfig::new(3), n, &mut storage).unwrap();
    let oldest = (2 * 3 + 2) * n + 3 + 6;
    for bad in [3.0, -1.0, 0.5, f32::NAN] {
        storage[oldest] = bad;
        assert_eq!(
            Lbfgs::resume(LbfgsConfig::new(3), n, &mut storage).err(),
            Some(Error::Format {
                offset: 4 * oldest,
                expected: "a slot below m"
            })
        );
    }
}

/// The sizes the README and the firmware's memory table state.
#[test]
fn storage_lengths_include_the_header() {
    assert_eq!(Sgd::storage_len(1210), 3 * 1210 + 5);
    assert_eq!(Adam::storage_len(2410), 4 * 2410 + 7);
    assert_eq!(Cg::storage_len(2410), 4 * 2410 + 7);
    // f32 pairs: 2 m n of pairs, the gradient and the last good point.
    assert_eq!(Lbfgs::storage_len(1210, 5), 12 * 1210 + 21);
    assert_eq!(4 * Lbfgs::storage_len(1210, 5), 58_164);
    assert_eq!(Lbfgs::storage_len(2410, 10), 22 * 2410 + 26);
    // 16-bit pairs: m n floats of pairs, and the direction too.
    let bf16 = Lbfgs::storage_len_with(1210, 5, PairPrecision::Bf16);
    assert_eq!(bf16, 8 * 1210 + 21);
    assert_eq!(4 * bf16, 38_804);
    assert_eq!(
        Lbfgs::storage_len_with(2335, 5, PairPrecision::F16),
        5 * 2336 + 3 * 2335 + 21
    );
}
