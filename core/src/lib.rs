//! # sooth-core
//!
//! Minibatch training of small multilayer perceptrons, first- and
//! second-order, with no heap and no `std`: the same code trains on a host
//! and on a Cortex-M4F, and gives the same bits on both.
//!
//! ## Layers
//! * `kernels` (crate-private): the hot loops (dot products, axpys) with a
//!   fixed summation order, written so that LLVM vectorises them without
//!   changing a rounding; on x86_64, AVX-512 or AVX versions of the
//!   network's kernels are picked at run time (same bits). [`simd`] is the
//!   public control of that choice ([`simd::use_kernels`]).
//! * [`network`]: [`Shape`] (layer widths as values), [`Mlp`] (forward and
//!   backward passes, loss, evaluation) over one flat `[f32]` of parameters.
//! * [`data`]: the [`Dataset`] trait: samples fetched one at a time into a
//!   caller buffer, from f32 rows in RAM or packed bytes in flash.
//! * [`sampler`]: minibatches by Fisher-Yates shuffling, with replacement, or
//!   full batch, with integer-only range reduction.
//! * [`optim`]: the optimizers, their whole state (scalars included) in
//!   caller-owned storage, so that `resume` continues where a dropped one stopped.
//! * [`train`]: the epoch loop shared by host and firmware, over one buffer
//!   struct ([`TrainBuffers`], lengths from [`TrainSetup::buffer_lengths`]).
//! * [`model`]: the saved-model format, read in place (no allocation).
//! * [`online`]: learning from samples that arrive at run time: a sample
//!   store (latest `N` or reservoir), the [`OnlineTrainer`] over it, its
//!   whole state saved to and restored from bytes.
//!
//! ## Contracts
//! * Nothing here allocates. Buffers come from the caller; every size is a
//!   `const fn` of the shape (and history length), so firmware sizes
//!   `static` arrays with them.
//! * Nothing that input can cause panics: shapes, lengths, labels, indices,
//!   batch sizes and hyperparameters are checked and come back as [`Error`];
//!   non-finite numbers come back as a [`Status`].
//! * Determinism: every sum has a fixed order, math goes through `libm`, and
//!   no multiply-add is fused, so a seed gives the same bits on x86_64 and
//!   thumbv7em, in debug and release.
//!
//! ## Example
//! ```
//! use sooth_core::*;
//! let x = [0.1, 0.9, 0.8, 0.2, 0.2, 0.7, 0.9, 0.1];
//! let y: [u8; 4] = [1, 0, 1, 0];
//! let data = SliceDataset::new(&x, &y, 2, 2)?;
//! const SHAPE: Shape = match Shape::new(&[2, 4, 2]) { Ok(s) => s, Err(_) => panic!() };
//! let mlp = Mlp::new(SHAPE, Activation::Relu);
//! let mut params = [0.0f32; SHAPE.param_count()];
//! let mut grad = [0.0f32; SHAPE.param_count()];
//! let mut work = [0.0f32; SHAPE.workspace_len()];
//! let (mut init, _) = seed_streams(42);
//! mlp.init(&mut params, Init::HeUniform, &mut init)?;
//! let loss = mlp.loss_grad(&params, &data, &[0, 1, 2, 3], &mut grad, &mut work)?;
//! assert!(loss > 0.0 && loss.is_finite());
//! # Ok::<(), sooth_core::Error>(())
//! ```
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![deny(unsafe_code)]
// `!(x > y)` is deliberate throughout: unlike `x <= y` it is true when x is
// NaN, which is how every finiteness guard here fails safe.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

pub mod data;
mod error;
mod hash;
mod kernels;
pub mod model;
pub mod network;
pub mod online;
pub mod optim;
pub mod sampler;
pub mod simd;
pub mod train;

/// The README's Rust examples, compiled and run as doctests of the core.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;

pub use data::{Dataset, PackedDataset, Packing, SliceDataset, TryDataset};
pub use error::{Buffer, Error};
pub use hash::param_hash;
pub use model::{
    SavedModel, Section, Sections, saved_len, section, section_len, write_model, write_model_with,
};
pub use network::{
    Activation, BLOCK, Evaluation, Init, LOSS_GROUP, LayerLayout, MAX_WIDTHS, Mlp, Shape,
};
pub use online::{
    OnlineBuffers, OnlineLengths, OnlineReport, OnlineSetup, OnlineTrainer, PushOutcome, Retention,
    SampleStore,
};
pub use optim::{
    Adam, AdamConfig, AnyOptimizer, Armijo, Cg, CgConfig, CgFormula, Curvature, CurvatureMode,
    Lbfgs, LbfgsConfig, LineSearch, LineSearchFailure, NonFinite, Objective, Optimizer,
    OptimizerConfig, PairPrecision, Sgd, SgdConfig, Status, StepReport, StrongWolfe,
};
/// The random-number traits the API takes (`Mlp::init`, the samplers):
/// re-exported so that a user depends on `sooth-core` alone.
pub use rand_core::{Rng, SeedableRng};
/// The generator of every random stream of the core ([`seed_streams`]),
/// re-exported so that a user can name, seed and store it without adding
/// `rand_xoshiro`.
pub use rand_xoshiro::Xoshiro256PlusPlus;
pub use sampler::{LastBatch, Sampler, Sampling};
pub use train::{
    BatchObjective, BufferLengths, EpochReport, EpochSteps, Peak, Selected, StopReason,
    TrainBuffers, TrainOptions, TrainSetup, Trainer, seed_streams,
};
