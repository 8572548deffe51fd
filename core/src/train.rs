//! The training loop that host and firmware share: epoch, minibatches,
//! optimizer steps, evaluation. It does no I/O; callers log the
//! [`EpochReport`]s it returns.

use crate::data::{Dataset, check_compatible};
use crate::error::{Buffer, Error, check_len, check_min_len};
use crate::hash::param_hash;
use crate::network::{Evaluation, Mlp, Shape};
use crate::optim::{AnyOptimizer, Curvature, Objective, Optimizer, OptimizerConfig, Status};
use crate::sampler::{LastBatch, Sampler, Sampling};
use rand_core::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

/// The two random streams of a run: parameter initialization, and the
/// sampler (the first stream advanced by xoshiro256++'s `jump`, 2^128 draws
/// ahead, so the two never overlap).
pub fn seed_streams(seed: u64) -> (Xoshiro256PlusPlus, Xoshiro256PlusPlus) {
    let init = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut sampler = init.clone();
    sampler.jump();
    (init, sampler)
}

/// The mean loss of `mlp` on one minibatch, as an [`Objective`].
pub struct BatchObjective<'b, D: ?Sized> {
    /// The network.
    pub mlp: &'b Mlp,
    /// The data set the batch indexes.
    pub data: &'b D,
    /// The sample indices of the batch.
    pub batch: &'b [u32],
    /// The network's activation workspace.
    pub work: &'b mut [f32],
    /// True if the batch is the same as the previous step's (full batch).
    pub unchanged: bool,
}

impl<D: Dataset + ?Sized> Objective for BatchObjective<'_, D> {
    fn loss_grad(&mut self, x: &[f32], grad: &mut [f32]) -> Result<f64, Error> {
        self.mlp
            .loss_grad(x, self.data, self.batch, grad, self.work)
    }
    fn loss(&mut self, x: &[f32]) -> Result<f64, Error> {
        self.mlp.loss(x, self.data, self.batch, self.work)
    }
    fn is_unchanged(&self) -> bool {
        self.unchanged
    }
}

/// Options of a [`Trainer`]: the evaluation of the training set and the
/// stopping rules. A rule only reports a stop ([`EpochReport::stop`]); the
/// caller ends the loop (the trainer would go on training if called).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrainOptions {
    /// Also evaluate the whole training set at the end of each epoch
    /// (a forward pass over it; the mean batch loss is always reported).
    pub evaluate_train: bool,
    /// Full batch only (0: off): stop when the infinity norm of the
    /// gradient at a step's start is at most this ([`StopReason::Gtol`]).
    /// L-BFGS then does not move (its `grad_tolerance` is raised to it).
    pub gtol: f32,
    /// Full batch only (0: off): SciPy's `ftol`, stop when
    /// `(f_k - f_k+1) / max(|f_k|, |f_k+1|, 1) <= ftol` for the losses at
    /// the starts of two consecutive steps ([`StopReason::Ftol`]).
    pub ftol: f64,
    /// Stop after this many epochs without a better validation accuracy
    /// (0: off; needs a validation set, [`StopReason::Patience`]).
    pub patience: u32,
    /// Full batch only: stop when a line search fails on a step that
    /// started afresh (first step, or right after a failure cleared the
    /// history) and the parameters did not change: every later step would
    /// repeat it exactly ([`StopReason::Stalled`]).
    pub stop_when_stalled: bool,
}

impl TrainOptions {
    /// No training-set evaluation and no stopping rule (a `const`
    /// [`Default`]).
    pub const NONE: TrainOptions = TrainOptions {
        evaluate_train: false,
        gtol: 0.0,
        ftol: 0.0,
        patience: 0,
        stop_when_stalled: false,
    };

    /// Whether any rule that needs the full batch is on.
    fn needs_full_batch(&self) -> bool {
        self.gtol > 0.0 || self.ftol > 0.0
    }
}

/// Why a [`TrainOptions`] rule stopped a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum StopReason {
    /// The full-batch gradient's infinity norm reached `gtol`.
    Gtol,
    /// The loss's relative reduction over one step was at most `ftol`.
    Ftol,
    /// `patience` epochs without a better validation accuracy.
    Patience,
    /// A line search failed right after a restart with the parameters
    /// unchanged: every later epoch would repeat it.
    Stalled,
}

impl StopReason {
    /// `gtol`, `ftol`, `patience` or `stalled`.
    pub const fn name(self) -> &'static str {
        match self {
            StopReason::Gtol => "gtol",
            StopReason::Ftol => "ftol",
            StopReason::Patience => "patience",
            StopReason::Stalled => "stalled",
        }
    }
}

/// The epoch selected on the validation set: the first with the best
/// validation accuracy, and its test accuracy.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Selected {
    /// Epoch, from 1.
    pub epoch: u32,
    /// Its validation accuracy, in `[0, 1]`.
    pub validation_accuracy: f64,
    /// Its test accuracy, in `[0, 1]`.
    pub test_accuracy: f64,
}

/// What one epoch did.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EpochReport {
    /// Epoch number, from 1.
    pub epoch: u32,
    /// Optimizer steps (minibatches) in this epoch.
    pub steps: u32,
    /// Mean over this epoch's steps of the batch loss at the step's start
    /// (steps whose loss was not finite are left out; NaN if all were).
    pub mean_batch_loss: f64,
    /// Objective calls since training began.
    pub evaluations: u64,
    /// Gradient computations since training began.
    pub gradients: u64,
    /// Steps in this epoch that recovered from a non-finite value.
    pub recoveries: u32,
    /// Steps in this epoch whose line search failed.
    pub line_search_failures: u32,
    /// Curvature pairs skipped in this epoch.
    pub curvature_skips: u32,
    /// The test set after this epoch.
    pub test: Evaluation,
    /// The training set after this epoch, if asked for.
    pub train: Option<Evaluation>,
    /// The validation set after this epoch, if one was given.
    pub validation: Option<Evaluation>,
    /// The rule that says this epoch is the last (`None`: go on).
    pub stop: Option<StopReason>,
}

/// What the optimizer steps of one epoch did, before evaluation.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct EpochSteps {
    /// Optimizer steps taken.
    pub steps: u32,
    loss_sum: f64,
    loss_count: u32,
    /// Steps that recovered from a non-finite value.
    pub recoveries: u32,
    /// Steps whose line search failed.
    pub line_search_failures: u32,
    /// Curvature pairs skipped.
    pub curvature_skips: u32,
    /// The rule the steps met (gtol, ftol, stalled), if any.
    stop: Option<StopReason>,
}

/// The best test accuracy so far and the first epoch that reached it
/// (the study's response variable is this peak).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Peak {
    /// Best test accuracy, in `[0, 1]`.
    pub accuracy: f64,
    /// First epoch (from 1) at which it was reached.
    pub epoch: u32,
}

/// What a training run is, apart from the network and the data: the
/// optimizer, how minibatches are drawn, and the options. With the shape and
/// the training set's length it sizes every buffer
/// ([`buffer_lengths`](Self::buffer_lengths), a `const fn`).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct TrainSetup {
    /// The optimizer and its hyperparameters.
    pub optimizer: OptimizerConfig,
    /// Samples per minibatch (`1..=` the training set's length).
    pub batch_size: usize,
    /// How minibatches are drawn.
    pub sampling: Sampling,
    /// What happens to the samples left over at the end of an epoch.
    pub last_batch: LastBatch,
    /// Options of the epoch loop.
    pub options: TrainOptions,
}

impl TrainSetup {
    /// The lengths of the buffers of a run of `shape` on a training set of
    /// `train_len` samples: what [`Trainer::new`] needs in its
    /// [`TrainBuffers`] (a `const fn`, so firmware sizes `static` arrays
    /// with it).
    pub const fn buffer_lengths(&self, shape: &Shape, train_len: usize) -> BufferLengths {
        BufferLengths {
            params: shape.param_count(),
            work: shape.workspace_len(),
            indices: Sampler::storage_len(train_len, self.batch_size, self.sampling),
            optimizer: self.optimizer.storage_len(shape.param_count()),
        }
    }
}

/// The lengths of the four buffers of a training run
/// ([`TrainSetup::buffer_lengths`]): the exact length of the parameters and
/// the minimum lengths of the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct BufferLengths {
    /// Floats of parameters (exactly this many).
    pub params: usize,
    /// Floats of the network's workspace (at least).
    pub work: usize,
    /// Sample indices of the sampler (at least).
    pub indices: usize,
    /// Floats of optimizer state (at least).
    pub optimizer: usize,
}

impl BufferLengths {
    /// The larger of each length of `self` and `other`: buffers that fit
    /// both runs (e.g. firmware that runs several optimizers in turn).
    pub const fn max(self, other: BufferLengths) -> BufferLengths {
        const fn max(a: usize, b: usize) -> usize {
            if a > b { a } else { b }
        }
        BufferLengths {
            params: max(self.params, other.params),
            work: max(self.work, other.work),
            indices: max(self.indices, other.indices),
            optimizer: max(self.optimizer, other.optimizer),
        }
    }
}

/// The caller-owned memory of a training run, sized by
/// [`TrainSetup::buffer_lengths`]. The trainer borrows it for its life;
/// everything the optimizer remembers stays in `optimizer` (see
/// [`crate::optim`]), so keeping the buffers keeps the run's state.
pub struct TrainBuffers<'a> {
    /// The flat parameters, exactly [`BufferLengths::params`] floats:
    /// initialized by the caller, trained in place.
    pub params: &'a mut [f32],
    /// The network's activation workspace (scratch).
    pub work: &'a mut [f32],
    /// The sampler's index storage.
    pub indices: &'a mut [u32],
    /// The optimizer's state storage.
    pub optimizer: &'a mut [f32],
    /// Where to keep a copy of the parameters of the selected epoch
    /// ([`Trainer::selected`]), exactly [`BufferLengths::params`] floats;
    /// `None` keeps no copy (the selection is still recorded).
    pub selected: Option<&'a mut [f32]>,
}

/// Runs epochs of minibatch training: the loop host and firmware share.
/// The data sets are arguments of each call, not part of the trainer, so
/// the caller may change them between calls (with the same width, classes
/// and training-set length).
///
/// ```
/// use sooth_core::*;
/// // XOR-like data: 4 points, 2 classes.
/// let x = [0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0];
/// let y: [u8; 4] = [0, 1, 1, 0];
/// let data = SliceDataset::new(&x, &y, 2, 2).unwrap();
/// const SHAPE: Shape = match Shape::new(&[2, 8, 2]) { Ok(s) => s, Err(_) => panic!() };
/// const SETUP: TrainSetup = TrainSetup {
///     optimizer: OptimizerConfig::Sgd(SgdConfig { momentum: 0.9, ..SgdConfig::new(0.5) }),
///     batch_size: 4,
///     sampling: Sampling::Shuffle,
///     last_batch: LastBatch::Keep,
///     options: TrainOptions::NONE,
/// };
/// const LEN: BufferLengths = SETUP.buffer_lengths(&SHAPE, 4);
/// let (mut params, mut work) = ([0.0f32; LEN.params], [0.0f32; LEN.work]);
/// let (mut indices, mut state) = ([0u32; LEN.indices], [0.0f32; LEN.optimizer]);
/// let mlp = Mlp::new(SHAPE, Activation::Tanh);
/// let (mut init_rng, sampler_rng) = seed_streams(1);
/// mlp.init(&mut params, Init::GlorotUniform, &mut init_rng).unwrap();
/// let buffers = TrainBuffers {
///     params: &mut params,
///     work: &mut work,
///     indices: &mut indices,
///     optimizer: &mut state,
///     selected: None,
/// };
/// let mut trainer = Trainer::new(mlp, &SETUP, data.len(), sampler_rng, buffers).unwrap();
/// for _ in 0..300 {
///     trainer.run_epoch(&data, &data).unwrap();
/// }
/// assert_eq!(trainer.peak().unwrap().accuracy, 1.0);
/// ```
pub struct Trainer<'a> {
    mlp: Mlp,
    params: &'a mut [f32],
    optimizer: AnyOptimizer<'a>,
    sampler: Sampler<'a>,
    work: &'a mut [f32],
    options: TrainOptions,
    epoch: u32,
    evaluations: u64,
    gradients: u64,
    peak: Option<Peak>,
    selected: Option<Selected>,
    selected_params: Option<&'a mut [f32]>,
    epochs_since_selected: u32,
    /// The previous step's line search failed (its history is cleared).
    restarting: bool,
    /// The loss at the start of the previous full-batch step.
    previous_loss: Option<f64>,
    stop: Option<StopReason>,
}

impl<'a> Trainer<'a> {
    /// A trainer for `mlp` on training sets of `train_len` samples: builds
    /// the sampler (over `buffers.indices`, drawing from `sampler_rng`) and
    /// the optimizer (afresh, over `buffers.optimizer`) of `setup`, and
    /// checks that the buffers fit, the initial parameters are finite and
    /// the stopping rules fit the run (`gtol` and `ftol` finite, `>= 0`,
    /// and only with the full batch).
    pub fn new(
        mlp: Mlp,
        setup: &TrainSetup,
        train_len: usize,
        sampler_rng: Xoshiro256PlusPlus,
        buffers: TrainBuffers<'a>,
    ) -> Result<Self, Error> {
        let shape = mlp.shape();
        let n = shape.param_count();
        check_len(Buffer::Params, n, buffers.params.len())?;
        check_min_len(Buffer::Workspace, shape.workspace_len(), buffers.work.len())?;
        let sampler = Sampler::new(
            train_len,
            setup.batch_size,
            setup.sampling,
            setup.last_batch,
            sampler_rng,
            buffers.indices,
        )?;
        let options = setup.options;
        if !(options.gtol >= 0.0 && options.gtol.is_finite()) {
            return Err(Error::InvalidHyperparameter {
                name: "gtol",
                expected: "a finite value >= 0",
            });
        }
        if !(options.ftol >= 0.0 && options.ftol.is_finite()) {
            return Err(Error::InvalidHyperparameter {
                name: "ftol",
                expected: "a finite value >= 0",
            });
        }
        if options.needs_full_batch() && !sampler.is_full_batch() {
            return Err(Error::InvalidHyperparameter {
                name: "gtol/ftol",
                expected: "the full batch (they need the whole training set's loss)",
            });
        }
        if let Some(selected) = &buffers.selected {
            check_len(Buffer::Params, n, selected.len())?;
        }
        let mut config = setup.optimizer;
        if let OptimizerConfig::Lbfgs(c) = &mut config
            && options.gtol > c.grad_tolerance
        {
            // Converged: L-BFGS does not move from a point that meets gtol.
            c.grad_tolerance = options.gtol;
        }
        let optimizer = config.build(n, buffers.optimizer)?;
        if !crate::kernels::all_finite(buffers.params) {
            return Err(Error::InvalidHyperparameter {
                name: "initial parameters",
                expected: "finite values",
            });
        }
        Ok(Trainer {
            mlp,
            params: buffers.params,
            optimizer,
            sampler,
            work: buffers.work,
            options,
            epoch: 0,
            evaluations: 0,
            gradients: 0,
            peak: None,
            selected: None,
            selected_params: buffers.selected,
            epochs_since_selected: 0,
            restarting: true,
            previous_loss: None,
            stop: None,
        })
    }

    /// Checks that `train` fits the network and the sampler.
    fn check_train<D: Dataset + ?Sized>(&self, train: &D) -> Result<(), Error> {
        let shape = self.mlp.shape();
        check_compatible(train, shape.inputs(), shape.outputs())?;
        if self.sampler.data_len() != train.len() {
            return Err(Error::InvalidBatchSize {
                batch: self.sampler.batch_size(),
                len: train.len(),
            });
        }
        Ok(())
    }

    /// Runs one epoch: every minibatch of the sampler on `train`, one
    /// optimizer step each ([`train_steps`](Self::train_steps)), then the
    /// evaluation of `test`, and of `train` if
    /// [`TrainOptions::evaluate_train`] ([`evaluate`](Self::evaluate)).
    pub fn run_epoch<D, T>(&mut self, train: &D, test: &T) -> Result<EpochReport, Error>
    where
        D: Dataset + ?Sized,
        T: Dataset + ?Sized,
    {
        let steps = self.train_steps(train)?;
        let train = self.options.evaluate_train.then_some(train);
        self.evaluate(steps, test, train)
    }

    /// The training half of an epoch: one optimizer step per minibatch of
    /// `train`, which must fit the network and have the length the trainer
    /// was built for.
    pub fn train_steps<D: Dataset + ?Sized>(&mut self, train: &D) -> Result<EpochSteps, Error> {
        self.check_train(train)?;
        self.sampler.start_epoch();
        let mut totals = EpochSteps {
            steps: 0,
            loss_sum: 0.0,
            loss_count: 0,
            recoveries: 0,
            line_search_failures: 0,
            curvature_skips: 0,
            stop: None,
        };
        let full_batch = self.sampler.is_full_batch();
        let watch_stall = full_batch && self.options.stop_when_stalled;
        while let Some(batch) = self.sampler.next_batch() {
            // A step that starts afresh at these parameters and fails
            // leaves everything as it was: the next would repeat it.
            let start = (watch_stall && self.restarting).then(|| param_hash(self.params));
            let mut objective = BatchObjective {
                mlp: &self.mlp,
                data: train,
                batch,
                work: self.work,
                unchanged: full_batch,
            };
            let report = self.optimizer.step(self.params, &mut objective)?;
            totals.steps += 1;
            self.evaluations += u64::from(report.evaluations);
            self.gradients += u64::from(report.gradients);
            if report.loss.is_finite() {
                totals.loss_sum += report.loss;
                totals.loss_count += 1;
            }
            match report.status {
                Status::RecoveredNonFinite(_) => totals.recoveries += 1,
                Status::LineSearchFailed(_) => totals.line_search_failures += 1,
                Status::Moved | Status::Converged => {}
            }
            let failed = matches!(report.status, Status::LineSearchFailed(_));
            if full_batch && totals.stop.is_none() {
                totals.stop = self.full_batch_stop(&report, failed, start);
            }
            self.restarting = failed;
            if report.curvature == Curvature::Skipped {
                totals.curvature_skips += 1;
            }
        }
        self.epoch += 1;
        Ok(totals)
    }

    /// The full-batch rule (gtol, stalled, ftol, in that order) that one
    /// step met, if any; `start` is the parameters' hash before a step
    /// that started afresh.
    fn full_batch_stop(
        &mut self,
        report: &crate::optim::StepReport,
        failed: bool,
        start: Option<u64>,
    ) -> Option<StopReason> {
        let options = self.options;
        let previous = self.previous_loss.replace(report.loss);
        if options.gtol > 0.0
            && (report.status == Status::Converged || report.grad_norm_inf <= options.gtol)
        {
            return Some(StopReason::Gtol);
        }
        if failed && start.is_some_and(|h| h == param_hash(self.params)) {
            return Some(StopReason::Stalled);
        }
        if options.ftol > 0.0
            && let Some(previous) = previous
            && previous.is_finite()
            && report.loss.is_finite()
        {
            let scale = previous.abs().max(report.loss.abs()).max(1.0);
            if (previous - report.loss) / scale <= options.ftol {
                return Some(StopReason::Ftol);
            }
        }
        None
    }

    /// The evaluation half of an epoch, after
    /// [`train_steps`](Self::train_steps): `test`, and `train` if given;
    /// updates the peak (of the test accuracy).
    pub fn evaluate<D, T>(
        &mut self,
        steps: EpochSteps,
        test: &T,
        train: Option<&D>,
    ) -> Result<EpochReport, Error>
    where
        D: Dataset + ?Sized,
        T: Dataset + ?Sized,
    {
        self.evaluate_with_validation(steps, test, None::<&T>, train)
    }

    /// [`evaluate`](Self::evaluate), and also `validation` if given: the
    /// first epoch with the best validation accuracy is selected
    /// ([`selected`](Self::selected)), its parameters copied to
    /// [`TrainBuffers::selected`] if there is one. With
    /// [`TrainOptions::patience`] a validation set is required.
    pub fn evaluate_with_validation<D, V, T>(
        &mut self,
        steps: EpochSteps,
        test: &T,
        validation: Option<&V>,
        train: Option<&D>,
    ) -> Result<EpochReport, Error>
    where
        D: Dataset + ?Sized,
        V: Dataset + ?Sized,
        T: Dataset + ?Sized,
    {
        if self.options.patience > 0 && validation.is_none() {
            return Err(Error::InvalidHyperparameter {
                name: "patience",
                expected: "a validation set",
            });
        }
        let test = self.mlp.evaluate(self.params, test, self.work)?;
        let train = match train {
            Some(train) => Some(self.mlp.evaluate(self.params, train, self.work)?),
            None => None,
        };
        let validation = match validation {
            Some(v) => Some(self.mlp.evaluate(self.params, v, self.work)?),
            None => None,
        };
        let accuracy = test.accuracy();
        if self.peak.is_none_or(|p| accuracy > p.accuracy) {
            self.peak = Some(Peak {
                accuracy,
                epoch: self.epoch,
            });
        }
        let mut stop = steps.stop;
        if let Some(v) = validation {
            let v = v.accuracy();
            if self.selected.is_none_or(|s| v > s.validation_accuracy) {
                self.selected = Some(Selected {
                    epoch: self.epoch,
                    validation_accuracy: v,
                    test_accuracy: accuracy,
                });
                self.epochs_since_selected = 0;
                if let Some(copy) = self.selected_params.as_deref_mut() {
                    copy.copy_from_slice(self.params);
                }
            } else {
                self.epochs_since_selected = self.epochs_since_selected.saturating_add(1);
            }
            if stop.is_none()
                && self.options.patience > 0
                && self.epochs_since_selected >= self.options.patience
            {
                stop = Some(StopReason::Patience);
            }
        }
        if self.stop.is_none() {
            self.stop = stop;
        }
        Ok(EpochReport {
            epoch: self.epoch,
            steps: steps.steps,
            mean_batch_loss: if steps.loss_count == 0 {
                f64::NAN
            } else {
                steps.loss_sum / f64::from(steps.loss_count)
            },
            evaluations: self.evaluations,
            gradients: self.gradients,
            recoveries: steps.recoveries,
            line_search_failures: steps.line_search_failures,
            curvature_skips: steps.curvature_skips,
            test,
            train,
            validation,
            stop,
        })
    }

    /// The current parameters.
    pub fn params(&self) -> &[f32] {
        self.params
    }

    /// The best test accuracy so far (`None` before the first epoch).
    pub fn peak(&self) -> Option<Peak> {
        self.peak
    }

    /// The epoch selected on the validation set so far (`None` before the
    /// first epoch evaluated with one).
    pub fn selected(&self) -> Option<Selected> {
        self.selected
    }

    /// The selected epoch's parameters, if [`TrainBuffers::selected`] was
    /// given and an epoch has been selected.
    pub fn selected_params(&self) -> Option<&[f32]> {
        self.selected?;
        self.selected_params.as_deref()
    }

    /// The first stop a rule reported (`None`: no rule has).
    pub fn stopped(&self) -> Option<StopReason> {
        self.stop
    }

    /// Epochs run so far.
    pub fn epoch(&self) -> u32 {
        self.epoch
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &AnyOptimizer<'a> {
        &self.optimizer
    }

    /// The network.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }
}
