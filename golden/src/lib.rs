//! sooth's pinned bits, in one place: the computations whose results every
//! platform, kernel set and build profile must reproduce, and the values
//! they gave on x86_64.
//!
//! * [`sgd_100_steps`] and [`fifty_steps`] of every case in
//!   [`FIFTY_STEPS`]: the golden-bit steps (64-32-10 ReLU on digits);
//! * [`CLI_RUNS`]: the README's run (`sooth train --dataset digits
//!   --optimizer lbfgs --batch-size 64 --epochs 30 --seed 1`) and the same
//!   command with each other optimizer, through the core's [`Trainer`] as
//!   `sooth train` does it (`host/tests/cli.rs` checks the CLI against the
//!   same constants);
//! * [`FIRMWARE_RUNS`]: the firmware's reference runs
//!   ([`sooth_reference::RUNS`]) on f32 rows, whose hashes the Cortex-M
//!   firmware logs.
//!
//! Only `sooth-core` and `sooth-reference` are used, so this crate and its
//! driver (`sooth-golden`, `src/main.rs`) cross-build in seconds for any
//! target with `std`: `scripts/cross-test.sh` runs them under QEMU user mode
//! on aarch64 and big-endian s390x. The tests in `tests/golden.rs` assert
//! every value on the host, in debug and release.
#![deny(missing_docs)]

use sooth_core::{
    Activation, AdamConfig, Armijo, BatchObjective, CgConfig, CgFormula, CurvatureMode, Dataset,
    Error, Init, LastBatch, LbfgsConfig, LineSearch, Mlp, Optimizer, OptimizerConfig, Sampler,
    Sampling, Sgd, SgdConfig, Shape, SliceDataset, Status, TrainBuffers, TrainOptions, TrainSetup,
    Trainer, param_hash, seed_streams,
};
use sooth_reference::{self as reference, RunStorage, Start, digits};

/// The digits as f32 rows (`level * 1/16`, exact), with their labels.
pub struct Digits {
    /// Training rows, 1347 x 64.
    pub train_x: Vec<f32>,
    /// Test rows, 450 x 64.
    pub test_x: Vec<f32>,
}

impl Digits {
    /// Reads the built-in digits (`data/digits/`).
    pub fn load() -> Digits {
        let rows = |levels: &[u8]| {
            levels
                .iter()
                .map(|&q| f32::from(q) * digits::LEVEL_SCALE)
                .collect()
        };
        Digits {
            train_x: rows(digits::TRAIN_LEVELS),
            test_x: rows(digits::TEST_LEVELS),
        }
    }

    /// The training split as a data set.
    pub fn train(&self) -> SliceDataset<'_, u8> {
        SliceDataset::new(&self.train_x, digits::TRAIN_LABELS, 64, 10)
            .expect("the digits' training rows")
    }

    /// The test split as a data set.
    pub fn test(&self) -> SliceDataset<'_, u8> {
        SliceDataset::new(&self.test_x, digits::TEST_LABELS, 64, 10).expect("the digits' test rows")
    }
}

/// The pinned bits of [`sgd_100_steps`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SgdBits {
    /// [`param_hash`] of the parameters.
    pub hash: u64,
    /// The last step's batch loss, as f64 bits.
    pub last_loss: u64,
    /// The first parameter's bits.
    pub first: u32,
    /// The last parameter's bits.
    pub last: u32,
}

/// [`sgd_100_steps`] on x86_64 (debug); every platform must give these bits.
pub const GOLDEN_SGD: SgdBits = SgdBits {
    hash: 0xb238_b82c_851d_63d7,
    last_loss: 0x3fb9_9e6c_8000_0000,
    first: 0x3e43_6706,
    last: 0xbe4a_fff1,
};

/// What [`sgd_100_steps`] ends with.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdSteps {
    /// The bits to compare with [`GOLDEN_SGD`].
    pub bits: SgdBits,
    /// Training accuracy after the steps (a sanity anchor that does not
    /// depend on bits: over 0.9).
    pub train_accuracy: f64,
}

/// 100 SGD steps (lr 0.1, momentum 0.9, batch 32, shuffled, last batch
/// kept) of a 64-32-10 ReLU network on digits, seed 1.
pub fn sgd_100_steps(data: &Digits) -> SgdSteps {
    let train = data.train();
    let shape = Shape::new(&[64, 32, 10]).unwrap();
    let mlp = Mlp::new(shape, Activation::Relu);
    let n = shape.param_count();
    let mut params = vec![0.0f32; n];
    let mut work = vec![0.0f32; shape.workspace_len()];
    let mut state = vec![0.0f32; Sgd::storage_len(n)];
    let mut indices = vec![0u32; train.len()];
    let (mut init_rng, sampler_rng) = seed_streams(1);
    mlp.init(&mut params, Init::HeUniform, &mut init_rng)
        .unwrap();
    let mut sampler = Sampler::new(
        train.len(),
        32,
        Sampling::Shuffle,
        LastBatch::Keep,
        sampler_rng,
        &mut indices,
    )
    .unwrap();
    let config = SgdConfig {
        momentum: 0.9,
        ..SgdConfig::new(0.1)
    };
    let mut sgd = Sgd::new(config, n, &mut state).unwrap();
    let mut steps = 0;
    let last_loss;
    'outer: loop {
        sampler.start_epoch();
        while let Some(batch) = sampler.next_batch() {
            let mut objective = BatchObjective {
                mlp: &mlp,
                data: &train,
                batch,
                work: &mut work,
                unchanged: false,
            };
            let report = sgd.step(&mut params, &mut objective).unwrap();
            assert_eq!(report.status, Status::Moved);
            steps += 1;
            if steps == 100 {
                last_loss = report.loss;
                break 'outer;
            }
        }
    }
    let eval = mlp.evaluate(&params, &train, &mut work).unwrap();
    SgdSteps {
        bits: SgdBits {
            hash: param_hash(&params),
            last_loss: last_loss.to_bits(),
            first: params[0].to_bits(),
            last: params[n - 1].to_bits(),
        },
        train_accuracy: eval.accuracy(),
    }
}

/// One case of [`fifty_steps`]: a name, the optimizer and the pinned
/// (parameter hash, last batch loss bits) of x86_64 (debug).
pub struct FiftySteps {
    /// Short name.
    pub name: &'static str,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// [`param_hash`] after 50 steps and the 50th step's loss (f64 bits).
    pub expected: (u64, u64),
}

/// The optimizers of [`fifty_steps`] and their pinned bits.
pub const FIFTY_STEPS: [FiftySteps; 6] = [
    FiftySteps {
        name: "sgd nesterov",
        optimizer: OptimizerConfig::Sgd(SgdConfig {
            momentum: 0.9,
            nesterov: true,
            ..SgdConfig::new(0.05)
        }),
        expected: (0x1f67_95a2_ecf0_154d, 0x3fd1_ee88_a400_0000),
    },
    FiftySteps {
        name: "adam",
        optimizer: OptimizerConfig::Adam(AdamConfig::new(1e-3)),
        expected: (0xe56a_96fd_47f5_1d55, 0x3ffd_42cc_0680_0000),
    },
    FiftySteps {
        name: "cg fletcher-reeves",
        optimizer: OptimizerConfig::Cg(CgConfig::new(CgFormula::FletcherReeves, 0.5)),
        expected: (0x91f3_102a_38e8_f2b2, 0x3fc4_5ae8_1000_0000),
    },
    FiftySteps {
        name: "cg polak-ribiere+",
        optimizer: OptimizerConfig::Cg(CgConfig::new(CgFormula::PolakRibierePlus, 0.5)),
        expected: (0x8fef_c827_3241_1271, 0x3fb9_57ef_d000_0000),
    },
    FiftySteps {
        name: "lbfgs same-batch wolfe",
        optimizer: OptimizerConfig::Lbfgs(LbfgsConfig::new(5)),
        expected: (0xb502_10da_5ec9_7298, 0x3fcf_ee96_d000_0000),
    },
    FiftySteps {
        name: "lbfgs naive armijo damped",
        optimizer: OptimizerConfig::Lbfgs(LbfgsConfig {
            line_search: LineSearch::Armijo(Armijo::DEFAULT),
            mode: CurvatureMode::Naive,
            damping: true,
            ..LbfgsConfig::new(5)
        }),
        expected: (0xffc2_2b04_db75_b766, 0x3fd5_f33f_e400_0000),
    },
];

/// 50 steps of `optimizer` on digits (64-32-10 ReLU, batch 64, last batch
/// dropped, seed 7): the final parameter hash and the last step's batch
/// loss bits.
pub fn fifty_steps(data: &Digits, optimizer: OptimizerConfig) -> (u64, u64) {
    let train = data.train();
    let shape = Shape::new(&[64, 32, 10]).unwrap();
    let mlp = Mlp::new(shape, Activation::Relu);
    let n = shape.param_count();
    let mut params = vec![0.0f32; n];
    let mut work = vec![0.0f32; shape.workspace_len()];
    let mut state = vec![0.0f32; optimizer.storage_len(n)];
    let mut indices = vec![0u32; train.len()];
    let (mut init_rng, sampler_rng) = seed_streams(7);
    mlp.init(&mut params, Init::HeUniform, &mut init_rng)
        .unwrap();
    let mut sampler = Sampler::new(
        train.len(),
        64,
        Sampling::Shuffle,
        LastBatch::Drop,
        sampler_rng,
        &mut indices,
    )
    .unwrap();
    let mut optimizer = optimizer.build(n, &mut state).unwrap();
    let mut steps = 0;
    loop {
        sampler.start_epoch();
        while let Some(batch) = sampler.next_batch() {
            let mut objective = BatchObjective {
                mlp: &mlp,
                data: &train,
                batch,
                work: &mut work,
                unchanged: false,
            };
            let report = optimizer.step(&mut params, &mut objective).unwrap();
            steps += 1;
            if steps == 50 {
                return (param_hash(&params), report.loss.to_bits());
            }
        }
    }
}

/// A run of `sooth train` with its defaults (digits, 64-32-10 ReLU, batch
/// 64, shuffled, last batch kept, 30 epochs, seed 1) and an optimizer.
pub struct CliRun {
    /// The `--optimizer` value.
    pub name: &'static str,
    /// The optimizer with the CLI's defaults for it.
    pub optimizer: OptimizerConfig,
    /// The `param_hash` that `sooth train --optimizer NAME` prints on x86_64.
    pub expected: u64,
}

/// Hidden width, batch size, epochs and seed of [`CLI_RUNS`] (the CLI's
/// defaults, and the README's run).
pub const CLI_HIDDEN: usize = 32;
/// See [`CLI_HIDDEN`].
pub const CLI_BATCH_SIZE: usize = 64;
/// See [`CLI_HIDDEN`].
pub const CLI_EPOCHS: u32 = 30;
/// See [`CLI_HIDDEN`].
pub const CLI_SEED: u64 = 1;

/// `sooth train --dataset digits --optimizer NAME --batch-size 64 --epochs
/// 30 --seed 1`: the first is the README's run (L-BFGS, m = 10, strong
/// Wolfe, same-batch pairs), then SGD (lr 0.1, momentum 0.9), Adam (lr
/// 1e-3) and CG (Fletcher-Reeves, Armijo, initial step 1).
pub const CLI_RUNS: [CliRun; 4] = [
    CliRun {
        name: "lbfgs",
        optimizer: OptimizerConfig::Lbfgs(LbfgsConfig::new(10)),
        expected: 0x5c0a_754c_1f1b_b53c,
    },
    CliRun {
        name: "sgd",
        optimizer: OptimizerConfig::Sgd(SgdConfig {
            momentum: 0.9,
            ..SgdConfig::new(0.1)
        }),
        expected: 0x31e9_3d51_1b63_eb63,
    },
    CliRun {
        name: "adam",
        optimizer: OptimizerConfig::Adam(AdamConfig::new(1e-3)),
        expected: 0x63da_6392_c01e_95ac,
    },
    CliRun {
        name: "cg",
        optimizer: OptimizerConfig::Cg(CgConfig::DEFAULT),
        expected: 0xf946_6f50_8dee_bb16,
    },
];

/// Trains `optimizer` as `sooth train` does with [`CLI_RUNS`]' settings
/// (He-uniform initialization and sampler from `seed_streams(1)`, the test
/// set evaluated after every epoch) and returns the final [`param_hash`].
pub fn cli_run(data: &Digits, optimizer: OptimizerConfig) -> Result<u64, Error> {
    let (train, test) = (data.train(), data.test());
    let shape = Shape::new(&[64, CLI_HIDDEN, 10])?;
    let mlp = Mlp::new(shape, Activation::Relu);
    let setup = TrainSetup {
        optimizer,
        batch_size: CLI_BATCH_SIZE,
        sampling: Sampling::Shuffle,
        last_batch: LastBatch::Keep,
        options: TrainOptions::NONE,
    };
    let lengths = setup.buffer_lengths(&shape, train.len());
    let mut params = vec![0.0f32; lengths.params];
    let mut work = vec![0.0f32; lengths.work];
    let mut state = vec![0.0f32; lengths.optimizer];
    let mut indices = vec![0u32; lengths.indices];
    let (mut init_rng, sampler_rng) = seed_streams(CLI_SEED);
    mlp.init(&mut params, Activation::Relu.default_init(), &mut init_rng)?;
    let buffers = TrainBuffers {
        params: &mut params,
        work: &mut work,
        indices: &mut indices,
        optimizer: &mut state,
        selected: None,
    };
    let mut trainer = Trainer::new(mlp, &setup, train.len(), sampler_rng, buffers)?;
    for _ in 0..CLI_EPOCHS {
        trainer.run_epoch(&train, &test)?;
    }
    Ok(param_hash(trainer.params()))
}

/// The firmware's reference runs ([`sooth_reference::RUNS`], by name) and
/// the `param_hash` each ends with, on every platform (the Cortex-M4F's
/// log prints them; `tests/firmware.rs` compares every epoch).
pub const FIRMWARE_RUNS: [(&str, u64); 2] = [
    ("lbfgs", 0xf51c_3495_e47c_9f24),
    ("sgd", 0xc877_523e_a49d_8d5e),
];

/// Runs the firmware's reference run `spec` on the digits' f32 rows and
/// returns its final [`param_hash`].
pub fn firmware_run(data: &Digits, spec: &reference::ReferenceRun) -> Result<u64, Error> {
    let (train, test) = (data.train(), data.test());
    let mut storage = Box::new(RunStorage::new());
    let outcome = reference::run_from(
        spec,
        reference::EPOCHS,
        Start::Seeded,
        storage.buffers(),
        &train,
        &test,
        |_| {},
    )?;
    Ok(outcome.param_hash)
}
