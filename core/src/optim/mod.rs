//! Optimizers: one shape for all of them.
//!
//! An optimizer is a value holding its hyperparameters and its state, the
//! state in caller-provided storage (`storage_len(n, ...)` floats, a `const
//! fn`, so firmware can size a `static` array with it). Its
//! [`step`](Optimizer::step) takes the flat parameters and an [`Objective`]
//! (loss and gradient on the current minibatch) and returns a [`StepReport`].
//! The training loop lives outside ([`crate::train`]).
//!
//! # The whole state in the caller's storage
//! Everything an optimizer remembers between steps lives in its storage,
//! not in the value: the vectors (gradients, moments, curvature pairs, the
//! last good point) and, after them, a short header of scalars (the
//! optimizer's tag and `n`, step counts and flags, L-BFGS's `rho` and ring
//! positions), each written as an `f32` holding an exact small integer
//! (an `f64` goes as four 16-bit pieces), so that no bit pattern depends on
//! how a platform moves NaNs around. The header is written at the end of
//! every [`step`](Optimizer::step) and [`reset`](Optimizer::reset), so
//! between steps the storage alone is the state: drop the optimizer, keep
//! (or save and reload) the storage, and `resume` (e.g.
//! [`Lbfgs::resume`], [`OptimizerConfig::resume`]) continues bit for bit
//! as if nothing had happened. `new` starts afresh over the same storage.
//!
//! L-BFGS may keep its curvature pairs in 16 bits
//! ([`LbfgsConfig::pair_precision`]): two values per `f32` word of the same
//! storage, moved with `to_bits`/`from_bits` (no `unsafe`, and never a NaN
//! pattern: see [`PairPrecision`]).
//!
//! # Robustness contract (every optimizer)
//! * A non-finite loss or gradient never reaches the parameters: the
//!   optimizer goes back to the last good point (the last point whose loss
//!   and gradient were finite), clears its history (momentum, moments,
//!   curvature pairs) and reports [`Status::RecoveredNonFinite`].
//! * After every step the parameters are finite.

mod adam;
mod cg;
mod lbfgs;
mod linesearch;
mod pairs;
mod sgd;

pub use adam::{Adam, AdamConfig};
pub use cg::{Cg, CgConfig, CgFormula};
pub use lbfgs::{CurvatureMode, Lbfgs, LbfgsConfig, MAX_HISTORY};
pub use linesearch::{Armijo, LineSearch, StrongWolfe};
pub use pairs::PairPrecision;
pub use sgd::{Sgd, SgdConfig};

use crate::error::Error;
use crate::kernels::norm_inf;

/// A differentiable function of the flat parameters: for training, the mean
/// loss on the current minibatch.
pub trait Objective {
    /// The value at `x`, and its gradient written to `grad`.
    fn loss_grad(&mut self, x: &[f32], grad: &mut [f32]) -> Result<f64, Error>;
    /// The value at `x` alone (may be cheaper: a forward pass only).
    fn loss(&mut self, x: &[f32]) -> Result<f64, Error>;
    /// True if this is the same function as the previous step's (full batch,
    /// or a fixed problem): an optimizer may then reuse the value and
    /// gradient it already computed at the current point.
    fn is_unchanged(&self) -> bool {
        false
    }
}

/// Why a step ended the way it did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Status {
    /// The parameters moved.
    Moved,
    /// The gradient's infinity norm was at or below the optimizer's
    /// tolerance: the parameters did not move.
    Converged,
    /// The line search found no acceptable step; the parameters did not move,
    /// the history was cleared and the next step starts along steepest descent.
    LineSearchFailed(LineSearchFailure),
    /// A non-finite value appeared; the parameters were restored to the last
    /// good point and the history cleared.
    RecoveredNonFinite(NonFinite),
}

/// Where a non-finite value appeared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum NonFinite {
    /// The loss at the current point.
    Loss,
    /// The gradient at the current point.
    Gradient,
    /// The update itself (the new parameters overflowed).
    Update,
}

/// Why a line search gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum LineSearchFailure {
    /// The direction was not a descent direction (`g.d >= 0`).
    NotDescent,
    /// The trial budget ran out without an acceptable step.
    MaxTrials,
    /// The bracket shrank below the relative tolerance (rounding errors
    /// prevent further progress).
    Tolerance,
}

/// What happened to the curvature pair of a quasi-Newton step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Curvature {
    /// The optimizer keeps no curvature pairs (or none was formed).
    None,
    /// The pair was stored.
    Stored,
    /// The pair was Powell-damped, then stored.
    Damped,
    /// The pair failed the guard `s.y > eps |s| |y|` and was skipped.
    Skipped,
}

/// What one optimizer step did.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct StepReport {
    /// The objective at the starting point (NaN if it was not finite).
    pub loss: f64,
    /// Infinity norm of the gradient at the starting point.
    pub grad_norm_inf: f32,
    /// Directional derivative `g.d` along the (last) search direction;
    /// negative for a descent direction, NaN for optimizers without one.
    pub slope: f64,
    /// Objective calls (loss alone or loss and gradient).
    pub evaluations: u32,
    /// Of those, calls that computed a gradient.
    pub gradients: u32,
    /// Step length along the search direction (0 if the parameters did not move).
    pub step_length: f64,
    /// How the step ended.
    pub status: Status,
    /// What happened to the curvature pair.
    pub curvature: Curvature,
}

impl StepReport {
    pub(crate) fn new(loss: f64, grad_norm_inf: f32) -> Self {
        StepReport {
            loss,
            grad_norm_inf,
            slope: f64::NAN,
            evaluations: 0,
            gradients: 0,
            step_length: 0.0,
            status: Status::Moved,
            curvature: Curvature::None,
        }
    }
}

/// The common shape of every optimizer.
pub trait Optimizer {
    /// The number of parameters this optimizer was built for.
    fn dim(&self) -> usize;
    /// One step from `x` on `objective`. Errors are the objective's errors
    /// and a wrong `x.len()`; numerical trouble is a [`Status`], not an error.
    fn step<O: Objective + ?Sized>(
        &mut self,
        x: &mut [f32],
        objective: &mut O,
    ) -> Result<StepReport, Error>;
    /// Forgets all history (momentum, moments, curvature pairs).
    fn reset(&mut self);
}

/// Checks a hyperparameter: `ok` or an [`Error::InvalidHyperparameter`].
pub(crate) fn check_param(
    ok: bool,
    name: &'static str,
    expected: &'static str,
) -> Result<(), Error> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidHyperparameter { name, expected })
    }
}

/// Splits `storage` into `K` consecutive vectors of `n` floats.
pub(crate) fn split_vectors<const K: usize>(
    storage: &mut [f32],
    n: usize,
) -> Result<[&mut [f32]; K], Error> {
    crate::error::check_min_len(crate::error::Buffer::OptimizerState, K * n, storage.len())?;
    let mut rest = &mut storage[..K * n];
    Ok(core::array::from_fn(|_| {
        let (head, tail) = core::mem::take(&mut rest).split_at_mut(n);
        rest = tail;
        head
    }))
}

/// Words every state header starts with: the optimizer's tag, then `n` as
/// four 16-bit pieces.
pub(crate) const HEADER_PREFIX: usize = 5;

/// Splits an optimizer's storage into its vectors (`body` floats) and its
/// header (`header` floats right after them); the storage may be longer.
pub(crate) fn split_state(
    storage: &mut [f32],
    body: usize,
    header: usize,
) -> Result<(&mut [f32], &mut [f32]), Error> {
    crate::error::check_min_len(
        crate::error::Buffer::OptimizerState,
        body + header,
        storage.len(),
    )?;
    let (body, rest) = storage.split_at_mut(body);
    Ok((body, &mut rest[..header]))
}

/// An exact small integer as a header word.
pub(crate) fn put_word(word: &mut f32, value: u16) {
    *word = f32::from(value);
}

/// A header word that must hold an exact integer in `0..=max`.
pub(crate) fn get_word(word: f32, max: u16) -> Option<u16> {
    let value = word as u16;
    (word >= 0.0 && value <= max && f32::from(value) == word).then_some(value)
}

/// A flag (0 or 1) as a header word.
pub(crate) fn put_flag(word: &mut f32, value: bool) {
    put_word(word, u16::from(value));
}

/// A header word that must be a flag (0 or 1).
pub(crate) fn get_flag(word: f32) -> Option<bool> {
    get_word(word, 1).map(|v| v == 1)
}

/// A `u64` as four header words of 16 bits, low first.
pub(crate) fn put_u64(words: &mut [f32], value: u64) {
    for (i, word) in words.iter_mut().take(4).enumerate() {
        put_word(word, (value >> (16 * i)) as u16);
    }
}

/// The `u64` of [`put_u64`] (`None` if a word is not a 16-bit integer).
pub(crate) fn get_u64(words: &[f32]) -> Option<u64> {
    let mut value = 0u64;
    for (i, &word) in words.iter().take(4).enumerate() {
        value |= u64::from(get_word(word, u16::MAX)?) << (16 * i);
    }
    (words.len() >= 4).then_some(value)
}

/// Writes the header prefix: `tag` and `n`.
pub(crate) fn put_prefix(header: &mut [f32], tag: u16, n: usize) {
    put_word(&mut header[0], tag);
    put_u64(&mut header[1..HEADER_PREFIX], n as u64);
}

/// The error for a header word that does not hold what `resume` expects;
/// `word` counts from the header's start, which is `body` floats into the
/// storage (the offset is in bytes).
pub(crate) fn bad_state(body: usize, word: usize, expected: &'static str) -> Error {
    Error::Format {
        offset: 4 * (body + word),
        expected,
    }
}

/// Checks the header prefix that [`put_prefix`] wrote for `tag` and `n`.
pub(crate) fn check_prefix(
    header: &[f32],
    body: usize,
    tag: u16,
    n: usize,
    expected_tag: &'static str,
) -> Result<(), Error> {
    if get_word(header[0], u16::MAX) != Some(tag) {
        return Err(bad_state(body, 0, expected_tag));
    }
    if get_u64(&header[1..HEADER_PREFIX]) != Some(n as u64) {
        return Err(bad_state(
            body,
            1,
            "the optimizer state's parameter count equal to n",
        ));
    }
    Ok(())
}

/// Loss and gradient at `x`, with the gradient's largest magnitude
/// ([`norm_inf`], which also tells whether it is finite: one pass over it);
/// `Err(NonFinite)` inside `Ok` when the loss or the gradient is not finite.
pub(crate) fn checked_loss_grad<O: Objective + ?Sized>(
    objective: &mut O,
    x: &[f32],
    grad: &mut [f32],
    report: &mut StepReport,
) -> Result<Result<(f64, f32), NonFinite>, Error> {
    let f = objective.loss_grad(x, grad)?;
    report.evaluations += 1;
    report.gradients += 1;
    if !f.is_finite() {
        return Ok(Err(NonFinite::Loss));
    }
    let norm = norm_inf(grad);
    Ok(if norm.is_finite() {
        Ok((f, norm))
    } else {
        Err(NonFinite::Gradient)
    })
}

/// Goes back to the last good point: copies `last_good` into `x` and marks the report.
pub(crate) fn recover(x: &mut [f32], last_good: &[f32], what: NonFinite, report: &mut StepReport) {
    x.copy_from_slice(last_good);
    report.status = Status::RecoveredNonFinite(what);
    report.step_length = 0.0;
}

/// The configuration of any optimizer: what a run or a sweep cell names.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum OptimizerConfig {
    /// SGD with momentum.
    Sgd(SgdConfig),
    /// Adam.
    Adam(AdamConfig),
    /// Nonlinear conjugate gradient.
    Cg(CgConfig),
    /// Minibatch L-BFGS.
    Lbfgs(LbfgsConfig),
}

impl OptimizerConfig {
    /// Floats of state storage for `n` parameters.
    pub const fn storage_len(&self, n: usize) -> usize {
        match self {
            OptimizerConfig::Sgd(_) => Sgd::storage_len(n),
            OptimizerConfig::Adam(_) => Adam::storage_len(n),
            OptimizerConfig::Cg(_) => Cg::storage_len(n),
            OptimizerConfig::Lbfgs(c) => Lbfgs::storage_len_with(n, c.history, c.pair_precision),
        }
    }

    /// Checks every hyperparameter's range.
    pub fn validate(&self) -> Result<(), Error> {
        match self {
            OptimizerConfig::Sgd(c) => c.validate(),
            OptimizerConfig::Adam(c) => c.validate(),
            OptimizerConfig::Cg(c) => c.validate(),
            OptimizerConfig::Lbfgs(c) => c.validate(),
        }
    }

    /// The optimizer, starting afresh over `storage` (at least
    /// [`storage_len`](Self::storage_len) floats).
    pub fn build<'a>(&self, n: usize, storage: &'a mut [f32]) -> Result<AnyOptimizer<'a>, Error> {
        Ok(match *self {
            OptimizerConfig::Sgd(c) => AnyOptimizer::Sgd(Sgd::new(c, n, storage)?),
            OptimizerConfig::Adam(c) => AnyOptimizer::Adam(Adam::new(c, n, storage)?),
            OptimizerConfig::Cg(c) => AnyOptimizer::Cg(Cg::new(c, n, storage)?),
            OptimizerConfig::Lbfgs(c) => AnyOptimizer::Lbfgs(Lbfgs::new(c, n, storage)?),
        })
    }

    /// The optimizer, continuing from the state that an optimizer of the same
    /// kind and `n` (and L-BFGS history) left in `storage`: the next step is
    /// bit for bit the step the earlier value would have taken. Errors with
    /// [`Error::Format`] if the storage does not hold such a state.
    pub fn resume<'a>(&self, n: usize, storage: &'a mut [f32]) -> Result<AnyOptimizer<'a>, Error> {
        Ok(match *self {
            OptimizerConfig::Sgd(c) => AnyOptimizer::Sgd(Sgd::resume(c, n, storage)?),
            OptimizerConfig::Adam(c) => AnyOptimizer::Adam(Adam::resume(c, n, storage)?),
            OptimizerConfig::Cg(c) => AnyOptimizer::Cg(Cg::resume(c, n, storage)?),
            OptimizerConfig::Lbfgs(c) => AnyOptimizer::Lbfgs(Lbfgs::resume(c, n, storage)?),
        })
    }
}

/// Any of the optimizers, chosen at run time.
pub enum AnyOptimizer<'a> {
    /// SGD with momentum.
    Sgd(Sgd<'a>),
    /// Adam.
    Adam(Adam<'a>),
    /// Nonlinear conjugate gradient.
    Cg(Cg<'a>),
    /// Minibatch L-BFGS.
    Lbfgs(Lbfgs<'a>),
}

impl Optimizer for AnyOptimizer<'_> {
    fn dim(&self) -> usize {
        match self {
            AnyOptimizer::Sgd(o) => o.dim(),
            AnyOptimizer::Adam(o) => o.dim(),
            AnyOptimizer::Cg(o) => o.dim(),
            AnyOptimizer::Lbfgs(o) => o.dim(),
        }
    }

    fn step<O: Objective + ?Sized>(
        &mut self,
        x: &mut [f32],
        objective: &mut O,
    ) -> Result<StepReport, Error> {
        match self {
            AnyOptimizer::Sgd(o) => o.step(x, objective),
            AnyOptimizer::Adam(o) => o.step(x, objective),
            AnyOptimizer::Cg(o) => o.step(x, objective),
            AnyOptimizer::Lbfgs(o) => o.step(x, objective),
        }
    }

    fn reset(&mut self) {
        match self {
            AnyOptimizer::Sgd(o) => o.reset(),
            AnyOptimizer::Adam(o) => o.reset(),
            AnyOptimizer::Cg(o) => o.reset(),
            AnyOptimizer::Lbfgs(o) => o.reset(),
        }
    }
}
