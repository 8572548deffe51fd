//! The trainer over one buffer struct, with the data sets passed to each call.

use sooth_core::*;

const SHAPE: Shape = match Shape::new(&[2, 5, 2]) {
    Ok(s) => s,
    Err(_) => panic!(),
};

const SETUP: TrainSetup = TrainSetup {
    optimizer: OptimizerConfig::Lbfgs(LbfgsConfig::new(3)),
    batch_size: 3,
    sampling: Sampling::Shuffle,
    last_batch: LastBatch::Keep,
    options: TrainOptions {
        evaluate_train: true,
        ..TrainOptions::NONE
    },
};

/// 8 points on two sides of a line.
fn rows() -> (Vec<f32>, Vec<u8>) {
    let x = vec![
        0.1, 0.2, 0.9, 0.8, 0.2, 0.1, 0.8, 0.9, 0.3, 0.2, 0.7, 0.9, 0.2, 0.3, 0.9, 0.7,
    ];
    let y = vec![0, 1, 0, 1, 0, 1, 0, 1];
    (x, y)
}

/// Owned buffers of `SETUP` for `SHAPE` on 8 samples.
struct Owned {
    params: Vec<f32>,
    work: Vec<f32>,
    indices: Vec<u32>,
    optimizer: Vec<f32>,
}

fn owned() -> Owned {
    let len = SETUP.buffer_lengths(&SHAPE, 8);
    let mut params = vec![0.0; len.params];
    let (mut init, _) = seed_streams(3);
    Mlp::new(SHAPE, Activation::Tanh)
        .init(&mut params, Init::GlorotUniform, &mut init)
        .unwrap();
    Owned {
        params,
        work: vec![0.0; len.work],
        indices: vec![0; len.indices],
        optimizer: vec![0.0; len.optimizer],
    }
}

impl Owned {
    fn buffers(&mut self) -> TrainBuffers<'_> {
        TrainBuffers {
            params: &mut self.params,
            work: &mut self.work,
            indices: &mut self.indices,
            optimizer: &mut self.optimizer,
            selected: None,
        }
    }
}

#[test]
fn buffer_lengths_are_the_parts_sizes() {
    let len = SETUP.buffer_lengths(&SHAPE, 8);
    assert_eq!(
        len,
        BufferLengths {
            params: 27,
            work: SHAPE.workspace_len(),
            indices: 8,
            optimizer: Lbfgs::storage_len(27, 3),
        }
    );
    let with_replacement = TrainSetup {
        sampling: Sampling::WithReplacement,
        optimizer: OptimizerConfig::Sgd(SgdConfig::new(0.1)),
        ..SETUP
    };
    let other = with_replacement.buffer_lengths(&SHAPE, 8);
    assert_eq!((other.indices, other.optimizer), (3, 3 * 27 + 5));
    assert_eq!(len.max(other), len);
}

/// The data are not borrowed between calls: the caller changes a sample
/// between epochs (as an online learner pushes one), and the next epoch sees it.
#[test]
fn data_change_between_calls_and_the_next_epoch_sees_them() {
    let run = |change: bool| {
        let (mut x, mut y) = rows();
        let mut owned = owned();
        let (_, sampler_rng) = seed_streams(3);
        let mlp = Mlp::new(SHAPE, Activation::Tanh);
        let mut trainer = Trainer::new(mlp, &SETUP, 8, sampler_rng, owned.buffers()).unwrap();
        let mut reports = Vec::new();
        for epoch in 0..4 {
            let data = SliceDataset::new(&x, &y, 2, 2).unwrap();
            let report = trainer.run_epoch(&data, &data).unwrap();
            assert!(report.train.is_some());
            reports.push(report);
            if change && epoch == 1 {
                // Replace sample 0 with a new one.
                (x[0], x[1], y[0]) = (0.95, 0.05, 1);
            }
        }
        (reports, param_hash(trainer.params()))
    };
    let (same, same_hash) = run(false);
    let (changed, changed_hash) = run(true);
    assert_eq!(changed[..2], same[..2]);
    assert_ne!(changed[2].mean_batch_loss, same[2].mean_batch_loss);
    assert_ne!(changed_hash, same_hash);
}

/// `run_epoch` is `train_steps` then `evaluate`.
#[test]
fn an_epoch_is_steps_then_evaluation() {
    let (x, y) = rows();
    let data = SliceDataset::new(&x, &y, 2, 2).unwrap();
    let mlp = Mlp::new(SHAPE, Activation::Tanh);
    let (mut a, mut b) = (owned(), owned());
    let mut whole = Trainer::new(mlp, &SETUP, 8, seed_streams(3).1, a.buffers()).unwrap();
    let mut halves = Trainer::new(mlp, &SETUP, 8, seed_streams(3).1, b.buffers()).unwrap();
    for _ in 0..3 {
        let report = whole.run_epoch(&data, &data).unwrap();
        let steps = halves.train_steps(&data).unwrap();
        assert_eq!(steps.steps, 3);
        assert_eq!(halves.evaluate(steps, &data, Some(&data)).unwrap(), report);
    }
    let steps = halves.train_steps(&data).unwrap();
    let no_train = halves.evaluate(steps, &data, None::<&SliceDataset<'_, u8>>);
    assert_eq!(no_train.unwrap().train, None);
}

#[test]
fn each_call_checks_its_data_and_new_checks_the_buffers() {
    let (x, y) = rows();
    let data = SliceDataset::new(&x, &y, 2, 2).unwrap();
    let seven = SliceDataset::new(&x[..14], &y[..7], 2, 2).unwrap();
    let wide = SliceDataset::new(&x[..12], &y[..4], 3, 2).unwrap();
    let mlp = Mlp::new(SHAPE, Activation::Tanh);
    let mut owned = owned();
    let mut trainer = Trainer::new(mlp, &SETUP, 8, seed_streams(3).1, owned.buffers()).unwrap();
    assert_eq!(
        trainer.run_epoch(&seven, &data).err(),
        Some(Error::InvalidBatchSize { batch: 3, len: 7 })
    );
    assert_eq!(
        trainer.run_epoch(&wide, &data).err(),
        Some(Error::WidthMismatch { model: 2, data: 3 })
    );
    assert_eq!(
        trainer.run_epoch(&data, &wide).err(),
        Some(Error::WidthMismatch { model: 2, data: 3 })
    );
    assert_eq!(trainer.epoch(), 1);

    let mut owned = crate::owned();
    let short = TrainBuffers {
        params: &mut owned.params,
        work: &mut owned.work,
        indices: &mut owned.indices[..7],
        optimizer: &mut owned.optimizer,
        selected: None,
    };
    assert!(matches!(
        Trainer::new(mlp, &SETUP, 8, seed_streams(3).1, short).err(),
        Some(Error::BufferLength {
            buffer: Buffer::Indices,
            expected: 8,
            actual: 7
        })
    ));
    let len = SETUP.buffer_lengths(&SHAPE, 8).optimizer;
    let short = TrainBuffers {
        params: &mut owned.params,
        work: &mut owned.work,
        indices: &mut owned.indices,
        optimizer: &mut owned.optimizer[..len - 1],
        selected: None,
    };
    assert!(matches!(
        Trainer::new(mlp, &SETUP, 8, seed_streams(3).1, short).err(),
        Some(Error::BufferLength {
            buffer: Buffer::OptimizerState,
            ..
        })
    ));
    owned.params[4] = f32::NAN;
    assert!(matches!(
        Trainer::new(mlp, &SETUP, 8, seed_streams(3).1, owned.buffers()).err(),
        Some(Error::InvalidHyperparameter {
            name: "initial parameters",
            ..
        })
    ));
}
