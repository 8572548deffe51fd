//! The host replay of the firmware's adapt program
//! ([`sooth_reference::adapt`]): the same host model, stream, online
//! learning and evaluations, through the same shared code, printed as the
//! same log lines (`sooth adapt`). For the firmware's seed, its lines are
//! the device's, bit for bit (`tests/firmware_adapt.rs`).

use serde::Serialize;
use sooth_core::{Evaluation, Mlp, SliceDataset};
use sooth_reference::adapt::{self, Checkpoint, Shifted};
use sooth_reference::{self as reference, ReferenceRun, RunStorage, digits};

/// What can go wrong in a replay.
#[derive(Debug, thiserror::Error)]
pub enum AdaptError {
    /// The core refused a buffer, a data set or a setting.
    #[error("the adapt program failed: {0}")]
    Core(#[from] sooth_core::Error),
}

/// The host model of a seed, as the firmware's `model` line reports it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HostModel {
    /// The seed that trained it.
    pub seed: u64,
    /// Its parameters.
    #[serde(skip)]
    pub params: Vec<f32>,
    /// `param_hash` of the parameters (in JSON: 16 hex digits).
    #[serde(serialize_with = "serialize_hash")]
    pub param_hash: u64,
    /// The clean test split.
    #[serde(serialize_with = "serialize_eval")]
    pub clean_test: Evaluation,
    /// The shifted test split (the held-out samples).
    #[serde(serialize_with = "serialize_eval")]
    pub shifted_test: Evaluation,
}

/// One optimizer's adaptation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Adaptation {
    /// The run's name (`lbfgs`, `sgd`).
    pub run: &'static str,
    /// Samples that arrived.
    pub arrivals: u32,
    /// Every checkpoint, from 0 arrivals.
    #[serde(serialize_with = "serialize_checkpoints")]
    pub checkpoints: Vec<Checkpoint>,
    /// `param_hash` of the adapted parameters (in JSON: 16 hex digits).
    #[serde(serialize_with = "serialize_hash")]
    pub param_hash: u64,
}

/// A whole replay: the host model, then each run.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Replay {
    /// The host model.
    pub model: HostModel,
    /// The adaptations, in the order asked for.
    pub runs: Vec<Adaptation>,
}

/// The clean digits as f32 rows (`level / 16`).
fn rows(levels: &[u8]) -> Vec<f32> {
    levels
        .iter()
        .map(|&q| f32::from(q) * digits::LEVEL_SCALE)
        .collect()
}

/// Trains the host model of `seed` ([`adapt::train_host_model`]) and
/// evaluates it on the clean and the shifted test split.
pub fn host_model(seed: u64) -> Result<HostModel, AdaptError> {
    let (train_x, test_x) = (rows(digits::TRAIN_LEVELS), rows(digits::TEST_LEVELS));
    let slice = |x, y| SliceDataset::new(x, y, reference::INPUTS, reference::CLASSES);
    let train = slice(&train_x, digits::TRAIN_LABELS)?;
    let test = slice(&test_x, digits::TEST_LABELS)?;
    let mut storage = Box::new(RunStorage::new());
    let outcome = adapt::train_host_model(seed, storage.buffers(), &train, &test)?;
    let params = storage.params.to_vec();
    let mlp = Mlp::new(reference::SHAPE, reference::ACTIVATION);
    let mut work = vec![0.0; reference::SHAPE.workspace_len()];
    let shifted_test = mlp.evaluate(&params, &Shifted::test(), &mut work)?;
    Ok(HostModel {
        seed,
        params,
        param_hash: outcome.param_hash,
        clean_test: outcome.last.test,
        shifted_test,
    })
}

/// The host model's bytes in the saved-model format (as `sooth train
/// --save` writes them; [`adapt::BUILT_IN_MODEL`] for [`adapt::SEED`]).
pub fn model_bytes(model: &HostModel) -> Result<Vec<u8>, AdaptError> {
    let mlp = Mlp::new(reference::SHAPE, reference::ACTIVATION);
    let mut bytes = vec![0u8; sooth_core::saved_len(&reference::SHAPE, false)];
    let len = sooth_core::write_model(&mlp, &model.params, None, &mut bytes)?;
    bytes.truncate(len);
    Ok(bytes)
}

/// Adapts `model` with each of `runs` on the stream of `model.seed`, for
/// `arrivals` samples ([`adapt::ARRIVALS`] on the firmware's release build).
pub fn replay(
    model: HostModel,
    runs: &[ReferenceRun],
    arrivals: u32,
) -> Result<Replay, AdaptError> {
    let mut storage = Box::new(adapt::Storage::new());
    let (source, test) = (Shifted::train(), Shifted::test());
    // From the saved model's bytes, as the firmware reads its built-in one.
    let bytes = model_bytes(&model)?;
    let saved = sooth_core::SavedModel::read(&bytes)?;
    let mut adaptations = Vec::new();
    for spec in runs {
        let mut checkpoints = Vec::new();
        let outcome = adapt::run(
            &adapt::Setup {
                optimizer: spec.optimizer,
                seed: model.seed,
                arrivals,
            },
            &saved,
            &mut storage,
            &source,
            &test,
            |c| checkpoints.push(*c),
        )?;
        adaptations.push(Adaptation {
            run: spec.name,
            arrivals,
            checkpoints,
            param_hash: outcome.param_hash,
        });
    }
    Ok(Replay {
        model,
        runs: adaptations,
    })
}

/// The replay as the firmware logs it: one line per model, run header,
/// checkpoint and run end, in the firmware's words (`firmware/src/bin/adapt.rs`).
pub fn log_lines(replay: &Replay) -> Vec<String> {
    let m = &replay.model;
    let mut lines = vec![model_line(m)];
    for run in &replay.runs {
        lines.push(run_line(run.run, m.seed, run.arrivals));
        lines.extend(run.checkpoints.iter().map(|c| checkpoint_line(run.run, c)));
        if let Some(last) = run.checkpoints.last() {
            lines.push(final_line(run.run, last, run.param_hash));
        }
    }
    lines
}

/// The `adapt_model` line.
pub fn model_line(m: &HostModel) -> String {
    format!(
        "adapt_model seed={} param_hash={:016x} clean_test_correct={} shifted_test_correct={} test_total={} shifted_test_loss={}",
        m.seed,
        m.param_hash,
        m.clean_test.correct,
        m.shifted_test.correct,
        m.shifted_test.total,
        m.shifted_test.loss,
    )
}

/// The `adapt_run` line (a run's header).
pub fn run_line(run: &str, seed: u64, arrivals: u32) -> String {
    format!(
        "adapt_run run={run} seed={seed} arrivals={arrivals} block={} steps_per_block={} batch={} capacity={}",
        adapt::BLOCK,
        adapt::STEPS_PER_BLOCK,
        adapt::BATCH_SIZE,
        adapt::CAPACITY,
    )
}

/// The `adapt` line of a checkpoint.
pub fn checkpoint_line(run: &str, c: &Checkpoint) -> String {
    format!(
        "adapt run={run} arrivals={} stored={} steps={} test_correct={} test_total={} test_accuracy={} test_loss={} mean_batch_loss={} evaluations={} gradients={} recoveries={} curvature_skips={}",
        c.arrivals,
        c.stored,
        c.steps,
        c.test.correct,
        c.test.total,
        c.test.accuracy(),
        c.test.loss,
        c.mean_batch_loss,
        c.evaluations,
        c.gradients,
        c.recoveries,
        c.curvature_skips,
    )
}

/// The `adapt_final` line (a run's end).
pub fn final_line(run: &str, c: &Checkpoint, param_hash: u64) -> String {
    format!(
        "adapt_final run={run} arrivals={} test_correct={} test_total={} test_accuracy={} param_hash={param_hash:016x}",
        c.arrivals,
        c.test.correct,
        c.test.total,
        c.test.accuracy(),
    )
}

fn serialize_hash<S: serde::Serializer>(hash: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format!("{hash:016x}"))
}

fn serialize_eval<S: serde::Serializer>(e: &Evaluation, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct E {
        correct: u32,
        total: u32,
        accuracy: f64,
        loss: f64,
    }
    E {
        correct: e.correct,
        total: e.total,
        accuracy: e.accuracy(),
        loss: e.loss,
    }
    .serialize(s)
}

fn serialize_checkpoints<S: serde::Serializer>(
    checkpoints: &[Checkpoint],
    s: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct C {
        arrivals: u32,
        stored: u32,
        steps: u64,
        test_correct: u32,
        test_total: u32,
        test_accuracy: f64,
        test_loss: f64,
        /// None before the first block (NaN is not JSON).
        mean_batch_loss: Option<f64>,
        evaluations: u64,
        gradients: u64,
    }
    s.collect_seq(checkpoints.iter().map(|c| C {
        arrivals: c.arrivals,
        stored: c.stored,
        steps: c.steps,
        test_correct: c.test.correct,
        test_total: c.test.total,
        test_accuracy: c.test.accuracy(),
        test_loss: c.test.loss,
        mean_batch_loss: c.mean_batch_loss.is_finite().then_some(c.mean_batch_loss),
        evaluations: c.evaluations,
        gradients: c.gradients,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sooth_core::Dataset;

    /// The shift: one pixel right (zeros in on the left), then
    /// `level * 3 / 2 + 1`, integer-exact; features are `level / 16`.
    #[test]
    fn the_shift_moves_one_pixel_right_with_gain_and_offset() {
        let mut image = [0u8; 64];
        image[0] = 16; // row 0, column 0
        image[7] = 5; // row 0, column 7: dropped
        image[8 * 3 + 4] = 3; // row 3, column 4
        let mut out = [0u8; 64];
        adapt::distort(&image, &mut out);
        let mut expected = [1u8; 64]; // background 0 -> 1
        expected[1] = 25; // 16 * 3 / 2 + 1
        expected[8 * 3 + 5] = 5; // 3 * 3 / 2 + 1 = 4 + 1
        assert_eq!(out, expected);
        // The held-out samples are the shifted test split, as features.
        let test = Shifted::test();
        assert_eq!(test.len(), 450);
        let mut features = [0.0f32; 64];
        let label = test.fetch(7, &mut features);
        adapt::distort(&digits::TEST_LEVELS[7 * 64..8 * 64], &mut out);
        assert_eq!(label, usize::from(digits::TEST_LABELS[7]));
        assert!(
            features
                .iter()
                .zip(&out)
                .all(|(&f, &l)| f == f32::from(l) / 16.0)
        );
    }

    /// The firmware's built-in model is the host model of the firmware's
    /// seed, byte for byte: regenerate it with
    /// `sooth adapt --save-model data/adapt/host-model.bin` if this fails
    /// after an intended change.
    #[test]
    fn the_built_in_model_is_the_host_model_of_the_seed() {
        let model = host_model(adapt::SEED).unwrap();
        assert_eq!(model_bytes(&model).unwrap(), adapt::BUILT_IN_MODEL);
        // It learned the clean digits, and the shift costs it over 20 points.
        assert!(model.clean_test.correct * 10 > model.clean_test.total * 9);
        assert!(model.shifted_test.correct + 90 < model.clean_test.correct);
    }
}
