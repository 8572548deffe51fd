//! The online trainer (issue 19): samples pushed between training calls,
//! the optimizer's state kept across calls, both store policies, the saved
//! state, and the errors.

use sooth_core::online::snapshot::SNAPSHOT_MAGIC;
use sooth_core::*;

const SHAPE: Shape = match Shape::new(&[3, 6, 3]) {
    Ok(s) => s,
    Err(_) => panic!(),
};
const WIDTH: usize = 3;

/// Arrival `k` of a fixed stream: 3 features in [-1, 1) and a label by a
/// fixed rule (integer generator, so the same on every platform).
fn arrival(k: u32) -> ([f32; WIDTH], usize) {
    let mut state = 0x9e37_79b9u32 ^ k.wrapping_mul(0x85eb_ca6b);
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        (state >> 8) as f32 / (1u32 << 24) as f32 * 2.0 - 1.0
    };
    let _ = next();
    let x = [next(), next(), next()];
    let y = if x[0] + x[1] > 0.3 {
        0
    } else if x[2] > 0.0 {
        1
    } else {
        2
    };
    (x, y)
}

fn lbfgs() -> OptimizerConfig {
    OptimizerConfig::Lbfgs(LbfgsConfig::new(3))
}

fn sgd() -> OptimizerConfig {
    OptimizerConfig::Sgd(SgdConfig {
        momentum: 0.9,
        ..SgdConfig::new(0.1)
    })
}

fn setup(optimizer: OptimizerConfig, retention: Retention) -> OnlineSetup {
    OnlineSetup {
        optimizer,
        capacity: 16,
        retention,
        batch_size: 8,
    }
}

/// Heap buffers of a setup's lengths.
struct Memory {
    params: Vec<f32>,
    work: Vec<f32>,
    optimizer: Vec<f32>,
    indices: Vec<u32>,
    samples: Vec<f32>,
    labels: Vec<u16>,
}

impl Memory {
    fn new(setup: &OnlineSetup) -> Memory {
        let len = setup.buffer_lengths(&SHAPE);
        let mut params = vec![0.0f32; len.params];
        let (mut init, _) = seed_streams(11);
        Mlp::new(SHAPE, Activation::Tanh)
            .init(&mut params, Init::GlorotUniform, &mut init)
            .unwrap();
        Memory {
            params,
            work: vec![0.0; len.work],
            optimizer: vec![0.0; len.optimizer],
            indices: vec![0; len.indices],
            samples: vec![0.0; len.samples],
            labels: vec![0; len.labels],
        }
    }
    fn buffers(&mut self) -> OnlineBuffers<'_> {
        OnlineBuffers {
            params: &mut self.params,
            work: &mut self.work,
            optimizer: &mut self.optimizer,
            indices: &mut self.indices,
            samples: &mut self.samples,
            labels: &mut self.labels,
        }
    }
}

fn mlp() -> Mlp {
    Mlp::new(SHAPE, Activation::Tanh)
}

/// What a run ends with, as bits.
#[derive(Debug, PartialEq)]
struct Bits {
    params: Vec<u32>,
    optimizer: Vec<u32>,
    losses: Vec<u64>,
}

fn bits(trainer: &OnlineTrainer<'_>, losses: Vec<u64>) -> Bits {
    Bits {
        params: trainer.params().iter().map(|v| v.to_bits()).collect(),
        optimizer: trainer
            .optimizer_state()
            .iter()
            .map(|v| v.to_bits())
            .collect(),
        losses,
    }
}

/// The schedule: 40 arrivals; after arrival `k` (from 7 on, every 3rd) a
/// `train` call of `1 + k % 4` steps. The first call comes with 8 samples
/// held (a batch of the whole store), the store wraps from arrival 16 on.
fn steps_after(k: u32) -> u32 {
    if k >= 7 && k % 3 == 1 { 1 + k % 4 } else { 0 }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Pause {
    /// One trainer for the whole run.
    None,
    /// Each `train(s)` as `train(1)` then `train(s - 1)`.
    Split,
    /// After every arrival (and its `train` call) the state is saved, and
    /// the next arrival goes to a trainer restored from the bytes into
    /// fresh buffers (a device reset between every two arrivals).
    SaveRestore,
    /// The optimizer is started afresh after every `train` call.
    ResetOptimizer,
}

fn train(trainer: &mut OnlineTrainer<'_>, s: u32, pause: Pause, losses: &mut Vec<u64>) {
    let parts: &[u32] = if pause == Pause::Split && s > 1 {
        &[1, s - 1]
    } else {
        &[s]
    };
    for &p in parts {
        let report = trainer.train(p).unwrap();
        assert_eq!(report.steps, p);
        assert_eq!(report.recoveries, 0);
        assert!(report.mean_batch_loss.is_finite());
        if pause != Pause::Split {
            losses.push(report.last_batch_loss.to_bits());
        }
    }
    if pause == Pause::ResetOptimizer {
        trainer.reset_optimizer().unwrap();
    }
}

/// The schedule on the online trainer.
fn online_run(setup: OnlineSetup, pause: Pause) -> Bits {
    let (_, rng) = seed_streams(5);
    let mut losses = Vec::new();
    let mut memory = Memory::new(&setup);
    if pause != Pause::SaveRestore {
        let mut trainer = OnlineTrainer::new(mlp(), &setup, rng, memory.buffers()).unwrap();
        for k in 0..40u32 {
            let (x, y) = arrival(k);
            trainer.push(&x, y).unwrap();
            let s = steps_after(k);
            if s > 0 {
                train(&mut trainer, s, pause, &mut losses);
            }
        }
        return bits(&trainer, losses);
    }
    let len = setup.buffer_lengths(&SHAPE);
    let mut snapshot = vec![0u8; len.snapshot];
    let written = OnlineTrainer::new(mlp(), &setup, rng, memory.buffers())
        .unwrap()
        .save(&mut snapshot)
        .unwrap();
    assert_eq!(written, len.snapshot);
    for k in 0..40u32 {
        let mut fresh = Memory::new(&setup);
        fresh.params.fill(0.5);
        fresh.optimizer.fill(f32::NAN);
        fresh.samples.fill(f32::NAN);
        fresh.labels.fill(7);
        let mut trainer =
            OnlineTrainer::restore(mlp(), &setup, &snapshot, fresh.buffers()).unwrap();
        let (x, y) = arrival(k);
        trainer.push(&x, y).unwrap();
        let s = steps_after(k);
        if s > 0 {
            train(&mut trainer, s, pause, &mut losses);
        }
        trainer.save(&mut snapshot).unwrap();
        if k == 39 {
            return bits(&trainer, losses);
        }
    }
    unreachable!()
}

/// The same schedule written with the core's primitives only, as the
/// documentation of `OnlineTrainer` and `Retention` describes it: ONE
/// optimizer value for the whole run (never dropped), a store kept in a
/// `Vec`, batches by partial Fisher-Yates with `uniform_below`.
fn reference_run(setup: OnlineSetup) -> Bits {
    let mlp = mlp();
    let n = SHAPE.param_count();
    let mut params = Memory::new(&setup).params;
    let mut storage = vec![0.0f32; setup.optimizer.storage_len(n)];
    let mut work = vec![0.0f32; SHAPE.workspace_len()];
    let (_, mut rng) = seed_streams(5);
    let mut reservoir_rng = rng.clone();
    reservoir_rng.jump();
    let capacity = setup.capacity;
    let mut slots: Vec<([f32; WIDTH], u16)> = Vec::new();
    let mut next = 0usize;
    let mut losses = Vec::new();
    let mut optimizer = setup.optimizer.build(n, &mut storage).unwrap();
    for k in 0..40u32 {
        let (x, y) = arrival(k);
        let sample = (x, y as u16);
        match setup.retention {
            Retention::Latest => {
                if slots.len() < capacity {
                    slots.push(sample);
                } else {
                    slots[next] = sample;
                }
                next = (next + 1) % capacity;
            }
            Retention::Reservoir => {
                if slots.len() < capacity {
                    slots.push(sample);
                } else {
                    let j = sampler::uniform_below(&mut reservoir_rng, k + 1) as usize;
                    if j < capacity {
                        slots[j] = sample;
                    }
                }
            }
        }
        let s = steps_after(k);
        if s == 0 {
            continue;
        }
        // The store's order: oldest first for the ring, slots for the reservoir.
        let held = slots.len();
        let start = if setup.retention == Retention::Latest && held == capacity {
            next
        } else {
            0
        };
        let ordered: Vec<_> = (0..held).map(|i| slots[(start + i) % held]).collect();
        let xs: Vec<f32> = ordered.iter().flat_map(|s| s.0).collect();
        let ys: Vec<u16> = ordered.iter().map(|s| s.1).collect();
        let data = SliceDataset::new(&xs, &ys, WIDTH, 3).unwrap();
        let b = setup.batch_size;
        let mut loss = 0.0;
        for _ in 0..s {
            let mut indices: Vec<u32> = (0..held as u32).collect();
            if b < held {
                for j in 0..b {
                    let r = j + sampler::uniform_below(&mut rng, (held - j) as u32) as usize;
                    indices.swap(j, r);
                }
            }
            let mut objective = BatchObjective {
                mlp: &mlp,
                data: &data,
                batch: &indices[..b],
                work: &mut work,
                unchanged: false,
            };
            loss = optimizer.step(&mut params, &mut objective).unwrap().loss;
        }
        losses.push(loss.to_bits());
    }
    Bits {
        params: params.iter().map(|v| v.to_bits()).collect(),
        optimizer: storage.iter().map(|v| v.to_bits()).collect(),
        losses,
    }
}

fn all_setups() -> Vec<OnlineSetup> {
    let mut out = Vec::new();
    for optimizer in [lbfgs(), sgd()] {
        for retention in [Retention::Latest, Retention::Reservoir] {
            out.push(setup(optimizer, retention));
        }
    }
    out
}

#[test]
fn pushes_between_training_calls_give_the_bits_of_one_uninterrupted_run() {
    for setup in all_setups() {
        let online = online_run(setup, Pause::None);
        let reference = reference_run(setup);
        assert_eq!(online.losses.len(), 11);
        assert_eq!(online, reference, "{setup:?}");
        // Splitting a call in two changes nothing either.
        let split = online_run(setup, Pause::Split);
        assert_eq!(split.params, online.params, "{setup:?}");
        assert_eq!(split.optimizer, online.optimizer, "{setup:?}");
    }
}

#[test]
fn the_lbfgs_history_survives_a_pause() {
    let setup = setup(lbfgs(), Retention::Latest);
    let whole = online_run(setup, Pause::None);
    // The history is in the storage after the run: 3 pairs (m = 3).
    let n = SHAPE.param_count();
    let mut state: Vec<f32> = whole.optimizer.iter().map(|&b| f32::from_bits(b)).collect();
    assert_eq!(
        Lbfgs::resume(LbfgsConfig::new(3), n, &mut state)
            .unwrap()
            .pairs(),
        3
    );
    // The test can fail: forgetting the history at every pause gives other bits.
    let forgetful = online_run(setup, Pause::ResetOptimizer);
    assert_eq!(forgetful.losses[0], whole.losses[0]);
    assert_ne!(forgetful.params, whole.params);
}

#[test]
fn training_resumes_bit_for_bit_from_the_saved_state() {
    for setup in all_setups() {
        let whole = online_run(setup, Pause::None);
        let restored = online_run(setup, Pause::SaveRestore);
        assert_eq!(restored, whole, "{setup:?}");
    }
}

#[test]
fn the_ring_keeps_the_latest_samples_in_arrival_order() {
    let (mut features, mut labels) = ([0.0f32; 8 * WIDTH], [0u16; 8]);
    let rng = Xoshiro256PlusPlus::seed_from_u64(0);
    let mut store = SampleStore::new(
        WIDTH,
        3,
        8,
        Retention::Latest,
        rng,
        &mut features,
        &mut labels,
    )
    .unwrap();
    for k in 0..27u32 {
        let outcome = store.push(&[k as f32, 0.0, -(k as f32)], (k % 3) as usize);
        let expected = if k < 8 {
            PushOutcome::Added
        } else {
            PushOutcome::Replaced
        };
        assert_eq!(outcome, Ok(expected));
        let held = (k as usize + 1).min(8);
        assert_eq!(store.len(), held);
        // Index i is the i-th oldest of the last `held` arrivals.
        for i in 0..held {
            let a = k + 1 - held as u32 + i as u32;
            let (row, label) = store.sample(i).unwrap();
            assert_eq!(row, &[a as f32, 0.0, -(a as f32)]);
            assert_eq!(label, (a % 3) as usize);
        }
        assert!(store.sample(held).is_none());
    }
    assert_eq!(store.seen(), 27);
}

/// Each of `N` arrivals must be held at the end with probability `C / N`:
/// over `TRIALS` independent streams its count is Binomial(TRIALS, C / N).
#[test]
fn the_reservoir_holds_every_arrival_with_equal_probability() {
    const C: usize = 10;
    const N: u32 = 50;
    const TRIALS: u32 = 4000;
    let mut counts = [0u32; N as usize];
    for trial in 0..TRIALS {
        let (mut features, mut labels) = ([0.0f32; C], [0u16; C]);
        let rng = Xoshiro256PlusPlus::seed_from_u64(u64::from(trial));
        let mut store = SampleStore::new(
            1,
            2,
            C,
            Retention::Reservoir,
            rng,
            &mut features,
            &mut labels,
        )
        .unwrap();
        let mut dropped = 0;
        for k in 0..N {
            if store.push(&[k as f32], 0).unwrap() == PushOutcome::Dropped {
                dropped += 1;
            }
        }
        assert_eq!((store.len(), store.seen()), (C, u64::from(N)));
        let mut held: Vec<u32> = (0..C)
            .map(|i| store.sample(i).unwrap().0[0] as u32)
            .collect();
        held.sort_unstable();
        held.dedup();
        assert_eq!(held.len(), C, "each arrival is held at most once");
        assert!(dropped <= N as usize - C);
        for a in held {
            counts[a as usize] += 1;
        }
    }
    // Mean TRIALS * C / N = 800, sd sqrt(4000 * 0.2 * 0.8) = 25.3; 5 sd = 126
    // (a false alarm over the 50 counts has probability ~3e-5).
    let p = C as f64 / f64::from(N);
    let mean = f64::from(TRIALS) * p;
    let sd = (f64::from(TRIALS) * p * (1.0 - p)).sqrt();
    for (k, &c) in counts.iter().enumerate() {
        assert!(
            (f64::from(c) - mean).abs() <= 5.0 * sd,
            "arrival {k} held {c} times, expected {mean} +- {:.1} (5 sd): {counts:?}",
            5.0 * sd
        );
    }
    // The test can fail: the first C arrivals of a store that never replaces
    // would be held every time.
    assert!(counts[..C].iter().all(|&c| c < TRIALS / 2));
}

#[test]
fn too_few_samples_is_an_error_that_says_so() {
    let setup = setup(lbfgs(), Retention::Latest);
    let mut memory = Memory::new(&setup);
    let before = memory.params.clone();
    let (_, rng) = seed_streams(1);
    let mut trainer = OnlineTrainer::new(mlp(), &setup, rng, memory.buffers()).unwrap();
    for k in 0..5 {
        let (x, y) = arrival(k);
        trainer.push(&x, y).unwrap();
    }
    let err = trainer.train(3).unwrap_err();
    assert_eq!(err, Error::TooFewSamples { held: 5, batch: 8 });
    assert_eq!(
        err.to_string(),
        "the sample store holds 5 samples, fewer than one batch of 8: push more samples (or use a smaller batch) before training"
    );
    assert_eq!(trainer.params(), &before[..]);
    assert_eq!(trainer.counts(), (0, 0, 0));
    // A smaller batch trains on what is there.
    trainer.set_batch_size(5).unwrap();
    assert_eq!(trainer.train(2).unwrap().steps, 2);
    for bad in [0, 17] {
        assert_eq!(
            trainer.set_batch_size(bad),
            Err(Error::InvalidBatchSize {
                batch: bad,
                len: 16
            })
        );
    }
    assert_eq!(trainer.batch_size(), 5);
}

#[test]
fn bad_samples_are_refused_and_change_nothing() {
    let setup = setup(lbfgs(), Retention::Reservoir);
    let mut memory = Memory::new(&setup);
    let (_, rng) = seed_streams(1);
    let mut trainer = OnlineTrainer::new(mlp(), &setup, rng, memory.buffers()).unwrap();
    for k in 0..20 {
        let (x, y) = arrival(k);
        trainer.push(&x, y).unwrap();
    }
    let mut snapshot = vec![0u8; setup.buffer_lengths(&SHAPE).snapshot];
    trainer.save(&mut snapshot).unwrap();
    assert_eq!(
        trainer.push(&[0.1, 0.2], 0),
        Err(Error::WidthMismatch { model: 3, data: 2 })
    );
    assert_eq!(
        trainer.push(&[0.1, 0.2, 0.3], 3),
        Err(Error::LabelOutOfRange {
            index: 20,
            label: 3,
            classes: 3
        })
    );
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        assert_eq!(
            trainer.push(&[0.1, bad, 0.3], 1),
            Err(Error::NonFiniteFeature { index: 20 })
        );
    }
    // Nothing changed, not even the reservoir's stream.
    let mut after = vec![0u8; snapshot.len()];
    trainer.save(&mut after).unwrap();
    assert_eq!(after, snapshot);
    // Replacing the parameters: checked, and the optimizer starts afresh.
    trainer.train(6).unwrap();
    let n = SHAPE.param_count();
    let pairs = |t: &OnlineTrainer<'_>| {
        let mut state = t.optimizer_state().to_vec();
        Lbfgs::resume(LbfgsConfig::new(3), n, &mut state)
            .unwrap()
            .pairs()
    };
    assert!(pairs(&trainer) > 0);
    let mut bad = vec![0.25f32; n];
    bad[3] = f32::NAN;
    assert!(trainer.set_params(&bad).is_err());
    assert!(trainer.set_params(&bad[1..]).is_err());
    assert!(pairs(&trainer) > 0, "a refused replacement changes nothing");
    bad[3] = 0.0;
    trainer.set_params(&bad).unwrap();
    assert_eq!(trainer.params(), &bad[..]);
    assert_eq!(pairs(&trainer), 0);
    trainer.train(3).unwrap();
    assert!(pairs(&trainer) > 0);
    let (mut init, _) = seed_streams(9);
    trainer
        .reset_params(Init::GlorotUniform, &mut init)
        .unwrap();
    assert_ne!(trainer.params(), &bad[..]);
    assert_eq!(pairs(&trainer), 0);
}

/// A learning rate that overflows: every step recovers, and neither the
/// parameters nor the optimizer's state ever hold a NaN.
#[test]
fn a_diverging_optimizer_never_stores_nan() {
    let config = OptimizerConfig::Sgd(SgdConfig {
        momentum: 0.9,
        ..SgdConfig::new(3e38)
    });
    let setup = setup(config, Retention::Latest);
    let mut memory = Memory::new(&setup);
    let (_, rng) = seed_streams(1);
    let mut trainer = OnlineTrainer::new(mlp(), &setup, rng, memory.buffers()).unwrap();
    let mut recoveries = 0;
    for k in 0..30 {
        let (x, y) = arrival(k);
        trainer.push(&x, y).unwrap();
        if k >= 8 {
            recoveries += trainer.train(2).unwrap().recoveries;
        }
        assert!(trainer.params().iter().all(|v| v.is_finite()));
        assert!(trainer.optimizer_state().iter().all(|v| !v.is_nan()));
    }
    assert!(recoveries > 0);
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[test]
fn a_wrong_short_or_corrupt_saved_state_is_refused() {
    let setup = setup(lbfgs(), Retention::Latest);
    let len = setup.buffer_lengths(&SHAPE);
    let mut memory = Memory::new(&setup);
    let (_, rng) = seed_streams(1);
    let mut trainer = OnlineTrainer::new(mlp(), &setup, rng, memory.buffers()).unwrap();
    for k in 0..12 {
        let (x, y) = arrival(k);
        trainer.push(&x, y).unwrap();
    }
    trainer.train(4).unwrap();
    let mut short = vec![0u8; len.snapshot - 1];
    assert_eq!(
        trainer.save(&mut short),
        Err(Error::BufferLength {
            buffer: Buffer::Snapshot,
            expected: len.snapshot,
            actual: len.snapshot - 1
        })
    );
    let mut good = vec![0u8; len.snapshot + 5];
    assert_eq!(trainer.save(&mut good), Ok(len.snapshot));
    good.truncate(len.snapshot);
    assert_eq!(&good[..8], SNAPSHOT_MAGIC);
    let restore = |bytes: &[u8], mlp: Mlp, setup: &OnlineSetup| {
        let mut fresh = Memory::new(setup);
        OnlineTrainer::restore(mlp, setup, bytes, fresh.buffers())
            .map(|t| t.params().to_vec())
            .map_err(|e| match e {
                Error::Format { offset, .. } => offset,
                other => panic!("{other:?}"),
            })
    };
    assert_eq!(restore(&good, mlp(), &setup).unwrap(), trainer.params());
    // Not a saved state, another version, truncated.
    assert_eq!(restore(b"SOOTHMDL\x02\x00", mlp(), &setup), Err(0));
    let mut other_version = good.clone();
    other_version[8] = 2;
    assert_eq!(restore(&other_version, mlp(), &setup), Err(8));
    assert_eq!(
        restore(&good[..good.len() - 1], mlp(), &setup),
        Err(good.len() - 1)
    );
    // A flipped bit anywhere: the checksum.
    for at in [12, 200, good.len() / 2, good.len() - 9] {
        let mut corrupt = good.clone();
        corrupt[at] ^= 0x10;
        assert_eq!(
            restore(&corrupt, mlp(), &setup),
            Err(good.len() - 8),
            "byte {at}"
        );
    }
    // Another network, retention or capacity.
    let relu = Mlp::new(SHAPE, Activation::Relu);
    assert_eq!(restore(&good, relu, &setup), Err(12));
    let reservoir = OnlineSetup {
        retention: Retention::Reservoir,
        ..setup
    };
    assert_eq!(restore(&good, mlp(), &reservoir), Err(10));
    let bigger = OnlineSetup {
        capacity: 17,
        ..setup
    };
    assert!(restore(&good, mlp(), &bigger).is_err());
    // Counters out of range, with a valid checksum: 17 held of 16.
    let mut counters = good.clone();
    counters[36..40].copy_from_slice(&17u32.to_le_bytes());
    let body = counters.len() - 8;
    let sum = fnv(&counters[..body]);
    counters[body..].copy_from_slice(&sum.to_le_bytes());
    assert_eq!(restore(&counters, mlp(), &setup), Err(36));
    // Another optimizer of the same state length is caught by the
    // optimizer state's own header (SGD's is shorter: the length differs).
    let sgd_setup = OnlineSetup {
        optimizer: sgd(),
        ..setup
    };
    assert!(restore(&good, mlp(), &sgd_setup).is_err());
}

/// A data source whose reads can fail (as over SPI): its error comes back
/// from `push_from` and `evaluate`.
struct Flaky {
    fail_at: usize,
}

#[derive(Debug, PartialEq)]
enum FlakyError {
    Timeout(usize),
    Core(Error),
}

impl From<Error> for FlakyError {
    fn from(e: Error) -> Self {
        FlakyError::Core(e)
    }
}

impl TryDataset for Flaky {
    type Error = FlakyError;
    fn sample_count(&self) -> usize {
        10
    }
    fn feature_count(&self) -> usize {
        WIDTH
    }
    fn class_count(&self) -> usize {
        3
    }
    fn try_fetch(&self, index: usize, features: &mut [f32]) -> Result<usize, FlakyError> {
        if index == self.fail_at {
            return Err(FlakyError::Timeout(index));
        }
        let (x, y) = arrival(index as u32);
        features.copy_from_slice(&x);
        Ok(y)
    }
}

#[test]
fn fallible_sources_report_their_errors() {
    let setup = setup(sgd(), Retention::Latest);
    let mut memory = Memory::new(&setup);
    let (_, rng) = seed_streams(1);
    let mut trainer = OnlineTrainer::new(mlp(), &setup, rng, memory.buffers()).unwrap();
    let source = Flaky { fail_at: 4 };
    for i in 0..4 {
        assert_eq!(trainer.push_from(&source, i), Ok(PushOutcome::Added));
    }
    assert_eq!(trainer.push_from(&source, 4), Err(FlakyError::Timeout(4)));
    assert_eq!(
        trainer.push_from(&source, 10),
        Err(FlakyError::Core(Error::IndexOutOfRange {
            index: 10,
            len: 10
        }))
    );
    assert_eq!(trainer.store().len(), 4);
    assert_eq!(trainer.evaluate(&source), Err(FlakyError::Timeout(4)));
    // A source that reads fine evaluates as the same samples in memory do.
    let fine = Flaky {
        fail_at: usize::MAX,
    };
    let via_source = trainer.evaluate(&fine).unwrap();
    let rows: Vec<(Vec<f32>, u16)> = (0..10u32)
        .map(|k| {
            let (x, y) = arrival(k);
            (x.to_vec(), y as u16)
        })
        .collect();
    let xs: Vec<f32> = rows.iter().flat_map(|r| r.0.clone()).collect();
    let ys: Vec<u16> = rows.iter().map(|r| r.1).collect();
    let data = SliceDataset::new(&xs, &ys, WIDTH, 3).unwrap();
    assert_eq!(trainer.evaluate(&data).unwrap(), via_source);
    assert_eq!(via_source.total, 10);
    let store = trainer.evaluate_store().unwrap();
    assert_eq!(store.total, 4);
    // Probabilities: one per class, the predicted class the largest.
    let mut p = [0.0f32; 3];
    let (x, _) = arrival(3);
    let class = trainer.probabilities(&x, &mut p).unwrap();
    assert_eq!(class, trainer.predict(&x).unwrap());
    assert!(p.iter().all(|&v| v > 0.0 && v < 1.0));
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-6);
    assert!(p.iter().all(|&v| v <= p[class]));
    assert!(trainer.probabilities(&x, &mut [0.0; 2]).is_err());
}

#[test]
fn buffers_are_checked() {
    let setup = setup(lbfgs(), Retention::Latest);
    let (_, rng) = seed_streams(1);
    let mut memory = Memory::new(&setup);
    memory.labels.pop();
    assert!(matches!(
        OnlineTrainer::new(mlp(), &setup, rng.clone(), memory.buffers()),
        Err(Error::BufferLength {
            buffer: Buffer::StoreLabels,
            ..
        })
    ));
    let mut memory = Memory::new(&setup);
    memory.optimizer.pop();
    assert!(matches!(
        OnlineTrainer::new(mlp(), &setup, rng.clone(), memory.buffers()),
        Err(Error::BufferLength {
            buffer: Buffer::OptimizerState,
            ..
        })
    ));
    let mut memory = Memory::new(&setup);
    memory.params[0] = f32::INFINITY;
    assert!(OnlineTrainer::new(mlp(), &setup, rng.clone(), memory.buffers()).is_err());
    let big_batch = OnlineSetup {
        batch_size: 17,
        ..setup
    };
    let mut memory = Memory::new(&setup);
    assert_eq!(
        OnlineTrainer::new(mlp(), &big_batch, rng, memory.buffers()).err(),
        Some(Error::InvalidBatchSize { batch: 17, len: 16 })
    );
}

/// The sizes the README's RAM table states (thumbv7em: BLOCK = 8).
#[test]
fn buffer_lengths_add_up() {
    const DIGITS: Shape = match Shape::new(&[64, 16, 10]) {
        Ok(s) => s,
        Err(_) => panic!(),
    };
    let setup = OnlineSetup {
        optimizer: OptimizerConfig::Lbfgs(LbfgsConfig::new(5)),
        capacity: 64,
        retention: Retention::Latest,
        batch_size: 32,
    };
    let len = setup.buffer_lengths(&DIGITS);
    assert_eq!(len.params, 64 * 16 + 16 + 16 * 10 + 10);
    assert_eq!(len.optimizer, Lbfgs::storage_len(1210, 5));
    assert_eq!((len.indices, len.samples, len.labels), (64, 64 * 64, 64));
    assert_eq!(
        len.ram_bytes(),
        4 * (1210 + DIGITS.workspace_len() + 12 * 1210 + 21 + 64 + 4096) + 2 * 64
    );
    assert_eq!(
        len.snapshot,
        140 + 4 * (1210 + 12 * 1210 + 21 + 4096) + 2 * 64 + 8
    );
}

/// The README's RAM table ("Learning on your own board"): bytes of the
/// buffers and of the saved state on the Cortex-M4F, where the workspace
/// holds 8 samples (`BLOCK`; 32 on x86_64 with SIMD).
#[test]
fn readme_ram_table() {
    let rows: [(&[usize], OptimizerConfig, usize, usize, usize); 8] = [
        (&[3, 8, 2], sgd(), 128, 3_796, 2_760),
        (
            &[3, 8, 2],
            OptimizerConfig::Lbfgs(LbfgsConfig::new(5)),
            128,
            5_660,
            4_624,
        ),
        (&[64, 16, 10], sgd(), 64, 39_540, 36_040),
        (&[64, 16, 10], sgd(), 128, 56_308, 52_552),
        (
            &[64, 16, 10],
            OptimizerConfig::Lbfgs(LbfgsConfig::new(5)),
            64,
            83_164,
            79_664,
        ),
        (
            &[64, 16, 10],
            OptimizerConfig::Lbfgs(LbfgsConfig::new(5)),
            128,
            99_932,
            96_176,
        ),
        (
            &[64, 16, 10],
            OptimizerConfig::Lbfgs(LbfgsConfig {
                pair_precision: PairPrecision::Bf16,
                ..LbfgsConfig::new(5)
            }),
            128,
            80_572,
            76_816,
        ),
        (&[64, 32, 10], sgd(), 128, 76_532, 71_752),
    ];
    for (widths, optimizer, capacity, ram, snapshot) in rows {
        let shape = Shape::new(widths).unwrap();
        let setup = OnlineSetup {
            optimizer,
            capacity,
            retention: Retention::Latest,
            batch_size: 1,
        };
        let len = setup.buffer_lengths(&shape);
        let m4f_work = shape.workspace_len() / BLOCK * 8;
        let m4f_ram = len.ram_bytes() - 4 * len.work + 4 * m4f_work;
        println!(
            "{widths:?} {optimizer:?} c={capacity}: params {} work(M4F) {m4f_work} optimizer {} samples {} -> {m4f_ram} B RAM, snapshot {} B",
            len.params, len.optimizer, len.samples, len.snapshot
        );
        assert_eq!(
            (m4f_ram, len.snapshot),
            (ram, snapshot),
            "{widths:?} {optimizer:?} {capacity}"
        );
    }
}
