//! The trainer's selection on a validation set and its stopping rules
//! (gtol, ftol, patience, stalled), on 8 points with the full batch.

use sooth_core::*;

const SHAPE: Shape = match Shape::new(&[2, 5, 2]) {
    Ok(s) => s,
    Err(_) => panic!(),
};

/// 8 points on two sides of a line.
fn rows() -> (Vec<f32>, Vec<u8>) {
    let x = vec![
        0.1, 0.2, 0.9, 0.8, 0.2, 0.1, 0.8, 0.9, 0.3, 0.2, 0.7, 0.9, 0.2, 0.3, 0.9, 0.7,
    ];
    let y = vec![0, 1, 0, 1, 0, 1, 0, 1];
    (x, y)
}

fn setup(optimizer: OptimizerConfig, batch_size: usize, options: TrainOptions) -> TrainSetup {
    TrainSetup {
        optimizer,
        batch_size,
        sampling: Sampling::Shuffle,
        last_batch: LastBatch::Keep,
        options,
    }
}

const SGD: OptimizerConfig = OptimizerConfig::Sgd(SgdConfig::new(0.5));
const LBFGS: OptimizerConfig = OptimizerConfig::Lbfgs(LbfgsConfig::new(5));

/// The reports, the selection, the selected parameters' hash and the
/// parameters' hash after each epoch.
type Run = (Vec<EpochReport>, Option<Selected>, Option<u64>, Vec<u64>);

/// Runs up to `epochs` epochs (stopping at the first reported stop) with
/// `validation` as the validation set; returns the reports, the selection,
/// the selected parameters' hash and the hash after each epoch.
fn run(
    setup: &TrainSetup,
    epochs: u32,
    validation: Option<&SliceDataset<'_, u8>>,
) -> Result<Run, Error> {
    let (x, y) = rows();
    let data = SliceDataset::new(&x, &y, 2, 2).unwrap();
    let len = setup.buffer_lengths(&SHAPE, 8);
    let mut params = vec![0.0; len.params];
    let (mut init, sampler) = seed_streams(3);
    let mlp = Mlp::new(SHAPE, Activation::Tanh);
    mlp.init(&mut params, Init::GlorotUniform, &mut init)
        .unwrap();
    let (mut work, mut indices) = (vec![0.0; len.work], vec![0; len.indices]);
    let (mut state, mut selected) = (vec![0.0; len.optimizer], vec![0.0; len.params]);
    let buffers = TrainBuffers {
        params: &mut params,
        work: &mut work,
        indices: &mut indices,
        optimizer: &mut state,
        selected: Some(&mut selected),
    };
    let mut trainer = Trainer::new(mlp, setup, 8, sampler, buffers)?;
    let (mut reports, mut hashes) = (Vec::new(), Vec::new());
    for _ in 0..epochs {
        let steps = trainer.train_steps(&data)?;
        let r = trainer.evaluate_with_validation(
            steps,
            &data,
            validation,
            None::<&SliceDataset<u8>>,
        )?;
        reports.push(r);
        hashes.push(param_hash(trainer.params()));
        if r.stop.is_some() {
            assert_eq!(trainer.stopped(), r.stop);
            break;
        }
    }
    let hash = trainer.selected_params().map(param_hash);
    Ok((reports, trainer.selected(), hash, hashes))
}

#[test]
fn selection_is_the_first_best_validation_epoch_with_its_test_accuracy_and_parameters() {
    // The validation set is the training points with the labels flipped:
    // its accuracy falls as the model learns, so an early epoch is chosen.
    let (x, y) = rows();
    let flipped: Vec<u8> = y.iter().map(|&l| 1 - l).collect();
    let validation = SliceDataset::new(&x, &flipped, 2, 2).unwrap();
    let s = setup(SGD, 8, TrainOptions::NONE);
    let (reports, selected, selected_hash, hashes) = run(&s, 12, Some(&validation)).unwrap();
    let accuracies: Vec<f64> = reports
        .iter()
        .map(|r| r.validation.unwrap().accuracy())
        .collect();
    let best = accuracies.iter().cloned().fold(f64::MIN, f64::max);
    let first = accuracies.iter().position(|&a| a == best).unwrap();
    let selected = selected.unwrap();
    assert_eq!(selected.epoch, first as u32 + 1);
    assert_eq!(selected.validation_accuracy, best);
    assert_eq!(selected.test_accuracy, reports[first].test.accuracy());
    assert_eq!(selected_hash, Some(hashes[first]));
    // The values of this constructed run.
    assert_eq!(
        (selected.epoch, best, selected.test_accuracy),
        (1, 1.0, 0.0)
    );
    assert_eq!(reports.last().unwrap().test.accuracy(), 1.0);
    assert!(reports.iter().all(|r| r.stop.is_none()));
}

#[test]
fn patience_stops_that_many_epochs_after_the_selected_one() {
    let (x, y) = rows();
    let flipped: Vec<u8> = y.iter().map(|&l| 1 - l).collect();
    let validation = SliceDataset::new(&x, &flipped, 2, 2).unwrap();
    let options = TrainOptions {
        patience: 3,
        ..TrainOptions::NONE
    };
    let (reports, selected, _, _) = run(&setup(SGD, 8, options), 50, Some(&validation)).unwrap();
    let selected = selected.unwrap();
    assert_eq!(reports.len() as u32, selected.epoch + 3);
    assert_eq!(reports.last().unwrap().stop, Some(StopReason::Patience));
    // Without a validation set patience has nothing to count.
    assert_eq!(
        run(&setup(SGD, 8, options), 1, None).err(),
        Some(Error::InvalidHyperparameter {
            name: "patience",
            expected: "a validation set"
        })
    );
}

#[test]
fn gtol_stops_lbfgs_where_the_gradient_is_small_without_moving() {
    let options = TrainOptions {
        gtol: 1e-2,
        ..TrainOptions::NONE
    };
    let (reports, _, _, hashes) = run(&setup(LBFGS, 8, options), 500, None).unwrap();
    let n = reports.len();
    assert!(n > 1 && n < 500, "{n} epochs");
    assert_eq!(reports[n - 1].stop, Some(StopReason::Gtol));
    // Converged: the last epoch left the parameters where they were.
    assert_eq!(hashes[n - 1], hashes[n - 2]);
    // The gradient at that point was known from the last line search.
    assert_eq!(reports[n - 1].evaluations, reports[n - 2].evaluations);
    // The same run without gtol goes on.
    let (all, _, _, _) = run(&setup(LBFGS, 8, TrainOptions::NONE), n as u32 + 5, None).unwrap();
    assert_eq!(all.len(), n + 5);
    assert_eq!(
        &hashes[..n - 1],
        &run(&setup(LBFGS, 8, TrainOptions::NONE), n as u32 - 1, None)
            .unwrap()
            .3[..]
    );
}

#[test]
fn ftol_stops_at_the_first_small_relative_reduction() {
    let ftol = 1e-3;
    let options = TrainOptions {
        ftol,
        ..TrainOptions::NONE
    };
    let sgd = OptimizerConfig::Sgd(SgdConfig::new(0.05));
    let (reports, _, _, _) = run(&setup(sgd, 8, options), 1000, None).unwrap();
    let n = reports.len();
    assert!(n > 2 && n < 1000, "{n} epochs");
    assert_eq!(reports[n - 1].stop, Some(StopReason::Ftol));
    // The rule on the losses at the steps' starts (one step per epoch).
    let reduction = |k: usize| {
        let (f0, f1) = (reports[k - 1].mean_batch_loss, reports[k].mean_batch_loss);
        (f0 - f1) / f0.abs().max(f1.abs()).max(1.0)
    };
    assert!(reduction(n - 1) <= ftol);
    assert!((1..n - 1).all(|k| reduction(k) > ftol));
}

#[test]
fn a_line_search_that_fails_afresh_without_moving_stalls_the_run() {
    // A first trial step of length 1e4: it saturates the network to a
    // zero loss, after which no step can decrease it. The next search fails
    // (and clears the history); the one after starts afresh at the same
    // parameters, fails too, and so would every later epoch.
    let lbfgs = OptimizerConfig::Lbfgs(LbfgsConfig {
        initial_step: 1e4,
        line_search: LineSearch::Armijo(Armijo::new(1e-4, 0.5, 1).unwrap()),
        ..LbfgsConfig::new(5)
    });
    let options = TrainOptions {
        stop_when_stalled: true,
        ..TrainOptions::NONE
    };
    let (reports, _, _, hashes) = run(&setup(lbfgs, 8, options), 20, None).unwrap();
    let summary: Vec<_> = reports
        .iter()
        .map(|r| {
            (
                r.line_search_failures,
                r.evaluations,
                r.mean_batch_loss,
                r.stop,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (0, 3, 0.9226762279868126, None),
            (1, 3, 0.0, None),
            (1, 4, 0.0, Some(StopReason::Stalled)),
        ]
    );
    assert_eq!(hashes[1], hashes[2]);
    // Without the rule the run repeats the same failure on the same
    // parameters, epoch after epoch.
    let (all, _, _, again) = run(&setup(lbfgs, 8, TrainOptions::NONE), 8, None).unwrap();
    assert_eq!(all.len(), 8);
    assert!(all[1..].iter().all(|r| r.line_search_failures == 1));
    assert!(again[1..].iter().all(|&h| h == hashes[2]));
    assert_eq!(all[7].evaluations, 4 + 5);
    // Minibatches: the rule does not apply (batches differ from step to step).
    let (mini, _, _, _) = run(&setup(lbfgs, 4, options), 3, None).unwrap();
    assert_eq!(mini.len(), 3);
}

#[test]
fn rules_that_need_the_full_batch_or_a_valid_value_are_refused() {
    for options in [
        TrainOptions {
            gtol: 1e-5,
            ..TrainOptions::NONE
        },
        TrainOptions {
            ftol: 1e-9,
            ..TrainOptions::NONE
        },
    ] {
        assert!(matches!(
            run(&setup(LBFGS, 4, options), 1, None).err(),
            Some(Error::InvalidHyperparameter {
                name: "gtol/ftol",
                ..
            })
        ));
    }
    let bad = TrainOptions {
        gtol: -1.0,
        ..TrainOptions::NONE
    };
    assert!(matches!(
        run(&setup(LBFGS, 8, bad), 1, None).err(),
        Some(Error::InvalidHyperparameter { name: "gtol", .. })
    ));
    let bad = TrainOptions {
        ftol: f64::NAN,
        ..TrainOptions::NONE
    };
    assert!(matches!(
        run(&setup(LBFGS, 8, bad), 1, None).err(),
        Some(Error::InvalidHyperparameter { name: "ftol", .. })
    ));
}

#[test]
fn selection_keeps_the_first_of_tied_best_epochs() {
    // Validation: the training points with two labels flipped, so at most
    // 6 of 8 are right; the first epoch that gets there is selected, and
    // later epochs that tie it do not replace it.
    let (x, mut y) = rows();
    y[0] = 1 - y[0];
    y[3] = 1 - y[3];
    let validation = SliceDataset::new(&x, &y, 2, 2).unwrap();
    let sgd = OptimizerConfig::Sgd(SgdConfig::new(0.1));
    let (reports, selected, selected_hash, hashes) =
        run(&setup(sgd, 8, TrainOptions::NONE), 40, Some(&validation)).unwrap();
    let accuracies: Vec<f64> = reports
        .iter()
        .map(|r| r.validation.unwrap().accuracy())
        .collect();
    let selected = selected.unwrap();
    let ties = accuracies
        .iter()
        .filter(|&&a| a == selected.validation_accuracy)
        .count();
    assert!(ties > 1, "{accuracies:?}");
    let first = accuracies
        .iter()
        .position(|&a| a == selected.validation_accuracy)
        .unwrap();
    assert_eq!(selected.epoch as usize, first + 1);
    assert_eq!(selected_hash, Some(hashes[first]));
    assert_eq!(selected.test_accuracy, reports[first].test.accuracy());
    assert_eq!(
        (
            selected.epoch,
            selected.validation_accuracy,
            selected.test_accuracy
        ),
        (31, 0.75, 1.0)
    );
    // Epochs 31 to 40 tie at 6 of 8; the parameters kept are epoch 31's.
    assert_ne!(hashes[first], hashes[39]);
}
